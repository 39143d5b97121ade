// SPDX-License-Identifier: MIT
/*
 * The kernel backend: regions served by the dmxp module through /dev/dmxp.
 *
 * Spelling: "/dev/dmxp" is the module's default region (created on first
 * use), "/dev/dmxp:NAME" the named region NAME.  The memory has the same
 * layout as a region file, so everything after the mapping is shared with
 * the embedded backend; only creating and destroying regions and channels
 * goes through ioctls, because the module owns the channel table.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

bool dmxp__is_kernel_path(const char *path)
{
	size_t n = strlen(DMXP_DEVICE);

	return !strncmp(path, DMXP_DEVICE, n) && (path[n] == '\0' || path[n] == ':');
}

/* The region name a kernel path stands for; -EINVAL if it cannot be one. */
static int kernel_name(const char *path, char name[DMXP_NAME_MAX])
{
	const char *p = path + strlen(DMXP_DEVICE);

	memset(name, 0, DMXP_NAME_MAX);
	if (!*p) {
		strcpy(name, DMXP_DEFAULT_NAME);
		return 0;
	}
	p++;	/* ':' */
	if (!*p || strlen(p) >= DMXP_NAME_MAX)
		return -EINVAL;
	strcpy(name, p);
	return 0;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* What the library needs of the module; bits it does not know are ignored. */
#define KERNEL_NEEDS	(DMXP_FEAT_REGIONS | DMXP_FEAT_CHANNELS | DMXP_FEAT_WAKE | \
			 DMXP_FEAT_REPAIR)

/*
 * Open the device and do the version handshake.  The request is the one
 * a 1.0.0 module accepts too (major 1, minor 0, no feature asked for);
 * the answer is accepted when its major is ours and its features include
 * what we need, whatever its minor and its other bits.
 */
static int kernel_dev_open(bool rdonly)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	int fd, ret;

	/* A file opened read-only binds read-only, with read permission. */
	fd = open(DMXP_DEVICE, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	ret = xioctl(fd, DMXP_IOC_VERSION, &v);
	if (!ret && (DMXP_ABI_MAJOR_OF(v.version) != DMXP_ABI_MAJOR ||
		     (v.features & KERNEL_NEEDS) != KERNEL_NEEDS))
		ret = -EPROTO;
	if (ret) {
		close(fd);
		return ret == -EPROTONOSUPPORT || ret == -ENOTTY ? -EPROTO : ret;
	}
	return fd;
}

int dmxp__kernel_open(const char *path, size_t size, unsigned int flags,
		      int *fdp, size_t *sizep, struct dmxp_global_header **hp,
		      __u32 *leasep)
{
	struct dmxp_ioc_region rq = { 0 };
	unsigned long cmd = DMXP_IOC_REGION_ATTACH;
	void *p;
	int fd, ret;

	ret = kernel_name(path, rq.name);
	if (ret)
		return ret;
	fd = kernel_dev_open(flags & DMXP_OPEN_RDONLY);
	if (fd < 0)
		return fd;
	if ((flags & DMXP_OPEN_CREATE) && strcmp(rq.name, DMXP_DEFAULT_NAME)) {
		cmd = DMXP_IOC_REGION_CREATE;
		rq.size = size;
		rq.mode = 0660;
		rq.flags = DMXP_REGION_CREATE |
			   (flags & DMXP_OPEN_EXCL ? DMXP_REGION_EXCL : 0);
	}
	ret = xioctl(fd, cmd, &rq);
	if (ret)
		goto err;
	if (rq.size < DMXP_HEADER_SIZE || rq.size > SIZE_MAX) {
		ret = -EPROTO;
		goto err;
	}
	p = mmap(NULL, (size_t)rq.size,
		 flags & DMXP_OPEN_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		goto err;
	}
	*fdp = fd;
	*sizep = (size_t)rq.size;
	*hp = p;
	*leasep = rq.lease;
	return 0;
err:
	close(fd);
	return ret;
}

int dmxp__kernel_unlink(const char *path)
{
	struct dmxp_ioc_region rq = { 0 };
	int fd, ret;

	ret = kernel_name(path, rq.name);
	if (ret)
		return ret;
	fd = kernel_dev_open(false);
	if (fd < 0)
		return fd;
	ret = xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
	close(fd);
	return ret;
}

static int kernel_chan_create(struct dmxp_region *r, unsigned int id, __u64 cap)
{
	struct dmxp_ioc_chan c = { .id = id, .capacity = cap };

	return xioctl(r->fd, DMXP_IOC_CHAN_CREATE, &c);
}

static int kernel_chan_destroy(struct dmxp_region *r, unsigned int id)
{
	struct dmxp_ioc_chan c = { .id = id };

	return xioctl(r->fd, DMXP_IOC_CHAN_DESTROY, &c);
}

static void kernel_notify(struct dmxp_chan *c, unsigned int flags, unsigned int n)
{
	struct dmxp_ioc_notify rq = { .id = c->f.id, .flags = flags };

	(void)n;	/* the module wakes every sleeper of that side */
	ioctl(c->f.region->fd, DMXP_IOC_NOTIFY, &rq);
}

static int kernel_chan_fd(struct dmxp_chan *c)
{
	struct dmxp_ioc_chan_fd rq = { .id = c->f.id, .flags = DMXP_CHAN_FD_NONBLOCK };
	int fd, expected = -1;

	if (c->fd >= 0)
		return c->fd;
	fd = ioctl(c->f.region->fd, DMXP_IOC_CHAN_FD, &rq);
	/*
	 * The module opens the fd of the channel with that id now.  The
	 * handle's channel existed when it was opened: gone (ENOENT) means
	 * destroyed, whatever the entry's generation says yet (the module
	 * clears created before it bumps the generation); an fd of another
	 * generation is of a channel created since (the module bumps the
	 * generation before it sets created, which the ioctl checked).
	 */
	if (fd < 0)
		return errno == ENOENT ? -EIDRM : -errno;
	if (chan_check(c)) {
		close(fd);
		return -EIDRM;
	}
	/* Two threads may race to open it: one fd stays, the other goes. */
	if (!__atomic_compare_exchange_n(&c->fd, &expected, fd, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		close(fd);
		return expected;
	}
	return fd;
}

/* Sleep in poll() on the channel fd: the module queues us, then checks. */
static int kernel_wait(struct dmxp_chan *c, unsigned int flags, __u32 ev, __u64 deadline)
{
	struct pollfd p = { .events = flags & DMXP_NOTIFY_RECV ? POLLIN : POLLOUT };
	struct timespec ts, *tsp = NULL;
	int ret;

	(void)ev;
	/* Opened at the first sleep: -EIDRM if the channel went meanwhile. */
	p.fd = kernel_chan_fd(c);
	if (p.fd < 0)
		return p.fd;
	if (deadline) {
		__u64 now = dmxp__now_ns(), left = deadline > now ? deadline - now : 0;

		ts.tv_sec = (time_t)(left / 1000000000ULL);
		ts.tv_nsec = (long)(left % 1000000000ULL);
		tsp = &ts;
	}
	ret = ppoll(&p, 1, tsp, NULL);
	if (ret < 0)
		return -errno;
	return ret ? 0 : -ETIMEDOUT;
}

const struct dmxp_backend_ops dmxp__kernel_ops = {
	.name		= "kernel",
	.chan_create	= kernel_chan_create,
	.chan_destroy	= kernel_chan_destroy,
	.notify		= kernel_notify,
	.wait		= kernel_wait,
	.chan_fd	= kernel_chan_fd,
};
