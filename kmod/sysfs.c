// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only statistics under /sys/kernel/dmxp:
 *
 *	<region>/size  channel_count  uid  gid  mode
 *	<region>/ch<id>/capacity  head  tail  depth  notifies  repaired  tombstoned
 *
 * head and tail are read from the shared mapping, so they are whatever the
 * region's users last wrote there: reported, never used.  The attribute
 * callbacks take no lock; a directory is removed (which waits for running
 * callbacks) before the region or channel it describes goes away.
 */
#include <linux/kobject.h>
#include <linux/slab.h>
#include <linux/sysfs.h>

#include "dmxp.h"

static struct kobject *dmxp_kobj;

struct dmxp_kobj {
	struct kobject		kobj;
	struct dmxp_kregion	*region;
	u32			id;
};

#define to_dk(k) container_of(k, struct dmxp_kobj, kobj)

static void dk_release(struct kobject *kobj)
{
	kfree(to_dk(kobj));
}

static ssize_t size_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%zu\n", to_dk(k)->region->size);
}

static ssize_t channel_count_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_dk(k)->region->channel_count));
}

static ssize_t uid_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%u\n", from_kuid_munged(&init_user_ns, to_dk(k)->region->uid));
}

static ssize_t gid_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%u\n", from_kgid_munged(&init_user_ns, to_dk(k)->region->gid));
}

static ssize_t mode_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%04o\n", to_dk(k)->region->mode);
}

static struct kobj_attribute size_attr = __ATTR_RO(size);
static struct kobj_attribute channel_count_attr = __ATTR_RO(channel_count);
static struct kobj_attribute uid_attr = __ATTR_RO(uid);
static struct kobj_attribute gid_attr = __ATTR_RO(gid);
static struct kobj_attribute mode_attr = __ATTR_RO(mode);

static struct attribute *region_attrs[] = {
	&size_attr.attr,
	&channel_count_attr.attr,
	&uid_attr.attr,
	&gid_attr.attr,
	&mode_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(region);

static struct dmxp_channel_entry *dk_entry(struct kobject *k)
{
	struct dmxp_kobj *dk = to_dk(k);

	return &dmxp_hdr(dk->region)->channels[dk->id];
}

/*
 * The channel's kernel state.  A ch<id> directory exists only once its id
 * was created, and the state stays until the region is released, which
 * the directory outlives not; NULL is only a defence.
 */
static struct dmxp_kchan *dk_kchan(struct kobject *k)
{
	struct dmxp_kobj *dk = to_dk(k);

	return dmxp_kchan(dk->region, dk->id);
}

static ssize_t capacity_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct dmxp_kchan *kc = dk_kchan(k);

	return sysfs_emit(buf, "%llu\n", kc ? READ_ONCE(kc->capacity) : 0);
}

static ssize_t head_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(dk_entry(k)->head));
}

static ssize_t tail_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(dk_entry(k)->tail));
}

static ssize_t depth_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct dmxp_kchan *kc = dk_kchan(k);
	u64 cap = kc ? READ_ONCE(kc->capacity) : 0;
	u64 head = READ_ONCE(dk_entry(k)->head);
	u64 tail = READ_ONCE(dk_entry(k)->tail);
	s64 depth = (s64)(tail - head);

	/* Untrusted values: clamp to what a ring can hold. */
	return sysfs_emit(buf, "%llu\n", depth < 0 ? 0 : min_t(u64, depth, cap));
}

static ssize_t notifies_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct dmxp_kchan *kc = dk_kchan(k);

	return sysfs_emit(buf, "%lld\n", kc ? atomic64_read(&kc->notifies) : 0LL);
}

/* Slots of released files given back, and how many became tombstones. */
static ssize_t repaired_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct dmxp_kchan *kc = dk_kchan(k);

	return sysfs_emit(buf, "%lld\n", kc ? atomic64_read(&kc->repaired) : 0LL);
}

static ssize_t tombstoned_show(struct kobject *k, struct kobj_attribute *a, char *buf)
{
	struct dmxp_kchan *kc = dk_kchan(k);

	return sysfs_emit(buf, "%lld\n", kc ? atomic64_read(&kc->tombstoned) : 0LL);
}

static struct kobj_attribute capacity_attr = __ATTR_RO(capacity);
static struct kobj_attribute repaired_attr = __ATTR_RO(repaired);
static struct kobj_attribute tombstoned_attr = __ATTR_RO(tombstoned);
static struct kobj_attribute notifies_attr = __ATTR_RO(notifies);
static struct kobj_attribute head_attr = __ATTR_RO(head);
static struct kobj_attribute tail_attr = __ATTR_RO(tail);
static struct kobj_attribute depth_attr = __ATTR_RO(depth);

static struct attribute *chan_attrs[] = {
	&capacity_attr.attr,
	&head_attr.attr,
	&tail_attr.attr,
	&depth_attr.attr,
	&notifies_attr.attr,
	&repaired_attr.attr,
	&tombstoned_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(chan);

static const struct kobj_type region_ktype = {
	.release	= dk_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= region_groups,
};

static const struct kobj_type chan_ktype = {
	.release	= dk_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= chan_groups,
};

static struct kobject *dk_add(const struct kobj_type *kt, struct kobject *parent,
			      struct dmxp_kregion *r, u32 id, const char *name)
{
	struct dmxp_kobj *dk = kzalloc(sizeof(*dk), GFP_KERNEL_ACCOUNT);
	int ret;

	if (!dk)
		return NULL;
	dk->region = r;
	dk->id = id;
	ret = kobject_init_and_add(&dk->kobj, kt, parent, "%s", name);
	if (ret) {
		kobject_put(&dk->kobj);
		return NULL;
	}
	return &dk->kobj;
}

int dmxp_sysfs_region_add(struct dmxp_kregion *r)
{
	r->kobj = dk_add(&region_ktype, dmxp_kobj, r, 0, r->name);
	return r->kobj ? 0 : -ENOMEM;
}

void dmxp_sysfs_region_del(struct dmxp_kregion *r)
{
	if (!r->kobj)
		return;
	kobject_del(r->kobj);
	kobject_put(r->kobj);
	r->kobj = NULL;
}

int dmxp_sysfs_chan_add(struct dmxp_kregion *r, u32 id)
{
	struct dmxp_kchan *kc = r->chan[id];	/* created, under r->lock */
	char name[8];

	snprintf(name, sizeof(name), "ch%u", id);
	kc->kobj = dk_add(&chan_ktype, r->kobj, r, id, name);
	return kc->kobj ? 0 : -ENOMEM;
}

/* Under r->lock, for a channel never created too. */
void dmxp_sysfs_chan_del(struct dmxp_kregion *r, u32 id)
{
	struct dmxp_kchan *kc = r->chan[id];
	struct kobject *k = kc ? kc->kobj : NULL;

	if (!k)
		return;
	kobject_del(k);
	kobject_put(k);
	kc->kobj = NULL;
}

int dmxp_sysfs_init(void)
{
	dmxp_kobj = kobject_create_and_add("dmxp", kernel_kobj);
	return dmxp_kobj ? 0 : -ENOMEM;
}

void dmxp_sysfs_exit(void)
{
	kobject_put(dmxp_kobj);
}
