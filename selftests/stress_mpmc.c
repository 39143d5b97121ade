// SPDX-License-Identifier: MIT
/*
 * Multi-process stress test of one channel: P producers and C consumers,
 * each a forked process, on a small ring that is full and empty often.
 *
 * Every message is a header (producer, counter, body length, checksum)
 * and a body whose length follows from the counter.  Producers mix
 * dmxp_chan_send(), dmxp_chan_send_batch() and reserve/commit (with the
 * odd abort, a tombstone consumers must skip); consumers mix
 * dmxp_chan_recv(), dmxp_chan_recv_batch() and peek/release.  Consumers
 * record each (producer, counter) they see, with its message_id, in a
 * shared anonymous mapping; the test then asserts
 *
 *   - every message seen exactly once: no loss, no duplicate;
 *   - every checksum and metadata field right;
 *   - per-producer FIFO as seen by each consumer;
 *   - message_id strictly increasing with the counter of each producer.
 *
 * By default each combination sends a fixed count and the whole file runs
 * in seconds.  DMXP_STRESS_SECONDS=N makes each combination send for N
 * seconds instead (`make stress`).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "helpers.h"
#include "workload.h"

#define MAX_PROCS	WL_MAX_PRODUCERS
#define CHAN_ID		42

/* Watchdog of a default run, and the slack added to a long one. */
#define DEADLINE_S	60
#define HARNESS_TIMEOUT	(DEADLINE_S + 30)

/* In long mode, records are bounded: 2^26 of 8 bytes, shared by producers. */
#define RECORD_BUDGET	(1ULL << 26)

/* The workload's state, then its records, in a shared anonymous mapping. */
struct shared {
	struct wl_shared	w;
	__u64			records[];
};

struct run {
	struct wl_run	wl;
	const char	*path;
	unsigned int	consumers;
};

/* Producer or consumer @id, a process of its own: its exit status. */
static int worker(const struct run *rn, unsigned int id, bool produce)
{
	static wl_bufs bufs;
	struct dmxp_region *r;
	struct dmxp_chan *c;

	if (dmxp_region_open(rn->path, 0, 0, &r))
		return produce ? 10 : 20;
	if (dmxp_chan_open(r, CHAN_ID, &c))
		return produce ? 11 : 21;
	if (produce)
		wl_produce(&rn->wl, c, id, bufs);
	else
		wl_consume(&rn->wl, c, id, bufs);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/* ------------------------------------------------------------------- test */

FIXTURE(stress) {
	char path[256];
	struct shared *sh;
	size_t sh_size;
	pid_t pids[2 * MAX_PROCS];
	unsigned int nr_pids;
};

FIXTURE_VARIANT(stress) {
	unsigned int producers;
	unsigned int consumers;
	unsigned int capacity;
	unsigned int per_prod;	/* messages per producer in a default run */
};

FIXTURE_VARIANT_ADD(stress, p1c1) { 1, 1, 64, 300000 };
FIXTURE_VARIANT_ADD(stress, p2c2) { 2, 2, 64, 200000 };
FIXTURE_VARIANT_ADD(stress, p4c1) { 4, 1, 64, 100000 };
FIXTURE_VARIANT_ADD(stress, p1c4) { 1, 4, 64, 300000 };
FIXTURE_VARIANT_ADD(stress, p3c3) { 3, 3, 64, 100000 };
FIXTURE_VARIANT_ADD(stress, p8c8) { 8, 8, 64, 40000 };
/* The smallest ring: every slot turns over all the time. */
FIXTURE_VARIANT_ADD(stress, p2c2_cap2) { 2, 2, 2, 50000 };

FIXTURE_SETUP(stress)
{
	test_region_path(self->path, sizeof(self->path), "stress");
}

FIXTURE_TEARDOWN(stress)
{
	test_kill_children(self->pids, &self->nr_pids);
	test_region_remove(self->path);
	if (self->sh)
		munmap(self->sh, self->sh_size);
}

/* Wait for @pid until @deadline; returns its exit status or -1 on timeout. */
static int wait_child(pid_t pid, long long deadline)
{
	struct timespec pause = { 0, 2000000 };
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (w < 0)
			return -2;
		if (test_now_ns() > deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
}

/*
 * Once the producers are done, wait for the consumers to drain the ring.
 * A ring that stays empty while messages are still missing has lost them:
 * stop the consumers then rather than at the deadline.
 */
static void watch_drain(struct dmxp_region *r, struct wl_shared *sh, long long deadline)
{
	struct timespec pause = { 0, 20000000 };
	__u64 last = ~0ULL;
	long long since = 0;

	while (!wl_consumers_done(sh) && !__atomic_load_n(&sh->abort, __ATOMIC_RELAXED)) {
		struct dmxp_chan_info info;
		__u64 got = __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE);
		long long now = test_now_ns();

		if (now > deadline || dmxp_chan_info(r, CHAN_ID, &info))
			break;
		if (info.head != info.tail || got != last) {
			last = got;
			since = now;
		} else if (now - since > 2000000000LL) {
			if (!__atomic_exchange_n(&sh->err.taken, 1, __ATOMIC_ACQ_REL))
				snprintf(sh->err.msg, sizeof(sh->err.msg),
					 "ring empty at position %llu for 2 s with %llu of %llu messages received",
					 (unsigned long long)info.tail, (unsigned long long)got,
					 (unsigned long long)sh->expected);
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (!wl_consumers_done(sh))
		__atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
}

/*
 * The harness's timeout is fixed at compile time; a long run needs more.
 * _stress_run_object is the test's registration, made by TEST_F_TIMEOUT.
 */
TEST_F_TIMEOUT(stress, run, HARNESS_TIMEOUT)
{
	unsigned int secs = test_stress_seconds();
	unsigned int np = variant->producers, nc = variant->consumers;
	struct dmxp_region *r;
	struct dmxp_chan_info info;
	struct run rn = { .path = self->path, .consumers = nc };
	struct wl_shared *sh;
	struct wl_tally t;
	long long start = test_now_ns();
	__u64 total = 0;
	unsigned int i, p;
	int status, bad_exit = 0;

	rn.wl.deadline = start + (long long)(DEADLINE_S + 2ULL * secs) * 1000000000LL;
	if (secs) {
		rn.wl.send_until = start + (long long)secs * 1000000000LL;
		rn.wl.per_prod = RECORD_BUDGET / np;
	} else {
		rn.wl.per_prod = variant->per_prod;
		/*
		 * The kernel backend runs in an emulated guest, several times
		 * slower, and a checked kernel slower again.
		 */
		if (test_on_kernel())
			rn.wl.per_prod /= 4;
		rn.wl.per_prod = rn.wl.per_prod / test_time_scale() ?: 1;
	}

	self->sh_size = sizeof(struct shared) + np * rn.wl.per_prod * sizeof(__u64);
	self->sh = mmap(NULL, self->sh_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh) {
		self->sh = NULL;
	}
	sh = &self->sh->w;
	rn.wl.sh = sh;
	rn.wl.records = self->sh->records;
	rn.wl.chan_id = CHAN_ID;
	rn.wl.producers = np;
	sh->expected = secs ? ~0ULL : np * rn.wl.per_prod;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, CHAN_ID, variant->capacity)) {
		dmxp_region_close(r);
	}

	/* Consumers first, so producers find the ring drained from the start. */
	for (i = 0; i < nc + np; i++) {
		bool is_prod = i >= nc;
		pid_t pid = fork();

		ASSERT_GE(pid, 0) {
			__atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
			dmxp_region_close(r);
		}
		if (!pid) {
			/* The harness's asserts longjmp: never use them here. */
			dmxp_region_close(r);
			_exit(worker(&rn, is_prod ? i - nc : i, is_prod));
		}
		self->pids[self->nr_pids++] = pid;
	}

	/* Producers, then (once the total is known) consumers. */
	for (i = nc; i < nc + np; i++) {
		status = wait_child(self->pids[i], rn.wl.deadline);
		if (status) {
			TH_LOG("producer %u: %s %d", i - nc,
			       status < 0 ? "timed out, wait" : "exit", status);
			bad_exit++;
			__atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
		}
		self->pids[i] = 0;
	}
	for (p = 0; p < np; p++)
		total += __atomic_load_n(&sh->sent[p], __ATOMIC_ACQUIRE);
	__atomic_store_n(&sh->expected, total, __ATOMIC_RELEASE);
	watch_drain(r, sh, rn.wl.deadline);
	for (i = 0; i < nc; i++) {
		status = wait_child(self->pids[i], rn.wl.deadline);
		if (status) {
			TH_LOG("consumer %u: %s %d", i,
			       status < 0 ? "timed out, wait" : "exit", status);
			bad_exit++;
			__atomic_store_n(&sh->abort, 1, __ATOMIC_RELAXED);
		}
		self->pids[i] = 0;
	}
	test_kill_children(self->pids, &self->nr_pids);

	ASSERT_EQ(0, dmxp_chan_info(r, CHAN_ID, &info)) {
		dmxp_region_close(r);
	}
	dmxp_region_close(r);

	TH_LOG("%ux%u cap %u: %llu messages in %.2f s",
	       np, nc, variant->capacity, (unsigned long long)total,
	       (test_now_ns() - start) / 1e9);
	if (sh->err.taken)
		TH_LOG("first error: %s", sh->err.msg);

	for (p = 0; p < np; p++) {
		if (!secs && sh->sent[p] != rn.wl.per_prod) {
			TH_LOG("producer %u sent %llu of %llu", p,
			       (unsigned long long)sh->sent[p],
			       (unsigned long long)rn.wl.per_prod);
			bad_exit++;
		}
	}
	wl_tally(&rn.wl, &t);

	EXPECT_EQ(0, bad_exit);
	EXPECT_EQ(0U, sh->abort);
	EXPECT_EQ(0U, sh->api_errors);
	EXPECT_EQ(total, sh->received);
	EXPECT_EQ(0ULL, t.lost);
	EXPECT_EQ(0ULL, t.dups);
	EXPECT_EQ(0U, sh->corrupt);
	EXPECT_EQ(0U, sh->tombstones_seen);
	EXPECT_EQ(0U, sh->fifo_errors);
	EXPECT_EQ(0ULL, t.order);
	/* Drained: every position produced (messages and tombstones) consumed. */
	EXPECT_EQ(info.head, info.tail);
	EXPECT_EQ(0ULL, info.depth);
	EXPECT_GE(info.tail, total);
}

/* Make the harness wait long enough for DMXP_STRESS_SECONDS runs. */
static void __attribute__((constructor)) stress_timeout(void)
{
	unsigned int secs = test_stress_seconds();

	if (secs)
		_stress_run_object.timeout = (int)(HARNESS_TIMEOUT + 2 * secs);
}

TEST_HARNESS_MAIN
