// SPDX-License-Identifier: MIT
/*
 * Threaded MPMC test, built with ThreadSanitizer over the library sources.
 *
 * P producer and C consumer threads share one region handle and one
 * channel; each thread opens its own channel handle, or all use one
 * shared handle.  Producers mix send, send_batch and reserve/commit (and
 * abort); consumers mix recv, recv_batch and peek/release.  The test
 * asserts no loss, no duplicate, intact payloads and metadata, per-producer
 * FIFO in each consumer and message_id increasing with each producer's
 * counter.
 *
 * A data race makes TSan exit the test's process with status 66 (its
 * default exitcode), which the harness reports as a failure ("failed at
 * step #66"); tsan_self_check below proves that this path works.
 *
 * DMXP_STRESS_SECONDS=N makes each test send for N seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

/* The harness (and TEST()) leave parameters unused; -Werror must not trip. */
#include "kselftest_harness.h"
#include "helpers.h"
#include "workload.h"

#define MAX_THREADS	4
#define CHAN_ID		9
#define DEADLINE_S	90
#define HARNESS_TIMEOUT	(DEADLINE_S + 30)
#define RECORD_BUDGET	(1ULL << 24)	/* records in a long run, all producers */

struct ctx {
	struct wl_run wl;
	struct wl_shared sh;
	struct dmxp_region *r;
	struct dmxp_chan *shared_chan;	/* NULL: each thread opens its own */
};

struct thread_arg {
	struct ctx *ctx;
	unsigned int id;
	int ret;
};

static int get_chan(struct ctx *x, struct dmxp_chan **c)
{
	if (x->shared_chan) {
		*c = x->shared_chan;
		return 0;
	}
	return dmxp_chan_open(x->r, CHAN_ID, c);
}

static void put_chan(struct ctx *x, struct dmxp_chan *c)
{
	if (c != x->shared_chan)
		dmxp_chan_close(c);
}

/* A producer or consumer thread, with its channel handle (own or shared). */
static void *worker(void *arg, bool produce)
{
	struct thread_arg *ta = arg;
	struct ctx *x = ta->ctx;
	wl_bufs bufs;
	struct dmxp_chan *c;

	ta->ret = get_chan(x, &c);
	if (ta->ret) {
		__atomic_store_n(&x->sh.abort, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	if (produce)
		wl_produce(&x->wl, c, ta->id, bufs);
	else
		wl_consume(&x->wl, c, ta->id, bufs);
	put_chan(x, c);
	return NULL;
}

static void *producer(void *arg)
{
	return worker(arg, true);
}

static void *consumer(void *arg)
{
	return worker(arg, false);
}

FIXTURE(tt) {
	char path[256];
	struct dmxp_region *r;
	__u64 *records;
};

FIXTURE_VARIANT(tt) {
	unsigned int producers;
	unsigned int consumers;
	unsigned int capacity;
	unsigned int per_prod;
	bool shared_handle;
};

FIXTURE_VARIANT_ADD(tt, p2c2_own) { 2, 2, 16, 40000, false };
FIXTURE_VARIANT_ADD(tt, p2c2_shared) { 2, 2, 16, 40000, true };
FIXTURE_VARIANT_ADD(tt, p4c4_own) { 4, 4, 16, 15000, false };
FIXTURE_VARIANT_ADD(tt, p4c4_shared) { 4, 4, 16, 15000, true };
FIXTURE_VARIANT_ADD(tt, p2c2_cap2) { 2, 2, 2, 25000, false };

FIXTURE_SETUP(tt)
{
	test_region_path(self->path, sizeof(self->path), "tsan");
}

FIXTURE_TEARDOWN(tt)
{
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
	free(self->records);
}

TEST_F_TIMEOUT(tt, run, HARNESS_TIMEOUT)
{
	unsigned int secs = test_stress_seconds();
	unsigned int np = variant->producers, nc = variant->consumers;
	struct thread_arg pa[MAX_THREADS], ca[MAX_THREADS];
	pthread_t pt[MAX_THREADS], ct[MAX_THREADS];
	struct dmxp_chan_info info;
	long long start = test_now_ns();
	__u64 total = 0;
	struct wl_tally t;
	struct ctx *x;
	unsigned int i, p;

	x = calloc(1, sizeof(*x));
	ASSERT_NE(NULL, x);
	x->wl.sh = &x->sh;
	x->wl.chan_id = CHAN_ID;
	x->wl.producers = np;
	x->wl.deadline = start + (long long)(DEADLINE_S + 2ULL * secs) * 1000000000LL;
	if (secs) {
		x->wl.send_until = start + (long long)secs * 1000000000LL;
		x->wl.per_prod = RECORD_BUDGET / np;
		x->sh.expected = ~0ULL;
	} else {
		x->wl.per_prod = variant->per_prod;
		x->sh.expected = np * x->wl.per_prod;
	}
	self->records = calloc(np * x->wl.per_prod, sizeof(__u64));
	ASSERT_NE(NULL, self->records);
	x->wl.records = self->records;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	x->r = self->r;
	ASSERT_EQ(0, dmxp_chan_create(x->r, CHAN_ID, variant->capacity));
	if (variant->shared_handle)
		ASSERT_EQ(0, dmxp_chan_open(x->r, CHAN_ID, &x->shared_chan));

	for (i = 0; i < nc; i++) {
		ca[i] = (struct thread_arg){ .ctx = x, .id = i };
		ASSERT_EQ(0, pthread_create(&ct[i], NULL, consumer, &ca[i]));
	}
	for (i = 0; i < np; i++) {
		pa[i] = (struct thread_arg){ .ctx = x, .id = i };
		ASSERT_EQ(0, pthread_create(&pt[i], NULL, producer, &pa[i]));
	}
	for (i = 0; i < np; i++) {
		pthread_join(pt[i], NULL);
		EXPECT_EQ(0, pa[i].ret);
		total += __atomic_load_n(&x->sh.sent[i], __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(&x->sh.expected, total, __ATOMIC_RELEASE);
	for (i = 0; i < nc; i++) {
		pthread_join(ct[i], NULL);
		EXPECT_EQ(0, ca[i].ret);
	}
	if (x->shared_chan)
		dmxp_chan_close(x->shared_chan);
	ASSERT_EQ(0, dmxp_chan_info(x->r, CHAN_ID, &info));

	TH_LOG("%ux%u cap %u %s handles: %llu messages in %.2f s", np, nc,
	       variant->capacity, variant->shared_handle ? "shared" : "own",
	       (unsigned long long)total, (test_now_ns() - start) / 1e9);
	if (x->sh.err.taken)
		TH_LOG("first error: %s", x->sh.err.msg);

	if (!secs)
		for (p = 0; p < np; p++)
			EXPECT_EQ(x->wl.per_prod, x->sh.sent[p]);
	wl_tally(&x->wl, &t);
	EXPECT_EQ(0U, x->sh.abort);
	EXPECT_EQ(0U, x->sh.api_errors);
	EXPECT_EQ(total, x->sh.received);
	EXPECT_EQ(0ULL, t.lost);
	EXPECT_EQ(0ULL, t.dups);
	EXPECT_EQ(0U, x->sh.corrupt);
	EXPECT_EQ(0U, x->sh.tombstones_seen);
	EXPECT_EQ(0U, x->sh.fifo_errors);
	EXPECT_EQ(0ULL, t.order);
	EXPECT_EQ(info.head, info.tail);
	free(x);
}

/*
 * A race must fail a test: TSan's default exitcode (66) replaces the exit
 * status of a process in which it reported a race, _exit() included.
 * Check that here with a deliberate race in a child (its report is sent
 * to /dev/null), so that TSAN_OPTIONS=exitcode=0 or a harness change
 * cannot silently turn races into passes.
 */
static int racy;

static void *race_writer(void *arg)
{
	(void)arg;
	racy++;
	return NULL;
}

TEST(tsan_self_check)
{
	int status, fd;
	pid_t pid;

	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		pthread_t t;

		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		if (pthread_create(&t, NULL, race_writer, NULL))
			_exit(1);
		racy++;
		pthread_join(t, NULL);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(66, WEXITSTATUS(status)) {
		TH_LOG("a data race did not change the exit status: check TSAN_OPTIONS");
	}
}

/*
 * The harness's timeout is fixed at compile time; a long run needs more.
 * _tt_run_object is the test's registration, made by TEST_F_TIMEOUT.
 */
static void __attribute__((constructor)) tt_timeout(void)
{
	unsigned int secs = test_stress_seconds();

	if (secs)
		_tt_run_object.timeout = (int)(HARNESS_TIMEOUT + 2 * secs);
}

TEST_HARNESS_MAIN
