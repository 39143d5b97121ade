// SPDX-License-Identifier: MIT
/*
 * A process whose main thread has exited while another sleeps in a
 * channel: /proc shows its leader as a zombie ('Z'), yet it is alive.
 *
 *	helper_zombie_leader REGION CH SECONDS
 *		a thread sleeps to receive on channel CH (which must exist)
 *		for at most SECONDS, then the process exits; main() calls
 *		pthread_exit() at once
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dmxp.h"

static struct dmxp_chan *chan;
static long long timeout_ns;

static void *sleeper(void *arg)
{
	char buf[DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta meta;

	(void)arg;
	dmxp_chan_recv_wait(chan, buf, sizeof(buf), &meta, timeout_ns);
	exit(0);
}

int main(int argc, char **argv)
{
	struct dmxp_region *r;
	pthread_t t;
	int ret;

	if (argc != 4) {
		fprintf(stderr, "usage: helper_zombie_leader REGION CH SECONDS\n");
		return 2;
	}
	ret = dmxp_region_open(argv[1], 0, 0, &r);
	if (!ret)
		ret = dmxp_chan_open(r, (unsigned int)atoi(argv[2]), &chan);
	if (ret) {
		fprintf(stderr, "helper_zombie_leader: %s: %s\n", argv[1], strerror(-ret));
		return 1;
	}
	timeout_ns = atoll(argv[3]) * 1000000000LL;
	if (pthread_create(&t, NULL, sleeper, NULL)) {
		fprintf(stderr, "helper_zombie_leader: pthread_create failed\n");
		return 1;
	}
	pthread_exit(NULL);
}
