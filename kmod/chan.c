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
 * Userspace wakers do that with DMXP_IOC_NOTIFY.  The module's own read()
 * and write() also wake whoever sleeps on the channel's wait queues
 * (poll, epoll, io_uring, a blocking read() or write()): wait_event() and
 * poll() queue the sleeper before checking the ring, so a wake-up issued
 * after the publish reaches it.
 *
 * A producer that follows only the seed's protocol never notifies.  So
 * that its messages still reach sleepers of the module within about a
 * second, each region has a work item that runs while one of its channels
 * has sleepers: once a second it re-checks those channels and wakes the
 * sleepers of a ready one (chan_recheck()).  A region without sleepers
 * has no timer.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/atomic.h>
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/uio.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "shims.h"
#include "dmxp.h"

/*
 * Positions and sequences are 64-bit words that userspace and the module
 * load, store and compare-and-swap atomically: a 64-bit kernel only.
 */
#ifndef CONFIG_64BIT
#error "dmxp needs a 64-bit kernel"
#endif

#define CLAIM_TRIES	64	/* CAS attempts before reporting contention */
#define READY_TRIES	64	/* re-reads of head (tail) by a readiness check */
#define RECHECK_DELAY	HZ	/* between re-checks of channels with sleepers */

struct dmxp_chan_file {
	struct dmxp_kregion	*region;	/* a reference */
	struct dmxp_kchan	*kc;		/* the channel's, lives as long */
	u32			id;
	u32			generation;	/* of the channel when opened */
};

struct dmxp_evreg {
	struct list_head	node;
	struct eventfd_ctx	*ctx;
	struct file		*owner;		/* the /dev/dmxp file that registered */
};

static struct dmxp_channel_entry *kentry(struct dmxp_kregion *r, u32 id)
{
	return &dmxp_hdr(r)->channels[id];
}

/*
 * Channel @id's geometry if it is incarnation @gen, else false.  The
 * generation is checked again after the geometry is read: a channel
 * re-created meanwhile bumps it before it changes the geometry (with a
 * write barrier, in dmxp_kchan_create()), so the pair read here is never
 * half of another incarnation's.
 */
static bool kchan_geometry(struct dmxp_kregion *r, u32 id, u32 gen, u64 *cap, u64 *boff)
{
	struct dmxp_kchan *kc = dmxp_kchan(r, id);

	if (!kc || READ_ONCE(r->destroyed) || !READ_ONCE(kc->created) ||
	    READ_ONCE(kc->generation) != gen)
		return false;
	*cap = READ_ONCE(kc->capacity);
	*boff = READ_ONCE(kc->band_offset);
	smp_rmb();	/* the geometry before the generation, again */
	if (READ_ONCE(kc->generation) != gen)
		return false;
	return *cap != 0;
}

/* The channel as this fd knows it, or false if it was destroyed since. */
static bool chan_alive(struct dmxp_chan_file *cf, u64 *cap, u64 *boff)
{
	return kchan_geometry(cf->region, cf->id, cf->generation, cap, boff);
}

/*
 * The slot of @pos, from the module's own geometry.  A racing destroy and
 * re-create may mix two geometries: the bounds check keeps even that
 * inside the region.
 */
static struct dmxp_slot *kslot(struct dmxp_kregion *r, u64 cap, u64 boff, u64 pos)
{
	u64 off = boff + (pos & (cap - 1)) * DMXP_SLOT_SIZE;

	if (off < DMXP_HEADER_SIZE || off > r->size - DMXP_SLOT_SIZE)
		return NULL;
	return r->mem + off;
}

/*
 * Whether a message waits: the slot at head holds head + 1.  Less is
 * empty.  More means that slot was taken after head was read (head has
 * moved on, and a message may wait behind it): read head again.  A check
 * that took "taken" for "empty" would let a sleeper miss that message.
 * Bounded: a head that keeps moving (or a hostile mapper) ends the loop
 * as "readable", since a spurious wake-up is harmless and a lost one is
 * not.  The rule is the one lib/wait.c and the protocol model follow.
 */
static bool ring_readable(struct dmxp_kregion *r, u32 id, u64 cap, u64 boff)
{
	struct dmxp_channel_entry *e = kentry(r, id);
	int tries;

	for (tries = 0; tries < READY_TRIES; tries++) {
		u64 head = READ_ONCE(e->head);
		struct dmxp_slot *s = kslot(r, cap, boff, head);
		u64 seq;

		if (!s)
			return false;
		/* Pairs with the producer's release of the sequence (publish). */
		seq = smp_load_acquire(&s->sequence);
		if (seq == head + 1)
			return true;
		if ((s64)(seq - (head + 1)) < 0)
			return false;
	}
	return true;
}

/* The same for producers: the slot at tail holds tail when it is free. */
static bool ring_writable(struct dmxp_kregion *r, u32 id, u64 cap, u64 boff)
{
	struct dmxp_channel_entry *e = kentry(r, id);
	int tries;

	for (tries = 0; tries < READY_TRIES; tries++) {
		u64 tail = READ_ONCE(e->tail);
		struct dmxp_slot *s = kslot(r, cap, boff, tail);
		u64 seq;

		if (!s)
			return false;
		/* Pairs with the consumer's release of the sequence (free). */
		seq = smp_load_acquire(&s->sequence);
		if (seq == tail)
			return true;
		if ((s64)(seq - tail) < 0)
			return false;
	}
	return true;
}

/* What a sleeper of @flags' side waits for: the ring ready, or gone. */
static bool chan_ready(struct dmxp_chan_file *cf, unsigned int flags)
{
	u64 cap, boff;

	if (!chan_alive(cf, &cap, &boff))
		return true;
	return flags & DMXP_NOTIFY_RECV ? ring_readable(cf->region, cf->id, cap, boff) :
					  ring_writable(cf->region, cf->id, cap, boff);
}

/* Wake the sleepers of one side of a channel; @flags: DMXP_NOTIFY_*. */
void dmxp_chan_wake(struct dmxp_kregion *r, u32 id, unsigned int flags)
{
	struct dmxp_kchan *kc = dmxp_kchan(r, id);
	struct dmxp_evreg *ev;

	if (!kc)
		return;		/* never created: nobody can wait on it */
	atomic64_inc(&kc->notifies);
	if (flags & DMXP_NOTIFY_SEND)
		wake_up_interruptible_poll(&kc->send_wq, EPOLLOUT | EPOLLWRNORM);
	if (flags & DMXP_NOTIFY_RECV) {
		wake_up_interruptible_poll(&kc->recv_wq, EPOLLIN | EPOLLRDNORM);
		spin_lock(&r->ev_lock);
		list_for_each_entry(ev, &kc->eventfds, node)
			dmxp_eventfd_signal(ev->ctx);
		spin_unlock(&r->ev_lock);
	}
}

/*
 * After the module published (freed) a slot: the waker side of the
 * protocol.  Sleepers of two kinds may wait: those counted in the waiter
 * word (the library's, and the module's blocking read() and write()), and
 * those on the channel's wait queues (poll, epoll, io_uring), which no
 * word counts.
 */
static void wake_if_waiting(struct dmxp_chan_file *cf, unsigned int flags)
{
	struct dmxp_kregion *r = cf->region;
	u32 id = cf->id;
	struct dmxp_channel_entry *e = kentry(r, id);
	struct dmxp_kchan *kc = cf->kc;
	bool recv = flags & DMXP_NOTIFY_RECV;
	u32 waiters;

	/*
	 * The publish before the waiter word: pairs with the sleeper's full
	 * barrier between its increment and its check of the ring (lib/wait.c,
	 * chan_sleep()).
	 */
	smp_mb();
	waiters = recv ? READ_ONCE(e->recv_waiters) : READ_ONCE(e->send_waiters);
	/*
	 * wq_has_sleeper()'s barrier (publish before the queue) pairs with
	 * the one in poll_wait() (queued before chan_poll() checks the ring)
	 * and with set_current_state() in wait_event() (the same for
	 * chan_sleep()).
	 */
	if (waiters || wq_has_sleeper(recv ? &kc->recv_wq : &kc->send_wq))
		dmxp_chan_wake(r, id, flags);
}

/*
 * Re-check the channels of @work's region that have sleepers, and wake
 * those whose ring is ready: the bound on how long a message published
 * without a notification waits.  Sleepers are those queued on a wait
 * queue (an epoll registration counts as one) and, for a channel with
 * eventfds, consumers armed in recv_waiters (they wait on the eventfd).
 * Runs again a second later while any channel has sleepers or eventfds,
 * and not at all otherwise.  Bounded work: a readiness check per side of
 * each such channel.
 */
static void chan_recheck(struct work_struct *work)
{
	struct dmxp_kregion *r = container_of(to_delayed_work(work), struct dmxp_kregion,
					     recheck_work);
	bool again = false;
	u32 id;

	for (id = 0; id < DMXP_MAX_CHANNELS; id++) {
		struct dmxp_kchan *kc = dmxp_kchan(r, id);
		bool rs, ss, ev;
		unsigned int flags = 0;
		u64 cap, boff;

		if (!kc)
			continue;	/* never created: no sleeper */
		rs = wq_has_sleeper(&kc->recv_wq);
		ss = wq_has_sleeper(&kc->send_wq);
		/* A hint, without ev_lock: a registration arms a pass itself. */
		ev = !list_empty(&kc->eventfds);
		if (!rs && !ss && !ev)
			continue;
		/*
		 * A destroyed channel woke its sleepers when it went, and its
		 * fds report an error from then on: no reason to come back.
		 */
		if (!kchan_geometry(r, id, READ_ONCE(kc->generation), &cap, &boff))
			continue;
		again = true;
		if (ev && !rs && READ_ONCE(kentry(r, id)->recv_waiters))
			rs = true;
		if (rs && ring_readable(r, id, cap, boff))
			flags |= DMXP_NOTIFY_RECV;
		if (ss && ring_writable(r, id, cap, boff))
			flags |= DMXP_NOTIFY_SEND;
		if (flags)
			dmxp_chan_wake(r, id, flags);
		if (!(id & 15))
			cond_resched();
	}
	if (again)
		schedule_delayed_work(&r->recheck_work, RECHECK_DELAY);
}

/*
 * A sleeper is queued on one of @r's wait queues: make sure a re-check
 * will come.  Called after queuing, so a pass that starts after this sees
 * the sleeper, and a pass already running when this finds no work pending
 * is followed by the one queued here.
 */
static void chan_recheck_arm(struct dmxp_kregion *r)
{
	if (!delayed_work_pending(&r->recheck_work))
		schedule_delayed_work(&r->recheck_work, RECHECK_DELAY);
}

void dmxp_chan_region_init(struct dmxp_kregion *r)
{
	INIT_DELAYED_WORK(&r->recheck_work, chan_recheck);
}

/* The region's last reference is gone: nothing sleeps on it any more. */
void dmxp_chan_region_fini(struct dmxp_kregion *r)
{
	cancel_delayed_work_sync(&r->recheck_work);
}

/*
 * A claim of the module's own has no claim record: it is counted in
 * kclaims instead, before the claim, so that a repair of the same
 * position (repair.c) and a destroy of the channel (dmxp_chan_quiesce())
 * wait for it.  False when the channel this fd knows went meanwhile: then
 * no claim may be made, since its band may already be another channel's.
 */
static bool kclaim_get(struct dmxp_chan_file *cf)
{
	struct dmxp_kchan *kc = cf->kc;

	atomic_inc(&kc->kclaims);
	/*
	 * The count before the generation: pairs with the smp_mb() in
	 * dmxp_chan_quiesce() between the destroy's generation bump and its
	 * read of the count.  Either the destroy sees this claim and waits
	 * for it, or this sees the new generation and makes no claim.
	 */
	smp_mb__after_atomic();
	if (READ_ONCE(kc->created) && READ_ONCE(kc->generation) == cf->generation)
		return true;
	if (atomic_dec_and_test(&kc->kclaims))
		wake_up_var(&kc->kclaims);
	return false;
}

static void kclaim_put(struct dmxp_kchan *kc)
{
	/*
	 * Fully ordered: the publish (free) of the slot before the count.
	 * Pairs with the repair's acquire of kclaims and with the read of
	 * it in dmxp_chan_quiesce()'s wait.
	 */
	if (atomic_dec_and_test(&kc->kclaims))
		wake_up_var(&kc->kclaims);
}

/*
 * Wait for the read()s and write()s of channel @id in flight to be done
 * with its ring, after a destroy bumped the generation (under dmxp_lock):
 * none makes a new claim (kclaim_get() sees the bump), so the band may
 * then be given to another channel.  The wait is short: a claim is held
 * across the copy of one slot, never across a sleep or a fault.
 */
void dmxp_chan_quiesce(struct dmxp_kregion *r, u32 id)
{
	struct dmxp_kchan *kc = r->chan[id];	/* created, under r->lock */

	/* The generation bump before the count: pairs with kclaim_get(). */
	smp_mb();
	wait_var_event(&kc->kclaims, !atomic_read(&kc->kclaims));
}

/*
 * Take one message into @kbuf (struct dmxp_msg_meta then the payload,
 * @room bytes).  Returns its size, -EAGAIN (empty or contended),
 * -EMSGSIZE (does not fit: it stays), -EIDRM.
 */
static ssize_t kring_recv(struct dmxp_chan_file *cf, u8 *kbuf, size_t room)
{
	struct dmxp_kregion *r = cf->region;
	struct dmxp_kchan *kc = cf->kc;
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
		if (!kclaim_get(cf))
			return -EIDRM;
		/* Fully ordered on success. */
		if (!try_cmpxchg64(&e->head, &pos, pos + 1)) {
			kclaim_put(kc);
			continue;
		}
		memcpy(kbuf + sizeof(*m), s->payload, len);
		/* Frees the slot; pairs with the producer's acquire. */
		smp_store_release(&s->sequence, pos + cap);
		kclaim_put(kc);
		wake_if_waiting(cf, DMXP_NOTIFY_SEND);
		if (tomb)
			continue;
		return sizeof(*m) + len;
	}
	return -EAGAIN;
}

/* Send @len bytes from @kbuf as one message.  0, -EAGAIN, -EIDRM. */
static int kring_send(struct dmxp_chan_file *cf, const u8 *kbuf, u32 len)
{
	struct dmxp_kregion *r = cf->region;
	struct dmxp_kchan *kc = cf->kc;
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
		if (!kclaim_get(cf))
			return -EIDRM;
		/* Fully ordered on success. */
		if (!try_cmpxchg64(&e->tail, &pos, pos + 1)) {
			kclaim_put(kc);
			continue;
		}
		/*
		 * Marked stores, as the repairer's (kmod/repair.c): any
		 * mapper may write the slot at the same time.
		 */
		WRITE_ONCE(s->meta.message_id, pos);
		WRITE_ONCE(s->meta.timestamp_ns, ktime_get_ns());
		WRITE_ONCE(s->meta.channel_id, cf->id);
		WRITE_ONCE(s->meta.message_type, 0);
		WRITE_ONCE(s->meta.sender_pid, task_tgid_vnr(current));
		WRITE_ONCE(s->meta.sender_runtime, DMXP_RUNTIME_KERNEL);
		WRITE_ONCE(s->meta.flags, 0);
		WRITE_ONCE(s->meta.payload_len, len);
		WRITE_ONCE(s->meta.__pad, 0);
		memcpy(s->payload, kbuf, len);
		/* Publishes the message; pairs with the consumer's acquire. */
		smp_store_release(&s->sequence, pos + 1);
		kclaim_put(kc);
		wake_if_waiting(cf, DMXP_NOTIFY_RECV);
		return 0;
	}
	return -EAGAIN;
}

/*
 * Add @d (+1 or -1) to a waiter word in the mapping, which anyone mapping
 * the region may write: a bounded compare-and-swap loop (fully ordered on
 * success), false when it did not take.  A sleeper that could not count
 * itself is still found by wq_has_sleeper() and the re-check.
 */
static bool waiters_add(u32 *w, int d)
{
	int tries;

	for (tries = 0; tries < CLAIM_TRIES; tries++) {
		u32 n = READ_ONCE(*w);

		if (d < 0 && !n)
			return false;	/* zeroed behind our back: nothing to take */
		if (cmpxchg(w, n, n + d) == n)
			return true;
	}
	return false;
}

/*
 * chan_sleep()'s condition, evaluated once queued (after the barrier of
 * set_current_state() in prepare_to_wait_event()): so a re-check that runs
 * from now on sees this sleeper, and one is due.
 */
static bool chan_sleep_ready(struct dmxp_chan_file *cf, unsigned int flags)
{
	chan_recheck_arm(cf->region);
	return chan_ready(cf, flags);
}

/*
 * Sleep until the ring is ready for @flags' side, as a sleeper of the
 * wake protocol: counted in the waiter word while queued, so that wakers
 * notify.
 */
static int chan_sleep(struct dmxp_chan_file *cf, unsigned int flags)
{
	struct dmxp_kchan *kc = cf->kc;
	struct dmxp_channel_entry *e = kentry(cf->region, cf->id);
	bool recv = flags & DMXP_NOTIFY_RECV;
	u32 *w = recv ? &e->recv_waiters : &e->send_waiters;
	wait_queue_head_t *wq = recv ? &kc->recv_wq : &kc->send_wq;
	bool counted;
	int ret;

	counted = waiters_add(w, 1);
	/* Announce before checking the ring: pairs with wake_if_waiting()'s. */
	smp_mb();
	ret = wait_event_interruptible(*wq, chan_sleep_ready(cf, flags));
	if (counted)
		waiters_add(w, -1);
	return ret;
}

/*
 * read() and IORING_OP_READ: one message, as struct dmxp_msg_meta then the
 * payload.  IOCB_NOWAIT (io_uring's first, non-blocking attempt) and
 * O_NONBLOCK get -EAGAIN on an empty ring instead of sleeping.  A buffer
 * too small for the metadata (a read of 0 bytes included) gets -EMSGSIZE
 * at once, without looking at the ring: a read never returns 0, which
 * would look like the end of a file.
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

/*
 * write() and IORING_OP_WRITE: the buffer is one message's payload.  A
 * write of 0 bytes sends an empty message, as a datagram socket does.
 */
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
	struct dmxp_kregion *r = cf->region;
	struct dmxp_kchan *kc = cf->kc;
	__poll_t mask = 0;
	u64 cap, boff;

	/*
	 * Queued first, then the ring: a wake-up after a publish reaches us.
	 * poll_wait()'s barrier pairs with wq_has_sleeper()'s in
	 * wake_if_waiting() and chan_recheck().
	 */
	poll_wait(file, &kc->recv_wq, wait);
	poll_wait(file, &kc->send_wq, wait);
	if (!chan_alive(cf, &cap, &boff))
		return EPOLLERR | EPOLLHUP;
	if (ring_readable(r, cf->id, cap, boff))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (ring_writable(r, cf->id, cap, boff))
		mask |= EPOLLOUT | EPOLLWRNORM;
	/* About to sleep here: a silent producer is found within a second. */
	if (!poll_does_not_wait(wait))
		chan_recheck_arm(r);
	return mask;
}

static int chan_release(struct inode *inode, struct file *file)
{
	struct dmxp_chan_file *cf = file->private_data;

	dmxp_kregion_put(cf->region);
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

int dmxp_chan_fd_open(struct dmxp_kregion *r, u32 id, unsigned int flags)
{
	struct dmxp_chan_file *cf;
	struct dmxp_kchan *kc;
	struct file *file;
	int fd;

	cf = kzalloc(sizeof(*cf), GFP_KERNEL);
	if (!cf)
		return -ENOMEM;
	mutex_lock(&dmxp_lock);
	kc = dmxp_kchan(r, id);
	if (r->destroyed) {
		fd = -EIDRM;
		goto err;
	}
	/* Never created, or not now: the same answer. */
	if (!kc || !kc->created) {
		fd = -ENOENT;
		goto err;
	}
	cf->region = r;
	cf->kc = kc;	/* kept with the region, which cf holds */
	cf->id = id;
	cf->generation = kc->generation;
	dmxp_kregion_get(r);
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
	dmxp_kregion_put(r);
	kfree(cf);
	return fd;
err:
	mutex_unlock(&dmxp_lock);
	kfree(cf);
	return fd;
}

int dmxp_chan_eventfd(struct dmxp_kregion *r, u32 id, int fd, bool unregister,
		      struct file *owner)
{
	struct dmxp_kchan *kc;
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
	kc = dmxp_kchan(r, id);
	/* Never created, or not now: the same answer. */
	if (r->destroyed || !kc || !kc->created) {
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
	if (!ret && !unregister)
		chan_recheck_arm(r);	/* armed consumers may wait on it */
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
void dmxp_chan_drop(struct dmxp_kregion *r, u32 id, struct file *owner)
{
	struct dmxp_kchan *kc = dmxp_kchan(r, id);
	struct dmxp_evreg *ev, *tmp;
	LIST_HEAD(dead);

	if (!kc)
		return;		/* never created: no eventfd, no sleeper */
	spin_lock(&r->ev_lock);
	list_for_each_entry_safe(ev, tmp, &kc->eventfds, node) {
		if (owner && ev->owner != owner)
			continue;
		if (!owner)
			dmxp_eventfd_signal(ev->ctx);	/* let it see the end */
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
