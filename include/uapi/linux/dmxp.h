/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * dmxp: the shared-memory layout of a dmxp region.
 *
 * This header is the ABI.  The kernel module, the C library and every
 * binding in any language read and write the same bytes, so nothing here
 * may change without bumping DMXP_VERSION (the ABI major); additions to
 * the kernel interface are negotiated by feature bits (DMXP_IOC_VERSION).  Documentation/MEMORY_LAYOUT.md
 * describes the same layout and the ring protocol in prose.
 *
 * A region is one mapping:
 *
 *   offset 0                 struct dmxp_global_header (98,432 bytes)
 *   offset band_offset[i]    channel i's ring: capacity[i] slots of
 *                            struct dmxp_slot, 1,088 bytes apart
 *
 * All multi-byte fields are little-endian.  Fields marked "atomic" are only
 * accessed with atomic loads, stores and compare-and-swap; the comment on
 * each says who writes it.
 */
#ifndef _UAPI_LINUX_DMXP_H
#define _UAPI_LINUX_DMXP_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define DMXP_MAGIC		0x444D58505F4D454DULL	/* "DMXP_MEM"; bytes "MEM_PXMD" (LE) */
#define DMXP_VERSION		1
#define DMXP_VERSION_STR	"1.4.3"		/* library and module version */

#define DMXP_MAX_CHANNELS	256
#define DMXP_HEADER_SIZE	98432		/* sizeof(struct dmxp_global_header) */
#define DMXP_ENTRY_SIZE		384		/* sizeof(struct dmxp_channel_entry) */
#define DMXP_SLOT_SIZE		1088		/* sizeof(struct dmxp_slot), the stride */
#define DMXP_MAX_PAYLOAD	960		/* bytes of payload a slot holds */
#define DMXP_CAPACITY_MIN	2ULL		/* slots; a power of two */
#define DMXP_CAPACITY_MAX	(1ULL << 24)
#define DMXP_BAND_ALIGN		64		/* band_offset is a multiple of this */

/* struct dmxp_channel_entry.flags */
#define DMXP_CHAN_CREATED	(1U << 0)	/* ring initialised, usable */
#define DMXP_CHAN_BUSY		(1U << 1)	/* being created or destroyed */
#define DMXP_CHAN_FLAGS_KNOWN	(DMXP_CHAN_CREATED | DMXP_CHAN_BUSY)

/* struct dmxp_msg_meta.sender_runtime */
enum dmxp_runtime {
	DMXP_RUNTIME_UNKNOWN	= 0,
	DMXP_RUNTIME_C		= 1,	/* the C library (and C++) */
	DMXP_RUNTIME_RUST	= 2,
	DMXP_RUNTIME_PYTHON	= 3,
	DMXP_RUNTIME_KERNEL	= 4,	/* written by the kernel module */
	DMXP_RUNTIME_GO		= 5,
	DMXP_RUNTIME_JAVA	= 6,
	DMXP_RUNTIME_OTHER	= 0xffff,
};

/* struct dmxp_msg_meta.flags */
#define DMXP_MSG_TOMBSTONE	(1U << 0)	/* no message: consumers skip the slot */
#define DMXP_MSG_FLAGS_KNOWN	DMXP_MSG_TOMBSTONE

/*
 * Metadata of one message, 40 bytes, written by the producer before it
 * publishes the slot and read by the consumer after it claimed it.
 */
struct dmxp_msg_meta {
	__u64	message_id;	/* position of the message in its channel */
	__u64	timestamp_ns;	/* CLOCK_MONOTONIC at send */
	__u32	channel_id;
	__u32	message_type;	/* chosen by the sender */
	__u32	sender_pid;	/* tgid of the sender, 0 for the kernel */
	__u16	sender_runtime;	/* enum dmxp_runtime */
	__u16	flags;		/* DMXP_MSG_* */
	__u32	payload_len;	/* 0..DMXP_MAX_PAYLOAD */
	__u32	__pad;		/* zero */
};

/* One slot of a ring, 1,088 bytes, 64-byte aligned. */
struct dmxp_slot {
	__u64			sequence;	/* atomic; see the ring protocol */
	struct dmxp_msg_meta	meta;		/* @8 */
	__u8			__pad[16];	/* @48 */
	__u8			payload[DMXP_MAX_PAYLOAD];	/* @64 */
	__u8			__reserved[64];	/* @1024 */
} __attribute__((aligned(64)));

/*
 * One channel, 384 bytes, 128-byte aligned.  The first 128 bytes are
 * written only while the channel is created or destroyed; tail and head
 * each own a 128-byte line so producers and consumers do not share one.
 */
struct dmxp_channel_entry {
	__u32	channel_id;	/* == index in channels[] */
	__u32	flags;		/* atomic; DMXP_CHAN_* */
	__u64	capacity;	/* slots, a power of two in [2, 2^24] */
	__u64	band_offset;	/* region offset of slot 0, multiple of 64 */
	/* @24: extensions, all inside the metadata padding */
	__u32	generation;	/* atomic; +1 at every create or destroy attempt */
	__u32	owner_pid;	/* pid holding DMXP_CHAN_BUSY, else 0 */
	__u64	band_capacity;	/* slots of the band bound to this entry, >= capacity */
	/* @40: the wake protocol (Documentation/MEMORY_LAYOUT.md, lib/wait.c) */
	__u32	recv_waiters;	/* atomic; consumers asleep or about to sleep */
	__u32	send_waiters;	/* atomic; producers waiting for a free slot */
	__u32	recv_futex;	/* atomic; +1 at each consumer wake-up (futex word) */
	__u32	send_futex;	/* atomic; +1 at each producer wake-up (futex word) */
	__u32	__wake_pad[2];	/* zero */
	/* @64: crash repair (Documentation/RELIABILITY.md) */
	__u64	repaired;	/* atomic; slots of dead processes given back */
	__u64	tombstoned;	/* atomic; of those, messages never written: skipped */
	/* @80: region files: who holds DMXP_CHAN_BUSY, with owner_pid */
	__u64	owner_start;	/* its start time (/proc/PID/stat field 22); 0: not known */
	__u64	owner_ns;	/* inode of its pid namespace; 0: not known */
	__u8	__meta_pad[128 - 96];	/* zero; reserved for extensions */
	/* @128 */
	__u64	tail;		/* atomic; next position to produce */
	__u8	__tail_pad[120];
	/* @256 */
	__u64	head;		/* atomic; next position to consume */
	__u8	__head_pad[120];
} __attribute__((aligned(128)));

/*
 * The claim table: what each thread of each process holds, so that the
 * claims of a process that died can be repaired (lib/repair.c, kmod/repair.c
 * and Documentation/RELIABILITY.md).  A record is taken by a process for
 * one of its threads (or one zero-copy reference) and names the positions
 * it is claiming or holding, written before the claim is made; a record
 * whose owner is dead is repaired and freed by the survivors.
 */
#define DMXP_CLAIMS		512		/* records the creator puts in a region */
#define DMXP_CLAIMS_MAX		4096
#define DMXP_CLAIM_SIZE		64		/* sizeof(struct dmxp_claim) */
#define DMXP_CLAIM_BATCH_MAX	1024		/* positions one record may hold */

/* struct dmxp_claim.state */
#define DMXP_CLAIM_IDLE		0	/* holds nothing */
#define DMXP_CLAIM_SEND		1	/* claiming or writing [pos, pos + count) */
#define DMXP_CLAIM_SEND_WRITTEN	2	/* every message in them is complete */
#define DMXP_CLAIM_RECV		3	/* claiming or reading [pos, pos + count) */
#define DMXP_CLAIM_REPAIR	4	/* turning [pos, pos + count) into tombstones */
#define DMXP_CLAIM_WAIT_RECV	5	/* counted in chan's recv_waiters, asleep */
#define DMXP_CLAIM_WAIT_SEND	6	/* counted in chan's send_waiters, asleep */

/*
 * A slot being turned into a tombstone holds this sequence: consumers see
 * it as not yet published and producers of the next lap as not yet free.
 */
#define DMXP_SEQ_REPAIRING(pos)	((__u64)(pos) - (1ULL << 32))

struct dmxp_claim {
	__u32	owner;		/* atomic; 0: free; kernel: a lease; else a pid */
	__u32	state;		/* atomic; DMXP_CLAIM_* */
	__u64	pos;		/* first position claimed */
	__u32	chan;		/* channel id */
	__u32	count;		/* positions from pos, 1..DMXP_CLAIM_BATCH_MAX */
	__u32	generation;	/* the channel's generation at the claim */
	__u32	pid;		/* tgid of the holder */
	__u64	start_time;	/* the holder's start, /proc/PID/stat field 22 */
	__u64	pid_ns;		/* inode of the holder's pid namespace */
	__u8	__pad[16];	/* zero */
};

/* The region header, at offset 0. */
struct dmxp_global_header {
	__u64	magic;		/* DMXP_MAGIC, written last at creation */
	__u32	version;	/* DMXP_VERSION */
	__u32	max_channels;	/* DMXP_MAX_CHANNELS */
	__u32	channel_count;	/* atomic; channels currently created */
	__u32	reserved;	/* zero */
	/* @24: extensions, all inside the header padding */
	__u64	region_size;	/* bytes, fixed at creation */
	__u64	alloc_cursor;	/* atomic; offset of the first unallocated byte */
	__u64	claims_offset;	/* the claim table (struct dmxp_claim[]), 0: none */
	__u32	claims_count;	/* records in it, at most DMXP_CLAIMS_MAX */
	__u32	__claims_pad;	/* zero */
	__u64	repair_lock;	/* atomic; region files: holder's claim record index + 1, or 0 */
	__u8	__pad[128 - 64];	/* zero; reserved for extensions */
	/* @128 */
	struct dmxp_channel_entry channels[DMXP_MAX_CHANNELS];
} __attribute__((aligned(128)));

/*
 * The kernel backend: /dev/dmxp.
 *
 * The module allocates and owns region memory and lays it out exactly as
 * above; userspace maps it and runs the same lock-free protocol on it.
 * Regions are named and persist until destroyed (or the module is
 * unloaded).  The sequence on a fresh file descriptor is:
 *
 *	fd = open("/dev/dmxp", O_RDWR);
 *	ioctl(fd, DMXP_IOC_VERSION, &v);	// first: the handshake
 *	ioctl(fd, DMXP_IOC_REGION_ATTACH, &r);	// or _CREATE; binds fd to it
 *	p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
 *	ioctl(fd, DMXP_IOC_CHAN_CREATE, &c);	// channels are made by the kernel
 *
 * Every struct is a multiple of 8 bytes with explicit padding; reserved
 * fields and unknown flags must be zero (-EINVAL); unknown commands give
 * -ENOTTY.  Documentation/KERNEL.md lists each ioctl's errors.
 */
#define DMXP_DEVICE		"/dev/dmxp"
#define DMXP_NAME_MAX		32	/* bytes of a region name, with its NUL */
#define DMXP_DEFAULT_NAME	"default"

/*
 * The handshake negotiates by ABI major and feature bits, never by an
 * exact version.  dmxp_ioc_version.version holds the ABI major in its low
 * 16 bits and the minor in its high 16 bits.  The major changes only when
 * something existing changes meaning (the layout above or an ioctl's
 * struct); the minor and the feature bits grow when something is added.
 * So:
 *  - the module accepts every caller of its major, whatever the caller's
 *    minor (a newer one included), and answers with its own major, minor
 *    and features;
 *  - a caller accepts every module of its major whose features include
 *    those it needs, ignoring the minor and any bit it does not know;
 *  - a caller that needs a feature may ask for it in features: the module
 *    then refuses (-EOPNOTSUPP, with its version and features written
 *    back) if it lacks one.  A 1.0.0 module wants version exactly 1 and
 *    features 0 (else -EPROTONOSUPPORT or -EINVAL), so a caller that
 *    must work with it sends DMXP_VERSION and 0, and checks the answer.
 * Feature bits are only ever added; a bit, once given, keeps its meaning.
 */
#define DMXP_ABI_MAJOR		DMXP_VERSION	/* the layout's version */
#define DMXP_ABI_MINOR		1	/* 0: 1.0.0; 1: feature negotiation, DMXP_FEAT_RECHECK */
#define DMXP_ABI_VERSION(major, minor)	((__u32)(minor) << 16 | (__u32)(major))
#define DMXP_ABI_MAJOR_OF(v)	((__u32)(v) & 0xffffU)
#define DMXP_ABI_MINOR_OF(v)	((__u32)(v) >> 16)

/* dmxp_ioc_version.features */
#define DMXP_FEAT_REGIONS	(1U << 0)	/* named regions, create/attach/destroy */
#define DMXP_FEAT_CHANNELS	(1U << 1)	/* kernel-made channels */
#define DMXP_FEAT_WAKE		(1U << 2)	/* notify, channel fds, eventfds */
#define DMXP_FEAT_REPAIR	(1U << 3)	/* claims of released files are repaired */
#define DMXP_FEAT_RECHECK	(1U << 4)	/* channel-fd sleepers re-checked each second */
#define DMXP_FEAT_KNOWN		(DMXP_FEAT_REGIONS | DMXP_FEAT_CHANNELS | DMXP_FEAT_WAKE | \
				 DMXP_FEAT_REPAIR | DMXP_FEAT_RECHECK)

struct dmxp_ioc_version {
	__u32	version;	/* in: the caller's DMXP_ABI_VERSION; out: the module's */
	__u32	features;	/* in: DMXP_FEAT_* the caller needs (0: none); out: the module's */
	__u64	max_region_size;	/* out: bytes, the module's limit */
	__u64	reserved[2];	/* zero */
};

/* dmxp_ioc_region.flags */
#define DMXP_REGION_CREATE	(1U << 0)	/* REGION_CREATE: attach if it exists... */
#define DMXP_REGION_EXCL	(1U << 1)	/* ...unless EXCL: then -EEXIST */
#define DMXP_REGION_FLAGS_KNOWN	(DMXP_REGION_CREATE | DMXP_REGION_EXCL)

struct dmxp_ioc_region {
	char	name[DMXP_NAME_MAX];	/* NUL-terminated; [A-Za-z0-9_.-], not "." or ".." */
	__u64	size;		/* create: bytes (0: the module's default); out: the size */
	__u32	mode;		/* create: permission bits, at most 0666 */
	__u32	flags;		/* DMXP_REGION_* (CREATE only) */
	__u32	uid;		/* out: owner */
	__u32	gid;		/* out: group */
	__u32	lease;		/* out: this file's claim owner (DMXP_FEAT_REPAIR) */
	__u32	__pad;		/* zero */
	__u64	reserved;	/* zero */
};

struct dmxp_ioc_chan {
	__u32	id;		/* 0..DMXP_MAX_CHANNELS-1 */
	__u32	flags;		/* zero */
	__u64	capacity;	/* CHAN_CREATE: slots (power of two, 2..2^24) */
	__u64	band_offset;	/* out: where the kernel put the ring */
	__u64	reserved[2];	/* zero */
};

/* dmxp_ioc_notify.flags */
#define DMXP_NOTIFY_RECV	(1U << 0)	/* messages were published: wake consumers */
#define DMXP_NOTIFY_SEND	(1U << 1)	/* slots were freed: wake producers */
#define DMXP_NOTIFY_KNOWN	(DMXP_NOTIFY_RECV | DMXP_NOTIFY_SEND)

/*
 * Wake the sleepers of a channel.  A producer calls it after publishing
 * when recv_waiters is not zero, a consumer after freeing slots when
 * send_waiters is not zero; never otherwise.
 */
struct dmxp_ioc_notify {
	__u32	id;		/* channel */
	__u32	flags;		/* DMXP_NOTIFY_*, at least one */
	__u64	reserved;	/* zero */
};

/* dmxp_ioc_chan_fd.flags */
#define DMXP_CHAN_FD_NONBLOCK	(1U << 0)	/* O_NONBLOCK on the new fd */
#define DMXP_CHAN_FD_KNOWN	DMXP_CHAN_FD_NONBLOCK

/*
 * Get a file descriptor for one channel (returned by the ioctl, close-on-
 * exec): poll() reports EPOLLIN when a message waits and EPOLLOUT when a
 * slot is free; read() takes one message as a struct dmxp_msg_meta
 * followed by the payload; write() sends its buffer as one message.  A
 * read-only binding (/dev/dmxp opened O_RDONLY) gets an fd that only
 * polls: read() and write() fail with EBADF.
 */
struct dmxp_ioc_chan_fd {
	__u32	id;
	__u32	flags;		/* DMXP_CHAN_FD_* */
	__u64	reserved;	/* zero */
};

/* dmxp_ioc_eventfd.flags */
#define DMXP_EVENTFD_UNREGISTER	(1U << 0)	/* remove instead of add */
#define DMXP_EVENTFD_KNOWN	DMXP_EVENTFD_UNREGISTER
#define DMXP_EVENTFD_MAX	64		/* registrations per channel */

/*
 * Register an eventfd that is signalled whenever consumers of the channel
 * are woken.  The registration lasts until it is unregistered, the file
 * that registered it is closed, or the channel or region is destroyed.
 */
struct dmxp_ioc_eventfd {
	__u32	id;
	__u32	flags;		/* DMXP_EVENTFD_* */
	__s32	fd;		/* the eventfd */
	__u32	__pad;		/* zero */
	__u64	reserved;	/* zero */
};

#define DMXP_IOC_MAGIC		0xD8
#define DMXP_IOC_VERSION	_IOWR(DMXP_IOC_MAGIC, 0x00, struct dmxp_ioc_version)
#define DMXP_IOC_REGION_CREATE	_IOWR(DMXP_IOC_MAGIC, 0x01, struct dmxp_ioc_region)
#define DMXP_IOC_REGION_ATTACH	_IOWR(DMXP_IOC_MAGIC, 0x02, struct dmxp_ioc_region)
#define DMXP_IOC_REGION_DESTROY	_IOW(DMXP_IOC_MAGIC, 0x03, struct dmxp_ioc_region)
#define DMXP_IOC_CHAN_CREATE	_IOWR(DMXP_IOC_MAGIC, 0x04, struct dmxp_ioc_chan)
#define DMXP_IOC_CHAN_DESTROY	_IOW(DMXP_IOC_MAGIC, 0x05, struct dmxp_ioc_chan)
#define DMXP_IOC_NOTIFY		_IOW(DMXP_IOC_MAGIC, 0x06, struct dmxp_ioc_notify)
#define DMXP_IOC_CHAN_FD	_IOW(DMXP_IOC_MAGIC, 0x07, struct dmxp_ioc_chan_fd)
#define DMXP_IOC_CHAN_EVENTFD	_IOW(DMXP_IOC_MAGIC, 0x08, struct dmxp_ioc_eventfd)

/*
 * The layout may never drift: every offset the documentation names is
 * checked at compile time, in the kernel and in userspace alike.
 */
#ifdef __cplusplus
#define __DMXP_ASSERT(c, m) static_assert(c, m)
#else
#define __DMXP_ASSERT(c, m) _Static_assert(c, m)
#endif
#define __DMXP_OFF(t, f, o) \
	__DMXP_ASSERT(__builtin_offsetof(struct t, f) == (o), #t "." #f " at " #o)

__DMXP_ASSERT(sizeof(struct dmxp_msg_meta) == 40, "dmxp_msg_meta is 40 bytes");
__DMXP_OFF(dmxp_msg_meta, message_id, 0);
__DMXP_OFF(dmxp_msg_meta, timestamp_ns, 8);
__DMXP_OFF(dmxp_msg_meta, channel_id, 16);
__DMXP_OFF(dmxp_msg_meta, message_type, 20);
__DMXP_OFF(dmxp_msg_meta, sender_pid, 24);
__DMXP_OFF(dmxp_msg_meta, sender_runtime, 28);
__DMXP_OFF(dmxp_msg_meta, flags, 30);
__DMXP_OFF(dmxp_msg_meta, payload_len, 32);

__DMXP_ASSERT(sizeof(struct dmxp_slot) == DMXP_SLOT_SIZE, "slot is 1088 bytes");
__DMXP_OFF(dmxp_slot, sequence, 0);
__DMXP_OFF(dmxp_slot, meta, 8);
__DMXP_OFF(dmxp_slot, meta.message_id, 8);
__DMXP_OFF(dmxp_slot, meta.timestamp_ns, 16);
__DMXP_OFF(dmxp_slot, meta.channel_id, 24);
__DMXP_OFF(dmxp_slot, meta.message_type, 28);
__DMXP_OFF(dmxp_slot, meta.sender_pid, 32);
__DMXP_OFF(dmxp_slot, meta.sender_runtime, 36);
__DMXP_OFF(dmxp_slot, meta.flags, 38);
__DMXP_OFF(dmxp_slot, meta.payload_len, 40);
__DMXP_OFF(dmxp_slot, payload, 64);
__DMXP_OFF(dmxp_slot, __reserved, 1024);

__DMXP_ASSERT(sizeof(struct dmxp_channel_entry) == DMXP_ENTRY_SIZE, "entry is 384 bytes");
__DMXP_OFF(dmxp_channel_entry, channel_id, 0);
__DMXP_OFF(dmxp_channel_entry, flags, 4);
__DMXP_OFF(dmxp_channel_entry, capacity, 8);
__DMXP_OFF(dmxp_channel_entry, band_offset, 16);
__DMXP_OFF(dmxp_channel_entry, generation, 24);
__DMXP_OFF(dmxp_channel_entry, owner_pid, 28);
__DMXP_OFF(dmxp_channel_entry, band_capacity, 32);
__DMXP_OFF(dmxp_channel_entry, recv_waiters, 40);
__DMXP_OFF(dmxp_channel_entry, send_waiters, 44);
__DMXP_OFF(dmxp_channel_entry, recv_futex, 48);
__DMXP_OFF(dmxp_channel_entry, send_futex, 52);
__DMXP_OFF(dmxp_channel_entry, repaired, 64);
__DMXP_OFF(dmxp_channel_entry, tombstoned, 72);
__DMXP_OFF(dmxp_channel_entry, owner_start, 80);
__DMXP_OFF(dmxp_channel_entry, owner_ns, 88);
__DMXP_OFF(dmxp_channel_entry, tail, 128);
__DMXP_OFF(dmxp_channel_entry, head, 256);

__DMXP_ASSERT(sizeof(struct dmxp_global_header) == DMXP_HEADER_SIZE, "header is 98432 bytes");
__DMXP_OFF(dmxp_global_header, magic, 0);
__DMXP_OFF(dmxp_global_header, version, 8);
__DMXP_OFF(dmxp_global_header, max_channels, 12);
__DMXP_OFF(dmxp_global_header, channel_count, 16);
__DMXP_OFF(dmxp_global_header, reserved, 20);
__DMXP_OFF(dmxp_global_header, region_size, 24);
__DMXP_OFF(dmxp_global_header, alloc_cursor, 32);
__DMXP_OFF(dmxp_global_header, claims_offset, 40);
__DMXP_OFF(dmxp_global_header, claims_count, 48);
__DMXP_OFF(dmxp_global_header, repair_lock, 56);
__DMXP_ASSERT(sizeof(struct dmxp_claim) == DMXP_CLAIM_SIZE, "claim is 64 bytes");
__DMXP_OFF(dmxp_claim, owner, 0);
__DMXP_OFF(dmxp_claim, state, 4);
__DMXP_OFF(dmxp_claim, pos, 8);
__DMXP_OFF(dmxp_claim, chan, 16);
__DMXP_OFF(dmxp_claim, count, 20);
__DMXP_OFF(dmxp_claim, generation, 24);
__DMXP_OFF(dmxp_claim, pid, 28);
__DMXP_OFF(dmxp_claim, start_time, 32);
__DMXP_OFF(dmxp_claim, pid_ns, 40);
__DMXP_OFF(dmxp_global_header, channels, 128);
__DMXP_OFF(dmxp_global_header, channels[1], 128 + 384);
__DMXP_OFF(dmxp_global_header, channels[255], 128 + 255 * 384);

__DMXP_ASSERT(sizeof(struct dmxp_ioc_version) == 32, "dmxp_ioc_version is 32 bytes");
__DMXP_ASSERT(sizeof(struct dmxp_ioc_region) == 72, "dmxp_ioc_region is 72 bytes");
__DMXP_ASSERT(sizeof(struct dmxp_ioc_chan) == 40, "dmxp_ioc_chan is 40 bytes");
__DMXP_OFF(dmxp_ioc_region, size, 32);
__DMXP_OFF(dmxp_ioc_region, lease, 56);
__DMXP_OFF(dmxp_ioc_region, reserved, 64);
__DMXP_OFF(dmxp_ioc_chan, reserved, 24);
__DMXP_ASSERT(sizeof(struct dmxp_ioc_notify) == 16, "dmxp_ioc_notify is 16 bytes");
__DMXP_ASSERT(sizeof(struct dmxp_ioc_chan_fd) == 16, "dmxp_ioc_chan_fd is 16 bytes");
__DMXP_ASSERT(sizeof(struct dmxp_ioc_eventfd) == 24, "dmxp_ioc_eventfd is 24 bytes");

#undef __DMXP_OFF

#endif /* _UAPI_LINUX_DMXP_H */
