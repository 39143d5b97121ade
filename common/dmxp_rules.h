/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * dmxp: the protocol's rules as pure functions (values in, a decision out),
 * compiled into both the library (lib/) and the module (kmod/); not installed.
 * Each side keeps its own atomics and acts on the decisions its own way.
 */
#ifndef _DMXP_RULES_H
#define _DMXP_RULES_H

#include <linux/dmxp.h>
#ifndef __KERNEL__
#include <stdbool.h>	/* the compiler's, not libc's: bool as in the kernel */
#endif

/* ------------------------------------------------------------ layout */

/* The smallest region: the header and one ring of the smallest capacity. */
#define DMXP_RULES_REGION_MIN	(DMXP_HEADER_SIZE + DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)

/* Where a region's parts go, decided by its creator from its size alone. */
struct dmxp_rules_layout {
	__u64	claims_offset;	/* the claim table, 0: none */
	__u32	claims_count;	/* its records */
	__u64	bands_start;	/* the first byte of rings: alloc_cursor at creation */
};

/* A size a creator accepts: room for one ring, at most @max bytes. */
static inline bool dmxp_rules_region_size_ok(__u64 size, __u64 max)
{
	return size >= DMXP_RULES_REGION_MIN && size <= max;
}

/*
 * The layout of a new region of @size bytes: the header, then the claim
 * table of DMXP_CLAIMS records unless the region is too small to spare
 * it and still hold the smallest ring, then the rings.  A region without
 * a table has no crash repair.
 */
static inline void dmxp_rules_layout_plan(__u64 size, struct dmxp_rules_layout *plan)
{
	__u64 table = (__u64)DMXP_CLAIMS * DMXP_CLAIM_SIZE;

	plan->claims_offset = 0;
	plan->claims_count = 0;
	plan->bands_start = DMXP_HEADER_SIZE;
	if (size < DMXP_RULES_REGION_MIN + table)
		return;
	plan->claims_offset = DMXP_HEADER_SIZE;
	plan->claims_count = DMXP_CLAIMS;
	plan->bands_start = DMXP_HEADER_SIZE + table;
}

/* ------------------------------------------------------ rings and bands */

/* A ring's capacity: a power of two in [DMXP_CAPACITY_MIN, DMXP_CAPACITY_MAX]. */
static inline bool dmxp_rules_capacity_ok(__u64 cap)
{
	return cap >= DMXP_CAPACITY_MIN && cap <= DMXP_CAPACITY_MAX && !(cap & (cap - 1));
}

/* The bytes of a ring of @cap slots; cap <= 2^24, so no overflow. */
static inline __u64 dmxp_rules_band_bytes(__u64 cap)
{
	return cap * DMXP_SLOT_SIZE;
}

/*
 * @bytes of rings at @off (a band, or alloc_cursor's free space) in a
 * region of @size bytes: aligned, above the header, wholly inside.
 */
static inline bool dmxp_rules_band_fits(__u64 off, __u64 bytes, __u64 size)
{
	if (off % DMXP_BAND_ALIGN || off < DMXP_HEADER_SIZE || off > size)
		return false;
	return bytes <= size - off;
}

/*
 * A band of @cap slots at @band_offset in a region of @size bytes: a
 * valid capacity, and a place that fits.  Read from the header, where
 * any mapper may have written anything.
 */
static inline bool dmxp_rules_band_ok(__u64 cap, __u64 band_offset, __u64 size)
{
	return dmxp_rules_capacity_ok(cap) &&
	       dmxp_rules_band_fits(band_offset, dmxp_rules_band_bytes(cap), size);
}

/*
 * The sequence slot @i of a fresh ring starts with: free for the producer
 * of position @i (its meta is zeroed, and tail = head = 0).
 */
static inline __u64 dmxp_rules_ring_seq(__u64 i)
{
	return i;
}

/* ------------------------------------------------------------ claims */

/* A claim on the producers' side (tail), else the consumers' (head). */
static inline bool dmxp_rules_side_send(__u32 state)
{
	return state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_SEND_WRITTEN;
}

/* A state that claims positions: SEND, SEND_WRITTEN or RECV. */
static inline bool dmxp_rules_claiming(__u32 state)
{
	return state >= DMXP_CLAIM_SEND && state <= DMXP_CLAIM_RECV;
}

/* Does a record for [@pos, @pos + @count) name position @p? */
static inline bool dmxp_rules_names(__u64 pos, __u32 count, __u64 p)
{
	return p - pos < count;
}

/*
 * Can a claim on position @p still hold its slot, @end being the tail
 * (producers, and repair marks) or the head (consumers)?  Claimed means
 * @end passed it; and a slot claimed and never published (freed) stops
 * the ring a lap later, so @end is at most a lap past it.  A record
 * naming a position further back is stale (its claim lost its CAS, long
 * ago), and the sequence its slot holds now may equal what the record
 * would expect only by aliasing: DMXP_SEQ_REPAIRING(q) = q - 2^32 is
 * also "free for position q - 2^32" of the same slot, and "published
 * for q - 2^32 - 1".
 */
static inline bool dmxp_rules_in_window(__u64 end, __u64 p, __u64 cap)
{
	return end - p - 1 < cap;
}

/* What a dead owner's record holds, on the channel it names. */
enum dmxp_rules_hold {
	DMXP_RULES_HOLD_NONE,		/* nothing: free the record */
	DMXP_RULES_HOLD_WAITER,		/* a count in a waiter word */
	DMXP_RULES_HOLD_POSITIONS,	/* positions, to repair one by one */
};

/*
 * Worth looking up at all: a state that holds something and a channel id
 * that can exist.  The caller then looks the channel up (with the id
 * masked against speculation, in the module) and asks dmxp_rules_hold().
 */
static inline bool dmxp_rules_record_valid(__u32 state, __u32 chan)
{
	return state != DMXP_CLAIM_IDLE && state <= DMXP_CLAIM_WAIT_SEND &&
	       chan < DMXP_MAX_CHANNELS;
}

/*
 * What a valid record (@state, generation @rec_gen, @*count positions)
 * holds on its channel, now at generation @gen with @cap slots.  A
 * channel destroyed since took the claim with it.  A count longer than
 * the ring holds at most the ring: *@count is clamped to @cap.
 */
static inline enum dmxp_rules_hold dmxp_rules_hold(__u32 state, __u32 rec_gen, __u32 gen,
						   __u64 cap, __u32 *count)
{
	if (rec_gen != gen)
		return DMXP_RULES_HOLD_NONE;
	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND)
		return DMXP_RULES_HOLD_WAITER;
	if (!*count || *count > DMXP_CLAIM_BATCH_MAX)
		return DMXP_RULES_HOLD_NONE;
	if (*count > cap)
		*count = (__u32)cap;
	return DMXP_RULES_HOLD_POSITIONS;
}

/* A claim record's values, as read once by a repairer. */
struct dmxp_rules_claim {
	__u64	pos;
	__u32	count;
	__u32	chan;
	__u32	generation;
	__u32	state;
};

enum dmxp_rules_cover {
	DMXP_RULES_COVER_NO,		/* not this record's position */
	DMXP_RULES_COVER_IF_LIVE,	/* its owner's, if that owner lives */
	DMXP_RULES_COVER_YES,		/* whoever owns it */
};

/*
 * Does record @o hold the positions it names, against the repair of a
 * dead record in @state on channel @chan at generation @gen?  A record
 * written before a CAS that then failed names positions someone else
 * claimed, so a live owner's claim on the same channel, generation and
 * side holds them.  So does a record that says a position is whole
 * (SEND_WRITTEN) against a SEND record's tombstone, dead or alive: only
 * the producer whose claim succeeded writes SEND_WRITTEN, so the SEND
 * record's CAS for it failed, and the other record's repair delivers the
 * message (lib/model/ring.pml found the tombstone with two deaths on one
 * position).  Positions are the caller's: dmxp_rules_names().
 */
static inline enum dmxp_rules_cover dmxp_rules_cover(const struct dmxp_rules_claim *o,
						     __u32 state, __u32 chan, __u32 gen)
{
	if (!dmxp_rules_claiming(o->state) || o->chan != chan || o->generation != gen ||
	    dmxp_rules_side_send(o->state) != dmxp_rules_side_send(state))
		return DMXP_RULES_COVER_NO;
	if (o->state == DMXP_CLAIM_SEND_WRITTEN && state == DMXP_CLAIM_SEND)
		return DMXP_RULES_COVER_YES;
	return DMXP_RULES_COVER_IF_LIVE;
}

/* The same, with @o's owner known to be @live (or dead). */
static inline bool dmxp_rules_covers(const struct dmxp_rules_claim *o, bool live,
				     __u32 state, __u32 chan, __u32 gen)
{
	enum dmxp_rules_cover c = dmxp_rules_cover(o, state, chan, gen);

	return c == DMXP_RULES_COVER_YES || (c == DMXP_RULES_COVER_IF_LIVE && live);
}

/* What to do with one position of a dead record. */
enum dmxp_rules_repair {
	DMXP_RULES_LEAVE,		/* published, freed, never claimed, or stale */
	DMXP_RULES_DELIVER,		/* SEND_WRITTEN: publish it as it is */
	DMXP_RULES_TOMBSTONE,		/* SEND never written: publish a tombstone */
	DMXP_RULES_FREE,		/* RECV never freed: free it (it was taken) */
	DMXP_RULES_FINISH_TOMBSTONE,	/* REPAIR mark of a dead repairer: finish it */
	DMXP_RULES_WAIT,		/* a covering record holds it: a later pass */
};

/*
 * Position @p of a dead record in @state, its slot's sequence being @seq,
 * the ring's @tail and @head (read with acquire before the other records
 * were: a live claim they passed is then seen in @covered), @cap slots;
 * @covered: another record holds @p (dmxp_rules_covers()).  A repair
 * mark is finished whatever covers it: only its repairer made it.
 */
static inline enum dmxp_rules_repair
dmxp_rules_repair_decide(__u32 state, __u64 p, __u64 seq, __u64 tail, __u64 head, __u64 cap,
			 bool covered)
{
	if (state == DMXP_CLAIM_REPAIR) {
		if (seq != DMXP_SEQ_REPAIRING(p) || !dmxp_rules_in_window(tail, p, cap))
			return DMXP_RULES_LEAVE;
		return DMXP_RULES_FINISH_TOMBSTONE;
	}
	if (dmxp_rules_side_send(state)) {
		/* Claimed (tail passed it) and never published? */
		if (seq != p || !dmxp_rules_in_window(tail, p, cap))
			return DMXP_RULES_LEAVE;
		if (covered)
			return DMXP_RULES_WAIT;
		return state == DMXP_CLAIM_SEND_WRITTEN ? DMXP_RULES_DELIVER : DMXP_RULES_TOMBSTONE;
	}
	if (state != DMXP_CLAIM_RECV)
		return DMXP_RULES_LEAVE;
	/* Claimed (head passed it) and never freed? */
	if (seq != p + 1 || !dmxp_rules_in_window(head, p, cap))
		return DMXP_RULES_LEAVE;
	return covered ? DMXP_RULES_WAIT : DMXP_RULES_FREE;
}

/* Whether the answer of dmxp_rules_repair_decide() may depend on @covered. */
static inline bool dmxp_rules_repair_coverable(enum dmxp_rules_repair d)
{
	return d == DMXP_RULES_DELIVER || d == DMXP_RULES_TOMBSTONE || d == DMXP_RULES_FREE;
}

/*
 * The meta of the tombstone that stands for message @p of channel @chan:
 * no payload, skipped by consumers.  The sender's pid and runtime are the
 * repairer's to say (the library names the dead sender, the module
 * itself).
 */
static inline void dmxp_rules_tombstone_meta(struct dmxp_msg_meta *m, __u64 p, __u32 chan,
					     __u64 now_ns, __u32 sender_pid, __u16 runtime)
{
	m->message_id = p;
	m->timestamp_ns = now_ns;
	m->channel_id = chan;
	m->message_type = 0;
	m->sender_pid = sender_pid;
	m->sender_runtime = runtime;
	m->flags = DMXP_MSG_TOMBSTONE;
	m->payload_len = 0;
	m->__pad = 0;
}

#endif /* _DMXP_RULES_H */
