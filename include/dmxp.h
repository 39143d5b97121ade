/* SPDX-License-Identifier: MIT */
/*
 * libdmxp: lock-free multi-producer multi-consumer message channels in
 * shared memory.
 *
 * A region holds up to 256 channels.  Each channel is a bounded ring of
 * 1,088-byte slots carrying up to 960 bytes of payload.  Sending and
 * receiving touch only shared memory: no system call, no lock.
 *
 * Every function returns 0 (or a count) on success and a negative errno
 * on failure; none prints or aborts.  The errors each function can return
 * are listed next to it.  The messaging calls are non-blocking; the _wait
 * variants and dmxp_chan_fd() block.
 *
 *	struct dmxp_region *r;
 *	struct dmxp_chan *c;
 *
 *	dmxp_region_open(NULL, 0, DMXP_OPEN_CREATE, &r);
 *	dmxp_chan_create(r, 7, 1024);
 *	dmxp_chan_open(r, 7, &c);
 *	dmxp_chan_send(c, "hello", 5, 0);
 *	...
 *	dmxp_chan_close(c);
 *	dmxp_region_close(r);
 */
#ifndef DMXP_H
#define DMXP_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>
#include <linux/dmxp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Default region path and size; DMXP_REGION in the environment overrides the path. */
#define DMXP_DEFAULT_REGION	"/dev/shm/dmxp_alloc"
#define DMXP_REGION_ENV		"DMXP_REGION"
/*
 * 288 MiB: room for all 256 channels at the default capacity of 1024
 * slots.  Pages of a tmpfs file are only allocated when first touched, so
 * unused space costs nothing.
 */
#define DMXP_DEFAULT_REGION_SIZE	(288ULL << 20)
#define DMXP_DEFAULT_CAPACITY		1024

struct dmxp_region;	/* an open region (opaque) */
struct dmxp_chan;	/* an open channel of a region (opaque) */

/*
 * dmxp_chan_send() and dmxp_chan_recv() run inline in the caller (see
 * "The inline fast path" at the end); DMXP_NO_INLINE defined before this
 * header makes them plain calls into the library.
 */
#if defined(DMXP_NO_INLINE) || defined(DMXP_TEST_HOOKS) || defined(DMXP__LIBRARY)
#define DMXP__INLINE_API
#else
#define DMXP__INLINE_API	static __inline__
#define DMXP__INLINE	1
#endif

/* ---------------------------------------------------------------- regions */

/* dmxp_region_open() flags */
#define DMXP_OPEN_CREATE	(1U << 0)	/* create the region if it does not exist */
#define DMXP_OPEN_EXCL		(1U << 1)	/* with CREATE: fail if it exists */
#define DMXP_OPEN_RDONLY	(1U << 2)	/* map read-only, to inspect (not with CREATE) */

/*
 * Open the region at @path (NULL: $DMXP_REGION, else DMXP_DEFAULT_REGION).
 *
 * A path is a region file (the embedded backend, normally on tmpfs), or
 * "/dev/dmxp" for the kernel module's default region, or "/dev/dmxp:NAME"
 * for its region NAME (the kernel backend).  Both give the same memory
 * layout and the same calls.
 *
 * With DMXP_OPEN_RDONLY the region is opened and mapped read-only, which
 * needs only read permission: dmxp_chan_info(), dmxp_chan_list() and the
 * header work; opening, creating and destroying channels give -EBADF.
 *
 * With DMXP_OPEN_CREATE a missing region is created with @size bytes
 * (0: DMXP_DEFAULT_REGION_SIZE for a file, the module's default_size for
 * a kernel region); an existing one is attached whatever its size, and
 * @size is ignored.  Creation is atomic: other processes see either no
 * region or a fully initialised one.  The module's default region exists
 * as soon as anyone attaches to it.
 *
 * -ENOENT   no region at @path and no DMXP_OPEN_CREATE
 * -EEXIST   DMXP_OPEN_EXCL and the region exists
 * -EINVAL   NULL @out, unknown flag, EXCL without CREATE, RDONLY with
 *           CREATE, @size (with
 *           CREATE) too small for the header or too large, or
 *           a bad kernel region name (1..31 of [A-Za-z0-9_.-])
 * -EPROTO   the file is not a dmxp region, is of another version, is
 *           truncated, or holds an inconsistent channel table; or the
 *           module speaks another version
 * -ENODEV   a kernel path, and the module is not loaded
 * -EACCES   a kernel region whose mode does not grant read and write
 *           (read, with DMXP_OPEN_RDONLY)
 * -ENOMEM, and any errno of open(2), ftruncate(2), mmap(2)
 */
int dmxp_region_open(const char *path, size_t size, unsigned int flags,
		     struct dmxp_region **out);

/* Unmap and close.  Channels and their messages stay in the region. */
void dmxp_region_close(struct dmxp_region *r);

/*
 * Remove the region at @path (NULL: the default): the file, or the
 * kernel region's name.  Processes that have it open keep using it until
 * they close it.
 * -ENOENT, -EPROTO (not a dmxp region: left alone), -EPERM (a kernel
 * region of another user), errno of unlink(2)
 */
int dmxp_region_unlink(const char *path);

const char *dmxp_region_path(const struct dmxp_region *r);
size_t dmxp_region_size(const struct dmxp_region *r);

/*
 * The region's shared memory, for inspection (tools, tests, bindings that
 * read the header): every field may change under the caller, and writing
 * to it outside the documented protocol corrupts the region.
 */
const struct dmxp_global_header *dmxp_region_header(const struct dmxp_region *r);

/* Bytes not yet allocated to any ring. */
size_t dmxp_region_free(const struct dmxp_region *r);

/*
 * The runtime recorded in the metadata of messages sent through this
 * region (enum dmxp_runtime; bindings set theirs, the default is C).
 * -EINVAL for a value that is not in enum dmxp_runtime.
 */
int dmxp_region_set_runtime(struct dmxp_region *r, unsigned int runtime);

/* --------------------------------------------------------------- channels */

/*
 * Create channel @id (0..255) with @capacity slots, a power of two in
 * [2, 2^24] (0: DMXP_DEFAULT_CAPACITY).  The ring is carved out of the
 * region; a band freed by destroying the same id is reused if it fits.
 *
 * -EINVAL   @id >= 256 or a bad capacity
 * -EEXIST   the channel exists
 * -ENOSPC   the region, or the file system under it, has no room for
 *           the ring (its pages are allocated here, so a full tmpfs
 *           fails now rather than with SIGBUS later)
 * -EBUSY    another process is creating or destroying this id and did
 *           not finish within a second (one that died is found, and
 *           the id taken back)
 * -EBADF    the region was opened DMXP_OPEN_RDONLY
 */
int dmxp_chan_create(struct dmxp_region *r, unsigned int id, size_t capacity);

/*
 * Destroy channel @id: its undelivered messages are discarded and the id
 * can be created again.  Processes that still have the channel open get
 * -EIDRM from their next call on it.  A call already in progress when the
 * channel is destroyed is not stopped: it completes on the ring memory it
 * started on, which a new channel may reuse, so a message may be lost or
 * land in the new channel.  Destroy a channel once its users are done
 * with it.
 *
 * -EINVAL, -ENOENT (not created), -EBUSY, -EBADF (as for create)
 */
int dmxp_chan_destroy(struct dmxp_region *r, unsigned int id);

/*
 * Open channel @id for sending and receiving.  The handle is valid until
 * dmxp_chan_close(); several handles, threads and processes may use the
 * same channel at once.  One handle may be used by several threads.
 * -EINVAL, -ENOENT (not created), -EPROTO (entry fails validation),
 * -EBUSY (the entry kept changing under a concurrent create or destroy),
 * -EBADF (the region was opened DMXP_OPEN_RDONLY), -ENOMEM
 */
int dmxp_chan_open(struct dmxp_region *r, unsigned int id, struct dmxp_chan **out);
void dmxp_chan_close(struct dmxp_chan *c);

unsigned int dmxp_chan_id(const struct dmxp_chan *c);
size_t dmxp_chan_capacity(const struct dmxp_chan *c);

/* A snapshot of a channel's state. */
struct dmxp_chan_info {
	__u32	id;
	__u32	flags;		/* DMXP_CHAN_* */
	__u64	capacity;	/* slots */
	__u64	head;		/* next position to consume */
	__u64	tail;		/* next position to produce */
	__u64	depth;		/* tail - head: claimed or waiting messages */
	__u64	band_offset;
};

/*
 * Fill @info for channel @id.  -EINVAL, -ENOENT (not created), -EPROTO
 * (entry fails validation), -EBUSY (kept changing, as for open).
 */
int dmxp_chan_info(struct dmxp_region *r, unsigned int id,
		   struct dmxp_chan_info *info);

/*
 * Write the ids of created channels, ascending, into @ids (at most @n)
 * and return how many channels are created (which may exceed @n).
 * -EINVAL when @ids is NULL and @n is not 0.
 */
int dmxp_chan_list(struct dmxp_region *r, unsigned int *ids, size_t n);

/* ---------------------------------------------------------- copy messaging */

/*
 * Send @len bytes from @buf with the caller-chosen @type.
 * -EAGAIN ring full, -EMSGSIZE @len > DMXP_MAX_PAYLOAD (nothing written),
 * -EIDRM the channel was destroyed, -EPROTO the ring's shared state
 * contradicts the protocol (another process corrupted it); every
 * messaging call below can return -EIDRM and -EPROTO the same way, and
 * these two:
 * -ENOBUFS  no claim record for the call (nothing claimed): a region
 *           with a claim table lends each thread that uses a region
 *           handle one record, and each live dmxp_ref another, from a
 *           pool of at most 64 per region handle (and the table's records
 *           per region).  Use fewer threads or references per handle, or
 *           open the region again for more.  A thread's record comes back
 *           when it exits or the handle is closed.
 * -ECANCELED a repairer took the call's slot while the call held it,
 *           believing its process dead (Documentation/RELIABILITY.md):
 *           the message is lost (a send's became a tombstone; a
 *           receive's copy may hold a later message's bytes: discard
 *           it; or a receive was skipping a tombstone: nothing copied).
 *           The slot is not rewound and the ring goes on.
 */
DMXP__INLINE_API int dmxp_chan_send(struct dmxp_chan *c, const void *buf,
				    size_t len, __u32 type);

/*
 * What the sends of handle @c write into a message's timestamp_ns
 * (struct dmxp_msg_meta), each handle on its own:
 * DMXP_TIMESTAMP_PRECISE  CLOCK_MONOTONIC, the default;
 * DMXP_TIMESTAMP_COARSE   CLOCK_MONOTONIC_COARSE: a clock tick's
 *                         resolution (1-10 ms; it lags the precise clock
 *                         by up to a tick), a few ns to read;
 * DMXP_TIMESTAMP_NONE     0, which means "not stamped".
 * 0, or -EINVAL for another @policy.  Since 1.2.
 */
#define DMXP_TIMESTAMP_PRECISE	0U
#define DMXP_TIMESTAMP_COARSE	1U
#define DMXP_TIMESTAMP_NONE	2U
int dmxp_chan_set_timestamp(struct dmxp_chan *c, unsigned int policy);

/*
 * Receive the oldest message into @buf (room for @len bytes) and return
 * its payload length; @meta, if not NULL, receives its metadata.  At
 * most @len bytes are ever written to @buf.
 * -EAGAIN   ring empty
 * -EMSGSIZE @len is smaller than the message: it stays in the ring and,
 *           if @meta is not NULL, meta->payload_len tells its size (the
 *           other fields of @meta are zeroed)
 * -EPROTO   also: the message's length changed after it was checked and
 *           claimed (a process wrote into a slot it does not own) and no
 *           longer fits @len: it is consumed, nothing is copied
 * -EIDRM    the channel was destroyed
 */
DMXP__INLINE_API ssize_t dmxp_chan_recv(struct dmxp_chan *c, void *buf, size_t len,
					struct dmxp_msg_meta *meta);

/* ----------------------------------------------------- zero-copy messaging */

/*
 * A slot claimed by dmxp_chan_reserve() or dmxp_chan_peek().  A reference
 * is live until the one commit or abort (release) that finishes it, which
 * sets payload to NULL; a reserve or peek that fails leaves it NULL too.
 * Finishing a reference that is not live (finished already, or a copy of
 * one that was, or zeroed), or of the other kind, or through a handle of
 * another channel gives -EINVAL and touches nothing.
 */
struct dmxp_ref {
	void			*payload;	/* DMXP_MAX_PAYLOAD bytes in the slot */
	const struct dmxp_msg_meta *meta;	/* peek only: the message's metadata */
	__u32			len;		/* peek only: payload bytes, <= 960 */
	__u32			claim;		/* its claim record (internal) */
	__u64			pos;		/* the slot's position (internal) */
};

/*
 * Claim the next free slot; write up to DMXP_MAX_PAYLOAD bytes at
 * ref->payload, then publish with dmxp_chan_commit() or give the slot up
 * with dmxp_chan_abort().  Consumers behind this slot wait until then, so
 * keep the reservation short.  -EAGAIN ring full, -ENOBUFS, -EIDRM.
 */
DMXP__INLINE_API int dmxp_chan_reserve(struct dmxp_chan *c, struct dmxp_ref *ref);

/*
 * Publish a reserved slot holding @len bytes.
 * -EMSGSIZE (not published: commit again or abort), -EIDRM (the channel
 * was destroyed since the reservation: nothing is published), -EINVAL
 * (@ref is not a live reservation of @c), -ECANCELED (repaired as above:
 * not published).  Every result but -EMSGSIZE and -EINVAL finishes @ref.
 */
DMXP__INLINE_API int dmxp_chan_commit(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
				      __u32 type);

/*
 * Publish a reserved slot as a tombstone that consumers skip (also when a
 * repairer made it one already): 0.  -EIDRM (destroyed since the
 * reservation: nothing is published, @ref is finished), -EINVAL (@ref is
 * not a live reservation of @c).
 *
 * dmxp_chan_abort() and dmxp_chan_release() returned void in libdmxp 1.0.
 * Programs built against 1.1 bind to their LIBDMXP_1.1 versions, and a 1.0
 * library refuses to load them; programs built against 1.0 keep their
 * LIBDMXP_1.0 versions, the same functions, whose value they ignore.
 */
int dmxp_chan_abort(struct dmxp_chan *c, struct dmxp_ref *ref);

/*
 * Claim the oldest message and read it in place: ref->len bytes at
 * ref->payload (ref->meta->payload_len as the sender wrote it, which only
 * a corrupt region makes differ); free the slot with dmxp_chan_release().
 * -EAGAIN ring empty, -ENOBUFS, -EIDRM, -ECANCELED (a repairer freed a
 * tombstone the call was skipping: nothing peeked; call again).
 */
DMXP__INLINE_API int dmxp_chan_peek(struct dmxp_chan *c, struct dmxp_ref *ref);
/*
 * Free a peeked slot: 0.  -EIDRM (destroyed since the peek: nothing is
 * freed, @ref is finished), -EINVAL (@ref is not a live peek of @c),
 * -ECANCELED (a repairer freed it already: what was read at ref->payload
 * may be a later message's; @ref is finished).  int since 1.1: see
 * dmxp_chan_abort().
 */
DMXP__INLINE_API int dmxp_chan_release(struct dmxp_chan *c, struct dmxp_ref *ref);

/* ------------------------------------------------------- batch messaging */

struct dmxp_smsg {
	const void	*buf;
	__u32		len;
	__u32		type;
};

/*
 * Send up to @n messages with one claim of the ring; return how many
 * were sent (fewer when the ring fills), in order.  If a repairer took
 * the slot of msgs[i] (see -ECANCELED above), the call returns i:
 * msgs[i] and those after it were not delivered.
 * -EAGAIN ring full (none sent), -EMSGSIZE some len > DMXP_MAX_PAYLOAD
 * (none sent), -EINVAL @n == 0, -ECANCELED (i == 0: none sent), -EIDRM
 */
int dmxp_chan_send_batch(struct dmxp_chan *c, const struct dmxp_smsg *msgs,
			 unsigned int n);

struct dmxp_rmsg {
	void			*buf;	/* in: room for buf_len bytes */
	__u32			buf_len;
	__u32			len;	/* out: payload length */
	struct dmxp_msg_meta	meta;	/* out */
};

/*
 * Receive up to @n messages with one claim; return how many.  Stops
 * before a message that does not fit its buffer.  At most buf_len bytes
 * are ever written to each buffer: a message claimed whose length changed
 * since it was checked (see dmxp_chan_recv()) and no longer fits the next
 * buffer is consumed and left out, as is one a repairer freed under the
 * call; the messages after it fill the next entries.
 * -EAGAIN ring empty, -EMSGSIZE the oldest message does not fit msgs[0]
 * (it stays), -EINVAL @n == 0, -EPROTO or -ECANCELED (every message
 * claimed was left out so), -EIDRM
 */
int dmxp_chan_recv_batch(struct dmxp_chan *c, struct dmxp_rmsg *msgs,
			 unsigned int n);

/* -------------------------------------------------------------- blocking */

#define DMXP_WAIT_FOREVER	(-1LL)	/* timeout_ns: no limit */
#define DMXP_WAIT_NEVER		0LL	/* timeout_ns: do not block (-EAGAIN) */

/*
 * Receive like dmxp_chan_recv(), but wait up to @timeout_ns nanoseconds
 * for a message (DMXP_WAIT_FOREVER, DMXP_WAIT_NEVER, or > 0).  Spins for
 * a short, adaptive while (dmxp_chan_set_spin()), then sleeps without
 * using the CPU; producers wake it with no system call of theirs unless
 * someone sleeps.
 * -ETIMEDOUT  no message in time (-EAGAIN with DMXP_WAIT_NEVER)
 * -EINTR      a signal handler ran (whatever its SA_RESTART)
 * -EIDRM      the channel was destroyed, also while waiting
 * -EINVAL     @timeout_ns < -1; and the errors of dmxp_chan_recv()
 */
ssize_t dmxp_chan_recv_wait(struct dmxp_chan *c, void *buf, size_t len,
			    struct dmxp_msg_meta *meta, long long timeout_ns);

/* Send like dmxp_chan_send(), waiting for a free slot as above. */
int dmxp_chan_send_wait(struct dmxp_chan *c, const void *buf, size_t len,
			__u32 type, long long timeout_ns);

/*
 * Spin at most @max_ns nanoseconds (0: never; at most 1 ms; default
 * 20 us) before a blocking call sleeps.  -EINVAL above 1 ms.
 */
int dmxp_chan_set_spin(struct dmxp_chan *c, unsigned int max_ns);

/*
 * Waiting in your own event loop.  Producers make a system call to wake
 * consumers only when a consumer is armed, so a consumer arms before it
 * waits and disarms when it wakes:
 *
 *	for (;;) {
 *		while (dmxp_chan_recv(c, buf, sizeof(buf), &meta) >= 0)
 *			handle(buf);				// drain
 *		if (dmxp_chan_arm(c, DMXP_ARM_RECV) > 0)	// arm, re-check
 *			continue;				// a message came
 *		epoll_wait(ep, ...);				// wait on dmxp_chan_fd(c)
 *		dmxp_chan_disarm(c, DMXP_ARM_RECV);
 *	}
 *
 * dmxp_chan_arm() returns 0 when armed (now wait), 1 when the channel is
 * already ready (not armed: drain again), -EINVAL for bad @events or
 * -EIDRM.  Every arm that returned 0 needs one disarm.  The same holds
 * for producers waiting for room with DMXP_ARM_SEND.
 */
#define DMXP_ARM_RECV	(1U << 0)	/* wake me when a message arrives */
#define DMXP_ARM_SEND	(1U << 1)	/* wake me when a slot is freed */
int dmxp_chan_arm(struct dmxp_chan *c, unsigned int events);
void dmxp_chan_disarm(struct dmxp_chan *c, unsigned int events);

/*
 * A file descriptor that poll(), epoll and io_uring report readable when
 * a message waits and writable when a slot is free (kernel regions only;
 * -EOPNOTSUPP for region files, whose sleepers use futexes).  It belongs
 * to the channel handle: do not close it.  read() on it receives one
 * message (struct dmxp_msg_meta, then the payload), write() sends one;
 * see Documentation/KERNEL.md.
 */
int dmxp_chan_fd(struct dmxp_chan *c);

/* ---------------------------------------------------- the inline fast path */

/*
 * dmxp_chan_send() and dmxp_chan_recv() are inline functions, as
 * liburing's ring calls are, and so are the zero-copy calls (since 1.4):
 * a message whose slot is ready, sent or received by a thread that has
 * used the region handle before, goes without a call into the library.
 * Everything else is a call: a full or empty ring, a claim lost to
 * another thread, a thread's first call, a slot a repairer took, a
 * wake-up, a clock read.  The library's exported functions, which
 * programs built before and foreign-function interfaces call, run this
 * same code first (lib/ring.c), so the protocol is written once.
 *
 * The inline code reads the start of the handles (struct dmxp__chan_fast,
 * struct dmxp__region_fast) and the thread's claim record cache
 * (dmxp__tclaim).  Their layout is a contract between this header and
 * the library, numbered DMXP__FAST_ABI: a library whose handles are laid
 * out otherwise, or a handle the inline code must not serve (a channel
 * whose flags ask for more than the ring below), sets its abi to another
 * value, and every call goes to the library.  The fields 1.4 added are
 * read only by inline code that calls a LIBDMXP_1.4 function, which an
 * older library refuses to load.  A field may also take the place of
 * padding, which every library has left zero (the handles are calloc()ed),
 * when zero means what the older code did: the hints (zero: the inline
 * send makes no prefetch).
 * Names starting with dmxp__ are not API.
 *
 * Memory ordering: the ring protocol of lib/ring.c, whose tags these are.
 *	[P1] a producer's acquire of the slot's sequence pairs with [C2]:
 *	     it writes into the slot after the last reader freed it;
 *	[P2] the publish (seq_cst CAS) pairs with [C1]: a consumer that sees
 *	     the sequence sees the message;
 *	[R1]/[R2] the claim record is written before the claiming CAS, a
 *	     release, so a repairer that sees the cursor past the positions
 *	     sees the record (lib/claim.c); [R3] its end is a release;
 *	[W1] the seq_cst CAS of a publish (free) and the seq_cst load of the
 *	     waiter count are the waker's half of [S1] (lib/wait.c).
 */
#define DMXP__FAST_ABI	1

/* The start of every region handle. */
struct dmxp__region_fast {
	__u64			claims_serial;	/* names the handle in dmxp__tclaim */
	__u16			runtime;	/* enum dmxp_runtime: a message's sender_runtime */
	__u16			hints;		/* DMXP__HINT_*; was padding: 0 in older libraries */
	__u16			__pad[2];
	/* Since 1.4; what inline code built against 1.3 reads ends here. */
	struct dmxp_claim	*sclaims;	/* the claim table; NULL: none */
	__u32			nclaims;	/* records in it */
	__u32			lease;		/* /dev/dmxp: the records' owner; 0: our pid */
};

/* struct dmxp__region_fast.hints: what the CPU has, as the library found it. */
#define DMXP__HINT_PREFETCHW	(1U << 0)	/* x86: the PREFETCHW instruction */

/*
 * The start of every channel handle.  The s-pointers point into the
 * shared region: what is behind them is read once and never trusted for
 * a bound; the other fields are the library's validated copies.
 */
struct dmxp__chan_fast {
	__u32				abi;		/* DMXP__FAST_ABI, else: call */
	__u32				stamp;		/* DMXP_TIMESTAMP_*; atomic */
	__u32				id;
	__u32				gen;		/* the channel's, at open */
	__u64				capacity;
	__u64				mask;		/* capacity - 1 */
	struct dmxp_region		*region;	/* a struct dmxp__region_fast */
	struct dmxp_channel_entry	*sentry;
	__u64				*stail;
	__u64				*shead;
	struct dmxp_slot		*sslots;
};

/*
 * A thread's claim record for one region handle (lib/claim.c).  While a
 * zero-copy reference borrows it, serial | DMXP__LENT.
 */
struct dmxp__thread_claim {
	__u64			serial;		/* the handle's claims_serial */
	__u32			pid;		/* the process that took it */
	__u32			bit;		/* in the handle's pool */
	struct dmxp_claim	*srec;		/* NULL: the region has no claim table */
};
#define DMXP__TCACHE	4
extern __thread struct dmxp__thread_claim dmxp__tclaim[DMXP__TCACHE]
	__attribute__((tls_model("initial-exec")));
/* The caller's pid, refreshed in the child after fork(). */
extern __u32 dmxp__pid;

/* The library's side: the whole calls, and the rare ends of the inline ones. */
int dmxp__chan_send_slow(struct dmxp_chan *c, const void *buf, size_t len, __u32 type);
ssize_t dmxp__chan_recv_slow(struct dmxp_chan *c, void *buf, size_t len,
			     struct dmxp_msg_meta *meta);
int dmxp__send_repaired(struct dmxp_chan *c, struct dmxp_claim *srec, __u64 pos,
			__u64 seq, int written) __attribute__((cold));
int dmxp__recv_repaired(struct dmxp_chan *c, struct dmxp_claim *srec) __attribute__((cold));
void dmxp__notify(struct dmxp_chan *c, unsigned int flags, unsigned int n);
__u64 dmxp__clock(unsigned int policy);
/* Since 1.4. */
int dmxp__chan_reserve_slow(struct dmxp_chan *c, struct dmxp_ref *ref);
int dmxp__chan_commit_slow(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len, __u32 type);
int dmxp__chan_peek_slow(struct dmxp_chan *c, struct dmxp_ref *ref);
int dmxp__chan_release_slow(struct dmxp_chan *c, struct dmxp_ref *ref);
int dmxp__commit_repaired(struct dmxp_chan *c, struct dmxp_ref *ref, __u64 seq)
	__attribute__((cold));
int dmxp__release_repaired(struct dmxp_chan *c, struct dmxp_ref *ref) __attribute__((cold));
void dmxp__ref_put(struct dmxp_chan *c, __u32 claim);

#ifdef __cplusplus
}
#endif

#endif /* DMXP_H */

/*
 * The inline code itself: only where it is used, and in the library.
 * Outside the include guard, so that lib/internal.h still gets it in a
 * file that included dmxp.h first with DMXP_NO_INLINE.
 */
#if (defined(DMXP__INLINE) || defined(DMXP__LIBRARY) || defined(DMXP_TEST_HOOKS)) && \
	!defined(DMXP__INLINE_BODIES)
#define DMXP__INLINE_BODIES
#ifdef __cplusplus
extern "C" {
#endif

#ifndef DMXP__HOOK
#define DMXP__HOOK(step)	do { } while (0)	/* the library's test build */
#endif
#ifdef __cplusplus
#define DMXP__CAST(type, x)	(reinterpret_cast<type>(x))
#define DMXP__CONV(type, x)	(static_cast<type>(x))
#if __cplusplus >= 201103L
#define DMXP__NULL(type)	(static_cast<type>(nullptr))
#else
#define DMXP__NULL(type)	(static_cast<type>(0))
#endif
#else
#define DMXP__CAST(type, x)	((type)(x))
#define DMXP__CONV(type, x)	((type)(x))
#define DMXP__NULL(type)	((type)0)
#endif
#define dmxp__likely(x)		__builtin_expect(!!(x), 1)
#define dmxp__unlikely(x)	__builtin_expect(!!(x), 0)

static __inline__ struct dmxp__chan_fast *dmxp__fast(struct dmxp_chan *c)
{
	return DMXP__CAST(struct dmxp__chan_fast *, c);
}

static __inline__ const struct dmxp__region_fast *dmxp__region(const struct dmxp__chan_fast *f)
{
	return DMXP__CAST(const struct dmxp__region_fast *, f->region);
}

static __inline__ struct dmxp_slot *dmxp__slot(const struct dmxp__chan_fast *f, __u64 pos)
{
	return &f->sslots[pos & f->mask];
}

/* A destroyed (and maybe re-created) channel has a new generation. */
static __inline__ int dmxp__chan_live(const struct dmxp__chan_fast *f)
{
	return __atomic_load_n(&f->sentry->generation, __ATOMIC_RELAXED) == f->gen;
}

/*
 * This thread's record for region handle @rf, if it has one: true, with
 * *srecp NULL when the region has no claim table.  False: ask the library.
 */
static __inline__ int dmxp__claim_cached(const struct dmxp__region_fast *rf,
					 struct dmxp_claim **srecp)
{
	const struct dmxp__thread_claim *t = &dmxp__tclaim[rf->claims_serial % DMXP__TCACHE];

	if (dmxp__likely(t->serial == rf->claims_serial && t->pid == dmxp__pid)) {
		*srecp = t->srec;
		return 1;
	}
	return 0;
}

/*
 * Set a field of a claim record that holds nothing.  Its owner alone
 * writes it, so a field that holds @v already (as when the thread's last
 * claim was on this channel, of as many positions) is left as it is: a
 * claim then stores its position and its state, on a line of its own.
 */
static __inline__ void dmxp__rec_set(__u32 *sfield, __u32 v)
{
	if (__atomic_load_n(sfield, __ATOMIC_RELAXED) != v)
		__atomic_store_n(sfield, v, __ATOMIC_RELAXED);
}

/*
 * Claim @n positions from *@posp of @scursor (the tail for
 * DMXP_CLAIM_SEND, the head for DMXP_CLAIM_RECV), named in @srec first.
 * False, with *@posp the cursor's value, when another thread moved it.
 */
static __inline__ int dmxp__claim_try(const struct dmxp__chan_fast *f, struct dmxp_claim *srec,
				      __u32 side, __u64 *scursor, __u64 *posp, __u32 n)
{
	if (srec) {	/* [R1] */
		dmxp__rec_set(&srec->chan, f->id);
		dmxp__rec_set(&srec->generation, f->gen);
		__atomic_store_n(&srec->pos, *posp, __ATOMIC_RELAXED);
		dmxp__rec_set(&srec->count, n);
		__atomic_store_n(&srec->state, side, __ATOMIC_RELAXED);
	}
	DMXP__HOOK(side == DMXP_CLAIM_SEND ? DMXP_HOOK_SEND_CLAIMING : DMXP_HOOK_RECV_CLAIMING);
	/* [R2]: the record before the claim. */
	return __atomic_compare_exchange_n(scursor, posp, *posp + n, 0,
					   __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/*
 * The claim is over: its slots are published or freed.  [R3] Partner:
 * the repairers' load_acquire of state, which then see the sequences.
 */
static __inline__ void dmxp__claim_end(struct dmxp_claim *srec)
{
	__atomic_store_n(&srec->state, DMXP_CLAIM_IDLE, __ATOMIC_RELEASE);
}

/*
 * Ask for the line at @p for writing, without waiting for it: a hint,
 * never a fault.  Only with PREFETCHW, where the library found the CPU
 * has it (x86; a library older than the hint leaves it 0): nothing
 * otherwise, where no prefetch was measured.
 */
static __inline__ void dmxp__prefetch_w(const struct dmxp__region_fast *rf, const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	if (dmxp__likely(rf->hints & DMXP__HINT_PREFETCHW))
		__asm__ volatile("prefetchw %0" : : "m"(*DMXP__CAST(const volatile char *, p)));
#else
	(void)rf;
	(void)p;
#endif
}

/*
 * Ask for the payload's line of slot @s, which a send of @len bytes
 * writes first.  A send asks once it has seen the slot free, before it
 * claims it, so that the miss overlaps the claim instead of following
 * the look at the sequence.  Only for a slot seen free: a producer's
 * write prefetch of a slot that a consumer still reads takes the line
 * from under it (a claim lost to another producer, or a preemption
 * after the look, can still make it so, which costs time, never
 * correctness).  The slot's first line is not asked for: a consumer
 * polling its sequence would take it back before the meta is written,
 * and it would cross twice (dmxp__send_claimed()).
 */
static __inline__ void dmxp__send_prefetch(const struct dmxp__chan_fast *f,
					   const struct dmxp_slot *s, size_t len)
{
	if (len)
		dmxp__prefetch_w(dmxp__region(f), s->payload);
}

/* A message's timestamp_ns, as the handle's policy says. */
static __inline__ __u64 dmxp__stamp(const struct dmxp__chan_fast *f)
{
	/* Set by dmxp_chan_set_timestamp(), maybe in another thread. */
	unsigned int policy = __atomic_load_n(&f->stamp, __ATOMIC_RELAXED);

	return policy == DMXP_TIMESTAMP_NONE ? 0 : dmxp__clock(policy);
}

static __inline__ void dmxp__meta_fill(const struct dmxp__chan_fast *f, struct dmxp_slot *s,
				       __u64 pos, __u64 ts, __u32 type, __u32 len, __u16 flags)
{
	s->meta.message_id = pos;
	s->meta.timestamp_ns = ts;
	s->meta.channel_id = f->id;
	s->meta.message_type = type;
	s->meta.sender_pid = dmxp__pid;
	s->meta.sender_runtime = dmxp__region(f)->runtime;
	/*
	 * A consumer that saw this slot ready in the previous lap may still
	 * read these two before its claim fails: atomic stores.
	 */
	__atomic_store_n(&s->meta.flags, flags, __ATOMIC_RELAXED);
	__atomic_store_n(&s->meta.payload_len, len, __ATOMIC_RELAXED);
	s->meta.__pad = 0;
}

/*
 * Copy a payload of @len bytes.  The bound that the callers enforce
 * (DMXP_MAX_PAYLOAD) is hidden from the compiler: knowing it, GCC copies
 * with `rep movsq`, whose start-up costs about as much as a whole send
 * and receive of 64 bytes; not knowing it, it calls memcpy(), which
 * picks its way by size.
 */
static __inline__ void dmxp__payload_copy(void *dst, const void *src, __u32 len)
{
	__asm__("" : "+r"(len));
	__builtin_memcpy(dst, src, len);
}

/* A ready message's length, read once: a corrupt one must not send a copy out of the slot. */
static __inline__ __u32 dmxp__payload_len(const struct dmxp_slot *s)
{
	__u32 len = __atomic_load_n(&s->meta.payload_len, __ATOMIC_RELAXED);

	return len > DMXP_MAX_PAYLOAD ? DMXP_MAX_PAYLOAD : len;
}

/*
 * Make message @pos visible to consumers.  [P2] Partner: [C1].  A
 * release, and seq_cst for [W1].  False, with *@seqp what was found,
 * when a repairer took the slot.
 */
static __inline__ int dmxp__publish(struct dmxp_slot *s, __u64 pos, __u64 *seqp)
{
	*seqp = pos;
	return __atomic_compare_exchange_n(&s->sequence, seqp, pos + 1, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/*
 * Give slot @pos back to producers.  [C2] Partner: [P1].  A release, and
 * seq_cst for [W1].  False when a repairer freed it already.
 */
static __inline__ int dmxp__free(const struct dmxp__chan_fast *f, struct dmxp_slot *s, __u64 pos)
{
	__u64 seq = pos + 1;

	return __atomic_compare_exchange_n(&s->sequence, &seq, pos + f->capacity, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/*
 * Wake the consumers (producers) that sleep, right after this thread's
 * publish (free) succeeded: [W1] pairs with [S1] (lib/wait.c).  Without
 * sleepers this is one load.
 */
static __inline__ void dmxp__wake_consumers(struct dmxp_chan *c, unsigned int n)
{
	if (dmxp__unlikely(__atomic_load_n(&dmxp__fast(c)->sentry->recv_waiters,
					   __ATOMIC_SEQ_CST)))
		dmxp__notify(c, DMXP_NOTIFY_RECV, n);
}

static __inline__ void dmxp__wake_producers(struct dmxp_chan *c, unsigned int n)
{
	if (dmxp__unlikely(__atomic_load_n(&dmxp__fast(c)->sentry->send_waiters,
					   __ATOMIC_SEQ_CST)))
		dmxp__notify(c, DMXP_NOTIFY_SEND, n);
}

/* A send that claimed position @pos (in @srec): write, publish, wake. */
static __inline__ int dmxp__send_claimed(struct dmxp_chan *c, struct dmxp_claim *srec,
					 __u64 pos, const void *buf, size_t len, __u32 type)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_slot *s = dmxp__slot(f, pos);
	__u64 seq;

	DMXP__HOOK(DMXP_HOOK_SEND_CLAIMED);
	/*
	 * The payload first, then the meta next to the sequence: a consumer
	 * polling this slot's first line then takes it from us once, not
	 * once before and once after the payload's cache miss.
	 */
	if (len)
		__builtin_memcpy(s->payload, buf, len);
	DMXP__HOOK(DMXP_HOOK_SEND_PAYLOAD);
	seq = __atomic_load_n(&s->sequence, __ATOMIC_RELAXED);
	if (dmxp__unlikely(seq != pos))	/* a repairer's tombstone: keep off */
		return dmxp__send_repaired(c, srec, pos, seq, 0);
	dmxp__meta_fill(f, s, pos, dmxp__stamp(f), type, DMXP__CONV(__u32, len), 0);
	if (srec)	/* whole: a repairer would deliver it */
		__atomic_store_n(&srec->state, DMXP_CLAIM_SEND_WRITTEN, __ATOMIC_RELEASE);
	DMXP__HOOK(DMXP_HOOK_SEND_WRITTEN);
	if (dmxp__unlikely(!dmxp__publish(s, pos, &seq)))	/* [P2] */
		return dmxp__send_repaired(c, srec, pos, seq, 1);
	DMXP__HOOK(DMXP_HOOK_SEND_PUBLISHED);
	if (srec)
		dmxp__claim_end(srec);	/* [R3] */
	dmxp__wake_consumers(c, 1);	/* [W1] */
	return 0;
}

/*
 * A receive that claimed message @pos (in @srec), which fitted @len when
 * it was claimed: copy, free, wake.
 */
static __inline__ ssize_t dmxp__recv_claimed(struct dmxp_chan *c, struct dmxp_claim *srec,
					     __u64 pos, void *buf, size_t len,
					     struct dmxp_msg_meta *meta)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_slot *s = dmxp__slot(f, pos);
	ssize_t got;
	__u32 plen;

	DMXP__HOOK(DMXP_HOOK_RECV_CLAIMED);
	/* Read once: the copy is bounded by this and by the caller's buffer. */
	plen = dmxp__payload_len(s);
	if (dmxp__unlikely(plen > len)) {
		/*
		 * It fitted before the claim: a process wrote into a slot it
		 * does not own since.  Consumed, and not copied.
		 */
		got = -EPROTO;
	} else {
		if (plen)
			dmxp__payload_copy(buf, s->payload, plen);
		if (meta) {
			__builtin_memcpy(meta, &s->meta, sizeof(*meta));
			meta->payload_len = plen;
		}
		got = plen;
	}
	DMXP__HOOK(DMXP_HOOK_RECV_COPIED);
	if (dmxp__unlikely(!dmxp__free(f, s, pos)))	/* [C2] */
		return dmxp__recv_repaired(c, srec);	/* what we read may be a later lap's */
	DMXP__HOOK(DMXP_HOOK_RECV_FREED);
	if (srec)
		dmxp__claim_end(srec);	/* [R3] */
	dmxp__wake_producers(c, 1);	/* [W1] */
	return got;
}

/*
 * One attempt at a send the inline code can make whole: true with *retp
 * its result, false (nothing claimed) when the library must decide.
 */
static __inline__ int dmxp__send_try(struct dmxp_chan *c, const void *buf, size_t len,
				     __u32 type, int *retp)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;
	__u64 pos;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI || len > DMXP_MAX_PAYLOAD) ||
	    dmxp__unlikely(!dmxp__chan_live(f)) ||
	    dmxp__unlikely(!dmxp__claim_cached(dmxp__region(f), &srec)))
		return 0;
	pos = __atomic_load_n(f->stail, __ATOMIC_RELAXED);
	/* [P1] pairs with [C2].  Else full, or another producer is ahead. */
	if (__atomic_load_n(&dmxp__slot(f, pos)->sequence, __ATOMIC_ACQUIRE) != pos)
		return 0;
	dmxp__send_prefetch(f, dmxp__slot(f, pos), len);
	if (dmxp__unlikely(!dmxp__claim_try(f, srec, DMXP_CLAIM_SEND, f->stail, &pos, 1))) {
		if (srec)
			dmxp__claim_end(srec);	/* nothing held: the library starts over */
		return 0;
	}
	*retp = dmxp__send_claimed(c, srec, pos, buf, len, type);
	return 1;
}

/* The same for a receive: a message that is no tombstone and fits @len. */
static __inline__ int dmxp__recv_try(struct dmxp_chan *c, void *buf, size_t len,
				     struct dmxp_msg_meta *meta, ssize_t *retp)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;
	struct dmxp_slot *s;
	__u64 pos;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI) ||
	    dmxp__unlikely(!dmxp__chan_live(f)) ||
	    dmxp__unlikely(!dmxp__claim_cached(dmxp__region(f), &srec)))
		return 0;
	pos = __atomic_load_n(f->shead, __ATOMIC_RELAXED);
	s = dmxp__slot(f, pos);
	/* [C1] pairs with [P2].  Else empty, or another consumer is ahead. */
	if (__atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE) != pos + 1)
		return 0;
	/*
	 * Read before the claim, as lib/ring.c explains: the CAS from pos
	 * below proves the slot still holds the message read here.
	 */
	if ((__atomic_load_n(&s->meta.flags, __ATOMIC_RELAXED) & DMXP_MSG_TOMBSTONE) ||
	    dmxp__payload_len(s) > len)
		return 0;
	if (dmxp__unlikely(!dmxp__claim_try(f, srec, DMXP_CLAIM_RECV, f->shead, &pos, 1))) {
		if (srec)
			dmxp__claim_end(srec);
		return 0;
	}
	*retp = dmxp__recv_claimed(c, srec, pos, buf, len, meta);
	return 1;
}

/*
 * A reference's claim (struct dmxp_ref): its record's index in the claim
 * table, and its bit in the handle's pool + 1 (0: it holds no record).
 */
static __inline__ __u32 dmxp__ref_claim(__u32 rec, __u32 bit)
{
	return rec << 8 | (bit + 1);
}
/* A thread's cache entry whose record a reference borrows: serial | DMXP__LENT. */
#define DMXP__LENT		(DMXP__CONV(__u64, 1) << 63)
#define DMXP__REF_REC(claim)	((claim) >> 8)
#define DMXP__REF_BIT(claim)	(((claim) & 0xffU) - 1)

static __inline__ __u32 dmxp__ref_claim_of(const struct dmxp__region_fast *rf,
					   const struct dmxp_claim *srec, __u32 bit)
{
	return dmxp__ref_claim(DMXP__CONV(__u32, srec - rf->sclaims), bit);
}

/*
 * Zero-copy references.  A reference borrows the thread's cached claim
 * record: the cache entry becomes a mark of the loan (serial |
 * DMXP__LENT, the record and its bit kept), which no send or receive
 * takes for a record (they go to the library and take another).  The
 * same thread's commit (release) of that reference turns the mark back:
 * a reserve and its commit, a peek and its release, go without the
 * pool.  A second reference held at once, a reference another thread
 * ends, and one that finds the mark gone, go through the library.  Each
 * change of the entry is one store, so a signal handler that sends on
 * the same handle in between finds a whole entry, and a loan comes back
 * before its claim ends (dmxp__ref_return()); the calls are still not
 * async-signal-safe (libdmxp(3), Documentation/RELIABILITY.md).
 */

/*
 * Lend the record this thread has cached for @rf, if it is idle: true
 * with *@srecp and *@bitp, or false (the library decides).
 */
static __inline__ int dmxp__ref_lend(const struct dmxp__region_fast *rf,
				     struct dmxp_claim **srecp, __u32 *bitp)
{
	struct dmxp__thread_claim *t = &dmxp__tclaim[rf->claims_serial % DMXP__TCACHE];

	if (dmxp__unlikely(t->serial != rf->claims_serial || t->pid != dmxp__pid || !t->srec) ||
	    dmxp__unlikely(__atomic_load_n(&t->srec->state, __ATOMIC_RELAXED) != DMXP_CLAIM_IDLE))
		return 0;
	*srecp = t->srec;
	*bitp = t->bit;
	t->serial = rf->claims_serial | DMXP__LENT;
	return 1;
}

/* Is this thread's cache entry for @rf the mark of lending @srec (@bit)? */
static __inline__ int dmxp__ref_lent(const struct dmxp__region_fast *rf,
				     const struct dmxp__thread_claim *t,
				     const struct dmxp_claim *srec, __u32 bit)
{
	return t->serial == (rf->claims_serial | DMXP__LENT) && t->pid == dmxp__pid &&
	       t->bit == bit && t->srec == srec;
}

/*
 * The claim of reference @claim (record @srec) is over, its slot
 * published (freed): end it, and give the record back, to this thread's
 * cache when this thread lent it, else to the pool through the library.
 * The cache entry is turned back before the claim ends: a signal handler
 * in between finds a cached record in a claim, which it does not lend,
 * rather than a mark whose record is idle, which it would take for stale.
 */
static __inline__ void dmxp__ref_return(struct dmxp_chan *c, struct dmxp_claim *srec,
					__u32 claim)
{
	const struct dmxp__region_fast *rf = dmxp__region(dmxp__fast(c));
	struct dmxp__thread_claim *t = &dmxp__tclaim[rf->claims_serial % DMXP__TCACHE];
	int back = 0;

	if (dmxp__likely(dmxp__ref_lent(rf, t, srec, DMXP__REF_BIT(claim)))) {
		DMXP__HOOK(DMXP_HOOK_REF_RETURNING);
		t->serial = rf->claims_serial;
		/* A handler's send took another record in between: ours is not cached. */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		back = t->srec == srec;
	}
	dmxp__claim_end(srec);	/* [R3] */
	if (dmxp__unlikely(!back))
		dmxp__ref_put(c, claim);
}

/*
 * The claim record of live reference @ref of @f, of a peek (@peeked) or
 * of a reservation; NULL when the library must decide (a reference that
 * is not live or not this process's, a region without a claim table, a
 * record a repairer took).
 */
static __inline__ struct dmxp_claim *dmxp__ref_rec(const struct dmxp__chan_fast *f,
						   const struct dmxp_ref *ref, int peeked)
{
	const struct dmxp__region_fast *rf = dmxp__region(f);
	struct dmxp_slot *s;
	struct dmxp_claim *srec;
	__u32 claim;

	if (dmxp__unlikely(!ref || !ref->payload || !ref->meta != !peeked))
		return DMXP__NULL(struct dmxp_claim *);
	claim = ref->claim;
	s = dmxp__slot(f, ref->pos);
	if (dmxp__unlikely(!(claim & 0xffU) || DMXP__REF_REC(claim) >= rf->nclaims ||
			   ref->payload != DMXP__CAST(void *, s->payload)) ||
	    dmxp__unlikely(peeked && ref->meta != &s->meta))
		return DMXP__NULL(struct dmxp_claim *);
	srec = &rf->sclaims[DMXP__REF_REC(claim)];
	/*
	 * Ours (its owner: our lease, or our pid), so these are our own
	 * stores: a used-up copy finds them changed.
	 */
	if (dmxp__unlikely(__atomic_load_n(&srec->owner, __ATOMIC_RELAXED) !=
			   (rf->lease ? rf->lease : dmxp__pid) ||
			   __atomic_load_n(&srec->pos, __ATOMIC_RELAXED) != ref->pos ||
			   __atomic_load_n(&srec->chan, __ATOMIC_RELAXED) != f->id ||
			   __atomic_load_n(&srec->generation, __ATOMIC_RELAXED) != f->gen ||
			   __atomic_load_n(&srec->state, __ATOMIC_RELAXED) !=
			   (peeked ? DMXP_CLAIM_RECV : DMXP_CLAIM_SEND)))
		return DMXP__NULL(struct dmxp_claim *);
	return srec;
}

/* Reference @ref (record @srec) is used up: its claim ends, its record goes back. */
static __inline__ void dmxp__ref_done(struct dmxp_chan *c, struct dmxp_ref *ref,
				      struct dmxp_claim *srec)
{
	__u32 claim = ref->claim;

	dmxp__ref_return(c, srec, claim);	/* [R3] */
	ref->payload = DMXP__NULL(void *);
	ref->meta = DMXP__NULL(const struct dmxp_msg_meta *);
	ref->len = 0;
	ref->claim = 0;
}

/* Fill @ref for the slot of @pos that @srec (pool bit @bit) claimed. */
static __inline__ void dmxp__ref_fill(const struct dmxp__chan_fast *f, struct dmxp_ref *ref,
				      struct dmxp_claim *srec, __u32 bit, __u64 pos, int peeked)
{
	struct dmxp_slot *s = dmxp__slot(f, pos);

	ref->payload = s->payload;
	ref->meta = peeked ? &s->meta : DMXP__NULL(const struct dmxp_msg_meta *);
	ref->len = peeked ? dmxp__payload_len(s) : 0;
	ref->claim = dmxp__ref_claim_of(dmxp__region(f), srec, bit);
	ref->pos = pos;
}

/* One attempt at a reservation: true when made, false to ask the library. */
static __inline__ int dmxp__reserve_try(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;
	__u32 bit;
	__u64 pos;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI) || dmxp__unlikely(!dmxp__chan_live(f)))
		return 0;
	pos = __atomic_load_n(f->stail, __ATOMIC_RELAXED);
	/* [P1] pairs with [C2].  Else full, or another producer is ahead. */
	if (__atomic_load_n(&dmxp__slot(f, pos)->sequence, __ATOMIC_ACQUIRE) != pos ||
	    !dmxp__ref_lend(dmxp__region(f), &srec, &bit))
		return 0;
	dmxp__send_prefetch(f, dmxp__slot(f, pos), DMXP_MAX_PAYLOAD);
	if (dmxp__unlikely(!dmxp__claim_try(f, srec, DMXP_CLAIM_SEND, f->stail, &pos, 1))) {
		/* Nothing held: the library starts over. */
		dmxp__ref_return(c, srec, dmxp__ref_claim_of(dmxp__region(f), srec, bit));
		return 0;
	}
	dmxp__ref_fill(f, ref, srec, bit, pos, 0);
	return 1;
}

/*
 * One attempt at a commit: true with *@retp its result, false (nothing
 * done) when the library must decide.
 */
static __inline__ int dmxp__commit_try(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
				       __u32 type, int *retp)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;
	struct dmxp_slot *s;
	__u64 seq;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI || len > DMXP_MAX_PAYLOAD) ||
	    dmxp__unlikely(!dmxp__chan_live(f)))
		return 0;
	srec = dmxp__ref_rec(f, ref, 0);
	if (dmxp__unlikely(!srec))
		return 0;
	s = dmxp__slot(f, ref->pos);
	/* A repairer's tombstone already: the library tells. */
	if (dmxp__unlikely(__atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE) != ref->pos))
		return 0;
	dmxp__meta_fill(f, s, ref->pos, dmxp__stamp(f), type, DMXP__CONV(__u32, len), 0);
	if (dmxp__unlikely(!dmxp__publish(s, ref->pos, &seq))) {	/* [P2] */
		*retp = dmxp__commit_repaired(c, ref, seq);
		return 1;
	}
	dmxp__ref_done(c, ref, srec);	/* [R3] */
	dmxp__wake_consumers(c, 1);	/* [W1] */
	*retp = 0;
	return 1;
}

/* One attempt at a peek: a message that is no tombstone. */
static __inline__ int dmxp__peek_try(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;
	struct dmxp_slot *s;
	__u32 bit;
	__u64 pos;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI) || dmxp__unlikely(!dmxp__chan_live(f)))
		return 0;
	pos = __atomic_load_n(f->shead, __ATOMIC_RELAXED);
	s = dmxp__slot(f, pos);
	/* [C1] pairs with [P2].  Else empty, or another consumer is ahead. */
	if (__atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE) != pos + 1 ||
	    (__atomic_load_n(&s->meta.flags, __ATOMIC_RELAXED) & DMXP_MSG_TOMBSTONE) ||
	    !dmxp__ref_lend(dmxp__region(f), &srec, &bit))
		return 0;
	if (dmxp__unlikely(!dmxp__claim_try(f, srec, DMXP_CLAIM_RECV, f->shead, &pos, 1))) {
		dmxp__ref_return(c, srec, dmxp__ref_claim_of(dmxp__region(f), srec, bit));
		return 0;
	}
	dmxp__ref_fill(f, ref, srec, bit, pos, 1);
	return 1;
}

/* One attempt at a release, as dmxp__commit_try(). */
static __inline__ int dmxp__release_try(struct dmxp_chan *c, struct dmxp_ref *ref, int *retp)
{
	struct dmxp__chan_fast *f = dmxp__fast(c);
	struct dmxp_claim *srec;

	if (dmxp__unlikely(f->abi != DMXP__FAST_ABI) || dmxp__unlikely(!dmxp__chan_live(f)))
		return 0;
	srec = dmxp__ref_rec(f, ref, 1);
	if (dmxp__unlikely(!srec))
		return 0;
	if (dmxp__unlikely(!dmxp__free(f, dmxp__slot(f, ref->pos), ref->pos))) {	/* [C2] */
		*retp = dmxp__release_repaired(c, ref);
		return 1;
	}
	dmxp__ref_done(c, ref, srec);	/* [R3] */
	dmxp__wake_producers(c, 1);	/* [W1] */
	*retp = 0;
	return 1;
}

#ifdef DMXP__INLINE
static __inline__ int dmxp_chan_send(struct dmxp_chan *c, const void *buf, size_t len,
				     __u32 type)
{
	int ret;

	if (dmxp__likely(dmxp__send_try(c, buf, len, type, &ret)))
		return ret;
	return dmxp__chan_send_slow(c, buf, len, type);
}

static __inline__ ssize_t dmxp_chan_recv(struct dmxp_chan *c, void *buf, size_t len,
					 struct dmxp_msg_meta *meta)
{
	ssize_t ret;

	if (dmxp__likely(dmxp__recv_try(c, buf, len, meta, &ret)))
		return ret;
	return dmxp__chan_recv_slow(c, buf, len, meta);
}

static __inline__ int dmxp_chan_reserve(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	if (dmxp__likely(dmxp__reserve_try(c, ref)))
		return 0;
	return dmxp__chan_reserve_slow(c, ref);
}

static __inline__ int dmxp_chan_commit(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
				       __u32 type)
{
	int ret;

	if (dmxp__likely(dmxp__commit_try(c, ref, len, type, &ret)))
		return ret;
	return dmxp__chan_commit_slow(c, ref, len, type);
}

static __inline__ int dmxp_chan_peek(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	if (dmxp__likely(dmxp__peek_try(c, ref)))
		return 0;
	return dmxp__chan_peek_slow(c, ref);
}

static __inline__ int dmxp_chan_release(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	int ret;

	if (dmxp__likely(dmxp__release_try(c, ref, &ret)))
		return ret;
	return dmxp__chan_release_slow(c, ref);
}
#endif

#ifdef __cplusplus
}
#endif
#endif /* the inline code */
