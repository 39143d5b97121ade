// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the processes of one run.  Every side of a case is a forked
 * child; the parent waits for all of them under a deadline, and a child
 * that fails or hangs takes the run down with a clear error instead of
 * hanging the benchmark.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procs.h"

static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

pid_t procs_spawn(struct procs *p, void (*fn)(struct xport *x, unsigned int i),
		  struct xport *x, unsigned int i)
{
	pid_t pid;

	if (p->n >= PROCS_MAX)
		return -E2BIG;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		bench_in_child = true;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		fn(x, i);
		fflush(stdout);
		_exit(0);
	}
	p->pid[p->n++] = pid;
	return pid;
}

void procs_kill(struct procs *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		if (p->pid[i] > 0)
			kill(p->pid[i], SIGKILL);
}

/* Forget @pid; true if it was one of ours. */
static bool procs_reap(struct procs *p, pid_t pid)
{
	unsigned int i;

	for (i = 0; i < p->n; i++) {
		if (p->pid[i] == pid) {
			p->pid[i] = -1;
			return true;
		}
	}
	return false;
}

int procs_wait(struct procs *p, unsigned int timeout_s, const char *name)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	unsigned int left = p->n;
	int ret = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);	/* no SA_RESTART: waitpid returns EINTR */
	alarmed = 0;
	alarm(timeout_s);
	while (left) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid < 0) {
			if (errno != EINTR)
				break;
			if (alarmed && !ret) {
				fprintf(stderr, "dmxp-bench: %s: no progress in %u s (a lost message or wake-up?)\n",
					name, timeout_s);
				ret = -ETIMEDOUT;
				procs_kill(p);
			}
			continue;
		}
		if (!procs_reap(p, pid))
			continue;
		left--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (!ret) {
			/* A child that failed said why; one killed did not. */
			if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
				fprintf(stderr, "dmxp-bench: %s: a side was killed by signal %d\n",
					name, WTERMSIG(status));
			ret = -ECHILD;
			procs_kill(p);
		}
	}
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	p->n = 0;
	return ret;
}

void *run_begin(struct xport *x, unsigned int nbox, bool nonblock, size_t len,
		const char **step, int *ret)
{
	void *sh;

	x->nbox = nbox;
	x->nonblock = nonblock;
	*step = "setup";
	*ret = x->bc->ops->setup(x);
	if (*ret)
		return NULL;	/* run_end()'s teardown undoes a partial setup */
	*step = "shared memory";
	sh = shared_alloc(len);
	if (!sh)
		*ret = -ENOMEM;
	return sh;
}

int run_end(struct xport *x, void *sh, size_t len, int ret)
{
	shared_free(sh, len);
	if (x->bc->ops->teardown)	/* a peer not built in has none */
		x->bc->ops->teardown(x);
	return ret;
}
