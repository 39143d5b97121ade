/* SPDX-License-Identifier: MIT */
#ifndef DMXP_BENCH_PROCS_H
#define DMXP_BENCH_PROCS_H

#include "bench.h"

#define PROCS_MAX	16

struct procs {
	pid_t		pid[PROCS_MAX];
	unsigned int	n;
};

/* Fork a child that runs fn(x, i) and exits 0; its pid or -errno. */
pid_t procs_spawn(struct procs *p, void (*fn)(struct xport *x, unsigned int i),
		  struct xport *x, unsigned int i);
/*
 * Wait for every child.  0 when all exited 0; -ECHILD when one failed (it
 * printed why) or -ETIMEDOUT after @timeout_s; then the others are killed.
 */
int procs_wait(struct procs *p, unsigned int timeout_s, const char *name);
void procs_kill(struct procs *p);

#endif
