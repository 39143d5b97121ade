/* SPDX-License-Identifier: MIT */
/*
 * The dmxp selftests' helper library: helpers.c, built once and linked
 * into every C test (helpers.asan.o and helpers.tsan.o into the sanitizer
 * builds), and the macros that need the kselftest harness.
 *
 * Every test works on a region of its own under /dev/shm (or $DMXP_TEST_DIR),
 * named after the test and the pid, and removes it when done.
 *
 * Nothing here keeps state of one test: what a helper remembers (the
 * alarm's flag) is the calling process's.  A program without the harness
 * (a helper_*.c) defines DMXP_TEST_NO_HARNESS before including this file.
 */
#ifndef DMXP_SELFTEST_HELPERS_H
#define DMXP_SELFTEST_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <linux/dmxp.h>

#include "dmxp.h"

/* ------------------------------------------------------------ regions */

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
bool test_on_kernel(void);

/*
 * DMXP_TEST_TIME_SCALE=N (an integer, 1 to 20) multiplies every test's
 * harness timeout: a kernel with KASAN and lockdep, emulated, does the
 * same work several times slower (`make check-debug` sets it).  The
 * stress tests with a fixed amount of work do that much less of it.  What
 * a test asserts about time (a wake-up's latency, a repair's delay) is not
 * scaled: only the guards against a hung or livelocked test are.
 */
unsigned int test_time_scale(void);

/* A fresh region path for @tag on the backend under test. */
void test_region_path(char *buf, size_t len, const char *tag);
/*
 * A value for a name that no earlier call of this process returned, nor
 * (in practice) an earlier process with the same pid: the clock and a
 * counter.
 */
unsigned long test_name_salt(void);

/* Remove a test region on either backend, even one the test corrupted. */
void test_region_remove(const char *path);

/* ------------------------------------------------------------- time */

long long test_now_ns(void);

/* Sleep @ms milliseconds, through signals. */
void test_sleep_ms(long ms);

/*
 * A one-shot SIGALRM after @ms milliseconds that sets test_got_alarm
 * (sigaction flags @flags: 0 makes a blocking call end with EINTR).
 */
extern volatile sig_atomic_t test_got_alarm;
void test_set_alarm(int flags, long ms);
void test_clear_alarm(void);

/* ------------------------------------------------------ random numbers */

/* xorshift64 (13, 7, 17): the state must not be 0. */
__u64 test_xorshift(__u64 *s);

/* xorshift64*, seeded through splitmix64. */
struct test_rng {
	__u64 s;
};
__u64 test_splitmix(__u64 x);
__u64 test_rnd(struct test_rng *r);

/* ------------------------------------------------------ the stress tests */

/* Long mode of the stress tests: DMXP_STRESS_SECONDS=N, else 0. */
unsigned int test_stress_seconds(void);

/*
 * The stress tests' message body length for message @n of producer @p:
 * every length up to @max, with the extremes 0 and @max often.
 */
__u32 test_body_len(__u32 max, unsigned int p, __u64 n);

/* The stress tests' message type: the producer and the counter's low bits. */
__u32 test_msg_type(unsigned int p, __u64 n);

/* Deterministic payload bytes for message @n of producer @p. */
void test_fill(unsigned char *buf, size_t len, unsigned int p, unsigned long long n);

/* FNV-1a, for payload checksums. */
unsigned long long test_hash(const void *buf, size_t len);

/*
 * The first problem a stress test's processes or threads met, kept in
 * memory they share, for the log; every problem counts in *@counter.
 */
struct test_first_error {
	__u32	taken;		/* atomic */
	char	msg[256];
};
void test_note_error(struct test_first_error *e, __u32 *counter, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ children */

/* SIGKILL and reap the test's children. */
void test_kill_children(pid_t *pids, unsigned int *nr);

/* A wait status as one number: the exit code, or 128 + the signal. */
int test_exit_code(int status);

/*
 * Reap @pid: its test_exit_code(), or -1 if it has not ended within @ms
 * milliseconds (-1: wait for it).
 */
int test_reap(pid_t pid, long ms);

/*
 * Reap the children among @pids[@from, @to) that have ended, without
 * waiting: each one reaped is zeroed in @pids and counted off *@left.
 * Returns how many of them failed (a non-zero exit or a signal), each
 * logged as "child N: exit|signal S".
 */
unsigned int test_reap_ended(pid_t *pids, unsigned int from, unsigned int to,
			     unsigned int *left);

/* The value of @key in /proc/meminfo, in kB; -1 if there is none. */
long long test_meminfo_kb(const char *key);

/* Read /proc/@pid/@file, NUL-ended (empty if unreadable). */
void test_proc_text(pid_t pid, const char *file, char *buf, size_t len);

/* ------------------------------------------- /dev/dmxp and its sysfs */

#define TEST_SYSFS_DIR	"/sys/kernel/dmxp"
#define TEST_PARAM_DIR	"/sys/module/dmxp/parameters"

/* The ioctl's result (a new fd for CHAN_FD), or -errno. */
int xioctl(int fd, unsigned long cmd, void *arg);

/* A zeroed request for @name (up to 32 bytes, not necessarily NUL-ended). */
void rq_init(struct dmxp_ioc_region *rq, const char *name);

/* The module's version handshake on @fd: 0 or -errno. */
int dev_handshake(int fd);

/*
 * /dev/dmxp (in the directory @dir, an O_PATH fd, or DMXP_DEVICE if @dir
 * is negative) opened with @oflags and handshaken; the fd or -errno.
 */
int dev_open_at(int dir, int oflags);

/* /dev/dmxp read-write, handshaken; the fd or -errno. */
int dev_open(void);

/* A handshaken file bound to the region @name (its size in *@size); fd or -errno. */
int dev_attach(const char *name, __u64 *size);

int region_create(int fd, const char *name, __u64 size, __u32 mode, __u32 flags,
		  struct dmxp_ioc_region *out);
int region_attach(int fd, const char *name, struct dmxp_ioc_region *out);
int region_destroy(int fd, const char *name);

/* Channel ioctls on a bound file: 0 (CHAN_FD: the fd) or -errno. */
int ioc_chan_create(int fd, __u32 id, __u64 cap, __u64 *band_offset);
int ioc_chan_destroy(int fd, __u32 id);
int ioc_notify(int fd, __u32 id, __u32 flags);
int ioc_eventfd(int fd, __u32 id, int efd, __u32 flags);
int ioc_chan_fd(int fd, __u32 id, __u32 flags);

/* Read a small text file, without its trailing newline; 0 or -errno. */
int read_text(const char *path, char *buf, size_t len);

/*
 * /sys/kernel/dmxp/@region/@attr as text (0 or -errno), as a number
 * (octal with a leading 0, hex with 0x; -1 if unreadable), and whether
 * it exists (@attr "" for the region's directory).
 */
int sysfs_str(const char *region, const char *attr, char *buf, size_t len);
long long sysfs_num(const char *region, const char *attr);
bool sysfs_exists(const char *region, const char *attr);

/* The module parameter @param, decimal; @dflt if there is none. */
long long param_or(const char *param, long long dflt);

/* Pass a file descriptor over the unix socket @sock: 0 or -errno; the fd or -errno. */
int send_fd(int sock, int fd);
int recv_fd(int sock);

/* --------------------------------------------- macros of the harness */

#ifndef DMXP_TEST_NO_HARNESS
#ifndef TEST_HARNESS_MAIN
#error "include kselftest_harness.h before helpers.h: its main() scales the timeouts"
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

/*
 * In a FIXTURE_SETUP of a test of the module: skip, setting @nodev, when
 * /dev/dmxp does not exist (the module is not loaded, as on the host) or
 * when not root (@root_why says why root is needed).
 */
#define SKIP_WITHOUT_DEV(nodev, root_why) do {				\
	if (access(DMXP_DEVICE, F_OK)) {				\
		(nodev) = true;						\
		SKIP(return, "no %s: the module is not loaded", DMXP_DEVICE); \
	}								\
	if (geteuid() != 0) {						\
		(nodev) = true;						\
		SKIP(return, root_why);					\
	}								\
} while (0)

/* The harness runs the body even after the setup skipped: skip it too. */
#define NEED_DEV() do {							\
	if (self->nodev)						\
		SKIP(return, "no %s", DMXP_DEVICE);			\
} while (0)

/* Log where the stuck process @pid is: its state, wait channel and stack. */
#define TEST_LOG_STUCK(pid) do {					\
	char __stat[512], __wchan[64], __stack[2048];			\
	const char *__state;						\
									\
	test_proc_text((pid), "stat", __stat, sizeof(__stat));		\
	test_proc_text((pid), "wchan", __wchan, sizeof(__wchan));	\
	test_proc_text((pid), "stack", __stack, sizeof(__stack));	\
	__state = strrchr(__stat, ')');					\
	TH_LOG("pid %d: state %.2s, wchan %s, kernel stack:\n%s", (int)(pid), \
	       __state ? __state + 1 : " ?", __wchan, __stack);		\
} while (0)
#endif /* DMXP_TEST_NO_HARNESS */

#endif /* DMXP_SELFTEST_HELPERS_H */
