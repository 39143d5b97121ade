/* SPDX-License-Identifier: MIT */
/*
 * dmxp-bench: the minimal single-producer single-consumer ring, the
 * throughput ceiling of the suite and the ring behind the eventfd peer.
 *
 * Fixed-size messages in slots of a whole number of 64-byte lines;
 * free-running 64-bit tail (written by the producer) and head (written by
 * the consumer), each alone on a 128-byte line (a pair of lines the
 * hardware may fetch together).  Each side caches the other's index and
 * reads it again only when the ring looks full (empty).  One message at a
 * time (spsc_push(), spsc_pop()), a side publishes its own index every
 * @batch messages, whenever it finds the ring full (empty), and when the
 * producer is done (spsc_flush()), so neither side ever waits for a
 * message or a slot the other held back; with @batch 1 every message is
 * published at once (a ping-pong needs that).  Many at a time
 * (spsc_push_many(), spsc_pop_many()), it publishes once per call.  No
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
	u64	__pad0[15];
	u64	head;			/* the consumer's */
	u64	__pad1[15];
	unsigned char slots[] __attribute__((aligned(128)));
};

/* Each side's private view. */
struct spsc_end {
	struct spsc_ring	*r;
	u64			*mine;		/* &r->tail or &r->head */
	u64			*theirs;	/* the other one */
	u64			pos;		/* our index */
	u64			pub;		/* what *mine says: pos, or behind */
	u64			other;		/* the other side's, cached */
	u64			batch;		/* publish pos every batch messages */
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
				 u64 slots, bool producer, u64 batch)
{
	e->r = r;
	e->mine = producer ? &r->tail : &r->head;
	e->theirs = producer ? &r->head : &r->tail;
	e->slot = spsc_slot_size(len);
	e->mask = slots - 1;
	e->len = len;
	e->batch = batch;
	/* Partner: the other side's release of its index in spsc_flush(). */
	e->pos = e->pub = __atomic_load_n(e->mine, __ATOMIC_ACQUIRE);
	e->other = __atomic_load_n(e->theirs, __ATOMIC_ACQUIRE);
}

/* Publish our index: the messages written (the slots read out) so far. */
static inline void spsc_flush(struct spsc_end *e)
{
	if (e->pub == e->pos)
		return;
	/*
	 * Partner: the other side's acquire of it in spsc_push() or
	 * spsc_push_many() (head: the slots before it were read out), or in
	 * spsc_pop() or spsc_pop_many() (tail: the messages before it are
	 * written).
	 */
	__atomic_store_n(e->mine, e->pos, __ATOMIC_RELEASE);
	e->pub = e->pos;
}

static inline int spsc_push(struct spsc_end *e, const void *buf)
{
	if (e->pos - e->other > e->mask) {
		spsc_flush(e);		/* the consumer may be waiting for them */
		/* Partner: the release of head in the consumer's spsc_flush(). */
		e->other = __atomic_load_n(e->theirs, __ATOMIC_ACQUIRE);
		if (e->pos - e->other > e->mask)
			return -EAGAIN;
	}
	memcpy(e->r->slots + (e->pos & e->mask) * e->slot, buf, e->len);
	if (++e->pos - e->pub >= e->batch)
		spsc_flush(e);
	return 0;
}

static inline int spsc_pop(struct spsc_end *e, void *buf)
{
	if (e->pos == e->other) {
		spsc_flush(e);		/* the producer may be waiting for the slots */
		/* Partner: the release of tail in the producer's spsc_flush(). */
		e->other = __atomic_load_n(e->theirs, __ATOMIC_ACQUIRE);
		if (e->pos == e->other)
			return -EAGAIN;
	}
	memcpy(buf, e->r->slots + (e->pos & e->mask) * e->slot, e->len);
	if (++e->pos - e->pub >= e->batch)
		spsc_flush(e);
	return 0;
}

/*
 * Copy @n messages between the ring, from position @pos on, and @buf, where
 * they lie e->len bytes apart.  When a message fills its slot exactly the
 * two layouts match, and a run up to the end of the ring is one copy.
 */
static inline void spsc_copy_run(const struct spsc_end *e, u64 pos, unsigned char *buf,
				 unsigned int n, bool to_ring)
{
	while (n) {
		unsigned char *slot = e->r->slots + (pos & e->mask) * e->slot;
		unsigned int k = 1;

		if (e->slot == e->len) {
			u64 room = e->mask + 1 - (pos & e->mask);

			k = n < room ? n : (unsigned int)room;
		}
		if (to_ring)
			memcpy(slot, buf, (size_t)k * e->len);
		else
			memcpy(buf, slot, (size_t)k * e->len);
		buf += (size_t)k * e->len;
		pos += k;
		n -= k;
	}
}

/*
 * Up to @n messages in one call, and the index published once for them:
 * the number moved, or -EAGAIN when the ring is full (empty).
 */
static inline int spsc_push_many(struct spsc_end *e, const void *buf, unsigned int n)
{
	u64 room = e->mask + 1 - (e->pos - e->other);

	if (room < n) {
		/* Partner: the release of head in the consumer's spsc_flush(). */
		e->other = __atomic_load_n(e->theirs, __ATOMIC_ACQUIRE);
		room = e->mask + 1 - (e->pos - e->other);
		if (!room)
			return -EAGAIN;
	}
	if (n > room)
		n = (unsigned int)room;
	spsc_copy_run(e, e->pos, (unsigned char *)buf, n, true);
	e->pos += n;
	spsc_flush(e);
	return (int)n;
}

static inline int spsc_pop_many(struct spsc_end *e, void *buf, unsigned int n)
{
	u64 have = e->other - e->pos;

	if (have < n) {
		/* Partner: the release of tail in the producer's spsc_flush(). */
		e->other = __atomic_load_n(e->theirs, __ATOMIC_ACQUIRE);
		have = e->other - e->pos;
		if (!have)
			return -EAGAIN;
	}
	if (n > have)
		n = (unsigned int)have;
	spsc_copy_run(e, e->pos, buf, n, false);
	e->pos += n;
	spsc_flush(e);
	return (int)n;
}

#endif /* DMXP_BENCH_SPSC_H */
