// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: errors, clocks, CPUs, shared memory and statistics.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

bool bench_in_child;

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("dmxp-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (bench_in_child)
		_exit(1);	/* the parent's atexit handlers are not ours to run */
	exit(1);
}

u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

void *shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void shared_free(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank percentile @p (0..1] of the sorted @v[@n]. */
static u64 percentile(const u64 *v, size_t n, double p)
{
	size_t rank = (size_t)(p * (double)n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/*
 * Sorts @v: the statistics of @n samples.  Every sample is kept, so the
 * percentiles are exact (a histogram with one bucket per nanosecond).
 */
void stats_of(u64 *v, size_t n, struct stats *s)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	s->min = v[0];
	s->p50 = percentile(v, n, 0.50);
	s->p99 = percentile(v, n, 0.99);
	s->p999 = percentile(v, n, 0.999);
	s->max = v[n - 1];
}

u64 median_of(u64 *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
