// SPDX-License-Identifier: MIT
/*
 * The region-file backend: channels created and destroyed by the
 * processes themselves, sleepers on futexes.  The module's backend is
 * lib/kernel.c; what both share is in lib/chan.c and lib/wait.c.
 *
 * A channel entry moves between three states through its flags word:
 *
 *	0 (free) --CAS--> BUSY --release--> CREATED --CAS--> BUSY --release--> 0
 *
 * BUSY is held by exactly one process, the one whose CAS took it, while it
 * writes the entry and the ring; nobody else writes the entry meanwhile.
 * Creating and destroying each bump the entry's generation right after
 * taking BUSY, so an entry read while it changed is detected (a seqlock
 * whose writer lock is BUSY) and stale channel handles see -EIDRM.
 *
 * Ring memory is carved out of the region by a lock-free bump allocator
 * (alloc_cursor).  A band stays bound to the entry that allocated it:
 * destroying the channel keeps it, and creating the same id again reuses
 * it when the new capacity fits.  So no band is ever handed to two
 * channels, and memory never needs to be returned to a shared free list.
 *
 * Sleepers wait on the entry's futex words (the note at the top of
 * lib/wait.c says why no wake-up is lost).
 */
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define BUSY_WAIT_NS	1000000000LL	/* give up on a BUSY entry after 1 s */
#define BUSY_CHECK_NS	10000000LL	/* then look whether its holder is dead */

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * BUSY held for a while by @flags' holder: if it is proven dead (the one
 * rule of lib/proc.c: its pid namespace ours and its pid gone, a zombie,
 * or reused; a holder in another pid namespace, or one that did not say
 * which, is never proven dead), it died creating or destroying the
 * channel.  Take the entry back to free, bumping the generation so that
 * anyone who read it meanwhile sees a change; the ring it was making is
 * abandoned (its band stays with the entry if it was bound).  True if we
 * did.
 */
static bool entry_break(struct dmxp_channel_entry __shm *e, __u32 flags)
{
	/* A seqlock read of the holder's name: BUSY taken again bumps it. */
	__u32 gen = load_acquire(&e->generation);
	/* Pairs with the store_release() of owner_pid in entry_lock(). */
	__u32 pid = load_acquire(&e->owner_pid);
	__u64 start = READ_ONCE(e->owner_start);
	__u64 ns = READ_ONCE(e->owner_ns);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (READ_ONCE(e->generation) != gen || READ_ONCE(e->flags) != flags)
		return false;
	/* 0: between taking BUSY and naming itself, so not known. */
	if (!pid || pid == dmxp__pid || !dmxp__owner_dead(pid, start, ns))
		return false;
	/*
	 * Take the break by clearing owner_pid first: of several breakers
	 * one wins, and none can take the flags from a new holder that got
	 * BUSY meanwhile (it names itself).
	 */
	if (!cas_acq_rel(&e->owner_pid, &pid, 0))
		return false;
	WRITE_ONCE(e->owner_start, 0);
	WRITE_ONCE(e->owner_ns, 0);
	if (!cas_acq_rel(&e->flags, &flags, 0))
		return false;
	__atomic_fetch_add(&e->generation, 1, __ATOMIC_RELEASE);
	return true;
}

/*
 * Take BUSY on entry @e, whose flags must then be @want (0 to create,
 * CREATED to destroy).  Waits out a short BUSY period of another process,
 * and takes the entry back from a holder that died.  Returns 0,
 * -EEXIST/-ENOENT when the entry is in the other state, or -EBUSY.
 */
static int entry_lock(struct dmxp_channel_entry __shm *e, __u32 want)
{
	long long deadline = 0, check = 0;
	struct timespec pause = { 0, 100000 };
	__u64 start, ns;

	for (;;) {
		/* Pairs with the store_release() in entry_unlock(). */
		__u32 flags = load_acquire(&e->flags);

		if (!(flags & DMXP_CHAN_BUSY)) {
			if (flags != want)
				return want ? -ENOENT : -EEXIST;
			/* acq_rel: our writes to the entry follow taking BUSY */
			if (cas_acq_rel(&e->flags, &flags, DMXP_CHAN_BUSY))
				break;
			continue;
		}
		if (!deadline) {
			deadline = now_ns() + BUSY_WAIT_NS;
			check = now_ns() + BUSY_CHECK_NS;
		} else if (now_ns() > deadline) {
			return -EBUSY;
		} else if (now_ns() > check && entry_break(e, flags)) {
			continue;
		}
		nanosleep(&pause, NULL);
	}
	/*
	 * Name ourselves, identity first: a breaker that reads our pid
	 * (acquire, in entry_break()) judges us by it.
	 */
	dmxp__self_ident(&start, &ns);
	WRITE_ONCE(e->owner_start, start);
	WRITE_ONCE(e->owner_ns, ns);
	store_release(&e->owner_pid, dmxp__pid);
	DMXP_HOOK(CHAN_BUSY);
	__atomic_fetch_add(&e->generation, 1, __ATOMIC_RELAXED);
	/*
	 * Order the generation bump before the entry writes that follow;
	 * pairs with the acquire fence in dmxp_chan_open() (seqlock).
	 */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return 0;
}

static void entry_unlock(struct dmxp_channel_entry __shm *e, __u32 flags)
{
	WRITE_ONCE(e->owner_pid, 0);
	WRITE_ONCE(e->owner_start, 0);
	WRITE_ONCE(e->owner_ns, 0);
	/* Pairs with load_acquire() of flags in entry_lock() and dmxp_chan_open(). */
	store_release(&e->flags, flags);
}

/* Carve @bytes from the region; returns the band's offset or 0. */
static __u64 band_alloc(struct dmxp_region *r, __u64 bytes)
{
	__u64 __shm *cursor = &r->shdr->alloc_cursor;
	__u64 cur = READ_ONCE(*cursor);

	do {
		if (!dmxp_rules_band_fits(cur, bytes, r->size))
			return 0;
		/* The cursor only arbitrates between creators: relaxed. */
	} while (!cas_relaxed(cursor, &cur, cur + bytes));
	return cur;
}

/* Give back the band just carved, if no other band was carved since. */
static void band_unalloc(struct dmxp_region *r, __u64 boff, __u64 bytes)
{
	__u64 end = boff + bytes;

	cas_relaxed(&r->shdr->alloc_cursor, &end, boff);
}

static int shm_chan_create_locked(struct dmxp_region *r, unsigned int id, __u64 cap);
static int shm_chan_destroy_locked(struct dmxp_region *r, unsigned int id);

/*
 * Create and destroy wait (nanosleep(), a cancellation point) while they
 * hold the repair lock and the entry's BUSY: a thread cancelled there
 * would leave both held by a live process, for good.  So they are not
 * cancellation points: cancellation waits until they return, a second
 * or two at most.
 */
static int shm_chan_create(struct dmxp_region *r, unsigned int id, __u64 cap)
{
	bool locked;
	int cancel, ret;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	ret = dmxp__repair_lock_wait(r, &locked);
	if (!ret) {
		ret = shm_chan_create_locked(r, id, cap);
		if (locked)
			dmxp__repair_unlock(r);
	}
	pthread_setcancelstate(cancel, NULL);
	return ret;
}

static int shm_chan_destroy(struct dmxp_region *r, unsigned int id)
{
	bool locked;
	int cancel, ret;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	ret = dmxp__repair_lock_wait(r, &locked);
	if (!ret) {
		ret = shm_chan_destroy_locked(r, id);
		if (locked)
			dmxp__repair_unlock(r);
	}
	pthread_setcancelstate(cancel, NULL);
	return ret;
}

/* A fresh ring of @cap slots (Documentation/MEMORY_LAYOUT.md 7.1). */
static void ring_init(struct dmxp_slot __shm *slots, __u64 cap)
{
	__u64 i;

	for (i = 0; i < cap; i++) {
		memset(&slots[i].meta, 0, sizeof(slots[i].meta));
		WRITE_ONCE(slots[i].sequence, dmxp_rules_ring_seq(i));
	}
}

/*
 * Create and destroy hold the region's repair lock (lib/repair.c): a
 * repair in progress never sees the ring it works on re-created.
 */
static int shm_chan_create_locked(struct dmxp_region *r, unsigned int id, __u64 cap)
{
	struct dmxp_channel_entry __shm *e = &r->shdr->channels[id];
	__u64 boff, bcap, bytes = dmxp_rules_band_bytes(cap);
	int ret;

	ret = entry_lock(e, 0);
	if (ret)
		return ret;

	bcap = READ_ONCE(e->band_capacity);
	boff = READ_ONCE(e->band_offset);
	if (bcap < cap || !dmxp_rules_band_ok(bcap, boff, r->size)) {
		boff = band_alloc(r, bytes);
		ret = boff ? dmxp__back(r->fd, boff, bytes) : -ENOSPC;
		if (ret) {
			if (boff)
				band_unalloc(r, boff, bytes);
			entry_unlock(e, 0);
			return ret;
		}
		bcap = cap;
	}

	ring_init((struct dmxp_slot __shm *)((char *)r->shdr + boff), cap);
	WRITE_ONCE(e->tail, 0);
	WRITE_ONCE(e->head, 0);
	WRITE_ONCE(e->capacity, cap);
	WRITE_ONCE(e->band_offset, boff);
	WRITE_ONCE(e->band_capacity, bcap);
	WRITE_ONCE(e->repaired, 0);
	WRITE_ONCE(e->tombstoned, 0);
	__atomic_fetch_add(&r->shdr->channel_count, 1, __ATOMIC_RELAXED);
	/* Publishes the ring and the entry to dmxp_chan_open(). */
	entry_unlock(e, DMXP_CHAN_CREATED);
	return 0;
}

static int shm_chan_destroy_locked(struct dmxp_region *r, unsigned int id)
{
	struct dmxp_channel_entry __shm *e = &r->shdr->channels[id];
	int ret;

	ret = entry_lock(e, DMXP_CHAN_CREATED);
	if (ret)
		return ret;
	/* The band stays bound to the entry (band_offset, band_capacity). */
	WRITE_ONCE(e->capacity, 0);
	__atomic_fetch_sub(&r->shdr->channel_count, 1, __ATOMIC_RELAXED);
	/* Sleepers wake, see the new generation and return -EIDRM. */
	dmxp__shm_wake_all(e);
	entry_unlock(e, 0);
	return 0;
}

static int shm_chan_fd(struct dmxp_chan *c)
{
	(void)c;
	return -EOPNOTSUPP;	/* sleepers of region files use futexes */
}


static long futex(__u32 __shm *uaddr, int op, __u32 val, const struct timespec *ts,
		  __u32 val3)
{
	/* Shared futexes: the word is in memory other processes map. */
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, val3);
}

static void shm_notify(struct dmxp_chan *c, unsigned int flags, unsigned int n)
{
	__u32 __shm *w = dmxp__futex_word(c->f.sentry, flags);

	/*
	 * No repair pass here, not even for sleepers that died counted: the
	 * waiting side looks for those (dmxp__waiters_check()).
	 *
	 * Every sleeper is woken, not @n: a wake-up given to one sleeper
	 * for one message can be spent on another.  Producer B publishes
	 * position 1 while A holds position 0 and sees no sleeper; two
	 * consumers sleep at position 0; A publishes it and wakes one, which
	 * takes it and returns: the other sleeps with position 1 in the ring
	 * (lib/model/ring.pml, -DWAKE_ONE).  The kernel backend's wait queue
	 * wakes every poller too.
	 */
	(void)n;
	__atomic_fetch_add(w, 1, __ATOMIC_SEQ_CST);
	futex(w, FUTEX_WAKE, INT_MAX, NULL, 0);
}

/* Wake every sleeper of a channel being destroyed. */
void dmxp__shm_wake_all(struct dmxp_channel_entry __shm *e)
{
	__atomic_fetch_add(&e->recv_futex, 1, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&e->send_futex, 1, __ATOMIC_SEQ_CST);
	futex(&e->recv_futex, FUTEX_WAKE, INT_MAX, NULL, 0);
	futex(&e->send_futex, FUTEX_WAKE, INT_MAX, NULL, 0);
}

static int shm_wait(struct dmxp_chan *c, unsigned int flags, __u32 ev, __u64 deadline)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline / 1000000000ULL),
		.tv_nsec = (long)(deadline % 1000000000ULL),
	};
	int err = 0;

	/*
	 * An absolute CLOCK_MONOTONIC deadline, so a retry does not extend
	 * it.  "Forever" is a deadline too, far away: a timed futex wait is
	 * never restarted after a signal handler runs, so every handler
	 * interrupts the wait with EINTR, as it interrupts poll().
	 */
	if (!deadline)	/* 2^40 s, or the most a 32-bit time_t holds */
		ts.tv_sec = sizeof(time_t) > 4 ? (time_t)(1ULL << 40) : (time_t)0x7fffffff;
	/*
	 * syscall() is no cancellation point, and asynchronous cancellation
	 * around it would also let a signal handler that runs meanwhile be
	 * cancelled anywhere (inside malloc(), or between a claim and its
	 * publish).  wait_loop() acts on a pending cancellation instead, as
	 * soon as this returns: glibc signals only asynchronously cancelled
	 * threads, so that is when the sleep slice ends, within a second.
	 */
	if (futex(dmxp__futex_word(c->f.sentry, flags), FUTEX_WAIT_BITSET, ev, &ts,
		  FUTEX_BITSET_MATCH_ANY))
		err = errno;
	switch (err) {
	case 0:
	case EAGAIN:	/* the word moved: woken before we slept */
		return 0;
	case EINTR:
		return -EINTR;
	case ETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -err;
	}
}

const struct dmxp_backend_ops dmxp__shm_ops = {
	.name		= "shm",
	.chan_create	= shm_chan_create,
	.chan_destroy	= shm_chan_destroy,
	.notify		= shm_notify,
	.wait		= shm_wait,
	.chan_fd	= shm_chan_fd,
};
