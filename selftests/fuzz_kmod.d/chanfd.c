// SPDX-License-Identifier: MIT
/*
 * Steps on channel fds: read, write, blocking calls a timer interrupts,
 * poll, O_NONBLOCK, close, eventfd registrations and epoll.
 */
#include "fuzz_kmod.h"

/* Now and then a buffer that is not there: NULL or a kernel address. */
static void bad_buffer(void **p, size_t *n)
{
	if (pct(3)) {
		*p = pct(50) ? NULL : (void *)(uintptr_t)0xffff888000000000ULL;
		*n = *n ? *n : 1;
	}
}

/*
 * How to read or write: 0 read()/write(), 1 readv()/writev(), 2
 * preadv2()/pwritev2() with RWF_NOWAIT (the only one of a blocking fd),
 * 3 pread()/pwrite() (ESPIPE).
 */
static int pick_how(const struct mchfd *c)
{
	int how = c->nonblock ? (int)below(3) : 2;

	if (pct(3))
		how = 3;
	return how;
}

/* The read (@wr false) or write of op_chan_read() or op_chan_write(), logged. */
static long chan_io(const struct mchfd *c, bool wr, int how, void *p, size_t n, bool alive)
{
	static const char *const names[2][4] = {
		{ "read", "readv", "preadv2 RWF_NOWAIT", "pread" },
		{ "write", "writev", "pwritev2 RWF_NOWAIT", "pwrite" },
	};
	struct iovec iov = { .iov_base = p, .iov_len = n };
	long ret;

	call("%s(%d chan %u%s%s, %p, %zu)", names[wr][how], c->fd, chan_ids[c->ch],
	     alive ? "" : " dead", c->poll_only ? " poll-only" : "", p, n);
	switch (how) {
	case 0:
		ret = wr ? write(c->fd, p, n) : read(c->fd, p, n);
		break;
	case 1:
		ret = wr ? writev(c->fd, &iov, 1) : readv(c->fd, &iov, 1);
		break;
	case 2:
		ret = wr ? pwritev2(c->fd, &iov, 1, -1, RWF_NOWAIT) :
			   preadv2(c->fd, &iov, 1, -1, RWF_NOWAIT);
		break;
	default:
		ret = wr ? pwrite(c->fd, p, n, 0) : pread(c->fd, p, n, 0);
		break;
	}
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	return ret;
}

bool op_chan_read(void)
{
	static unsigned char buf[2 * MSG_MAX];
	int i = pick_chfd(), how;
	struct mchfd *c;
	bool alive;
	size_t n;
	void *p = buf;
	struct expect e;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	switch (below(10)) {
	case 0:
		n = below(META);
		break;
	case 1:
		n = META + below(DMXP_MAX_PAYLOAD + 1);
		break;
	case 2:
		n = sizeof(buf);
		break;
	default:
		n = MSG_MAX;
		break;
	}
	bad_buffer(&p, &n);
	how = pick_how(c);
	ex_reset(&e);
	if (how == 3) {
		ex_add(&e, ESPIPE, YES);
	} else if (c->poll_only) {
		/* Not open for reading: before the buffer, except in readv's import. */
		ex_add(&e, EBADF, YES);
		ex_add(&e, EFAULT, p != buf ? MAYBE : NO);
	} else if (p && p != buf) {
		ex_add(&e, EFAULT, YES);
	} else if (n == 0 && how) {
		/* readv() and preadv2() of nothing return 0 without a call. */
	} else if (n < META) {
		ex_add(&e, EMSGSIZE, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EAGAIN, g.is_wild || alive ? MAYBE : NO);
		ex_add(&e, EMSGSIZE, (g.is_wild || alive) && n < MSG_MAX ? MAYBE : NO);
		ex_add(&e, EFAULT, p ? NO : MAYBE);
		ex_add(&e, ENOMEM, MAYBE);
	}
	ret = chan_io(c, false, how, p, n, alive);
	verdict(&e, ret);
	if (ret >= 0 && n) {
		struct dmxp_msg_meta m;

		if (ret < (long)META || (size_t)ret > n || (size_t)ret > MSG_MAX)
			fail("read returned %ld for a buffer of %zu", ret, n);
		memcpy(&m, buf, sizeof(m));
		if (m.payload_len != ret - META)
			fail("read returned %ld bytes, payload_len %u", ret, m.payload_len);
	}
	return true;
}

bool op_chan_write(void)
{
	static unsigned char buf[2 * DMXP_MAX_PAYLOAD];
	int i = pick_chfd(), how;
	struct mchfd *c;
	bool alive;
	size_t n;
	void *p = buf;
	struct expect e;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	n = pct(90) ? below(DMXP_MAX_PAYLOAD + 1) : DMXP_MAX_PAYLOAD + 1 + below(DMXP_MAX_PAYLOAD);
	bad_buffer(&p, &n);
	memset(buf, (int)rnd(), n > sizeof(buf) ? sizeof(buf) : n);
	how = pick_how(c);
	ex_reset(&e);
	if (how == 3) {
		ex_add(&e, ESPIPE, YES);
	} else if (c->poll_only) {
		/* Not open for writing: before the buffer, except in writev's import. */
		ex_add(&e, EBADF, YES);
		ex_add(&e, EFAULT, p != buf ? MAYBE : NO);
	} else if (p != buf) {
		ex_add(&e, EFAULT, YES);
		ex_add(&e, EMSGSIZE, n > DMXP_MAX_PAYLOAD ? MAYBE : NO);
	} else if (n == 0 && how) {
		/* writev() and pwritev2() of nothing return 0 without a call. */
	} else if (n > DMXP_MAX_PAYLOAD) {
		ex_add(&e, EMSGSIZE, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EAGAIN, g.is_wild || alive ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
	}
	ret = chan_io(c, true, how, p, n, alive);
	verdict(&e, ret);
	if (ret >= 0 && (size_t)ret != n)
		fail("write of %zu bytes returned %ld", n, ret);
	return true;
}

static void on_tick(int sig)
{
}

/*
 * A blocking read() or write() that a timer interrupts: it sleeps in the
 * module until a message (a free slot) comes, the channel goes away, or
 * the next tick (EINTR).
 */
bool op_chan_block(void)
{
	static unsigned char buf[MSG_MAX];
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].nonblock);
	struct itimerval tick = { .it_interval = { .tv_usec = 20000 } }, off = { 0 };
	struct sigaction sa = { .sa_handler = on_tick }, old;
	struct mchfd *c;
	bool wr = pct(40), alive;
	struct expect e;
	size_t n;
	long ret;

	if (i < 0)
		return false;
	c = &g.chfd[i];
	alive = chan_alive(c);
	n = wr ? below(DMXP_MAX_PAYLOAD + 1) : MSG_MAX;
	tick.it_value.tv_usec = 1000 + (long)below(30000);
	ex_reset(&e);
	if (c->poll_only) {
		ex_add(&e, EBADF, YES);
	} else {
		ex_add(&e, EIDRM, st(!alive));
		ex_add(&e, EINTR, g.is_wild || alive ? MAYBE : NO);
		/* Only a wild child: the parent may have set O_NONBLOCK on the file. */
		ex_add(&e, EAGAIN, g.is_wild ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
	}
	call("%s(%d chan %u%s%s, %zu) with a %ld us tick", wr ? "write" : "read", c->fd,
	     chan_ids[c->ch], alive ? "" : " dead", c->poll_only ? " poll-only" : "", n,
	     (long)tick.it_value.tv_usec);
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &tick, NULL);
	ret = wr ? write(c->fd, buf, n) : read(c->fd, buf, n);
	ret = ret < 0 ? -errno : ret;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	arm(g.op_timeout);
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0 && (wr ? (size_t)ret != n : (ret < (long)META || ret > (long)MSG_MAX)))
		fail("%s returned %ld", wr ? "write" : "read", ret);
	return true;
}

bool op_poll(void)
{
	struct pollfd pfd[4];
	int kinds[4], idx[4], n = 1 + (int)below(4), k, ret;
	char desc[160];
	size_t dn = 0;

	for (k = 0; k < n; k++) {
		kinds[k] = pct(60) ? K_CHAN : -1;
		pfd[k].fd = pick_any_fd(&kinds[k]);
		pfd[k].events = POLLIN | POLLOUT;
		pfd[k].revents = 0;
		idx[k] = kinds[k] == K_CHAN ? PICK(MAX_CHFDS, g.chfd[__i].fd == pfd[k].fd) : -1;
		dn += snprintf(desc + dn, sizeof(desc) - dn, "%s%d", k ? "," : "", pfd[k].fd);
	}
	call("poll({%s}, 0)", desc);
	ret = poll(pfd, n, 0);
	result_ret(ret < 0 ? -errno : ret);
	if (ret < 0)
		fail("poll: %s", strerror(errno));
	for (k = 0; k < n; k++) {
		short r = pfd[k].revents;

		if (r & POLLNVAL)
			fail("poll: fd %d is not open", pfd[k].fd);
		if (kinds[k] == K_DEV && r != (POLLIN | POLLOUT))
			fail("poll on /dev/dmxp fd %d: revents %#x", pfd[k].fd, r);
		if (kinds[k] != K_CHAN || g.is_wild)
			continue;
		if (!chan_alive(&g.chfd[idx[k]])) {
			if ((r & (POLLERR | POLLHUP)) != (POLLERR | POLLHUP) || r & (POLLIN | POLLOUT))
				fail("poll on the channel fd %d of a destroyed channel: revents %#x",
				     pfd[k].fd, r);
		} else if (r & ~(POLLIN | POLLOUT)) {
			fail("poll on the channel fd %d: revents %#x", pfd[k].fd, r);
		}
	}
	return true;
}

bool op_fcntl_nonblock(void)
{
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].inherited), fl;

	if (i < 0)
		return false;
	fl = fcntl(g.chfd[i].fd, F_GETFL);
	call("fcntl(%d, F_SETFL, %s)", g.chfd[i].fd, g.chfd[i].nonblock ? "0" : "O_NONBLOCK");
	if (fl < 0 || fcntl(g.chfd[i].fd, F_SETFL, fl ^ O_NONBLOCK) < 0)
		fail("fcntl: %s", strerror(errno));
	result("0");
	g.chfd[i].nonblock = !g.chfd[i].nonblock;
	return true;
}

bool op_close_chfd(void)
{
	int i = pick_chfd(), ret;

	if (i < 0)
		return false;
	call("close(%d chan %u)", g.chfd[i].fd, chan_ids[g.chfd[i].ch]);
	ret = close(g.chfd[i].fd);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("close: %s", strerror(errno));
	g.chfd[i].fd = -1;
	gc();
	return true;
}

bool op_eventfds(void)
{
	int i = pick_evfd(), ret;
	__u64 v;

	if (i < 0 || pct(30)) {
		evfd_new();
		return true;
	}
	if (pct(30)) {
		call("close(%d eventfd)", g.evfd[i].fd);
		ret = close(g.evfd[i].fd);
		result_ret(ret ? -errno : 0);
		g.evfd[i].fd = -1;
		return true;
	}
	call("read(%d eventfd)", g.evfd[i].fd);
	ret = (int)read(g.evfd[i].fd, &v, sizeof(v));
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	if (ret != sizeof(v) && ret != -EAGAIN)
		fail("read of an eventfd: %d", ret);
	return true;
}

bool op_epoll(void)
{
	int i = pick_chfd(), ret;
	struct epoll_event ev[8];
	struct expect e;

	ex_reset(&e);
	if (i < 0 || g.in_child || pct(30)) {
		call("epoll_wait(%d, 8, 0)", g.epfd);
		ret = epoll_wait(g.epfd, ev, 8, 0);
		result_ret(ret < 0 ? -errno : ret);
		if (ret < 0)
			fail("epoll_wait: %s", strerror(errno));
		return true;
	}
	ev[0].events = EPOLLIN | EPOLLOUT;
	ev[0].data.fd = g.chfd[i].fd;
	if (pct(60)) {
		ex_add(&e, EEXIST, tri_of(g.chfd[i].in_epoll));
		call("epoll_ctl(%d, ADD, %d)", g.epfd, g.chfd[i].fd);
		ret = epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.chfd[i].fd, ev) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		g.chfd[i].in_epoll = true;
	} else {
		ex_add(&e, ENOENT, tri_of(!g.chfd[i].in_epoll));
		call("epoll_ctl(%d, DEL, %d)", g.epfd, g.chfd[i].fd);
		ret = epoll_ctl(g.epfd, EPOLL_CTL_DEL, g.chfd[i].fd, ev) ? -errno : 0;
		result_ret(ret);
		verdict(&e, ret);
		g.chfd[i].in_epoll = false;
	}
	return true;
}
