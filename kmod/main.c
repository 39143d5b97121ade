// SPDX-License-Identifier: GPL-2.0
/*
 * dmxp: shared-memory message channels served by /dev/dmxp.
 *
 * Userspace sequence (see include/uapi/linux/dmxp.h):
 *
 *	fd = open("/dev/dmxp", O_RDWR);
 *	ioctl(fd, DMXP_IOC_VERSION, &v);
 *	ioctl(fd, DMXP_IOC_REGION_CREATE or _ATTACH, &r);
 *	mem = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *	ioctl(fd, DMXP_IOC_CHAN_CREATE, &c);
 *	... lock-free messaging in mem, no system call ...
 *
 * Each open file is bound to at most one region.  Mappings hold a
 * reference on the region (and, through vm_file, on the module), so a
 * region lives while it is mapped and the module cannot be unloaded.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "shims.h"
#include "dmxp.h"

unsigned long dmxp_default_size = 16UL << 20;
module_param_named(default_size, dmxp_default_size, ulong, 0444);
MODULE_PARM_DESC(default_size, "Bytes of a region created with size 0, and of the default region (default 16 MiB)");

unsigned long dmxp_max_region_size = 1UL << 30;
module_param_named(max_region_size, dmxp_max_region_size, ulong, 0444);
MODULE_PARM_DESC(max_region_size, "Largest region in bytes (default 1 GiB)");

unsigned long dmxp_max_total_size;
module_param_named(max_total_size, dmxp_max_total_size, ulong, 0444);
MODULE_PARM_DESC(max_total_size, "Bytes of all regions together (default 0: half of RAM)");

static ushort dmxp_default_mode_param = 0666;
module_param_named(default_mode, dmxp_default_mode_param, ushort, 0444);
MODULE_PARM_DESC(default_mode, "Permissions of the default region, which the module creates at load (default 0666)");

static uint dmxp_default_uid_param;
module_param_named(default_uid, dmxp_default_uid_param, uint, 0444);
MODULE_PARM_DESC(default_uid, "Owner of the default region (default 0)");

static uint dmxp_default_gid_param;
module_param_named(default_gid, dmxp_default_gid_param, uint, 0444);
MODULE_PARM_DESC(default_gid, "Group of the default region (default 0)");

unsigned int dmxp_user_max[DMXP_CHARGES] = {
	[DMXP_CHARGE_LEASE]	= 65536,
	[DMXP_CHARGE_EVENTFD]	= 8192,
};
module_param_named(max_user_leases, dmxp_user_max[DMXP_CHARGE_LEASE], uint, 0444);
MODULE_PARM_DESC(max_user_leases, "Files one user may have bound to regions at a time (default 65536)");
module_param_named(max_user_eventfds, dmxp_user_max[DMXP_CHARGE_EVENTFD], uint, 0444);
MODULE_PARM_DESC(max_user_eventfds, "Eventfd registrations one user may hold at a time (default 8192)");

kuid_t dmxp_default_uid;
kgid_t dmxp_default_gid;
umode_t dmxp_default_mode;

/* The file's region with a reference for the caller, or NULL if unbound. */
static struct dmxp_kregion *file_region(struct dmxp_file *df)
{
	/* Pairs with smp_store_release() in ioc_region(). */
	struct dmxp_kregion *r = smp_load_acquire(&df->region);

	/* The file's own reference keeps r alive while the file is in use. */
	if (r)
		dmxp_kregion_get(r);
	return r;
}

static int dmxp_open(struct inode *inode, struct file *file)
{
	struct dmxp_file *df = kzalloc(sizeof(*df), GFP_KERNEL_ACCOUNT);

	if (!df)
		return -ENOMEM;
	mutex_init(&df->lock);
	file->private_data = df;
	return 0;
}

static int dmxp_release(struct inode *inode, struct file *file)
{
	struct dmxp_file *df = file->private_data;
	unsigned int i;

	if (df->region) {
		/* The eventfds this file registered go with it. */
		for (i = 0; i < DMXP_MAX_CHANNELS; i++)
			dmxp_chan_drop(df->region, i, file);
		/*
		 * Every mapping holds the file, so none is left: the claims
		 * of this file's records are repaired (repair.c), by the
		 * repair work, not here.
		 */
		dmxp_lease_del(df->region, &df->lease);
		dmxp_user_uncharge(DMXP_CHARGE_LEASE, df->lease.uid);
		dmxp_kregion_put(df->region);
	}
	kfree(df);
	return 0;
}

static bool zeroed(const __u64 *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* A region name: 1..31 of [A-Za-z0-9_.-], NUL-terminated, not "." or "..". */
static bool name_ok(const char *name)
{
	size_t len = strnlen(name, DMXP_NAME_MAX);
	size_t i;

	if (!len || len == DMXP_NAME_MAX)
		return false;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	/* ASCII only: the kernel's isalnum() also takes Latin-1 letters. */
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '_' && c != '.' && c != '-')
			return false;
	}
	/* Bytes after the NUL are padding: they must be zero too. */
	for (i = len; i < DMXP_NAME_MAX; i++)
		if (name[i])
			return false;
	return true;
}

/*
 * The handshake (include/uapi/linux/dmxp.h): any caller of our ABI major
 * is accepted, whatever its minor; features it asks for must all be ours.
 * What we speak is written back even when we refuse.
 */
static long ioc_version(struct dmxp_file *df, void __user *argp)
{
	struct dmxp_ioc_version v;
	long ret = 0;

	if (copy_from_user(&v, argp, sizeof(v)))
		return -EFAULT;
	if (!zeroed(v.reserved, ARRAY_SIZE(v.reserved)) || v.max_region_size)
		return -EINVAL;
	if (DMXP_ABI_MAJOR_OF(v.version) != DMXP_ABI_MAJOR)
		ret = -EPROTONOSUPPORT;
	else if (v.features & ~DMXP_FEAT_KNOWN)
		ret = -EOPNOTSUPP;
	v.version = DMXP_ABI_VERSION(DMXP_ABI_MAJOR, DMXP_ABI_MINOR);
	v.features = DMXP_FEAT_KNOWN;
	v.max_region_size = ret ? 0 : dmxp_max_region_size;
	if (copy_to_user(argp, &v, sizeof(v)))
		return -EFAULT;
	if (ret)
		return ret;
	mutex_lock(&df->lock);
	df->versioned = true;
	mutex_unlock(&df->lock);
	return 0;
}

static long ioc_region(struct file *file, unsigned int cmd, void __user *argp)
{
	struct dmxp_file *df = file->private_data;
	bool write = file->f_mode & FMODE_WRITE;
	struct dmxp_ioc_region rq;
	struct dmxp_kregion *r;
	long ret;

	if (copy_from_user(&rq, argp, sizeof(rq)))
		return -EFAULT;
	if (rq.reserved || rq.lease || rq.__pad || !name_ok(rq.name) || rq.uid || rq.gid)
		return -EINVAL;

	if (cmd == DMXP_IOC_REGION_DESTROY) {
		if (rq.size || rq.mode || rq.flags)
			return -EINVAL;
		return dmxp_kregion_destroy(rq.name);
	}
	if (cmd == DMXP_IOC_REGION_CREATE) {
		if ((rq.flags & ~DMXP_REGION_FLAGS_KNOWN) || rq.mode & ~0666 ||
		    !(rq.flags & DMXP_REGION_CREATE))
			return -EINVAL;
	} else if (rq.size || rq.mode || rq.flags) {
		return -EINVAL;
	}

	/*
	 * The result is copied out once the region exists.  Write the request
	 * back first: a buffer that cannot take it fails here, before a
	 * region is created.  (Made read-only by another thread meanwhile,
	 * it still gives -EFAULT after: the region exists, and a retry
	 * without DMXP_REGION_EXCL attaches to it.)
	 */
	if (copy_to_user(argp, &rq, sizeof(rq)))
		return -EFAULT;

	mutex_lock(&df->lock);
	if (df->region) {
		ret = -EBUSY;		/* one region per open file */
		goto out;
	}
	/* Before anything is created: a binding over the user's cap fails first. */
	df->lease.uid = current_euid();
	ret = dmxp_user_charge(DMXP_CHARGE_LEASE, df->lease.uid);
	if (ret)
		goto out;
	if (cmd == DMXP_IOC_REGION_CREATE)
		ret = dmxp_kregion_create(rq.name, rq.size, rq.mode,
					  rq.flags & DMXP_REGION_EXCL, &r);
	else if (!strcmp(rq.name, DMXP_DEFAULT_NAME) && write)
		ret = dmxp_kregion_create(rq.name, 0, 0, false, &r);
	else
		ret = dmxp_kregion_attach(rq.name, write, &r);
	if (ret)
		goto out_uncharge;
	ret = dmxp_lease_add(r, &df->lease);
	if (ret)
		goto out_put;

	rq.size = r->size;
	rq.mode = r->mode;
	rq.uid = from_kuid_munged(current_user_ns(), r->uid);
	rq.gid = from_kgid_munged(current_user_ns(), r->gid);
	rq.lease = df->lease.id;
	if (copy_to_user(argp, &rq, sizeof(rq))) {
		dmxp_lease_del(r, &df->lease);
		ret = -EFAULT;
		goto out_put;
	}
	/* Pairs with smp_load_acquire() in file_region(). */
	smp_store_release(&df->region, r);
	mutex_unlock(&df->lock);
	return 0;

out_put:
	dmxp_kregion_put(r);
out_uncharge:
	dmxp_user_uncharge(DMXP_CHARGE_LEASE, df->lease.uid);
out:
	mutex_unlock(&df->lock);
	return ret;
}

static long ioc_chan(struct dmxp_file *df, unsigned int cmd, void __user *argp)
{
	struct dmxp_ioc_chan c;
	struct dmxp_kregion *r;
	long ret;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.band_offset || !zeroed(c.reserved, ARRAY_SIZE(c.reserved)))
		return -EINVAL;
	if (cmd == DMXP_IOC_CHAN_DESTROY && c.capacity)
		return -EINVAL;

	r = file_region(df);
	if (!r)
		return -ENXIO;		/* not bound to a region yet */

	if (cmd == DMXP_IOC_CHAN_CREATE) {
		/*
		 * As for REGION_CREATE: a buffer that cannot take the result
		 * fails before the channel is created.  One made read-only
		 * meanwhile gives -EFAULT with the channel created.
		 */
		ret = -EFAULT;
		if (!copy_to_user(argp, &c, sizeof(c)))
			ret = dmxp_kchan_create(r, c.id, c.capacity, &c.band_offset);
		if (!ret && copy_to_user(argp, &c, sizeof(c)))
			ret = -EFAULT;
	} else {
		ret = dmxp_kchan_destroy(r, c.id);
	}
	dmxp_kregion_put(r);
	return ret;
}

/* The argument of NOTIFY, CHAN_FD or CHAN_EVENTFD, by cmd. */
union ioc_wake_arg {
	struct dmxp_ioc_notify	n;
	struct dmxp_ioc_chan_fd	f;
	struct dmxp_ioc_eventfd	e;
};

/* Unknown flags and nonzero reserved fields are refused; the channel id. */
static long ioc_wake_check(unsigned int cmd, const union ioc_wake_arg *u, u32 *id)
{
	switch (cmd) {
	case DMXP_IOC_NOTIFY:
		if (!u->n.flags || u->n.flags & ~DMXP_NOTIFY_KNOWN || u->n.reserved)
			return -EINVAL;
		*id = u->n.id;
		break;
	case DMXP_IOC_CHAN_FD:
		if (u->f.flags & ~DMXP_CHAN_FD_KNOWN || u->f.reserved)
			return -EINVAL;
		*id = u->f.id;
		break;
	default:
		if (u->e.flags & ~DMXP_EVENTFD_KNOWN || u->e.__pad || u->e.reserved)
			return -EINVAL;
		*id = u->e.id;
		break;
	}
	return *id < DMXP_MAX_CHANNELS ? 0 : -EINVAL;
}

static long ioc_notify(struct dmxp_kregion *r, u32 id, u32 flags)
{
	struct dmxp_kchan *kc = dmxp_kchan(r, id);

	if (READ_ONCE(r->destroyed))
		return -EIDRM;
	if (!kc || !READ_ONCE(kc->created))	/* never created, or not now */
		return -ENOENT;
	dmxp_chan_wake(r, id, flags);
	return 0;
}

static long ioc_wake_do(struct file *file, struct dmxp_kregion *r, unsigned int cmd,
			const union ioc_wake_arg *u, u32 id)
{
	switch (cmd) {
	case DMXP_IOC_NOTIFY:
		return ioc_notify(r, id, u->n.flags);
	case DMXP_IOC_CHAN_FD:
		return dmxp_chan_fd_open(r, id, u->f.flags |
					 (file->f_mode & FMODE_WRITE ? 0 : DMXP_CHAN_FD_POLL_ONLY));
	default:
		return dmxp_chan_eventfd(r, id, u->e.fd, u->e.flags & DMXP_EVENTFD_UNREGISTER,
					 file);
	}
}

static long ioc_wake(struct file *file, unsigned int cmd, void __user *argp)
{
	struct dmxp_file *df = file->private_data;
	union ioc_wake_arg u;
	struct dmxp_kregion *r;
	long ret;
	u32 id;

	if (copy_from_user(&u, argp, _IOC_SIZE(cmd)))
		return -EFAULT;
	ret = ioc_wake_check(cmd, &u, &id);
	if (ret)
		return ret;
	id = array_index_nospec(id, DMXP_MAX_CHANNELS);

	r = file_region(df);
	if (!r)
		return -ENXIO;
	ret = ioc_wake_do(file, r, cmd, &u, id);
	dmxp_kregion_put(r);
	return ret;
}

/*
 * What the file must be open for, whatever the region's mode: reading to
 * bind it (a file open only for reading makes a read-only binding, one
 * open for both a read-write binding), writing for every command that
 * changes state or wakes others.  CHAN_FD needs nothing more than the
 * binding: a read-only binding gets a channel fd that only polls.  A
 * command missing here is refused.
 */
static long ioc_access(struct file *file, unsigned int cmd)
{
	fmode_t need;

	switch (cmd) {
	case DMXP_IOC_REGION_ATTACH:
		need = FMODE_READ;
		break;
	case DMXP_IOC_REGION_CREATE:
		need = FMODE_READ | FMODE_WRITE;
		break;
	case DMXP_IOC_CHAN_FD:
		need = 0;
		break;
	case DMXP_IOC_REGION_DESTROY:
	case DMXP_IOC_CHAN_CREATE:
	case DMXP_IOC_CHAN_DESTROY:
	case DMXP_IOC_NOTIFY:
	case DMXP_IOC_CHAN_EVENTFD:
		need = FMODE_WRITE;
		break;
	default:
		return -ENOTTY;
	}
	return (file->f_mode & need) == need ? 0 : -EBADF;
}

static long dmxp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct dmxp_file *df = file->private_data;
	void __user *argp = (void __user *)arg;
	bool versioned;
	long ret;

	if (_IOC_TYPE(cmd) != DMXP_IOC_MAGIC)
		return -ENOTTY;
	if (cmd == DMXP_IOC_VERSION)
		return ioc_version(df, argp);

	mutex_lock(&df->lock);
	versioned = df->versioned;
	mutex_unlock(&df->lock);
	ret = versioned ? ioc_access(file, cmd) : 0;
	if (ret)
		return ret;

	switch (cmd) {
	case DMXP_IOC_REGION_CREATE:
	case DMXP_IOC_REGION_ATTACH:
	case DMXP_IOC_REGION_DESTROY:
		return versioned ? ioc_region(file, cmd, argp) : -EPROTO;
	case DMXP_IOC_CHAN_CREATE:
	case DMXP_IOC_CHAN_DESTROY:
		return versioned ? ioc_chan(df, cmd, argp) : -EPROTO;
	case DMXP_IOC_NOTIFY:
	case DMXP_IOC_CHAN_FD:
	case DMXP_IOC_CHAN_EVENTFD:
		return versioned ? ioc_wake(file, cmd, argp) : -EPROTO;
	default:
		return -ENOTTY;
	}
}

static void dmxp_vm_open(struct vm_area_struct *vma)
{
	/* fork() or a split of the VMA: one more reference per VMA. */
	dmxp_kregion_get(vma->vm_private_data);
}

static void dmxp_vm_close(struct vm_area_struct *vma)
{
	dmxp_kregion_put(vma->vm_private_data);
}

static const struct vm_operations_struct dmxp_vm_ops = {
	.open	= dmxp_vm_open,
	.close	= dmxp_vm_close,
};

static int dmxp_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct dmxp_file *df = file->private_data;
	unsigned long len = vma->vm_end - vma->vm_start;
	struct dmxp_kregion *r;
	int ret;

	r = file_region(df);
	if (!r)
		return -ENXIO;

	ret = -EIDRM;		/* a destroyed region takes no new mappings */
	if (READ_ONCE(r->destroyed))
		goto err;
	/*
	 * VM_MAYSHARE, not VM_SHARED: the latter is cleared on a read-only
	 * file's shared mapping.  MAP_PRIVATE is refused, writable or not.
	 */
	ret = -EINVAL;
	if (vma->vm_pgoff || len != r->size || !(vma->vm_flags & VM_MAYSHARE))
		goto err;
	ret = -EPERM;
	if (vma->vm_flags & VM_EXEC)
		goto err;
	vm_flags_clear(vma, VM_MAYEXEC);
	/* A read-only binding maps read-only for good: no mprotect(PROT_WRITE). */
	ret = -EACCES;
	if (!(file->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			goto err;
		vm_flags_clear(vma, VM_MAYWRITE);
	}
	ret = dmxp_kregion_map(r, vma);
	if (ret)
		goto err;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_private_data = r;	/* the reference taken above */
	vma->vm_ops = &dmxp_vm_ops;
	return 0;
err:
	dmxp_kregion_put(r);
	return ret;
}

static const struct file_operations dmxp_fops = {
	.owner		= THIS_MODULE,
	.open		= dmxp_open,
	.release	= dmxp_release,
	.unlocked_ioctl	= dmxp_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= dmxp_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice dmxp_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "dmxp",
	.fops	= &dmxp_fops,
	.mode	= 0660,
};

static int __init dmxp_init(void)
{
	struct dmxp_kregion *r;
	int ret;

	/* Half of RAM unless set: region memory is kernel memory, never swapped. */
	if (!dmxp_max_total_size)
		dmxp_max_total_size = (totalram_pages() / 2) << PAGE_SHIFT;
	dmxp_default_uid = make_kuid(&init_user_ns, dmxp_default_uid_param);
	dmxp_default_gid = make_kgid(&init_user_ns, dmxp_default_gid_param);
	dmxp_default_mode = dmxp_default_mode_param;
	if (!dmxp_rules_region_size_ok(dmxp_default_size, dmxp_max_region_size) ||
	    PAGE_ALIGN(dmxp_default_size) > dmxp_max_total_size ||
	    dmxp_default_mode & ~0666 || !uid_valid(dmxp_default_uid) ||
	    !gid_valid(dmxp_default_gid)) {
		pr_err("invalid default_size, max_region_size, max_total_size or default_mode/uid/gid\n");
		return -EINVAL;
	}
	ret = dmxp_repair_module_init();
	if (ret)
		return ret;
	ret = dmxp_sysfs_init();
	if (ret)
		goto err_wq;
	/*
	 * The default region is the module's, made before anyone can take
	 * its name: owned by default_uid/default_gid, with default_mode.
	 */
	ret = dmxp_kregion_create(DMXP_DEFAULT_NAME, 0, 0, true, &r);
	if (ret) {
		pr_err("cannot create the default region: %d\n", ret);
		goto err_sysfs;
	}
	dmxp_kregion_put(r);	/* the registry keeps its own */
	ret = misc_register(&dmxp_misc);
	if (ret)
		goto err_regions;
	pr_info("version %s, layout %d\n", DMXP_VERSION_STR, DMXP_VERSION);
	return 0;

err_regions:
	dmxp_regions_destroy_all();
err_sysfs:
	dmxp_sysfs_exit();
err_wq:
	dmxp_repair_module_exit();
	return ret;
}

static void __exit dmxp_exit(void)
{
	misc_deregister(&dmxp_misc);
	dmxp_regions_destroy_all();
	dmxp_sysfs_exit();
	dmxp_repair_module_exit();
}

module_init(dmxp_init);
module_exit(dmxp_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dmxp: lock-free shared-memory message channels");
MODULE_VERSION(DMXP_VERSION_STR);
