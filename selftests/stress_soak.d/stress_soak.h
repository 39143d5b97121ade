/* SPDX-License-Identifier: MIT */
/*
 * The soak test's own header: its limits, the messages, the bookkeeping
 * the processes share, and what its files share.
 */
#ifndef STRESS_SOAK_H
#define STRESS_SOAK_H

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
/*
 * common.h wants kselftest_harness.h first, for the main() it makes; the
 * harness itself (its static functions and lists) is test.c's alone.
 */
#ifndef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN
#endif
#include "kselftest.h"
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
#define NR_CHURN_CAPS	6	/* the capacities a churn channel gets */

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

/* The test's channels. */
struct soak_chan {
	unsigned int id;
	unsigned int capacity;	/* 0: random, churn channels */
	bool churn;
};

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

/* What a process is doing, for the state dump. */
enum {
	OP_START, OP_EXIT, OP_SEND, OP_SEND_WAIT, OP_BATCH, OP_BURST, OP_COMMIT,
	OP_ABORT, OP_PAUSE, OP_RECV, OP_RECV_SMALL, OP_RECV_WAIT, OP_RECV_BATCH,
	OP_PEEK, OP_CREATE, OP_DESTROY, OP_QUIESCE, OP_SLEEP, NR_OPS
};

enum {
	S_SEND, S_SEND_WAIT, S_BATCH, S_BATCH_MSGS, S_BURST, S_COMMIT, S_ABORT,
	S_FULL, S_SEND_TIMEOUT, S_RECV, S_RECV_SMALL, S_EMSGSIZE, S_RECV_WAIT,
	S_RECV_TIMEOUT, S_RECV_BATCH, S_RECV_BATCH_MSGS, S_PEEK, S_EMPTY, S_SHORT,
	S_EIDRM, S_ENOENT, S_OPEN, S_PAUSE, NR_STATS
};

enum {
	E_CORRUPT, E_TOMBSTONE, E_META, E_ORDER, E_DUP, E_LOST, E_API, E_TIMING,
	E_STALL, E_CHILD, E_BOOK, NR_ERRS
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

/* The options. */
struct soak_opt {
	bool kill;
	bool seed_set;
	__u64 seed;
	unsigned int np, nc, secs;
};

/* The supervisor's state: the test process's view of the run. */
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

/* ------------------------------------------------ shared between the files */

/* util.c */
extern const struct soak_chan chans[NR_CHANS];
extern const unsigned int churn_caps[NR_CHURN_CAPS];
extern const char *const role_names[];
extern const char *const op_names[NR_OPS];
extern const char *const stat_names[NR_STATS];
extern const char *const err_names[NR_ERRS];
extern struct soak_opt opt;
extern struct shared *sh;
extern __u64 *arena;
extern const char *region_path;
__u64 mix64(__u64 x);
__u64 rng(__u64 *s);
unsigned int rnd(__u64 *s, unsigned int n);
long long rnd_ns(__u64 *s, long long n);
unsigned int pick(__u64 *s, const unsigned int *weights, unsigned int n);
void sleep_ns(long long ns);
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void note_error(unsigned int kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool flag(const __u32 *f);
void bump(__u64 *c, __u64 n);
__u64 ld(const __u64 *c);
unsigned int role_of(unsigned int i);
unsigned int slot_of(unsigned int i);
bool in_use(unsigned int i);
const char *who(unsigned int i, char *buf, size_t len);
__u32 chan_gen(const struct dmxp_global_header *hdr, unsigned int ch);

/* msg.c */
__u64 msg_sum(const unsigned char *p, size_t len);
__u32 msg_type(unsigned int p, unsigned int ch, __u64 seq);
void short_fill(unsigned char *b, size_t len, unsigned int p, unsigned int ch, __u64 seq);
size_t pick_len(__u64 *rs);
void build_msg(unsigned char *b, size_t len, unsigned int p, unsigned int ch,
	       __u32 inc, __u64 seq, __u64 *rs);
bool chunk_ensure(unsigned int p, unsigned int ch, __u64 lo, unsigned int n);
__u64 *bit_word(unsigned int p, unsigned int ch, __u64 seq);

/* worker.c */
int worker_main(unsigned int idx);

/* churner.c */
int churner_main(long long quiesce_max_ns);

/* supervisor.c */
void supervise(struct sup *s, unsigned int secs);
void kill_all(void);

/* test.c */
int soak_harness_run(int argc, char **argv);

#endif /* STRESS_SOAK_H */
