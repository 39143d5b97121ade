// SPDX-License-Identifier: MIT
/*
 * The inline calls of dmxp.h: a message whose slot is ready goes without
 * a call into the library (send, recv; reserve and commit, peek and
 * release); everything else is handed to it, whole and with the same
 * result.
 *
 * Built without the test hooks, so this program runs the header's inline
 * code.  The linker wraps every function of the library the inline code
 * can call (--wrap, selftests/Makefile): each one counts, per thread, so
 * every test says exactly which calls went to the library.
 */
#include <pthread.h>
#include <sys/wait.h>

/* The inline code's steps, for a test that interrupts one. */
static void inl_hook(const char *step);
#define DMXP__HOOK(step)	inl_hook(#step)

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
static __thread unsigned long zc_called, puts_called;

/* The zero-copy calls' ends in the library: each counts in zc_called. */
#define WRAP_ZC(ret, name, params, args)				\
	ret __real_##name params;					\
	ret __wrap_##name params;					\
	ret __wrap_##name params					\
	{								\
		zc_called++;						\
		return __real_##name args;				\
	}
WRAP_ZC(int, dmxp__chan_reserve_slow, (struct dmxp_chan *c, struct dmxp_ref *ref), (c, ref))
WRAP_ZC(int, dmxp__chan_commit_slow, (struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
				      __u32 type), (c, ref, len, type))
WRAP_ZC(int, dmxp__chan_peek_slow, (struct dmxp_chan *c, struct dmxp_ref *ref), (c, ref))
WRAP_ZC(int, dmxp__chan_release_slow, (struct dmxp_chan *c, struct dmxp_ref *ref), (c, ref))
WRAP_ZC(int, dmxp__commit_repaired, (struct dmxp_chan *c, struct dmxp_ref *ref, __u64 seq),
	(c, ref, seq))
WRAP_ZC(int, dmxp__release_repaired, (struct dmxp_chan *c, struct dmxp_ref *ref), (c, ref))

void __real_dmxp__ref_put(struct dmxp_chan *c, __u32 claim);
void __wrap_dmxp__ref_put(struct dmxp_chan *c, __u32 claim);
void __wrap_dmxp__ref_put(struct dmxp_chan *c, __u32 claim)
{
	puts_called++;
	__real_dmxp__ref_put(c, claim);
}

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
	zc_called = puts_called = 0;
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
	zc_called = puts_called = 0;
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

/*
 * The CPU flag PREFETCHW goes by in /proc/cpuinfo: 1, 0, or -1 (unknown,
 * or a flag the kernel was told to hide with clearcpuid=, which CPUID
 * still shows).
 */
static int cpuinfo_prefetchw(void)
{
	FILE *f = fopen("/proc/cmdline", "r");
	char line[4096];
	int has = -1;

	if (f) {
		bool hidden = fgets(line, sizeof(line), f) && strstr(line, "clearcpuid");

		fclose(f);
		if (hidden)
			return -1;
	}
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return -1;
	while (has < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5))
			has = strstr(line, " 3dnowprefetch") != NULL;
	fclose(f);
	return has;
}

/* The write prefetch of the inline calls is used where the CPU has it, and only there. */
TEST_F(inl, the_write_prefetch_is_the_cpu_s)
{
	const struct dmxp__region_fast *rf = (const struct dmxp__region_fast *)self->r;
	int has = cpuinfo_prefetchw();

#if defined(__x86_64__) || defined(__i386__)
	if (has < 0)
		SKIP(return, "no flags line in /proc/cpuinfo, or clearcpuid= on the command line");
	EXPECT_EQ(has, !!(rf->hints & DMXP__HINT_PREFETCHW));
#else
	(void)has;
	EXPECT_EQ(0U, rf->hints & DMXP__HINT_PREFETCHW);
#endif
	EXPECT_EQ(0U, rf->hints & ~DMXP__HINT_PREFETCHW);
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
 * In a child of fork(): put messages 0 to 9 with @put, and exit 0 when
 * exactly one call reached the library (counted in *@calls), 2 when a
 * put failed, 3 otherwise.  The child's exit code; *@pidp its pid.
 */
static int child_puts(struct dmxp_chan *c, int (*put)(struct dmxp_chan *, unsigned int),
		      const unsigned long *calls, pid_t *pidp)
{
	unsigned int n;
	int status;

	*pidp = fork();
	if (*pidp < 0)
		return -1;
	if (*pidp == 0) {
		for (n = 0; n < 10; n++)
			if (put(c, n))
				_exit(2);
		_exit(*calls == 1 ? 0 : 3);
	}
	if (waitpid(*pidp, &status, 0) != *pidp)
		return -1;
	return test_exit_code(status);
}

/*
 * A child of fork() has its parent's thread cache: its first call must
 * find the record its parent's, take one of its own, and name itself.
 */
TEST_F(inl, a_forked_child_names_itself)
{
	unsigned int n;
	pid_t pid;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, child_puts(self->c, send_nth, &sends_called, &pid));
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

/* --------------------------------------------------- the zero-copy calls */

/* Reserve, build message @n in its slot (as send_nth()), commit. */
static int reserve_nth(struct dmxp_chan *c, unsigned int n)
{
	size_t len = (n * 131) % (DMXP_MAX_PAYLOAD + 1);
	struct dmxp_ref ref;
	int ret = dmxp_chan_reserve(c, &ref);

	if (ret)
		return ret;
	test_fill(ref.payload, len, 1, n);
	return dmxp_chan_commit(c, &ref, len, 0x1000 + n);
}

/* Peek at message @n, check it in place, release: 0 or the failed check's line. */
static int peek_nth(struct dmxp_chan *c, unsigned int n, __u32 pid)
{
	unsigned char want[DMXP_MAX_PAYLOAD];
	size_t len = (n * 131) % (DMXP_MAX_PAYLOAD + 1);
	struct dmxp_ref ref;

	if (dmxp_chan_peek(c, &ref))
		return __LINE__;
	test_fill(want, len, 1, n);
	if (ref.len != len || memcmp(ref.payload, want, len) || !ref.meta ||
	    ref.meta->payload_len != len || ref.meta->message_type != 0x1000 + n ||
	    ref.meta->sender_pid != pid || ref.meta->channel_id != CH)
		return __LINE__;
	if (dmxp_chan_release(c, &ref) || ref.payload)
		return __LINE__;
	return 0;
}

TEST_F(inl, reserve_commit_peek_release_go_without_a_call)
{
	unsigned int n;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_set_timestamp(self->c, DMXP_TIMESTAMP_NONE));
	for (n = 0; n < 500; n++) {
		ASSERT_EQ(0, reserve_nth(self->c, n));
		if (n % 3 == 2) {	/* mixed with the copy calls, and wrapping */
			ASSERT_EQ(0, peek_nth(self->c, n - 2, (__u32)getpid()));
			ASSERT_EQ(0, recv_nth(self->c, n - 1, (__u32)getpid()));
			ASSERT_EQ(0, peek_nth(self->c, n, (__u32)getpid()));
		}
	}
	/* The thread's record came back each time: the copy calls are inline too. */
	EXPECT_EQ(0UL, zc_called + puts_called);
	EXPECT_EQ(0UL, sends_called + recvs_called + clocks_called + others_called);
}

/*
 * A second reference while the first holds the thread's record takes one
 * of the pool, in the library, and goes back to the pool when it ends;
 * the first gives the thread its record back.
 */
TEST_F(inl, a_second_reference_takes_a_record_of_the_pool)
{
	struct dmxp_ref a, b;
	char buf[16];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &a));
	EXPECT_EQ(0UL, zc_called);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &b));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_NE(a.claim, b.claim);
	EXPECT_EQ(a.pos + 1, b.pos);
	memcpy(b.payload, "second", 6);
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &b, 6, 2));
	EXPECT_EQ(1UL, puts_called);
	memcpy(a.payload, "first", 5);
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &a, 5, 1));
	EXPECT_EQ(1UL, puts_called);
	EXPECT_EQ(1UL, zc_called);
	ASSERT_EQ(0, send_nth(self->c, 1));
	EXPECT_EQ(0UL, sends_called);
	EXPECT_EQ(5, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "first", 5));
	EXPECT_EQ(6, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "second", 6));
	EXPECT_EQ(0, recv_nth(self->c, 1, (__u32)getpid()));
}

/* The copy calls in the middle of a reservation take another record. */
TEST_F(inl, a_send_while_a_reservation_holds_the_record)
{
	struct dmxp_ref a;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &a));
	ASSERT_EQ(0, send_nth(self->c, 1));	/* the library: a record of its own */
	ASSERT_EQ(0, send_nth(self->c, 2));	/* then inline */
	EXPECT_EQ(1UL, sends_called);
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &a, 0, 0));
	EXPECT_EQ(1UL, puts_called);		/* the thread has a record: to the pool */
	EXPECT_EQ(0UL, zc_called);
}

struct ender_arg {
	struct dmxp_chan *c;
	struct dmxp_ref *ref;
	int ret;
	unsigned long puts, zc;
};

static void *commit_it(void *p)
{
	struct ender_arg *a = p;

	a->ret = dmxp_chan_commit(a->c, a->ref, 3, 0);
	a->puts = puts_called;
	a->zc = zc_called;
	return NULL;
}

/* A reference ended by another thread: the record goes with it. */
TEST_F(inl, a_reservation_committed_by_another_thread)
{
	struct dmxp_ref ref;
	struct ender_arg a = { .c = self->c, .ref = &ref };
	pthread_t t;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	memcpy(ref.payload, "abc", 3);
	ASSERT_EQ(0, pthread_create(&t, NULL, commit_it, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(0, a.ret);
	EXPECT_EQ(1UL, a.puts);
	EXPECT_EQ(0UL, a.zc);
	EXPECT_EQ(NULL, ref.payload);
	EXPECT_EQ(3, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(0, memcmp(b, "abc", 3));
	EXPECT_EQ(1UL, recvs_called);		/* this thread lent its record away */
	ASSERT_EQ(0, send_nth(self->c, 3));
	EXPECT_EQ(0UL, sends_called);
	EXPECT_EQ(0, recv_nth(self->c, 3, (__u32)getpid()));
}

/* A reference used up, or a copy of one: -EINVAL from the library, nothing touched. */
TEST_F(inl, a_used_up_reference_is_refused)
{
	struct dmxp_ref ref, copy, next;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	copy = ref;
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, 1, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(self->c, &ref, 1, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(self->c, &copy, 1, 0));
	/* The same record, lent again for the next slot. */
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &next));
	EXPECT_EQ(copy.claim, next.claim);
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(self->c, &copy, 1, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(self->c, &copy));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(self->c, &copy));	/* not a peek */
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &next, 2, 0));
	EXPECT_EQ(4UL, zc_called);	/* each refusal was the library's */
	EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(2, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	/* And the same for peeks. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	copy = ref;
	ASSERT_EQ(0, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(self->c, &copy));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(self->c, &copy, 1, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(self->c, NULL));
	memset(&copy, 0, sizeof(copy));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(self->c, &copy));
}

TEST_F(inl, an_oversized_commit_keeps_the_reservation)
{
	struct dmxp_ref ref;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_commit(self->c, &ref, DMXP_MAX_PAYLOAD + 1, 0));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_NE(NULL, ref.payload);
	memcpy(ref.payload, "ok", 2);
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &ref, 2, 0));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_EQ(2, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
}

TEST_F(inl, zero_copy_with_another_layout_calls_the_library)
{
	struct dmxp_ref ref;

	warm_up(_metadata, self->c);
	dmxp__fast(self->c)->abi = DMXP__FAST_ABI + 1;
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, 0, 0));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	ASSERT_EQ(0, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(4UL, zc_called);
	dmxp__fast(self->c)->abi = DMXP__FAST_ABI;
}

TEST_F(inl, a_peek_skips_a_tombstone_in_the_library)
{
	struct dmxp_ref ref;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_EQ(0, dmxp_chan_abort(self->c, &ref));
	ASSERT_EQ(0, reserve_nth(self->c, 4));
	EXPECT_EQ(0UL, zc_called);
	EXPECT_EQ(0, peek_nth(self->c, 4, (__u32)getpid()));
	EXPECT_EQ(1UL, zc_called);
}

TEST_F(inl, a_reference_of_a_destroyed_channel_is_eidrm)
{
	struct dmxp_ref a, b;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &b));
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &a));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(-EIDRM, dmxp_chan_commit(self->c, &a, 1, 0));
	EXPECT_EQ(NULL, a.payload);
	EXPECT_EQ(-EIDRM, dmxp_chan_release(self->c, &b));
	EXPECT_EQ(-EIDRM, dmxp_chan_reserve(self->c, &a));
	EXPECT_EQ(-EIDRM, dmxp_chan_peek(self->c, &a));
}

/*
 * A slot a repairer freed under a peek (its sequence moved on): the free
 * fails, the release says -ECANCELED through the library, and the
 * record is the thread's again.
 */
TEST_F(inl, a_release_of_a_repaired_slot_is_ecanceled)
{
	struct dmxp_ref ref;
	struct dmxp_slot *s;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	s = dmxp__slot(dmxp__fast(self->c), ref.pos);
	__atomic_store_n(&s->sequence, ref.pos + CAP, __ATOMIC_RELEASE);	/* as a repairer frees */
	EXPECT_EQ(-ECANCELED, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_EQ(NULL, ref.payload);
	ASSERT_EQ(0, send_nth(self->c, 5));
	EXPECT_EQ(0, recv_nth(self->c, 5, (__u32)getpid()));
	EXPECT_EQ(0UL, sends_called + recvs_called);
}

/* A child of fork() reserves with a record of its own and names itself. */
TEST_F(inl, a_forked_child_reserves_as_itself)
{
	unsigned int n;
	pid_t pid;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, child_puts(self->c, reserve_nth, &zc_called, &pid));
	for (n = 0; n < 10; n++)
		ASSERT_EQ(0, peek_nth(self->c, n, (__u32)pid));
	EXPECT_EQ(0UL, zc_called);
}

/*
 * A reference from before fork(), finished in the child after the child
 * took records of its own: the child's records stay apart.  On a region
 * file the reference is the parent's (-EINVAL in the child); on
 * /dev/dmxp, whose records belong to the file both share, either may
 * finish it.  Either way the slot is published once, and the child's
 * own references never share a record.
 */
TEST_F(inl, a_reference_from_before_fork_keeps_the_child_s_records_apart)
{
	struct dmxp_ref ref;
	unsigned int got = 0;
	pid_t pid;
	int status, child;
	char b[8];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dmxp_ref a, b2;
		int ret;

		if (dmxp_chan_send(self->c, "c", 1, 0))	/* the child's own records */
			_exit(10);
		ret = dmxp_chan_commit(self->c, &ref, 1, 0);
		if (ret && ret != -EINVAL)
			_exit(11);
		if (dmxp_chan_reserve(self->c, &a) || dmxp_chan_reserve(self->c, &b2))
			_exit(12);
		if (a.claim == b2.claim)
			_exit(13);
		if (dmxp_chan_commit(self->c, &a, 1, 0) || dmxp_chan_commit(self->c, &b2, 1, 0))
			_exit(14);
		_exit(ret ? 1 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	child = test_exit_code(status);
	ASSERT_GE(1, child);
	/* A region file's records are the parent's: refused in the child. */
	if (!test_on_kernel())
		EXPECT_EQ(1, child);
	/* Committed by one of the two, exactly. */
	EXPECT_EQ(child ? 0 : -EINVAL, dmxp_chan_commit(self->c, &ref, 1, 0));
	while (dmxp_chan_recv(self->c, b, sizeof(b), NULL) > 0)
		got++;
	EXPECT_EQ(4U, got);
}

struct releaser {
	pthread_t		t;
	struct dmxp_chan	*c;
	struct dmxp_ref		ref;
	pthread_mutex_t		*lock;
	pthread_cond_t		*cond;
	int			state;	/* 0 wait, 1 release it, 2 done, 3 leave */
	int			ret;
};

static void *releaser(void *p)
{
	struct releaser *w = p;

	pthread_mutex_lock(w->lock);
	while (w->state == 0)
		pthread_cond_wait(w->cond, w->lock);
	pthread_mutex_unlock(w->lock);
	w->ret = dmxp_chan_release(w->c, &w->ref);
	pthread_mutex_lock(w->lock);
	w->state = 2;
	pthread_cond_broadcast(w->cond);
	while (w->state != 3)
		pthread_cond_wait(w->cond, w->lock);
	pthread_mutex_unlock(w->lock);
	return NULL;
}

/*
 * One thread peeks, each of many live threads releases one reference:
 * the releasers keep no record, so the handle's pool (64) never runs out.
 */
#define RELEASERS	80
TEST_F(inl, references_handed_to_many_threads_use_no_more_records)
{
	static struct releaser w[RELEASERS];
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	unsigned int i;

	warm_up(_metadata, self->c);
	for (i = 0; i < RELEASERS; i++) {
		w[i] = (struct releaser){ .c = self->c, .lock = &lock, .cond = &cond };
		ASSERT_EQ(0, pthread_create(&w[i].t, NULL, releaser, &w[i]));
	}
	for (i = 0; i < RELEASERS; i++) {
		ASSERT_EQ(0, dmxp_chan_send(self->c, "m", 1, 0));
		EXPECT_EQ(0, dmxp_chan_peek(self->c, &w[i].ref));
		pthread_mutex_lock(&lock);
		w[i].state = 1;
		pthread_cond_broadcast(&cond);
		while (w[i].state != 2)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
		EXPECT_EQ(0, w[i].ret);
	}
	pthread_mutex_lock(&lock);
	for (i = 0; i < RELEASERS; i++)
		w[i].state = 3;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < RELEASERS; i++)
		pthread_join(w[i].t, NULL);
}

/*
 * A handler that reserves while its thread is inside a send, after the
 * send's claim: the calls are not async-signal-safe, but the record the
 * send is using is not lent, so the reservation is whole and the ring
 * goes on.
 */
static struct dmxp_chan *sig_chan;
static struct dmxp_ref sig_ref;
static int sig_ret = 1;
static volatile sig_atomic_t sig_armed, sig_returning;

static void sig_reserve(int sig)
{
	(void)sig;
	sig_ret = dmxp_chan_reserve(sig_chan, &sig_ref);
}

static void inl_hook(const char *step)
{
	if (sig_armed && !strcmp(step, "DMXP_HOOK_SEND_CLAIMED")) {
		sig_armed = 0;
		raise(SIGUSR1);
	}
	if (sig_returning && !strcmp(step, "DMXP_HOOK_REF_RETURNING")) {
		sig_returning = 0;
		raise(SIGUSR1);
	}
}

TEST_F(inl, a_reservation_in_a_handler_during_a_send)
{
	struct sigaction sa = { .sa_handler = sig_reserve }, old;
	char b[8];
	unsigned int got = 0;

	warm_up(_metadata, self->c);
	sig_chan = self->c;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	sig_armed = 1;
	ASSERT_EQ(0, dmxp_chan_send(self->c, "b", 1, 0));
	EXPECT_EQ(0, sig_armed);
	ASSERT_EQ(0, sig_ret);
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &sig_ref, 1, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "c", 1, 0));
	while (dmxp_chan_recv(self->c, b, sizeof(b), NULL) > 0)
		got++;
	EXPECT_EQ(3U, got);
	sigaction(SIGUSR1, &old, NULL);
}

struct hand_arg {
	struct dmxp_chan	*c;
	struct dmxp_ref		*ref;
	pthread_barrier_t	sent, done;
	int			ret;
};

static void *commit_ref(void *p)
{
	struct hand_arg *a = p;

	a->ret = dmxp_chan_commit(a->c, a->ref, 1, 0);
	return NULL;
}

/* Send one message, and keep the record it took until the test is done. */
static void *send_one(void *p)
{
	struct hand_arg *a = p;

	a->ret = dmxp_chan_send(a->c, "s", 1, 0);
	pthread_barrier_wait(&a->sent);
	pthread_barrier_wait(&a->done);
	return NULL;
}

/*
 * A thread whose reference another thread committed, and whose record a
 * third thread took from the pool since: one call into the library
 * forgets the loan and takes a record, and the next ones are inline.
 */
TEST_F(inl, a_loan_another_thread_ended_is_forgotten)
{
	struct dmxp_ref ref;
	struct hand_arg a = { .c = self->c, .ref = &ref };
	pthread_t t;
	unsigned int n;

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	ASSERT_EQ(0, pthread_create(&t, NULL, commit_ref, &a));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, a.ret);
	ASSERT_EQ(0, pthread_barrier_init(&a.sent, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&a.done, NULL, 2));
	ASSERT_EQ(0, pthread_create(&t, NULL, send_one, &a));	/* takes the lent record */
	pthread_barrier_wait(&a.sent);
	ASSERT_EQ(0, a.ret);
	for (n = 0; n < 100; n++) {
		ASSERT_EQ(0, reserve_nth(self->c, n));
		if (n == 0) {	/* the two messages of the other threads */
			char b[4];

			ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
			ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
			recvs_called = 0;
		}
		ASSERT_EQ(0, peek_nth(self->c, n, (__u32)getpid()));
	}
	pthread_barrier_wait(&a.done);
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_EQ(0UL, puts_called);
}

/*
 * A handler that sends while its thread's commit gives a lent record
 * back: the handler takes another record, and the commit's goes back to
 * the pool instead of being lost.  Each round would lose one; 100 rounds
 * run the handle's pool (64) out.
 */
static void sig_send(int sig)
{
	(void)sig;
	sig_ret = dmxp_chan_send(sig_chan, "h", 1, 0);
}

/*
 * Reserve and commit on @c, the installed SIGUSR1 handler running while
 * the commit gives the loan back; the handler's call returns 0.
 */
static void commit_with_a_handler(struct __test_metadata *_metadata, struct dmxp_chan *c,
				  struct dmxp_ref *ref)
{
	ASSERT_EQ(0, dmxp_chan_reserve(c, ref));
	sig_ret = 1;
	sig_returning = 1;
	ASSERT_EQ(0, dmxp_chan_commit(c, ref, 1, 0));
	ASSERT_EQ(0, sig_returning);
	ASSERT_EQ(0, sig_ret);
}

TEST_F(inl, a_handler_s_send_while_a_loan_comes_back)
{
	struct sigaction sa = { .sa_handler = sig_send }, old;
	struct dmxp_ref ref;
	unsigned int n;
	char b[8];

	warm_up(_metadata, self->c);
	sig_chan = self->c;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	for (n = 0; n < 100; n++) {
		commit_with_a_handler(_metadata, self->c, &ref);
		ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
		ASSERT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	}
	sigaction(SIGUSR1, &old, NULL);
}

/*
 * A handler that reserves while its thread's commit gives a lent record
 * back: the record is cached again but still in its claim, so the
 * handler's reservation takes one of the pool, and both go through.
 */
static void sig_reserve_returning(int sig)
{
	(void)sig;
	sig_ret = dmxp_chan_reserve(sig_chan, &sig_ref);
}

TEST_F(inl, a_handler_s_reservation_while_a_loan_comes_back)
{
	struct sigaction sa = { .sa_handler = sig_reserve_returning }, old;
	struct dmxp_ref ref;
	unsigned int n;
	char b[8];

	warm_up(_metadata, self->c);
	sig_chan = self->c;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	for (n = 0; n < 3; n++) {
		commit_with_a_handler(_metadata, self->c, &ref);
		EXPECT_EQ(0, dmxp_chan_commit(self->c, &sig_ref, 2, 0));
		ASSERT_EQ(0, dmxp_chan_send(self->c, "abc", 3, 0));	/* the thread's record, inline */
		EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
		EXPECT_EQ(2, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
		EXPECT_EQ(3, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	}
	sigaction(SIGUSR1, &old, NULL);
}

/* A live reference of another channel: refused, and still live where it belongs. */
TEST_F(inl, a_reference_of_another_channel_is_refused)
{
	struct dmxp_chan *other;
	struct dmxp_ref ref;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH + 1, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH + 1, &other));
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(other, &ref, 1, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(other, &ref));
	EXPECT_NE(NULL, ref.payload);
	EXPECT_EQ(0, dmxp_chan_commit(self->c, &ref, 1, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(other, &ref));
	EXPECT_EQ(0, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(1, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(other, b, sizeof(b), NULL));
	dmxp_chan_close(other);
}

/* A reservation a repairer made a tombstone of: -ECANCELED, through the library. */
TEST_F(inl, a_commit_of_a_repaired_reservation_is_ecanceled)
{
	struct dmxp_ref ref;
	struct dmxp_slot *s;
	char b[4];

	warm_up(_metadata, self->c);
	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	s = dmxp__slot(dmxp__fast(self->c), ref.pos);
	s->meta.flags = DMXP_MSG_TOMBSTONE;	/* as a repairer publishes one */
	s->meta.payload_len = 0;
	__atomic_store_n(&s->sequence, ref.pos + 1, __ATOMIC_RELEASE);
	EXPECT_EQ(-ECANCELED, dmxp_chan_commit(self->c, &ref, 1, 0));
	EXPECT_EQ(1UL, zc_called);
	EXPECT_EQ(NULL, ref.payload);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
}

TEST_HARNESS_MAIN
