/* SPDX-License-Identifier: MIT */
/*
 * What the io_uring examples share: errors, arguments, the check of the
 * counter the test's producer sends, draining a channel, and a /dev/dmxp
 * file attached to the region (for channel fds and eventfds).
 *
 * Each example defines `prog` (its name, for messages) before including
 * this file.
 */
#ifndef DMXP_EXAMPLE_H
#define DMXP_EXAMPLE_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dmxp.h"

static inline void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static inline unsigned long long parse_num(const char *what, const char *s,
				    unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v > max) {
		fprintf(stderr, "%s: invalid %s '%s'\n", prog, what, s);
		exit(2);
	}
	return v;
}

/* The counter a message carries: decimal text, or 8 bytes little-endian. */
static inline bool msg_counter(const unsigned char *p, size_t len, unsigned long long *v)
{
	char text[24];
	size_t i;

	if (len >= 1 && len <= 20) {
		for (i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++)
			;
		if (i == len) {
			memcpy(text, p, len);
			text[len] = '\0';
			errno = 0;
			*v = strtoull(text, NULL, 10);
			return !errno;
		}
	}
	if (len == 8) {
		for (*v = 0, i = 8; i-- > 0;)
			*v = *v << 8 | p[i];
		return true;
	}
	return false;
}

struct order {
	unsigned long long	n;	/* messages checked */
	unsigned long long	first;	/* counter of the first */
	unsigned long long	last;	/* counter of the last */
};

/* Check that message @n carries the counter after the previous one. */
static inline void check_msg(struct order *o, const struct dmxp_msg_meta *m,
		      const void *payload, size_t len)
{
	unsigned long long v;

	if (!msg_counter(payload, len, &v))
		die("message %llu (id %llu): %zu bytes, not a counter", o->n + 1,
		    (unsigned long long)m->message_id, len);
	if (o->n && v != o->last + 1)
		die("message %llu: counter %llu after %llu: lost, duplicated or out of order",
		    o->n + 1, v, o->last);
	if (!o->n)
		o->first = v;
	o->last = v;
	o->n++;
}

/* A /dev/dmxp file attached to the kernel region of @path (/dev/dmxp:NAME). */
static inline int dev_attach(const char *path)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq = { 0 };
	const char *name = DMXP_DEFAULT_NAME;
	size_t n = strlen(DMXP_DEVICE);
	int fd;

	if (path[n] == ':')
		name = path + n + 1;
	if (strlen(name) >= sizeof(rq.name))
		die("%s: invalid region name", path);
	strcpy(rq.name, name);
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", DMXP_DEVICE, strerror(errno));
	if (ioctl(fd, DMXP_IOC_VERSION, &v))
		die("DMXP_IOC_VERSION: %s", strerror(errno));
	if (ioctl(fd, DMXP_IOC_REGION_ATTACH, &rq))
		die("DMXP_IOC_REGION_ATTACH %s: %s", name, strerror(errno));
	return fd;
}

#endif /* DMXP_EXAMPLE_H */
