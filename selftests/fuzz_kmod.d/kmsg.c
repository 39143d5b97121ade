// SPDX-License-Identifier: MIT
/*
 * The kernel log: where it stood at the start, and whether a BUG, WARNING
 * or Oops came since.
 */
#include "fuzz_kmod.h"

static int kmsg_fd = -1;

void kmsg_start(void)
{
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_fd >= 0)
		lseek(kmsg_fd, 0, SEEK_END);
}

/* The number of bad lines logged since kmsg_start(), or -1. */
int kmsg_bad(void)
{
	static const char *const bad[] = {
		"BUG:", "WARNING:", "Oops", "Call Trace", "KASAN", "lockdep", "circular locking",
		"inconsistent lock state", "general protection", "dmxp: ",
	};
	char rec[2048];
	int n = 0;
	ssize_t r;
	size_t k;

	if (kmsg_fd < 0)
		return -1;
	for (;;) {
		r = read(kmsg_fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;
		if (r <= 0)
			break;
		rec[r] = '\0';
		for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
			if (strstr(rec, bad[k])) {
				/* The module's only notice of a working kind: it loaded. */
				if (k == sizeof(bad) / sizeof(bad[0]) - 1 &&
				    strstr(rec, "dmxp: version "))
					continue;
				printf("# kernel: %s", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
				n++;
				break;
			}
	}
	return n;
}
