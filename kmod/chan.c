// SPDX-License-Identifier: GPL-2.0
/*
 * dmxp channel file descriptors, wake-ups and eventfds.
 *
 * A channel fd (DMXP_IOC_CHAN_FD) is pollable, readable and writable: the
 * module takes part in the same lock-free protocol as userspace
 * (lib/ring.c), on the same memory, through its own mapping of it.
 *
 * Everything read from the ring is untrusted: positions and sequences are
 * loaded once, slots are found from the module's own capacity and band
 * offset (and bounds-checked, in case a channel is re-created meanwhile),
 * every retry loop is bounded, and a length is clamped before use.
 *
 * Wake-ups follow lib/wait.c: a sleeper increments the side's waiter word
 * in the entry, then checks the ring, then sleeps; a waker publishes, then
 * (full barrier) reads the waiter word and wakes only if it is not zero.
 * Userspace wakers do that with DMXP_IOC_NOTIFY; the module's own
 * read() and write() wake directly.  Sleepers in the module wait on the
 * channel's wait queues, which poll() also uses; wait_event() and poll()
 * queue the sleeper before checking the ring, so a wake-up issued after
 * the publish reaches it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "dmxp.h"

#define CLAIM_TRIES	64	/* CAS attempts before reporting contention */

struct dmxp_chan_file {
	struct dmxp_region	*region;	/* a reference */
	u32			id;
	u32			generation;	/* of the channel when opened */
};

struct dmxp_evreg {
	struct list_head	node;
	struct eventfd_ctx	*ctx;
	struct file		*owner;		/* the /dev/dmxp file that registered */
};

static struct dmxp_channel_entry *kentry(struct dmxp_region *r, u32 id)
{
	return &dmxp_hdr(r)->channels[id];
}

/*
 * The channel as this fd knows it, or false if it was destroyed since.
 * The generation is checked again after the geometry is read: a channel
 * re-created meanwhile bumps it before it changes the geometry (with a
 * write barrier, in dmxp_chan_create()), so the pair read here is never
 * half of another incarnation's.
 */
static bool chan_alive(struct dmxp_chan_file *cf, u64 *cap, u64 *boff)
{
	struct dmxp_kchan *kc = &cf->region->chan[cf->id];

	if (READ_ONCE(cf->region->destroyed) || !READ_ONCE(kc->created) ||
	    READ_ONCE(kc->generation) != cf->generation)
		return false;
	*cap = READ_ONCE(kc->capacity);
	*boff = READ_ONCE(kc->band_offset);
	smp_rmb();	/* the geometry before the generation, again */
	if (READ_ONCE(kc->generation) != cf->generation)
		return false;
	return *cap != 0;
}

/*
 * The slot of @pos, from the module's own geometry.  A racing destroy and
 * re-create may mix two geometries: the bounds check keeps even that
 * inside the region.
 */
static struct dmxp_slot *kslot(struct dmxp_region *r, u64 cap, u64 boff, u64 pos)
{
	u64 off = boff + (pos & (cap - 1)) * DMXP_SLOT_SIZE;

	if (off < DMXP_HEADER_SIZE || off > r->size - DMXP_SLOT_SIZE)
		return NULL;
	return r->mem + off;
}

static bool ring_readable(struct dmxp_chan_file *cf)
{
	struct dmxp_region *r = cf->region;
	struct dmxp_slot *s;
	u64 cap, boff, head;

	if (!chan_alive(cf, &cap, &boff))
		return false;
	head = READ_ONCE(kentry(r, cf->id)->head);
	s = kslot(r, cap, boff, head);
	/* Pairs with the producer's release of the sequence (publish). */
	return s && smp_load_acquire(&s->sequence) == head + 1;
}

static bool ring_writable(struct dmxp_chan_file *cf)
{
	struct dmxp_region *r = cf->region;
	struct dmxp_slot *s;
	u64 cap, boff, tail;

	if (!chan_alive(cf, &cap, &boff))
		return false;
	tail = READ_ONCE(kentry(r, cf->id)->tail);
	s = kslot(r, cap, boff, tail);
	/* Pairs with the consumer's release of the sequence (free). */
	return s && smp_load_acquire(&s->sequence) == tail;
}

/* Wake the sleepers of one side of a channel; @flags: DMXP_NOTIFY_*. */
void dmxp_chan_wake(struct dmxp_region *r, u32 id, unsigned int flags)
{
	struct dmxp_kchan *kc = &r->chan[id];
	struct dmxp_evreg *ev;

	atomic64_inc(&kc->notifies);
	if (flags & DMXP_NOTIFY_SEND)
		wake_up_interruptible_poll(&kc->send_wq, EPOLLOUT | EPOLLWRNORM);
	if (flags & DMXP_NOTIFY_RECV) {
		wake_up_interruptible_poll(&kc->recv_wq, EPOLLIN | EPOLLRDNORM);
		spin_lock(&r->ev_lock);
		list_for_each_entry(ev, &kc->eventfds, node)
			eventfd_signal(ev->ctx, 1);
		spin_unlock(&r->ev_lock);
	}
}

/* After the module published (freed) a slot: the waker side of the protocol. */
static void wake_if_waiting(struct dmxp_region *r, u32 id, unsigned int flags)
{
	struct dmxp_channel_entry *e = kentry(r, id);
	u32 waiters;

	smp_mb();	/* publish before reading waiters; pairs with the sleeper's */
	waiters = flags & DMXP_NOTIFY_RECV ? READ_ONCE(e->recv_waiters) :
					     READ_ONCE(e->send_waiters);
	if (waiters)
		dmxp_chan_wake(r, id, flags);
}

/*
 * Take one message into @kbuf (struct dmxp_msg_meta then the payload,
 * @room bytes).  Returns its size, -EAGAIN (empty or contended),
 * -EMSGSIZE (does not fit: it stays), -EIDRM.
 */
static ssize_t kring_recv(struct dmxp_chan_file *cf, u8 *kbuf, size_t room)
{
	struct dmxp_region *r = cf->region;
	struct dmxp_channel_entry *e = kentry(r, cf->id);
	int tries;

	for (tries = 0; tries < CLAIM_TRIES; tries++) {
		struct dmxp_msg_meta *m = (struct dmxp_msg_meta *)kbuf;
		u64 cap, boff, pos, seq;
		struct dmxp_slot *s;
		u32 len;
		bool tomb;

		if (!chan_alive(cf, &cap, &boff))
			return -EIDRM;
		pos = READ_ONCE(e->head);
		s = kslot(r, cap, boff, pos);
		if (!s)
			return -EIDRM;
		/* Pairs with the producer's release of the sequence. */
		seq = smp_load_acquire(&s->sequence);
		if ((s64)(seq - (pos + 1)) < 0)
			return -EAGAIN;		/* empty */
		if (seq != pos + 1)
			continue;		/* another consumer took pos */
		/*
		 * The metadata is read once, into our buffer: the length and
		 * the tombstone flag used below are the ones returned.  A
		 * published slot does not change until it is claimed, so a
		 * copy taken before a successful claim is the message's.
		 */
		memcpy(m, &s->meta, sizeof(*m));
		len = min_t(u32, m->payload_len, DMXP_MAX_PAYLOAD);
		m->payload_len = len;
		tomb = m->flags & DMXP_MSG_TOMBSTONE;
		if (!tomb && sizeof(*m) + len > room) {
			smp_rmb();	/* the length was read before head */
			if (READ_ONCE(e->head) == pos)
				return -EMSGSIZE;
			continue;
		}
		/*
		 * A claim of the module's own has no claim record: counted
		 * instead, before the claim (the cmpxchg is a full barrier),
		 * so that a repair of the same position waits (repair.c).
		 */
		atomic_inc(&r->chan[cf->id].kclaims);
		if (cmpxchg(&e->head, pos, pos + 1) != pos) {
			atomic_dec(&r->chan[cf->id].kclaims);
			continue;
		}
		memcpy(kbuf + sizeof(*m), s->payload, len);
		/* Frees the slot; pairs with the producer's acquire. */
		smp_store_release(&s->sequence, pos + cap);
		/* The free before the count: pairs with the repair's acquire. */
		smp_mb__before_atomic();
		atomic_dec(&r->chan[cf->id].kclaims);
		wake_if_waiting(r, cf->id, DMXP_NOTIFY_SEND);
		if (tomb)
			continue;
		return sizeof(*m) + len;
	}
	return -EAGAIN;
}

/* Send @len bytes from @kbuf as one message.  0, -EAGAIN, -EIDRM. */
static int kring_send(struct dmxp_chan_file *cf, const u8 *kbuf, u32 len)
{
	struct dmxp_region *r = cf->region;
	struct dmxp_channel_entry *e = kentry(r, cf->id);
	int tries;

	for (tries = 0; tries < CLAIM_TRIES; tries++) {
		u64 cap, boff, pos, seq;
		struct dmxp_slot *s;

		if (!chan_alive(cf, &cap, &boff))
			return -EIDRM;
		pos = READ_ONCE(e->tail);
		s = kslot(r, cap, boff, pos);
		if (!s)
			return -EIDRM;
		/* Pairs with the consumer's release that freed the slot. */
		seq = smp_load_acquire(&s->sequence);
		if ((s64)(seq - pos) < 0)
			return -EAGAIN;		/* full */
		if (seq != pos)
			continue;		/* another producer took pos */
		/* Counted, as in kring_recv(). */
		atomic_inc(&r->chan[cf->id].kclaims);
		if (cmpxchg(&e->tail, pos, pos + 1) != pos) {
			atomic_dec(&r->chan[cf->id].kclaims);
			continue;
		}
		s->meta.message_id = pos;
		s->meta.timestamp_ns = ktime_get_ns();
		s->meta.channel_id = cf->id;
		s->meta.message_type = 0;
		s->meta.sender_pid = task_tgid_vnr(current);
		s->meta.sender_runtime = DMXP_RUNTIME_KERNEL;
		WRITE_ONCE(s->meta.flags, 0);
		WRITE_ONCE(s->meta.payload_len, len);
		s->meta.__pad = 0;
		memcpy(s->payload, kbuf, len);
		/* Publishes the message; pairs with the consumer's acquire. */
		smp_store_release(&s->sequence, pos + 1);
		/* The publish before the count: pairs with the repair's acquire. */
		smp_mb__before_atomic();
		atomic_dec(&r->chan[cf->id].kclaims);
		wake_if_waiting(r, cf->id, DMXP_NOTIFY_RECV);
		return 0;
	}
	return -EAGAIN;
}

/*
 * Sleep until @ready, as a sleeper of the wake protocol: counted in the
 * waiter word while queued, so that wakers notify.
 */
static int chan_sleep(struct dmxp_chan_file *cf, unsigned int flags)
{
	struct dmxp_kchan *kc = &cf->region->chan[cf->id];
	struct dmxp_channel_entry *e = kentry(cf->region, cf->id);
	bool recv = flags & DMXP_NOTIFY_RECV;
	atomic_t *w = (atomic_t *)(recv ? &e->recv_waiters : &e->send_waiters);
	u64 cap, boff;
	int ret;

	atomic_inc(w);
	smp_mb__after_atomic();	/* announce before checking the ring */
	if (recv)
		ret = wait_event_interruptible(kc->recv_wq, ring_readable(cf) ||
					       !chan_alive(cf, &cap, &boff));
	else
		ret = wait_event_interruptible(kc->send_wq, ring_writable(cf) ||
					       !chan_alive(cf, &cap, &boff));
	atomic_dec(w);
	return ret;
}

/*
 * read() and IORING_OP_READ: one message, as struct dmxp_msg_meta then the
 * payload.  IOCB_NOWAIT (io_uring's first, non-blocking attempt) and
 * O_NONBLOCK get -EAGAIN on an empty ring instead of sleeping.
 */
static ssize_t chan_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct dmxp_chan_file *cf = file->private_data;
	const size_t max = sizeof(struct dmxp_msg_meta) + DMXP_MAX_PAYLOAD;
	size_t room = min(iov_iter_count(to), max);
	bool nowait = (iocb->ki_flags & IOCB_NOWAIT) || (file->f_flags & O_NONBLOCK);
	ssize_t ret;
	u8 *kbuf;

	if (iov_iter_count(to) < sizeof(struct dmxp_msg_meta))
		return -EMSGSIZE;
	kbuf = kmalloc(max, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	for (;;) {
		ret = kring_recv(cf, kbuf, room);
		if (ret != -EAGAIN || nowait)
			break;
		/*
		 * chan_sleep() returns at once while the ring looks readable,
		 * which a producer of tombstones (or anyone writing the ring)
		 * can keep true: the signal check bounds the loop.
		 */
		if (chan_sleep(cf, DMXP_NOTIFY_RECV) || signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		cond_resched();
	}
	/* The message is taken: a fault now loses it, as a bad buffer would. */
	if (ret > 0 && copy_to_iter(kbuf, ret, to) != ret)
		ret = -EFAULT;
	kfree(kbuf);
	return ret;
}

/* write() and IORING_OP_WRITE: the buffer is one message's payload. */
static ssize_t chan_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct dmxp_chan_file *cf = file->private_data;
	size_t count = iov_iter_count(from);
	bool nowait = (iocb->ki_flags & IOCB_NOWAIT) || (file->f_flags & O_NONBLOCK);
	ssize_t ret;
	u8 *kbuf;

	if (count > DMXP_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* Copied in before a slot is claimed: a fault cannot strand a claim. */
	kbuf = kmalloc(DMXP_MAX_PAYLOAD, GFP_KERNEL);
	if (!kbuf)
		return -ENOMEM;
	if (copy_from_iter(kbuf, count, from) != count) {
		kfree(kbuf);
		return -EFAULT;
	}
	for (;;) {
		ret = kring_send(cf, kbuf, count);
		if (ret != -EAGAIN || nowait)
			break;
		/*
		 * As in chan_read_iter(): a writable-looking ring that never
		 * lets us claim a slot must not hold us past a signal.
		 */
		if (chan_sleep(cf, DMXP_NOTIFY_SEND) || signal_pending(current)) {
			ret = -ERESTARTSYS;
			break;
		}
		cond_resched();
	}
	kfree(kbuf);
	return ret ? ret : count;
}

static __poll_t chan_poll(struct file *file, struct poll_table_struct *wait)
{
	struct dmxp_chan_file *cf = file->private_data;
	struct dmxp_kchan *kc = &cf->region->chan[cf->id];
	__poll_t mask = 0;
	u64 cap, boff;

	poll_wait(file, &kc->recv_wq, wait);
	poll_wait(file, &kc->send_wq, wait);
	/* Queued first, then the ring: a wake-up after a publish reaches us. */
	smp_mb();
	if (!chan_alive(cf, &cap, &boff))
		return EPOLLERR | EPOLLHUP;
	if (ring_readable(cf))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (ring_writable(cf))
		mask |= EPOLLOUT | EPOLLWRNORM;
	return mask;
}

static int chan_release(struct inode *inode, struct file *file)
{
	struct dmxp_chan_file *cf = file->private_data;

	dmxp_region_put(cf->region);
	kfree(cf);
	return 0;
}

static const struct file_operations dmxp_chan_fops = {
	.owner		= THIS_MODULE,
	.read_iter	= chan_read_iter,
	.write_iter	= chan_write_iter,
	.poll		= chan_poll,
	.release	= chan_release,
	.llseek		= noop_llseek,
};

int dmxp_chan_fd_open(struct dmxp_region *r, u32 id, unsigned int flags)
{
	struct dmxp_chan_file *cf;
	struct file *file;
	int fd;

	cf = kzalloc(sizeof(*cf), GFP_KERNEL);
	if (!cf)
		return -ENOMEM;
	mutex_lock(&dmxp_lock);
	if (r->destroyed) {
		fd = -EIDRM;
		goto err;
	}
	if (!r->chan[id].created) {
		fd = -ENOENT;
		goto err;
	}
	cf->region = r;
	cf->id = id;
	cf->generation = r->chan[id].generation;
	dmxp_region_get(r);
	mutex_unlock(&dmxp_lock);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		goto err_put;
	/*
	 * A read-only binding's fd is open neither for reading nor for
	 * writing (access mode 3): read() takes a message, a change to the
	 * ring, so both fail with EBADF and only poll() works.
	 */
	file = anon_inode_getfile("[dmxp-chan]", &dmxp_chan_fops, cf,
				  (flags & DMXP_CHAN_FD_POLL_ONLY ? O_ACCMODE : O_RDWR) |
				  (flags & DMXP_CHAN_FD_NONBLOCK ? O_NONBLOCK : 0));
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		fd = PTR_ERR(file);
		goto err_put;
	}
	/* read and write honour IOCB_NOWAIT: io_uring may try them inline. */
	file->f_mode |= FMODE_NOWAIT;
	fd_install(fd, file);
	return fd;

err_put:
	dmxp_region_put(r);
	kfree(cf);
	return fd;
err:
	mutex_unlock(&dmxp_lock);
	kfree(cf);
	return fd;
}

int dmxp_chan_eventfd(struct dmxp_region *r, u32 id, int fd, bool unregister,
		      struct file *owner)
{
	struct dmxp_kchan *kc = &r->chan[id];
	struct dmxp_evreg *ev, *found = NULL;
	struct eventfd_ctx *ctx;
	unsigned int n = 0;
	int ret = 0;

	ctx = eventfd_ctx_fdget(fd);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	ev = unregister ? NULL : kzalloc(sizeof(*ev), GFP_KERNEL_ACCOUNT);
	if (!unregister && !ev) {
		eventfd_ctx_put(ctx);
		return -ENOMEM;
	}
	/* The caps per file and per user (region.c); given back with ev. */
	ret = ev ? dmxp_eventfd_charge(owner) : 0;
	if (ret) {
		eventfd_ctx_put(ctx);
		kfree(ev);
		return ret;
	}

	mutex_lock(&dmxp_lock);
	if (r->destroyed || !kc->created) {
		ret = r->destroyed ? -EIDRM : -ENOENT;
		goto out;
	}
	spin_lock(&r->ev_lock);
	list_for_each_entry(found, &kc->eventfds, node) {
		n++;
		if (found->ctx == ctx && found->owner == owner)
			break;
	}
	if (list_entry_is_head(found, &kc->eventfds, node))
		found = NULL;
	if (unregister) {
		if (found) {
			list_del(&found->node);
			dmxp_eventfd_uncharge(found->owner);
		} else {
			ret = -ENOENT;
		}
	} else if (found) {
		ret = -EEXIST;
	} else if (n >= DMXP_EVENTFD_MAX) {
		ret = -ENOSPC;
	} else {
		ev->ctx = ctx;
		ev->owner = owner;
		list_add_tail(&ev->node, &kc->eventfds);
		ev = NULL;	/* the list owns it, and the ctx reference */
		ctx = NULL;
	}
	spin_unlock(&r->ev_lock);
out:
	mutex_unlock(&dmxp_lock);
	if (unregister && found && !ret) {
		eventfd_ctx_put(found->ctx);
		kfree(found);
	}
	if (ctx)
		eventfd_ctx_put(ctx);
	if (ev)
		dmxp_eventfd_uncharge(owner);	/* not registered */
	kfree(ev);
	return ret;
}

/*
 * Drop the eventfds of channel @id (all, or @owner's only) and, when the
 * channel goes away, wake every sleeper so that it sees it gone.
 */
void dmxp_chan_drop(struct dmxp_region *r, u32 id, struct file *owner)
{
	struct dmxp_kchan *kc = &r->chan[id];
	struct dmxp_evreg *ev, *tmp;
	LIST_HEAD(dead);

	spin_lock(&r->ev_lock);
	list_for_each_entry_safe(ev, tmp, &kc->eventfds, node) {
		if (owner && ev->owner != owner)
			continue;
		if (!owner)
			eventfd_signal(ev->ctx, 1);	/* let it see the end */
		list_move(&ev->node, &dead);
		dmxp_eventfd_uncharge(ev->owner);	/* while ev->owner is sure to live */
	}
	spin_unlock(&r->ev_lock);
	list_for_each_entry_safe(ev, tmp, &dead, node) {
		eventfd_ctx_put(ev->ctx);
		kfree(ev);
	}
	if (!owner) {
		wake_up_interruptible_all(&kc->recv_wq);
		wake_up_interruptible_all(&kc->send_wq);
	}
}
