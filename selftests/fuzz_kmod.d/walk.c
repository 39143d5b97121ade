// SPDX-License-Identifier: MIT
/*
 * The walk: the table of steps with their weights, and the pick of each
 * next step.
 */
#include "fuzz_kmod.h"

/* Open, handshake, create or attach, map: a step to a usable region. */
static bool op_setup(void)
{
	int di;

	if (g.is_wild || !op_open())
		return false;
	di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && !file(g.devfd[__i].file)->versioned);
	if (di < 0)
		return true;
	do_version(di, true);
	if (!file(g.devfd[di].file)->versioned)
		return true;
	/* Only a read-write file creates; a read-only one mostly attaches. */
	if (!do_region(di, pct(file(g.devfd[di].file)->acc == O_RDWR ? 70 : 10) ?
		       DMXP_IOC_REGION_CREATE : DMXP_IOC_REGION_ATTACH, true))
		return true;
	if (file(g.devfd[di].file)->inst >= 0 && piece_slots() > 4)
		do_mmap(di, true);
	return true;
}

/* Valid channel calls, mostly in live regions: to reach deep states. */
static bool op_chan_sane(void)
{
	int di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && file(g.devfd[__i].file)->versioned &&
		      file(g.devfd[__i].file)->acc == O_RDWR &&
		      file(g.devfd[__i].file)->inst >= 0 &&
		      inst(file(g.devfd[__i].file)->inst)->named);
	unsigned int k = (unsigned int)below(100);

	/* Sometimes a read-only binding, or a region destroyed meanwhile. */
	if (di < 0 || pct(10))
		di = PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0 && file(g.devfd[__i].file)->versioned &&
			  file(g.devfd[__i].file)->inst >= 0);
	if (di < 0 || g.is_wild)
		return false;
	if (k >= 30 && pct(85)) {
		struct minst *in = inst(file(g.devfd[di].file)->inst);

		want_ci = PICK(NCH, in->ch[__i].present);
	}
	if (k < 30)
		do_chan_create(di, true);
	else if (k < 45)
		do_chan_destroy(di, true);
	else if (k < 80)
		do_chan_fd(di, true);
	else
		do_notify(di, true);
	return true;
}

struct op ops[] = {
	{ "open",		op_open,		6,	true },
	{ "dup",		op_dup,			1,	true },
	{ "close",		op_close_dev,		3,	true },
	{ "setup",		op_setup,		6,	false },
	{ "ioctl",		op_ioctl,		30,	true },
	{ "chan",		op_chan_sane,		16,	false },
	{ "eventfd-burst",	op_eventfd_burst,	1,	false },
	{ "unknown-ioctl",	op_unknown_ioctl,	3,	true },
	{ "wrong-fd-ioctl",	op_wrong_fd_ioctl,	2,	true },
	{ "dev-read-write",	op_dev_rw,		1,	true },
	{ "mmap",		op_mmap,		8,	true },
	{ "munmap",		op_munmap,		4,	true },
	{ "mremap",		op_mremap,		4,	true },
	{ "mprotect",		op_mprotect,		4,	true },
	{ "scribble",		op_scribble,		10,	true },
	{ "peek",		op_peek,		2,	true },
	{ "send-mapped",	op_send_mapped,		4,	true },
	{ "claim",		op_claim,		6,	true },
	{ "crash",		op_crash,		2,	false },
	{ "header",		op_header,		2,	false },
	{ "chan-read",		op_chan_read,		7,	true },
	{ "chan-write",		op_chan_write,		7,	true },
	{ "poll",		op_poll,		4,	true },
	{ "chan-block",		op_chan_block,		1,	true },
	{ "nonblock",		op_fcntl_nonblock,	1,	true },
	{ "close-chan",		op_close_chfd,		3,	true },
	{ "eventfds",		op_eventfds,		2,	true },
	{ "epoll",		op_epoll,		2,	true },
	{ "sysfs",		op_sysfs,		2,	false },
	{ "fork",		op_fork,		1,	false },
	{ "race",		op_race,		1,	false },
	{ "wild",		op_wild,		1,	false },
};

const unsigned int op_count = sizeof(ops) / sizeof(ops[0]);

bool run_op(void)
{
	unsigned int total = 0, k, r;

	for (k = 0; k < op_count; k++)
		total += ops[k].weight;
	r = (unsigned int)below(total);
	for (k = 0; r >= ops[k].weight; k++)
		r -= ops[k].weight;
	if (g.is_wild && !ops[k].wild_ok)
		return false;
	if (!ops[k].fn())
		return false;
	ops[k].n++;
	return true;
}
