// SPDX-License-Identifier: MIT
/*
 * dmxp-bench: the Eclipse iceoryx peer (iceoryx 2.0 "classic", C binding).
 *
 * Every inbox is an iceoryx publish/subscribe service ("dmxpb", "<pid>-<run>",
 * "box<N>"): the side that receives from the inbox holds a subscriber, the
 * side that sends to it a publisher.  A message is a chunk of len bytes
 * loaned from RouDi's shared memory pools (iox_pub_loan_aligned_chunk),
 * filled in place and published; the receiver takes the chunk, copies it
 * out (recv) or reads its sequence in place (recv_zc), and releases it.  Publish/subscribe is
 * not a work queue, every subscriber gets every message, so throughput
 * runs 1 producer x 1 consumer only.
 *
 * Nothing may be lost: the publisher waits for a slow consumer
 * (ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER) and the subscriber's queue, as
 * large as iceoryx allows (256 chunks), blocks the producer when full
 * (QueueFullPolicy_BLOCK_PRODUCER), instead of the default of overwriting
 * the oldest chunk.  A publish into a full queue then spins in
 * sched_yield() inside iceoryx until the consumer takes a chunk, and the C
 * binding has no non-blocking publish nor a way to see the queue's fill.
 * So for x->nonblock the inbox counts for itself: the receiver publishes
 * how many chunks it took (one counter per inbox in a MAP_SHARED page that
 * only it writes), the sender counts what it published, and send() gives
 * -EAGAIN once 256 are in flight; it reads the receiver's counter only
 * when its last look says the queue may be full, so the counter costs the
 * fast path one store on the receiver's side.  iceoryx's publish never
 * blocks then.  A blocking receive (lat-block) sleeps in an iceoryx WaitSet
 * attached to the subscriber's HAS_DATA state; a polling one (lat-busy,
 * tput) just retries iox_sub_take_chunk.
 *
 * iceoryx needs its daemon, RouDi, and its runtime does not survive
 * fork(): the parent never calls iceoryx but starts /usr/bin/iox-roudi
 * once (setup), waits until a throwaway child could register with it, and
 * stops it at exit; each side registers its own runtime ("dmxpb-<pid>") in
 * attach(), where a subscriber waits until it is subscribed and a
 * publisher until it has its subscriber; detach() lets a sender's
 * receiver drain the queue before the publisher goes.  A pid file lets a
 * later run stop a RouDi that an earlier, killed dmxp-bench left behind; a
 * RouDi that is not provably ours is left alone and the cases are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* DMXP_BENCH_NO_PEERS builds the peer as if absent (dmxp-bench-nopeers). */
#if __has_include(<iceoryx_binding_c/runtime.h>) && !defined(DMXP_BENCH_NO_PEERS)
#include <dirent.h>
#include <pwd.h>

/* runtime.h declares "void iox_runtime_shutdown();" without a prototype. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <iceoryx_binding_c/enums.h>
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/types.h>
#include <iceoryx_binding_c/wait_set.h>
#pragma GCC diagnostic pop

#define IX_QUEUE	256	/* MAX_SUBSCRIBER_QUEUE_CAPACITY of iceoryx 2.0 */
#define IX_ATTACH_MS	10000	/* for a subscription to connect */
#define IX_DRAIN_MS	5000	/* a detaching sender, for its receiver to drain */
#define IX_START_MS	10000	/* for RouDi to take a registration */
#define IX_STOP_MS	5000	/* for RouDi to exit on SIGTERM */
#define IX_UNREG_MS	2000	/* for RouDi to drop a side that exited */

#define ROUDI_BIN	"/usr/bin/iox-roudi"
#define ROUDI_SOCK	"/tmp/roudi"	/* its registration socket (SOCK_DGRAM) */
#define ROUDI_PIDFILE	"/tmp/dmxp-bench-iox-roudi.pid"
#define RT_PREFIX	"dmxpb"		/* a side's runtime: "dmxpb-<pid>" */

/* One inbox: what its receiver took, written by the receiver only. */
struct ix_box {
	u64	taken;
} __attribute__((aligned(64)));

/* MAP_SHARED: the sides inherit it through fork(). */
struct ix_priv {
	struct ix_box	box[2];
	char		instance[32];	/* "<pid>-<run>": unique per run */
	pid_t		pid[2];		/* the sides' processes, by x->side */
};

/* A side's own iceoryx objects (attach). */
struct ix_local {
	iox_pub_storage_t	pub_st[2];
	iox_sub_storage_t	sub_st[2];
	iox_ws_storage_t	ws_st[2];
	iox_pub_t		pub[2];		/* inboxes this side sends to */
	iox_sub_t		sub[2];		/* inboxes it receives from */
	iox_ws_t		ws[2];		/* their WaitSets (blocking recv) */
	u64			sent[2];	/* chunks published */
	u64			seen[2];	/* the receiver's taken, last read */
	u64			taken[2];	/* chunks taken */
};

/* The RouDi this process started (pid 0: none). */
static struct {
	pid_t	pid;
	pid_t	owner;		/* forked children inherit this struct */
	bool	atexit_done;
	u64	last_exit;	/* when a registered process last exited */
} roudi;

/* ------------------------------------------------------------- RouDi */

/* Field 22 of /proc/<pid>/stat, the start time in ticks; 0 if gone. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[512], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');		/* the command may hold spaces */
	if (!p)
		return 0;
	/* ") S ppid ...": field 3 is the state, 22 the start time. */
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p && sscanf(p + 1, "%llu", &start) != 1)
		start = 0;
	return start;
}

/* Whether @pid is alive and not a zombie. */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* A running iox-roudi other than @except, or 0. */
static pid_t find_roudi(pid_t except)
{
	struct dirent *d;
	pid_t found = 0;
	DIR *dir;

	dir = opendir("/proc");
	if (!dir)
		return 0;
	while (!found && (d = readdir(dir))) {
		char path[288], comm[32] = "";
		pid_t pid = (pid_t)atoi(d->d_name);
		ssize_t n;
		int fd;

		if (pid <= 0 || pid == except)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n > 0 && !strncmp(comm, "iox-roudi\n", 10) && proc_alive(pid))
			found = pid;
	}
	closedir(dir);
	return found;
}

/* Whether RouDi's registration socket is bound (not a stale file). */
static bool roudi_sock_up(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = ROUDI_SOCK };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up;

	if (fd < 0)
		return false;
	up = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return up;
}

static void sleep_ms(unsigned int ms)
{
	usleep(ms * 1000);
}

/* SIGTERM, then SIGKILL, a RouDi that is not our child; true once gone. */
static bool stop_stale(pid_t pid)
{
	u64 deadline = now_ns() + (u64)IX_STOP_MS * 1000000;

	kill(pid, SIGTERM);
	while (proc_alive(pid) && now_ns() < deadline)
		sleep_ms(20);
	if (proc_alive(pid)) {
		kill(pid, SIGKILL);
		deadline = now_ns() + 2000000000ULL;
		while (proc_alive(pid) && now_ns() < deadline)
			sleep_ms(20);
	}
	return !proc_alive(pid);
}

/*
 * A RouDi that this process did not start is running.  Stop it if the pid
 * file proves that a dmxp-bench which is gone started it; else say why we
 * skip.  0 when no RouDi is left, SKIPPED otherwise.
 */
static int handle_foreign(struct xport *x, pid_t pid)
{
	unsigned long long rstart, ostart;
	int rpid, opid, n = 0;
	FILE *f;

	f = fopen(ROUDI_PIDFILE, "re");
	if (f) {
		n = fscanf(f, "%d %llu %d %llu", &rpid, &rstart, &opid, &ostart);
		fclose(f);
	}
	if (n != 4 || rpid != (int)pid || proc_start(pid) != rstart) {
		snprintf(x->why, sizeof(x->why),
			 "an iox-roudi not started by dmxp-bench is running (pid %d)",
			 (int)pid);
		return SKIPPED;
	}
	if (proc_alive(opid) && proc_start(opid) == ostart) {
		snprintf(x->why, sizeof(x->why),
			 "iox-roudi (pid %d) belongs to another running dmxp-bench (pid %d)",
			 (int)pid, opid);
		return SKIPPED;
	}
	/* Ours, left behind by a dmxp-bench that was killed. */
	if (!stop_stale(pid)) {
		snprintf(x->why, sizeof(x->why),
			 "a stale iox-roudi (pid %d) of an earlier dmxp-bench does not exit",
			 (int)pid);
		return SKIPPED;
	}
	unlink(ROUDI_PIDFILE);
	return 0;
}

/* Whether our RouDi is still our live child (never a reused pid). */
static bool roudi_running(void)
{
	int status;

	if (!roudi.pid || roudi.owner != getpid())
		return false;
	if (waitpid(roudi.pid, &status, WNOHANG) == 0)
		return true;
	roudi.pid = 0;		/* exited, or reaped by a driver's waitpid(-1) */
	return false;
}

/* The files of runtime @name (its socket and lock) once it is gone. */
static void unlink_runtime(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/tmp/%s", name);
	unlink(path);
	snprintf(path, sizeof(path), "/tmp/%s.lock", name);
	unlink(path);
}

/* The runtime files of sides of earlier runs that were killed. */
static void unlink_dead_runtimes(void)
{
	struct dirent *d;
	DIR *dir;

	dir = opendir("/tmp");
	if (!dir)
		return;
	while ((d = readdir(dir))) {
		const char *n = d->d_name + sizeof(RT_PREFIX);
		char name[64], *end;
		long pid;

		if (strncmp(d->d_name, RT_PREFIX "-", sizeof(RT_PREFIX)))
			continue;
		if (!strncmp(n, "probe-", 6))
			n += 6;
		pid = strtol(n, &end, 10);
		if (pid <= 0 || end == n || (*end && strcmp(end, ".lock")) ||
		    proc_alive((pid_t)pid))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(end - d->d_name), d->d_name);
		unlink_runtime(name);
	}
	closedir(dir);
}

/*
 * What a RouDi that did not exit cleanly leaves: its shared memory (the
 * management segment and the payload segment, named after the user) and
 * its socket.  Only while no RouDi runs; a new one would replace them.
 */
static void unlink_roudi_leftovers(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char path[300];

	if (find_roudi(0))
		return;
	unlink("/dev/shm/iceoryx_mgmt");
	if (pw && pw->pw_name[0] && !strchr(pw->pw_name, '/')) {
		snprintf(path, sizeof(path), "/dev/shm/%s", pw->pw_name);
		unlink(path);
	}
	unlink(ROUDI_SOCK);
}

/*
 * atexit: stop our RouDi, which removes its shared memory and socket.
 *
 * The sides leave with _exit(), which skips iceoryx's deregistration, so
 * RouDi drops them only when their keep-alive stops (1.5 s), and a RouDi
 * told to stop while it still lists a process that is gone aborts.  So
 * first give it that time after the last side exited, and should it
 * still abort (or hang), remove what it left.
 */
static void roudi_stop(void)
{
	u64 deadline, quiet = roudi.last_exit + (u64)IX_UNREG_MS * 1000000, now;
	int status = 0;

	if (!roudi_running())
		return;		/* a side's process, or nothing to stop */
	now = now_ns();
	if (now < quiet)
		usleep((useconds_t)((quiet - now) / 1000));
	kill(roudi.pid, SIGTERM);
	deadline = now_ns() + (u64)IX_STOP_MS * 1000000;
	while (waitpid(roudi.pid, &status, WNOHANG) == 0) {
		if (now_ns() >= deadline) {
			kill(roudi.pid, SIGKILL);
			waitpid(roudi.pid, &status, 0);
			break;
		}
		sleep_ms(10);
	}
	roudi.pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		unlink_roudi_leftovers();
	unlink(ROUDI_PIDFILE);
}

static void write_pidfile(pid_t pid)
{
	char tmp[] = ROUDI_PIDFILE ".XXXXXX";
	FILE *f;
	int fd;

	fd = mkstemp(tmp);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return;
	}
	fprintf(f, "%d %llu %d %llu\n", (int)pid, proc_start(pid), (int)getpid(),
		proc_start(getpid()));
	if (fclose(f) || rename(tmp, ROUDI_PIDFILE))
		unlink(tmp);
}

/* In a fresh child: /dev/null for stdin, stdout, stderr; no other fds. */
static void child_quiet(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

static void exec_roudi(pid_t parent)
{
	sigset_t none;
	int fd;

	/* RouDi goes (and cleans up) when its dmxp-bench dies, even killed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	setpgid(0, 0);		/* a ^C reaches it through us, after the sides */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	child_quiet();
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	execl(ROUDI_BIN, "iox-roudi", "-l", "off", (char *)NULL);
	_exit(127);
}

/* A throwaway child registers with RouDi and leaves: 0 when it could. */
static int probe_roudi(u64 deadline)
{
	int status = 0, ret;
	char name[48];
	pid_t pid, w;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_quiet();
		snprintf(name, sizeof(name), RT_PREFIX "-probe-%d", (int)getpid());
		iox_set_loglevel(Iceoryx_LogLevel_Warn);
		iox_runtime_init(name);
		iox_runtime_shutdown();
		_exit(0);
	}
	snprintf(name, sizeof(name), RT_PREFIX "-probe-%d", (int)pid);
	while ((w = waitpid(pid, &status, WNOHANG)) == 0) {
		if (now_ns() >= deadline || !roudi_running()) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			w = -1;
			errno = ETIMEDOUT;
			break;
		}
		sleep_ms(5);
	}
	ret = w < 0 ? -errno : WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -ECONNREFUSED;
	roudi.last_exit = now_ns();
	unlink_runtime(name);
	return ret;
}

/* Start RouDi unless ours runs: 0, SKIPPED with x->why, or -errno. */
static int roudi_ensure(struct xport *x)
{
	u64 deadline;
	pid_t other, pid, self = getpid();
	int ret, status;

	if (roudi_running())
		return 0;
	if (access(ROUDI_BIN, X_OK)) {
		snprintf(x->why, sizeof(x->why), "%s is not installed (Debian package iceoryx)",
			 ROUDI_BIN);
		return SKIPPED;
	}
	other = find_roudi(0);
	if (other) {
		ret = handle_foreign(x, other);
		if (ret)
			return ret;
	}
	/* Stale /tmp/roudi and /dev/shm/iceoryx_* files: RouDi replaces them. */
	unlink_dead_runtimes();
	if (!roudi.atexit_done) {
		if (atexit(roudi_stop))
			return -ENOMEM;
		roudi.atexit_done = true;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		exec_roudi(self);
	roudi.pid = pid;
	roudi.owner = self;
	write_pidfile(pid);

	/* Ready when its socket is bound and a registration goes through. */
	deadline = now_ns() + (u64)IX_START_MS * 1000000;
	while (!roudi_sock_up()) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			roudi.pid = 0;
			unlink(ROUDI_PIDFILE);
			snprintf(x->why, sizeof(x->why),
				 "iox-roudi exited at start (%s %d): is another RouDi running?",
				 WIFEXITED(status) ? "status" : "signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			return SKIPPED;
		}
		if (now_ns() >= deadline)
			break;
		sleep_ms(5);
	}
	ret = probe_roudi(deadline);
	if (ret) {
		snprintf(x->why, sizeof(x->why),
			 "iox-roudi (pid %d) does not take registrations: %s",
			 (int)pid, strerror(-ret));
		roudi_stop();
		return SKIPPED;
	}
	return 0;
}

/* ----------------------------------------------------------- transport */

static bool ix_tput(const struct xport *x)
{
	return x->bc->drv == DRV_TPUT;
}

/* Whether this side receives from / sends to inbox @box. */
static bool ix_receives(const struct xport *x, unsigned int box)
{
	return ix_tput(x) ? x->side == ROLE_CONSUMER : (int)box == x->side;
}

static bool ix_sends(const struct xport *x, unsigned int box)
{
	return ix_tput(x) ? x->side == ROLE_PRODUCER : (int)box != x->side;
}

static int ix_setup(struct xport *x)
{
	static unsigned int runs;
	const struct bench_case *bc = x->bc;
	struct ix_priv *p;
	int ret;

	if (ix_tput(x) && (bc->nprod > 1 || bc->ncons > 1)) {
		snprintf(x->why, sizeof(x->why), "%s",
			 "publish/subscribe: every subscriber gets every message, not a work queue");
		return SKIPPED;
	}
	if (x->nbox < 1 || x->nbox > 2 || x->len < MSG_MIN || x->len > MSG_MAX)
		return -EINVAL;
	if (ix_tput(x) && (x->nbox != 1 || bc->nprod != 1 || bc->ncons != 1))
		return -EINVAL;
	ret = roudi_ensure(x);
	if (ret)
		return ret;
	p = shared_alloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->instance, sizeof(p->instance), "%d-%u", (int)getpid(), runs++);
	x->priv = p;
	return 0;
}

static void ix_teardown(struct xport *x)
{
	struct ix_priv *p = x->priv;
	unsigned int i;

	if (!p)
		return;
	/* The sides exited (_exit) without removing their runtime's files. */
	for (i = 0; i < 2; i++) {
		char name[32];

		if (!p->pid[i])
			continue;
		snprintf(name, sizeof(name), RT_PREFIX "-%d", (int)p->pid[i]);
		unlink_runtime(name);
		roudi.last_exit = now_ns();
	}
	shared_free(p, sizeof(*p));
	x->priv = NULL;
}

/* NULL when every port of this side is connected, else what is not. */
static const char *ix_unconnected(const struct xport *x, const struct ix_local *l,
				  unsigned int *boxp)
{
	unsigned int box;

	for (box = 0; box < x->nbox; box++) {
		*boxp = box;
		if (l->sub[box] &&
		    iox_sub_get_subscription_state(l->sub[box]) != SubscribeState_SUBSCRIBED)
			return "the subscriber is not subscribed";
		if (l->pub[box] && !iox_pub_has_subscribers(l->pub[box]))
			return "the publisher has no subscriber";
	}
	return NULL;
}

static void ix_detach(struct xport *x);

static int ix_attach(struct xport *x)
{
	struct ix_priv *p = x->priv;
	struct ix_local *l;
	char name[32], event[16];
	const char *what;
	unsigned int box;
	u64 deadline;

	if (!roudi_sock_up()) {
		fprintf(stderr, "dmxp-bench: %s: iceoryx: RouDi's socket %s is not up\n",
			x->bc->name, ROUDI_SOCK);
		return -ECONNREFUSED;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	x->local = l;
	if (x->side == 0 || x->side == 1)
		p->pid[x->side] = getpid();
	snprintf(name, sizeof(name), RT_PREFIX "-%d", (int)getpid());
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	iox_runtime_init(name);

	for (box = 0; box < x->nbox; box++) {
		snprintf(event, sizeof(event), "box%u", box);
		if (ix_sends(x, box)) {
			iox_pub_options_t o;

			iox_pub_options_init(&o);
			o.historyCapacity = 0;
			o.offerOnCreate = true;
			o.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
			l->pub[box] = iox_pub_init(&l->pub_st[box], "dmxpb", p->instance,
						   event, &o);
			if (!l->pub[box])
				goto fail;
		}
		if (ix_receives(x, box)) {
			iox_sub_options_t o;

			iox_sub_options_init(&o);
			o.queueCapacity = IX_QUEUE;
			o.historyRequest = 0;
			o.subscribeOnCreate = true;
			o.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
			o.requirePublisherHistorySupport = false;
			l->sub[box] = iox_sub_init(&l->sub_st[box], "dmxpb", p->instance,
						   event, &o);
			if (!l->sub[box])
				goto fail;
			if (!x->nonblock) {
				l->ws[box] = iox_ws_init(&l->ws_st[box]);
				if (!l->ws[box])
					goto fail;
				if (iox_ws_attach_subscriber_state(l->ws[box], l->sub[box],
								   SubscriberState_HAS_DATA,
								   box, NULL) !=
				    WaitSetResult_SUCCESS)
					goto fail;
			}
		}
	}

	/*
	 * Nothing is sent before the other side's subscription is up.  A
	 * subscriber is SUBSCRIBED once RouDi took it, publisher or not; the
	 * publisher's has_subscribers is what says the first chunk arrives.
	 */
	deadline = now_ns() + (u64)IX_ATTACH_MS * 1000000;
	while ((what = ix_unconnected(x, l, &box))) {
		if (now_ns() >= deadline) {
			fprintf(stderr, "dmxp-bench: %s: iceoryx: after %u ms, dmxpb/%s/box%u: %s\n",
				x->bc->name, IX_ATTACH_MS, p->instance, box, what);
			ix_detach(x);
			return -ETIMEDOUT;
		}
		sleep_ms(1);
	}
	return 0;
fail:
	fprintf(stderr, "dmxp-bench: %s: iceoryx: cannot make a port of %s\n",
		x->bc->name, p->instance);
	ix_detach(x);
	return -EPROTO;
}

static int ix_alloc_err(const struct xport *x, enum iox_AllocationResult r)
{
	switch (r) {
	case AllocationResult_RUNNING_OUT_OF_CHUNKS:
	case AllocationResult_TOO_MANY_CHUNKS_ALLOCATED_IN_PARALLEL:
		return x->nonblock ? -EAGAIN : -ENOMEM;
	case AllocationResult_NO_MEMPOOLS_AVAILABLE:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

static int ix_take_err(enum iox_ChunkReceiveResult r)
{
	switch (r) {
	case ChunkReceiveResult_NO_CHUNK_AVAILABLE:
		return -EAGAIN;
	case ChunkReceiveResult_TOO_MANY_CHUNKS_HELD_IN_PARALLEL:
		return -ENOBUFS;
	default:
		return -EPROTO;
	}
}

static int ix_send(struct xport *x, unsigned int box, const void *buf)
{
	struct ix_local *l = x->local;
	enum iox_AllocationResult r;
	void *chunk;

	if (box >= x->nbox || !l->pub[box])
		return -EINVAL;
	/* nonblock: never publish into a full queue, which would spin. */
	if (x->nonblock && l->sent[box] - l->seen[box] >= IX_QUEUE) {
		struct ix_priv *p = x->priv;

		l->seen[box] = __atomic_load_n(&p->box[box].taken, __ATOMIC_ACQUIRE);
		if (l->sent[box] - l->seen[box] >= IX_QUEUE)
			return -EAGAIN;
	}
	r = iox_pub_loan_aligned_chunk(l->pub[box], &chunk, (uint32_t)x->len,
				       IOX_C_CHUNK_DEFAULT_USER_PAYLOAD_ALIGNMENT);
	if (r != AllocationResult_SUCCESS)
		return ix_alloc_err(x, r);
	memcpy(chunk, buf, x->len);
	iox_pub_publish_chunk(l->pub[box], chunk);
	l->sent[box]++;
	return 0;
}

/* The next chunk of inbox @box, waiting for it unless nonblock. */
static int ix_take(struct xport *x, unsigned int box, const void **chunk)
{
	struct ix_local *l = x->local;

	if (box >= x->nbox || !l->sub[box])
		return -EINVAL;
	for (;;) {
		enum iox_ChunkReceiveResult r = iox_sub_take_chunk(l->sub[box], chunk);
		iox_notification_info_t info[1];
		uint64_t missed = 0;

		if (r == ChunkReceiveResult_SUCCESS)
			return 0;
		if (r != ChunkReceiveResult_NO_CHUNK_AVAILABLE || x->nonblock)
			return ix_take_err(r);
		/* HAS_DATA is a state: the wait returns at once while data is queued. */
		iox_ws_wait(l->ws[box], info, 1, &missed);
	}
}

/* Chunk @chunk of inbox @box was read: give it back and count it. */
static void ix_done(struct xport *x, unsigned int box, const void *chunk)
{
	struct ix_local *l = x->local;
	struct ix_priv *p = x->priv;

	iox_sub_release_chunk(l->sub[box], chunk);
	__atomic_store_n(&p->box[box].taken, ++l->taken[box], __ATOMIC_RELEASE);
}

static int ix_recv(struct xport *x, unsigned int box, void *buf)
{
	const void *chunk;
	int ret = ix_take(x, box, &chunk);

	if (ret)
		return ret;
	memcpy(buf, chunk, x->len);
	ix_done(x, box, chunk);
	return 0;
}

static int ix_recv_zc(struct xport *x, unsigned int box, u64 *seq)
{
	const void *chunk;
	int ret = ix_take(x, box, &chunk);

	if (ret)
		return ret;
	*seq = get_seq(chunk);
	ix_done(x, box, chunk);
	return 0;
}

static void ix_detach(struct xport *x)
{
	struct ix_local *l = x->local;
	struct ix_priv *p = x->priv;
	unsigned int box;

	if (!l)
		return;
	/*
	 * A sender waits (bounded) until its receiver took everything, so
	 * that no chunk still queued depends on a publisher that is gone.
	 */
	for (box = 0; box < x->nbox; box++) {
		u64 deadline = now_ns() + (u64)IX_DRAIN_MS * 1000000;

		if (!l->pub[box])
			continue;
		while (__atomic_load_n(&p->box[box].taken, __ATOMIC_ACQUIRE) < l->sent[box] &&
		       now_ns() < deadline)
			sleep_ms(1);
	}
	for (box = 0; box < x->nbox; box++) {
		if (l->ws[box]) {
			if (l->sub[box])
				iox_ws_detach_subscriber_state(l->ws[box], l->sub[box],
							       SubscriberState_HAS_DATA);
			iox_ws_deinit(l->ws[box]);
		}
		if (l->sub[box])
			iox_sub_deinit(l->sub[box]);
		if (l->pub[box])
			iox_pub_deinit(l->pub[box]);
	}
	iox_runtime_shutdown();
	free(l);
	x->local = NULL;
}

const struct xport_ops xp_iceoryx = {
	.setup		= ix_setup,
	.attach		= ix_attach,
	.send		= ix_send,
	.recv		= ix_recv,
	.send_zc	= ix_send,	/* loan, build in place, publish */
	.recv_zc	= ix_recv_zc,
	.detach		= ix_detach,
	.teardown	= ix_teardown,
};

#else /* no iceoryx */

static int ix_setup(struct xport *x)
{
	snprintf(x->why, sizeof(x->why), "%s",
		 "iceoryx is not installed (Debian packages iceoryx, libiceoryx-binding-c-dev)");
	return SKIPPED;
}

static int ix_attach(struct xport *x)
{
	(void)x;
	return -EOPNOTSUPP;
}

static int ix_send(struct xport *x, unsigned int box, const void *buf)
{
	(void)x;
	(void)box;
	(void)buf;
	return -EOPNOTSUPP;
}

static int ix_recv(struct xport *x, unsigned int box, void *buf)
{
	(void)x;
	(void)box;
	(void)buf;
	return -EOPNOTSUPP;
}

static void ix_teardown(struct xport *x)
{
	(void)x;
}

const struct xport_ops xp_iceoryx = {
	.setup		= ix_setup,
	.attach		= ix_attach,
	.send		= ix_send,
	.recv		= ix_recv,
	.teardown	= ix_teardown,
};

#endif
