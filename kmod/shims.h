/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces that changed between the versions dmxp.ko is
 * built and tested for (6.1, Debian 12; 6.12, Debian 13), in one place:
 * the module's code is written against the newest form, and each shim
 * gives it that form on the older kernels.
 */
#ifndef DMXP_KMOD_SHIMS_H
#define DMXP_KMOD_SHIMS_H

#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/version.h>

/* vm_flags_set() and vm_flags_clear() arrived in 6.3. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* eventfd_signal() lost its count argument (always 1 here) in 6.8. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
static inline void dmxp_eventfd_signal(struct eventfd_ctx *ctx)
{
	eventfd_signal(ctx, 1);
}
#else
static inline void dmxp_eventfd_signal(struct eventfd_ctx *ctx)
{
	eventfd_signal(ctx);
}
#endif

#endif /* DMXP_KMOD_SHIMS_H */
