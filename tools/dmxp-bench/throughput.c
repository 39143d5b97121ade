// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the throughput driver.
 *
 * P producer processes send for TPUT_WARMUP_MS + opt.duration_ms as fast
 * as the transport takes messages; C consumer processes receive until
 * every message sent has arrived.  The first TPUT_WARMUP_MS are not timed
 * (the ring's pages and lines are touched for the first time then); the
 * rate is the messages received after that, over the time from then to
 * the last arrival.  Producers are pinned to one CPU and
 * consumers to the other, so 1x1 is one process per CPU.  Neither side
 * ever sleeps in the transport: a full or empty inbox is polled again,
 * with a sched_yield() now and then for a CPU shared by two processes.
 *
 * Producer i sends the sequences i, i + P, i + 2P, ...; each side sums
 * what it sent or received, and the run fails unless the counts and sums
 * agree: a lost or duplicated message cannot pass for speed.
 *
 * Stalls (with --stalls, transports with a backlog op: dmxp, vyukov): a
 * consumer that finds nothing to receive while positions are claimed
 * (tail > head) waits behind a claim, a producer between its claim and
 * its publish.  A stall is such a wait seen without a break of more than
 * STALL_GAP_NS between two looks (two consumers of one CPU yield to each
 * other well within it; one preempted for a time slice saw nothing
 * meanwhile), lasting STALL_NS or more inside the timed window (its part
 * there, while the producers send).  With more processes than CPUs the
 * claimant was mostly preempted there, and the ring waits for its next
 * time slice.
 * The clock and the backlog are read only when a receive finds nothing,
 * but reading tail takes its line from the producers, which slows every
 * case down (by 2-4x in 1x1 here): the stall figures are for the shapes,
 * not the throughput of such a run.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "procs.h"

#define BATCH		32	/* messages per call of the batch API */
#define FLUSH_EVERY	256	/* a consumer's messages between counts */
#define CHECK_EVERY	64	/* messages between looks at the stop flag */
#define YIELD_AFTER	64	/* fruitless polls before a sched_yield() */
#define LOST_AFTER_NS	1000000000ULL	/* all sent, nothing comes: lost */
#define STALL_NS	100000ULL	/* a wait behind a claim this long is a stall */
#define STALL_GAP_NS	200000ULL	/* looks further apart break the wait */

/* Each field written by one kind of side, on its own cache line. */
struct tp_shared {
	u64	ready;				/* every side: attached */
	u64	__pad0[7];
	u64	go, stop, t_start, base, t_stop;	/* the parent */
	u64	__pad1[4];
	u64	prod_done, sent, sent_sum;	/* producers, when done */
	u64	__pad2[5];
	u64	received, recv_sum, t_end;	/* consumers */
	u64	stalls, stall_max, stall_ns;
	u64	__pad3[2];
};

static struct tp_shared *sh;

/* A consumer's count of stalls (--stalls). */
struct stall {
	u64	since, last;	/* the wait's first and last look; 0: none */
	u64	n, max, ns;
};

/*
 * The wait (if any) ended at its last look: a stall if long enough,
 * counted for the part of it inside the timed window.
 */
static void stall_end(struct stall *st)
{
	u64 t0 = __atomic_load_n(&sh->t_start, __ATOMIC_ACQUIRE);
	u64 t1 = __atomic_load_n(&sh->t_stop, __ATOMIC_ACQUIRE);
	u64 lo = st->since, hi = st->last, d;

	st->since = 0;
	if (!lo || !t0)
		return;
	if (lo < t0)
		lo = t0;
	if (t1 && hi > t1)
		hi = t1;
	d = hi > lo ? hi - lo : 0;
	if (d >= STALL_NS) {
		st->n++;
		st->ns += d;
		if (d > st->max)
			st->max = d;
	}
}

/* A receive found nothing: look whether it waits behind a claim. */
static void stall_look(struct xport *x, struct stall *st)
{
	u64 t;

	if (!x->bc->ops->backlog(x, 0)) {
		stall_end(st);
		return;
	}
	t = now_ns();
	if (st->since && t - st->last > STALL_GAP_NS)
		stall_end(st);
	if (!st->since)
		st->since = t;
	st->last = t;
}

static void backoff(unsigned int *fruitless)
{
	if (++*fruitless >= YIELD_AFTER) {
		*fruitless = 0;
		sched_yield();
	} else {
		cpu_relax();
	}
}

static void tp_attach(struct xport *x, int role, unsigned int idx)
{
	int ret = pin(opt.cpu[role == ROLE_PRODUCER ? 0 : 1]);

	if (ret)
		die("%s: sched_setaffinity: %s", x->bc->name, strerror(-ret));
	x->side = role;
	x->idx = idx;
	ret = x->bc->ops->attach(x);
	if (ret)
		die("%s: %s %u: attach: %s", x->bc->name,
		    role == ROLE_PRODUCER ? "producer" : "consumer", idx, strerror(-ret));
	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&sh->go, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void producer(struct xport *x, unsigned int idx)
{
	const struct bench_case *bc = x->bc;
	const unsigned int step = bc->nprod, len = bc->len;
	unsigned int batch = bc->api == API_BATCH ? BATCH : 1, fruitless = 0;
	unsigned char *buf = aligned_alloc(64, (size_t)BATCH * MSG_MAX);
	u64 seq = idx, count = 0, sum = 0;
	unsigned int i, done = 0;

	if (!buf)
		die("%s: producer: %s", bc->name, strerror(ENOMEM));
	memset(buf, 0x5a, (size_t)BATCH * MSG_MAX);
	tp_attach(x, ROLE_PRODUCER, idx);

	while (!__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < CHECK_EVERY; ) {
			int ret;

			if (bc->api == API_BATCH) {
				if (done == 0) {
					unsigned int k;

					for (k = 0; k < batch; k++)
						put_seq(buf + (size_t)k * len, seq + (u64)k * step);
				}
				ret = bc->ops->send_many(x, 0, buf + (size_t)done * len,
							 batch - done);
				if (ret > 0) {
					unsigned int k;

					for (k = 0; k < (unsigned int)ret; k++) {
						sum += seq;
						seq += step;
					}
					count += (unsigned int)ret;
					done += (unsigned int)ret;
					if (done == batch)
						done = 0;
					i += (unsigned int)ret;
					fruitless = 0;
					continue;
				}
			} else {
				put_seq(buf, seq);
				ret = bc->api == API_ZC ? bc->ops->send_zc(x, 0, buf) :
							  bc->ops->send(x, 0, buf);
				if (!ret) {
					sum += seq;
					seq += step;
					count++;
					i++;
					fruitless = 0;
					continue;
				}
			}
			if (ret != -EAGAIN)
				die("%s: producer %u: send: %s", bc->name, idx, strerror(-ret));
			backoff(&fruitless);
			if (__atomic_load_n(&sh->stop, __ATOMIC_RELAXED) && !done)
				break;
		}
	}
	/* A partly sent batch is finished: every sequence counted was sent. */
	while (done) {
		int ret = bc->ops->send_many(x, 0, buf + (size_t)done * len, batch - done);

		if (ret == -EAGAIN) {
			backoff(&fruitless);
			continue;
		}
		if (ret < 0)
			die("%s: producer %u: send: %s", bc->name, idx, strerror(-ret));
		for (i = 0; i < (unsigned int)ret; i++) {
			sum += seq;
			seq += step;
		}
		count += (unsigned int)ret;
		done = (done + (unsigned int)ret) % batch;
	}
	/* Held-back messages are published before the count says they were sent. */
	if (bc->ops->flush)
		bc->ops->flush(x, 0);
	__atomic_add_fetch(&sh->sent, count, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->sent_sum, sum, __ATOMIC_RELAXED);
	/* Partner: the consumers' acquire of prod_done; sent is final then. */
	__atomic_add_fetch(&sh->prod_done, 1, __ATOMIC_RELEASE);
	if (x->bc->ops->detach)
		x->bc->ops->detach(x);
	free(buf);
}

static void consumer(struct xport *x, unsigned int idx)
{
	const struct bench_case *bc = x->bc;
	const unsigned int len = bc->len;
	unsigned char *buf = aligned_alloc(64, (size_t)BATCH * MSG_MAX);
	u64 count = 0, sum = 0, idle_since = 0;
	struct stall st = { 0 };
	unsigned int fruitless = 0;

	if (!buf)
		die("%s: consumer: %s", bc->name, strerror(ENOMEM));
	tp_attach(x, ROLE_CONSUMER, idx);

	for (;;) {
		int ret, k;

		if (bc->api == API_BATCH) {
			ret = bc->ops->recv_many(x, 0, buf, BATCH);
			if (ret > 0) {
				for (k = 0; k < ret; k++)
					sum += get_seq(buf + (size_t)k * len);
				count += (unsigned int)ret;
			}
		} else if (bc->api == API_ZC) {
			u64 seq;

			ret = bc->ops->recv_zc(x, 0, &seq);
			if (!ret) {
				sum += seq;
				count++;
			}
		} else {
			ret = bc->ops->recv(x, 0, buf);
			if (!ret) {
				sum += get_seq(buf);
				count++;
			}
		}
		if (ret >= 0) {
			fruitless = 0;
			idle_since = 0;
			if (__builtin_expect(st.since != 0, 0))
				stall_end(&st);
			if (count < FLUSH_EVERY)
				continue;
		} else if (ret != -EAGAIN) {
			die("%s: consumer %u: receive: %s", bc->name, idx, strerror(-ret));
		}
		/* Empty (or a while since): publish what we have, and maybe stop. */
		if (count) {
			__atomic_add_fetch(&sh->recv_sum, sum, __ATOMIC_RELAXED);
			__atomic_add_fetch(&sh->received, count, __ATOMIC_ACQ_REL);
			count = sum = 0;
		}
		if (ret == -EAGAIN) {
			if (opt.stalls && bc->ops->backlog)
				stall_look(x, &st);
			/* Partner: the producers' release of prod_done. */
			if (__atomic_load_n(&sh->prod_done, __ATOMIC_ACQUIRE) == bc->nprod) {
				u64 zero = 0;

				if (__atomic_load_n(&sh->received, __ATOMIC_ACQUIRE) >=
				    __atomic_load_n(&sh->sent, __ATOMIC_RELAXED)) {
					__atomic_compare_exchange_n(&sh->t_end, &zero, now_ns(),
								    false, __ATOMIC_RELAXED,
								    __ATOMIC_RELAXED);
					break;
				}
				/*
				 * Everything is sent but not everything came:
				 * after a second of nothing, stop, and let the
				 * parent report the loss.
				 */
				if (!idle_since)
					idle_since = now_ns();
				else if (now_ns() - idle_since > LOST_AFTER_NS)
					break;
			}
			backoff(&fruitless);
		}
	}
	__atomic_add_fetch(&sh->stalls, st.n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sh->stall_ns, st.ns, __ATOMIC_RELAXED);
	{
		u64 m = __atomic_load_n(&sh->stall_max, __ATOMIC_RELAXED);

		while (st.max > m &&
		       !__atomic_compare_exchange_n(&sh->stall_max, &m, st.max, false,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
	if (x->bc->ops->detach)
		x->bc->ops->detach(x);
	free(buf);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec d = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&d, &d) && errno == EINTR)
		;
}

int throughput_run(const struct bench_case *bc, struct xport *x, struct stats *s,
		   const char **step)
{
	struct procs procs = { .n = 0 };
	unsigned int i, sides = bc->nprod + bc->ncons;
	u64 deadline;
	int ret;

	sh = run_begin(x, 1, true, sizeof(*sh), step, &ret);
	if (!sh)
		return run_end(x, NULL, 0, ret);
	*step = "fork";
	for (i = 0; i < bc->ncons && !ret; i++) {
		pid_t pid = procs_spawn(&procs, consumer, x, i);

		if (pid < 0)
			ret = (int)pid;
	}
	for (i = 0; i < bc->nprod && !ret; i++) {
		pid_t pid = procs_spawn(&procs, producer, x, i);

		if (pid < 0)
			ret = (int)pid;
	}
	if (ret) {
		procs_kill(&procs);
		procs_wait(&procs, 10, bc->name);
		goto end;
	}

	/* Start when every side attached; stop the producers after the duration. */
	*step = "attach";
	deadline = now_ns() + 30000000000ULL;
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < sides && now_ns() < deadline)
		usleep(1000);
	if (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < sides) {
		/* A side that failed to attach exited and said why. */
		__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
		procs_kill(&procs);
		procs_wait(&procs, 10, bc->name);
		ret = -ETIMEDOUT;
		goto end;
	}
	__atomic_store_n(&sh->go, 1, __ATOMIC_RELEASE);
	sleep_ms(TPUT_WARMUP_MS);
	/* The count is behind by at most FLUSH_EVERY per consumer. */
	sh->base = __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE);
	__atomic_store_n(&sh->t_start, now_ns(), __ATOMIC_RELEASE);
	sleep_ms(opt.duration_ms);
	/*
	 * A window in which nothing arrived (on a loaded host every side may
	 * have waited for a CPU all along) goes on until something does, for
	 * a second at most: a rate is not made of an empty window.
	 */
	deadline = now_ns() + 1000000000ULL;
	while (__atomic_load_n(&sh->received, __ATOMIC_ACQUIRE) == sh->base && now_ns() < deadline)
		sleep_ms(1);
	__atomic_store_n(&sh->t_stop, now_ns(), __ATOMIC_RELEASE);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	*step = "run";
	ret = procs_wait(&procs, 60, bc->name);
	if (!ret) {
		u64 n = sh->received, el = sh->t_end - sh->t_start;

		if (n != sh->sent || sh->recv_sum != sh->sent_sum) {
			die("%s: %llu messages sent, %llu received (sequence sums %llu, %llu): lost or duplicated",
			    bc->name, sh->sent, n, sh->sent_sum, sh->recv_sum);
		}
		n -= sh->base;
		if (!n || !el) {
			*step = "measure (nothing moved)";
			ret = -EPROTO;
		} else {
			memset(s, 0, sizeof(*s));
			s->p50 = (u64)((double)n * 1e9 / (double)el);
			s->stalls = sh->stalls;
			s->stall_max = sh->stall_max;
			/* Per consumer, in parts per million of the window. */
			s->stall_ns = (u64)((double)sh->stall_ns * 1e6 /
					    (double)(sh->t_stop - sh->t_start) / bc->ncons);
		}
	}
end:
	return run_end(x, sh, sizeof(*sh), ret);
}
