// SPDX-License-Identifier: MIT
/*
 * The process's tables of /dev/dmxp fds, files, channel fds, eventfds and
 * mapped pieces: free slots and random picks.
 */
#include "fuzz_kmod.h"

int devfd_slot(void)
{
	int i;

	for (i = 0; i < MAX_DEVFDS; i++)
		if (g.devfd[i].fd < 0)
			return i;
	return -1;
}

int file_new(int acc)
{
	int i;

	for (i = 0; i < MAX_FILES; i++) {
		if (file(i)->used)
			continue;
		memset(file(i), 0, sizeof(*file(i)));
		file(i)->used = true;
		file(i)->acc = acc;
		file(i)->inst = -1;
		return i;
	}
	return -1;
}

int chfd_slot(void)
{
	int i;

	for (i = 0; i < MAX_CHFDS; i++)
		if (g.chfd[i].fd < 0)
			return i;
	return -1;
}

int piece_slots(void)
{
	int i, n = 0;

	for (i = 0; i < MAX_PIECES; i++)
		n += !g.piece[i].addr;
	return n;
}

/*
 * A dev fd this process may use for a call that changes the file's
 * state: a wild child shares its inherited files with the parent.
 */
bool devfd_mine(int i)
{
	return g.devfd[i].fd >= 0 && (!g.is_wild || !file(g.devfd[i].file)->inherited);
}

int pick_devfd(void)
{
	return PICK(MAX_DEVFDS, g.devfd[__i].fd >= 0);
}

int pick_chfd(void)
{
	return PICK(MAX_CHFDS, g.chfd[__i].fd >= 0);
}

int pick_evfd(void)
{
	return PICK(MAX_EVFDS, g.evfd[__i].fd >= 0);
}

int pick_piece(int need_prot)
{
	return PICK(MAX_PIECES, g.piece[__i].addr && (g.piece[__i].prot & need_prot) == need_prot);
}

/*
 * A random fd of kind *@kind (any kind if -1); if there is none of that
 * kind, of the next kind that has one, the epoll fd last.
 */
int pick_any_fd(int *kind)
{
	int k = *kind >= 0 ? *kind : (int)below(4), j;

	for (;; k++) {
		switch (k) {
		case K_DEV:
			j = pick_devfd();
			if (j >= 0) {
				*kind = k;
				return g.devfd[j].fd;
			}
			break;
		case K_CHAN:
			j = pick_chfd();
			if (j >= 0) {
				*kind = k;
				return g.chfd[j].fd;
			}
			break;
		case K_EV:
			j = pick_evfd();
			if (j >= 0) {
				*kind = k;
				return g.evfd[j].fd;
			}
			break;
		default:
			*kind = K_EPOLL;
			return g.epfd;
		}
	}
}

const char *acc_name(int acc)
{
	return acc == O_RDONLY ? "ro" : acc == O_WRONLY ? "wo" : "rw";
}
