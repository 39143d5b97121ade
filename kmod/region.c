// SPDX-License-Identifier: GPL-2.0
/*
 * dmxp regions and channels.
 *
 * A region is a vmalloc_user() buffer laid out as include/uapi/linux/dmxp.h
 * says.  It is reference counted: the registry holds one reference while
 * the region has a name, each attached file one, and each VMA one, so
 * the memory lives while anything can still reach it.
 *
 * Channels are created here, never by userspace: the module picks the
 * band from its own table of channels (struct dmxp_kchan), initialises
 * the ring and then publishes the entry with the same flags/generation
 * protocol as the userspace library (lib/chan.c), so readers of the
 * header see the same thing on both backends.  Values in the mapping are
 * only ever written here, never trusted.
 */
#include <linux/cred.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "dmxp.h"

/* Serialises the registry and every region's and channel's state changes. */
DEFINE_MUTEX(dmxp_lock);
static LIST_HEAD(dmxp_regions);
static unsigned long dmxp_total_size;	/* bytes of all live regions */
static unsigned int dmxp_live_regions;	/* allocated, named or not */

static struct dmxp_region *region_find(const char *name)
{
	struct dmxp_region *r;

	lockdep_assert_held(&dmxp_lock);
	list_for_each_entry(r, &dmxp_regions, node)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

/* The last reference is gone; called with dmxp_lock held, releases it. */
static void region_release(struct kref *ref)
{
	struct dmxp_region *r = container_of(ref, struct dmxp_region, ref);

	dmxp_total_size -= r->size;
	dmxp_live_regions--;
	mutex_unlock(&dmxp_lock);
	dmxp_chan_region_fini(r);
	vfree(r->mem);
	kfree(r);
}

void dmxp_region_get(struct dmxp_region *r)
{
	kref_get(&r->ref);
}

void dmxp_region_put(struct dmxp_region *r)
{
	/* The release updates dmxp_total_size, which dmxp_lock protects. */
	kref_put_mutex(&r->ref, region_release, &dmxp_lock);
}

static void header_init(struct dmxp_region *r)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	unsigned int i;

	/* vmalloc_user() zeroed the memory. */
	h->version = DMXP_VERSION;
	h->max_channels = DMXP_MAX_CHANNELS;
	h->region_size = r->size;
	h->alloc_cursor = r->bands_start;
	h->claims_offset = r->claims_offset;
	h->claims_count = r->claims_count;
	for (i = 0; i < DMXP_MAX_CHANNELS; i++)
		h->channels[i].channel_id = i;
	/* Pairs with the magic check of userspace attachers. */
	smp_store_release(&h->magic, DMXP_MAGIC);
}

int dmxp_region_create(const char *name, u64 size, umode_t mode, bool excl,
		       struct dmxp_region **out)
{
	struct dmxp_region *r;
	unsigned int i;
	int ret;

	if (!size)
		size = dmxp_default_size;
	if (size < DMXP_HEADER_SIZE + DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE ||
	    size > dmxp_max_region_size)
		return -EINVAL;
	size = PAGE_ALIGN(size);

retry:
	mutex_lock(&dmxp_lock);
	r = region_find(name);
	if (r) {
		ret = excl ? -EEXIST : 1;	/* 1: attach to it instead */
		goto out_unlock;
	}
	if (size > dmxp_max_total_size - dmxp_total_size) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	r->mem = vmalloc_user(size);
	if (!r->mem) {
		kfree(r);
		ret = -ENOMEM;
		goto out_unlock;
	}
	kref_init(&r->ref);		/* the registry's reference */
	spin_lock_init(&r->ev_lock);
	dmxp_chan_region_init(r);
	dmxp_repair_init(r);
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		init_waitqueue_head(&r->chan[i].recv_wq);
		init_waitqueue_head(&r->chan[i].send_wq);
		INIT_LIST_HEAD(&r->chan[i].eventfds);
	}
	strscpy(r->name, name, sizeof(r->name));
	r->size = size;
	/* The claim table after the header, as lib/region.c lays it out. */
	r->bands_start = DMXP_HEADER_SIZE;
	if (size >= DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE +
		    DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE) {
		r->claims_offset = DMXP_HEADER_SIZE;
		r->claims_count = DMXP_CLAIMS;
		r->bands_start += DMXP_CLAIMS * DMXP_CLAIM_SIZE;
	}
	r->uid = current_euid();
	r->gid = current_egid();
	r->mode = mode;
	header_init(r);
	dmxp_total_size += size;
	dmxp_live_regions++;

	ret = dmxp_sysfs_region_add(r);
	if (ret) {
		dmxp_total_size -= size;
		dmxp_live_regions--;
		vfree(r->mem);
		kfree(r);
		goto out_unlock;
	}
	list_add_tail(&r->node, &dmxp_regions);
	dmxp_region_get(r);		/* the caller's */
	*out = r;
	mutex_unlock(&dmxp_lock);
	return 0;

out_unlock:
	mutex_unlock(&dmxp_lock);
	if (ret == 1) {
		ret = dmxp_region_attach(name, true, out);
		/* Destroyed since it was found: create it after all. */
		if (ret == -ENOENT)
			goto retry;
	}
	return ret;
}

/*
 * Read access, and write access too if @write, decided like SysV IPC's
 * ipcperms(): the owner's bits, else the group's, else the others'.
 */
static bool region_permitted(struct dmxp_region *r, bool write)
{
	umode_t granted = r->mode, want = write ? 06 : 04;

	if (uid_eq(current_euid(), r->uid))
		granted >>= 6;
	else if (in_egroup_p(r->gid))
		granted >>= 3;
	if ((granted & want) == want)
		return true;
	return capable(CAP_IPC_OWNER);
}

int dmxp_region_attach(const char *name, bool write, struct dmxp_region **out)
{
	struct dmxp_region *r;
	int ret = 0;

	mutex_lock(&dmxp_lock);
	r = region_find(name);
	if (!r)
		ret = -ENOENT;
	else if (!region_permitted(r, write))
		ret = -EACCES;
	else
		dmxp_region_get(r);
	mutex_unlock(&dmxp_lock);
	if (!ret)
		*out = r;
	return ret;
}

/* Take @r out of the registry; called with dmxp_lock held. */
static void region_unlink(struct dmxp_region *r)
{
	unsigned int i;

	lockdep_assert_held(&dmxp_lock);
	list_del_init(&r->node);
	/* Under r->lock too: a repair queues its work only if not destroyed. */
	mutex_lock(&r->lock);
	WRITE_ONCE(r->destroyed, true);
	mutex_unlock(&r->lock);
	/*
	 * No repair after this.  The registry's reference is still held, so
	 * the work's own put cannot be the last one (which takes dmxp_lock).
	 */
	dmxp_repair_stop(r);
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		dmxp_sysfs_chan_del(r, i);
		/* Sleepers wake and see -EIDRM; eventfds are signalled, dropped. */
		dmxp_chan_drop(r, i, NULL);
	}
	dmxp_sysfs_region_del(r);
}

int dmxp_region_destroy(const char *name)
{
	struct dmxp_region *r;

	mutex_lock(&dmxp_lock);
	r = region_find(name);
	if (!r) {
		mutex_unlock(&dmxp_lock);
		return -ENOENT;
	}
	if (!uid_eq(current_euid(), r->uid) && !capable(CAP_SYS_ADMIN)) {
		mutex_unlock(&dmxp_lock);
		return -EPERM;
	}
	region_unlink(r);
	mutex_unlock(&dmxp_lock);
	dmxp_region_put(r);	/* the registry's reference */
	return 0;
}

/*
 * Module unload: no file is open and nothing is mapped, so the registry
 * holds the last references.  Anything still allocated after that is a
 * leak, and is reported.
 */
void dmxp_regions_destroy_all(void)
{
	struct dmxp_region *r, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&dmxp_lock);
	list_for_each_entry_safe(r, tmp, &dmxp_regions, node) {
		region_unlink(r);
		list_add(&r->node, &dead);
	}
	mutex_unlock(&dmxp_lock);
	list_for_each_entry_safe(r, tmp, &dead, node) {
		list_del(&r->node);
		dmxp_region_put(r);
	}
	mutex_lock(&dmxp_lock);
	WARN(dmxp_live_regions || dmxp_total_size,
	     "dmxp: %u regions (%lu bytes) leaked\n", dmxp_live_regions, dmxp_total_size);
	mutex_unlock(&dmxp_lock);
}

struct band {
	u64 start, end;
};

static int band_cmp(const void *a, const void *b)
{
	const struct band *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * First fit for @bytes among the bands of created channels, from the
 * module's own table.  Returns the offset, or 0 when nothing fits.
 */
static u64 band_find(struct dmxp_region *r, u64 bytes)
{
	struct band *bands;
	unsigned int i, n = 0;
	u64 at = r->bands_start, found = 0;

	bands = kmalloc_array(DMXP_MAX_CHANNELS, sizeof(*bands), GFP_KERNEL);
	if (!bands)
		return 0;
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		if (!r->chan[i].created)
			continue;
		bands[n].start = r->chan[i].band_offset;
		bands[n].end = bands[n].start + r->chan[i].capacity * DMXP_SLOT_SIZE;
		n++;
	}
	sort(bands, n, sizeof(*bands), band_cmp, NULL);
	for (i = 0; i <= n; i++) {
		u64 next = i < n ? bands[i].start : r->size;

		if (next >= at && next - at >= bytes) {
			found = at;
			break;
		}
		if (i < n)
			at = max(at, bands[i].end);
	}
	kfree(bands);
	return found;
}

static bool capacity_ok(u64 cap)
{
	return cap >= DMXP_CAPACITY_MIN && cap <= DMXP_CAPACITY_MAX && is_power_of_2(cap);
}

int dmxp_chan_create(struct dmxp_region *r, u32 id, u64 capacity, u64 *band_offset)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	struct dmxp_channel_entry *e;
	struct dmxp_slot *slots;
	struct dmxp_kchan *kc;
	u64 off, i, hw = 0;
	unsigned int j;
	int ret = 0;

	if (id >= DMXP_MAX_CHANNELS || !capacity_ok(capacity))
		return -EINVAL;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);

	mutex_lock(&dmxp_lock);
	mutex_lock(&r->lock);	/* against a repair reading the channel */
	kc = &r->chan[id];
	if (r->destroyed) {
		ret = -EIDRM;
		goto out;
	}
	if (kc->created) {
		ret = -EEXIST;
		goto out;
	}
	off = band_find(r, capacity * DMXP_SLOT_SIZE);
	if (!off) {
		ret = -ENOSPC;
		goto out;
	}

	e = &h->channels[id];
	/* The userspace protocol of lib/chan.c: BUSY, generation, fields, CREATED. */
	WRITE_ONCE(e->flags, DMXP_CHAN_BUSY);
	WRITE_ONCE(e->generation, ++kc->generation);
	/* Pairs with the acquire fence of readers' seqlock (lib/chan.c). */
	smp_wmb();

	slots = r->mem + off;
	for (i = 0; i < capacity; i++) {
		memset(&slots[i].meta, 0, sizeof(slots[i].meta));
		WRITE_ONCE(slots[i].sequence, i);
		if (!(i & 4095))
			cond_resched();
	}
	WRITE_ONCE(e->tail, 0);
	WRITE_ONCE(e->head, 0);
	WRITE_ONCE(e->capacity, capacity);
	WRITE_ONCE(e->band_offset, off);
	WRITE_ONCE(e->band_capacity, capacity);
	WRITE_ONCE(e->owner_pid, 0);
	WRITE_ONCE(e->repaired, 0);
	WRITE_ONCE(e->tombstoned, 0);
	atomic64_set(&kc->repaired, 0);
	atomic64_set(&kc->tombstoned, 0);

	kc->capacity = capacity;
	kc->band_offset = off;
	kc->created = true;
	r->channel_count++;
	for (j = 0; j < DMXP_MAX_CHANNELS; j++)
		if (r->chan[j].created)
			hw = max(hw, r->chan[j].band_offset +
				 r->chan[j].capacity * DMXP_SLOT_SIZE);
	WRITE_ONCE(h->alloc_cursor, hw);
	WRITE_ONCE(h->channel_count, r->channel_count);
	/* Publishes the ring; pairs with load_acquire() of flags in lib/chan.c. */
	smp_store_release(&e->flags, DMXP_CHAN_CREATED);

	/* Stats are best effort: a channel works without its sysfs directory. */
	if (dmxp_sysfs_chan_add(r, id))
		pr_warn_ratelimited("dmxp: no sysfs entry for %s channel %u\n", r->name, id);
	*band_offset = off;
out:
	mutex_unlock(&r->lock);
	mutex_unlock(&dmxp_lock);
	return ret;
}

int dmxp_chan_destroy(struct dmxp_region *r, u32 id)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	struct dmxp_channel_entry *e;
	struct dmxp_kchan *kc;
	int ret = 0;

	if (id >= DMXP_MAX_CHANNELS)
		return -EINVAL;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);

	mutex_lock(&dmxp_lock);
	mutex_lock(&r->lock);	/* against a repair reading the channel */
	kc = &r->chan[id];
	if (r->destroyed) {
		ret = -EIDRM;
		goto out;
	}
	if (!kc->created) {
		ret = -ENOENT;
		goto out;
	}
	e = &h->channels[id];
	WRITE_ONCE(e->flags, DMXP_CHAN_BUSY);
	WRITE_ONCE(e->generation, ++kc->generation);
	/* As in dmxp_chan_create(): generation before the entry's fields. */
	smp_wmb();
	/* No read() or write() of the module is left in the ring. */
	dmxp_chan_quiesce(r, id);
	/* The module reuses freed bands itself: none stays bound to the entry. */
	WRITE_ONCE(e->capacity, 0);
	WRITE_ONCE(e->band_capacity, 0);
	kc->created = false;
	r->channel_count--;
	WRITE_ONCE(h->channel_count, r->channel_count);
	/* Pairs with load_acquire() of flags in lib/chan.c, as at creation. */
	smp_store_release(&e->flags, 0);
	dmxp_sysfs_chan_del(r, id);
	dmxp_chan_drop(r, id, NULL);
out:
	mutex_unlock(&r->lock);
	mutex_unlock(&dmxp_lock);
	return ret;
}
