// SPDX-License-Identifier: MIT
/*
 * uring_poll: io_uring pattern 1, a multishot poll on the channel fd.
 *
 *	uring_poll REGION CH COUNT
 *
 * io_uring only tells us when the channel becomes readable; the messages
 * are taken in user space, zero-copy, with dmxp_chan_peek() and
 * dmxp_chan_release().  Producers make a system call only while a
 * consumer is armed, so the loop is the one of include/dmxp.h:
 *
 *	drain; arm (1: a message came, drain again); wait for a CQE; disarm
 *
 * The multishot poll stays queued across the loop and posts one CQE per
 * wake-up; it is submitted again when a CQE comes without
 * IORING_CQE_F_MORE (the kernel ended it, e.g. its CQ ring overflowed).
 *
 * REGION must be a kernel region (/dev/dmxp or /dev/dmxp:NAME).  The
 * messages must carry a counter from one producer, as decimal text or an
 * 8-byte little-endian integer, increasing by one.  Prints one summary
 * line; exit status 0 when COUNT messages arrived in order, 1 on an
 * error, 2 on bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "dmxp.h"

static const char *prog = "uring_poll";

#include "example.h"

/* Take every waiting message, up to @want, in place.  Returns how many. */
static unsigned long long drain(struct dmxp_chan *c, struct order *o,
				unsigned long long want)
{
	unsigned long long n = 0;
	struct dmxp_ref ref;
	int ret;

	while (n < want) {
		ret = dmxp_chan_peek(c, &ref);
		if (ret == -EAGAIN)
			break;
		if (ret)
			die("receive: %s", strerror(-ret));
		check_msg(o, ref.meta, ref.payload, ref.len);
		dmxp_chan_release(c, &ref);
		n++;
	}
	return n;
}

static void submit_poll(struct io_uring *ring, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	int ret;

	if (!sqe)
		die("no free submission queue entry");
	io_uring_prep_poll_multishot(sqe, fd, POLLIN);
	ret = io_uring_submit(ring);
	if (ret < 0)
		die("io_uring_submit: %s", strerror(-ret));
}

int main(int argc, char **argv)
{
	unsigned long long count, cqes = 0, polls = 0;
	struct order o = { 0 };
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct io_uring ring;
	bool polling = false;
	unsigned int ch;
	int fd, ret;

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
	fd = dmxp_chan_fd(c);
	if (fd == -EOPNOTSUPP)
		die("%s is not a kernel region: channel fds need /dev/dmxp or /dev/dmxp:NAME",
		    argv[1]);
	if (fd < 0)
		die("channel %u fd: %s", ch, strerror(-fd));
	ret = io_uring_queue_init(8, &ring, 0);
	if (ret)
		die("io_uring_queue_init: %s", strerror(-ret));

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		if (o.n < count)
			drain(c, &o, count - o.n);
		if (o.n == count)
			break;
		if (!polling) {
			submit_poll(&ring, fd);
			polling = true;
			polls++;
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
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			if (cqe->res < 0)
				die("poll: %s", strerror(-cqe->res));
			if (cqe->res & (POLLERR | POLLHUP))
				die("channel %u was destroyed", ch);
			if (!(cqe->flags & IORING_CQE_F_MORE))
				polling = false;	/* ended: submit it again */
		}
		io_uring_cq_advance(&ring, seen);
		cqes += seen;
	}

	printf("%s: received %llu messages in order, counter %llu..%llu, %llu completions, %llu poll submissions\n",
	       prog, o.n, o.n ? o.first : 0, o.n ? o.last : 0, cqes, polls);
	io_uring_queue_exit(&ring);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
