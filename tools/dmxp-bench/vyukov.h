/* SPDX-License-Identifier: MIT */
/*
 * dmxp-bench: the bare Vyukov bounded MPMC ring on dmxp's slot layout.
 *
 * The protocol dmxp's channels follow (Documentation/MEMORY_LAYOUT.md,
 * section 7) and nothing else: free-running tail and head, each alone on
 * a 128-byte line as in a ChannelEntry; 1,088-byte slots, the 64-bit
 * sequence at offset 0 and the payload at offset 64, as in a dmxp slot.
 * No metadata, no claim record, no generation check, no sleeper check,
 * no timestamp: what the layout itself costs, the floor of the suite for
 * dmxp's fast path.
 *
 * Sequence of the slot of position pos: pos (free for the producer of
 * pos), pos + 1 (holds message pos), pos + capacity (free for the next lap).
 */
#ifndef DMXP_BENCH_VYUKOV_H
#define DMXP_BENCH_VYUKOV_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bench.h"
#include "dmxp.h"

/* dmxp's own slot: the stride, and where the payload starts. */
#define VY_SLOT_SIZE	DMXP_SLOT_SIZE
#define VY_PAYLOAD	offsetof(struct dmxp_slot, payload)

_Static_assert(offsetof(struct dmxp_slot, sequence) == 0, "the sequence leads the slot");
_Static_assert(VY_PAYLOAD == 64, "the payload is at offset 64");

struct vy_ring {
	u64	tail;			/* producers (CAS) */
	u64	__pad0[15];
	u64	head;			/* consumers (CAS) */
	u64	__pad1[15];
	unsigned char slots[] __attribute__((aligned(128)));
};

static inline size_t vy_ring_size(u64 slots)
{
	return sizeof(struct vy_ring) + VY_SLOT_SIZE * slots;
}

static inline u64 *vy_seq(struct vy_ring *r, u64 mask, u64 pos)
{
	return (u64 *)(r->slots + (pos & mask) * VY_SLOT_SIZE);
}

/* Before any side uses it: slot k free for position k, tail = head = 0. */
static inline void vy_init(struct vy_ring *r, u64 slots)
{
	u64 k;

	r->tail = r->head = 0;
	for (k = 0; k < slots; k++)
		*vy_seq(r, slots - 1, k) = k;
}

/*
 * Claim the next position of @idx (tail for a producer, head for a
 * consumer) whose slot is ready, that is whose sequence reads pos + @ready
 * (0: free; 1: holds message pos).  Its slot, with *pos set; or NULL when
 * the ring is full (empty).
 */
static inline u64 *vy_claim(struct vy_ring *r, u64 mask, u64 *idx, u64 ready, u64 *pos)
{
	u64 p = __atomic_load_n(idx, __ATOMIC_RELAXED);

	for (;;) {
		u64 *seq = vy_seq(r, mask, p);
		/*
		 * Partner: the release of the sequence in vy_pop() (for a
		 * producer: message p - capacity was read out) or in vy_push()
		 * (for a consumer: message p is written).
		 */
		long long diff = (long long)(__atomic_load_n(seq, __ATOMIC_ACQUIRE) -
					     (p + ready));

		if (diff < 0)
			return NULL;	/* not ready: a lap behind, or unpublished */
		if (diff > 0) {
			p = __atomic_load_n(idx, __ATOMIC_RELAXED);
			continue;	/* another side of our kind took p */
		}
		/*
		 * Relaxed: the CAS only decides who owns p; the slot's data is
		 * ordered by its sequence, not by tail or head.  On failure p
		 * is the index's current value.
		 */
		if (__atomic_compare_exchange_n(idx, &p, p + 1, true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			*pos = p;
			return seq;
		}
	}
}

static inline int vy_push(struct vy_ring *r, u64 mask, const void *buf, size_t len)
{
	u64 pos, *seq = vy_claim(r, mask, &r->tail, 0, &pos);

	if (!seq)
		return -EAGAIN;
	memcpy((unsigned char *)seq + VY_PAYLOAD, buf, len);
	/* Partner: the acquire of the sequence in a consumer's vy_claim(). */
	__atomic_store_n(seq, pos + 1, __ATOMIC_RELEASE);
	return 0;
}

static inline int vy_pop(struct vy_ring *r, u64 mask, void *buf, size_t len)
{
	u64 pos, *seq = vy_claim(r, mask, &r->head, 1, &pos);

	if (!seq)
		return -EAGAIN;
	memcpy(buf, (unsigned char *)seq + VY_PAYLOAD, len);
	/*
	 * Partner: the acquire of the sequence in a producer's vy_claim() a
	 * lap later: the payload was read out before the slot is handed back.
	 */
	__atomic_store_n(seq, pos + mask + 1, __ATOMIC_RELEASE);
	return 0;
}

#endif /* DMXP_BENCH_VYUKOV_H */
