/* SPDX-License-Identifier: MIT */
/*
 * libdmxp internals: handles, the backend seam, atomics.  Not installed.
 *
 * Pointers into the shared mapping are marked __shm and their names start
 * with 's' (shdr, sentry, sslots): everything behind them may be written
 * by another process at any time, so it is read once into a local,
 * validated, and never trusted for a bound.
 */
#ifndef DMXP_INTERNAL_H
#define DMXP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/*
 * Test hooks: a build with -DDMXP_TEST_HOOKS calls dmxp__hook() at each
 * step of the protocols, where a test stops the process and kills it.
 */
enum dmxp_hook_step {
	DMXP_HOOK_SEND_CLAIMING = 1,	/* record written, tail not yet claimed */
	DMXP_HOOK_SEND_CLAIMED,		/* slot claimed, nothing written */
	DMXP_HOOK_SEND_PAYLOAD,		/* payload written, meta not */
	DMXP_HOOK_SEND_WRITTEN,		/* message complete, not published */
	DMXP_HOOK_SEND_PUBLISHED,	/* published, record not yet cleared */
	DMXP_HOOK_BATCH_PART,		/* first of a batch published, others not */
	DMXP_HOOK_RECV_CLAIMING,	/* record written, head not yet claimed */
	DMXP_HOOK_RECV_CLAIMED,		/* message claimed, not read */
	DMXP_HOOK_RECV_COPIED,		/* message read, slot not freed */
	DMXP_HOOK_RECV_FREED,		/* slot freed, record not yet cleared */
	DMXP_HOOK_REPAIR_MARKED,	/* a repairer marked a slot, no tombstone yet */
	DMXP_HOOK_CHAN_BUSY,		/* a channel entry BUSY and named, being made */
	DMXP_HOOK_RECORD_SETUP,		/* a claim record taken, its owner being set up */
	DMXP_HOOK_READY_POS,		/* a re-check loaded head (tail), not its slot */
	DMXP_HOOK_ANNOUNCING,		/* a sleeper found no message (slot), not counted */
	DMXP_HOOK_SLEEPING,		/* a sleeper counted and re-checked, not asleep */
	DMXP_HOOK_REF_RETURNING,	/* a loan's end found its mark, not turned back yet */
	DMXP_HOOK_THREAD_CACHING,	/* a thread's record taken, its cache entry not yet naming it */
	DMXP_HOOK_BATCH_WRITTEN,	/* a batch's first chunk written (or cut short by a repairer), none published */
	DMXP_HOOK_TOMBSTONE_CLAIMED,	/* a receive claimed a tombstone, not freed it */
	DMXP_HOOK_MAX
};
#ifdef DMXP_TEST_HOOKS
void dmxp__hook(enum dmxp_hook_step step);
#define DMXP_HOOK(step)		dmxp__hook(DMXP_HOOK_##step)
#undef DMXP__HOOK		/* a test that included dmxp.h first calls no inline path */
#define DMXP__HOOK(step)	dmxp__hook(step)	/* in include/dmxp.h */
/* Per thread: repair passes run, and liveness proofs made (system calls). */
extern __thread unsigned long dmxp__hook_passes, dmxp__hook_proofs;
#define DMXP_HOOK_COUNT(c)	(dmxp__hook_##c++)
/* Run one repair pass now, as a stalled survivor would. */
struct dmxp_region;
void dmxp__repair_now(struct dmxp_region *r);
#else
#define DMXP_HOOK(step)		do { } while (0)
#define DMXP_HOOK_COUNT(c)	do { } while (0)
#endif

/* The library defines dmxp_chan_send() and dmxp_chan_recv() (lib/ring.c). */
#define DMXP__LIBRARY
#include "dmxp.h"
#include "../common/dmxp_rules.h"

#define __shm			/* points into the shared region */
#define __dmxp_export		__attribute__((visibility("default")))

#define likely(x)		__builtin_expect(!!(x), 1)
#define unlikely(x)		__builtin_expect(!!(x), 0)

/*
 * Atomics on plain __u32/__u64 fields of the shared layout.  Every
 * acquire and release names its partner where it is used.
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define load_acquire(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_release(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define cas_relaxed(p, exp, v) \
	__atomic_compare_exchange_n((p), (exp), (v), false, \
				    __ATOMIC_RELAXED, __ATOMIC_RELAXED)
#define cas_release(p, exp, v) \
	__atomic_compare_exchange_n((p), (exp), (v), false, \
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define cas_acq_rel(p, exp, v) \
	__atomic_compare_exchange_n((p), (exp), (v), false, \
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

struct dmxp_region;

/*
 * The seam between the API and where the region comes from.  The
 * embedded backend (a file on tmpfs) implements channel creation in
 * userspace; the kernel backend (/dev/dmxp) does it with ioctls.
 */
struct dmxp_chan;

struct dmxp_backend_ops {
	const char *name;
	int (*chan_create)(struct dmxp_region *r, unsigned int id, __u64 capacity);
	int (*chan_destroy)(struct dmxp_region *r, unsigned int id);
	/* Wake @n sleepers of @flags' side (DMXP_NOTIFY_RECV or _SEND). */
	void (*notify)(struct dmxp_chan *c, unsigned int flags, unsigned int n);
	/*
	 * Sleep until woken, the futex word moved from @ev, or @deadline
	 * (CLOCK_MONOTONIC ns, 0: none).  0, -ETIMEDOUT or -EINTR.
	 */
	int (*wait)(struct dmxp_chan *c, unsigned int flags, __u32 ev, __u64 deadline);
	/* The pollable fd of the channel, or a negative errno. */
	int (*chan_fd)(struct dmxp_chan *c);
};

/*
 * A region handle's claim records (lib/claim.c): a pool of at most
 * CLAIM_POOL records of the region's claim table, taken for this process.
 * Each thread keeps one while it uses the handle; a zero-copy reference
 * that outlives its call takes the thread's, or another when the thread
 * has none cached, and the thread that ends it keeps it.
 */
#define CLAIM_POOL	64

struct dmxp_claims {
	struct dmxp_claim __shm	*srecs;		/* the table, NULL: none (no repair) */
	unsigned int		count;		/* records in it, validated at open */
	__u32			lease;		/* kernel: the file's lease; 0: embedded */
	pthread_mutex_t		lock;		/* the pool's growth and reset */
	__u32			pool_pid;	/* the process the pool belongs to */
	unsigned int		n;		/* records in the pool */
	__u64			busy;		/* atomic; bit i: idx[i] is taken */
	__u16			idx[CLAIM_POOL];
	__u64			repair_at_ns;	/* embedded: the last repair pass */
};

struct dmxp_region {
	struct dmxp__region_fast		f;		/* what inline calls read (dmxp.h) */
	struct dmxp_global_header __shm *shdr;	/* the mapping, size bytes */
	size_t				size;
	int				fd;
	const struct dmxp_backend_ops	*ops;
	char				*path;
	bool				rdonly;		/* DMXP_OPEN_RDONLY: mapped read-only */
	struct dmxp_claims		claims;
};

/*
 * A channel handle.  Threads may share one: what every message reads is
 * written only by the set-up calls, and what an empty or full ring makes
 * a caller write (every -EAGAIN counts in idle) is on cache lines of its
 * own, so that a thread polling an empty ring does not take the lines a
 * sending thread of the same handle reads.  Allocated aligned to
 * DMXP_CHAN_ALIGN (dmxp_chan_open()).
 */
#define DMXP_CHAN_ALIGN		128	/* a line, and the one prefetched with it */

struct dmxp_chan {
	/* Read-mostly: each message reads these.  Validated at open. */
	struct dmxp__chan_fast		f;		/* what inline calls read (dmxp.h) */
	/* Blocking (lib/wait.c) */
	int				fd;		/* kernel channel fd, or -1 */
	unsigned int			spin_max_ns;	/* 0: never spin */

	/*
	 * Written while the ring is empty or full (atomic: the handle may
	 * be shared).  Stall detection (lib/repair.c) and the spin budget.
	 */
	/* -EAGAINs since the last look */
	unsigned int			idle __attribute__((aligned(DMXP_CHAN_ALIGN)));
	unsigned int			spin_ns;	/* the adaptive budget */
	__u64				stall_pos;	/* position seen stuck, +1; 0: none */
	__u64				stall_ns;	/* since when, or its last repair pass */
	__u64				stall_gap_ns;	/* between two passes at it */
};
/* What a message reads fits in the first pair of lines. */
_Static_assert(__builtin_offsetof(struct dmxp_chan, idle) == DMXP_CHAN_ALIGN,
	       "the read-mostly fields of a handle fit in DMXP_CHAN_ALIGN bytes");

/*
 * Programs built against dmxp.h read these at these offsets in their
 * inline calls: a change is a new DMXP__FAST_ABI (and the old handles'
 * calls then all go to the library), never an edit in place.  Fields
 * may be appended (as 1.4's were), and padding may become a field whose
 * zero (what every library has left there) means what the older code
 * did (dmxp.h).
 */
_Static_assert(__builtin_offsetof(struct dmxp_chan, f) == 0, "a handle starts with its fast part");
_Static_assert(__builtin_offsetof(struct dmxp_region, f) == 0, "a handle starts with its fast part");
#if DMXP__FAST_ABI == 1
/* Offset and size of each field, in any data model (P: a pointer's size). */
#define DMXP__P		sizeof(void *)
#define DMXP__FAST_AT(type, field, off, size)					\
	_Static_assert(__builtin_offsetof(struct type, field) == (off) &&	\
		       sizeof(((struct type *)0)->field) == (size),		\
		       #type "." #field " is where DMXP__FAST_ABI 1 put it")
DMXP__FAST_AT(dmxp__chan_fast, abi, 0, 4);
DMXP__FAST_AT(dmxp__chan_fast, stamp, 4, 4);
DMXP__FAST_AT(dmxp__chan_fast, id, 8, 4);
DMXP__FAST_AT(dmxp__chan_fast, gen, 12, 4);
DMXP__FAST_AT(dmxp__chan_fast, capacity, 16, 8);
DMXP__FAST_AT(dmxp__chan_fast, mask, 24, 8);
DMXP__FAST_AT(dmxp__chan_fast, region, 32, DMXP__P);
DMXP__FAST_AT(dmxp__chan_fast, sentry, 32 + DMXP__P, DMXP__P);
DMXP__FAST_AT(dmxp__chan_fast, stail, 32 + 2 * DMXP__P, DMXP__P);
DMXP__FAST_AT(dmxp__chan_fast, shead, 32 + 3 * DMXP__P, DMXP__P);
DMXP__FAST_AT(dmxp__chan_fast, sslots, 32 + 4 * DMXP__P, DMXP__P);
DMXP__FAST_AT(dmxp__region_fast, claims_serial, 0, 8);
DMXP__FAST_AT(dmxp__region_fast, runtime, 8, 2);
/* In what was padding: older libraries leave it 0, and the inline send makes no prefetch. */
DMXP__FAST_AT(dmxp__region_fast, hints, 10, 2);
/* Since 1.4: read by the inline zero-copy calls, which need LIBDMXP_1.4. */
DMXP__FAST_AT(dmxp__region_fast, sclaims, 16, DMXP__P);
DMXP__FAST_AT(dmxp__region_fast, nclaims, 16 + DMXP__P, 4);
DMXP__FAST_AT(dmxp__region_fast, lease, 20 + DMXP__P, 4);
DMXP__FAST_AT(dmxp__thread_claim, serial, 0, 8);
DMXP__FAST_AT(dmxp__thread_claim, pid, 8, 4);
DMXP__FAST_AT(dmxp__thread_claim, bit, 12, 4);
DMXP__FAST_AT(dmxp__thread_claim, srec, 16, DMXP__P);
_Static_assert(sizeof(struct dmxp__thread_claim) - (16 + DMXP__P) <
	       _Alignof(struct dmxp__thread_claim) &&
	       DMXP__TCACHE == 4 && sizeof(dmxp__pid) == 4,
	       "dmxp__tclaim and dmxp__pid are what DMXP__FAST_ABI 1 made them");
#undef DMXP__FAST_AT
#undef DMXP__P
#else
#error "a new DMXP__FAST_ABI: pin its layout here as the one before"
#endif

static inline struct dmxp_slot __shm *ring_slot(const struct dmxp_chan *c, __u64 pos)
{
	return dmxp__slot(&c->f, pos);
}

static inline int chan_check(const struct dmxp_chan *c)
{
	return likely(dmxp__chan_live(&c->f)) ? 0 : -EIDRM;
}

static inline __u64 dmxp__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/*
 * The same where this thread's CAS failed or did not happen (a repairer
 * published or freed the slot, the sleeper's own re-check): [W1] is a
 * fence then.  Out of line: no message path pays for it (lib/wait.c).
 */
void dmxp__wake_consumers_fenced(struct dmxp_chan *c, unsigned int n) __attribute__((cold));
void dmxp__wake_producers_fenced(struct dmxp_chan *c, unsigned int n) __attribute__((cold));

/* lib/wait.c */
void dmxp__chan_wait_init(struct dmxp_chan *c);

/* The futex word a sleeper of @flags' side waits on (region files). */
static inline __u32 __shm *dmxp__futex_word(struct dmxp_channel_entry __shm *e,
					    unsigned int flags)
{
	return flags & DMXP_NOTIFY_RECV ? &e->recv_futex : &e->send_futex;
}

/* The region-file backend (file.c). */
extern const struct dmxp_backend_ops dmxp__shm_ops;
void dmxp__shm_wake_all(struct dmxp_channel_entry __shm *e);

/* The kernel backend (kernel.c): "/dev/dmxp" and "/dev/dmxp:NAME". */
extern const struct dmxp_backend_ops dmxp__kernel_ops;
bool dmxp__is_kernel_path(const char *path);
int dmxp__kernel_open(const char *path, size_t size, unsigned int flags,
		      int *fdp, size_t *sizep, struct dmxp_global_header **hp,
		      __u32 *leasep);
int dmxp__kernel_unlink(const char *path);

/*
 * Read a consistent snapshot of entry @id's geometry (a seqlock read on
 * its generation) and validate it.  -ENOENT when not created (or being
 * created or destroyed), -EPROTO when invalid, -EBUSY when it kept changing.
 */
int dmxp__entry_snapshot(const struct dmxp_global_header __shm *h, size_t size,
			 unsigned int id, __u32 *gen, __u64 *cap, __u64 *boff);

/* Allocate the file's blocks for a range: -ENOSPC instead of a later SIGBUS. */
int dmxp__back(int fd, __u64 offset, __u64 len);

/* dmxp__pid (dmxp.h), set (lib/proc.c). */
void dmxp__pid_init(void);

/* The library's locks across fork(): held, then released or started afresh. */
enum dmxp_fork_phase { DMXP_FORK_PREPARE, DMXP_FORK_PARENT, DMXP_FORK_CHILD };
void dmxp__claims_fork(enum dmxp_fork_phase phase);


/*
 * Claim records (lib/claim.c).  Before claiming positions a thread writes
 * them into its record (dmxp__claim_try() in dmxp.h); a survivor that
 * finds a record whose holder is dead repairs what it held
 * (Documentation/RELIABILITY.md).  Each thread caches its record of a
 * region handle in dmxp__tclaim (dmxp.h).
 */
#define CLAIM_TCACHE	DMXP__TCACHE

struct dmxp_claim __shm *dmxp__claim_thread_slow(struct dmxp_region *r);
bool dmxp__claim_ref_back(struct dmxp_region *r, __u32 claim);
void dmxp__claim_ref_put(struct dmxp_region *r, __u32 claim);
void dmxp__claim_forget(struct dmxp_region *r);

/*
 * This thread's record for @r, or NULL: no table, or none left (which is
 * not remembered: the next call tries again).
 */
static inline struct dmxp_claim __shm *dmxp__claim_thread(struct dmxp_region *r)
{
	struct dmxp_claim __shm *rec;

	if (likely(dmxp__claim_cached(&r->f, &rec)))
		return rec;
	return dmxp__claim_thread_slow(r);
}

/* No claim was made after all (or none is held any more). */
static inline void dmxp__claim_drop(struct dmxp_claim __shm *rec)
{
	if (rec && READ_ONCE(rec->state) != DMXP_CLAIM_IDLE)
		dmxp__claim_end(rec);
}

/*
 * lib/proc.c: this process as an embedded owner (dmxp__ident_refresh()
 * first: after fork() it is another), and proofs of death.  A pass asks
 * about the same owners again and again: it keeps its answers in a
 * struct dmxp_proofs, one per owner.
 */
struct dmxp_ident {
	__u32	pid;
	__u64	start;
	__u64	ns;
	__s64	boot_off;	/* our time namespace's boottime offset, in ticks */
	bool	proc_ok;	/* /proc is ours and answers: deaths can be proven */
};
extern struct dmxp_ident dmxp__self;
void dmxp__ident_refresh(void);

enum dmxp_liveness { DMXP_ALIVE, DMXP_DEAD };

#define DMXP_PROOF_CACHE	64
struct dmxp_proofs {
	unsigned int	n;
	struct {
		__u32	pid;
		bool	dead;
		__u64	start;
	} e[DMXP_PROOF_CACHE];
};
enum dmxp_liveness dmxp__holder(__u32 pid, __u64 start, __u64 ns, struct dmxp_proofs *pc);

/*
 * lib/claim.c: a record's owner, alive or proven dead, and freeing a
 * record (lib/repair.c frees the records it repaired).  An embedded
 * owner is its pid, with DMXP_OWNER_SETUP while the record is set up.
 */
#define DMXP_OWNER_SETUP	0x80000000U
enum dmxp_liveness dmxp__rec_holder(struct dmxp_region *r, const struct dmxp_claim __shm *rec,
				    struct dmxp_proofs *pc);
void dmxp__record_free(struct dmxp_region *r, unsigned int i);

/*
 * Region files: is the process named by (@pid, start time, pid namespace)
 * proven dead?  Anything not provable, another pid namespace included,
 * counts as alive (lib/proc.c).  dmxp__self_ident(): ours, to name us.
 */
bool dmxp__owner_dead(__u32 pid, __u64 start, __u64 ns);
void dmxp__self_ident(__u64 *start, __u64 *ns);
/* lib/repair.c.  Region files: keep repairs out of a channel create or destroy. */
int dmxp__repair_lock_wait(struct dmxp_region *r, bool *locked);
void dmxp__repair_unlock(struct dmxp_region *r);
/* Do the survivors of @r repair (a region file with a claim table)? */
static inline bool dmxp__claims_here(const struct dmxp_region *r)
{
	return r->claims.srecs && !r->claims.lease;
}
int dmxp__claims_open(struct dmxp_region *r, __u32 lease);
void dmxp__claims_close(struct dmxp_region *r);
/* Is @rec still this process's (not taken over by a repairer)? */
static inline bool dmxp__claim_owned(const struct dmxp_region *r,
				     const struct dmxp_claim __shm *rec)
{
	return READ_ONCE(rec->owner) == (r->claims.lease ? r->claims.lease : dmxp__pid);
}
/*
 * After a slot of @rec's claim was found repaired: true if @rec is still
 * ours; else it leaves the pool for good (its bit stays taken) and this
 * thread's cache forgets it.
 */
bool dmxp__claim_kept(struct dmxp_region *r, struct dmxp_claim __shm *rec);
/* A record of the pool for a zero-copy reference: its pool bit, or -1. */
int dmxp__claim_take(struct dmxp_region *r);
void dmxp__claim_put(struct dmxp_region *r, unsigned int bit);
static inline struct dmxp_claim __shm *dmxp__claim_rec(struct dmxp_region *r,
						       unsigned int bit)
{
	return &r->claims.srecs[r->claims.idx[bit]];
}
/* lib/repair.c.  After -EAGAIN: look for a ring stuck behind a dead claimer now and then. */
void dmxp__stall_check(struct dmxp_chan *c, unsigned int flags);
/* Is the ring stuck behind a claim (the wait loop then sleeps in slices)? */
bool dmxp__stalled(struct dmxp_chan *c, unsigned int flags);
/* How long the wait loop sleeps while stalled: until the next look. */
__u64 dmxp__stall_gap(const struct dmxp_chan *c);
#define DMXP_IDLE_CHECK		256	/* -EAGAINs between two looks */
#define DMXP_REPAIR_AFTER_NS	1000000	/* a stall this old gets a repair pass */
#define DMXP_REPAIR_GAP_MAX_NS	16000000	/* and then one at least this often */
#define DMXP_WAITERS_CHECK_NS	1000000000ULL	/* waiting sides: dead sleepers, this often */
#define DMXP_SLEEP_SLICE_NS	1000000000ULL	/* a sleeper of a region file looks */
/* The waiting side of @flags: take back the counts of sleepers that died. */
void dmxp__waiters_check(struct dmxp_chan *c, unsigned int flags);
#define DMXP_READY_RETRIES	16	/* re-check: positions taken under it, at most */

static inline void dmxp__idle(struct dmxp_chan *c, unsigned int flags)
{
	/* Racy between threads sharing the handle, which only shifts a look. */
	unsigned int n = READ_ONCE(c->idle) + 1;

	WRITE_ONCE(c->idle, n);
	if (unlikely(n % DMXP_IDLE_CHECK == 0))
		dmxp__stall_check(c, flags);
}

#endif /* DMXP_INTERNAL_H */
