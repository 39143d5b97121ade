// SPDX-License-Identifier: MIT
/*
 * uring_read: io_uring pattern 2, asynchronous reads of the channel fd.
 *
 *	uring_read REGION CH COUNT
 *
 * Up to NREADS IORING_OP_READ requests are in flight on a blocking channel
 * fd; each completes with one message, which the kernel copied into the
 * request's buffer as a struct dmxp_msg_meta followed by the payload, and
 * is submitted again.
 *
 * The fd comes from DMXP_IOC_CHAN_FD with flags 0 on our own /dev/dmxp
 * file: dmxp_chan_fd() opens it O_NONBLOCK, and io_uring completes a read
 * on an O_NONBLOCK file with -EAGAIN when the ring is empty.
 *
 * The consumer stays armed (dmxp_chan_arm()) while its reads are in
 * flight.  io_uring first tries each read without blocking (the channel
 * fd supports IOCB_NOWAIT); on an empty ring it parks the request in its
 * own poll on the channel's wait queue and retries when woken.  A parked
 * request is not a sleeper the module can count in recv_waiters, so
 * without the arm no producer would wake it.  When dmxp_chan_arm()
 * reports a message already waiting, DMXP_IOC_NOTIFY wakes our parked
 * reads so that they take it.
 *
 * A second without a completion while a message visibly waits would be a
 * lost wake-up: the program then fails rather than hide it.
 *
 * Reads in flight together complete in any order: the messages are put
 * back in ring order by their message_id before the counters are checked.
 *
 * REGION must be a kernel region (/dev/dmxp or /dev/dmxp:NAME).  The
 * messages must carry a counter from one producer, as decimal text or an
 * 8-byte little-endian integer, increasing by one.  Prints one summary
 * line; exit status 0 when COUNT messages arrived in order, 1 on an
 * error, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <liburing.h>

#include "dmxp.h"

#define NREADS	16	/* reads in flight */
#define MSG_MAX	(sizeof(struct dmxp_msg_meta) + DMXP_MAX_PAYLOAD)

static const char *prog = "uring_read";

#include "example.h"

struct rec {
	unsigned long long	id;	/* message_id: the position in the ring */
	unsigned long long	counter;
};

static int rec_cmp(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * A /dev/dmxp file attached to the region of @path (the library keeps
 * its own to itself): the handshake, then DMXP_IOC_REGION_ATTACH.
 */
/* Wake the channel's consumers: our reads parked in io_uring's poll. */
static void kick(int devfd, unsigned int ch)
{
	struct dmxp_ioc_notify n = { .id = ch, .flags = DMXP_NOTIFY_RECV };

	if (ioctl(devfd, DMXP_IOC_NOTIFY, &n))
		die("DMXP_IOC_NOTIFY: %s", strerror(errno));
}

static void submit_read(struct io_uring *ring, int fd, unsigned char *buf,
			unsigned int slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		die("no free submission queue entry");
	io_uring_prep_read(sqe, fd, buf, MSG_MAX, 0);
	io_uring_sqe_set_data64(sqe, slot);
}

int main(int argc, char **argv)
{
	static unsigned char bufs[NREADS][MSG_MAX] __attribute__((aligned(64)));
	unsigned long long count, got = 0, cqes = 0, kicks = 0, late = 0, max_id = 0, k;
	struct __kernel_timespec stall_ts = { .tv_sec = 1 };
	unsigned int ch, inflight = 0, free_slots[NREADS], nfree = NREADS, i;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct io_uring ring;
	bool armed = false;
	struct rec *recs;
	int devfd, fd, pollfd, ret;

	if (argc != 4) {
		fprintf(stderr, "usage: %s REGION CH COUNT\n", prog);
		return 2;
	}
	ch = (unsigned int)parse_num("channel", argv[2], DMXP_MAX_CHANNELS - 1);
	count = parse_num("count", argv[3], ~0ULL / sizeof(*recs));

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
		die("%s is not a kernel region: channel fds need /dev/dmxp or /dev/dmxp:NAME",
		    argv[1]);
	if (ret < 0)
		die("channel %u fd: %s", ch, strerror(-ret));
	pollfd = ret;	/* non-blocking: to look without taking */

	/* A blocking channel fd of our own. */
	devfd = dev_attach(argv[1]);
	{
		struct dmxp_ioc_chan_fd rq = { .id = ch, .flags = 0 };

		fd = ioctl(devfd, DMXP_IOC_CHAN_FD, &rq);
		if (fd < 0)
			die("DMXP_IOC_CHAN_FD: %s", strerror(errno));
	}
	recs = calloc(count ? count : 1, sizeof(*recs));
	if (!recs)
		die("no memory for %llu messages", count);
	ret = io_uring_queue_init(2 * NREADS, &ring, 0);
	if (ret)
		die("io_uring_queue_init: %s", strerror(-ret));
	for (i = 0; i < NREADS; i++)
		free_slots[i] = i;

	while (got < count) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		/* Keep reads in flight, never more than messages still wanted. */
		while (nfree && got + inflight < count) {
			unsigned int slot = free_slots[--nfree];

			submit_read(&ring, fd, bufs[slot], slot);
			inflight++;
		}
		ret = io_uring_submit(&ring);
		if (ret < 0)
			die("io_uring_submit: %s", strerror(-ret));
		if (!armed) {
			ret = dmxp_chan_arm(c, DMXP_ARM_RECV);
			if (ret < 0)
				die("arm: %s", strerror(-ret));
			if (ret == 0) {
				armed = true;
			} else {
				/* A message waits: wake our reads parked in io_uring's poll. */
				kick(devfd, ch);
				kicks++;
			}
		}
		do
			ret = io_uring_wait_cqe_timeout(&ring, &cqe, &stall_ts);
		while (ret == -EINTR);
		if (ret == -ETIME) {
			/* Nothing for a second: fine, unless a message waits. */
			struct pollfd pfd = { .fd = pollfd, .events = POLLIN };

			if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN))
				die("lost wake-up: a message waits, no read completed for 1 s");
			continue;
		}
		if (ret)
			die("io_uring_wait_cqe: %s", strerror(-ret));
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned int slot = (unsigned int)io_uring_cqe_get_data64(cqe);
			const struct dmxp_msg_meta *m = (const void *)bufs[slot];
			size_t len;

			seen++;
			if (cqe->res == -EIDRM)
				die("channel %u was destroyed", ch);
			if (cqe->res < 0)
				die("read: %s", strerror(-cqe->res));
			if ((size_t)cqe->res < sizeof(*m) ||
			    (size_t)cqe->res != sizeof(*m) + m->payload_len)
				die("read returned %d bytes for a %u-byte payload",
				    cqe->res, m->payload_len);
			len = m->payload_len;
			if (!msg_counter(bufs[slot] + sizeof(*m), len, &recs[got].counter))
				die("message id %llu: %zu bytes, not a counter",
				    (unsigned long long)m->message_id, len);
			recs[got].id = m->message_id;
			if (got && m->message_id < max_id)
				late++;		/* completed after a later message */
			if (!got || m->message_id > max_id)
				max_id = m->message_id;
			got++;
			inflight--;
			free_slots[nfree++] = slot;
		}
		io_uring_cq_advance(&ring, seen);
		cqes += seen;
	}
	if (armed)
		dmxp_chan_disarm(c, DMXP_ARM_RECV);

	/* Back in ring order, the counters must increase by one. */
	qsort(recs, count, sizeof(*recs), rec_cmp);
	for (k = 1; k < count; k++) {
		if (recs[k].counter != recs[k - 1].counter + 1)
			die("message %llu: counter %llu after %llu: lost, duplicated or out of order",
			    k + 1, recs[k].counter, recs[k - 1].counter);
	}
	printf("%s: received %llu messages in order, counter %llu..%llu, %llu completions, %llu out of ring order, %llu kicks\n",
	       prog, got, count ? recs[0].counter : 0, count ? recs[count - 1].counter : 0,
	       cqes, late, kicks);
	io_uring_queue_exit(&ring);
	free(recs);
	close(fd);
	close(devfd);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
