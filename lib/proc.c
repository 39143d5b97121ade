// SPDX-License-Identifier: MIT
/*
 * Process identity and proofs of death, for region files.
 *
 * An embedded owner (of a claim record, the repair lock, a channel
 * entry's BUSY) is named by its pid, its start time and its pid
 * namespace, so that a pid reused by another process is not mistaken for
 * it.  Start times are read from /proc and normalised by our time
 * namespace's boottime offset, so that readers in any time namespace
 * agree on them.  On /dev/dmxp the module names owners by leases, and
 * none of this is used.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

__dmxp_export __u32 dmxp__pid;

/* This process as an embedded owner; recomputed after fork(). */
struct dmxp_ident dmxp__self;
static pthread_mutex_t ident_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * fork() copies the locks of the library as they are, and the child has
 * one thread: a lock that another thread of the parent held then would
 * stay locked in the child for ever, and its first call that takes it
 * would hang.  So the library holds all its locks across fork(), and
 * parent and child each release them (the child's one thread is the
 * copy of the one that took them).  The order, which no path takes the other
 * way round: ident_lock, then the handles' registry and their pools'
 * locks (lib/claim.c).
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&ident_lock);
	dmxp__claims_fork(DMXP_FORK_PREPARE);
}

static void fork_parent(void)
{
	dmxp__claims_fork(DMXP_FORK_PARENT);
	pthread_mutex_unlock(&ident_lock);
}

static void fork_child(void)
{
	dmxp__pid = (__u32)getpid();
	dmxp__claims_fork(DMXP_FORK_CHILD);
	pthread_mutex_unlock(&ident_lock);
}

static void pid_once(void)
{
	dmxp__pid = (__u32)getpid();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void dmxp__pid_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, pid_once);
}

/*
 * At load: the child handler then runs before those a program registers
 * later (they run in the order registered), so a handler of the program
 * that sends in the child already finds dmxp__pid the child's; the
 * inline calls (dmxp.h) take it to tell their thread's cache is stale.
 */
static void __attribute__((constructor)) pid_at_load(void)
{
	dmxp__pid_init();
}

static __u64 pid_ns(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (__u64)st.st_ino;
}

/*
 * The boottime offset of our time namespace in clock ticks, rounded down:
 * the "boottime <secs> <nsecs>" line of /proc/self/timens_offsets (Linux
 * 5.6); 0 without the file or the line (no time namespaces, or the
 * initial one).
 */
static __s64 boot_offset(void)
{
	long long secs, nsecs, tick, off = 0;
	long hz = sysconf(_SC_CLK_TCK);
	char line[128];
	FILE *f;

	f = fopen("/proc/self/timens_offsets", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "boottime %lld %lld", &secs, &nsecs) == 2) {
			off = secs * 1000000000LL + nsecs;
			break;
		}
	fclose(f);
	if (hz <= 0 || hz > 1000000000L)
		return 0;
	tick = 1000000000LL / hz;
	/* Rounded down also when negative: what we take off is then never too much. */
	return off >= 0 ? off / tick : -((-off + tick - 1) / tick);
}

/*
 * Start time and state of @pid from /proc: 0, or -ENOENT when there is
 * no such process (or it cannot be read, which counts as gone only for
 * ENOENT/ESRCH).  The start time is the one every reader of every time
 * namespace agrees on (to one tick, same_start()): the kernel shows field
 * 22 of /proc/PID/stat shifted by the reader's boottime offset, which we
 * take off (dmxp__self.boot_off, set by self_refresh()); 0 if not known.  The
 * one reader of start times in the library: our own, to name us, and a
 * suspect's, to prove it dead.
 */
static int proc_stat(__u32 pid, __u64 *start, char *state)
{
	char path[48], buf[512], *p;
	unsigned int field;
	long long t;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 && errno == ESRCH ? -ENOENT : -EIO;
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: fields follow the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	p += 2;
	*state = *p;
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EIO;
		p++;
	}
	t = (long long)strtoull(p, NULL, 10) - dmxp__self.boot_off;
	*start = t > 0 ? (__u64)t : 0;
	return 0;
}

/*
 * Start times @a and @b (from proc_stat(), both known) name one process.
 * The kernel shows start_boottime + offset in ticks rounded down, so the
 * same start read in two time namespaces may differ by one tick once the
 * offset is taken off: one tick apart is the same process.  A pid reused
 * within a tick (10 ms) of its first holder's start is no practical
 * concern: the pid space must wrap in that time.
 */
static bool same_start(__u64 a, __u64 b)
{
	return (a > b ? a - b : b - a) <= 1;
}

/*
 * A zombie whose every thread has exited.  The leader of a process that
 * called pthread_exit() from main() is a zombie too, while its other
 * threads run: they are listed in its task directory.
 */
static bool all_threads_gone(__u32 pid)
{
	char path[48];
	struct dirent *d;
	unsigned int n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%u/task", pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n <= 1;
}

/* Call with ident_lock held. */
static void self_refresh(void)
{
	char st, link[32];
	ssize_t n;

	if (dmxp__self.pid == dmxp__pid)
		return;
	dmxp__self.start = 0;
	/* A child of unshare(CLONE_NEWTIME) is in another time namespace. */
	dmxp__self.boot_off = boot_offset();
	dmxp__self.ns = pid_ns("/proc/self/ns/pid");
	/* /proc of our own pid namespace, which knows us: else no proofs. */
	n = readlink("/proc/self", link, sizeof(link) - 1);
	dmxp__self.proc_ok = n > 0 && (link[n] = '\0', strtoul(link, NULL, 10) == dmxp__pid) &&
		       !proc_stat(dmxp__pid, &dmxp__self.start, &st) && dmxp__self.ns;
	dmxp__self.pid = dmxp__pid;
}


/*
 * Proofs of death on region files.  One rule for every owner: a claim
 * record's, the repair lock's (through its record) and a channel entry's
 * BUSY.  An owner is named by (pid, start time, pid namespace), and it is
 * proven dead only when its pid namespace is ours, our /proc is our own,
 * and its pid names nobody (kill(2) says ESRCH), or a zombie with no
 * thread left, or a process that started at another time (the pid was
 * reused: start times as proc_stat() reads them, in any time namespace,
 * more than a tick apart).  Anything else counts as alive: another pid namespace (a
 * container sharing /dev/shm, whose pid numbers mean nothing here), an
 * owner whose namespace is not known, a /proc that is not ours or hides
 * the process.  Its claims wait, and its entry stays BUSY.
 *
 * A pass asks about the same owners again and again (every record of a
 * process, and covered() per position): each costs system calls, so a
 * pass keeps its answers, one proof per owner.
 */
/* Is @pid, of our namespace, gone (or its pid reused, if @start is known)? */
static bool pid_gone(__u32 pid, __u64 start)
{
	__u64 now_start;
	char st;
	int ret;

	DMXP_HOOK_COUNT(proofs);
	ret = proc_stat(pid, &now_start, &st);
	if (!ret)
		return (start && now_start && !same_start(now_start, start)) ||
		       ((st == 'Z' || st == 'X') && all_threads_gone(pid));
	/* Not in our /proc: gone, or hidden from us (hidepid); kill(2) tells. */
	return ret == -ENOENT && kill((pid_t)pid, 0) && errno == ESRCH;
}

enum dmxp_liveness dmxp__holder(__u32 pid, __u64 start, __u64 ns, struct dmxp_proofs *pc)
{
	unsigned int i;
	bool dead;

	if (!pid || pid > INT_MAX || !dmxp__self.proc_ok || !ns || ns != dmxp__self.ns)
		return DMXP_ALIVE;
	if (pid == dmxp__self.pid)
		return !start || same_start(start, dmxp__self.start) ? DMXP_ALIVE : DMXP_DEAD;
	for (i = 0; pc && i < pc->n; i++)
		if (pc->e[i].pid == pid && pc->e[i].start == start)
			return pc->e[i].dead ? DMXP_DEAD : DMXP_ALIVE;
	dead = pid_gone(pid, start);
	if (pc && pc->n < DMXP_PROOF_CACHE)
		pc->e[pc->n++] = (typeof(pc->e[0])){ .pid = pid, .dead = dead, .start = start };
	return dead ? DMXP_DEAD : DMXP_ALIVE;
}

bool dmxp__owner_dead(__u32 pid, __u64 start, __u64 ns)
{
	pthread_mutex_lock(&ident_lock);
	self_refresh();
	pthread_mutex_unlock(&ident_lock);
	return dmxp__holder(pid, start, ns, NULL) == DMXP_DEAD;
}

void dmxp__self_ident(__u64 *start, __u64 *ns)
{
	pthread_mutex_lock(&ident_lock);
	self_refresh();
	*start = dmxp__self.proc_ok ? dmxp__self.start : 0;
	*ns = dmxp__self.ns;
	pthread_mutex_unlock(&ident_lock);
}


void dmxp__ident_refresh(void)
{
	pthread_mutex_lock(&ident_lock);
	self_refresh();
	pthread_mutex_unlock(&ident_lock);
}
