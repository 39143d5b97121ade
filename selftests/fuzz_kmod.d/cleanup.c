// SPDX-License-Identifier: MIT
/*
 * The end of the run: everything still open, mapped or alive closed,
 * unmapped and destroyed, and then checked.
 */
#include "fuzz_kmod.h"

/* Close and unmap everything, destroy every region of the run. */
void cleanup(bool check)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	struct expect e;
	int i, fd, ret;

	reap_wild(true, check);
	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd >= 0) {
			close(g.chfd[i].fd);
			g.chfd[i].fd = -1;
		}
	for (i = 0; i < MAX_EVFDS; i++)
		if (g.evfd[i].fd >= 0) {
			close(g.evfd[i].fd);
			g.evfd[i].fd = -1;
		}
	for (i = 0; i < MAX_PIECES; i++)
		if (g.piece[i].addr) {
			munmap(g.piece[i].addr, g.piece[i].len);
			g.piece[i].addr = NULL;
		}
	for (i = 0; i < MAX_DEVFDS; i++)
		if (g.devfd[i].fd >= 0) {
			close(g.devfd[i].fd);
			file(g.devfd[i].file)->nfds--;
			g.devfd[i].fd = -1;
		}
	gc();
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v)) {
		if (check)
			fail("cleanup: open %s: %s", DMXP_DEVICE, strerror(errno));
		return;
	}
	for (i = 0; i < NSLOTS; i++) {
		int ins = named_inst(i);

		memset(&rq, 0, sizeof(rq));
		strcpy(rq.name, g.name[i]);
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"})", fd, g.name[i]);
		ret = ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq) ? -errno : 0;
		result_ret(ret);
		if (check) {
			ex_reset(&e);
			ex_add(&e, ENOENT, tri_of(ins < 0));
			verdict(&e, ret);
		}
		if (ins >= 0) {
			inst(ins)->named = false;
			regs_drop(ins, -1, -1);
		}
	}
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
	strcpy(rq.name, g.crash_name);
	ioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
	close(fd);
	gc();
	for (i = 0; i < MAX_INST && check; i++)
		if (inst(i)->used)
			fail("cleanup: the model still holds a region of %s", g.name[inst(i)->slot]);
}
