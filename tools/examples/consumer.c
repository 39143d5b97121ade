/*
 * consumer: receive COUNT messages on channel CH of the region
 * $DMXP_REGION (default /dev/shm/dmxp_alloc) and print each on a line.
 * It blocks in dmxp_chan_recv_wait(), which spins briefly, then sleeps
 * until a producer wakes it, on region files and kernel regions alike;
 * it gives up after 10 seconds without a message.
 *
 *	consumer [CH [COUNT]]		(default: channel 1, 10 messages)
 */
static const char prog[] = "consumer";
#include "channel.h"

int main(int argc, char **argv)
{
	unsigned int ch = arg(argc, argv, 1, 1, DMXP_MAX_CHANNELS - 1);
	unsigned long count = arg(argc, argv, 2, 10, 1000000000);
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_msg_meta meta;
	char buf[DMXP_MAX_PAYLOAD];
	ssize_t n;

	c = open_channel(ch, &r);
	for (unsigned long i = 0; i < count; i++) {
		n = dmxp_chan_recv_wait(c, buf, sizeof(buf), &meta, 10000000000LL);
		if (n == -ETIMEDOUT) {
			fprintf(stderr, "consumer: no message for 10 s after %lu of %lu\n", i, count);
			return 1;
		}
		if (n < 0)
			return fail("recv", n);
		printf("%.*s\n", (int)n, buf);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
