// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the two floors.  Neither is a messaging system; they are
 * what the hardware allows, to put every other figure in proportion.
 *
 * cacheline: one 64-byte line per inbox; the sender stores the message
 * number into it and the receiver spins until it changes.  One line
 * moves from core to core per message: the physical one-way latency.
 *
 * spsc: the minimal ring of spsc.h, one producer and one consumer: a
 * ceiling for throughput through shared memory.  Its cases move up to 32
 * messages per call (spsc_push_many(), spsc_pop_many()), as dmxp's batch
 * API does, and publish the index once per call.  It asks for no line
 * ahead (dmxp's batches do): in alternating runs a prefetch made no
 * difference to it (Documentation/performance.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "spsc.h"

#define SPSC_SLOTS	1024

/* ------------------------------------------------------------- cacheline */

struct cl_local {
	u64	last[2];	/* the last value seen in each inbox */
};

static int cl_setup(struct xport *x)
{
	x->priv = shared_alloc(4096);
	if (!x->priv)
		return -ENOMEM;
	if (!x->nonblock) {
		snprintf(x->why, sizeof(x->why), "a floor: it polls, it cannot sleep");
		return SKIPPED;
	}
	return 0;
}

static int cl_attach(struct xport *x)
{
	x->local = calloc(1, sizeof(struct cl_local));
	return x->local ? 0 : -ENOMEM;
}

static u64 *cl_word(struct xport *x, unsigned int box)
{
	return (u64 *)x->priv + box * 8;	/* a line each */
}

static int cl_send(struct xport *x, unsigned int box, const void *buf)
{
	/* Partner: the acquire in cl_recv(). */
	__atomic_store_n(cl_word(x, box), get_seq(buf) + 1, __ATOMIC_RELEASE);
	return 0;
}

static int cl_recv(struct xport *x, unsigned int box, void *buf)
{
	struct cl_local *l = x->local;
	/* Partner: the release in cl_send(). */
	u64 v = __atomic_load_n(cl_word(x, box), __ATOMIC_ACQUIRE);

	if (v == l->last[box])
		return -EAGAIN;
	l->last[box] = v;
	put_seq(buf, v - 1);
	return 0;
}

static void floor_detach(struct xport *x)
{
	free(x->local);
	x->local = NULL;
}

static void cl_teardown(struct xport *x)
{
	shared_free(x->priv, 4096);
	x->priv = NULL;
}

const struct xport_ops xp_cacheline = {
	.setup		= cl_setup,
	.attach		= cl_attach,
	.send		= cl_send,
	.recv		= cl_recv,
	.detach		= floor_detach,
	.teardown	= cl_teardown,
};

/* ------------------------------------------------------------------ spsc */

static size_t spsc_bytes(const struct xport *x)
{
	return spsc_ring_size(x->len, SPSC_SLOTS) * x->nbox;
}

static int spsc_setup(struct xport *x)
{
	x->priv = shared_alloc(spsc_bytes(x));
	if (!x->priv)
		return -ENOMEM;
	if (x->bc->nprod > 1 || x->bc->ncons > 1) {
		snprintf(x->why, sizeof(x->why), "single producer, single consumer only");
		return SKIPPED;
	}
	if (!x->nonblock) {
		snprintf(x->why, sizeof(x->why), "a floor: it polls, it cannot sleep");
		return SKIPPED;
	}
	return 0;
}

static struct spsc_ring *spsc_box(struct xport *x, unsigned int box)
{
	return (struct spsc_ring *)((char *)x->priv +
				    box * spsc_ring_size(x->len, SPSC_SLOTS));
}

/* ends[b]: this process's end of inbox b (producer or consumer). */
static int spsc_attach(struct xport *x)
{
	struct spsc_end *ends = calloc(2, sizeof(*ends));
	unsigned int b;

	if (!ends)
		return -ENOMEM;
	for (b = 0; b < x->nbox; b++) {
		bool producer = x->bc->drv == DRV_TPUT ? x->side == ROLE_PRODUCER :
							 (int)b != x->side;

		spsc_end_init(&ends[b], spsc_box(x, b), x->len, SPSC_SLOTS, producer, 1);
	}
	x->local = ends;
	return 0;
}

static int spsc_send_many(struct xport *x, unsigned int box, const void *buf,
			  unsigned int n)
{
	return spsc_push_many(&((struct spsc_end *)x->local)[box], buf, n);
}

static int spsc_recv_many(struct xport *x, unsigned int box, void *buf, unsigned int n)
{
	return spsc_pop_many(&((struct spsc_end *)x->local)[box], buf, n);
}

static void spsc_flush_box(struct xport *x, unsigned int box)
{
	spsc_flush(&((struct spsc_end *)x->local)[box]);
}

static void spsc_teardown(struct xport *x)
{
	shared_free(x->priv, spsc_bytes(x));
	x->priv = NULL;
}

const struct xport_ops xp_spsc = {
	.setup		= spsc_setup,
	.attach		= spsc_attach,
	.send_many	= spsc_send_many,
	.recv_many	= spsc_recv_many,
	.flush		= spsc_flush_box,
	.detach		= floor_detach,
	.teardown	= spsc_teardown,
};
