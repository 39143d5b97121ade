// SPDX-License-Identifier: MIT
/*
 * Channels: create, destroy, open, inspect.
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
 */
#include <stdlib.h>
#include <string.h>
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
 * rule of lib/claim.c: its pid namespace ours and its pid gone, a zombie,
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
 * Create and destroy hold the region's repair lock (lib/claim.c): a
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

const struct dmxp_backend_ops dmxp__shm_ops = {
	.name		= "shm",
	.chan_create	= shm_chan_create,
	.chan_destroy	= shm_chan_destroy,
	.notify		= dmxp__shm_notify,
	.wait		= dmxp__shm_wait,
	.chan_fd	= shm_chan_fd,
};

__dmxp_export
int dmxp_chan_create(struct dmxp_region *r, unsigned int id, size_t capacity)
{
	if (!capacity)
		capacity = DMXP_DEFAULT_CAPACITY;
	if (id >= DMXP_MAX_CHANNELS || !dmxp_rules_capacity_ok(capacity))
		return -EINVAL;
	if (r->rdonly)
		return -EBADF;
	return r->ops->chan_create(r, id, capacity);
}

__dmxp_export
int dmxp_chan_destroy(struct dmxp_region *r, unsigned int id)
{
	if (id >= DMXP_MAX_CHANNELS)
		return -EINVAL;
	if (r->rdonly)
		return -EBADF;
	return r->ops->chan_destroy(r, id);
}

int dmxp__entry_snapshot(const struct dmxp_global_header __shm *h, size_t size,
			 unsigned int id, __u32 *gen, __u64 *cap, __u64 *boff)
{
	const struct dmxp_channel_entry __shm *e = &h->channels[id];
	int tries;

	for (tries = 0; tries < 1000; tries++) {
		__u32 g1 = load_acquire(&e->generation);
		/* Pairs with the store_release() in entry_unlock(). */
		__u32 f1 = load_acquire(&e->flags);
		__u32 f2, g2;

		/* BUSY alone: being created or destroyed, so not usable yet. */
		if (!(f1 & DMXP_CHAN_CREATED))
			return -ENOENT;
		*cap = READ_ONCE(e->capacity);
		*boff = READ_ONCE(e->band_offset);
		/* Pairs with the release fence in entry_lock(). */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		f2 = READ_ONCE(e->flags);
		g2 = READ_ONCE(e->generation);
		if (g1 != g2 || f1 != f2)
			continue;
		if (f1 != DMXP_CHAN_CREATED || !dmxp_rules_band_ok(*cap, *boff, size))
			return -EPROTO;
		*gen = g1;
		return 0;
	}
	return -EBUSY;
}

__dmxp_export
int dmxp_chan_open(struct dmxp_region *r, unsigned int id, struct dmxp_chan **out)
{
	struct dmxp_channel_entry __shm *e;
	struct dmxp_chan *c;
	__u64 cap, boff;
	__u32 gen;
	int ret;

	if (id >= DMXP_MAX_CHANNELS || !out)
		return -EINVAL;
	if (r->rdonly)
		return -EBADF;	/* sending and receiving both write the ring */
	ret = dmxp__entry_snapshot(r->shdr, r->size, id, &gen, &cap, &boff);
	if (ret)
		return ret;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	e = &r->shdr->channels[id];
	c->region = r;
	c->sentry = e;
	c->stail = &e->tail;
	c->shead = &e->head;
	c->sslots = (struct dmxp_slot __shm *)((char *)r->shdr + boff);
	c->capacity = cap;
	c->mask = cap - 1;
	c->id = id;
	c->gen = gen;
	dmxp__chan_wait_init(c);
	*out = c;
	return 0;
}

__dmxp_export
void dmxp_chan_close(struct dmxp_chan *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

__dmxp_export
unsigned int dmxp_chan_id(const struct dmxp_chan *c)
{
	return c->id;
}

__dmxp_export
size_t dmxp_chan_capacity(const struct dmxp_chan *c)
{
	return c->capacity;
}

__dmxp_export
int dmxp_chan_info(struct dmxp_region *r, unsigned int id,
		   struct dmxp_chan_info *info)
{
	struct dmxp_channel_entry __shm *e;
	__u64 cap, boff, head, tail;
	__u32 gen;
	int ret;

	if (id >= DMXP_MAX_CHANNELS || !info)
		return -EINVAL;
	ret = dmxp__entry_snapshot(r->shdr, r->size, id, &gen, &cap, &boff);
	if (ret)
		return ret;
	e = &r->shdr->channels[id];
	/* Head first: a head read after tail could pass it. */
	head = load_acquire(&e->head);
	tail = load_acquire(&e->tail);

	memset(info, 0, sizeof(*info));
	info->id = id;
	info->flags = DMXP_CHAN_CREATED;
	info->capacity = cap;
	info->head = head;
	info->tail = tail;
	info->depth = (__s64)(tail - head) > 0 ? tail - head : 0;
	if (info->depth > cap)
		info->depth = cap;
	info->band_offset = boff;
	return 0;
}

__dmxp_export
int dmxp_chan_list(struct dmxp_region *r, unsigned int *ids, size_t n)
{
	unsigned int id;
	int count = 0;

	if (!ids && n)
		return -EINVAL;
	for (id = 0; id < DMXP_MAX_CHANNELS; id++) {
		/* Pairs with the store_release() in entry_unlock(). */
		if (!(load_acquire(&r->shdr->channels[id].flags) & DMXP_CHAN_CREATED))
			continue;
		if ((size_t)count < n)
			ids[count] = id;
		count++;
	}
	return count;
}
