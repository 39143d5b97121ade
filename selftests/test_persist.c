// SPDX-License-Identifier: MIT
/*
 * Persistence: a region, its channels and their messages outlive the
 * processes that made them.
 *
 *   - messages sent by a process that has exited are received, in order
 *     and intact (payload and metadata), by a process that attaches later;
 *   - a channel created by a dead process can be destroyed and created
 *     again by another;
 *   - a region with several channels keeps each one's messages apart;
 *   - closing and reopening in the same process keeps everything.
 *
 * Helpers that run in forked children return 0 or the __LINE__ of the
 * first failed check (printed to stderr), so the same checks serve the
 * children (as exit status) and the test process (through ASSERT_EQ).
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

/* The harness leaves parameters unused; -Werror must not trip on it. */
#include "kselftest_harness.h"
#include "helpers.h"

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# %s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		return __LINE__;					\
	}								\
} while (0)

/* Payload length of message @n of channel @ch: all sizes, extremes often. */
static size_t msg_len(unsigned int ch, __u64 n)
{
	switch (n % 7) {
	case 0:
		return 0;
	case 1:
		return DMXP_MAX_PAYLOAD;
	default:
		return (size_t)((n * 53 + ch * 7) % (DMXP_MAX_PAYLOAD + 1));
	}
}

static __u32 msg_type(unsigned int ch, __u64 n)
{
	return 0x10000000u | (ch << 16) | (__u32)(n & 0xffff);
}

/*
 * Send messages @first..@first+@count-1 of channel @ch's sequence,
 * alternating send, send_batch and reserve/commit.
 */
static int send_msgs(struct dmxp_chan *c, unsigned int ch, __u64 first, __u64 count)
{
	unsigned char bufs[3][DMXP_MAX_PAYLOAD];
	__u64 n = first, end = first + count;

	while (n < end) {
		switch (n % 3) {
		case 0:
			test_fill(bufs[0], msg_len(ch, n), ch, n);
			CHECK(dmxp_chan_send(c, bufs[0], msg_len(ch, n), msg_type(ch, n)) == 0);
			n++;
			break;
		case 1: {
			struct dmxp_smsg m[3];
			unsigned int k, want = end - n < 3 ? (unsigned int)(end - n) : 3;
			int ret;

			for (k = 0; k < want; k++) {
				test_fill(bufs[k], msg_len(ch, n + k), ch, n + k);
				m[k].buf = bufs[k];
				m[k].len = (__u32)msg_len(ch, n + k);
				m[k].type = msg_type(ch, n + k);
			}
			ret = dmxp_chan_send_batch(c, m, want);
			CHECK(ret == (int)want);
			n += want;
			break;
		}
		default: {
			struct dmxp_ref ref;

			CHECK(dmxp_chan_reserve(c, &ref) == 0);
			test_fill(ref.payload, msg_len(ch, n), ch, n);
			CHECK(dmxp_chan_commit(c, &ref, msg_len(ch, n), msg_type(ch, n)) == 0);
			n++;
			break;
		}
		}
	}
	return 0;
}

/* Check one received message: sequence number @n, position @id. */
static int check_msg(const void *buf, size_t len, const struct dmxp_msg_meta *m,
		     unsigned int ch, __u64 n, __u64 id, __u32 sender,
		     __u64 *last_ts)
{
	unsigned char want[DMXP_MAX_PAYLOAD];

	CHECK(len == msg_len(ch, n));
	test_fill(want, len, ch, n);
	CHECK(!memcmp(buf, want, len));
	CHECK(m->message_id == id);
	CHECK(m->channel_id == ch);
	CHECK(m->message_type == msg_type(ch, n));
	CHECK(m->sender_pid == sender);
	CHECK(m->sender_runtime == DMXP_RUNTIME_C);
	CHECK(m->flags == 0);
	CHECK(m->payload_len == len);
	CHECK(m->__pad == 0);
	CHECK(m->timestamp_ns != 0 && m->timestamp_ns >= *last_ts);
	*last_ts = m->timestamp_ns;
	return 0;
}

/*
 * Receive messages @first..@first+@count-1 (at positions from @id on) and
 * check them, alternating recv, recv_batch and peek/release.
 */
static int recv_msgs(struct dmxp_chan *c, unsigned int ch, __u64 first, __u64 count,
		     __u64 id, __u32 sender)
{
	static unsigned char bufs[4][DMXP_MAX_PAYLOAD];
	__u64 n = first, end = first + count, ts = 0;
	int ret;

	while (n < end) {
		switch (n % 3) {
		case 0: {
			struct dmxp_msg_meta m;
			ssize_t len = dmxp_chan_recv(c, bufs[0], sizeof(bufs[0]), &m);

			CHECK(len >= 0);
			ret = check_msg(bufs[0], (size_t)len, &m, ch, n, id, sender, &ts);
			if (ret)
				return ret;
			n++, id++;
			break;
		}
		case 1: {
			struct dmxp_rmsg m[4];
			unsigned int k, want = end - n < 4 ? (unsigned int)(end - n) : 4;
			int got;

			for (k = 0; k < want; k++) {
				m[k].buf = bufs[k];
				m[k].buf_len = DMXP_MAX_PAYLOAD;
			}
			got = dmxp_chan_recv_batch(c, m, want);
			CHECK(got >= 1 && got <= (int)want);
			for (k = 0; k < (unsigned int)got; k++) {
				CHECK(m[k].len == m[k].meta.payload_len);
				ret = check_msg(m[k].buf, m[k].len, &m[k].meta, ch, n, id,
						sender, &ts);
				if (ret)
					return ret;
				n++, id++;
			}
			break;
		}
		default: {
			struct dmxp_ref ref;

			CHECK(dmxp_chan_peek(c, &ref) == 0);
			ret = check_msg(ref.payload, ref.meta->payload_len, ref.meta,
					ch, n, id, sender, &ts);
			dmxp_chan_release(c, &ref);
			if (ret)
				return ret;
			n++, id++;
			break;
		}
		}
	}
	return 0;
}

static int expect_empty(struct dmxp_chan *c)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct dmxp_ref ref;

	CHECK(dmxp_chan_recv(c, buf, sizeof(buf), NULL) == -EAGAIN);
	CHECK(dmxp_chan_peek(c, &ref) == -EAGAIN);
	return 0;
}

static int expect_info(struct dmxp_region *r, unsigned int ch, __u64 cap,
		       __u64 head, __u64 tail)
{
	struct dmxp_chan_info info;

	CHECK(dmxp_chan_info(r, ch, &info) == 0);
	CHECK(info.capacity == cap);
	CHECK(info.head == head);
	CHECK(info.tail == tail);
	CHECK(info.depth == tail - head);
	return 0;
}

/* Run @fn(@arg) in a child process; returns its exit status (or 1000 + signal). */
static int run_child(int (*fn)(const void *arg), const void *arg, pid_t *pidp)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn(arg) ? 1 : 0);
	if (pidp)
		*pidp = pid;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 1000 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

FIXTURE(persist) {
	char path[256];
};

FIXTURE_SETUP(persist)
{
	test_region_path(self->path, sizeof(self->path), "persist");
}

FIXTURE_TEARDOWN(persist)
{
	test_region_remove(self->path);
}

/* -------------------------------------- messages outlive their sender */

#define P1_CHAN		3
#define P1_CAP		64
#define P1_WRAP		150	/* sent and received first: positions pass a lap */
#define P1_COUNT	60	/* left in the ring for the next process */

struct p1_arg {
	const char *path;
	__u32 writer;
};

static int p1_writer(const void *arg)
{
	const struct p1_arg *a = arg;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int ret;

	CHECK(dmxp_region_open(a->path, TEST_REGION_SIZE,
			       DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r) == 0);
	CHECK(dmxp_chan_create(r, P1_CHAN, P1_CAP) == 0);
	CHECK(dmxp_chan_open(r, P1_CHAN, &c) == 0);
	/* Turn the ring over twice, in chunks that fit. */
	for (ret = 0; ret < P1_WRAP; ret += 50) {
		CHECK(send_msgs(c, P1_CHAN, ret, 50) == 0);
		CHECK(recv_msgs(c, P1_CHAN, ret, 50, ret, (__u32)getpid()) == 0);
	}
	ret = send_msgs(c, P1_CHAN, P1_WRAP, P1_COUNT);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return ret;
}

static int p1_reader(const void *arg)
{
	const struct p1_arg *a = arg;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	unsigned int ids[4];
	int ret;

	CHECK(dmxp_region_open(a->path, 0, 0, &r) == 0);
	CHECK(dmxp_region_size(r) == TEST_REGION_SIZE);
	CHECK(dmxp_chan_list(r, ids, 4) == 1 && ids[0] == P1_CHAN);
	ret = expect_info(r, P1_CHAN, P1_CAP, P1_WRAP, P1_WRAP + P1_COUNT);
	if (ret)
		return ret;
	CHECK(dmxp_chan_open(r, P1_CHAN, &c) == 0);
	CHECK(dmxp_chan_capacity(c) == P1_CAP);
	ret = recv_msgs(c, P1_CHAN, P1_WRAP, P1_COUNT, P1_WRAP, a->writer);
	if (!ret)
		ret = expect_empty(c);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return ret;
}

TEST_F(persist, messages_outlive_sender)
{
	struct p1_arg a = { .path = self->path };
	struct dmxp_region *r;
	pid_t pid;

	ASSERT_EQ(0, run_child(p1_writer, &a, &pid));
	a.writer = (__u32)pid;
	/* Nobody has the region open now: it lives on in its file alone. */
	if (!test_on_kernel())
		ASSERT_EQ(0, access(self->path, F_OK));
	ASSERT_EQ(0, run_child(p1_reader, &a, NULL));

	/* What the reader consumed stays consumed. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	EXPECT_EQ(0, expect_info(r, P1_CHAN, P1_CAP, P1_WRAP + P1_COUNT,
				 P1_WRAP + P1_COUNT));
	dmxp_region_close(r);
	EXPECT_EQ(0, dmxp_region_unlink(self->path));
	EXPECT_EQ(-ENOENT, dmxp_region_open(self->path, 0, 0, &r));
}

/* ------------------------------- destroy and re-create a dead one's channel */

#define P2_CHAN		5

struct p2_arg {
	const char *path;
	__u32 sender;
};

static int p2_creator(const void *arg)
{
	const struct p2_arg *a = arg;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int ret;

	CHECK(dmxp_region_open(a->path, TEST_REGION_SIZE,
			       DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r) == 0);
	CHECK(dmxp_chan_create(r, P2_CHAN, 16) == 0);
	CHECK(dmxp_chan_open(r, P2_CHAN, &c) == 0);
	ret = send_msgs(c, P2_CHAN, 0, 10);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return ret;
}

/* A third process: reads what the second sent, then re-creates bigger. */
static int p2_third(const void *arg)
{
	const struct p2_arg *a = arg;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int ret;

	CHECK(dmxp_region_open(a->path, 0, 0, &r) == 0);
	CHECK(dmxp_chan_open(r, P2_CHAN, &c) == 0);
	ret = recv_msgs(c, P2_CHAN, 100, 3, 0, a->sender);
	if (ret)
		return ret;
	CHECK(expect_empty(c) == 0);
	CHECK(dmxp_chan_destroy(r, P2_CHAN) == 0);
	CHECK(dmxp_chan_recv(c, NULL, 0, NULL) == -EIDRM);
	dmxp_chan_close(c);
	CHECK(dmxp_chan_create(r, P2_CHAN, 32) == 0);
	CHECK(dmxp_chan_open(r, P2_CHAN, &c) == 0);
	ret = send_msgs(c, P2_CHAN, 200, 32);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return ret;
}

TEST_F(persist, recreate_dead_creators_channel)
{
	struct p2_arg a = { .path = self->path };
	struct dmxp_chan_info before, after;
	struct dmxp_chan *old, *c;
	struct dmxp_region *r;
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct dmxp_ref ref;
	size_t free_before;
	pid_t pid;

	ASSERT_EQ(0, run_child(p2_creator, &a, &pid));

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ(0, expect_info(r, P2_CHAN, 16, 0, 10)) {
		dmxp_region_close(r);
	}
	ASSERT_EQ(0, dmxp_chan_info(r, P2_CHAN, &before));
	free_before = dmxp_region_free(r);
	ASSERT_EQ(-EEXIST, dmxp_chan_create(r, P2_CHAN, 16));
	ASSERT_EQ(0, dmxp_chan_open(r, P2_CHAN, &old));
	/* The first message is still there, as its dead sender left it. */
	ASSERT_EQ(0, recv_msgs(old, P2_CHAN, 0, 1, 0, (__u32)pid));

	ASSERT_EQ(0, dmxp_chan_destroy(r, P2_CHAN));
	EXPECT_EQ(-EIDRM, dmxp_chan_recv(old, buf, sizeof(buf), NULL));
	EXPECT_EQ(-EIDRM, dmxp_chan_send(old, buf, 1, 0));
	EXPECT_EQ(-EIDRM, dmxp_chan_reserve(old, &ref));
	EXPECT_EQ(-EIDRM, dmxp_chan_peek(old, &ref));
	dmxp_chan_close(old);
	EXPECT_EQ(-ENOENT, dmxp_chan_open(r, P2_CHAN, &c));
	EXPECT_EQ(-ENOENT, dmxp_chan_info(r, P2_CHAN, &after));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(r, P2_CHAN));
	EXPECT_EQ(0, dmxp_chan_list(r, NULL, 0));

	/* Same capacity: the band is reused, and the old messages are gone. */
	ASSERT_EQ(0, dmxp_chan_create(r, P2_CHAN, 16));
	ASSERT_EQ(0, expect_info(r, P2_CHAN, 16, 0, 0));
	ASSERT_EQ(0, dmxp_chan_info(r, P2_CHAN, &after));
	EXPECT_EQ(before.band_offset, after.band_offset);
	EXPECT_EQ(free_before, dmxp_region_free(r));
	ASSERT_EQ(0, dmxp_chan_open(r, P2_CHAN, &c));
	EXPECT_EQ(0, expect_empty(c));
	ASSERT_EQ(0, send_msgs(c, P2_CHAN, 100, 3));
	dmxp_chan_close(c);

	/* Another process reads them, destroys, re-creates bigger and sends. */
	a.sender = (__u32)getpid();
	ASSERT_EQ(0, run_child(p2_third, &a, &pid));

	ASSERT_EQ(0, expect_info(r, P2_CHAN, 32, 0, 32));
	ASSERT_EQ(0, dmxp_chan_info(r, P2_CHAN, &after));
	/*
	 * Region files bind a band to its id and carve a new one when it is
	 * too small; the kernel places rings first-fit in its own table.
	 */
	if (!test_on_kernel()) {
		EXPECT_NE(before.band_offset, after.band_offset);
		EXPECT_EQ(free_before - 32 * DMXP_SLOT_SIZE, dmxp_region_free(r));
	}
	ASSERT_EQ(0, dmxp_chan_open(r, P2_CHAN, &c));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send(c, buf, 0, 0));	/* full */
	EXPECT_EQ(0, recv_msgs(c, P2_CHAN, 200, 32, 0, (__u32)pid));
	EXPECT_EQ(0, expect_empty(c));
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

/* ----------------------------------- several channels, each its own messages */

static const struct {
	unsigned int id;
	unsigned int cap;
	unsigned int count;	/* messages left in it */
} p3_chans[] = {
	{ 0, 2, 2 },		/* full */
	{ 1, 8, 5 },
	{ 17, 64, 64 },		/* full */
	{ 100, 4, 0 },		/* empty */
	{ 255, 1024, 300 },
};

#define P3_N	(sizeof(p3_chans) / sizeof(p3_chans[0]))

static int p3_writer(const void *arg)
{
	const char *path = arg;
	struct dmxp_region *r;
	struct dmxp_chan *c[P3_N];
	unsigned int i, round;

	CHECK(dmxp_region_open(path, TEST_REGION_SIZE,
			       DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r) == 0);
	/* Create in an order unlike the ids. */
	for (i = P3_N; i--; ) {
		CHECK(dmxp_chan_create(r, p3_chans[i].id, p3_chans[i].cap) == 0);
		CHECK(dmxp_chan_open(r, p3_chans[i].id, &c[i]) == 0);
	}
	/* Interleave the channels, one message at a time. */
	for (round = 0; round < 300; round++)
		for (i = 0; i < P3_N; i++)
			if (round < p3_chans[i].count)
				CHECK(send_msgs(c[i], p3_chans[i].id, round, 1) == 0);
	for (i = 0; i < P3_N; i++) {
		if (p3_chans[i].count == p3_chans[i].cap)
			CHECK(dmxp_chan_send(c[i], "x", 1, 0) == -EAGAIN);
		dmxp_chan_close(c[i]);
	}
	dmxp_region_close(r);
	return 0;
}

TEST_F(persist, channels_keep_their_own_messages)
{
	unsigned int ids[DMXP_MAX_CHANNELS], i, round;
	struct dmxp_chan *c[P3_N];
	struct dmxp_region *r;
	pid_t pid;

	ASSERT_EQ(0, run_child(p3_writer, self->path, &pid));

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ((int)P3_N, dmxp_chan_list(r, ids, DMXP_MAX_CHANNELS));
	for (i = 0; i < P3_N; i++) {
		ASSERT_EQ(p3_chans[i].id, ids[i]);
		ASSERT_EQ(0, expect_info(r, p3_chans[i].id, p3_chans[i].cap, 0,
					 p3_chans[i].count));
		ASSERT_EQ(0, dmxp_chan_open(r, p3_chans[i].id, &c[i]));
	}
	/* Drain in reverse, interleaved: each channel gives its own sequence. */
	for (round = 0; round < 300; round++)
		for (i = P3_N; i--; )
			if (round < p3_chans[i].count)
				ASSERT_EQ(0, recv_msgs(c[i], p3_chans[i].id, round, 1,
						       round, (__u32)pid));
	for (i = 0; i < P3_N; i++) {
		EXPECT_EQ(0, expect_empty(c[i]));
		dmxp_chan_close(c[i]);
	}
	dmxp_region_close(r);
}

/* ------------------------------------------- close and reopen, same process */

TEST_F(persist, close_and_reopen)
{
	struct dmxp_region *r, *r2;
	struct dmxp_chan *a, *b, *a2;
	struct dmxp_ref ref;
	__u32 me = (__u32)getpid();

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, 1, 32));
	ASSERT_EQ(0, dmxp_chan_create(r, 2, 8));
	ASSERT_EQ(0, dmxp_chan_open(r, 1, &a));
	ASSERT_EQ(0, dmxp_chan_open(r, 2, &b));
	ASSERT_EQ(0, send_msgs(a, 1, 0, 20));
	ASSERT_EQ(0, send_msgs(b, 2, 0, 7));
	ASSERT_EQ(0, recv_msgs(a, 1, 0, 5, 0, me));
	dmxp_chan_close(a);
	dmxp_chan_close(b);
	dmxp_region_close(r);

	/* Reopen without CREATE: all there, half read. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ(0, expect_info(r, 1, 32, 5, 20));
	ASSERT_EQ(0, expect_info(r, 2, 8, 0, 7));
	ASSERT_EQ(0, dmxp_chan_open(r, 1, &a));
	ASSERT_EQ(0, recv_msgs(a, 1, 5, 5, 5, me));

	/* A second handle on the region in the same process sees the same. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, DMXP_OPEN_CREATE, &r2));
	ASSERT_EQ(0, dmxp_chan_open(r2, 1, &a2));
	ASSERT_EQ(0, recv_msgs(a2, 1, 10, 2, 10, me));
	ASSERT_EQ(0, recv_msgs(a, 1, 12, 2, 12, me));
	ASSERT_EQ(0, send_msgs(a2, 1, 20, 4));
	dmxp_chan_close(a2);
	dmxp_region_close(r2);
	/* The other handle is still good after closing the second. */
	ASSERT_EQ(0, recv_msgs(a, 1, 14, 1, 14, me));
	dmxp_chan_close(a);
	dmxp_region_close(r);

	/* EXCL refuses an existing region; a plain CREATE attaches to it. */
	ASSERT_EQ(-EEXIST, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE * 2,
				      DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(TEST_REGION_SIZE, dmxp_region_size(r));
	ASSERT_EQ(0, expect_info(r, 1, 32, 15, 24));
	ASSERT_EQ(0, dmxp_chan_open(r, 1, &a));
	/* A peeked-and-released message stays consumed across a reopen. */
	ASSERT_EQ(0, dmxp_chan_peek(a, &ref));
	EXPECT_EQ(15ULL, ref.meta->message_id);
	dmxp_chan_release(a, &ref);
	dmxp_chan_close(a);
	dmxp_region_close(r);

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ(0, dmxp_chan_open(r, 1, &a));
	ASSERT_EQ(0, dmxp_chan_open(r, 2, &b));
	EXPECT_EQ(0, recv_msgs(a, 1, 16, 8, 16, me));
	EXPECT_EQ(0, recv_msgs(b, 2, 0, 7, 0, me));
	EXPECT_EQ(0, expect_empty(a));
	EXPECT_EQ(0, expect_empty(b));
	dmxp_chan_close(a);
	dmxp_chan_close(b);
	dmxp_region_close(r);
}

TEST_HARNESS_MAIN
