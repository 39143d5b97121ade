// SPDX-License-Identifier: GPL-2.0
/*
 * The checkers' control: one bug of each kind that a checked kernel's
 * checkers must report in a module built out of tree, as dmxp.ko is.
 * tools/vm/run loads it once per checker, after the command's run has
 * been judged, with fault=kasan, ubsan, lockdep or kcsan, and fails the
 * run when the kernel log then shows no report of that bug: a checker that
 * is off, or that does not see into modules, would pass every test.
 *
 * Not part of dmxp: never installed, never loaded but by the rig.  Its
 * init does the bug and fails (-ECANCELED), so nothing stays loaded.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kfence.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static char *fault = "";
module_param(fault, charp, 0);
MODULE_PARM_DESC(fault, "kasan, ubsan, lockdep or kcsan");

/*
 * KASAN: a read one byte past a kmalloc()ed object of whole granules
 * (slab-out-of-bounds: the rest of the 128-byte slot is its red zone).
 * Not an object of KFENCE's pool, whose guard would catch it instead.
 */
static noinline void control_kasan(void)
{
	size_t size = 120;
	char *p = NULL, *kept[8];
	int i, n = 0;

	for (i = 0; i < 8; i++) {
		p = kmalloc(size, GFP_KERNEL);
		if (!p || !is_kfence_address(p))
			break;
		kept[n++] = p;	/* KFENCE's: freed after the read */
		p = NULL;
	}
	if (p) {
		OPTIMIZER_HIDE_VAR(size);
		pr_info("dmxp_control: read %d\n", READ_ONCE(p[size]));
		kfree(p);
	}
	while (n--)
		kfree(kept[n]);
}

/*
 * UBSAN: an index past an array's bounds, whose store stays inside the
 * structure (UBSAN reports it and lets it happen: a store past a lone
 * array would corrupt the stack, and KASAN would report that too).
 */
static noinline void control_ubsan(void)
{
	struct {
		int a[4];
		int spare;
	} s = { { 0 }, 0 };
	int i = 4;

	OPTIMIZER_HIDE_VAR(i);
	s.a[i] = 1;
	pr_info("dmxp_control: wrote %d\n", READ_ONCE(s.spare));
}

/* lockdep: two locks taken in both orders, one after the other. */
static DEFINE_MUTEX(control_lock_a);
static DEFINE_MUTEX(control_lock_b);

static noinline void control_lockdep(void)
{
	mutex_lock(&control_lock_a);
	mutex_lock(&control_lock_b);
	mutex_unlock(&control_lock_b);
	mutex_unlock(&control_lock_a);
	mutex_lock(&control_lock_b);
	mutex_lock(&control_lock_a);	/* reported here */
	mutex_unlock(&control_lock_a);
	mutex_unlock(&control_lock_b);
}

/* KCSAN: two threads writing one plain variable, on two CPUs, for a second. */
static unsigned long control_shared;

static int control_racer(void *arg)
{
	while (!kthread_should_stop()) {
		int i;

		for (i = 0; i < 1000; i++) {
			control_shared++;
			barrier();	/* a load and a store each time */
		}
		cond_resched();
	}
	return 0;
}

static noinline void control_kcsan(void)
{
	struct task_struct *t[2];
	int i;

	for (i = 0; i < 2; i++) {
		t[i] = kthread_create(control_racer, NULL, "dmxp_control/%d", i);
		if (IS_ERR(t[i])) {
			while (i--)
				kthread_stop(t[i]);
			return;
		}
		if (num_online_cpus() > 1 && cpu_online(i))
			kthread_bind(t[i], i);
	}
	for (i = 0; i < 2; i++)
		wake_up_process(t[i]);
	msleep(1000);
	for (i = 0; i < 2; i++)
		kthread_stop(t[i]);
}

static int __init control_init(void)
{
	if (!strcmp(fault, "kasan"))
		control_kasan();
	else if (!strcmp(fault, "ubsan"))
		control_ubsan();
	else if (!strcmp(fault, "lockdep"))
		control_lockdep();
	else if (!strcmp(fault, "kcsan"))
		control_kcsan();
	else
		return -EINVAL;
	return -ECANCELED;
}
module_init(control_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dmxp test rig: a bug for each of the kernel's checkers to report");
