/* SPDX-License-Identifier: MIT */
/*
 * What producer, consumer and poll_consumer share: their arguments
 * [CH [COUNT]], one-line errors, and channel CH of the region
 * $DMXP_REGION (default /dev/shm/dmxp_alloc), both created if missing
 * so that either side may start first.
 *
 * Each program defines `prog` (its name, for messages) before including
 * this file.
 */
#ifndef DMXP_EXAMPLE_CHANNEL_H
#define DMXP_EXAMPLE_CHANNEL_H

#include <ctype.h>
#include <dmxp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints "PROG: WHAT: error" and returns the exit status 1. */
static int fail(const char *what, long err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror((int)-err));
	return 1;
}

/* argv[i] as a decimal number up to @max, or @def when it is absent. */
static unsigned long arg(int argc, char **argv, int i, unsigned long def, unsigned long max)
{
	char *end;
	unsigned long v;

	if (argc <= i)
		return def;
	/* A digit first: strtoul() skips spaces and takes "-0" or " 5". */
	errno = 0;
	v = strtoul(argv[i], &end, 10);
	if (!isdigit((unsigned char)*argv[i]) || errno || *end || v > max) {
		fprintf(stderr, "%s: bad number '%s' (usage: %s [CH [COUNT]])\n",
			prog, argv[i], prog);
		exit(2);
	}
	return v;
}

/* Opens channel @ch (64 slots when it is created), or exits with 1. */
static struct dmxp_chan *open_channel(unsigned int ch, struct dmxp_region **r)
{
	struct dmxp_chan *c;
	int ret;

	ret = dmxp_region_open(NULL, 0, DMXP_OPEN_CREATE, r);
	if (ret < 0)
		exit(fail("region", ret));
	ret = dmxp_chan_create(*r, ch, 64);
	if (ret < 0 && ret != -EEXIST)
		exit(fail("create channel", ret));
	ret = dmxp_chan_open(*r, ch, &c);
	if (ret < 0)
		exit(fail("open channel", ret));
	return c;
}

#endif
