// SPDX-License-Identifier: MIT
/*
 * Stress of the sleepers' re-check: no message sits in the ring while a
 * consumer sleeps.
 *
 * Several channels, each with C consumer processes and P producers.  One
 * consumer of each channel, the sleeper, receives with
 * dmxp_chan_recv_wait() only; the others poll with dmxp_chan_recv() every
 * few dozen microseconds, and after each message they get they "work"
 * for longer than the bound, away from the ring.  Producers send bursts
 * of a few messages back to back and pause a random while, often longer
 * than the bound too.  So a message the sleeper sleeps through sits in
 * the ring until the next burst, or until a poller is back.
 *
 * Each message carries its send time.  Whoever receives it computes how
 * long it sat in the ring while the channel's sleeper was inside
 * dmxp_chan_recv_wait(): from the later of the send and the start of that
 * call, to the receipt.  Any such wait above BOUND_MS fails the test.
 *
 * In the "jitter" variants the sleeper's library calls are slowed at two
 * steps through the test hooks (this program is built with
 * DMXP_TEST_HOOKS).  Before it counts itself a waiter, it often asks a
 * producer to end its pause at once ("kick") and waits a moment, so that
 * a burst lands unannounced, notifying nobody; in its re-check, between
 * loading head and the slot there, it yields or sleeps a little, while
 * the pollers take messages.  That is the interleaving of a lost wake-up
 * with several consumers, made frequent instead of rare.  The "plain"
 * variant runs without the hooks' help.  (On kernel regions the module's
 * poll() looks at the ring once more as the sleeper goes to sleep, which
 * hides most of a library re-check's mistakes from this test; test_wait's
 * recheck_* tests pin the re-check itself on both backends.)
 *
 * Each variant runs for STRESS_S seconds; DMXP_STRESS_SECONDS=N makes it
 * N seconds.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"
#include "internal.h"		/* the test hooks */

extern void (*dmxp__hook_fn)(int step);

#define MS		1000000LL
#define BOUND_MS	100	/* the longest a message may sit under a sleeper */
#define STRESS_S	3	/* seconds per variant by default */
#define CHANS_MAX	4
#define CONS_MAX	4
#define PRODS_MAX	4
#define CH_FIRST	40
#define CAP		64
#define SLEEP_TIMEOUT	(300 * MS)	/* the sleeper looks at "done" this often */
#define LOG_MAX		8	/* offending messages logged */
#define SMSG_MAGIC	0x534c5052u	/* "SLPR" */
#define HARNESS_TIMEOUT	(STRESS_S + 60)

struct smsg {
	__u32	magic;
	__u16	chan;
	__u16	producer;
	__u64	seq;
	__u64	sent_ns;	/* CLOCK_MONOTONIC at the send */
};

/* One channel's shared state; atomics throughout. */
struct chan_state {
	__u32	kick;		/* the sleeper asks for a burst now */
	__u64	asleep_since;	/* when its dmxp_chan_recv_wait() began; 0: not in one */
	__u64	sent;
	__u64	received;
	__u64	by_sleeper;	/* messages the sleeper got */
	__u64	calls;		/* dmxp_chan_recv_wait() calls */
	__u64	over;		/* messages that sat longer than BOUND_MS */
	__u64	max_sat_ns;
};

struct shared {
	__u32			done;
	__u32			errors;
	__u32			logged;
	struct test_first_error	err;	/* the first problem, for the log */
	char			log[LOG_MAX][128];
	struct chan_state	ch[CHANS_MAX];
};

struct run {
	struct shared	*sh;
	const char	*path;
	unsigned int	chans, cons, prods;
	bool		jitter;
	unsigned int	secs;		/* producers send this long */
};

static __u64 seed_now(void)
{
	return (__u64)getpid() * 0x9E3779B97F4A7C15ULL ^ (__u64)test_now_ns();
}

static void sleep_us(__u64 us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- jitter */

static bool jitter_on;		/* the sleeper, in a jitter variant, in its call */
static __u64 jitter_seed;
static struct chan_state *jitter_cs;

static void jitter(int step)
{
	__u64 r;

	if (!jitter_on)
		return;
	r = test_xorshift(&jitter_seed);
	if (step == DMXP_HOOK_ANNOUNCING) {
		/* Unannounced a moment: a burst lands and notifies nobody. */
		if (r % 4 == 1) {
			sched_yield();
		} else if (r % 4) {
			__atomic_store_n(&jitter_cs->kick, 1, __ATOMIC_RELEASE);
			syscall(SYS_futex, &jitter_cs->kick, FUTEX_WAKE, 1, NULL, NULL, 0);
			sleep_us(150 + (r >> 8) % 150);
		}
	} else if (step == DMXP_HOOK_READY_POS) {
		/* Between head and its slot: the pollers take messages. */
		if (r % 4 == 1)
			sched_yield();
		else if (r % 4)
			sleep_us(300 + (r >> 8) % 1200);
	}
}

/* -------------------------------------------------------------- children */

static int open_chan(const struct run *rn, unsigned int ch, struct dmxp_region **r,
		     struct dmxp_chan **c)
{
	if (dmxp_region_open(rn->path, 0, 0, r))
		return -1;
	if (dmxp_chan_open(*r, CH_FIRST + ch, c)) {
		dmxp_region_close(*r);
		return -1;
	}
	return 0;
}

/* Pause @us microseconds, or until the sleeper kicks (a futex wake). */
static void pause_us(struct chan_state *cs, __u64 us)
{
	long long end = test_now_ns() + (long long)us * 1000;

	for (;;) {
		long long left = end - test_now_ns();
		struct timespec ts = { (time_t)(left / 1000000000), (long)(left % 1000000000) };

		if (__atomic_exchange_n(&cs->kick, 0, __ATOMIC_ACQ_REL) || left <= 0)
			return;
		syscall(SYS_futex, &cs->kick, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
}

static int producer(const struct run *rn, unsigned int ch, unsigned int p)
{
	struct chan_state *cs = &rn->sh->ch[ch];
	long long until = test_now_ns() + (long long)rn->secs * 1000 * MS;
	__u64 seed = seed_now(), seq = 0;
	struct dmxp_region *r;
	struct dmxp_chan *c;

	if (open_chan(rn, ch, &r, &c))
		return 10;
	while (test_now_ns() < until) {
		unsigned int k, burst = 3 + (unsigned int)(test_xorshift(&seed) % 6);
		__u64 pause = test_xorshift(&seed);

		for (k = 0; k < burst; k++) {
			struct smsg m = { SMSG_MAGIC, (__u16)ch, (__u16)p, seq, 0 };
			int ret;

			m.sent_ns = (__u64)test_now_ns();
			ret = dmxp_chan_send_wait(c, &m, sizeof(m), p, 1000 * MS);
			if (ret) {
				test_note_error(&rn->sh->err, &rn->sh->errors,
						"chan %u producer %u: send: %d", ch, p, ret);
				goto out;
			}
			seq++;
			__atomic_fetch_add(&cs->sent, 1, __ATOMIC_RELEASE);
		}
		/* Now and then a short pause, mostly one past the bound. */
		if (pause % 10 < 3)
			pause_us(cs, (pause >> 8) % 3000);
		else
			pause_us(cs, 120000 + (pause >> 8) % 130000);
	}
out:
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/* A message received at @now: check it, and how long it sat under a sleeper. */
static void account(const struct run *rn, unsigned int ch, const struct smsg *m,
		    ssize_t len, __u64 now, __u64 since, bool sleeper)
{
	struct chan_state *cs = &rn->sh->ch[ch];
	__u64 from, sat, max;

	if (len != sizeof(*m) || m->magic != SMSG_MAGIC || m->chan != ch ||
	    m->producer >= rn->prods) {
		test_note_error(&rn->sh->err, &rn->sh->errors, "chan %u: bad message (len %zd)", ch, len);
		return;
	}
	__atomic_fetch_add(&cs->received, 1, __ATOMIC_RELEASE);
	if (since) {
		from = m->sent_ns > since ? m->sent_ns : since;
		sat = now > from ? now - from : 0;
		max = __atomic_load_n(&cs->max_sat_ns, __ATOMIC_RELAXED);
		while (sat > max && !__atomic_compare_exchange_n(&cs->max_sat_ns, &max, sat,
								 false, __ATOMIC_RELAXED,
								 __ATOMIC_RELAXED))
			;
		if (sat > (__u64)BOUND_MS * MS) {
			__u32 i = __atomic_fetch_add(&rn->sh->logged, 1, __ATOMIC_RELAXED);

			__atomic_fetch_add(&cs->over, 1, __ATOMIC_RELAXED);
			if (i < LOG_MAX)
				snprintf(rn->sh->log[i], sizeof(rn->sh->log[i]),
					 "chan %u: producer %u message %llu sat %.1f ms under a sleeper (received by %s)",
					 ch, m->producer, (unsigned long long)m->seq, sat / 1e6,
					 sleeper ? "the sleeper" : "a poller");
		}
	}
}

/* A poller's work after a message: past the bound, away from the ring. */
static void work(__u64 *seed)
{
	sleep_us(110000 + test_xorshift(seed) % 190000);
}

static int consumer(const struct run *rn, unsigned int ch, unsigned int id)
{
	struct chan_state *cs = &rn->sh->ch[ch];
	bool sleeper = id == 0;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	__u64 seed = seed_now();

	jitter_seed = seed ^ 0x5555;
	jitter_cs = cs;
	dmxp__hook_fn = jitter;
	if (open_chan(rn, ch, &r, &c))
		return 20;
	/* The hooks slow the spin too: there the sleeper goes straight to sleep. */
	if (rn->jitter && dmxp_chan_set_spin(c, 0))
		return 21;
	while (!__atomic_load_n(&rn->sh->done, __ATOMIC_ACQUIRE)) {
		struct smsg m;
		ssize_t len;
		__u64 since, now;

		if (sleeper) {
			since = (__u64)test_now_ns();
			__atomic_store_n(&cs->asleep_since, since, __ATOMIC_SEQ_CST);
			__atomic_fetch_add(&cs->calls, 1, __ATOMIC_RELAXED);
			jitter_on = rn->jitter;
			len = dmxp_chan_recv_wait(c, &m, sizeof(m), NULL, SLEEP_TIMEOUT);
			jitter_on = false;
			now = (__u64)test_now_ns();
			__atomic_store_n(&cs->asleep_since, 0, __ATOMIC_SEQ_CST);
			if (len == -ETIMEDOUT)
				continue;
			if (len < 0) {
				test_note_error(&rn->sh->err, &rn->sh->errors,
						"chan %u consumer %u: recv_wait: %zd", ch, id, len);
				break;
			}
			account(rn, ch, &m, len, now, since, true);
			__atomic_fetch_add(&cs->by_sleeper, 1, __ATOMIC_RELAXED);
			continue;
		}
		len = dmxp_chan_recv(c, &m, sizeof(m), NULL);
		if (len == -EAGAIN) {
			sleep_us(300 + test_xorshift(&seed) % 1200);
			continue;
		}
		now = (__u64)test_now_ns();
		if (len < 0) {
			test_note_error(&rn->sh->err, &rn->sh->errors,
					"chan %u consumer %u: recv: %zd", ch, id, len);
			break;
		}
		since = __atomic_load_n(&cs->asleep_since, __ATOMIC_SEQ_CST);
		account(rn, ch, &m, len, now, since, false);
		work(&seed);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/* ------------------------------------------------------------------- test */

FIXTURE(sleepers) {
	char path[256];
	struct shared *sh;
	pid_t pids[CHANS_MAX * (CONS_MAX + PRODS_MAX)];
	unsigned int nr_pids;
};

FIXTURE_VARIANT(sleepers) {
	unsigned int chans;
	unsigned int cons;	/* per channel */
	unsigned int prods;	/* per channel */
	bool jitter;
};

FIXTURE_VARIANT_ADD(sleepers, ch2_c3_p2_jitter) { 2, 3, 2, true };
FIXTURE_VARIANT_ADD(sleepers, ch1_c4_p1_jitter) { 1, 4, 1, true };
FIXTURE_VARIANT_ADD(sleepers, ch2_c3_p2_plain) { 2, 3, 2, false };

FIXTURE_SETUP(sleepers)
{
	test_region_path(self->path, sizeof(self->path), "sleepers");
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh) {
		self->sh = NULL;
	}
}

FIXTURE_TEARDOWN(sleepers)
{
	test_kill_children(self->pids, &self->nr_pids);
	test_region_remove(self->path);
	if (self->sh)
		munmap(self->sh, sizeof(*self->sh));
}

/* Reap children [@from, @to) within @ms; the number that failed or hang. */
static int reap_all(FIXTURE_DATA(sleepers) *self, struct __test_metadata *_metadata,
		    unsigned int from, unsigned int to, long long ms)
{
	long long end = test_now_ns() + ms * MS;
	unsigned int left = to - from;
	int bad = 0;

	while (left && test_now_ns() < end) {
		bad += (int)test_reap_ended(self->pids, from, to, &left);
		sleep_us(2000);
	}
	if (left)
		TH_LOG("%u children still running", left);
	return bad + (int)left;
}

static __u64 pending(const struct shared *sh, unsigned int chans)
{
	__u64 n = 0;
	unsigned int ch;

	for (ch = 0; ch < chans; ch++)
		n += __atomic_load_n(&sh->ch[ch].sent, __ATOMIC_ACQUIRE) -
		     __atomic_load_n(&sh->ch[ch].received, __ATOMIC_ACQUIRE);
	return n;
}

TEST_F_TIMEOUT(sleepers, run, HARNESS_TIMEOUT)
{
	unsigned int secs = test_stress_seconds() ? test_stress_seconds() : STRESS_S;
	unsigned int nc = variant->cons, np = variant->prods, nch = variant->chans;
	struct run rn = { .sh = self->sh, .path = self->path, .chans = nch, .cons = nc,
			  .prods = np, .jitter = variant->jitter };
	__u64 sent = 0, received = 0, over = 0, calls = 0, by_sleeper = 0, max_sat = 0;
	unsigned int ch, i, nproc = nch * (nc + np);
	struct dmxp_region *r;
	long long end;
	int bad = 0;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	for (ch = 0; ch < nch; ch++)
		ASSERT_EQ(0, dmxp_chan_create(r, CH_FIRST + ch, CAP));
	dmxp_region_close(r);

	rn.secs = secs;
	/* Consumers first, then producers: pids [0, nch * nc) are consumers. */
	for (i = 0; i < nproc; i++) {
		bool is_prod = i >= nch * nc;
		unsigned int k = is_prod ? i - nch * nc : i;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			alarm(secs + 60);	/* a hang ends here at the latest */
			_exit(is_prod ? producer(&rn, k / np, k % np) :
					consumer(&rn, k / nc, k % nc));
		}
		self->pids[self->nr_pids++] = pid;
	}

	bad += reap_all(self, _metadata, nch * nc, nproc, (secs + 20) * 1000LL);
	/* Everything sent is received, then the consumers are told to stop. */
	end = test_now_ns() + 10000 * MS;
	while (pending(self->sh, nch) && test_now_ns() < end)
		sleep_us(5000);
	__atomic_store_n(&self->sh->done, 1, __ATOMIC_RELEASE);
	bad += reap_all(self, _metadata, 0, nch * nc, 10000);

	for (ch = 0; ch < nch; ch++) {
		const struct chan_state *cs = &self->sh->ch[ch];

		sent += cs->sent;
		received += cs->received;
		over += cs->over;
		calls += cs->calls;
		by_sleeper += cs->by_sleeper;
		if (cs->max_sat_ns > max_sat)
			max_sat = cs->max_sat_ns;
	}
	TH_LOG("%u s, %u channels x %u consumers x %u producers%s: %llu messages, "
	       "%llu sleeper calls, %llu got by the sleeper, longest sit under a sleeper %.1f ms",
	       secs, nch, nc, np, variant->jitter ? ", jitter" : "",
	       (unsigned long long)sent, (unsigned long long)calls,
	       (unsigned long long)by_sleeper, max_sat / 1e6);
	for (i = 0; i < self->sh->logged && i < LOG_MAX; i++)
		TH_LOG("%s", self->sh->log[i]);
	if (self->sh->err.taken)
		TH_LOG("first error: %s", self->sh->err.msg);

	EXPECT_EQ(0, bad);
	EXPECT_EQ(0U, self->sh->errors);
	EXPECT_EQ(sent, received);
	/* The run exercised sleeping at all. */
	EXPECT_LT(10ULL, by_sleeper);
	EXPECT_EQ(0ULL, over) TH_LOG("%llu messages sat over %d ms in the ring under a sleeper",
				     (unsigned long long)over, BOUND_MS);
}

/* Make the harness wait long enough for DMXP_STRESS_SECONDS runs. */
static void __attribute__((constructor)) stress_timeout(void)
{
	unsigned int secs = test_stress_seconds();

	if (secs)
		_sleepers_run_object.timeout = (int)(HARNESS_TIMEOUT + secs);
}

TEST_HARNESS_MAIN
