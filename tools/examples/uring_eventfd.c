// SPDX-License-Identifier: MIT
/*
 * uring_eventfd: io_uring pattern 3, an eventfd as the wake-up hint.
 *
 *	uring_eventfd REGION CH COUNT
 *
 * An eventfd is registered on the channel (DMXP_IOC_CHAN_EVENTFD, on a
 * /dev/dmxp file of our own attached to the region: the registration
 * lasts as long as that file).  The module signals it at every consumer
 * wake-up; one IORING_OP_READ of the eventfd is kept in flight, and each
 * completion only means "look again": the channel is drained with
 * dmxp_chan_recv().  Producers notify only while a consumer is armed, so
 * the loop is the one of include/dmxp.h:
 *
 *	drain; arm (1: a message came, drain again); wait for the eventfd
 *	read to complete; disarm
 *
 * A completion may be stale (a signal from an earlier wake-up, or one
 * meant for another consumer of the channel): the next drain finds
 * nothing and the loop goes round again.  The same eventfd can be read
 * by any event loop (epoll, libuv, ...), which is the point of this
 * pattern.
 *
 * REGION must be a kernel region (/dev/dmxp or /dev/dmxp:NAME).  The
 * messages must carry a counter from one producer, as decimal text or an
 * 8-byte little-endian integer, increasing by one.  Prints one summary
 * line; exit status 0 when COUNT messages arrived in order, 1 on an
 * error, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <liburing.h>

#include "dmxp.h"

static const char *prog = "uring_eventfd";

#include "example.h"

/* Receive every waiting message, up to @want.  Returns how many. */
static unsigned long long drain(struct dmxp_chan *c, struct order *o,
				unsigned long long want)
{
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta meta;
	unsigned long long n = 0;
	ssize_t len;

	while (n < want) {
		len = dmxp_chan_recv(c, buf, sizeof(buf), &meta);
		if (len == -EAGAIN)
			break;
		if (len < 0)
			die("receive: %s", strerror((int)-len));
		check_msg(o, &meta, buf, (size_t)len);
		n++;
	}
	return n;
}

static void submit_efd_read(struct io_uring *ring, int efd, __u64 *val)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int ret;

	if (!sqe)
		die("no free submission queue entry");
	io_uring_prep_read(sqe, efd, val, sizeof(*val), 0);
	ret = io_uring_submit(ring);
	if (ret < 0)
		die("io_uring_submit: %s", strerror(-ret));
}

int main(int argc, char **argv)
{
	unsigned long long count, cqes = 0, signals = 0;
	struct order o = { 0 };
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct io_uring ring;
	bool reading = false;
	unsigned int ch;
	int devfd, efd, ret;
	__u64 val;

	if (argc != 4) {
		fprintf(stderr, "usage: %s REGION CH COUNT\n", prog);
		return 2;
	}
	ch = (unsigned int)parse_num("channel", argv[2], DMXP_MAX_CHANNELS - 1);
	count = parse_num("count", argv[3], ~0ULL);

	ret = dmxp_region_open(argv[1], 0, 0, &r);
	if (ret == -ENODEV)
		die("%s: the dmxp module is not loaded", argv[1]);
	if (ret)
		die("%s: %s", argv[1], strerror(-ret));
	ret = dmxp_chan_open(r, ch, &c);
	if (ret)
		die("channel %u: %s", ch, strerror(-ret));
	ret = dmxp_chan_fd(c);
	if (ret == -EOPNOTSUPP)
		die("%s is not a kernel region: channel eventfds need /dev/dmxp or /dev/dmxp:NAME",
		    argv[1]);
	if (ret < 0)
		die("channel %u fd: %s", ch, strerror(-ret));

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		die("eventfd: %s", strerror(errno));
	devfd = dev_attach(argv[1]);
	{
		struct dmxp_ioc_eventfd rq = { .id = ch, .fd = efd };

		if (ioctl(devfd, DMXP_IOC_CHAN_EVENTFD, &rq))
			die("DMXP_IOC_CHAN_EVENTFD: %s", strerror(errno));
	}
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		die("io_uring_queue_init: %s", strerror(-ret));

	for (;;) {
		struct io_uring_cqe *cqe;

		if (o.n < count)
			drain(c, &o, count - o.n);
		if (o.n == count)
			break;
		if (!reading) {
			submit_efd_read(&ring, efd, &val);
			reading = true;
		}
		ret = dmxp_chan_arm(c, DMXP_ARM_RECV);
		if (ret < 0)
			die("arm: %s", strerror(-ret));
		if (ret > 0)
			continue;	/* a message came meanwhile */
		do
			ret = io_uring_wait_cqe(&ring, &cqe);
		while (ret == -EINTR);
		dmxp_chan_disarm(c, DMXP_ARM_RECV);
		if (ret)
			die("io_uring_wait_cqe: %s", strerror(-ret));
		if (cqe->res != sizeof(val))
			die("eventfd read: %s", cqe->res < 0 ? strerror(-cqe->res) : "short read");
		io_uring_cqe_seen(&ring, cqe);
		reading = false;
		cqes++;
		signals += val;
	}

	{
		struct dmxp_ioc_eventfd rq = {
			.id = ch, .fd = efd, .flags = DMXP_EVENTFD_UNREGISTER
		};

		if (ioctl(devfd, DMXP_IOC_CHAN_EVENTFD, &rq))
			die("unregister the eventfd: %s", strerror(errno));
	}
	printf("%s: received %llu messages in order, counter %llu..%llu, %llu completions, %llu signals\n",
	       prog, o.n, o.n ? o.first : 0, o.n ? o.last : 0, cqes, signals);
	io_uring_queue_exit(&ring);
	close(devfd);
	close(efd);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
