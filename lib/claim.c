// SPDX-License-Identifier: MIT
/*
 * Crash repair: claim records, and the repairer of the embedded backend.
 * Who is alive is proven in lib/proc.c.
 *
 * A note on the protocol.
 *
 * A producer claims positions by a CAS on tail, a consumer by a CAS on
 * head (lib/ring.c).  A process killed between its claim and its publish
 * (free) leaves a slot that stops every consumer (producer) at it.  The
 * CAS names no claimer, so each thread first writes what it is about to
 * claim into its record in the region's claim table:
 *
 *	rec = { state: SEND, chan, generation, pos, count }	[R1]
 *	CAS(tail, pos -> pos + count), release			[R2]
 *	write the payload and the meta
 *	rec.state = SEND_WRITTEN				(optional)
 *	store_release(slot.sequence, pos + 1)			publish
 *	store_release(rec.state, IDLE)				[R3]
 *
 * and the same with RECV, head and the free for a consumer.  A record is
 * owned by one process: on /dev/dmxp by the file's lease, which the module
 * knows; on a region file by the pid, with its start time and pid
 * namespace so that a reused pid is not mistaken for the holder.
 *
 * A repairer (kmod/repair.c when the file's last reference goes, else the
 * survivors here) takes each record whose owner is proven dead and, for
 * each position p it names, the slot of p still in the state the claim
 * left it in:
 *
 *	SEND:	sequence == p and tail > p		claimed, never published
 *	RECV:	sequence == p + 1 and head > p		claimed, never freed
 *
 * A record written before a CAS that then failed names positions someone
 * else claimed; that someone is alive, or dead with a record of its own.
 * So a position is repaired only when no record of a live owner names it
 * too.  [R2] makes that check sound: the repairer loads tail (head) with
 * acquire, so if the live owner's CAS made tail pass p the repairer then
 * sees the live owner's [R1]; and it sees [R3] (with acquire) only after
 * the slot's publish.  A live owner's claim is never repaired; a
 * position whose claimer cannot be told waits for the next pass.
 *
 * The repair of a SEND_WRITTEN slot publishes it (the message was whole),
 * of a SEND slot publishes a tombstone that consumers skip, and of a RECV
 * slot frees it (the dead consumer had taken the message).  Each is a CAS
 * on the slot's sequence from the state the claim left, so it happens
 * once.  A tombstone needs its meta written first: the repairer marks the
 * slot DMXP_SEQ_REPAIRING(p) by CAS (with its own record saying REPAIR,
 * so that a repairer that dies there is finished by the next one), writes
 * the meta, then publishes.  Embedded repairers take the region's
 * repair_lock (broken when its holder is dead), so one runs at a time.
 */
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

/* Embedded owners: the pid, with this bit while the record is set up. */
#define OWNER_SETUP	0x80000000U

__thread struct dmxp_tclaim dmxp__tclaim[CLAIM_TCACHE]
	__attribute__((tls_model("initial-exec")));

/* The handles of this process, for the thread-exit destructor. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dmxp_region **reg;
static unsigned int reg_n, reg_cap;
static __u64 reg_serial;
static pthread_key_t tkey;
static bool tkey_made;		/* under reg_lock */

static int repair_pass(struct dmxp_region *r, struct dmxp_claim __shm *me);

/*
 * A record being set up is owned by pid | OWNER_SETUP: by a process that
 * took it in table_take(), or by a repairer that took it over from a dead
 * owner in repair_pass().  The first writes its identity into the record
 * and then its pid, with release; the second has a record of its own,
 * owned by its plain pid, with its identity.
 */
static enum dmxp_liveness setup_holder(struct dmxp_region *r, const struct dmxp_claim __shm *rec,
				  __u32 pid, struct dmxp_proofs *pc)
{
	struct dmxp_claims *cl = &r->claims;
	unsigned int i;

	/* Pairs with the store_release() of pid in table_take(). */
	if (load_acquire(&rec->pid) == pid)
		return dmxp__holder(pid, READ_ONCE(rec->start_time), READ_ONCE(rec->pid_ns), pc);
	for (i = 0; i < cl->count; i++) {
		const struct dmxp_claim __shm *own = &cl->srecs[i];

		if (load_acquire(&own->owner) == pid && READ_ONCE(own->pid) == pid)
			return dmxp__holder(pid, READ_ONCE(own->start_time), READ_ONCE(own->pid_ns), pc);
	}
	/* Its own record freed already, in this pass: proven dead then? */
	for (i = 0; pc && i < pc->n; i++)
		if (pc->e[i].pid == pid && pc->e[i].dead)
			return DMXP_DEAD;
	return DMXP_ALIVE;
}

static enum dmxp_liveness rec_holder(struct dmxp_region *r, const struct dmxp_claim __shm *rec,
				struct dmxp_proofs *pc)
{
	/* Pairs with the release CAS of owner in table_take(). */
	__u32 owner = load_acquire(&rec->owner);

	if (!owner)
		return DMXP_DEAD;
	if (owner & OWNER_SETUP)
		return setup_holder(r, rec, owner & ~OWNER_SETUP, pc);
	return dmxp__holder(READ_ONCE(rec->pid), READ_ONCE(rec->start_time),
		      READ_ONCE(rec->pid_ns), pc);
}

/* ------------------------------------------------------------------ records */

/* Take a free record of the table for this process; its index or -1. */
static int table_take(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	__u32 owner = cl->lease ? cl->lease : (dmxp__self.pid | OWNER_SETUP);
	unsigned int j;

	/*
	 * Even records first: two records in one 128-byte pair of lines,
	 * which the adjacent-line prefetcher moves together, would make the
	 * threads writing them contend (as tail and head would: the entry
	 * keeps those 128 bytes apart too).
	 */
	for (j = 0; j < cl->count; j++) {
		unsigned int i = j < (cl->count + 1) / 2 ? 2 * j : 2 * (j - (cl->count + 1) / 2) + 1;
		struct dmxp_claim __shm *rec = &cl->srecs[i];
		__u32 exp = 0;

		if (READ_ONCE(rec->owner) || !cas_acq_rel(&rec->owner, &exp, owner))
			continue;
		DMXP_HOOK(RECORD_SETUP);
		WRITE_ONCE(rec->state, DMXP_CLAIM_IDLE);
		WRITE_ONCE(rec->count, 0);
		WRITE_ONCE(rec->start_time, dmxp__self.start);
		WRITE_ONCE(rec->pid_ns, dmxp__self.ns);
		/* Pairs with the load_acquire() of pid in setup_holder(). */
		store_release(&rec->pid, dmxp__self.pid);
		if (cl->lease)
			return (int)i;
		/*
		 * Pairs with the load_acquire() of owner in rec_holder().  A
		 * CAS: a repairer that took us for dead (a race the proofs
		 * make all but impossible) took the record over; it is not
		 * ours then.
		 */
		exp = owner;
		if (cas_release(&rec->owner, &exp, dmxp__self.pid))
			return (int)i;
	}
	return -1;
}

/*
 * Free record @i, which the caller owns (or took over from a dead owner).
 * A repair lock that names it goes first: a newcomer that takes the
 * record must not find itself holding the lock.
 */
static void record_free(struct dmxp_region *r, unsigned int i)
{
	struct dmxp_claim __shm *rec = &r->claims.srecs[i];
	__u64 lk = (__u64)i + 1;

	if (!r->claims.lease)
		cas_acq_rel(&r->shdr->repair_lock, &lk, 0);
	WRITE_ONCE(rec->pid, 0);
	/* Pairs with the load_acquire() of owner by table_take() and rec_holder(). */
	store_release(&rec->owner, 0);
}

/* Give record @i back to the table, if it holds nothing. */
static void table_put(struct dmxp_region *r, unsigned int i)
{
	struct dmxp_claim __shm *rec = &r->claims.srecs[i];

	/* A record still holding slots is left for a repairer. */
	if (load_acquire(&rec->state) == DMXP_CLAIM_IDLE)
		record_free(r, i);
}

/* A pool copied by fork() is the parent's: start an empty one. */
static void pool_own(struct dmxp_claims *cl)
{
	if (READ_ONCE(cl->pool_pid) == dmxp__pid)
		return;
	pthread_mutex_lock(&cl->lock);
	if (cl->pool_pid != dmxp__pid) {
		WRITE_ONCE(cl->n, 0);
		WRITE_ONCE(cl->busy, 0);
		WRITE_ONCE(cl->pool_pid, dmxp__pid);
	}
	pthread_mutex_unlock(&cl->lock);
}

/*
 * Give back the records of dead owners that hold nothing (processes that
 * exited without closing): no repair, so no lock.  One that holds a claim
 * waits for a repair pass.
 */
static void sweep_idle(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	__u32 taken = dmxp__self.pid | OWNER_SETUP;
	struct dmxp_proofs pc = { 0 };
	unsigned int i;

	for (i = 0; i < cl->count; i++) {
		struct dmxp_claim __shm *rec = &cl->srecs[i];
		__u32 owner = READ_ONCE(rec->owner);

		if (!owner || (owner & OWNER_SETUP))
			continue;
		/* Pairs with the release of IDLE by the owner's claim_end(). */
		if (load_acquire(&rec->state) != DMXP_CLAIM_IDLE ||
		    rec_holder(r, rec, &pc) == DMXP_ALIVE)
			continue;
		/* Ours first, so that the lock it may hold is released once. */
		if (cas_acq_rel(&rec->owner, &owner, taken))
			record_free(r, i);
	}
}

int dmxp__claim_take(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	int bit = -1, cancel;
	__u64 busy;

	if (!cl->srecs)
		return -1;
	pool_own(cl);
	busy = READ_ONCE(cl->busy);
	for (;;) {
		/* Pairs with the store_release() of n below: idx[] is set. */
		unsigned int n = load_acquire(&cl->n);
		__u64 avail = ~busy & (n == 64 ? ~0ULL : (1ULL << n) - 1);

		if (!avail)
			break;
		bit = __builtin_ctzll(avail);
		if (__atomic_compare_exchange_n(&cl->busy, &busy, busy | (1ULL << bit), false,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return bit;
	}
	/*
	 * None free: take one more record from the table.  Reading /proc
	 * here and in sweep_idle() is full of cancellation points, reached
	 * with a lock held or a record half set up: not cancellable.
	 */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	dmxp__ident_refresh();
	pthread_mutex_lock(&cl->lock);
	bit = -1;
	if (cl->n < CLAIM_POOL) {
		int i = table_take(r);

		if (i < 0 && !cl->lease) {
			/* Free the idle records of processes that are gone. */
			sweep_idle(r);
			i = table_take(r);
		}

		if (i >= 0) {
			bit = (int)cl->n;
			cl->idx[bit] = (__u16)i;
			__atomic_fetch_or(&cl->busy, 1ULL << bit, __ATOMIC_RELAXED);
			store_release(&cl->n, cl->n + 1);
		}
	}
	pthread_mutex_unlock(&cl->lock);
	pthread_setcancelstate(cancel, NULL);
	return bit;
}

void dmxp__claim_put(struct dmxp_region *r, unsigned int bit)
{
	/* Pairs with the acquire CAS in dmxp__claim_take(). */
	__atomic_fetch_and(&r->claims.busy, ~(1ULL << bit), __ATOMIC_RELEASE);
}

static struct dmxp_region *reg_find(__u64 serial)
{
	unsigned int i;

	for (i = 0; i < reg_n; i++)
		if (reg[i]->claims.serial == serial)
			return reg[i];
	return NULL;
}

/* Give a thread's cached record back to its handle's pool. */
static void tclaim_drop(struct dmxp_tclaim *t)
{
	struct dmxp_region *r;

	if (t->serial && t->rec && t->pid == dmxp__pid) {
		pthread_mutex_lock(&reg_lock);
		r = reg_find(t->serial);
		if (r && r->claims.pool_pid == t->pid)
			dmxp__claim_put(r, t->bit);
		pthread_mutex_unlock(&reg_lock);
	}
	t->serial = 0;
	t->rec = NULL;
}

static void tclaim_exit(void *arg)
{
	unsigned int i;

	(void)arg;
	for (i = 0; i < CLAIM_TCACHE; i++)
		tclaim_drop(&dmxp__tclaim[i]);
}

struct dmxp_claim __shm *dmxp__claim_thread_slow(struct dmxp_region *r)
{
	struct dmxp_tclaim *t = &dmxp__tclaim[r->claims.serial % CLAIM_TCACHE];
	int bit;

	if (t->serial && t->serial != r->claims.serial)
		tclaim_drop(t);		/* another handle's: give it back */
	bit = dmxp__claim_take(r);
	if (bit < 0 && r->claims.srecs) {
		/* None left now: not cached, a later call tries again. */
		t->serial = 0;
		t->rec = NULL;
		return NULL;
	}
	t->serial = r->claims.serial;
	t->pid = dmxp__pid;
	t->bit = bit < 0 ? 0 : (__u32)bit;
	t->rec = bit < 0 ? NULL : dmxp__claim_rec(r, (unsigned int)bit);
	if (t->rec && tkey_made)
		pthread_setspecific(tkey, t);	/* non-NULL: the destructor runs */
	return t->rec;
}

bool dmxp__claim_kept(struct dmxp_region *r, struct dmxp_claim __shm *rec)
{
	unsigned int i;

	if (dmxp__claim_owned(r, rec))
		return true;
	/*
	 * A repairer took this process for dead and took the record over;
	 * it frees it when done, for anyone.  Its pool bit stays taken, so
	 * that no thread or reference of ours writes it again.
	 */
	for (i = 0; i < CLAIM_TCACHE; i++) {
		struct dmxp_tclaim *t = &dmxp__tclaim[i];

		if (t->rec == rec) {
			t->serial = 0;
			t->rec = NULL;
		}
	}
	return false;
}

int dmxp__claims_open(struct dmxp_region *r, __u32 lease)
{
	const struct dmxp_global_header __shm *h = r->shdr;
	struct dmxp_claims *cl = &r->claims;
	__u64 off = READ_ONCE(h->claims_offset);
	__u32 count = READ_ONCE(h->claims_count);
	bool kernel = r->ops == &dmxp__kernel_ops;
	int cancel;

	pthread_mutex_init(&cl->lock, NULL);
	cl->lease = lease;
	cl->pool_pid = dmxp__pid;
	if (count && (count > DMXP_CLAIMS_MAX || off % DMXP_BAND_ALIGN ||
		      off < DMXP_HEADER_SIZE || off > r->size ||
		      (__u64)count * DMXP_CLAIM_SIZE > r->size - off))
		return -EPROTO;
	/*
	 * A module without leases repairs nothing: records would be noise.
	 * A read-only handle claims nothing.
	 */
	if (count && (!kernel || lease) && !r->rdonly) {
		cl->srecs = (struct dmxp_claim __shm *)((char *)r->shdr + off);
		cl->count = count;
	}
	/* /proc is read under reg_lock: no cancellation in between. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	dmxp__ident_refresh();
	pthread_setcancelstate(cancel, NULL);
	pthread_mutex_lock(&reg_lock);
	/* Made here, not on a thread's first message: no system call there. */
	if (!tkey_made)
		tkey_made = !pthread_key_create(&tkey, tclaim_exit);
	if (reg_n == reg_cap) {
		unsigned int cap = reg_cap ? reg_cap * 2 : 8;
		struct dmxp_region **n = realloc(reg, cap * sizeof(*n));

		if (!n) {
			pthread_mutex_unlock(&reg_lock);
			pthread_mutex_destroy(&cl->lock);
			return -ENOMEM;
		}
		reg = n;
		reg_cap = cap;
	}
	reg[reg_n++] = r;
	cl->serial = ++reg_serial;
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

void dmxp__claims_close(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	unsigned int i;

	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < reg_n; i++) {
		if (reg[i] == r) {
			reg[i] = reg[--reg_n];
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	/* This thread's cache entry would name a dead handle: clear it. */
	{
		struct dmxp_tclaim *t = &dmxp__tclaim[cl->serial % CLAIM_TCACHE];

		if (t->serial == cl->serial) {
			t->serial = 0;
			t->rec = NULL;
		}
	}
	if (cl->srecs && cl->pool_pid == dmxp__pid)
		for (i = 0; i < cl->n; i++)
			table_put(r, cl->idx[i]);
	pthread_mutex_destroy(&cl->lock);
}

/* ------------------------------------------------------ the embedded repairer */

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
	if (cur && cur <= cl->count && rec_holder(r, &cl->srecs[cur - 1], pc) == DMXP_ALIVE)
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
			if (rec_holder(r, rec, pc) == DMXP_ALIVE)
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
		__u32 taken = dmxp__self.pid | OWNER_SETUP;

		if (!owner || rec == me || rec_holder(r, rec, &pc) == DMXP_ALIVE)
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
			__u32 was = owner & OWNER_SETUP && READ_ONCE(rec->pid) &&
				    READ_ONCE(rec->pid) != (owner & ~OWNER_SETUP) ?
				    READ_ONCE(rec->pid) : owner;

			cas_acq_rel(&rec->owner, &taken, was);
			continue;
		}
		WRITE_ONCE(rec->state, DMXP_CLAIM_IDLE);
		record_free(r, i);
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
		__u64 head = READ_ONCE(*c->shead);
		__u64 seq = load_acquire(&ring_slot(c, head)->sequence);

		if ((seq == head || seq == DMXP_SEQ_REPAIRING(head)) &&
		    (__s64)(READ_ONCE(*c->stail) - head) > 0)
			return head + 1;
		return 0;
	}
	{
		__u64 tail = READ_ONCE(*c->stail);
		__u64 p = tail - c->capacity;
		__u64 seq = load_acquire(&ring_slot(c, tail)->sequence);

		if (seq == p || seq == DMXP_SEQ_REPAIRING(p) ||
		    (seq == p + 1 && (__s64)(READ_ONCE(*c->shead) - p) > 0))
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
	struct dmxp_claims *cl = &c->region->claims;
	__u32 __shm *w = flags & DMXP_NOTIFY_RECV ? &c->sentry->recv_waiters :
						    &c->sentry->send_waiters;
	__u64 now;

	if (!dmxp__claims_here(c->region) || !READ_ONCE(*w))
		return;
	now = dmxp__now_ns();
	if (now - READ_ONCE(cl->repair_at_ns) < DMXP_WAITERS_CHECK_NS)
		return;
	WRITE_ONCE(cl->repair_at_ns, now);
	repair_pass(c->region, dmxp__claim_thread(c->region));
}

bool dmxp__stalled(struct dmxp_chan *c, unsigned int flags)
{
	return dmxp__claims_here(c->region) && stuck_at(c, flags);
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
	struct dmxp_claims *cl = &c->region->claims;
	__u64 at, now, gap;

	if (!dmxp__claims_here(c->region))
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
	if (!repair_pass(c->region, dmxp__claim_thread(c->region)))	/* ran, in vain */
		WRITE_ONCE(c->stall_gap_ns, gap * 2 < DMXP_REPAIR_GAP_MAX_NS ? gap * 2 :
					    DMXP_REPAIR_GAP_MAX_NS);
}

#ifdef DMXP_TEST_HOOKS
/* Which step to stop at, set by the test (selftests/test_crash.c). */
int dmxp__hook_step;
unsigned int dmxp__hook_skip;	/* times to pass the step first */
__thread unsigned long dmxp__hook_passes, dmxp__hook_proofs;

void dmxp__repair_now(struct dmxp_region *r)
{
	repair_pass(r, dmxp__claim_thread(r));
}
/* Or, set: called at every step instead (a stress test's jitter). */
void (*dmxp__hook_fn)(int step);

void dmxp__hook(enum dmxp_hook_step step)
{
	if (dmxp__hook_fn) {
		dmxp__hook_fn((int)step);
		return;
	}
	if ((int)step != dmxp__hook_step)
		return;
	if (dmxp__hook_skip) {
		dmxp__hook_skip--;
		return;
	}
	raise(SIGSTOP);
}
#endif
