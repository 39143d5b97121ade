// SPDX-License-Identifier: MIT
/*
 * Channels: create, destroy, open, inspect.
 *
 * The public calls; the region-file backend's create and destroy are in
 * lib/file.c, the module's in lib/kernel.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

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

	c = aligned_alloc(DMXP_CHAN_ALIGN, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	e = &r->shdr->channels[id];
	c->f.region = r;
	c->f.sentry = e;
	c->f.stail = &e->tail;
	c->f.shead = &e->head;
	c->f.sslots = (struct dmxp_slot __shm *)((char *)r->shdr + boff);
	c->f.capacity = cap;
	c->f.mask = cap - 1;
	c->f.id = id;
	c->f.gen = gen;
	c->f.abi = DMXP__FAST_ABI;	/* the inline calls may serve it (dmxp.h) */
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
int dmxp_chan_set_timestamp(struct dmxp_chan *c, unsigned int policy)
{
	if (policy > DMXP_TIMESTAMP_NONE)
		return -EINVAL;
	WRITE_ONCE(c->f.stamp, policy);
	return 0;
}

/* A timestamp under @policy: the clock read of dmxp__stamp() (dmxp.h). */
__dmxp_export
__u64 dmxp__clock(unsigned int policy)
{
	struct timespec ts;

	if (policy == DMXP_TIMESTAMP_PRECISE)
		return dmxp__now_ns();
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

__dmxp_export
unsigned int dmxp_chan_id(const struct dmxp_chan *c)
{
	return c->f.id;
}

__dmxp_export
size_t dmxp_chan_capacity(const struct dmxp_chan *c)
{
	return c->f.capacity;
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
