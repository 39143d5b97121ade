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

/*
 * A run's start, in the parent: the transport's setup for @nbox inboxes,
 * then @len bytes of memory shared with the sides.  That memory, or NULL
 * with *ret the error (or SKIPPED) and *step naming what failed.
 */
void *run_begin(struct xport *x, unsigned int nbox, bool nonblock, size_t len,
		const char **step, int *ret);
/* A run's end: frees @sh (NULL too) and tears the transport down.  @ret. */
int run_end(struct xport *x, void *sh, size_t len, int ret);

#endif
