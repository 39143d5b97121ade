// SPDX-License-Identifier: MIT
/*
 * The ring: copy, zero-copy and batch messaging on one channel.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

/*
 * The harness leaves some parameters unused (TEST() wrappers, the timeout
 * handler), which -Wextra -Werror would reject.
 */
#include "kselftest_harness.h"
#include "helpers.h"
#include "internal.h"	/* the test hooks: this test is built with DMXP_TEST_HOOKS */

extern int dmxp__hook_step;
extern void (*dmxp__hook_fn)(int step);

#define CH		1	/* the fixture's channel */
#define CH_CAP		8

FIXTURE(ring) {
	char path[256];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_chan *extra[4];
	unsigned int nextra;
};

FIXTURE_SETUP(ring)
{
	test_region_path(self->path, sizeof(self->path), "ring");
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CH_CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
}

FIXTURE_TEARDOWN(ring)
{
	unsigned int i;

	for (i = 0; i < self->nextra; i++)
		dmxp_chan_close(self->extra[i]);
	if (self->c)
		dmxp_chan_close(self->c);
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
}

/* Create channel @id with @cap slots and open it; closed by the teardown. */
#define NEW_CHAN(id, cap) ({						\
	struct dmxp_chan *__c = NULL;					\
									\
	ASSERT_GT(4U, self->nextra);					\
	ASSERT_EQ(0, dmxp_chan_create(self->r, (id), (cap)));		\
	ASSERT_EQ(0, dmxp_chan_open(self->r, (id), &__c));		\
	self->extra[self->nextra++] = __c;				\
	__c;								\
})

/* Send message @n of a deterministic sequence: its length and bytes follow from @n. */
static int send_nth(struct dmxp_chan *c, unsigned long long n)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	size_t len = (size_t)(n * 37 % (DMXP_MAX_PAYLOAD + 1));

	test_fill(buf, len, 0, n);
	return dmxp_chan_send(c, buf, len, (__u32)n);
}

/* Receive and check message @n of that sequence: 0 or a negative errno, 1 if wrong. */
static int recv_nth(struct dmxp_chan *c, unsigned long long n)
{
	unsigned char want[DMXP_MAX_PAYLOAD], got[DMXP_MAX_PAYLOAD];
	size_t len = (size_t)(n * 37 % (DMXP_MAX_PAYLOAD + 1));
	struct dmxp_msg_meta meta;
	ssize_t ret;

	ret = dmxp_chan_recv(c, got, sizeof(got), &meta);
	if (ret < 0)
		return (int)ret;
	test_fill(want, len, 0, n);
	if ((size_t)ret != len || meta.payload_len != len ||
	    meta.message_type != (__u32)n || memcmp(want, got, len))
		return 1;
	return 0;
}

/* ------------------------------------------------------------------ copy */

TEST_F(ring, send_recv_round_trip_with_meta)
{
	static const char *msgs[] = { "first", "", "the third message" };
	unsigned long long t0, t1, last = 0;
	struct dmxp_msg_meta meta;
	char buf[DMXP_MAX_PAYLOAD];
	unsigned int i;

	t0 = (unsigned long long)test_now_ns();
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, dmxp_chan_send(self->c, msgs[i], strlen(msgs[i]), 100 + i));
	}
	t1 = (unsigned long long)test_now_ns();

	for (i = 0; i < 3; i++) {
		memset(&meta, 0xa5, sizeof(meta));
		ASSERT_EQ((ssize_t)strlen(msgs[i]),
			  dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
		EXPECT_EQ(0, memcmp(buf, msgs[i], strlen(msgs[i])));
		EXPECT_EQ((__u64)i, meta.message_id);
		EXPECT_EQ(100 + i, meta.message_type);
		EXPECT_EQ((__u32)strlen(msgs[i]), meta.payload_len);
		EXPECT_EQ((__u32)CH, meta.channel_id);
		EXPECT_EQ((__u32)getpid(), meta.sender_pid);
		EXPECT_EQ(DMXP_RUNTIME_C, meta.sender_runtime);
		EXPECT_EQ(0, meta.flags);
		EXPECT_LE(t0, meta.timestamp_ns);
		EXPECT_GE(t1, meta.timestamp_ns);
		EXPECT_LE(last, meta.timestamp_ns);
		last = meta.timestamp_ns;
	}
}

static unsigned long long coarse_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/* Send one message each way a handle sends: copy, batch, reserve. */
static int send_three_ways(struct dmxp_chan *c)
{
	struct dmxp_smsg m = { .buf = "b", .len = 1, .type = 2 };
	struct dmxp_ref ref;
	int ret;

	ret = dmxp_chan_send(c, "a", 1, 1);
	if (!ret)
		ret = dmxp_chan_send_batch(c, &m, 1) == 1 ? 0 : -1;
	if (!ret)
		ret = dmxp_chan_reserve(c, &ref);
	if (!ret)
		ret = dmxp_chan_commit(c, &ref, 1, 3);
	return ret;
}

/* The three messages' timestamps, in [lo, hi]; hi == 0: each 0. */
static void expect_stamps(struct __test_metadata *_metadata, struct dmxp_chan *c,
			  unsigned long long lo, unsigned long long hi)
{
	struct dmxp_msg_meta meta;
	char buf[8];
	int i;

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
		EXPECT_EQ((__u32)i + 1, meta.message_type);
		if (!hi) {
			EXPECT_EQ(0ULL, meta.timestamp_ns);
			continue;
		}
		EXPECT_LE(lo, meta.timestamp_ns);
		EXPECT_GE(hi, meta.timestamp_ns);
	}
}

TEST_F(ring, timestamp_none_is_zero)
{
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	ASSERT_EQ(0, send_three_ways(self->c));
	expect_stamps(_metadata, self->c, 0, 0);
}

TEST_F(ring, timestamp_coarse_is_the_coarse_clock)
{
	unsigned long long t0, t1;

	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_COARSE));
	t0 = coarse_now_ns();
	ASSERT_EQ(0, send_three_ways(self->c));
	t1 = coarse_now_ns();
	ASSERT_LT(0ULL, t0);
	expect_stamps(_metadata, self->c, t0, t1);
}

/* A policy is the handle's: another handle of the channel stamps precisely. */
TEST_F(ring, timestamp_policy_is_per_handle)
{
	struct dmxp_chan *c2;
	unsigned long long t0, t1;

	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &c2));
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	t0 = (unsigned long long)test_now_ns();
	ASSERT_EQ(0, send_three_ways(c2));
	t1 = (unsigned long long)test_now_ns();
	expect_stamps(_metadata, self->c, t0, t1);
	/* And back to the default. */
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_PRECISE));
	t0 = (unsigned long long)test_now_ns();
	ASSERT_EQ(0, send_three_ways(self->c));
	t1 = (unsigned long long)test_now_ns();
	expect_stamps(_metadata, c2, t0, t1);
	dmxp_chan_close(c2);
}

/*
 * A thread polling an empty ring writes the handle (it counts its
 * -EAGAINs): on lines of their own, or another thread sending through the
 * same handle would lose the lines it reads for every message.
 */
#define LINE_OF(f)	(offsetof(struct dmxp_chan, f) / 64)
TEST_F(ring, handle_fields_written_when_idle_are_off_the_read_mostly_lines)
{
	const size_t hot[] = { LINE_OF(idle), LINE_OF(spin_ns), LINE_OF(stall_pos),
			       LINE_OF(stall_ns), LINE_OF(stall_gap_ns) };
	const size_t cold[] = { LINE_OF(f.region), LINE_OF(f.sentry), LINE_OF(f.stail),
				LINE_OF(f.shead), LINE_OF(f.sslots), LINE_OF(f.capacity),
				LINE_OF(f.mask), LINE_OF(f.id), LINE_OF(f.gen), LINE_OF(f.stamp),
				LINE_OF(f.abi), LINE_OF(fd), LINE_OF(spin_max_ns) };
	struct dmxp_chan *c2;
	size_t i, j;

	for (i = 0; i < sizeof(hot) / sizeof(hot[0]); i++)
		for (j = 0; j < sizeof(cold) / sizeof(cold[0]); j++)
			EXPECT_NE(cold[j] / 2, hot[i] / 2);	/* nor the adjacent line */
	/* Which holds only if the handle starts a pair of lines. */
	EXPECT_EQ(0UL, (unsigned long)self->c % 128);
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &c2));
	EXPECT_EQ(0UL, (unsigned long)c2 % 128);
	dmxp_chan_close(c2);
}
#undef LINE_OF

TEST_F(ring, set_timestamp_unknown_policy_fails_einval)
{
	unsigned long long t0, t1;

	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_COARSE));
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_PRECISE));
	EXPECT_EQ(-EINVAL, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE + 1));
	EXPECT_EQ(-EINVAL, dmxp_chan_set_timestamp(self->c, ~0U));
	/* Unchanged: still precise. */
	t0 = (unsigned long long)test_now_ns();
	ASSERT_EQ(0, send_three_ways(self->c));
	t1 = (unsigned long long)test_now_ns();
	expect_stamps(_metadata, self->c, t0, t1);
}

TEST_F(ring, recv_without_meta)
{
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "abc", 3, 1));
	ASSERT_EQ(3, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
}

TEST_F(ring, fifo_across_many_sends)
{
	unsigned long long sent = 0, got = 0;
	unsigned int round, i;

	/* Fill and drain, then interleave, for many laps of the ring. */
	for (round = 0; round < 200; round++) {
		unsigned int burst = round % (CH_CAP + 1);

		for (i = 0; i < burst; i++) {
			ASSERT_EQ(0, send_nth(self->c, sent++));
		}
		for (i = 0; i < burst; i++) {
			ASSERT_EQ(0, recv_nth(self->c, got++)) TH_LOG("message %llu", got - 1);
		}
	}
	for (i = 0; i < 5000; i++) {
		ASSERT_EQ(0, send_nth(self->c, sent++));
		if (i % 3 != 2) {
			ASSERT_EQ(0, recv_nth(self->c, got++));
		}
		if (sent - got == CH_CAP) {
			while (got < sent) {
				ASSERT_EQ(0, recv_nth(self->c, got++));
			}
		}
	}
	while (got < sent) {
		ASSERT_EQ(0, recv_nth(self->c, got++));
	}
	EXPECT_EQ(-EAGAIN, recv_nth(self->c, got));
}

TEST_F(ring, message_ids_increase_from_zero)
{
	struct dmxp_msg_meta meta;
	char buf[8];
	__u64 i;

	for (i = 0; i < 3 * CH_CAP; i++) {
		ASSERT_EQ(0, dmxp_chan_send(self->c, "m", 1, 0));
		ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
		EXPECT_EQ(i, meta.message_id);
	}
}

TEST_F(ring, recv_empty_fails_eagain)
{
	struct dmxp_msg_meta meta;
	char buf[16];

	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
}

TEST_F(ring, send_full_fails_eagain_and_overwrites_nothing)
{
	struct dmxp_chan *c = NEW_CHAN(2, 4);
	unsigned long long i;

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, send_nth(c, i));
	}
	EXPECT_EQ(-EAGAIN, send_nth(c, 4));
	EXPECT_EQ(-EAGAIN, send_nth(c, 5));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, recv_nth(c, i)) TH_LOG("message %llu", i);
	}
	EXPECT_EQ(-EAGAIN, recv_nth(c, 4));
}

TEST_F(ring, max_payload_round_trips)
{
	unsigned char out[DMXP_MAX_PAYLOAD], in[DMXP_MAX_PAYLOAD];

	test_fill(out, sizeof(out), 1, 1);
	ASSERT_EQ(0, dmxp_chan_send(self->c, out, DMXP_MAX_PAYLOAD, 7));
	ASSERT_EQ(DMXP_MAX_PAYLOAD, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
	EXPECT_EQ(0, memcmp(in, out, sizeof(out)));
}

TEST_F(ring, send_oversize_fails_emsgsize_and_writes_nothing)
{
	unsigned char out[DMXP_MAX_PAYLOAD + 1], in[DMXP_MAX_PAYLOAD + 1];
	struct dmxp_chan_info info;

	memset(out, 'o', sizeof(out));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send(self->c, out, DMXP_MAX_PAYLOAD + 1, 7));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
	ASSERT_EQ(0, dmxp_chan_info(self->r, CH, &info));
	EXPECT_EQ(0ULL, info.tail);
	EXPECT_EQ(0ULL, info.depth);
	/* The ring still works and message ids did not skip. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, out, 1, 7));
	ASSERT_EQ(0, dmxp_chan_info(self->r, CH, &info));
	EXPECT_EQ(1ULL, info.tail);
}

TEST_F(ring, send_huge_len_fails_emsgsize)
{
	char b = 0;

	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send(self->c, &b, SIZE_MAX, 0));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send(self->c, &b, (size_t)1 << 32, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &b, 1, NULL));
}

TEST_F(ring, zero_length_message)
{
	struct dmxp_msg_meta meta;
	char buf[4] = "abc";

	ASSERT_EQ(0, dmxp_chan_send(self->c, buf, 0, 42));
	memset(&meta, 0xff, sizeof(meta));
	ASSERT_EQ(0, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ(0U, meta.payload_len);
	EXPECT_EQ(42U, meta.message_type);
	EXPECT_EQ(0ULL, meta.message_id);
	/* A zero-length message fits a zero-length buffer. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, buf, 0, 43));
	ASSERT_EQ(0, dmxp_chan_recv(self->c, buf, 0, &meta));
	EXPECT_EQ(43U, meta.message_type);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
}

TEST_F(ring, recv_too_small_buffer_keeps_message)
{
	unsigned char out[100], in[DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta meta;

	test_fill(out, sizeof(out), 2, 2);
	ASSERT_EQ(0, dmxp_chan_send(self->c, out, sizeof(out), 9));
	memset(&meta, 0xa5, sizeof(meta));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv(self->c, in, 99, &meta));
	EXPECT_EQ(100U, meta.payload_len);
	/* The other fields are zeroed. */
	EXPECT_EQ(0ULL, meta.message_id);
	EXPECT_EQ(0U, meta.message_type);
	EXPECT_EQ(0U, meta.sender_pid);
	/* Without meta, still refused. */
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv(self->c, in, 0, NULL));

	memset(&meta, 0, sizeof(meta));
	ASSERT_EQ(100, dmxp_chan_recv(self->c, in, 100, &meta));
	EXPECT_EQ(0, memcmp(in, out, sizeof(out)));
	EXPECT_EQ(9U, meta.message_type);
	EXPECT_EQ(0ULL, meta.message_id);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
}

TEST_F(ring, wrap_around_many_laps_capacity_2)
{
	struct dmxp_chan *c = NEW_CHAN(3, 2);
	unsigned long long sent = 0, got = 0;
	struct dmxp_chan_info info;
	unsigned int lap;

	for (lap = 0; lap < 10000; lap++) {
		ASSERT_EQ(0, send_nth(c, sent++));
		ASSERT_EQ(0, send_nth(c, sent++));
		ASSERT_EQ(-EAGAIN, send_nth(c, sent));
		ASSERT_EQ(0, recv_nth(c, got++));
		if (lap & 1) {
			ASSERT_EQ(0, recv_nth(c, got++));
		} else {
			/* Keep one message across the lap boundary. */
			ASSERT_EQ(0, send_nth(c, sent++));
			ASSERT_EQ(0, recv_nth(c, got++));
			ASSERT_EQ(0, recv_nth(c, got++));
		}
		ASSERT_EQ(-EAGAIN, recv_nth(c, got));
	}
	ASSERT_EQ(0, dmxp_chan_info(self->r, 3, &info));
	EXPECT_EQ(sent, info.tail);
	EXPECT_EQ(got, info.head);
}

TEST_F(ring, two_handles_share_one_ring)
{
	struct dmxp_chan *c2;
	char buf[8];

	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &c2));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "ab", 2, 0));
	ASSERT_EQ(0, dmxp_chan_send(c2, "cd", 2, 0));
	EXPECT_EQ(2, dmxp_chan_recv(c2, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "ab", 2));
	EXPECT_EQ(2, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "cd", 2));
	dmxp_chan_close(c2);
}

TEST_F(ring, sender_pid_of_forked_child)
{
	struct dmxp_msg_meta meta;
	int status;
	char buf[8];
	pid_t pid;

	/* Cache the parent's pid in the library first. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, "p", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	ASSERT_EQ((__u32)getpid(), meta.sender_pid);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(dmxp_chan_send(self->c, "c", 1, 0) ? 1 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ((__u32)pid, meta.sender_pid);
}

/* ------------------------------------------------------------- zero-copy */

TEST_F(ring, reserve_commit_writes_in_place)
{
	unsigned char out[DMXP_MAX_PAYLOAD], in[DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref;

	test_fill(out, sizeof(out), 3, 3);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_NE(NULL, ref.payload);
	memcpy(ref.payload, out, sizeof(out));
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, sizeof(out), 77));
	ASSERT_EQ(DMXP_MAX_PAYLOAD, dmxp_chan_recv(self->c, in, sizeof(in), &meta));
	EXPECT_EQ(0, memcmp(in, out, sizeof(out)));
	EXPECT_EQ(77U, meta.message_type);
	EXPECT_EQ(0ULL, meta.message_id);
	EXPECT_EQ((__u32)getpid(), meta.sender_pid);
	EXPECT_EQ((__u32)CH, meta.channel_id);
}

TEST_F(ring, commit_oversize_fails_then_valid_commit_publishes)
{
	struct dmxp_ref ref;
	char buf[DMXP_MAX_PAYLOAD];

	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	memcpy(ref.payload, "in place", 8);
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_commit(self->c, &ref, DMXP_MAX_PAYLOAD + 1, 5));
	/* Not published. */
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, 8, 5));
	ASSERT_EQ(8, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "in place", 8));
}

TEST_F(ring, reserve_full_fails_eagain)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_ref ref;
	char buf[4];

	ASSERT_EQ(0, dmxp_chan_send(c, "a", 1, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "b", 1, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_reserve(c, &ref));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ('a', buf[0]);
	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	ASSERT_EQ(0, dmxp_chan_commit(c, &ref, 0, 0));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ('b', buf[0]);
}

TEST_F(ring, open_reservation_holds_back_later_messages)
{
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "second", 6, 2));
	/* The oldest position is not published yet. */
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	memcpy(ref.payload, "first", 5);
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, 5, 1));
	ASSERT_EQ(5, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ(0, memcmp(buf, "first", 5));
	EXPECT_EQ(0ULL, meta.message_id);
	ASSERT_EQ(6, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ(0, memcmp(buf, "second", 6));
	EXPECT_EQ(1ULL, meta.message_id);
}

TEST_F(ring, aborted_reservation_skipped_by_recv)
{
	struct dmxp_chan_info info;
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	memcpy(ref.payload, "junk", 4);
	dmxp_chan_abort(self->c, &ref);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "B", 1, 2));

	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ('A', buf[0]);
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ('B', buf[0]);
	EXPECT_EQ(2U, meta.message_type);
	EXPECT_EQ(2ULL, meta.message_id);
	EXPECT_EQ(0, meta.flags);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	ASSERT_EQ(0, dmxp_chan_info(self->r, CH, &info));
	EXPECT_EQ(3ULL, info.head);
	EXPECT_EQ(3ULL, info.tail);
}

TEST_F(ring, aborted_reservation_alone_reads_empty_and_frees_slot)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_ref ref;
	char buf[16];
	int i;

	/* Fill a capacity-2 ring with tombstones, many times over. */
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
		dmxp_chan_abort(c, &ref);
		ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
		dmxp_chan_abort(c, &ref);
		EXPECT_EQ(-EAGAIN, dmxp_chan_reserve(c, &ref));
		EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	}
	ASSERT_EQ(0, dmxp_chan_send(c, "z", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ('z', buf[0]);
}

TEST_F(ring, aborted_reservation_skipped_by_peek)
{
	struct dmxp_ref ref, pk;

	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	dmxp_chan_abort(self->c, &ref);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "real", 4, 4));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &pk));
	ASSERT_NE(NULL, pk.meta);
	EXPECT_EQ(4U, pk.meta->payload_len);
	EXPECT_EQ(4U, pk.meta->message_type);
	EXPECT_EQ(1ULL, pk.meta->message_id);
	EXPECT_EQ(0, memcmp(pk.payload, "real", 4));
	dmxp_chan_release(self->c, &pk);
	EXPECT_EQ(-EAGAIN, dmxp_chan_peek(self->c, &pk));
}

TEST_F(ring, aborted_reservations_skipped_by_recv_batch)
{
	char b[4][16];
	struct dmxp_rmsg m[4];
	struct dmxp_ref ref;
	int i;

	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	dmxp_chan_abort(self->c, &ref);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	dmxp_chan_abort(self->c, &ref);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "B", 1, 2));

	memset(m, 0, sizeof(m));
	for (i = 0; i < 4; i++) {
		m[i].buf = b[i];
		m[i].buf_len = sizeof(b[i]);
	}
	ASSERT_EQ(2, dmxp_chan_recv_batch(self->c, m, 4));
	EXPECT_EQ(1U, m[0].len);
	EXPECT_EQ('A', b[0][0]);
	EXPECT_EQ(1U, m[0].meta.message_type);
	EXPECT_EQ(1ULL, m[0].meta.message_id);
	EXPECT_EQ(1U, m[1].len);
	EXPECT_EQ('B', b[1][0]);
	EXPECT_EQ(2U, m[1].meta.message_type);
	EXPECT_EQ(3ULL, m[1].meta.message_id);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv_batch(self->c, m, 4));
}

TEST_F(ring, peek_reads_in_place)
{
	unsigned char out[300];
	struct dmxp_ref ref;

	test_fill(out, sizeof(out), 4, 4);
	ASSERT_EQ(0, dmxp_chan_send(self->c, out, sizeof(out), 12));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	ASSERT_NE(NULL, ref.meta);
	ASSERT_NE(NULL, ref.payload);
	EXPECT_EQ(300U, ref.meta->payload_len);
	EXPECT_EQ(12U, ref.meta->message_type);
	EXPECT_EQ(0ULL, ref.meta->message_id);
	EXPECT_EQ((__u32)getpid(), ref.meta->sender_pid);
	EXPECT_EQ(0, memcmp(ref.payload, out, sizeof(out)));
	dmxp_chan_release(self->c, &ref);
	EXPECT_EQ(-EAGAIN, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, out, sizeof(out), NULL));
}

TEST_F(ring, peek_empty_fails_eagain)
{
	struct dmxp_ref ref;

	EXPECT_EQ(-EAGAIN, dmxp_chan_peek(self->c, &ref));
}

TEST_F(ring, recv_while_peeked_gets_next_message)
{
	struct dmxp_ref ref;
	char buf[8];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "B", 1, 2));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ('A', *(char *)ref.payload);
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ('B', buf[0]);
	/* The peeked message is still readable in place. */
	EXPECT_EQ('A', *(char *)ref.payload);
	dmxp_chan_release(self->c, &ref);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
}

TEST_F(ring, release_frees_slot_of_full_ring)
{
	struct dmxp_chan *c = NEW_CHAN(2, 4);
	struct dmxp_ref ref;
	unsigned long long i;

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, send_nth(c, i));
	}
	ASSERT_EQ(0, dmxp_chan_peek(c, &ref));
	EXPECT_EQ(0ULL, ref.meta->message_id);
	/* Claimed but not released: the slot is still taken. */
	EXPECT_EQ(-EAGAIN, send_nth(c, 4));
	dmxp_chan_release(c, &ref);
	ASSERT_EQ(0, send_nth(c, 4));
	for (i = 1; i < 5; i++) {
		EXPECT_EQ(0, recv_nth(c, i)) TH_LOG("message %llu", i);
	}
	EXPECT_EQ(-EAGAIN, recv_nth(c, 5));
}

/* ------------------------------------------------------------- batches */

static void smsgs_init(struct dmxp_smsg *m, unsigned int n, unsigned char (*bufs)[64])
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		snprintf((char *)bufs[i], 64, "batch message %u", i);
		m[i].buf = bufs[i];
		m[i].len = (__u32)strlen((char *)bufs[i]);
		m[i].type = 1000 + i;
	}
}

TEST_F(ring, send_batch_returns_count_in_order)
{
	unsigned char bufs[5][64];
	struct dmxp_smsg m[5];
	struct dmxp_msg_meta meta;
	char in[64];
	unsigned int i;

	smsgs_init(m, 5, bufs);
	ASSERT_EQ(5, dmxp_chan_send_batch(self->c, m, 5));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ((ssize_t)m[i].len, dmxp_chan_recv(self->c, in, sizeof(in), &meta));
		EXPECT_EQ(0, memcmp(in, bufs[i], m[i].len));
		EXPECT_EQ(1000 + i, meta.message_type);
		EXPECT_EQ((__u64)i, meta.message_id);
		EXPECT_EQ((__u32)getpid(), meta.sender_pid);
	}
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), &meta));
}

TEST_F(ring, send_batch_partial_when_nearly_full)
{
	struct dmxp_chan *c = NEW_CHAN(2, 4);
	unsigned char bufs[3][64];
	struct dmxp_smsg m[3];
	struct dmxp_msg_meta meta;
	char in[64];
	int i;

	smsgs_init(m, 3, bufs);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, dmxp_chan_send(c, "x", 1, 0));
	}
	ASSERT_EQ(1, dmxp_chan_send_batch(c, m, 3));
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, dmxp_chan_recv(c, in, sizeof(in), NULL));
	}
	/* The one sent is the first of the batch. */
	ASSERT_EQ((ssize_t)m[0].len, dmxp_chan_recv(c, in, sizeof(in), &meta));
	EXPECT_EQ(0, memcmp(in, bufs[0], m[0].len));
	EXPECT_EQ(1000U, meta.message_type);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, in, sizeof(in), NULL));
}

TEST_F(ring, send_batch_full_fails_eagain)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	unsigned char bufs[2][64];
	struct dmxp_smsg m[2];
	char in[64];

	smsgs_init(m, 2, bufs);
	ASSERT_EQ(2, dmxp_chan_send_batch(c, m, 2));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send_batch(c, m, 2));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send_batch(c, m, 1));
	ASSERT_EQ((ssize_t)m[0].len, dmxp_chan_recv(c, in, sizeof(in), NULL));
	ASSERT_EQ((ssize_t)m[1].len, dmxp_chan_recv(c, in, sizeof(in), NULL));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, in, sizeof(in), NULL));
}

TEST_F(ring, send_batch_oversize_sends_none)
{
	static unsigned char big[DMXP_MAX_PAYLOAD + 1];
	unsigned char bufs[3][64];
	struct dmxp_smsg m[3];
	struct dmxp_chan_info info;
	char in[64];

	smsgs_init(m, 3, bufs);
	m[2].buf = big;
	m[2].len = DMXP_MAX_PAYLOAD + 1;
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send_batch(self->c, m, 3));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
	ASSERT_EQ(0, dmxp_chan_info(self->r, CH, &info));
	EXPECT_EQ(0ULL, info.tail);
	m[2].len = DMXP_MAX_PAYLOAD;
	EXPECT_EQ(3, dmxp_chan_send_batch(self->c, m, 3));
}

TEST_F(ring, send_batch_zero_fails_einval)
{
	unsigned char bufs[1][64];
	struct dmxp_smsg m[1];
	char in[64];

	smsgs_init(m, 1, bufs);
	EXPECT_EQ(-EINVAL, dmxp_chan_send_batch(self->c, m, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
}

TEST_F(ring, send_batch_larger_than_capacity)
{
	struct dmxp_chan *c = NEW_CHAN(2, 4);
	unsigned char bufs[10][64];
	struct dmxp_smsg m[10];
	struct dmxp_msg_meta meta;
	char in[64];
	unsigned int i;

	smsgs_init(m, 10, bufs);
	ASSERT_EQ(4, dmxp_chan_send_batch(c, m, 10));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ((ssize_t)m[i].len, dmxp_chan_recv(c, in, sizeof(in), &meta));
		EXPECT_EQ(1000 + i, meta.message_type);
	}
	ASSERT_EQ(4, dmxp_chan_send_batch(c, m + 4, 6));
	for (i = 4; i < 8; i++) {
		ASSERT_EQ((ssize_t)m[i].len, dmxp_chan_recv(c, in, sizeof(in), &meta));
		EXPECT_EQ(1000 + i, meta.message_type);
		EXPECT_EQ((__u64)i, meta.message_id);
	}
}

static void rmsgs_init(struct dmxp_rmsg *m, unsigned int n, unsigned char (*bufs)[DMXP_MAX_PAYLOAD])
{
	unsigned int i;

	memset(m, 0, n * sizeof(*m));
	for (i = 0; i < n; i++) {
		m[i].buf = bufs[i];
		m[i].buf_len = DMXP_MAX_PAYLOAD;
	}
}

TEST_F(ring, recv_batch_returns_count)
{
	static unsigned char bufs[8][DMXP_MAX_PAYLOAD];
	struct dmxp_rmsg m[8];
	unsigned char want[DMXP_MAX_PAYLOAD];
	unsigned long long i;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, send_nth(self->c, i));
	}
	rmsgs_init(m, 8, bufs);
	ASSERT_EQ(5, dmxp_chan_recv_batch(self->c, m, 8));
	for (i = 0; i < 5; i++) {
		size_t len = (size_t)(i * 37 % (DMXP_MAX_PAYLOAD + 1));

		test_fill(want, len, 0, i);
		EXPECT_EQ((__u32)len, m[i].len);
		EXPECT_EQ((__u32)len, m[i].meta.payload_len);
		EXPECT_EQ((__u32)i, m[i].meta.message_type);
		EXPECT_EQ(i, m[i].meta.message_id);
		EXPECT_EQ((__u32)CH, m[i].meta.channel_id);
		EXPECT_EQ((__u32)getpid(), m[i].meta.sender_pid);
		EXPECT_EQ(0, memcmp(want, bufs[i], len));
	}
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv_batch(self->c, m, 8));
}

TEST_F(ring, recv_batch_stops_before_message_not_fitting)
{
	static unsigned char bufs[3][DMXP_MAX_PAYLOAD];
	unsigned char out[500];
	struct dmxp_rmsg m[3];
	char in[DMXP_MAX_PAYLOAD];

	memset(out, 'q', sizeof(out));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "0123456789", 10, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, out, 500, 2));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "0123456789", 10, 3));

	rmsgs_init(m, 3, bufs);
	m[1].buf_len = 100;
	ASSERT_EQ(1, dmxp_chan_recv_batch(self->c, m, 3));
	EXPECT_EQ(1U, m[0].meta.message_type);

	/* The 500-byte message is next, and still there. */
	rmsgs_init(m, 3, bufs);
	m[0].buf_len = 499;
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv_batch(self->c, m, 3));
	ASSERT_EQ(500, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
	EXPECT_EQ(0, memcmp(in, out, 500));
	ASSERT_EQ(10, dmxp_chan_recv(self->c, in, sizeof(in), NULL));
}

TEST_F(ring, recv_batch_first_too_big_fails_emsgsize)
{
	static unsigned char bufs[2][DMXP_MAX_PAYLOAD];
	struct dmxp_rmsg m[2];
	struct dmxp_msg_meta meta;
	char in[DMXP_MAX_PAYLOAD];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "twelve bytes", 12, 6));
	rmsgs_init(m, 2, bufs);
	m[0].buf_len = 11;
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv_batch(self->c, m, 2));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv_batch(self->c, m, 1));
	m[0].buf_len = 12;
	ASSERT_EQ(1, dmxp_chan_recv_batch(self->c, m, 2));
	EXPECT_EQ(12U, m[0].len);
	EXPECT_EQ(0, memcmp(bufs[0], "twelve bytes", 12));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, in, sizeof(in), &meta));
}

TEST_F(ring, recv_batch_zero_fails_einval)
{
	static unsigned char bufs[1][DMXP_MAX_PAYLOAD];
	struct dmxp_rmsg m[1];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	rmsgs_init(m, 1, bufs);
	EXPECT_EQ(-EINVAL, dmxp_chan_recv_batch(self->c, m, 0));
	/* Nothing was consumed. */
	EXPECT_EQ(1, dmxp_chan_recv_batch(self->c, m, 1));
}

TEST_F(ring, recv_batch_empty_fails_eagain)
{
	static unsigned char bufs[4][DMXP_MAX_PAYLOAD];
	struct dmxp_rmsg m[4];

	rmsgs_init(m, 4, bufs);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv_batch(self->c, m, 4));
}

TEST_F(ring, recv_batch_larger_than_capacity)
{
	static unsigned char bufs[10][DMXP_MAX_PAYLOAD];
	struct dmxp_chan *c = NEW_CHAN(2, 4);
	unsigned long long sent = 0, got = 0;
	struct dmxp_rmsg m[10];
	int round, i, k;

	for (round = 0; round < 5; round++) {
		for (i = 0; i < 4; i++) {
			ASSERT_EQ(0, send_nth(c, sent++));
		}
		rmsgs_init(m, 10, bufs);
		k = dmxp_chan_recv_batch(c, m, 10);
		ASSERT_EQ(4, k);
		for (i = 0; i < k; i++, got++) {
			EXPECT_EQ(got, m[i].meta.message_id);
			EXPECT_EQ((__u32)got, m[i].meta.message_type);
		}
		/* Leave a partial ring that wraps for the next round. */
		ASSERT_EQ(0, send_nth(c, sent++));
		ASSERT_EQ(0, recv_nth(c, got++));
	}
}

/* ------------------------------------------------- references used once */

/*
 * A reference is good for one commit or abort (reserve) or one release
 * (peek).  Using it again, or using one that no call filled, gives
 * -EINVAL and touches nothing: on a capacity-2 ring a stray second
 * commit or free would rewind a slot the next lap already uses.
 */
static int ring_round_trips(struct dmxp_chan *c, unsigned int n, __u32 first)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct dmxp_msg_meta meta;
		char buf[16];

		if (dmxp_chan_send(c, "rt", 2, first + i))
			return 1;
		if (dmxp_chan_recv(c, buf, sizeof(buf), &meta) != 2 ||
		    meta.message_type != first + i)
			return 2;
	}
	return dmxp_chan_recv(c, NULL, 0, NULL) == -EAGAIN ? 0 : 3;
}

TEST_F(ring, release_twice_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref, copy;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_send(c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_send(c, "B", 1, 2));
	ASSERT_EQ(0, dmxp_chan_peek(c, &ref));
	copy = ref;
	EXPECT_EQ(0, dmxp_chan_release(c, &ref));
	/* C lands in the slot A had: a second free would take it back. */
	ASSERT_EQ(0, dmxp_chan_send(c, "C", 1, 3));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(c, &copy));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(2U, meta.message_type);
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(3U, meta.message_type);
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, commit_twice_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref, copy;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	copy = ref;
	memcpy(ref.payload, "A", 1);
	ASSERT_EQ(0, dmxp_chan_commit(c, &ref, 1, 1));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(1U, meta.message_type);
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(c, &ref, 1, 9));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(c, &copy, 1, 9));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, abort_twice_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_ref ref, copy;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	copy = ref;
	EXPECT_EQ(0, dmxp_chan_abort(c, &ref));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(c, &copy));
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, commit_after_abort_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_ref ref;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	EXPECT_EQ(0, dmxp_chan_abort(c, &ref));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(c, &ref, 0, 9));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, zeroed_ref_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_msg_meta meta;
	struct dmxp_ref ref;
	char buf[16];

	/* Message 0 waits in slot 0, which a zeroed reference names. */
	ASSERT_EQ(0, dmxp_chan_send(c, "A", 1, 1));
	memset(&ref, 0, sizeof(ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(c, &ref, 0, 9));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(c, &ref));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(1U, meta.message_type);
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, ref_of_the_other_kind_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_msg_meta meta;
	struct dmxp_ref res, pk;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_send(c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_peek(c, &pk));
	ASSERT_EQ(0, dmxp_chan_reserve(c, &res));
	/* A reservation is not released, a peeked message not committed. */
	EXPECT_EQ(-EINVAL, dmxp_chan_release(c, &res));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(c, &pk, 0, 9));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(c, &pk));
	EXPECT_EQ(0, dmxp_chan_release(c, &pk));
	memcpy(res.payload, "B", 1);
	EXPECT_EQ(0, dmxp_chan_commit(c, &res, 1, 2));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(2U, meta.message_type);
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

TEST_F(ring, ref_of_another_channel_fails_einval)
{
	struct dmxp_chan *c = NEW_CHAN(2, 2);
	struct dmxp_ref ref;

	ASSERT_EQ(0, dmxp_chan_send(self->c, "A", 1, 1));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(c, &ref));
	EXPECT_EQ(0, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
	EXPECT_EQ(0, ring_round_trips(self->c, 9, 10));
}

/* ------------------------------------------------- claim records run out */

static bool has_claim_table(struct dmxp_region *r)
{
	return dmxp_region_header(r)->claims_count != 0;
}

/*
 * Each outstanding reference holds a claim record of the handle's pool
 * (CLAIM_POOL).  Once they are all lent, a claim without one could not
 * be repaired (and a repairer could mistake it for a dead one's): the
 * call fails with -ENOBUFS and claims nothing.
 */
TEST_F(ring, reserve_beyond_records_fails_enobufs)
{
	struct dmxp_chan *c = NEW_CHAN(2, 128);
	struct dmxp_chan_info info;
	struct dmxp_ref refs[CLAIM_POOL + 1];
	unsigned int n, i;
	int ret = 0;

	if (!has_claim_table(self->r))
		SKIP(return, "the region has no claim table");
	for (n = 0; n <= CLAIM_POOL; n++) {
		ret = dmxp_chan_reserve(c, &refs[n]);
		if (ret)
			break;
		/* Every claim is named by a record of its own. */
		EXPECT_NE(0U, refs[n].claim) TH_LOG("reference %u", n);
	}
	EXPECT_EQ(-ENOBUFS, ret);
	EXPECT_GE((unsigned int)CLAIM_POOL, n);
	/* Nothing was claimed by the call that failed. */
	ASSERT_EQ(0, dmxp_chan_info(self->r, 2, &info));
	EXPECT_EQ((__u64)n, info.tail);
	for (i = 0; i < n; i++) {
		*(__u32 *)refs[i].payload = i;
		EXPECT_EQ(0, dmxp_chan_commit(c, &refs[i], 4, i));
	}
	for (i = 0; i < n; i++) {
		__u32 v = ~0U;

		ASSERT_EQ(4, dmxp_chan_recv(c, &v, sizeof(v), NULL));
		EXPECT_EQ(i, v);
	}
	/* The records are back: a reference can be taken again. */
	EXPECT_EQ(0, dmxp_chan_reserve(c, &refs[0]));
	EXPECT_EQ(0, dmxp_chan_abort(c, &refs[0]));
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

#define MANY_THREADS	(CLAIM_POOL + 1U)

struct many {
	struct dmxp_chan	*c;
	pthread_barrier_t	all_sent;
	int			ret[MANY_THREADS];
	unsigned int		i;
};

static void *send_and_hold(void *arg)
{
	struct many *m = arg;
	unsigned int i = __atomic_fetch_add(&m->i, 1, __ATOMIC_RELAXED);

	m->ret[i] = dmxp_chan_send(m->c, &i, sizeof(i), i);
	/* Every thread keeps its record until it exits. */
	pthread_barrier_wait(&m->all_sent);
	return NULL;
}

TEST_F(ring, thread_beyond_records_fails_enobufs)
{
	struct dmxp_chan *c = NEW_CHAN(2, 128);
	pthread_t th[MANY_THREADS];
	struct dmxp_chan_info info;
	unsigned int i, sent = 0, refused = 0, got = 0;
	struct many m = { .c = c };
	bool seen[MANY_THREADS] = { false };

	if (!has_claim_table(self->r))
		SKIP(return, "the region has no claim table");
	ASSERT_EQ(0, pthread_barrier_init(&m.all_sent, NULL, MANY_THREADS));
	for (i = 0; i < MANY_THREADS; i++) {
		ASSERT_EQ(0, pthread_create(&th[i], NULL, send_and_hold, &m));
	}
	for (i = 0; i < MANY_THREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&m.all_sent);
	for (i = 0; i < MANY_THREADS; i++) {
		if (m.ret[i] == 0)
			sent++;
		else if (m.ret[i] == -ENOBUFS)
			refused++;
		else
			TH_LOG("thread %u: %d", i, m.ret[i]);
	}
	EXPECT_EQ(MANY_THREADS, sent + refused);
	EXPECT_LE(1U, refused);
	ASSERT_EQ(0, dmxp_chan_info(self->r, 2, &info));
	EXPECT_EQ((__u64)sent, info.tail);
	for (;;) {
		__u32 v;
		ssize_t ret = dmxp_chan_recv(c, &v, sizeof(v), NULL);

		if (ret < 0) {
			EXPECT_EQ(-EAGAIN, ret);
			break;
		}
		ASSERT_EQ(4, ret);
		ASSERT_GT(MANY_THREADS, v);
		EXPECT_FALSE(seen[v]);
		EXPECT_EQ(0, m.ret[v]);
		seen[v] = true;
		got++;
	}
	EXPECT_EQ(sent, got);
	/* The exited threads gave their records back. */
	EXPECT_EQ(0, ring_round_trips(c, 5, 10));
}

/* ----------------------------------------- a peer writing into our claim */

/*
 * What a process that writes slots it does not own (a stale producer of
 * a destroyed ring, a buggy peer, a repairer that took a live process
 * for dead) does to a call in flight.  A child stops at a test hook with
 * a slot claimed; this process rewrites the slot through its mapping,
 * as the other one would; the child goes on and reports.
 */
#define SMALL		16

struct report {
	long	ret;
	int	canary_ok;
	__u32	len;
	__u32	type;
	/* recv_batch_into(): its entries (in), and each one's result (out) */
	unsigned int	n;
	__u32	room[3];
	int	null_bufs;
	__u32	lens[3];
	__u32	types[3];
	char	data[3][SMALL];
};

typedef long (*child_fn)(struct dmxp_chan *c, struct report *rep);

/* Fork a child that opens channel @id of @path and runs @fn, stopped at @step. */
static pid_t child_stopped_at(const char *path, unsigned int id, int step, child_fn fn,
			      struct report *rep)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;

		if (dmxp_region_open(path, 0, 0, &r) || dmxp_chan_open(r, id, &c))
			_exit(10);
		dmxp__hook_step = step;
		rep->ret = fn(c, rep);
		dmxp__hook_step = 0;
		dmxp_chan_close(c);
		dmxp_region_close(r);
		_exit(0);
	}
	if (pid < 0)
		return -1;
	if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* Let the stopped child go on; its exit status, or 128 + its signal. */
static int child_finish(pid_t pid)
{
	int st;

	kill(pid, SIGCONT);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The slot of position @pos of channel @id, through this process's mapping. */
static struct dmxp_slot *slot_of(struct dmxp_region *r, unsigned int id, __u64 pos)
{
	struct dmxp_chan_info info;
	char *base = (char *)dmxp_region_header(r);

	if (dmxp_chan_info(r, id, &info))
		return NULL;
	return (struct dmxp_slot *)(base + info.band_offset) + (pos & (info.capacity - 1));
}

static struct report *report_map(void)
{
	struct report *rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (rep == MAP_FAILED)
		return NULL;
	memset(rep, 0, sizeof(*rep));
	return rep;
}

#define CANARY		0x5a

struct small_buf {
	char	buf[SMALL];
	char	canary[DMXP_MAX_PAYLOAD];
};

static bool canary_ok(const struct small_buf *b)
{
	size_t i;

	for (i = 0; i < sizeof(b->canary); i++)
		if (b->canary[i] != CANARY)
			return false;
	return true;
}

static long recv_small(struct dmxp_chan *c, struct report *rep)
{
	struct dmxp_msg_meta meta = { 0 };
	struct small_buf b;
	long ret;

	memset(&b, CANARY, sizeof(b));
	ret = dmxp_chan_recv(c, b.buf, SMALL, &meta);
	rep->canary_ok = canary_ok(&b);
	rep->len = meta.payload_len;
	return ret;
}

static long recv_batch_small(struct dmxp_chan *c, struct report *rep)
{
	struct small_buf b[2];
	struct dmxp_rmsg m[2];
	long ret;

	memset(b, CANARY, sizeof(b));
	memset(m, 0, sizeof(m));
	m[0].buf = b[0].buf;
	m[0].buf_len = SMALL;
	m[1].buf = b[1].buf;
	m[1].buf_len = SMALL;
	ret = dmxp_chan_recv_batch(c, m, 2);
	rep->canary_ok = canary_ok(&b[0]) && canary_ok(&b[1]);
	rep->len = ret > 0 ? m[0].len : 0;
	rep->type = ret > 0 ? m[0].meta.message_type : 0;
	return ret;
}

/*
 * The length of a message grows after the consumer checked that it fits
 * and claimed it: the copy stays inside the caller's 16 bytes, the message
 * is consumed (-EPROTO: it no longer fits) and the ring goes on.
 */
TEST_F(ring, recv_length_changed_after_claim_stays_in_buffer)
{
	struct report *rep = report_map();
	struct dmxp_slot *s;
	char buf[DMXP_MAX_PAYLOAD];
	pid_t pid;

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "short", 5, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "next", 4, 2));
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_RECV_CLAIMED, recv_small, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	__atomic_store_n(&s->meta.payload_len, DMXP_MAX_PAYLOAD, __ATOMIC_RELAXED);
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_TRUE(rep->canary_ok);
	EXPECT_EQ(-EPROTO, rep->ret);
	/* Consumed, and the slot freed: the next message follows. */
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "next", 4));
	EXPECT_EQ(0, ring_round_trips(self->c, 2 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

TEST_F(ring, recv_batch_length_changed_after_claim_stays_in_buffer)
{
	struct report *rep = report_map();
	struct dmxp_slot *s;
	char buf[DMXP_MAX_PAYLOAD];
	pid_t pid;

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "short", 5, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "also", 4, 2));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "next", 4, 3));
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_RECV_CLAIMED, recv_batch_small, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	__atomic_store_n(&s->meta.payload_len, DMXP_MAX_PAYLOAD, __ATOMIC_RELAXED);
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_TRUE(rep->canary_ok);
	/* The grown message is left out; the other one of the batch is delivered. */
	EXPECT_EQ(1, rep->ret);
	EXPECT_EQ(4U, rep->len);
	EXPECT_EQ(2U, rep->type);
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "next", 4));
	EXPECT_EQ(0, ring_round_trips(self->c, 2 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

TEST_F(ring, recv_batch_only_message_grown_fails_eproto)
{
	struct report *rep = report_map();
	struct dmxp_slot *s;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "short", 5, 1));
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_RECV_CLAIMED, recv_batch_small, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	__atomic_store_n(&s->meta.payload_len, DMXP_MAX_PAYLOAD, __ATOMIC_RELAXED);
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_TRUE(rep->canary_ok);
	EXPECT_EQ(-EPROTO, rep->ret);
	EXPECT_EQ(0, ring_round_trips(self->c, 2 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

static long send_live(struct dmxp_chan *c, struct report *rep)
{
	(void)rep;
	return dmxp_chan_send(c, "live", 4, 7);
}

/*
 * Repair a live producer's slot under it, as a repairer that wrongly took
 * it for dead would: mark, tombstone, publish; a consumer then skips the
 * tombstone and frees the slot.  The producer's publish must not rewind
 * that slot: its send reports the message lost (-ECANCELED) and the ring
 * goes on through every slot.
 */
TEST_F(ring, send_repaired_under_producer_is_not_rewound)
{
	struct report *rep = report_map();
	struct dmxp_slot *s;
	char buf[16];
	__u64 seq = 0;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_SEND_PAYLOAD, send_live, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	ASSERT_TRUE(__atomic_compare_exchange_n(&s->sequence, &seq, DMXP_SEQ_REPAIRING(0), false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	s->meta.message_id = 0;
	s->meta.channel_id = CH;
	s->meta.message_type = 0;
	__atomic_store_n(&s->meta.flags, DMXP_MSG_TOMBSTONE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->meta.payload_len, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->sequence, 1, __ATOMIC_RELEASE);
	/* Skipped and freed. */
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_EQ(-ECANCELED, rep->ret);
	EXPECT_EQ(0, ring_round_trips(self->c, 3 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

/*
 * The same repairer found the message complete and delivered it: the
 * producer's send succeeds and the message arrives once.
 */
TEST_F(ring, send_delivered_by_repairer_counts_as_sent)
{
	struct report *rep = report_map();
	struct dmxp_msg_meta meta;
	struct dmxp_slot *s;
	char buf[16];
	__u64 seq = 0;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_SEND_WRITTEN, send_live, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	ASSERT_TRUE(__atomic_compare_exchange_n(&s->sequence, &seq, 1, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED));
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_EQ(0, rep->ret);
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), &meta));
	EXPECT_EQ(7U, meta.message_type);
	EXPECT_EQ(0, ring_round_trips(self->c, 3 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

/*
 * A batch into rep->n entries of rep->room[i] bytes (NULL buffers with
 * rep->null_bufs), each with a canary after its room; each entry's
 * length, type and bytes reported.
 */
static long recv_batch_into(struct dmxp_chan *c, struct report *rep)
{
	struct small_buf b[3];
	struct dmxp_rmsg m[3];
	unsigned int i, j;
	long ret;

	memset(b, CANARY, sizeof(b));
	memset(m, 0, sizeof(m));
	for (i = 0; i < 3; i++) {
		memset(b[i].buf, 0, rep->room[i]);
		m[i].buf = rep->null_bufs ? NULL : b[i].buf;
		m[i].buf_len = rep->room[i];
	}
	ret = dmxp_chan_recv_batch(c, m, rep->n);
	rep->canary_ok = 1;
	for (i = 0; i < 3; i++) {
		for (j = rep->room[i]; j < SMALL; j++)
			if (b[i].buf[j] != CANARY)
				rep->canary_ok = 0;
		if (!canary_ok(&b[i]))
			rep->canary_ok = 0;
	}
	for (i = 0; i < 3 && (long)i < ret; i++) {
		rep->lens[i] = m[i].len;
		rep->types[i] = m[i].meta.message_type;
		memcpy(rep->data[i], b[i].buf, SMALL);
	}
	return ret;
}

/* Free slot @pos of a message as a repairer does for a dead consumer. */
static bool repair_as_freed(struct dmxp_slot *s, __u64 pos)
{
	__u64 seq = pos + 1;

	return __atomic_compare_exchange_n(&s->sequence, &seq, pos + CH_CAP, false,
					   __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/*
 * A consumer's batch stopped between its copy and its free while
 * slots of its run are freed as a repairer that took it for dead would.
 */
struct batch_repair {
	const char	*msgs[4];	/* sent, type i + 1; NULL: a tombstone */
	unsigned int	nmsgs;
	unsigned int	freed[3];	/* the slots freed under the batch */
	unsigned int	nfreed;
	__u32		room[3];	/* each entry's room; 0: SMALL */
	unsigned int	n;		/* entries; 0: 3 */
	int		null_bufs;	/* NULL buffers of no room */
};

static struct report *recv_batch_repaired(struct dmxp_chan *c, struct dmxp_region *r,
					  const char *path, const struct batch_repair *br)
{
	struct report *rep = report_map();
	pid_t pid = -1;
	unsigned int i;
	bool ok = true;

	if (!rep)
		return NULL;
	rep->n = br->n ? br->n : 3;
	rep->null_bufs = br->null_bufs;
	for (i = 0; i < 3; i++)
		rep->room[i] = br->null_bufs ? 0 : br->room[i] ? br->room[i] : SMALL;
	for (i = 0; i < br->nmsgs && ok; i++) {
		struct dmxp_ref ref;

		if (br->msgs[i])
			ok = !dmxp_chan_send(c, br->msgs[i], strlen(br->msgs[i]), i + 1);
		else	/* an aborted reservation: a tombstone */
			ok = !dmxp_chan_reserve(c, &ref) && !dmxp_chan_abort(c, &ref);
	}
	if (ok)
		pid = child_stopped_at(path, CH, DMXP_HOOK_RECV_COPIED, recv_batch_into, rep);
	ok = pid > 0;
	for (i = 0; ok && i < br->nfreed; i++)
		ok = repair_as_freed(slot_of(r, CH, br->freed[i]), br->freed[i]);
	if (pid > 0 && child_finish(pid))
		ok = false;
	if (!ok) {
		munmap(rep, sizeof(*rep));
		return NULL;
	}
	return rep;
}

#define BATCH_REPAIRED(...)							\
	recv_batch_repaired(self->c, self->r, self->path, &(struct batch_repair){ __VA_ARGS__ })

/* The ring goes on through every slot, none rewound. */
#define EXPECT_RING_GOES_ON(rep) do {						\
	EXPECT_EQ(0, ring_round_trips(self->c, 3 * CH_CAP, 10));		\
	munmap(rep, sizeof(*rep));						\
} while (0)

/*
 * What was copied from the freed slot may be a later message's: it is
 * gone, and the message after it moves up into the middle entry.
 */
TEST_F(ring, recv_batch_repaired_midway_moves_the_rest_up)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", "bb", "c" }, .nmsgs = 3,
					    .freed = { 1 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(2, rep->ret);
	EXPECT_EQ(1U, rep->types[0]);
	EXPECT_EQ(1U, rep->lens[0]);
	EXPECT_EQ('a', rep->data[0][0]);
	EXPECT_EQ(3U, rep->types[1]);
	EXPECT_EQ(1U, rep->lens[1]);
	EXPECT_EQ('c', rep->data[1][0]);
	EXPECT_RING_GOES_ON(rep);
}

/*
 * The message after the lost one does not fit the middle entry (2
 * bytes): it is left out too, nothing is written past that entry's
 * room, and the call returns the first message only.
 */
TEST_F(ring, recv_batch_repaired_midway_leaves_out_what_no_longer_fits)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", "bb", "ccc" }, .nmsgs = 3,
					    .freed = { 1 }, .nfreed = 1,
					    .room = { SMALL, 2, SMALL });

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(1, rep->ret);
	EXPECT_EQ(1U, rep->types[0]);
	EXPECT_EQ('a', rep->data[0][0]);
	EXPECT_RING_GOES_ON(rep);
}

TEST_F(ring, recv_batch_repaired_first_moves_the_rest_up)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", "bb", "c" }, .nmsgs = 3,
					    .freed = { 0 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(2, rep->ret);
	EXPECT_EQ(2U, rep->types[0]);
	EXPECT_EQ(0, memcmp(rep->data[0], "bb", 2));
	EXPECT_EQ(3U, rep->types[1]);
	EXPECT_EQ('c', rep->data[1][0]);
	EXPECT_RING_GOES_ON(rep);
}

TEST_F(ring, recv_batch_repaired_last_keeps_the_others)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", "bb", "c" }, .nmsgs = 3,
					    .freed = { 2 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(2, rep->ret);
	EXPECT_EQ(1U, rep->types[0]);
	EXPECT_EQ(2U, rep->types[1]);
	EXPECT_RING_GOES_ON(rep);
}

TEST_F(ring, recv_batch_repaired_first_and_last_keeps_the_middle)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", "bb", "c" }, .nmsgs = 3,
					    .freed = { 0, 2 }, .nfreed = 2);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(1, rep->ret);
	EXPECT_EQ(2U, rep->types[0]);
	EXPECT_EQ(0, memcmp(rep->data[0], "bb", 2));
	EXPECT_RING_GOES_ON(rep);
}

/* A tombstone's slot freed under the batch: no message was in it. */
TEST_F(ring, recv_batch_repaired_tombstone_loses_no_message)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", NULL, "bb" }, .nmsgs = 3,
					    .freed = { 1 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(2, rep->ret);
	EXPECT_EQ(1U, rep->types[0]);
	EXPECT_EQ(3U, rep->types[1]);
	EXPECT_EQ(0, memcmp(rep->data[1], "bb", 2));
	EXPECT_RING_GOES_ON(rep);
}

/* Entries map to the slots of messages, not of tombstones. */
TEST_F(ring, recv_batch_repaired_after_a_tombstone)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", NULL, "bb" }, .nmsgs = 3,
					    .freed = { 2 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(1, rep->ret);
	EXPECT_EQ(1U, rep->types[0]);
	EXPECT_RING_GOES_ON(rep);
}

TEST_F(ring, recv_batch_repaired_after_a_leading_tombstone)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { NULL, "a", "bb" }, .nmsgs = 3,
					    .freed = { 1 }, .nfreed = 1);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	ASSERT_EQ(1, rep->ret);
	EXPECT_EQ(3U, rep->types[0]);
	EXPECT_EQ(0, memcmp(rep->data[0], "bb", 2));
	EXPECT_RING_GOES_ON(rep);
}

TEST_F(ring, recv_batch_repaired_whole_run_is_ecanceled)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "a", NULL, "bb" }, .nmsgs = 3,
					    .freed = { 0, 1, 2 }, .nfreed = 3);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	EXPECT_EQ(-ECANCELED, rep->ret);
	EXPECT_RING_GOES_ON(rep);
}

/*
 * A run of tombstones only, one freed under the batch: the call ends
 * (-ECANCELED) rather than claim again with a record a repairer may
 * have taken over; the message after the run stays for the next call.
 */
TEST_F(ring, recv_batch_repaired_tombstones_only_ends_the_call)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { NULL, NULL, "later" }, .nmsgs = 3,
					    .freed = { 1 }, .nfreed = 1, .room = { 2, 2, 2 });
	char buf[SMALL];

	ASSERT_NE(NULL, rep);
	EXPECT_EQ(-ECANCELED, rep->ret);
	ASSERT_EQ(5, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "later", 5));
	EXPECT_RING_GOES_ON(rep);
}

/*
 * The first message lost, the second no longer fits the first entry:
 * nothing is returned, and the error names the repair, not the protocol.
 */
TEST_F(ring, recv_batch_repaired_move_that_no_longer_fits_is_ecanceled)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "aa", "ccc" }, .nmsgs = 2,
					    .freed = { 0 }, .nfreed = 1,
					    .room = { 2, SMALL, SMALL }, .n = 2);

	ASSERT_NE(NULL, rep);
	EXPECT_TRUE(rep->canary_ok);
	EXPECT_EQ(-ECANCELED, rep->ret);
	EXPECT_RING_GOES_ON(rep);
}

/* Empty messages into NULL buffers of no room: nothing is copied or moved. */
TEST_F(ring, recv_batch_repaired_empty_messages_into_null_buffers)
{
	struct report *rep = BATCH_REPAIRED(.msgs = { "", "", "" }, .nmsgs = 3,
					    .freed = { 0 }, .nfreed = 1, .null_bufs = 1);

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(2, rep->ret);
	EXPECT_EQ(0U, rep->lens[0]);
	EXPECT_EQ(3U, rep->types[1]);
	EXPECT_RING_GOES_ON(rep);
}

static long send_batch_live(struct dmxp_chan *c, struct report *rep)
{
	struct dmxp_smsg m[3];
	__u32 v[3] = { 0, 1, 2 };
	unsigned int i;

	(void)rep;
	for (i = 0; i < 3; i++)
		m[i] = (struct dmxp_smsg){ .buf = &v[i], .len = sizeof(v[i]), .type = i };
	return dmxp_chan_send_batch(c, m, 3);
}

/* Tombstone slot @pos as a repairer does: mark, meta, publish. */
static bool repair_as_tombstone(struct dmxp_slot *s, __u64 pos)
{
	__u64 seq = pos;

	if (!__atomic_compare_exchange_n(&s->sequence, &seq, DMXP_SEQ_REPAIRING(pos), false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	s->meta.message_id = pos;
	s->meta.message_type = 0;
	__atomic_store_n(&s->meta.flags, DMXP_MSG_TOMBSTONE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->meta.payload_len, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->sequence, pos + 1, __ATOMIC_RELEASE);
	return true;
}

/*
 * A repairer takes the second slot of a batch after the first was
 * published: the call returns 1 (msgs[1] and msgs[2] can be sent again),
 * and msgs[2] does not arrive either, so a resend duplicates nothing.
 */
TEST_F(ring, send_batch_repaired_midway_returns_count_before)
{
	struct report *rep = report_map();
	struct dmxp_msg_meta meta;
	__u32 v;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_BATCH_PART, send_batch_live, rep);
	ASSERT_LT(0, pid);
	ASSERT_TRUE(repair_as_tombstone(slot_of(self->r, CH, 1), 1));
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_EQ(1, rep->ret);
	ASSERT_EQ((ssize_t)sizeof(v), dmxp_chan_recv(self->c, &v, sizeof(v), &meta));
	EXPECT_EQ(0U, v);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &v, sizeof(v), &meta));
	EXPECT_EQ(0, ring_round_trips(self->c, 3 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

static long recv_live(struct dmxp_chan *c, struct report *rep)
{
	char buf[16];

	(void)rep;
	return dmxp_chan_recv(c, buf, sizeof(buf), NULL);
}

/*
 * A repairer frees a live consumer's claimed slot and a producer fills
 * it again: the consumer's free must not take the new message back.
 */
TEST_F(ring, recv_repaired_under_consumer_is_not_rewound)
{
	struct report *rep = report_map();
	struct dmxp_slot *s;
	__u64 seq = 1;
	unsigned int i;
	pid_t pid;

	ASSERT_NE(NULL, rep);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "old", 3, 1));
	pid = child_stopped_at(self->path, CH, DMXP_HOOK_RECV_COPIED, recv_live, rep);
	ASSERT_LT(0, pid);
	s = slot_of(self->r, CH, 0);
	ASSERT_NE(NULL, s);
	ASSERT_TRUE(__atomic_compare_exchange_n(&s->sequence, &seq, CH_CAP, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED));
	/* A full lap: position CH_CAP lands in the slot just freed. */
	for (i = 0; i < CH_CAP; i++) {
		ASSERT_EQ(0, dmxp_chan_send(self->c, &i, sizeof(i), 100 + i));
	}
	ASSERT_EQ(0, child_finish(pid));
	EXPECT_EQ(-ECANCELED, rep->ret);
	for (i = 0; i < CH_CAP; i++) {
		struct dmxp_msg_meta meta;
		unsigned int v;

		ASSERT_EQ((ssize_t)sizeof(v), dmxp_chan_recv(self->c, &v, sizeof(v), &meta))
			TH_LOG("message %u", i);
		EXPECT_EQ(i, v);
	}
	EXPECT_EQ(0, ring_round_trips(self->c, 3 * CH_CAP, 10));
	munmap(rep, sizeof(*rep));
}

/*
 * A claim names its channel, generation, position and count in the
 * thread's record, also when the record's last claim was on another
 * channel, of another count, or on the same id before a destroy: the
 * fields that already hold the value are the ones left unwritten.
 */
static struct dmxp_region *rec_region;
static struct dmxp_claim rec_seen;
static int rec_claims;

static void rec_hook(int step)
{
	if (step == DMXP_HOOK_SEND_CLAIMING || step == DMXP_HOOK_RECV_CLAIMING) {
		const struct dmxp_claim __shm *rec = dmxp__claim_thread(rec_region);

		if (rec)
			memcpy(&rec_seen, (const void *)rec, sizeof(rec_seen));
		rec_claims++;
	}
}

#define EXPECT_CLAIM(c, st, p, n) do {						\
	EXPECT_EQ(1, rec_claims);						\
	EXPECT_EQ((__u32)(st), rec_seen.state);					\
	EXPECT_EQ((c)->f.id, rec_seen.chan);					\
	EXPECT_EQ((c)->f.gen, rec_seen.generation);				\
	EXPECT_EQ((__u64)(p), rec_seen.pos);					\
	EXPECT_EQ((__u32)(n), rec_seen.count);					\
	rec_claims = 0;								\
} while (0)

TEST_F(ring, a_claim_names_its_channel_generation_position_and_count)
{
	struct dmxp_chan *c2 = NEW_CHAN(2, 8), *c3;
	unsigned char bufs[4][64];
	static unsigned char rbufs[4][DMXP_MAX_PAYLOAD];
	struct dmxp_smsg sm[4];
	struct dmxp_rmsg rm[4];
	__u32 gen3;
	char b[8];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));	/* the thread's record */
	smsgs_init(sm, 4, bufs);
	rmsgs_init(rm, 4, rbufs);
	rec_region = self->r;
	dmxp__hook_fn = rec_hook;
	ASSERT_EQ(0, dmxp_chan_send(self->c, "b", 1, 0));
	EXPECT_CLAIM(self->c, DMXP_CLAIM_SEND, 1, 1);
	ASSERT_EQ(3, dmxp_chan_send_batch(c2, sm, 3));
	EXPECT_CLAIM(c2, DMXP_CLAIM_SEND, 0, 3);
	ASSERT_EQ(0, dmxp_chan_send(c2, "c", 1, 0));
	EXPECT_CLAIM(c2, DMXP_CLAIM_SEND, 3, 1);
	ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_CLAIM(self->c, DMXP_CLAIM_RECV, 0, 1);
	ASSERT_EQ(4, dmxp_chan_recv_batch(c2, rm, 4));
	EXPECT_CLAIM(c2, DMXP_CLAIM_RECV, 0, 4);
	ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_CLAIM(self->c, DMXP_CLAIM_RECV, 1, 1);

	/* The same id, destroyed and made again: another generation. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 8));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 3, &c3));
	gen3 = c3->f.gen;
	ASSERT_EQ(0, dmxp_chan_send(c3, "d", 1, 0));
	EXPECT_CLAIM(c3, DMXP_CLAIM_SEND, 0, 1);
	dmxp_chan_close(c3);
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 3));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 8));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 3, &c3));
	rec_claims = 0;
	ASSERT_NE(gen3, c3->f.gen);
	ASSERT_EQ(0, dmxp_chan_send(c3, "e", 1, 0));
	EXPECT_CLAIM(c3, DMXP_CLAIM_SEND, 0, 1);
	dmxp__hook_fn = NULL;
	dmxp_chan_close(c3);
}

/*
 * A signal handler that sends while its thread takes and caches its
 * record for a handle: the handler's claim is named in a record all the
 * same (an entry naming the handle with no record yet would let it claim
 * with none), a handler at the take's locks does not wait for them for
 * ever, and the thread keeps one record of the pool, cached whole.
 */
static struct dmxp_region *cache_region;
static struct dmxp_chan *cache_chan;
static volatile sig_atomic_t cache_armed, cache_in_handler;
static int cache_step, cache_sent = 1, cache_named = -1;

static void cache_send(int sig)
{
	(void)sig;
	cache_in_handler = 1;
	cache_sent = dmxp_chan_send(cache_chan, "h", 1, 0);
	cache_in_handler = 0;
}

/*
 * The records of this process (on /dev/dmxp, of its file's lease) that
 * claim @c's position just claimed, to send.
 */
static int records_naming(struct dmxp_chan *c)
{
	const struct dmxp_claims *cl = &c->f.region->claims;
	__u32 owner = cl->lease ? cl->lease : (__u32)getpid();
	__u64 pos = *c->f.stail - 1;
	unsigned int i;
	int n = 0;

	for (i = 0; i < cl->count; i++)
		if (cl->srecs[i].owner == owner &&
		    cl->srecs[i].state == DMXP_CLAIM_SEND && cl->srecs[i].pos == pos &&
		    cl->srecs[i].chan == c->f.id)
			n++;
	return n;
}

static void cache_hook(int step)
{
	if (cache_armed && step == cache_step) {
		cache_armed = 0;
		raise(SIGUSR1);
	} else if (cache_in_handler && step == DMXP_HOOK_SEND_CLAIMED) {
		cache_named = records_naming(cache_chan);
	}
}

/*
 * This thread's entry for @r names it, with a record of its pool, taken
 * (and, with @take, not the one another thread's take then gets).
 */
static void entry_whole(struct __test_metadata *_metadata, struct dmxp_region *r, bool take)
{
	const struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % DMXP__TCACHE];
	int bit;

	EXPECT_EQ(r->f.claims_serial, t->serial);
	EXPECT_EQ((__u32)getpid(), t->pid);
	ASSERT_GT(r->claims.n, t->bit);
	EXPECT_EQ(dmxp__claim_rec(r, t->bit), t->srec);
	EXPECT_NE(0ULL, r->claims.busy & (1ULL << t->bit));
	if (!take)
		return;
	bit = dmxp__claim_take(r);	/* as another thread would */
	ASSERT_LE(0, bit);
	EXPECT_NE(t->bit, (__u32)bit);
	dmxp__claim_put(r, (unsigned int)bit);
}

static void signal_while_caching(struct __test_metadata *_metadata, FIXTURE_DATA(ring) *self,
				 int step)
{
	struct sigaction sa = { .sa_handler = cache_send }, old;
	struct dmxp_region *rs[DMXP__TCACHE];
	struct dmxp_chan *c;
	unsigned int i;
	char b[8];

	/* The thread's entry for the fixture's handle, dropped when a later
	 * handle of the same entry is used: its pid stays the thread's. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	for (i = 0; i < DMXP__TCACHE; i++)
		ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &rs[i]));
	cache_region = rs[DMXP__TCACHE - 1];
	ASSERT_EQ(self->r->f.claims_serial % DMXP__TCACHE,
		  cache_region->f.claims_serial % DMXP__TCACHE);
	ASSERT_EQ(0, dmxp_chan_open(cache_region, CH, &c));
	cache_chan = c;
	cache_step = step;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	dmxp__hook_fn = cache_hook;
	cache_armed = 1;
	alarm(10);	/* a handler waiting for its thread's lock */
	EXPECT_EQ(0, dmxp_chan_send(c, "t", 1, 0));
	alarm(0);
	dmxp__hook_fn = NULL;
	sigaction(SIGUSR1, &old, NULL);
	EXPECT_EQ(0, cache_armed);
	EXPECT_EQ(0, cache_sent);
	EXPECT_EQ(1, cache_named);
	EXPECT_EQ(1, __builtin_popcountll(cache_region->claims.busy));
	entry_whole(_metadata, cache_region, true);
	EXPECT_EQ(1, dmxp_chan_recv(c, b, sizeof(b), NULL));
	EXPECT_EQ(1, dmxp_chan_recv(c, b, sizeof(b), NULL));
	EXPECT_EQ(0, ring_round_trips(c, 3 * CH_CAP, 10));
	EXPECT_EQ(1, __builtin_popcountll(cache_region->claims.busy));
	dmxp_chan_close(c);
	for (i = 0; i < DMXP__TCACHE; i++)
		dmxp_region_close(rs[i]);
}

TEST_F(ring, a_handler_s_send_while_its_thread_caches_a_record_claims_with_one)
{
	signal_while_caching(_metadata, self, DMXP_HOOK_THREAD_CACHING);
}

TEST_F(ring, a_handler_s_send_while_its_thread_takes_a_record_of_the_table)
{
	signal_while_caching(_metadata, self, DMXP_HOOK_RECORD_SETUP);
}

/*
 * A signal handler that sends while a loan comes back, and finds no
 * record left: the loan's record is the thread's again, whole, and the
 * next send claims with it.
 */
static struct dmxp_chan *nl_chan;
static volatile sig_atomic_t nl_armed;
static int nl_sent = 1, nl_named = -1;

static void nl_send(int sig)
{
	(void)sig;
	nl_sent = dmxp_chan_send(nl_chan, "h", 1, 0);
}

static void nl_hook(int step)
{
	if (nl_armed && step == DMXP_HOOK_REF_RETURNING) {
		nl_armed = 0;
		raise(SIGUSR1);
	} else if (!nl_armed && step == DMXP_HOOK_SEND_CLAIMED) {
		nl_named = records_naming(nl_chan);
	}
}

TEST_F(ring, a_handler_s_send_with_no_record_left_while_a_loan_comes_back)
{
	struct sigaction sa = { .sa_handler = nl_send }, old;
	struct dmxp_region *r = self->r;
	struct dmxp_ref ref;
	int held[64], n = 0;
	char b[8];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));	/* the thread's record */
	ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	/* Other threads of ours hold every other record of the pool. */
	while (n < 64 && (held[n] = dmxp__claim_take(r)) >= 0)
		n++;
	ASSERT_LT(0, n);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	nl_chan = self->c;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	dmxp__hook_fn = nl_hook;
	nl_armed = 1;
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &ref, 1, 0));
	EXPECT_EQ(0, nl_armed);
	EXPECT_EQ(-ENOBUFS, nl_sent);
	entry_whole(_metadata, r, false);
	EXPECT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(1, nl_named);
	dmxp__hook_fn = NULL;
	sigaction(SIGUSR1, &old, NULL);
	while (n--)
		dmxp__claim_put(r, (unsigned int)held[n]);
	entry_whole(_metadata, r, true);
	EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
}

/*
 * A signal handler that reserves while its thread's peek of an empty
 * ring gives the borrowed record back: the record says it claims nothing
 * until then, so the handler's reservation takes one of the pool, and
 * the thread's next send cannot write over it.
 */
static struct dmxp_chan *ret_chan;
static struct dmxp_ref ret_ref;
static int ret_reserved = 1;
static volatile sig_atomic_t ret_armed;

static void ret_reserve(int sig)
{
	(void)sig;
	ret_reserved = dmxp_chan_reserve(ret_chan, &ret_ref);
}

static void ret_hook(int step)
{
	if (ret_armed && step == DMXP_HOOK_REF_RETURNING) {
		ret_armed = 0;
		raise(SIGUSR1);
	}
}

TEST_F(ring, a_handler_s_reservation_while_an_empty_peek_returns_its_record)
{
	struct sigaction sa = { .sa_handler = ret_reserve }, old;
	struct dmxp_ref ref;
	char b[8];

	ASSERT_EQ(0, dmxp_chan_send(self->c, "w", 1, 0));	/* the thread's record */
	ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	ret_chan = self->c;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	dmxp__hook_fn = ret_hook;
	ret_armed = 1;
	EXPECT_EQ(-EAGAIN, dmxp_chan_peek(self->c, &ref));
	dmxp__hook_fn = NULL;
	sigaction(SIGUSR1, &old, NULL);
	EXPECT_EQ(0, ret_armed);
	ASSERT_EQ(0, ret_reserved);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "s", 1, 0));
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &ret_ref, 2, 0));
	EXPECT_EQ(2, dmxp_chan_recv(self->c, b, sizeof(b), NULL));	/* the reservation's slot is first */
	EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
}

TEST_HARNESS_MAIN
