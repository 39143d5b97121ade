/* SPDX-License-Identifier: MIT */
/*
 * dmxp-bench: the minimal single-producer single-consumer ring, the
 * throughput floor of the suite and the ring behind the eventfd peer.
 *
 * Fixed-size messages in slots of a whole number of 64-byte lines;
 * free-running 64-bit tail (written by the producer) and head (written by
 * the consumer) on lines of their own; each side caches the other's
 * index and reads it again only when the ring looks full (empty).  No
 * metadata, no claim, no fence: the least work that moves a message
 * between two cores through shared memory.
 */
#ifndef DMXP_BENCH_SPSC_H
#define DMXP_BENCH_SPSC_H

#include <errno.h>
#include <string.h>

#include "bench.h"

struct spsc_ring {
	u64	tail;			/* the producer's */
	u64	__pad0[7];
	u64	head;			/* the consumer's */
	u64	__pad1[7];
	unsigned char slots[] __attribute__((aligned(64)));
};

/* Each side's private view. */
struct spsc_end {
	struct spsc_ring	*r;
	u64			pos;		/* our index: tail or head */
	u64			other;		/* the other side's, cached */
	size_t			slot;		/* bytes per slot */
	u64			mask;		/* slots - 1 */
	size_t			len;		/* bytes per message */
};

static inline size_t spsc_slot_size(size_t len)
{
	return (len + 63) & ~(size_t)63;
}

static inline size_t spsc_ring_size(size_t len, u64 slots)
{
	return sizeof(struct spsc_ring) + spsc_slot_size(len) * slots;
}

static inline void spsc_end_init(struct spsc_end *e, struct spsc_ring *r, size_t len,
				 u64 slots, bool producer)
{
	e->r = r;
	e->slot = spsc_slot_size(len);
	e->mask = slots - 1;
	e->len = len;
	/* Partner: the other side's store_release of its index. */
	e->pos = __atomic_load_n(producer ? &r->tail : &r->head, __ATOMIC_ACQUIRE);
	e->other = __atomic_load_n(producer ? &r->head : &r->tail, __ATOMIC_ACQUIRE);
}

static inline int spsc_push(struct spsc_end *e, const void *buf)
{
	if (e->pos - e->other > e->mask) {
		/* Partner: the release of head in spsc_pop(). */
		e->other = __atomic_load_n(&e->r->head, __ATOMIC_ACQUIRE);
		if (e->pos - e->other > e->mask)
			return -EAGAIN;
	}
	memcpy(e->r->slots + (e->pos & e->mask) * e->slot, buf, e->len);
	/* Partner: the acquire of tail in spsc_pop(). */
	__atomic_store_n(&e->r->tail, ++e->pos, __ATOMIC_RELEASE);
	return 0;
}

static inline int spsc_pop(struct spsc_end *e, void *buf)
{
	if (e->pos == e->other) {
		/* Partner: the release of tail in spsc_push(). */
		e->other = __atomic_load_n(&e->r->tail, __ATOMIC_ACQUIRE);
		if (e->pos == e->other)
			return -EAGAIN;
	}
	memcpy(buf, e->r->slots + (e->pos & e->mask) * e->slot, e->len);
	/* Partner: the acquire of head in spsc_push(). */
	__atomic_store_n(&e->r->head, ++e->pos, __ATOMIC_RELEASE);
	return 0;
}

#endif /* DMXP_BENCH_SPSC_H */
