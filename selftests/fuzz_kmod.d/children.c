// SPDX-License-Identifier: MIT
/*
 * Steps with more processes: forked children, wild children that run
 * concurrently until killed, and racers on one region.
 */
#include "fuzz_kmod.h"

/* Everything the parent holds is now also this child's. */
static void become_child(bool wild)
{
	static char who[32];
	int i;

	g.in_child = true;
	g.is_wild = wild;
	g.wild_running = g.nwild > 0;
	g.nwild = 0;
	snprintf(who, sizeof(who), "%s[%d] ", wild ? "wild" : "child", (int)getpid());
	g.who = who;
	for (i = 0; i < MAX_FILES; i++)
		if (file(i)->used)
			file(i)->inherited = true;
	for (i = 0; i < MAX_INST; i++)
		if (inst(i)->used)
			inst(i)->pinned = true;
	for (i = 0; i < MAX_CHFDS; i++)
		g.chfd[i].inherited = g.chfd[i].fd >= 0;
	g.next_ev = 1000000L * (1 + (long)(getpid() % 2000));
}

/*
 * Fork a child that walks on from @seed, as a wild child or racer (@wild)
 * or not: 0 in the child, its pid in the parent.
 */
static pid_t fork_child(bool wild, __u64 seed)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		become_child(wild);
		rng = seed;
	}
	return pid;
}

/*
 * A blocking call that only a signal ends: the parent kills the child in
 * it.  Only where poll() says it would block, so that it changes nothing.
 */
static void __attribute__((noreturn)) block_until_killed(void)
{
	int i = PICK(MAX_CHFDS, g.chfd[__i].fd >= 0 && !g.chfd[__i].nonblock &&
		     !g.chfd[__i].poll_only && chan_alive(&g.chfd[__i]));
	struct pollfd pfd;
	char buf[MSG_MAX];

	arm(0);
	if (i >= 0) {
		pfd.fd = g.chfd[i].fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) == 0) {
			call("read(%d chan %u, %zu): blocks until killed", pfd.fd,
			     chan_ids[g.chfd[i].ch], sizeof(buf));
			if (g.verbose)
				printf("# %s\n", cur_line);
			if (read(pfd.fd, buf, sizeof(buf)) < 0 && errno == EINTR)
				fail("a blocking read returned EINTR");
		}
	}
	for (;;)
		pause();
}

/*
 * A child acts on the inherited fds and mappings, reports what it changed
 * in the module's state, and then exits or is killed (the parent waits
 * for the report, so that its model stays exact).
 */
bool op_fork(void)
{
	__u64 child_seed = rnd(), nops = 1 + below(12);
	bool killed = pct(40);
	struct shared *rep;
	pid_t pid;
	int p[2], st, i;
	size_t got = 0;
	ssize_t r;

	if (g.in_child)
		return false;
	rep = malloc(sizeof(*rep));
	if (!rep || pipe2(p, O_CLOEXEC))
		fail("fork: no memory or pipe");
	call("fork: %llu steps, then %s", (unsigned long long)nops, killed ? "SIGKILL" : "exit");
	pid = fork_child(false, child_seed);
	if (pid == 0) {
		close(p[0]);
		for (g.ops++; nops--; g.ops++) {
			arm(g.op_timeout);
			while (!run_op())
				;
			arm(0);
		}
		if (write(p[1], &g.sh, sizeof(g.sh)) != sizeof(g.sh))
			_exit(CHILD_FAILED);
		if (killed)
			block_until_killed();
		fflush(stdout);
		_exit(0);
	}
	g.forks++;
	close(p[1]);
	result("%d", (int)pid);
	arm(g.op_timeout * 16);
	while (got < sizeof(*rep)) {
		r = read(p[0], (char *)rep + got, sizeof(*rep) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(p[0]);
	if (killed && got == sizeof(*rep)) {
		usleep((useconds_t)below(3000));
		kill(pid, SIGKILL);
	}
	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	arm(g.op_timeout);
	if (*child_failed || (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_FAILED))
		fail("child %d failed (its report is above)", (int)pid);
	if (got != sizeof(*rep))
		fail("child %d died without a report: status %#x", (int)pid, st);
	if (killed ? !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) :
		     !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail("child %d ended with status %#x", (int)pid, st);

	/* The module's state as the child left it; this process's own files. */
	memcpy(g.sh.inst, rep->inst, sizeof(g.sh.inst));
	for (i = 0; i < MAX_INST; i++)
		inst(i)->pinned = false;
	for (i = 0; i < MAX_FILES; i++) {
		if (!file(i)->used)
			continue;
		file(i)->versioned = rep->file[i].versioned;
		file(i)->inst = rep->file[i].inst;
		file(i)->lease = rep->file[i].lease;
	}
	g.sh.nreg = 0;
	for (i = 0; i < rep->nreg; i++)
		if (file(rep->reg[i].file)->used)
			g.sh.reg[g.sh.nreg++] = rep->reg[i];
	free(rep);
	gc();
	return true;
}

/* A child acting concurrently with the parent until it is killed. */
bool op_wild(void)
{
	__u64 child_seed = rnd(), until = g.ops + 5 + below(300);
	pid_t pid;
	int n;

	if (g.in_child || g.no_wild || g.nwild >= MAX_WILD)
		return false;
	call("fork a wild child until step %llu", (unsigned long long)until);
	pid = fork_child(true, child_seed);
	if (pid == 0) {
		for (n = 0; n < 5000; n++, g.ops++) {
			arm(g.op_timeout);
			while (!run_op())
				;
			arm(0);
		}
		block_until_killed();
	}
	result("%d", (int)pid);
	g.wild[g.nwild] = pid;
	g.wild_until[g.nwild] = until;
	g.nwild++;
	g.wilds++;
	return true;
}

/* Kill the wild children whose time has come (all: every one). */
void reap_wild(bool all, bool check)
{
	int i, k, st = 0;

	for (i = 0; i < g.nwild; ) {
		pid_t pid = g.wild[i], r = waitpid(pid, &st, WNOHANG);

		if (r == 0 && (all || g.ops >= g.wild_until[i])) {
			call("kill wild child %d", (int)pid);
			kill(pid, SIGKILL);
			r = waitpid(pid, &st, 0);
			result("status %#x", st);
		}
		if (r == 0) {
			i++;
			continue;
		}
		g.wild[i] = g.wild[g.nwild - 1];
		g.wild_until[i] = g.wild_until[g.nwild - 1];
		g.nwild--;
		/* It may have written anything into any region it could reach. */
		for (k = 0; k < MAX_INST; k++)
			if (inst(k)->used)
				inst(k)->hdr_dirty = inst(k)->table_dirty = true;
		if (!check || r < 0)
			continue;
		if (*child_failed || (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_FAILED))
			fail("wild child %d failed (its report is above)", (int)pid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			fail("wild child %d ended with status %#x", (int)pid, st);
	}
}

/*
 * Two processes at once on one region name, outside the model: create,
 * attach, destroy, channels, mappings.  Every call may meet any state the
 * other process leaves, so only the errors documented for that call are
 * allowed, and a few that can never apply (ENOENT from a non-exclusive
 * create, EEXIST from an attach) are not.
 */
static void race_round(void)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq;
	struct dmxp_ioc_chan c;
	struct dmxp_ioc_chan_fd cf;
	struct expect e;
	int fd, k = (int)below(6);
	long ret;
	void *p;

	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
		fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	ex_reset(&e);
	if (k == 0) {
		call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [race]", fd, rq.name);
		ret = xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq);
		ex_add(&e, ENOENT, MAYBE);
		result_ret(ret);
		verdict(&e, ret);
		close(fd);
		return;
	}
	if (k == 1) {
		call("ioctl(%d, REGION_ATTACH, {name=\"%s\"}) [race]", fd, rq.name);
		ret = xioctl(fd, DMXP_IOC_REGION_ATTACH, &rq);
		ex_add(&e, ENOENT, MAYBE);
	} else {
		rq.size = MIN_SIZE + (pct(50) ? 0 : (__u64)(1 << 20));
		rq.mode = 0600;
		rq.flags = DMXP_REGION_CREATE | (k == 2 ? DMXP_REGION_EXCL : 0);
		call("ioctl(%d, REGION_CREATE, {name=\"%s\" flags=%#x}) [race]", fd, rq.name,
		     rq.flags);
		ret = xioctl(fd, DMXP_IOC_REGION_CREATE, &rq);
		ex_add(&e, EEXIST, k == 2 ? MAYBE : NO);
		ex_add(&e, ENOMEM, MAYBE);
		ex_add(&e, ENOSPC, MAYBE);
	}
	result_ret(ret);
	verdict(&e, ret);
	if (ret) {
		close(fd);
		return;
	}
	memset(&c, 0, sizeof(c));
	c.id = (__u32)below(4);
	c.capacity = 2;
	ex_reset(&e);
	if (pct(50)) {
		call("ioctl(%d, CHAN_CREATE, {id=%u cap=2}) [race]", fd, c.id);
		ret = xioctl(fd, DMXP_IOC_CHAN_CREATE, &c);
		ex_add(&e, EEXIST, MAYBE);
		ex_add(&e, ENOSPC, MAYBE);
	} else {
		c.capacity = 0;
		call("ioctl(%d, CHAN_DESTROY, {id=%u}) [race]", fd, c.id);
		ret = xioctl(fd, DMXP_IOC_CHAN_DESTROY, &c);
		ex_add(&e, ENOENT, MAYBE);
	}
	ex_add(&e, EIDRM, MAYBE);
	result_ret(ret);
	verdict(&e, ret);
	memset(&cf, 0, sizeof(cf));
	cf.id = (__u32)below(4);
	cf.flags = DMXP_CHAN_FD_NONBLOCK;
	ex_reset(&e);
	ex_add(&e, ENOENT, MAYBE);
	ex_add(&e, EIDRM, MAYBE);
	call("ioctl(%d, CHAN_FD, {id=%u}) [race]", fd, cf.id);
	ret = xioctl(fd, DMXP_IOC_CHAN_FD, &cf);
	result_ret(ret);
	verdict(&e, ret);
	if (ret >= 0) {
		char buf[MSG_MAX];

		ex_reset(&e);
		ex_add(&e, EAGAIN, MAYBE);
		ex_add(&e, EIDRM, MAYBE);
		memset(buf, 0, 8);
		call("write(%ld chan %u, 8) [race]", ret, cf.id);
		k = (int)ret;
		ret = write(k, buf, 8) < 0 ? -errno : 8;
		result_ret(ret);
		verdict(&e, ret);
		close(k);
	}
	ex_reset(&e);
	ex_add(&e, EIDRM, MAYBE);
	call("mmap(%#llx, %d) [race]", (unsigned long long)rq.size, fd);
	p = mmap(NULL, rq.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ret = p == MAP_FAILED ? -errno : 0;
	result_ret(ret);
	verdict(&e, ret);
	if (p != MAP_FAILED) {
		((struct dmxp_global_header *)p)->reserved = 1;
		munmap(p, rq.size);
	}
	close(fd);
}

bool op_race(void)
{
	__u64 child_seed = rnd(), my_seed = rnd(), saved;
	int rounds = 10 + (int)below(90), st, i;
	struct dmxp_ioc_region rq;
	pid_t pid;
	int fd;

	if (g.in_child)
		return false;
	call("fork a racer on \"%s\" for %d rounds", g.race_name, rounds);
	pid = fork_child(true, child_seed);
	if (pid == 0) {
		for (i = 0; i < rounds; i++) {
			arm(g.op_timeout);
			race_round();
		}
		_exit(0);
	}
	result("%d", (int)pid);
	/* What a round draws depends on the race: keep it off the main stream. */
	saved = rng;
	rng = my_seed;
	for (i = 0; i < rounds; i++)
		race_round();
	rng = saved;
	arm(g.op_timeout * 4);
	if (waitpid(pid, &st, 0) != pid)
		fail("waitpid: %s", strerror(errno));
	arm(g.op_timeout);
	if (*child_failed || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("racer %d failed with status %#x (its report is above)", (int)pid, st);
	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	memset(&rq, 0, sizeof(rq));
	strcpy(rq.name, g.race_name);
	{
		struct dmxp_ioc_version v = { .version = DMXP_VERSION };

		if (fd < 0 || ioctl(fd, DMXP_IOC_VERSION, &v))
			fail("open %s: %s", DMXP_DEVICE, strerror(errno));
	}
	call("ioctl(%d, REGION_DESTROY, {name=\"%s\"}) [race done]", fd, rq.name);
	result_ret(xioctl(fd, DMXP_IOC_REGION_DESTROY, &rq));
	close(fd);
	return true;
}
