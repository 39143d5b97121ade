// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: dmxp and the transports a user would pick instead, measured
 * side by side in one run.
 *
 *	dmxp-bench [--cases PATTERNS] [--iterations N] [--warmup N]
 *		   [--duration-ms MS] [--repeat R] [--timestamp POLICY] [--stalls]
 *		   [--json] [--json-out FILE]
 *		   [--list]
 *
 * Four kinds of case, each over dmxp and over its peers:
 *
 *	lat-block/PEER		ping-pong latency, both sides sleeping in the
 *				transport's blocking receive (the wake-up cost)
 *	lat-busy/PEER		ping-pong latency, both sides polling
 *	tput/PEER/PxC/LEN	throughput of P producers and C consumers,
 *				LEN-byte messages
 *	pair/PEER		one thread sends a 64-byte message and
 *				receives it back: the calls' own cost, no
 *				other core involved (dmxp, dmxp-zc, dmxp-batch,
 *				vyukov)
 *
 * dmxp runs as dmxp (copy API), dmxp-zc (reserve/commit, peek/release)
 * and dmxp-batch (send_batch/recv_batch) on a region file, and as
 * dmxp-kernel on /dev/dmxp when the module is loaded.  The peers: pipe,
 * uds (SOCK_SEQPACKET), mq (POSIX), efdshm (eventfd-signalled shared
 * memory), futex and eventfd (signals only), zmq (ZeroMQ ipc://) and
 * iceoryx; the floors: cacheline (one line ping-pong), spsc (a minimal
 * single-producer single-consumer ring, the ceiling of every 1x1 case)
 * and vyukov (the bare ring protocol of dmxp on its slot layout, without
 * the metadata and the checks).  A peer that is not installed is reported
 * as skipped.
 *
 * Every case runs R times; each figure is the median of the runs, with
 * the range of the main figure over the runs.  Exit status 0 when every
 * case ran or was skipped, 1 (with a one-line error) otherwise, 2 for a
 * usage error.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

#define DEFAULT_ITERATIONS	20000UL
#define DEFAULT_WARMUP		1000UL
#define DEFAULT_DURATION_MS	200U
#define MAX_ITERATIONS		100000000UL
#define MAX_REPEAT		1000U
#define MAX_CASES		256
#define LAT_LEN			8	/* a latency message: its number */
#define PAIR_LEN		64
#define DEFAULT_SPIN_NS		20000U	/* lib/wait.c's default budget */

/* --timestamp, by DMXP_TIMESTAMP_* value. */
static const char *const stamps[] = { "precise", "coarse", "none" };

struct opts opt = {
	.iterations	= DEFAULT_ITERATIONS,
	.warmup		= DEFAULT_WARMUP,
	.duration_ms	= DEFAULT_DURATION_MS,
	.repeat		= 1,
	.cpu		= { -1, -1 },
};

/* ----------------------------------------------------------------- cases */

static const struct dmxp_cfg cfg_file = { .kernel = false, .spin = false };
static const struct dmxp_cfg cfg_file_spin = { .kernel = false, .spin = true };
static const struct dmxp_cfg cfg_kernel = { .kernel = true, .spin = false };
static const struct dmxp_cfg cfg_kernel_spin = { .kernel = true, .spin = true };

/* A transport as the cases name it. */
struct variant {
	const char		*name;		/* in case names */
	const char		*peer;
	const struct xport_ops	*ops;
	const void		*cfg;
	enum api		api;
	bool			block, busy;	/* has lat-block, lat-busy cases */
	bool			tput, mpmc;	/* has tput cases: 1x1 only, or all */
	bool			pair;		/* has a pair case */
	const char		*what;
};

static const struct variant variants[] = {
	{ "dmxp", "dmxp", &xp_dmxp, &cfg_file, API_COPY, true, true, true, true, true,
	  "region file; send/recv (copy); blocking: recv_wait, no spin" },
	{ "dmxp-spin", "dmxp", &xp_dmxp, &cfg_file_spin, API_COPY, true, false, false, false, false,
	  "region file; recv_wait with the default adaptive spin (20 us)" },
	{ "dmxp-zc", "dmxp", &xp_dmxp, &cfg_file, API_ZC, false, false, true, true, true,
	  "region file; reserve/commit, peek/release (zero-copy)" },
	{ "dmxp-batch", "dmxp", &xp_dmxp, &cfg_file, API_BATCH, false, false, true, true, true,
	  "region file; send_batch/recv_batch, 32 per call" },
	{ "dmxp-kernel", "dmxp", &xp_dmxp, &cfg_kernel, API_COPY, true, true, false, false, false,
	  "/dev/dmxp region; blocking: poll() and the NOTIFY ioctl, no spin" },
	{ "dmxp-kernel-spin", "dmxp", &xp_dmxp, &cfg_kernel_spin, API_COPY, true, false, false, false, false,
	  "/dev/dmxp region; recv_wait with the default adaptive spin" },
	{ "futex", "futex", &xp_futex, NULL, API_COPY, true, false, false, false, false,
	  "FUTEX_WAIT/FUTEX_WAKE on a MAP_SHARED word per side" },
	{ "eventfd", "eventfd", &xp_eventfd, NULL, API_COPY, true, false, false, false, false,
	  "an eventfd per side, blocking read" },
	{ "pipe", "pipe", &xp_pipe, NULL, API_COPY, true, true, true, true, false,
	  "a pipe per inbox, one write() per message" },
	{ "uds", "uds", &xp_uds, NULL, API_COPY, true, true, true, true, false,
	  "AF_UNIX SOCK_SEQPACKET socketpair per inbox" },
	{ "mq", "mq", &xp_mq, NULL, API_COPY, true, true, true, true, false,
	  "a POSIX message queue per inbox" },
	{ "efdshm", "efdshm", &xp_efdshm, NULL, API_COPY, true, true, true, false, false,
	  "SPSC ring in shared memory, eventfd doorbell per message" },
	{ "zmq", "zmq", &xp_zmq, NULL, API_COPY, true, true, true, true, false,
	  "ZeroMQ ipc://, PUSH/PULL" },
	{ "iceoryx", "iceoryx", &xp_iceoryx, NULL, API_COPY, true, true, true, false, false,
	  "iceoryx 2.0 publish/subscribe (C binding), RouDi started by the bench" },
	{ "cacheline", "floor", &xp_cacheline, NULL, API_COPY, false, true, false, false, false,
	  "floor: one 64-byte line per side, spin until it changes" },
	{ "spsc", "floor", &xp_spsc, NULL, API_BATCH, false, false, true, false, false,
	  "ceiling: minimal SPSC ring, 64-byte-line slots, cached indices, 32 per call, one publication" },
	{ "vyukov", "floor", &xp_vyukov, NULL, API_COPY, false, true, true, true, true,
	  "floor: bare Vyukov MPMC ring on the dmxp slot layout, no metadata" },
};

#define NVARIANTS	(sizeof(variants) / sizeof(variants[0]))

static const unsigned int shapes[][2] = { { 1, 1 }, { 2, 1 }, { 1, 2 }, { 2, 2 } };
static const unsigned int lens[] = { 8, 64, 512, 960 };

static struct bench_case cases[MAX_CASES];
static unsigned int ncases;

static struct bench_case *add_case(const struct variant *v, enum driver drv)
{
	struct bench_case *bc;

	if (ncases == MAX_CASES)
		die("too many cases");
	bc = &cases[ncases++];
	bc->peer = v->peer;
	bc->what = v->what;
	bc->drv = drv;
	bc->api = v->api;
	bc->ops = v->ops;
	bc->cfg = v->cfg;
	bc->len = LAT_LEN;
	bc->nprod = bc->ncons = 1;
	return bc;
}

static void build_cases(void)
{
	unsigned int i, s, l;

	for (i = 0; i < NVARIANTS; i++)
		if (variants[i].block)
			snprintf(add_case(&variants[i], DRV_LAT_BLOCK)->name,
				 sizeof(cases[0].name), "lat-block/%s", variants[i].name);
	for (i = 0; i < NVARIANTS; i++)
		if (variants[i].busy)
			snprintf(add_case(&variants[i], DRV_LAT_BUSY)->name,
				 sizeof(cases[0].name), "lat-busy/%s", variants[i].name);
	for (i = 0; i < NVARIANTS; i++) {
		if (!variants[i].tput)
			continue;
		for (s = 0; s < (variants[i].mpmc ? 4U : 1U); s++) {
			for (l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
				struct bench_case *bc = add_case(&variants[i], DRV_TPUT);

				bc->nprod = shapes[s][0];
				bc->ncons = shapes[s][1];
				bc->len = lens[l];
				snprintf(bc->name, sizeof(bc->name), "tput/%s/%ux%u/%u",
					 variants[i].name, bc->nprod, bc->ncons, bc->len);
			}
		}
	}
	for (i = 0; i < NVARIANTS; i++) {
		if (variants[i].pair) {
			struct bench_case *bc = add_case(&variants[i], DRV_PAIR);

			bc->len = PAIR_LEN;
			snprintf(bc->name, sizeof(bc->name), "pair/%s", variants[i].name);
		}
	}
	/*
	 * Each case's transport has the calls its API needs.  A peer that
	 * is not built in (its -dev package was missing) has only a setup(),
	 * which skips its cases and says why.
	 */
	for (i = 0; i < ncases; i++) {
		const struct xport_ops *o = cases[i].ops;
		bool ok = cases[i].api == API_BATCH ? o->send_many && o->recv_many :
			  cases[i].api == API_ZC ? o->send_zc && o->recv_zc : o->send && o->recv;

		if (!ok && o->attach)
			die("%s: its transport lacks the calls of its API", cases[i].name);
	}
}

static const struct bench_case *find_case(const char *name)
{
	unsigned int i;

	for (i = 0; i < ncases; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

/* --------------------------------------------------------------- running */

struct result {
	bool		skipped;
	char		why[160];
	struct stats	med;		/* the median of each figure over the runs */
	u64		lo, hi;		/* the range of the main figure over the runs */
};

static const char *metric_of(const struct bench_case *bc)
{
	switch (bc->drv) {
	case DRV_LAT_BLOCK:
		return "latency_blocking_one_way";
	case DRV_LAT_BUSY:
		return "latency_busy_poll_one_way";
	case DRV_PAIR:
		return "send_recv_pair";
	default:
		return "throughput";
	}
}

/* One run of case @bc into @st: 0, or SKIPPED with the reason in @why. */
static int run_once(const struct bench_case *bc, struct stats *st, char *why, size_t whylen)
{
	struct xport x = { .bc = bc, .len = bc->len };
	const char *step = "run";
	int ret;

	if (bc->drv == DRV_TPUT)
		ret = throughput_run(bc, &x, st, &step);
	else if (bc->drv == DRV_PAIR)
		ret = pair_run(bc, &x, st, &step);
	else
		ret = pingpong_run(bc, &x, st, &step);
	if (ret == SKIPPED) {
		snprintf(why, whylen, "%s", x.why);
		return SKIPPED;
	}
	if (ret == -ECHILD || ret == -ETIMEDOUT)
		exit(1);	/* the side that failed, or procs_wait(), said why */
	if (ret)
		die("%s: %s: %s", bc->name, step, strerror(-ret));
	return 0;
}

static void run_case(const struct bench_case *bc, struct result *res)
{
	struct stats *runs = calloc(opt.repeat, sizeof(*runs));
	u64 *col = calloc(opt.repeat, sizeof(*col));
	unsigned int r;

	if (!runs || !col)
		die("%s: %s", bc->name, strerror(ENOMEM));
	for (r = 0; r < opt.repeat; r++) {
		if (run_once(bc, &runs[r], res->why, sizeof(res->why)) == SKIPPED) {
			res->skipped = true;
			goto out;
		}
	}
#define MEDIAN(f) do {						\
		for (r = 0; r < opt.repeat; r++)			\
			col[r] = runs[r].f;				\
		res->med.f = median_of(col, opt.repeat);		\
	} while (0)
	MEDIAN(min);
	MEDIAN(p99);
	MEDIAN(p999);
	MEDIAN(max);
	MEDIAN(stalls);
	MEDIAN(stall_max);
	MEDIAN(stall_ns);
	MEDIAN(p50);	/* last: col stays sorted by p50 */
#undef MEDIAN
	res->lo = col[0];
	res->hi = col[opt.repeat - 1];
out:
	free(runs);
	free(col);
}

/* ---------------------------------------------------------------- output */

static FILE *json_out;

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *const apis[] = { "copy", "zero-copy", "batch" };

static void print_json(FILE *f, const struct bench_case *bc, const struct result *res)
{
	const struct dmxp_cfg *dc = bc->ops == &xp_dmxp ? bc->cfg : NULL;
	bool tput = bc->drv == DRV_TPUT, pair = bc->drv == DRV_PAIR;

	fprintf(f, "{\"name\":");
	json_str(f, bc->name);
	fprintf(f, ",\"peer\":");
	json_str(f, bc->peer);
	fprintf(f, ",\"metric\":\"%s\"", metric_of(bc));
	if (res->skipped) {
		fprintf(f, ",\"value\":null,\"unit\":\"%s\",\"skipped\":", tput ? "msg/s" : "ns");
		json_str(f, res->why);
	} else if (pair) {
		/* Measured in picoseconds, given in nanoseconds. */
		fprintf(f, ",\"value\":%.3f,\"unit\":\"ns\",\"min\":%.3f,\"max\":%.3f",
			res->med.p50 / 1e3, res->lo / 1e3, res->hi / 1e3);
	} else if (tput) {
		fprintf(f, ",\"value\":%llu,\"unit\":\"msg/s\",\"min\":%llu,\"max\":%llu,\"bytes_per_s\":%llu",
			res->med.p50, res->lo, res->hi, res->med.p50 * bc->len);
		if (opt.stalls && bc->ops->backlog)
			fprintf(f, ",\"stalls\":%llu,\"stall_max_us\":%.1f,\"stalled_pct\":%.2f",
				res->med.stalls, res->med.stall_max / 1e3, res->med.stall_ns / 1e4);
	} else {
		fprintf(f, ",\"value\":%llu,\"unit\":\"ns\",\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"min\":%llu,\"max\":%llu,\"p50_min\":%llu,\"p50_max\":%llu",
			res->med.p50, res->med.p50, res->med.p99, res->med.p999,
			res->med.min, res->med.max, res->lo, res->hi);
	}
	fprintf(f, ",\"parameters\":{\"description\":");
	json_str(f, bc->what);
	fprintf(f, ",\"payload_bytes\":%u,\"repeat\":%u,\"statistic\":\"median of runs\"",
		bc->len, opt.repeat);
	if (tput) {
		fprintf(f, ",\"producers\":%u,\"consumers\":%u,\"api\":\"%s\",\"duration_ms\":%u,\"warmup_ms\":%u",
			bc->nprod, bc->ncons, apis[bc->api], opt.duration_ms, TPUT_WARMUP_MS);
	} else if (pair) {
		fprintf(f, ",\"iterations\":%lu,\"warmup\":%lu,\"api\":\"%s\",\"mode\":\"one thread\"",
			opt.iterations, opt.warmup, apis[bc->api]);
	} else {
		fprintf(f, ",\"iterations\":%lu,\"warmup\":%lu,\"mode\":\"%s\"",
			opt.iterations, opt.warmup,
			bc->drv == DRV_LAT_BLOCK ? "blocking" : "busy-poll");
	}
	if (opt.cpu[0] >= 0)
		fprintf(f, ",\"cpus\":[%d,%d]", opt.cpu[0], opt.cpu[1]);
	if (dc)
		fprintf(f, ",\"backend\":\"%s\",\"spin_max_ns\":%u,\"timestamp\":\"%s\"",
			dc->kernel ? "kernel" : "file", dc->spin ? DEFAULT_SPIN_NS : 0,
			stamps[opt.stamp]);
	fprintf(f, "}}\n");
	fflush(f);
}

static enum driver section = (enum driver)-1;

static void print_tput(FILE *f, const struct bench_case *bc, const struct result *res)
{
	fprintf(f, "%-28s %9.2f %9.2f %9.2f %10.0f", bc->name, res->med.p50 / 1e6,
		res->lo / 1e6, res->hi / 1e6, res->med.p50 * (double)bc->len / 1e6);
	if (opt.stalls && bc->ops->backlog)
		fprintf(f, " %7llu %9.1f %7.2f%%", res->med.stalls, res->med.stall_max / 1e3,
			res->med.stall_ns / 1e4);
	fputc('\n', f);
}

static void print_text(FILE *f, const struct bench_case *bc, const struct result *res)
{
	if (bc->drv != section) {
		section = bc->drv;
		if (bc->drv == DRV_TPUT)
			fprintf(f, "\n%-28s %9s %9s %9s %10s%s\n", "throughput (M msg/s)",
				"median", "min", "max", "MB/s",
				opt.stalls ? "  stalls  max (us)  stalled" : "");
		else if (bc->drv == DRV_PAIR)
			fprintf(f, "\n%-28s %9s %9s %9s\n", "send+recv, one thread (ns)",
				"median", "min", "max");
		else
			fprintf(f, "\n%-28s %9s %9s %9s %9s %10s  %s\n",
			       bc->drv == DRV_LAT_BLOCK ? "blocking one-way (ns)" :
							  "busy-poll one-way (ns)",
			       "p50", "p99", "p99.9", "min", "max",
			       opt.repeat > 1 ? "p50 range" : "");
	}
	if (res->skipped)
		fprintf(f, "%-28s skipped: %s\n", bc->name, res->why);
	else if (bc->drv == DRV_TPUT)
		print_tput(f, bc, res);
	else if (bc->drv == DRV_PAIR)
		fprintf(f, "%-28s %9.2f %9.2f %9.2f\n", bc->name, res->med.p50 / 1e3,
			res->lo / 1e3, res->hi / 1e3);
	else if (opt.repeat > 1)
		fprintf(f, "%-28s %9llu %9llu %9llu %9llu %10llu  %llu..%llu\n", bc->name,
		       res->med.p50, res->med.p99, res->med.p999, res->med.min,
		       res->med.max, res->lo, res->hi);
	else
		fprintf(f, "%-28s %9llu %9llu %9llu %9llu %10llu\n", bc->name, res->med.p50,
		       res->med.p99, res->med.p999, res->med.min, res->med.max);
	fflush(f);
}

/* --------------------------------------------------------------- targets */

static struct result results[MAX_CASES];
static bool selected[MAX_CASES];

/* The main figure of case @name, or 0 if it did not run. */
static u64 value_of(const char *name)
{
	const struct bench_case *bc = find_case(name);

	if (!bc || !selected[bc - cases] || results[bc - cases].skipped)
		return 0;
	return results[bc - cases].med.p50;
}

/*
 * The targets dmxp sets itself, each a ratio of two cases of this run:
 * @a / @b must be at least (@at_least) or at most @bound.
 */
struct target {
	const char	*a, *b;
	bool		at_least;
	double		bound;
	const char	*what;
};

static const struct target targets[] = {
	{ "pair/dmxp", "pair/vyukov", false, 2.0,
	  "send+recv, one thread, vs bare Vyukov ring" },
	{ "tput/dmxp/1x1/64", "tput/vyukov/1x1/64", true, 0.8,
	  "1x1 64 B copy API vs the bare Vyukov ring" },
	{ "tput/dmxp-batch/1x1/64", "tput/vyukov/1x1/64", true, 1.5,
	  "1x1 64 B batch API vs the bare Vyukov ring" },
	{ "lat-busy/dmxp", "lat-busy/vyukov", false, 1.15,
	  "busy-poll p50 vs the bare Vyukov ring" },
	/* The ceiling is a ceiling: no 1x1 case it bounds may beat it. */
	{ "tput/spsc/1x1/64", "tput/dmxp/1x1/64", true, 1.0,
	  "SPSC ceiling bounds 1x1 64 B copy API" },
	{ "tput/spsc/1x1/64", "tput/dmxp-batch/1x1/64", true, 1.0,
	  "SPSC ceiling bounds 1x1 64 B batch API" },
	{ "tput/spsc/1x1/64", "tput/dmxp-zc/1x1/64", true, 1.0,
	  "SPSC ceiling bounds 1x1 64 B zero-copy API" },
	{ "tput/spsc/1x1/64", "tput/vyukov/1x1/64", true, 1.0,
	  "SPSC ceiling bounds 1x1 64 B bare Vyukov ring" },
	{ "tput/dmxp/1x1/64", "tput/iceoryx/1x1/64", true, 3.0,
	  "1x1 64 B vs iceoryx" },
	{ "tput/dmxp/1x1/64", "tput/uds/1x1/64", true, 10.0,
	  "1x1 64 B vs Unix socket" },
	{ "tput/dmxp/1x1/64", "tput/pipe/1x1/64", true, 10.0,
	  "1x1 64 B vs pipe" },
	{ "tput/dmxp/1x1/64", "tput/mq/1x1/64", true, 10.0,
	  "1x1 64 B vs POSIX queue" },
	{ "lat-busy/dmxp", "lat-busy/cacheline", false, 1.5,
	  "busy-poll p50 vs cache-line ping-pong" },
	{ "lat-busy/dmxp", "lat-busy/iceoryx", false, 0.5,
	  "busy-poll p50 vs iceoryx" },
	{ "lat-block/dmxp", "lat-block/futex", false, 1.2,
	  "blocking p50 vs raw futex" },
	{ "lat-block/dmxp", "lat-block/eventfd", false, 1.0,
	  "blocking p50 vs eventfd (below)" },
	{ "lat-block/dmxp", "lat-block/pipe", false, 1.0,
	  "blocking p50 vs pipe (below)" },
	{ "lat-block/dmxp-kernel", "lat-block/futex", false, 1.2,
	  "kernel backend blocking p50 vs raw futex" },
};

/*
 * The target rounds: round r's ratio of target t is
 * round_ratio[t * nrounds + r]; 0 where it has none (a case skipped).
 */
static double *round_ratio;
static unsigned int nrounds;

static const char *goal_op(const struct target *t)
{
	return t->at_least ? ">= " : (t->bound == 1.0 ? " < " : "<= ");
}

/*
 * A target as one JSON object: value is the ratio of case a to case b
 * (with rounds, the median of the rounds' ratios, which range from
 * round_min to round_max).
 */
static void print_target_json(FILE *f, const struct target *t, double r, bool ok,
			      double lo, double hi, unsigned int rounds)
{
	fprintf(f, "{\"name\":");
	json_str(f, t->what);
	fprintf(f, ",\"peer\":\"dmxp\",\"metric\":\"target_ratio\",\"value\":%.4f,\"unit\":\"ratio\",\"met\":%s,\"parameters\":{\"a\":",
		r, ok ? "true" : "false");
	json_str(f, t->a);
	fprintf(f, ",\"b\":");
	json_str(f, t->b);
	fprintf(f, ",\"goal\":\"%s%g\"", goal_op(t) + (goal_op(t)[0] == ' '), t->bound);
	if (rounds)
		fprintf(f, ",\"statistic\":\"median of rounds\",\"rounds\":%u,\"round_min\":%.4f,\"round_max\":%.4f",
			rounds, lo, hi);
	fprintf(f, "}}\n");
	fflush(f);
}

#define NTARGETS	(sizeof(targets) / sizeof(targets[0]))

static const struct bench_case *target_case(const char *name)
{
	const struct bench_case *bc = find_case(name);

	return bc && selected[bc - cases] && !results[bc - cases].skipped ? bc : NULL;
}

/* One run of @bc for round @r of the targets: its p50, or 0 when skipped. */
static u64 round_run(const struct bench_case *bc, unsigned int r)
{
	struct stats st = { 0 };
	char why[160];

	if (run_once(bc, &st, why, sizeof(why)) != SKIPPED)
		return st.p50;
	fprintf(stderr, "dmxp-bench: %s skipped in round %u: %s\n", bc->name, r + 1, why);
	return 0;
}

/*
 * With --repeat R > 1, the two cases of each target run again, R rounds
 * (R + 1 when R is odd) of each target's pair back to back, a then b in
 * even rounds and b then a in odd ones: on a shared host a case's speed
 * moves between runs by more than the ratios tell apart, over minutes,
 * and the second of two runs may find the caches and the frequency the
 * first left.  Each order runs as often, so that the median of the
 * rounds' ratios, the target, leans to neither.
 */
static void target_rounds(void)
{
	const struct bench_case *pa[NTARGETS], *pb[NTARGETS];
	unsigned int t, r, n = 0;

	for (t = 0; t < NTARGETS; t++) {
		pa[t] = target_case(targets[t].a);
		pb[t] = target_case(targets[t].b);
		if (!pa[t] || !pb[t])
			pa[t] = pb[t] = NULL;
		n += pa[t] != NULL;
	}
	if (opt.repeat < 2 || !n)
		return;
	nrounds = opt.repeat + opt.repeat % 2;
	round_ratio = calloc((size_t)NTARGETS * nrounds, sizeof(*round_ratio));
	if (!round_ratio)
		die("target rounds: %s", strerror(ENOMEM));
	fprintf(opt.json ? stderr : stdout,
		"\ndmxp-bench: the targets' %u pairs of cases again, %u rounds, each pair back to back in alternating order\n",
		n, nrounds);
	for (r = 0; r < nrounds; r++)
		for (t = 0; t < NTARGETS; t++) {
			u64 va, vb;

			if (!pa[t])
				continue;
			if (r % 2) {
				vb = round_run(pb[t], r);
				va = round_run(pa[t], r);
			} else {
				va = round_run(pa[t], r);
				vb = round_run(pb[t], r);
			}
			if (va && vb)
				round_ratio[t * nrounds + r] = (double)va / (double)vb;
		}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * Target @t's ratio: the median of its rounds' ratios, or without rounds
 * (or when no round measured both cases) the ratio of the two cases'
 * medians; 0 when a case did not run.  @lo and @hi: the rounds' range
 * (the ratio itself without rounds); @rounds: how many counted.
 */
static double target_ratio(const struct target *t, double *lo, double *hi, unsigned int *rounds)
{
	const struct bench_case *a = target_case(t->a), *b = target_case(t->b);
	unsigned int r, n = 0;
	double *q, m;

	*rounds = 0;
	if (!a || !b || !value_of(t->a) || !value_of(t->b))
		return 0;
	*lo = *hi = (double)value_of(t->a) / (double)value_of(t->b);
	if (!round_ratio)
		return *lo;
	q = calloc(nrounds, sizeof(*q));
	if (!q)
		die("targets: %s", strerror(ENOMEM));
	for (r = 0; r < nrounds; r++) {
		double v = round_ratio[(size_t)(t - targets) * nrounds + r];

		if (v > 0)
			q[n++] = v;
	}
	if (!n) {
		free(q);
		return *lo;
	}
	qsort(q, n, sizeof(*q), cmp_double);
	*lo = q[0];
	*hi = q[n - 1];
	*rounds = n;
	m = n % 2 ? q[n / 2] : (q[n / 2 - 1] + q[n / 2]) / 2;
	free(q);
	return m;
}

static void summary(void)
{
	FILE *f = opt.json ? stderr : stdout;
	unsigned int i, ran = 0, skipped = 0, met = 0, missed = 0;

	for (i = 0; i < ncases; i++) {
		if (!selected[i])
			continue;
		if (results[i].skipped)
			skipped++;
		else
			ran++;
	}
	if (round_ratio)
		fprintf(f, "\n%-46s %8s %8s  %-8s %s\n", "targets (median of the rounds' ratios)",
			"ratio", "goal", "", "rounds");
	else
		fprintf(f, "\n%-46s %8s %8s  %s\n", "targets (ratios within this run)", "ratio",
			"goal", "");
	for (i = 0; i < NTARGETS; i++) {
		const struct target *t = &targets[i];
		unsigned int rounds;
		double r, lo, hi;
		bool ok;

		r = target_ratio(t, &lo, &hi, &rounds);
		if (!r)
			continue;
		ok = t->at_least ? r >= t->bound : (t->bound == 1.0 ? r < 1.0 : r <= t->bound);
		ok ? met++ : missed++;
		if (rounds)
			fprintf(f, "%-46s %8.2f %s%-6.3g  %-8s %.2f..%.2f\n", t->what, r, goal_op(t),
				t->bound, ok ? "met" : "MISSED", lo, hi);
		else
			fprintf(f, "%-46s %8.2f %s%-6.3g  %s\n", t->what, r, goal_op(t), t->bound,
				ok ? "met" : "MISSED");
		if (opt.json)
			print_target_json(stdout, t, r, ok, lo, hi, rounds);
		if (json_out)
			print_target_json(json_out, t, r, ok, lo, hi, rounds);
	}
	fprintf(f, "dmxp-bench: %u cases run, %u skipped; targets: %u met, %u missed\n",
		ran, skipped, met, missed);
}

/* ------------------------------------------------------------------ main */

/* Pin sides to the first two allowed CPUs. */
static void choose_cpus(void)
{
	cpu_set_t set;
	int cpu, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	opt.ncpu = (unsigned int)CPU_COUNT(&set);
	for (cpu = 0; cpu < CPU_SETSIZE && n < 2; cpu++)
		if (CPU_ISSET(cpu, &set))
			opt.cpu[n++] = cpu;
	if (n < 2)
		opt.cpu[0] = opt.cpu[1] = -1;
}

static unsigned long parse_num(const char *s, const char *what, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > max) {
		fprintf(stderr, "dmxp-bench: invalid %s '%s' (1..%lu)\n", what, s, max);
		exit(2);
	}
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmxp-bench [--cases PATTERNS] [--iterations N] [--warmup N]\n"
		"                  [--duration-ms MS] [--repeat R] [--timestamp POLICY] [--stalls]\n"
		"                  [--json] [--json-out FILE] [--list]\n"
		"  --cases PATTERNS  comma-separated case names or shell patterns\n"
		"                    (default: all; e.g. 'tput/*/1x1/64,lat-*/dmxp')\n"
		"  --iterations N    latency: timed round trips per run, pair: timed\n"
		"                    messages per run (default %lu)\n"
		"  --warmup N        latency, pair: untimed ones first (default %lu; 0 allowed)\n"
		"  --duration-ms MS  throughput: how long producers send per run (default %u)\n"
		"  --repeat R        run each case R times; report medians (default 1); with\n"
		"                    R > 1, then R rounds (R + 1 if odd) of each target's\n"
		"                    two cases back to back, in alternating order, and each\n"
		"                    target the median of its rounds' ratios\n"
		"  --timestamp POLICY  what dmxp's sends stamp: precise (default), coarse\n"
		"                    or none (dmxp_chan_set_timestamp(3))\n"
		"  --stalls          throughput of dmxp and vyukov: count the consumers' waits\n"
		"                    behind a claim of 100 us or more (slows every case down)\n"
		"  --json            one JSON object per case on stdout; the text goes to stderr\n"
		"  --json-out FILE   also write the JSON objects to FILE\n"
		"  --list            list the cases\n",
		DEFAULT_ITERATIONS, DEFAULT_WARMUP, DEFAULT_DURATION_MS);
}

static void select_cases(const char *list)
{
	char *dup, *tok, *save = NULL;
	unsigned int i;

	if (!list || !strcmp(list, "all")) {
		for (i = 0; i < ncases; i++)
			selected[i] = true;
		return;
	}
	dup = strdup(list);
	if (!dup)
		die("%s", strerror(ENOMEM));
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool hit = false;

		for (i = 0; i < ncases; i++) {
			if (!fnmatch(tok, cases[i].name, 0)) {
				selected[i] = true;
				hit = true;
			}
		}
		if (!hit) {
			fprintf(stderr, "dmxp-bench: no case matches '%s' (see --list)\n", tok);
			exit(2);
		}
	}
	free(dup);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "cases",	 required_argument,	NULL, 'c' },
		{ "iterations",	 required_argument,	NULL, 'n' },
		{ "warmup",	 required_argument,	NULL, 'w' },
		{ "duration-ms", required_argument,	NULL, 'd' },
		{ "repeat",	 required_argument,	NULL, 'r' },
		{ "timestamp",	 required_argument,	NULL, 't' },
		{ "stalls",	 no_argument,		NULL, 's' },
		{ "json",	 no_argument,		NULL, 'j' },
		{ "json-out",	 required_argument,	NULL, 'o' },
		{ "list",	 no_argument,		NULL, 'l' },
		{ "help",	 no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *list = NULL, *out = NULL;
	bool do_list = false;
	struct utsname u;
	unsigned int i;
	int o;

	build_cases();
	while ((o = getopt_long(argc, argv, "c:n:w:d:r:t:sjo:lh", lopts, NULL)) != -1) {
		switch (o) {
		case 'c':
			list = optarg;
			break;
		case 'n':
			opt.iterations = parse_num(optarg, "iteration count", MAX_ITERATIONS);
			break;
		case 'w':
			opt.warmup = strcmp(optarg, "0") ?
				     parse_num(optarg, "warm-up count", MAX_ITERATIONS) : 0;
			break;
		case 'd':
			opt.duration_ms = (unsigned int)parse_num(optarg, "duration", 600000);
			break;
		case 'r':
			opt.repeat = (unsigned int)parse_num(optarg, "repeat count", MAX_REPEAT);
			break;
		case 't':
			for (i = 0; i < 3 && strcmp(optarg, stamps[i]); i++)
				;
			if (i == 3) {
				fprintf(stderr, "dmxp-bench: --timestamp: '%s' is not precise, coarse or none\n",
					optarg);
				return 2;
			}
			opt.stamp = i;
			break;
		case 's':
			opt.stalls = true;
			break;
		case 'j':
			opt.json = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'l':
			do_list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dmxp-bench: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	select_cases(list);
	if (do_list) {
		for (i = 0; i < ncases; i++)
			if (selected[i])
				printf("%-28s %-8s %s\n", cases[i].name, cases[i].peer,
				       cases[i].what);
		return 0;
	}
	if (out) {
		json_out = fopen(out, "w");
		if (!json_out)
			die("%s: %s", out, strerror(errno));
	}
	choose_cpus();
	{
		FILE *t = opt.json ? stderr : stdout;

		uname(&u);
		fprintf(t, "dmxp-bench: %s %s, %u CPUs available%s\n", u.sysname, u.release,
			opt.ncpu, opt.cpu[0] >= 0 ? "" : " (sides not pinned)");
		fprintf(t, "dmxp-bench: latency: %lu round trips after %lu warm-up, one way = round trip / 2; "
			"throughput: %u ms of sending; %u run%s per case%s\n",
			opt.iterations, opt.warmup, opt.duration_ms, opt.repeat,
			opt.repeat > 1 ? "s" : "", opt.repeat > 1 ? ", figures are medians" : "");
		if (opt.cpu[0] >= 0)
			fprintf(t, "dmxp-bench: pinned: ping-pong sides and producers/consumers on CPUs %d/%d\n",
				opt.cpu[0], opt.cpu[1]);
		fflush(t);
	}
	for (i = 0; i < ncases; i++) {
		if (!selected[i])
			continue;
		run_case(&cases[i], &results[i]);
		if (opt.json)
			print_json(stdout, &cases[i], &results[i]);
		if (json_out)
			print_json(json_out, &cases[i], &results[i]);
		print_text(opt.json ? stderr : stdout, &cases[i], &results[i]);
	}
	target_rounds();
	summary();
	if (json_out && fclose(json_out))
		die("%s: %s", out, strerror(errno));
	return 0;
}
