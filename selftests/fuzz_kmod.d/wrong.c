// SPDX-License-Identifier: MIT
/*
 * Steps that misuse the device: unknown ioctl numbers, its ioctls on other
 * kinds of fds, read and write on it.
 */
#include "fuzz_kmod.h"

static bool known_cmd(unsigned long cmd)
{
	switch (cmd) {
	case DMXP_IOC_VERSION:
	case DMXP_IOC_REGION_CREATE:
	case DMXP_IOC_REGION_ATTACH:
	case DMXP_IOC_REGION_DESTROY:
	case DMXP_IOC_CHAN_CREATE:
	case DMXP_IOC_CHAN_DESTROY:
	case DMXP_IOC_NOTIFY:
	case DMXP_IOC_CHAN_FD:
	case DMXP_IOC_CHAN_EVENTFD:
		return true;
	default:
		return false;
	}
}

/* Command types the VFS handles itself, for every file (fs/ioctl.c). */
static bool vfs_type(unsigned int type)
{
	return type == 0 || type == 'T' || type == 'X' || type == 'f' || type == 0x94;
}

bool op_unknown_ioctl(void)
{
	int kind = pct(60) ? K_DEV : -1, fd = pick_any_fd(&kind);
	unsigned long cmd;
	struct expect e;
	long ret;

	do {
		switch (below(3)) {
		case 0:
			cmd = _IOC(below(4), DMXP_IOC_MAGIC, 9 + below(247), below(1 << 14));
			break;
		case 1:
			cmd = _IOC(below(4), DMXP_IOC_MAGIC, below(9), below(80));
			break;
		default:
			cmd = (unsigned int)rnd();
			break;
		}
	} while (known_cmd(cmd) || vfs_type(_IOC_TYPE(cmd)));
	ex_reset(&e);
	ex_add(&e, ENOTTY, YES);
	/* The core kernel's answer: epoll has ioctls of its own since 6.9. */
	if (kind == K_EPOLL)
		ex_add(&e, EINVAL, YES);
	memset(arena, 0, 64);
	call("ioctl(%d %s, %#lx)", fd, kind == K_DEV ? "dev" : kind == K_CHAN ? "chan" :
	     kind == K_EV ? "eventfd" : "epoll", cmd);
	ret = xioctl(fd, cmd, arena);
	result_ret(ret);
	verdict(&e, ret);
	return true;
}

/* The device's own ioctls on a channel fd, an eventfd or an epoll fd. */
bool op_wrong_fd_ioctl(void)
{
	static const unsigned long cmds[] = {
		DMXP_IOC_VERSION, DMXP_IOC_REGION_CREATE, DMXP_IOC_REGION_ATTACH,
		DMXP_IOC_REGION_DESTROY, DMXP_IOC_CHAN_CREATE, DMXP_IOC_CHAN_DESTROY,
		DMXP_IOC_NOTIFY, DMXP_IOC_CHAN_FD, DMXP_IOC_CHAN_EVENTFD,
	};
	int kind = 1 + (int)below(3), fd = pick_any_fd(&kind);
	unsigned long cmd = cmds[below(9)];
	struct dmxp_ioc_region *rq = (void *)arena;
	struct expect e;
	long ret;

	if (kind == K_DEV)
		return false;
	memset(arena, 0, 128);
	((struct dmxp_ioc_version *)arena)->version = DMXP_VERSION;
	if (cmd == DMXP_IOC_REGION_CREATE || cmd == DMXP_IOC_REGION_ATTACH ||
	    cmd == DMXP_IOC_REGION_DESTROY) {
		memset(rq, 0, sizeof(*rq));
		strcpy(rq->name, g.name[0]);
		rq->flags = cmd == DMXP_IOC_REGION_CREATE ? DMXP_REGION_CREATE : 0;
	}
	ex_reset(&e);
	ex_add(&e, ENOTTY, YES);
	/* The core kernel's answer: epoll has ioctls of its own since 6.9. */
	if (kind == K_EPOLL)
		ex_add(&e, EINVAL, YES);
	call("ioctl(%d %s, %#lx)", fd, kind == K_CHAN ? "chan" : kind == K_EV ? "eventfd" : "epoll",
	     cmd);
	ret = xioctl(fd, cmd, arena);
	result_ret(ret);
	verdict(&e, ret);
	return true;
}

/* read() and write() on /dev/dmxp itself: it has neither. */
bool op_dev_rw(void)
{
	int di = pick_devfd(), acc;
	char buf[16] = "";
	struct expect e;
	long ret;

	if (di < 0)
		return false;
	acc = file(g.devfd[di].file)->acc;
	ex_reset(&e);
	if (pct(50)) {
		ex_add(&e, acc == O_WRONLY ? EBADF : EINVAL, YES);
		call("read(%d dev %s, 16)", g.devfd[di].fd, acc_name(acc));
		ret = read(g.devfd[di].fd, buf, sizeof(buf));
	} else {
		ex_add(&e, acc == O_RDONLY ? EBADF : EINVAL, YES);
		call("write(%d dev %s, 16)", g.devfd[di].fd, acc_name(acc));
		ret = write(g.devfd[di].fd, buf, sizeof(buf));
	}
	ret = ret < 0 ? -errno : ret;
	result_ret(ret);
	verdict(&e, ret);
	return true;
}
