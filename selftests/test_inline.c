// SPDX-License-Identifier: MIT
/*
 * The inline dmxp_chan_send() and dmxp_chan_recv() of dmxp.h: a message
 * whose slot is ready goes without a call into the library; everything
 * else is handed to it, whole and with the same result.
 *
 * Built without the test hooks, so this program runs the header's inline
 * code.  The linker wraps every function of the library the inline code
 * can call (--wrap, selftests/Makefile): each one counts, per thread, so
 * every test says exactly which calls went to the library.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "helpers.h"

#define CH	3
#define CAP	16

int __real_dmxp__chan_send_slow(struct dmxp_chan *c, const void *buf, size_t len, __u32 type);
ssize_t __real_dmxp__chan_recv_slow(struct dmxp_chan *c, void *buf, size_t len,
				    struct dmxp_msg_meta *meta);
int __wrap_dmxp__chan_send_slow(struct dmxp_chan *c, const void *buf, size_t len, __u32 type);
ssize_t __wrap_dmxp__chan_recv_slow(struct dmxp_chan *c, void *buf, size_t len,
				    struct dmxp_msg_meta *meta);

__u64 __real_dmxp__clock(unsigned int policy);
void __real_dmxp__notify(struct dmxp_chan *c, unsigned int flags, unsigned int n);
int __real_dmxp__send_repaired(struct dmxp_chan *c, struct dmxp_claim *srec, __u64 pos,
			       __u64 seq, int written);
int __real_dmxp__recv_repaired(struct dmxp_chan *c, struct dmxp_claim *srec);
__u64 __wrap_dmxp__clock(unsigned int policy);
void __wrap_dmxp__notify(struct dmxp_chan *c, unsigned int flags, unsigned int n);
int __wrap_dmxp__send_repaired(struct dmxp_chan *c, struct dmxp_claim *srec, __u64 pos,
			       __u64 seq, int written);
int __wrap_dmxp__recv_repaired(struct dmxp_chan *c, struct dmxp_claim *srec);

static __thread unsigned long sends_called, recvs_called, clocks_called, others_called;

__u64 __wrap_dmxp__clock(unsigned int policy)
{
	clocks_called++;
	return __real_dmxp__clock(policy);
}

void __wrap_dmxp__notify(struct dmxp_chan *c, unsigned int flags, unsigned int n)
{
	others_called++;
	__real_dmxp__notify(c, flags, n);
}

int __wrap_dmxp__send_repaired(struct dmxp_chan *c, struct dmxp_claim *srec, __u64 pos,
			       __u64 seq, int written)
{
	others_called++;
	return __real_dmxp__send_repaired(c, srec, pos, seq, written);
}

int __wrap_dmxp__recv_repaired(struct dmxp_chan *c, struct dmxp_claim *srec)
{
	others_called++;
	return __real_dmxp__recv_repaired(c, srec);
}

int __wrap_dmxp__chan_send_slow(struct dmxp_chan *c, const void *buf, size_t len, __u32 type)
{
	sends_called++;
	return __real_dmxp__chan_send_slow(c, buf, len, type);
}

ssize_t __wrap_dmxp__chan_recv_slow(struct dmxp_chan *c, void *buf, size_t len,
				    struct dmxp_msg_meta *meta)
{
	recvs_called++;
	return __real_dmxp__chan_recv_slow(c, buf, len, meta);
}

FIXTURE(inl) {
	char path[256];
	struct dmxp_region *r;
	struct dmxp_chan *c;
};

FIXTURE_SETUP(inl)
{
	test_region_path(self->path, sizeof(self->path), "inline");
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
	sends_called = recvs_called = clocks_called = others_called = 0;
}

FIXTURE_TEARDOWN(inl)
{
	dmxp_chan_close(self->c);
	dmxp_region_close(self->r);
	test_region_remove(self->path);
}

/* Send message @n (its length and bytes derive from @n), then count nothing. */
static int send_nth(struct dmxp_chan *c, unsigned int n)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	size_t len = (n * 131) % (DMXP_MAX_PAYLOAD + 1);

	test_fill(buf, len, 1, n);
	return dmxp_chan_send(c, buf, len, 0x1000 + n);
}

/* Receive message @n and check all of it: 0, or the line of the failed check. */
static int recv_nth(struct dmxp_chan *c, unsigned int n, __u32 pid)
{
	unsigned char buf[DMXP_MAX_PAYLOAD], want[DMXP_MAX_PAYLOAD];
	size_t len = (n * 131) % (DMXP_MAX_PAYLOAD + 1);
	struct dmxp_msg_meta meta;
	ssize_t got;

	memset(&meta, 0xa5, sizeof(meta));
	got = dmxp_chan_recv(c, buf, sizeof(buf), &meta);
	test_fill(want, len, 1, n);
	if (got != (ssize_t)len || memcmp(buf, want, len))
		return __LINE__;
	if (meta.payload_len != len || meta.message_type != 0x1000 + n ||
	    meta.channel_id != CH || meta.sender_pid != pid || meta.flags ||
	    meta.sender_runtime != DMXP_RUNTIME_C || meta.__pad)
		return __LINE__;
	return 0;
}

/* A thread's first call takes its claim record: in the library. */
static void warm_up(struct __test_metadata *_metadata, struct dmxp_chan *c)
{
	char b;

	ASSERT_EQ(0, dmxp_chan_send(c, "w", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(c, &b, 1, NULL));
	sends_called = recvs_called = clocks_called = others_called = 0;
}

TEST_F(inl, ready_messages_go_without_a_call)
{
	unsigned int n;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	for (n = 0; n < 500; n++) {
		ASSERT_EQ(0, send_nth(self->c, n));
		if (n % 3 == 2) {	/* the ring holds a few, and wraps */
			ASSERT_EQ(0, recv_nth(self->c, n - 2, (__u32)getpid()));
			ASSERT_EQ(0, recv_nth(self->c, n - 1, (__u32)getpid()));
			ASSERT_EQ(0, recv_nth(self->c, n, (__u32)getpid()));
		}
	}
	EXPECT_EQ(0UL, sends_called);
	EXPECT_EQ(0UL, recvs_called);
	EXPECT_EQ(0UL, clocks_called);
	EXPECT_EQ(0UL, others_called);
}

/* A stamped send reads the clock through the library: that one call. */
TEST_F(inl, a_stamped_send_calls_only_for_the_clock)
{
	unsigned int n;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_COARSE));
	for (n = 0; n < 100; n++) {
		ASSERT_EQ(0, send_nth(self->c, n));
		ASSERT_EQ(0, recv_nth(self->c, n, (__u32)getpid()));
	}
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_PRECISE));
	for (n = 0; n < 100; n++) {
		ASSERT_EQ(0, send_nth(self->c, n));
		ASSERT_EQ(0, recv_nth(self->c, n, (__u32)getpid()));
	}
	EXPECT_EQ(200UL, clocks_called);
	EXPECT_EQ(0UL, sends_called + recvs_called + others_called);
}

/* A library whose handles the header does not know: every call is the library's. */
TEST_F(inl, another_layout_calls_the_library)
{
	unsigned int n;

	warm_up(_metadata, self->c);
	dmxp__fast(self->c)->abi = DMXP__FAST_ABI + 1;
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	for (n = 0; n < 100; n++) {
		ASSERT_EQ(0, send_nth(self->c, n));
		ASSERT_EQ(0, recv_nth(self->c, n, (__u32)getpid()));
	}
	EXPECT_EQ(100UL, sends_called);
	EXPECT_EQ(100UL, recvs_called);
	dmxp__fast(self->c)->abi = DMXP__FAST_ABI;
}

TEST_F(inl, empty_and_full_are_the_library_s)
{
	char b[8];
	unsigned int n;

	warm_up(_metadata, self->c);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(1UL, recvs_called);
	for (n = 0; n < CAP; n++)
		ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(0UL, sends_called);
	EXPECT_EQ(-EAGAIN, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(1UL, sends_called);
}

TEST_F(inl, a_message_too_big_for_the_buffer_stays)
{
	char big[100] = { 7 }, small[50];
	struct dmxp_msg_meta meta;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_send(self->c, big, sizeof(big), 9));
	memset(&meta, 0xa5, sizeof(meta));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv(self->c, small, sizeof(small), &meta));
	EXPECT_EQ(100U, meta.payload_len);
	EXPECT_EQ(0U, meta.message_type);	/* the rest zeroed */
	EXPECT_EQ(1UL, recvs_called);
	EXPECT_EQ(100, dmxp_chan_recv(self->c, big, sizeof(big), &meta));
	EXPECT_EQ(9U, meta.message_type);
}

TEST_F(inl, an_oversized_send_is_refused_and_nothing_is_sent)
{
	static char buf[DMXP_MAX_PAYLOAD + 1];
	char b;

	warm_up(_metadata, self->c);
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send(self->c, buf, sizeof(buf), 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, &b, 1, NULL));
}

TEST_F(inl, a_tombstone_at_the_head_is_skipped)
{
	struct dmxp_ref ref;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "abc", 3, 5));
	ASSERT_EQ(0, dmxp_chan_abort(self->c, &ref));
	EXPECT_EQ(3, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(0, memcmp(b, "abc", 3));
	EXPECT_EQ(1UL, recvs_called);
}

TEST_F(inl, a_destroyed_channel_is_eidrm)
{
	char b;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(-EIDRM, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(-EIDRM, dmxp_chan_recv(self->c, &b, 1, NULL));
	/* Created again: the old handle still must not reach the new ring. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(-EIDRM, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(-EIDRM, dmxp_chan_recv(self->c, &b, 1, NULL));
}

TEST_F(inl, the_timestamp_policy_and_runtime_are_the_handle_s)
{
	struct dmxp_msg_meta meta;
	long long t0, t1;
	char b;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, &b, 1, &meta));
	EXPECT_EQ(0ULL, (unsigned long long)meta.timestamp_ns);
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_PRECISE));
	/* Changed after the channel was opened: the next message says so. */
	ASSERT_EQ(0, dmxp_region_set_runtime(self->r, DMXP_RUNTIME_PYTHON));
	t0 = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	t1 = test_now_ns();
	ASSERT_EQ(1, dmxp_chan_recv(self->c, &b, 1, &meta));
	EXPECT_LE((unsigned long long)t0, (unsigned long long)meta.timestamp_ns);
	EXPECT_GE((unsigned long long)t1, (unsigned long long)meta.timestamp_ns);
	EXPECT_EQ(DMXP_RUNTIME_PYTHON, meta.sender_runtime);
	EXPECT_EQ(0UL, sends_called);
	EXPECT_EQ(0UL, recvs_called);
}

struct thread_arg {
	struct dmxp_chan *c;
	unsigned long sends, recvs;
	int failed;
};

static void *sender(void *p)
{
	struct thread_arg *a = p;
	unsigned int n;

	for (n = 0; n < 10; n++)
		if (send_nth(a->c, n))
			a->failed = __LINE__;
	for (n = 0; n < 10 && !a->failed; n++)
		a->failed = recv_nth(a->c, n, (__u32)getpid());
	a->sends = sends_called;
	a->recvs = recvs_called;
	return NULL;
}

/* Each thread takes its own record, in its first call, then goes inline. */
TEST_F(inl, a_new_thread_calls_the_library_once)
{
	struct thread_arg a = { .c = self->c };
	pthread_t t;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, pthread_create(&t, NULL, sender, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.failed);
	EXPECT_EQ(1UL, a.sends);
	EXPECT_EQ(0UL, a.recvs);
}

/*
 * A child of fork() has its parent's thread cache: its first call must
 * find the record its parent's, take one of its own, and name itself.
 */
TEST_F(inl, a_forked_child_names_itself)
{
	unsigned int n;
	pid_t pid;
	int status;

	warm_up(_metadata, self->c);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (n = 0; n < 10; n++)
			if (send_nth(self->c, n))
				_exit(2);
		_exit(sends_called == 1 ? 0 : 3);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, test_exit_code(status));
	for (n = 0; n < 10; n++)
		ASSERT_EQ(0, recv_nth(self->c, n, (__u32)pid));
	EXPECT_EQ(0UL, recvs_called);
}

/*
 * A fork handler of the program registered before any region was opened
 * sends from the child: libdmxp registers its own at load, so it runs
 * first and the child's message is the child's, through a record of its
 * own (with a handler registered at the first open, the inline send used
 * the parent's pid and the parent's record).
 */
static struct dmxp_chan *fork_chan;
static int fork_sent = 1;

static void child_sends(void)
{
	if (fork_chan)
		fork_sent = send_nth(fork_chan, 7);
}

TEST(a_fork_handler_of_the_program_sends_as_the_child)
{
	struct dmxp_region *r;
	char path[256];
	pid_t pid;
	int status;

	ASSERT_EQ(0, pthread_atfork(NULL, NULL, child_sends));
	test_region_path(path, sizeof(path), "inlfork");
	ASSERT_EQ(0, dmxp_region_open(path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(r, CH, &fork_chan));
	ASSERT_EQ(0, send_nth(fork_chan, 6));	/* this thread's record, cached */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(fork_sent ? 2 : 0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, test_exit_code(status));
	EXPECT_EQ(0, recv_nth(fork_chan, 6, (__u32)getpid()));
	EXPECT_EQ(0, recv_nth(fork_chan, 7, (__u32)pid));
	dmxp_chan_close(fork_chan);
	fork_chan = NULL;
	dmxp_region_close(r);
	test_region_remove(path);
}

TEST_HARNESS_MAIN
