// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the latency driver.
 *
 * Two processes play ping-pong over two inboxes.  Side 0, the initiator,
 * stamps the clock, sends message i to inbox 1, waits for it to come back
 * in inbox 0 and stamps the clock again; side 1, the responder, sends
 * every message it receives straight back.  One way is half a round
 * trip.  DRV_LAT_BLOCK: each side sleeps in the transport's blocking
 * receive.  DRV_LAT_BUSY: each side polls its inbox without sleeping.
 * Every message carries its number and is checked on both sides.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "procs.h"

#define POLLS_PER_YIELD	64

struct pp_shared {
	u64	ready;			/* sides attached */
	u64	pad[7];
	u64	rtt[];			/* round trips, written by side 0 */
};

static struct pp_shared *sh;

/* Side @side's receive of message @want: polls or sleeps as the case says. */
static void pp_recv(struct xport *x, unsigned int box, void *buf, u64 want)
{
	unsigned int fruitless = 0;

	for (;;) {
		int ret = x->bc->ops->recv(x, box, buf);

		if (ret == -EAGAIN) {
			/*
			 * A transport with a helper thread on this CPU (ZeroMQ's
			 * I/O thread) needs it to run now and then; a reply that
			 * takes 64 polls is late anyway.
			 */
			if (++fruitless % POLLS_PER_YIELD == 0)
				sched_yield();
			else
				cpu_relax();
			continue;
		}
		if (ret)
			die("%s: side %u: receive %llu: %s", x->bc->name, box, want,
			    strerror(-ret));
		if (get_seq(buf) != want)
			die("%s: side %u: received %llu, expected %llu", x->bc->name,
			    box, get_seq(buf), want);
		return;
	}
}

static void pp_send(struct xport *x, unsigned int box, const void *buf)
{
	for (;;) {
		int ret = x->bc->ops->send(x, box, buf);

		if (ret == -EAGAIN) {
			cpu_relax();
			continue;
		}
		if (ret)
			die("%s: send to %u: %s", x->bc->name, box, strerror(-ret));
		return;
	}
}

static void pp_side(struct xport *x, unsigned int side)
{
	unsigned long total = opt.warmup + opt.iterations, i;
	unsigned char buf[MSG_MAX] __attribute__((aligned(64)));
	int ret;

	ret = pin(opt.cpu[side]);
	if (ret)
		die("%s: side %u: sched_setaffinity(CPU %d): %s", x->bc->name, side,
		    opt.cpu[side], strerror(-ret));
	x->side = (int)side;
	x->idx = 0;
	ret = x->bc->ops->attach(x);
	if (ret)
		die("%s: side %u: attach: %s", x->bc->name, side, strerror(-ret));
	memset(buf, 0xa5, sizeof(buf));
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < 2)
		sched_yield();

	for (i = 0; i < total; i++) {
		if (side == 0) {
			u64 t0 = now_ns();

			put_seq(buf, i);
			pp_send(x, 1, buf);
			pp_recv(x, 0, buf, i);
			if (i >= opt.warmup)
				sh->rtt[i - opt.warmup] = now_ns() - t0;
		} else {
			pp_recv(x, 1, buf, i);
			pp_send(x, 0, buf);
		}
	}
	if (x->bc->ops->detach)
		x->bc->ops->detach(x);
}

int pingpong_run(const struct bench_case *bc, struct xport *x, struct stats *s,
		 const char **step)
{
	size_t shlen = sizeof(*sh) + opt.iterations * sizeof(u64);
	unsigned long total = opt.warmup + opt.iterations, i;
	struct procs procs = { .n = 0 };
	int ret;

	sh = run_begin(x, 2, bc->drv == DRV_LAT_BUSY, shlen, step, &ret);
	if (!sh)
		return run_end(x, NULL, 0, ret);
	*step = "fork";
	for (i = 0; i < 2 && !ret; i++) {
		pid_t pid = procs_spawn(&procs, pp_side, x, (unsigned int)i);

		if (pid < 0)
			ret = (int)pid;
	}
	if (ret)
		procs_kill(&procs);
	*step = "run";
	/* Generous: a lost wake-up shows as a timeout, not as a hang. */
	i = (unsigned long)procs_wait(&procs, 60 + (unsigned int)(total / 500), bc->name);
	if (!ret)
		ret = (int)(long)i;
	if (!ret) {
		for (i = 0; i < opt.iterations; i++)
			sh->rtt[i] /= 2;	/* one way */
		stats_of(sh->rtt, opt.iterations, s);
	}
	return run_end(x, sh, shlen, ret);
}
