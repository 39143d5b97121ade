// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: dmxp's benchmark suite.
 *
 *	dmxp-bench [--cases LIST] [--iterations N] [--warmup N] [--repeat R]
 *		   [--json] [--list]
 *
 * Every case is a row of the table cases[] below.  So far the suite holds
 * the wake-up latency cases: two processes (fork) play ping-pong, each
 * blocking until the other's message arrives; the one-way latency is half
 * a round trip, taken N times after a warm-up, and reported as p50, p99,
 * p99.9, min and max.  The same run measures dmxp and the kernel's own
 * mechanisms as peers: a raw futex, an eventfd and a pipe.
 *
 * With --repeat R every case runs R times and each figure is the median
 * of the R runs; the spread of p50 over the runs is shown (min..max).
 * With --json every case is one JSON object on its own line (nanoseconds)
 * and the summary goes to stderr.  Exit status 0 when every case ran or
 * was skipped, 1 (with a one-line error) otherwise, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmxp.h"

#define DEFAULT_ITERATIONS	20000UL
#define DEFAULT_WARMUP		1000UL
#define MAX_ITERATIONS		100000000UL
#define MAX_REPEAT		1000U
#define DEFAULT_SPIN_NS		20000U	/* lib/wait.c's default budget */
#define SKIPPED			1	/* a case's setup: "cannot run here" */

typedef unsigned long long u64;

/* ---------------------------------------------------------------- results */

/* One run of a case: one-way latencies in nanoseconds. */
struct stats {
	u64	min, p50, p99, p999, max;
};

/* A case over all its runs. */
struct result {
	bool		skipped;
	char		why[160];	/* why it was skipped */
	struct stats	med;		/* the median of each figure over the runs */
	u64		p50_lo, p50_hi;	/* the spread of p50 over the runs */
};

struct opts {
	unsigned long	iterations;
	unsigned long	warmup;
	unsigned int	repeat;
	bool		json;
	int		cpu[2];		/* initiator, responder; -1: not pinned */
};

static struct opts opt = {
	.iterations	= DEFAULT_ITERATIONS,
	.warmup		= DEFAULT_WARMUP,
	.repeat		= 1,
	.cpu		= { -1, -1 },
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("dmxp-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile @p (0..1] of the sorted @v[@n]. */
static u64 percentile(const u64 *v, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Sorts @v: the statistics of @n samples. */
static void stats_of(u64 *v, size_t n, struct stats *s)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	s->min = v[0];
	s->p50 = percentile(v, n, 0.50);
	s->p99 = percentile(v, n, 0.99);
	s->p999 = percentile(v, n, 0.999);
	s->max = v[n - 1];
}

/* ---------------------------------------------------- ping-pong framework */

/*
 * Side 0, the initiator, is the parent: it sends, waits for the reply and
 * times the round trip.  Side 1, the responder, is a forked child: it
 * waits for a message and sends it back.  Each side has an inbox (a
 * channel, futex word, eventfd or pipe) that the other side sends to.
 */
struct pp;

struct pp_ops {
	/* Before fork: create the shared objects; SKIPPED with pp->why set. */
	int	(*setup)(struct pp *pp);
	/* After fork, in each process. */
	int	(*attach)(struct pp *pp, int side);
	/* Send @seq to the other side's inbox. */
	int	(*send)(struct pp *pp, int side, u64 seq);
	/* Take a message from our inbox, blocking or not (-EAGAIN). */
	int	(*recv)(struct pp *pp, int side, u64 *seq, bool block);
	void	(*teardown)(struct pp *pp);
	u64	seq_mask;	/* the bits of seq a message carries */
};

struct dmxp_cfg {
	bool		kernel;		/* a kernel region, else a region file */
	bool		spin;		/* the default adaptive spin, else none */
};

struct pp {
	const struct dmxp_cfg	*cfg;
	char			why[160];
	/* futex */
	__u32			*words;		/* inbox of side s: words[s * 16] */
	/* eventfd: fd[s] is side s's inbox; pipe: fd[2s] read end, fd[2s+1] write end */
	int			fd[4];
	/* dmxp */
	char			path[64];
	struct dmxp_region	*setup_r;
	struct dmxp_region	*r;
	struct dmxp_chan	*chan[2];	/* channel s is side s's inbox */
};

/* Set by the initiator's handlers: they interrupt blocking calls (no SA_RESTART). */
static volatile sig_atomic_t child_exited, timed_out;
static int child_status;	/* of the last responder, for errors */

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		child_exited = 1;
	else
		timed_out = 1;
}

static void set_handlers(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
}

static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/*
 * The initiator's receive: blocking, but a signal (the responder died,
 * or the case ran out of time) ends the wait with an error.
 */
static int initiator_recv(const struct pp_ops *ops, struct pp *pp, u64 *seq)
{
	for (;;) {
		int ret = ops->recv(pp, 0, seq, true);

		if (ret != -EINTR)
			return ret;
		if (timed_out)
			return -ETIMEDOUT;
		if (child_exited) {
			ret = ops->recv(pp, 0, seq, false);
			return ret == -EAGAIN ? -ECHILD : ret;
		}
	}
}

static void responder(const struct pp_ops *ops, struct pp *pp, unsigned long total)
{
	unsigned long i;
	int ret;
	u64 seq;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	ret = pin(opt.cpu[1]);
	if (ret)
		die("responder: sched_setaffinity(CPU %d): %s", opt.cpu[1], strerror(-ret));
	ret = ops->attach(pp, 1);
	if (ret)
		die("responder: attach: %s", strerror(-ret));
	for (i = 0; i < total; i++) {
		ret = ops->recv(pp, 1, &seq, true);
		if (ret)
			die("responder: receive %lu: %s", i, strerror(-ret));
		if ((seq ^ i) & ops->seq_mask)
			die("responder: received %llu, expected %lu", seq, i);
		ret = ops->send(pp, 1, seq);
		if (ret)
			die("responder: send %lu: %s", i, strerror(-ret));
	}
	fflush(stdout);
	_exit(0);
}

/*
 * One run of a ping-pong case into @s.  Returns 0, SKIPPED (pp->why says
 * why) or a negative errno; *@what names the failing step.
 */
static int pingpong_run(const struct pp_ops *ops, struct pp *pp, struct stats *s,
			const char **what)
{
	unsigned long total = opt.warmup + opt.iterations, i;
	unsigned int budget;
	u64 *rtt, seq;
	int ret, status;
	pid_t pid;

	*what = "setup";
	ret = ops->setup(pp);
	if (ret)
		return ret;
	rtt = calloc(opt.iterations, sizeof(*rtt));
	if (!rtt) {
		ops->teardown(pp);
		return -ENOMEM;
	}
	child_exited = timed_out = 0;
	set_handlers(true);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		*what = "fork";
		goto out;
	}
	if (pid == 0) {
		set_handlers(false);
		responder(ops, pp, total);
	}

	/* Generous: a lost wake-up shows as a timeout, not as a hang. */
	budget = 60 + (unsigned int)(total / 500);
	alarm(budget);
	*what = "attach";
	ret = ops->attach(pp, 0);
	for (i = 0; !ret && i < total; i++) {
		u64 t0 = now_ns(), t1;

		*what = "send";
		ret = ops->send(pp, 0, i);
		if (ret)
			break;
		*what = "receive";
		ret = initiator_recv(ops, pp, &seq);
		t1 = now_ns();
		if (ret)
			break;
		if ((seq ^ i) & ops->seq_mask) {
			ret = -EPROTO;
			break;
		}
		if (i >= opt.warmup)
			rtt[i - opt.warmup] = t1 - t0;
	}
	alarm(0);
	if (ret)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	child_status = status;
	if (!ret && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		ret = -ECHILD;
	if (ret == -EPIPE)	/* a pipe's EOF: the responder is gone */
		ret = -ECHILD;
	if (!ret) {
		for (i = 0; i < opt.iterations; i++)
			rtt[i] /= 2;	/* one way */
		stats_of(rtt, opt.iterations, s);
	}
out:
	set_handlers(false);
	ops->teardown(pp);
	free(rtt);
	return ret;
}

/* ------------------------------------------------------------------ dmxp */

static int dmxp_setup(struct pp *pp)
{
	struct stat st;
	int ret, i;

	if (pp->cfg->kernel) {
		if (stat("/dev/dmxp", &st)) {
			snprintf(pp->why, sizeof(pp->why),
				 "/dev/dmxp does not exist (the dmxp module is not loaded)");
			return SKIPPED;
		}
		snprintf(pp->path, sizeof(pp->path), "/dev/dmxp:bench-%d", (int)getpid());
	} else {
		snprintf(pp->path, sizeof(pp->path), "/dev/shm/dmxp-bench-%d", (int)getpid());
	}
	dmxp_region_unlink(pp->path);	/* a leftover of a killed run */
	ret = dmxp_region_open(pp->path, 1 << 20, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL,
			       &pp->setup_r);
	if (ret)
		return ret;
	for (i = 0; i < 2 && !ret; i++)
		ret = dmxp_chan_create(pp->setup_r, (unsigned int)i, 16);
	if (ret) {
		dmxp_region_close(pp->setup_r);
		dmxp_region_unlink(pp->path);
	}
	return ret;
}

/* Each process attaches on its own, as unrelated programs would. */
static int dmxp_attach(struct pp *pp, int side)
{
	int ret, i;

	(void)side;
	ret = dmxp_region_open(pp->path, 0, 0, &pp->r);
	for (i = 0; i < 2 && !ret; i++) {
		ret = dmxp_chan_open(pp->r, (unsigned int)i, &pp->chan[i]);
		if (!ret && !pp->cfg->spin)
			ret = dmxp_chan_set_spin(pp->chan[i], 0);
	}
	return ret;
}

static int dmxp_send(struct pp *pp, int side, u64 seq)
{
	return dmxp_chan_send(pp->chan[!side], &seq, sizeof(seq), 0);
}

static int dmxp_recv(struct pp *pp, int side, u64 *seq, bool block)
{
	ssize_t n;

	if (block)
		n = dmxp_chan_recv_wait(pp->chan[side], seq, sizeof(*seq), NULL,
					DMXP_WAIT_FOREVER);
	else
		n = dmxp_chan_recv(pp->chan[side], seq, sizeof(*seq), NULL);
	if (n < 0)
		return (int)n;
	return n == sizeof(*seq) ? 0 : -EPROTO;
}

static void dmxp_teardown(struct pp *pp)
{
	int i;

	for (i = 0; i < 2; i++)
		if (pp->chan[i])
			dmxp_chan_close(pp->chan[i]);
	if (pp->r)
		dmxp_region_close(pp->r);
	dmxp_chan_destroy(pp->setup_r, 0);
	dmxp_chan_destroy(pp->setup_r, 1);
	dmxp_region_close(pp->setup_r);
	dmxp_region_unlink(pp->path);
}

static const struct pp_ops dmxp_ops = {
	.setup		= dmxp_setup,
	.attach		= dmxp_attach,
	.send		= dmxp_send,
	.recv		= dmxp_recv,
	.teardown	= dmxp_teardown,
	.seq_mask	= ~0ULL,
};

/* ---------------------------------------------------------- futex (peer) */

/*
 * The textbook futex ping-pong: a word per side in a MAP_SHARED anonymous
 * mapping (in its own cache line).  The sender sets the word and always
 * calls FUTEX_WAKE; the receiver sleeps in FUTEX_WAIT while it is 0.
 */
static long sys_futex(__u32 *uaddr, int op, __u32 val)
{
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static int futex_setup(struct pp *pp)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	pp->words = p;
	return 0;
}

static int futex_attach(struct pp *pp, int side)
{
	(void)pp;
	(void)side;
	return 0;
}

static int futex_send(struct pp *pp, int side, u64 seq)
{
	__u32 *w = &pp->words[!side * 16];

	__atomic_store_n(w, (__u32)seq + 1, __ATOMIC_RELEASE);
	return sys_futex(w, FUTEX_WAKE, 1) < 0 ? -errno : 0;
}

static int futex_recv(struct pp *pp, int side, u64 *seq, bool block)
{
	__u32 *w = &pp->words[side * 16], v;

	while (!(v = __atomic_load_n(w, __ATOMIC_ACQUIRE))) {
		if (!block)
			return -EAGAIN;
		if (sys_futex(w, FUTEX_WAIT, 0) < 0 && errno != EAGAIN)
			return -errno;
	}
	__atomic_store_n(w, 0, __ATOMIC_RELAXED);	/* the next message is a reply away */
	*seq = v - 1;
	return 0;
}

static void futex_teardown(struct pp *pp)
{
	munmap(pp->words, 4096);
}

static const struct pp_ops futex_ops = {
	.setup		= futex_setup,
	.attach		= futex_attach,
	.send		= futex_send,
	.recv		= futex_recv,
	.teardown	= futex_teardown,
	.seq_mask	= ~0ULL,
};

/* -------------------------------------------------------- eventfd (peer) */

/* An eventfd per side; the message is the counter value (seq + 1). */
static int efd_setup(struct pp *pp)
{
	int i;

	for (i = 0; i < 2; i++) {
		pp->fd[i] = eventfd(0, EFD_CLOEXEC);
		if (pp->fd[i] < 0) {
			int ret = -errno;

			if (i)
				close(pp->fd[0]);
			return ret;
		}
	}
	return 0;
}

static int efd_send(struct pp *pp, int side, u64 seq)
{
	u64 v = seq + 1;

	return write(pp->fd[!side], &v, sizeof(v)) == sizeof(v) ? 0 : -errno;
}

/* Without blocking: only if poll() says a read will not block. */
static int poll_now(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 0);

	return n < 0 ? -errno : n ? 0 : -EAGAIN;
}

static int efd_recv(struct pp *pp, int side, u64 *seq, bool block)
{
	u64 v;
	int ret;

	if (!block) {
		ret = poll_now(pp->fd[side]);
		if (ret)
			return ret;
	}
	if (read(pp->fd[side], &v, sizeof(v)) != sizeof(v))
		return -errno;
	*seq = v - 1;
	return 0;
}

static void efd_teardown(struct pp *pp)
{
	close(pp->fd[0]);
	close(pp->fd[1]);
}

static const struct pp_ops eventfd_ops = {
	.setup		= efd_setup,
	.attach		= futex_attach,
	.send		= efd_send,
	.recv		= efd_recv,
	.teardown	= efd_teardown,
	.seq_mask	= ~0ULL,
};

/* ----------------------------------------------------------- pipe (peer) */

/* A pipe per side, one byte per message (the low byte of seq). */
static int pipe_setup(struct pp *pp)
{
	if (pipe2(&pp->fd[0], O_CLOEXEC))
		return -errno;
	if (pipe2(&pp->fd[2], O_CLOEXEC)) {
		int ret = -errno;

		close(pp->fd[0]);
		close(pp->fd[1]);
		return ret;
	}
	return 0;
}

/* Keep only the ends this side uses: a dead peer then reads as EOF. */
static int pipe_attach(struct pp *pp, int side)
{
	close(pp->fd[2 * side + 1]);
	close(pp->fd[2 * !side]);
	pp->fd[2 * side + 1] = pp->fd[2 * !side] = -1;
	return 0;
}

static int pipe_send(struct pp *pp, int side, u64 seq)
{
	unsigned char b = (unsigned char)seq;

	return write(pp->fd[2 * !side + 1], &b, 1) == 1 ? 0 : -errno;
}

static int pipe_recv(struct pp *pp, int side, u64 *seq, bool block)
{
	unsigned char b;
	ssize_t n;
	int ret;

	if (!block) {
		ret = poll_now(pp->fd[2 * side]);
		if (ret)
			return ret;
	}
	n = read(pp->fd[2 * side], &b, 1);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	*seq = b;	/* the low byte only: seq_mask */
	return 0;
}

static void pipe_teardown(struct pp *pp)
{
	int i;

	for (i = 0; i < 4; i++)
		if (pp->fd[i] >= 0)
			close(pp->fd[i]);
}

static const struct pp_ops pipe_ops = {
	.setup		= pipe_setup,
	.attach		= pipe_attach,
	.send		= pipe_send,
	.recv		= pipe_recv,
	.teardown	= pipe_teardown,
	.seq_mask	= 0xff,
};

/* ------------------------------------------------------------- the cases */

struct bench_case {
	const char		*name;
	const char		*peer;		/* what is measured: dmxp or a peer */
	const char		*metric;
	const char		*what;		/* one line for the text output */
	/* One run into @s: 0, SKIPPED (@why set) or -errno (@step set). */
	int			(*run)(const struct bench_case *bc, struct stats *s,
				       char *why, size_t whylen, const char **step);
	const struct pp_ops	*ops;		/* ping-pong cases */
	const struct dmxp_cfg	*dmxp;		/* dmxp cases */
};

static int run_pingpong(const struct bench_case *bc, struct stats *s,
			char *why, size_t whylen, const char **step)
{
	struct pp pp = { .cfg = bc->dmxp, .fd = { -1, -1, -1, -1 } };
	int ret = pingpong_run(bc->ops, &pp, s, step);

	if (ret == SKIPPED)
		snprintf(why, whylen, "%s", pp.why);
	return ret;
}

static const struct dmxp_cfg cfg_file_nospin = { .kernel = false, .spin = false };
static const struct dmxp_cfg cfg_file_spin = { .kernel = false, .spin = true };
static const struct dmxp_cfg cfg_kernel_nospin = { .kernel = true, .spin = false };
static const struct dmxp_cfg cfg_kernel_spin = { .kernel = true, .spin = true };

#define WAKEUP	"wakeup_latency_one_way"

static const struct bench_case cases[] = {
	{ "dmxp", "dmxp", WAKEUP,
	  "region file, recv_wait, spin off: futex sleep and wake-up",
	  run_pingpong, &dmxp_ops, &cfg_file_nospin },
	{ "dmxp-spin", "dmxp", WAKEUP,
	  "region file, recv_wait, default adaptive spin (20 us)",
	  run_pingpong, &dmxp_ops, &cfg_file_spin },
	{ "dmxp-kernel", "dmxp", WAKEUP,
	  "/dev/dmxp:NAME, recv_wait, spin off: poll() and NOTIFY ioctl",
	  run_pingpong, &dmxp_ops, &cfg_kernel_nospin },
	{ "dmxp-kernel-spin", "dmxp", WAKEUP,
	  "/dev/dmxp:NAME, recv_wait, default adaptive spin (20 us)",
	  run_pingpong, &dmxp_ops, &cfg_kernel_spin },
	{ "futex", "futex", WAKEUP,
	  "raw FUTEX_WAIT/FUTEX_WAKE on MAP_SHARED words",
	  run_pingpong, &futex_ops, NULL },
	{ "eventfd", "eventfd", WAKEUP,
	  "two eventfds, blocking read",
	  run_pingpong, &eventfd_ops, NULL },
	{ "pipe", "pipe", WAKEUP,
	  "two pipes, 1-byte blocking read",
	  run_pingpong, &pipe_ops, NULL },
};

#define NCASES	(sizeof(cases) / sizeof(cases[0]))

/* ---------------------------------------------------------------- driver */

static u64 median_of(u64 *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void run_case(const struct bench_case *bc, struct result *res)
{
	struct stats *runs = calloc(opt.repeat, sizeof(*runs));
	u64 *col = calloc(opt.repeat, sizeof(*col));
	unsigned int r;

	if (!runs || !col)
		die("%s: %s", bc->name, strerror(ENOMEM));
	for (r = 0; r < opt.repeat; r++) {
		const char *step = "run";
		int ret = bc->run(bc, &runs[r], res->why, sizeof(res->why), &step);

		if (ret == SKIPPED) {
			res->skipped = true;
			goto out;
		}
		if (ret == -ETIMEDOUT)
			die("%s: %s: no reply in time (a lost wake-up?)", bc->name, step);
		if (ret == -ECHILD && WIFEXITED(child_status) && WEXITSTATUS(child_status) == 1)
			exit(1);	/* the responder said why */
		if (ret == -ECHILD && WIFSIGNALED(child_status))
			die("%s: the responder was killed by signal %d", bc->name,
			    WTERMSIG(child_status));
		if (ret == -ECHILD)
			die("%s: the responder exited early (status %d)", bc->name,
			    WEXITSTATUS(child_status));
		if (ret)
			die("%s: %s: %s", bc->name, step, strerror(-ret));
	}
#define MEDIAN(f) do {						\
		for (r = 0; r < opt.repeat; r++)			\
			col[r] = runs[r].f;				\
		res->med.f = median_of(col, opt.repeat);		\
	} while (0)
	MEDIAN(min);
	MEDIAN(p99);
	MEDIAN(p999);
	MEDIAN(max);
	MEDIAN(p50);	/* last: col stays sorted by p50 */
#undef MEDIAN
	res->p50_lo = col[0];
	res->p50_hi = col[opt.repeat - 1];
out:
	free(runs);
	free(col);
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_json(const struct bench_case *bc, const struct result *res)
{
	printf("{\"name\":");
	json_str(bc->name);
	printf(",\"peer\":");
	json_str(bc->peer);
	printf(",\"metric\":");
	json_str(bc->metric);
	if (res->skipped) {
		printf(",\"value\":null,\"unit\":\"ns\",\"skipped\":");
		json_str(res->why);
	} else {
		printf(",\"value\":%llu,\"unit\":\"ns\",\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"min\":%llu,\"max\":%llu,\"p50_min\":%llu,\"p50_max\":%llu",
		       res->med.p50, res->med.p50, res->med.p99, res->med.p999,
		       res->med.min, res->med.max, res->p50_lo, res->p50_hi);
	}
	printf(",\"parameters\":{\"description\":");
	json_str(bc->what);
	printf(",\"iterations\":%lu,\"warmup\":%lu,\"repeat\":%u,\"statistic\":\"median of runs\",\"cpus\":",
	       opt.iterations, opt.warmup, opt.repeat);
	if (opt.cpu[0] >= 0)
		printf("[%d,%d]", opt.cpu[0], opt.cpu[1]);
	else
		printf("null");
	if (bc->dmxp)
		printf(",\"backend\":\"%s\",\"spin_max_ns\":%u",
		       bc->dmxp->kernel ? "kernel" : "file",
		       bc->dmxp->spin ? DEFAULT_SPIN_NS : 0);
	printf(",\"payload_bytes\":%d}}\n", bc->ops == &pipe_ops ? 1 : 8);
	fflush(stdout);
}

static void print_text(const struct bench_case *bc, const struct result *res)
{
	if (res->skipped) {
		printf("%-17s skipped: %s\n", bc->name, res->why);
	} else {
		printf("%-17s %9.2f %9.2f %9.2f %9.2f %10.2f",
		       bc->name, res->med.p50 / 1e3, res->med.p99 / 1e3,
		       res->med.p999 / 1e3, res->med.min / 1e3, res->med.max / 1e3);
		if (opt.repeat > 1)
			printf("  %8.2f..%-8.2f", res->p50_lo / 1e3, res->p50_hi / 1e3);
		printf("  %s\n", bc->what);
	}
	fflush(stdout);
}

/* The initiator on the first allowed CPU, the responder on the second. */
static void choose_cpus(void)
{
	cpu_set_t set;
	int cpu, n = 0, ret;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			opt.cpu[n++] = cpu;
	if (n < 2) {
		opt.cpu[0] = opt.cpu[1] = -1;
		return;
	}
	ret = pin(opt.cpu[0]);
	if (ret)
		die("sched_setaffinity(CPU %d): %s", opt.cpu[0], strerror(-ret));
}

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > max) {
		fprintf(stderr, "dmxp-bench: invalid %s '%s' (1..%lu)\n", what, s, max);
		exit(2);
	}
	return v;
}

static const struct bench_case *find_case(const char *name)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmxp-bench [--cases LIST] [--iterations N] [--warmup N] [--repeat R] [--json] [--list]\n"
		"  --cases LIST    comma-separated case names (default: all; see --list)\n"
		"  --iterations N  timed round trips per run (default %lu)\n"
		"  --warmup N      untimed round trips first (default %lu; 0 allowed)\n"
		"  --repeat R      run each case R times; report the median (default 1)\n"
		"  --json          one JSON object per case, in nanoseconds\n"
		"  --list          list the cases\n",
		DEFAULT_ITERATIONS, DEFAULT_WARMUP);
}

/* The p50 of case @name, or 0 if it did not run. */
static u64 p50_of(const struct result *res, const char *name)
{
	const struct bench_case *bc = find_case(name);

	if (!bc || res[bc - cases].skipped || !res[bc - cases].med.p50)
		return 0;
	return res[bc - cases].med.p50;
}

static void summary(const bool *sel, const struct result *res)
{
	FILE *f = opt.json ? stderr : stdout;
	u64 d = p50_of(res, "dmxp"), fx = p50_of(res, "futex");
	u64 ev = p50_of(res, "eventfd"), pi = p50_of(res, "pipe");
	unsigned int ran = 0, skipped = 0;
	size_t i;

	for (i = 0; i < NCASES; i++) {
		if (!sel[i])
			continue;
		if (res[i].skipped)
			skipped++;
		else
			ran++;
	}
	fprintf(f, "dmxp-bench: %u cases run, %u skipped", ran, skipped);
	if (d) {
		fprintf(f, "; dmxp (no spin) p50 %.2f us", d / 1e3);
		if (fx)
			fprintf(f, ", %.2fx futex (goal <= 1.2: %s)", (double)d / fx,
				(double)d / fx <= 1.2 ? "met" : "missed");
		if (ev)
			fprintf(f, ", %.2fx eventfd", (double)d / ev);
		if (pi)
			fprintf(f, ", %.2fx pipe", (double)d / pi);
	}
	fputc('\n', f);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "cases",	required_argument,	NULL, 'c' },
		{ "iterations",	required_argument,	NULL, 'n' },
		{ "warmup",	required_argument,	NULL, 'w' },
		{ "repeat",	required_argument,	NULL, 'r' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "list",	no_argument,		NULL, 'l' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct result res[NCASES];
	bool sel[NCASES] = { false };
	const char *list = NULL;
	bool any = false;
	size_t i;
	int o;

	while ((o = getopt_long(argc, argv, "c:n:w:r:jlh", lopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			list = optarg;
			break;
		case 'n':
			opt.iterations = parse_num(optarg, "iteration count", MAX_ITERATIONS);
			break;
		case 'w':
			opt.warmup = strcmp(optarg, "0") ?
				     parse_num(optarg, "warm-up count", MAX_ITERATIONS) : 0;
			break;
		case 'r':
			opt.repeat = (unsigned int)parse_num(optarg, "repeat count", MAX_REPEAT);
			break;
		case 'j':
			opt.json = true;
			break;
		case 'l':
			for (i = 0; i < NCASES; i++)
				printf("%-17s %-8s %s\n", cases[i].name, cases[i].peer,
				       cases[i].what);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmxp-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (list && strcmp(list, "all")) {
		char *dup = strdup(list), *tok, *save = NULL;

		if (!dup)
			die("%s", strerror(ENOMEM));
		for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			const struct bench_case *bc = find_case(tok);

			if (!bc) {
				fprintf(stderr, "dmxp-bench: unknown case '%s' (see --list)\n", tok);
				return 2;
			}
			sel[bc - cases] = true;
			any = true;
		}
		free(dup);
		if (!any) {
			fprintf(stderr, "dmxp-bench: --cases: no case named\n");
			return 2;
		}
	} else {
		for (i = 0; i < NCASES; i++)
			sel[i] = true;
	}

	choose_cpus();
	memset(res, 0, sizeof(res));
	if (!opt.json) {
		printf("dmxp-bench: wake-up latency: ping-pong between two processes, one-way = round trip / 2\n");
		printf("dmxp-bench: %lu round trips after %lu warm-up, %u run%s per case%s\n",
		       opt.iterations, opt.warmup, opt.repeat, opt.repeat > 1 ? "s" : "",
		       opt.repeat > 1 ? " (figures: the median of the runs)" : "");
		if (opt.cpu[0] >= 0)
			printf("dmxp-bench: pinned: initiator on CPU %d, responder on CPU %d\n",
			       opt.cpu[0], opt.cpu[1]);
		else
			printf("dmxp-bench: not pinned: fewer than 2 CPUs available\n");
		printf("%-17s %9s %9s %9s %9s %10s%s\n", "case (us)", "p50", "p99", "p99.9",
		       "min", "max", opt.repeat > 1 ? "  p50 range         " : "");
		fflush(stdout);
	}
	for (i = 0; i < NCASES; i++) {
		if (!sel[i])
			continue;
		run_case(&cases[i], &res[i]);
		if (opt.json)
			print_json(&cases[i], &res[i]);
		else
			print_text(&cases[i], &res[i]);
	}
	summary(sel, res);
	return 0;
}
