// SPDX-License-Identifier: MIT
/*
 * Claim records: what each thread says it is about to claim, so that a
 * dead claimer's slots can be repaired (lib/repair.c, kmod/repair.c).
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
 *		(a field that holds the value already is not stored)
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

__dmxp_export __thread struct dmxp__thread_claim dmxp__tclaim[CLAIM_TCACHE]
	__attribute__((tls_model("initial-exec")));

/* The handles of this process, for the thread-exit destructor. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dmxp_region **reg;
static unsigned int reg_n, reg_cap;
static __u64 reg_serial;
static pthread_key_t tkey;
static bool tkey_made;		/* under reg_lock */
static __thread bool tkey_set __attribute__((tls_model("initial-exec")));

/*
 * A record being set up is owned by pid | DMXP_OWNER_SETUP: by a process that
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

enum dmxp_liveness dmxp__rec_holder(struct dmxp_region *r, const struct dmxp_claim __shm *rec,
				struct dmxp_proofs *pc)
{
	/* Pairs with the release CAS of owner in table_take(). */
	__u32 owner = load_acquire(&rec->owner);

	if (!owner)
		return DMXP_DEAD;
	if (owner & DMXP_OWNER_SETUP)
		return setup_holder(r, rec, owner & ~DMXP_OWNER_SETUP, pc);
	return dmxp__holder(READ_ONCE(rec->pid), READ_ONCE(rec->start_time),
		      READ_ONCE(rec->pid_ns), pc);
}

/* ------------------------------------------------------------------ records */

/* Take a free record of the table for this process; its index or -1. */
static int table_take(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	__u32 owner = cl->lease ? cl->lease : (dmxp__self.pid | DMXP_OWNER_SETUP);
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
		 * Pairs with the load_acquire() of owner in dmxp__rec_holder().  A
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
void dmxp__record_free(struct dmxp_region *r, unsigned int i)
{
	struct dmxp_claim __shm *rec = &r->claims.srecs[i];
	__u64 lk = (__u64)i + 1;

	if (!r->claims.lease)
		cas_acq_rel(&r->shdr->repair_lock, &lk, 0);
	WRITE_ONCE(rec->pid, 0);
	/* Pairs with the load_acquire() of owner by table_take() and dmxp__rec_holder(). */
	store_release(&rec->owner, 0);
}

/* Give record @i back to the table, if it holds nothing. */
static void table_put(struct dmxp_region *r, unsigned int i)
{
	struct dmxp_claim __shm *rec = &r->claims.srecs[i];

	/* A record still holding slots is left for a repairer. */
	if (load_acquire(&rec->state) == DMXP_CLAIM_IDLE)
		dmxp__record_free(r, i);
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
	__u32 taken = dmxp__self.pid | DMXP_OWNER_SETUP;
	struct dmxp_proofs pc = { 0 };
	unsigned int i;

	for (i = 0; i < cl->count; i++) {
		struct dmxp_claim __shm *rec = &cl->srecs[i];
		__u32 owner = READ_ONCE(rec->owner);

		if (!owner || (owner & DMXP_OWNER_SETUP))
			continue;
		/* Pairs with the release of IDLE by the owner's claim_end(). */
		if (load_acquire(&rec->state) != DMXP_CLAIM_IDLE ||
		    dmxp__rec_holder(r, rec, &pc) == DMXP_ALIVE)
			continue;
		/* Ours first, so that the lock it may hold is released once. */
		if (cas_acq_rel(&rec->owner, &owner, taken))
			dmxp__record_free(r, i);
	}
}

int dmxp__claim_take(struct dmxp_region *r)
{
	struct dmxp_claims *cl = &r->claims;
	int bit = -1, cancel;
	sigset_t all, old;
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
	 * with a lock held or a record half set up: not cancellable.  Nor
	 * interrupted by a signal, whose handler's call (out of contract:
	 * libdmxp(3)) would wait for ever for the locks its own thread holds.
	 */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	sigfillset(&all);
	/* Not the faults, which a program may catch (a truncated region file). */
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, &old);
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
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
		if (reg[i]->f.claims_serial == serial)
			return reg[i];
	return NULL;
}

/*
 * Give a thread's cached record back to its handle's pool.  The entry
 * names no handle before the record goes back.  The mark of a record
 * lent to a reference keeps its record: the reference gives it back, and
 * its return caches it again (dmxp__ref_return()).
 */
static void tclaim_drop(struct dmxp__thread_claim *t)
{
	__u64 serial = t->serial;
	struct dmxp_claim __shm *srec = t->srec;
	__u32 pid = t->pid, bit = t->bit;
	struct dmxp_region *r;

	t->serial = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (serial && !(serial & DMXP__LENT) && srec && pid == dmxp__pid) {
		pthread_mutex_lock(&reg_lock);
		r = reg_find(serial);
		if (r && r->claims.pool_pid == pid)
			dmxp__claim_put(r, bit);
		pthread_mutex_unlock(&reg_lock);
	}
}

static void tclaim_exit(void *arg)
{
	unsigned int i;

	(void)arg;
	tkey_set = false;	/* glibc cleared it: a later record sets it again */
	for (i = 0; i < CLAIM_TCACHE; i++)
		tclaim_drop(&dmxp__tclaim[i]);
}

/*
 * Unloaded by dlclose(): a thread that exits later must not call
 * tclaim_exit(), which went with the library.  (Its record stays taken,
 * in a pool that went too.)
 */
static void __attribute__((destructor)) claims_unload(void)
{
	if (tkey_made)
		pthread_key_delete(tkey);
	tkey_made = false;
	free(reg);
	reg = NULL;
	reg_n = reg_cap = 0;
}

/* This thread caches a record now: its exit must give it back. */
static void tkey_arm(struct dmxp__thread_claim *t)
{
	if (!tkey_set && tkey_made)
		tkey_set = !pthread_setspecific(tkey, t);	/* non-NULL: the destructor runs */
}

/*
 * This thread's record for @r, taken and cached.  The entry names no
 * handle while its record is being set, and then names @r by a CAS from
 * 0.  A signal handler may not call the library while its thread is in
 * a call (libdmxp(3)); one that sends anyway, on @r, in between, finds no
 * entry and caches a record of its own, which the thread then keeps
 * (rather than claiming with none, as when the serial was stored first);
 * if the stores below overwrite the handler's entry, its record is left
 * taken.
 */
struct dmxp_claim __shm *dmxp__claim_thread_slow(struct dmxp_region *r)
{
	struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % CLAIM_TCACHE];
	struct dmxp_claim __shm *rec;
	__u64 none;
	int bit;

	if (t->serial && t->serial != r->f.claims_serial)
		tclaim_drop(t);		/* another handle's: give it back */
	t->serial = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	bit = dmxp__claim_take(r);
	if (bit < 0 && r->claims.srecs)
		return NULL;	/* none left now: not cached, a later call tries again */
	rec = bit < 0 ? NULL : dmxp__claim_rec(r, (unsigned int)bit);
	for (;;) {
		/* A handler's entry, whole: for @r the thread keeps it, another's goes back. */
		if (t->serial == r->f.claims_serial) {
			struct dmxp_claim __shm *theirs = t->srec;

			if (rec)
				dmxp__claim_put(r, (unsigned int)bit);
			return theirs;
		}
		if (t->serial)
			tclaim_drop(t);
		t->pid = dmxp__pid;
		t->bit = bit < 0 ? 0 : (__u32)bit;
		t->srec = rec;
		DMXP_HOOK(THREAD_CACHING);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		none = 0;
		if (t->srec == rec && t->bit == (bit < 0 ? 0 : (__u32)bit) && t->pid == dmxp__pid &&
		    __atomic_compare_exchange_n(&t->serial, &none, r->f.claims_serial, false,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			break;
		if (t->srec == rec) {
			/* A handler's entry, written over by ours: its record is lost. */
			t->serial = 0;
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		}
	}
	if (rec)
		tkey_arm(t);
	return rec;
}

/* This thread's mark of a loan for @r is stale: clear it, giving nothing back. */
void dmxp__claim_forget(struct dmxp_region *r)
{
	struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % CLAIM_TCACHE];

	/* Its record is not read again unless the serial names a handle. */
	if (t->serial == (r->f.claims_serial | DMXP__LENT))
		t->serial = 0;
}

/*
 * Does @claim name a record of this process's pool as it is now, still
 * taken?  Not one of a reference from before fork() (the records are
 * another pool's), nor one given back already.
 */
static bool ref_claim_ours(struct dmxp_region *r, __u32 claim)
{
	struct dmxp_claims *cl = &r->claims;
	unsigned int bit = DMXP__REF_BIT(claim);

	return (claim & 0xff) && READ_ONCE(cl->pool_pid) == dmxp__pid &&
	       bit < load_acquire(&cl->n) && cl->idx[bit] == DMXP__REF_REC(claim) &&
	       (READ_ONCE(cl->busy) & (1ULL << bit));
}

/*
 * Zero-copy reference @claim is used up (lib/ring.c): turn this thread's
 * mark of its loan back, as dmxp__ref_return() of dmxp.h does, before
 * the caller ends the claim.  True when the record is this thread's
 * again; else the caller gives it to the pool (dmxp__claim_ref_put()).
 */
bool dmxp__claim_ref_back(struct dmxp_region *r, __u32 claim)
{
	struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % CLAIM_TCACHE];
	unsigned int bit = DMXP__REF_BIT(claim);

	if (!ref_claim_ours(r, claim) || !dmxp__ref_lent(&r->f, t, dmxp__claim_rec(r, bit), bit))
		return false;
	DMXP_HOOK(REF_RETURNING);
	t->serial = r->f.claims_serial;
	/* A handler's send took another record in between: ours is not cached. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return t->srec == dmxp__claim_rec(r, bit);
}

/* Give the record of used-up reference @claim, its claim ended, to the pool. */
void dmxp__claim_ref_put(struct dmxp_region *r, __u32 claim)
{
	if (ref_claim_ours(r, claim))
		dmxp__claim_put(r, DMXP__REF_BIT(claim));
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
		struct dmxp__thread_claim *t = &dmxp__tclaim[i];

		if (t->srec == rec) {
			t->serial = 0;
			t->srec = NULL;
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
		r->f.sclaims = cl->srecs;
		r->f.nclaims = count;
		r->f.lease = lease;
	}
	/* /proc is read under a lock (lib/proc.c): no cancellation in between. */
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
	r->f.claims_serial = ++reg_serial;
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

/*
 * fork(): the registry's lock, then each registered handle's pool lock,
 * held across it (lib/proc.c).  Nothing takes them the other way round:
 * a pool's lock is never held when the registry's is taken.
 */
void dmxp__claims_fork(enum dmxp_fork_phase phase)
{
	unsigned int i;

	switch (phase) {
	case DMXP_FORK_PREPARE:
		pthread_mutex_lock(&reg_lock);
		for (i = 0; i < reg_n; i++)
			pthread_mutex_lock(&reg[i]->claims.lock);
		break;
	case DMXP_FORK_PARENT:
	case DMXP_FORK_CHILD:	/* its one thread is the one that locked them */
		for (i = reg_n; i--; )
			pthread_mutex_unlock(&reg[i]->claims.lock);
		pthread_mutex_unlock(&reg_lock);
		break;
	}
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
		struct dmxp__thread_claim *t = &dmxp__tclaim[r->f.claims_serial % CLAIM_TCACHE];

		if ((t->serial & ~DMXP__LENT) == r->f.claims_serial) {
			t->serial = 0;
			t->srec = NULL;
		}
	}
	if (cl->srecs && cl->pool_pid == dmxp__pid)
		for (i = 0; i < cl->n; i++)
			table_put(r, cl->idx[i]);
	pthread_mutex_destroy(&cl->lock);
}

#ifdef DMXP_TEST_HOOKS
/* Which step to stop at, set by the test (selftests/test_crash.c). */
int dmxp__hook_step;
unsigned int dmxp__hook_skip;	/* times to pass the step first */
__thread unsigned long dmxp__hook_passes, dmxp__hook_proofs;

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
