// SPDX-License-Identifier: MIT
/*
 * The module's wake-up interface: channel fds (DMXP_IOC_CHAN_FD: poll,
 * epoll, read, write), DMXP_IOC_NOTIFY and eventfds (DMXP_IOC_CHAN_EVENTFD),
 * and how they meet the library's blocking calls on the same channel.
 *
 * Every test skips when /dev/dmxp does not exist (the module is not
 * loaded, as on the host); tools/vm/run runs them in a guest with the
 * module, whose kernel log it checks afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"

#define CH		5
#define CAP		4
#define META		((int)sizeof(struct dmxp_msg_meta))
#define MS		1000000LL

/* The eventfd's count (and reset it), 0 if not signalled. */
static long long ev_count(int efd)
{
	__u64 v;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return errno == EAGAIN ? 0 : -errno;
	return (long long)v;
}

static short poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* ---------------------------------------------------------------- fixture */

FIXTURE(cf) {
	bool nodev;
	char name[DMXP_NAME_MAX];
	char path[64];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int dev;	/* /dev/dmxp bound to the region */
	pid_t kid;
};

FIXTURE_SETUP(cf)
{
	self->dev = -1;
	SKIP_WITHOUT_DEV(self->nodev, "the kernel tests need root");
	snprintf(self->name, sizeof(self->name), "cf-%d-%lx", (int)getpid(),
		 test_name_salt() & 0xffffff);
	snprintf(self->path, sizeof(self->path), DMXP_DEVICE ":%s", self->name);
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
	self->dev = dev_attach(self->name, NULL);
	ASSERT_LE(0, self->dev);
}

FIXTURE_TEARDOWN(cf)
{
	if (self->kid > 0) {
		kill(self->kid, SIGKILL);
		waitpid(self->kid, NULL, 0);
	}
	if (self->dev >= 0)
		close(self->dev);
	if (self->c)
		dmxp_chan_close(self->c);
	if (self->r)
		dmxp_region_close(self->r);
	if (!self->nodev)
		dmxp_region_unlink(self->path);
}

static const struct dmxp_channel_entry *entry(FIXTURE_DATA(cf) *self)
{
	return &dmxp_region_header(self->r)->channels[CH];
}

static __u32 waiters(FIXTURE_DATA(cf) *self, bool recv)
{
	const struct dmxp_channel_entry *e = entry(self);

	return __atomic_load_n(recv ? &e->recv_waiters : &e->send_waiters, __ATOMIC_SEQ_CST);
}

static long long notifies(FIXTURE_DATA(cf) *self)
{
	char attr[32];

	snprintf(attr, sizeof(attr), "ch%d/notifies", CH);
	return sysfs_num(self->name, attr);
}

static void fill(FIXTURE_DATA(cf) *self, struct __test_metadata *_metadata)
{
	__u32 i;

	for (i = 0; i < CAP; i++)
		ASSERT_EQ(0, dmxp_chan_send(self->c, &i, sizeof(i), 0));
}

enum kid_job {
	KID_SEND_WHEN_RECV_WAITER,	/* library send once a reader sleeps */
	KID_RECV_WHEN_SEND_WAITER,	/* library recv once a writer sleeps */
	KID_DESTROY_WHEN_RECV_WAITER,
	KID_DESTROY_WHEN_SEND_WAITER,
	KID_SEND_AFTER_300MS,
};

/*
 * Fork a child that opens the region with the library and does @job.
 * Exit status 0: done; 2: the sleeper never showed up in the waiter word.
 */
static void spawn(FIXTURE_DATA(cf) *self, struct __test_metadata *_metadata,
		  enum kid_job job)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct dmxp_region *r;
		struct dmxp_chan *c;
		long long end = test_now_ns() + 5000 * MS;
		bool recv = job == KID_SEND_WHEN_RECV_WAITER ||
			    job == KID_DESTROY_WHEN_RECV_WAITER;
		const struct dmxp_channel_entry *e;
		char buf[DMXP_MAX_PAYLOAD];

		alarm(20);
		if (dmxp_region_open(self->path, 0, 0, &r) || dmxp_chan_open(r, CH, &c))
			_exit(1);
		e = &dmxp_region_header(r)->channels[CH];
		if (job == KID_SEND_AFTER_300MS) {
			test_sleep_ms(300);
			_exit(dmxp_chan_send(c, "late", 4, 0) ? 3 : 0);
		}
		while (!__atomic_load_n(recv ? &e->recv_waiters : &e->send_waiters,
					__ATOMIC_SEQ_CST)) {
			if (test_now_ns() > end)
				_exit(2);
			test_sleep_ms(1);
		}
		test_sleep_ms(50);	/* counted, then asleep */
		switch (job) {
		case KID_SEND_WHEN_RECV_WAITER:
			_exit(dmxp_chan_send(c, "wake", 4, 0x77) ? 3 : 0);
		case KID_RECV_WHEN_SEND_WAITER:
			_exit(dmxp_chan_recv(c, buf, sizeof(buf), NULL) < 0 ? 3 : 0);
		default:
			_exit(dmxp_chan_destroy(r, CH) ? 3 : 0);
		}
	}
	self->kid = pid;
}

static int reap(FIXTURE_DATA(cf) *self)
{
	int ret = test_reap(self->kid, -1);

	if (ret >= 0)
		self->kid = 0;
	return ret;
}

/* -------------------------------------------------------- DMXP_IOC_CHAN_FD */

TEST_F(cf, chanfd_bad_id)
{
	NEED_DEV();
	EXPECT_EQ(-EINVAL, ioc_chan_fd(self->dev, DMXP_MAX_CHANNELS, 0));
	EXPECT_EQ(-EINVAL, ioc_chan_fd(self->dev, ~0U, 0));
}

TEST_F(cf, chanfd_unknown_flags)
{
	NEED_DEV();
	EXPECT_EQ(-EINVAL, ioc_chan_fd(self->dev, CH, 1U << 1));
	EXPECT_EQ(-EINVAL, ioc_chan_fd(self->dev, CH, ~0U));
}

TEST_F(cf, chanfd_reserved)
{
	struct dmxp_ioc_chan_fd rq = { .id = CH, .reserved = 1 };

	NEED_DEV();
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMXP_IOC_CHAN_FD, &rq));
	rq.reserved = 1ULL << 63;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMXP_IOC_CHAN_FD, &rq));
}

TEST_F(cf, chanfd_missing_channel)
{
	NEED_DEV();
	EXPECT_EQ(-ENOENT, ioc_chan_fd(self->dev, CH + 1, 0));
	EXPECT_EQ(-ENOENT, ioc_chan_fd(self->dev, DMXP_MAX_CHANNELS - 1, 0));
}

TEST_F(cf, chanfd_before_attach)
{
	int fd;

	NEED_DEV();
	fd = dev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENXIO, ioc_chan_fd(fd, CH, 0));
	close(fd);
	/* Before the handshake: the protocol error comes first. */
	fd = open(DMXP_DEVICE, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPROTO, ioc_chan_fd(fd, CH, 0));
	close(fd);
}

TEST_F(cf, chanfd_flags)
{
	int fd, fdn;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fdn = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fdn);
	EXPECT_EQ(0, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(O_NONBLOCK, fcntl(fdn, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fdn, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	close(fd);
	close(fdn);
}

/* The fd keeps the region alive after the region is destroyed. */
TEST_F(cf, chanfd_outlives_region)
{
	char buf[64];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_region_unlink(self->path));
	EXPECT_EQ(POLLERR | POLLHUP, poll_now(fd, POLLIN | POLLOUT) & (POLLERR | POLLHUP));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIDRM, errno);
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EIDRM, errno);
	EXPECT_EQ(-EIDRM, ioc_chan_fd(self->dev, CH, 0));
	EXPECT_EQ(-EIDRM, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	close(fd);
}

/* ------------------------------------------------------------------- poll */

TEST_F(cf, poll_empty)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLOUT, poll_now(fd, POLLIN | POLLOUT));
	close(fd);
}

TEST_F(cf, poll_after_send)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	EXPECT_EQ(POLLIN | POLLOUT, poll_now(fd, POLLIN | POLLOUT));
	close(fd);
}

TEST_F(cf, poll_full)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	EXPECT_EQ(POLLIN, poll_now(fd, POLLIN | POLLOUT));
	close(fd);
}

TEST_F(cf, poll_destroyed)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(POLLERR | POLLHUP, poll_now(fd, POLLIN | POLLOUT));
	/* A new channel of the same id is another channel. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(POLLERR | POLLHUP, poll_now(fd, POLLIN | POLLOUT));
	close(fd);
}

struct poller {
	int fd;
	short revents;
	int ret;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

	p->ret = poll(&pfd, 1, 5000);
	p->revents = pfd.revents;
	return NULL;
}

/* A poll() asleep on the channel is woken by its destruction. */
TEST_F(cf, poll_woken_by_destroy)
{
	struct poller p = { 0 };
	pthread_t t;
	long long t0;

	NEED_DEV();
	p.fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, p.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p));
	test_sleep_ms(100);
	t0 = test_now_ns();
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	pthread_join(t, NULL);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLERR | POLLHUP, p.revents & (POLLERR | POLLHUP));
	EXPECT_LT(test_now_ns() - t0, 2000 * MS);
	close(p.fd);
}

/* The channel's entry and slots, writable: the test plays a raw peer. */
static struct dmxp_channel_entry *raw_entry(FIXTURE_DATA(cf) *self, __u32 id)
{
	return (struct dmxp_channel_entry *)&dmxp_region_header(self->r)->channels[id];
}

static struct dmxp_slot *raw_slot(FIXTURE_DATA(cf) *self, __u32 id, __u64 pos)
{
	struct dmxp_channel_entry *e = raw_entry(self, id);
	unsigned char *base = (unsigned char *)dmxp_region_header(self->r);

	return (struct dmxp_slot *)(base + e->band_offset) + (pos & (e->capacity - 1));
}

/*
 * Send as a peer that follows only the seed's protocol: claim tail by CAS,
 * write, publish the sequence; never look at the waiter word, never
 * ioc_notify.  0, or -EAGAIN when the ring stays full.
 */
static int raw_send(FIXTURE_DATA(cf) *self, __u32 id, const void *p, __u32 len)
{
	struct dmxp_channel_entry *e = raw_entry(self, id);
	__u64 pos = __atomic_load_n(&e->tail, __ATOMIC_RELAXED);
	struct dmxp_slot *s;
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		__s64 diff;

		s = raw_slot(self, id, pos);
		/* Pairs with the consumer's release that freed the slot. */
		diff = (__s64)(__atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE) - pos);
		if (diff == 0 && __atomic_compare_exchange_n(&e->tail, &pos, pos + 1, false,
							      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
		if (diff < 0)
			return -EAGAIN;
		if (diff > 0)
			pos = __atomic_load_n(&e->tail, __ATOMIC_RELAXED);
	}
	if (tries == 1000)
		return -EAGAIN;
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = pos;
	s->meta.channel_id = id;
	s->meta.sender_pid = (__u32)getpid();
	s->meta.sender_runtime = DMXP_RUNTIME_OTHER;
	s->meta.payload_len = len;
	memcpy(s->payload, p, len);
	/* Publishes; pairs with the consumer's acquire of the sequence. */
	__atomic_store_n(&s->sequence, pos + 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * A consumer took the slot at head (freed it, sequence head + capacity)
 * and the next message is published, but head has not moved yet, as a
 * racing poll sees it: readable, not "empty".  With a head that never
 * moves, the bounded re-check reports it readable too (a spurious wake-up
 * at worst, never a lost one).
 */
TEST_F(cf, poll_readable_past_taken_slot)
{
	struct dmxp_channel_entry *e;
	int fd;

	NEED_DEV();
	e = raw_entry(self, CH);
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "m0", 2, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "m1", 2, 0));
	ASSERT_EQ(0ULL, __atomic_load_n(&e->head, __ATOMIC_SEQ_CST));
	__atomic_store_n(&raw_slot(self, CH, 0)->sequence, CAP, __ATOMIC_SEQ_CST);
	EXPECT_EQ(POLLIN, poll_now(fd, POLLIN) & POLLIN);
	close(fd);
}

/* The producer side: the slot at tail is already published by another. */
TEST_F(cf, poll_writable_past_taken_slot)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	/* Position 0 claimed and published, tail not moved yet; 1..3 free. */
	__atomic_store_n(&raw_slot(self, CH, 0)->sequence, 1, __ATOMIC_SEQ_CST);
	EXPECT_EQ(POLLOUT, poll_now(fd, POLLOUT) & POLLOUT);
	close(fd);
}

/*
 * A producer that never notifies still reaches a consumer asleep in the
 * module within the documented bound (about a second): the module
 * re-checks channels with sleepers.
 */
TEST_F(cf, poll_woken_by_silent_producer)
{
	struct poller p = { 0 };
	long long t0, dt;
	pthread_t t;

	NEED_DEV();
	p.fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, p.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p));
	test_sleep_ms(100);
	t0 = test_now_ns();
	ASSERT_EQ(0, raw_send(self, CH, "seed", 4));
	pthread_join(t, NULL);
	dt = test_now_ns() - t0;
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLIN, p.revents & POLLIN);
	EXPECT_LT(dt, 1500 * MS) TH_LOG("woken after %lld ms", dt / MS);
	close(p.fd);
}

struct reader {
	int fd;
	ssize_t n;
	long long done;
};

static void *read_thread(void *arg)
{
	struct reader *rd = arg;
	char buf[META + 16];

	rd->n = read(rd->fd, buf, sizeof(buf));
	rd->done = test_now_ns();
	return NULL;
}

/* The same for a blocking read(). */
TEST_F(cf, read_woken_by_silent_producer)
{
	struct reader rd = { 0 };
	long long t0;
	pthread_t t;
	int i;

	NEED_DEV();
	rd.fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, rd.fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_thread, &rd));
	for (i = 0; i < 5000 && !waiters(self, true); i++)
		test_sleep_ms(1);
	ASSERT_EQ(1U, waiters(self, true));
	test_sleep_ms(50);
	t0 = test_now_ns();
	ASSERT_EQ(0, raw_send(self, CH, "seed", 4));
	for (i = 0; i < 5000 && !__atomic_load_n(&rd.done, __ATOMIC_SEQ_CST); i++)
		test_sleep_ms(1);
	if (!__atomic_load_n(&rd.done, __ATOMIC_SEQ_CST)) {
		/* Still asleep after 5 s: unblock it for the join. */
		ASSERT_EQ(0, dmxp_chan_send(self->c, "x", 1, 0));
		ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	}
	pthread_join(t, NULL);
	EXPECT_EQ(META + 4, rd.n);
	EXPECT_LT(rd.done - t0, 1500 * MS) TH_LOG("woken after %lld ms", (rd.done - t0) / MS);
	close(rd.fd);
}

/* The module's own write() wakes a poll() asleep on another fd. */
TEST_F(cf, poll_woken_by_write_on_other_fd)
{
	struct poller p = { 0 };
	long long t0, dt;
	pthread_t t;
	int fd;

	NEED_DEV();
	p.fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, p.fd);
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p));
	test_sleep_ms(100);
	t0 = test_now_ns();
	ASSERT_EQ(1, write(fd, "w", 1));
	pthread_join(t, NULL);
	dt = test_now_ns() - t0;
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLIN, p.revents & POLLIN);
	EXPECT_LT(dt, 100 * MS) TH_LOG("woken after %lld ms", dt / MS);
	close(fd);
	close(p.fd);
}

/* And its read() wakes a poll(POLLOUT) asleep on a full ring. */
TEST_F(cf, poll_out_woken_by_read_on_other_fd)
{
	struct pollfd pfd;
	char buf[META + 16];
	long long t0;
	pid_t pid;
	int fd, status;

	NEED_DEV();
	fill(self, _metadata);
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(10);
		test_sleep_ms(100);
		_exit(read(fd, buf, sizeof(buf)) == META + 4 ? 0 : 1);
	}
	self->kid = pid;
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	t0 = test_now_ns();
	EXPECT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_EQ(POLLOUT, pfd.revents & POLLOUT);
	EXPECT_LT(test_now_ns() - t0, 100 * MS + 100 * MS);
	status = reap(self);
	EXPECT_EQ(0, status);
	close(fd);
}

/* ------------------------------------------------------------------ epoll */

static int epoll_for(int fd, __u32 events)
{
	struct epoll_event ev = { .events = events };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -1;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(ep);
		return -1;
	}
	return ep;
}

static int epoll_now(int ep, __u32 *events)
{
	struct epoll_event ev;
	int n = epoll_wait(ep, &ev, 1, 0);

	if (n == 1 && events)
		*events = ev.events;
	return n;
}

TEST_F(cf, epoll_level)
{
	char buf[64];
	__u32 events = 0;
	int fd, ep;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ep = epoll_for(fd, EPOLLIN);
	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	/* Level-triggered: reported as long as a message waits. */
	EXPECT_EQ(1, epoll_now(ep, &events));
	EXPECT_EQ((__u32)EPOLLIN, events);
	EXPECT_EQ(1, epoll_now(ep, &events));
	EXPECT_EQ(META + 1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, epoll_now(ep, NULL));
	close(ep);
	close(fd);
}

TEST_F(cf, epoll_ready_at_add)
{
	int fd, ep;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	ep = epoll_for(fd, EPOLLIN);
	ASSERT_LE(0, ep);
	EXPECT_EQ(1, epoll_now(ep, NULL));
	close(ep);
	close(fd);
}

TEST_F(cf, epoll_edge)
{
	__u32 events = 0;
	int fd, ep;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ep = epoll_for(fd, EPOLLIN | EPOLLET);
	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	/* Nobody armed: the library send wakes nobody. */
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	EXPECT_EQ(0, epoll_now(ep, NULL));
	/* Each ioc_notify is one edge. */
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(1, epoll_now(ep, &events));
	EXPECT_EQ((__u32)EPOLLIN, events);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(1, epoll_now(ep, NULL));
	EXPECT_EQ(0, epoll_now(ep, NULL));
	/* A wake-up of producers is not one of consumers. */
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_SEND));
	EXPECT_EQ(0, epoll_now(ep, NULL));
	close(ep);
	close(fd);
}

/* The documented loop: arm, then epoll; another process's send wakes it. */
TEST_F(cf, epoll_armed_woken_by_library_send)
{
	struct epoll_event ev;
	int fd, ep;

	NEED_DEV();
	fd = dmxp_chan_fd(self->c);
	ASSERT_LE(0, fd);
	ep = epoll_for(fd, EPOLLIN | EPOLLET);
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	spawn(self, _metadata, KID_SEND_WHEN_RECV_WAITER);
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 5000));
	EXPECT_EQ((__u32)EPOLLIN, ev.events);
	dmxp_chan_disarm(self->c, DMXP_ARM_RECV);
	EXPECT_EQ(0, reap(self));
	EXPECT_EQ(0U, waiters(self, true));
	close(ep);
}

/* A producer that never notifies wakes an epoll set that holds the fd. */
TEST_F(cf, epoll_woken_by_silent_producer)
{
	struct epoll_event ev;
	long long t0;
	int fd, ep, n;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ep = epoll_for(fd, EPOLLIN);
	ASSERT_LE(0, ep);
	EXPECT_EQ(0, epoll_now(ep, NULL));
	t0 = test_now_ns();
	ASSERT_EQ(0, raw_send(self, CH, "seed", 4));
	n = epoll_wait(ep, &ev, 1, 5000);
	EXPECT_EQ(1, n);
	EXPECT_LT(test_now_ns() - t0, 1500 * MS) TH_LOG("woken after %lld ms",
						    (test_now_ns() - t0) / MS);
	close(ep);
	close(fd);
}

/* ------------------------------------------------------------------- read */

TEST_F(cf, read_format)
{
	unsigned char buf[META + DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta m;
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "skip", 4, 1));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "hello", 5, 0x1234));
	ASSERT_EQ(META + 4, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(META + 5, read(fd, buf, sizeof(buf)));
	memcpy(&m, buf, sizeof(m));
	EXPECT_EQ(1ULL, m.message_id);
	EXPECT_EQ(5U, m.payload_len);
	EXPECT_EQ((__u32)getpid(), m.sender_pid);
	EXPECT_EQ(0x1234U, m.message_type);
	EXPECT_EQ((__u32)CH, m.channel_id);
	EXPECT_EQ(DMXP_RUNTIME_C, m.sender_runtime);
	EXPECT_EQ(0, m.flags);
	EXPECT_LT(0ULL, m.timestamp_ns);
	EXPECT_EQ(0, memcmp(buf + META, "hello", 5));
	close(fd);
}

TEST_F(cf, read_buffer_smaller_than_meta)
{
	char buf[META + 8];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, META - 1));
	EXPECT_EQ(EMSGSIZE, errno);
	ASSERT_EQ(0, dmxp_chan_send(self->c, "", 0, 0));
	EXPECT_EQ(-1, read(fd, buf, META - 1));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-1, read(fd, buf, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	/* An empty payload fits exactly the metadata. */
	EXPECT_EQ(META, read(fd, buf, META));
	close(fd);
}

/*
 * read() with a buffer smaller than the metadata, even an empty one, is
 * refused before the ring is looked at: it never sleeps, never returns 0
 * (which would read as end of file) and never takes a message.
 */
TEST_F(cf, read_zero_length_refused_without_sleeping)
{
	char buf[META];
	long long t0;
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);		/* blocking, empty ring */
	ASSERT_LE(0, fd);
	t0 = test_now_ns();
	EXPECT_EQ(-1, read(fd, buf, 0));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_LT(test_now_ns() - t0, 1000 * MS);
	EXPECT_EQ(0U, waiters(self, true));
	close(fd);
}

/* write() of zero bytes sends one empty message. */
TEST_F(cf, write_zero_length_sends_empty_message)
{
	struct dmxp_msg_meta m;
	char buf[META + 16];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, write(fd, buf, 0));
	EXPECT_EQ(POLLIN, poll_now(fd, POLLIN));
	ASSERT_EQ(META, read(fd, buf, sizeof(buf)));
	memcpy(&m, buf, sizeof(m));
	EXPECT_EQ(0U, m.payload_len);
	EXPECT_EQ(DMXP_RUNTIME_KERNEL, m.sender_runtime);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST_F(cf, read_buffer_smaller_than_message)
{
	unsigned char payload[100], buf[META + 200];
	int fd;

	NEED_DEV();
	memset(payload, 0x5a, sizeof(payload));
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_send(self->c, payload, sizeof(payload), 0));
	EXPECT_EQ(-1, read(fd, buf, META + 99));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-1, read(fd, buf, META));
	EXPECT_EQ(EMSGSIZE, errno);
	/* It stayed: the next read with room gets it. */
	ASSERT_EQ(META + 100, read(fd, buf, META + 100));
	EXPECT_EQ(0, memcmp(buf + META, payload, sizeof(payload)));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST_F(cf, read_nonblock_empty)
{
	char buf[META + 16];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	/* O_NONBLOCK set later with fcntl counts too. */
	close(fd);
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

/*
 * A blocking read sleeps counted in recv_waiters, so a library send from
 * another process notifies and wakes it.
 */
TEST_F(cf, read_blocking_woken_by_library_send)
{
	unsigned char buf[META + 16];
	struct dmxp_msg_meta m;
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	spawn(self, _metadata, KID_SEND_WHEN_RECV_WAITER);
	ASSERT_EQ(META + 4, read(fd, buf, sizeof(buf)));
	memcpy(&m, buf, sizeof(m));
	EXPECT_EQ(0x77U, m.message_type);
	EXPECT_EQ((__u32)self->kid, m.sender_pid);
	EXPECT_EQ(0, memcmp(buf + META, "wake", 4));
	EXPECT_EQ(0, reap(self)) TH_LOG("2: the reader was never counted in recv_waiters");
	EXPECT_EQ(0U, waiters(self, true));
	close(fd);
}

TEST_F(cf, read_eintr)
{
	char buf[META + 16];
	ssize_t n;
	int fd, err;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	test_set_alarm(0, 100);
	n = read(fd, buf, sizeof(buf));
	err = errno;
	test_clear_alarm();
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, err);
	EXPECT_TRUE(test_got_alarm);
	EXPECT_EQ(0U, waiters(self, true));
	close(fd);
}

/* With SA_RESTART the read goes on and gets the message sent later. */
TEST_F(cf, read_sa_restart)
{
	char buf[META + 16];
	ssize_t n;
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	spawn(self, _metadata, KID_SEND_AFTER_300MS);
	test_set_alarm(SA_RESTART, 100);
	n = read(fd, buf, sizeof(buf));
	test_clear_alarm();
	EXPECT_TRUE(test_got_alarm);
	EXPECT_EQ(META + 4, n);
	EXPECT_EQ(0, reap(self));
	EXPECT_EQ(0U, waiters(self, true));
	close(fd);
}

TEST_F(cf, read_blocked_then_destroyed)
{
	char buf[META + 16];
	ssize_t n;
	int fd, err;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	spawn(self, _metadata, KID_DESTROY_WHEN_RECV_WAITER);
	n = read(fd, buf, sizeof(buf));
	err = errno;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EIDRM, err);
	EXPECT_EQ(0, reap(self));
	EXPECT_EQ(0U, waiters(self, true));
	close(fd);
}

/* After a destroy and re-create, an old fd stays on the old channel. */
TEST_F(cf, read_write_after_recreate)
{
	char buf[META + 16];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIDRM, errno);
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EIDRM, errno);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EIDRM, errno);
	close(fd);
}

/* A read frees a slot and wakes a producer asleep in the library. */
TEST_F(cf, read_wakes_library_send_wait)
{
	char buf[META + 16];
	int fd, status;
	pid_t pid;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		alarm(10);
		dmxp_chan_set_spin(self->c, 0);
		_exit(dmxp_chan_send_wait(self->c, "w", 1, 0, DMXP_WAIT_FOREVER) ? 1 : 0);
	}
	self->kid = pid;
	for (status = 0; status < 5000 && !waiters(self, false); status++)
		test_sleep_ms(1);
	ASSERT_EQ(1U, waiters(self, false));
	test_sleep_ms(50);
	ASSERT_EQ(META + 4, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(0, reap(self));
	close(fd);
}

/* ------------------------------------------------------------------ write */

TEST_F(cf, write_basic)
{
	struct dmxp_msg_meta m;
	char buf[16];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_EQ(3, dmxp_chan_recv(self->c, buf, sizeof(buf), &m));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	EXPECT_EQ(DMXP_RUNTIME_KERNEL, m.sender_runtime);
	EXPECT_EQ((__u32)getpid(), m.sender_pid);
	EXPECT_EQ(0U, m.message_type);
	EXPECT_EQ(0ULL, m.message_id);
	EXPECT_EQ((__u32)CH, m.channel_id);
	EXPECT_EQ(3U, m.payload_len);
	EXPECT_EQ(0, m.flags);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), &m));
	close(fd);
}

TEST_F(cf, write_sizes)
{
	static char big[DMXP_MAX_PAYLOAD + 1];
	char buf[DMXP_MAX_PAYLOAD];
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, write(fd, big, DMXP_MAX_PAYLOAD + 1));
	EXPECT_EQ(EMSGSIZE, errno);
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	big[DMXP_MAX_PAYLOAD - 1] = 9;
	EXPECT_EQ(DMXP_MAX_PAYLOAD, write(fd, big, DMXP_MAX_PAYLOAD));
	EXPECT_EQ(0, write(fd, big, 0));
	EXPECT_EQ(DMXP_MAX_PAYLOAD, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(9, buf[DMXP_MAX_PAYLOAD - 1]);
	EXPECT_EQ(0, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	close(fd);
}

TEST_F(cf, write_nonblock_full)
{
	int fd;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	EXPECT_EQ(-1, write(fd, "x", 1));
	EXPECT_EQ(EAGAIN, errno);
	close(fd);
}

TEST_F(cf, write_blocking_woken_by_library_recv)
{
	char buf[16];
	__u32 v;
	int fd, i;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	spawn(self, _metadata, KID_RECV_WHEN_SEND_WAITER);
	ASSERT_EQ(4, write(fd, "last", 4));
	EXPECT_EQ(0, reap(self)) TH_LOG("2: the writer was never counted in send_waiters");
	EXPECT_EQ(0U, waiters(self, false));
	for (i = 1; i < CAP; i++) {
		ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
		memcpy(&v, buf, 4);
		EXPECT_EQ((__u32)i, v);
	}
	ASSERT_EQ(4, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "last", 4));
	close(fd);
}

TEST_F(cf, write_blocked_then_destroyed)
{
	ssize_t n;
	int fd, err;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	spawn(self, _metadata, KID_DESTROY_WHEN_SEND_WAITER);
	n = write(fd, "x", 1);
	err = errno;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EIDRM, err);
	EXPECT_EQ(0, reap(self));
	EXPECT_EQ(0U, waiters(self, false));
	close(fd);
}

TEST_F(cf, write_eintr)
{
	ssize_t n;
	int fd, err;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	fill(self, _metadata);
	test_set_alarm(0, 100);
	n = write(fd, "x", 1);
	err = errno;
	test_clear_alarm();
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, err);
	EXPECT_EQ(0U, waiters(self, false));
	close(fd);
}

/* A write wakes a consumer asleep in the library. */
TEST_F(cf, write_wakes_library_recv_wait)
{
	int fd, i, status;
	pid_t pid;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, 0);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct dmxp_msg_meta m;
		char buf[16];

		alarm(10);
		dmxp_chan_set_spin(self->c, 0);
		if (dmxp_chan_recv_wait(self->c, buf, sizeof(buf), &m, DMXP_WAIT_FOREVER) != 2)
			_exit(1);
		_exit(m.sender_runtime == DMXP_RUNTIME_KERNEL ? 0 : 2);
	}
	self->kid = pid;
	for (i = 0; i < 5000 && !waiters(self, true); i++)
		test_sleep_ms(1);
	ASSERT_EQ(1U, waiters(self, true));
	test_sleep_ms(50);
	ASSERT_EQ(2, write(fd, "hi", 2));
	status = reap(self);
	EXPECT_EQ(0, status);
	close(fd);
}

/* ----------------------------------------------------------------- ioc_notify */

TEST_F(cf, notify_validation)
{
	struct dmxp_ioc_notify rq = { .id = CH, .flags = DMXP_NOTIFY_RECV, .reserved = 1 };
	int fd;

	NEED_DEV();
	EXPECT_EQ(-EINVAL, ioc_notify(self->dev, CH, 0));
	EXPECT_EQ(-EINVAL, ioc_notify(self->dev, CH, 1U << 2));
	EXPECT_EQ(-EINVAL, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV | (1U << 31)));
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMXP_IOC_NOTIFY, &rq));
	EXPECT_EQ(-EINVAL, ioc_notify(self->dev, DMXP_MAX_CHANNELS, DMXP_NOTIFY_RECV));
	EXPECT_EQ(-ENOENT, ioc_notify(self->dev, CH + 1, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_SEND));
	EXPECT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_KNOWN));
	fd = dev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENXIO, ioc_notify(fd, CH, DMXP_NOTIFY_RECV));
	close(fd);
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(-ENOENT, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
}

TEST_F(cf, notify_counts)
{
	long long n0;

	NEED_DEV();
	n0 = notifies(self);
	ASSERT_LE(0, n0);
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(n0 + 1, notifies(self));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_SEND));
	EXPECT_EQ(n0 + 2, notifies(self));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_KNOWN));
	EXPECT_EQ(n0 + 3, notifies(self));
	/* Failed requests count nothing. */
	ioc_notify(self->dev, CH, 0);
	EXPECT_EQ(n0 + 3, notifies(self));
}

/*
 * The module's own read/write cost no wake-up when nobody sleeps (a
 * sleeper in the module wakes them: poll_woken_by_write_on_other_fd).
 */
TEST_F(cf, chanfd_io_no_notify_without_sleeper)
{
	char buf[META + 16];
	long long n0;
	int fd, i;

	NEED_DEV();
	fd = ioc_chan_fd(self->dev, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, fd);
	n0 = notifies(self);
	for (i = 0; i < 1000; i++) {
		ASSERT_EQ(1, write(fd, "x", 1));
		ASSERT_EQ(META + 1, read(fd, buf, sizeof(buf)));
	}
	EXPECT_EQ(n0, notifies(self));
	close(fd);
}

/* ---------------------------------------------------------------- eventfd */

TEST_F(cf, eventfd_register_and_notify)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	EXPECT_EQ(0, ev_count(efd));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(1, ev_count(efd));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(2, ev_count(efd));
	/* Producers' wake-ups are not signalled. */
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_SEND));
	EXPECT_EQ(0, ev_count(efd));
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ev_count(efd));
	close(efd);
}

TEST_F(cf, eventfd_twice_and_unregister)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	EXPECT_EQ(-EEXIST, ioc_eventfd(self->dev, CH, efd, 0));
	/* Another fd of the same eventfd is the same eventfd. */
	EXPECT_EQ(-EEXIST, ioc_eventfd(self->dev, CH, dup(efd), 0));
	EXPECT_EQ(0, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	EXPECT_EQ(-ENOENT, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	EXPECT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	close(efd);
}

TEST_F(cf, eventfd_validation)
{
	struct dmxp_ioc_eventfd rq;
	int efd, p[2], fd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EINVAL, ioc_eventfd(self->dev, CH, p[0], 0));
	EXPECT_EQ(-EINVAL, ioc_eventfd(self->dev, CH, self->dev, 0));
	EXPECT_EQ(-EBADF, ioc_eventfd(self->dev, CH, -1, 0));
	EXPECT_EQ(-EBADF, ioc_eventfd(self->dev, CH, 100000, 0));
	EXPECT_EQ(-EINVAL, ioc_eventfd(self->dev, DMXP_MAX_CHANNELS, efd, 0));
	EXPECT_EQ(-EINVAL, ioc_eventfd(self->dev, CH, efd, 1U << 1));
	EXPECT_EQ(-ENOENT, ioc_eventfd(self->dev, CH + 1, efd, 0));
	memset(&rq, 0, sizeof(rq));
	rq.id = CH;
	rq.fd = efd;
	rq.__pad = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMXP_IOC_CHAN_EVENTFD, &rq));
	rq.__pad = 0;
	rq.reserved = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev, DMXP_IOC_CHAN_EVENTFD, &rq));
	fd = dev_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENXIO, ioc_eventfd(fd, CH, efd, 0));
	close(fd);
	close(p[0]);
	close(p[1]);
	close(efd);
}

TEST_F(cf, eventfd_max)
{
	int efds[DMXP_EVENTFD_MAX + 1], i;

	NEED_DEV();
	for (i = 0; i <= DMXP_EVENTFD_MAX; i++) {
		efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_LE(0, efds[i]);
	}
	for (i = 0; i < DMXP_EVENTFD_MAX; i++)
		ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efds[i], 0)) TH_LOG("eventfd %d", i);
	EXPECT_EQ(-ENOSPC, ioc_eventfd(self->dev, CH, efds[DMXP_EVENTFD_MAX], 0));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	for (i = 0; i < DMXP_EVENTFD_MAX; i++)
		EXPECT_EQ(1, ev_count(efds[i]));
	EXPECT_EQ(0, ev_count(efds[DMXP_EVENTFD_MAX]));
	EXPECT_EQ(0, ioc_eventfd(self->dev, CH, efds[0], DMXP_EVENTFD_UNREGISTER));
	EXPECT_EQ(0, ioc_eventfd(self->dev, CH, efds[DMXP_EVENTFD_MAX], 0));
	/* The limit is per channel. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH + 1, 2));
	EXPECT_EQ(0, ioc_eventfd(self->dev, CH + 1, efds[0], 0));
	for (i = 0; i <= DMXP_EVENTFD_MAX; i++)
		close(efds[i]);
}

/* The registration holds the eventfd: closing it first is harmless. */
TEST_F(cf, eventfd_closed_while_registered)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	close(efd);
	EXPECT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	/* The fd number is gone: it cannot name the registration any more. */
	EXPECT_EQ(-EBADF, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	/* The channel's destruction drops it. */
	EXPECT_EQ(0, dmxp_chan_destroy(self->r, CH));
}

TEST_F(cf, eventfd_dropped_with_registering_file)
{
	int efd, dev2;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	dev2 = dev_attach(self->name, NULL);
	ASSERT_LE(0, dev2);
	ASSERT_EQ(0, ioc_eventfd(dev2, CH, efd, 0));
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));	/* per file */
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(2, ev_count(efd));
	close(dev2);
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(1, ev_count(efd));
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ev_count(efd));
	close(efd);
}

TEST_F(cf, eventfd_destroy_signals_and_drops)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, CH));
	EXPECT_EQ(1, ev_count(efd));
	EXPECT_EQ(-ENOENT, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
	EXPECT_EQ(0, ev_count(efd));
	EXPECT_EQ(-ENOENT, ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER));
	close(efd);
}

TEST_F(cf, eventfd_region_destroy_signals)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	ASSERT_EQ(0, dmxp_region_unlink(self->path));
	EXPECT_EQ(1, ev_count(efd));
	EXPECT_EQ(-EIDRM, ioc_eventfd(self->dev, CH, efd, 0));
	close(efd);
}

/* Armed through the library, a library send signals the eventfd. */
TEST_F(cf, eventfd_library_send)
{
	int efd;

	NEED_DEV();
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, ioc_eventfd(self->dev, CH, efd, 0));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "a", 1, 0));
	EXPECT_EQ(0, ev_count(efd));	/* nobody armed */
	ASSERT_EQ(1, dmxp_chan_arm(self->c, DMXP_ARM_RECV));	/* not empty */
	ASSERT_EQ(1, dmxp_chan_recv(self->c, (char[8]){ 0 }, 8, NULL));
	ASSERT_EQ(0, dmxp_chan_arm(self->c, DMXP_ARM_RECV));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "b", 1, 0));
	EXPECT_EQ(1, ev_count(efd));
	dmxp_chan_disarm(self->c, DMXP_ARM_RECV);
	close(efd);
}

/* ------------------------------------------------------------------ races */

struct racer {
	FIXTURE_DATA(cf) *self;
	long long until;
	int kind;
	unsigned long ops, bad;
	int last_bad;
};

static void *race_thread(void *arg)
{
	struct racer *rc = arg;
	FIXTURE_DATA(cf) *self = rc->self;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), dev = -1, ret;

	while (test_now_ns() < rc->until) {
		switch (rc->kind) {
		case 0:		/* register, unregister */
			ret = ioc_eventfd(self->dev, CH, efd, 0);
			if (ret && ret != -ENOENT && ret != -ENOSPC)
				goto bad;
			ret = ioc_eventfd(self->dev, CH, efd, DMXP_EVENTFD_UNREGISTER);
			if (ret && ret != -ENOENT)
				goto bad;
			break;
		case 1:		/* ioc_notify, drain */
			ret = ioc_notify(self->dev, CH, rc->ops & 1 ? DMXP_NOTIFY_RECV :
								  DMXP_NOTIFY_KNOWN);
			if (ret && ret != -ENOENT)
				goto bad;
			break;
		case 2:		/* register, close the eventfd, open another */
			ret = ioc_eventfd(self->dev, CH, efd, 0);
			if (ret && ret != -ENOENT && ret != -ENOSPC)
				goto bad;
			close(efd);
			efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			break;
		case 3:		/* a file of its own, registering, then closed */
			dev = dev_attach(self->name, NULL);
			if (dev < 0) {
				ret = dev;
				goto bad;
			}
			ret = ioc_eventfd(dev, CH, efd, 0);
			if (ret && ret != -ENOENT && ret != -ENOSPC)
				goto bad;
			if (rc->ops & 1)
				ioc_notify(dev, CH, DMXP_NOTIFY_RECV);
			close(dev);
			break;
		case 4:		/* destroy and re-create the channel */
			ret = dmxp_chan_destroy(self->r, CH);
			if (ret)
				goto bad;
			ret = dmxp_chan_create(self->r, CH, CAP);
			if (ret)
				goto bad;
			break;
		}
		rc->ops++;
		continue;
bad:
		rc->bad++;
		rc->last_bad = ret;
	}
	close(efd);
	return NULL;
}

TEST_F_TIMEOUT(cf, eventfd_race, 60)
{
	struct racer rc[5];
	pthread_t t[5];
	int i;

	NEED_DEV();
	for (i = 0; i < 5; i++) {
		rc[i] = (struct racer){ .self = self, .kind = i,
					.until = test_now_ns() + 3000 * MS };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, race_thread, &rc[i]));
	}
	for (i = 0; i < 5; i++) {
		pthread_join(t[i], NULL);
		TH_LOG("racer %d: %lu operations", i, rc[i].ops);
		EXPECT_EQ(0UL, rc[i].bad) TH_LOG("racer %d: last error %d", i, rc[i].last_bad);
		EXPECT_LT(0UL, rc[i].ops);
	}
	/* Still sane afterwards. */
	ASSERT_EQ(0, ioc_notify(self->dev, CH, DMXP_NOTIFY_RECV));
}

/*
 * Writers hammer non-blocking write() on channel A while the main thread
 * destroys A and creates B in the same band: a write() in flight must
 * never land in B.  The destroy waits for the module's claims in flight.
 */
struct hammer {
	int *fdp;
	bool *stop;
	unsigned long writes;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	while (!__atomic_load_n(h->stop, __ATOMIC_RELAXED)) {
		int fd = __atomic_load_n(h->fdp, __ATOMIC_ACQUIRE);

		if (fd >= 0 && write(fd, "late", 4) == 4)
			h->writes++;
	}
	return NULL;
}

static int chan_ioc(int dev, unsigned long cmd, __u32 id, __u64 cap, __u64 *band)
{
	struct dmxp_ioc_chan c = { .id = id, .capacity = cap };
	int ret = xioctl(dev, cmd, &c);

	if (band)
		*band = c.band_offset;
	return ret;
}

/* Channel @id's band holds a fresh ring: every slot as creation left it. */
static bool band_fresh(FIXTURE_DATA(cf) *self, __u32 id, __u64 cap)
{
	__u64 i;

	if (__atomic_load_n(&raw_entry(self, id)->tail, __ATOMIC_SEQ_CST))
		return false;
	for (i = 0; i < cap; i++) {
		struct dmxp_slot *s = raw_slot(self, id, i);

		if (__atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE) != i ||
		    s->meta.sender_runtime || s->meta.payload_len)
			return false;
	}
	return true;
}

TEST_F_TIMEOUT(cf, destroy_waits_for_write_in_flight, 90)
{
	const __u32 A = CH + 1, B = CH + 2;
	const __u64 cap = 64;
	/* A checked kernel: a quarter of the time (what its checkers see). */
	long long end = test_now_ns() + 20000 * MS / test_time_scale();
	unsigned long rounds, bad = 0, writes = 0;
	struct hammer h[2];
	pthread_t t[2];
	bool stop = false;
	int cur = -1, i;

	NEED_DEV();
	for (i = 0; i < 2; i++) {
		h[i] = (struct hammer){ .fdp = &cur, .stop = &stop };
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer_thread, &h[i]));
	}
	for (rounds = 0; rounds < 100000 && test_now_ns() < end; rounds++) {
		__u64 band_a, band_b;
		int fd, spin, old;

		ASSERT_EQ(0, chan_ioc(self->dev, DMXP_IOC_CHAN_CREATE, A, cap, &band_a));
		fd = ioc_chan_fd(self->dev, A, DMXP_CHAN_FD_NONBLOCK);
		ASSERT_LE(0, fd);
		__atomic_store_n(&cur, fd, __ATOMIC_RELEASE);
		/* Destroy while the writers are at it. */
		for (spin = 0; spin < 100000; spin++)
			if (__atomic_load_n(&raw_entry(self, A)->tail, __ATOMIC_RELAXED))
				break;
		ASSERT_EQ(0, chan_ioc(self->dev, DMXP_IOC_CHAN_DESTROY, A, 0, NULL));
		ASSERT_EQ(0, chan_ioc(self->dev, DMXP_IOC_CHAN_CREATE, B, cap, &band_b));
		ASSERT_EQ(band_a, band_b) TH_LOG("B is not in A's band");
		/* Let a write still in flight (with the bug) finish. */
		sched_yield();
		if (!band_fresh(self, B, cap)) {
			bad++;
			TH_LOG("round %lu: a write to A landed in B", rounds);
		}
		ASSERT_EQ(0, chan_ioc(self->dev, DMXP_IOC_CHAN_DESTROY, B, 0, NULL));
		old = __atomic_exchange_n(&cur, -1, __ATOMIC_ACQ_REL);
		close(old);
	}
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		writes += h[i].writes;
	}
	TH_LOG("%lu rounds, %lu writes, %lu landed in B", rounds, writes, bad);
	EXPECT_LT(0UL, writes);
	EXPECT_EQ(0UL, bad);
}

TEST_HARNESS_MAIN
