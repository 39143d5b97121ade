// SPDX-License-Identifier: GPL-2.0
/*
 * Crash repair: the claims of a file that is gone.
 *
 * Before claiming ring positions a userspace thread writes them into its
 * record of the region's claim table (lib/claim.c has the protocol; the
 * rules of a repair, shared with it, are in common/dmxp_rules.h).  On
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
 *
 * Cost: leases live in an xarray (a lookup is O(log leases), whatever
 * the number of bindings, read-only ones included); a pass reads every
 * channel's tail and head and the live records once, and each dead
 * record then costs its positions plus one filter of that snapshot.
 * Every lookup, record and position counts against REPAIR_BUDGET; what
 * is left over waits for the next pass.  Passes run only in the work
 * item, never in the task that closes a file or exits: a release queues
 * the work at once (no delay), which keeps repair within a few
 * milliseconds of the release (selftests/test_crash).
 */
#include <linux/atomic.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "dmxp.h"

#define REPAIR_BUDGET	65536	/* lookups, records and positions in one pass */
#define REPAIR_RETRY	msecs_to_jiffies(2)	/* then doubling, up to a second */
#define REPAIR_RETRY_MAX	HZ
/*
 * A dead record whose positions only a live record holds is retried too,
 * doubling up to half a minute: such cover is either brief (a live
 * claimer whose CAS for the position is failing) or the live claim's own
 * (the position is then not the dead record's to repair, and a live
 * claimer's death queues a pass at once).  Retrying it every second would
 * let a mapper that forges such records keep a worker busy for nothing.
 */
#define REPAIR_COVERED_MAX	(30 * HZ)

/* Repair work only: destroyed when the module goes, which drains it. */
static struct workqueue_struct *dmxp_repair_wq;

/*
 * A record of the pass's snapshot, as read once: a live lease's claim, or
 * a dead lease's whole message (@dead), which a tombstone repair of the
 * same position must leave to that record's own repair (repair_record()).
 */
struct live_rec {
	struct dmxp_rules_claim	c;	/* count 1..DMXP_CLAIM_BATCH_MAX */
	bool			dead;	/* a dead lease's SEND_WRITTEN record */
};

/* One pass's state: the snapshot and the work left. */
struct repair_pass {
	unsigned int	budget;
	unsigned int	nlive;
	bool		soon;		/* work left that is not only covered */
	u64		tail[DMXP_MAX_CHANNELS];	/* read before the snapshot */
	u64		head[DMXP_MAX_CHANNELS];
	s32		cover[DMXP_CLAIM_BATCH_MAX + 1];	/* see cover_marks() */
	struct live_rec	*sub;		/* live records of one channel and side */
	struct live_rec	live[];		/* claims_count */
};

/* O(log leases), under the xarray's RCU: no lock needed. */
static bool lease_live(struct dmxp_kregion *r, u32 owner)
{
	return xa_load(&r->leases, owner);
}

static struct dmxp_claim *claim_table(struct dmxp_kregion *r)
{
	return r->mem + r->claims_offset;
}

/*
 * Every created channel's tail and head, then the live leases' records
 * that claim positions.  tail and head come first: pairs with the release
 * CAS of a claim, so a live claim they passed has its record seen after.
 */
static void live_snapshot(struct dmxp_kregion *r, struct repair_pass *ps)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	struct dmxp_claim *tab = claim_table(r);
	unsigned int i, n = 0;

	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		struct dmxp_kchan *kc = r->chan[i];	/* set under r->lock, held */

		if (!kc || !kc->created)
			continue;
		/* Pairs with the producers' release CAS of tail. */
		ps->tail[i] = smp_load_acquire(&h->channels[i].tail);
		/* As for tail: pairs with the consumers' release CAS of head. */
		ps->head[i] = smp_load_acquire(&h->channels[i].head);
	}
	ps->budget -= DMXP_MAX_CHANNELS;

	for (i = 0; i < r->claims_count; i++) {
		struct dmxp_claim *rec = &tab[i];
		u32 owner = READ_ONCE(rec->owner);
		u32 st, count;

		if (!(i & 63))
			cond_resched();
		if (!owner)
			continue;
		/* Pairs with the release of the state by the claim's end. */
		st = smp_load_acquire(&rec->state);
		if (!dmxp_rules_claiming(st))
			continue;
		/* A dead record covers only as SEND_WRITTEN: dmxp_rules_cover(). */
		ps->live[n].dead = !lease_live(r, owner);
		if (ps->live[n].dead && st != DMXP_CLAIM_SEND_WRITTEN)
			continue;
		count = READ_ONCE(rec->count);
		if (!count)
			continue;
		ps->live[n].c.pos = READ_ONCE(rec->pos);
		/* Longer than any claim: it holds at most that, and defers. */
		ps->live[n].c.count = min_t(u32, count, DMXP_CLAIM_BATCH_MAX);
		ps->live[n].c.chan = READ_ONCE(rec->chan);
		ps->live[n].c.generation = READ_ONCE(rec->generation);
		ps->live[n].c.state = st;
		n++;
	}
	ps->budget -= r->claims_count;
	ps->nlive = n;
}

/*
 * Mark which of [pos, pos + count) the @nsub live records of ps->sub
 * hold: a difference array, ps->cover[k] summed over 0..k is the number
 * of them holding pos + k.  O(nsub + count), not O(nsub * count).
 */
static void cover_marks(struct repair_pass *ps, unsigned int nsub, u64 pos, u32 count)
{
	unsigned int j;

	memset(ps->cover, 0, (count + 1) * sizeof(ps->cover[0]));
	for (j = 0; j < nsub; j++) {
		u64 lp = ps->sub[j].c.pos, start, end;
		u32 lc = ps->sub[j].c.count;

		/* Both ranges are at most DMXP_CLAIM_BATCH_MAX long. */
		if (lp - pos < count) {
			start = lp - pos;
			end = min_t(u64, count, start + lc);
		} else if (pos - lp < lc) {
			start = 0;
			end = min_t(u64, count, lc - (pos - lp));
		} else {
			continue;
		}
		ps->cover[start]++;
		ps->cover[end]--;
	}
}

static void shared_inc(u64 *p)
{
	unsigned int tries;

	/* The region's count for dmxpctl; a mapper can also write it: bounded. */
	for (tries = 0; tries < 64; tries++) {
		u64 n = READ_ONCE(*p);

		if (cmpxchg64_relaxed(p, n, n + 1) == n)
			return;
	}
}

static void counted(struct dmxp_kchan *kc, struct dmxp_channel_entry *e, bool tomb)
{
	/* The module's own counts for sysfs, and the region's for dmxpctl. */
	atomic64_inc(&kc->repaired);
	shared_inc(&e->repaired);
	if (tomb) {
		atomic64_inc(&kc->tombstoned);
		shared_inc(&e->tombstoned);
	}
}

/* The module's tombstone says the kernel wrote it: pid 0, runtime KERNEL. */
static void tombstone_write(struct dmxp_slot *s, u64 p, u32 id)
{
	struct dmxp_msg_meta m;

	dmxp_rules_tombstone_meta(&m, p, id, ktime_get_ns(), 0, DMXP_RUNTIME_KERNEL);
	WRITE_ONCE(s->meta.message_id, m.message_id);
	WRITE_ONCE(s->meta.timestamp_ns, m.timestamp_ns);
	WRITE_ONCE(s->meta.channel_id, m.channel_id);
	WRITE_ONCE(s->meta.message_type, m.message_type);
	WRITE_ONCE(s->meta.sender_pid, m.sender_pid);
	WRITE_ONCE(s->meta.sender_runtime, m.sender_runtime);
	WRITE_ONCE(s->meta.flags, m.flags);
	WRITE_ONCE(s->meta.payload_len, m.payload_len);
	WRITE_ONCE(s->meta.__pad, m.__pad);
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
 * The dead record @rec, each value read once into @c and checked
 * (dmxp_rules_record_valid(), dmxp_rules_hold()) against the module's own
 * copy of the channel.  Returns the channel when @c holds positions, else
 * NULL: the record is then done with (a dead sleeper's count taken out).
 */
static struct dmxp_kchan *record_read(struct dmxp_kregion *r, struct dmxp_claim *rec,
				      struct dmxp_rules_claim *c)
{
	struct dmxp_kchan *kc;
	u32 id;

	c->state = READ_ONCE(rec->state);
	c->chan = READ_ONCE(rec->chan);
	c->count = READ_ONCE(rec->count);
	c->generation = READ_ONCE(rec->generation);
	c->pos = READ_ONCE(rec->pos);
	if (!dmxp_rules_record_valid(c->state, c->chan))
		return NULL;
	id = array_index_nospec(c->chan, DMXP_MAX_CHANNELS);
	c->chan = id;
	kc = r->chan[id];	/* set under r->lock, held */
	/* Never created, or destroyed since: it took the claim with it. */
	if (!kc || !kc->created)
		return NULL;
	switch (dmxp_rules_hold(c->state, c->generation, kc->generation, kc->capacity,
				&c->count)) {
	case DMXP_RULES_HOLD_WAITER:
		waiter_put(&dmxp_hdr(r)->channels[id], c->state);
		return NULL;
	case DMXP_RULES_HOLD_NONE:
		return NULL;
	case DMXP_RULES_HOLD_POSITIONS:
		break;
	}
	return kc;
}

/*
 * The records of the snapshot that hold positions against the repair of
 * @c (dmxp_rules_covers()), into ps->sub; returns how many.
 */
static unsigned int cover_filter(struct repair_pass *ps, const struct dmxp_rules_claim *c)
{
	unsigned int j, nsub = 0;

	for (j = 0; j < ps->nlive; j++)
		if (dmxp_rules_covers(&ps->live[j].c, !ps->live[j].dead, c->state, c->chan,
				      c->generation))
			ps->sub[nsub++] = ps->live[j];
	return nsub;
}

/*
 * Act on decision @d for position @p, whose slot @s held @seq: each
 * repair is a cmpxchg from the state the claim left, so it happens once.
 * Returns true when this pass repaired the slot.
 */
static bool repair_apply(struct dmxp_kchan *kc, struct dmxp_channel_entry *e,
			 struct dmxp_slot *s, u64 p, u64 seq, enum dmxp_rules_repair d,
			 u32 id)
{
	switch (d) {
	case DMXP_RULES_FINISH_TOMBSTONE:
		/* A repairer died between its mark and its tombstone. */
		tombstone_write(s, p, id);
		/* Partner: the consumers' acquire of the sequence. */
		smp_wmb();
		if (cmpxchg64(&s->sequence, seq, p + 1) != seq)
			return false;
		counted(kc, e, true);
		return true;
	case DMXP_RULES_DELIVER:
		/* Whole: deliver it. */
		if (cmpxchg64(&s->sequence, p, p + 1) != p)
			return false;
		counted(kc, e, false);
		return true;
	case DMXP_RULES_TOMBSTONE:
		if (cmpxchg64(&s->sequence, p, DMXP_SEQ_REPAIRING(p)) != p)
			return false;
		tombstone_write(s, p, id);
		/* Partner: the consumers' acquire of the sequence. */
		smp_store_release(&s->sequence, p + 1);
		counted(kc, e, true);
		return true;
	case DMXP_RULES_FREE:
		/* Partner: the producers' acquire of the sequence. */
		if (cmpxchg64(&s->sequence, p + 1, p + kc->capacity) != p + 1)
			return false;
		counted(kc, e, false);
		return true;
	case DMXP_RULES_LEAVE:
	case DMXP_RULES_WAIT:
		break;
	}
	return false;
}

/*
 * Decide (common/dmxp_rules.h) then act, for each position of @c, with
 * ps->cover marked for them.  Returns true when some must wait.
 */
static bool repair_positions(struct dmxp_kregion *r, struct dmxp_kchan *kc,
			     const struct dmxp_rules_claim *c, struct repair_pass *ps)
{
	struct dmxp_channel_entry *e = &dmxp_hdr(r)->channels[c->chan];
	struct dmxp_slot *slots = r->mem + kc->band_offset;
	u64 tail = ps->tail[c->chan], head = ps->head[c->chan], k;
	bool pending = false;
	s32 holders = 0;
	u32 done = 0;

	for (k = 0; k < c->count; k++) {
		u64 p = c->pos + k;
		struct dmxp_slot *s = &slots[p & (kc->capacity - 1)];
		/* Pairs with the release of the sequence by publish and free. */
		u64 seq = smp_load_acquire(&s->sequence);
		enum dmxp_rules_repair d;

		if (!(k & 255))
			cond_resched();
		holders += ps->cover[k];
		d = dmxp_rules_repair_decide(c->state, p, seq, tail, head, kc->capacity,
					     holders > 0);
		if (d == DMXP_RULES_WAIT)
			pending = true;
		else if (repair_apply(kc, e, s, p, seq, d, c->chan))
			done++;
	}
	if (done)
		dmxp_chan_wake(r, c->chan, DMXP_NOTIFY_RECV | DMXP_NOTIFY_SEND);
	return pending;
}

/*
 * Repair the positions dead record @rec holds.  Returns true when some
 * must wait for a later pass.
 */
static bool repair_record(struct dmxp_kregion *r, struct dmxp_claim *rec,
			  struct repair_pass *ps)
{
	struct dmxp_rules_claim c;
	struct dmxp_kchan *kc;

	kc = record_read(r, rec, &c);
	if (!kc)
		return false;
	/* The filter of the snapshot, then the positions. */
	if (ps->nlive + c.count > ps->budget) {
		ps->soon = true;
		return true;
	}
	ps->budget -= ps->nlive + c.count;
	/*
	 * A read() or write() in flight has no record and may hold any
	 * position: wait for it (its count rose before its claim, which
	 * was before the pass read tail and head).
	 */
	if (atomic_read_acquire(&kc->kclaims)) {
		ps->soon = true;
		return true;
	}
	/*
	 * The live claims on this side hold their positions, and so does a
	 * dead SEND_WRITTEN record against a SEND record's tombstone
	 * (dmxp_rules_cover(); lib/repair.c covered() asks the same rule).
	 */
	cover_marks(ps, cover_filter(ps, &c), c.pos, c.count);
	return repair_positions(r, kc, &c, ps);
}

/*
 * One pass over the table: repair and free the records whose lease is
 * gone.  Returns true when something is left for a later pass; *@soon
 * then says whether it is more than positions live records hold.
 */
static bool repair_pass(struct dmxp_kregion *r, bool *soon)
{
	struct dmxp_claim *tab = claim_table(r);
	struct repair_pass *ps;
	bool pending = false;
	unsigned int i, j;

	lockdep_assert_held(&r->lock);
	if (!r->claims_count || r->destroyed)
		return false;
	*soon = true;
	ps = kvmalloc(struct_size(ps, live, 2 * r->claims_count), GFP_KERNEL);
	if (!ps)
		return true;
	ps->sub = ps->live + r->claims_count;
	ps->budget = REPAIR_BUDGET;
	ps->soon = false;
	live_snapshot(r, ps);
	/*
	 * From where the last pass ran out of budget: costly records at the
	 * start of the table cannot keep the rest waiting for ever.
	 */
	i = r->repair_next < r->claims_count ? r->repair_next : 0;
	for (j = 0; j < r->claims_count; j++, i = i + 1 < r->claims_count ? i + 1 : 0) {
		struct dmxp_claim *rec = &tab[i];
		u32 owner;

		if (!(j & 63))
			cond_resched();
		if (!ps->budget) {
			r->repair_next = i;
			ps->soon = true;
			pending = true;
			break;
		}
		ps->budget--;		/* the lease lookup */
		owner = READ_ONCE(rec->owner);
		if (!owner || lease_live(r, owner))
			continue;
		if (repair_record(r, rec, ps)) {
			pending = true;
			continue;
		}
		WRITE_ONCE(rec->state, DMXP_CLAIM_IDLE);
		/* The record is free for a new owner once the repair is done. */
		cmpxchg_release(&rec->owner, owner, 0);
	}
	*soon = ps->soon;
	kvfree(ps);
	return pending;
}

static void repair_work_fn(struct work_struct *work)
{
	struct dmxp_kregion *r = container_of(to_delayed_work(work), struct dmxp_kregion,
					     repair_work);
	bool queued = false, soon;
	unsigned long delay;

	mutex_lock(&r->lock);
	/*
	 * Requeued under the lock, which region_unlink() takes to set
	 * destroyed: no work is requeued once the region is going.  The
	 * pending work holds a region reference; a requeue keeps it.
	 */
	if (repair_pass(r, &soon) && !r->destroyed) {
		unsigned long max = soon ? REPAIR_RETRY_MAX : REPAIR_COVERED_MAX;

		if (atomic_xchg(&r->repair_kick, 0))
			WRITE_ONCE(r->repair_delay, REPAIR_RETRY);
		delay = min_t(unsigned long, READ_ONCE(r->repair_delay), max);
		WRITE_ONCE(r->repair_delay, min_t(unsigned long, delay * 2, max));
		queued = queue_delayed_work(dmxp_repair_wq, &r->repair_work, delay);
	}
	mutex_unlock(&r->lock);
	if (!queued)
		dmxp_kregion_put(r);
}

void dmxp_repair_init(struct dmxp_kregion *r)
{
	mutex_init(&r->lock);
	xa_init_flags(&r->leases, XA_FLAGS_ALLOC1);
	INIT_DELAYED_WORK(&r->repair_work, repair_work_fn);
	r->repair_delay = REPAIR_RETRY;
}

/*
 * Attach: a new lease for the file's records.  Ids go round 1..2^32-1
 * and skip the ones still in use, so a wrapped id never names two files.
 */
int dmxp_lease_add(struct dmxp_kregion *r, struct dmxp_lease *l)
{
	u32 id;
	int ret;

	ret = xa_alloc_cyclic(&r->leases, &id, l, xa_limit_32b, &r->next_lease,
			      GFP_KERNEL_ACCOUNT);
	if (ret < 0)
		return ret;
	l->id = id;
	return 0;
}

/*
 * The file is released: its lease ends, and the work item repairs what
 * it held, at once.  The releasing task (close(), exit()) does no pass.
 */
void dmxp_lease_del(struct dmxp_kregion *r, struct dmxp_lease *l)
{
	xa_erase(&r->leases, l->id);
	/*
	 * Unlocked: work queued while the region is being destroyed finds
	 * it destroyed and only drops its reference; destroy_workqueue()
	 * drains it before the module goes.
	 */
	if (!r->claims_count || READ_ONCE(r->destroyed))
		return;
	/* The worker starts its gaps again (it owns repair_delay, under r->lock). */
	atomic_set(&r->repair_kick, 1);
	dmxp_kregion_get(r);
	/* Already pending (maybe after a long delay): now, with its reference. */
	if (mod_delayed_work(dmxp_repair_wq, &r->repair_work, 0))
		dmxp_kregion_put(r);
}

/* The region goes: no repair may run after this.  Call it with no lock held. */
void dmxp_repair_stop(struct dmxp_kregion *r)
{
	if (cancel_delayed_work_sync(&r->repair_work))
		dmxp_kregion_put(r);
}

int dmxp_repair_module_init(void)
{
	dmxp_repair_wq = alloc_workqueue("dmxp_repair", WQ_UNBOUND, 0);
	return dmxp_repair_wq ? 0 : -ENOMEM;
}

/* Module unload, once no file is left: the work still queued runs out. */
void dmxp_repair_drain(void)
{
	flush_workqueue(dmxp_repair_wq);
}

void dmxp_repair_module_exit(void)
{
	destroy_workqueue(dmxp_repair_wq);
}
