// SPDX-License-Identifier: MIT
/*
 * Message timestamps: CLOCK_MONOTONIC nanoseconds at a fraction of the
 * cost of clock_gettime().
 *
 * Every message carries the time it was sent, so the clock is read once
 * per send.  clock_gettime() reads the TSC with an ordering fence
 * (rdtsc_ordered), which waits for the loads in flight, and in the send
 * path those are the cache misses on the slot: measured here it cost
 * more than the rest of the send put together.  On x86-64 with an
 * invariant TSC the library instead extrapolates from an anchor: each
 * thread samples (CLOCK_MONOTONIC, TSC) pairs with clock_gettime(), takes
 * the TSC rate from a baseline of at least CALIBRATE_NS, and converts a
 * plain rdtsc for at most ANCHOR_NS after the last anchor before taking a
 * new one.  The error is the rate's error over one anchor period (well
 * under a microsecond even while NTP slews the clock at its maximum);
 * values never go backwards within a thread.  Without an invariant TSC,
 * and until the baseline is long enough, every stamp is clock_gettime().
 */
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "internal.h"

#define CALIBRATE_NS	10000000ULL	/* the shortest baseline for a rate */
#define ANCHOR_NS	1000000ULL	/* how long an anchor is used */
#define SAMPLE_TICKS	2000ULL		/* a pair read further apart is discarded */

__thread struct dmxp__clk dmxp__clk __attribute__((tls_model("initial-exec")));

#if defined(__x86_64__)
/* -1 unknown, 0 no, 1 yes: CPUID 0x80000007 EDX bit 8. */
static int tsc_invariant = -1;

static bool tsc_usable(void)
{
	int v = __atomic_load_n(&tsc_invariant, __ATOMIC_RELAXED);

	if (v < 0) {
		unsigned int a, b, c, d;

		v = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1U << 8));
		__atomic_store_n(&tsc_invariant, v, __ATOMIC_RELAXED);
	}
	return v;
}
#endif

__u64 dmxp__stamp_slow(void)
{
	struct dmxp__clk *k = &dmxp__clk;
	__u64 ns;
#if defined(__x86_64__)
	__u64 t0, t1;

	if (!tsc_usable())
		goto exact;
	t0 = __builtin_ia32_rdtsc();
	ns = dmxp__mono_ns();
	t1 = __builtin_ia32_rdtsc();
	if (t1 < t0 || t1 - t0 > SAMPLE_TICKS)
		goto out;	/* preempted or migrated between the reads */
	t0 += (t1 - t0) / 2;
	if (!k->base_tsc || t0 <= k->base_tsc || ns <= k->base_ns) {
		/* The first sample, or the TSC went back (another CPU's). */
		k->base_tsc = t0;
		k->base_ns = ns;
		k->window = 0;
	} else if (ns - k->base_ns >= CALIBRATE_NS) {
		unsigned __int128 m = (unsigned __int128)(ns - k->base_ns) << 32;

		k->mult = (__u64)(m / (t0 - k->base_tsc));
		if (!k->mult)
			goto exact;
		k->tsc0 = t0;
		k->ns0 = ns;
		/* d * mult stays far below 2^64: d is about a millisecond of ticks. */
		k->window = (__u64)(((unsigned __int128)ANCHOR_NS << 32) / k->mult);
	}
	goto out;
exact:
#endif
	ns = dmxp__mono_ns();
#if defined(__x86_64__)
out:
#endif
	if (ns < k->last)
		ns = k->last;
	k->last = ns;
	return ns;
}
