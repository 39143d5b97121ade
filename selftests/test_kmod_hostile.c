// SPDX-License-Identifier: MIT
/*
 * The module against a hostile region.  Several processes share one
 * kernel region: scribblers write garbage (random words and boundary
 * values) over its header, its channel entries and its rings, while the
 * others use the same region through the module: poll and epoll on
 * channel fds, read() and write() on them (non-blocking, and blocking
 * until a timer signal), DMXP_IOC_NOTIFY, eventfd registration, channel
 * creation and destruction, re-attaching and re-mapping.  At the end the
 * region is destroyed under them.
 *
 * Meanwhile a second region, which nobody scribbles on, carries a
 * producer and a consumer using the library: every message must arrive
 * exactly once and in order, whatever happens next door.
 *
 * Checked: every call returns success or an error its documentation
 * lists; a blocking call returns soon after a signal; no process stops
 * making progress; afterwards the module's sysfs accounting (regions,
 * its reference count) and the vmalloc usage are back at their start
 * values.  tools/vm/run checks the kernel log.
 *
 * Skips when /dev/dmxp does not exist.  The garbage comes from a seed,
 * printed at the start; DMXP_HOSTILE_SEED=N repeats it.  The main phase
 * runs 12 s and the flood 4 s; DMXP_HOSTILE_SECONDS=N (or
 * DMXP_STRESS_SECONDS=N) runs the main phase N seconds and the flood a
 * third of that.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"

#define SYSFS_DIR	"/sys/kernel/dmxp"
#define REFCNT_PATH	"/sys/module/dmxp/refcnt"

#define MS		1000000LL
#define SEC		1000000000LL

#define NCH		8		/* channels 0..NCH-1 of the hostile region */
#define HOSTILE_SIZE	TEST_REGION_SIZE
#define CLEAN_CH	1
#define CLEAN_CAP	64
#define CLEAN_MAXLEN	256
#define CLEAN_END	0xffffffffU	/* message_type of the producer's last message */
#define META		((int)sizeof(struct dmxp_msg_meta))

#define BLOCK_BOUND	(2 * SEC)	/* a blocking call, after its timer signal */
#define STALL_BOUND	(10 * SEC)	/* a process without progress */
#define EXIT_BOUND	(20 * SEC)	/* from the stop request to the last exit */
#define FLOOD_BOUND	(1 * SEC)	/* a blocking read of tombstones, after its signal */

#define FLOOD_CAP	2048		/* channel 0, which the flood fills */
#define FLOOD_EPOLLS	256		/* epoll instances watching it */

#define MAX_WORKERS	12
#define NERR		160

enum kind {
	K_SCRIBBLE, K_IO, K_POLL, K_CTL, K_CLEAN_TX, K_CLEAN_RX, K_FLOOD, K_BLOCKED_READ,
};

static const char * const kind_name[] = {
	"scribble", "io", "poll", "ctl", "clean-tx", "clean-rx", "flood", "blocked-read",
};

struct worker {
	enum kind	kind;
	pid_t		pid;
	long long	beat;		/* CLOCK_MONOTONIC ns of its last progress */
	long long	ops;
	unsigned int	err[NERR];	/* [0]: successes, [e]: errno e */
	int		failed;
	char		why[240];
};

/* Shared by the test and its workers (an anonymous shared mapping). */
struct shared {
	int		stop;		/* leave the loop */
	int		gone;		/* the hostile region is being destroyed */
	int		clean_pace_us;	/* the clean producer's pause per message */
	__u64		seed;
	char		hname[DMXP_NAME_MAX];	/* hostile region */
	char		cpath[64];		/* clean region, a library path */
	__u64		geo_cap[NCH];	/* hostile channels, as CHAN_CREATE said; 0: none */
	__u64		geo_off[NCH];
	__u64		clean_sent;	/* messages before the end marker */
	__u64		clean_recv;
	int		nworkers;
	struct worker	w[MAX_WORKERS];
};

static struct shared *sh;
static struct worker *me;

/* ------------------------------------------------------------ utilities */

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

static unsigned int below(struct test_rng *r, unsigned int n)
{
	return (unsigned int)(test_rnd(r) % n);
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(me->why, sizeof(me->why), fmt, ap);
	va_end(ap);
	STORE(me->failed, 1);
	_exit(1);
}

static void beat(void)
{
	STORE(me->beat, test_now_ns());
	me->ops++;
}

static void on_alarm(int sig)
{
}

/*
 * SIGALRM in @ms milliseconds and every @ms after, which interrupts a
 * blocking call (no SA_RESTART): the call is interrupted even if the
 * first signal comes before it starts.
 */
static void timer_arm(unsigned int ms)
{
	struct itimerval it = {
		.it_value = { ms / 1000, (ms % 1000) * 1000 },
		.it_interval = { ms / 1000, (ms % 1000) * 1000 },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

static void timer_disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

/* Is @err (positive) one of the -1-terminated @ok, or allowed by now? */
static bool err_ok(int err, const int *ok)
{
	for (; *ok >= 0; ok++)
		if (err == *ok)
			return true;
	/* Once the region is being destroyed, every call may say so. */
	return LOAD(sh->gone) && (err == EIDRM || err == ENOENT);
}

#define OK(...)	((const int[]){ __VA_ARGS__, -1 })

/* Count the result @ret (>= 0, or -errno) of @what, or fail. */
static void expect(const char *what, int ch, long ret, const int *ok)
{
	int err = ret < 0 ? (int)-ret : 0;

	if (err && !err_ok(err, ok))
		fail("%s on channel %d: unexpected %s (%d)", what, ch, strerror(err), err);
	me->err[err < NERR ? err : NERR - 1]++;
}

static long long read_num(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/* The names under /sys/kernel/dmxp, sorted, one per line, into @buf. */
static void sysfs_regions(char *buf, size_t len)
{
	struct dirent **names;
	size_t used = 0;
	int i, n;

	buf[0] = '\0';
	n = scandir(SYSFS_DIR, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' && used < len)
			used += snprintf(buf + used, len - used, "%s\n", names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* Attach to the hostile region and map it; the mapping or NULL. */
static void *hostile_map(int *devp, size_t *sizep)
{
	__u64 size = 0;
	void *p;
	int dev;

	dev = dev_attach(sh->hname, &size);
	expect("REGION_ATTACH", -1, dev, OK(0));
	if (dev < 0)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
	if (p == MAP_FAILED) {
		expect("mmap", -1, -errno, OK(0));
		close(dev);
		return NULL;
	}
	if (size != HOSTILE_SIZE)
		fail("attach: size %llu, created with %llu", (unsigned long long)size,
		     (unsigned long long)HOSTILE_SIZE);
	*devp = dev;
	*sizep = size;
	return p;
}

/* A hostile channel id: mostly ours, sometimes one that does not exist. */
static __u32 some_chan(struct test_rng *r)
{
	switch (below(r, 16)) {
	case 0:
		return NCH + below(r, 4);
	case 1:
		return DMXP_MAX_CHANNELS - 1;
	default:
		return below(r, NCH);
	}
}

/* ----------------------------------------------------------- scribblers */

/*
 * A value for a field: a whole random word, a boundary value, something
 * about the ring's capacity or the region's size, or something near
 * @near (a position of the ring).
 */
static __u64 nasty(struct test_rng *r, __u64 cap, __u64 near)
{
	static const __u64 fixed[] = {
		0, 1, 2, 3, 63, 64, 127, 128, 960, 961, 1000, 1088, 4095, 4096,
		0x7fffffffULL, 0x80000000ULL, 0xfffffffeULL, 0xffffffffULL,
		1ULL << 32, (1ULL << 32) + 1, DMXP_HEADER_SIZE - 1, DMXP_HEADER_SIZE,
		DMXP_CAPACITY_MAX - 1, DMXP_CAPACITY_MAX, DMXP_CAPACITY_MAX + 1,
		DMXP_MAGIC, (1ULL << 63) - 1, 1ULL << 63, (1ULL << 63) + 1,
		~0ULL - 1, ~0ULL,
	};

	switch (below(r, 5)) {
	case 0:
		return test_rnd(r);
	case 1:
	case 2:
		return fixed[below(r, ARRAY_SIZE(fixed))];
	case 3:
		switch (below(r, 7)) {
		case 0:
			return cap - 1;
		case 1:
			return cap;
		case 2:
			return cap + 1;
		case 3:
			return cap * 2;
		case 4:
			return cap * DMXP_SLOT_SIZE;
		case 5:
			return HOSTILE_SIZE - below(r, 2);
		default:
			return ~0ULL / DMXP_SLOT_SIZE + below(r, 3);
		}
	default:
		switch (below(r, 6)) {
		case 0:
			return near + 1;
		case 1:
			return near - 1;
		case 2:
			return near + cap;
		case 3:
			return near - cap;
		case 4:
			return near + (1ULL << 63);
		default:
			return near + below(r, 9) - 4;
		}
	}
}

static void put64(void *p, __u64 v)
{
	__atomic_store_n((__u64 *)p, v, __ATOMIC_RELAXED);
}

static void put32(void *p, __u32 v)
{
	__atomic_store_n((__u32 *)p, v, __ATOMIC_RELAXED);
}

/* Garbage over bytes [off, off + len) of the mapping. */
static void smear(struct test_rng *r, unsigned char *mem, size_t off, size_t len)
{
	size_t i;

	switch (below(r, 3)) {
	case 0:
		memset(mem + off, 0, len);
		break;
	case 1:
		memset(mem + off, 0xff, len);
		break;
	default:
		for (i = 0; i + 8 <= len; i += 8)
			put64(mem + off + i, test_rnd(r));
		break;
	}
}

static void scribble_once(struct test_rng *r, unsigned char *mem, size_t size)
{
	struct dmxp_global_header *h = (void *)mem;
	unsigned int c = below(r, NCH);
	__u64 cap = LOAD(sh->geo_cap[c]), off = LOAD(sh->geo_off[c]);
	bool ring = cap >= 2 && !(cap & (cap - 1)) && off >= DMXP_HEADER_SIZE &&
		    off + cap * DMXP_SLOT_SIZE <= size;
	struct dmxp_channel_entry *e;
	struct dmxp_slot *s;
	__u64 pos, v;

	e = &h->channels[below(r, 4) ? c : below(r, DMXP_MAX_CHANNELS)];
	if (!ring)
		cap = 4;
	switch (below(r, 11)) {
	case 0:		/* any word of the region */
		put64(mem + (test_rnd(r) % (size / 8)) * 8, nasty(r, cap, 0));
		break;
	case 1:		/* the global header */
		switch (below(r, 6)) {
		case 0:
			put64(&h->magic, nasty(r, cap, DMXP_MAGIC));
			break;
		case 1:
			put32(&h->version, (__u32)nasty(r, cap, DMXP_VERSION));
			break;
		case 2:
			put32(&h->max_channels, (__u32)nasty(r, cap, DMXP_MAX_CHANNELS));
			break;
		case 3:
			put32(&h->channel_count, (__u32)nasty(r, cap, NCH));
			break;
		case 4:
			put64(&h->region_size, nasty(r, cap, size));
			break;
		default:
			put64(&h->alloc_cursor, nasty(r, cap, size));
			break;
		}
		break;
	case 2:		/* the descriptive fields of an entry */
		switch (below(r, 6)) {
		case 0:
			put32(&e->flags, (__u32)nasty(r, cap, DMXP_CHAN_CREATED));
			break;
		case 1:
			put64(&e->capacity, nasty(r, cap, cap));
			break;
		case 2:
			put64(&e->band_offset, nasty(r, cap, off));
			break;
		case 3:
			put32(&e->generation, (__u32)nasty(r, cap, e->generation));
			break;
		case 4:
			put64(&e->band_capacity, nasty(r, cap, cap));
			break;
		default:
			put32(&e->channel_id, (__u32)nasty(r, cap, c));
			break;
		}
		break;
	case 3:		/* the wake words */
		switch (below(r, 4)) {
		case 0:
			put32(&e->recv_waiters, (__u32)nasty(r, cap, 0));
			break;
		case 1:
			put32(&e->send_waiters, (__u32)nasty(r, cap, 0));
			break;
		case 2:
			put32(&e->recv_futex, (__u32)nasty(r, cap, e->recv_futex));
			break;
		default:
			put32(&e->send_futex, (__u32)nasty(r, cap, e->send_futex));
			break;
		}
		break;
	case 4:		/* the positions */
		if (below(r, 2))
			put64(&e->head, nasty(r, cap, LOAD(e->tail)));
		else
			put64(&e->tail, nasty(r, cap, LOAD(e->head)));
		break;
	case 5:		/* a slot's sequence or metadata */
		if (!ring)
			break;
		s = (struct dmxp_slot *)(mem + off) + below(r, cap);
		pos = below(r, 2) ? LOAD(e->head) : LOAD(e->tail);
		switch (below(r, 5)) {
		case 0:
		case 1:
			put64(&s->sequence, nasty(r, cap, pos));
			break;
		case 2:
			put32(&s->meta.payload_len, (__u32)nasty(r, cap, DMXP_MAX_PAYLOAD));
			break;
		case 3:
			put32((__u32 *)&s->meta.sender_runtime, (__u32)test_rnd(r));
			break;
		default:
			smear(r, mem, (unsigned char *)&s->meta - mem, sizeof(s->meta));
			break;
		}
		break;
	case 6:		/* a slot that looks published, with bad metadata */
	case 7:
		if (!ring)
			break;
		e = &h->channels[c];
		pos = below(r, 8) ? LOAD(e->head) : nasty(r, cap, LOAD(e->head));
		s = (struct dmxp_slot *)(mem + off) + (pos & (cap - 1));
		put32(&s->meta.payload_len, below(r, 2) ? (__u32)nasty(r, cap, 960) :
			  (__u32)test_rnd(r));
		v = below(r, 3) ? test_rnd(r) : DMXP_MSG_TOMBSTONE;
		__atomic_store_n(&s->meta.flags, (__u16)v, __ATOMIC_RELAXED);
		if (below(r, 4) == 0)
			put64(&e->head, pos);
		__atomic_store_n(&s->sequence, pos + 1, __ATOMIC_RELEASE);
		break;
	case 8:		/* a slot that looks free, or a ring that looks full */
		if (!ring)
			break;
		e = &h->channels[c];
		pos = LOAD(e->tail);
		s = (struct dmxp_slot *)(mem + off) + (pos & (cap - 1));
		v = below(r, 2) ? pos : pos - cap + 1;
		__atomic_store_n(&s->sequence, v, __ATOMIC_RELEASE);
		break;
	case 9: {	/* a claim record: the module repairs what it names */
		struct dmxp_claim *rec;

		/* Where the module put the table: the header may say anything. */
		if (size < FIRST_BAND + DMXP_CAPACITY_MIN * DMXP_SLOT_SIZE)
			break;
		rec = (struct dmxp_claim *)(mem + DMXP_HEADER_SIZE) + below(r, DMXP_CLAIMS);
		pos = below(r, 2) ? LOAD(h->channels[c].head) : LOAD(h->channels[c].tail);
		put32(&rec->chan, below(r, 4) ? c : (__u32)nasty(r, cap, c));
		put32(&rec->generation, below(r, 4) ? LOAD(h->channels[c].generation) :
			  (__u32)test_rnd(r));
		put64(&rec->pos, below(r, 4) ? pos - below(r, 4) : nasty(r, cap, pos));
		put32(&rec->count, (__u32)nasty(r, cap, 1 + below(r, 4)));
		put32(&rec->state, below(r, 4) ? 1 + below(r, 4) : (__u32)test_rnd(r));
		/* A small owner names a lease, maybe of a file already closed. */
		put32(&rec->owner, below(r, 2) ? 1 + below(r, 64) : (__u32)test_rnd(r));
		break;
	}
	default:	/* a run of bytes: in the header, a ring, or anywhere */
		v = below(r, 64) ? 1 + below(r, 4096) : below(r, 2) ? DMXP_HEADER_SIZE :
		    cap * DMXP_SLOT_SIZE;
		v &= ~7ULL;
		if (!v || v > size)
			break;
		pos = below(r, 3) == 0 && ring ? off : test_rnd(r) % (size - v + 1);
		if (pos + v > size)
			break;
		smear(r, mem, pos & ~7ULL, v);
		break;
	}
}

static void run_scribbler(struct test_rng *r)
{
	size_t size = 0;
	unsigned char *mem;
	int dev = -1, i;

	mem = hostile_map(&dev, &size);
	if (!mem)
		fail("cannot map the hostile region");
	while (!LOAD(sh->stop)) {
		for (i = 0; i < 64; i++)
			scribble_once(r, mem, size);
		beat();
		/* Map it again now and then, while it exists. */
		if (below(r, 4096) == 0 && !LOAD(sh->gone)) {
			size_t size2 = 0;
			int dev2 = -1;
			void *p = hostile_map(&dev2, &size2);

			if (p) {
				munmap(mem, size);
				close(dev);
				mem = p;
				dev = dev2;
				size = size2;
			}
		}
	}
	munmap(mem, size);
	close(dev);
}

/* ---------------------------------------------------- channel fd users */

#define IO_FDS	4

struct cfd {
	int	fd;
	int	ch;
	bool	nonblock;
};

/* (Re)open @f on some channel; a closed slot if there is none. */
static void cfd_open(struct test_rng *r, int dev, struct cfd *f)
{
	int ret;

	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->ch = (int)some_chan(r);
	f->nonblock = below(r, 4);	/* blocking calls take a timer's while */
	ret = ioc_chan_fd(dev, f->ch, f->nonblock ? DMXP_CHAN_FD_NONBLOCK : 0);
	expect("CHAN_FD", f->ch, ret, OK(ENOENT));
	if (ret >= 0)
		f->fd = ret;
}

/* A message as read() returned it: sane whatever the ring held. */
static void check_msg(const char *what, int ch, const unsigned char *buf, ssize_t n,
		      size_t room)
{
	struct dmxp_msg_meta m;

	if (!n && !room)
		return;		/* the VFS answers an empty read itself */
	if (n < META || n > META + DMXP_MAX_PAYLOAD || (size_t)n > room)
		fail("%s on channel %d: returned %zd for %zu bytes", what, ch, n, room);
	memcpy(&m, buf, sizeof(m));
	if (m.payload_len > DMXP_MAX_PAYLOAD || n != META + (ssize_t)m.payload_len)
		fail("%s on channel %d: returned %zd with payload_len %u", what, ch, n,
		     m.payload_len);
	if (m.flags & DMXP_MSG_TOMBSTONE)
		fail("%s on channel %d: returned a tombstone", what, ch);
}

/* One read, write or notify on @f.  Blocking calls get a timer signal. */
static void io_once(struct test_rng *r, int dev, struct cfd *f, unsigned char *ro)
{
	static const size_t rooms[] = { 0, 1, 39, 40, 41, 100, 520, 999, 1000, 1001, 4096 };
	static unsigned char buf[8192];
	size_t room = rooms[below(r, ARRAY_SIZE(rooms))];
	bool blocking = !f->nonblock;
	long long t0, dt;
	struct iovec iov;
	size_t len;
	ssize_t n;
	int op = below(r, 8);

	if (f->fd < 0) {
		cfd_open(r, dev, f);
		return;
	}
	if (op == 7) {
		expect("NOTIFY", f->ch, ioc_notify(dev, f->ch, 1 + below(r, 3)), OK(ENOENT));
		return;
	}
	if (op == 6) {
		cfd_open(r, dev, f);
		return;
	}
	if (blocking && op != 3)
		timer_arm(1 + below(r, 20));
	t0 = test_now_ns();
	switch (op) {
	case 0:
	case 1:
		n = read(f->fd, buf, room);
		if (n < 0)
			n = -errno;
		if (n >= 0)
			check_msg("read", f->ch, buf, n, room);
		/* EMSGSIZE: a buffer smaller than the meta or the message. */
		expect("read", f->ch, n, blocking ? OK(EIDRM, EMSGSIZE, EINTR) :
			OK(EAGAIN, EIDRM, EMSGSIZE));
		if (n == -EMSGSIZE && room >= META + DMXP_MAX_PAYLOAD)
			fail("read on channel %d: EMSGSIZE for %zu bytes", f->ch, room);
		break;
	case 2:
	case 4:
		len = below(r, 16) ? below(r, DMXP_MAX_PAYLOAD + 1) :
		      below(r, 2) ? DMXP_MAX_PAYLOAD + 1 : 4096;
		memset(buf, (int)len, len);
		n = write(f->fd, buf, len);
		if (n < 0)
			n = -errno;
		else if ((size_t)n != len)
			fail("write on channel %d: %zd of %zu bytes", f->ch, n, len);
		expect("write", f->ch, n, blocking ? OK(EIDRM, EMSGSIZE, EINTR) :
			OK(EAGAIN, EIDRM, EMSGSIZE));
		if ((n == -EMSGSIZE) != (len > DMXP_MAX_PAYLOAD))
			fail("write on channel %d: %zu bytes, %zd", f->ch, len, n);
		break;
	case 3:		/* IOCB_NOWAIT, as io_uring's first attempt */
		iov.iov_base = buf;
		iov.iov_len = room;
		n = preadv2(f->fd, &iov, 1, -1, RWF_NOWAIT);
		if (n < 0)
			n = -errno;
		if (n >= 0)
			check_msg("preadv2(RWF_NOWAIT)", f->ch, buf, n, room);
		expect("preadv2(RWF_NOWAIT)", f->ch, n, OK(EAGAIN, EIDRM, EMSGSIZE));
		break;
	default:	/* into a read-only buffer: a taken message is lost */
		n = read(f->fd, ro, 4096);
		expect("read into read-only memory", f->ch, n < 0 ? -errno : 0,
		       blocking ? OK(EIDRM, EFAULT, EINTR) : OK(EAGAIN, EIDRM, EFAULT));
		break;
	}
	dt = test_now_ns() - t0;
	timer_disarm();
	if (dt > BLOCK_BOUND)
		fail("%s call %d on channel %d took %lld ms", blocking ? "blocking" : "non-blocking",
		     op, f->ch, dt / MS);
	if (n == -EIDRM && !LOAD(sh->gone))
		cfd_open(r, dev, f);
}

static void run_io(struct test_rng *r)
{
	struct cfd f[IO_FDS];
	unsigned char *ro;
	int dev, i;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dev = dev_attach(sh->hname, NULL);
	if (dev < 0 || ro == MAP_FAILED)
		fail("cannot attach the hostile region: %d", dev);
	for (i = 0; i < IO_FDS; i++)
		f[i].fd = -1;
	while (!LOAD(sh->stop)) {
		io_once(r, dev, &f[below(r, IO_FDS)], ro);
		beat();
	}
	for (i = 0; i < IO_FDS; i++)
		if (f[i].fd >= 0)
			close(f[i].fd);
	close(dev);
}

#define POLL_FDS	6
#define POLL_EVENTS	(POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM | POLLERR | POLLHUP)

static void run_poll(struct test_rng *r)
{
	struct epoll_event ev[POLL_FDS];
	struct pollfd p[POLL_FDS];
	struct cfd f[POLL_FDS];
	long long t0, dt;
	int dev, ep, i, k, n, ms;

	dev = dev_attach(sh->hname, NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (dev < 0 || ep < 0)
		fail("cannot attach the hostile region: %d", dev);
	for (i = 0; i < POLL_FDS; i++)
		f[i].fd = -1;
	while (!LOAD(sh->stop)) {
		k = below(r, POLL_FDS);
		if (f[k].fd < 0 || below(r, 32) == 0) {
			cfd_open(r, dev, &f[k]);	/* closing removes it from ep */
			if (f[k].fd >= 0) {
				struct epoll_event e = {
					.events = EPOLLIN | EPOLLOUT | (below(r, 2) ? EPOLLET : 0),
					.data.u32 = k,
				};

				if (epoll_ctl(ep, EPOLL_CTL_ADD, f[k].fd, &e))
					fail("EPOLL_CTL_ADD: %s", strerror(errno));
			}
		}
		ms = below(r, 4) ? 0 : below(r, 20);
		t0 = test_now_ns();
		if (below(r, 2)) {
			for (i = 0; i < POLL_FDS; i++) {
				p[i].fd = f[i].fd;
				p[i].events = below(r, 4) ? POLLIN | POLLOUT : POLLIN;
				p[i].revents = 0;
			}
			n = poll(p, POLL_FDS, ms);
			if (n < 0)
				fail("poll: %s", strerror(errno));
			for (i = 0; i < POLL_FDS; i++)
				if (p[i].revents & ~POLL_EVENTS)
					fail("poll on channel %d: revents %#x", f[i].ch, p[i].revents);
		} else {
			n = epoll_wait(ep, ev, POLL_FDS, ms);
			if (n < 0)
				fail("epoll_wait: %s", strerror(errno));
			for (i = 0; i < n; i++)
				if (ev[i].events & ~(EPOLLIN | EPOLLOUT | EPOLLRDNORM |
						     EPOLLWRNORM | EPOLLERR | EPOLLHUP))
					fail("epoll on channel %d: events %#x",
					     f[ev[i].data.u32].ch, ev[i].events);
		}
		me->err[0]++;
		dt = test_now_ns() - t0;
		if (dt > ms * MS + BLOCK_BOUND)
			fail("poll of %d ms took %lld ms", ms, dt / MS);
		beat();
	}
	for (i = 0; i < POLL_FDS; i++)
		if (f[i].fd >= 0)
			close(f[i].fd);
	close(ep);
	close(dev);
}

/* ------------------------------------------------------------ controller */

#define CTL_EFDS	4

/* Read a channel's statistics: what the module reports is sane. */
static void ctl_sysfs(struct test_rng *r)
{
	char path[160];
	long long cap, depth;
	int ch = below(r, NCH);

	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%d/capacity", sh->hname, ch);
	cap = read_num(path);
	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%d/depth", sh->hname, ch);
	depth = read_num(path);
	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%d/%s", sh->hname, ch,
		 below(r, 2) ? "head" : below(r, 2) ? "tail" : "notifies");
	read_num(path);
	/*
	 * The channel may come and go between the reads (an error), and
	 * come back with another capacity: none here is over FLOOD_CAP.
	 */
	if (cap >= 0 && (cap < 2 || cap > FLOOD_CAP || (cap & (cap - 1))))
		fail("sysfs: ch%d/capacity %lld", ch, cap);
	if (depth > FLOOD_CAP)
		fail("sysfs: ch%d/depth %lld", ch, depth);
	snprintf(path, sizeof(path), SYSFS_DIR "/%s/channel_count", sh->hname);
	cap = read_num(path);
	if (cap > NCH || (cap < 0 && !LOAD(sh->gone)))
		fail("sysfs: channel_count %lld", cap);
	me->err[0]++;
}

static void run_ctl(struct test_rng *r)
{
	int efd[CTL_EFDS], dev, ret, i, ch;
	__u64 off, cap, v;
	size_t size = 0;
	void *p, *kept = NULL;

	for (i = 0; i < CTL_EFDS; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[i] < 0)
			fail("eventfd: %s", strerror(errno));
	}
	dev = dev_attach(sh->hname, NULL);
	if (dev < 0)
		fail("cannot attach the hostile region: %d", dev);
	while (!LOAD(sh->stop)) {
		ch = some_chan(r);
		switch (below(r, 12)) {
		case 0:
		case 1:
			if (ch >= NCH)
				break;
			cap = 2ULL << below(r, 7);
			ret = ioc_chan_create(dev, ch, cap, &off);
			expect("CHAN_CREATE", ch, ret, OK(EEXIST, ENOSPC));
			if (!ret) {
				STORE(sh->geo_off[ch], off);
				STORE(sh->geo_cap[ch], cap);
			}
			break;
		case 2:
			if (ch >= NCH)
				break;
			ret = ioc_chan_destroy(dev, ch);
			expect("CHAN_DESTROY", ch, ret, OK(ENOENT));
			if (!ret)
				STORE(sh->geo_cap[ch], 0);
			break;
		case 3:
		case 4:
			expect("NOTIFY", ch, ioc_notify(dev, ch, 1 + below(r, 3)), OK(ENOENT));
			break;
		case 5:
			expect("CHAN_EVENTFD", ch, ioc_eventfd(dev, ch, efd[below(r, CTL_EFDS)], 0),
			       OK(ENOENT, EEXIST, ENOSPC));
			break;
		case 6:
			expect("CHAN_EVENTFD unregister", ch,
			       ioc_eventfd(dev, ch, efd[below(r, CTL_EFDS)], DMXP_EVENTFD_UNREGISTER),
			       OK(ENOENT));
			break;
		case 7:
			for (i = 0; i < CTL_EFDS; i++)
				if (read(efd[i], &v, sizeof(v)) < 0 && errno != EAGAIN)
					fail("eventfd read: %s", strerror(errno));
			break;
		case 8:		/* a channel fd, opened and dropped */
			ret = ioc_chan_fd(dev, ch, below(r, 2) ? DMXP_CHAN_FD_NONBLOCK : 0);
			expect("CHAN_FD", ch, ret, OK(ENOENT));
			if (ret >= 0)
				close(ret);
			break;
		case 9:		/* re-attach: the old file's eventfds go with it */
			if (LOAD(sh->gone))
				break;
			p = hostile_map(&ret, &size);
			if (!p)
				break;
			close(dev);
			dev = ret;
			/* Keep one mapping past the close of its file, or none. */
			if (kept)
				munmap(kept, size);
			kept = NULL;
			if (below(r, 2)) {
				kept = p;
				((struct dmxp_global_header *)p)->reserved = (__u32)test_rnd(r);
			} else {
				munmap(p, size);
			}
			break;
		default:
			ctl_sysfs(r);
			break;
		}
		beat();
	}
	if (kept)
		munmap(kept, size);
	close(dev);
	for (i = 0; i < CTL_EFDS; i++)
		close(efd[i]);
}

/* ------------------------------------------------ the clean region's pair */

static size_t clean_len(__u64 n)
{
	return 8 + test_body_len(CLEAN_MAXLEN - 8, 0, n);
}

static void clean_fill(unsigned char *buf, __u64 n)
{
	memcpy(buf, &n, 8);
	test_fill(buf + 8, clean_len(n) - 8, 0, n);
}

static void clean_open(struct dmxp_region **r, struct dmxp_chan **c)
{
	int ret = dmxp_region_open(sh->cpath, 0, 0, r);

	if (!ret)
		ret = dmxp_chan_open(*r, CLEAN_CH, c);
	if (ret)
		fail("clean region %s: %s", sh->cpath, strerror(-ret));
}

static void run_clean_tx(void)
{
	unsigned char buf[CLEAN_MAXLEN];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	long long last = test_now_ns();
	__u64 n = 0;
	int ret;

	clean_open(&r, &c);
	for (;;) {
		bool end = LOAD(sh->stop);

		if (end) {
			memcpy(buf, &n, 8);
			ret = dmxp_chan_send_wait(c, buf, 8, CLEAN_END, 200 * MS);
		} else {
			clean_fill(buf, n);
			ret = dmxp_chan_send_wait(c, buf, clean_len(n),
						  test_msg_type(0, n), 200 * MS);
		}
		if (ret == -ETIMEDOUT || ret == -EINTR) {
			if (test_now_ns() - last > STALL_BOUND)
				fail("clean send: no free slot for %lld ms at message %llu",
				     (test_now_ns() - last) / MS, (unsigned long long)n);
			beat();
			continue;
		}
		if (ret)
			fail("clean send of message %llu: %s", (unsigned long long)n,
			     strerror(-ret));
		last = test_now_ns();
		beat();
		if (end)
			break;
		n++;
		STORE(sh->clean_sent, n);
		if (sh->clean_pace_us)
			usleep(sh->clean_pace_us);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

static void run_clean_rx(void)
{
	unsigned char buf[DMXP_MAX_PAYLOAD], want[CLEAN_MAXLEN];
	struct dmxp_msg_meta m;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	long long last = test_now_ns();
	__u64 n = 0, got;
	ssize_t len;

	clean_open(&r, &c);
	for (;;) {
		len = dmxp_chan_recv_wait(c, buf, sizeof(buf), &m, 200 * MS);
		if (len == -ETIMEDOUT || len == -EINTR) {
			if (test_now_ns() - last > STALL_BOUND)
				fail("clean recv: nothing for %lld ms after message %llu",
				     (test_now_ns() - last) / MS, (unsigned long long)n);
			beat();
			continue;
		}
		if (len < 0)
			fail("clean recv after message %llu: %s", (unsigned long long)n,
			     strerror((int)-len));
		last = test_now_ns();
		beat();
		if (m.message_type == CLEAN_END) {
			memcpy(&got, buf, 8);
			if (len != 8 || got != n)
				fail("clean recv: end marker says %llu messages, %llu received",
				     (unsigned long long)got, (unsigned long long)n);
			break;
		}
		clean_fill(want, n);
		memcpy(&got, buf, 8);
		if (m.message_type != test_msg_type(0, n) || (size_t)len != clean_len(n) ||
		    memcmp(buf, want, len))
			fail("clean recv: message %llu (type %#x, %zd bytes) where %llu was due",
			     (unsigned long long)got, m.message_type, len,
			     (unsigned long long)n);
		n++;
		STORE(sh->clean_recv, n);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

/* ------------------------------------------------------ tombstone flood */

/*
 * A producer of tombstones, through the mapping and by the protocol, as
 * fast as it can: it claims every free slot at once and publishes each
 * as a tombstone of 960 bytes, which the kernel's read() must take and
 * skip.  It also keeps send_waiters up and watches the channel from
 * FLOOD_EPOLLS epoll instances, so that each slot the kernel frees
 * costs it a wake-up of all of them: the kernel's reader falls behind.
 */
static void run_flood(struct test_rng *r)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct dmxp_channel_entry *e;
	struct dmxp_slot *slots, *s;
	__u64 cap = LOAD(sh->geo_cap[0]), pos, k, n;
	int dev = -1, fd, ep[FLOOD_EPOLLS];
	size_t size = 0;
	unsigned char *mem;
	long long i = 0;

	mem = hostile_map(&dev, &size);
	if (!mem || !cap)
		fail("cannot map the hostile region");
	fd = ioc_chan_fd(dev, 0, DMXP_CHAN_FD_NONBLOCK);
	if (fd < 0)
		fail("no channel fd: %d", fd);
	for (i = 0; i < FLOOD_EPOLLS; i++) {
		ep[i] = epoll_create1(EPOLL_CLOEXEC);
		if (ep[i] < 0 || epoll_ctl(ep[i], EPOLL_CTL_ADD, fd, &ev))
			fail("epoll: %s", strerror(errno));
	}
	e = &((struct dmxp_global_header *)mem)->channels[0];
	slots = (struct dmxp_slot *)(mem + LOAD(sh->geo_off[0]));
	while (!LOAD(sh->stop)) {
		STORE(e->send_waiters, 1);
		pos = LOAD(e->tail);
		for (n = 0; n < cap; n++)
			if (LOAD(slots[(pos + n) & (cap - 1)].sequence) != pos + n)
				break;
		if (n && __atomic_compare_exchange_n(&e->tail, &pos, pos + n, false,
						     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			for (k = 0; k < n; k++) {
				s = &slots[(pos + k) & (cap - 1)];
				s->meta.message_id = pos + k;
				s->meta.flags = DMXP_MSG_TOMBSTONE;
				s->meta.payload_len = DMXP_MAX_PAYLOAD;
				STORE(s->sequence, pos + k + 1);
			}
			me->err[0] += n;
		}
		if (!(++i & 255))
			beat();
	}
	for (i = 0; i < FLOOD_EPOLLS; i++)
		close(ep[i]);
	close(fd);
	munmap(mem, size);
	close(dev);
}

/* Blocking reads of the flooded channel: each must end at its signal. */
static void run_blocked_read(struct test_rng *r)
{
	static unsigned char buf[META + DMXP_MAX_PAYLOAD];
	long long t0, dt;
	ssize_t n;
	int dev, fd;

	dev = dev_attach(sh->hname, NULL);
	fd = dev < 0 ? dev : ioc_chan_fd(dev, 0, 0);
	if (fd < 0)
		fail("no channel fd: %d", fd);
	while (!LOAD(sh->stop)) {
		timer_arm(1 + below(r, 10));
		t0 = test_now_ns();
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			n = -errno;
		dt = test_now_ns() - t0;
		timer_disarm();
		if (n >= 0)
			check_msg("read", 0, buf, n, sizeof(buf));
		expect("blocking read", 0, n, OK(EINTR));
		if (dt > FLOOD_BOUND)
			fail("blocking read of tombstones: %lld ms, with a signal after 10 ms at most",
			     dt / MS);
		beat();
	}
	close(fd);
	close(dev);
}

/* ------------------------------------------------------------ supervision */

static void spawn(struct __test_metadata *_metadata, enum kind kind)
{
	int idx = sh->nworkers++;
	struct worker *w = &sh->w[idx];
	struct sigaction sa = { .sa_handler = on_alarm };
	struct test_rng r;
	pid_t pid;

	ASSERT_LT(idx, MAX_WORKERS);
	w->kind = kind;
	w->beat = test_now_ns();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid) {
		w->pid = pid;
		return;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	me = w;
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: calls end with EINTR */
	r.s = test_splitmix(sh->seed + idx) | 1;
	switch (kind) {
	case K_SCRIBBLE:
		run_scribbler(&r);
		break;
	case K_IO:
		run_io(&r);
		break;
	case K_POLL:
		run_poll(&r);
		break;
	case K_CTL:
		run_ctl(&r);
		break;
	case K_CLEAN_TX:
		run_clean_tx();
		break;
	case K_CLEAN_RX:
		run_clean_rx();
		break;
	case K_FLOOD:
		run_flood(&r);
		break;
	case K_BLOCKED_READ:
		run_blocked_read(&r);
		break;
	}
	_exit(0);
}

/* Reap what has exited; true if all have.  Records exit statuses. */
static bool reap(struct __test_metadata *_metadata, int *status)
{
	bool all = true;
	int i, st;

	for (i = 0; i < sh->nworkers; i++) {
		struct worker *w = &sh->w[i];

		if (!w->pid)
			continue;
		if (waitpid(w->pid, &st, WNOHANG) != w->pid) {
			all = false;
			continue;
		}
		status[i] = st;
		w->pid = 0;
	}
	return all;
}

/*
 * Let the workers run for @ns (less if one fails or stops making
 * progress); then, if @destroy, destroy the hostile region under them
 * for a while; then stop them all within EXIT_BOUND.
 */
static void supervise(struct __test_metadata *_metadata, int dev, long long ns,
		      bool destroy)
{
	int status[MAX_WORKERS] = { 0 };
	long long start = test_now_ns(), now, stop_at = 0;
	bool stuck = false, early = false;
	int i;

	for (;;) {
		test_sleep_ms(50);
		now = test_now_ns();
		reap(_metadata, status);
		for (i = 0; i < sh->nworkers && !stop_at; i++) {
			/* Exited before it was asked to: a failure, or a crash. */
			if (!sh->w[i].pid && !early) {
				TH_LOG("%s worker %d exited early", kind_name[sh->w[i].kind], i);
				early = true;
			}
		}
		for (i = 0; i < sh->nworkers && !stuck; i++) {
			if (sh->w[i].pid && now - LOAD(sh->w[i].beat) > STALL_BOUND) {
				TH_LOG("%s worker %d made no progress for %lld ms",
				       kind_name[sh->w[i].kind], i,
				       (now - LOAD(sh->w[i].beat)) / MS);
				TEST_LOG_STUCK(sh->w[i].pid);
				stuck = true;
			}
		}
		if (!stop_at && (now - start > ns || early || stuck)) {
			if (destroy && !early && !stuck) {
				struct dmxp_ioc_region rq;

				memset(&rq, 0, sizeof(rq));
				snprintf(rq.name, sizeof(rq.name), "%s", sh->hname);
				STORE(sh->gone, 1);
				EXPECT_EQ(0, xioctl(dev, DMXP_IOC_REGION_DESTROY, &rq));
				test_sleep_ms(1000);
			}
			STORE(sh->stop, 1);
			stop_at = test_now_ns();
		}
		if (stop_at && reap(_metadata, status))
			break;
		if (stop_at && test_now_ns() - stop_at > EXIT_BOUND) {
			for (i = 0; i < sh->nworkers; i++) {
				if (!sh->w[i].pid)
					continue;
				TH_LOG("%s worker %d did not stop in %lld s",
				       kind_name[sh->w[i].kind], i, EXIT_BOUND / SEC);
				TEST_LOG_STUCK(sh->w[i].pid);
				kill(sh->w[i].pid, SIGKILL);
			}
			test_sleep_ms(1000);
			reap(_metadata, status);
			stuck = true;
			break;
		}
	}
	EXPECT_FALSE(stuck);
	EXPECT_FALSE(early);

	for (i = 0; i < sh->nworkers; i++) {
		struct worker *w = &sh->w[i];
		char line[512];
		size_t used;
		int e;

		used = snprintf(line, sizeof(line), "%s %d: %lld loops", kind_name[w->kind],
				i, w->ops);
		if (w->err[0])
			used += snprintf(line + used, sizeof(line) - used, ", ok %u", w->err[0]);
		for (e = 1; e < NERR && used < sizeof(line); e++)
			if (w->err[e])
				used += snprintf(line + used, sizeof(line) - used, ", %s %u",
						 strerrorname_np(e) ?: "?", w->err[e]);
		ksft_print_msg("%s\n", line);
		fflush(stdout);
		if (w->failed)
			TH_LOG("%s worker %d failed: %s", kind_name[w->kind], i, w->why);
		if (w->pid)
			continue;	/* never reaped */
		EXPECT_TRUE(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0) {
			TH_LOG("%s worker %d: exit status %#x", kind_name[w->kind], i,
			       status[i]);
		}
	}
}

/* ------------------------------------------------------------------ tests */

FIXTURE(hostile) {
	bool nodev;
	int dev;			/* bound to the hostile region */
	struct dmxp_region *clean;	/* the library's handle on the other one */
	char regions[4096];		/* /sys/kernel/dmxp at the start */
	long long refcnt;		/* the module's reference count at the start */
	long long vmalloc_kb;
	long long seconds;		/* the main phase */
};

FIXTURE_SETUP(hostile)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	const char *s;
	__u64 off;
	int ch;

	self->dev = -1;
	SKIP_WITHOUT_DEV(self->nodev, "the kernel tests need root");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);

	s = getenv("DMXP_HOSTILE_SEED");
	sh->seed = s && *s ? strtoull(s, NULL, 0) :
		   test_splitmix((__u64)test_now_ns() ^ ((__u64)getpid() << 32));
	ksft_print_msg("seed 0x%llx (DMXP_HOSTILE_SEED to repeat)\n",
		       (unsigned long long)sh->seed);
	fflush(stdout);
	s = getenv("DMXP_HOSTILE_SECONDS");
	self->seconds = s && *s ? strtoll(s, NULL, 10) : test_stress_seconds();
	if (self->seconds <= 0)
		self->seconds = 12;

	sysfs_regions(self->regions, sizeof(self->regions));
	self->refcnt = read_num(REFCNT_PATH);
	self->vmalloc_kb = test_meminfo_kb("VmallocUsed");

	snprintf(sh->hname, sizeof(sh->hname), "hx-%d", (int)getpid());
	snprintf(sh->cpath, sizeof(sh->cpath), DMXP_DEVICE ":hc-%d", (int)getpid());
	ASSERT_EQ(0, dmxp_region_open(sh->cpath, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->clean));
	ASSERT_EQ(0, dmxp_chan_create(self->clean, CLEAN_CH, CLEAN_CAP));

	self->dev = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, xioctl(self->dev, DMXP_IOC_VERSION, &v));
	memset(&rq, 0, sizeof(rq));
	snprintf(rq.name, sizeof(rq.name), "%s", sh->hname);
	rq.size = HOSTILE_SIZE;
	rq.mode = 0600;
	rq.flags = DMXP_REGION_CREATE | DMXP_REGION_EXCL;
	ASSERT_EQ(0, xioctl(self->dev, DMXP_IOC_REGION_CREATE, &rq));
	ASSERT_EQ(HOSTILE_SIZE, rq.size);
	for (ch = 0; ch < NCH; ch++) {
		__u64 cap = ch ? 4ULL << (ch % 6) : FLOOD_CAP;

		ASSERT_EQ(0, ioc_chan_create(self->dev, ch, cap, &off));
		sh->geo_cap[ch] = cap;
		sh->geo_off[ch] = off;
	}
}

FIXTURE_TEARDOWN(hostile)
{
	int status[MAX_WORKERS], i;

	if (self->nodev)
		return;
	/* Whatever is left after a failure; one stuck in the kernel stays. */
	for (i = 0; i < sh->nworkers; i++)
		if (sh->w[i].pid > 0)
			kill(sh->w[i].pid, SIGKILL);
	for (i = 0; i < 20 && !reap(_metadata, status); i++)
		test_sleep_ms(100);
	if (self->clean)
		dmxp_region_close(self->clean);
	dmxp_region_unlink(sh->cpath);
	if (self->dev >= 0) {
		region_destroy(self->dev, sh->hname);
		close(self->dev);
	}
	munmap(sh, sizeof(*sh));
}

/*
 * Once everything is destroyed and closed, the module is back where it
 * started: the same regions in sysfs, the same module reference count
 * (open files and mappings), and no region memory left in vmalloc.
 */
static void check_accounting(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	char regions[4096], path[160];
	long long kb, clean_sent = LOAD(sh->clean_sent);

	/* The clean region's books balance: every message and the end marker. */
	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%d/head", sh->cpath + sizeof(DMXP_DEVICE),
		 CLEAN_CH);
	EXPECT_EQ(clean_sent + 1, read_num(path));
	snprintf(path, sizeof(path), SYSFS_DIR "/%s/ch%d/tail", sh->cpath + sizeof(DMXP_DEVICE),
		 CLEAN_CH);
	EXPECT_EQ(clean_sent + 1, read_num(path));
	EXPECT_EQ(clean_sent, LOAD(sh->clean_recv));
	ksft_print_msg("clean region: %llu messages in order\n", (unsigned long long)clean_sent);
	fflush(stdout);

	dmxp_region_close(self->clean);
	self->clean = NULL;
	EXPECT_EQ(0, dmxp_region_unlink(sh->cpath));
	if (!LOAD(sh->gone)) {
		struct dmxp_ioc_region rq;

		memset(&rq, 0, sizeof(rq));
		snprintf(rq.name, sizeof(rq.name), "%s", sh->hname);
		EXPECT_EQ(0, xioctl(self->dev, DMXP_IOC_REGION_DESTROY, &rq));
	}
	close(self->dev);
	self->dev = -1;

	sysfs_regions(regions, sizeof(regions));
	EXPECT_STREQ(self->regions, regions);
	EXPECT_EQ(self->refcnt, read_num(REFCNT_PATH));
	kb = test_meminfo_kb("VmallocUsed");
	/* A leaked region would be its 4 MiB; the rest is noise. */
	EXPECT_GT(self->vmalloc_kb + (long long)(HOSTILE_SIZE / 2048), kb) {
		TH_LOG("VmallocUsed %lld kB at the start, %lld kB now", self->vmalloc_kb, kb);
	}
}

/*
 * Everything at once on the hostile region, with the clean pair next
 * door; at the end the hostile region is destroyed while still in use.
 */
TEST_F_TIMEOUT(hostile, scribble, 3600)
{
	NEED_DEV();
	ksft_print_msg("main phase: %lld s\n", self->seconds);
	fflush(stdout);
	spawn(_metadata, K_CLEAN_TX);
	spawn(_metadata, K_CLEAN_RX);
	spawn(_metadata, K_SCRIBBLE);
	spawn(_metadata, K_SCRIBBLE);
	spawn(_metadata, K_IO);
	spawn(_metadata, K_IO);
	spawn(_metadata, K_POLL);
	spawn(_metadata, K_CTL);
	supervise(_metadata, self->dev, self->seconds * SEC, true);
	EXPECT_LT(1000, LOAD(sh->clean_sent));
	check_accounting(_metadata, self);
}

/*
 * A producer keeps a channel full of tombstones, which read() skips:
 * a blocking read() keeps finding work, and must still give way to a
 * signal.  The clean pair runs meanwhile.
 */
TEST_F_TIMEOUT(hostile, tombstone_flood, 600)
{
	NEED_DEV();
	/* The flood and the reader need a CPU each: the clean pair trickles. */
	sh->clean_pace_us = 500;
	spawn(_metadata, K_CLEAN_TX);
	spawn(_metadata, K_CLEAN_RX);
	spawn(_metadata, K_FLOOD);
	spawn(_metadata, K_BLOCKED_READ);
	supervise(_metadata, self->dev, (self->seconds > 12 ? self->seconds / 3 : 4) * SEC,
		  false);
	EXPECT_LT(100, LOAD(sh->clean_sent));
	check_accounting(_metadata, self);
}

TEST_HARNESS_MAIN
