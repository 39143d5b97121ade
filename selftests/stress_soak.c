// SPDX-License-Identifier: MIT
/*
 * Soak test: many producer and consumer processes on several channels,
 * for a long time, while channels are destroyed and created under them
 * and the processes themselves are replaced all the time.
 *
 * Channels.  Four data channels of 2, 4, 64 and 1024 slots live for the
 * whole run and are checked strictly: every message sent on them is
 * received exactly once.  Two churn channels are destroyed and created
 * again (with a random capacity) every few milliseconds to few hundred
 * milliseconds by a churner process while the workers use them; workers
 * get -EIDRM (or -ENOENT) and open them again.  A message on a churn
 * channel may be lost only because its channel was destroyed: every
 * message sent through the last incarnation of a churn channel must
 * arrive.  dmxp_chan_destroy() lets a call already in progress complete
 * on the old ring memory, which a new channel may reuse; so before
 * creating again, the churner waits until no worker is still inside a
 * call it started before the destroy (each worker announces the churn
 * channel it is in a call on, see busy_enter()).
 *
 * Workers.  Producers pick a channel and an operation at random:
 * dmxp_chan_send(), dmxp_chan_send_wait() with a random timeout (0, 1 us
 * .. 50 ms), dmxp_chan_send_batch(), bursts of sends, reserve + commit
 * (writing the message in place), reserve + abort (a tombstone, which no
 * consumer may ever see) and pauses that let consumers fall asleep.
 * Consumers mix dmxp_chan_recv(), receives into a too-small buffer
 * (-EMSGSIZE, the message stays), dmxp_chan_recv_wait() with random
 * timeouts, dmxp_chan_recv_batch() (some buffers too small) and
 * peek + release (checked in place).  A wait that times out must have
 * waited its timeout.
 *
 * Messages.  Payloads are 0..960 bytes.  From 32 bytes on, a message
 * starts with its producer, channel, the producer's incarnation, its
 * sequence number (per producer and channel), its length and a checksum
 * of everything else; the body is random.  Every message also carries
 * producer, channel and the sequence's low 25 bits in its message_type,
 * which is all a shorter message has room for: its bytes are then a
 * function of (producer, channel, sequence, length).  Consumers check the
 * checksum, the metadata (sender pid against the producer's incarnation),
 * that each producer's sequence strictly increases on each channel as
 * each consumer sees it, and that message_id strictly increases on each
 * data channel; they record each message in a bitmap in a private
 * MAP_SHARED mapping (a second arrival is a duplicate).  At the end every
 * sequence sent on a data channel must be in the bitmap, and the data
 * channels' head and tail must equal the messages plus tombstones sent.
 *
 * Restarts.  Every worker exits cleanly after a random 50 ms .. 2 s,
 * closing its handles, and the supervisor (the test process) starts a new
 * process in its place, which opens the region again; a producer goes on
 * with its sequences where the previous one stopped (kept in the
 * bookkeeping mapping, not in the region).
 *
 * Kills (unless --no-kill or DMXP_SOAK_KILL=0): the supervisor also
 * SIGKILLs workers at random moments, in the middle of any call.  Their
 * claims are repaired (Documentation/RELIABILITY.md), so the channels go
 * on.  The accounting then allows, on each channel, the messages a killed
 * producer was sending (its sequence range in flight: they may be
 * missing) and as many messages as a killed consumer's receive in
 * progress could claim; everything else stays strict.  A channel that
 * stays stuck behind a dead claim is reported by the watchdog with the
 * state of its slots.
 *
 * Duration: DMXP_STRESS_SECONDS (default 15) of sending, then the
 * consumers drain the channels.  Every wait is bounded: no progress for
 * a while, a worker stuck in one operation, or a phase that does not end
 * is reported as a failure with the state of every channel and worker.
 * The seed is printed; DMXP_SOAK_SEED=N (or --seed N) reuses it.
 *
 * Options (before or among the harness's): --kill, --no-kill, --seed N,
 * --producers N (1..16, default 5), --consumers N (1..16, default 5),
 * --seconds N; or DMXP_SOAK_KILL, DMXP_SOAK_SEED, DMXP_SOAK_PRODUCERS,
 * DMXP_SOAK_CONSUMERS.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "common.h"

#define SOAK_MAGIC	0x4b414f53u	/* "SOAK" */
#define TOMB_MAGIC	0x424d4f54u	/* "TOMB": written into aborted reservations */

#define MAX_PRODUCERS	16
#define MAX_CONSUMERS	16
#define MAX_WORKERS	(MAX_PRODUCERS + MAX_CONSUMERS)
#define CHURNER		MAX_WORKERS	/* the churner's index in shared->w[] */
#define NR_DATA		4
#define NR_CHURN	2
#define NR_CHANS	(NR_DATA + NR_CHURN)
#define MAX_BATCH	16

#define DEFAULT_SECONDS		15
#define DEFAULT_PRODUCERS	5
#define DEFAULT_CONSUMERS	5

/* message_type: producer (4 bits), channel index (3), sequence (low 25). */
#define TYPE_SEQ_BITS	25
#define TYPE_SEQ_MASK	((1ULL << TYPE_SEQ_BITS) - 1)

/* A worker lives this long before it exits and is replaced. */
#define LIFE_MIN_NS	50000000LL
#define LIFE_RANGE_NS	1950000000LL

#define MAX_INC		16384	/* incarnations of a producer slot recorded */
#define MAX_MAYBE	65536	/* in-flight ranges of killed producers */

/*
 * Received-bitmaps: per (producer, channel) a table of chunks of 2^20
 * sequences, allocated from one arena as the producer gets there.
 */
#define CHUNK_SHIFT	20
#define CHUNK_WORDS	((1U << CHUNK_SHIFT) / 64)
#define MAX_CHUNKS	4096
/* Sizing of the arena: messages per second it has room for, at least. */
#define ARENA_RATE	4000000ULL

static const struct {
	unsigned int id;
	unsigned int capacity;	/* 0: random, churn channels */
	bool churn;
} chans[NR_CHANS] = {
	{ 10, 2, false }, { 11, 4, false }, { 12, 64, false }, { 13, 1024, false },
	{ 200, 0, true }, { 201, 0, true },
};

static const unsigned int churn_caps[] = { 2, 4, 8, 16, 64, 256 };

struct soak_hdr {
	__u32	magic;
	__u16	producer;
	__u16	chan;		/* channel index */
	__u32	incarnation;	/* of the producer process */
	__u32	len;		/* payload bytes, this header included */
	__u64	seq;
	__u64	sum;		/* msg_sum(): every other byte of the payload */
};
#define HDR	sizeof(struct soak_hdr)

enum { ROLE_PRODUCER, ROLE_CONSUMER, ROLE_CHURNER };
static const char *const role_names[] = { "producer", "consumer", "churner" };

/* What a process is doing, for the state dump. */
enum {
	OP_START, OP_EXIT, OP_SEND, OP_SEND_WAIT, OP_BATCH, OP_BURST, OP_COMMIT,
	OP_ABORT, OP_PAUSE, OP_RECV, OP_RECV_SMALL, OP_RECV_WAIT, OP_RECV_BATCH,
	OP_PEEK, OP_CREATE, OP_DESTROY, OP_QUIESCE, OP_SLEEP, NR_OPS
};
static const char *const op_names[NR_OPS] = {
	"start", "exit", "send", "send_wait", "send_batch", "burst", "reserve+commit",
	"reserve+abort", "pause", "recv", "recv(small buffer)", "recv_wait", "recv_batch",
	"peek+release", "create", "destroy", "quiesce", "sleep",
};

enum {
	S_SEND, S_SEND_WAIT, S_BATCH, S_BATCH_MSGS, S_BURST, S_COMMIT, S_ABORT,
	S_FULL, S_SEND_TIMEOUT, S_RECV, S_RECV_SMALL, S_EMSGSIZE, S_RECV_WAIT,
	S_RECV_TIMEOUT, S_RECV_BATCH, S_RECV_BATCH_MSGS, S_PEEK, S_EMPTY, S_SHORT,
	S_EIDRM, S_ENOENT, S_OPEN, S_PAUSE, NR_STATS
};
static const char *const stat_names[NR_STATS] = {
	"send", "send_wait", "send_batch", "batched msgs", "bursts", "commit", "abort",
	"full", "send timeouts", "recv", "recv small", "EMSGSIZE", "recv_wait",
	"recv timeouts", "recv_batch", "batch-received", "peek", "empty", "short msgs",
	"EIDRM/ENOENT", "absent at open", "opens", "pauses",
};

enum {
	E_CORRUPT, E_TOMBSTONE, E_META, E_ORDER, E_DUP, E_LOST, E_API, E_TIMING,
	E_STALL, E_CHILD, E_BOOK, NR_ERRS
};
static const char *const err_names[NR_ERRS] = {
	"corrupt", "tombstone", "meta", "order", "duplicate", "lost", "api", "timing",
	"stall", "child", "bookkeeping",
};

/* One process slot; counters add up over its incarnations. */
struct worker {
	__s32	pid;		/* the process in the slot now; 0: none */
	__u32	incarnation;
	__u32	killed;		/* the supervisor sent it SIGKILL */
	__u32	op, chan;	/* what it is doing */
	__u64	busy;		/* see busy_enter() */
	__u64	busy_count;
	__u64	ops;		/* heartbeat */
	long long spawned_ns, kill_at_ns, op_ns;
	__u64	sent[NR_CHANS], received[NR_CHANS], aborted[NR_CHANS];
	__u64	stat[NR_STATS];
} __attribute__((aligned(128)));

struct prod_book {
	__u32	incarnations;		/* spawned so far */
	__u32	pair_full;		/* the bitmap arena ran out */
	__u64	next[NR_CHANS];		/* the next sequence on each channel */
	__u64	hi[NR_CHANS];		/* sequences below may be in a ring */
	__u32	gen[NR_CHANS];		/* churn: generation of the last handle opened */
	__u64	gen_first[NR_CHANS];	/* churn: the first sequence sent through it */
} __attribute__((aligned(128)));

struct cons_book {
	__u32	incarnations;
	__u32	inflight;		/* (channel index + 1) | most claimable << 8 */
	__s64	last_seq[NR_CHANS][MAX_PRODUCERS];
	__u64	last_pos[NR_CHANS];	/* data: message_id + 1 of the last message */
} __attribute__((aligned(128)));

/* Sequences [lo, hi) a killed producer may or may not have sent. */
struct maybe {
	__u32	p, ch;
	__u64	lo, hi;
};

/* The private bookkeeping, MAP_SHARED between the test's processes. */
struct shared {
	__u64	seed;
	__u32	np, nc, kill, secs;
	__u32	stop_produce, stop_all, abort;		/* atomic */
	__u32	errors[NR_ERRS];			/* atomic */
	__u32	first_error_taken;
	char	first_error[512];
	__u64	clean_exits[2], kills[2];
	__u64	creates[NR_CHANS], destroys[NR_CHANS];
	__u64	quiesce_waits, quiesce_max_ns;
	__u64	allowance[NR_CHANS];	/* kill: claimed by killed consumers */
	long long max_overrun_ns;	/* atomic: a wait's time past its timeout */
	__u32	nr_maybe;
	__u32	arena_next, arena_chunks;	/* atomic */
	struct maybe maybe[MAX_MAYBE];
	struct worker w[MAX_WORKERS + 1];
	struct prod_book prod[MAX_PRODUCERS];
	struct cons_book cons[MAX_CONSUMERS];
	__u32	pid_hist[MAX_PRODUCERS][MAX_INC];
	__u32	chunk[MAX_PRODUCERS][NR_CHANS][MAX_CHUNKS];	/* arena index + 1 */
};

static struct {
	bool kill;
	bool seed_set;
	__u64 seed;
	unsigned int np, nc, secs;
} opt = { .np = DEFAULT_PRODUCERS, .nc = DEFAULT_CONSUMERS };

/* Set by the test before it forks; every process of the run shares them. */
static struct shared *sh;
static __u64 *arena;
static const char *region_path;

/* ------------------------------------------------------------- utilities */

static __u64 mix64(__u64 x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

static __u64 rng(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned int rnd(__u64 *s, unsigned int n)
{
	return (unsigned int)((rng(s) >> 32) % n);
}

static long long rnd_ns(__u64 *s, long long n)
{
	return n > 0 ? (long long)(rng(s) % (__u64)n) : 0;
}

static unsigned int pick(__u64 *s, const unsigned int *weights, unsigned int n)
{
	unsigned int i, total = 0, r;

	for (i = 0; i < n; i++)
		total += weights[i];
	r = rnd(s, total);
	for (i = 0; i < n; i++) {
		if (r < weights[i])
			return i;
		r -= weights[i];
	}
	return n - 1;
}

static void sleep_ns(long long ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL) };

	nanosleep(&ts, NULL);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# %s\n", line);
}

static void note_error(unsigned int kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note_error(unsigned int kind, const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(&sh->errors[kind], 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&sh->first_error_taken, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->first_error, sizeof(sh->first_error), fmt, ap);
	va_end(ap);
}

static bool flag(const __u32 *f)
{
	return __atomic_load_n(f, __ATOMIC_ACQUIRE);
}

/* A counter with a single writer (its process), read by the supervisor. */
static void bump(__u64 *c, __u64 n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

static __u64 ld(const __u64 *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static unsigned int role_of(unsigned int i)
{
	return i == CHURNER ? ROLE_CHURNER : i < sh->np ? ROLE_PRODUCER : ROLE_CONSUMER;
}

static unsigned int slot_of(unsigned int i)
{
	return i < sh->np ? i : i - sh->np;
}

static bool in_use(unsigned int i)
{
	return i == CHURNER || i < sh->np + sh->nc;
}

/* "producer 3.17": role, slot and incarnation of process slot @i. */
static const char *who(unsigned int i, char *buf, size_t len)
{
	if (i == CHURNER)
		snprintf(buf, len, "churner");
	else
		snprintf(buf, len, "%s %u.%u", role_names[role_of(i)], slot_of(i),
			 sh->w[i].incarnation);
	return buf;
}

static __u32 chan_gen(const struct dmxp_global_header *hdr, unsigned int ch)
{
	return __atomic_load_n(&hdr->channels[chans[ch].id].generation, __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------- messages */

static __u64 hash_mix(__u64 h, __u64 w)
{
	h ^= w * 0x9E3779B97F4A7C15ULL;
	h = (h << 31 | h >> 33) * 0xC2B2AE3D27D4EB4FULL;
	return h;
}

static __u64 hash_bytes(__u64 h, const unsigned char *p, size_t n)
{
	__u64 w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = hash_mix(h, w);
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = hash_mix(h, w ^ (__u64)n << 56);
	}
	return h;
}

/* The checksum of a message of @len >= HDR bytes: all but the sum field. */
static __u64 msg_sum(const unsigned char *p, size_t len)
{
	__u64 h = hash_bytes(0x736f616bULL, p, offsetof(struct soak_hdr, sum));

	h = hash_bytes(h, p + HDR, len - HDR);
	return mix64(h ^ len);
}

static __u32 msg_type(unsigned int p, unsigned int ch, __u64 seq)
{
	return (__u32)p << 28 | (__u32)ch << TYPE_SEQ_BITS | (__u32)(seq & TYPE_SEQ_MASK);
}

/* The bytes of a message shorter than its header. */
static void short_fill(unsigned char *b, size_t len, unsigned int p, unsigned int ch,
		       __u64 seq)
{
	__u64 s = mix64(seq << 8 ^ (__u64)p << 4 ^ ch ^ (__u64)len << 56) | 1;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(rng(&s) >> 56);
}

/* Payload length: every one of 0..960, with 0, 960 and the short ones often. */
static size_t pick_len(__u64 *rs)
{
	unsigned int r = rnd(rs, 100);

	if (r < 8)
		return 0;
	if (r < 13)
		return DMXP_MAX_PAYLOAD;
	if (r < 21)
		return 1 + rnd(rs, HDR - 1);
	if (r < 25)
		return HDR;
	return rnd(rs, DMXP_MAX_PAYLOAD + 1);
}

/* Write message (@p, @ch, @seq) of @len bytes at @b (maybe a slot). */
static void build_msg(unsigned char *b, size_t len, unsigned int p, unsigned int ch,
		      __u32 inc, __u64 seq, __u64 *rs)
{
	struct soak_hdr h = {
		.magic = SOAK_MAGIC, .producer = (__u16)p, .chan = (__u16)ch,
		.incarnation = inc, .len = (__u32)len, .seq = seq,
	};
	unsigned char *body = b + HDR;
	size_t n;
	__u64 w;

	if (len < HDR) {
		short_fill(b, len, p, ch, seq);
		return;
	}
	for (n = len - HDR; n >= 8; body += 8, n -= 8) {
		w = rng(rs);
		memcpy(body, &w, 8);
	}
	if (n) {
		w = rng(rs);
		memcpy(body, &w, n);
	}
	memcpy(b, &h, HDR);
	h.sum = msg_sum(b, len);
	memcpy(b + offsetof(struct soak_hdr, sum), &h.sum, sizeof(h.sum));
}

/* --------------------------------------------------------------- bitmaps */

/* Make sure sequences [@lo, @lo + @n) of (@p, @ch) have bitmap chunks. */
static bool chunk_ensure(unsigned int p, unsigned int ch, __u64 lo, unsigned int n)
{
	__u64 ci, last = (lo + n - 1) >> CHUNK_SHIFT;

	for (ci = lo >> CHUNK_SHIFT; ci <= last; ci++) {
		__u32 idx;

		if (ci >= MAX_CHUNKS)
			return false;
		if (__atomic_load_n(&sh->chunk[p][ch][ci], __ATOMIC_RELAXED))
			continue;
		idx = __atomic_fetch_add(&sh->arena_next, 1, __ATOMIC_RELAXED);
		if (idx >= sh->arena_chunks)
			return false;
		__atomic_store_n(&sh->chunk[p][ch][ci], idx + 1, __ATOMIC_RELEASE);
	}
	return true;
}

static __u64 *bit_word(unsigned int p, unsigned int ch, __u64 seq)
{
	__u64 ci = seq >> CHUNK_SHIFT;
	__u32 c;

	if (ci >= MAX_CHUNKS)
		return NULL;
	c = __atomic_load_n(&sh->chunk[p][ch][ci], __ATOMIC_ACQUIRE);
	if (!c)
		return NULL;
	return arena + (size_t)(c - 1) * CHUNK_WORDS +
	       (seq & ((1ULL << CHUNK_SHIFT) - 1)) / 64;
}

/* ---------------------------------------------------------------- workers */

struct wctx {
	struct dmxp_region *r;
	const struct dmxp_global_header *hdr;
	struct dmxp_chan *h[NR_CHANS];
	long long retry_ns[NR_CHANS];
	struct worker *ws;
	unsigned int idx, role, slot;
	__u32 inc;
	__u64 rs;
};

static void count(struct wctx *w, unsigned int s, __u64 n)
{
	bump(&w->ws->stat[s], n);
}

static void set_op(struct wctx *w, unsigned int op, unsigned int ch)
{
	w->ws->op = op;
	w->ws->chan = ch;
	__atomic_store_n(&w->ws->op_ns, test_now_ns(), __ATOMIC_RELAXED);
}

/*
 * Announce a call on churn channel @ch.  The churner, after destroying a
 * channel, waits for every worker it sees announced on it to finish: its
 * call may still touch the old ring.  A call that starts after the
 * destroy gets -EIDRM: the store here and the library's read of the
 * generation are ordered against the churner's destroy and its read of
 * the announcement by the full fences on both sides.
 */
static void busy_enter(struct wctx *w, unsigned int ch)
{
	__u64 n;

	if (!chans[ch].churn)
		return;
	n = ++w->ws->busy_count;
	__atomic_store_n(&w->ws->busy, (__u64)(ch + 1) | n << 8, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void busy_exit(struct wctx *w)
{
	__atomic_store_n(&w->ws->busy, 0, __ATOMIC_RELEASE);
}

static void chan_drop(struct wctx *w, unsigned int ch)
{
	dmxp_chan_close(w->h[ch]);
	w->h[ch] = NULL;
}

/* The worker's handle of channel @ch, opened if need be; NULL if absent. */
static struct dmxp_chan *chan_get(struct wctx *w, unsigned int ch)
{
	static const unsigned int spins[] = { 0, 1000, 20000, 100000 };
	struct dmxp_chan *c;
	__u32 g1, g2;
	int ret;

	if (w->h[ch])
		return w->h[ch];
	if (w->retry_ns[ch] && test_now_ns() < w->retry_ns[ch])
		return NULL;
	g1 = chan_gen(w->hdr, ch);
	ret = dmxp_chan_open(w->r, chans[ch].id, &c);
	g2 = chan_gen(w->hdr, ch);
	if (!ret && g1 != g2) {
		/* Re-created under us: the handle's generation is unknown. */
		dmxp_chan_close(c);
		ret = -EBUSY;
	}
	if (ret) {
		if (chans[ch].churn && (ret == -ENOENT || ret == -EBUSY)) {
			count(w, S_ENOENT, 1);
			w->retry_ns[ch] = test_now_ns() + 200000 + rnd_ns(&w->rs, 2000000);
			return NULL;
		}
		note_error(E_API, "%s %u.%u: open channel %u: %d", role_names[w->role],
			   w->slot, w->inc, chans[ch].id, ret);
		w->retry_ns[ch] = test_now_ns() + 100000000;
		return NULL;
	}
	w->retry_ns[ch] = 0;
	ret = dmxp_chan_set_spin(c, spins[rnd(&w->rs, 4)]);
	if (ret)
		note_error(E_API, "set_spin: %d", ret);
	if (w->role == ROLE_PRODUCER && chans[ch].churn) {
		struct prod_book *pb = &sh->prod[w->slot];

		if (pb->gen[ch] != g1) {
			pb->gen_first[ch] = pb->next[ch];
			__atomic_store_n(&pb->gen[ch], g1, __ATOMIC_RELEASE);
		}
	}
	w->h[ch] = c;
	count(w, S_OPEN, 1);
	return c;
}

/* A call on @ch failed with @ret, neither -EAGAIN nor -ETIMEDOUT. */
static void call_failed(struct wctx *w, unsigned int ch, int ret, const char *what)
{
	if (chans[ch].churn && (ret == -EIDRM || ret == -ENOENT)) {
		count(w, S_EIDRM, 1);
		chan_drop(w, ch);
		return;
	}
	note_error(E_API, "%s %u.%u: %s on channel %u: %d", role_names[w->role], w->slot,
		   w->inc, what, chans[ch].id, ret);
	chan_drop(w, ch);
}

/* The timeouts of the _wait calls, and how often each is picked. */
static const long long wait_ns[] = {
	0, 1000, 10000, 100000, 1000000, 5000000, 20000000, 50000000,
};
static const unsigned int wait_weights[] = { 4, 2, 2, 2, 3, 2, 1, 1 };

static long long pick_wait(struct wctx *w)
{
	return wait_ns[pick(&w->rs, wait_weights, ARRAY_SIZE(wait_ns))];
}

/* Check a _wait call's result against its timeout @t and duration. */
static void check_wait(struct wctx *w, unsigned int ch, const char *what, long long t,
		       long long elapsed, long ret)
{
	long long over = elapsed - t, max;

	if (ret == -ETIMEDOUT && t == 0)
		note_error(E_API, "%s on channel %u: -ETIMEDOUT with timeout 0", what,
			   chans[ch].id);
	else if (ret == -ETIMEDOUT && elapsed < t)
		note_error(E_TIMING, "%s on channel %u: timed out after %lld of %lld ns", what,
			   chans[ch].id, elapsed, t);
	else if (ret == -EAGAIN && t != 0)
		note_error(E_API, "%s on channel %u: -EAGAIN with timeout %lld ns", what,
			   chans[ch].id, t);
	if (t <= 0)
		return;
	max = __atomic_load_n(&sh->max_overrun_ns, __ATOMIC_RELAXED);
	while (over > max &&
	       !__atomic_compare_exchange_n(&sh->max_overrun_ns, &max, over, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (over > 10000000000LL)
		note_error(E_TIMING, "%s on channel %u: returned %ld after %lld ns, timeout %lld",
			   what, chans[ch].id, ret, elapsed, t);
}

static void producer_abort(struct wctx *w, struct dmxp_chan *c, unsigned int ch)
{
	struct soak_hdr t = {
		.magic = TOMB_MAGIC, .producer = (__u16)w->slot, .chan = (__u16)ch,
		.incarnation = w->inc, .seq = ~0ULL,
	};
	struct dmxp_ref ref;
	int ret;

	busy_enter(w, ch);
	ret = dmxp_chan_reserve(c, &ref);
	if (!ret) {
		/* A half-written message: no consumer may ever see it. */
		memcpy(ref.payload, &t, HDR);
		memset((char *)ref.payload + HDR, 0xa5, rnd(&w->rs, DMXP_MAX_PAYLOAD - HDR));
		if (!rnd(&w->rs, 16))
			sched_yield();
		dmxp_chan_abort(c, &ref);
	}
	busy_exit(w);
	if (!ret) {
		count(w, S_ABORT, 1);
		bump(&w->ws->aborted[ch], 1);
	} else if (ret == -EAGAIN) {
		count(w, S_FULL, 1);
	} else {
		call_failed(w, ch, ret, "reserve");
	}
}

static void producer_op(struct wctx *w)
{
	static const unsigned int weights[] = {
		[OP_SEND] = 20, [OP_SEND_WAIT] = 20, [OP_BATCH] = 20, [OP_BURST] = 12,
		[OP_COMMIT] = 15, [OP_ABORT] = 4, [OP_PAUSE] = 1,
	};
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct prod_book *pb = &sh->prod[w->slot];
	struct dmxp_smsg msgs[MAX_BATCH];
	unsigned int ch, op, n = 1, i, sent = 0;
	struct dmxp_chan *c;
	__u64 seq0;
	int ret = 0;

	ch = rnd(&w->rs, 100) < 78 ? rnd(&w->rs, NR_DATA) : NR_DATA + rnd(&w->rs, NR_CHURN);
	op = pick(&w->rs, weights, OP_PAUSE + 1);
	set_op(w, op, ch);
	if (op == OP_PAUSE) {
		count(w, S_PAUSE, 1);
		sleep_ns(rnd_ns(&w->rs, 2000000));
		return;
	}
	c = chan_get(w, ch);
	if (!c) {
		sched_yield();
		return;
	}
	if (op == OP_ABORT) {
		producer_abort(w, c, ch);
		return;
	}
	if (op == OP_BATCH)
		n = 1 + rnd(&w->rs, MAX_BATCH);
	else if (op == OP_BURST)
		n = 2 + rnd(&w->rs, MAX_BATCH - 1);

	seq0 = pb->next[ch];
	if (!chunk_ensure(w->slot, ch, seq0, n)) {
		if (!pb->pair_full)
			note_error(E_BOOK, "producer %u: no bitmap room for channel %u at %llu",
				   w->slot, chans[ch].id, (unsigned long long)seq0);
		pb->pair_full = 1;
		sleep_ns(1000000);
		return;
	}
	if (op != OP_COMMIT) {
		for (i = 0; i < n; i++) {
			size_t len = pick_len(&w->rs);

			build_msg(bufs[i], len, w->slot, ch, w->inc, seq0 + i, &w->rs);
			msgs[i].buf = bufs[i];
			msgs[i].len = (__u32)len;
			msgs[i].type = msg_type(w->slot, ch, seq0 + i);
		}
	}
	/* From here until hi comes down, [seq0, seq0 + n) may be in the ring. */
	__atomic_store_n(&pb->hi[ch], seq0 + n, __ATOMIC_RELEASE);
	busy_enter(w, ch);
	switch (op) {
	case OP_SEND:
		ret = dmxp_chan_send(c, msgs[0].buf, msgs[0].len, msgs[0].type);
		sent = !ret;
		count(w, S_SEND, 1);
		break;
	case OP_SEND_WAIT: {
		long long t = pick_wait(w), t0 = test_now_ns();

		ret = dmxp_chan_send_wait(c, msgs[0].buf, msgs[0].len, msgs[0].type, t);
		check_wait(w, ch, "send_wait", t, test_now_ns() - t0, ret);
		sent = !ret;
		count(w, S_SEND_WAIT, 1);
		if (ret == -ETIMEDOUT)
			count(w, S_SEND_TIMEOUT, 1);
		break;
	}
	case OP_BATCH:
		ret = dmxp_chan_send_batch(c, msgs, n);
		if (ret > (int)n) {
			note_error(E_API, "send_batch(%u) returned %d", n, ret);
			ret = (int)n;
		}
		if (ret > 0) {
			sent = (unsigned int)ret;
			ret = 0;
		}
		count(w, S_BATCH, 1);
		count(w, S_BATCH_MSGS, sent);
		break;
	case OP_BURST:
		for (i = 0; i < n; i++) {
			ret = dmxp_chan_send(c, msgs[i].buf, msgs[i].len, msgs[i].type);
			if (ret)
				break;
			sent++;
		}
		if (sent)
			ret = 0;	/* the rest did not fit: fine */
		count(w, S_BURST, 1);
		break;
	case OP_COMMIT: {
		struct dmxp_ref ref;

		ret = dmxp_chan_reserve(c, &ref);
		if (ret)
			break;
		/* Written in place, in the slot. */
		msgs[0].len = (__u32)pick_len(&w->rs);
		build_msg(ref.payload, msgs[0].len, w->slot, ch, w->inc, seq0, &w->rs);
		if (!rnd(&w->rs, 16))
			sched_yield();	/* consumers behind us wait */
		ret = dmxp_chan_commit(c, &ref, msgs[0].len, msg_type(w->slot, ch, seq0));
		sent = !ret;
		count(w, S_COMMIT, 1);
		break;
	}
	}
	busy_exit(w);
	__atomic_store_n(&pb->next[ch], seq0 + sent, __ATOMIC_RELAXED);
	__atomic_store_n(&pb->hi[ch], seq0 + sent, __ATOMIC_RELEASE);
	bump(&w->ws->sent[ch], sent);
	if (ret == -EAGAIN || ret == -ETIMEDOUT) {
		count(w, S_FULL, 1);
		if (ret == -EAGAIN)
			sched_yield();
	} else if (ret < 0) {
		call_failed(w, ch, ret, op_names[op]);
	}
}

/* Check one received message, then record it. */
static void check_msg(struct wctx *w, unsigned int ch, const unsigned char *buf,
		      size_t len, const struct dmxp_msg_meta *m)
{
	struct cons_book *cb = &sh->cons[w->slot];
	unsigned int p, mch;
	__u64 seq, hi, *word, bit;
	long long now = test_now_ns();

	bump(&w->ws->received[ch], 1);
	if (m->flags & DMXP_MSG_TOMBSTONE) {
		note_error(E_TOMBSTONE, "consumer %u.%u: a tombstone at id %llu on channel %u",
			   w->slot, w->inc, (unsigned long long)m->message_id, chans[ch].id);
		return;
	}
	if (len >= HDR && !memcmp(buf, &(__u32){ TOMB_MAGIC }, 4)) {
		note_error(E_TOMBSTONE,
			   "consumer %u.%u: an aborted reservation delivered, id %llu channel %u",
			   w->slot, w->inc, (unsigned long long)m->message_id, chans[ch].id);
		return;
	}
	if (m->payload_len != len || len > DMXP_MAX_PAYLOAD || m->channel_id != chans[ch].id ||
	    m->flags || m->__pad || m->sender_runtime != DMXP_RUNTIME_C || !m->timestamp_ns ||
	    m->timestamp_ns > (__u64)now) {
		note_error(E_META,
			   "consumer %u.%u: bad meta on channel %u: len %zu/%u chan %u flags %#x pad %u runtime %u ts %llu id %llu",
			   w->slot, w->inc, chans[ch].id, len, m->payload_len, m->channel_id,
			   m->flags, m->__pad, m->sender_runtime,
			   (unsigned long long)m->timestamp_ns, (unsigned long long)m->message_id);
		return;
	}
	p = m->message_type >> 28;
	mch = (m->message_type >> TYPE_SEQ_BITS) & 7;
	if (p >= sh->np || mch != ch) {
		note_error(E_CORRUPT, "consumer %u.%u: bad type %#x on channel %u, id %llu",
			   w->slot, w->inc, m->message_type, chans[ch].id,
			   (unsigned long long)m->message_id);
		return;
	}
	if (len >= HDR) {
		struct soak_hdr h;
		__u32 inc;

		memcpy(&h, buf, HDR);
		if (h.magic != SOAK_MAGIC || h.producer != p || h.chan != ch || h.len != len ||
		    (h.seq & TYPE_SEQ_MASK) != (m->message_type & TYPE_SEQ_MASK) ||
		    msg_sum(buf, len) != h.sum) {
			note_error(E_CORRUPT,
				   "consumer %u.%u: corrupt message on channel %u id %llu: magic %#x producer %u/%u chan %u len %u/%zu seq %llu type %#x sum %s",
				   w->slot, w->inc, chans[ch].id, (unsigned long long)m->message_id,
				   h.magic, h.producer, p, h.chan, h.len, len,
				   (unsigned long long)h.seq, m->message_type,
				   msg_sum(buf, len) == h.sum ? "ok" : "BAD");
			return;
		}
		seq = h.seq;
		inc = h.incarnation;
		if (inc >= MAX_INC ||
		    inc >= __atomic_load_n(&sh->prod[p].incarnations, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&sh->pid_hist[p][inc], __ATOMIC_ACQUIRE) != m->sender_pid)
			note_error(E_META,
				   "consumer %u.%u: producer %u seq %llu: incarnation %u, sender pid %u",
				   w->slot, w->inc, p, (unsigned long long)seq, inc, m->sender_pid);
	} else {
		unsigned char want[HDR];
		__u64 next = (__u64)(cb->last_seq[ch][p] + 1);
		__s64 i;

		/* The smallest sequence after the last one with these low bits. */
		seq = (next & ~TYPE_SEQ_MASK) | (m->message_type & TYPE_SEQ_MASK);
		if (seq < next)
			seq += TYPE_SEQ_MASK + 1;
		short_fill(want, len, p, ch, seq);
		if (memcmp(want, buf, len)) {
			note_error(E_CORRUPT,
				   "consumer %u.%u: corrupt short message (%zu bytes) of producer %u seq %llu on channel %u id %llu",
				   w->slot, w->inc, len, p, (unsigned long long)seq, chans[ch].id,
				   (unsigned long long)m->message_id);
			return;
		}
		i = __atomic_load_n(&sh->prod[p].incarnations, __ATOMIC_ACQUIRE);
		if (i > MAX_INC)
			i = MAX_INC;
		while (--i >= 0 &&
		       __atomic_load_n(&sh->pid_hist[p][i], __ATOMIC_ACQUIRE) != m->sender_pid)
			;
		if (i < 0)
			note_error(E_META, "consumer %u.%u: short message of producer %u from pid %u",
				   w->slot, w->inc, p, m->sender_pid);
		count(w, S_SHORT, 1);
	}

	hi = __atomic_load_n(&sh->prod[p].hi[ch], __ATOMIC_ACQUIRE);
	if (hi < __atomic_load_n(&sh->prod[p].next[ch], __ATOMIC_RELAXED))
		hi = __atomic_load_n(&sh->prod[p].next[ch], __ATOMIC_RELAXED);
	if (seq >= hi) {
		note_error(E_CORRUPT,
			   "consumer %u.%u: producer %u seq %llu on channel %u not sent yet (below %llu)",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id,
			   (unsigned long long)hi);
		return;
	}
	if ((__s64)seq <= cb->last_seq[ch][p])
		note_error(E_ORDER, "consumer %u.%u: producer %u seq %llu after %lld on channel %u",
			   w->slot, w->inc, p, (unsigned long long)seq,
			   (long long)cb->last_seq[ch][p], chans[ch].id);
	else
		cb->last_seq[ch][p] = (__s64)seq;
	if (!chans[ch].churn) {
		if (m->message_id + 1 <= cb->last_pos[ch])
			note_error(E_ORDER, "consumer %u.%u: message_id %llu after %llu on channel %u",
				   w->slot, w->inc, (unsigned long long)m->message_id,
				   (unsigned long long)cb->last_pos[ch] - 1, chans[ch].id);
		cb->last_pos[ch] = m->message_id + 1;
	}
	word = bit_word(p, ch, seq);
	if (!word) {
		note_error(E_BOOK, "consumer %u.%u: no bitmap for producer %u seq %llu channel %u",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id);
		return;
	}
	bit = 1ULL << (seq & 63);
	if (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit)
		note_error(E_DUP, "consumer %u.%u: producer %u seq %llu received twice on channel %u (id %llu)",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id,
			   (unsigned long long)m->message_id);
}

static void consumer_op(struct wctx *w)
{
	enum { C_RECV, C_SMALL, C_WAIT, C_BATCH, C_PEEK, C_PAUSE };
	static const unsigned int weights[] = {
		[C_RECV] = 20, [C_SMALL] = 8, [C_WAIT] = 25, [C_BATCH] = 25, [C_PEEK] = 20,
		[C_PAUSE] = 1,
	};
	static const unsigned int ops[] = {
		[C_RECV] = OP_RECV, [C_SMALL] = OP_RECV_SMALL, [C_WAIT] = OP_RECV_WAIT,
		[C_BATCH] = OP_RECV_BATCH, [C_PEEK] = OP_PEEK, [C_PAUSE] = OP_PAUSE,
	};
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct cons_book *cb = &sh->cons[w->slot];
	struct dmxp_msg_meta meta;
	unsigned int ch, kind, n = 1;
	struct dmxp_chan *c;
	long ret = 0;

	ch = rnd(&w->rs, 100) < 75 ? rnd(&w->rs, NR_DATA) : NR_DATA + rnd(&w->rs, NR_CHURN);
	kind = pick(&w->rs, weights, C_PAUSE + 1);
	set_op(w, ops[kind], ch);
	if (kind == C_PAUSE) {
		count(w, S_PAUSE, 1);
		sleep_ns(rnd_ns(&w->rs, 2000000));
		return;
	}
	c = chan_get(w, ch);
	if (!c) {
		sched_yield();
		return;
	}
	if (kind == C_BATCH)
		n = 1 + rnd(&w->rs, MAX_BATCH);
	__atomic_store_n(&cb->inflight, (ch + 1) | n << 8, __ATOMIC_RELEASE);
	busy_enter(w, ch);
	switch (kind) {
	case C_RECV:
		ret = dmxp_chan_recv(c, bufs[0], DMXP_MAX_PAYLOAD, &meta);
		if (ret >= 0)
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		count(w, S_RECV, 1);
		break;
	case C_SMALL: {
		size_t room = rnd(&w->rs, DMXP_MAX_PAYLOAD + 1);

		ret = dmxp_chan_recv(c, bufs[0], room, &meta);
		if (ret == -EMSGSIZE) {
			/* It stays in the ring; meta says how big it is. */
			if (meta.payload_len <= room || meta.payload_len > DMXP_MAX_PAYLOAD ||
			    meta.message_id || meta.message_type)
				note_error(E_API, "recv(%zu): -EMSGSIZE with payload_len %u", room,
					   meta.payload_len);
			count(w, S_EMSGSIZE, 1);
			ret = 0;
		} else if (ret >= 0) {
			if ((size_t)ret > room)
				note_error(E_API, "recv(%zu) returned %ld bytes", room, ret);
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		}
		count(w, S_RECV_SMALL, 1);
		break;
	}
	case C_WAIT: {
		long long t = pick_wait(w), t0 = test_now_ns();

		ret = dmxp_chan_recv_wait(c, bufs[0], DMXP_MAX_PAYLOAD, &meta, t);
		check_wait(w, ch, "recv_wait", t, test_now_ns() - t0, ret);
		if (ret >= 0)
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		count(w, S_RECV_WAIT, 1);
		if (ret == -ETIMEDOUT)
			count(w, S_RECV_TIMEOUT, 1);
		break;
	}
	case C_BATCH: {
		struct dmxp_rmsg msgs[MAX_BATCH];
		unsigned int k;

		for (k = 0; k < n; k++) {
			msgs[k].buf = bufs[k];
			msgs[k].buf_len = rnd(&w->rs, 10) ? DMXP_MAX_PAYLOAD :
				rnd(&w->rs, DMXP_MAX_PAYLOAD + 1);
		}
		ret = dmxp_chan_recv_batch(c, msgs, n);
		if (ret > (long)n) {
			note_error(E_API, "recv_batch(%u) returned %ld", n, ret);
			ret = n;
		}
		for (k = 0; ret > 0 && k < (unsigned int)ret; k++) {
			if (msgs[k].len > msgs[k].buf_len)
				note_error(E_API, "recv_batch: %u bytes into a buffer of %u",
					   msgs[k].len, msgs[k].buf_len);
			check_msg(w, ch, msgs[k].buf, msgs[k].len, &msgs[k].meta);
		}
		if (ret > 0)
			count(w, S_RECV_BATCH_MSGS, (__u64)ret);
		if (ret == -EMSGSIZE) {
			if (msgs[0].buf_len >= DMXP_MAX_PAYLOAD)
				note_error(E_API, "recv_batch: -EMSGSIZE into %u bytes",
					   msgs[0].buf_len);
			count(w, S_EMSGSIZE, 1);
		}
		if (ret > 0 || ret == -EMSGSIZE)
			ret = 0;
		count(w, S_RECV_BATCH, 1);
		break;
	}
	case C_PEEK: {
		struct dmxp_ref ref;

		ret = dmxp_chan_peek(c, &ref);
		if (!ret) {
			meta = *ref.meta;
			if (ref.len != meta.payload_len)
				note_error(E_META, "peek: len %u, meta says %u", ref.len,
					   meta.payload_len);
			/* Checked in place, in the slot. */
			check_msg(w, ch, ref.payload, ref.len, &meta);
			if (!rnd(&w->rs, 16))
				sched_yield();	/* producers a lap later wait */
			dmxp_chan_release(c, &ref);
		}
		count(w, S_PEEK, 1);
		break;
	}
	}
	busy_exit(w);
	__atomic_store_n(&cb->inflight, 0, __ATOMIC_RELEASE);
	if (ret == -EAGAIN || ret == -ETIMEDOUT) {
		count(w, S_EMPTY, 1);
		if (ret == -EAGAIN)
			sched_yield();
	} else if (ret < 0) {
		call_failed(w, ch, (int)ret, op_names[ops[kind]]);
	}
}

static int worker_main(unsigned int idx)
{
	struct wctx w = { .idx = idx };
	long long end;
	unsigned int ch;
	int ret;

	w.ws = &sh->w[idx];
	w.role = role_of(idx);
	w.slot = slot_of(idx);
	w.inc = w.ws->incarnation;
	w.rs = mix64(sh->seed ^ mix64((__u64)idx << 32 | w.inc)) | 1;
	ret = dmxp_region_open(region_path, 0, 0, &w.r);
	if (ret) {
		note_error(E_API, "%s %u.%u: region open: %d", role_names[w.role], w.slot, w.inc,
			   ret);
		return 10;
	}
	w.hdr = dmxp_region_header(w.r);
	if (w.role == ROLE_PRODUCER && w.inc < MAX_INC)
		__atomic_store_n(&sh->pid_hist[w.slot][w.inc], (__u32)getpid(), __ATOMIC_RELEASE);
	/* The last recordable incarnation stays to the end. */
	end = w.inc >= MAX_INC - 1 ? LLONG_MAX :
		test_now_ns() + LIFE_MIN_NS + rnd_ns(&w.rs, LIFE_RANGE_NS);

	for (;;) {
		if (flag(&sh->abort))
			break;
		if (flag(w.role == ROLE_PRODUCER ? &sh->stop_produce : &sh->stop_all))
			break;
		if (test_now_ns() > end)
			break;
		if (w.role == ROLE_PRODUCER)
			producer_op(&w);
		else
			consumer_op(&w);
		bump(&w.ws->ops, 1);
	}
	set_op(&w, OP_EXIT, 0);
	for (ch = 0; ch < NR_CHANS; ch++)
		chan_drop(&w, ch);
	dmxp_region_close(w.r);
	return 0;
}

/* ---------------------------------------------------------------- churner */

/*
 * After destroying churn channel @ch: wait until every worker that was in
 * a call on it has left that call (bounded; a killed worker's mark is
 * cleared by the supervisor when it reaps it).
 */
static void quiesce(unsigned int ch, long long max_ns)
{
	long long start = test_now_ns(), waited;
	unsigned int i;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < sh->np + sh->nc; i++) {
		__u64 v = __atomic_load_n(&sh->w[i].busy, __ATOMIC_SEQ_CST);

		if ((v & 0xff) != ch + 1)
			continue;
		while (__atomic_load_n(&sh->w[i].busy, __ATOMIC_ACQUIRE) == v) {
			if (test_now_ns() - start > max_ns) {
				char name[64];

				note_error(E_STALL,
					   "%s (pid %d) still in %s on destroyed channel %u after %lld ms",
					   who(i, name, sizeof(name)), sh->w[i].pid,
					   op_names[sh->w[i].op], chans[ch].id, max_ns / 1000000);
				break;
			}
			sleep_ns(20000);
		}
	}
	waited = test_now_ns() - start;
	sh->quiesce_waits++;
	if ((__u64)waited > sh->quiesce_max_ns)
		sh->quiesce_max_ns = (__u64)waited;
}

static long long churn_life(__u64 *rs)
{
	/* Now and then a channel is destroyed right after it was created. */
	return rnd(rs, 10) ? 5000000 + rnd_ns(rs, 300000000) : rnd_ns(rs, 1000000);
}

static int churner_main(long long quiesce_max_ns)
{
	struct worker *ws = &sh->w[CHURNER];
	long long next[NR_CHURN];
	bool exists[NR_CHURN];
	struct dmxp_region *r;
	__u64 rs = mix64(sh->seed ^ 0x636875726eULL) | 1;
	unsigned int k;
	int ret;

	ret = dmxp_region_open(region_path, 0, 0, &r);
	if (ret) {
		note_error(E_API, "churner: region open: %d", ret);
		return 10;
	}
	for (k = 0; k < NR_CHURN; k++) {
		exists[k] = true;	/* the test created them */
		next[k] = test_now_ns() + churn_life(&rs);
	}
	while (!flag(&sh->stop_produce) && !flag(&sh->abort)) {
		long long now = test_now_ns();

		for (k = 0; k < NR_CHURN; k++) {
			unsigned int ch = NR_DATA + k, id = chans[ch].id;

			if (now < next[k])
				continue;
			ws->chan = ch;
			__atomic_store_n(&ws->op_ns, now, __ATOMIC_RELAXED);
			if (exists[k]) {
				ws->op = OP_DESTROY;
				ret = dmxp_chan_destroy(r, id);
				if (ret) {
					note_error(E_API, "churner: destroy %u: %d", id, ret);
					continue;
				}
				sh->destroys[ch]++;
				ws->op = OP_QUIESCE;
				quiesce(ch, quiesce_max_ns);
				exists[k] = false;
				next[k] = test_now_ns() + rnd_ns(&rs, 20000000);
			} else {
				unsigned int cap = churn_caps[rnd(&rs, ARRAY_SIZE(churn_caps))];

				ws->op = OP_CREATE;
				ret = dmxp_chan_create(r, id, cap);
				if (ret) {
					note_error(E_API, "churner: create %u (%u slots): %d", id, cap, ret);
					next[k] = test_now_ns() + 10000000;
					continue;
				}
				sh->creates[ch]++;
				exists[k] = true;
				next[k] = test_now_ns() + churn_life(&rs);
			}
		}
		ws->op = OP_SLEEP;
		__atomic_store_n(&ws->op_ns, test_now_ns(), __ATOMIC_RELAXED);
		bump(&ws->ops, 1);
		sleep_ns(500000);
	}
	dmxp_region_close(r);
	return 0;
}

/* ------------------------------------------------------------- supervisor */

enum { PH_RUN, PH_WIND, PH_DRAIN, PH_STOP, PH_DONE };
static const char *const phase_names[] = { "run", "wind-down", "drain", "stop", "done" };

struct sup {
	struct dmxp_region *r;
	const struct dmxp_global_header *hdr;
	pid_t self;
	int phase;
	long long start, end, phase_ns, stall_ns, quiesce_ns;
	__u64 rs;
	bool churner_done, failed;
	/* the watchdog */
	__u64 progress;
	long long progress_ns, checked_ns, report_ns;
	__u64 head[NR_CHANS];
	long long head_ns[NR_CHANS];
	__u64 ops[MAX_WORKERS + 1];
	long long ops_ns[MAX_WORKERS + 1];
	__u64 drain_recv;
	long long drain_ns;
};

static void spawn(struct sup *s, unsigned int i)
{
	struct worker *ws = &sh->w[i];
	unsigned int role = role_of(i), slot = slot_of(i);
	long long now = test_now_ns();
	__u32 inc = 0;
	pid_t pid;

	if (role == ROLE_PRODUCER) {
		inc = sh->prod[slot].incarnations;
		__atomic_store_n(&sh->prod[slot].incarnations, inc + 1, __ATOMIC_RELEASE);
	} else if (role == ROLE_CONSUMER) {
		inc = sh->cons[slot].incarnations++;
	}
	ws->incarnation = inc;
	ws->killed = 0;
	ws->busy = 0;
	ws->op = OP_START;
	ws->spawned_ns = now;
	ws->op_ns = now;
	ws->kill_at_ns = 0;
	if (sh->kill && role != ROLE_CHURNER && inc < MAX_INC - 1 && rnd(&s->rs, 2))
		ws->kill_at_ns = now + 2000000 + rnd_ns(&s->rs, 1500000000);
	s->ops[i] = ld(&ws->ops);
	s->ops_ns[i] = now;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		note_error(E_CHILD, "fork: %s", strerror(errno));
		__atomic_store_n(&sh->abort, 1, __ATOMIC_RELEASE);
		return;
	}
	if (!pid) {
		/* The harness's asserts longjmp: never use them here. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != s->self)
			_exit(0);
		alarm(sh->secs + 600);	/* the last resort */
		dmxp_region_close(s->r);
		_exit(role == ROLE_CHURNER ? churner_main(s->quiesce_ns) : worker_main(i));
	}
	ws->pid = pid;
}

/* A worker died in the middle: what it was doing may be missing. */
static void account_kill(unsigned int i)
{
	unsigned int ch, slot = slot_of(i);

	if (role_of(i) == ROLE_PRODUCER) {
		struct prod_book *pb = &sh->prod[slot];

		for (ch = 0; ch < NR_CHANS; ch++) {
			if (pb->hi[ch] <= pb->next[ch])
				continue;
			if (sh->nr_maybe < MAX_MAYBE)
				sh->maybe[sh->nr_maybe++] = (struct maybe){
					slot, ch, pb->next[ch], pb->hi[ch] };
			else
				note_error(E_BOOK, "more than %u killed producers in flight", MAX_MAYBE);
			/* The next incarnation goes on after the range. */
			pb->next[ch] = pb->hi[ch];
		}
	} else {
		struct cons_book *cb = &sh->cons[slot];
		__u32 f = cb->inflight;

		if (f & 0xff)
			sh->allowance[(f & 0xff) - 1] += f >> 8;
		cb->inflight = 0;
	}
}

static bool may_respawn(const struct sup *s, unsigned int role)
{
	if (flag(&sh->abort) || s->failed)
		return false;
	if (role == ROLE_PRODUCER)
		return s->phase == PH_RUN;
	return s->phase < PH_STOP;
}

static unsigned int find_worker(pid_t pid)
{
	unsigned int i;

	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid == pid)
			return i;
	return ~0U;
}

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		unsigned int i = find_worker(pid), role;
		struct worker *ws;

		if (i == ~0U)
			continue;
		ws = &sh->w[i];
		ws->pid = 0;
		role = role_of(i);
		if (role == ROLE_CHURNER) {
			s->churner_done = true;
			if (status)
				note_error(E_CHILD, "churner: status %#x", status);
			continue;
		}
		if (WIFEXITED(status) && !WEXITSTATUS(status)) {
			sh->clean_exits[role]++;
		} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && ws->killed) {
			sh->kills[role]++;
			account_kill(i);
		} else {
			note_error(E_CHILD, "%s %u.%u (pid %d) %s %d in %s", role_names[role],
				   slot_of(i), ws->incarnation, pid,
				   WIFEXITED(status) ? "exited" : "died of signal",
				   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
				   op_names[ws->op]);
			account_kill(i);
		}
		__atomic_store_n(&ws->busy, 0, __ATOMIC_RELEASE);
		if (may_respawn(s, role))
			spawn(s, i);
	}
}

static unsigned int alive(unsigned int role)
{
	unsigned int i, n = 0;

	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0 && role_of(i) == role)
			n++;
	return n;
}

static __u64 sum_sent(bool data_only)
{
	unsigned int i, ch;
	__u64 n = 0;

	for (i = 0; i < sh->np; i++)
		for (ch = 0; ch < (data_only ? NR_DATA : NR_CHANS); ch++)
			n += ld(&sh->w[i].sent[ch]);
	return n;
}

static __u64 sum_received(bool data_only)
{
	unsigned int i, ch;
	__u64 n = 0;

	for (i = sh->np; i < sh->np + sh->nc; i++)
		for (ch = 0; ch < (data_only ? NR_DATA : NR_CHANS); ch++)
			n += ld(&sh->w[i].received[ch]);
	return n;
}

static __u64 slot_seq(const struct dmxp_global_header *hdr, const struct dmxp_chan_info *in,
		      __u64 pos)
{
	const struct dmxp_slot *slots =
		(const void *)((const char *)hdr + in->band_offset);

	return __atomic_load_n(&slots[pos & (in->capacity - 1)].sequence, __ATOMIC_ACQUIRE);
}

/* Everything the watchdog knows, for a failure report. */
static void dump_state(struct sup *s, const char *why)
{
	long long now = test_now_ns();
	unsigned int ch, i;
	char name[64];

	say("---- state: %s, %.2f s into the run, phase %s (seed %llu)", why,
	    (now - s->start) / 1e9, phase_names[s->phase], (unsigned long long)sh->seed);
	for (ch = 0; ch < NR_CHANS; ch++) {
		const struct dmxp_channel_entry *e = &s->hdr->channels[chans[ch].id];
		struct dmxp_chan_info in;
		__u64 hs, ts;
		const char *hd = "", *td = "";

		if (dmxp_chan_info(s->r, chans[ch].id, &in)) {
			say("channel %u (%s): not created, generation %u", chans[ch].id,
			    chans[ch].churn ? "churn" : "data", chan_gen(s->hdr, ch));
			continue;
		}
		hs = slot_seq(s->hdr, &in, in.head);
		ts = slot_seq(s->hdr, &in, in.tail);
		if (in.tail != in.head && hs == in.head)
			hd = " (claimed by a producer, not published)";
		else if (hs == in.head + 1)
			hd = " (published, not claimed)";
		if (ts == in.tail - in.capacity + 1 && in.head > in.tail - in.capacity)
			td = " (claimed by a consumer, not freed)";
		else if (ts == in.tail)
			td = " (free)";
		say("channel %u (%s, %llu slots, gen %u): head %llu tail %llu depth %llu; slot seq at head %llu%s, at tail %llu%s; waiters recv %u send %u",
		    chans[ch].id, chans[ch].churn ? "churn" : "data",
		    (unsigned long long)in.capacity, chan_gen(s->hdr, ch),
		    (unsigned long long)in.head, (unsigned long long)in.tail,
		    (unsigned long long)in.depth, (unsigned long long)hs, hd,
		    (unsigned long long)ts, td,
		    __atomic_load_n(&e->recv_waiters, __ATOMIC_RELAXED),
		    __atomic_load_n(&e->send_waiters, __ATOMIC_RELAXED));
	}
	for (i = 0; i <= CHURNER; i++) {
		const struct worker *ws = &sh->w[i];

		if (!in_use(i))
			continue;
		say("%s: pid %d%s, %llu ops, %s on channel %u for %.1f ms, busy %#llx",
		    who(i, name, sizeof(name)), ws->pid,
		    ws->killed ? " (killed)" : "", (unsigned long long)ld(&ws->ops),
		    op_names[ws->op], chans[ws->chan].id,
		    (now - __atomic_load_n(&ws->op_ns, __ATOMIC_RELAXED)) / 1e6,
		    (unsigned long long)ws->busy);
	}
	say("sent %llu (data %llu), received %llu (data %llu)",
	    (unsigned long long)sum_sent(false), (unsigned long long)sum_sent(true),
	    (unsigned long long)sum_received(false), (unsigned long long)sum_received(true));
	if (sh->first_error_taken)
		say("first error: %s", sh->first_error);
}

static void fail(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct sup *s, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	note_error(E_STALL, "%s", why);
	dump_state(s, why);
	s->failed = true;
	__atomic_store_n(&sh->abort, 1, __ATOMIC_RELEASE);
}

/* No progress, a channel that does not move, a worker stuck in one call. */
static void watchdog(struct sup *s, long long now)
{
	__u64 p = sum_sent(false) + sum_received(false);
	unsigned int ch, i;

	if (p != s->progress) {
		s->progress = p;
		s->progress_ns = now;
	} else if (now - s->progress_ns > s->stall_ns) {
		fail(s, "no message sent or received for %lld s", s->stall_ns / 1000000000LL);
		return;
	}
	for (ch = 0; ch < NR_DATA; ch++) {
		struct dmxp_chan_info in;

		if (dmxp_chan_info(s->r, chans[ch].id, &in)) {
			fail(s, "data channel %u: info failed", chans[ch].id);
			return;
		}
		if (in.head != s->head[ch] || !in.depth) {
			s->head[ch] = in.head;
			s->head_ns[ch] = now;
		} else if (now - s->head_ns[ch] > s->stall_ns) {
			fail(s, "data channel %u: %llu messages waiting, head stuck at %llu for %lld s",
			     chans[ch].id, (unsigned long long)in.depth,
			     (unsigned long long)in.head, s->stall_ns / 1000000000LL);
			return;
		}
	}
	for (i = 0; i <= CHURNER; i++) {
		const struct worker *ws = &sh->w[i];
		__u64 o = ld(&ws->ops);

		if (!in_use(i) || ws->pid <= 0)
			continue;
		if (o != s->ops[i]) {
			s->ops[i] = o;
			s->ops_ns[i] = now;
		} else if (now - s->ops_ns[i] > s->stall_ns) {
			char name[64];

			fail(s, "%s (pid %d) stuck in %s on channel %u for %lld s",
			     who(i, name, sizeof(name)), ws->pid,
			     op_names[ws->op], chans[ws->chan].id, s->stall_ns / 1000000000LL);
			return;
		}
	}
}

/* Every created channel empty (and, without kills, every message in). */
static bool drained(struct sup *s, long long now)
{
	__u64 sent = sum_sent(true), recv = sum_received(false);
	bool empty = true;
	unsigned int ch;

	for (ch = 0; ch < NR_CHANS; ch++) {
		struct dmxp_chan_info in;

		if (!dmxp_chan_info(s->r, chans[ch].id, &in) && in.head != in.tail)
			empty = false;
	}
	if (recv != s->drain_recv) {
		s->drain_recv = recv;
		s->drain_ns = now;
	}
	if (!empty)
		return false;
	if (!sh->kill && sum_received(true) == sent)
		return now - s->drain_ns > 20000000;	/* claimed ones get recorded */
	/* Empty and still: what is missing is for the reconciliation. */
	return now - s->drain_ns > (sh->kill ? 500000000LL : 2000000000LL);
}

static void progress_report(struct sup *s, long long now)
{
	unsigned int ch;
	__u64 creates = 0, restarts = sh->clean_exits[0] + sh->clean_exits[1] +
				     sh->kills[0] + sh->kills[1];

	for (ch = NR_DATA; ch < NR_CHANS; ch++)
		creates += sh->creates[ch];
	say("%4.0f s: %llu sent, %llu received, %llu restarts, %llu churn creates, %u errors",
	    (now - s->start) / 1e9, (unsigned long long)sum_sent(false),
	    (unsigned long long)sum_received(false), (unsigned long long)restarts,
	    (unsigned long long)creates, sh->first_error_taken);
}

static void supervise(struct sup *s, unsigned int secs)
{
	long long wind_max = s->stall_ns * 2, drain_max = s->stall_ns * 3;
	long long report_every = secs >= 120 ? 60000000000LL : 0;
	unsigned int i;

	s->phase = PH_RUN;
	s->progress_ns = s->checked_ns = s->report_ns = s->start;
	for (i = 0; i < NR_CHANS; i++)
		s->head_ns[i] = s->start;
	spawn(s, CHURNER);
	for (i = 0; i < sh->np + sh->nc; i++)
		spawn(s, i);

	while (s->phase != PH_DONE) {
		long long now;

		reap(s);
		if (flag(&sh->abort)) {
			if (!s->failed) {
				s->failed = true;
				dump_state(s, "aborted");
			}
			break;
		}
		now = test_now_ns();
		if (sh->kill && s->phase < PH_STOP) {
			for (i = 0; i < sh->np + sh->nc; i++) {
				struct worker *ws = &sh->w[i];

				if (ws->pid > 0 && ws->kill_at_ns && now >= ws->kill_at_ns &&
				    !ws->killed) {
					ws->killed = 1;
					kill(ws->pid, SIGKILL);
				}
			}
		}
		if (now - s->checked_ns > 50000000) {
			s->checked_ns = now;
			watchdog(s, now);
			if (s->failed)
				break;
		}
		if (report_every && now - s->report_ns > report_every) {
			s->report_ns = now;
			progress_report(s, now);
		}
		switch (s->phase) {
		case PH_RUN:
			if (now < s->end)
				break;
			__atomic_store_n(&sh->stop_produce, 1, __ATOMIC_RELEASE);
			s->phase = PH_WIND;
			s->phase_ns = now;
			break;
		case PH_WIND:
			if (!alive(ROLE_PRODUCER) && s->churner_done) {
				s->phase = PH_DRAIN;
				s->phase_ns = s->drain_ns = now;
			} else if (now - s->phase_ns > wind_max) {
				fail(s, "producers or churner still running %lld s after the end",
				     wind_max / 1000000000LL);
			}
			break;
		case PH_DRAIN:
			if (drained(s, now)) {
				__atomic_store_n(&sh->stop_all, 1, __ATOMIC_RELEASE);
				s->phase = PH_STOP;
				s->phase_ns = now;
			} else if (now - s->phase_ns > drain_max) {
				fail(s, "channels not drained after %lld s", drain_max / 1000000000LL);
			}
			break;
		case PH_STOP:
			if (!alive(ROLE_CONSUMER))
				s->phase = PH_DONE;
			else if (now - s->phase_ns > wind_max)
				fail(s, "consumers still running %lld s after the drain",
				     wind_max / 1000000000LL);
			break;
		}
		if (s->failed)
			break;
		sleep_ns(2000000);
	}
}

/* Kill and reap whatever still runs. */
static void kill_all(void)
{
	unsigned int i;

	if (!sh)
		return;
	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0)
			kill(sh->w[i].pid, SIGKILL);
	for (i = 0; i <= CHURNER; i++)
		if (in_use(i) && sh->w[i].pid > 0) {
			waitpid(sh->w[i].pid, NULL, 0);
			sh->w[i].pid = 0;
		}
}

/* -------------------------------------------------------- reconciliation */

static bool in_maybe(unsigned int p, unsigned int ch, __u64 seq)
{
	unsigned int i;

	for (i = 0; i < sh->nr_maybe; i++)
		if (sh->maybe[i].p == p && sh->maybe[i].ch == ch &&
		    seq >= sh->maybe[i].lo && seq < sh->maybe[i].hi)
			return true;
	return false;
}

/*
 * Sequences of (@p, @ch) in [@lo, @hi) not received: those in a killed
 * producer's range go to *@excused, the others are returned (the first
 * few are logged).
 */
static __u64 missing(unsigned int p, unsigned int ch, __u64 lo, __u64 hi, __u64 *excused,
		     unsigned int *logged, bool quiet)
{
	__u64 seq = lo, lost = 0;

	while (seq < hi) {
		const __u64 *word = bit_word(p, ch, seq);
		__u64 base = seq & ~63ULL, bits = word ? *word : 0, b;

		for (b = seq - base; b < 64 && base + b < hi; b++) {
			if (bits >> b & 1)
				continue;
			if (in_maybe(p, ch, base + b)) {
				(*excused)++;
				continue;
			}
			lost++;
			if (!quiet && (*logged)++ < 10)
				say("producer %u seq %llu on channel %u: never received%s", p,
				    (unsigned long long)(base + b), chans[ch].id,
				    sh->kill ? " (unless a killed consumer claimed it)" : "");
		}
		seq = base + 64;
	}
	return lost;
}

struct totals {
	__u64 lost, excused_p, excused_c;
	__u64 sent, received;
};

static void reconcile(struct sup *s, struct __test_metadata *_metadata, struct totals *t)
{
	unsigned int ch, p, i, logged = 0;

	for (ch = 0; ch < NR_CHANS; ch++) {
		struct dmxp_chan_info in;
		__u64 sent = 0, recv = 0, aborted = 0, next = 0, lost = 0, ex_p = 0;
		bool exists = !dmxp_chan_info(s->r, chans[ch].id, &in);
		__u32 gen = chan_gen(s->hdr, ch);

		for (i = 0; i < sh->np; i++) {
			sent += sh->w[i].sent[ch];
			aborted += sh->w[i].aborted[ch];
		}
		for (i = sh->np; i < sh->np + sh->nc; i++)
			recv += sh->w[i].received[ch];
		t->sent += sent;
		t->received += recv;

		for (p = 0; p < sh->np; p++) {
			const struct prod_book *pb = &sh->prod[p];

			next += pb->next[ch];
			if (!chans[ch].churn)
				lost += missing(p, ch, 0, pb->next[ch], &ex_p, &logged, s->failed);
			else if (exists && pb->gen[ch] == gen)
				/* Sent through the last incarnation: all must arrive. */
				lost += missing(p, ch, pb->gen_first[ch], pb->next[ch], &ex_p,
						&logged, s->failed);
		}
		if (sh->kill) {
			__u64 ex_c = lost < sh->allowance[ch] ? lost : sh->allowance[ch];

			t->excused_c += ex_c;
			lost -= ex_c;
		}
		t->lost += lost;
		t->excused_p += ex_p;

		if (!chans[ch].churn) {
			say("data  channel %3u, %4u slots: %10llu sent, %10llu received, %8llu tombstones, %llu lost%s",
			    chans[ch].id, chans[ch].capacity, (unsigned long long)sent,
			    (unsigned long long)recv, (unsigned long long)aborted,
			    (unsigned long long)lost,
			    ex_p || sh->allowance[ch] ? " (beyond what killed workers excuse)" : "");
			EXPECT_TRUE(exists);
			/* Cut short by the watchdog: the rings were not drained. */
			if (!exists || s->failed)
				continue;
			/* Drained: every position made (messages and tombstones) consumed. */
			EXPECT_EQ(in.head, in.tail);
			if (!sh->kill) {
				EXPECT_EQ(next, sent);
				EXPECT_EQ(sent, recv);
				EXPECT_EQ(sent + aborted, in.tail);
			}
		} else {
			say("churn channel %3u: %10llu sent, %10llu received, %llu lost to destroys, %llu creates, %llu destroys; at the end %s, %llu lost from it",
			    chans[ch].id, (unsigned long long)sent, (unsigned long long)recv,
			    (unsigned long long)(sent > recv ? sent - recv : 0),
			    (unsigned long long)sh->creates[ch], (unsigned long long)sh->destroys[ch],
			    exists ? "created" : "destroyed", (unsigned long long)lost);
			EXPECT_LE(recv, sent);
			if (exists && !s->failed)
				EXPECT_EQ(in.head, in.tail);
		}
	}
}

/* ------------------------------------------------------------------- test */

FIXTURE(soak) {
	char path[256];
	struct shared *sh;
	size_t arena_size;
	bool have_region;
};

FIXTURE_SETUP(soak)
{
	test_region_path(self->path, sizeof(self->path), "soak");
}

FIXTURE_TEARDOWN(soak)
{
	kill_all();
	if (self->have_region)
		test_region_remove(self->path);
	if (arena)
		munmap(arena, self->arena_size);
	if (self->sh)
		munmap(self->sh, sizeof(struct shared));
	sh = NULL;
	arena = NULL;
}

static unsigned int soak_seconds(void)
{
	unsigned int secs = opt.secs ? opt.secs : test_stress_seconds();

	return secs ? secs : DEFAULT_SECONDS;
}

TEST_F_TIMEOUT(soak, run, DEFAULT_SECONDS + 300)
{
	unsigned int secs = soak_seconds(), ch, i, k;
	bool kernel = test_on_kernel();
	struct sup s = { .self = getpid() };
	struct totals t = { 0 };
	__u64 chunks, err_total = 0;
	double elapsed, sending;
	char repro[256];

	snprintf(repro, sizeof(repro),
		 "DMXP_SOAK_SEED=%llu DMXP_STRESS_SECONDS=%u DMXP_SOAK_PRODUCERS=%u DMXP_SOAK_CONSUMERS=%u%s%s ./stress_soak",
		 (unsigned long long)opt.seed, secs, opt.np, opt.nc,
		 opt.kill ? " DMXP_SOAK_KILL=1" : "", kernel ? " DMXP_TEST_BACKEND=kernel" : "");
	say("soak: %u producers, %u consumers, %u s, %s backend, kill %s, seed %llu",
	    opt.np, opt.nc, secs, kernel ? "kernel" : "file", opt.kill ? "on" : "off",
	    (unsigned long long)opt.seed);

	self->sh = mmap(NULL, sizeof(struct shared), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->sh) {
		self->sh = NULL;
	}
	sh = self->sh;
	chunks = opt.np * NR_CHANS + (__u64)secs * ARENA_RATE / (1ULL << CHUNK_SHIFT) + 64;
	self->arena_size = chunks * CHUNK_WORDS * sizeof(__u64);
	arena = mmap(NULL, self->arena_size, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, arena) {
		arena = NULL;
	}
	sh->seed = opt.seed;
	sh->np = opt.np;
	sh->nc = opt.nc;
	sh->kill = opt.kill;
	sh->secs = secs;
	sh->arena_chunks = (__u32)chunks;
	for (i = 0; i < MAX_CONSUMERS; i++)
		for (ch = 0; ch < NR_CHANS; ch++)
			for (k = 0; k < MAX_PRODUCERS; k++)
				sh->cons[i].last_seq[ch][k] = -1;
	for (i = 0; i < MAX_PRODUCERS; i++)
		for (ch = 0; ch < NR_CHANS; ch++)
			sh->prod[i].gen[ch] = ~0U;
	region_path = self->path;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &s.r));
	self->have_region = true;
	s.hdr = dmxp_region_header(s.r);
	s.rs = mix64(opt.seed ^ 0x737570ULL) | 1;
	for (ch = 0; ch < NR_CHANS; ch++) {
		unsigned int cap = chans[ch].capacity ? chans[ch].capacity :
			churn_caps[rnd(&s.rs, ARRAY_SIZE(churn_caps))];

		ASSERT_EQ(0, dmxp_chan_create(s.r, chans[ch].id, cap)) {
			dmxp_region_close(s.r);
		}
		if (chans[ch].churn)
			sh->creates[ch]++;
	}

	/* The emulated guest is many times slower: more patience. */
	s.stall_ns = (kernel ? 30 : 10) * 1000000000LL;
	s.quiesce_ns = s.stall_ns / 2;
	s.start = test_now_ns();
	s.end = s.start + (long long)secs * 1000000000LL;
	supervise(&s, secs);
	kill_all();
	elapsed = (test_now_ns() - s.start) / 1e9;
	sending = secs < elapsed ? secs : elapsed;

	if (s.failed)
		say("cut short: messages still in the rings are counted as lost below");
	reconcile(&s, _metadata, &t);
	dmxp_region_close(s.r);

	{
		__u64 st[NR_STATS] = { 0 };
		char line[1024];
		size_t off = 0;

		for (i = 0; i < sh->np + sh->nc; i++)
			for (k = 0; k < NR_STATS; k++)
				st[k] += sh->w[i].stat[k];
		for (k = 0; k < NR_STATS; k++)
			off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%s %llu",
						k ? ", " : "", stat_names[k],
						(unsigned long long)st[k]);
		say("ops: %s", line);
	}
	say("total: %llu messages sent, %llu received in %.1f s (%.0f s sending): %.0f msg/s",
	    (unsigned long long)t.sent, (unsigned long long)t.received, elapsed, sending,
	    t.received / elapsed);
	say("restarts: producers %llu clean + %llu killed, consumers %llu clean + %llu killed",
	    (unsigned long long)sh->clean_exits[ROLE_PRODUCER],
	    (unsigned long long)sh->kills[ROLE_PRODUCER],
	    (unsigned long long)sh->clean_exits[ROLE_CONSUMER],
	    (unsigned long long)sh->kills[ROLE_CONSUMER]);
	say("churn quiesce waits %llu, longest %.2f ms; longest wait past its timeout %.2f ms",
	    (unsigned long long)sh->quiesce_waits, sh->quiesce_max_ns / 1e6,
	    sh->max_overrun_ns / 1e6);
	if (sh->kill)
		say("kill accounting: %llu missing in killed producers' in-flight ranges (%u ranges), %llu missing within killed consumers' claims (allowance %llu)",
		    (unsigned long long)t.excused_p, sh->nr_maybe,
		    (unsigned long long)t.excused_c,
		    (unsigned long long)(sh->allowance[0] + sh->allowance[1] + sh->allowance[2] +
					 sh->allowance[3] + sh->allowance[4] + sh->allowance[5]));
	say("bitmap chunks used %u of %u", sh->arena_next < sh->arena_chunks ?
	    sh->arena_next : sh->arena_chunks, sh->arena_chunks);
	for (k = 0; k < NR_ERRS; k++) {
		err_total += sh->errors[k];
		if (sh->errors[k])
			say("errors: %s %u", err_names[k], sh->errors[k]);
	}
	if (sh->first_error_taken)
		say("first error: %s", sh->first_error);

	EXPECT_FALSE(s.failed);
	if (!s.failed)
		EXPECT_EQ(0ULL, t.lost);
	EXPECT_EQ(0ULL, err_total);
	EXPECT_LT(0ULL, t.received);
	if (s.failed || t.lost || err_total)
		say("reproduce with: %s", repro);
}

/*
 * Our own main: take the soak's options out of argv before the harness
 * sees it, and give the test a timeout that fits the duration.
 */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

static unsigned int parse_count(const char *s, const char *what, unsigned int max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || v < 1 || v > max) {
		fprintf(stderr, "stress_soak: %s must be 1..%u, not '%s'\n", what, max, s);
		exit(2);
	}
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	const char *e;
	int i, n = 1;

	e = getenv("DMXP_SOAK_KILL");
	opt.kill = !e || !*e || strcmp(e, "0");
	e = getenv("DMXP_SOAK_SEED");
	if (e && *e) {
		opt.seed = strtoull(e, NULL, 0);
		opt.seed_set = true;
	}
	e = getenv("DMXP_SOAK_PRODUCERS");
	if (e && *e)
		opt.np = parse_count(e, "DMXP_SOAK_PRODUCERS", MAX_PRODUCERS);
	e = getenv("DMXP_SOAK_CONSUMERS");
	if (e && *e)
		opt.nc = parse_count(e, "DMXP_SOAK_CONSUMERS", MAX_CONSUMERS);

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--kill")) {
			opt.kill = true;
		} else if (!strcmp(a, "--no-kill")) {
			opt.kill = false;
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			opt.seed = strtoull(argv[++i], NULL, 0);
			opt.seed_set = true;
		} else if (!strcmp(a, "--producers") && i + 1 < argc) {
			opt.np = parse_count(argv[++i], "--producers", MAX_PRODUCERS);
		} else if (!strcmp(a, "--consumers") && i + 1 < argc) {
			opt.nc = parse_count(argv[++i], "--consumers", MAX_CONSUMERS);
		} else if (!strcmp(a, "--seconds") && i + 1 < argc) {
			opt.secs = parse_count(argv[++i], "--seconds", 1U << 30);
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			printf("usage: %s [--kill|--no-kill] [--seed N] [--producers N] [--consumers N] [--seconds N]\n"
			       "environment: DMXP_STRESS_SECONDS, DMXP_SOAK_KILL, DMXP_SOAK_SEED,\n"
			       "DMXP_SOAK_PRODUCERS, DMXP_SOAK_CONSUMERS, DMXP_TEST_BACKEND=kernel\n",
			       argv[0]);
			return 0;
		} else {
			argv[n++] = argv[i];
		}
	}
	argv[n] = NULL;
	if (!opt.seed_set)
		opt.seed = mix64((__u64)test_now_ns() ^ (__u64)getpid() << 40) & ((1ULL << 48) - 1);
	_soak_run_object.timeout = (int)soak_seconds() + 300;
	return test_harness_run(n, argv);
}
