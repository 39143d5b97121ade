// SPDX-License-Identifier: GPL-2.0
/*
 * dmxp regions and channels.
 *
 * A region is a zeroed vmalloc buffer laid out as include/uapi/linux/dmxp.h
 * says, charged to its creator's memory cgroup.  It is reference counted:
 * the registry holds one reference while the region has a name, each
 * attached file one, each VMA one and pending repair work one, so the
 * memory lives while anything can still reach it.
 *
 * Locks (dmxp.h): nothing long happens under dmxp_lock.  A region is
 * allocated and initialised before it is named, a channel's ring is
 * initialised under the region's own lock, and sysfs directories and
 * repair work are dealt with outside dmxp_lock.
 *
 * Channels are created here, never by userspace: the module picks the
 * band from its own table of channels (struct dmxp_kchan), initialises
 * the ring and then publishes the entry with the same flags/generation
 * protocol as the userspace library (lib/file.c), so readers of the
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

/* What dmxp.h says: the registry and short commits, never long work. */
DEFINE_MUTEX(dmxp_lock);
/*
 * The set of names: a region joins and leaves the registry, and its
 * directory /sys/kernel/dmxp/<name> is added and removed, under this
 * mutex, so that a name re-created at once never meets the old
 * directory.  Only creators and destroyers take it, never attach, mmap,
 * munmap or exit; a creator allocates before it.
 */
static DEFINE_MUTEX(dmxp_names_lock);
static LIST_HEAD(dmxp_regions);			/* under dmxp_lock */
static atomic_long_t dmxp_total_size;		/* bytes of all live regions */
static atomic_t dmxp_live_regions;		/* allocated, named or not */

static struct dmxp_kregion *region_find(const char *name)
{
	struct dmxp_kregion *r;

	lockdep_assert_held(&dmxp_lock);
	list_for_each_entry(r, &dmxp_regions, node)
		if (!strcmp(r->name, name))
			return r;
	return NULL;
}

/* The last reference is gone: nothing can reach the region any more. */
static void region_release(struct kref *ref)
{
	struct dmxp_kregion *r = container_of(ref, struct dmxp_kregion, ref);
	unsigned int i;

	WARN_ON_ONCE(!xa_empty(&r->leases));
	xa_destroy(&r->leases);
	dmxp_chan_region_fini(r);
	vfree(r->mem);
	atomic_long_sub(r->size, &dmxp_total_size);
	atomic_dec(&dmxp_live_regions);
	/* Nothing refers to a channel any more: every holder held the region. */
	for (i = 0; i < DMXP_MAX_CHANNELS; i++)
		kfree(r->chan[i]);
	kfree(r);
}

void dmxp_kregion_get(struct dmxp_kregion *r)
{
	kref_get(&r->ref);
}

/* Takes no lock: the last put may come from vm_close(), under mmap_lock. */
void dmxp_kregion_put(struct dmxp_kregion *r)
{
	kref_put(&r->ref, region_release);
}

static void header_init(struct dmxp_kregion *r)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	unsigned int i;

	/* __vmalloc(__GFP_ZERO) zeroed the memory. */
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

/*
 * The region's memory, zeroed and charged to the caller's memory cgroup.
 * vmalloc_user() is not accounted, and __vmalloc_node_range(), which
 * could add VM_USERMAP to an accounted allocation, is not exported:
 * dmxp_kregion_map() inserts the pages itself, as remap_vmalloc_range()
 * would.  A size the caller chose may fail quietly.  Not inlined: it
 * names region memory in /proc/vmallocinfo (selftests/fuzz_kmod checks).
 */
static noinline void *dmxp_kregion_mem(u64 size)
{
	void *mem = __vmalloc(size, GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN);

	barrier();	/* not a tail call: __vmalloc()'s caller is this function */
	return mem;
}

/*
 * A new region, not yet named, with the registry's reference; its size
 * is already counted in dmxp_total_size.  Everything is charged to the
 * caller's memory cgroup.  No lock is held: this is the long part.
 */
static struct dmxp_kregion *region_alloc(const char *name, u64 size, umode_t mode,
					 kuid_t uid, kgid_t gid)
{
	struct dmxp_rules_layout plan;
	struct dmxp_kregion *r;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	r->mem = dmxp_kregion_mem(size);
	if (!r->mem) {
		kfree(r);
		return NULL;
	}
	kref_init(&r->ref);		/* the registry's reference */
	INIT_LIST_HEAD(&r->node);
	spin_lock_init(&r->ev_lock);
	dmxp_chan_region_init(r);
	dmxp_repair_init(r);
	strscpy(r->name, name, sizeof(r->name));
	r->size = size;
	/* The claim table after the header, as lib/region.c lays it out. */
	dmxp_rules_layout_plan(size, &plan);
	r->claims_offset = plan.claims_offset;
	r->claims_count = plan.claims_count;
	r->bands_start = plan.bands_start;
	r->uid = uid;
	r->gid = gid;
	r->mode = mode;
	header_init(r);
	atomic_inc(&dmxp_live_regions);
	return r;
}

/*
 * Map the whole region into @vma, page by page as remap_vmalloc_range()
 * does (which needs VM_USERMAP, see region_alloc()).  On an error the
 * caller's mmap() fails and the pages inserted so far are unmapped.
 */
int dmxp_kregion_map(struct dmxp_kregion *r, struct vm_area_struct *vma)
{
	unsigned long off;
	int ret;

	if (vma->vm_end - vma->vm_start != r->size || vma->vm_pgoff)
		return -EINVAL;
	for (off = 0; off < r->size; off += PAGE_SIZE) {
		ret = vm_insert_page(vma, vma->vm_start + off, vmalloc_to_page(r->mem + off));
		if (ret)
			return ret;
		if (!(off & (SZ_16M - 1)))
			cond_resched();
	}
	return 0;
}

/*
 * Read access, and write access too if @write, decided like SysV IPC's
 * ipcperms(): the owner's bits, else the group's, else the others'.
 */
static bool region_permitted(struct dmxp_kregion *r, bool write)
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

/*
 * The region named @name with a reference for the caller: -ENOENT if
 * there is none, -EEXIST if there is one and @excl, -EACCES if the
 * caller may not attach to it.
 */
static int region_lookup(const char *name, bool excl, bool write, struct dmxp_kregion **out)
{
	struct dmxp_kregion *r;
	int ret = 0;

	mutex_lock(&dmxp_lock);
	r = region_find(name);
	if (!r)
		ret = -ENOENT;
	else if (excl)
		ret = -EEXIST;
	else if (!region_permitted(r, write))
		ret = -EACCES;
	else
		dmxp_kregion_get(r);
	mutex_unlock(&dmxp_lock);
	if (!ret)
		*out = r;
	return ret;
}

/*
 * A new region, not yet named, its size charged to dmxp_total_size (the
 * module's limit: -ENOSPC) and its memory to the caller (-ENOMEM).
 */
static int region_new(const char *name, u64 size, umode_t mode, kuid_t uid, kgid_t gid,
		      struct dmxp_kregion **out)
{
	if (size > dmxp_max_total_size)
		return -ENOSPC;
	if (atomic_long_add_return(size, &dmxp_total_size) > dmxp_max_total_size) {
		atomic_long_sub(size, &dmxp_total_size);
		return -ENOSPC;
	}
	*out = region_alloc(name, size, mode, uid, gid);
	if (!*out) {
		atomic_long_sub(size, &dmxp_total_size);
		return -ENOMEM;
	}
	return 0;
}

/* With dmxp_names_lock held: @r joins the registry, with the caller's reference. */
static int region_add(struct dmxp_kregion *r)
{
	int ret;

	lockdep_assert_held(&dmxp_names_lock);
	ret = dmxp_sysfs_region_add(r);
	if (ret)
		return ret;
	dmxp_kregion_get(r);		/* the caller's */
	mutex_lock(&dmxp_lock);
	list_add_tail(&r->node, &dmxp_regions);
	mutex_unlock(&dmxp_lock);
	return 0;
}

int dmxp_kregion_create(const char *name, u64 size, umode_t mode, bool excl,
			struct dmxp_kregion **out)
{
	kuid_t uid = current_euid();
	kgid_t gid = current_egid();
	struct dmxp_kregion *r;
	bool named = false;
	int ret;

	/*
	 * The default region is the module's: whoever (re)creates it, it is
	 * created with the configured size, owner and mode, so that nobody
	 * can take the well-known name with permissions of their own.
	 */
	if (!strcmp(name, DMXP_DEFAULT_NAME)) {
		size = dmxp_default_size;
		mode = dmxp_default_mode;
		uid = dmxp_default_uid;
		gid = dmxp_default_gid;
	}
	if (!size)
		size = dmxp_default_size;
	if (!dmxp_rules_region_size_ok(size, dmxp_max_region_size))
		return -EINVAL;
	size = PAGE_ALIGN(size);

	/* Most creates of a shared name find it: attach, allocating nothing. */
	ret = region_lookup(name, excl, true, out);
	if (ret != -ENOENT)
		return ret;
	ret = region_new(name, size, mode, uid, gid, &r);
	if (ret)
		return ret;

	mutex_lock(&dmxp_names_lock);
	/* Someone else created it meanwhile: theirs wins, as if found above. */
	ret = region_lookup(name, excl, true, out);
	if (ret == -ENOENT) {
		ret = region_add(r);
		named = !ret;
	}
	mutex_unlock(&dmxp_names_lock);
	if (!named) {
		dmxp_kregion_put(r);	/* never named: this frees it */
		return ret;
	}
	/* Made for the caller as the module's: the caller attaches as anyone would. */
	if (!uid_eq(uid, current_euid()) && !region_permitted(r, true)) {
		dmxp_kregion_put(r);
		return -EACCES;
	}
	*out = r;
	return 0;
}

int dmxp_kregion_attach(const char *name, bool write, struct dmxp_kregion **out)
{
	return region_lookup(name, false, write, out);
}

/*
 * @r has left the registry; with dmxp_names_lock held, mark it destroyed
 * and remove its sysfs directories (before its name can be taken again).
 */
static void region_unlink(struct dmxp_kregion *r)
{
	unsigned int i;

	lockdep_assert_held(&dmxp_names_lock);
	mutex_lock(&r->lock);
	/*
	 * Under r->lock: no channel is created or destroyed after this, and
	 * a repair pass that starts sees it.  Under dmxp_lock: chan.c binds
	 * channel fds and eventfds only to a region not destroyed.
	 */
	mutex_lock(&dmxp_lock);
	WRITE_ONCE(r->destroyed, true);
	mutex_unlock(&dmxp_lock);
	for (i = 0; i < DMXP_MAX_CHANNELS; i++)
		dmxp_sysfs_chan_del(r, i);
	mutex_unlock(&r->lock);
	dmxp_sysfs_region_del(r);
}

/* After region_unlink(), with no lock: the rest, and the registry's reference. */
static void region_retire(struct dmxp_kregion *r)
{
	unsigned int i;

	/* No repair after this.  The registry's reference outlives the work's. */
	dmxp_repair_stop(r);
	/* Sleepers wake and see -EIDRM; eventfds are signalled, dropped. */
	for (i = 0; i < DMXP_MAX_CHANNELS; i++)
		dmxp_chan_drop(r, i, NULL);
	dmxp_kregion_put(r);
}

int dmxp_kregion_destroy(const char *name)
{
	struct dmxp_kregion *r;
	int ret = 0;

	mutex_lock(&dmxp_names_lock);
	mutex_lock(&dmxp_lock);
	r = region_find(name);
	if (!r)
		ret = -ENOENT;
	else if (!uid_eq(current_euid(), r->uid) && !capable(CAP_SYS_ADMIN))
		ret = -EPERM;
	else
		list_del_init(&r->node);
	mutex_unlock(&dmxp_lock);
	if (!ret)
		region_unlink(r);
	mutex_unlock(&dmxp_names_lock);
	if (!ret)
		region_retire(r);
	return ret;
}

/*
 * Module unload: no file is open and nothing is mapped, so the registry
 * holds the last references.  Anything still allocated after that is a
 * leak, and is reported.
 */
void dmxp_regions_destroy_all(void)
{
	struct dmxp_kregion *r, *tmp;
	LIST_HEAD(dead);

	mutex_lock(&dmxp_names_lock);
	mutex_lock(&dmxp_lock);
	list_splice_init(&dmxp_regions, &dead);
	mutex_unlock(&dmxp_lock);
	list_for_each_entry(r, &dead, node)
		region_unlink(r);
	mutex_unlock(&dmxp_names_lock);
	list_for_each_entry_safe(r, tmp, &dead, node) {
		list_del_init(&r->node);
		region_retire(r);
	}
	/* Work queued by a release racing with a destroy holds a reference. */
	dmxp_repair_drain();
	WARN(atomic_read(&dmxp_live_regions) || atomic_long_read(&dmxp_total_size),
	     "dmxp: %d regions (%ld bytes) leaked\n", atomic_read(&dmxp_live_regions),
	     atomic_long_read(&dmxp_total_size));
}

/*
 * Per-user counts, over all regions, keyed by the kernel uid (so a user
 * namespace's users are counted apart): what one user may hold at a time.
 * The counts are value entries changed under the xarray's spinlock, so
 * that a count can be given back where chan.c holds a spinlock.
 */
static struct xarray dmxp_users[DMXP_CHARGES] = {
	XARRAY_INIT(dmxp_users[DMXP_CHARGE_LEASE], 0),
	XARRAY_INIT(dmxp_users[DMXP_CHARGE_EVENTFD], 0),
};

/* Under the xarray's spinlock; a reserved or present slot needs nothing. */
#define USER_GFP	(GFP_NOWAIT | __GFP_NOWARN | __GFP_ACCOUNT)

static unsigned long user_count(struct xarray *xa, unsigned long uid)
{
	void *old = xa_load(xa, uid);

	return xa_is_value(old) ? xa_to_value(old) : 0;
}

/* One more of @what for @uid, or -EDQUOT at dmxp_user_max[@what]. */
int dmxp_user_charge(enum dmxp_charge what, kuid_t uid)
{
	struct xarray *xa = &dmxp_users[what];
	unsigned long idx = __kuid_val(uid), n;
	int ret;

	/* The slot, allocated beforehand: the store below allocates nothing. */
	ret = xa_reserve(xa, idx, GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	xa_lock(xa);
	n = user_count(xa, idx);
	if (n < dmxp_user_max[what]) {
		ret = xa_err(__xa_store(xa, idx, xa_mk_value(n + 1), USER_GFP));
	} else {
		ret = -EDQUOT;
		if (!n)		/* the reservation only */
			__xa_erase(xa, idx);
	}
	xa_unlock(xa);
	return ret;
}

/* Gives back one dmxp_user_charge(); any context that may take a spinlock. */
void dmxp_user_uncharge(enum dmxp_charge what, kuid_t uid)
{
	struct xarray *xa = &dmxp_users[what];
	unsigned long idx = __kuid_val(uid), n;

	xa_lock(xa);
	n = user_count(xa, idx);
	/* Replacing a present entry allocates nothing: it cannot fail. */
	if (n > 1)
		__xa_store(xa, idx, xa_mk_value(n - 1), USER_GFP);
	else if (!WARN_ON_ONCE(!n))
		__xa_erase(xa, idx);
	xa_unlock(xa);
}

/*
 * An eventfd registration by the /dev/dmxp file @owner: at most
 * DMXP_FILE_EVENTFDS per file (-EMFILE), and max_user_eventfds per user
 * (-EDQUOT), the user being the one who opened @owner.  On top of the
 * DMXP_EVENTFD_MAX per channel that dmxp_chan_eventfd() enforces.
 */
int dmxp_eventfd_charge(struct file *owner)
{
	struct dmxp_file *df = owner->private_data;
	int ret;

	if (atomic_inc_return(&df->eventfds) > DMXP_FILE_EVENTFDS) {
		atomic_dec(&df->eventfds);
		return -EMFILE;
	}
	ret = dmxp_user_charge(DMXP_CHARGE_EVENTFD, owner->f_cred->euid);
	if (ret)
		atomic_dec(&df->eventfds);
	return ret;
}

/*
 * The registration charged by dmxp_eventfd_charge() is gone.  Called
 * where it leaves its list, under the region's ev_lock: the owner's
 * release drops its registrations under that lock too, so @owner is
 * still there.
 */
void dmxp_eventfd_uncharge(struct file *owner)
{
	struct dmxp_file *df = owner->private_data;

	dmxp_user_uncharge(DMXP_CHARGE_EVENTFD, owner->f_cred->euid);
	atomic_dec(&df->eventfds);
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
static u64 band_find(struct dmxp_kregion *r, u64 bytes)
{
	struct band *bands;
	unsigned int i, n = 0;
	u64 at = r->bands_start, found = 0;

	bands = kmalloc_array(DMXP_MAX_CHANNELS, sizeof(*bands), GFP_KERNEL);
	if (!bands)
		return 0;
	lockdep_assert_held(&r->lock);
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		struct dmxp_kchan *kc = r->chan[i];	/* set under r->lock */

		if (!kc || !kc->created)
			continue;
		bands[n].start = kc->band_offset;
		bands[n].end = bands[n].start + dmxp_rules_band_bytes(kc->capacity);
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

/* A channel's kernel state, for the first creation of its id in a region. */
static struct dmxp_kchan *kchan_alloc(void)
{
	struct dmxp_kchan *kc = kzalloc(sizeof(*kc), GFP_KERNEL_ACCOUNT);

	if (!kc)
		return NULL;
	init_waitqueue_head(&kc->recv_wq);
	init_waitqueue_head(&kc->send_wq);
	INIT_LIST_HEAD(&kc->eventfds);
	return kc;
}

/* A fresh ring of @cap slots (Documentation/MEMORY_LAYOUT.md 7.1). */
static void ring_init(struct dmxp_slot *slots, u64 cap)
{
	u64 i;

	for (i = 0; i < cap; i++) {
		memset(&slots[i].meta, 0, sizeof(slots[i].meta));
		WRITE_ONCE(slots[i].sequence, dmxp_rules_ring_seq(i));
		if (!(i & 4095))
			cond_resched();
	}
}

int dmxp_kchan_create(struct dmxp_kregion *r, u32 id, u64 capacity, u64 *band_offset)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	struct dmxp_channel_entry *e;
	struct dmxp_kchan *kc;
	u64 off, hw = 0;
	unsigned int j;
	u32 gen;
	int ret = 0;

	if (id >= DMXP_MAX_CHANNELS || !dmxp_rules_capacity_ok(capacity))
		return -EINVAL;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);

	/*
	 * The region's channels change under its own lock (a repair reads
	 * them under it too), not under dmxp_lock: initialising a ring of
	 * 2^24 slots stalls nobody outside this region.
	 */
	mutex_lock(&r->lock);
	kc = r->chan[id];	/* set under r->lock, which we hold */
	if (r->destroyed) {
		ret = -EIDRM;
		goto out;
	}
	if (kc && kc->created) {
		ret = -EEXIST;
		goto out;
	}
	off = band_find(r, dmxp_rules_band_bytes(capacity));
	/* The band as attachers check it (lib/chan.c): never otherwise. */
	if (!off || WARN_ON_ONCE(!dmxp_rules_band_ok(capacity, off, r->size))) {
		ret = -ENOSPC;
		goto out;
	}
	if (!kc) {
		/* The id's first creation: its state lives until the region goes. */
		kc = kchan_alloc();
		if (!kc) {
			ret = -ENOMEM;
			goto out;
		}
		/* Pairs with the smp_load_acquire() of dmxp_kchan(). */
		smp_store_release(&r->chan[id], kc);
	}

	e = &h->channels[id];
	gen = kc->generation + 1;
	/* The userspace protocol of lib/file.c: BUSY, generation, fields, CREATED. */
	WRITE_ONCE(e->flags, DMXP_CHAN_BUSY);
	WRITE_ONCE(e->generation, gen);
	/* Not created yet: chan.c binds nothing to this generation meanwhile. */
	WRITE_ONCE(kc->generation, gen);
	/* Pairs with the acquire fence of readers' seqlock (lib/chan.c, dmxp_chan_open()). */
	smp_wmb();

	ring_init(r->mem + off, capacity);
	WRITE_ONCE(e->tail, 0);
	WRITE_ONCE(e->head, 0);
	WRITE_ONCE(e->capacity, capacity);
	WRITE_ONCE(e->band_offset, off);
	WRITE_ONCE(e->band_capacity, capacity);
	WRITE_ONCE(e->owner_pid, 0);
	WRITE_ONCE(e->owner_start, 0);
	WRITE_ONCE(e->owner_ns, 0);
	WRITE_ONCE(e->repaired, 0);
	WRITE_ONCE(e->tombstoned, 0);
	atomic64_set(&kc->repaired, 0);
	atomic64_set(&kc->tombstoned, 0);

	WRITE_ONCE(kc->capacity, capacity);
	WRITE_ONCE(kc->band_offset, off);
	/*
	 * The geometry before created: pairs with the smp_rmb() of chan.c's
	 * chan_alive(), which reads created, then the geometry.
	 */
	smp_wmb();
	/* chan.c checks created under dmxp_lock before it binds anything. */
	mutex_lock(&dmxp_lock);
	WRITE_ONCE(kc->created, true);
	mutex_unlock(&dmxp_lock);
	WRITE_ONCE(r->channel_count, r->channel_count + 1);
	for (j = 0; j < DMXP_MAX_CHANNELS; j++) {
		struct dmxp_kchan *o = r->chan[j];	/* set under r->lock */

		if (o && o->created)
			hw = max(hw, o->band_offset + dmxp_rules_band_bytes(o->capacity));
	}
	WRITE_ONCE(h->alloc_cursor, hw);
	WRITE_ONCE(h->channel_count, r->channel_count);
	/* Publishes the ring; pairs with load_acquire() of flags in lib/chan.c and lib/file.c. */
	smp_store_release(&e->flags, DMXP_CHAN_CREATED);

	/* Stats are best effort: a channel works without its sysfs directory. */
	if (dmxp_sysfs_chan_add(r, id))
		pr_warn_ratelimited("dmxp: no sysfs entry for %s channel %u\n", r->name, id);
	*band_offset = off;
out:
	mutex_unlock(&r->lock);
	return ret;
}

int dmxp_kchan_destroy(struct dmxp_kregion *r, u32 id)
{
	struct dmxp_global_header *h = dmxp_hdr(r);
	struct dmxp_channel_entry *e;
	struct dmxp_kchan *kc;
	int ret = 0;
	u32 gen;

	if (id >= DMXP_MAX_CHANNELS)
		return -EINVAL;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);

	mutex_lock(&r->lock);	/* as in dmxp_kchan_create() */
	kc = r->chan[id];	/* set under r->lock, which we hold */
	if (r->destroyed) {
		ret = -EIDRM;
		goto out;
	}
	if (!kc || !kc->created) {
		ret = -ENOENT;
		goto out;
	}
	e = &h->channels[id];
	WRITE_ONCE(e->flags, DMXP_CHAN_BUSY);
	gen = kc->generation + 1;
	/* After this chan.c binds nothing more to the channel. */
	mutex_lock(&dmxp_lock);
	WRITE_ONCE(kc->generation, gen);
	WRITE_ONCE(kc->created, false);
	mutex_unlock(&dmxp_lock);
	WRITE_ONCE(e->generation, gen);
	/* As in dmxp_kchan_create(): generation before the entry's fields. */
	smp_wmb();
	/* No read() or write() of the module is left in the ring. */
	dmxp_chan_quiesce(r, id);
	/* The module reuses freed bands itself: none stays bound to the entry. */
	WRITE_ONCE(e->capacity, 0);
	WRITE_ONCE(e->band_capacity, 0);
	WRITE_ONCE(r->channel_count, r->channel_count - 1);
	WRITE_ONCE(h->channel_count, r->channel_count);
	/* Pairs with load_acquire() of flags in lib/file.c and lib/chan.c, as at creation. */
	smp_store_release(&e->flags, 0);
	dmxp_sysfs_chan_del(r, id);
	dmxp_chan_drop(r, id, NULL);
out:
	mutex_unlock(&r->lock);
	return ret;
}
