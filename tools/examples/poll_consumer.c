/*
 * poll_consumer: like consumer, but it waits in poll() on the channel's
 * file descriptor, as a program with its own event loop (poll, epoll,
 * io_uring) does.  Kernel regions only: DMXP_REGION=/dev/dmxp or
 * /dev/dmxp:NAME (region files have no channel fd; consumer waits on
 * both).  Producers make a system call to wake a consumer only while it
 * is armed, so each wait is: drain, arm (1: a message came, drain
 * again), poll, disarm.  Documentation/BUILDING_CONSUMERS.md, section 3.
 *
 *	poll_consumer [CH [COUNT]]	(default: channel 1, 10 messages)
 */
#include <poll.h>

static const char prog[] = "poll_consumer";
#include "channel.h"

int main(int argc, char **argv)
{
	unsigned int ch = arg(argc, argv, 1, 1, DMXP_MAX_CHANNELS - 1);
	unsigned long count = arg(argc, argv, 2, 10, 1000000000);
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_msg_meta meta;
	char buf[DMXP_MAX_PAYLOAD];
	struct pollfd pfd = { .events = POLLIN };
	unsigned long got = 0;
	ssize_t n;
	int ret;

	c = open_channel(ch, &r);
	pfd.fd = dmxp_chan_fd(c);
	if (pfd.fd == -EOPNOTSUPP) {
		fprintf(stderr, "poll_consumer: %s is a region file, which has no channel fd: "
			"use a kernel region (/dev/dmxp), or consumer\n", dmxp_region_path(r));
		return 1;
	}
	if (pfd.fd < 0)
		return fail("channel fd", pfd.fd);
	while (got < count) {
		while (got < count && (n = dmxp_chan_recv(c, buf, sizeof(buf), &meta)) >= 0) {
			printf("%.*s\n", (int)n, buf);		/* drain */
			got++;
		}
		if (got == count)
			break;
		ret = dmxp_chan_arm(c, DMXP_ARM_RECV);		/* arm, re-check */
		if (ret < 0)
			return fail("arm", ret);
		if (ret > 0)
			continue;				/* a message came: drain */
		ret = poll(&pfd, 1, 10000);
		dmxp_chan_disarm(c, DMXP_ARM_RECV);
		if (ret == 0) {
			fprintf(stderr, "poll_consumer: no message for 10 s after %lu of %lu\n",
				got, count);
			return 1;
		}
		if (ret < 0)
			return fail("poll", -errno);
		if (pfd.revents & (POLLERR | POLLHUP)) {
			fprintf(stderr, "poll_consumer: channel %u was destroyed\n", ch);
			return 1;
		}
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
