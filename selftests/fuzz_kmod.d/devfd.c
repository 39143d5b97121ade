// SPDX-License-Identifier: MIT
/*
 * Steps on the fds of /dev/dmxp: open, dup, close, and any ioctl.
 */
#include "fuzz_kmod.h"

bool op_open(void)
{
	static const int accs[] = { O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDWR, O_RDONLY, O_RDONLY,
				    O_WRONLY };
	int acc = accs[below(8)], i = devfd_slot(), fi, fd;

	if (i < 0)
		return false;
	fi = file_new(acc);
	if (fi < 0)
		return false;
	call("open(%s, %s)", DMXP_DEVICE, acc_name(acc));
	fd = open(DMXP_DEVICE, acc | O_CLOEXEC);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	g.devfd[i].fd = fd;
	g.devfd[i].file = fi;
	file(fi)->nfds = 1;
	return true;
}

bool op_dup(void)
{
	int di = pick_devfd(), i = devfd_slot(), fd;

	if (di < 0 || i < 0)
		return false;
	call("dup(%d)", g.devfd[di].fd);
	fd = fcntl(g.devfd[di].fd, F_DUPFD_CLOEXEC, 3);
	result_ret(fd < 0 ? -errno : fd);
	if (fd < 0)
		fail("dup: %s", strerror(errno));
	g.devfd[i].fd = fd;
	g.devfd[i].file = g.devfd[di].file;
	file(g.devfd[i].file)->nfds++;
	return true;
}

bool op_close_dev(void)
{
	int di = pick_devfd(), ret;

	if (di < 0)
		return false;
	call("close(%d dev %s)", g.devfd[di].fd, acc_name(file(g.devfd[di].file)->acc));
	ret = close(g.devfd[di].fd);
	result_ret(ret ? -errno : 0);
	if (ret)
		fail("close: %s", strerror(errno));
	file(g.devfd[di].file)->nfds--;
	g.devfd[di].fd = -1;
	gc();
	return true;
}

bool op_ioctl(void)
{
	int di = pick_devfd();
	struct mfile *f;
	struct minst *in;
	bool mine;

	if (di < 0)
		return false;
	mine = devfd_mine(di);
	dev_state(di, &f, &in);
	switch (below(20)) {
	case 0:
	case 1:
		if (!mine && !f->versioned)
			return false;
		do_version(di, false);
		return true;
	case 2:
	case 3:
	case 4:
		/* A wild child's view of which regions exist may be stale. */
		if (g.is_wild)
			return false;
		return do_region(di, DMXP_IOC_REGION_CREATE, false);
	case 5:
	case 6:
		if (!mine)
			return false;
		return do_region(di, DMXP_IOC_REGION_ATTACH, false);
	case 7:
		if (g.is_wild)
			return false;
		return do_region(di, DMXP_IOC_REGION_DESTROY, false);
	case 8:
	case 9:
	case 10:
		if (g.is_wild)
			return false;
		do_chan_create(di, false);
		return true;
	case 11:
	case 12:
		if (g.is_wild)
			return false;
		do_chan_destroy(di, false);
		return true;
	case 13:
	case 14:
		do_notify(di, false);
		return true;
	case 15:
	case 16:
		do_chan_fd(di, false);
		return true;
	default:
		if (!mine)
			return false;
		do_eventfd(di, false);
		return true;
	}
}
