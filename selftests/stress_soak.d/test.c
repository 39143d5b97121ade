// SPDX-License-Identifier: MIT
/*
 * The test on the harness: the region and the processes set up, the run,
 * and the reconciliation of what was sent with what was received.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "stress_soak.h"

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

static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

/* The harness's run of the test, with a timeout that fits the duration. */
int soak_harness_run(int argc, char **argv)
{
	_soak_run_object.timeout = (int)soak_seconds() + 300;
	return test_harness_run(argc, argv);
}
