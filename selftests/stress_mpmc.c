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
#include "common.h"

#define STRESS_MAGIC	0x53545245u	/* "STRE" */
#define MAX_PROCS	8
#define MAX_BATCH	8
#define CHAN_ID		42

/* Watchdog of a default run, and the slack added to a long one. */
#define DEADLINE_S	60
#define HARNESS_TIMEOUT	(DEADLINE_S + 30)

/* In long mode, records are bounded: 2^26 of 8 bytes, shared by producers. */
#define RECORD_BUDGET	(1ULL << 26)

struct msg_hdr {
	__u32	magic;
	__u32	producer;
	__u64	counter;
	__u64	hash;		/* test_hash() of the body */
	__u32	body_len;
	__u32	pid;		/* the producer's, checked against meta */
};

#define BODY_MAX	(DMXP_MAX_PAYLOAD - sizeof(struct msg_hdr))

/*
 * One record per (producer, counter): the top byte counts how often the
 * message was seen, the low 56 bits hold its message_id.  Both are added
 * with one atomic add, so a duplicate shows as a count of 2 (and a
 * garbled id, which no longer matters).
 */
#define REC_SEEN	(1ULL << 56)
#define REC_ID_MASK	(REC_SEEN - 1)

struct shared {
	__u64	expected;		/* total to receive; ~0 until known */
	__u64	received;		/* atomic */
	__u64	sent[MAX_PROCS];	/* written by each producer at exit */
	__u32	abort;			/* atomic: stop everything */
	__u32	corrupt;		/* atomic: bad checksum, header or meta */
	__u32	fifo_errors;		/* atomic */
	__u32	api_errors;		/* atomic: unexpected return values */
	__u32	tombstones_seen;	/* atomic: must stay 0 */
	char	first_error[256];	/* the first problem, for the log */
	__u32	first_error_taken;	/* atomic */
	__u64	records[];		/* [producer * per_prod + counter] */
};

struct run {
	struct shared *sh;
	size_t sh_size;
	const char *path;
	unsigned int producers, consumers;
	__u64 per_prod;		/* counter limit (records per producer) */
	long long send_until;	/* long mode: stop sending then; 0 = count */
	long long deadline;	/* watchdog: give up then */
};

static void note_error(struct shared *sh, __u32 *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_error(struct shared *sh, __u32 *counter, const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&sh->first_error_taken, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->first_error, sizeof(sh->first_error), fmt, ap);
	va_end(ap);
}

static bool should_stop(const struct run *rn)
{
	if (__atomic_load_n(&rn->sh->abort, __ATOMIC_RELAXED))
		return true;
	if (test_now_ns() > rn->deadline) {
		__atomic_store_n(&rn->sh->abort, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

/* Build message (p, n) at @buf; returns its total length. */
static size_t build_msg(unsigned char *buf, unsigned int p, __u64 n, __u32 pid)
{
	struct msg_hdr h = {
		.magic = STRESS_MAGIC,
		.producer = p,
		.counter = n,
		.body_len = test_body_len(BODY_MAX, p, n),
		.pid = pid,
	};
	unsigned char *body = buf + sizeof(h);

	test_fill(body, h.body_len, p, n);
	h.hash = test_hash(body, h.body_len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.body_len;
}

/* ---------------------------------------------------------------- producer */

static int producer(const struct run *rn, unsigned int p)
{
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct shared *sh = rn->sh;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	__u32 pid = (__u32)getpid();
	__u64 n = 0;
	unsigned long spins = 0;
	int ret;

	ret = dmxp_region_open(rn->path, 0, 0, &r);
	if (ret)
		return 10;
	ret = dmxp_chan_open(r, CHAN_ID, &c);
	if (ret)
		return 11;

	while (n < rn->per_prod) {
		unsigned int mode = (unsigned int)(n % 5);

		if (rn->send_until && test_now_ns() > rn->send_until)
			break;
		if (mode <= 1) {
			size_t len = build_msg(bufs[0], p, n, pid);

			ret = dmxp_chan_send(c, bufs[0], len, test_msg_type(p, n));
		} else if (mode == 2) {
			struct dmxp_ref ref;

			ret = dmxp_chan_reserve(c, &ref);
			if (!ret && n % 13 == 2) {
				/* Give it up once: consumers skip a tombstone. */
				dmxp_chan_abort(c, &ref);
				ret = dmxp_chan_reserve(c, &ref);
			}
			if (!ret) {
				size_t len = build_msg(ref.payload, p, n, pid);

				ret = dmxp_chan_commit(c, &ref, len, test_msg_type(p, n));
			}
		} else {
			struct dmxp_smsg msgs[MAX_BATCH];
			unsigned int k, want = 1 + (unsigned int)(n % MAX_BATCH);

			if (want > rn->per_prod - n)
				want = (unsigned int)(rn->per_prod - n);
			for (k = 0; k < want; k++) {
				msgs[k].buf = bufs[k];
				msgs[k].len = (__u32)build_msg(bufs[k], p, n + k, pid);
				msgs[k].type = test_msg_type(p, n + k);
			}
			ret = dmxp_chan_send_batch(c, msgs, want);
			if (ret > 0) {
				if ((unsigned int)ret > want) {
					note_error(sh, &sh->api_errors,
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
			note_error(sh, &sh->api_errors,
				   "producer %u: error %d at message %llu",
				   p, ret, (unsigned long long)n);
			break;
		}
		if (!(++spins & 63) && should_stop(rn))
			break;
		sched_yield();
	}
	__atomic_store_n(&sh->sent[p], n, __ATOMIC_RELEASE);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/* ---------------------------------------------------------------- consumer */

struct consumer_state {
	const struct run *rn;
	unsigned int id;
	__s64 last[MAX_PROCS];	/* last counter seen from each producer */
};

static void consume(struct consumer_state *cs, const unsigned char *buf,
		    size_t len, const struct dmxp_msg_meta *meta)
{
	const struct run *rn = cs->rn;
	struct shared *sh = rn->sh;
	struct msg_hdr h;
	__u64 rec;

	__atomic_fetch_add(&sh->received, 1, __ATOMIC_RELEASE);
	if (meta->flags & DMXP_MSG_TOMBSTONE) {
		note_error(sh, &sh->tombstones_seen, "consumer %u got a tombstone at id %llu",
			   cs->id, (unsigned long long)meta->message_id);
		return;
	}
	if (len < sizeof(h)) {
		note_error(sh, &sh->corrupt, "consumer %u: short message (%zu bytes) id %llu",
			   cs->id, len, (unsigned long long)meta->message_id);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != STRESS_MAGIC || h.producer >= rn->producers ||
	    h.counter >= rn->per_prod) {
		note_error(sh, &sh->corrupt,
			   "consumer %u: bad header (magic %#x producer %u counter %llu) id %llu",
			   cs->id, h.magic, h.producer, (unsigned long long)h.counter,
			   (unsigned long long)meta->message_id);
		return;
	}
	if (h.body_len != test_body_len(BODY_MAX, h.producer, h.counter) ||
	    len != sizeof(h) + h.body_len ||
	    test_hash(buf + sizeof(h), h.body_len) != h.hash) {
		note_error(sh, &sh->corrupt,
			   "consumer %u: corrupt body of %u/%llu (len %zu body %u) id %llu",
			   cs->id, h.producer, (unsigned long long)h.counter, len,
			   h.body_len, (unsigned long long)meta->message_id);
	} else if (meta->payload_len != len || meta->channel_id != CHAN_ID ||
		   meta->message_type != test_msg_type(h.producer, h.counter) ||
		   meta->sender_pid != h.pid ||
		   meta->sender_runtime != DMXP_RUNTIME_C || meta->flags ||
		   meta->__pad || !meta->timestamp_ns ||
		   meta->timestamp_ns > (__u64)test_now_ns()) {
		note_error(sh, &sh->corrupt,
			   "consumer %u: bad meta of %u/%llu: len %u chan %u type %#x pid %u/%u rt %u flags %#x",
			   cs->id, h.producer, (unsigned long long)h.counter,
			   meta->payload_len, meta->channel_id, meta->message_type,
			   meta->sender_pid, h.pid, meta->sender_runtime, meta->flags);
	}

	if ((__s64)h.counter <= cs->last[h.producer])
		note_error(sh, &sh->fifo_errors,
			   "consumer %u: producer %u counter %llu after %lld",
			   cs->id, h.producer, (unsigned long long)h.counter,
			   (long long)cs->last[h.producer]);
	cs->last[h.producer] = (__s64)h.counter;

	rec = REC_SEEN | (meta->message_id & REC_ID_MASK);
	__atomic_fetch_add(&sh->records[h.producer * rn->per_prod + h.counter], rec,
			   __ATOMIC_RELAXED);
}

static bool consumers_done(const struct shared *sh)
{
	__u64 expected = __atomic_load_n(&sh->expected, __ATOMIC_ACQUIRE);

	return __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE) >= expected;
}

static int consumer(const struct run *rn, unsigned int id)
{
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct consumer_state cs = { .rn = rn, .id = id };
	struct shared *sh = rn->sh;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	unsigned long iter = 0, spins = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < MAX_PROCS; i++)
		cs.last[i] = -1;
	ret = dmxp_region_open(rn->path, 0, 0, &r);
	if (ret)
		return 20;
	ret = dmxp_chan_open(r, CHAN_ID, &c);
	if (ret)
		return 21;

	while (!consumers_done(sh)) {
		unsigned int mode = (unsigned int)((iter + id) % 3);

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
				note_error(sh, &sh->api_errors, "recv_batch(%u) returned %d",
					   want, ret);
				break;
			}
			for (k = 0; ret > 0 && k < (unsigned int)ret; k++) {
				if (msgs[k].len != msgs[k].meta.payload_len)
					note_error(sh, &sh->corrupt,
						   "recv_batch: len %u, meta says %u",
						   msgs[k].len, msgs[k].meta.payload_len);
				consume(&cs, msgs[k].buf, msgs[k].len, &msgs[k].meta);
			}
			if (ret > 0)
				ret = 0;
		} else {
			struct dmxp_ref ref;

			ret = dmxp_chan_peek(c, &ref);
			if (!ret) {
				struct dmxp_msg_meta meta = *ref.meta;
				size_t len = meta.payload_len;

				if (len > DMXP_MAX_PAYLOAD)
					len = DMXP_MAX_PAYLOAD;
				consume(&cs, ref.payload, len, &meta);
				dmxp_chan_release(c, &ref);
			}
		}
		if (!ret) {
			iter++;
			continue;
		}
		if (ret != -EAGAIN) {
			note_error(sh, &sh->api_errors, "consumer %u: error %d", id, ret);
			break;
		}
		iter++;
		if (!(++spins & 63) && should_stop(rn))
			break;
		sched_yield();
	}
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
static void watch_drain(struct dmxp_region *r, struct shared *sh, long long deadline)
{
	struct timespec pause = { 0, 20000000 };
	__u64 last = ~0ULL;
	long long since = 0;

	while (!consumers_done(sh) && !__atomic_load_n(&sh->abort, __ATOMIC_RELAXED)) {
		struct dmxp_chan_info info;
		__u64 got = __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE);
		long long now = test_now_ns();

		if (now > deadline || dmxp_chan_info(r, CHAN_ID, &info))
			break;
		if (info.head != info.tail || got != last) {
			last = got;
			since = now;
		} else if (now - since > 2000000000LL) {
			if (!__atomic_exchange_n(&sh->first_error_taken, 1, __ATOMIC_ACQ_REL))
				snprintf(sh->first_error, sizeof(sh->first_error),
					 "ring empty at position %llu for 2 s with %llu of %llu messages received",
					 (unsigned long long)info.tail, (unsigned long long)got,
					 (unsigned long long)sh->expected);
			break;
		}
		nanosleep(&pause, NULL);
	}
	if (!consumers_done(sh))
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
	struct run rn = { .path = self->path, .producers = np, .consumers = nc };
	long long start = test_now_ns();
	__u64 total = 0, lost = 0, dups = 0, order = 0;
	unsigned int i, p;
	int status, bad_exit = 0;

	rn.deadline = start + (long long)(DEADLINE_S + 2ULL * secs) * 1000000000LL;
	if (secs) {
		rn.send_until = start + (long long)secs * 1000000000LL;
		rn.per_prod = RECORD_BUDGET / np;
	} else {
		rn.per_prod = variant->per_prod;
		/*
		 * The kernel backend runs in an emulated guest, several times
		 * slower, and a checked kernel slower again.
		 */
		if (test_on_kernel())
			rn.per_prod /= 4;
		rn.per_prod = rn.per_prod / test_time_scale() ?: 1;
	}

	self->sh_size = sizeof(struct shared) + np * rn.per_prod * sizeof(__u64);
	self->sh = mmap(NULL, self->sh_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh) {
		self->sh = NULL;
	}
	rn.sh = self->sh;
	rn.sh_size = self->sh_size;
	rn.sh->expected = secs ? ~0ULL : np * rn.per_prod;

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
			__atomic_store_n(&rn.sh->abort, 1, __ATOMIC_RELAXED);
			dmxp_region_close(r);
		}
		if (!pid) {
			/* The harness's asserts longjmp: never use them here. */
			dmxp_region_close(r);
			_exit(is_prod ? producer(&rn, i - nc) : consumer(&rn, i));
		}
		self->pids[self->nr_pids++] = pid;
	}

	/* Producers, then (once the total is known) consumers. */
	for (i = nc; i < nc + np; i++) {
		status = wait_child(self->pids[i], rn.deadline);
		if (status) {
			TH_LOG("producer %u: %s %d", i - nc,
			       status < 0 ? "timed out, wait" : "exit", status);
			bad_exit++;
			__atomic_store_n(&rn.sh->abort, 1, __ATOMIC_RELAXED);
		}
		self->pids[i] = 0;
	}
	for (p = 0; p < np; p++)
		total += __atomic_load_n(&rn.sh->sent[p], __ATOMIC_ACQUIRE);
	__atomic_store_n(&rn.sh->expected, total, __ATOMIC_RELEASE);
	watch_drain(r, rn.sh, rn.deadline);
	for (i = 0; i < nc; i++) {
		status = wait_child(self->pids[i], rn.deadline);
		if (status) {
			TH_LOG("consumer %u: %s %d", i,
			       status < 0 ? "timed out, wait" : "exit", status);
			bad_exit++;
			__atomic_store_n(&rn.sh->abort, 1, __ATOMIC_RELAXED);
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
	if (rn.sh->first_error_taken)
		TH_LOG("first error: %s", rn.sh->first_error);

	for (p = 0; p < np; p++) {
		__u64 n, sent = rn.sh->sent[p], prev_id = 0;

		if (!secs && sent != rn.per_prod) {
			TH_LOG("producer %u sent %llu of %llu", p,
			       (unsigned long long)sent, (unsigned long long)rn.per_prod);
			bad_exit++;
		}
		for (n = 0; n < sent; n++) {
			__u64 rec = rn.sh->records[p * rn.per_prod + n];
			__u64 seen = rec / REC_SEEN, id = rec & REC_ID_MASK;

			if (seen != 1) {
				if (!seen)
					lost++;
				else
					dups++;
				if (lost + dups <= 10)
					TH_LOG("producer %u message %llu seen %llu times",
					       p, (unsigned long long)n,
					       (unsigned long long)seen);
				continue;
			}
			if (n && id <= prev_id) {
				if (++order <= 10)
					TH_LOG("producer %u message %llu has id %llu after %llu",
					       p, (unsigned long long)n,
					       (unsigned long long)id,
					       (unsigned long long)prev_id);
			}
			prev_id = id;
		}
	}

	EXPECT_EQ(0, bad_exit);
	EXPECT_EQ(0U, rn.sh->abort);
	EXPECT_EQ(0U, rn.sh->api_errors);
	EXPECT_EQ(total, rn.sh->received);
	EXPECT_EQ(0ULL, lost);
	EXPECT_EQ(0ULL, dups);
	EXPECT_EQ(0U, rn.sh->corrupt);
	EXPECT_EQ(0U, rn.sh->tombstones_seen);
	EXPECT_EQ(0U, rn.sh->fifo_errors);
	EXPECT_EQ(0ULL, order);
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
