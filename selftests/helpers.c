// SPDX-License-Identifier: MIT
/*
 * The dmxp selftests' helper library (see helpers.h).
 */
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#define DMXP_TEST_NO_HARNESS
#include "helpers.h"

/* ------------------------------------------------------------ regions */

bool test_on_kernel(void)
{
	const char *b = getenv("DMXP_TEST_BACKEND");

	return b && !strcmp(b, "kernel");
}

unsigned int test_time_scale(void)
{
	const char *e = getenv("DMXP_TEST_TIME_SCALE");
	long n = e && *e ? strtol(e, NULL, 10) : 1;

	return n >= 1 && n <= 20 ? (unsigned int)n : 1;
}

unsigned long test_name_salt(void)
{
	static unsigned long made;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((unsigned long)ts.tv_nsec << 8 | (made++ & 0xff)) ^ ((unsigned long)ts.tv_sec << 40);
}

/*
 * A region name no earlier test left behind: the pid, which a test killed
 * before its teardown may have had too, and the salt.
 */
void test_region_path(char *buf, size_t len, const char *tag)
{
	const char *dir = getenv("DMXP_TEST_DIR");
	unsigned long salt = test_name_salt();

	if (test_on_kernel()) {
		/* A kernel region name holds at most 31 characters. */
		snprintf(buf, len, DMXP_DEVICE ":%.12s-%d-%lx", tag, (int)getpid(),
			 salt & 0xffffff);
		return;
	}
	snprintf(buf, len, "%s/dmxp-test-%s-%d-%lx", dir && *dir ? dir : "/dev/shm",
		 tag, (int)getpid(), salt);
}

void test_region_remove(const char *path)
{
	if (dmxp_region_unlink(path) && !test_on_kernel())
		unlink(path);
}

/* ------------------------------------------------------------- time */

long long test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void test_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

volatile sig_atomic_t test_got_alarm;

static void on_alarm(int sig)
{
	(void)sig;
	test_got_alarm = 1;
}

void test_set_alarm(int flags, long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = flags };
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	test_got_alarm = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

void test_clear_alarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
}

/* ------------------------------------------------------ random numbers */

__u64 test_xorshift(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

__u64 test_splitmix(__u64 x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

__u64 test_rnd(struct test_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

/* ------------------------------------------------------ the stress tests */

unsigned int test_stress_seconds(void)
{
	const char *s = getenv("DMXP_STRESS_SECONDS");

	return s && *s ? (unsigned int)strtoul(s, NULL, 10) : 0;
}

__u32 test_body_len(__u32 max, unsigned int p, __u64 n)
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

__u32 test_msg_type(unsigned int p, __u64 n)
{
	return (p << 24) | (__u32)(n & 0xffffff);
}

void test_fill(unsigned char *buf, size_t len, unsigned int p, unsigned long long n)
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

unsigned long long test_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	unsigned long long h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

void test_note_error(struct test_first_error *e, __u32 *counter, const char *fmt, ...)
{
	va_list ap;

	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&e->taken, 1, __ATOMIC_ACQ_REL))
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ children */

void test_kill_children(pid_t *pids, unsigned int *nr)
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

int test_exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int test_reap(pid_t pid, long ms)
{
	long long end = test_now_ns() + ms * 1000000LL;
	int status;

	for (;;) {
		pid_t w = waitpid(pid, &status, ms < 0 ? 0 : WNOHANG);

		if (w == pid)
			return test_exit_code(status);
		if (w < 0 || test_now_ns() > end)
			return -1;
		test_sleep_ms(1);
	}
}

unsigned int test_reap_ended(pid_t *pids, unsigned int from, unsigned int to,
			     unsigned int *left)
{
	unsigned int i, bad = 0;

	for (i = from; i < to; i++) {
		int status;

		if (pids[i] <= 0 || waitpid(pids[i], &status, WNOHANG) <= 0)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "# child %u: %s %d\n", i,
				WIFEXITED(status) ? "exit" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			bad++;
		}
		pids[i] = 0;
		(*left)--;
	}
	return bad;
}

long long test_meminfo_kb(const char *key)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			kb = strtoll(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return kb;
}

void test_proc_text(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, len - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
}

/* ------------------------------------------- /dev/dmxp and its sysfs */

int xioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

void rq_init(struct dmxp_ioc_region *rq, const char *name)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(rq->name, name, strnlen(name, DMXP_NAME_MAX));
}

int dev_handshake(int fd)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };

	return xioctl(fd, DMXP_IOC_VERSION, &v);
}

int dev_open_at(int dir, int oflags)
{
	int fd, ret;

	fd = dir >= 0 ? openat(dir, "dmxp", oflags | O_CLOEXEC) :
			open(DMXP_DEVICE, oflags | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = dev_handshake(fd);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int dev_open(void)
{
	return dev_open_at(-1, O_RDWR);
}

int dev_attach(const char *name, __u64 *size)
{
	struct dmxp_ioc_region rq;
	int fd = dev_open(), ret;

	if (fd < 0)
		return fd;
	ret = region_attach(fd, name, &rq);
	if (ret) {
		close(fd);
		return ret;
	}
	if (size)
		*size = rq.size;
	return fd;
}

int region_create(int fd, const char *name, __u64 size, __u32 mode, __u32 flags,
		  struct dmxp_ioc_region *out)
{
	struct dmxp_ioc_region rq;
	int ret;

	rq_init(&rq, name);
	rq.size = size;
	rq.mode = mode;
	rq.flags = flags;
	ret = xioctl(fd, DMXP_IOC_REGION_CREATE, &rq);
	if (out)
		*out = rq;
	return ret;
}

int region_attach(int fd, const char *name, struct dmxp_ioc_region *out)
{
	struct dmxp_ioc_region rq;
	int ret;

	rq_init(&rq, name);
	ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
	if (out)
		*out = rq;
	return ret;
}

int region_destroy(int fd, const char *name)
{
	struct dmxp_ioc_region rq;

	rq_init(&rq, name);
	return xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
}

int ioc_chan_create(int fd, __u32 id, __u64 cap, __u64 *band_offset)
{
	struct dmxp_ioc_chan c = { .id = id, .capacity = cap };
	int ret = xioctl(fd, DMXP_IOC_CHAN_CREATE, &c);

	if (!ret && band_offset)
		*band_offset = c.band_offset;
	return ret;
}

int ioc_chan_destroy(int fd, __u32 id)
{
	struct dmxp_ioc_chan c = { .id = id };

	return xioctl(fd, DMXP_IOC_CHAN_DESTROY, &c);
}

int ioc_notify(int fd, __u32 id, __u32 flags)
{
	struct dmxp_ioc_notify n = { .id = id, .flags = flags };

	return xioctl(fd, DMXP_IOC_NOTIFY, &n);
}

int ioc_eventfd(int fd, __u32 id, int efd, __u32 flags)
{
	struct dmxp_ioc_eventfd e = { .id = id, .flags = flags, .fd = efd };

	return xioctl(fd, DMXP_IOC_CHAN_EVENTFD, &e);
}

int ioc_chan_fd(int fd, __u32 id, __u32 flags)
{
	struct dmxp_ioc_chan_fd f = { .id = id, .flags = flags };

	return xioctl(fd, DMXP_IOC_CHAN_FD, &f);
}

int read_text(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

int sysfs_str(const char *region, const char *attr, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), TEST_SYSFS_DIR "/%s/%s", region, attr);
	return read_text(path, buf, len);
}

long long sysfs_num(const char *region, const char *attr)
{
	char buf[64];

	if (sysfs_str(region, attr, buf, sizeof(buf)) || !buf[0])
		return -1;
	return strtoll(buf, NULL, 0);
}

bool sysfs_exists(const char *region, const char *attr)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), TEST_SYSFS_DIR "/%s%s%s", region,
		 *attr ? "/" : "", attr);
	return stat(path, &st) == 0;
}

long long param_or(const char *param, long long dflt)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), TEST_PARAM_DIR "/%s", param);
	if (read_text(path, buf, sizeof(buf)))
		return dflt;
	return strtoll(buf, NULL, 10);
}

int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -errno;
}

int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}
