// SPDX-License-Identifier: MIT
/*
 * A seeded random walk through the user interface of /dev/dmxp.
 *
 * Each step is one system call on the device, or a few: opening and
 * closing it read-write, read-only and write-only; every ioctl, with
 * arguments drawn from valid values, boundary values and garbage, and
 * with bad or read-only argument pointers; unknown ioctl numbers, and the
 * device's ioctls on channel fds and eventfds; mmap, munmap, mremap and
 * mprotect of regions with any arguments; garbage written into mapped
 * regions, the claim table's records among it; read, write and poll on
 * channel fds, and blocking reads and writes that a timer interrupts;
 * eventfd registrations; fork, with a child acting on the inherited fds
 * and mappings and then exiting or being killed; "wild" children that
 * keep acting on them concurrently until they are killed; two processes
 * racing to create, attach and destroy one region and its channels; and
 * files that die holding claims, whose release the module must repair.
 * Files are opened read-write, read-only (a read-only binding: read-only
 * mappings, channel fds that only poll, EBADF for every change) and
 * write-only (never bound).
 *
 * A model of what the module holds (regions, channels, bound files,
 * mappings, eventfd registrations) gives, for each call, the errors whose
 * documented condition holds (Documentation/KERNEL.md for the device, the
 * mm and VFS rules for the rest).  A call fails the run when it returns
 * an error whose condition does not hold, succeeds although an error's
 * condition holds, returns wrong output, or does not return within
 * --op-timeout seconds.  Every so often, and at the end with everything
 * closed, unmapped and destroyed, /sys/kernel/dmxp and the module's
 * vmalloc'ed region memory (/proc/vmallocinfo) must match the model, and
 * at the end equal what they were at the start.  Where no garbage was
 * written into a region's header or claim table, the header, the channel
 * entries, the claim table and the repair counts must be exactly what
 * the model says, and a repair exactly what the dead file's claims ask
 * for.  The kernel log must show no BUG, WARNING or Oops.
 *
 *	fuzz_kmod [--seed N] [--seconds S | --ops N] [-v] [--no-wild]
 *		  [--op-timeout S] [--mem-budget MIB]
 *
 * The seed is always printed.  The same seed and --ops replay a run step
 * by step; -v prints every call.  Wild children and racers run
 * concurrently, so what they do is not reproducible, and wild children
 * make the parent's checks of state they might change looser: --no-wild
 * leaves them out.
 * DMXP_FUZZ_SECONDS and DMXP_FUZZ_SEED give defaults for --seconds (25)
 * and --seed (from the clock).
 *
 * Skipped when /dev/dmxp does not exist or when not run as root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <linux/dmxp.h>

#include "kselftest.h"
#include "kmod_common.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE	0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC		0x80000
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif
#ifndef PROT_SEM
#define PROT_SEM		0x8
#endif
#ifndef MAP_UNINITIALIZED
#define MAP_UNINITIALIZED	0x4000000
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT		0x00000008
#endif

#define SYSFS_DIR	"/sys/kernel/dmxp"
#define PARAM_DIR	"/sys/module/dmxp/parameters"

/* The smallest region the module takes: the header and one ring of 2. */
#define MIN_SIZE	(DMXP_HEADER_SIZE + DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)
/* The smallest that gets a claim table, between the header and the rings. */
#define CLAIMS_MIN_SIZE	(DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE + \
			 DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)
#define CLAIMS_END	(DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE)
#define META		sizeof(struct dmxp_msg_meta)
#define MSG_MAX		(META + DMXP_MAX_PAYLOAD)

#define NSLOTS		6	/* region names the run uses */
#define NCH		9	/* channel ids the run uses */
#define MAX_INST	64	/* regions alive, named or not */
#define MAX_FILES	24	/* open /dev/dmxp files */
#define MAX_DEVFDS	24
#define MAX_CHFDS	24
#define MAX_EVFDS	8
#define MAX_PIECES	96	/* mapped VMAs of regions */
#define MAX_REGS	192	/* eventfd registrations */
#define MAX_WILD	2
#define CHILD_FAILED	3	/* exit status of a child that found a failure */

static const __u32 chan_ids[NCH] = { 0, 1, 2, 3, 4, 5, 6, 7, DMXP_MAX_CHANNELS - 1 };

/* ------------------------------------------------------------------ model */

struct mchan {
	bool		present;
	bool		band_known;
	__u64		cap;
	__u64		band;
	unsigned int	epoch;		/* +1 at every create and destroy: the generation */
	__u64		repaired;	/* slots repaired since created, */
	__u64		tombstoned;	/* and tombstones: exact while !table_dirty */
	__u64		seen;		/* repairs the last check saw */
};

struct minst {				/* a region, from creation until freed */
	bool		used;
	bool		named;		/* in the registry: not destroyed */
	bool		pinned;		/* a child's: the parent holds it */
	int		slot;		/* its name */
	__u64		size;
	__u32		mode;
	__u32		last_lease;	/* the highest lease seen: leases only grow */
	bool		hdr_dirty;	/* garbage may be in the header or entries */
	bool		table_dirty;	/* garbage may be in the claim table */
	bool		cursor_known;
	__u64		cursor;		/* alloc_cursor, when known */
	struct mchan	ch[NCH];
};

struct mfile {				/* an open file description of /dev/dmxp */
	bool		used;
	bool		inherited;	/* a child's: the parent holds it */
	bool		versioned;
	int		acc;		/* O_RDONLY, O_WRONLY or O_RDWR */
	int		inst;		/* bound region, or -1 */
	__u32		lease;		/* its claim owner in that region */
	int		nfds;		/* fds of this process on it */
};

struct mreg {				/* an eventfd registration */
	int		inst, ch, file;
	long		ev;
};

/* What the kernel holds: what a child reports back to its parent. */
struct shared {
	struct minst	inst[MAX_INST];
	struct mfile	file[MAX_FILES];
	struct mreg	reg[MAX_REGS];
	int		nreg;
};

struct mdevfd {
	int		fd;		/* -1: free */
	int		file;
};

struct mchfd {
	int		fd;
	int		inst, ch;
	unsigned int	epoch;		/* of the channel when opened */
	bool		nonblock;
	bool		poll_only;	/* of a read-only binding: no read or write */
	bool		in_epoll;
	bool		inherited;	/* a child's: its flags are the parent's too */
};

struct mevfd {
	int		fd;
	long		ev;		/* identity of the eventfd */
};

struct mpiece {				/* one VMA of a mapped region */
	unsigned char	*addr;
	size_t		len;
	__u64		off;		/* region offset of addr */
	int		prot;
	bool		maywrite;
	int		file, inst;
};

enum { K_DEV, K_CHAN, K_EV, K_EPOLL };

static struct {
	/* parameters */
	unsigned long long seed, max_ops;
	double		seconds;
	bool		verbose, no_wild;
	unsigned int	op_timeout;
	__u64		budget;
	/* the module */
	__u64		default_size, max_region_size, max_total_size;
	__u32		default_mode;
	__u64		total_before;	/* bytes of the regions there at the start */
	/* names */
	char		name[NSLOTS][DMXP_NAME_MAX];
	char		nx_name[DMXP_NAME_MAX];
	char		race_name[DMXP_NAME_MAX];	/* only op_race() uses it */
	char		crash_name[DMXP_NAME_MAX];	/* only op_crash() uses it */
	int		default_slot;
	/* the model */
	struct shared	sh;
	struct mdevfd	devfd[MAX_DEVFDS];
	struct mchfd	chfd[MAX_CHFDS];
	struct mevfd	evfd[MAX_EVFDS];
	struct mpiece	piece[MAX_PIECES];
	long		next_ev;
	int		epfd;
	/* processes */
	bool		in_child, is_wild;
	bool		wild_running;	/* a child's: the parent has wild children */
	const char	*who;
	pid_t		wild[MAX_WILD];
	unsigned long long wild_until[MAX_WILD];
	int		nwild;
	/* counters */
	unsigned long long ops, calls, forks, wilds, errs[160];
	unsigned long long repairs, repairs_waited;	/* checked by op_crash() */
	unsigned long long repairs_seen;	/* where claim records were garbage */
	unsigned long	pg;
} g;

/* ----------------------------------------------------------------- random */

static __u64 rng;

static __u64 rnd(void)
{
	__u64 z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u64 below(__u64 n)
{
	return n ? rnd() % n : 0;
}

static bool pct(unsigned int p)
{
	return below(100) < p;
}

/* A non-zero value of the kinds that break range checks. */
static __u64 garbage64(void)
{
	__u64 v;

	switch (below(6)) {
	case 0:
		v = rnd();
		break;
	case 1:
		v = 1ULL << below(64);
		break;
	case 2:
		v = ~0ULL;
		break;
	case 3:
		v = 1 + below(16);
		break;
	case 4:
		v = 1ULL << 63;
		break;
	default:
		v = -(1 + below(4096));
		break;
	}
	return v ? v : 1;
}

static __u32 garbage32(void)
{
	__u32 v = (__u32)garbage64();

	return v ? v : 0x80000000U;
}

/* --------------------------------------------------------------- logging */

#define RING	48
#define LINE	320

static char ring[RING][LINE];
static unsigned int ring_n;
static char *cur_line;

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "E?";
}

/* Before a call: what it is. */
static void __attribute__((format(printf, 1, 2))) call(const char *fmt, ...)
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
static void __attribute__((format(printf, 1, 2))) result(const char *fmt, ...)
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

static void result_ret(long ret)
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
static volatile int *child_failed;

static void kill_wild(void)
{
	int i;

	for (i = 0; i < g.nwild; i++)
		kill(g.wild[i], SIGKILL);
}

/* The per-step alarm, and crashes: report and leave at once. */
static void on_fatal(int sig)
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

static jmp_buf fail_jmp;
static char fail_msg[512];

static void __attribute__((format(printf, 1, 2), noreturn)) fail(const char *fmt, ...)
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

static void arm(unsigned int seconds)
{
	struct itimerval it = { .it_value = { .tv_sec = seconds } };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* ----------------------------------------------------------- expectations */

/*
 * For each errno, whether its condition holds for the call about to be
 * made: NO, YES, or MAYBE when the model cannot tell.  The call may
 * return an errno that is YES or MAYBE, and may succeed only if none is
 * YES.  Which of several errors that hold is returned is not specified.
 */
enum tri { NO, MAYBE, YES };

#define NERR	160

struct expect {
	unsigned char t[NERR];
};

static void ex_reset(struct expect *e)
{
	memset(e, 0, sizeof(*e));
}

static void ex_add(struct expect *e, int err, enum tri t)
{
	if (t > e->t[err])
		e->t[err] = (unsigned char)t;
}

static enum tri tri_of(bool c)
{
	return c ? YES : NO;
}

/*
 * A condition on shared state: a wild child cannot know it, since the
 * parent changes that state while the child runs.
 */
static enum tri st(bool c)
{
	return g.is_wild ? MAYBE : tri_of(c);
}

/* Nothing but success is possible, short of running out of memory. */
static bool ex_clean(const struct expect *e)
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
static long verdict(const struct expect *e, long ret)
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

/* -------------------------------------------------------- model helpers */

static struct minst *inst(int i)
{
	return &g.sh.inst[i];
}

static struct mfile *file(int f)
{
	return &g.sh.file[f];
}

static int named_inst(int slot)
{
	int i;

	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used && inst(i)->named && inst(i)->slot == slot)
			return i;
	return -1;
}

/* Whether a region of @size bytes has a claim table (region.c). */
static bool has_claims(__u64 size)
{
	return size >= CLAIMS_MIN_SIZE;
}

/* Where its rings go from: after the claim table if it has one. */
static __u64 bands_start(__u64 size)
{
	return has_claims(size) ? CLAIMS_END : DMXP_HEADER_SIZE;
}

static int inst_new(int slot, __u64 size, __u32 mode)
{
	int i;

	for (i = 0; i < MAX_INST; i++) {
		if (inst(i)->used)
			continue;
		memset(inst(i), 0, sizeof(*inst(i)));
		inst(i)->used = true;
		inst(i)->named = true;
		inst(i)->slot = slot;
		inst(i)->size = size;
		inst(i)->mode = mode;
		inst(i)->cursor_known = true;
		inst(i)->cursor = bands_start(size);
		return i;
	}
	return -1;
}

/* Bytes [@off, @off + @len) of region @ins were written with anything. */
static void mark_dirty(int ins, __u64 off, __u64 len)
{
	struct minst *in = inst(ins);

	if (off < DMXP_HEADER_SIZE)
		in->hdr_dirty = true;
	if (has_claims(in->size) && off < CLAIMS_END && off + len > DMXP_HEADER_SIZE)
		in->table_dirty = true;
}

/* No wild child can be writing anywhere: what the model knows is exact. */
static bool quiet(void)
{
	return !g.is_wild && !g.nwild && !g.wild_running;
}

static int inst_free_count(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_INST; i++)
		n += !inst(i)->used;
	return n;
}

/* Bytes of every region this run keeps alive. */
static __u64 live_bytes(void)
{
	__u64 n = 0;
	int i;

	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used)
			n += inst(i)->size;
	return n;
}

static bool fits_budget(__u64 size)
{
	return inst_free_count() > 1 && live_bytes() + size <= g.budget;
}

static void regs_drop(int ins, int ch, int f)
{
	int i;

	for (i = 0; i < g.sh.nreg; ) {
		struct mreg *r = &g.sh.reg[i];

		if ((ins < 0 || r->inst == ins) && (ch < 0 || r->ch == ch) &&
		    (f < 0 || r->file == f))
			g.sh.reg[i] = g.sh.reg[--g.sh.nreg];
		else
			i++;
	}
}

static int reg_find(int ins, int ch, int f, long ev)
{
	int i;

	for (i = 0; i < g.sh.nreg; i++) {
		struct mreg *r = &g.sh.reg[i];

		if (r->inst == ins && r->ch == ch && r->file == f && r->ev == ev)
			return i;
	}
	return -1;
}

static int reg_count(int ins, int ch)
{
	int i, n = 0;

	for (i = 0; i < g.sh.nreg; i++)
		n += g.sh.reg[i].inst == ins && g.sh.reg[i].ch == ch;
	return n;
}

/* Eventfd registration counts are exact only when no wild child lives. */
static bool regs_loose(void)
{
	return g.is_wild || g.nwild > 0 || g.wild_running;
}

static bool file_held(int f)
{
	int i;

	if (file(f)->nfds || file(f)->inherited)
		return true;
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr && g.piece[i].file == f)
			return true;
	return false;
}

static bool inst_held(int ins)
{
	int i;

	if (inst(ins)->named || inst(ins)->pinned)
		return true;
	for (i = 0; i < MAX_FILES; i++)
		if (file(i)->used && file(i)->inst == ins)
			return true;
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr && g.piece[i].inst == ins)
			return true;
	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd >= 0 && g.chfd[i].inst == ins)
			return true;
	return false;
}

/* Release what nothing refers to any more, as the kernel does. */
static void gc(void)
{
	int i;

	for (i = 0; i < MAX_FILES; i++) {
		if (!file(i)->used || file_held(i))
			continue;
		regs_drop(-1, -1, i);
		file(i)->used = false;
	}
	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used && !inst_held(i))
			inst(i)->used = false;
}

static bool chan_alive(const struct mchfd *c)
{
	const struct minst *in = inst(c->inst);

	return in->named && in->ch[c->ch].present && in->ch[c->ch].epoch == c->epoch;
}

/*
 * Where the module's first fit puts a ring of @cap slots: YES when it
 * does not fit (ENOSPC), NO when it does at *@off, MAYBE when a band is
 * not known.
 */
static enum tri band_predict(const struct minst *in, __u64 cap, __u64 *off)
{
	__u64 s[NCH], e[NCH], at = bands_start(in->size), bytes = cap * DMXP_SLOT_SIZE;
	int n = 0, i, j;

	for (i = 0; i < NCH; i++) {
		if (!in->ch[i].present)
			continue;
		if (!in->ch[i].band_known)
			return MAYBE;
		s[n] = in->ch[i].band;
		e[n] = s[n] + in->ch[i].cap * DMXP_SLOT_SIZE;
		n++;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s[j - 1] > s[j]; j--) {
			__u64 t = s[j];

			s[j] = s[j - 1];
			s[j - 1] = t;
			t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	for (i = 0; i <= n; i++) {
		__u64 next = i < n ? s[i] : in->size;

		if (next >= at && next - at >= bytes) {
			*off = at;
			return NO;
		}
		if (i < n && e[i] > at)
			at = e[i];
	}
	return YES;
}

/* ------------------------------------------------------------ fd tables */

static int devfd_slot(void)
{
	int i;

	for (i = 0; i < MAX_DEVFDS; i++)
		if (g.devfd[i].fd < 0)
			return i;
	return -1;
}

static int file_new(int acc)
{
	int i;

	for (i = 0; i < MAX_FILES; i++) {
		if (file(i)->used)
			continue;
		memset(file(i), 0, sizeof(*file(i)));
		file(i)->used = true;
		file(i)->acc = acc;
		file(i)->inst = -1;
		return i;
	}
	return -1;
}

static int chfd_slot(void)
{
	int i;

	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd < 0)
			return i;
	return -1;
}

static int piece_slots(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_PIECES; i++)
		n += !g.piece[i].addr;
	return n;
}

/* Pick one of @n candidates, or -1. */
#define PICK(n, cond) ({						\
	int __c[(n)], __k = 0, __i;					\
	for (__i = 0; __i < (n); __i++)					\
		if (cond)						\
			__c[__k++] = __i;				\
	__k ? __c[below(__k)] : -1;					\
})

/*
 * A dev fd this process may use for a call that changes the file's
 * state: a wild child shares its inherited files with the parent.
 */
static bool devfd_mine(int i)
{
	return g.devfd[i].fd >= 0 && (!g.is_wild || !file(g.devfd[i].file)->inherited);
}

static int pick_devfd(void)
{
	return PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0);
}

static int pick_chfd(void)
{
	return PICK(MAX_CHFDS, g.chfd[__i].fd >= 0);
}

static int pick_evfd(void)
{
	return PICK(MAX_EVFDS, g.evfd[__i].fd >= 0);
}

static int pick_piece(int need_prot)
{
	return PICK(MAX_PIECES, g.piece[__i].addr && (g.piece[__i].prot & need_prot) == need_prot);
}

/*
 * A random fd of kind *@kind (any kind if -1); if there is none of that
 * kind, of the next kind that has one, the epoll fd last.
 */
static int pick_any_fd(int *kind)
{
	int k = *kind >= 0 ? *kind : (int)below(4), j;

	for (;; k++) {
		switch (k) {
		case K_DEV:
			j = pick_devfd();
			if (j >= 0) {
				*kind = k;
				return g.devfd[j].fd;
			}
			break;
		case K_CHAN:
			j = pick_chfd();
			if (j >= 0) {
				*kind = k;
				return g.chfd[j].fd;
			}
			break;
		case K_EV:
			j = pick_evfd();
			if (j >= 0) {
				*kind = k;
				return g.evfd[j].fd;
			}
			break;
		default:
			*kind = K_EPOLL;
			return g.epfd;
		}
	}
}

static const char *acc_name(int acc)
{
	return acc == O_RDONLY ? "ro" : acc == O_WRONLY ? "wo" : "rw";
}

/* ------------------------------------------------------------- arguments */

/*
 * Where an ioctl's argument lives: the normal page; a bad pointer; a
 * read-only page (the module cannot write its output there); or a mapped
 * region (the module's own memory).
 */
enum argm { A_OK, A_FAULT, A_RO, A_REGION };

struct argp {
	enum argm	m;
	void		*p;
	const char	*what;
};

static unsigned char *arena;		/* a page, then a PROT_NONE page */
static unsigned char *ro_page, *ro_page_w;	/* one page: read-only view, writable view */

static void arg_pick(struct argp *a, size_t len, bool ro_ok)
{
	unsigned int k = (unsigned int)below(100);
	int i;

	a->m = A_OK;
	a->p = arena;
	a->what = "";
	if (k < 4) {
		a->m = A_FAULT;
		switch (below(5)) {
		case 0:
			a->p = NULL;
			a->what = "NULL:";
			break;
		case 1:
			a->p = (void *)(uintptr_t)0xffff888000000000ULL;
			a->what = "kernel:";
			break;
		case 2:
			a->p = arena + g.pg - len / 2;
			a->what = "straddling:";
			break;
		case 3:
			a->p = arena + g.pg;
			a->what = "PROT_NONE:";
			break;
		default:
			a->p = (void *)(uintptr_t)-8;
			a->what = "-8:";
			break;
		}
	} else if (k < 10 && ro_ok) {
		a->m = A_RO;
		a->p = ro_page;
		a->what = "readonly:";
	} else if (k < 16 && !g.is_wild && !g.nwild && !g.wild_running) {
		i = PICK(MAX_PIECES, g.piece[__i].addr && (g.piece[__i].prot & PROT_WRITE) &&
			 g.piece[__i].len >= len + 8);
		if (i >= 0) {
			a->m = A_REGION;
			a->p = g.piece[i].addr + 8 * below((g.piece[i].len - len) / 8);
			a->what = "in-region:";
			mark_dirty(g.piece[i].inst,
				   g.piece[i].off + (__u64)((unsigned char *)a->p - g.piece[i].addr),
				   len);
		}
	}
}

static void arg_set(struct argp *a, const void *src, size_t len)
{
	if (a->m == A_OK || a->m == A_REGION)
		memcpy(a->p, src, len);
	else if (a->m == A_RO)
		memcpy(ro_page_w, src, len);
}

/* The argument after the call, if this process can read it back. */
static bool arg_get(const struct argp *a, void *dst, size_t len)
{
	if (a->m != A_OK && a->m != A_REGION)
		return false;
	memcpy(dst, a->p, len);
	return true;
}

/*
 * Add the argument's own errors: a bad pointer is all the module can see
 * (EFAULT, or EPROTO before the handshake); a read-only one fails the
 * copy out (only used where the call would otherwise succeed).
 */
static void arg_expect(struct expect *e, const struct argp *a, bool out, enum tri eproto)
{
	if (a->m == A_FAULT) {
		ex_reset(e);
		ex_add(e, EFAULT, YES);
	} else if (a->m == A_RO && out) {
		ex_add(e, EFAULT, YES);
	}
	ex_add(e, EPROTO, eproto);
}

/*
 * Whether a file opened with @acc may issue @cmd (main.c, ioc_access()):
 * reading to bind, reading and writing to create, nothing more than the
 * binding for CHAN_FD, writing for every other change.
 */
static bool acc_allows(int acc, unsigned long cmd)
{
	switch (cmd) {
	case DMXP_IOC_VERSION:
	case DMXP_IOC_CHAN_FD:
		return true;
	case DMXP_IOC_REGION_ATTACH:
		return acc != O_WRONLY;
	case DMXP_IOC_REGION_CREATE:
		return acc == O_RDWR;
	default:
		return acc != O_RDONLY;
	}
}

/*
 * The errors of the handshake and the file's open mode, which come
 * before the argument is looked at, and then the argument's own: EPROTO
 * before the handshake, then EBADF when the open mode does not allow the
 * command, then whatever @e holds.  A wild child cannot know whether the
 * parent did the handshake on a file they share meanwhile.
 */
static void ioc_expect(struct expect *e, const struct argp *a, bool out, const struct mfile *f,
		       unsigned long cmd)
{
	bool denied = !acc_allows(f->acc, cmd);

	if (f->versioned || g.is_wild) {
		if (denied) {
			ex_reset(e);
			ex_add(e, EBADF, YES);
			ex_add(e, EPROTO, f->versioned ? NO : MAYBE);
			return;
		}
		arg_expect(e, a, out, f->versioned ? NO : MAYBE);
		return;
	}
	ex_reset(e);
	ex_add(e, EPROTO, YES);
}

/* A region name: a slot (>= 0), NAME_NX (valid, never created) or NAME_BAD. */
#define NAME_NX		(-1)
#define NAME_BAD	(-2)

static int gen_name(char *name, bool may_nx, bool sane)
{
	static const char *const bad[] = {
		"", ".", "..", "a/b", "a b", "tab\t", "nl\n", "caf\xe9", "\x80", "semi;colon",
		"star*", "~tilde", "q?",
	};
	int slot;

	memset(name, 0, DMXP_NAME_MAX);
	if (sane || pct(80)) {
		slot = (int)below(NSLOTS);
		if (g.is_wild && slot == g.default_slot)
			slot = 0;	/* attaching to "default" may create it */
		memcpy(name, g.name[slot], strlen(g.name[slot]));
		return slot;
	}
	if (may_nx && pct(40)) {
		memcpy(name, g.nx_name, strlen(g.nx_name));
		return NAME_NX;
	}
	switch (below(4)) {
	case 0:		/* 32 characters, no NUL */
		memset(name, 'n', DMXP_NAME_MAX);
		break;
	case 1:		/* a valid name with bytes after its NUL */
		memcpy(name, g.name[0], strlen(g.name[0]));
		name[DMXP_NAME_MAX - 1 - below(4)] = (char)(1 + below(255));
		break;
	case 2:		/* one bad byte in a valid name */
		memcpy(name, g.name[1], strlen(g.name[1]));
		name[below(strlen(g.name[1]))] = "/ \n:\x01\xff*%"[below(8)];
		break;
	default:
		strcpy(name, bad[below(sizeof(bad) / sizeof(bad[0]))]);
		break;
	}
	return NAME_BAD;
}

static const char *name_str(const char *name)
{
	static char buf[4 * DMXP_NAME_MAX + 1];
	size_t i, n = 0;

	for (i = 0; i < DMXP_NAME_MAX && name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x21 && c < 0x7f && c != '\\')
			buf[n++] = (char)c;
		else
			n += sprintf(buf + n, "\\x%02x", c);
	}
	buf[n] = '\0';
	if (i < DMXP_NAME_MAX - 1 && name[DMXP_NAME_MAX - 1])
		strcat(buf, "\\0...");
	return buf;
}

static __u64 page_align(__u64 n)
{
	return (n + g.pg - 1) & ~((__u64)g.pg - 1);
}

/* A region size; *@ok tells whether the module takes it. */
static __u64 gen_size(bool sane, bool *ok)
{
	/* Around the smallest with a claim table too. */
	static const __u64 small[] = {
		MIN_SIZE, 102400, 131072, 131073, CLAIMS_MIN_SIZE, 200000, 262144, 524288,
		1 << 20, 2 << 20, 4 << 20,
	};
	__u64 s;

	*ok = true;
	if (sane || pct(85)) {
		switch (below(12)) {
		case 0:
			return 0;		/* the default size */
		case 1:
			s = MIN_SIZE + below(2 << 20);
			return s;
		case 2:
			if (g.max_region_size <= g.budget / 4)
				return g.max_region_size;
			return MIN_SIZE;
		default:
			return small[below(sizeof(small) / sizeof(small[0]))];
		}
	}
	*ok = false;
	switch (below(8)) {
	case 0:
		return MIN_SIZE - 1;
	case 1:
		return DMXP_HEADER_SIZE;
	case 2:
		return 1 + below(4096);
	case 3:
		return g.max_region_size + 1;
	case 4:
		return g.max_region_size + g.pg;
	case 5:
		return ~0ULL;
	case 6:
		return 1ULL << 63;
	default:
		return 1ULL << (40 + below(20));
	}
}

static __u32 gen_mode(bool sane)
{
	static const __u32 good[] = { 0600, 0660, 0666, 0, 0644, 0400, 0200, 0606 };
	static const __u32 bad[] = { 0700, 0777, 01600, 02600, 04600, 0100600, 0xffffffff, 0667 };

	if (sane || pct(90))
		return good[below(sizeof(good) / sizeof(good[0]))];
	return bad[below(sizeof(bad) / sizeof(bad[0]))];
}

/* A channel the next gen_chan() should pick, or -1. */
static int want_ci = -1;

/* A channel id: its index in chan_ids, or -1 for an invalid id. */
static int gen_chan(__u32 *id, bool sane)
{
	if (want_ci >= 0) {
		int k = want_ci;

		want_ci = -1;
		*id = chan_ids[k];
		return k;
	}
	if (sane || pct(88)) {
		int k = (int)below(NCH);

		*id = chan_ids[k];
		return k;
	}
	switch (below(4)) {
	case 0:
		*id = DMXP_MAX_CHANNELS;
		break;
	case 1:
		*id = DMXP_MAX_CHANNELS + 1 + (__u32)below(1000000);
		break;
	case 2:
		*id = 0x80000000U;
		break;
	default:
		*id = ~0U;
		break;
	}
	return -1;
}

static __u64 gen_cap(bool sane, bool *ok)
{
	__u64 c;

	*ok = true;
	if (sane || pct(85)) {
		if (pct(90))
			return 2ULL << below(6);	/* 2..64 */
		if (pct(70))
			return 2ULL << below(13);	/* up to 8192 */
		return DMXP_CAPACITY_MAX;
	}
	*ok = false;
	switch (below(7)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		c = 3 + 2 * below(100);
		return c;
	case 3:
		return DMXP_CAPACITY_MAX * 2;
	case 4:
		return DMXP_CAPACITY_MAX + 1;
	case 5:
		return 1ULL << 63;
	default:
		return ~0ULL;
	}
}

/* --------------------------------------------------------------- ioctls */

static bool dev_state(int di, struct mfile **f, struct minst **in)
{
	*f = file(g.devfd[di].file);
	*in = (*f)->inst >= 0 ? inst((*f)->inst) : NULL;
	return *in != NULL;
}

static void do_version(int di, bool sane)
{
	struct mfile *f = file(g.devfd[di].file);
	struct dmxp_ioc_version v = { .version = DMXP_VERSION }, out;
	struct expect e;
	struct argp a;
	long ret;

	if (!sane) {
		if (pct(8)) {
			static const __u32 vers[] = {
				0, DMXP_VERSION + 1, ~0U, 0x10001, 0xffff0001, 0x10002,
			};

			v.version = vers[below(6)];
		}
		if (pct(5))
			v.features = pct(50) ? garbage32() : DMXP_FEAT_KNOWN;
		if (pct(4))
			v.max_region_size = garbage64();
		if (pct(4))
			v.reserved[below(2)] = garbage64();
	}
	ex_reset(&e);
	/* Any minor of our major; features asked for must all be known. */
	ex_add(&e, EINVAL, tri_of(v.max_region_size || v.reserved[0] || v.reserved[1]));
	ex_add(&e, EPROTONOSUPPORT, tri_of(DMXP_ABI_MAJOR_OF(v.version) != DMXP_ABI_MAJOR));
	ex_add(&e, EOPNOTSUPP, tri_of(v.features & ~DMXP_FEAT_KNOWN));
	arg_pick(&a, sizeof(v), !sane && ex_clean(&e));
	arg_set(&a, &v, sizeof(v));
	arg_expect(&e, &a, true, NO);
	call("ioctl(%d, VERSION, %s{version=%u features=%#x max=%#llx rsv=%#llx,%#llx})",
	     g.devfd[di].fd, a.what, v.version, v.features,
	     (unsigned long long)v.max_region_size, (unsigned long long)v.reserved[0],
	     (unsigned long long)v.reserved[1]);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_VERSION, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret == 0) {
		f->versioned = true;
		if (arg_get(&a, &out, sizeof(out)) &&
		    (out.version != DMXP_ABI_VERSION(DMXP_ABI_MAJOR, DMXP_ABI_MINOR) ||
		     out.features != DMXP_FEAT_KNOWN ||
		     out.max_region_size != g.max_region_size || out.reserved[0] ||
		     out.reserved[1]))
			fail("VERSION returned version %u features %#x max_region_size %llu",
			     out.version, out.features, (unsigned long long)out.max_region_size);
	} else if ((ret == -EPROTONOSUPPORT || ret == -EOPNOTSUPP) &&
		   arg_get(&a, &out, sizeof(out)) &&
		   out.version != DMXP_ABI_VERSION(DMXP_ABI_MAJOR, DMXP_ABI_MINOR)) {
		fail("VERSION refused version %u but returned version %u", v.version,
		     out.version);
	}
}

static const char *region_cmd_name(unsigned long cmd)
{
	return cmd == DMXP_IOC_REGION_CREATE ? "REGION_CREATE" :
	       cmd == DMXP_IOC_REGION_ATTACH ? "REGION_ATTACH" : "REGION_DESTROY";
}

static bool do_region(int di, unsigned long cmd, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_region rq, out;
	bool bound = dev_state(di, &f, &in), size_ok = true, name_ok, exists, creates, bad_in;
	bool create = cmd == DMXP_IOC_REGION_CREATE, attach = cmd == DMXP_IOC_REGION_ATTACH;
	bool rw = f->acc == O_RDWR;
	int slot, ex_i, ni;
	__u64 asize = 0;
	struct expect e;
	struct argp a;
	long ret;

	memset(&rq, 0, sizeof(rq));
	memset(&out, 0, sizeof(out));
	slot = gen_name(rq.name, !create, sane);
	name_ok = slot != NAME_BAD;
	ex_i = slot >= 0 ? named_inst(slot) : -1;
	exists = ex_i >= 0;
	if (create) {
		rq.size = gen_size(sane, &size_ok);
		rq.mode = gen_mode(sane);
		rq.flags = DMXP_REGION_CREATE | (pct(30) ? DMXP_REGION_EXCL : 0);
		if (!sane && pct(6)) {
			static const __u32 fl[] = {
				0, DMXP_REGION_EXCL, DMXP_REGION_CREATE | 4, 1U << 31,
				DMXP_REGION_CREATE | 0x100,
			};

			rq.flags = fl[below(5)];
		}
		asize = page_align(rq.size ? rq.size : g.default_size);
	} else if (!sane && pct(6)) {
		switch (below(3)) {
		case 0:
			rq.size = garbage64();
			break;
		case 1:
			rq.mode = 0600;
			break;
		default:
			rq.flags = DMXP_REGION_CREATE;
			break;
		}
	}
	if (!sane && pct(3))
		rq.uid = garbage32();
	if (!sane && pct(3))
		rq.gid = garbage32();
	if (!sane && pct(3)) {
		switch (below(3)) {
		case 0:
			rq.lease = garbage32();		/* out only */
			break;
		case 1:
			rq.__pad = garbage32();
			break;
		default:
			rq.reserved = garbage64();
			break;
		}
	}
	bad_in = rq.uid || rq.gid || rq.lease || rq.__pad || rq.reserved;

	/*
	 * Whether a valid call would create a region: only a file open for
	 * reading and writing creates one, "default" included.
	 */
	if (create)
		creates = !exists && name_ok && size_ok && !(rq.mode & ~0666) && rw;
	else
		creates = attach && !exists && slot >= 0 && slot == g.default_slot && rw;
	if (attach && creates)
		asize = page_align(g.default_size);
	if (creates && !fits_budget(asize)) {
		if (sane)
			return false;
		if (create) {
			rq.size = 1;	/* keep within the budget: an invalid size */
			size_ok = false;
		} else {
			return false;
		}
	}
	if (g.is_wild && creates)
		return false;

	ex_reset(&e);
	if (create) {
		ex_add(&e, EINVAL, tri_of(!name_ok || !size_ok || rq.mode & ~0666 ||
					  rq.flags & ~DMXP_REGION_FLAGS_KNOWN ||
					  !(rq.flags & DMXP_REGION_CREATE) || bad_in));
		ex_add(&e, EBUSY, st(bound));
		ex_add(&e, EEXIST, st(exists && rq.flags & DMXP_REGION_EXCL));
		ex_add(&e, ENOSPC, st(!exists && g.total_before + live_bytes() + asize >
				      g.max_total_size));
		ex_add(&e, ENOMEM, exists && !g.is_wild ? NO : MAYBE);
	} else {
		ex_add(&e, EINVAL, tri_of(!name_ok || rq.size || rq.mode || rq.flags || bad_in));
		if (attach) {
			/* A read-only file never creates "default". */
			bool dflt = slot >= 0 && slot == g.default_slot && rw;

			ex_add(&e, ENOENT, st(!exists && !dflt));
			ex_add(&e, EBUSY, st(bound));
			if (dflt) {
				ex_add(&e, ENOSPC, st(!exists && g.total_before + live_bytes() +
						      asize > g.max_total_size));
				ex_add(&e, ENOMEM, exists && !g.is_wild ? NO : MAYBE);
			}
		} else {
			ex_add(&e, ENOENT, st(!exists));
		}
	}
	arg_pick(&a, sizeof(rq), !sane && !g.is_wild && !(cmd == DMXP_IOC_REGION_DESTROY) &&
		 ex_clean(&e) && f->versioned && acc_allows(f->acc, cmd));
	arg_set(&a, &rq, sizeof(rq));
	ioc_expect(&e, &a, cmd != DMXP_IOC_REGION_DESTROY, f, cmd);
	call("ioctl(%d %s%s, %s, %s{name=\"%s\" size=%#llx mode=%#o flags=%#x uid=%u gid=%u lease=%u pad=%#x rsv=%#llx})",
	     g.devfd[di].fd, acc_name(f->acc), bound ? " bound" : "", region_cmd_name(cmd),
	     a.what, name_str(rq.name), (unsigned long long)rq.size, rq.mode, rq.flags,
	     rq.uid, rq.gid, rq.lease, rq.__pad, (unsigned long long)rq.reserved);
	ret = xioctl(g.devfd[di].fd, cmd, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret == 0 && cmd != DMXP_IOC_REGION_DESTROY && arg_get(&a, &out, sizeof(out)) &&
	    (!out.lease || out.__pad || out.reserved))
		fail("%s returned lease %u pad %#x reserved %#llx", region_cmd_name(cmd),
		     out.lease, out.__pad, (unsigned long long)out.reserved);
	if (g.is_wild) {
		/* Its own file: attached to a region the parent made. */
		if (ret == 0 && attach && exists) {
			f->inst = ex_i;
			f->lease = out.lease;
		}
		return true;
	}

	if (cmd == DMXP_IOC_REGION_DESTROY) {
		if (ret == 0) {
			inst(ex_i)->named = false;
			regs_drop(ex_i, -1, -1);
			gc();
		}
		return true;
	}
	/* A read-only result buffer fails before anything is created or bound. */
	if (ret != 0)
		return true;
	/* Created or attached, and bound. */
	if (exists) {
		ni = ex_i;
	} else {
		ni = inst_new(slot, asize, create ? rq.mode : g.default_mode);
		if (ni < 0)
			fail("model: no room for a region");
	}
	if (ret == 0) {
		f->inst = ni;
		arg_get(&a, &out, sizeof(out));
		if (a.m != A_RO && (out.size != inst(ni)->size || out.mode != inst(ni)->mode ||
				    out.uid != geteuid() || out.gid != getegid() ||
				    memcmp(out.name, rq.name, sizeof(rq.name))))
			fail("%s returned size %llu mode %#o uid %u gid %u; expected size %llu mode %#o",
			     region_cmd_name(cmd), (unsigned long long)out.size, out.mode,
			     out.uid, out.gid, (unsigned long long)inst(ni)->size,
			     inst(ni)->mode);
		/* Each file attached gets a new lease: they only grow. */
		if (a.m != A_RO && out.lease <= inst(ni)->last_lease)
			fail("%s returned lease %u, but lease %u was given before",
			     region_cmd_name(cmd), out.lease, inst(ni)->last_lease);
		f->lease = out.lease;
		inst(ni)->last_lease = out.lease;
	}
	gc();
	return true;
}

/*
 * alloc_cursor after a channel was created: the end of the highest band
 * of the channels there are (it stays where it is when one goes).
 */
static void cursor_update(struct minst *in)
{
	__u64 hw = 0;
	int i;

	for (i = 0; i < NCH; i++) {
		if (!in->ch[i].present)
			continue;
		if (!in->ch[i].band_known) {
			in->cursor_known = false;
			return;
		}
		if (in->ch[i].band + in->ch[i].cap * DMXP_SLOT_SIZE > hw)
			hw = in->ch[i].band + in->ch[i].cap * DMXP_SLOT_SIZE;
	}
	in->cursor = hw;
	in->cursor_known = true;
}

/* The errors of CHAN_DESTROY, NOTIFY and CHAN_FD about the channel. */
static void chan_common(struct expect *e, struct minst *in, int ci)
{
	bool bound = in != NULL;

	ex_add(e, ENXIO, st(!bound));
	ex_add(e, EIDRM, st(bound && !in->named));
	ex_add(e, ENOENT, st(bound && ci >= 0 && !in->ch[ci].present));
}

static void do_chan_create(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	bool bound = dev_state(di, &f, &in), cap_ok;
	struct dmxp_ioc_chan c, out;
	__u64 off = 0;
	enum tri nospc = NO;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	memset(&c, 0, sizeof(c));
	ci = gen_chan(&c.id, sane);
	c.capacity = gen_cap(sane, &cap_ok);
	if (!sane && pct(3))
		c.flags = garbage32();
	if (!sane && pct(3))
		c.band_offset = garbage64();
	if (!sane && pct(3))
		c.reserved[below(2)] = garbage64();
	if (bound && cap_ok && ci >= 0)
		nospc = band_predict(in, c.capacity, &off);

	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(c.flags || c.band_offset || c.reserved[0] || c.reserved[1] ||
				  ci < 0 || !cap_ok));
	ex_add(&e, ENXIO, st(!bound));
	ex_add(&e, EIDRM, st(bound && !in->named));
	ex_add(&e, EEXIST, st(bound && ci >= 0 && in->ch[ci].present));
	ex_add(&e, ENOSPC, g.is_wild ? MAYBE : nospc);
	arg_pick(&a, sizeof(c), !sane && !g.is_wild && ex_clean(&e) && f->versioned &&
		 acc_allows(f->acc, DMXP_IOC_CHAN_CREATE));
	arg_set(&a, &c, sizeof(c));
	ioc_expect(&e, &a, true, f, DMXP_IOC_CHAN_CREATE);
	call("ioctl(%d, CHAN_CREATE, %s{id=%u cap=%llu flags=%#x band=%#llx rsv=%#llx,%#llx})",
	     g.devfd[di].fd, a.what, c.id, (unsigned long long)c.capacity, c.flags,
	     (unsigned long long)c.band_offset, (unsigned long long)c.reserved[0],
	     (unsigned long long)c.reserved[1]);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_CREATE, a.p);
	result_ret(ret);
	verdict(&e, ret);
	/* A read-only result buffer fails before the channel is created. */
	if (g.is_wild || ret != 0)
		return;

	in->ch[ci].present = true;
	in->ch[ci].cap = c.capacity;
	in->ch[ci].epoch++;
	in->ch[ci].repaired = 0;
	in->ch[ci].tombstoned = 0;
	in->ch[ci].seen = 0;
	in->ch[ci].band_known = nospc == NO;
	in->ch[ci].band = off;
	cursor_update(in);
	if (ret != 0 || !arg_get(&a, &out, sizeof(out)))
		return;
	if (out.id != c.id || out.capacity != c.capacity || out.flags || out.reserved[0] ||
	    out.reserved[1])
		fail("CHAN_CREATE changed its input: id %u capacity %llu",
		     out.id, (unsigned long long)out.capacity);
	if (nospc == NO && out.band_offset != off)
		fail("CHAN_CREATE put the ring at %#llx; first fit is %#llx",
		     (unsigned long long)out.band_offset, (unsigned long long)off);
	if (out.band_offset % DMXP_BAND_ALIGN || out.band_offset < bands_start(in->size) ||
	    out.band_offset + c.capacity * DMXP_SLOT_SIZE > in->size)
		fail("CHAN_CREATE put the ring at %#llx, outside the region or in its header or claim table",
		     (unsigned long long)out.band_offset);
	in->ch[ci].band = out.band_offset;
	in->ch[ci].band_known = true;
	cursor_update(in);
}

static void do_chan_destroy(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_chan c;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	dev_state(di, &f, &in);
	memset(&c, 0, sizeof(c));
	ci = gen_chan(&c.id, sane);
	if (!sane && pct(4))
		c.capacity = 2ULL << below(5);
	if (!sane && pct(3))
		c.flags = garbage32();
	if (!sane && pct(3))
		c.band_offset = garbage64();
	if (!sane && pct(3))
		c.reserved[below(2)] = garbage64();
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(c.flags || c.band_offset || c.reserved[0] || c.reserved[1] ||
				  c.capacity || ci < 0));
	chan_common(&e, in, ci);
	arg_pick(&a, sizeof(c), false);
	arg_set(&a, &c, sizeof(c));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_DESTROY);
	call("ioctl(%d, CHAN_DESTROY, %s{id=%u cap=%llu flags=%#x band=%#llx rsv=%#llx,%#llx})",
	     g.devfd[di].fd, a.what, c.id, (unsigned long long)c.capacity, c.flags,
	     (unsigned long long)c.band_offset, (unsigned long long)c.reserved[0],
	     (unsigned long long)c.reserved[1]);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_DESTROY, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret == 0 && !g.is_wild) {
		in->ch[ci].present = false;
		in->ch[ci].band_known = false;
		in->ch[ci].epoch++;
		regs_drop(f->inst, ci, -1);
	}
}

static void do_notify(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_notify n;
	struct expect e;
	struct argp a;
	int ci;
	long ret;

	dev_state(di, &f, &in);
	memset(&n, 0, sizeof(n));
	ci = gen_chan(&n.id, sane);
	n.flags = 1 + (__u32)below(3);
	if (!sane && pct(8))
		n.flags = pct(50) ? 0 : garbage32() | 4;
	if (!sane && pct(3))
		n.reserved = garbage64();
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || !n.flags || n.flags & ~DMXP_NOTIFY_KNOWN ||
				  n.reserved));
	chan_common(&e, in, ci);
	arg_pick(&a, sizeof(n), false);
	arg_set(&a, &n, sizeof(n));
	ioc_expect(&e, &a, false, f, DMXP_IOC_NOTIFY);
	call("ioctl(%d, NOTIFY, %s{id=%u flags=%#x rsv=%#llx})", g.devfd[di].fd, a.what,
	     n.id, n.flags, (unsigned long long)n.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_NOTIFY, a.p);
	result_ret(ret);
	verdict(&e, ret);
}

static void do_chan_fd(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	struct dmxp_ioc_chan_fd cf;
	struct expect e;
	struct argp a;
	int ci, fl, fdfl, k, acc;
	long ret;

	dev_state(di, &f, &in);
	memset(&cf, 0, sizeof(cf));
	ci = gen_chan(&cf.id, sane);
	cf.flags = pct(50) ? DMXP_CHAN_FD_NONBLOCK : 0;
	if (!sane && pct(5))
		cf.flags = garbage32() | 2;
	if (!sane && pct(3))
		cf.reserved = garbage64();
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || cf.flags & ~DMXP_CHAN_FD_KNOWN || cf.reserved));
	chan_common(&e, in, ci);
	ex_add(&e, EMFILE, MAYBE);
	ex_add(&e, ENOMEM, MAYBE);
	arg_pick(&a, sizeof(cf), false);
	arg_set(&a, &cf, sizeof(cf));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_FD);
	call("ioctl(%d, CHAN_FD, %s{id=%u flags=%#x rsv=%#llx})", g.devfd[di].fd, a.what,
	     cf.id, cf.flags, (unsigned long long)cf.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_FD, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret < 0)
		return;
	/* A read-only binding's channel fd is open neither for reading nor writing. */
	acc = f->acc == O_RDWR ? O_RDWR : O_ACCMODE;
	fl = fcntl((int)ret, F_GETFL);
	fdfl = fcntl((int)ret, F_GETFD);
	if (fl < 0 || fdfl < 0 || !(fdfl & FD_CLOEXEC) || (fl & O_ACCMODE) != acc ||
	    !!(fl & O_NONBLOCK) != !!(cf.flags & DMXP_CHAN_FD_NONBLOCK))
		fail("channel fd %ld of a %s binding has flags %#x, fd flags %#x", ret,
		     acc_name(f->acc), fl, fdfl);
	k = chfd_slot();
	if (k < 0 || !in) {
		close((int)ret);
		return;
	}
	g.chfd[k].fd = (int)ret;
	g.chfd[k].inst = f->inst;
	g.chfd[k].ch = ci;
	g.chfd[k].epoch = in->ch[ci].epoch;
	g.chfd[k].nonblock = cf.flags & DMXP_CHAN_FD_NONBLOCK;
	g.chfd[k].poll_only = acc != O_RDWR;
	g.chfd[k].in_epoll = false;
	g.chfd[k].inherited = false;
}

static int evfd_new(void)
{
	int i = PICK(MAX_EVFDS, g.evfd[__i].fd < 0), fd;

	if (i < 0)
		return -1;
	call("eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)");
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("eventfd: %s", strerror(errno));
	g.evfd[i].fd = fd;
	g.evfd[i].ev = g.next_ev++;
	return i;
}

static void do_eventfd(int di, bool sane)
{
	struct mfile *f;
	struct minst *in;
	bool bound = dev_state(di, &f, &in), unreg, present, notev = false, badfd = false;
	struct dmxp_ioc_eventfd ev;
	long evid = -1;
	struct expect e;
	struct argp a;
	int ci, k, r, n = 0;
	long ret;

	memset(&ev, 0, sizeof(ev));
	ci = gen_chan(&ev.id, sane);
	present = bound && ci >= 0 && in->ch[ci].present;
	k = pick_evfd();
	if (k < 0 || pct(10))
		k = evfd_new();
	if (k < 0)
		return;
	ev.fd = g.evfd[k].fd;
	evid = g.evfd[k].ev;
	r = present ? reg_find(f->inst, ci, g.devfd[di].file, evid) : -1;
	unreg = r >= 0 ? pct(60) : pct(10);
	if (!sane && pct(10)) {
		int kind = -1;

		switch (below(3)) {
		case 0:
			ev.fd = -1 - (int)below(3);
			badfd = true;
			break;
		case 1:
			ev.fd = 4000 + (int)below(1000);	/* never open */
			badfd = true;
			break;
		default:
			kind = (int)below(3);
			kind = kind == K_EV ? K_EPOLL : kind;
			ev.fd = pick_any_fd(&kind);
			if (kind == K_EV)
				ev.fd = g.epfd;
			notev = true;
			break;
		}
	}
	ev.flags = unreg ? DMXP_EVENTFD_UNREGISTER : 0;
	if (!sane && pct(4))
		ev.flags = garbage32() | 2;
	if (!sane && pct(3))
		ev.__pad = garbage32();
	if (!sane && pct(3))
		ev.reserved = garbage64();
	if (g.sh.nreg >= MAX_REGS - 1 && !unreg)
		return;
	if (present)
		n = reg_count(f->inst, ci);

	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(ci < 0 || ev.flags & ~DMXP_EVENTFD_KNOWN || ev.__pad ||
				  ev.reserved || notev));
	ex_add(&e, EBADF, tri_of(badfd));
	ex_add(&e, ENXIO, st(!bound));
	ex_add(&e, EIDRM, st(bound && !in->named));
	if (!notev && !badfd) {
		r = present ? reg_find(f->inst, ci, g.devfd[di].file, evid) : -1;
		ex_add(&e, ENOENT, st(bound && ci >= 0 && (!present || (unreg && r < 0))));
		ex_add(&e, EEXIST, st(present && !unreg && r >= 0));
		if (present && !unreg && r < 0)
			ex_add(&e, ENOSPC, regs_loose() ? MAYBE : tri_of(n >= DMXP_EVENTFD_MAX));
	} else {
		ex_add(&e, ENOENT, st(bound && ci >= 0 && !present));
	}
	if (!unreg)
		ex_add(&e, ENOMEM, MAYBE);
	arg_pick(&a, sizeof(ev), false);
	arg_set(&a, &ev, sizeof(ev));
	ioc_expect(&e, &a, false, f, DMXP_IOC_CHAN_EVENTFD);
	call("ioctl(%d, CHAN_EVENTFD, %s{id=%u flags=%#x fd=%d pad=%#x rsv=%#llx})",
	     g.devfd[di].fd, a.what, ev.id, ev.flags, ev.fd, ev.__pad,
	     (unsigned long long)ev.reserved);
	ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, a.p);
	result_ret(ret);
	verdict(&e, ret);
	if (ret != 0 || (g.is_wild && file(g.devfd[di].file)->inherited))
		return;
	r = reg_find(f->inst, ci, g.devfd[di].file, evid);
	if (unreg) {
		if (r >= 0)
			g.sh.reg[r] = g.sh.reg[--g.sh.nreg];
	} else {
		g.sh.reg[g.sh.nreg].inst = f->inst;
		g.sh.reg[g.sh.nreg].ch = ci;
		g.sh.reg[g.sh.nreg].file = g.devfd[di].file;
		g.sh.reg[g.sh.nreg].ev = evid;
		g.sh.nreg++;
	}
}

/*
 * Fill a channel's eventfd list up to DMXP_EVENTFD_MAX through one file,
 * check that the next registration gets ENOSPC, and take them all off.
 */
static bool op_eventfd_burst(void)
{
	int di = PICK(MAX_DEVFDS, devfd_mine(__i) && file(g.devfd[__i].file)->versioned &&
		      file(g.devfd[__i].file)->acc == O_RDWR &&
		      file(g.devfd[__i].file)->inst >= 0 &&
		      inst(file(g.devfd[__i].file)->inst)->named);
	int fds[DMXP_EVENTFD_MAX + 1], nfd = 0, ci, n, i, want;
	struct dmxp_ioc_eventfd ev;
	struct mfile *f;
	struct minst *in;
	struct expect e;
	long ret;

	if (di < 0 || regs_loose() || g.sh.nreg + DMXP_EVENTFD_MAX + 1 >= MAX_REGS)
		return false;
	dev_state(di, &f, &in);
	ci = PICK(NCH, in->ch[__i].present);
	if (ci < 0)
		return false;
	n = reg_count(f->inst, ci);
	want = DMXP_EVENTFD_MAX - n;
	for (i = 0; i <= want; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.id = chan_ids[ci];
		ev.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (ev.fd < 0)
			fail("eventfd: %s", strerror(errno));
		fds[nfd++] = ev.fd;
		ex_reset(&e);
		ex_add(&e, ENOSPC, tri_of(i == want));
		ex_add(&e, ENOMEM, MAYBE);
		call("ioctl(%d, CHAN_EVENTFD, {id=%u fd=%d}) [%d registered]", g.devfd[di].fd,
		     ev.id, ev.fd, n + i);
		ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, &ev);
		result_ret(ret);
		verdict(&e, ret);
	}
	for (i = 0; i < want; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.id = chan_ids[ci];
		ev.fd = fds[i];
		ev.flags = DMXP_EVENTFD_UNREGISTER;
		ex_reset(&e);
		call("ioctl(%d, CHAN_EVENTFD, {id=%u fd=%d UNREGISTER})", g.devfd[di].fd, ev.id,
		     ev.fd);
		ret = xioctl(g.devfd[di].fd, DMXP_IOC_CHAN_EVENTFD, &ev);
		result_ret(ret);
		verdict(&e, ret);
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return true;
}

/* ----------------------------------------------------------- the dev fds */

static bool op_open(void)
{
	static const int accs[] = { O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_RDONLY,
				    O_WRONLY };
	int acc = accs[below(8)], i = devfd_slot(), fi, fd;

	if (i < 0)
		return false;
	fi = file_new(acc);
	if (fi < 0)
		return false;
	call("open(%s, %s)", DMXP_DEVICE, acc_name(acc));
	fd = open(DMXP_DEVICE, acc | O_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	g.devfd[i].fd = fd;
	g.devfd[i].file = fi;
	file(fi)->nfds = 1;
	return true;
}

static bool op_dup(void)
{
	int di = pick_devfd(), i = devfd_slot(), fd;

	if (di < 0 || i < 0)
		return false;
	call("dup(%d)", g.devfd[di].fd);
	fd = fcntl(g.devfd[di].fd, F_DUPFD_CLOEXEC, 3);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("dup: %s", strerror(errno));
	g.devfd[i].fd = fd;
	g.devfd[i].file = g.devfd[di].file;
	file(g.devfd[i].file)->nfds++;
	return true;
}

static bool op_close_dev(void)
{
	int di = pick_devfd(), ret;

	if (di < 0)
		return false;
	call("close(%d dev %s)", g.devfd[di].fd, acc_name(file(g.devfd[di].file)->acc));
	ret = close(g.devfd[di].fd);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("close: %s", strerror(errno));
	file(g.devfd[di].file)->nfds--;
	g.devfd[di].fd = -1;
	gc();
	return true;
}

static bool op_ioctl(void)
{
	int di = pick_devfd();
	struct mfile *f;
	struct minst *in;
	bool mine;

	if (di < 0)
		return false;
	mine = devfd_mine(di);
	dev_state(di, &f, &in);
	switch (below(20)) {
	case 0:
	case 1:
		if (!mine && !f->versioned)
			return false;
		do_version(di, false);
		return true;
	case 2:
	case 3:
	case 4:
		/* A wild child's view of which regions exist may be stale. */
		if (g.is_wild)
			return false;
		return do_region(di, DMXP_IOC_REGION_CREATE, false);
	case 5:
	case 6:
		if (!mine)
			return false;
		return do_region(di, DMXP_IOC_REGION_ATTACH, false);
	case 7:
		if (g.is_wild)
			return false;
		return do_region(di, DMXP_IOC_REGION_DESTROY, false);
	case 8:
	case 9:
	case 10:
		if (g.is_wild)
			return false;
		do_chan_create(di, false);
		return true;
	case 11:
	case 12:
		if (g.is_wild)
			return false;
		do_chan_destroy(di, false);
		return true;
	case 13:
	case 14:
		do_notify(di, false);
		return true;
	case 15:
	case 16:
		do_chan_fd(di, false);
		return true;
	default:
		if (!mine)
			return false;
		do_eventfd(di, false);
		return true;
	}
}

/* ---------------------------------------------------------------- mmap */

static int piece_add(unsigned char *addr, size_t len, __u64 off, int prot, bool maywrite,
		     int f, int ins)
{
	int i;

	for (i = 0; i < MAX_PIECES; i++) {
		if (g.piece[i].addr)
			continue;
		g.piece[i].addr = addr;
		g.piece[i].len = len;
		g.piece[i].off = off;
		g.piece[i].prot = prot;
		g.piece[i].maywrite = maywrite;
		g.piece[i].file = f;
		g.piece[i].inst = ins;
		return i;
	}
	fail("model: no room for a mapping");
}

/* [a, a + len) is no longer mapped in piece i: what is left of it stays. */
static void piece_cut(int i, unsigned char *a, size_t len)
{
	struct mpiece p = g.piece[i];

	g.piece[i].addr = NULL;
	if (a > p.addr)
		piece_add(p.addr, a - p.addr, p.off, p.prot, p.maywrite, p.file, p.inst);
	if (a + len < p.addr + p.len)
		piece_add(a + len, p.addr + p.len - (a + len), p.off + (a + len - p.addr), p.prot,
			  p.maywrite, p.file, p.inst);
}

/* A page-aligned part of piece i: all, a head, a tail or a middle. */
static void subrange(int i, unsigned char **a, size_t *len, bool may_split)
{
	size_t pages = g.piece[i].len / g.pg, s, n;

	switch (pages < 2 ? 0 : below(may_split ? 4 : 3)) {
	case 0:
		s = 0;
		n = pages;
		break;
	case 1:
		s = 0;
		n = 1 + below(pages - 1);
		break;
	case 2:
		n = 1 + below(pages - 1);
		s = pages - n;
		break;
	default:
		s = 1 + below(pages - 1);
		n = pages - s > 1 ? 1 + below(pages - s - 1) : 1;
		break;
	}
	*a = g.piece[i].addr + s * g.pg;
	*len = n * g.pg;
}

static void *scratch(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap scratch: %s", strerror(errno));
	return p;
}

static const char *prot_str(int prot)
{
	static char buf[40];

	snprintf(buf, sizeof(buf), "%s%s%s%s%s", prot & PROT_READ ? "R" : "",
		 prot & PROT_WRITE ? "W" : "", prot & PROT_EXEC ? "X" : "",
		 prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC) ? "+" : "",
		 prot ? "" : "NONE");
	return buf;
}

#define LEGACY_MAP_MASK	(MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | \
			 MAP_DENYWRITE | MAP_EXECUTABLE | MAP_UNINITIALIZED | \
			 MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | \
			 MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB)

static bool do_mmap(int di, bool sane)
{
	int kind = K_DEV, fd, prot, flags, type, acc = O_RDWR, f = -1, ins = -1, nr = -1, ci;
	struct minst *in = NULL;
	unsigned char *want = NULL, *hint = NULL;
	bool bound = false, fixed = false, noreplace = false;
	__u64 size, len, alen, off = 0;
	struct expect e;
	void *p;
	long ret;

	if (di < 0) {
		kind = pct(85) ? K_DEV : -1;
		fd = pick_any_fd(&kind);
		if (kind == K_DEV)
			di = PICK(MAX_DEVFDS, g.devfd[__i].fd == fd);
		/* A read-only binding's channel fd is open for neither. */
		ci = kind == K_CHAN ? PICK(MAX_CHFDS, g.chfd[__i].fd == fd) : -1;
		if (ci >= 0 && g.chfd[ci].poll_only)
			acc = O_ACCMODE;
	}
	if (kind == K_DEV) {
		struct mfile *mf;

		fd = g.devfd[di].fd;
		bound = dev_state(di, &mf, &in);
		acc = mf->acc;
		f = g.devfd[di].file;
		ins = mf->inst;
	}
	size = in ? in->size : g.pg * (1 + below(64));
	len = size;
	if (!sane && pct(25)) {
		switch (below(9)) {
		case 0:
			len = size - g.pg;
			break;
		case 1:
			len = size + g.pg;
			break;
		case 2:
			len = size - 1 - below(g.pg - 1);	/* rounds up to size */
			break;
		case 3:
			len = g.pg;
			break;
		case 4:
			len = 0;
			break;
		case 5:
			len = page_align(size / 2);
			break;
		case 6:
			len = 1ULL << (44 + below(4));
			break;
		case 7:
			len = ~0ULL - below(g.pg);
			break;
		default:
			len = size + 1;
			break;
		}
	}
	if (!sane && pct(12)) {
		static const __u64 offs[] = { 4096, 8192, 1, 100, 1ULL << 40, 1ULL << 62 };

		off = offs[below(6)];
		if (off == 8192)
			off = size;
	}
	prot = acc == O_RDWR ? PROT_READ | PROT_WRITE : PROT_READ;
	if (!sane) {
		static const int prots[] = {
			PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE,
			PROT_READ, PROT_READ, PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC,
			PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC, PROT_READ | PROT_SEM,
		};

		prot = prots[below(sizeof(prots) / sizeof(prots[0]))];
	}
	flags = MAP_SHARED;
	if (!sane) {
		switch (below(40)) {
		case 0 ... 3:
			flags = MAP_SHARED_VALIDATE;
			break;
		case 4 ... 7:
			flags = MAP_PRIVATE;
			break;
		case 8:
			flags = MAP_SHARED | MAP_POPULATE;
			break;
		case 9:
			flags = MAP_SHARED | MAP_LOCKED;
			break;
		case 10:
			flags = MAP_SHARED | MAP_NORESERVE;
			break;
		case 11:
			flags = MAP_SHARED_VALIDATE | MAP_SYNC;
			break;
		case 12:
			flags = 0;
			break;
		case 13:
			flags = MAP_SHARED | MAP_GROWSDOWN;
			break;
		case 14:
			flags = MAP_SHARED | MAP_HUGETLB;
			break;
		case 15 ... 17:
			fixed = len == size && size <= 64 << 20;
			break;
		case 18:
			nr = pick_piece(0);
			noreplace = nr >= 0;
			break;
		case 19:
			hint = (unsigned char *)(uintptr_t)(0x100000000ULL * (1 + below(0x7000)));
			break;
		default:
			break;
		}
	}
	if (fixed) {
		want = scratch(len);
		flags |= MAP_FIXED;
		hint = want;
	}
	if (noreplace) {
		flags |= MAP_FIXED_NOREPLACE;
		hint = g.piece[nr].addr;
	}

	type = flags & MAP_TYPE;
	alen = page_align(len);
	ex_reset(&e);
	ex_add(&e, EINVAL, tri_of(!len || off % g.pg ||
				  (type != MAP_SHARED && type != MAP_PRIVATE &&
				   type != MAP_SHARED_VALIDATE) ||
				  flags & (MAP_GROWSDOWN | MAP_HUGETLB)));
	ex_add(&e, ENOMEM, len && !alen ? YES : len > (1ULL << 40) ? MAYBE : NO);
	ex_add(&e, EOVERFLOW, off >= (1ULL << 40) ? MAYBE : NO);
	ex_add(&e, EEXIST, tri_of(noreplace));
	ex_add(&e, EOPNOTSUPP, tri_of(type == MAP_SHARED_VALIDATE && flags & ~LEGACY_MAP_MASK &&
				      !noreplace));
	/*
	 * Not open for reading; or PROT_WRITE on a file not open for writing:
	 * the mm refuses a shared mapping, the module a private one too
	 * (after its EINVAL for MAP_PRIVATE).
	 */
	ex_add(&e, EACCES, tri_of(acc == O_WRONLY || acc == O_ACCMODE ||
				  (type != MAP_PRIVATE && prot & PROT_WRITE && acc == O_RDONLY)));
	if (prot & PROT_WRITE && acc == O_RDONLY)
		ex_add(&e, EACCES, MAYBE);
	/* PROT_EXEC: the module refuses it; the anon inodes are noexec. */
	ex_add(&e, EPERM, tri_of(prot & PROT_EXEC));
	if (kind != K_DEV) {
		ex_add(&e, ENODEV, YES);
	} else {
		ex_add(&e, ENXIO, st(!bound));
		ex_add(&e, EIDRM, st(bound && !in->named));
		ex_add(&e, EINVAL, tri_of(off || type == MAP_PRIVATE));
		/* The region's size: a wild child may not know the file is bound. */
		if (g.is_wild)
			ex_add(&e, EINVAL, MAYBE);
		else if (bound)
			ex_add(&e, EINVAL, tri_of(alen != in->size));
	}
	call("mmap(%p, %#llx, %s, %#x, %d %s, %#llx)", hint, (unsigned long long)len,
	     prot_str(prot), flags, fd, kind == K_DEV ? acc_name(acc) : kind == K_CHAN ? "chan" :
	     kind == K_EV ? "eventfd" : "epoll", (unsigned long long)off);
	p = mmap(hint, len, prot, flags, fd, (off_t)off);
	ret = p == MAP_FAILED ? -errno : 0;
	if (p == MAP_FAILED)
		result_ret(ret);
	else
		result("%p", p);
	verdict(&e, ret);
	if (p == MAP_FAILED) {
		if (want)
			munmap(want, len);
		return true;
	}
	if (want && p != want)
		fail("mmap MAP_FIXED at %p returned %p", want, p);
	if (!piece_slots() || (g.is_wild && !in)) {
		munmap(p, alen);
		return true;
	}
	piece_add(p, alen, 0, prot, acc == O_RDWR, f, ins);
	return true;
}

static bool op_munmap(void);

static bool op_mmap(void)
{
	/* Keep room for splits: unmap instead when the table fills up. */
	if (piece_slots() < MAX_PIECES / 4)
		return op_munmap();
	return do_mmap(-1, false);
}

static bool op_munmap(void)
{
	int i = pick_piece(0), ret;
	unsigned char *a;
	size_t len;

	if (i < 0)
		return false;
	if (pct(4)) {
		struct expect e;

		ex_reset(&e);
		ex_add(&e, EINVAL, YES);
		a = g.piece[i].addr + (pct(50) ? 1 + below(g.pg - 1) : 0);
		len = a == g.piece[i].addr ? 0 : g.pg;
		call("munmap(%p, %#zx)", a, len);
		ret = munmap(a, len) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		return true;
	}
	subrange(i, &a, &len, piece_slots() > 0);
	call("munmap(%p, %#zx) [piece %p+%#zx]", a, len, g.piece[i].addr, g.piece[i].len);
	ret = munmap(a, len);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("munmap: %s", strerror(errno));
	piece_cut(i, a, len);
	gc();
	return true;
}

static bool op_mremap(void)
{
	int i = pick_piece(0), flags = 0, c;
	unsigned char *s, *target = NULL, *want;
	size_t pages, ol, nl, rem;
	struct mpiece p;
	struct expect e;
	void *q;
	long ret;

	if (i < 0 || piece_slots() < 3)
		return false;
	p = g.piece[i];
	pages = p.len / g.pg;
	s = p.addr + g.pg * below(pages);
	rem = (size_t)(p.addr + p.len - s);
	ol = g.pg * (1 + below(rem / g.pg));
	nl = ol;
	want = s;
	ex_reset(&e);
	c = (int)below(100);
	if (c < 25 && ol >= 2 * g.pg) {			/* shrink in place */
		nl = g.pg * (1 + below(ol / g.pg - 1));
		flags = pct(50) ? MREMAP_MAYMOVE : 0;
	} else if (c < 40) {				/* grow: never */
		nl = ol + g.pg * (1 + below(16));
		flags = pct(50) ? MREMAP_MAYMOVE : 0;
		ex_add(&e, EFAULT, YES);
	} else if (c < 65) {				/* move */
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		want = target;
	} else if (c < 73 && ol >= 2 * g.pg) {		/* move and shrink */
		nl = g.pg * (1 + below(ol / g.pg - 1));
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		want = target;
	} else if (c < 78) {				/* move and grow: never */
		nl = ol + g.pg * (1 + below(4));
		target = scratch(nl);
		flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		ex_add(&e, EFAULT, YES);
	} else if (c < 83) {				/* the same size */
		flags = MREMAP_MAYMOVE;
	} else if (c < 87) {
		flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP;
		ex_add(&e, EINVAL, YES);
	} else if (c < 90) {				/* duplicate: old_len 0 */
		ol = 0;
		nl = g.pg;
		flags = MREMAP_MAYMOVE;
		ex_add(&e, EFAULT, YES);
	} else {
		ex_add(&e, EINVAL, YES);
		switch (below(6)) {
		case 0:
			flags = MREMAP_FIXED;
			target = scratch(nl);
			break;
		case 1:
			flags = 8;
			break;
		case 2:
			flags = MREMAP_DONTUNMAP;
			break;
		case 3:
			s += 1 + below(g.pg - 1);
			break;
		case 4:
			nl = 0;
			break;
		default:
			flags = MREMAP_MAYMOVE | MREMAP_FIXED;
			target = s + (ol > g.pg ? g.pg : 0);	/* overlaps the source */
			break;
		}
	}
	call("mremap(%p, %#zx, %#zx, %#x, %p) [piece %p+%#zx]", s, ol, nl, flags, target,
	     p.addr, p.len);
	q = mremap(s, ol, nl, flags, target);
	ret = q == MAP_FAILED ? -errno : 0;
	if (q == MAP_FAILED)
		result_ret(ret);
	else
		result("%p", q);
	verdict(&e, ret);
	if (q == MAP_FAILED) {
		if (target && !(target >= p.addr && target < p.addr + p.len))
			munmap(target, nl);
		return true;
	}
	if (q != want)
		fail("mremap returned %p, expected %p", q, want);
	if (q == s) {
		if (nl < ol)
			piece_cut(i, s + nl, ol - nl);
	} else {
		piece_cut(i, s, ol);
		piece_add(q, nl, p.off + (size_t)(s - p.addr), p.prot, p.maywrite, p.file, p.inst);
	}
	gc();
	return true;
}

static bool op_mprotect(void)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_NONE, PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC, PROT_EXEC,
		PROT_READ | PROT_SEM,
	};
	int i = pick_piece(0), prot, ret;
	unsigned char *a;
	struct mpiece p;
	struct expect e;
	size_t len;

	if (i < 0 || piece_slots() < 2)
		return false;
	p = g.piece[i];
	subrange(i, &a, &len, true);
	prot = prots[below(sizeof(prots) / sizeof(prots[0]))];
	ex_reset(&e);
	if (pct(6)) {
		static const int bad[] = { 0x10, 0x100, PROT_GROWSDOWN | PROT_READ,
					   PROT_GROWSUP | PROT_READ,
					   PROT_GROWSDOWN | PROT_GROWSUP | PROT_READ };

		prot = bad[below(5)];
		ex_add(&e, EINVAL, YES);
	} else if (pct(3)) {
		a += 1 + below(g.pg - 1);
		ex_add(&e, EINVAL, YES);
	} else {
		ex_add(&e, EACCES, tri_of(prot & PROT_EXEC || (prot & PROT_WRITE && !p.maywrite)));
	}
	call("mprotect(%p, %#zx, %s) [piece %p+%#zx %s%s]", a, len, prot_str(prot), p.addr,
	     p.len, prot_str(p.prot), p.maywrite ? "" : " never writable");
	ret = mprotect(a, len, prot) ? -errno : 0;
	result_ret(ret);
	verdict(&e, ret);
	if (ret || prot == p.prot)
		return true;
	/* Split into what lies before, the range, and what lies after. */
	piece_cut(i, a, len);
	piece_add(a, len, p.off + (size_t)(a - p.addr), prot, p.maywrite, p.file, p.inst);
	return true;
}

/* -------------------------------------------------------- region memory */

/* The address of region offset @off in a piece of @ins, @len bytes, writable. */
static unsigned char *region_at(int ins, __u64 off, size_t len, int prot)
{
	int i;

	for (i = 0; i < MAX_PIECES; i++) {
		struct mpiece *p = &g.piece[i];

		if (p->addr && p->inst == ins && (p->prot & prot) == prot && off >= p->off &&
		    off + len <= p->off + p->len)
			return p->addr + (off - p->off);
	}
	return NULL;
}

static __u64 entry_off(int ci)
{
	return offsetof(struct dmxp_global_header, channels) +
	       (__u64)chan_ids[ci] * DMXP_ENTRY_SIZE;
}

/* Write garbage where it hurts: entries, slots, the header, anywhere. */
static bool op_scribble(void)
{
	static const unsigned int entry_fields[] = {
		offsetof(struct dmxp_channel_entry, flags),
		offsetof(struct dmxp_channel_entry, capacity),
		offsetof(struct dmxp_channel_entry, band_offset),
		offsetof(struct dmxp_channel_entry, generation),
		offsetof(struct dmxp_channel_entry, recv_waiters),
		offsetof(struct dmxp_channel_entry, send_waiters),
		offsetof(struct dmxp_channel_entry, repaired),
		offsetof(struct dmxp_channel_entry, tail),
		offsetof(struct dmxp_channel_entry, head),
		offsetof(struct dmxp_channel_entry, tail),
		offsetof(struct dmxp_channel_entry, head),
	};
	static const unsigned int slot_fields[] = {
		offsetof(struct dmxp_slot, sequence),
		offsetof(struct dmxp_slot, sequence),
		offsetof(struct dmxp_slot, meta.payload_len),
		offsetof(struct dmxp_slot, meta.flags),
	};
	int i = pick_piece(PROT_WRITE), ci;
	struct mpiece *p;
	unsigned char *at = NULL;
	__u64 v = 0, off;
	size_t n, k;

	if (i < 0)
		return false;
	p = &g.piece[i];
	ci = (int)below(NCH);
	switch (below(4)) {
	case 0: {		/* a field of a channel entry */
		unsigned int fo = entry_fields[below(sizeof(entry_fields) / sizeof(entry_fields[0]))];
		__u64 *cur;

		off = entry_off(ci) + fo;
		at = region_at(p->inst, off, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		mark_dirty(p->inst, off, 8);
		cur = (__u64 *)at;
		if (fo == offsetof(struct dmxp_channel_entry, recv_waiters) ||
		    fo == offsetof(struct dmxp_channel_entry, send_waiters) ||
		    fo == offsetof(struct dmxp_channel_entry, flags) ||
		    fo == offsetof(struct dmxp_channel_entry, generation)) {
			__u32 w = pct(50) ? garbage32() : (__u32)below(3);

			call("poke %p: entry %u +%u = u32 %#x", at, chan_ids[ci], fo, w);
			__atomic_store_n((__u32 *)at, w, __ATOMIC_RELAXED);
		} else {
			__u64 old = __atomic_load_n(cur, __ATOMIC_RELAXED);

			switch (below(5)) {
			case 0:
				v = old + 1;
				break;
			case 1:
				v = old - 1;
				break;
			case 2:
				v = old + inst(p->inst)->ch[ci].cap;
				break;
			case 3:
				v = 0;
				break;
			default:
				v = garbage64();
				break;
			}
			call("poke %p: entry %u +%u = %#llx (was %#llx)", at, chan_ids[ci], fo,
			     (unsigned long long)v, (unsigned long long)old);
			__atomic_store_n(cur, v, __ATOMIC_RELAXED);
		}
		result("done");
		return true;
	}
	case 1: {		/* a field of a slot of a channel */
		struct mchan *c = &inst(p->inst)->ch[ci];
		unsigned int fo = slot_fields[below(4)];

		if (!c->present || !c->band_known)
			break;
		off = c->band + below(c->cap) * DMXP_SLOT_SIZE + fo;
		at = region_at(p->inst, off, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		if (fo == offsetof(struct dmxp_slot, sequence)) {
			__u64 old = __atomic_load_n((__u64 *)at, __ATOMIC_RELAXED);

			v = pct(50) ? old + 1 + below(3) : pct(50) ? old - 1 : garbage64();
			call("poke %p: channel %u slot seq = %#llx (was %#llx)", at, chan_ids[ci],
			     (unsigned long long)v, (unsigned long long)old);
			__atomic_store_n((__u64 *)at, v, __ATOMIC_RELAXED);
		} else if (fo == offsetof(struct dmxp_slot, meta.flags)) {
			__u16 w = pct(50) ? DMXP_MSG_TOMBSTONE : (__u16)garbage32();

			call("poke %p: channel %u slot flags = %#x", at, chan_ids[ci], w);
			memcpy(at, &w, 2);
		} else {
			__u32 w = pct(50) ? DMXP_MAX_PAYLOAD + 1 + (__u32)below(100) : garbage32();

			call("poke %p: channel %u slot payload_len = %u", at, chan_ids[ci], w);
			memcpy(at, &w, 4);
		}
		result("done");
		return true;
	}
	case 2: {		/* a field of the header */
		static const unsigned int hf[] = {
			offsetof(struct dmxp_global_header, magic),
			offsetof(struct dmxp_global_header, channel_count),
			offsetof(struct dmxp_global_header, region_size),
			offsetof(struct dmxp_global_header, alloc_cursor),
			offsetof(struct dmxp_global_header, claims_offset),
			offsetof(struct dmxp_global_header, claims_count),
			offsetof(struct dmxp_global_header, repair_lock),
		};
		unsigned int fo = hf[below(sizeof(hf) / sizeof(hf[0]))];

		at = region_at(p->inst, fo, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		mark_dirty(p->inst, fo, 8);
		v = garbage64();
		call("poke %p: header +%u = %#llx", at, fo, (unsigned long long)v);
		memcpy(at, &v, 8);
		result("done");
		return true;
	}
	default:
		break;
	}
	n = 1 + below(512);
	if (n > p->len)
		n = p->len;
	at = p->addr + below(p->len - n + 1);
	mark_dirty(p->inst, p->off + (__u64)(at - p->addr), n);
	call("scribble %p: %zu random bytes [region offset %#llx]", at, n,
	     (unsigned long long)(p->off + (__u64)(at - p->addr)));
	for (k = 0; k < n; k++)
		at[k] = (unsigned char)rnd();
	result("done");
	return true;
}

static bool op_peek(void)
{
	int i = pick_piece(PROT_READ);
	volatile unsigned char *at;
	unsigned int sum = 0;
	size_t n, k;

	if (i < 0)
		return false;
	n = 1 + below(4096);
	if (n > g.piece[i].len)
		n = g.piece[i].len;
	at = g.piece[i].addr + below(g.piece[i].len - n + 1);
	call("read %zu bytes at %p", n, at);
	for (k = 0; k < n; k++)
		sum += at[k];
	result("sum %u", sum);
	return true;
}

/*
 * Send a well-formed message the way a peer does, through the mapping:
 * claim the slot at tail, fill it, publish it.  Whatever the mapping
 * holds, this only reads and writes inside it.
 */
static bool op_send_mapped(void)
{
	int i = pick_piece(PROT_READ | PROT_WRITE), ci;
	struct dmxp_channel_entry *e;
	struct dmxp_slot *s;
	struct mchan *c;
	__u64 tail, seq;
	__u32 len, type;

	if (i < 0)
		return false;
	ci = (int)below(NCH);
	c = &inst(g.piece[i].inst)->ch[ci];
	if (!c->present || !c->band_known)
		return false;
	e = (void *)region_at(g.piece[i].inst, entry_off(ci), DMXP_ENTRY_SIZE,
			      PROT_READ | PROT_WRITE);
	if (!e)
		return false;
	tail = __atomic_load_n(&e->tail, __ATOMIC_ACQUIRE);
	s = (void *)region_at(g.piece[i].inst, c->band + (tail & (c->cap - 1)) * DMXP_SLOT_SIZE,
			      DMXP_SLOT_SIZE, PROT_READ | PROT_WRITE);
	if (!s)
		return false;
	seq = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
	len = (__u32)below(DMXP_MAX_PAYLOAD + 1);
	type = (__u32)rnd();
	call("send through the mapping: channel %u tail %llu seq %llu len %u", chan_ids[ci],
	     (unsigned long long)tail, (unsigned long long)seq, len);
	if (seq != tail ||
	    !__atomic_compare_exchange_n(&e->tail, &tail, tail + 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		result("not free");
		return true;
	}
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = tail;
	s->meta.channel_id = chan_ids[ci];
	s->meta.message_type = type;
	s->meta.sender_pid = (__u32)getpid();
	s->meta.sender_runtime = DMXP_RUNTIME_C;
	s->meta.payload_len = len;
	memset(s->payload, 0x5a, len);
	__atomic_store_n(&s->sequence, tail + 1, __ATOMIC_RELEASE);
	result("sent");
	return true;
}

/* --------------------------------------------------------- the claim table */

static long long read_num(const char *path, int base);

static const char *state_name(__u32 st)
{
	static const char *const n[] = {
		"IDLE", "SEND", "SEND_WRITTEN", "RECV", "REPAIR", "WAIT_RECV", "WAIT_SEND",
	};
	static char buf[16];

	if (st < sizeof(n) / sizeof(n[0]))
		return n[st];
	snprintf(buf, sizeof(buf), "%#x", st);
	return buf;
}

/* Record @idx of region @ins's claim table, through a piece with @prot. */
static struct dmxp_claim *claim_at(int ins, unsigned int idx, int prot)
{
	return (void *)region_at(ins, DMXP_HEADER_SIZE + (__u64)idx * DMXP_CLAIM_SIZE,
				 DMXP_CLAIM_SIZE, prot);
}

/* A record's owner: a live file's lease, an earlier one, a small number, anything. */
static __u32 gen_owner(int ins)
{
	int f;

	switch (below(6)) {
	case 0:
	case 1:
		f = PICK(MAX_FILES, file(__i)->used && file(__i)->inst == ins && file(__i)->lease);
		if (f >= 0)
			return file(f)->lease;
		/* fallthrough */
	case 2:
		if (inst(ins)->last_lease)
			return 1 + (__u32)below(inst(ins)->last_lease);
		/* fallthrough */
	case 3:
		return 1 + (__u32)below(64);
	case 4:
		return garbage32();
	default:
		return 0;
	}
}

static __u32 gen_state(void)
{
	if (pct(90))
		return (__u32)below(DMXP_CLAIM_WAIT_SEND + 1);
	return pct(50) ? DMXP_CLAIM_WAIT_SEND + 1 + (__u32)below(4) : garbage32();
}

static __u32 gen_count(__u64 cap)
{
	switch (below(10)) {
	case 0 ... 4:
		return 1 + (__u32)below(4);
	case 5:
		return (__u32)(cap ? cap : 2);
	case 6:
		return pct(50) ? DMXP_CLAIM_BATCH_MAX : DMXP_CLAIM_BATCH_MAX + 1;
	case 7:
		return 0;
	case 8:
		return (__u32)(cap + 1);
	default:
		return garbage32();
	}
}

/* A position near where channel @ci's consumers and producers are. */
static __u64 gen_pos(int ins, int ci, __u64 cap)
{
	struct dmxp_channel_entry *e = (void *)region_at(ins, entry_off(ci), DMXP_ENTRY_SIZE,
							 PROT_READ);
	__u64 head, tail;

	if (!e || pct(10))
		return pct(50) ? garbage64() : below(1024);
	head = __atomic_load_n(&e->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&e->tail, __ATOMIC_RELAXED);
	switch (below(6)) {
	case 0:
		return head - 1 + below(3);
	case 1:
		return tail - 1 - below(2);
	case 2:
		return tail - head <= 4096 ? head + below(tail - head + 1) : head;
	case 3:
		return tail + below(3);
	case 4:
		return head - cap + below(2 * cap + 1);
	default:
		return tail - cap + below(2 * cap + 1);
	}
}

static void claim_write(struct dmxp_claim *rec, __u32 owner, __u32 state, __u64 pos, __u32 chan,
			__u32 count, __u32 gen)
{
	__atomic_store_n(&rec->owner, owner, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pos, pos, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->chan, chan, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->count, count, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->generation, gen, __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pid, pct(80) ? (__u32)getpid() : garbage32(), __ATOMIC_RELAXED);
	__atomic_store_n(&rec->start_time, rnd(), __ATOMIC_RELAXED);
	__atomic_store_n(&rec->pid_ns, pct(50) ? 0 : rnd(), __ATOMIC_RELAXED);
	/* The claim's state last, as a claimer publishes it. */
	__atomic_store_n(&rec->state, state, __ATOMIC_RELEASE);
}

static bool claim_send_side(__u32 state)
{
	return state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_SEND_WRITTEN ||
	       state == DMXP_CLAIM_REPAIR;
}

/* Metadata of a whole message at @p, as a producer writes it. */
static void meta_fill(struct dmxp_slot *s, __u64 p, __u32 id, __u32 len)
{
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = p;
	s->meta.channel_id = id;
	s->meta.message_type = (__u32)p ^ 0x5a5a;
	s->meta.sender_pid = (__u32)getpid();
	s->meta.sender_runtime = DMXP_RUNTIME_C;
	s->meta.payload_len = len;
	memset(s->payload, (int)(p & 0xff), len);
}

/*
 * What a process holds when it dies with claims: record @k positions of
 * channel @id in @rec under @owner, then take them through the mapping
 * (@e, @slots) and leave them so: a send claimed (SEND), written whole
 * but not published (SEND_WRITTEN), or being made a tombstone (REPAIR);
 * a receive claimed (RECV); or a sleeper counted in the waiter word
 * (WAIT_RECV, WAIT_SEND).  False, with the record freed, when the ring
 * does not have @k positions in the state the claim needs.
 */
static bool claim_make(struct dmxp_claim *rec, __u32 owner, __u32 state, __u32 id, __u32 gen,
		       struct dmxp_channel_entry *e, struct dmxp_slot *slots, __u64 cap, __u32 k,
		       __u64 *pos)
{
	bool send = claim_send_side(state);
	__u64 *cursor = send ? &e->tail : &e->head, p, j;

	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND) {
		p = __atomic_load_n(cursor, __ATOMIC_ACQUIRE);
		claim_write(rec, owner, state, p, id, k, gen);
		__atomic_fetch_add(state == DMXP_CLAIM_WAIT_RECV ? &e->recv_waiters :
				   &e->send_waiters, 1, __ATOMIC_SEQ_CST);
		*pos = p;
		return true;
	}
	p = __atomic_load_n(cursor, __ATOMIC_ACQUIRE);
	for (j = 0; j < k; j++)
		if (__atomic_load_n(&slots[(p + j) & (cap - 1)].sequence, __ATOMIC_ACQUIRE) !=
		    p + j + !send)
			return false;
	claim_write(rec, owner, state, p, id, k, gen);
	*pos = p;
	if (!__atomic_compare_exchange_n(cursor, pos, p + k, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		__atomic_store_n(&rec->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
		__atomic_store_n(&rec->owner, 0, __ATOMIC_RELEASE);
		return false;
	}
	for (j = 0; j < k; j++) {
		struct dmxp_slot *s = &slots[(p + j) & (cap - 1)];

		if (state == DMXP_CLAIM_SEND_WRITTEN) {
			meta_fill(s, p + j, id, (__u32)below(DMXP_MAX_PAYLOAD + 1));
		} else if (state == DMXP_CLAIM_SEND && pct(50)) {
			/* Died half way through the metadata. */
			s->meta.payload_len = garbage32();
			s->meta.flags = (__u16)rnd();
		} else if (state == DMXP_CLAIM_REPAIR) {
			__atomic_store_n(&s->sequence, DMXP_SEQ_REPAIRING(p + j), __ATOMIC_RELAXED);
		}
	}
	return true;
}

/*
 * Garbage in the claim table, which the module reads at every release of
 * a file of the region: records with owners that are leases of live
 * files, of released ones, small numbers or anything; every state and
 * others; channels, generations, positions near head and tail and counts
 * that are right or nearly; single fields; many records at once; and
 * real claims through the mapping under a live file's lease, left in
 * flight for the module to repair when that file goes.
 */
static bool op_claim(void)
{
	int i = pick_piece(PROT_READ | PROT_WRITE), ins, ci, n, k, v;
	struct dmxp_channel_entry *e = NULL;
	struct dmxp_slot *slots = NULL;
	struct dmxp_claim *rec;
	struct mchan *c;
	unsigned int idx;
	__u32 owner, state, id, count, gen;
	__u64 pos;

	if (i < 0)
		return false;
	ins = g.piece[i].inst;
	if (!has_claims(inst(ins)->size))
		return false;
	ci = (int)below(NCH);
	c = &inst(ins)->ch[ci];
	idx = pct(10) ? (pct(50) ? 0 : DMXP_CLAIMS - 1) : (unsigned int)below(DMXP_CLAIMS);
	rec = claim_at(ins, idx, PROT_READ | PROT_WRITE);
	if (!rec)
		return false;
	id = pct(92) ? chan_ids[ci] : pct(50) ? DMXP_MAX_CHANNELS : garbage32();
	gen = pct(85) ? c->epoch : pct(50) ? c->epoch + 1 - 2 * (__u32)below(2) : garbage32();
	v = (int)below(20);
	if (v >= 9 && v <= 15) {
		e = (void *)region_at(ins, entry_off(ci), DMXP_ENTRY_SIZE, PROT_READ | PROT_WRITE);
		slots = c->present && c->band_known ?
			(void *)region_at(ins, c->band, c->cap * DMXP_SLOT_SIZE,
					  PROT_READ | PROT_WRITE) : NULL;
		if (!e || !slots)
			return false;
	}
	inst(ins)->table_dirty = true;

	switch (v) {
	case 0 ... 5:		/* a whole record */
		owner = gen_owner(ins);
		state = gen_state();
		pos = gen_pos(ins, ci, c->cap);
		count = gen_count(c->cap);
		call("claim record %u: owner %u %s pos %llu chan %u count %u gen %u", idx, owner,
		     state_name(state), (unsigned long long)pos, id, count, gen);
		claim_write(rec, owner, state, pos, id, count, gen);
		break;
	case 6 ... 8:		/* one field */
		switch (below(5)) {
		case 0:
			owner = gen_owner(ins);
			call("claim record %u: owner = %u", idx, owner);
			__atomic_store_n(&rec->owner, owner, __ATOMIC_RELEASE);
			break;
		case 1:
			state = gen_state();
			call("claim record %u: state = %s", idx, state_name(state));
			__atomic_store_n(&rec->state, state, __ATOMIC_RELEASE);
			break;
		case 2:
			pos = gen_pos(ins, ci, c->cap);
			call("claim record %u: pos = %llu", idx, (unsigned long long)pos);
			__atomic_store_n(&rec->pos, pos, __ATOMIC_RELAXED);
			break;
		case 3:
			count = gen_count(c->cap);
			call("claim record %u: count = %u", idx, count);
			__atomic_store_n(&rec->count, count, __ATOMIC_RELAXED);
			break;
		default:
			call("claim record %u: chan = %u, generation = %u", idx, id, gen);
			__atomic_store_n(&rec->chan, id, __ATOMIC_RELAXED);
			__atomic_store_n(&rec->generation, gen, __ATOMIC_RELAXED);
			break;
		}
		break;
	case 9 ... 15: {	/* a real claim, left in flight */
		int f = PICK(MAX_FILES, file(__i)->used && file(__i)->inst == ins &&
			     file(__i)->lease);

		/* A live file's lease (repaired when it goes), or most likely a dead one. */
		owner = f >= 0 && pct(50) ? file(f)->lease : gen_owner(ins);
		state = 1 + (__u32)below(DMXP_CLAIM_WAIT_SEND);
		count = pct(80) ? 1 : 1 + (__u32)below(c->cap < 8 ? c->cap : 8);
		call("claim %u positions of channel %u: record %u owner %u %s", count,
		     chan_ids[ci], idx, owner, state_name(state));
		if (!claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots, c->cap,
				count, &pos)) {
			/* The other side, else a sleeper. */
			state = claim_send_side(state) ? DMXP_CLAIM_RECV : DMXP_CLAIM_SEND;
			if (!claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots,
					c->cap, count, &pos)) {
				state = DMXP_CLAIM_WAIT_RECV + (__u32)below(2);
				claim_make(rec, owner, state, chan_ids[ci], c->epoch, e, slots,
					   c->cap, count, &pos);
			}
		}
		result("%s at %llu", state_name(state), (unsigned long long)pos);
		return true;
	}
	case 16 ... 17:		/* many records */
		n = 16 + (int)below(DMXP_CLAIMS - 16);
		owner = gen_owner(ins);
		state = 1 + (__u32)below(DMXP_CLAIM_REPAIR);
		call("claim records %u..: %d of owner %u%s %s chan %u gen %u", idx, n, owner,
		     pct(50) ? "+" : "", state_name(state), id, gen);
		for (k = 0; k < n; k++) {
			rec = claim_at(ins, (idx + (unsigned int)k) % DMXP_CLAIMS,
				       PROT_READ | PROT_WRITE);
			if (!rec)
				continue;
			claim_write(rec, pct(70) ? owner : gen_owner(ins),
				    pct(80) ? state : gen_state(), gen_pos(ins, ci, c->cap), id,
				    pct(50) ? DMXP_CLAIM_BATCH_MAX : gen_count(c->cap), gen);
		}
		break;
	default:		/* free records */
		n = pct(50) ? 1 : 1 + (int)below(DMXP_CLAIMS);
		call("claim records %u..: %d freed", idx, n);
		for (k = 0; k < n; k++) {
			rec = claim_at(ins, (idx + (unsigned int)k) % DMXP_CLAIMS,
				       PROT_READ | PROT_WRITE);
			if (!rec)
				continue;
			if (pct(50))
				__atomic_store_n(&rec->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
			__atomic_store_n(&rec->owner, 0, __ATOMIC_RELEASE);
		}
		break;
	}
	result("done");
	return true;
}

/* The region and channel a dying file claims in. */
struct crash_target {
	const char	*name;
	__u64		size;
	__u32		id;
	__u64		cap, band;
	__u32		gen;		/* the channel's generation */
	__u32		*last_lease;
	__u64		*repaired, *tombstoned;	/* the model's counts, or NULL */
};

/* A file of our own on the target region, bound read-write: its fd; *@lease is set. */
static int crash_attach(const struct crash_target *t, __u32 *lease)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	long ret;
	int fd;

	call("open(%s, rw) [crash]", DMXP_DEVICE);
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, t->name);
	call("ioctl(%d, REGION_ATTACH, {name=\"%s\"}) [crash]", fd, rq.name);
	ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
	result("%ld, lease %u", ret, rq.lease);
	if (ret)
		fail("attaching to a region there is: %s", errname((int)-ret));
	if (rq.lease <= *t->last_lease)
		fail("REGION_ATTACH returned lease %u, but lease %u was given before", rq.lease,
		     *t->last_lease);
	*t->last_lease = rq.lease;
	*lease = rq.lease;
	return fd;
}

static unsigned char *crash_map(int fd, __u64 size)
{
	void *p;

	call("mmap(NULL, %#llx, RW, MAP_SHARED, %d) [crash]", (unsigned long long)size, fd);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		result_ret(-errno);
		fail("mmap of a region there is: %s", strerror(errno));
	}
	result("%p", p);
	return p;
}

/* The last reference to a file and its mapping goes: the module repairs. */
static void crash_release(int fd, unsigned char *m, __u64 size)
{
	bool unmap_first = pct(50);

	if (unmap_first && m) {
		call("munmap(%p, %#llx) [crash]", m, (unsigned long long)size);
		result_ret(munmap(m, size) ? -errno : 0);
	}
	call("close(%d) [crash]", fd);
	result_ret(close(fd) ? -errno : 0);
	if (!unmap_first && m) {
		call("munmap(%p, %#llx) [crash]", m, (unsigned long long)size);
		result_ret(munmap(m, size) ? -errno : 0);
	}
}

/*
 * The module repairs in its work item, which the release queues at once:
 * wait (at most 5 s) until the dead lease's record @rec is freed, the
 * repair's last step.
 */
static void crash_repair_wait(struct dmxp_claim *rec)
{
	int ms;

	call("wait for the repair");
	for (ms = 0; ms < 5000 && __atomic_load_n(&rec->owner, __ATOMIC_ACQUIRE); ms++)
		usleep(1000);
	result("after %d ms", ms);
}

static long long sysfs_chan_num(const struct crash_target *t, const char *attr)
{
	char path[160];

	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/%s", t->name, t->id, attr);
	return read_num(path, 10);
}

/*
 * Whether the @k positions from @p of a claim in @state were repaired, as
 * repair.c does it: a send published as a tombstone (REPAIR: the same),
 * one written whole published as it is, a receive freed.  NULL if so,
 * else what is wrong.
 */
static const char *crash_repaired(struct dmxp_slot *slots, __u64 cap, __u32 id, __u32 state,
				  __u64 p, __u32 k)
{
	static char what[160];
	__u64 j;

	for (j = 0; j < k; j++) {
		struct dmxp_slot *s = &slots[(p + j) & (cap - 1)];
		__u64 seq = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
		__u64 want = state == DMXP_CLAIM_RECV ? p + j + cap : p + j + 1;

		if (seq != want) {
			snprintf(what, sizeof(what), "position %llu: sequence %#llx, expected %#llx",
				 (unsigned long long)(p + j), (unsigned long long)seq,
				 (unsigned long long)want);
			return what;
		}
		if (state == DMXP_CLAIM_RECV)
			continue;
		if (state == DMXP_CLAIM_SEND_WRITTEN ?
		    s->meta.flags || s->meta.sender_runtime != DMXP_RUNTIME_C ||
		    s->meta.message_type != ((__u32)(p + j) ^ 0x5a5a) :
		    s->meta.flags != DMXP_MSG_TOMBSTONE || s->meta.payload_len ||
		    s->meta.sender_runtime != DMXP_RUNTIME_KERNEL || s->meta.sender_pid ||
		    s->meta.message_type || s->meta.__pad) {
			snprintf(what, sizeof(what),
				 "position %llu: flags %#x payload_len %u runtime %u type %#x pid %u",
				 (unsigned long long)(p + j), s->meta.flags, s->meta.payload_len,
				 s->meta.sender_runtime, s->meta.message_type, s->meta.sender_pid);
			return what;
		}
		if (s->meta.message_id != p + j || s->meta.channel_id != id) {
			snprintf(what, sizeof(what), "position %llu: message_id %llu channel %u",
				 (unsigned long long)(p + j),
				 (unsigned long long)s->meta.message_id, s->meta.channel_id);
			return what;
		}
	}
	return NULL;
}

/*
 * A file dies holding claims (see op_crash()): the observer @mo is a
 * mapping of the target region through another file, which stays.
 */
static void crash_one(const struct crash_target *t, unsigned char *mo)
{
	static const __u32 states[] = {
		DMXP_CLAIM_SEND, DMXP_CLAIM_SEND, DMXP_CLAIM_SEND_WRITTEN, DMXP_CLAIM_RECV,
		DMXP_CLAIM_RECV, DMXP_CLAIM_REPAIR, DMXP_CLAIM_WAIT_RECV, DMXP_CLAIM_WAIT_SEND,
	};
	__u32 la, lb = 0, state, k, *waiters = NULL, w0 = 0;
	struct dmxp_channel_entry *e, *eo = (void *)(mo + offsetof(struct dmxp_global_header,
							    channels) + (__u64)t->id * DMXP_ENTRY_SIZE);
	struct dmxp_slot *so = (void *)(mo + t->band);
	struct dmxp_claim *ra, *rb = NULL;
	long long rep0, tomb0, rep, tomb;
	__u64 erep0, etomb0, p = 0, tombs, fixed;
	unsigned int ia, ib = 0;
	unsigned char *ma;
	const char *bad;
	int fa, fb = -1, tries;
	bool cover;

	state = states[below(sizeof(states) / sizeof(states[0]))];
	k = pct(70) ? 1 : 1 + (__u32)below(t->cap < 16 ? t->cap : 16);
	cover = pct(35) && state != DMXP_CLAIM_REPAIR && state <= DMXP_CLAIM_RECV;

	fa = crash_attach(t, &la);
	ma = crash_map(fa, t->size);
	if (cover)
		fb = crash_attach(t, &lb);

	e = (void *)(ma + ((unsigned char *)eo - mo));
	ia = (unsigned int)below(DMXP_CLAIMS);
	ra = (void *)(ma + DMXP_HEADER_SIZE + (__u64)ia * DMXP_CLAIM_SIZE);
	call("claim %u positions of channel %u: record %u lease %u %s%s", k, t->id, ia, la,
	     state_name(state), cover ? ", and a live lease's record" : "");
	if (!claim_make(ra, la, state, t->id, t->gen, e, (void *)(ma + t->band), t->cap, k, &p)) {
		/* Not in that state: a sleeper is always possible. */
		state = pct(50) ? DMXP_CLAIM_WAIT_RECV : DMXP_CLAIM_WAIT_SEND;
		cover = false;
		if (!claim_make(ra, la, state, t->id, t->gen, e, (void *)(ma + t->band), t->cap,
				k, &p))
			fail("a sleeper's claim failed");
	}
	result("%s at %llu", state_name(state), (unsigned long long)p);
	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND) {
		waiters = state == DMXP_CLAIM_WAIT_RECV ? &eo->recv_waiters : &eo->send_waiters;
		w0 = __atomic_load_n(waiters, __ATOMIC_ACQUIRE);
	}
	if (cover) {
		ib = (ia + 1 + (unsigned int)below(DMXP_CLAIMS - 1)) % DMXP_CLAIMS;
		rb = (void *)(mo + DMXP_HEADER_SIZE + (__u64)ib * DMXP_CLAIM_SIZE);
		call("claim record %u: lease %u %s pos %llu count %u, the same", ib, lb,
		     state_name(state), (unsigned long long)p, k);
		claim_write(rb, lb, state, p, t->id, k, t->gen);
		result("done");
	}
	rep0 = sysfs_chan_num(t, "repaired");
	tomb0 = sysfs_chan_num(t, "tombstoned");
	erep0 = __atomic_load_n(&eo->repaired, __ATOMIC_RELAXED);
	etomb0 = __atomic_load_n(&eo->tombstoned, __ATOMIC_RELAXED);
	if (rep0 < 0 || tomb0 < 0)
		fail("no repaired or tombstoned in channel %u's sysfs directory", t->id);

	/* From now on through the observer's mapping. */
	ra = (void *)(mo + DMXP_HEADER_SIZE + (__u64)ia * DMXP_CLAIM_SIZE);
	crash_release(fa, ma, t->size);
	if (cover) {
		/* A live lease names them: they wait, through the work's first passes. */
		usleep(20000);
		if ((bad = crash_repaired(so, t->cap, t->id, state, p, k)) == NULL ||
		    sysfs_chan_num(t, "repaired") != rep0 ||
		    __atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE) != la)
			fail("the claims of lease %u were repaired although lease %u's record names them too",
			     la, lb);
		if (pct(50)) {
			call("claim record %u: freed; wait for the repair", ib);
			__atomic_store_n(&rb->state, DMXP_CLAIM_IDLE, __ATOMIC_RELAXED);
			__atomic_store_n(&rb->owner, 0, __ATOMIC_RELEASE);
			for (tries = 0; tries < 5000; tries++) {
				if (sysfs_chan_num(t, "repaired") != rep0 &&
				    !__atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE))
					break;
				usleep(1000);
			}
			result("after %d ms", tries);
		} else {
			crash_release(fb, NULL, 0);
			fb = -1;
			crash_repair_wait(ra);
			crash_repair_wait(rb);
		}
		g.repairs_waited++;
	} else {
		crash_repair_wait(ra);
	}

	/* Exactly what the claims needed, counted, and the record freed. */
	call("check the repair of channel %u", t->id);
	fixed = state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND ? 0 : k;
	tombs = state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_REPAIR ? k : 0;
	rep = sysfs_chan_num(t, "repaired");
	tomb = sysfs_chan_num(t, "tombstoned");
	result("repaired %lld, tombstoned %lld", rep, tomb);
	if (fixed && (bad = crash_repaired(so, t->cap, t->id, state, p, k)))
		fail("lease %u's %s claim of channel %u at %llu, count %u: %s", la,
		     state_name(state), t->id, (unsigned long long)p, k, bad);
	if (rep != rep0 + (long long)fixed || tomb != tomb0 + (long long)tombs)
		fail("channel %u: %lld repaired and %lld tombstoned, expected %lld and %lld", t->id,
		     rep, tomb, rep0 + (long long)fixed, tomb0 + (long long)tombs);
	if (__atomic_load_n(&eo->repaired, __ATOMIC_RELAXED) != erep0 + fixed ||
	    __atomic_load_n(&eo->tombstoned, __ATOMIC_RELAXED) != etomb0 + tombs)
		fail("channel %u's entry counts %llu repaired, %llu tombstoned; expected %llu and %llu",
		     t->id, (unsigned long long)eo->repaired, (unsigned long long)eo->tombstoned,
		     (unsigned long long)(erep0 + fixed), (unsigned long long)(etomb0 + tombs));
	/* Taken back unless it is 0 (garbage there may have wrapped it). */
	if (waiters && __atomic_load_n(waiters, __ATOMIC_ACQUIRE) != (w0 ? w0 - 1 : 0))
		fail("channel %u's waiter word is %u; the dead sleeper's count was not taken back from %u",
		     t->id, *waiters, w0);
	if (__atomic_load_n(&ra->owner, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&ra->state, __ATOMIC_ACQUIRE))
		fail("record %u of the dead lease %u: owner %u state %s, not freed", ia, la,
		     ra->owner, state_name(ra->state));
	if (rb && (__atomic_load_n(&rb->owner, __ATOMIC_ACQUIRE) ||
		   __atomic_load_n(&rb->state, __ATOMIC_ACQUIRE)))
		fail("record %u of lease %u: owner %u state %s, not freed", ib, lb, rb->owner,
		     state_name(rb->state));
	if (t->repaired) {
		*t->repaired += fixed;
		*t->tombstoned += tombs;
	}
	g.repairs++;
	if (fb >= 0)
		crash_release(fb, NULL, 0);
}

/* Send @n messages through a channel fd of @fd's region. */
static void crash_fill(int fd, __u32 id, __u64 n)
{
	struct dmxp_ioc_chan_fd cf = { .id = id, .flags = DMXP_CHAN_FD_NONBLOCK };
	char buf[64];
	__u64 i;
	long ret;
	int cfd;

	call("ioctl(%d, CHAN_FD, {id=%u}) [crash]; write %llu messages", fd, id,
	     (unsigned long long)n);
	cfd = (int)xioctl(fd, DMXP_IOC_CHAN_FD, &cf);
	if (cfd < 0) {
		result_ret(cfd);
		fail("CHAN_FD of a channel there is: %s", errname(-cfd));
	}
	memset(buf, 0x33, sizeof(buf));
	for (i = 0; i < n; i++) {
		ret = write(cfd, buf, 1 + below(sizeof(buf)));
		if (ret <= 0)
			fail("write to a channel with room: %s", ret ? strerror(errno) : "0");
	}
	close(cfd);
	result("done");
}

/*
 * A file dies holding claims: its own file is attached to a region and
 * maps it, records claims under its lease, takes positions of a channel
 * through the mapping (maybe writing the message), and is closed and
 * unmapped without finishing.  Its release must repair exactly that:
 * a send never published becomes a tombstone, one written whole is
 * published, a receive is freed, a sleeper's count leaves the waiter
 * word; the repair counts go up by as many, and the record is freed.
 * Sometimes a live file's record names the same positions: they must
 * wait until that record is freed (a later pass, within milliseconds)
 * or that file is released too.  Only where nothing else is in the
 * claim table, so that the outcome is exact: a region of the model that
 * no garbage reached while no wild child runs, or else a region of its
 * own, made for it and destroyed after.  The region is watched through
 * another file's mapping.
 */
static bool op_crash(void)
{
	int ins = PICK(MAX_INST, inst(__i)->used && inst(__i)->named && !inst(__i)->table_dirty &&
		       has_claims(inst(__i)->size));
	struct crash_target t = { 0 };
	__u32 lo, last = 0, rounds, r;
	unsigned char *mo;
	int fo, ci = -1;

	if (g.is_wild)
		return false;
	if (quiet() && ins >= 0 && pct(60))
		ci = PICK(NCH, inst(ins)->ch[__i].present && inst(ins)->ch[__i].band_known);
	if (ci >= 0) {
		struct minst *in = inst(ins);

		t.name = g.name[in->slot];
		t.size = in->size;
		t.id = chan_ids[ci];
		t.cap = in->ch[ci].cap;
		t.band = in->ch[ci].band;
		t.gen = in->ch[ci].epoch;
		t.last_lease = &in->last_lease;
		t.repaired = &in->ch[ci].repaired;
		t.tombstoned = &in->ch[ci].tombstoned;
		fo = crash_attach(&t, &lo);
		mo = crash_map(fo, t.size);
		crash_one(&t, mo);
		crash_release(fo, mo, t.size);
		return true;
	} else {
		struct dmxp_ioc_version v = { .version = DMXP_VERSION };
		struct dmxp_ioc_region rq;
		struct dmxp_ioc_chan c;
		long ret;

		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.crash_name);
		rq.size = CLAIMS_MIN_SIZE + below(pct(80) ? 1 << 16 : 1 << 20);
		rq.mode = 0600;
		rq.flags = DMXP_REGION_CREATE | DMXP_REGION_EXCL;
		memset(&c, 0, sizeof(c));
		c.id = pct(80) ? (__u32)below(8) : (__u32)below(DMXP_MAX_CHANNELS);
		c.capacity = 2ULL << below(6);
		while (c.capacity > 2 && CLAIMS_END + c.capacity * DMXP_SLOT_SIZE > page_align(rq.size))
			c.capacity /= 2;
		call("open(%s, rw) [crash]; REGION_CREATE {name=\"%s\" size=%#llx}; CHAN_CREATE {id=%u cap=%llu}",
		     DMXP_DEVICE, rq.name, (unsigned long long)rq.size, c.id,
		     (unsigned long long)c.capacity);
		fo = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
		if (fo < 0 || ioctl(fo, DMXP_IOC_VERSION, &v))
			fail("open %s: %s", DMXP_DEVICE, strerror(errno));
		ret = xioctl(fo, DMXP_IOC_REGION_CREATE, &rq);
		if (ret == -ENOSPC || ret == -ENOMEM) {
			result_ret(ret);
			close(fo);
			return true;
		}
		if (ret || !rq.lease)
			fail("REGION_CREATE of a new region: %s, lease %u", errname((int)-ret),
			     rq.lease);
		ret = xioctl(fo, DMXP_IOC_CHAN_CREATE, &c);
		if (ret)
			fail("CHAN_CREATE in a new region: %s", errname((int)-ret));
		result("lease %u, ring at %#llx", rq.lease, (unsigned long long)c.band_offset);
		if (c.band_offset != CLAIMS_END)
			fail("the first ring of a region of %llu bytes is at %#llx, not after the claim table",
			     (unsigned long long)rq.size, (unsigned long long)c.band_offset);
		last = rq.lease;
		t.name = g.crash_name;
		t.size = rq.size;
		t.id = c.id;
		t.cap = c.capacity;
		t.band = c.band_offset;
		t.gen = 1;
		t.last_lease = &last;
		mo = crash_map(fo, t.size);
		{
			const struct dmxp_global_header *h = (void *)mo;

			if (h->magic != DMXP_MAGIC || h->region_size != t.size ||
			    h->claims_offset != DMXP_HEADER_SIZE || h->claims_count != DMXP_CLAIMS ||
			    h->alloc_cursor != t.band + t.cap * DMXP_SLOT_SIZE ||
			    h->channel_count != 1)
				fail("a new region's header: size %llu, claims at %#llx, %u, alloc_cursor %#llx, %u channels",
				     (unsigned long long)h->region_size,
				     (unsigned long long)h->claims_offset, h->claims_count,
				     (unsigned long long)h->alloc_cursor, h->channel_count);
		}
		/* Messages to take (or slots taken) for some of the claims. */
		crash_fill(fo, c.id, below(c.capacity + 1));
		rounds = 1 + (__u32)below(4);
		for (r = 0; r < rounds; r++)
			crash_one(&t, mo);
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [crash]", fo, rq.name);
		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.crash_name);
		ret = xioctl(fo, DMXP_IOC_REGION_DESTROY, &rq);
		result_ret(ret);
		if (ret)
			fail("REGION_DESTROY: %s", errname((int)-ret));
		crash_release(fo, mo, t.size);
		return true;
	}
}

/*
 * The header, the channel entries and the claim table as the module
 * wrote them, where nothing else wrote there: the claim table after the
 * header in a region big enough, the rings after it, alloc_cursor at the
 * end of the highest ring, every entry as its channel was made.
 */
static bool op_header(void)
{
	int i = PICK(MAX_PIECES, g.piece[__i].addr && g.piece[__i].prot & PROT_READ &&
		     !inst(g.piece[__i].inst)->hdr_dirty);
	const struct dmxp_global_header *h;
	const struct dmxp_channel_entry *e;
	const struct dmxp_claim *r;
	struct minst *in;
	unsigned int id, n = 0, ci, j;
	bool claims;
	int ins;

	if (!quiet() || i < 0)
		return false;
	ins = g.piece[i].inst;
	in = inst(ins);
	claims = has_claims(in->size);
	call("check the header of region %s (%llu bytes)%s", g.name[in->slot],
	     (unsigned long long)in->size, in->table_dirty ? ", not its claim table" : "");
	h = (void *)region_at(ins, 0, 128, PROT_READ);
	for (ci = 0; ci < NCH; ci++)
		n += in->ch[ci].present;
	if (h && (h->magic != DMXP_MAGIC || h->version != DMXP_VERSION ||
		  h->max_channels != DMXP_MAX_CHANNELS || h->channel_count != n || h->reserved ||
		  h->region_size != in->size ||
		  h->claims_offset != (claims ? DMXP_HEADER_SIZE : 0) ||
		  h->claims_count != (claims ? DMXP_CLAIMS : 0) || h->__claims_pad ||
		  h->repair_lock || (in->cursor_known && h->alloc_cursor != in->cursor)))
		fail("region %s: magic %#llx version %u max_channels %u channel_count %u (%u) size %llu claims at %llu, %u; alloc_cursor %#llx (%s%#llx) repair_lock %#llx",
		     g.name[in->slot], (unsigned long long)h->magic, h->version, h->max_channels,
		     h->channel_count, n, (unsigned long long)h->region_size,
		     (unsigned long long)h->claims_offset, h->claims_count,
		     (unsigned long long)h->alloc_cursor, in->cursor_known ? "" : "unknown, ",
		     (unsigned long long)in->cursor, (unsigned long long)h->repair_lock);
	for (id = 0; id < DMXP_MAX_CHANNELS; id++) {
		struct mchan none = { 0 }, *c = &none;

		for (ci = 0; ci < NCH && chan_ids[ci] != id; ci++)
			;
		if (ci < NCH)
			c = &in->ch[ci];
		else if (pct(90))
			continue;
		e = (void *)region_at(ins, offsetof(struct dmxp_global_header, channels) +
				      (__u64)id * DMXP_ENTRY_SIZE, DMXP_ENTRY_SIZE, PROT_READ);
		if (!e)
			continue;
		if (e->channel_id != id || e->flags != (c->present ? DMXP_CHAN_CREATED : 0) ||
		    e->generation != c->epoch || e->owner_pid ||
		    e->capacity != (c->present ? c->cap : 0) ||
		    e->band_capacity != (c->present ? c->cap : 0) ||
		    (c->present && c->band_known && e->band_offset != c->band) ||
		    (!c->epoch && (e->band_offset || e->tail || e->head)) ||
		    e->__wake_pad[0] || e->__wake_pad[1] || e->owner_start || e->owner_ns)
			fail("region %s channel %u: id %u flags %#x generation %u (%u) owner %u capacity %llu band %#llx, %llu slots; expected%s %llu slots at %#llx",
			     g.name[in->slot], id, e->channel_id, e->flags, e->generation, c->epoch,
			     e->owner_pid, (unsigned long long)e->capacity,
			     (unsigned long long)e->band_offset,
			     (unsigned long long)e->band_capacity, c->present ? "" : " nothing:",
			     (unsigned long long)c->cap, (unsigned long long)c->band);
		for (j = 0; j < sizeof(e->__meta_pad) && !e->__meta_pad[j]; j++)
			;
		if (j < sizeof(e->__meta_pad))
			fail("region %s channel %u: padding byte %u is %#x", g.name[in->slot], id,
			     96 + j, e->__meta_pad[j]);
		/* Repairs change these only where there are claim records. */
		if (in->table_dirty)
			continue;
		if (e->recv_waiters || e->send_waiters || e->repaired != c->repaired ||
		    e->tombstoned != c->tombstoned)
			fail("region %s channel %u: waiters %u recv %u send, %llu repaired, %llu tombstoned; expected none and %llu, %llu",
			     g.name[in->slot], id, e->recv_waiters, e->send_waiters,
			     (unsigned long long)e->repaired, (unsigned long long)e->tombstoned,
			     (unsigned long long)c->repaired, (unsigned long long)c->tombstoned);
	}
	for (j = 0; claims && !in->table_dirty && j < DMXP_CLAIMS; j++) {
		r = claim_at(ins, j, PROT_READ);
		if (r && (r->owner || r->state))
			fail("region %s: claim record %u has owner %u state %s, but none was written",
			     g.name[in->slot], j, r->owner, state_name(r->state));
	}
	result("ok");
	return true;
}

/* ------------------------------------------------------------ channel fds */

static bool op_chan_read(void)
{
	static unsigned char buf[2 * MSG_MAX];
	int i = pick_chfd(), how;
	struct mchfd *c;
	bool alive;
	size_t n;
	void *p = buf;
	struct expect e;
	struct iovec iov;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	switch (below(10)) {
	case 0:
		n = below(META);
		break;
	case 1:
		n = META + below(DMXP_MAX_PAYLOAD + 1);
		break;
	case 2:
		n = sizeof(buf);
		break;
	default:
		n = MSG_MAX;
		break;
	}
	if (pct(3)) {
		p = pct(50) ? NULL : (void *)(uintptr_t)0xffff888000000000ULL;
		n = n ? n : 1;
	}
	how = c->nonblock ? (int)below(3) : 2;
	if (pct(3))
		how = 3;
	ex_reset(&e);
	if (how == 3) {
		ex_add(&e, ESPIPE, YES);
	} else if (c->poll_only) {
		/* Not open for reading: before the buffer, except in readv's import. */
		ex_add(&e, EBADF, YES);
		ex_add(&e, EFAULT, p != buf ? MAYBE : NO);
	} else if (p && p != buf) {
		ex_add(&e, EFAULT, YES);
	} else if (n == 0 && how) {
		/* readv() and preadv2() of nothing return 0 without a call. */
	} else if (n < META) {
		ex_add(&e, EMSGSIZE, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EAGAIN, g.is_wild || alive ? MAYBE : NO);
		ex_add(&e, EMSGSIZE, (g.is_wild || alive) && n < MSG_MAX ? MAYBE : NO);
		ex_add(&e, EFAULT, p ? NO : MAYBE);
		ex_add(&e, ENOMEM, MAYBE);
	}
	iov.iov_base = p;
	iov.iov_len = n;
	call("%s(%d chan %u%s%s, %p, %zu)", how == 0 ? "read" : how == 1 ? "readv" :
	     how == 2 ? "preadv2 RWF_NOWAIT" : "pread", c->fd, chan_ids[c->ch],
	     alive ? "" : " dead", c->poll_only ? " poll-only" : "", p, n);
	switch (how) {
	case 0:
		ret = read(c->fd, p, n);
		break;
	case 1:
		ret = readv(c->fd, &iov, 1);
		break;
	case 2:
		ret = preadv2(c->fd, &iov, 1, -1, RWF_NOWAIT);
		break;
	default:
		ret = pread(c->fd, p, n, 0);
		break;
	}
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0 && n) {
		struct dmxp_msg_meta m;

		if (ret < (long)META || (size_t)ret > n || (size_t)ret > MSG_MAX)
			fail("read returned %ld for a buffer of %zu", ret, n);
		memcpy(&m, buf, sizeof(m));
		if (m.payload_len != ret - META)
			fail("read returned %ld bytes, payload_len %u", ret, m.payload_len);
	}
	return true;
}

static bool op_chan_write(void)
{
	static unsigned char buf[2 * DMXP_MAX_PAYLOAD];
	int i = pick_chfd(), how;
	struct mchfd *c;
	bool alive;
	size_t n;
	void *p = buf;
	struct expect e;
	struct iovec iov;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	n = pct(90) ? below(DMXP_MAX_PAYLOAD + 1) : DMXP_MAX_PAYLOAD + 1 + below(DMXP_MAX_PAYLOAD);
	if (pct(3)) {
		p = pct(50) ? NULL : (void *)(uintptr_t)0xffff888000000000ULL;
		n = n ? n : 1;
	}
	memset(buf, (int)rnd(), n > sizeof(buf) ? sizeof(buf) : n);
	how = c->nonblock ? (int)below(3) : 2;
	if (pct(3))
		how = 3;
	ex_reset(&e);
	if (how == 3) {
		ex_add(&e, ESPIPE, YES);
	} else if (c->poll_only) {
		/* Not open for writing: before the buffer, except in writev's import. */
		ex_add(&e, EBADF, YES);
		ex_add(&e, EFAULT, p != buf ? MAYBE : NO);
	} else if (p != buf) {
		ex_add(&e, EFAULT, YES);
		ex_add(&e, EMSGSIZE, n > DMXP_MAX_PAYLOAD ? MAYBE : NO);
	} else if (n == 0 && how) {
		/* writev() and pwritev2() of nothing return 0 without a call. */
	} else if (n > DMXP_MAX_PAYLOAD) {
		ex_add(&e, EMSGSIZE, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EAGAIN, g.is_wild || alive ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
	}
	iov.iov_base = p;
	iov.iov_len = n;
	call("%s(%d chan %u%s%s, %p, %zu)", how == 0 ? "write" : how == 1 ? "writev" :
	     how == 2 ? "pwritev2 RWF_NOWAIT" : "pwrite", c->fd, chan_ids[c->ch],
	     alive ? "" : " dead", c->poll_only ? " poll-only" : "", p, n);
	switch (how) {
	case 0:
		ret = write(c->fd, p, n);
		break;
	case 1:
		ret = writev(c->fd, &iov, 1);
		break;
	case 2:
		ret = pwritev2(c->fd, &iov, 1, -1, RWF_NOWAIT);
		break;
	default:
		ret = pwrite(c->fd, p, n, 0);
		break;
	}
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0 && (size_t)ret != n)
		fail("write of %zu bytes returned %ld", n, ret);
	return true;
}

static void on_tick(int sig)
{
}

/*
 * A blocking read() or write() that a timer interrupts: it sleeps in the
 * module until a message (a free slot) comes, the channel goes away, or
 * the next tick (EINTR).
 */
static bool op_chan_block(void)
{
	static unsigned char buf[MSG_MAX];
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].nonblock);
	struct itimerval tick = { .it_interval = { .tv_usec = 20000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_tick }, old;
	struct mchfd *c;
	bool wr = pct(40), alive;
	struct expect e;
	size_t n;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	n = wr ? below(DMXP_MAX_PAYLOAD + 1) : MSG_MAX;
	tick.it_value.tv_usec = 1000 + (long)below(30000);
	ex_reset(&e);
	if (c->poll_only) {
		ex_add(&e, EBADF, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EINTR, g.is_wild || alive ? MAYBE : NO);
		/* Only a wild child: the parent may have set O_NONBLOCK on the file. */
		ex_add(&e, EAGAIN, g.is_wild ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
	}
	call("%s(%d chan %u%s%s, %zu) with a %ld us tick", wr ? "write" : "read", c->fd,
	     chan_ids[c->ch], alive ? "" : " dead", c->poll_only ? " poll-only" : "", n,
	     (long)tick.it_value.tv_usec);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &tick, NULL);
	ret = wr ? write(c->fd, buf, n) : read(c->fd, buf, n);
	ret = ret < 0 ? -errno : ret;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	arm(g.op_timeout);
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0 && (wr ? (size_t)ret != n : (ret < (long)META || ret > (long)MSG_MAX)))
		fail("%s returned %ld", wr ? "write" : "read", ret);
	return true;
}

static bool op_poll(void)
{
	struct pollfd pfd[4];
	int kinds[4], idx[4], n = 1 + (int)below(4), k, ret;
	char desc[160];
	size_t dn = 0;

	for (k = 0; k < n; k++) {
		kinds[k] = pct(60) ? K_CHAN : -1;
		pfd[k].fd = pick_any_fd(&kinds[k]);
		pfd[k].events = POLLIN | POLLOUT;
		pfd[k].revents = 0;
		idx[k] = kinds[k] == K_CHAN ? PICK(MAX_CHFDS, g.chfd[__i].fd == pfd[k].fd) : -1;
		dn += snprintf(desc + dn, sizeof(desc) - dn, "%s%d", k ? "," : "", pfd[k].fd);
	}
	call("poll({%s}, 0)", desc);
	ret = poll(pfd, n, 0);
	result_ret(ret < 0 ? -errno : ret);
	if (ret < 0)
		fail("poll: %s", strerror(errno));
	for (k = 0; k < n; k++) {
		short r = pfd[k].revents;

		if (r & POLLNVAL)
			fail("poll: fd %d is not open", pfd[k].fd);
		if (kinds[k] == K_DEV && r != (POLLIN | POLLOUT))
			fail("poll on /dev/dmxp fd %d: revents %#x", pfd[k].fd, r);
		if (kinds[k] != K_CHAN || g.is_wild)
			continue;
		if (!chan_alive(&g.chfd[idx[k]])) {
			if ((r & (POLLERR | POLLHUP)) != (POLLERR | POLLHUP) || r & (POLLIN | POLLOUT))
				fail("poll on the channel fd %d of a destroyed channel: revents %#x",
				     pfd[k].fd, r);
		} else if (r & ~(POLLIN | POLLOUT)) {
			fail("poll on the channel fd %d: revents %#x", pfd[k].fd, r);
		}
	}
	return true;
}

static bool op_fcntl_nonblock(void)
{
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].inherited), fl;

	if (i < 0)
		return false;
	fl = fcntl(g.chfd[i].fd, F_GETFL);
	call("fcntl(%d, F_SETFL, %s)", g.chfd[i].fd, g.chfd[i].nonblock ? "0" : "O_NONBLOCK");
	if (fl < 0 || fcntl(g.chfd[i].fd, F_SETFL, fl ^ O_NONBLOCK) < 0)
		fail("fcntl: %s", strerror(errno));
	result("0");
	g.chfd[i].nonblock = !g.chfd[i].nonblock;
	return true;
}

static bool op_close_chfd(void)
{
	int i = pick_chfd(), ret;

	if (i < 0)
		return false;
	call("close(%d chan %u)", g.chfd[i].fd, chan_ids[g.chfd[i].ch]);
	ret = close(g.chfd[i].fd);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("close: %s", strerror(errno));
	g.chfd[i].fd = -1;
	gc();
	return true;
}

static bool op_eventfds(void)
{
	int i = pick_evfd(), ret;
	__u64 v;

	if (i < 0 || pct(30)) {
		evfd_new();
		return true;
	}
	if (pct(30)) {
		call("close(%d eventfd)", g.evfd[i].fd);
		ret = close(g.evfd[i].fd);
		result_ret(ret ? -errno : 0);
		g.evfd[i].fd = -1;
		return true;
	}
	call("read(%d eventfd)", g.evfd[i].fd);
	ret = (int)read(g.evfd[i].fd, &v, sizeof(v));
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	if (ret != sizeof(v) && ret != -EAGAIN)
		fail("read of an eventfd: %d", ret);
	return true;
}

static bool op_epoll(void)
{
	int i = pick_chfd(), ret;
	struct epoll_event ev[8];
	struct expect e;

	ex_reset(&e);
	if (i < 0 || g.in_child || pct(30)) {
		call("epoll_wait(%d, 8, 0)", g.epfd);
		ret = epoll_wait(g.epfd, ev, 8, 0);
		result_ret(ret < 0 ? -errno : ret);
		if (ret < 0)
			fail("epoll_wait: %s", strerror(errno));
		return true;
	}
	ev[0].events = EPOLLIN | EPOLLOUT;
	ev[0].data.fd = g.chfd[i].fd;
	if (pct(60)) {
		ex_add(&e, EEXIST, tri_of(g.chfd[i].in_epoll));
		call("epoll_ctl(%d, ADD, %d)", g.epfd, g.chfd[i].fd);
		ret = epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.chfd[i].fd, ev) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		g.chfd[i].in_epoll = true;
	} else {
		ex_add(&e, ENOENT, tri_of(!g.chfd[i].in_epoll));
		call("epoll_ctl(%d, DEL, %d)", g.epfd, g.chfd[i].fd);
		ret = epoll_ctl(g.epfd, EPOLL_CTL_DEL, g.chfd[i].fd, ev) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		g.chfd[i].in_epoll = false;
	}
	return true;
}

/* ----------------------------------------------------- wrong and unknown */

static bool known_cmd(unsigned long cmd)
{
	switch (cmd) {
	case DMXP_IOC_VERSION:
	case DMXP_IOC_REGION_CREATE:
	case DMXP_IOC_REGION_ATTACH:
	case DMXP_IOC_REGION_DESTROY:
	case DMXP_IOC_CHAN_CREATE:
	case DMXP_IOC_CHAN_DESTROY:
	case DMXP_IOC_NOTIFY:
	case DMXP_IOC_CHAN_FD:
	case DMXP_IOC_CHAN_EVENTFD:
		return true;
	default:
		return false;
	}
}

/* Command types the VFS handles itself, for every file (fs/ioctl.c). */
static bool vfs_type(unsigned int type)
{
	return type == 0 || type == 'T' || type == 'X' || type == 'f' || type == 0x94;
}

static bool op_unknown_ioctl(void)
{
	int kind = pct(60) ? K_DEV : -1, fd = pick_any_fd(&kind);
	unsigned long cmd;
	struct expect e;
	long ret;

	do {
		switch (below(3)) {
		case 0:
			cmd = _IOC(below(4), DMXP_IOC_MAGIC, 9 + below(247), below(1 << 14));
			break;
		case 1:
			cmd = _IOC(below(4), DMXP_IOC_MAGIC, below(9), below(80));
			break;
		default:
			cmd = (unsigned int)rnd();
			break;
		}
	} while (known_cmd(cmd) || vfs_type(_IOC_TYPE(cmd)));
	ex_reset(&e);
	ex_add(&e, ENOTTY, YES);
	/* The core kernel's answer: epoll has ioctls of its own since 6.9. */
	if (kind == K_EPOLL)
		ex_add(&e, EINVAL, YES);
	memset(arena, 0, 64);
	call("ioctl(%d %s, %#lx)", fd, kind == K_DEV ? "dev" : kind == K_CHAN ? "chan" :
	     kind == K_EV ? "eventfd" : "epoll", cmd);
	ret = xioctl(fd, cmd, arena);
	result_ret(ret);
	verdict(&e, ret);
	return true;
}

/* The device's own ioctls on a channel fd, an eventfd or an epoll fd. */
static bool op_wrong_fd_ioctl(void)
{
	static const unsigned long cmds[] = {
		DMXP_IOC_VERSION, DMXP_IOC_REGION_CREATE, DMXP_IOC_REGION_ATTACH,
		DMXP_IOC_REGION_DESTROY, DMXP_IOC_CHAN_CREATE, DMXP_IOC_CHAN_DESTROY,
		DMXP_IOC_NOTIFY, DMXP_IOC_CHAN_FD, DMXP_IOC_CHAN_EVENTFD,
	};
	int kind = 1 + (int)below(3), fd = pick_any_fd(&kind);
	unsigned long cmd = cmds[below(9)];
	struct dmxp_ioc_region *rq = (void *)arena;
	struct expect e;
	long ret;

	if (kind == K_DEV)
		return false;
	memset(arena, 0, 128);
	((struct dmxp_ioc_version *)arena)->version = DMXP_VERSION;
	if (cmd == DMXP_IOC_REGION_CREATE || cmd == DMXP_IOC_REGION_ATTACH ||
	    cmd == DMXP_IOC_REGION_DESTROY) {
		memset(rq, 0, sizeof(*rq));
		strcpy(rq->name, g.name[0]);
		rq->flags = cmd == DMXP_IOC_REGION_CREATE ? DMXP_REGION_CREATE : 0;
	}
	ex_reset(&e);
	ex_add(&e, ENOTTY, YES);
	/* The core kernel's answer: epoll has ioctls of its own since 6.9. */
	if (kind == K_EPOLL)
		ex_add(&e, EINVAL, YES);
	call("ioctl(%d %s, %#lx)", fd, kind == K_CHAN ? "chan" : kind == K_EV ? "eventfd" : "epoll",
	     cmd);
	ret = xioctl(fd, cmd, arena);
	result_ret(ret);
	verdict(&e, ret);
	return true;
}

/* read() and write() on /dev/dmxp itself: it has neither. */
static bool op_dev_rw(void)
{
	int di = pick_devfd(), acc;
	char buf[16] = "";
	struct expect e;
	long ret;

	if (di < 0)
		return false;
	acc = file(g.devfd[di].file)->acc;
	ex_reset(&e);
	if (pct(50)) {
		ex_add(&e, acc == O_WRONLY ? EBADF : EINVAL, YES);
		call("read(%d dev %s, 16)", g.devfd[di].fd, acc_name(acc));
		ret = read(g.devfd[di].fd, buf, sizeof(buf));
	} else {
		ex_add(&e, acc == O_RDONLY ? EBADF : EINVAL, YES);
		call("write(%d dev %s, 16)", g.devfd[di].fd, acc_name(acc));
		ret = write(g.devfd[di].fd, buf, sizeof(buf));
	}
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	verdict(&e, ret);
	return true;
}

/* --------------------------------------------------------------- sysfs */

static long long read_num(const char *path, int base)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, base);
}

/* A channel's directory holds these files, and nothing else (sysfs.c). */
static const char *const chan_attrs[] = {
	"capacity", "head", "tail", "depth", "notifies", "repaired", "tombstoned",
};
#define NCATTR	(sizeof(chan_attrs) / sizeof(chan_attrs[0]))

/* The files of a channel's directory are chan_attrs[]: "" if so, else what. */
static const char *chan_dir_check(const char *dir)
{
	static char what[512];
	struct dirent **ents;
	unsigned int seen = 0, k;
	int n, i;

	what[0] = '\0';
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		snprintf(what, sizeof(what), "%s: %s", dir, strerror(errno));
		return what;
	}
	for (i = 0; i < n; i++) {
		const char *d = ents[i]->d_name;

		if (d[0] != '.') {
			for (k = 0; k < NCATTR && strcmp(d, chan_attrs[k]); k++)
				;
			if (k == NCATTR && !what[0])
				snprintf(what, sizeof(what), "%s/%s should not be there", dir, d);
			else if (k < NCATTR)
				seen |= 1U << k;
		}
		free(ents[i]);
	}
	free(ents);
	for (k = 0; k < NCATTR && !what[0]; k++)
		if (!(seen & (1U << k)))
			snprintf(what, sizeof(what), "%s/%s is missing", dir, chan_attrs[k]);
	return what;
}

static bool op_sysfs(void)
{
	static const char *const rattr[] = { "size", "channel_count", "uid", "gid", "mode" };
	int slot = (int)below(NSLOTS), ins = named_inst(slot), ci = (int)below(NCH), k, ret;
	bool chan = pct(60), there;
	const char *attr, *what;
	char path[160], buf[64];
	long long v, want = -1, t;
	struct minst *in = ins >= 0 ? inst(ins) : NULL;

	if (g.is_wild)
		return false;
	if (chan) {
		k = (int)below(NCATTR + 1);
		there = in && in->ch[ci].present;
		if (k == NCATTR) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u", g.name[slot], chan_ids[ci]);
			call("list %s", path);
			what = chan_dir_check(path);
			result("%s", what[0] ? what : "ok");
			if (!there && access(path, F_OK) == 0)
				fail("%s exists, but the channel does not", path);
			if (there && what[0])
				fail("%s", what);
			return true;
		}
		attr = chan_attrs[k];
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/%s", g.name[slot], chan_ids[ci], attr);
		if (there && k == 0)
			want = (long long)in->ch[ci].cap;
		/* Repairs happen only where there are claim records. */
		if (there && k >= 5 && quiet() && !in->table_dirty)
			want = (long long)(k == 5 ? in->ch[ci].repaired : in->ch[ci].tombstoned);
	} else {
		k = (int)below(5);
		attr = rattr[k];
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s", g.name[slot], attr);
		there = in;
		if (there) {
			switch (k) {
			case 0:
				want = (long long)in->size;
				break;
			case 1:
				want = 0;
				for (ci = 0; ci < NCH; ci++)
					want += in->ch[ci].present;
				break;
			case 2:
				want = geteuid();
				break;
			case 3:
				want = getegid();
				break;
			default:
				want = in->mode;
				break;
			}
		}
	}
	call("read %s", path);
	ret = read_text(path, buf, sizeof(buf));
	if (ret)
		result_ret(ret);
	else
		result("\"%s\"", buf);
	if (!there) {
		if (ret != -ENOENT)
			fail("%s: expected ENOENT", path);
		return true;
	}
	if (ret)
		fail("%s: %s", path, strerror(-ret));
	v = strtoll(buf, NULL, !chan && k == 4 ? 8 : 10);
	if (want >= 0 && v != want)
		fail("%s is %s, expected %lld", path, buf, want);
	if (chan && k == 3 && (v < 0 || v > (long long)in->ch[ci].cap))
		fail("%s is %s, beyond the capacity %llu", path, buf,
		     (unsigned long long)in->ch[ci].cap);
	if (chan && k == 5) {
		if ((__u64)v > in->ch[ci].seen && in->table_dirty)
			g.repairs_seen += (__u64)v - in->ch[ci].seen;
		in->ch[ci].seen = (__u64)v;
	}
	if (chan && k == 6) {
		/* Counted after the repair count: never more tombstones than repairs. */
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/repaired", g.name[slot],
			 chan_ids[ci]);
		t = read_num(path, 10);
		if (v < 0 || t < v)
			fail("%s: %lld repaired, %lld tombstoned", path, t, v);
	}
	return true;
}

/* The module's region memory: vmalloc areas of dmxp and their pages. */
static int vmalloc_read(long long *areas, long long *pages)
{
	char line[512];
	FILE *f = fopen("/proc/vmallocinfo", "re");

	*areas = *pages = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *p;

		long long n;

		/*
		 * Regions come from dmxp_region_mem() (VM_USERMAP in older
		 * modules, which did not list their page arrays so).
		 */
		if (!strstr(line, " [dmxp]") ||
		    (!strstr(line, " dmxp_region_mem+") && !strstr(line, " user")) ||
		    !(p = strstr(line, " pages=")))
			continue;
		n = strtoll(p + 7, NULL, 10);
		(*areas)++;
		*pages += n;
		/*
		 * A big region's page array is an area of its own with the
		 * same caller ("vpages" on the region's line): not a region.
		 */
		if (strstr(line, " vpages") && strstr(line, " dmxp_region_mem+")) {
			(*areas)--;
			*pages -= (n * (long long)sizeof(void *) + g.pg - 1) / g.pg;
		}
	}
	fclose(f);
	return 0;
}

/*
 * /proc/vmallocinfo is read a page at a time, each read() resuming at a
 * position in a list that other vmalloc users change meanwhile (a dead
 * child's kernel stack is freed after an RCU grace period): a reading can
 * miss or repeat an area.  Read until two readings in a row agree, and
 * keep reading a while if they do not give @want_areas and @want_pages
 * (-1: no wish), so that only a lasting difference counts.
 */
static int vmalloc_usage_want(long long *areas, long long *pages, long long want_areas,
			      long long want_pages)
{
	long long a, p, pa = -1, pp = -1;
	int tries, ret;

	for (tries = 0; tries < 50; tries++) {
		ret = vmalloc_read(&a, &p);
		if (ret)
			return ret;
		*areas = a;
		*pages = p;
		if (a == pa && p == pp &&
		    (want_areas < 0 || (a == want_areas && p == want_pages) || tries >= 20))
			return 0;
		pa = a;
		pp = p;
		usleep(tries < 10 ? 1000 : 20000);
	}
	return 0;
}

static int vmalloc_usage(long long *areas, long long *pages)
{
	return vmalloc_usage_want(areas, pages, -1, -1);
}

static long long start_areas, start_pages;
static bool have_vmallocinfo;

/* What the model holds, and what the module's vmalloc areas are. */
static void dump_model(void)
{
	char line[512];
	FILE *f;
	int i, j;

	for (i = 0; i < MAX_INST; i++) {
		struct minst *in = inst(i);

		if (!in->used)
			continue;
		printf("# model: region %d %s%s, %llu pages;", i, g.name[in->slot],
		       in->named ? "" : " (destroyed)", (unsigned long long)(in->size / g.pg));
		for (j = 0; j < MAX_FILES; j++)
			if (file(j)->used && file(j)->inst == i)
				printf(" file %d", j);
		for (j = 0; j < MAX_PIECES; j++)
			if (g.piece[j].addr && g.piece[j].inst == i)
				printf(" map %p+%#zx", g.piece[j].addr, g.piece[j].len);
		for (j = 0; j < MAX_CHFDS; j++)
			if (g.chfd[j].fd >= 0 && g.chfd[j].inst == i)
				printf(" chan-fd %d", g.chfd[j].fd);
		printf("\n");
	}
	f = fopen("/proc/vmallocinfo", "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " [dmxp]"))
			printf("# vmallocinfo: %s", line);
	if (f)
		fclose(f);
	snprintf(line, sizeof(line), "/proc/%d/maps", (int)getpid());
	f = fopen(line, "re");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "dmxp"))
			printf("# maps: %s", line);
	if (f)
		fclose(f);
}

/* /sys/kernel/dmxp and the module's memory agree with the model. */
static void check_state(const char *when)
{
	long long areas, pages, want_areas = start_areas, want_pages = start_pages, v;
	char path[160];
	int s, i, ci;

	for (s = 0; s < NSLOTS; s++) {
		struct minst *in;
		struct stat sb;
		int n = 0;

		i = named_inst(s);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s", g.name[s]);
		if (i < 0) {
			if (!stat(path, &sb))
				fail("%s: %s exists, but the region was destroyed", when, path);
			continue;
		}
		in = inst(i);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/size", g.name[s]);
		v = read_num(path, 10);
		if (v != (long long)in->size)
			fail("%s: %s is %lld, expected %llu", when, path, v,
			     (unsigned long long)in->size);
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/mode", g.name[s]);
		v = read_num(path, 8);
		if (v != in->mode)
			fail("%s: %s is %llo, expected %o", when, path, v, in->mode);
		for (ci = 0; ci < NCH; ci++) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/capacity", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (in->ch[ci].present != (v >= 0) ||
			    (in->ch[ci].present && v != (long long)in->ch[ci].cap))
				fail("%s: %s is %lld, expected %lld", when, path, v,
				     in->ch[ci].present ? (long long)in->ch[ci].cap : -1LL);
			n += in->ch[ci].present;
			if (!in->ch[ci].present)
				continue;
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/repaired", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (v < 0)
				fail("%s: %s: %s", when, path, strerror(ENOENT));
			if ((__u64)v > in->ch[ci].seen && in->table_dirty)
				g.repairs_seen += (__u64)v - in->ch[ci].seen;
			in->ch[ci].seen = (__u64)v;
			if (!quiet() || in->table_dirty)
				continue;
			if (v != (long long)in->ch[ci].repaired)
				fail("%s: %s is %lld, expected %llu", when, path, v,
				     (unsigned long long)in->ch[ci].repaired);
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%u/tombstoned", g.name[s],
				 chan_ids[ci]);
			v = read_num(path, 10);
			if (v != (long long)in->ch[ci].tombstoned)
				fail("%s: %s is %lld, expected %llu", when, path, v,
				     (unsigned long long)in->ch[ci].tombstoned);
		}
		snprintf(path, sizeof(path), SYSFS_DIR "/%s/channel_count", g.name[s]);
		v = read_num(path, 10);
		if (v != n)
			fail("%s: %s is %lld, expected %d", when, path, v, n);
	}
	if (!have_vmallocinfo || g.nwild)
		return;
	for (i = 0; i < MAX_INST; i++) {
		if (!inst(i)->used)
			continue;
		want_areas++;
		want_pages += (long long)(inst(i)->size / g.pg);
	}
	vmalloc_usage_want(&areas, &pages, want_areas, want_pages);
	if (areas != want_areas || pages != want_pages) {
		dump_model();
		fail("%s: the module holds %lld regions of %lld pages, expected %lld of %lld",
		     when, areas, pages, want_areas, want_pages);
	}
}

/* What /sys/kernel/dmxp holds that does not change by itself. */
static char *sysfs_snapshot(void)
{
	static const char *const rattr[] = { "size", "channel_count", "uid", "gid", "mode" };
	size_t cap = 1 << 16, n = 0;
	char *out = calloc(1, cap), path[1024], buf[64];
	struct dirent **ents;
	int ne, i, k;

	if (!out)
		return NULL;
	ne = scandir(SYSFS_DIR, &ents, NULL, alphasort);
	for (i = 0; i < ne; i++) {
		struct dirent **chs;
		int nc, j;

		if (ents[i]->d_name[0] == '.')
			goto next;
		n += snprintf(out + n, cap - n, "%s:", ents[i]->d_name);
		for (k = 0; k < 5 && n < cap - 128; k++) {
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s", ents[i]->d_name, rattr[k]);
			if (read_text(path, buf, sizeof(buf)))
				strcpy(buf, "?");
			n += snprintf(out + n, cap - n, " %s=%s", rattr[k], buf);
		}
		snprintf(path, sizeof(path), SYSFS_DIR "/%s", ents[i]->d_name);
		nc = scandir(path, &chs, NULL, alphasort);
		for (j = 0; j < nc; j++) {
			if (!strncmp(chs[j]->d_name, "ch", 2) && n < cap - 128) {
				snprintf(path, sizeof(path), SYSFS_DIR "/%s/%s/capacity",
					 ents[i]->d_name, chs[j]->d_name);
				if (read_text(path, buf, sizeof(buf)))
					strcpy(buf, "?");
				n += snprintf(out + n, cap - n, " %s=%s", chs[j]->d_name, buf);
			}
			free(chs[j]);
		}
		if (nc >= 0)
			free(chs);
		n += snprintf(out + n, cap - n, "\n");
next:
		free(ents[i]);
	}
	if (ne >= 0)
		free(ents);
	return out;
}

/* ---------------------------------------------------------- children */

static bool run_op(void);

/* Everything the parent holds is now also this child's. */
static void become_child(bool wild)
{
	static char who[32];
	int i;

	g.in_child = true;
	g.is_wild = wild;
	g.wild_running = g.nwild > 0;
	g.nwild = 0;
	snprintf(who, sizeof(who), "%s[%d] ", wild ? "wild" : "child", (int)getpid());
	g.who = who;
	for (i = 0; i < MAX_FILES; i++)
		if (file(i)->used)
			file(i)->inherited = true;
	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used)
			inst(i)->pinned = true;
	for (i = 0; i < MAX_CHFDS; i++)
		g.chfd[i].inherited = g.chfd[i].fd >= 0;
	g.next_ev = 1000000L * (1 + (long)(getpid() % 2000));
}

/*
 * A blocking call that only a signal ends: the parent kills the child in
 * it.  Only where poll() says it would block, so that it changes nothing.
 */
static void __attribute__((noreturn)) block_until_killed(void)
{
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].nonblock &&
		     !g.chfd[__i].poll_only && chan_alive(&g.chfd[__i]));
	struct pollfd pfd;
	char buf[MSG_MAX];

	arm(0);
	if (i >= 0) {
		pfd.fd = g.chfd[i].fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 0) {
			call("read(%d chan %u, %zu): blocks until killed", pfd.fd,
			     chan_ids[g.chfd[i].ch], sizeof(buf));
			if (g.verbose)
				printf("# %s\n", cur_line);
			if (read(pfd.fd, buf, sizeof(buf)) < 0 && errno == EINTR)
				fail("a blocking read returned EINTR");
		}
	}
	for (;;)
		pause();
}

/*
 * A child acts on the inherited fds and mappings, reports what it changed
 * in the module's state, and then exits or is killed (the parent waits
 * for the report, so that its model stays exact).
 */
static bool op_fork(void)
{
	__u64 child_seed = rnd(), nops = 1 + below(12);
	bool killed = pct(40);
	struct shared *rep;
	pid_t pid;
	int p[2], st, i;
	size_t got = 0;
	ssize_t r;

	if (g.in_child)
		return false;
	rep = malloc(sizeof(*rep));
	if (!rep || pipe2(p, O_CLOEXEC))
		fail("fork: no memory or pipe");
	call("fork: %llu steps, then %s", (unsigned long long)nops, killed ? "SIGKILL" : "exit");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		become_child(false);
		rng = child_seed;
		for (g.ops++; nops--; g.ops++) {
			arm(g.op_timeout);
			while (!run_op())
				;
			arm(0);
		}
		if (write(p[1], &g.sh, sizeof(g.sh)) != sizeof(g.sh))
			_exit(CHILD_FAILED);
		if (killed)
			block_until_killed();
		fflush(stdout);
		_exit(0);
	}
	g.forks++;
	close(p[1]);
	result("%d", (int)pid);
	arm(g.op_timeout * 16);
	while (got < sizeof(*rep)) {
		r = read(p[0], (char *)rep + got, sizeof(*rep) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(p[0]);
	if (killed && got == sizeof(*rep)) {
		usleep((useconds_t)below(3000));
		kill(pid, SIGKILL);
	}
	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	arm(g.op_timeout);
	if (*child_failed || (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_FAILED))
		fail("child %d failed (its report is above)", (int)pid);
	if (got != sizeof(*rep))
		fail("child %d died without a report: status %#x", (int)pid, st);
	if (killed ? !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) :
		     !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail("child %d ended with status %#x", (int)pid, st);

	/* The module's state as the child left it; this process's own files. */
	memcpy(g.sh.inst, rep->inst, sizeof(g.sh.inst));
	for (i = 0; i < MAX_INST; i++)
		inst(i)->pinned = false;
	for (i = 0; i < MAX_FILES; i++) {
		if (!file(i)->used)
			continue;
		file(i)->versioned = rep->file[i].versioned;
		file(i)->inst = rep->file[i].inst;
		file(i)->lease = rep->file[i].lease;
	}
	g.sh.nreg = 0;
	for (i = 0; i < rep->nreg; i++)
		if (file(rep->reg[i].file)->used)
			g.sh.reg[g.sh.nreg++] = rep->reg[i];
	free(rep);
	gc();
	return true;
}

/* A child acting concurrently with the parent until it is killed. */
static bool op_wild(void)
{
	__u64 child_seed = rnd(), until = g.ops + 5 + below(300);
	pid_t pid;
	int n;

	if (g.in_child || g.no_wild || g.nwild >= MAX_WILD)
		return false;
	call("fork a wild child until step %llu", (unsigned long long)until);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		become_child(true);
		rng = child_seed;
		for (n = 0; n < 5000; n++, g.ops++) {
			arm(g.op_timeout);
			while (!run_op())
				;
			arm(0);
		}
		block_until_killed();
	}
	result("%d", (int)pid);
	g.wild[g.nwild] = pid;
	g.wild_until[g.nwild] = until;
	g.nwild++;
	g.wilds++;
	return true;
}

/* Kill the wild children whose time has come (all: every one). */
static void reap_wild(bool all, bool check)
{
	int i, k, st = 0;

	for (i = 0; i < g.nwild; ) {
		pid_t pid = g.wild[i], r = waitpid(pid, &st, WNOHANG);

		if (r == 0 && (all || g.ops >= g.wild_until[i])) {
			call("kill wild child %d", (int)pid);
			kill(pid, SIGKILL);
			r = waitpid(pid, &st, 0);
			result("status %#x", st);
		}
		if (r == 0) {
			i++;
			continue;
		}
		g.wild[i] = g.wild[g.nwild - 1];
		g.wild_until[i] = g.wild_until[g.nwild - 1];
		g.nwild--;
		/* It may have written anything into any region it could reach. */
		for (k = 0; k < MAX_INST; k++)
			if (inst(k)->used)
				inst(k)->hdr_dirty = inst(k)->table_dirty = true;
		if (!check || r < 0)
			continue;
		if (*child_failed || (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_FAILED))
			fail("wild child %d failed (its report is above)", (int)pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail("wild child %d ended with status %#x", (int)pid, st);
	}
}

/*
 * Two processes at once on one region name, outside the model: create,
 * attach, destroy, channels, mappings.  Every call may meet any state the
 * other process leaves, so only the errors documented for that call are
 * allowed, and a few that can never apply (ENOENT from a non-exclusive
 * create, EEXIST from an attach) are not.
 */
static void race_round(void)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	struct dmxp_ioc_chan c;
	struct dmxp_ioc_chan_fd cf;
	struct expect e;
	int fd, k = (int)below(6);
	long ret;
	void *p;

	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	ex_reset(&e);
	if (k == 0) {
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [race]", fd, rq.name);
		ret = xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
		ex_add(&e, ENOENT, MAYBE);
		result_ret(ret);
		verdict(&e, ret);
		close(fd);
		return;
	}
	if (k == 1) {
		call("ioctl(%d, REGION_ATTACH, {name=\"%s\"}) [race]", fd, rq.name);
		ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
		ex_add(&e, ENOENT, MAYBE);
	} else {
		rq.size = MIN_SIZE + (pct(50) ? 0 : (__u64)(1 << 20));
		rq.mode = 0600;
		rq.flags = DMXP_REGION_CREATE | (k == 2 ? DMXP_REGION_EXCL : 0);
		call("ioctl(%d, REGION_CREATE, {name=\"%s\" flags=%#x}) [race]", fd, rq.name,
		     rq.flags);
		ret = xioctl(fd, DMXP_IOC_REGION_CREATE, &rq);
		ex_add(&e, EEXIST, k == 2 ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
		ex_add(&e, ENOSPC, MAYBE);
	}
	result_ret(ret);
	verdict(&e, ret);
	if (ret) {
		close(fd);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.id = (__u32)below(4);
	c.capacity = 2;
	ex_reset(&e);
	if (pct(50)) {
		call("ioctl(%d, CHAN_CREATE, {id=%u cap=2}) [race]", fd, c.id);
		ret = xioctl(fd, DMXP_IOC_CHAN_CREATE, &c);
		ex_add(&e, EEXIST, MAYBE);
		ex_add(&e, ENOSPC, MAYBE);
	} else {
		c.capacity = 0;
		call("ioctl(%d, CHAN_DESTROY, {id=%u}) [race]", fd, c.id);
		ret = xioctl(fd, DMXP_IOC_CHAN_DESTROY, &c);
		ex_add(&e, ENOENT, MAYBE);
	}
	ex_add(&e, EIDRM, MAYBE);
	result_ret(ret);
	verdict(&e, ret);
	memset(&cf, 0, sizeof(cf));
	cf.id = (__u32)below(4);
	cf.flags = DMXP_CHAN_FD_NONBLOCK;
	ex_reset(&e);
	ex_add(&e, ENOENT, MAYBE);
	ex_add(&e, EIDRM, MAYBE);
	call("ioctl(%d, CHAN_FD, {id=%u}) [race]", fd, cf.id);
	ret = xioctl(fd, DMXP_IOC_CHAN_FD, &cf);
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0) {
		char buf[MSG_MAX];

		ex_reset(&e);
		ex_add(&e, EAGAIN, MAYBE);
		ex_add(&e, EIDRM, MAYBE);
		memset(buf, 0, 8);
		call("write(%ld chan %u, 8) [race]", ret, cf.id);
		k = (int)ret;
		ret = write(k, buf, 8) < 0 ? -errno : 8;
		result_ret(ret);
		verdict(&e, ret);
		close(k);
	}
	ex_reset(&e);
	ex_add(&e, EIDRM, MAYBE);
	call("mmap(%#llx, %d) [race]", (unsigned long long)rq.size, fd);
	p = mmap(NULL, rq.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	result_ret(ret);
	verdict(&e, ret);
	if (p != MAP_FAILED) {
		((struct dmxp_global_header *)p)->reserved = 1;
		munmap(p, rq.size);
	}
	close(fd);
}

static bool op_race(void)
{
	__u64 child_seed = rnd(), my_seed = rnd(), saved;
	int rounds = 10 + (int)below(90), st, i;
	struct dmxp_ioc_region rq;
	pid_t pid;
	int fd;

	if (g.in_child)
		return false;
	call("fork a racer on \"%s\" for %d rounds", g.race_name, rounds);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		become_child(true);
		rng = child_seed;
		for (i = 0; i < rounds; i++) {
			arm(g.op_timeout);
			race_round();
		}
		_exit(0);
	}
	result("%d", (int)pid);
	/* What a round draws depends on the race: keep it off the main stream. */
	saved = rng;
	rng = my_seed;
	for (i = 0; i < rounds; i++)
		race_round();
	rng = saved;
	arm(g.op_timeout * 4);
	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	arm(g.op_timeout);
	if (*child_failed || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("racer %d failed with status %#x (its report is above)", (int)pid, st);
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	{
		struct dmxp_ioc_version v = { .version = DMXP_VERSION };

		if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
			fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	}
	call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [race done]", fd, rq.name);
	result_ret(xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq));
	close(fd);
	return true;
}

/* ------------------------------------------------------------ the walk */

/* Open, handshake, create or attach, map: a step to a usable region. */
static bool op_setup(void)
{
	int di;

	if (g.is_wild || !op_open())
		return false;
	di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && !file(g.devfd[__i].file)->versioned);
	if (di < 0)
		return true;
	do_version(di, true);
	if (!file(g.devfd[di].file)->versioned)
		return true;
	/* Only a read-write file creates; a read-only one mostly attaches. */
	if (!do_region(di, pct(file(g.devfd[di].file)->acc == O_RDWR ? 70 : 10) ?
		       DMXP_IOC_REGION_CREATE : DMXP_IOC_REGION_ATTACH, true))
		return true;
	if (file(g.devfd[di].file)->inst >= 0 && piece_slots() > 4)
		do_mmap(di, true);
	return true;
}

/* Valid channel calls, mostly in live regions: to reach deep states. */
static bool op_chan_sane(void)
{
	int di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && file(g.devfd[__i].file)->versioned &&
		      file(g.devfd[__i].file)->acc == O_RDWR &&
		      file(g.devfd[__i].file)->inst >= 0 &&
		      inst(file(g.devfd[__i].file)->inst)->named);
	unsigned int k = (unsigned int)below(100);

	/* Sometimes a read-only binding, or a region destroyed meanwhile. */
	if (di < 0 || pct(10))
		di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && file(g.devfd[__i].file)->versioned &&
			  file(g.devfd[__i].file)->inst >= 0);
	if (di < 0 || g.is_wild)
		return false;
	if (k >= 30 && pct(85)) {
		struct minst *in = inst(file(g.devfd[di].file)->inst);

		want_ci = PICK(NCH, in->ch[__i].present);
	}
	if (k < 30)
		do_chan_create(di, true);
	else if (k < 45)
		do_chan_destroy(di, true);
	else if (k < 80)
		do_chan_fd(di, true);
	else
		do_notify(di, true);
	return true;
}

struct op {
	const char	*name;
	bool		(*fn)(void);
	unsigned int	weight;
	bool		wild_ok;
	unsigned long long n;
};

static struct op ops[] = {
	{ "open",		op_open,		6,	true },
	{ "dup",		op_dup,			1,	true },
	{ "close",		op_close_dev,		3,	true },
	{ "setup",		op_setup,		6,	false },
	{ "ioctl",		op_ioctl,		30,	true },
	{ "chan",		op_chan_sane,		16,	false },
	{ "eventfd-burst",	op_eventfd_burst,	1,	false },
	{ "unknown-ioctl",	op_unknown_ioctl,	3,	true },
	{ "wrong-fd-ioctl",	op_wrong_fd_ioctl,	2,	true },
	{ "dev-read-write",	op_dev_rw,		1,	true },
	{ "mmap",		op_mmap,		8,	true },
	{ "munmap",		op_munmap,		4,	true },
	{ "mremap",		op_mremap,		4,	true },
	{ "mprotect",		op_mprotect,		4,	true },
	{ "scribble",		op_scribble,		10,	true },
	{ "peek",		op_peek,		2,	true },
	{ "send-mapped",	op_send_mapped,		4,	true },
	{ "claim",		op_claim,		6,	true },
	{ "crash",		op_crash,		2,	false },
	{ "header",		op_header,		2,	false },
	{ "chan-read",		op_chan_read,		7,	true },
	{ "chan-write",		op_chan_write,		7,	true },
	{ "poll",		op_poll,		4,	true },
	{ "chan-block",		op_chan_block,		1,	true },
	{ "nonblock",		op_fcntl_nonblock,	1,	true },
	{ "close-chan",		op_close_chfd,		3,	true },
	{ "eventfds",		op_eventfds,		2,	true },
	{ "epoll",		op_epoll,		2,	true },
	{ "sysfs",		op_sysfs,		2,	false },
	{ "fork",		op_fork,		1,	false },
	{ "race",		op_race,		1,	false },
	{ "wild",		op_wild,		1,	false },
};

#define NOPS	(sizeof(ops) / sizeof(ops[0]))

static bool run_op(void)
{
	unsigned int total = 0, k, r;

	for (k = 0; k < NOPS; k++)
		total += ops[k].weight;
	r = (unsigned int)below(total);
	for (k = 0; r >= ops[k].weight; k++)
		r -= ops[k].weight;
	if (g.is_wild && !ops[k].wild_ok)
		return false;
	if (!ops[k].fn())
		return false;
	ops[k].n++;
	return true;
}

/* -------------------------------------------------------------- cleanup */

/* Close and unmap everything, destroy every region of the run. */
static void cleanup(bool check)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	struct expect e;
	int i, fd, ret;

	reap_wild(true, check);
	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd >= 0) {
			close(g.chfd[i].fd);
			g.chfd[i].fd = -1;
		}
	for (i = 0; i < MAX_EVFDS; i++)
		if (g.evfd[i].fd >= 0) {
			close(g.evfd[i].fd);
			g.evfd[i].fd = -1;
		}
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr) {
			munmap(g.piece[i].addr, g.piece[i].len);
			g.piece[i].addr = NULL;
		}
	for (i = 0; i < MAX_DEVFDS; i++)
		if (g.devfd[i].fd >= 0) {
			close(g.devfd[i].fd);
			file(g.devfd[i].file)->nfds--;
			g.devfd[i].fd = -1;
		}
	gc();
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v)) {
		if (check)
			fail("cleanup: open %s: %s", DMXP_DEVICE, strerror(errno));
		return;
	}
	for (i = 0; i < NSLOTS; i++) {
		int ins = named_inst(i);

		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.name[i]);
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"})", fd, g.name[i]);
		ret = ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq) ? -errno : 0;
		result_ret(ret);
		if (check) {
			ex_reset(&e);
			ex_add(&e, ENOENT, tri_of(ins < 0));
			verdict(&e, ret);
		}
		if (ins >= 0) {
			inst(ins)->named = false;
			regs_drop(ins, -1, -1);
		}
	}
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
	strcpy(rq.name, g.crash_name);
	ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
	close(fd);
	gc();
	for (i = 0; i < MAX_INST && check; i++)
		if (inst(i)->used)
			fail("cleanup: the model still holds a region of %s", g.name[inst(i)->slot]);
}

/* ------------------------------------------------------------ the kernel log */

static int kmsg_fd = -1;

static void kmsg_start(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* The number of bad lines logged since kmsg_start(), or -1. */
static int kmsg_bad(void)
{
	static const char *const bad[] = {
		"BUG:", "WARNING:", "Oops", "Call Trace", "KASAN", "lockdep", "circular locking",
		"inconsistent lock state", "general protection", "dmxp: ",
	};
	char rec[2048];
	int n = 0;
	ssize_t r;
	size_t k;

	if (kmsg_fd < 0)
		return -1;
	for (;;) {
		r = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;
		if (r <= 0)
			break;
		rec[r] = '\0';
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			if (strstr(rec, bad[k])) {
				/* The module's only notice of a working kind: it loaded. */
				if (k == sizeof(bad) / sizeof(bad[0]) - 1 &&
				    strstr(rec, "dmxp: version "))
					continue;
				printf("# kernel: %s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
				n++;
				break;
			}
	}
	return n;
}

/* ----------------------------------------------------------------- main */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--seconds S | --ops N] [-v] [--no-wild]\n"
		"          [--op-timeout S] [--mem-budget MIB]\n", prog);
	exit(2);
}

static void set_names(void)
{
	int pid = (int)getpid(), i;
	struct stat sb;

	for (i = 0; i < NSLOTS; i++)
		snprintf(g.name[i], DMXP_NAME_MAX, "fz%d-%d", pid, i);
	/* The longest name: 31 characters, every class. */
	snprintf(g.name[4], DMXP_NAME_MAX, "fz%d-Z.z_9-", pid);
	memset(g.name[4] + strlen(g.name[4]), 'x', DMXP_NAME_MAX - 1 - strlen(g.name[4]));
	g.name[4][DMXP_NAME_MAX - 1] = '\0';
	snprintf(g.nx_name, DMXP_NAME_MAX, "fz%d-none", pid);
	snprintf(g.race_name, DMXP_NAME_MAX, "fz%d-race", pid);
	snprintf(g.crash_name, DMXP_NAME_MAX, "fz%d-crash", pid);
	g.default_slot = -1;
	if (stat(SYSFS_DIR "/" DMXP_DEFAULT_NAME, &sb)) {
		strcpy(g.name[5], DMXP_DEFAULT_NAME);
		g.default_slot = 5;
	}
}

int main(int argc, char **argv)
{
	const char *env;
	struct timespec t0, t1;
	static double elapsed;
	static bool fuzz_ok = true;
	char *before, *after;
	struct sigaction sa;
	int i, bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	g.pg = (unsigned long)sysconf(_SC_PAGESIZE);
	g.op_timeout = 20;
	g.budget = 96ULL << 20;
	g.who = "";
	env = getenv("DMXP_FUZZ_SECONDS");
	g.seconds = env && *env ? atof(env) : 25;
	env = getenv("DMXP_FUZZ_SEED");
	clock_gettime(CLOCK_REALTIME, &t0);
	g.seed = env && *env ? strtoull(env, NULL, 0) :
		 ((unsigned long long)t0.tv_sec * 1000003ULL) ^ (unsigned long long)t0.tv_nsec ^
		 ((unsigned long long)getpid() << 32);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			g.seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			g.seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			g.max_ops = strtoull(argv[++i], NULL, 0);
			g.seconds = 0;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			g.verbose = true;
		} else if (!strcmp(argv[i], "--no-wild")) {
			g.no_wild = true;
		} else if (!strcmp(argv[i], "--op-timeout") && i + 1 < argc) {
			g.op_timeout = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--mem-budget") && i + 1 < argc) {
			g.budget = strtoull(argv[++i], NULL, 0) << 20;
		} else {
			usage(argv[0]);
		}
	}

	ksft_print_header();
	ksft_set_plan(3);
	if (access(DMXP_DEVICE, F_OK) || geteuid() != 0) {
		const char *why = geteuid() ? "needs root" : "no " DMXP_DEVICE
				  ": the module is not loaded";

		ksft_test_result_skip("fuzz: %s\n", why);
		ksft_test_result_skip("accounting: %s\n", why);
		ksft_test_result_skip("kernel log: %s\n", why);
		ksft_print_cnts();
		return KSFT_SKIP;
	}
	if (g.max_ops)
		ksft_print_msg("seed %llu, %llu steps (replay: %s --seed %llu --ops %llu -v)\n",
			       g.seed, g.max_ops, argv[0], g.seed, g.max_ops);
	else
		ksft_print_msg("seed %llu, %.0f s (replay: %s --seed %llu --ops STEPS -v)\n",
			       g.seed, g.seconds, argv[0], g.seed);

	g.default_size = (__u64)read_num(PARAM_DIR "/default_size", 10);
	g.max_region_size = (__u64)read_num(PARAM_DIR "/max_region_size", 10);
	g.max_total_size = (__u64)read_num(PARAM_DIR "/max_total_size", 10);
	g.default_mode = (__u32)read_num(PARAM_DIR "/default_mode", 10);
	if ((long long)g.default_size <= 0 || (long long)g.max_region_size <= 0 ||
	    (long long)g.max_total_size <= 0 || (int)g.default_mode < 0)
		ksft_exit_fail_msg("cannot read the module's parameters in %s\n", PARAM_DIR);
	set_names();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	arena = mmap(NULL, 2 * g.pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	i = memfd_create("fuzz-ro", MFD_CLOEXEC);
	if (arena == MAP_FAILED || i < 0 || ftruncate(i, (off_t)g.pg) ||
	    mprotect(arena + g.pg, g.pg, PROT_NONE))
		ksft_exit_fail_msg("argument pages: %s\n", strerror(errno));
	ro_page = mmap(NULL, g.pg, PROT_READ, MAP_SHARED, i, 0);
	ro_page_w = mmap(NULL, g.pg, PROT_READ | PROT_WRITE, MAP_SHARED, i, 0);
	close(i);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	child_failed = mmap(NULL, g.pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_failed == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (ro_page == MAP_FAILED || ro_page_w == MAP_FAILED || g.epfd < 0)
		ksft_exit_fail_msg("argument pages: %s\n", strerror(errno));
	for (i = 0; i < MAX_DEVFDS; i++)
		g.devfd[i].fd = -1;
	for (i = 0; i < MAX_CHFDS; i++)
		g.chfd[i].fd = -1;
	for (i = 0; i < MAX_EVFDS; i++)
		g.evfd[i].fd = -1;
	g.next_ev = 1;

	/* Where the module stands before the run. */
	before = sysfs_snapshot();
	have_vmallocinfo = !vmalloc_usage(&start_areas, &start_pages);
	if (!have_vmallocinfo)
		ksft_print_msg("no /proc/vmallocinfo: region memory is not checked\n");
	{
		DIR *d = opendir(SYSFS_DIR);
		struct dirent *de;
		char path[512];

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/size", de->d_name);
			g.total_before += (__u64)read_num(path, 10);
		}
		if (d)
			closedir(d);
	}
	kmsg_start();
	rng = g.seed;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (setjmp(fail_jmp)) {
		fuzz_ok = false;
		goto report;
	}
	for (g.ops = 0; !g.max_ops || g.ops < g.max_ops; g.ops++) {
		if (!g.max_ops && !(g.ops & 15)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (elapsed >= g.seconds)
				break;
		}
		if (g.nwild)
			reap_wild(false, true);
		arm(g.op_timeout);
		while (!run_op())
			;
		arm(0);
		if (g.ops % 500 == 499)
			check_state("during the run");
	}
	check_state("at the end of the run");
	cleanup(true);
	check_state("after the cleanup");
report:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	arm(g.op_timeout * 4);
	if (!fuzz_ok) {
		if (setjmp(fail_jmp) == 0)
			cleanup(false);
	}
	arm(0);
	ksft_print_msg("%llu steps, %llu calls in %.1f s; %llu children, %llu wild\n", g.ops,
		       g.calls, elapsed, g.forks, g.wilds);
	ksft_print_msg("%llu repairs of dying files checked, %llu after a live lease's record; %llu slots repaired where the claim table was written at random\n",
		       g.repairs, g.repairs_waited, g.repairs_seen);
	ksft_print_msg("replay: %s --seed %llu --ops %llu [-v] [--no-wild]\n", argv[0], g.seed,
		       fuzz_ok ? g.ops : g.ops + 1);
	for (i = 0; i < (int)NOPS; i++)
		printf("%s%s %llu", i ? "," : "# steps:", ops[i].name, ops[i].n);
	printf("\n# errors:");
	for (i = 1; i < NERR; i++)
		if (g.errs[i])
			printf(" %s %llu", errname(i), g.errs[i]);
	printf("\n");
	if (fuzz_ok)
		ksft_test_result_pass("fuzz: seed %llu, %llu steps\n", g.seed, g.ops);
	else
		ksft_test_result_fail("fuzz: seed %llu, step %llu: %s\n", g.seed, g.ops, fail_msg);

	if (!fuzz_ok) {
		ksft_test_result_skip("accounting: not checked after a failure\n");
	} else {
		long long areas, pages;

		after = sysfs_snapshot();
		vmalloc_usage_want(&areas, &pages, start_areas, start_pages);
		if (!before || !after || strcmp(before, after)) {
			printf("# before:\n%s# after:\n%s", before ? before : "?", after ? after : "?");
			ksft_test_result_fail("accounting: /sys/kernel/dmxp differs from the start\n");
		} else if (have_vmallocinfo && (areas != start_areas || pages != start_pages)) {
			ksft_test_result_fail("accounting: region memory %lld areas %lld pages, at the start %lld %lld\n",
					      areas, pages, start_areas, start_pages);
		} else {
			ksft_test_result_pass("accounting: /sys/kernel/dmxp and region memory as at the start\n");
		}
		free(after);
	}
	free(before);
	bad = kmsg_bad();
	if (bad < 0)
		ksft_test_result_skip("kernel log: cannot read /dev/kmsg\n");
	else if (bad)
		ksft_test_result_fail("kernel log: %d bad lines\n", bad);
	else
		ksft_test_result_pass("kernel log: no BUG, WARNING or Oops\n");
	ksft_print_cnts();
	return ksft_get_fail_cnt() ? KSFT_FAIL : KSFT_PASS;
}
