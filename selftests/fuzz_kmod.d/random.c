// SPDX-License-Identifier: MIT
/*
 * The seeded random stream that every choice of the run draws from.
 */
#include "fuzz_kmod.h"

__u64 rng;

__u64 rnd(void)
{
	__u64 z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

__u64 below(__u64 n)
{
	return n ? rnd() % n : 0;
}

bool pct(unsigned int p)
{
	return below(100) < p;
}

/* A non-zero value of the kinds that break range checks. */
__u64 garbage64(void)
{
	__u64 v;

	switch (below(6)) {
	case 0:
		v = rnd();
		break;
	case 1:
		v = 1ULL << below(64);
		break;
	case 2:
		v = ~0ULL;
		break;
	case 3:
		v = 1 + below(16);
		break;
	case 4:
		v = 1ULL << 63;
		break;
	default:
		v = -(1 + below(4096));
		break;
	}
	return v ? v : 1;
}

__u32 garbage32(void)
{
	__u32 v = (__u32)garbage64();

	return v ? v : 0x80000000U;
}
