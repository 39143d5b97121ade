/* SPDX-License-Identifier: MIT */
/*
 * dmxp-bench internals: the cases, the transports they run over, and the
 * two drivers (ping-pong latency and throughput).
 *
 * A transport is dmxp or one of its peers, behind struct xport_ops.  A
 * case pairs a transport with a driver and its parameters.  The drivers
 * run every side of a case in its own forked process; the parent only
 * sets the case up, starts it, collects the figures and tears it down,
 * so a transport that cannot survive fork() (ZeroMQ, iceoryx) makes its
 * per-process state in attach().
 */
#ifndef DMXP_BENCH_H
#define DMXP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef unsigned long long u64;

#define SKIPPED		1	/* setup: "cannot run here", xport.why says why */
#define MSG_MIN		8	/* every message carries a 64-bit sequence */
#define MSG_MAX		960	/* dmxp's DMXP_MAX_PAYLOAD */
#define TPUT_WARMUP_MS	20	/* throughput: sending before the clock starts */

/* ---------------------------------------------------------------- cases */

enum driver {
	DRV_LAT_BLOCK,		/* ping-pong, each side sleeps until its message */
	DRV_LAT_BUSY,		/* ping-pong, each side polls without sleeping */
	DRV_TPUT,		/* producers and consumers as fast as they can */
	DRV_PAIR,		/* one thread: send, then receive it back */
};

enum api {
	API_COPY,		/* send(buf) / recv(buf) */
	API_ZC,			/* write into / read from the shared slot itself */
	API_BATCH,		/* many messages per call */
};

struct xport_ops;

struct bench_case {
	char			name[48];	/* e.g. "tput/dmxp/1x1/64" */
	const char		*peer;		/* what is measured: dmxp or a peer */
	const char		*what;		/* one line for the text output */
	enum driver		drv;
	enum api		api;
	unsigned int		len;		/* payload bytes */
	unsigned int		nprod, ncons;	/* throughput only */
	const struct xport_ops	*ops;
	const void		*cfg;		/* the transport's variant */
};

/* --------------------------------------------------------------- options */

struct opts {
	unsigned long	iterations;	/* latency: timed round trips per run */
	unsigned long	warmup;		/* latency: untimed round trips first */
	unsigned int	duration_ms;	/* throughput: the producers' time per run */
	unsigned int	repeat;		/* runs per case; figures are medians */
	unsigned int	stamp;		/* dmxp's DMXP_TIMESTAMP_* policy */
	bool		stalls;		/* throughput: count the stalls behind a claim */
	bool		json;
	int		cpu[2];		/* the two CPUs sides are pinned to; -1: none */
	unsigned int	ncpu;		/* CPUs this process may run on */
};

extern struct opts opt;

/* ------------------------------------------------------------ transports */

struct xport {
	const struct bench_case	*bc;
	size_t			len;		/* every message is len bytes */
	/*
	 * Which inboxes exist: a ping-pong has two (side s receives on
	 * inbox s and sends to inbox !s); throughput uses inbox 0 only.
	 */
	unsigned int		nbox;
	bool			nonblock;	/* send/recv give -EAGAIN, never sleep */
	int			side;		/* ping-pong side, or ROLE_* */
	unsigned int		idx;		/* throughput: index among its role */
	char			why[160];	/* setup's SKIPPED reason */
	void			*priv;		/* the transport's state */
	void			*local;		/* its per-process state (attach) */
};

enum { ROLE_PRODUCER, ROLE_CONSUMER };

/*
 * Every call returns 0 or a negative errno; -EAGAIN only when x->nonblock
 * (the inbox is full or empty).  A message is x->len bytes whose first 8
 * are a sequence number the drivers check.
 */
struct xport_ops {
	/* In the parent, before fork: shared objects.  SKIPPED with x->why. */
	int	(*setup)(struct xport *x);
	/* In each side's process, with x->side and x->idx set. */
	int	(*attach)(struct xport *x);
	/* API_COPY (and every latency and pair case): one message. */
	int	(*send)(struct xport *x, unsigned int box, const void *buf);
	int	(*recv)(struct xport *x, unsigned int box, void *buf);
	/* API_ZC (optional): build in place / read the sequence in place. */
	int	(*send_zc)(struct xport *x, unsigned int box, const void *buf);
	int	(*recv_zc)(struct xport *x, unsigned int box, u64 *seq);
	/*
	 * API_BATCH (optional): up to @n messages, laid out len bytes apart
	 * in @buf.  The number moved (>= 1), or a negative errno.
	 */
	int	(*send_many)(struct xport *x, unsigned int box, const void *buf,
			     unsigned int n);
	int	(*recv_many)(struct xport *x, unsigned int box, void *buf,
			     unsigned int n);
	/*
	 * Throughput (optional): a producer is done; publish whatever it
	 * sent but held back (a batched tail), before its count is final.
	 */
	void	(*flush)(struct xport *x, unsigned int box);
	/*
	 * Throughput (optional): positions claimed or waiting in @box
	 * (tail - head), read without a system call.  A consumer that finds
	 * the box empty while this is not 0 waits behind a claim.
	 */
	u64	(*backlog)(struct xport *x, unsigned int box);
	/* In each side's process before it exits (optional). */
	void	(*detach)(struct xport *x);
	/* In the parent after every side exited. */
	void	(*teardown)(struct xport *x);
};

/* The transports (x_*.c). */
extern const struct xport_ops xp_dmxp;
extern const struct xport_ops xp_futex, xp_eventfd, xp_pipe, xp_uds, xp_mq,
	xp_efdshm;
extern const struct xport_ops xp_cacheline, xp_spsc, xp_vyukov;
extern const struct xport_ops xp_zmq;
extern const struct xport_ops xp_iceoryx;

/* dmxp's variants (cfg of its cases). */
struct dmxp_cfg {
	bool		kernel;		/* a /dev/dmxp region, else a region file */
	bool		spin;		/* recv_wait's default adaptive spin, else none */
};

/*
 * Slots of a ring of dmxp and of the rings shaped like it: one message in
 * flight for a ping-pong, a batch for a pair, a deep ring for throughput.
 */
#define LAT_SLOTS	16
#define PAIR_SLOTS	64
#define TPUT_SLOTS	1024

static inline unsigned int ring_slots(const struct bench_case *bc)
{
	if (bc->drv == DRV_TPUT)
		return TPUT_SLOTS;
	return bc->drv == DRV_PAIR ? PAIR_SLOTS : LAT_SLOTS;
}

/* --------------------------------------------------------------- drivers */

struct stats {
	u64	min, p50, p99, p999, max;
	/* Throughput: the consumers' stalls (throughput.c). */
	u64	stalls, stall_max, stall_ns;
};

/*
 * One run of a case.  Latency: one-way nanoseconds.  Throughput: value is
 * messages per second (in p50, the others unused).  Pair: picoseconds per
 * send and receive of one message (in p50).  Returns 0, SKIPPED or a
 * negative errno with *step naming what failed.
 */
int pingpong_run(const struct bench_case *bc, struct xport *x, struct stats *s,
		 const char **step);
int throughput_run(const struct bench_case *bc, struct xport *x, struct stats *s,
		   const char **step);
int pair_run(const struct bench_case *bc, struct xport *x, struct stats *s,
	     const char **step);

/* ------------------------------------------------------------------ util */

/* die(): a one-line error and exit 1 (_exit in a side's process). */
extern bool bench_in_child;
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
u64 now_ns(void);
int pin(int cpu);
void stats_of(u64 *v, size_t n, struct stats *s);
u64 median_of(u64 *v, unsigned int n);
/* A MAP_SHARED anonymous mapping of @len bytes, zeroed, or NULL. */
void *shared_alloc(size_t len);
void shared_free(void *p, size_t len);

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline void put_seq(void *buf, u64 seq)
{
	__builtin_memcpy(buf, &seq, sizeof(seq));
}

static inline u64 get_seq(const void *buf)
{
	u64 seq;

	__builtin_memcpy(&seq, buf, sizeof(seq));
	return seq;
}

#endif /* DMXP_BENCH_H */
