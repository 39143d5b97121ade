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
 *           it).  The slot is not rewound and the ring goes on.
 */
int dmxp_chan_send(struct dmxp_chan *c, const void *buf, size_t len,
		   __u32 type);

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
ssize_t dmxp_chan_recv(struct dmxp_chan *c, void *buf, size_t len,
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
	__u32			claim;		/* its claim record + 1 (internal) */
	__u64			pos;		/* the slot's position (internal) */
};

/*
 * Claim the next free slot; write up to DMXP_MAX_PAYLOAD bytes at
 * ref->payload, then publish with dmxp_chan_commit() or give the slot up
 * with dmxp_chan_abort().  Consumers behind this slot wait until then, so
 * keep the reservation short.  -EAGAIN ring full, -ENOBUFS, -EIDRM.
 */
int dmxp_chan_reserve(struct dmxp_chan *c, struct dmxp_ref *ref);

/*
 * Publish a reserved slot holding @len bytes.
 * -EMSGSIZE (not published: commit again or abort), -EIDRM (the channel
 * was destroyed since the reservation: nothing is published), -EINVAL
 * (@ref is not a live reservation of @c), -ECANCELED (repaired as above:
 * not published).  Every result but -EMSGSIZE and -EINVAL finishes @ref.
 */
int dmxp_chan_commit(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
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
 * -EAGAIN ring empty, -ENOBUFS, -EIDRM.
 */
int dmxp_chan_peek(struct dmxp_chan *c, struct dmxp_ref *ref);
/*
 * Free a peeked slot: 0.  -EIDRM (destroyed since the peek: nothing is
 * freed, @ref is finished), -EINVAL (@ref is not a live peek of @c),
 * -ECANCELED (a repairer freed it already: what was read at ref->payload
 * may be a later message's; @ref is finished).  int since 1.1: see
 * dmxp_chan_abort().
 */
int dmxp_chan_release(struct dmxp_chan *c, struct dmxp_ref *ref);

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

#ifdef __cplusplus
}
#endif

#endif /* DMXP_H */
