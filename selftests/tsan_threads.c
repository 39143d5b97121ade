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
#include "common.h"

#define TT_MAGIC	0x54534e31u	/* "TSN1" */
#define MAX_THREADS	4
#define MAX_BATCH	8
#define CHAN_ID		9
#define DEADLINE_S	90
#define HARNESS_TIMEOUT	(DEADLINE_S + 30)
#define RECORD_BUDGET	(1ULL << 24)	/* records in a long run, all producers */

struct msg_hdr {
	__u32	magic;
	__u32	producer;
	__u64	counter;
	__u64	hash;
	__u32	body_len;
	__u32	__pad;
};

#define BODY_MAX	(DMXP_MAX_PAYLOAD - sizeof(struct msg_hdr))
#define REC_SEEN	(1ULL << 56)
#define REC_ID_MASK	(REC_SEEN - 1)

struct ctx {
	struct dmxp_region *r;
	struct dmxp_chan *shared_chan;	/* NULL: each thread opens its own */
	unsigned int producers;
	__u64 per_prod;
	long long send_until;
	long long deadline;
	__u32 pid;

	/* All atomic. */
	__u64 expected;
	__u64 received;
	__u64 sent[MAX_THREADS];
	__u32 abort;
	__u32 corrupt;
	__u32 fifo_errors;
	__u32 api_errors;
	__u32 first_error_taken;
	char first_error[256];
	__u64 *records;
};

struct thread_arg {
	struct ctx *ctx;
	unsigned int id;
	int ret;
};

static void note_error(struct ctx *x, __u32 *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_error(struct ctx *x, __u32 *counter, const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&x->first_error_taken, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(x->first_error, sizeof(x->first_error), fmt, ap);
	va_end(ap);
}

static bool should_stop(struct ctx *x)
{
	if (__atomic_load_n(&x->abort, __ATOMIC_RELAXED))
		return true;
	if (test_now_ns() > x->deadline) {
		__atomic_store_n(&x->abort, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

static size_t build_msg(unsigned char *buf, unsigned int p, __u64 n)
{
	struct msg_hdr h = {
		.magic = TT_MAGIC,
		.producer = p,
		.counter = n,
		.body_len = test_body_len(BODY_MAX, p, n),
	};
	unsigned char *body = buf + sizeof(h);

	test_fill(body, h.body_len, p, n);
	h.hash = test_hash(body, h.body_len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.body_len;
}

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

static void *producer(void *arg)
{
	struct thread_arg *ta = arg;
	struct ctx *x = ta->ctx;
	unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	unsigned int p = ta->id;
	unsigned long spins = 0;
	struct dmxp_chan *c;
	__u64 n = 0;
	int ret;

	ta->ret = get_chan(x, &c);
	if (ta->ret) {
		__atomic_store_n(&x->abort, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	while (n < x->per_prod) {
		unsigned int mode = (unsigned int)(n % 5);

		if (x->send_until && test_now_ns() > x->send_until)
			break;
		if (mode <= 1) {
			size_t len = build_msg(bufs[0], p, n);

			ret = dmxp_chan_send(c, bufs[0], len, test_msg_type(p, n));
		} else if (mode == 2) {
			struct dmxp_ref ref;

			ret = dmxp_chan_reserve(c, &ref);
			if (!ret && n % 13 == 2) {
				dmxp_chan_abort(c, &ref);
				ret = dmxp_chan_reserve(c, &ref);
			}
			if (!ret) {
				size_t len = build_msg(ref.payload, p, n);

				ret = dmxp_chan_commit(c, &ref, len, test_msg_type(p, n));
			}
		} else {
			struct dmxp_smsg msgs[MAX_BATCH];
			unsigned int k, want = 1 + (unsigned int)(n % MAX_BATCH);

			if (want > x->per_prod - n)
				want = (unsigned int)(x->per_prod - n);
			for (k = 0; k < want; k++) {
				msgs[k].buf = bufs[k];
				msgs[k].len = (__u32)build_msg(bufs[k], p, n + k);
				msgs[k].type = test_msg_type(p, n + k);
			}
			ret = dmxp_chan_send_batch(c, msgs, want);
			if (ret > 0) {
				if ((unsigned int)ret > want) {
					note_error(x, &x->api_errors,
						   "send_batch(%u) returned %d", want, ret);
					break;
				}
				n += (unsigned int)ret;
				continue;
			}
		}
		if (!ret) {
			n++;
			continue;
		}
		if (ret != -EAGAIN) {
			note_error(x, &x->api_errors, "producer %u: error %d", p, ret);
			break;
		}
		if (!(++spins & 63) && should_stop(x))
			break;
		sched_yield();
	}
	__atomic_store_n(&x->sent[p], n, __ATOMIC_RELEASE);
	put_chan(x, c);
	return NULL;
}

struct consumer_state {
	struct ctx *x;
	unsigned int id;
	__s64 last[MAX_THREADS];
};

static void consume(struct consumer_state *cs, const unsigned char *buf,
		    size_t len, const struct dmxp_msg_meta *meta)
{
	struct ctx *x = cs->x;
	struct msg_hdr h;

	__atomic_fetch_add(&x->received, 1, __ATOMIC_RELEASE);
	if (len < sizeof(h)) {
		note_error(x, &x->corrupt, "consumer %u: short message, id %llu",
			   cs->id, (unsigned long long)meta->message_id);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != TT_MAGIC || h.producer >= x->producers ||
	    h.counter >= x->per_prod) {
		note_error(x, &x->corrupt, "consumer %u: bad header, id %llu",
			   cs->id, (unsigned long long)meta->message_id);
		return;
	}
	if (h.body_len != test_body_len(BODY_MAX, h.producer, h.counter) ||
	    len != sizeof(h) + h.body_len ||
	    test_hash(buf + sizeof(h), h.body_len) != h.hash)
		note_error(x, &x->corrupt, "consumer %u: corrupt body of %u/%llu",
			   cs->id, h.producer, (unsigned long long)h.counter);
	else if (meta->payload_len != len || meta->channel_id != CHAN_ID ||
		 meta->message_type != test_msg_type(h.producer, h.counter) ||
		 meta->sender_pid != x->pid || meta->flags ||
		 meta->sender_runtime != DMXP_RUNTIME_C)
		note_error(x, &x->corrupt, "consumer %u: bad meta of %u/%llu",
			   cs->id, h.producer, (unsigned long long)h.counter);

	if ((__s64)h.counter <= cs->last[h.producer])
		note_error(x, &x->fifo_errors,
			   "consumer %u: producer %u counter %llu after %lld",
			   cs->id, h.producer, (unsigned long long)h.counter,
			   (long long)cs->last[h.producer]);
	cs->last[h.producer] = (__s64)h.counter;
	__atomic_fetch_add(&x->records[h.producer * x->per_prod + h.counter],
			   REC_SEEN | (meta->message_id & REC_ID_MASK),
			   __ATOMIC_RELAXED);
}

static void *consumer(void *arg)
{
	struct thread_arg *ta = arg;
	struct ctx *x = ta->ctx;
	struct consumer_state cs = { .x = x, .id = ta->id };
	unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	unsigned long iter = 0, spins = 0;
	struct dmxp_chan *c;
	unsigned int i;
	int ret;

	for (i = 0; i < MAX_THREADS; i++)
		cs.last[i] = -1;
	ta->ret = get_chan(x, &c);
	if (ta->ret) {
		__atomic_store_n(&x->abort, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	while (__atomic_load_n(&x->received, __ATOMIC_ACQUIRE) <
	       __atomic_load_n(&x->expected, __ATOMIC_ACQUIRE)) {
		unsigned int mode = (unsigned int)((iter + ta->id) % 3);

		if (mode == 0) {
			struct dmxp_msg_meta meta;
			ssize_t len = dmxp_chan_recv(c, bufs[0], sizeof(bufs[0]), &meta);

			ret = len < 0 ? (int)len : 0;
			if (len >= 0)
				consume(&cs, bufs[0], (size_t)len, &meta);
		} else if (mode == 1) {
			struct dmxp_rmsg msgs[MAX_BATCH];
			unsigned int k, want = 1 + (unsigned int)(iter % MAX_BATCH);

			for (k = 0; k < want; k++) {
				msgs[k].buf = bufs[k];
				msgs[k].buf_len = DMXP_MAX_PAYLOAD;
			}
			ret = dmxp_chan_recv_batch(c, msgs, want);
			if (ret > (int)want) {
				note_error(x, &x->api_errors, "recv_batch(%u) returned %d",
					   want, ret);
				break;
			}
			for (k = 0; ret > 0 && k < (unsigned int)ret; k++)
				consume(&cs, msgs[k].buf, msgs[k].len, &msgs[k].meta);
			if (ret > 0)
				ret = 0;
		} else {
			struct dmxp_ref ref;

			ret = dmxp_chan_peek(c, &ref);
			if (!ret) {
				struct dmxp_msg_meta meta = *ref.meta;

				consume(&cs, ref.payload,
					meta.payload_len > DMXP_MAX_PAYLOAD ?
					DMXP_MAX_PAYLOAD : meta.payload_len, &meta);
				dmxp_chan_release(c, &ref);
			}
		}
		iter++;
		if (!ret)
			continue;
		if (ret != -EAGAIN) {
			note_error(x, &x->api_errors, "consumer %u: error %d", ta->id, ret);
			break;
		}
		if (!(++spins & 63) && should_stop(x))
			break;
		sched_yield();
	}
	put_chan(x, c);
	return NULL;
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
	__u64 total = 0, lost = 0, dups = 0, order = 0;
	struct ctx *x;
	unsigned int i, p;

	x = calloc(1, sizeof(*x));
	ASSERT_NE(NULL, x);
	x->producers = np;
	x->pid = (__u32)getpid();
	x->deadline = start + (long long)(DEADLINE_S + 2ULL * secs) * 1000000000LL;
	if (secs) {
		x->send_until = start + (long long)secs * 1000000000LL;
		x->per_prod = RECORD_BUDGET / np;
		x->expected = ~0ULL;
	} else {
		x->per_prod = variant->per_prod;
		x->expected = np * x->per_prod;
	}
	self->records = calloc(np * x->per_prod, sizeof(__u64));
	ASSERT_NE(NULL, self->records);
	x->records = self->records;

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
		total += __atomic_load_n(&x->sent[i], __ATOMIC_ACQUIRE);
	}
	__atomic_store_n(&x->expected, total, __ATOMIC_RELEASE);
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
	if (x->first_error_taken)
		TH_LOG("first error: %s", x->first_error);

	for (p = 0; p < np; p++) {
		__u64 n, prev_id = 0;

		if (!secs)
			EXPECT_EQ(x->per_prod, x->sent[p]);
		for (n = 0; n < x->sent[p]; n++) {
			__u64 rec = x->records[p * x->per_prod + n];
			__u64 seen = rec / REC_SEEN, id = rec & REC_ID_MASK;

			if (seen != 1) {
				if (!seen)
					lost++;
				else
					dups++;
				if (lost + dups <= 10)
					TH_LOG("producer %u message %llu seen %llu times", p,
					       (unsigned long long)n, (unsigned long long)seen);
				continue;
			}
			if (n && id <= prev_id && ++order <= 10)
				TH_LOG("producer %u message %llu: id %llu after %llu", p,
				       (unsigned long long)n, (unsigned long long)id,
				       (unsigned long long)prev_id);
			prev_id = id;
		}
	}
	EXPECT_EQ(0U, x->abort);
	EXPECT_EQ(0U, x->api_errors);
	EXPECT_EQ(total, x->received);
	EXPECT_EQ(0ULL, lost);
	EXPECT_EQ(0ULL, dups);
	EXPECT_EQ(0U, x->corrupt);
	EXPECT_EQ(0U, x->fifo_errors);
	EXPECT_EQ(0ULL, order);
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
