/* SPDX-License-Identifier: MIT */
/*
 * The producer/consumer workload of stress_mpmc (processes) and
 * tsan_threads (threads): producers send numbered, checksummed messages
 * by every sending path (send, reserve/commit with an abort now and then,
 * send_batch); consumers take them by every receiving path (recv,
 * recv_batch, peek/release), check each, and record it once per
 * (producer, counter), so that a lost, duplicated or reordered message
 * shows at the end.
 *
 * Built with the test (plain, or with -fsanitize=thread for tsan_threads).
 */
#ifndef DMXP_SELFTEST_WORKLOAD_H
#define DMXP_SELFTEST_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#include "dmxp.h"
#include "helpers.h"	/* first, after the harness, in a test */

#define WL_MAX_PRODUCERS	8
#define WL_MAX_BATCH		8

/*
 * One record per (producer, counter): the top byte counts how often the
 * message was seen, the low 56 bits hold its message_id.  Both are added
 * with one atomic add, so a duplicate shows as a count of 2 (and a
 * garbled id, which no longer matters).
 */
#define WL_REC_SEEN		(1ULL << 56)
#define WL_REC_ID_MASK		(WL_REC_SEEN - 1)

/* What producers and consumers count, in memory they all see; all atomic. */
struct wl_shared {
	__u64	expected;		/* total to receive; ~0 until known */
	__u64	received;
	__u64	sent[WL_MAX_PRODUCERS];	/* written by each producer at its end */
	__u32	abort;			/* stop everything */
	__u32	corrupt;		/* bad checksum, header or meta */
	__u32	fifo_errors;
	__u32	api_errors;		/* unexpected return values */
	__u32	tombstones_seen;	/* must stay 0 */
	struct test_first_error err;	/* the first problem, for the log */
};

/* A run: its settings, and where its state is. */
struct wl_run {
	struct wl_shared *sh;
	__u64		*records;	/* [producer * per_prod + counter] */
	__u32		chan_id;
	unsigned int	producers;
	__u64		per_prod;	/* counter limit (records per producer) */
	long long	send_until;	/* long mode: stop sending then; 0 = count */
	long long	deadline;	/* watchdog: give up then */
};

/* Scratch buffers of one producer or consumer. */
typedef unsigned char wl_bufs[WL_MAX_BATCH][DMXP_MAX_PAYLOAD];

/* True (and everything told to stop) once aborted or past the deadline. */
bool wl_should_stop(const struct wl_run *rn);

/* True once the consumers have received all that is expected. */
bool wl_consumers_done(const struct wl_shared *sh);

/* Producer @p sends on @c until done or stopped; sets sh->sent[p]. */
void wl_produce(const struct wl_run *rn, struct dmxp_chan *c, unsigned int p, wl_bufs bufs);

/* Consumer @id receives from @c until all is received or stopped. */
void wl_consume(const struct wl_run *rn, struct dmxp_chan *c, unsigned int id, wl_bufs bufs);

/* The records' verdict: lost, duplicated and out-of-order messages. */
struct wl_tally {
	__u64	lost, dups, order;
};

/* Tally the records (the first ten problems of each kind logged). */
void wl_tally(const struct wl_run *rn, struct wl_tally *t);

#endif /* DMXP_SELFTEST_WORKLOAD_H */
