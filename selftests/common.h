/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the dmxp selftests.
 *
 * Every test works on a region of its own under /dev/shm (or $DMXP_TEST_DIR),
 * named after the test and the pid, and removes it when done.
 */
#ifndef DMXP_SELFTEST_COMMON_H
#define DMXP_SELFTEST_COMMON_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "dmxp.h"

/*
 * A small region: the header plus 4 MiB of rings, page-aligned so that a
 * kernel region has exactly this size too.
 */
#define TEST_REGION_SIZE	(((DMXP_HEADER_SIZE + 4095ULL) & ~4095ULL) + (4ULL << 20))
/* Where the first ring goes in a region big enough for a claim table. */
#define FIRST_BAND		(DMXP_HEADER_SIZE + DMXP_CLAIMS * DMXP_CLAIM_SIZE)

/*
 * The suite runs on both backends: region files (the default) and, with
 * DMXP_TEST_BACKEND=kernel (in the guest), regions of /dev/dmxp.  Tests
 * of what only one backend has skip on the other.
 */
static inline bool test_on_kernel(void)
{
	const char *b = getenv("DMXP_TEST_BACKEND");

	return b && !strcmp(b, "kernel");
}

/*
 * DMXP_TEST_TIME_SCALE=N (an integer, 1 to 20) multiplies every test's
 * harness timeout: a kernel with KASAN and lockdep, emulated, does the
 * same work several times slower (`make check-debug` sets it).  The
 * stress tests with a fixed amount of work do that much less of it.  What
 * a test asserts about time (a wake-up's latency, a repair's delay) is not
 * scaled: only the guards against a hung test are.
 */
static inline unsigned int test_time_scale(void)
{
	const char *e = getenv("DMXP_TEST_TIME_SCALE");
	long n = e && *e ? strtol(e, NULL, 10) : 1;

	return n >= 1 && n <= 20 ? (unsigned int)n : 1;
}

#ifndef TEST_HARNESS_MAIN
#error "include kselftest_harness.h before common.h: its main() scales the timeouts"
#endif
#undef TEST_HARNESS_MAIN
#define TEST_HARNESS_MAIN \
	static void __attribute__((constructor)) \
	__constructor_order_last(void) \
	{ \
		if (!__constructor_order) \
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	} \
	int main(int argc, char **argv) \
	{ \
		unsigned int scale = test_time_scale(); \
		struct __fixture_metadata *f; \
		struct __test_metadata *t; \
		\
		for (f = __fixture_list; f; f = f->next) \
			for (t = f->tests; t; t = t->next) \
				t->timeout *= scale; \
		return test_harness_run(argc, argv); \
	}

static inline void test_region_path(char *buf, size_t len, const char *tag)
{
	const char *dir = getenv("DMXP_TEST_DIR");

	if (test_on_kernel()) {
		/* A kernel region name holds at most 31 characters. */
		snprintf(buf, len, DMXP_DEVICE ":%.12s-%d-%lx", tag, (int)getpid(),
			 (unsigned long)random() & 0xffffff);
		return;
	}
	snprintf(buf, len, "%s/dmxp-test-%s-%d-%lx", dir && *dir ? dir : "/dev/shm",
		 tag, (int)getpid(), (unsigned long)random());
}

/*
 * For a test program about region files only: on the kernel backend it
 * reports itself skipped, in kselftest's TAP, before any test runs.
 */
#define TEST_REGION_FILES_ONLY(why)						\
static void __attribute__((constructor)) test_files_only(void)		\
{										\
	if (!test_on_kernel())							\
		return;								\
	printf("TAP version 13\n1..0 # SKIP %s\n", why);			\
	printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");	\
	exit(4);	/* KSFT_SKIP */						\
}

/* Remove a test region on either backend, even one the test corrupted. */
static inline void test_region_remove(const char *path)
{
	if (dmxp_region_unlink(path) && !test_on_kernel())
		unlink(path);
}

static inline long long test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Long mode of the stress tests: DMXP_STRESS_SECONDS=N, else 0. */
static inline unsigned int test_stress_seconds(void)
{
	const char *s = getenv("DMXP_STRESS_SECONDS");

	return s && *s ? (unsigned int)strtoul(s, NULL, 10) : 0;
}

/*
 * The stress tests' message body length for message @n of producer @p:
 * every length up to @max, with the extremes 0 and @max often.
 */
static inline __u32 test_body_len(__u32 max, unsigned int p, __u64 n)
{
	switch (n % 16) {
	case 0:
		return 0;
	case 1:
		return max;
	default:
		return (__u32)((n * 37 + p * 11) % (max + 1));
	}
}

/* The stress tests' message type: the producer and the counter's low bits. */
static inline __u32 test_msg_type(unsigned int p, __u64 n)
{
	return (p << 24) | (__u32)(n & 0xffffff);
}

/* SIGKILL and reap the test's children. */
static inline void test_kill_children(pid_t *pids, unsigned int *nr)
{
	unsigned int i;

	for (i = 0; i < *nr; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (i = 0; i < *nr; i++)
		if (pids[i] > 0)
			waitpid(pids[i], NULL, 0);
	*nr = 0;
}

/* Deterministic payload bytes for message @n of producer @p. */
static inline void test_fill(unsigned char *buf, size_t len, unsigned int p,
			     unsigned long long n)
{
	unsigned long long x = (n + 1) * 0x9E3779B97F4A7C15ULL ^ ((unsigned long long)p << 48);
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		buf[i] = (unsigned char)(x * 0x2545F4914F6CDD1DULL >> 56);
	}
}

/* FNV-1a, for payload checksums. */
static inline unsigned long long test_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned long long h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

#endif /* DMXP_SELFTEST_COMMON_H */
