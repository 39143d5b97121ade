/* hello: create a region and a channel, send a message, receive it. */
#include <dmxp.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, long err)
{
	fprintf(stderr, "hello: %s: %s\n", what, strerror((int)-err));
	return 1;
}

int main(void)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	struct dmxp_msg_meta meta;
	char buf[DMXP_MAX_PAYLOAD];
	ssize_t n;
	int ret;

	/* $DMXP_REGION, else /dev/shm/dmxp_alloc; created if missing */
	ret = dmxp_region_open(NULL, 0, DMXP_OPEN_CREATE, &r);
	if (ret < 0)
		return fail("region", ret);
	ret = dmxp_chan_create(r, 7, 1024);	/* channel 7, 1024 slots */
	if (ret < 0 && ret != -EEXIST)		/* -EEXIST: made by an earlier run */
		return fail("create channel 7", ret);
	ret = dmxp_chan_open(r, 7, &c);
	if (ret < 0)
		return fail("open channel 7", ret);
	ret = dmxp_chan_send(c, "hello", 5, 0);		/* -EAGAIN when full */
	if (ret < 0)
		return fail("send", ret);
	n = dmxp_chan_recv(c, buf, sizeof(buf), &meta);	/* -EAGAIN when empty */
	if (n < 0)
		return fail("recv", n);
	printf("received \"%.*s\" from pid %u\n", (int)n, buf, meta.sender_pid);
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}
