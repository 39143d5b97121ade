// SPDX-License-Identifier: MIT
/*
 * Blocking: dmxp_chan_recv_wait(), dmxp_chan_send_wait(), spinning,
 * arming and the channel fd, on both backends (region files, and kernel
 * regions with DMXP_TEST_BACKEND=kernel).
 *
 * What is checked besides the return values:
 *
 *   - timeouts last about as long as asked;
 *   - a sleeper is woken by a message (a free slot) from another process,
 *     a signal, or the channel's destruction, promptly;
 *   - a sleeper uses no CPU to speak of;
 *   - producers and consumers make no wake-up call when nobody sleeps:
 *     the futex words (region files) or the module's notifies counter
 *     (kernel regions) do not move, and on region files strace counts no
 *     futex() system call in a process that sends 100,000 messages;
 *   - the re-check before sleeping: stopped (the library's test hook)
 *     between loading head (tail) and the slot there while another
 *     process takes that position, it still finds the next message
 *     (free slot) and does not sleep;
 *   - a sleeper finds a message of a peer that never wakes anyone within
 *     about a second, on both backends;
 *   - a sleeper cancelled with pthread_cancel() leaves no count behind.
 *
 * The test program doubles as the process strace watches: with
 * DMXP_WAIT_HELPER="PATH ID COUNT RECV" in its environment it sends COUNT
 * messages on channel ID (receiving each one back if RECV is 1) and exits,
 * between two getppid() calls that mark the measured stretch.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"
#include "internal.h"		/* the test hooks (built with DMXP_TEST_HOOKS) */

extern int dmxp__hook_step;

#define CH		3
#define CAP		4
#define MS		1000000LL
#define HELPER_ENV	"DMXP_WAIT_HELPER"
#define MAX_KIDS	8

/* What a child reports to the test. */
struct kid {
	long long	ret;		/* the call's return value */
	long long	t_ret;		/* CLOCK_MONOTONIC when it returned */
	long long	cpu_ns;		/* user + system CPU spent in the call */
	__u32		payload;	/* the first 4 bytes received */
	__u32		done;
};

static long long cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* ------------------------------------------------------------ the helper */

/* Run as strace's tracee: see the comment at the top. */
static void __attribute__((constructor)) wait_helper(void)
{
	const char *env = getenv(HELPER_ENV);
	char path[256];
	unsigned int id, recv;
	unsigned long count, i;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char buf[64];

	if (!env)
		return;
	if (sscanf(env, "%255s %u %lu %u", path, &id, &count, &recv) != 4)
		_exit(2);
	if (dmxp_region_open(path, 0, 0, &r) || dmxp_chan_open(r, id, &c))
		_exit(3);
	syscall(SYS_getppid);		/* start mark */
	for (i = 0; i < count; i++) {
		if (dmxp_chan_send(c, &i, sizeof(i), 1))
			_exit(4);
		if (recv && dmxp_chan_recv(c, buf, sizeof(buf), NULL) != sizeof(i))
			_exit(5);
	}
	syscall(SYS_getppid);		/* end mark */
	dmxp_chan_close(c);
	dmxp_region_close(r);
	_exit(0);
}

/* ---------------------------------------------------------------- fixture */

FIXTURE(wait) {
	char path[256];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct kid *kids;
	pid_t pids[MAX_KIDS];
	int nkids;
};

FIXTURE_SETUP(wait)
{
	test_region_path(self->path, sizeof(self->path), "wait");
	self->kids = mmap(NULL, sizeof(struct kid) * MAX_KIDS, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->kids);
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
}

FIXTURE_TEARDOWN(wait)
{
	int i;

	for (i = 0; i < self->nkids; i++) {
		if (self->pids[i] > 0) {
			kill(self->pids[i], SIGKILL);
			waitpid(self->pids[i], NULL, 0);
		}
	}
	if (self->c)
		dmxp_chan_close(self->c);
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
}

static const struct dmxp_channel_entry *entry(FIXTURE_DATA(wait) *self)
{
	return &dmxp_region_header(self->r)->channels[CH];
}

static __u32 recv_waiters(FIXTURE_DATA(wait) *self)
{
	return __atomic_load_n(&entry(self)->recv_waiters, __ATOMIC_SEQ_CST);
}

static __u32 send_waiters(FIXTURE_DATA(wait) *self)
{
	return __atomic_load_n(&entry(self)->send_waiters, __ATOMIC_SEQ_CST);
}

/* Wait until the channel has @n sleepers on one side; false after 5 s. */
static bool await_waiters(FIXTURE_DATA(wait) *self, bool recv, __u32 n)
{
	long long end = test_now_ns() + 5000 * MS;

	while (test_now_ns() < end) {
		if ((recv ? recv_waiters(self) : send_waiters(self)) == n) {
			test_sleep_ms(20);	/* from announced to asleep */
			return true;
		}
		test_sleep_ms(1);
	}
	return false;
}

/* The kernel region's name, or NULL on region files. */
static const char *kname(FIXTURE_DATA(wait) *self)
{
	size_t n = strlen(DMXP_DEVICE ":");

	if (!test_on_kernel() || strncmp(self->path, DMXP_DEVICE ":", n))
		return NULL;
	return self->path + n;
}

/*
 * Wake-ups issued on the channel so far: the module's counter on kernel
 * regions, the sum of the futex words (each wake-up bumps one) on files.
 */
static long long notify_count(FIXTURE_DATA(wait) *self)
{
	const char *name = kname(self);
	char attr[32];

	if (!name)
		return (long long)__atomic_load_n(&entry(self)->recv_futex, __ATOMIC_SEQ_CST) +
		       __atomic_load_n(&entry(self)->send_futex, __ATOMIC_SEQ_CST);
	snprintf(attr, sizeof(attr), "ch%d/notifies", CH);
	return sysfs_num(name, attr);
}

/*
 * Fork a child that opens the region afresh and runs @fn on its own
 * handle; its exit status is 0 if @fn returned 0.  An alarm bounds it.
 */
static pid_t spawn(FIXTURE_DATA(wait) *self,
		   int (*fn)(struct dmxp_chan *c, struct kid *k, long arg), long arg)
{
	int i = self->nkids;
	pid_t pid;

	if (i >= MAX_KIDS)
		return -1;
	memset(&self->kids[i], 0, sizeof(self->kids[i]));
	pid = fork();
	if (pid == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;
		int ret;

		alarm(20);
		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
			_exit(100);
		ret = fn(c, &self->kids[i], arg);
		__atomic_store_n(&self->kids[i].done, 1, __ATOMIC_RELEASE);
		dmxp_chan_close(c);
		dmxp_region_close(r);
		_exit(ret ? 101 : 0);
	}
	if (pid > 0)
		self->pids[self->nkids++] = pid;
	return pid;
}

/* Reap child @i within @ms milliseconds; its exit status, or -1. */
static int reap(FIXTURE_DATA(wait) *self, int i, long ms)
{
	int ret = test_reap(self->pids[i], ms);

	if (ret >= 0)
		self->pids[i] = 0;
	return ret;
}

static void fill(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata)
{
	__u32 i;

	for (i = 0; i < CAP; i++)
		ASSERT_EQ(0, dmxp_chan_send(self->c, &i, sizeof(i), 0));
	ASSERT_EQ(-EAGAIN, dmxp_chan_send(self->c, &i, sizeof(i), 0));
}

/* -------------------------------------------------------- the child bodies */

/* Receive one message forever (spin @arg ns, -1: default). */
static int kid_recv(struct dmxp_chan *c, struct kid *k, long arg)
{
	char buf[DMXP_MAX_PAYLOAD];
	long long cpu;

	if (arg >= 0 && dmxp_chan_set_spin(c, (unsigned int)arg))
		return -1;
	cpu = cpu_ns();
	k->ret = dmxp_chan_recv_wait(c, buf, sizeof(buf), NULL, DMXP_WAIT_FOREVER);
	k->t_ret = test_now_ns();
	k->cpu_ns = cpu_ns() - cpu;
	if (k->ret >= 4)
		memcpy(&k->payload, buf, 4);
	return 0;
}

/* Send one message forever. */
static int kid_send(struct dmxp_chan *c, struct kid *k, long arg)
{
	__u32 v = (__u32)arg;

	k->ret = dmxp_chan_send_wait(c, &v, sizeof(v), 7, DMXP_WAIT_FOREVER);
	k->t_ret = test_now_ns();
	return 0;
}

/* After @arg ms, send one message (payload 0xabcd). */
static int kid_send_later(struct dmxp_chan *c, struct kid *k, long arg)
{
	__u32 v = 0xabcd;

	test_sleep_ms(arg);
	k->t_ret = test_now_ns();
	k->ret = dmxp_chan_send(c, &v, sizeof(v), 9);
	return 0;
}

/* After @arg ms, receive one message. */
static int kid_recv_later(struct dmxp_chan *c, struct kid *k, long arg)
{
	char buf[DMXP_MAX_PAYLOAD];

	test_sleep_ms(arg);
	k->t_ret = test_now_ns();
	k->ret = dmxp_chan_recv(c, buf, sizeof(buf), NULL);
	if (k->ret >= 4)
		memcpy(&k->payload, buf, 4);
	return 0;
}

/* --------------------------------------------------------- non-blocking */

TEST_F(wait, recv_never_eagain)
{
	char buf[16];

	EXPECT_EQ(-EAGAIN, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL,
					       DMXP_WAIT_NEVER));
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, send_never_eagain)
{
	fill(self, _metadata);
	EXPECT_EQ(-EAGAIN, dmxp_chan_send_wait(self->c, "x", 1, 0, DMXP_WAIT_NEVER));
	EXPECT_EQ(0U, send_waiters(self));
}

TEST_F(wait, never_returns_ready_message)
{
	struct dmxp_msg_meta meta;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_send_wait(self->c, "hello", 5, 42, DMXP_WAIT_NEVER));
	ASSERT_EQ(5, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), &meta, DMXP_WAIT_NEVER));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	EXPECT_EQ(42U, meta.message_type);
	EXPECT_EQ(5U, meta.payload_len);
}

TEST_F(wait, bad_timeout_einval)
{
	char buf[16];

	EXPECT_EQ(-EINVAL, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, -2));
	EXPECT_EQ(-EINVAL, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, LLONG_MIN));
	EXPECT_EQ(-EINVAL, dmxp_chan_send_wait(self->c, "x", 1, 0, -2));
	EXPECT_EQ(-EINVAL, dmxp_chan_send_wait(self->c, "x", 1, 0, LLONG_MIN));
	/* Nothing was sent by the failed send. */
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
}

TEST_F(wait, emsgsize)
{
	static char big[DMXP_MAX_PAYLOAD + 1];
	struct dmxp_msg_meta meta;
	char small[8];

	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send_wait(self->c, big, sizeof(big), 0,
						 DMXP_WAIT_FOREVER));
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send_wait(self->c, big, sizeof(big), 0,
						 DMXP_WAIT_NEVER));
	/* Even on a full ring: the size is checked before waiting. */
	fill(self, _metadata);
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_send_wait(self->c, big, sizeof(big), 0, 50 * MS));
	EXPECT_EQ(0U, send_waiters(self));
	while (dmxp_chan_recv(self->c, big, sizeof(big), NULL) >= 0)
		;
	ASSERT_EQ(0, dmxp_chan_send_wait(self->c, big, DMXP_MAX_PAYLOAD, 0,
					 DMXP_WAIT_FOREVER));
	/* A message too large for the buffer stays in the ring. */
	EXPECT_EQ(-EMSGSIZE, dmxp_chan_recv_wait(self->c, small, sizeof(small), &meta,
						 DMXP_WAIT_FOREVER));
	EXPECT_EQ((__u32)DMXP_MAX_PAYLOAD, meta.payload_len);
	EXPECT_EQ(DMXP_MAX_PAYLOAD, dmxp_chan_recv_wait(self->c, big, sizeof(big), NULL,
							DMXP_WAIT_NEVER));
}

/* --------------------------------------------------------------- timeouts */

TEST_F(wait, recv_timeout)
{
	char buf[16];
	long long t0, dt;

	t0 = test_now_ns();
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 50 * MS));
	dt = test_now_ns() - t0;
	TH_LOG("recv_wait(50 ms) took %.2f ms", dt / 1e6);
	EXPECT_GE(dt, 50 * MS);
	EXPECT_LT(dt, 500 * MS);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, send_timeout)
{
	long long t0, dt;

	fill(self, _metadata);
	t0 = test_now_ns();
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_send_wait(self->c, "x", 1, 0, 50 * MS));
	dt = test_now_ns() - t0;
	TH_LOG("send_wait(50 ms) took %.2f ms", dt / 1e6);
	EXPECT_GE(dt, 50 * MS);
	EXPECT_LT(dt, 500 * MS);
	EXPECT_EQ(0U, send_waiters(self));
}

/* A timeout shorter than the spin budget: no sleep at all, still honoured. */
TEST_F(wait, timeout_shorter_than_spin)
{
	char buf[16];
	long long t0, dt;

	ASSERT_EQ(0, dmxp_chan_set_spin(self->c, 1000000));
	t0 = test_now_ns();
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 100000));
	dt = test_now_ns() - t0;
	EXPECT_GE(dt, 100000);
	EXPECT_LT(dt, 50 * MS);
}

TEST_F(wait, timeout_then_message)
{
	char buf[16];
	__u32 v;

	ASSERT_LT(0, spawn(self, kid_send_later, 100));
	/* Times out first, then a longer wait gets the message. */
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 10 * MS));
	ASSERT_EQ(4, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 5000 * MS));
	memcpy(&v, buf, 4);
	EXPECT_EQ(0xabcdU, v);
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(0, self->kids[0].ret);
}

/* ------------------------------------------------------------ woken by a peer */

TEST_F(wait, recv_forever_woken_by_send)
{
	struct dmxp_msg_meta meta;
	char buf[16];
	long long t0, dt;
	__u32 v;

	t0 = test_now_ns();
	ASSERT_LT(0, spawn(self, kid_send_later, 200));
	ASSERT_EQ(4, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), &meta, DMXP_WAIT_FOREVER));
	dt = test_now_ns() - t0;
	memcpy(&v, buf, 4);
	EXPECT_EQ(0xabcdU, v);
	EXPECT_EQ(9U, meta.message_type);
	EXPECT_EQ((__u32)self->pids[0], meta.sender_pid);
	EXPECT_GE(dt, 190 * MS);
	EXPECT_LT(dt, 2000 * MS);
	TH_LOG("woken %.2f ms after the send", (test_now_ns() - self->kids[0].t_ret) / 1e6);
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(0, self->kids[0].ret);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, send_forever_woken_by_recv)
{
	char buf[16];
	long long t0, dt;
	__u32 i, v;

	fill(self, _metadata);
	t0 = test_now_ns();
	ASSERT_LT(0, spawn(self, kid_recv_later, 200));
	v = 0x5555;
	ASSERT_EQ(0, dmxp_chan_send_wait(self->c, &v, sizeof(v), 0, DMXP_WAIT_FOREVER));
	dt = test_now_ns() - t0;
	EXPECT_GE(dt, 190 * MS);
	EXPECT_LT(dt, 2000 * MS);
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(4, self->kids[0].ret);
	EXPECT_EQ(0U, self->kids[0].payload);
	EXPECT_EQ(0U, send_waiters(self));
	/* FIFO: 1, 2, 3, then ours. */
	for (i = 1; i < CAP; i++) {
		ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
		memcpy(&v, buf, 4);
		EXPECT_EQ(i, v);
	}
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	memcpy(&v, buf, 4);
	EXPECT_EQ(0x5555U, v);
}

/* A child sleeps in send_wait on a full ring; the test receives. */
TEST_F(wait, send_sleeper_woken_by_recv)
{
	char buf[16];
	long long t;

	fill(self, _metadata);
	ASSERT_LT(0, spawn(self, kid_send, 77));
	ASSERT_TRUE(await_waiters(self, false, 1));
	t = test_now_ns();
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(0, self->kids[0].ret);
	TH_LOG("woken after %.2f ms", (self->kids[0].t_ret - t) / 1e6);
	EXPECT_LT(self->kids[0].t_ret - t, 1000 * MS);
	EXPECT_EQ(0U, send_waiters(self));
}

/* ---------------------------------------------------------------- signals */

TEST_F(wait, recv_eintr)
{
	char buf[16];
	long long t0, dt;
	ssize_t ret;

	test_set_alarm(0, 100);
	t0 = test_now_ns();
	ret = dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, DMXP_WAIT_FOREVER);
	dt = test_now_ns() - t0;
	test_clear_alarm();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_TRUE(test_got_alarm);
	EXPECT_GE(dt, 90 * MS);
	EXPECT_LT(dt, 2000 * MS);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, recv_eintr_with_timeout)
{
	char buf[16];
	ssize_t ret;

	test_set_alarm(0, 50);
	ret = dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 5000 * MS);
	test_clear_alarm();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, send_eintr)
{
	long long t0, dt;
	int ret;

	fill(self, _metadata);
	test_set_alarm(0, 100);
	t0 = test_now_ns();
	ret = dmxp_chan_send_wait(self->c, "x", 1, 0, DMXP_WAIT_FOREVER);
	dt = test_now_ns() - t0;
	test_clear_alarm();
	EXPECT_EQ(-EINTR, ret);
	EXPECT_TRUE(test_got_alarm);
	EXPECT_GE(dt, 90 * MS);
	EXPECT_LT(dt, 2000 * MS);
	EXPECT_EQ(0U, send_waiters(self));
}

/* A handler installed with SA_RESTART interrupts a wait all the same. */
TEST_F(wait, recv_eintr_sa_restart)
{
	char buf[16];
	long long t0, dt;
	ssize_t ret;

	test_set_alarm(SA_RESTART, 100);
	t0 = test_now_ns();
	ret = dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, DMXP_WAIT_FOREVER);
	dt = test_now_ns() - t0;
	test_clear_alarm();
	EXPECT_TRUE(test_got_alarm);
	EXPECT_EQ(-EINTR, ret);
	EXPECT_LT(dt, 2000 * MS);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, send_eintr_sa_restart)
{
	int ret;

	fill(self, _metadata);
	test_set_alarm(SA_RESTART, 100);
	ret = dmxp_chan_send_wait(self->c, "x", 1, 0, 5000 * MS);
	test_clear_alarm();
	EXPECT_TRUE(test_got_alarm);
	EXPECT_EQ(-EINTR, ret);
	EXPECT_EQ(0U, send_waiters(self));
}

/* A signal that arrives before the wait does not interrupt it. */
TEST_F(wait, signal_before_wait)
{
	char buf[16];

	test_set_alarm(0, 10);
	test_sleep_ms(50);
	EXPECT_TRUE(test_got_alarm);
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 30 * MS));
	test_clear_alarm();
}

/* -------------------------------------------------------------- destroyed */

TEST_F(wait, destroy_wakes_recv)
{
	char buf[16];
	long long t;

	ASSERT_EQ(0, dmxp_chan_set_spin(self->c, 0));
	ASSERT_LT(0, spawn(self, kid_recv, 0));
	ASSERT_TRUE(await_waiters(self, true, 1));
	t = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(0, reap(self, 0, 3000));
	EXPECT_EQ(-EIDRM, self->kids[0].ret);
	TH_LOG("returned %.2f ms after the destroy", (self->kids[0].t_ret - t) / 1e6);
	EXPECT_LT(self->kids[0].t_ret - t, 500 * MS);
	/* The sleeper left the waiter count as it found it. */
	EXPECT_EQ(0U, recv_waiters(self));
	EXPECT_EQ(-EIDRM, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL,
					      DMXP_WAIT_FOREVER));
	EXPECT_EQ(-EIDRM, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL,
					      DMXP_WAIT_NEVER));
}

TEST_F(wait, destroy_wakes_send)
{
	long long t;

	fill(self, _metadata);
	ASSERT_LT(0, spawn(self, kid_send, 1));
	ASSERT_TRUE(await_waiters(self, false, 1));
	t = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(0, reap(self, 0, 3000));
	EXPECT_EQ(-EIDRM, self->kids[0].ret);
	TH_LOG("returned %.2f ms after the destroy", (self->kids[0].t_ret - t) / 1e6);
	EXPECT_LT(self->kids[0].t_ret - t, 500 * MS);
	EXPECT_EQ(0U, send_waiters(self));
	EXPECT_EQ(-EIDRM, dmxp_chan_send_wait(self->c, "x", 1, 0, DMXP_WAIT_FOREVER));
}

/* Several sleepers, one destroy: all of them return. */
TEST_F(wait, destroy_wakes_all)
{
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_LT(0, spawn(self, kid_recv, i & 1 ? 0 : -1));
	ASSERT_TRUE(await_waiters(self, true, 4));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, reap(self, i, 3000));
		EXPECT_EQ(-EIDRM, self->kids[i].ret);
	}
	EXPECT_EQ(0U, recv_waiters(self));
	/* A re-created channel starts with no sleeper to wake. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(0U, recv_waiters(self));
	EXPECT_EQ(0U, send_waiters(self));
}

/* ------------------------------------------------------ several consumers */

/*
 * @n consumers sleep on one channel; @n messages are sent: one by one, or
 * in one batch.  Each consumer gets exactly one, none stays asleep.
 */
static void consumers_each_get_one(FIXTURE_DATA(wait) *self,
				   struct __test_metadata *_metadata, bool batch)
{
	const int n = 4;
	struct dmxp_smsg msgs[4];
	__u32 vals[4], seen = 0;
	int i;

	for (i = 0; i < n; i++)
		ASSERT_LT(0, spawn(self, kid_recv, i & 1 ? 0 : -1));
	ASSERT_TRUE(await_waiters(self, true, n));
	for (i = 0; i < n; i++) {
		vals[i] = 1U << i;
		msgs[i].buf = &vals[i];
		msgs[i].len = sizeof(vals[i]);
		msgs[i].type = 0;
	}
	if (batch) {
		ASSERT_EQ(n, dmxp_chan_send_batch(self->c, msgs, n));
	} else {
		for (i = 0; i < n; i++)
			ASSERT_EQ(0, dmxp_chan_send(self->c, &vals[i], sizeof(vals[i]), 0));
	}
	for (i = 0; i < n; i++) {
		int st = reap(self, i, 3000);

		EXPECT_EQ(0, st) TH_LOG("consumer %d %s", i,
					st < 0 ? "still asleep: a lost wake-up" : "failed");
		EXPECT_EQ(4, self->kids[i].ret);
		EXPECT_EQ(0U, seen & self->kids[i].payload);
		seen |= self->kids[i].payload;
	}
	EXPECT_EQ(0xfU, seen);
	EXPECT_EQ(0U, recv_waiters(self));
}

/* @n producers sleep on a full ring; the test frees the slots. */
TEST_F(wait, consumers_each_get_one)
{
	consumers_each_get_one(self, _metadata, false);
}

TEST_F(wait, consumers_each_get_one_batch)
{
	consumers_each_get_one(self, _metadata, true);
}

static void producers_each_get_a_slot(FIXTURE_DATA(wait) *self,
				      struct __test_metadata *_metadata, bool batch)
{
	const int n = 4;
	struct dmxp_rmsg msgs[CAP];
	char bufs[CAP][16];
	int i, got = 0;

	fill(self, _metadata);
	for (i = 0; i < n; i++)
		ASSERT_LT(0, spawn(self, kid_send, 100 + i));
	ASSERT_TRUE(await_waiters(self, false, n));
	if (batch) {
		for (i = 0; i < CAP; i++) {
			msgs[i].buf = bufs[i];
			msgs[i].buf_len = sizeof(bufs[i]);
		}
		ASSERT_EQ(CAP, dmxp_chan_recv_batch(self->c, msgs, CAP));
	} else {
		for (i = 0; i < CAP; i++)
			ASSERT_EQ(4, dmxp_chan_recv(self->c, bufs[i], sizeof(bufs[i]), NULL));
	}
	for (i = 0; i < n; i++) {
		int st = reap(self, i, 3000);

		EXPECT_EQ(0, st) TH_LOG("producer %d %s", i,
					st < 0 ? "still asleep: a lost wake-up" : "failed");
		EXPECT_EQ(0, self->kids[i].ret);
	}
	while (dmxp_chan_recv(self->c, bufs[0], sizeof(bufs[0]), NULL) == 4)
		got++;
	EXPECT_EQ(n, got);
	EXPECT_EQ(0U, send_waiters(self));
}

TEST_F(wait, producers_each_get_a_slot)
{
	producers_each_get_a_slot(self, _metadata, false);
}

TEST_F(wait, producers_each_get_a_slot_batch)
{
	producers_each_get_a_slot(self, _metadata, true);
}

struct thr {
	struct dmxp_chan *c;
	ssize_t ret;
	__u32 payload;
};

static void *thr_recv(void *arg)
{
	struct thr *t = arg;
	char buf[16];

	t->ret = dmxp_chan_recv_wait(t->c, buf, sizeof(buf), NULL, 5000 * MS);
	if (t->ret == 4)
		memcpy(&t->payload, buf, 4);
	return NULL;
}

/* Threads asleep on one shared handle: each gets one message. */
TEST_F(wait, threads_share_a_handle)
{
	const int n = 4;
	struct thr t[4];
	pthread_t tid[4];
	__u32 seen = 0, v;
	int i;

	for (i = 0; i < n; i++) {
		t[i] = (struct thr){ .c = self->c };
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, thr_recv, &t[i]));
	}
	ASSERT_TRUE(await_waiters(self, true, n));
	for (i = 0; i < n; i++) {
		v = 1U << i;
		ASSERT_EQ(0, dmxp_chan_send(self->c, &v, sizeof(v), 0));
	}
	for (i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		EXPECT_EQ(4, t[i].ret) TH_LOG("thread %d", i);
		EXPECT_EQ(0U, seen & t[i].payload);
		seen |= t[i].payload;
	}
	EXPECT_EQ(0xfU, seen);
	EXPECT_EQ(0U, recv_waiters(self));
}

/* ------------------------------------------------------------- idle sleep */

TEST_F(wait, sleeper_uses_no_cpu)
{
	long long t, lat, limit = 100 * MS;
	__u32 v = 1;

	ASSERT_LT(0, spawn(self, kid_recv, -1));	/* the default spin */
	ASSERT_TRUE(await_waiters(self, true, 1));
	test_sleep_ms(1500);
	t = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_send(self->c, &v, sizeof(v), 0));
	ASSERT_EQ(0, reap(self, 0, 3000));
	ASSERT_EQ(4, self->kids[0].ret);
	lat = self->kids[0].t_ret - t;
	TH_LOG("CPU %.2f ms over ~1.5 s asleep; woken after %.3f ms",
	       self->kids[0].cpu_ns / 1e6, lat / 1e6);
	EXPECT_LT(self->kids[0].cpu_ns, 50 * MS);
	EXPECT_LT(lat, limit);
}

/* ---------------------------------------------------------------- spinning */

TEST_F(wait, set_spin)
{
	char buf[16];
	long long t0, dt;

	EXPECT_EQ(-EINVAL, dmxp_chan_set_spin(self->c, 1000001));
	EXPECT_EQ(-EINVAL, dmxp_chan_set_spin(self->c, UINT_MAX));
	EXPECT_EQ(0, dmxp_chan_set_spin(self->c, 1000000));
	EXPECT_EQ(0, dmxp_chan_set_spin(self->c, 1));
	EXPECT_EQ(0, dmxp_chan_set_spin(self->c, 0));
	/* No spin: blocking still works, and times out on time. */
	t0 = test_now_ns();
	EXPECT_EQ(-ETIMEDOUT, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 20 * MS));
	dt = test_now_ns() - t0;
	EXPECT_GE(dt, 20 * MS);
	EXPECT_LT(dt, 200 * MS);
	ASSERT_LT(0, spawn(self, kid_send_later, 50));
	EXPECT_EQ(4, dmxp_chan_recv_wait(self->c, buf, sizeof(buf), NULL, 5000 * MS));
	EXPECT_EQ(0, reap(self, 0, 2000));
}

/* With no spin, a waiter announces itself at once. */
TEST_F(wait, no_spin_sleeps_at_once)
{
	__u32 v = 3;

	ASSERT_LT(0, spawn(self, kid_recv, 0));
	ASSERT_TRUE(await_waiters(self, true, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, &v, sizeof(v), 0));
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(4, self->kids[0].ret);
	EXPECT_EQ(3U, self->kids[0].payload);
}

/* ----------------------------------------------------------------- arming */

TEST_F(wait, arm_recv_empty)
{
	EXPECT_EQ(0, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	EXPECT_EQ(1U, recv_waiters(self));
	EXPECT_EQ(0U, send_waiters(self));
	dmxp_chan_disarm(self->c, DMXP_ARM_RECV);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, arm_recv_nonempty)
{
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	EXPECT_EQ(1, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, arm_send_full)
{
	fill(self, _metadata);
	EXPECT_EQ(0, dmxp_chan_arm(self->c, DMXP_ARM_SEND));
	EXPECT_EQ(1U, send_waiters(self));
	EXPECT_EQ(0U, recv_waiters(self));
	dmxp_chan_disarm(self->c, DMXP_ARM_SEND);
	EXPECT_EQ(0U, send_waiters(self));
}

TEST_F(wait, arm_send_not_full)
{
	EXPECT_EQ(1, dmxp_chan_arm(self->c, DMXP_ARM_SEND));
	EXPECT_EQ(0U, send_waiters(self));
}

TEST_F(wait, arm_bad_events)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_arm(self->c, 0));
	EXPECT_EQ(-EINVAL, dmxp_chan_arm(self->c, DMXP_ARM_RECV | DMXP_ARM_SEND));
	EXPECT_EQ(-EINVAL, dmxp_chan_arm(self->c, 1U << 2));
	EXPECT_EQ(-EINVAL, dmxp_chan_arm(self->c, ~0U));
	EXPECT_EQ(0U, recv_waiters(self));
	EXPECT_EQ(0U, send_waiters(self));
	/* A disarm of nothing valid changes nothing. */
	dmxp_chan_disarm(self->c, 0);
	dmxp_chan_disarm(self->c, 1U << 2);
	EXPECT_EQ(0U, recv_waiters(self));
	EXPECT_EQ(0U, send_waiters(self));
}

TEST_F(wait, arm_after_destroy)
{
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(-EIDRM, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	EXPECT_EQ(-EIDRM, dmxp_chan_arm(self->c, DMXP_ARM_SEND));
	EXPECT_EQ(0U, recv_waiters(self));
	EXPECT_EQ(0U, send_waiters(self));
}

/* Armed, the consumer makes producers issue a wake-up; disarmed, not. */
TEST_F(wait, arm_makes_producers_notify)
{
	long long n0, n1, n2;
	char buf[16];

	n0 = notify_count(self);
	ASSERT_LE(0, n0);
	ASSERT_EQ(0, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	n1 = notify_count(self);
	EXPECT_LT(n0, n1);
	dmxp_chan_disarm(self->c, DMXP_ARM_RECV);
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "b", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	n2 = notify_count(self);
	EXPECT_EQ(n1, n2);
}

/* ----------------------------------------------------- no needless wake-up */

TEST_F_TIMEOUT(wait, no_notify_without_sleeper, 120)
{
	const unsigned long count = 100000;
	long long n0, n1;
	unsigned long i;
	char buf[16];

	n0 = notify_count(self);
	ASSERT_LE(0, n0);
	for (i = 0; i < count; i++) {
		ASSERT_EQ(0, dmxp_chan_send(self->c, &i, sizeof(i), 0));
		ASSERT_EQ((ssize_t)sizeof(i), dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	}
	/* And full-ring and empty-ring failures, which do not notify either. */
	fill(self, _metadata);
	for (i = 0; i < CAP; i++)
		ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	n1 = notify_count(self);
	EXPECT_EQ(n0, n1) TH_LOG("%lld wake-ups for %lu messages with nobody asleep",
				 n1 - n0, count);
}

/* The test program's own path, for strace to run it as the helper. */
static int self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/*
 * Run the helper under strace; return how many futex() calls it made
 * between its two marks, or -1 if strace failed.
 */
static long strace_futex_calls(const char *path, unsigned long count, bool recv)
{
	char exe[PATH_MAX], out[] = "/tmp/dmxp-wait-strace-XXXXXX", env[512], line[1024];
	long calls = 0, marks = 0;
	int fd, status;
	pid_t pid;
	FILE *f;

	if (self_exe(exe, sizeof(exe)))
		return -1;
	fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(env, sizeof(env), "%s %d %lu %d", path, CH, count, recv ? 1 : 0);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		setenv(HELPER_ENV, env, 1);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("strace", "strace", "-f", "-qq", "-e", "trace=futex,getppid",
		       "-o", out, exe, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		unlink(out);
		return -1;
	}
	f = fopen(out, "r");
	if (!f) {
		unlink(out);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "getppid("))
			marks++;
		else if (marks == 1 && strstr(line, "futex("))
			calls++;
	}
	fclose(f);
	unlink(out);
	return marks == 2 ? calls : -1;
}

static bool have_strace(void)
{
	return !system("strace -V >/dev/null 2>&1");
}

TEST_F_TIMEOUT(wait, no_futex_syscall_without_sleeper, 120)
{
	long calls;

	if (test_on_kernel())
		SKIP(return, "region files only (kernel regions: no_notify_without_sleeper)");
	if (!have_strace())
		SKIP(return, "strace is not installed (tools/install-deps)");
	calls = strace_futex_calls(self->path, 100000, true);
	ASSERT_LE(0, calls) TH_LOG("strace failed");
	EXPECT_EQ(0, calls) TH_LOG("%ld futex calls for 100000 messages, nobody asleep", calls);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F_TIMEOUT(wait, futex_syscall_with_sleeper, 60)
{
	long calls;

	if (test_on_kernel())
		SKIP(return, "region files only");
	if (!have_strace())
		SKIP(return, "strace is not installed (tools/install-deps)");
	ASSERT_LT(0, spawn(self, kid_recv, 0));
	ASSERT_TRUE(await_waiters(self, true, 1));
	calls = strace_futex_calls(self->path, 1, false);
	ASSERT_LE(0, calls) TH_LOG("strace failed");
	EXPECT_LT(0, calls);
	EXPECT_EQ(0, reap(self, 0, 3000));
	EXPECT_EQ(8, self->kids[0].ret);
}

/* ------------------------------------------------------------- channel fd */

TEST_F(wait, chan_fd)
{
	struct pollfd p;
	int fd;

	fd = dmxp_chan_fd(self->c);
	if (!test_on_kernel()) {
		EXPECT_EQ(-EOPNOTSUPP, fd);
		return;
	}
	ASSERT_LE(0, fd);
	EXPECT_EQ(fd, dmxp_chan_fd(self->c));	/* one per handle */
	EXPECT_LE(0, fcntl(fd, F_GETFD));
	p.fd = fd;
	p.events = POLLIN | POLLOUT;
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLOUT, p.revents & (POLLIN | POLLOUT));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_EQ(1, poll(&p, 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, p.revents & (POLLIN | POLLOUT));
}

/*
 * The fd of a stale handle: -EIDRM, as every call on it (libdmxp(3)),
 * also when the channel was created again (an fd of the new channel
 * would let the old handle take its messages).
 */
TEST_F(wait, chan_fd_of_stale_handle_fails_eidrm)
{
	if (!test_on_kernel())
		SKIP(return, "kernel regions only");
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(-EIDRM, dmxp_chan_fd(self->c));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(-EIDRM, dmxp_chan_fd(self->c));
}

/* The documented event loop: arm, poll the fd, a peer's send wakes it. */
TEST_F(wait, chan_fd_event_loop)
{
	struct pollfd p;
	char buf[16];
	int fd, got = 0, loops = 0;

	fd = dmxp_chan_fd(self->c);
	if (!test_on_kernel())
		SKIP(return, "kernel regions only");
	ASSERT_LE(0, fd);
	ASSERT_LT(0, spawn(self, kid_send_later, 100));
	while (!got && loops++ < 10) {
		while (dmxp_chan_recv(self->c, buf, sizeof(buf), NULL) >= 0)
			got++;
		if (got)
			break;
		if (dmxp_chan_arm(self->c, DMXP_ARM_RECV) > 0)
			continue;
		p.fd = fd;
		p.events = POLLIN;
		EXPECT_EQ(1, poll(&p, 1, 3000));
		dmxp_chan_disarm(self->c, DMXP_ARM_RECV);
	}
	EXPECT_EQ(1, got);
	EXPECT_EQ(0, reap(self, 0, 2000));
	EXPECT_EQ(0U, recv_waiters(self));
}

/* ---------------------------------------------------- the re-check itself */

/*
 * A child arms @arg's side with the test hook set at READY_POS, so it
 * stops (SIGSTOP) each time its re-check has loaded head (tail) but not
 * yet the slot there.
 */
static int kid_arm_hooked(struct dmxp_chan *c, struct kid *k, long arg)
{
	dmxp__hook_step = DMXP_HOOK_READY_POS;
	k->ret = dmxp_chan_arm(c, (unsigned int)arg);
	dmxp__hook_step = 0;
	if (k->ret == 0)
		dmxp_chan_disarm(c, (unsigned int)arg);
	return 0;
}

/* Child @i stopped (1), exited with *@code (0), or neither within 5 s (-1). */
static int stopped_or_exited(FIXTURE_DATA(wait) *self, int i, int *code)
{
	long long end = test_now_ns() + 5000 * MS;
	int status;

	while (test_now_ns() < end) {
		pid_t w = waitpid(self->pids[i], &status, WNOHANG | WUNTRACED);

		if (w < 0)
			return -1;
		if (w == self->pids[i] && WIFSTOPPED(status))
			return 1;
		if (w == self->pids[i]) {
			self->pids[i] = 0;
			*code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			return 0;
		}
		test_sleep_ms(1);
	}
	return -1;
}

/*
 * Run kid_arm_hooked(@events) in child 0; at each of its stops, call
 * @at_stop(n) (n from 1), then let it go on.  The number of stops.
 */
static int arm_stopped(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata,
		       unsigned int events,
		       void (*at_stop)(FIXTURE_DATA(wait) *self,
				       struct __test_metadata *_metadata, int n))
{
	int code = -1, n = 0, r;

	if (spawn(self, kid_arm_hooked, events) <= 0)
		return -1;
	while ((r = stopped_or_exited(self, 0, &code)) == 1) {
		at_stop(self, _metadata, ++n);
		if (n > 2 * DMXP_READY_RETRIES)
			return -1;
		kill(self->pids[0], SIGCONT);
	}
	if (r < 0 || code)
		return -1;
	return n;
}

/* Receive forever, stopped (SIGSTOP) once counted and re-checked. */
static int kid_recv_hooked(struct dmxp_chan *c, struct kid *k, long arg)
{
	char buf[16];

	(void)arg;
	dmxp__hook_step = DMXP_HOOK_SLEEPING;
	k->ret = dmxp_chan_recv_wait(c, buf, sizeof(buf), NULL, DMXP_WAIT_FOREVER);
	dmxp__hook_step = 0;
	return 0;
}

/*
 * A destroy between a sleeper's re-check and its sleep: -EIDRM, as when
 * it comes later.  On /dev/dmxp the sleeper first asks for the channel
 * fd there, which the destroy took away: that was -ENOENT.
 */
static void change_before_sleep(FIXTURE_DATA(wait) *self,
				struct __test_metadata *_metadata, bool recreate)
{
	long long t;
	int code = -1;

	ASSERT_LT(0, spawn(self, kid_recv_hooked, 0));
	ASSERT_EQ(1, stopped_or_exited(self, 0, &code));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	if (recreate)
		ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	t = test_now_ns();
	kill(self->pids[0], SIGCONT);
	ASSERT_EQ(0, reap(self, 0, 3000));
	EXPECT_EQ(-EIDRM, self->kids[0].ret);
	/* Not after the one-second look of a sleeper nobody wakes. */
	EXPECT_LT(self->kids[0].t_ret - t, 500 * MS);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F(wait, destroy_before_sleep_fails_eidrm)
{
	change_before_sleep(self, _metadata, false);
}

/*
 * Destroyed and created again: on /dev/dmxp the sleeper got the new
 * channel's fd and slept on it, woken by nobody, until its one-second
 * look found the generation changed.
 */
TEST_F(wait, recreate_before_sleep_fails_eidrm)
{
	change_before_sleep(self, _metadata, true);
}

static void take_first(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata, int n)
{
	char buf[16];

	/* Under the stopped re-check, another consumer takes its head. */
	if (n == 1)
		EXPECT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
}

/*
 * Two messages; the sleeper loads head, then another consumer takes the
 * first.  The sleeper's slot is freed, but the second message is there:
 * the sleeper must not arm (sleep), as nobody would wake it for it.
 */
TEST_F(wait, recheck_recv_head_taken)
{
	char buf[16];
	int stops;

	ASSERT_EQ(0, dmxp_chan_send(self->c, "0", 1, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "1", 1, 0));
	stops = arm_stopped(self, _metadata, DMXP_ARM_RECV, take_first);
	ASSERT_LE(1, stops);
	EXPECT_EQ(1, self->kids[0].ret)
		TH_LOG("re-check found its slot taken and armed with a message in the ring");
	EXPECT_EQ(0U, recv_waiters(self));
	ASSERT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ('1', buf[0]);
}

static void give_first(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata, int n)
{
	/* Under the stopped re-check, another producer takes its tail. */
	if (n == 1)
		EXPECT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
}

/* The send side: two free slots, another producer takes the first. */
TEST_F(wait, recheck_send_tail_taken)
{
	char buf[16];
	int stops;

	fill(self, _metadata);
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	stops = arm_stopped(self, _metadata, DMXP_ARM_SEND, give_first);
	ASSERT_LE(1, stops);
	EXPECT_EQ(1, self->kids[0].ret)
		TH_LOG("re-check found its slot taken and armed with a slot free");
	EXPECT_EQ(0U, send_waiters(self));
	EXPECT_EQ(0, dmxp_chan_send(self->c, "y", 1, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send(self->c, "z", 1, 0));
}

static void take_each(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata, int n)
{
	char buf[16];

	/* Take the head each time, keeping one message behind it... */
	EXPECT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	if (n < DMXP_READY_RETRIES) {
		EXPECT_EQ(0, dmxp_chan_send(self->c, "m", 1, 0));
	} else {	/* ...but the last time, empty the ring. */
		EXPECT_EQ(1, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	}
}

/*
 * A re-check that keeps finding its position taken gives up after
 * DMXP_READY_RETRIES tries and says "ready": the caller tries again
 * instead of sleeping on a state it does not know.
 */
TEST_F(wait, recheck_bounded_says_ready)
{
	int stops;

	ASSERT_EQ(0, dmxp_chan_send(self->c, "0", 1, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "1", 1, 0));
	stops = arm_stopped(self, _metadata, DMXP_ARM_RECV, take_each);
	EXPECT_EQ(DMXP_READY_RETRIES, stops);
	EXPECT_EQ(1, self->kids[0].ret);
	EXPECT_EQ(0U, recv_waiters(self));
}

/* ------------------------------------------ a peer that never wakes anyone */

/* Receive one message, waiting up to @arg ms. */
static int kid_recv_timed(struct dmxp_chan *c, struct kid *k, long arg)
{
	char buf[DMXP_MAX_PAYLOAD];

	k->ret = dmxp_chan_recv_wait(c, buf, sizeof(buf), NULL, arg * MS);
	k->t_ret = test_now_ns();
	if (k->ret >= 4)
		memcpy(&k->payload, buf, 4);
	return 0;
}

/* Run helper_rawpeer (next to this program) with @mode on @path; its exit status. */
static int rawpeer(const char *mode, const char *path, const char *count)
{
	char exe[PATH_MAX], ch[16], *slash;
	int status;
	pid_t pid;

	if (self_exe(exe, sizeof(exe)))
		return -1;
	slash = strrchr(exe, '/');
	if (!slash || (size_t)(slash - exe) + sizeof("/helper_rawpeer") > sizeof(exe))
		return -1;
	strcpy(slash, "/helper_rawpeer");
	snprintf(ch, sizeof(ch), "%d", CH);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl(exe, exe, mode, path, ch, count, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define SEED_BOUND_MS	1500	/* Documentation/RELIABILITY.md: about a second */

/*
 * A sleeper and a producer that follows only the ring protocol (no
 * waker's steps): the sleeper must find the message by itself, within
 * about a second, on both backends.
 */
static void seed_to_sleeper(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata)
{
	long long t0, lat;

	ASSERT_LT(0, spawn(self, kid_recv_timed, 5000));
	ASSERT_TRUE(await_waiters(self, true, 1));
	t0 = test_now_ns();
	ASSERT_EQ(0, rawpeer("produce-silent", self->path, "1"));
	ASSERT_EQ(0, reap(self, 0, 8000));
	lat = self->kids[0].t_ret - t0;
	TH_LOG("received after %.3f s", lat / 1e9);
	EXPECT_EQ(1, self->kids[0].ret);	/* "1" */
	EXPECT_LT(lat, SEED_BOUND_MS * MS);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F_TIMEOUT(wait, seed_producer_reaches_sleeper, 60)
{
	seed_to_sleeper(self, _metadata);
}

/* The same on a region file too small for a claim table (no repairs). */
/* The fixture's region again, as the header and a ring too small for a claim table. */
static void reopen_without_claims(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata)
{
	dmxp_chan_close(self->c);
	dmxp_region_close(self->r);
	self->c = NULL;
	self->r = NULL;
	test_region_remove(self->path);
	ASSERT_EQ(0, dmxp_region_open(self->path, 128 << 10,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0ULL, dmxp_region_header(self->r)->claims_offset);
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
}

/*
 * One publish can make two messages ready at head, so a waker wakes every
 * sleeper, not one per message.  A holds position 0 (a reservation), B
 * publishes position 1 and finds nobody asleep; two consumers then sleep
 * at position 0; A commits it: both must wake, each with one message.
 * Waking one, its wake-up is spent on position 0 and the other sleeps
 * with position 1 ready (lib/model/ring.pml, -DWAKE_ONE).
 */
static void publish_wakes_all(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata)
{
	__u32 a = 0xa0a0a0a0, b = 0xb1b1b1b1, seen = 0;
	/*
	 * Woken, not found by the one-second look (a lost wake-up takes
	 * about 980 ms): 100 ms, more in a slowed kernel, never near 1 s.
	 */
	long long wake_bound = 100 * MS * (test_time_scale() < 5 ? test_time_scale() : 5);
	struct dmxp_ref ref;
	long long t0;
	int i;

	ASSERT_EQ(0, dmxp_chan_reserve(self->c, &ref));
	memcpy(ref.payload, &a, sizeof(a));
	ASSERT_EQ(0, dmxp_chan_send(self->c, &b, sizeof(b), 0));
	ASSERT_LT(0, spawn(self, kid_recv_timed, 5000));
	ASSERT_LT(0, spawn(self, kid_recv_timed, 5000));
	ASSERT_TRUE(await_waiters(self, true, 2));
	t0 = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_commit(self->c, &ref, sizeof(a), 0));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, reap(self, i, 8000));
		TH_LOG("sleeper %d received after %.3f ms", i,
		       (self->kids[i].t_ret - t0) / 1e6);
		EXPECT_EQ((long long)sizeof(a), self->kids[i].ret);
		EXPECT_LT(self->kids[i].t_ret - t0, wake_bound);
		seen |= self->kids[i].payload;
	}
	EXPECT_EQ(a | b, seen);
	EXPECT_EQ(0U, recv_waiters(self));
}

TEST_F_TIMEOUT(wait, one_publish_wakes_every_sleeper, 60)
{
	publish_wakes_all(self, _metadata);
}

/* The same without a claim table, where no stall look wakes a sleeper early. */
TEST_F_TIMEOUT(wait, one_publish_wakes_every_sleeper_no_claims, 60)
{
	if (test_on_kernel())
		SKIP(return, "region files only");
	reopen_without_claims(self, _metadata);
	publish_wakes_all(self, _metadata);
}

TEST_F_TIMEOUT(wait, seed_producer_reaches_sleeper_no_claims, 60)
{
	if (test_on_kernel())
		SKIP(return, "region files only");
	reopen_without_claims(self, _metadata);
	seed_to_sleeper(self, _metadata);
}

/* ------------------------------------------------------------ cancellation */

/* Records of the region's claim table saying a sleeper of CH is counted. */
static int wait_records(FIXTURE_DATA(wait) *self)
{
	const struct dmxp_global_header *h = dmxp_region_header(self->r);
	const struct dmxp_claim *rec;
	__u32 i, n = 0;

	if (!h->claims_offset)
		return 0;
	rec = (const void *)((const char *)h + h->claims_offset);
	for (i = 0; i < h->claims_count; i++) {
		__u32 st = __atomic_load_n(&rec[i].state, __ATOMIC_ACQUIRE);

		if ((st == DMXP_CLAIM_WAIT_RECV || st == DMXP_CLAIM_WAIT_SEND) &&
		    rec[i].chan == CH)
			n++;
	}
	return n;
}

static void *thr_wait_forever(void *arg)
{
	struct thr *t = arg;
	__u32 v = 5;
	char buf[16];

	if (t->payload)		/* a producer */
		t->ret = dmxp_chan_send_wait(t->c, &v, sizeof(v), 0, DMXP_WAIT_FOREVER);
	else
		t->ret = dmxp_chan_recv_wait(t->c, buf, sizeof(buf), NULL, DMXP_WAIT_FOREVER);
	return NULL;
}

/*
 * A thread asleep in recv_wait (send_wait) is cancelled: the call is a
 * cancellation point, and the thread leaves neither its count in the
 * waiter word nor its record saying it is counted.
 */
static void cancel_asleep(FIXTURE_DATA(wait) *self, struct __test_metadata *_metadata,
			  bool send)
{
	struct thr t = { .c = self->c, .payload = send };
	__u32 before = send ? send_waiters(self) : recv_waiters(self);
	struct timespec ts;
	void *res = NULL;
	pthread_t tid;
	char buf[16];
	int r;

#ifdef __SANITIZE_ADDRESS__
	/*
	 * Cancellation unwinds the sleeping thread's frames without
	 * unpoisoning their redzones; ASan then reports its own interceptor
	 * writing there (any ppoll() in a frame with locals does that).
	 */
	SKIP(return, "AddressSanitizer cannot unwind a cancelled thread");
#endif
	ASSERT_EQ(0, pthread_create(&tid, NULL, thr_wait_forever, &t));
	ASSERT_TRUE(await_waiters(self, !send, before + 1));
	EXPECT_EQ(1, wait_records(self) + !dmxp_region_header(self->r)->claims_offset);
	ASSERT_EQ(0, pthread_cancel(tid));
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	r = pthread_timedjoin_np(tid, &res, &ts);
	if (r) {
		/* Not cancelled while asleep: give it what it waits for. */
		if (send)
			dmxp_chan_recv(self->c, buf, sizeof(buf), NULL);
		else
			dmxp_chan_send(self->c, "w", 1, 0);
		pthread_join(tid, &res);
	}
	EXPECT_EQ(0, r) TH_LOG("pthread_cancel() did not end the sleep");
	EXPECT_EQ(PTHREAD_CANCELED, res);
	EXPECT_EQ(before, send ? send_waiters(self) : recv_waiters(self));
	EXPECT_EQ(0, wait_records(self));
}

TEST_F(wait, cancel_recv_asleep)
{
	cancel_asleep(self, _metadata, false);
}

TEST_F(wait, cancel_send_asleep)
{
	fill(self, _metadata);
	cancel_asleep(self, _metadata, true);
}

TEST_HARNESS_MAIN
