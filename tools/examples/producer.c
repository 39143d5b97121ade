/*
 * producer: send COUNT messages "message 1" .. "message COUNT" on channel
 * CH of the region $DMXP_REGION (default /dev/shm/dmxp_alloc), waiting
 * while the ring is full.  Start consumer before or after it.
 *
 *	producer [CH [COUNT]]		(default: channel 1, 10 messages)
 */
static const char prog[] = "producer";
#include "channel.h"

int main(int argc, char **argv)
{
	unsigned int ch = arg(argc, argv, 1, 1, DMXP_MAX_CHANNELS - 1);
	unsigned long count = arg(argc, argv, 2, 10, 1000000000);
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char msg[64];
	int ret, len;

	c = open_channel(ch, &r);
	for (unsigned long i = 1; i <= count; i++) {
		len = snprintf(msg, sizeof(msg), "message %lu", i);
		ret = dmxp_chan_send_wait(c, msg, len, 0, DMXP_WAIT_FOREVER);
		if (ret < 0)
			return fail("send", ret);
	}
	printf("producer: sent %lu messages on channel %u\n", count, ch);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
