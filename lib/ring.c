// SPDX-License-Identifier: MIT
/*
 * The ring: lock-free multi-producer multi-consumer messaging.
 *
 * A note on the protocol and its memory ordering.
 *
 * Each channel is Vyukov's bounded MPMC queue.  tail and head are
 * free-running 64-bit positions, masked only to index a slot; positions
 * are compared by signed 64-bit difference, so they never wrap in
 * practice.  The slot of position pos is slots[pos & mask], and its
 * sequence says whose turn it is:
 *
 *	sequence == pos		free: the producer of position pos may write
 *	sequence == pos + 1	full: holds message pos, for its consumer
 *	sequence == pos + cap	freed again: for the producer of pos + cap
 *
 * Producer of one message:
 *	pos = tail;  seq = load_acquire(slot.sequence)		[P1]
 *	seq == pos:  CAS tail pos -> pos + 1 (claims the slot)
 *	write meta and payload
 *	store_release(slot.sequence, pos + 1)			[P2] publish
 *
 * Consumer of one message:
 *	pos = head;  seq = load_acquire(slot.sequence)		[C1]
 *	seq == pos + 1:  CAS head pos -> pos + 1 (claims the message)
 *	read meta and payload
 *	store_release(slot.sequence, pos + cap)			[C2] free
 *
 * [C1] pairs with [P2]: a consumer that sees the message's sequence sees
 * everything the producer wrote into the slot before publishing it.
 * [P1] pairs with [C2]: a producer that sees the slot freed writes into it
 * only after the previous consumer has finished reading it.
 *
 * The CASes on tail and head only decide which producer (consumer) owns a
 * position; no data travels through them, so they are relaxed.  A claim
 * is made after the slot was seen ready: a slot with sequence == pos can
 * only change once position pos is claimed, and claiming it needs the CAS
 * from pos, so seeing the sequence and then winning the CAS means owning
 * that exact slot state.  The same argument covers reading a message's
 * length before claiming it, and the batch calls, which check a run of
 * slots and claim them with one CAS.
 *
 * The sequence change that publishes a message is done in one place,
 * dmxp__publish(), and the one that frees a slot in dmxp__free().  Each is
 * followed by a check for sleepers on the other side (lib/wait.c explains
 * why no wake-up is lost).  Both are a CAS from the state the claim left,
 * not a store: a slot that a repairer took from its claimer (believing it
 * dead, lib/proc.c) has moved on, maybe by a lap, and a store would
 * rewind it and stop the ring for good.  The call then reports its
 * message lost (-ECANCELED) and the ring goes on.
 *
 * A batch works in phases.  A send asks for the lines of up to RUN
 * slots ahead (prefetch_w()), writes the messages of a chunk of RUN
 * slots, then publishes them; a receive asks for its run's lines the
 * same way, copies every message, then frees every slot.  Each publish
 * and free is the same CAS as a single message's; only the order in
 * time changes, so the lines of a chunk cross between the CPUs together
 * rather than one message's at a time, and a consumer polling the first
 * slot of a chunk finds more of it ready when it looks.  Slots are
 * published in position order, so a batch cut short by a repairer has
 * delivered a prefix; a receive frees its run from the last slot back,
 * so that a producer waiting at the first finds the whole run free when
 * it sees that one.  A batch asks only for the slots it claimed: a slot
 * further on may hold a message a consumer is reading (on a full ring),
 * and a write prefetch would take its lines from under the consumer.  A
 * single send (or reserve) asks for its slot's payload line once it has
 * seen the slot free, just before it claims it (dmxp__send_prefetch()),
 * so that the miss overlaps the claim.
 *
 * The common case of a send and a receive (one slot, ready, the thread's
 * record cached) is inline in include/dmxp.h, which programs built
 * against 1.3 run in their own code: dmxp__send_try(), dmxp__recv_try(),
 * and what follows a claim, dmxp__send_claimed() and dmxp__recv_claimed(),
 * which the calls here use too.  This file keeps the loops (a lost CAS,
 * a full or empty ring, tombstones, batches) and the rare ends.
 *
 * Every claim names itself in a claim record first when the region has a
 * claim table; a thread or reference that gets no record claims nothing
 * (-ENOBUFS), since a claim no record names could not be repaired, and a
 * repairer could take it for a dead claimer's.
 *
 * A message at the head whose sender has claimed but not yet published
 * it makes the ring look empty to consumers behind it; a slot that a
 * consumer has claimed but not yet freed makes it look full to producers.
 * If that claimer died, the slot is repaired (lib/repair.c): before each
 * claiming CAS a thread writes the positions into its claim record, and
 * the CAS is a release so that a repairer that sees tail (head) past them
 * sees the record too ([R1]/[R2] in lib/claim.c).
 */
#include <string.h>

#include "internal.h"

/*
 * A batch's chunk (the note above): 32 slots, 64 lines asked for ahead.
 * Not tuned: the benchmark's batches are 32 (Documentation/performance.md).
 */
#define RUN		32

/* A batch claims at most a ring, and at most what one claim record holds. */
static inline unsigned int batch_max(const struct dmxp_chan *c, unsigned int n)
{
	if (n > c->f.capacity)
		n = (unsigned int)c->f.capacity;
	return n > DMXP_CLAIM_BATCH_MAX ? DMXP_CLAIM_BATCH_MAX : n;
}

/*
 * The publish of message @pos found the slot at @seq, not at @pos: a
 * repairer took it.  One that found the message whole published it
 * (sequence pos + 1, our meta); one that did not turned it into a
 * tombstone (DMXP_SEQ_REPAIRING(pos), then pos + 1 with the tombstone
 * flag).  1 when it was delivered, -ECANCELED when it was not or can no
 * longer be told (a consumer already took it and freed the slot).
 */
static int publish_repaired(struct dmxp_slot __shm *s, __u64 pos, __u64 seq)
{
	__u16 flags;

	if (seq != pos + 1)
		return -ECANCELED;
	/* Pairs with the repairer's release of the sequence: its meta. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	flags = READ_ONCE(s->meta.flags);
	/* Still pos + 1 after: the flags are the repairer's, not a next lap's. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (READ_ONCE(s->sequence) != pos + 1 || (flags & DMXP_MSG_TOMBSTONE))
		return -ECANCELED;
	return 1;
}

/*
 * Make message @pos visible to consumers.  Partner: [C1] load_acquire.
 * 0; or, when a repairer took the slot (and maybe the claim's record:
 * end it with claim_end_repaired()), 1 if it delivered the message,
 * -ECANCELED if the message is lost.
 */
static inline int ring_publish(struct dmxp_slot __shm *s, __u64 pos)
{
	__u64 seq;

	if (likely(dmxp__publish(s, pos, &seq)))	/* [P2] */
		return 0;
	return publish_repaired(s, pos, seq);
}

/*
 * Give slot @pos back to producers.  Partner: [P1] load_acquire.  0, or
 * -ECANCELED when a repairer freed it already: a producer may have
 * written into it while we read it.
 */
static inline int ring_free(const struct dmxp_chan *c, struct dmxp_slot __shm *s,
			    __u64 pos)
{
	return likely(dmxp__free(&c->f, s, pos)) ? 0 : -ECANCELED;	/* [C2] */
}

/*
 * This thread's claim record, NULL when the region has no claim table.
 * -ENOBUFS when it has one and no record is left for this thread: the
 * handle's pool (CLAIM_POOL) is lent out, or the table is full.
 */
static inline int thread_rec(struct dmxp_chan *c, struct dmxp_claim __shm **recp)
{
	*recp = dmxp__claim_thread(c->f.region);
	if (unlikely(!*recp && c->f.region->claims.srecs))
		return -ENOBUFS;
	return 0;
}

/*
 * The claim of @rec is over after one of its slots was found repaired:
 * a repairer took this process for dead and may have taken the record
 * over as well, in which case it is no longer ours to end.
 */
static void claim_end_repaired(struct dmxp_chan *c, struct dmxp_claim __shm *rec)
{
	if (rec && dmxp__claim_kept(c->f.region, rec))
		dmxp__claim_end(rec);
}

/*
 * Claim up to @n consecutive free slots for producing.  Returns how many
 * (>= 1) with *posp set to the first position, -EAGAIN when the ring is
 * full, or -EPROTO when the shared state contradicts the protocol.
 */
static int ring_claim_produce(struct dmxp_chan *c, unsigned int n, __u64 *posp,
			      struct dmxp_claim __shm *rec)
{
	__u64 pos = READ_ONCE(*c->f.stail);

	for (;;) {
		unsigned int k = 0;
		__s64 diff = 0;

		while (k < n) {
			/* [P1] pairs with [C2] in ring_free(). */
			__u64 seq = load_acquire(&ring_slot(c, pos + k)->sequence);

			diff = (__s64)(seq - (pos + k));
			if (diff)
				break;
			k++;
		}
		if (k) {
			/* [R1]/[R2]: the record, then the claim (lib/claim.c). */
			if (dmxp__claim_try(&c->f, rec, DMXP_CLAIM_SEND, c->f.stail, &pos, k)) {
				*posp = pos;
				return (int)k;
			}
			continue;	/* pos now holds the current tail */
		}
		if (diff < 0) {
			dmxp__idle(c, DMXP_NOTIFY_SEND);
			return -EAGAIN;	/* the slot still holds an older lap */
		}
		/*
		 * Another producer claimed pos: move on.  Its CAS of tail
		 * happened before the publish we saw, so tail has moved.
		 */
		{
			__u64 cur = READ_ONCE(*c->f.stail);

			if (cur == pos)
				return -EPROTO;
			pos = cur;
		}
	}
}

/*
 * The whole send, from the channel check on: what dmxp_chan_send() (in
 * dmxp.h, and below) calls when its one inline attempt cannot decide.
 */
__dmxp_export
int dmxp__chan_send_slow(struct dmxp_chan *c, const void *buf, size_t len, __u32 type)
{
	struct dmxp_claim __shm *rec;
	__u64 pos;
	int ret;

	if (unlikely(len > DMXP_MAX_PAYLOAD))
		return -EMSGSIZE;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = thread_rec(c, &rec);
	if (unlikely(ret))
		return ret;
	ret = ring_claim_produce(c, 1, &pos, rec);
	if (unlikely(ret < 0)) {
		dmxp__claim_drop(rec);
		return ret;
	}
	return dmxp__send_claimed(c, rec, pos, buf, len, type);
}

/* For programs built before the inline send, and for other languages. */
__dmxp_export
int dmxp_chan_send(struct dmxp_chan *c, const void *buf, size_t len, __u32 type)
{
	int ret;

	if (likely(dmxp__send_try(c, buf, len, type, &ret)))
		return ret;
	return dmxp__chan_send_slow(c, buf, len, type);
}

/*
 * dmxp__send_claimed() found the slot of message @pos at @seq: a repairer
 * took it, before the message was @written (it made a tombstone, whose
 * meta must not be written over) or after (the publish's CAS failed).
 */
__dmxp_export
int dmxp__send_repaired(struct dmxp_chan *c, struct dmxp_claim __shm *rec, __u64 pos,
			__u64 seq, int written)
{
	int ret = written ? publish_repaired(ring_slot(c, pos), pos, seq) : -ECANCELED;

	claim_end_repaired(c, rec);
	/* Published (or tombstoned) by the repairer: consumers may sleep. */
	dmxp__wake_consumers_fenced(c, 1);
	return ret > 0 ? 0 : ret;
}

/*
 * A batch's write prefetch: PREFETCHW where the CPU has it, else the
 * compiler's (on x86 a read prefetch unless the build's -march has
 * PREFETCHW; a write one elsewhere), as in 1.4.2, which asked only the
 * CPUID bit (the hint also follows the kernel's rule for AMD CPUs).
 */
static inline void prefetch_w(const struct dmxp_chan *c, const void __shm *p)
{
	const struct dmxp__region_fast *rf = dmxp__region(&c->f);

	if (likely(rf->hints & DMXP__HINT_PREFETCHW))
		dmxp__prefetch_w(rf, p);
	else
		__builtin_prefetch((const void *)p, 1, 3);
}

/*
 * The lines a batch send of @len bytes writes at a position it claimed:
 * its first, and the payload's.  The first slot's first line may be one
 * that a consumer polls, which then crosses twice: once a chunk.
 */
static inline void send_prefetch(const struct dmxp_chan *c, __u64 pos, __u32 len)
{
	struct dmxp_slot __shm *s = ring_slot(c, pos);

	prefetch_w(c, s);
	if (len)
		prefetch_w(c, s->payload);
}

__dmxp_export
int dmxp_chan_send_batch(struct dmxp_chan *c, const struct dmxp_smsg *msgs,
			 unsigned int n)
{
	struct dmxp_claim __shm *rec;
	bool repaired = false;
	__u64 pos, ts, seq;
	unsigned int i, c0, c1;
	int ret, k, lost = -1;

	if (!n || !msgs)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (msgs[i].len > DMXP_MAX_PAYLOAD)
			return -EMSGSIZE;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = thread_rec(c, &rec);
	if (unlikely(ret))
		return ret;
	ret = ring_claim_produce(c, batch_max(c, n), &pos, rec);
	if (unlikely(ret < 0)) {
		dmxp__claim_drop(rec);
		return ret;
	}

	ts = dmxp__stamp(&c->f);
	for (i = 0; i < (unsigned int)ret && i < RUN; i++)
		send_prefetch(c, pos + i, msgs[i].len);
	for (c0 = 0; c0 < (unsigned int)ret; c0 = c1) {
		c1 = (unsigned int)ret - c0 > RUN ? c0 + RUN : (unsigned int)ret;
		/* The chunk's messages, the next chunk's lines asked for. */
		for (i = c0; i < c1 && lost < 0; i++) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + i);

			if (i + RUN < (unsigned int)ret)
				send_prefetch(c, pos + i + RUN, msgs[i + RUN].len);
			if (unlikely(READ_ONCE(s->sequence) != pos + i)) {
				/* A repairer's tombstone already: not to be written over. */
				repaired = true;
				lost = (int)i;
				break;
			}
			if (msgs[i].len)
				memcpy(s->payload, msgs[i].buf, msgs[i].len);
			DMXP_HOOK(SEND_PAYLOAD);
			/*
			 * A tombstone until its publish: a repairer that
			 * tombstones the slot while this is written does not
			 * have its tombstone turned into a message by a store
			 * of ours landing last; only the publish below clears
			 * it, once it finds the slot not repaired.
			 */
			dmxp__meta_fill(&c->f, s, pos + i, ts, msgs[i].type, msgs[i].len,
					DMXP_MSG_TOMBSTONE);
		}
		if (c0 == 0)
			DMXP_HOOK(BATCH_WRITTEN);
		/* The chunk published, in position order. */
		for (i = c0; i < c1; i++) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + i);

			if (lost >= 0 && i >= (unsigned int)lost) {
				/*
				 * A message before this one was lost to a
				 * repairer: the caller resends from it, so this
				 * one must not arrive either.  A tombstone,
				 * unless the repairer made one already.
				 */
				if (load_acquire(&s->sequence) == pos + i) {
					dmxp__meta_fill(&c->f, s, pos + i, ts, 0, 0,
							DMXP_MSG_TOMBSTONE);
					ring_publish(s, pos + i);
				}
				continue;
			}
			/*
			 * A message now, unless a repairer came first: its
			 * tombstone stays one.  The CAS (a release) publishes.
			 * A repairer that tombstones the slot between the
			 * load and the store has its tombstone made an empty
			 * message by the store (the one window left, as 1.4.1
			 * had over its whole meta).  A repairer never delivers
			 * a batch's slot (its record is never SEND_WRITTEN), so
			 * any failed publish is a lost message, whatever
			 * publish_repaired() would make of our own flags.
			 */
			seq = READ_ONCE(s->sequence);
			if (likely(seq == pos + i)) {
				__atomic_store_n(&s->meta.flags, 0, __ATOMIC_RELAXED);
				k = ring_publish(s, pos + i);
			} else {
				k = -ECANCELED;
			}
			if (unlikely(k)) {
				repaired = true;
				lost = (int)i;	/* the first one lost */
			}
			if (i == 0)
				DMXP_HOOK(BATCH_PART);
		}
	}
	if (unlikely(repaired)) {
		claim_end_repaired(c, rec);
		dmxp__wake_consumers_fenced(c, (unsigned int)ret);
		if (lost >= 0)	/* those before it were sent */
			return lost ? lost : -ECANCELED;
		return ret;
	}
	if (rec)
		dmxp__claim_end(rec);
	dmxp__wake_consumers(c, (unsigned int)ret);
	return ret;
}

/*
 * Zero-copy references.  A reference is live from the dmxp_chan_reserve()
 * (dmxp_chan_peek()) that filled it to the one dmxp_chan_commit() or
 * dmxp_chan_abort() (dmxp_chan_release()) that ends it, which sets
 * ref->payload to NULL; a call that fails to fill it leaves it NULL too.
 * ref->meta tells the two kinds apart (NULL for a reservation), and
 * ref->claim names the claim record that the reference holds: its index
 * in the table and its bit in the handle's pool (dmxp__ref_claim() in
 * dmxp.h; 0 for none).  A reference outlives the call, so the record is
 * its own until it ends: the thread's cached one, lent (dmxp__ref_lend()),
 * or one of the pool when the thread's is lent already or busy.
 */
static bool ref_lend(struct dmxp_region *r, struct dmxp_claim __shm **recp, __u32 *bitp)
{
	const struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % CLAIM_TCACHE];

	if (dmxp__ref_lend(&r->f, recp, bitp))
		return true;
	if ((t->serial & ~DMXP__LENT) == r->f.claims_serial && t->pid == dmxp__pid) {
		/*
		 * Lent to a reference that is still held (its record in a
		 * claim), or in use: one of the pool.  A mark whose record is
		 * idle is of a loan that another thread ended, and the record
		 * went to the pool: forget it, and take one for the thread.
		 */
		if (!(t->serial & DMXP__LENT) || !t->srec ||
		    load_acquire(&t->srec->state) != DMXP_CLAIM_IDLE)
			return false;
		dmxp__claim_forget(r);
	}
	/* The thread's first call on the handle (in this process): its record, as a send's. */
	return dmxp__claim_thread(r) && dmxp__ref_lend(&r->f, recp, bitp);
}

static int ref_claim_take(struct dmxp_chan *c, struct dmxp_ref *ref,
			  struct dmxp_claim __shm **recp, __u32 side)
{
	struct dmxp_region *r = c->f.region;
	__u32 bit;

	if (ref_lend(r, recp, &bit)) {
		/*
		 * Until the claim names its positions, or the loan comes back
		 * (a full or empty ring), the record claims nothing on @side
		 * (count 0, which a repairer leaves): a signal handler in
		 * between finds it busy, not a mark whose record is idle,
		 * which it would take for stale.
		 */
		WRITE_ONCE((*recp)->count, 0);
		WRITE_ONCE((*recp)->state, side);
	} else {
		int b = dmxp__claim_take(r);

		if (b < 0) {
			*recp = NULL;
			return r->claims.srecs ? -ENOBUFS : 0;
		}
		bit = (__u32)b;
		*recp = dmxp__claim_rec(r, bit);
	}
	ref->claim = dmxp__ref_claim_of(&r->f, *recp, bit);
	return 0;
}

static void ref_clear(struct dmxp_ref *ref)
{
	ref->payload = NULL;
	ref->meta = NULL;
	ref->len = 0;
	ref->claim = 0;
}

/*
 * The reference is used up.  Its record goes back to the pool with the
 * claim ended ([R3]), unless the slot was @repaired and a repairer took
 * the record over: then it is not ours to end, and its bit stays taken.
 */
static void ref_end(struct dmxp_chan *c, struct dmxp_ref *ref, bool repaired)
{
	if (ref->claim) {
		struct dmxp_claim __shm *rec = &c->f.region->claims.srecs[DMXP__REF_REC(ref->claim)];

		if (!repaired || dmxp__claim_kept(c->f.region, rec)) {
			bool back = dmxp__claim_ref_back(c->f.region, ref->claim);

			dmxp__claim_end(rec);	/* [R3] */
			if (!back)
				dmxp__claim_ref_put(c->f.region, ref->claim);
		}
	}
	ref_clear(ref);
}

/*
 * Is @ref a live reference of @c, of dmxp_chan_peek() (@peeked) or of
 * dmxp_chan_reserve()?  0 or -EINVAL.  A copy of a reference that was
 * used since is caught by its record, which was given back (idle, or lent
 * again for another position); on a region without a claim table, by
 * its slot, which is no longer in the state the claim left it in.
 */
static int ref_check(struct dmxp_chan *c, const struct dmxp_ref *ref, bool peeked)
{
	struct dmxp_claims *cl = &c->f.region->claims;
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	unsigned int bit;

	if (!ref || !ref->payload || !ref->meta != !peeked)
		return -EINVAL;
	s = ring_slot(c, ref->pos);
	if (ref->payload != (void *)s->payload ||
	    (peeked && ref->meta != (const struct dmxp_msg_meta *)&s->meta))
		return -EINVAL;
	if (!cl->srecs)
		return load_acquire(&s->sequence) == ref->pos + peeked ? 0 : -EINVAL;
	bit = DMXP__REF_BIT(ref->claim);
	if (!(ref->claim & 0xff) || bit >= load_acquire(&cl->n) ||
	    !(READ_ONCE(cl->busy) & (1ULL << bit)) || DMXP__REF_REC(ref->claim) != cl->idx[bit])
		return -EINVAL;
	rec = dmxp__claim_rec(c->f.region, bit);
	if (READ_ONCE(rec->pos) != ref->pos || READ_ONCE(rec->chan) != c->f.id ||
	    READ_ONCE(rec->generation) != c->f.gen)
		return -EINVAL;
	/* A record a repairer took over may say anything: the slot decides. */
	if (READ_ONCE(rec->state) != (peeked ? DMXP_CLAIM_RECV : DMXP_CLAIM_SEND) &&
	    dmxp__claim_owned(c->f.region, rec))
		return -EINVAL;
	return 0;
}

__dmxp_export
int dmxp__chan_reserve_slow(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u64 pos;
	int ret;

	ref_clear(ref);
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = ref_claim_take(c, ref, &rec, DMXP_CLAIM_SEND);
	if (unlikely(ret))
		return ret;
	ret = ring_claim_produce(c, 1, &pos, rec);
	if (unlikely(ret < 0)) {
		ref_end(c, ref, false);
		return ret;
	}
	s = ring_slot(c, pos);
	ref->payload = s->payload;
	ref->pos = pos;
	return 0;
}

__dmxp_export
int dmxp__chan_commit_slow(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len, __u32 type)
{
	struct dmxp_slot __shm *s;
	int ret;

	ret = ref_check(c, ref, false);
	if (unlikely(ret))
		return ret;
	if (len > DMXP_MAX_PAYLOAD)
		return -EMSGSIZE;	/* still live: commit again or abort */
	/* A reservation from before a destroy must not land in a new ring. */
	ret = chan_check(c);
	if (unlikely(ret)) {
		ref_end(c, ref, false);
		return ret;
	}
	s = ring_slot(c, ref->pos);
	/* Repaired under us: the slot is not ours to write any more. */
	if (unlikely(load_acquire(&s->sequence) != ref->pos)) {
		ret = -ECANCELED;
	} else {
		dmxp__meta_fill(&c->f, s, ref->pos, dmxp__stamp(&c->f), type, (__u32)len, 0);
		ret = ring_publish(s, ref->pos);
	}
	ref_end(c, ref, ret != 0);
	if (likely(!ret))
		dmxp__wake_consumers(c, 1);
	else
		dmxp__wake_consumers_fenced(c, 1);
	return ret > 0 ? 0 : ret;	/* 1: a repairer delivered it */
}

/*
 * Returns int since 1.1 (void in 1.0).  The default symbol has version
 * LIBDMXP_1.1, so a program that reads the value refuses to load with a
 * 1.0 library; programs built against 1.0 bind to dmxp_chan_abort@
 * LIBDMXP_1.0, the same code, and ignore the return register, which a
 * void function leaves undefined anyway.  The same for release.
 */
__dmxp_export
int dmxp_chan_abort(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_slot __shm *s;
	bool repaired = false;
	int ret;

	ret = ref_check(c, ref, false);
	if (unlikely(ret))
		return ret;
	ret = chan_check(c);
	if (unlikely(ret)) {
		ref_end(c, ref, false);
		return ret;	/* the ring it was reserved in is gone */
	}
	s = ring_slot(c, ref->pos);
	/*
	 * A slot a repairer took is a tombstone already (a reservation's
	 * record never says SEND_WRITTEN): what abort asks for.
	 */
	if (unlikely(load_acquire(&s->sequence) != ref->pos)) {
		repaired = true;
	} else {
		dmxp__meta_fill(&c->f, s, ref->pos, dmxp__stamp(&c->f), 0, 0, DMXP_MSG_TOMBSTONE);
		repaired = ring_publish(s, ref->pos) != 0;
	}
	ref_end(c, ref, repaired);
	/* A consumer asleep behind the tombstone must skip it. */
	dmxp__wake_consumers_fenced(c, 1);
	return 0;
}

/*
 * What a consumer decided about a ready message before claiming it.
 */
struct peeked {
	__u32	len;		/* payload length, clamped to DMXP_MAX_PAYLOAD */
	bool	tombstone;
};

static inline struct peeked slot_peek(const struct dmxp_slot __shm *s)
{
	struct peeked p;

	p.len = dmxp__payload_len(s);
	p.tombstone = READ_ONCE(s->meta.flags) & DMXP_MSG_TOMBSTONE;
	return p;
}

/*
 * Claim up to @n consecutive ready messages.  @fits, if not NULL, is
 * asked for each non-tombstone message (in order, by its index among
 * them) whether it fits its buffer; the run stops before one that does
 * not.  Returns how many slots were claimed (>= 1) with *posp set, or
 * -EAGAIN (empty), -EMSGSIZE (the first message does not fit; it stays),
 * -EPROTO.  Inlined into each caller, whose @fits is then a known
 * function, inlined too: no indirect call per message.
 */
static inline __attribute__((always_inline))
int ring_claim_consume(struct dmxp_chan *c, unsigned int n, __u64 *posp,
		       bool (*fits)(void *arg, unsigned int i, __u32 len),
		       void *arg, struct dmxp_claim __shm *rec)
{
	__u64 pos = READ_ONCE(*c->f.shead);

	for (;;) {
		unsigned int k = 0, msgs = 0;
		bool too_big = false;
		__s64 diff = 0;

		while (k < n) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + k);
			/* [C1] pairs with [P2] in dmxp__publish() (dmxp.h). */
			__u64 seq = load_acquire(&s->sequence);
			struct peeked p;

			diff = (__s64)(seq - (pos + k + 1));
			if (diff)
				break;
			p = slot_peek(s);
			if (!p.tombstone) {
				if (fits && !fits(arg, msgs, p.len)) {
					too_big = true;
					break;
				}
				msgs++;
			}
			k++;
		}
		if (k) {
			/* [R1]/[R2]: the record, then the claim (lib/claim.c). */
			if (dmxp__claim_try(&c->f, rec, DMXP_CLAIM_RECV, c->f.shead, &pos, k)) {
				*posp = pos;
				return (int)k;
			}
			continue;
		}
		if (too_big) {
			/*
			 * The length read is only meaningful if the message
			 * is still unclaimed: check head did not move.  The
			 * fence orders the length read before the head read.
			 */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			{
				__u64 cur = READ_ONCE(*c->f.shead);

				if (cur == pos)
					return -EMSGSIZE;
				pos = cur;
			}
			continue;
		}
		if (diff < 0) {
			/*
			 * Not yet published.  A consumer polling here would
			 * take the sequence's line and then, once it flips,
			 * the payload's: asking for the payload's line now
			 * lets the two misses overlap (the busy-poll latency
			 * in Documentation/performance.md).
			 */
			__builtin_prefetch(ring_slot(c, pos + k)->payload, 0, 3);
			dmxp__idle(c, DMXP_NOTIFY_RECV);
			return -EAGAIN;
		}
		{
			/* Another consumer took pos; see ring_claim_produce(). */
			__u64 cur = READ_ONCE(*c->f.shead);

			if (cur == pos)
				return -EPROTO;
			pos = cur;
		}
	}
}

struct room {
	size_t	room;	/* in: the caller's buffer */
	__u32	need;	/* out: the length of a message that did not fit */
};

static bool fits_one(void *arg, unsigned int i, __u32 len)
{
	struct room *r = arg;

	(void)i;	/* n == 1: only message 0 is ever asked about */
	r->need = len;
	return len <= r->room;
}

/*
 * Claim exactly the next real message, skipping tombstones.  Returns 0
 * with *posp set, or a negative errno as ring_claim_consume().  @r is
 * NULL when any length fits (peek); inlined, so that each caller's
 * @fits is known.
 */
static inline __attribute__((always_inline))
int ring_claim_one(struct dmxp_chan *c, __u64 *posp, struct room *r,
		   struct dmxp_claim __shm *rec)
{
	for (;;) {
		struct dmxp_slot __shm *s;
		int ret = ring_claim_consume(c, 1, posp, r ? fits_one : NULL, r, rec);

		if (ret < 0)
			return ret;
		s = ring_slot(c, *posp);
		if (likely(!(s->meta.flags & DMXP_MSG_TOMBSTONE)))
			return 0;
		DMXP_HOOK(TOMBSTONE_CLAIMED);
		if (unlikely(ring_free(c, s, *posp))) {
			/*
			 * A repairer freed it first, and may have taken the
			 * record over: no claim again with it (-ECANCELED;
			 * the caller ends the record as a repaired one).
			 */
			dmxp__wake_producers_fenced(c, 1);
			return -ECANCELED;
		}
		dmxp__wake_producers_fenced(c, 1);
	}
}

/* The whole receive: see dmxp__chan_send_slow(). */
__dmxp_export
ssize_t dmxp__chan_recv_slow(struct dmxp_chan *c, void *buf, size_t len,
			     struct dmxp_msg_meta *meta)
{
	struct room room = { .room = len };
	struct dmxp_claim __shm *rec;
	__u64 pos;
	int ret;

	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = thread_rec(c, &rec);
	if (unlikely(ret))
		return ret;
	ret = ring_claim_one(c, &pos, &room, rec);
	if (unlikely(ret < 0)) {
		if (ret == -ECANCELED)
			claim_end_repaired(c, rec);
		else if (rec)
			dmxp__claim_end(rec);
		if (ret == -EMSGSIZE && meta) {
			/* Tell the caller how much room the message needs. */
			memset(meta, 0, sizeof(*meta));
			meta->payload_len = room.need;
		}
		return ret;
	}
	return dmxp__recv_claimed(c, rec, pos, buf, len, meta);
}

__dmxp_export
ssize_t dmxp_chan_recv(struct dmxp_chan *c, void *buf, size_t len,
		       struct dmxp_msg_meta *meta)
{
	ssize_t ret;

	if (likely(dmxp__recv_try(c, buf, len, meta, &ret)))
		return ret;
	return dmxp__chan_recv_slow(c, buf, len, meta);
}

/* dmxp__recv_claimed() found its slot freed by a repairer. */
__dmxp_export
int dmxp__recv_repaired(struct dmxp_chan *c, struct dmxp_claim __shm *rec)
{
	claim_end_repaired(c, rec);
	dmxp__wake_producers_fenced(c, 1);
	return -ECANCELED;
}

struct rbatch {
	const struct dmxp_rmsg *msgs;
	unsigned int n;
};

static bool fits_batch(void *arg, unsigned int i, __u32 len)
{
	const struct rbatch *b = arg;

	return i < b->n && len <= b->msgs[i].buf_len;
}

/*
 * A receive's run, by slot index in the run: the slots whose message
 * filled an entry (in order: the i-th set bit is entry i's slot), and,
 * once a free fails, the slots a repairer freed first.
 */
#define RUN_WORDS	(DMXP_CLAIM_BATCH_MAX / 64)
struct run {
	__u64	took[RUN_WORDS];
	__u64	lost[RUN_WORDS];
};

static inline bool run_has(const __u64 *w, unsigned int i)
{
	return w[i / 64] >> (i % 64) & 1;
}

/*
 * Some slots of the run were freed by a repairer before our free: what
 * was copied from them may be a later message's.  Their entries go, and
 * the messages after them move up, each to the next entry if it holds
 * it (one that does not is left out too).  Returns the entries left
 * filled of @got.
 */
static unsigned int run_drop_lost(struct dmxp_rmsg *msgs, const struct run *run, int k,
				  unsigned int got, int *lost)
{
	unsigned int i, from = 0, to = 0;

	for (i = 0; i < (unsigned int)k && from < got; i++) {
		if (!run_has(run->took, i))
			continue;
		if (run_has(run->lost, i)) {
			*lost = -ECANCELED;
			from++;
			continue;
		}
		if (from != to) {
			if (msgs[from].len > msgs[to].buf_len) {
				*lost = -ECANCELED;	/* the repair moved it */
				from++;
				continue;
			}
			if (msgs[from].len)
				memmove(msgs[to].buf, msgs[from].buf, msgs[from].len);
			msgs[to].len = msgs[from].len;
			msgs[to].meta = msgs[from].meta;
		}
		from++;
		to++;
	}
	return to;
}

/* The lines a receive at @pos reads: its first (freed too) and the payload's. */
static inline void recv_prefetch(const struct dmxp_chan *c, __u64 pos)
{
	struct dmxp_slot __shm *s = ring_slot(c, pos);

	prefetch_w(c, s);
	__builtin_prefetch((const void *)s->payload, 0, 3);
}

__dmxp_export
int dmxp_chan_recv_batch(struct dmxp_chan *c, struct dmxp_rmsg *msgs,
			 unsigned int n)
{
	struct rbatch b = { msgs, n };
	struct dmxp_claim __shm *rec;
	bool repaired = false;
	unsigned int got = 0;
	int ret, lost = 0;

	if (!n || !msgs)
		return -EINVAL;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = thread_rec(c, &rec);
	if (unlikely(ret))
		return ret;
	/* A record a repairer may have taken over is not claimed with again. */
	while (got == 0 && !lost && !repaired) {
		struct run run;
		__u64 pos, took = 0;
		int k, i;

		ret = ring_claim_consume(c, batch_max(c, n), &pos, fits_batch, &b, rec);
		if (ret < 0)
			break;
		DMXP_HOOK(RECV_CLAIMED);
		k = ret;
		for (i = 0; i < k && i < RUN; i++)
			recv_prefetch(c, pos + (__u64)i);
		/*
		 * The run may hold tombstones: skip them, they fill no buffer.
		 * Each message goes to the next entry; its length is read once,
		 * and one that no longer fits (it fitted before the claim: a
		 * process wrote into a slot it does not own) is left out.
		 */
		for (i = 0; i < k; i++) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + (__u64)i);
			struct dmxp_rmsg *m = &msgs[got];
			struct peeked p;

			if (i && !(i % 64)) {
				run.took[i / 64 - 1] = took;
				took = 0;
			}
			if (i + RUN < k)
				recv_prefetch(c, pos + (__u64)(i + RUN));
			p = slot_peek(s);
			if (p.tombstone)
				continue;
			if (got < n && p.len <= m->buf_len) {
				if (p.len)
					dmxp__payload_copy(m->buf, s->payload, p.len);
				memcpy(&m->meta, &s->meta, sizeof(m->meta));
				m->meta.payload_len = p.len;
				m->len = p.len;
				took |= 1ULL << (i % 64);
				got++;
			} else {
				lost = -EPROTO;
			}
		}
		run.took[(k - 1) / 64] = took;
		DMXP_HOOK(RECV_COPIED);
		/* From the last: a producer waiting at the first then finds the run free. */
		for (i = k - 1; i >= 0; i--) {
			if (likely(!ring_free(c, ring_slot(c, pos + (__u64)i), pos + (__u64)i)))
				continue;
			if (!repaired)
				memset(run.lost, 0, sizeof(run.lost));
			run.lost[i / 64] |= 1ULL << (i % 64);
			repaired = true;
		}
		if (likely(!repaired)) {
			dmxp__wake_producers(c, (unsigned int)k);
		} else {
			got = run_drop_lost(msgs, &run, k, got, &lost);
			if (!got && !lost)
				lost = -ECANCELED;	/* tombstones only: none was ours to give */
			dmxp__wake_producers_fenced(c, (unsigned int)k);
		}
	}
	if (unlikely(repaired))
		claim_end_repaired(c, rec);
	else
		dmxp__claim_drop(rec);
	if (got)
		return (int)got;
	return lost ? lost : ret;
}

__dmxp_export
int dmxp__chan_peek_slow(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u64 pos;
	int ret;

	ref_clear(ref);
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	ret = ref_claim_take(c, ref, &rec, DMXP_CLAIM_RECV);
	if (unlikely(ret))
		return ret;
	ret = ring_claim_one(c, &pos, NULL, rec);
	if (unlikely(ret < 0)) {
		ref_end(c, ref, ret == -ECANCELED);
		return ret;
	}
	s = ring_slot(c, pos);
	ref->payload = s->payload;
	ref->meta = &s->meta;
	ref->len = slot_peek(s).len;
	ref->pos = pos;
	return 0;
}

__dmxp_export
int dmxp__chan_release_slow(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	int ret;

	ret = ref_check(c, ref, true);
	if (unlikely(ret))
		return ret;
	/* A peek from before a destroy must not free a slot of a new ring. */
	ret = chan_check(c);
	if (unlikely(ret)) {
		ref_end(c, ref, false);
		return ret;
	}
	ret = ring_free(c, ring_slot(c, ref->pos), ref->pos);
	ref_end(c, ref, ret != 0);
	if (likely(!ret))
		dmxp__wake_producers(c, 1);
	else
		dmxp__wake_producers_fenced(c, 1);
	return ret;
}

/*
 * For programs built before the inline zero-copy calls, and for other
 * languages: the inline attempt of dmxp.h, then the whole call.
 */
__dmxp_export
int dmxp_chan_reserve(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	if (likely(dmxp__reserve_try(c, ref)))
		return 0;
	return dmxp__chan_reserve_slow(c, ref);
}

__dmxp_export
int dmxp_chan_commit(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len, __u32 type)
{
	int ret;

	if (likely(dmxp__commit_try(c, ref, len, type, &ret)))
		return ret;
	return dmxp__chan_commit_slow(c, ref, len, type);
}

__dmxp_export
int dmxp_chan_peek(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	if (likely(dmxp__peek_try(c, ref)))
		return 0;
	return dmxp__chan_peek_slow(c, ref);
}

/* Returns int since 1.1, with the 1.0 symbol: see dmxp_chan_abort(). */
__dmxp_export
int dmxp_chan_release(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	int ret;

	if (likely(dmxp__release_try(c, ref, &ret)))
		return ret;
	return dmxp__chan_release_slow(c, ref);
}

/*
 * The inline commit's publish (release's free) found the slot taken by
 * a repairer: what dmxp__chan_commit_slow() (release) does then.
 */
__dmxp_export
int dmxp__commit_repaired(struct dmxp_chan *c, struct dmxp_ref *ref, __u64 seq)
{
	int ret = publish_repaired(ring_slot(c, ref->pos), ref->pos, seq);

	ref_end(c, ref, true);
	dmxp__wake_consumers_fenced(c, 1);
	return ret > 0 ? 0 : ret;	/* 1: a repairer delivered it */
}

__dmxp_export
int dmxp__release_repaired(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	ref_end(c, ref, true);
	dmxp__wake_producers_fenced(c, 1);
	return -ECANCELED;
}

/* The inline end of a reference whose record goes to the pool (its claim ended). */
__dmxp_export
void dmxp__ref_put(struct dmxp_chan *c, __u32 claim)
{
	dmxp__claim_ref_put(c->f.region, claim);
}

/*
 * The shared library's versions of the two calls whose return type became
 * int: the default, LIBDMXP_1.1, and the one programs built against 1.0
 * bound to.  Both names are in both nodes of libdmxp.map, as ld needs;
 * the static library has no versions, and its plain names are these.
 */
#ifdef DMXP_SHARED
#define DMXP_VERSIONED(name)							\
	__dmxp_export __attribute__((alias(#name))) int name##_1_0(struct dmxp_chan *c,	\
								  struct dmxp_ref *ref);	\
	__dmxp_export __attribute__((alias(#name))) int name##_1_1(struct dmxp_chan *c,	\
								  struct dmxp_ref *ref);	\
	__asm__(".symver " #name "_1_0, " #name "@LIBDMXP_1.0");			\
	__asm__(".symver " #name "_1_1, " #name "@@LIBDMXP_1.1")
DMXP_VERSIONED(dmxp_chan_abort);
DMXP_VERSIONED(dmxp_chan_release);
#endif
