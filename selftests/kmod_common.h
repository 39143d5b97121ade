/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the tests that talk to /dev/dmxp directly (test_kmod*.c,
 * fuzz_kmod.c): ioctls as -errno, region requests, sysfs text.
 */
#ifndef DMXP_SELFTEST_KMOD_COMMON_H
#define DMXP_SELFTEST_KMOD_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dmxp.h>

/* The ioctl's result (a new fd for CHAN_FD), or -errno. */
static inline int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

/* A zeroed request for @name (up to 32 bytes, not necessarily NUL-ended). */
static inline void rq_init(struct dmxp_ioc_region *rq, const char *name)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(rq->name, name, strnlen(name, DMXP_NAME_MAX));
}

static inline int region_attach(int fd, const char *name, struct dmxp_ioc_region *out)
{
	struct dmxp_ioc_region rq;
	int ret;

	rq_init(&rq, name);
	ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
	if (out)
		*out = rq;
	return ret;
}

static inline int region_destroy(int fd, const char *name)
{
	struct dmxp_ioc_region rq;

	rq_init(&rq, name);
	return xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
}

/* Read a small text file, without its trailing newline; 0 or -errno. */
static inline int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

#endif /* DMXP_SELFTEST_KMOD_COMMON_H */
