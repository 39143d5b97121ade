// SPDX-License-Identifier: MIT
/*
 * A seeded random walk through the user interface of /dev/dmxp.
 *
 * Each step is one system call on the device, or a few: opening and
 * closing it read-write, read-only and write-only; every ioctl, with
 * arguments drawn from valid values, boundary values and garbage, and
 * with bad or read-only argument pointers; unknown ioctl numbers, and the
 * device's ioctls on channel fds and eventfds; mmap, munmap, mremap and
 * mprotect of regions with any arguments; garbage written into mapped
 * regions, the claim table's records among it; read, write and poll on
 * channel fds, and blocking reads and writes that a timer interrupts;
 * eventfd registrations; fork, with a child acting on the inherited fds
 * and mappings and then exiting or being killed; "wild" children that
 * keep acting on them concurrently until they are killed; two processes
 * racing to create, attach and destroy one region and its channels; and
 * files that die holding claims, whose release the module must repair.
 * Files are opened read-write, read-only (a read-only binding: read-only
 * mappings, channel fds that only poll, EBADF for every change) and
 * write-only (never bound).
 *
 * A model of what the module holds (regions, channels, bound files,
 * mappings, eventfd registrations) gives, for each call, the errors whose
 * documented condition holds (Documentation/KERNEL.md for the device, the
 * mm and VFS rules for the rest).  A call fails the run when it returns
 * an error whose condition does not hold, succeeds although an error's
 * condition holds, returns wrong output, or does not return within
 * --op-timeout seconds.  Every so often, and at the end with everything
 * closed, unmapped and destroyed, /sys/kernel/dmxp and the module's
 * vmalloc'ed region memory (/proc/vmallocinfo) must match the model, and
 * at the end equal what they were at the start.  Where no garbage was
 * written into a region's header or claim table, the header, the channel
 * entries, the claim table and the repair counts must be exactly what
 * the model says, and a repair exactly what the dead file's claims ask
 * for.  The kernel log must show no BUG, WARNING or Oops.
 *
 *	fuzz_kmod [--seed N] [--seconds S | --ops N] [-v] [--no-wild]
 *		  [--op-timeout S] [--mem-budget MIB]
 *
 * The seed is always printed.  The same seed and --ops replay a run step
 * by step; -v prints every call.  Wild children and racers run
 * concurrently, so what they do is not reproducible, and wild children
 * make the parent's checks of state they might change looser: --no-wild
 * leaves them out.
 * DMXP_FUZZ_SECONDS and DMXP_FUZZ_SEED give defaults for --seconds (25)
 * and --seed (from the clock).
 *
 * Skipped when /dev/dmxp does not exist or when not run as root.
 *
 * This file: the options, the setup of the run, the walk and its end.
 */
#include "fuzz_kmod.h"

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seed N] [--seconds S | --ops N] [-v] [--no-wild]\n"
		"          [--op-timeout S] [--mem-budget MIB]\n", prog);
	exit(2);
}

static void set_names(void)
{
	int pid = (int)getpid(), i;
	struct stat sb;

	for (i = 0; i < NSLOTS; i++)
		snprintf(g.name[i], DMXP_NAME_MAX, "fz%d-%d", pid, i);
	/* The longest name: 31 characters, every class. */
	snprintf(g.name[4], DMXP_NAME_MAX, "fz%d-Z.z_9-", pid);
	memset(g.name[4] + strlen(g.name[4]), 'x', DMXP_NAME_MAX - 1 - strlen(g.name[4]));
	g.name[4][DMXP_NAME_MAX - 1] = '\0';
	snprintf(g.nx_name, DMXP_NAME_MAX, "fz%d-none", pid);
	snprintf(g.race_name, DMXP_NAME_MAX, "fz%d-race", pid);
	snprintf(g.crash_name, DMXP_NAME_MAX, "fz%d-crash", pid);
	g.default_slot = -1;
	if (stat(SYSFS_DIR "/" DMXP_DEFAULT_NAME, &sb)) {
		strcpy(g.name[5], DMXP_DEFAULT_NAME);
		g.default_slot = 5;
	}
}

int main(int argc, char **argv)
{
	const char *env;
	struct timespec t0, t1;
	static double elapsed;
	static bool fuzz_ok = true;
	char *before, *after;
	struct sigaction sa;
	int i, bad;

	setvbuf(stdout, NULL, _IOLBF, 0);
	g.pg = (unsigned long)sysconf(_SC_PAGESIZE);
	g.op_timeout = 20;
	g.budget = 96ULL << 20;
	g.who = "";
	env = getenv("DMXP_FUZZ_SECONDS");
	g.seconds = env && *env ? atof(env) : 25;
	env = getenv("DMXP_FUZZ_SEED");
	clock_gettime(CLOCK_REALTIME, &t0);
	g.seed = env && *env ? strtoull(env, NULL, 0) :
		 ((unsigned long long)t0.tv_sec * 1000003ULL) ^ (unsigned long long)t0.tv_nsec ^
		 ((unsigned long long)getpid() << 32);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			g.seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			g.seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			g.max_ops = strtoull(argv[++i], NULL, 0);
			g.seconds = 0;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			g.verbose = true;
		} else if (!strcmp(argv[i], "--no-wild")) {
			g.no_wild = true;
		} else if (!strcmp(argv[i], "--op-timeout") && i + 1 < argc) {
			g.op_timeout = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--mem-budget") && i + 1 < argc) {
			g.budget = strtoull(argv[++i], NULL, 0) << 20;
		} else {
			usage(argv[0]);
		}
	}

	ksft_print_header();
	ksft_set_plan(3);
	if (access(DMXP_DEVICE, F_OK) || geteuid() != 0) {
		const char *why = geteuid() ? "needs root" : "no " DMXP_DEVICE
				  ": the module is not loaded";

		ksft_test_result_skip("fuzz: %s\n", why);
		ksft_test_result_skip("accounting: %s\n", why);
		ksft_test_result_skip("kernel log: %s\n", why);
		ksft_print_cnts();
		return KSFT_SKIP;
	}
	if (g.max_ops)
		ksft_print_msg("seed %llu, %llu steps (replay: %s --seed %llu --ops %llu -v)\n",
			       g.seed, g.max_ops, argv[0], g.seed, g.max_ops);
	else
		ksft_print_msg("seed %llu, %.0f s (replay: %s --seed %llu --ops STEPS -v)\n",
			       g.seed, g.seconds, argv[0], g.seed);

	g.default_size = (__u64)read_num(PARAM_DIR "/default_size", 10);
	g.max_region_size = (__u64)read_num(PARAM_DIR "/max_region_size", 10);
	g.max_total_size = (__u64)read_num(PARAM_DIR "/max_total_size", 10);
	g.default_mode = (__u32)read_num(PARAM_DIR "/default_mode", 10);
	if ((long long)g.default_size <= 0 || (long long)g.max_region_size <= 0 ||
	    (long long)g.max_total_size <= 0 || (int)g.default_mode < 0)
		ksft_exit_fail_msg("cannot read the module's parameters in %s\n", PARAM_DIR);
	set_names();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	arena = mmap(NULL, 2 * g.pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	i = memfd_create("fuzz-ro", MFD_CLOEXEC);
	if (arena == MAP_FAILED || i < 0 || ftruncate(i, (off_t)g.pg) ||
	    mprotect(arena + g.pg, g.pg, PROT_NONE))
		ksft_exit_fail_msg("argument pages: %s\n", strerror(errno));
	ro_page = mmap(NULL, g.pg, PROT_READ, MAP_SHARED, i, 0);
	ro_page_w = mmap(NULL, g.pg, PROT_READ | PROT_WRITE, MAP_SHARED, i, 0);
	close(i);
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	child_failed = mmap(NULL, g.pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (child_failed == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	if (ro_page == MAP_FAILED || ro_page_w == MAP_FAILED || g.epfd < 0)
		ksft_exit_fail_msg("argument pages: %s\n", strerror(errno));
	for (i = 0; i < MAX_DEVFDS; i++)
		g.devfd[i].fd = -1;
	for (i = 0; i < MAX_CHFDS; i++)
		g.chfd[i].fd = -1;
	for (i = 0; i < MAX_EVFDS; i++)
		g.evfd[i].fd = -1;
	g.next_ev = 1;

	/* Where the module stands before the run. */
	before = sysfs_snapshot();
	have_vmallocinfo = !vmalloc_usage(&start_areas, &start_pages);
	if (!have_vmallocinfo)
		ksft_print_msg("no /proc/vmallocinfo: region memory is not checked\n");
	{
		DIR *d = opendir(SYSFS_DIR);
		struct dirent *de;
		char path[512];

		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), SYSFS_DIR "/%s/size", de->d_name);
			g.total_before += (__u64)read_num(path, 10);
		}
		if (d)
			closedir(d);
	}
	kmsg_start();
	rng = g.seed;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (setjmp(fail_jmp)) {
		fuzz_ok = false;
		goto report;
	}
	for (g.ops = 0; !g.max_ops || g.ops < g.max_ops; g.ops++) {
		if (!g.max_ops && !(g.ops & 15)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
			if (elapsed >= g.seconds)
				break;
		}
		if (g.nwild)
			reap_wild(false, true);
		arm(g.op_timeout);
		while (!run_op())
			;
		arm(0);
		if (g.ops % 500 == 499)
			check_state("during the run");
	}
	check_state("at the end of the run");
	cleanup(true);
	check_state("after the cleanup");
report:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	arm(g.op_timeout * 4);
	if (!fuzz_ok) {
		if (setjmp(fail_jmp) == 0)
			cleanup(false);
	}
	arm(0);
	ksft_print_msg("%llu steps, %llu calls in %.1f s; %llu children, %llu wild\n", g.ops,
		       g.calls, elapsed, g.forks, g.wilds);
	ksft_print_msg("%llu repairs of dying files checked, %llu after a live lease's record; %llu slots repaired where the claim table was written at random\n",
		       g.repairs, g.repairs_waited, g.repairs_seen);
	ksft_print_msg("replay: %s --seed %llu --ops %llu [-v] [--no-wild]\n", argv[0], g.seed,
		       fuzz_ok ? g.ops : g.ops + 1);
	for (i = 0; i < (int)op_count; i++)
		printf("%s%s %llu", i ? "," : "# steps:", ops[i].name, ops[i].n);
	printf("\n# errors:");
	for (i = 1; i < NERR; i++)
		if (g.errs[i])
			printf(" %s %llu", errname(i), g.errs[i]);
	printf("\n");
	if (fuzz_ok)
		ksft_test_result_pass("fuzz: seed %llu, %llu steps\n", g.seed, g.ops);
	else
		ksft_test_result_fail("fuzz: seed %llu, step %llu: %s\n", g.seed, g.ops, fail_msg);

	if (!fuzz_ok) {
		ksft_test_result_skip("accounting: not checked after a failure\n");
	} else {
		long long areas, pages;

		after = sysfs_snapshot();
		vmalloc_usage_want(&areas, &pages, start_areas, start_pages);
		if (!before || !after || strcmp(before, after)) {
			printf("# before:\n%s# after:\n%s", before ? before : "?", after ? after : "?");
			ksft_test_result_fail("accounting: /sys/kernel/dmxp differs from the start\n");
		} else if (have_vmallocinfo && (areas != start_areas || pages != start_pages)) {
			ksft_test_result_fail("accounting: region memory %lld areas %lld pages, at the start %lld %lld\n",
					      areas, pages, start_areas, start_pages);
		} else {
			ksft_test_result_pass("accounting: /sys/kernel/dmxp and region memory as at the start\n");
		}
		free(after);
	}
	free(before);
	bad = kmsg_bad();
	if (bad < 0)
		ksft_test_result_skip("kernel log: cannot read /dev/kmsg\n");
	else if (bad)
		ksft_test_result_fail("kernel log: %d bad lines\n", bad);
	else
		ksft_test_result_pass("kernel log: no BUG, WARNING or Oops\n");
	ksft_print_cnts();
	return ksft_get_fail_cnt() ? KSFT_FAIL : KSFT_PASS;
}
