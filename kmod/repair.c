// SPDX-License-Identifier: GPL-2.0
/*
 * Crash repair: the claims of a file that is gone.
 *
 * Before claiming ring positions a userspace thread writes them into its
 * record of the region's claim table (lib/claim.c has the protocol).  On
 * /dev/dmxp a record names its owner by the lease the module gave the
 * file at attach.  When that file is released nothing can write through
 * it any more (every mapping holds the file), so its owner is proven
 * dead, and what its records claim is repaired here:
 *
 *	SEND_WRITTEN, slot never published	published as it is
 *	SEND, slot never published		published as a tombstone
 *	RECV, slot never freed			freed (the message was taken)
 *
 * A position also named by a record of a live lease may be that lease's
 * (the dead record was written before a CAS that then failed); it is left
 * and the pass retried later, until it is published or the other lease
 * dies too.  The module's own claims (channel fd read and write) have no
 * record; a pass waits while any is in flight on the channel.  Each
 * repair is a cmpxchg on the slot's sequence from the state the claim
 * left, so a slot is repaired at most once.
 *
 * The table is in the mapping, so any process of the region can write
 * anything there.  Each value is read once and validated against the
 * module's own copy of the channel; positions are masked; the work of a
 * pass is bounded (REPAIR_BUDGET) and the rest left for the next one.
 * A hostile record can at worst make the module repair slots of its own
 * region, which that process could as well have written itself.
 */
#include <linux/atomic.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dmxp.h"

#define REPAIR_BUDGET	65536	/* position checks and records read in one pass */
#define REPAIR_RETRY	msecs_to_jiffies(2)	/* then doubling, up to a second */
#define REPAIR_RETRY_MAX	HZ

/* A live record, as read once for the cover check. */
struct live_rec {
	u64	pos;
	u32	count;
	u32	state;
};

static bool lease_live(struct dmxp_region *r, u32 owner)
{
	struct dmxp_lease *l;

	lockdep_assert_held(&r->lock);
	list_for_each_entry(l, &r->leases, node)
		if (l->id == owner)
			return true;
	return false;
}

static bool side_send(u32 state)
{
	return state == DMXP_CLAIM_SEND || state == DMXP_CLAIM_SEND_WRITTEN;
}

static struct dmxp_claim *claim_table(struct dmxp_region *r)
{
	return r->mem + r->claims_offset;
}

/*
 * The live leases' records claiming on channel @id (generation @gen) on
 * the side of @state, read after the channel's tail and head.  Returns
 * how many are in @live.
 */
static unsigned int live_snapshot(struct dmxp_region *r, u32 id, u32 gen, u32 state,
				  struct live_rec *live)
{
	struct dmxp_claim *tab = claim_table(r);
	unsigned int i, n = 0;

	for (i = 0; i < r->claims_count; i++) {
		struct dmxp_claim *rec = &tab[i];
		u32 owner = READ_ONCE(rec->owner);
		u32 st;

		if (!owner || !lease_live(r, owner))
			continue;
		/* Pairs with the release of the state by the claim's end. */
		st = smp_load_acquire(&rec->state);
		if (st == DMXP_CLAIM_IDLE || st > DMXP_CLAIM_RECV ||
		    side_send(st) != side_send(state))
			continue;
		if (READ_ONCE(rec->chan) != id || READ_ONCE(rec->generation) != gen)
			continue;
		live[n].pos = READ_ONCE(rec->pos);
		live[n].count = READ_ONCE(rec->count);
		live[n].state = st;
		n++;
	}
	return n;
}

static bool covered(const struct live_rec *live, unsigned int n, u64 p)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p - live[i].pos < live[i].count)
			return true;
	return false;
}

static void counted(struct dmxp_kchan *kc, struct dmxp_channel_entry *e, bool tomb)
{
	/* The module's own counts for sysfs, and the region's for dmxpctl. */
	atomic64_inc(&kc->repaired);
	__atomic_fetch_add(&e->repaired, 1, __ATOMIC_RELAXED);
	if (tomb) {
		atomic64_inc(&kc->tombstoned);
		__atomic_fetch_add(&e->tombstoned, 1, __ATOMIC_RELAXED);
	}
}

static void tombstone_write(struct dmxp_slot *s, u64 p, u32 id)
{
	WRITE_ONCE(s->meta.message_id, p);
	WRITE_ONCE(s->meta.timestamp_ns, ktime_get_ns());
	WRITE_ONCE(s->meta.channel_id, id);
	WRITE_ONCE(s->meta.message_type, 0);
	WRITE_ONCE(s->meta.sender_pid, 0);
	WRITE_ONCE(s->meta.sender_runtime, DMXP_RUNTIME_KERNEL);
	WRITE_ONCE(s->meta.flags, DMXP_MSG_TOMBSTONE);
	WRITE_ONCE(s->meta.payload_len, 0);
	WRITE_ONCE(s->meta.__pad, 0);
}

/*
 * A sleeper that died counted in a waiter word (lib/wait.c): take its
 * count out, unless the word is already 0.  Bounded: a mapper changing
 * the word all the time only leaves it as it was.
 */
static void waiter_put(struct dmxp_channel_entry *e, u32 state)
{
	u32 *w = state == DMXP_CLAIM_WAIT_RECV ? &e->recv_waiters : &e->send_waiters;
	unsigned int tries;

	for (tries = 0; tries < 64; tries++) {
		u32 n = READ_ONCE(*w);

		if (!n || cmpxchg(w, n, n - 1) == n)
			return;
	}
}

/*
 * Repair the positions dead record @rec holds.  Returns true when some
 * must wait for a later pass.  *budget counts down the work.
 */
static bool repair_record(struct dmxp_region *r, struct dmxp_claim *rec,
			  struct live_rec *live, unsigned int *budget)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	u32 state = READ_ONCE(rec->state);
	u32 id = READ_ONCE(rec->chan);
	u32 count = READ_ONCE(rec->count);
	u32 gen = READ_ONCE(rec->generation);
	u64 pos = READ_ONCE(rec->pos);
	struct dmxp_channel_entry *e;
	struct dmxp_kchan *kc;
	struct dmxp_slot *slots;
	bool pending = false;
	u64 tail, head, k;
	unsigned int nlive;
	u32 done = 0;

	if (state == DMXP_CLAIM_IDLE || state > DMXP_CLAIM_WAIT_SEND ||
	    id >= DMXP_MAX_CHANNELS)
		return false;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);
	kc = &r->chan[id];
	/* A channel destroyed since took the claim with it. */
	if (!kc->created || kc->generation != gen)
		return false;
	if (state == DMXP_CLAIM_WAIT_RECV || state == DMXP_CLAIM_WAIT_SEND) {
		waiter_put(&h->channels[id], state);
		return false;
	}
	if (!count || count > DMXP_CLAIM_BATCH_MAX)
		return false;
	count = min_t(u64, count, kc->capacity);
	/* The positions, and the scan of the table for live records. */
	if (count + r->claims_count > *budget)
		return true;
	*budget -= count + r->claims_count;

	e = &h->channels[id];
	slots = r->mem + kc->band_offset;
	/*
	 * tail and head before the records: pairs with the release CAS of a
	 * claim, so a live claim they passed has its record seen below.
	 */
	tail = smp_load_acquire(&e->tail);
	/* As for tail: pairs with the consumers' release CAS of head. */
	head = smp_load_acquire(&e->head);
	nlive = live_snapshot(r, id, gen, state, live);
	/*
	 * A read() or write() in flight has no record and may hold any
	 * position: wait for it (its count rose before its claim).
	 */
	if (atomic_read_acquire(&kc->kclaims))
		return true;

	for (k = 0; k < count; k++) {
		u64 p = pos + k;
		struct dmxp_slot *s = &slots[p & (kc->capacity - 1)];
		/* Pairs with the release of the sequence by publish and free. */
		u64 seq = smp_load_acquire(&s->sequence);

		if (state == DMXP_CLAIM_REPAIR) {
			/* A repairer died between its mark and its tombstone. */
			if (seq != DMXP_SEQ_REPAIRING(p))
				continue;
			tombstone_write(s, p, id);
			/* Partner: the consumers' acquire of the sequence. */
			smp_wmb();
			if (cmpxchg(&s->sequence, seq, p + 1) == seq) {
				counted(kc, e, true);
				done++;
			}
		} else if (side_send(state)) {
			if (seq != p || (s64)(tail - p) <= 0)
				continue;	/* published, or never claimed */
			if (covered(live, nlive, p)) {
				pending = true;
				continue;
			}
			if (state == DMXP_CLAIM_SEND_WRITTEN) {
				/* Whole: deliver it. */
				if (cmpxchg(&s->sequence, p, p + 1) == p) {
					counted(kc, e, false);
					done++;
				}
				continue;
			}
			if (cmpxchg(&s->sequence, p, DMXP_SEQ_REPAIRING(p)) != p)
				continue;
			tombstone_write(s, p, id);
			/* Partner: the consumers' acquire of the sequence. */
			smp_store_release(&s->sequence, p + 1);
			counted(kc, e, true);
			done++;
		} else {
			if (seq != p + 1 || (s64)(head - p) <= 0)
				continue;	/* freed, or never claimed */
			if (covered(live, nlive, p)) {
				pending = true;
				continue;
			}
			/* Partner: the producers' acquire of the sequence. */
			if (cmpxchg(&s->sequence, p + 1, p + kc->capacity) == p + 1) {
				counted(kc, e, false);
				done++;
			}
		}
		if (!(k & 1023))
			cond_resched();
	}
	if (done)
		dmxp_chan_wake(r, id, DMXP_NOTIFY_RECV | DMXP_NOTIFY_SEND);
	return pending;
}

/*
 * One pass over the table: repair and free the records whose lease is
 * gone.  Returns true when something is left for a later pass.
 */
static bool repair_pass(struct dmxp_region *r)
{
	struct dmxp_claim *tab = claim_table(r);
	unsigned int budget = REPAIR_BUDGET;
	struct live_rec *live;
	bool pending = false;
	unsigned int i;

	lockdep_assert_held(&r->lock);
	if (!r->claims_count || r->destroyed)
		return false;
	live = kvmalloc_array(r->claims_count, sizeof(*live), GFP_KERNEL);
	if (!live)
		return true;
	for (i = 0; i < r->claims_count; i++) {
		struct dmxp_claim *rec = &tab[i];
		u32 owner = READ_ONCE(rec->owner);

		if (!(i & 63))
			cond_resched();
		if (!owner || lease_live(r, owner))
			continue;
		if (repair_record(r, rec, live, &budget)) {
			pending = true;
			continue;
		}
		WRITE_ONCE(rec->state, DMXP_CLAIM_IDLE);
		/* The record is free for a new owner once the repair is done. */
		cmpxchg_release(&rec->owner, owner, 0);
	}
	kvfree(live);
	return pending;
}

static void repair_work_fn(struct work_struct *work)
{
	struct dmxp_region *r = container_of(to_delayed_work(work), struct dmxp_region,
					     repair_work);
	bool queued = false;

	mutex_lock(&r->lock);
	/*
	 * Requeued under the lock, which region_unlink() takes to set
	 * destroyed: no work is queued once the region is going.  The
	 * pending work holds a region reference; a requeue keeps it.
	 */
	if (repair_pass(r) && !r->destroyed) {
		r->repair_delay = min_t(unsigned long, r->repair_delay * 2, REPAIR_RETRY_MAX);
		queued = queue_delayed_work(system_wq, &r->repair_work, r->repair_delay);
	}
	mutex_unlock(&r->lock);
	if (!queued)
		dmxp_region_put(r);
}

void dmxp_repair_init(struct dmxp_region *r)
{
	mutex_init(&r->lock);
	INIT_LIST_HEAD(&r->leases);
	INIT_DELAYED_WORK(&r->repair_work, repair_work_fn);
}

/* Attach: a new lease for the file's records. */
u32 dmxp_lease_add(struct dmxp_region *r, struct dmxp_lease *l)
{
	mutex_lock(&r->lock);
	if (!++r->next_lease)
		++r->next_lease;	/* 0 names no owner */
	l->id = r->next_lease;
	list_add(&l->node, &r->leases);
	mutex_unlock(&r->lock);
	return l->id;
}

/* The file is released: its lease ends and what it held is repaired. */
void dmxp_lease_del(struct dmxp_region *r, struct dmxp_lease *l)
{
	mutex_lock(&r->lock);
	list_del(&l->node);
	if (repair_pass(r) && !r->destroyed) {
		dmxp_region_get(r);
		r->repair_delay = REPAIR_RETRY;
		if (!queue_delayed_work(system_wq, &r->repair_work, r->repair_delay))
			dmxp_region_put(r);	/* already queued, with its own */
	}
	mutex_unlock(&r->lock);
}

/* The region goes: no repair may run after this. */
void dmxp_repair_stop(struct dmxp_region *r)
{
	if (cancel_delayed_work_sync(&r->repair_work))
		dmxp_region_put(r);
}
