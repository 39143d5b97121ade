// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the pair driver.
 *
 * One process, pinned to the first CPU, sends a message into an inbox
 * and receives it back from the same inbox: opt.warmup times untimed,
 * then opt.iterations times timed.  No other core takes part, so the
 * ring's lines stay in this core's cache and what is left is the cost of
 * the calls themselves: one send and one receive.  With the batch API a
 * round is PAIR_BATCH messages sent in one call and received in another,
 * and the figure is per message.
 *
 * The payload is copied in and out for real: every message carries its
 * number, checked on receipt, and the last round is compared byte for
 * byte with what was sent.  The zero-copy API writes the whole payload
 * into the slot and reads the number in place.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "procs.h"

#define PAIR_BATCH	32	/* messages per call of the batch API */

struct pair_shared {
	u64	ps;		/* picoseconds per message sent and received */
};

static struct pair_shared *sh;

/* One round: @n messages numbered from @seq, sent from @out, received into @in. */
static void pair_round(struct xport *x, unsigned char *out, unsigned char *in,
		       unsigned int n, u64 seq)
{
	const struct bench_case *bc = x->bc;
	unsigned int k;
	int ret;

	for (k = 0; k < n; k++)
		put_seq(out + (size_t)k * x->len, seq + k);
	if (bc->api == API_BATCH) {
		ret = bc->ops->send_many(x, 0, out, n);
		if (ret == (int)n)
			ret = bc->ops->recv_many(x, 0, in, n);
		if (ret >= 0)
			ret = ret == (int)n ? 0 : -EPROTO;	/* the ring has room */
	} else if (bc->api == API_ZC) {
		u64 got = 0;

		ret = bc->ops->send_zc(x, 0, out);
		if (!ret)
			ret = bc->ops->recv_zc(x, 0, &got);
		put_seq(in, got);	/* read in place: only the number comes out */
	} else {
		ret = bc->ops->send(x, 0, out);
		if (!ret)
			ret = bc->ops->recv(x, 0, in);
	}
	if (ret)
		die("%s: message %llu: %s", bc->name, seq, strerror(-ret));
	for (k = 0; k < n; k++)
		if (get_seq(in + (size_t)k * x->len) != seq + k)
			die("%s: received %llu, expected %llu", bc->name,
			    get_seq(in + (size_t)k * x->len), seq + k);
}

static void pair_side(struct xport *x, unsigned int idx)
{
	const struct bench_case *bc = x->bc;
	unsigned int n = bc->api == API_BATCH ? PAIR_BATCH : 1;
	u64 rounds = (opt.iterations + n - 1) / n, seq = 0, r, t0;
	size_t bytes = (size_t)n * x->len;
	unsigned char *out = aligned_alloc(64, (size_t)PAIR_BATCH * MSG_MAX);
	unsigned char *in = aligned_alloc(64, (size_t)PAIR_BATCH * MSG_MAX);
	int ret = pin(opt.cpu[0]);

	if (ret)
		die("%s: sched_setaffinity(CPU %d): %s", bc->name, opt.cpu[0], strerror(-ret));
	if (!out || !in)
		die("%s: %s", bc->name, strerror(ENOMEM));
	memset(out, 0x5a, bytes);
	memset(in, 0, bytes);
	x->side = ROLE_PRODUCER;
	x->idx = idx;
	ret = bc->ops->attach(x);
	if (ret)
		die("%s: attach: %s", bc->name, strerror(-ret));

	for (r = 0; r < (opt.warmup + n - 1) / n; r++, seq += n)
		pair_round(x, out, in, n, seq);
	t0 = now_ns();
	for (r = 0; r < rounds; r++, seq += n)
		pair_round(x, out, in, n, seq);
	sh->ps = (now_ns() - t0) * 1000 / (rounds * n);
	if (bc->api != API_ZC && memcmp(out, in, bytes))
		die("%s: the payload came back changed", bc->name);
	if (bc->ops->detach)
		bc->ops->detach(x);
	free(out);
	free(in);
}

int pair_run(const struct bench_case *bc, struct xport *x, struct stats *s,
	     const char **step)
{
	struct procs procs = { .n = 0 };
	pid_t pid;
	int ret;

	sh = run_begin(x, 1, true, sizeof(*sh), step, &ret);
	if (!sh)
		return run_end(x, NULL, 0, ret);
	*step = "fork";
	pid = procs_spawn(&procs, pair_side, x, 0);
	if (pid < 0)
		return run_end(x, sh, sizeof(*sh), (int)pid);
	*step = "run";
	ret = procs_wait(&procs, 60 + (unsigned int)(opt.iterations / 100000), bc->name);
	if (!ret) {
		memset(s, 0, sizeof(*s));
		s->p50 = sh->ps;
		if (!s->p50) {
			*step = "measure (too short to time)";
			ret = -EPROTO;
		}
	}
	return run_end(x, sh, sizeof(*sh), ret);
}
