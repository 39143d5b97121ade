// SPDX-License-Identifier: MIT
/*
 * Stress of the wake protocol: no wake-up is ever lost.
 *
 * P producers, each a forked process, send in bursts of a random 1..50
 * messages with dmxp_chan_send_wait(FOREVER) and pause a random 0..2 ms
 * between bursts.  C consumers receive with dmxp_chan_recv_wait(FOREVER)
 * only, so they fall asleep in every pause and must be woken by the next
 * burst; on the smallest ring the producers sleep too, waiting for room.
 * Half of the processes spin before sleeping (the default budget), half
 * do not spin at all.  When the producers are done, the test sends one
 * "stop" message per consumer behind all the others.
 *
 * The test asserts that every message is received exactly once, that each
 * consumer sees each producer's messages in order, and that nothing
 * hangs: a lost wake-up leaves a sleeper with work waiting, which the
 * watchdog reports (ring depth and waiter counts) after a few seconds of
 * no progress; every process also has an alarm as a last resort.
 *
 * By default the whole file runs in seconds (fewer bursts on the kernel
 * backend, which runs in an emulated guest).  DMXP_STRESS_SECONDS=N makes
 * each combination send for N seconds instead.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"

#define WAKE_MAGIC	0x57414b45u	/* "WAKE" */
#define STOP_PRODUCER	0xffffu
#define MAX_PROCS	8
#define CHAN_ID		17
#define BURST_MAX	50
#define PAUSE_MAX_US	2000

#define DEADLINE_S	60
#define HARNESS_TIMEOUT	(DEADLINE_S + 30)
#define STALL_NS	(3000000000LL)	/* no progress for this long: a hang */

/* Records in long mode: 2^24 per producer at most. */
#define LONG_PER_PROD	(1ULL << 24)

struct wmsg {
	__u32	magic;
	__u32	producer;
	__u64	counter;
};

struct shared {
	__u64	sent[MAX_PROCS];	/* atomic: messages sent so far */
	__u64	received;		/* atomic */
	__u32	errors;			/* atomic: API errors, corruption */
	__u32	fifo_errors;		/* atomic */
	struct test_first_error	err;	/* the first problem, for the log */
	__u8	records[];		/* [producer * per_prod + counter]: times seen */
};

struct run {
	struct shared *sh;
	const char *path;
	unsigned int producers, consumers;
	unsigned int bursts;	/* per producer, in a default run */
	__u64 per_prod;		/* the counter limit */
	long long send_until;	/* long mode */
	unsigned int alarm_s;
};

static int open_chan(const struct run *rn, struct dmxp_region **r, struct dmxp_chan **c,
		     bool spin)
{
	if (dmxp_region_open(rn->path, 0, 0, r))
		return -1;
	if (dmxp_chan_open(*r, CHAN_ID, c)) {
		dmxp_region_close(*r);
		return -1;
	}
	if (!spin && dmxp_chan_set_spin(*c, 0)) {
		dmxp_chan_close(*c);
		dmxp_region_close(*r);
		return -1;
	}
	return 0;
}

static int producer(const struct run *rn, unsigned int p)
{
	struct shared *sh = rn->sh;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	__u64 seed = (__u64)getpid() * 0x9E3779B97F4A7C15ULL ^ (__u64)test_now_ns();
	__u64 n = 0;
	unsigned int b;

	if (open_chan(rn, &r, &c, p % 2 == 0))
		return 10;
	for (b = 0; ; b++) {
		unsigned int k, burst = 1 + (unsigned int)(test_xorshift(&seed) % BURST_MAX);
		unsigned int pause = (unsigned int)(test_xorshift(&seed) % (PAUSE_MAX_US + 1));

		if (rn->send_until ? test_now_ns() > rn->send_until : b >= rn->bursts)
			break;
		for (k = 0; k < burst && n < rn->per_prod; k++, n++) {
			struct wmsg m = { WAKE_MAGIC, p, n };
			int ret = dmxp_chan_send_wait(c, &m, sizeof(m), p, DMXP_WAIT_FOREVER);

			if (ret) {
				test_note_error(&sh->err, &sh->errors, "producer %u: send_wait: %d", p, ret);
				goto out;
			}
			__atomic_store_n(&sh->sent[p], n + 1, __ATOMIC_RELEASE);
		}
		if (n >= rn->per_prod)
			break;
		/* A pause of 0 keeps bursts back to back now and then. */
		if (pause % 4)
			usleep(pause);
	}
out:
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

static int consumer(const struct run *rn, unsigned int id)
{
	struct shared *sh = rn->sh;
	__s64 last[MAX_PROCS];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	unsigned int i;

	for (i = 0; i < MAX_PROCS; i++)
		last[i] = -1;
	if (open_chan(rn, &r, &c, id % 2 == 0))
		return 20;
	for (;;) {
		struct dmxp_msg_meta meta;
		struct wmsg m;
		ssize_t len = dmxp_chan_recv_wait(c, &m, sizeof(m), &meta, DMXP_WAIT_FOREVER);

		if (len < 0) {
			test_note_error(&sh->err, &sh->errors, "consumer %u: recv_wait: %zd", id, len);
			break;
		}
		if (len != sizeof(m) || m.magic != WAKE_MAGIC) {
			test_note_error(&sh->err, &sh->errors, "consumer %u: bad message (len %zd)", id, len);
			continue;
		}
		if (m.producer == STOP_PRODUCER)
			break;
		if (m.producer >= rn->producers || m.counter >= rn->per_prod ||
		    meta.message_type != m.producer) {
			test_note_error(&sh->err, &sh->errors, "consumer %u: bad header %u/%llu", id,
				   m.producer, (unsigned long long)m.counter);
			continue;
		}
		if ((__s64)m.counter <= last[m.producer])
			test_note_error(&sh->err, &sh->fifo_errors,
				   "consumer %u: producer %u: %llu after %lld", id, m.producer,
				   (unsigned long long)m.counter, (long long)last[m.producer]);
		last[m.producer] = (__s64)m.counter;
		__atomic_fetch_add(&sh->records[m.producer * rn->per_prod + m.counter], 1,
				   __ATOMIC_RELAXED);
		__atomic_fetch_add(&sh->received, 1, __ATOMIC_RELEASE);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/* ------------------------------------------------------------------- test */

FIXTURE(wake) {
	char path[256];
	struct shared *sh;
	size_t sh_size;
	pid_t pids[2 * MAX_PROCS];
	unsigned int nr_pids;
};

FIXTURE_VARIANT(wake) {
	unsigned int producers;
	unsigned int consumers;
	unsigned int capacity;
	unsigned int bursts;	/* per producer, natively */
};

FIXTURE_VARIANT_ADD(wake, p1c1) { 1, 1, 64, 3000 };
FIXTURE_VARIANT_ADD(wake, p2c2) { 2, 2, 64, 3000 };
/* Several consumers asleep on one channel. */
FIXTURE_VARIANT_ADD(wake, p1c4) { 1, 4, 64, 3000 };
/* A small ring: producers sleep in send_wait too. */
FIXTURE_VARIANT_ADD(wake, p4c1_cap4) { 4, 1, 4, 1500 };

FIXTURE_SETUP(wake)
{
	test_region_path(self->path, sizeof(self->path), "wake");
}

FIXTURE_TEARDOWN(wake)
{
	test_kill_children(self->pids, &self->nr_pids);
	test_region_remove(self->path);
	if (self->sh)
		munmap(self->sh, self->sh_size);
}

static __u64 progress(const struct shared *sh, unsigned int np)
{
	__u64 sum = __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE);
	unsigned int p;

	for (p = 0; p < np; p++)
		sum += __atomic_load_n(&sh->sent[p], __ATOMIC_ACQUIRE);
	return sum;
}

/*
 * Wait for children [@from, @to) to exit while watching for a stall: no
 * message sent or received for STALL_NS.  Returns the number of children
 * that failed; *@stalled tells whether the watchdog fired.
 */
static int watch(FIXTURE_DATA(wake) *self, struct __test_metadata *_metadata,
		 struct dmxp_region *r, unsigned int np, unsigned int from,
		 unsigned int to, long long deadline, bool *stalled)
{
	const struct dmxp_channel_entry *e = &dmxp_region_header(r)->channels[CHAN_ID];
	__u64 last = progress(self->sh, np);
	long long since = test_now_ns();
	unsigned int left = to - from;
	int bad = 0;

	while (left) {
		struct timespec pause = { 0, 5000000 };
		long long now = test_now_ns();
		__u64 p;

		bad += (int)test_reap_ended(self->pids, from, to, &left);
		if (!left)
			break;
		p = progress(self->sh, np);
		if (p != last) {
			last = p;
			since = now;
		} else if (now - since > STALL_NS || now > deadline) {
			struct dmxp_chan_info info;

			dmxp_chan_info(r, CHAN_ID, &info);
			TH_LOG("%s: depth %llu of %llu, recv_waiters %u, send_waiters %u, %llu received",
			       now > deadline ? "deadline passed" : "no progress for 3 s",
			       (unsigned long long)info.depth,
			       (unsigned long long)info.capacity,
			       __atomic_load_n(&e->recv_waiters, __ATOMIC_SEQ_CST),
			       __atomic_load_n(&e->send_waiters, __ATOMIC_SEQ_CST),
			       (unsigned long long)__atomic_load_n(&self->sh->received,
								   __ATOMIC_SEQ_CST));
			if (info.depth && info.depth < info.capacity)
				TH_LOG("a lost wake-up: messages and room, yet everyone asleep");
			*stalled = true;
			return bad + (int)left;
		}
		nanosleep(&pause, NULL);
	}
	return bad;
}

TEST_F_TIMEOUT(wake, run, HARNESS_TIMEOUT)
{
	unsigned int secs = test_stress_seconds();
	unsigned int np = variant->producers, nc = variant->consumers;
	struct run rn = { .path = self->path, .producers = np, .consumers = nc };
	long long start = test_now_ns(), deadline;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_chan_info info;
	__u64 total = 0, lost = 0, dups = 0, n;
	bool stalled = false;
	unsigned int i, p;
	int bad = 0;

	rn.alarm_s = DEADLINE_S + 2 * secs + 10;
	deadline = start + (long long)(DEADLINE_S + 2ULL * secs) * 1000000000LL;
	rn.bursts = variant->bursts;
	if (test_on_kernel())
		rn.bursts /= 3;		/* an emulated guest, slower */
	rn.bursts = rn.bursts / test_time_scale() ?: 1;	/* a checked kernel */
	if (secs) {
		rn.send_until = start + (long long)secs * 1000000000LL;
		rn.per_prod = LONG_PER_PROD;
	} else {
		rn.per_prod = (__u64)rn.bursts * BURST_MAX;
	}

	self->sh_size = sizeof(struct shared) + np * rn.per_prod;
	self->sh = mmap(NULL, self->sh_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh) {
		self->sh = NULL;
	}
	rn.sh = self->sh;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, CHAN_ID, variant->capacity)) {
		dmxp_region_close(r);
	}
	ASSERT_EQ(0, dmxp_chan_open(r, CHAN_ID, &c)) {
		dmxp_region_close(r);
	}

	/* Consumers first: they fall asleep on the empty ring. */
	for (i = 0; i < nc + np; i++) {
		bool is_prod = i >= nc;
		pid_t pid = fork();

		ASSERT_GE(pid, 0) {
			dmxp_chan_close(c);
			dmxp_region_close(r);
		}
		if (!pid) {
			/* A hang ends here at the latest. */
			alarm(rn.alarm_s);
			_exit(is_prod ? producer(&rn, i - nc) : consumer(&rn, i));
		}
		self->pids[self->nr_pids++] = pid;
	}

	bad += watch(self, _metadata, r, np, nc, nc + np, deadline, &stalled);
	for (p = 0; p < np; p++)
		total += __atomic_load_n(&self->sh->sent[p], __ATOMIC_ACQUIRE);
	/* One stop per consumer, behind every message. */
	for (i = 0; !stalled && i < nc; i++) {
		struct wmsg m = { WAKE_MAGIC, STOP_PRODUCER, i };
		int ret = dmxp_chan_send_wait(c, &m, sizeof(m), STOP_PRODUCER,
					      10000000000LL);

		EXPECT_EQ(0, ret) {
			stalled = true;
		}
	}
	if (!stalled)
		bad += watch(self, _metadata, r, np, 0, nc, deadline, &stalled);
	test_kill_children(self->pids, &self->nr_pids);

	ASSERT_EQ(0, dmxp_chan_info(r, CHAN_ID, &info)) {
		dmxp_chan_close(c);
		dmxp_region_close(r);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);

	TH_LOG("%ux%u cap %u: %llu messages in %.2f s", np, nc, variant->capacity,
	       (unsigned long long)total, (test_now_ns() - start) / 1e9);
	if (self->sh->err.taken)
		TH_LOG("first error: %s", self->sh->err.msg);

	for (p = 0; p < np; p++) {
		__u64 sent = self->sh->sent[p];

		if (!secs && sent != rn.per_prod && sent < (__u64)rn.bursts) {
			TH_LOG("producer %u sent only %llu", p, (unsigned long long)sent);
			bad++;
		}
		for (n = 0; n < sent; n++) {
			__u8 seen = self->sh->records[p * rn.per_prod + n];

			if (seen == 1)
				continue;
			if (!seen)
				lost++;
			else
				dups++;
			if (lost + dups <= 10)
				TH_LOG("producer %u message %llu seen %u times", p,
				       (unsigned long long)n, seen);
		}
	}

	EXPECT_FALSE(stalled);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0U, self->sh->errors);
	EXPECT_EQ(0U, self->sh->fifo_errors);
	EXPECT_EQ(total, self->sh->received);
	EXPECT_EQ(0ULL, lost);
	EXPECT_EQ(0ULL, dups);
	EXPECT_EQ(0ULL, info.depth);
}

/* Make the harness wait long enough for DMXP_STRESS_SECONDS runs. */
static void __attribute__((constructor)) stress_timeout(void)
{
	unsigned int secs = test_stress_seconds();

	if (secs)
		_wake_run_object.timeout = (int)(HARNESS_TIMEOUT + 2 * secs);
}

TEST_HARNESS_MAIN
