/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmxp kernel module internals.
 *
 * The module owns every region's memory.  Userspace maps it and runs the
 * lock-free ring protocol on it directly; the module only creates and
 * destroys regions and channels.  Everything the module relies on lives
 * in its own structures (struct dmxp_kregion, struct dmxp_kchan): it writes
 * the shared header for userspace but never reads back from it anything
 * it depends on, since any process that maps the region can write there.
 */
#ifndef DMXP_KMOD_H
#define DMXP_KMOD_H

#include <linux/atomic.h>
#include <linux/kobject.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/uidgid.h>
#include <linux/version.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <linux/dmxp.h>
#include "dmxp_rules.h"

struct file;
struct vm_area_struct;

/*
 * The kernel's authoritative copy of a channel.  created, generation,
 * capacity and band_offset change under the region's lock, created and
 * generation also under dmxp_lock; lockless readers use READ_ONCE().
 *
 * Allocated (charged to the creator's memory cgroup) the first time its
 * id is created in a region, and kept, through destroys and re-creates,
 * until the region is released: channel fds, sleepers on its wait queues
 * and its eventfd list may still refer to it after a destroy, and they
 * all hold the region.  So a pointer to it never dangles while the
 * region lives, and nothing needs to know when it could be freed.
 */
struct dmxp_kchan {
	bool			created;
	u32			generation;
	u64			capacity;
	u64			band_offset;
	struct kobject		*kobj;		/* /sys/kernel/dmxp/<region>/ch<id> */
	wait_queue_head_t	recv_wq;	/* consumers waiting for a message */
	wait_queue_head_t	send_wq;	/* producers waiting for a slot */
	struct list_head	eventfds;	/* struct dmxp_evreg, under ev_lock */
	atomic64_t		notifies;	/* wake-ups issued */
	atomic64_t		repaired;	/* slots of released files given back */
	atomic64_t		tombstoned;	/* of those, turned into tombstones */
	atomic_t		kclaims;	/* claims of read() and write() in flight */
};

/* A file attached to a region: the owner its claim records name. */
struct dmxp_lease {
	u32			id;		/* its index in dmxp_region.leases */
	kuid_t			uid;		/* charged for it (dmxp_user_charge()) */
};

/*
 * An open /dev/dmxp.  region is set once, under lock, and stays until the
 * file is released: readers load it with smp_load_acquire() and need no
 * lock (mmap() must not take one that an ioctl holds across copy_to_user(),
 * which may fault and take mmap_lock).
 */
struct dmxp_file {
	struct mutex		lock;		/* handshake and binding */
	bool			versioned;	/* DMXP_IOC_VERSION done */
	struct dmxp_kregion	*region;	/* bound region, or NULL */
	struct dmxp_lease	lease;		/* its claim records' owner */
	atomic_t		eventfds;	/* registrations it holds */
};

/* What one user may hold at a time, over every region (dmxp_user_charge()). */
enum dmxp_charge {
	DMXP_CHARGE_LEASE,		/* bindings of /dev/dmxp files */
	DMXP_CHARGE_EVENTFD,		/* eventfd registrations */
	DMXP_CHARGES
};

#define DMXP_FILE_EVENTFDS	256	/* eventfd registrations of one file */

/*
 * A region (about 2.4 KB, mostly chan[]), charged, like its memory and
 * its channels' struct dmxp_kchan, to the creator's memory cgroup.
 */
struct dmxp_kregion {
	struct kref		ref;		/* registry, files, mappings, work */
	struct list_head	node;		/* in the registry while alive */
	bool			destroyed;	/* removed from the registry */
	char			name[DMXP_NAME_MAX];
	void			*mem;		/* accounted __vmalloc(size), zeroed */
	size_t			size;
	kuid_t			uid;
	kgid_t			gid;
	umode_t			mode;
	unsigned int		channel_count;
	spinlock_t		ev_lock;	/* the channels' eventfd lists */
	/* NULL until the id is first created; see dmxp_kchan() */
	struct dmxp_kchan	*chan[DMXP_MAX_CHANNELS];
	struct kobject		*kobj;		/* /sys/kernel/dmxp/<name> */
	/* Crash repair (repair.c) */
	u64			claims_offset;	/* the claim table, as created */
	u32			claims_count;	/* 0: none */
	u64			bands_start;	/* rings go from here */
	struct mutex		lock;		/* channels, repair; outside dmxp_lock */
	struct xarray		leases;		/* id -> struct dmxp_lease, attached files */
	u32			next_lease;	/* for xa_alloc_cyclic() */
	struct delayed_work	repair_work;	/* a pass left something for later */
	unsigned long		repair_delay;	/* jiffies until that pass, under lock */
	atomic_t		repair_kick;	/* a release since: start the gaps again */
	u32			repair_next;	/* the record a pass starts at, under lock */
	/* Wake-ups (chan.c) */
	struct delayed_work	recheck_work;	/* while channels have sleepers */
};

/*
 * The registry of named regions, and the commit of a region's destroyed
 * flag and of a channel's created flag and generation.  Held only for such
 * short steps, never across an allocation, a ring initialisation, a sysfs
 * change or a wait for repair work: the last vm_close() of a region does
 * not take it at all.  Lock order: region names (region.c), then a
 * region's lock, then dmxp_lock.
 */
extern struct mutex dmxp_lock;

extern unsigned long dmxp_default_size;
extern unsigned long dmxp_max_region_size;
extern unsigned long dmxp_max_total_size;
extern unsigned int dmxp_user_max[DMXP_CHARGES];
extern kuid_t dmxp_default_uid;
extern kgid_t dmxp_default_gid;
extern umode_t dmxp_default_mode;

/* region.c */
int dmxp_kregion_create(const char *name, u64 size, umode_t mode, bool excl,
			struct dmxp_kregion **out);
int dmxp_kregion_map(struct dmxp_kregion *r, struct vm_area_struct *vma);
int dmxp_user_charge(enum dmxp_charge what, kuid_t uid);
void dmxp_user_uncharge(enum dmxp_charge what, kuid_t uid);
int dmxp_eventfd_charge(struct file *owner);
void dmxp_eventfd_uncharge(struct file *owner);
int dmxp_kregion_attach(const char *name, bool write, struct dmxp_kregion **out);
int dmxp_kregion_destroy(const char *name);
void dmxp_kregion_get(struct dmxp_kregion *r);
void dmxp_kregion_put(struct dmxp_kregion *r);
void dmxp_regions_destroy_all(void);
int dmxp_kchan_create(struct dmxp_kregion *r, u32 id, u64 capacity, u64 *band_offset);
int dmxp_kchan_destroy(struct dmxp_kregion *r, u32 id);

/* chan.c */
#define DMXP_CHAN_FD_POLL_ONLY	BIT(31)	/* internal: for a read-only binding */
void dmxp_chan_wake(struct dmxp_kregion *r, u32 id, unsigned int flags);
int dmxp_chan_fd_open(struct dmxp_kregion *r, u32 id, unsigned int flags);
int dmxp_chan_eventfd(struct dmxp_kregion *r, u32 id, int fd, bool unregister,
		      struct file *owner);
void dmxp_chan_drop(struct dmxp_kregion *r, u32 id, struct file *owner);
void dmxp_chan_quiesce(struct dmxp_kregion *r, u32 id);
void dmxp_chan_region_init(struct dmxp_kregion *r);
void dmxp_chan_region_fini(struct dmxp_kregion *r);

/* repair.c */
void dmxp_repair_init(struct dmxp_kregion *r);
int dmxp_lease_add(struct dmxp_kregion *r, struct dmxp_lease *l);
void dmxp_lease_del(struct dmxp_kregion *r, struct dmxp_lease *l);
void dmxp_repair_stop(struct dmxp_kregion *r);
void dmxp_repair_drain(void);
int dmxp_repair_module_init(void);
void dmxp_repair_module_exit(void);

/* sysfs.c */
int dmxp_sysfs_init(void);
void dmxp_sysfs_exit(void);
int dmxp_sysfs_region_add(struct dmxp_kregion *r);
void dmxp_sysfs_region_del(struct dmxp_kregion *r);
int dmxp_sysfs_chan_add(struct dmxp_kregion *r, u32 id);
void dmxp_sysfs_chan_del(struct dmxp_kregion *r, u32 id);

/*
 * Channel @id's kernel state, or NULL if @id was never created in @r.
 * Set once, by dmxp_kchan_create() under the region's lock, and kept until
 * the region is released.  The acquire pairs with the smp_store_release()
 * that publishes it there: a reader without that lock sees it initialised.
 */
static inline struct dmxp_kchan *dmxp_kchan(struct dmxp_kregion *r, u32 id)
{
	/* Pairs with the smp_store_release() in dmxp_kchan_create(). */
	return smp_load_acquire(&r->chan[id]);
}

/* The region's shared header, written by the module for userspace. */
static inline struct dmxp_global_header *dmxp_hdr(struct dmxp_kregion *r)
{
	return r->mem;
}

#endif /* DMXP_KMOD_H */
