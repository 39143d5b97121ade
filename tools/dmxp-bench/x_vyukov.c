// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: vyukov, the bare ring protocol of vyukov.h on dmxp's slot
 * layout, with as many slots as dmxp's ring of the same case.  Inbox b is
 * ring b, in one shared mapping made before the sides fork.  A floor: it
 * polls and cannot sleep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "vyukov.h"

struct vy_x {
	size_t		bytes;		/* the whole mapping */
	size_t		stride;		/* one ring */
	u64		mask;		/* slots - 1 */
	unsigned char	*mem;
};

static int vy_setup(struct xport *x)
{
	u64 slots = ring_slots(x->bc);
	struct vy_x *v = calloc(1, sizeof(*v));
	unsigned int b;

	if (!v)
		return -ENOMEM;
	x->priv = v;
	v->mask = slots - 1;
	v->stride = vy_ring_size(slots);
	v->bytes = v->stride * x->nbox;
	v->mem = shared_alloc(v->bytes);
	if (!v->mem)
		return -ENOMEM;
	if (!x->nonblock) {
		snprintf(x->why, sizeof(x->why), "a floor: it polls, it cannot sleep");
		return SKIPPED;
	}
	for (b = 0; b < x->nbox; b++)
		vy_init((struct vy_ring *)(v->mem + b * v->stride), slots);
	return 0;
}

static int vy_attach(struct xport *x)
{
	(void)x;
	return 0;	/* the mapping is inherited; no state of its own */
}

static int vy_send(struct xport *x, unsigned int box, const void *buf)
{
	struct vy_x *v = x->priv;

	return vy_push((struct vy_ring *)(v->mem + box * v->stride), v->mask, buf, x->len);
}

static int vy_recv(struct xport *x, unsigned int box, void *buf)
{
	struct vy_x *v = x->priv;

	return vy_pop((struct vy_ring *)(v->mem + box * v->stride), v->mask, buf, x->len);
}

static u64 vy_backlog(struct xport *x, unsigned int box)
{
	struct vy_x *v = x->priv;
	struct vy_ring *r = (struct vy_ring *)(v->mem + box * v->stride);
	u64 head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);

	return __atomic_load_n(&r->tail, __ATOMIC_RELAXED) - head;
}

static void vy_teardown(struct xport *x)
{
	struct vy_x *v = x->priv;

	if (v)
		shared_free(v->mem, v->bytes);
	free(v);
	x->priv = NULL;
}

const struct xport_ops xp_vyukov = {
	.setup		= vy_setup,
	.attach		= vy_attach,
	.send		= vy_send,
	.recv		= vy_recv,
	.backlog	= vy_backlog,
	.teardown	= vy_teardown,
};
