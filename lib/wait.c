// SPDX-License-Identifier: MIT
/*
 * Blocking: sleeping on an empty (full) channel without spinning, and
 * waking sleepers without a system call per message.
 *
 * A note on why no wake-up is lost.
 *
 * Each channel entry has, per side, a waiter count and a futex word:
 * recv_waiters/recv_futex for consumers waiting for a message,
 * send_waiters/send_futex for producers waiting for a free slot.  Below,
 * for the receive side (the send side is the same with the roles swapped):
 *
 * A sleeper (a consumer that found the ring empty):
 *	fetch_add(recv_waiters, 1)				announce
 *	ev = load(recv_futex)
 *	fence(seq_cst)						[S1]
 *	loop, at most DMXP_READY_RETRIES times:			re-check
 *		h = load(head)
 *		s = load_acquire(slot(h).sequence)
 *		s == h + 1: a message: undo, retry the receive
 *		s < h + 1 (signed difference): empty: go to sleep
 *		s > h + 1: position h was taken since: again
 *	(the bound reached: undo, retry the receive)
 *	futex_wait(recv_futex, ev) or poll(channel fd)		sleep
 *	fetch_sub(recv_waiters, 1)
 *
 * A waker (a producer):
 *	CAS_seq_cst(slot.sequence, pos -> pos + 1)		publish
 *	if load_seq_cst(recv_waiters) != 0:			[W1]
 *		fetch_add(recv_futex, 1); futex_wake()		notify
 *		(kernel backend: the DMXP_IOC_NOTIFY ioctl)
 *
 * [S1] and [W1] are the two halves of a store-buffering (Dekker) pattern:
 * of "the waker reads recv_waiters" and "the sleeper re-checks the ring",
 * at least one sees the other side's store.  So either the sleeper sees
 * the message and does not sleep, or the waker sees the sleeper and
 * notifies.  The waker's half needs no fence: its publish is a seq_cst
 * CAS and its load of the count is seq_cst, so in the single order S of
 * seq_cst operations and fences either the load comes after the fence
 * [S1] (and sees the sleeper's increment, sequenced before [S1]), or the
 * CAS comes before [S1] (and the re-check, sequenced after [S1], sees
 * the message) (C11 7.17.3, the fence rules).  On x86 the CAS is the
 * same locked instruction a release CAS is and the load a plain load:
 * the message path pays no fence.  A waker that did not publish with
 * its own CAS (a repairer did; a sleeper passing a wake-up on) pays a
 * seq_cst fence instead (the _fenced wakers in lib/internal.h).  The notify cannot slip in between the re-check and the
 * sleep: futex_wait() sleeps only if recv_futex still holds ev, which the
 * waker changed before waking; the kernel's poll() queues the sleeper
 * before it checks the ring itself, and the ioctl wakes that queue.
 *
 * The re-check must look at the ring as a whole, not at one slot.  With
 * several consumers the message the waker saw may be past the slot the
 * sleeper reads: messages m0 and m1 are published before the sleeper
 * announces (so no waker will notify), the sleeper loads head = h, then
 * another consumer takes m0 and frees its slot.  The slot at h now reads
 * "taken" (s > h + 1), yet m1 waits at h + 1.  A sequence past h + 1
 * proves that head moved past h (the consumer that freed the slot moved
 * head before its release store, which our acquire load saw), so the
 * sleeper reads head again and looks there.  Each retry means someone
 * else took a message meanwhile; when that goes on for
 * DMXP_READY_RETRIES rounds the re-check gives up and answers "ready":
 * the caller retries its receive and never sleeps on a state it has not
 * seen.  The send side is the same with tail: s == t is free, s < t
 * (still last round's message) is full, s > t was taken: read tail again.
 *
 * A sleeper also wakes once a second (DMXP_SLEEP_SLICE_NS) to look at
 * the ring by itself, on both backends: a peer that follows only the
 * ring protocol never notifies, and on region files the claimer a ring
 * waits for may die unseen.  So the protocol above bounds the wait for
 * libdmxp's own wakers; the slice bounds it for everyone else.
 *
 * Without sleepers a waker pays one load, and no system call.  A sleeper announced but not yet asleep makes wakers notify: a
 * spurious wake-up at worst, which the sleeper's loop absorbs.
 *
 * Before sleeping, a blocking call spins on the ring for a short while
 * (dmxp_chan_set_spin()), because a sleep and wake-up cost far more than
 * a message usually takes to arrive.  The budget adapts: it halves each
 * time spinning ends in a sleep anyway, and returns to the maximum when
 * spinning pays off.
 */
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SPIN_DEFAULT_NS	20000U		/* 20 us */
#define SPIN_MAX_NS	1000000U	/* 1 ms */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Wake sleepers after a publish (free): dmxp__wake_consumers() in dmxp.h. */
__dmxp_export
void dmxp__notify(struct dmxp_chan *c, unsigned int flags, unsigned int n)
{
	c->f.region->ops->notify(c, flags, n);
}

/*
 * Has the ring a message at head (consumers) / a free slot at tail
 * (producers)?  The re-check of the note at the top; the spin's too.
 */
static bool chan_ready(const struct dmxp_chan *c, unsigned int flags)
{
	bool recv = flags & DMXP_NOTIFY_RECV;
	__u64 __shm *at = recv ? c->f.shead : c->f.stail;
	unsigned int i;

	for (i = 0; i < DMXP_READY_RETRIES; i++) {
		/* Relaxed: a guess, which the sequence checks. */
		__u64 pos = READ_ONCE(*at);
		__s64 diff;

		DMXP_HOOK(READY_POS);
		/*
		 * [C1] (consumers) pairs with [P2] in dmxp__publish() (dmxp.h); [P1]
		 * (producers) with [C2] of the consumer that freed the slot
		 * (lib/ring.c).  A sequence past the position was stored
		 * after its claimer moved head (tail) past it: the next
		 * round reads the moved value.
		 */
		diff = (__s64)(load_acquire(&ring_slot(c, pos)->sequence) -
			       (recv ? pos + 1 : pos));
		if (!diff)
			return true;
		if (diff < 0)
			return false;	/* empty (full) */
		/* Taken since we read it: the next position may be ready. */
	}
	return true;	/* unknown: the caller tries again, never sleeps on it */
}

void dmxp__wake_consumers_fenced(struct dmxp_chan *c, unsigned int n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* [W1] pairs with [S1] */
	dmxp__wake_consumers(c, n);
}

void dmxp__wake_producers_fenced(struct dmxp_chan *c, unsigned int n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* [W1] pairs with [S1] */
	dmxp__wake_producers(c, n);
}

static __u32 __shm *waiters_word(struct dmxp_chan *c, unsigned int flags)
{
	return flags & DMXP_NOTIFY_RECV ? &c->f.sentry->recv_waiters :
					  &c->f.sentry->send_waiters;
}

/*
 * A sleeper that dies leaves its count in the waiter word, and every
 * later message would cost a wake-up call.  So a blocking call says in
 * its claim record that it is counted, after adding itself and before
 * taking itself out: a repairer that finds a dead owner's record so
 * takes the count out for it (lib/repair.c, kmod/repair.c).  A death
 * between the two leaves the count, never takes out someone else's.
 */
static void wait_record(struct dmxp_chan *c, unsigned int flags,
			struct dmxp_claim __shm *rec)
{
	if (!rec)
		return;
	WRITE_ONCE(rec->chan, c->f.id);
	WRITE_ONCE(rec->generation, c->f.gen);
	store_release(&rec->state, flags & DMXP_NOTIFY_RECV ? DMXP_CLAIM_WAIT_RECV :
							   DMXP_CLAIM_WAIT_SEND);
}

/*
 * Announce a sleeper on @flags' side and re-check the ring.  Returns 0
 * when the caller may sleep (it is counted as a waiter, with *ev the
 * futex word's value), or 1 when the ring is ready (not counted).
 * @rec: the caller's claim record, or NULL (armed: not recorded).
 */
static int chan_announce(struct dmxp_chan *c, unsigned int flags, __u32 *ev,
			 struct dmxp_claim __shm *rec)
{
	__u32 __shm *w = waiters_word(c, flags);

	DMXP_HOOK(ANNOUNCING);
	__atomic_fetch_add(w, 1, __ATOMIC_SEQ_CST);
	wait_record(c, flags, rec);
	*ev = __atomic_load_n(dmxp__futex_word(c->f.sentry, flags), __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* [S1] pairs with [W1] */
	if (chan_ready(c, flags) || chan_check(c)) {
		if (rec)
			dmxp__claim_end(rec);
		__atomic_fetch_sub(w, 1, __ATOMIC_SEQ_CST);
		return 1;
	}
	return 0;
}

static void chan_unannounce(struct dmxp_chan *c, unsigned int flags,
			    struct dmxp_claim __shm *rec)
{
	if (rec)
		dmxp__claim_end(rec);
	__atomic_fetch_sub(waiters_word(c, flags), 1, __ATOMIC_SEQ_CST);
}

/* Spin until the ring is ready or the budget is spent; true if ready. */
static bool chan_spin(struct dmxp_chan *c, unsigned int flags, __u64 deadline)
{
	unsigned int budget = READ_ONCE(c->spin_ns), max = READ_ONCE(c->spin_max_ns);
	unsigned int i;
	__u64 end;

	if (!budget)
		return false;
	end = dmxp__now_ns() + budget;
	if (deadline && end > deadline)
		end = deadline;
	for (;;) {
		for (i = 0; i < 64; i++) {
			if (chan_ready(c, flags)) {
				WRITE_ONCE(c->spin_ns, max);	/* it pays off */
				return true;
			}
			cpu_relax();
		}
		if (dmxp__now_ns() >= end)
			break;
	}
	/* Spun for nothing: spin less next time, but never stop learning. */
	WRITE_ONCE(c->spin_ns, budget / 2 > max / 16 ? budget / 2 : max / 16);
	return false;
}

/*
 * Until when to sleep.  A ring stuck behind a claim whose holder may be
 * dead wakes nobody: then sleep in slices, looking for the dead claimer
 * at each (lib/repair.c).  Otherwise a sleeper still wakes once a second
 * (DMXP_SLEEP_SLICE_NS) to look at the ring itself, on both backends:
 * a peer that follows only the ring protocol publishes without waking
 * anyone (Documentation/MEMORY_LAYOUT.md, section 11), and on region
 * files the claimer it waits for may die after it fell asleep.
 */
static __u64 sleep_until(struct dmxp_chan *c, unsigned int flags, __u64 deadline)
{
	__u64 slice;

	if (likely(!dmxp__stalled(c, flags))) {
		if (dmxp__claims_here(c->f.region))
			dmxp__waiters_check(c, flags);
		slice = dmxp__now_ns() + DMXP_SLEEP_SLICE_NS;
	} else {
		dmxp__stall_check(c, flags);
		slice = dmxp__now_ns() + dmxp__stall_gap(c);
	}
	return deadline && deadline < slice ? deadline : slice;
}

/* What a sleeper cancelled while asleep undoes (wait_cancelled()). */
struct wait_state {
	struct dmxp_chan		*c;
	unsigned int			flags;
	struct dmxp_claim __shm		*rec;
};

/*
 * The sleep is a cancellation point on kernel regions (poll()): a thread
 * cancelled there takes itself out of the waiter count and its record,
 * as it would on waking.  On region files the cancellation is acted on
 * right after the futex wait (wait_loop()).  A wake-up it was given goes
 * to another sleeper, if any, in its place.
 */
static void wait_cancelled(void *arg)
{
	struct wait_state *ws = arg;

	chan_unannounce(ws->c, ws->flags, ws->rec);
	if (chan_ready(ws->c, ws->flags)) {
		if (ws->flags & DMXP_NOTIFY_RECV)
			dmxp__wake_consumers_fenced(ws->c, 1);
		else
			dmxp__wake_producers_fenced(ws->c, 1);
	}
}

/* Sleep (the backend's wait), announced as @ws says. */
static int wait_sleep(struct wait_state *ws, __u32 ev, __u64 until)
{
	int w;

	pthread_cleanup_push(wait_cancelled, ws);
	DMXP_HOOK(SLEEPING);
	w = ws->c->f.region->ops->wait(ws->c, ws->flags, ev, until);
	pthread_cleanup_pop(0);
	return w;
}

/*
 * The blocking loop shared by receive and send: try @op; on -EAGAIN spin,
 * announce, re-check, sleep, and try again, until @timeout_ns runs out.
 */
static long wait_loop(struct dmxp_chan *c, unsigned int flags, long long timeout_ns,
		      long (*op)(struct dmxp_chan *c, void *arg), void *arg)
{
	__u64 deadline = 0;
	long ret;

	if (timeout_ns > 0)
		deadline = dmxp__now_ns() + (__u64)timeout_ns;
	for (;;) {
		struct wait_state ws = { c, flags, NULL };
		__u64 until;
		__u32 ev;
		int w;

		ret = op(c, arg);
		if (ret != -EAGAIN || timeout_ns == DMXP_WAIT_NEVER)
			return ret;
		if (deadline && dmxp__now_ns() >= deadline)
			return -ETIMEDOUT;
		if (chan_spin(c, flags, deadline))
			continue;
		/* Before announcing: a repair pass uses the thread's record. */
		until = sleep_until(c, flags, deadline);
		ws.rec = dmxp__claim_thread(c->f.region);
		if (chan_announce(c, flags, &ev, ws.rec))
			continue;
		w = wait_sleep(&ws, ev, until);
		chan_unannounce(c, flags, ws.rec);
		/* Holding nothing: a cancellation the futex wait did not act on. */
		pthread_testcancel();
		if (w == -EINTR)
			return -EINTR;
		if (w && w != -ETIMEDOUT)
			return w;
		/* Woken, timed out or spurious: the next try decides. */
	}
}

struct recv_args {
	void			*buf;
	size_t			len;
	struct dmxp_msg_meta	*meta;
};

static long recv_op(struct dmxp_chan *c, void *arg)
{
	struct recv_args *a = arg;

	return dmxp_chan_recv(c, a->buf, a->len, a->meta);
}

struct send_args {
	const void	*buf;
	size_t		len;
	__u32		type;
};

static long send_op(struct dmxp_chan *c, void *arg)
{
	struct send_args *a = arg;

	return dmxp_chan_send(c, a->buf, a->len, a->type);
}

__dmxp_export
ssize_t dmxp_chan_recv_wait(struct dmxp_chan *c, void *buf, size_t len,
			    struct dmxp_msg_meta *meta, long long timeout_ns)
{
	struct recv_args a = { buf, len, meta };

	if (timeout_ns < DMXP_WAIT_FOREVER)
		return -EINVAL;
	return wait_loop(c, DMXP_NOTIFY_RECV, timeout_ns, recv_op, &a);
}

__dmxp_export
int dmxp_chan_send_wait(struct dmxp_chan *c, const void *buf, size_t len,
			__u32 type, long long timeout_ns)
{
	struct send_args a = { buf, len, type };

	if (timeout_ns < DMXP_WAIT_FOREVER)
		return -EINVAL;
	if (len > DMXP_MAX_PAYLOAD)
		return -EMSGSIZE;
	return (int)wait_loop(c, DMXP_NOTIFY_SEND, timeout_ns, send_op, &a);
}

__dmxp_export
int dmxp_chan_set_spin(struct dmxp_chan *c, unsigned int max_ns)
{
	if (max_ns > SPIN_MAX_NS)
		return -EINVAL;
	WRITE_ONCE(c->spin_max_ns, max_ns);
	WRITE_ONCE(c->spin_ns, max_ns);
	return 0;
}

static unsigned int arm_flags(unsigned int events)
{
	return events == DMXP_ARM_RECV ? DMXP_NOTIFY_RECV :
	       events == DMXP_ARM_SEND ? DMXP_NOTIFY_SEND : 0;
}

__dmxp_export
int dmxp_chan_arm(struct dmxp_chan *c, unsigned int events)
{
	unsigned int flags = arm_flags(events);
	__u32 ev;
	int ret;

	if (!flags)
		return -EINVAL;
	ret = chan_check(c);
	if (ret)
		return ret;
	return chan_announce(c, flags, &ev, NULL);
}

__dmxp_export
void dmxp_chan_disarm(struct dmxp_chan *c, unsigned int events)
{
	unsigned int flags = arm_flags(events);

	if (flags)
		chan_unannounce(c, flags, NULL);
}

__dmxp_export
int dmxp_chan_fd(struct dmxp_chan *c)
{
	return c->f.region->ops->chan_fd(c);
}

void dmxp__chan_wait_init(struct dmxp_chan *c)
{
	c->fd = -1;
	c->spin_max_ns = SPIN_DEFAULT_NS;
	c->spin_ns = SPIN_DEFAULT_NS;
}
