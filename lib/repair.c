// SPDX-License-Identifier: MIT
/*
 * Crash repair on region files: the survivors' repairer (on /dev/dmxp
 * the module's, kmod/repair.c).  What a dead owner's record holds and
 * what becomes of each position it names are the shared rules of
 * common/dmxp_rules.h; here are the acts: the repair lock, the passes,
 * the compare-and-swaps, and the waiting side's look for a stuck ring.
 * The protocol of claim records is the note at the top of lib/claim.c;
 * who is dead, lib/proc.c.
 */
#include <time.h>

#include "internal.h"

/*
 * The region's repair_lock names its holder by its claim record (index +
 * 1), whose owner says who and whether it is alive, pid namespace
 * included.  Repairs of records are exclusive without it (each is taken
 * over first); it keeps repairs and channel creation and destruction of
 * region files apart, so that a repair never acts on a ring re-created
 * under it, and spares survivors scanning the table at once.
 */
static bool repair_lock(struct dmxp_region *r, struct dmxp_claim __shm *me, struct dmxp_proofs *pc)
{
	struct dmxp_claims *cl = &r->claims;
	__u64 __shm *lk = &r->shdr->repair_lock;
	__u64 cur = READ_ONCE(*lk), mine;

	if (!me)
		return false;
	mine = (__u64)(me - cl->srecs) + 1;
	if (cur == mine)
		return false;		/* ours already: not re-entered */
	/* Held by a live repairer, or creator, or destroyer: it goes first. */
	if (cur && cur <= cl->count && dmxp__rec_holder(r, &cl->srecs[cur - 1], pc) == DMXP_ALIVE)
		return false;
	return cas_acq_rel(lk, &cur, mine);
}

static void repair_unlock(struct dmxp_region *r)
{
	store_release(&r->shdr->repair_lock, 0);
}

/*
 * Channel creation and destruction on a region file: no repair runs
 * meanwhile.  Waits up to a second for a live holder; 0 or -EBUSY.  A
 * caller without a claim record proceeds without it (a full table).
 */
int dmxp__repair_lock_wait(struct dmxp_region *r, bool *locked)
{
	struct dmxp_claim __shm *me = dmxp__claims_here(r) ? dmxp__claim_thread(r) : NULL;
	struct timespec pause = { 0, 100000 };
	int tries;

	*locked = false;
	if (!me)
		return 0;
	dmxp__ident_refresh();
	for (tries = 0; tries < 10000; tries++) {
		if (repair_lock(r, me, NULL)) {
			*locked = true;
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	return -EBUSY;
}

void dmxp__repair_unlock(struct dmxp_region *r)
{
	repair_unlock(r);
}

struct rchan {
	struct dmxp_channel_entry __shm	*e;
	struct dmxp_slot __shm		*slots;
	__u64				cap;
	__u32				id, gen;
};

/*
 * Does another record hold position @p of the dead record @dead, in
 * @state on channel @ch?  The rule is dmxp_rules_cover(); an owner's
 * liveness costs system calls, so it is asked only when it matters.
 */
static bool covered(struct dmxp_region *r, const struct dmxp_claim __shm *dead,
		    const struct rchan *ch, __u64 p, __u32 state, struct dmxp_proofs *pc)
{
	unsigned int i;

	for (i = 0; i < r->claims.count; i++) {
		const struct dmxp_claim __shm *rec = &r->claims.srecs[i];
		struct dmxp_rules_claim o;

		if (rec == dead || !READ_ONCE(rec->owner))
			continue;
		/* Pairs with dmxp__claim_end(): IDLE means published or freed. */
		o.state = load_acquire(&rec->state);
		o.chan = READ_ONCE(rec->chan);
		o.generation = READ_ONCE(rec->generation);
		o.pos = READ_ONCE(rec->pos);
		o.count = READ_ONCE(rec->count);
		if (!dmxp_rules_names(o.pos, o.count, p))
			continue;
		switch (dmxp_rules_cover(&o, state, ch->id, ch->gen)) {
		case DMXP_RULES_COVER_YES:
			return true;
		case DMXP_RULES_COVER_IF_LIVE:
			if (dmxp__rec_holder(r, rec, pc) == DMXP_ALIVE)
				return true;
			break;
		case DMXP_RULES_COVER_NO:
			break;
		}
	}
	return false;
}

/* The lib's tombstone names the dead sender; its runtime is not known. */
static void tombstone_write(const struct rchan *ch, struct dmxp_slot __shm *s, __u64 p,
			    __u32 pid)
{
	struct dmxp_msg_meta m;

	dmxp_rules_tombstone_meta(&m, p, ch->id, dmxp__now_ns(), pid, DMXP_RUNTIME_UNKNOWN);
	s->meta.message_id = m.message_id;
	s->meta.timestamp_ns = m.timestamp_ns;
	s->meta.channel_id = m.channel_id;
	s->meta.message_type = m.message_type;
	s->meta.sender_pid = m.sender_pid;
	s->meta.sender_runtime = m.sender_runtime;
	WRITE_ONCE(s->meta.flags, m.flags);
	WRITE_ONCE(s->meta.payload_len, m.payload_len);
	s->meta.__pad = m.__pad;
}

static void counted(const struct rchan *ch, bool tomb)
{
	__atomic_fetch_add(&ch->e->repaired, 1, __ATOMIC_RELAXED);
	if (tomb)
		__atomic_fetch_add(&ch->e->tombstoned, 1, __ATOMIC_RELAXED);
}

/* Turn claimed slot @p into a tombstone; @me records it meanwhile. */
static void tombstone(const struct rchan *ch, struct dmxp_slot __shm *s, __u64 p,
		      __u32 pid, struct dmxp_claim __shm *me)
{
	__u64 seq = p;

	WRITE_ONCE(me->chan, ch->id);
	WRITE_ONCE(me->generation, ch->gen);
	WRITE_ONCE(me->pos, p);
	WRITE_ONCE(me->count, 1);
	WRITE_ONCE(me->state, DMXP_CLAIM_REPAIR);
	/* Release: a repairer that finds the mark also finds our record. */
	if (!__atomic_compare_exchange_n(&s->sequence, &seq, DMXP_SEQ_REPAIRING(p), false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		dmxp__claim_end(me);
		return;
	}
	DMXP_HOOK(REPAIR_MARKED);
	tombstone_write(ch, s, p, pid);
	/* Partner: the consumers' [C1] load_acquire (lib/ring.c). */
	store_release(&s->sequence, p + 1);
	counted(ch, true);
	dmxp__claim_end(me);
}

/*
 * A sleeper that died: take its count out of the waiter word (once: the
 * record is ours, taken over by repair_pass()), unless the word is 0.
 */
static void waiter_put(struct dmxp_region *r, __u32 chan, __u32 state)
{
	__u32 __shm *w = state == DMXP_CLAIM_WAIT_RECV ?
			 &r->shdr->channels[chan].recv_waiters :
			 &r->shdr->channels[chan].send_waiters;
	__u32 n = READ_ONCE(*w);

	while (n && !__atomic_compare_exchange_n(w, &n, n - 1, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_RELAXED))
		;
}

/*
 * Act on decision @d for position @p, whose slot @s held @seq.  Returns
 * false when the position is left for a later pass.
 */
static bool repair_apply(const struct rchan *ch, struct dmxp_slot __shm *s, __u64 p,
			 __u64 seq, enum dmxp_rules_repair d, __u32 pid,
			 struct dmxp_claim __shm *me)
{
	switch (d) {
	case DMXP_RULES_FINISH_TOMBSTONE:
		/* A repairer died between its mark and the tombstone. */
		tombstone_write(ch, s, p, pid);
		/* Partner: the consumers' [C1] load_acquire (lib/ring.c). */
		if (__atomic_compare_exchange_n(&s->sequence, &seq, p + 1, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			counted(ch, true);
		return true;
	case DMXP_RULES_DELIVER:
		/* Whole: deliver it.  Partner: the consumers' [C1]. */
		if (__atomic_compare_exchange_n(&s->sequence, &seq, p + 1, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			counted(ch, false);
		return true;
	case DMXP_RULES_TOMBSTONE:
		if (!me)
			return false;	/* no record to say REPAIR with */
		tombstone(ch, s, p, pid, me);
		return true;
	case DMXP_RULES_FREE:
		/* Partner: the producers' [P1] load_acquire. */
		if (__atomic_compare_exchange_n(&s->sequence, &seq, p + ch->cap, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			counted(ch, false);
		return true;
	case DMXP_RULES_WAIT:
		return false;
	case DMXP_RULES_LEAVE:
		break;
	}
	return true;
}

/*
 * Repair what the dead record @rec holds.  0 when done (the record can be
 * freed), -EAGAIN when a position is also named by a live owner's record.
 */
static int repair_record(struct dmxp_region *r, struct dmxp_claim __shm *rec,
			 struct dmxp_claim __shm *me, __u64 *wake, struct dmxp_proofs *pc)
{
	__u32 state = load_acquire(&rec->state);
	__u32 chan = READ_ONCE(rec->chan);
	__u32 count = READ_ONCE(rec->count);
	__u64 pos = READ_ONCE(rec->pos);
	__u32 pid = READ_ONCE(rec->pid);
	struct rchan ch;
	__u64 boff, k;
	int pending = 0;

	if (!dmxp_rules_record_valid(state, chan))
		return 0;
	/* A channel destroyed since (or re-created) took the claim with it. */
	if (dmxp__entry_snapshot(r->shdr, r->size, chan, &ch.gen, &ch.cap, &boff))
		return 0;
	switch (dmxp_rules_hold(state, READ_ONCE(rec->generation), ch.gen, ch.cap, &count)) {
	case DMXP_RULES_HOLD_WAITER:
		waiter_put(r, chan, state);
		return 0;
	case DMXP_RULES_HOLD_NONE:
		return 0;
	case DMXP_RULES_HOLD_POSITIONS:
		break;
	}
	ch.e = &r->shdr->channels[chan];
	ch.slots = (struct dmxp_slot __shm *)((char *)r->shdr + boff);
	ch.id = chan;

	for (k = 0; k < count; k++) {
		__u64 p = pos + k;
		struct dmxp_slot __shm *s = &ch.slots[p & (ch.cap - 1)];
		__u64 seq = load_acquire(&s->sequence);
		/* After the sequence: tail (head) passed p if it was claimed. */
		__u64 tail = load_acquire(&ch.e->tail);
		__u64 head = load_acquire(&ch.e->head);
		enum dmxp_rules_repair d;

		d = dmxp_rules_repair_decide(state, p, seq, tail, head, ch.cap, false);
		/* covered() may cost proofs of death: only when it matters. */
		if (dmxp_rules_repair_coverable(d) && covered(r, rec, &ch, p, state, pc))
			d = dmxp_rules_repair_decide(state, p, seq, tail, head, ch.cap, true);
		if (d == DMXP_RULES_LEAVE || d == DMXP_RULES_WAIT) {
			pending += d == DMXP_RULES_WAIT;
			continue;
		}
		if (!repair_apply(&ch, s, p, seq, d, pid, me))
			pending++;
		wake[chan / 64] |= 1ULL << (chan % 64);
	}
	return pending ? -EAGAIN : 0;
}

/*
 * One pass over the table: repair and free the records of dead owners.
 * @me is the caller's record, for tombstones; without one they wait.
 * 1: it woke the sleepers of what it repaired; 0: it ran, to no effect;
 * -1: it did not run (no table, or another holds the repair lock).
 */
static int repair_pass(struct dmxp_region *r, struct dmxp_claim __shm *me)
{
	struct dmxp_claims *cl = &r->claims;
	__u64 wake[DMXP_MAX_CHANNELS / 64] = { 0 };
	struct dmxp_proofs pc = { 0 };
	int woke = -1;
	unsigned int i;
	int cancel;

	if (!dmxp__claims_here(r))
		return -1;	/* no table, or the module repairs */
	/* /proc reads are cancellation points: the lock must not be left. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	dmxp__ident_refresh();
	if (!repair_lock(r, me, &pc))
		goto out;
	DMXP_HOOK_COUNT(passes);
	woke = 0;
	for (i = 0; i < cl->count; i++) {
		struct dmxp_claim __shm *rec = &cl->srecs[i];
		__u32 owner = READ_ONCE(rec->owner);
		__u32 taken = dmxp__self.pid | DMXP_OWNER_SETUP;

		if (!owner || rec == me || dmxp__rec_holder(r, rec, &pc) == DMXP_ALIVE)
			continue;
		/*
		 * Take the record over: of repairers that found it dead, one
		 * repairs it, and if that one dies too, the next takes it
		 * from it (judged by its own record, setup_holder()).
		 */
		if (!cas_acq_rel(&rec->owner, &owner, taken))
			continue;
		if (repair_record(r, rec, me, wake, &pc)) {
			/*
			 * Left for a later pass: the dead owner's again, named
			 * so that its identity in the record judges it (a dead
			 * repairer's takeover names the repairer, whose own
			 * record may be gone by then).
			 */
			__u32 was = owner & DMXP_OWNER_SETUP && READ_ONCE(rec->pid) &&
				    READ_ONCE(rec->pid) != (owner & ~DMXP_OWNER_SETUP) ?
				    READ_ONCE(rec->pid) : owner;

			cas_acq_rel(&rec->owner, &taken, was);
			continue;
		}
		WRITE_ONCE(rec->state, DMXP_CLAIM_IDLE);
		dmxp__record_free(r, i);
	}
	repair_unlock(r);
	/* Last: once woken, a thread of ours may close this very handle. */
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		if (wake[i / 64] & (1ULL << (i % 64))) {
			dmxp__shm_wake_all(&r->shdr->channels[i]);
			woke = 1;
		}
	}
out:
	pthread_setcancelstate(cancel, NULL);
	return woke;
}

/*
 * The position the ring is stuck at, + 1, or 0: for consumers a head
 * slot claimed but never published, for producers a tail slot that still
 * holds the previous lap's position, claimed and never freed.
 */
static __u64 stuck_at(struct dmxp_chan *c, unsigned int flags)
{
	if (flags & DMXP_NOTIFY_RECV) {
		__u64 head = READ_ONCE(*c->f.shead);
		__u64 seq = load_acquire(&ring_slot(c, head)->sequence);

		if ((seq == head || seq == DMXP_SEQ_REPAIRING(head)) &&
		    (__s64)(READ_ONCE(*c->f.stail) - head) > 0)
			return head + 1;
		return 0;
	}
	{
		__u64 tail = READ_ONCE(*c->f.stail);
		__u64 p = tail - c->f.capacity;
		__u64 seq = load_acquire(&ring_slot(c, tail)->sequence);

		if (seq == p || seq == DMXP_SEQ_REPAIRING(p) ||
		    (seq == p + 1 && (__s64)(READ_ONCE(*c->f.shead) - p) > 0))
			return tail + 1;
		return 0;
	}
}

/*
 * Sleepers that died counted would make every message of the other side
 * pay a wake-up call.  The side that waits looks for them (a sleeper
 * before it sleeps, a poller that finds the ring empty), at most once a
 * second per handle; a waker never does: a repair pass costs system
 * calls for every live process that holds records, and the send path
 * stays free of them.
 */
void dmxp__waiters_check(struct dmxp_chan *c, unsigned int flags)
{
	struct dmxp_claims *cl = &c->f.region->claims;
	__u32 __shm *w = flags & DMXP_NOTIFY_RECV ? &c->f.sentry->recv_waiters :
						    &c->f.sentry->send_waiters;
	__u64 now;

	if (!dmxp__claims_here(c->f.region) || !READ_ONCE(*w))
		return;
	now = dmxp__now_ns();
	if (now - READ_ONCE(cl->repair_at_ns) < DMXP_WAITERS_CHECK_NS)
		return;
	WRITE_ONCE(cl->repair_at_ns, now);
	repair_pass(c->f.region, dmxp__claim_thread(c->f.region));
}

bool dmxp__stalled(struct dmxp_chan *c, unsigned int flags)
{
	return dmxp__claims_here(c->f.region) && stuck_at(c, flags);
}

__u64 dmxp__stall_gap(const struct dmxp_chan *c)
{
	__u64 gap = READ_ONCE(c->stall_gap_ns);

	return gap ? gap : DMXP_REPAIR_AFTER_NS;
}

/*
 * The ring stays stuck at one position: a pass once it has been for
 * DMXP_REPAIR_AFTER_NS, then again at gaps that double while passes find
 * its claimer alive, up to DMXP_REPAIR_GAP_MAX_NS (a live process that
 * holds a reservation for long costs its waiters little, and its death
 * is still found within the stall bound).
 */
void dmxp__stall_check(struct dmxp_chan *c, unsigned int flags)
{
	struct dmxp_claims *cl = &c->f.region->claims;
	__u64 at, now, gap;

	if (!dmxp__claims_here(c->f.region))
		return;
	at = stuck_at(c, flags);
	if (!at) {
		WRITE_ONCE(c->stall_pos, 0);
		dmxp__waiters_check(c, flags);
		return;
	}
	now = dmxp__now_ns();
	if (READ_ONCE(c->stall_pos) != at) {
		WRITE_ONCE(c->stall_pos, at);
		WRITE_ONCE(c->stall_ns, now);
		WRITE_ONCE(c->stall_gap_ns, DMXP_REPAIR_AFTER_NS);
		return;
	}
	gap = dmxp__stall_gap(c);
	if (now - READ_ONCE(c->stall_ns) < gap ||
	    now - READ_ONCE(cl->repair_at_ns) < DMXP_REPAIR_AFTER_NS)
		return;
	WRITE_ONCE(cl->repair_at_ns, now);
	WRITE_ONCE(c->stall_ns, now);
	if (!repair_pass(c->f.region, dmxp__claim_thread(c->f.region)))	/* ran, in vain */
		WRITE_ONCE(c->stall_gap_ns, gap * 2 < DMXP_REPAIR_GAP_MAX_NS ? gap * 2 :
					    DMXP_REPAIR_GAP_MAX_NS);
}

#ifdef DMXP_TEST_HOOKS
void dmxp__repair_now(struct dmxp_region *r)
{
	repair_pass(r, dmxp__claim_thread(r));
}
#endif
