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
#include <stdbool.h>
#include <time.h>
#include "dmxp.h"

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

struct dmxp_region {
	struct dmxp_global_header __shm *shdr;	/* the mapping, size bytes */
	size_t				size;
	int				fd;
	__u16				runtime;	/* enum dmxp_runtime */
	const struct dmxp_backend_ops	*ops;
	char				*path;
};

struct dmxp_chan {
	struct dmxp_region		*region;
	struct dmxp_channel_entry __shm	*sentry;
	__u64 __shm			*stail;
	__u64 __shm			*shead;
	struct dmxp_slot __shm		*sslots;
	/* Private copies, validated at open: never re-read from the mapping. */
	__u64				capacity;
	__u64				mask;
	__u32				id;
	__u32				gen;
	/* Blocking (lib/wait.c) */
	int				fd;		/* kernel channel fd, or -1 */
	unsigned int			spin_max_ns;	/* 0: never spin */
	unsigned int			spin_ns;	/* the adaptive budget */
};

static inline struct dmxp_slot __shm *ring_slot(const struct dmxp_chan *c, __u64 pos)
{
	return &c->sslots[pos & c->mask];
}

static inline int chan_check(const struct dmxp_chan *c)
{
	/* A destroyed (and maybe re-created) channel has a new generation. */
	if (unlikely(READ_ONCE(c->sentry->generation) != c->gen))
		return -EIDRM;
	return 0;
}

static inline __u64 dmxp__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/*
 * After publishing (freeing) slots: wake consumers (producers) if any are
 * asleep or about to sleep.  The fence is the [W1] of lib/wait.c; without
 * sleepers this costs the fence and one load, and no system call.
 */
static inline void dmxp__wake_consumers(struct dmxp_chan *c, unsigned int n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* [W1] pairs with [S1] */
	if (unlikely(READ_ONCE(c->sentry->recv_waiters)))
		c->region->ops->notify(c, DMXP_NOTIFY_RECV, n);
}

static inline void dmxp__wake_producers(struct dmxp_chan *c, unsigned int n)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);	/* [W1] pairs with [S1] */
	if (unlikely(READ_ONCE(c->sentry->send_waiters)))
		c->region->ops->notify(c, DMXP_NOTIFY_SEND, n);
}

/* lib/wait.c: the embedded backend's futex operations. */
void dmxp__shm_notify(struct dmxp_chan *c, unsigned int flags, unsigned int n);
int dmxp__shm_wait(struct dmxp_chan *c, unsigned int flags, __u32 ev, __u64 deadline);
void dmxp__shm_wake_all(struct dmxp_channel_entry __shm *e);
void dmxp__chan_wait_init(struct dmxp_chan *c);

/* The embedded backend (chan.c). */
extern const struct dmxp_backend_ops dmxp__shm_ops;

/* The kernel backend (kernel.c): "/dev/dmxp" and "/dev/dmxp:NAME". */
extern const struct dmxp_backend_ops dmxp__kernel_ops;
bool dmxp__is_kernel_path(const char *path);
int dmxp__kernel_open(const char *path, size_t size, unsigned int flags,
		      int *fdp, size_t *sizep, struct dmxp_global_header **hp);
int dmxp__kernel_unlink(const char *path);

/* Validate a channel's ring geometry against a region of @size bytes. */
bool dmxp__band_ok(__u64 capacity, __u64 band_offset, size_t size);

static inline bool dmxp__capacity_ok(__u64 cap)
{
	return cap >= DMXP_CAPACITY_MIN && cap <= DMXP_CAPACITY_MAX &&
	       !(cap & (cap - 1));
}

/*
 * Read a consistent snapshot of entry @id's geometry (a seqlock read on
 * its generation) and validate it.  -ENOENT when not created (or being
 * created or destroyed), -EPROTO when invalid, -EBUSY when it kept changing.
 */
int dmxp__entry_snapshot(const struct dmxp_global_header __shm *h, size_t size,
			 unsigned int id, __u32 *gen, __u64 *cap, __u64 *boff);

/* Allocate the file's blocks for a range: -ENOSPC instead of a later SIGBUS. */
int dmxp__back(int fd, __u64 offset, __u64 len);

/* The caller's pid, cached and refreshed in the child after fork(). */
extern __u32 dmxp__pid;
void dmxp__pid_init(void);

#endif /* DMXP_INTERNAL_H */
