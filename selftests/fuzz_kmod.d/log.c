// SPDX-License-Identifier: MIT
/*
 * What the run prints and how a step fails: the log of calls and results,
 * the ring of recent lines shown on a failure, the per-step alarm; and
 * the errors a call may return (struct expect) with the verdict on what
 * it did return.
 */
#include "fuzz_kmod.h"

#define RING	48
#define LINE	320

static char ring[RING][LINE];
static unsigned int ring_n;
char *cur_line;

const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* Before a call: what it is. */
void __attribute__((format(printf, 1, 2))) call(const char *fmt, ...)
{
	char *l = ring[ring_n++ % RING];
	va_list ap;
	int n;

	n = snprintf(l, LINE, "%s#%llu: ", g.who, g.ops);
	va_start(ap, fmt);
	vsnprintf(l + n, LINE - n, fmt, ap);
	va_end(ap);
	cur_line = l;
	g.calls++;
}

/* After it: what it returned. */
void __attribute__((format(printf, 1, 2))) result(const char *fmt, ...)
{
	size_t n = strlen(cur_line);
	va_list ap;

	if (n + 4 < LINE) {
		strcpy(cur_line + n, " = ");
		va_start(ap, fmt);
		vsnprintf(cur_line + n + 3, LINE - n - 3, fmt, ap);
		va_end(ap);
	}
	if (g.verbose)
		printf("# %s\n", cur_line);
}

void result_ret(long ret)
{
	if (ret < 0) {
		if (-ret < (long)(sizeof(g.errs) / sizeof(g.errs[0])))
			g.errs[-ret]++;
		result("-%s", errname((int)-ret));
	} else {
		result("%ld", ret);
	}
}

/* The recent calls, with write() only: also from a signal handler. */
static void dump_ring(void)
{
	unsigned int i = ring_n > RING ? ring_n - RING : 0;

	for (; i < ring_n; i++) {
		const char *l = ring[i % RING];

		if (write(1, "#   ", 4) < 0 || write(1, l, strlen(l)) < 0 || write(1, "\n", 1) < 0)
			return;
	}
}

static void put_str(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		return;
}

static void put_num(unsigned long long n)
{
	char buf[24];
	int i = sizeof(buf);

	buf[--i] = '\0';
	do {
		buf[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	put_str(buf + i);
}

/* Set by a child that fails, before it reports: the parent may kill it first. */
volatile int *child_failed;

static void kill_wild(void)
{
	int i;

	for (i = 0; i < g.nwild; i++)
		kill(g.wild[i], SIGKILL);
}

/* The per-step alarm, and crashes: report and leave at once. */
void on_fatal(int sig)
{
	if (g.in_child && child_failed)
		*child_failed = 1;
	put_str("# FAIL: ");
	put_str(g.who);
	if (sig == SIGALRM) {
		put_str("a call did not return within ");
		put_num(g.op_timeout);
		put_str(" s");
	} else {
		put_str("killed by signal ");
		put_num((unsigned long long)sig);
	}
	put_str("; the last calls:\n");
	dump_ring();
	put_str("# seed ");
	put_num(g.seed);
	put_str(", step ");
	put_num(g.ops);
	put_str(": replay with --seed ");
	put_num(g.seed);
	put_str(" --ops ");
	put_num(g.ops + 1);
	put_str(" -v\n");
	if (g.in_child)
		_exit(CHILD_FAILED);
	kill_wild();
	put_str("not ok 1 fuzz\n# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\n");
	_exit(KSFT_FAIL);
}

jmp_buf fail_jmp;
char fail_msg[512];

void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
{
	va_list ap;

	if (g.in_child && child_failed)
		*child_failed = 1;
	va_start(ap, fmt);
	vsnprintf(fail_msg, sizeof(fail_msg), fmt, ap);
	va_end(ap);
	printf("# FAIL: %s%s\n# the last calls:\n", g.who, fail_msg);
	fflush(stdout);
	dump_ring();
	printf("# seed %llu, step %llu: replay with --seed %llu --ops %llu -v\n",
	       g.seed, g.ops, g.seed, g.ops + 1);
	fflush(stdout);
	if (g.in_child)
		_exit(CHILD_FAILED);
	longjmp(fail_jmp, 1);
}

void arm(unsigned int seconds)
{
	struct itimerval it = { .it_value = { .tv_sec = seconds } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* ----------------------------------------------------------- expectations */

void ex_reset(struct expect *e)
{
	memset(e, 0, sizeof(*e));
}

void ex_add(struct expect *e, int err, enum tri t)
{
	if (t > e->t[err])
		e->t[err] = (unsigned char)t;
}

enum tri tri_of(bool c)
{
	return c ? YES : NO;
}

/*
 * A condition on shared state: a wild child cannot know it, since the
 * parent changes that state while the child runs.
 */
enum tri st(bool c)
{
	return g.is_wild ? MAYBE : tri_of(c);
}

/* Nothing but success is possible, short of running out of memory. */
bool ex_clean(const struct expect *e)
{
	int i;

	for (i = 0; i < NERR; i++)
		if (e->t[i] && !(i == ENOMEM && e->t[i] == MAYBE))
			return false;
	return true;
}

static void ex_describe(const struct expect *e, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < NERR && n + 24 < len; i++)
		if (e->t[i])
			n += snprintf(buf + n, len - n, "%s%s%s", n ? " " : "", errname(i),
				      e->t[i] == MAYBE ? "?" : "");
	if (!n)
		snprintf(buf, len, "success");
}

/* Check @ret (>= 0, or -errno) against @e. */
long verdict(const struct expect *e, long ret)
{
	char want[256];
	int i;

	if (ret >= 0) {
		for (i = 0; i < NERR; i++)
			if (e->t[i] == YES)
				break;
		if (i == NERR)
			return ret;
		ex_describe(e, want, sizeof(want));
		fail("the call succeeded, but %s applies (expected: %s)", errname(i), want);
	}
	if (-ret < NERR && e->t[-ret])
		return ret;
	ex_describe(e, want, sizeof(want));
	fail("unexpected %s (expected: %s)", errname((int)-ret), want);
}
