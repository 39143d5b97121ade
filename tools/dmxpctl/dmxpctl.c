// SPDX-License-Identifier: MIT
/*
 * dmxpctl: create, inspect and use the channels of a dmxp region.
 *
 *	dmxpctl [-r REGION] create CH [--capacity N] [--region-size BYTES]
 *	dmxpctl [-r REGION] destroy CH
 *	dmxpctl [-r REGION] list [--json]
 *	dmxpctl [-r REGION] stat [--json] [CH...]
 *	dmxpctl [-r REGION] peers [--json] [CH...]
 *	dmxpctl [-r REGION] watch [-i SECONDS] [-n COUNT] [CH...]
 *	dmxpctl [-r REGION] dump CH [--all] [--limit N] [--hex] [--json]
 *	dmxpctl [-r REGION] send CH [--type T] [--nowait] [--hex] [--file FILE] [MESSAGE...]
 *	dmxpctl [-r REGION] recv CH [-n COUNT] [--wait] [--timeout MS] [--hex|--json] [--type]
 *	dmxpctl region create NAME|PATH [--size BYTES] [--mode MODE] [--excl]
 *	dmxpctl region destroy NAME|PATH
 *	dmxpctl region list [--json]
 *
 * REGION is a region file (a bare NAME, without '/', is /dev/shm/NAME),
 * /dev/dmxp (the kernel module's default region) or /dev/dmxp:NAME (its
 * region NAME).  Options may come before or after the command.
 *
 * Exit status: 0 success, 1 error, 2 bad usage, 3 timed out.
 */
#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dmxpctl.h"
#include "../../common/dmxp_rules.h"

const char *prog = "dmxpctl";
const char *cmd_name;
const char *region_path;	/* NULL: $DMXP_REGION, then the default */

/* The inspection commands (list, stat, watch, dump) are in inspect.c. */
static const char usage_text[] =
"usage: dmxpctl [-r REGION] COMMAND [ARGS]\n"
"\n"
"  create CH [--capacity N] [--region-size BYTES]\n"
"                        create channel CH (0..255) with N slots (a power of\n"
"                        two, 2..16777216, default 1024); creates the region\n"
"                        if it does not exist (BYTES may end in K, M or G,\n"
"                        powers of 1024; at least 133376)\n"
"  destroy CH            destroy channel CH and discard its messages\n"
"  list [--json]         one line per channel: id, capacity, depth\n"
"  stat [--json] [CH...] messages sent and received, depth, sleepers\n"
"  peers [--json] [CH...]\n"
"                        the processes working on the channels: pid, role,\n"
"                        alive or dead\n"
"  watch [-i S] [-n N] [CH...]\n"
"                        stat every S seconds with message rates, like top\n"
"  dump CH [--all] [--hex] [--json]\n"
"                        the slots of a channel: sequence, state, message\n"
"  send CH [--type T] [--nowait] [--hex] [--file FILE] [MESSAGE...]\n"
"                        send each MESSAGE, the contents of FILE, or each\n"
"                        line of standard input; waits while the ring is\n"
"                        full unless --nowait\n"
"  recv CH [-n COUNT] [--wait] [--timeout MS] [--hex|--json] [--type]\n"
"                        print each message on its own line; stops when the\n"
"                        channel is empty unless --wait\n"
"  region create|destroy|list\n"
"                        manage regions: kernel regions by NAME, files by PATH\n"
"\n"
"  -r, --region REGION   the region: a file PATH, a NAME (/dev/shm/NAME),\n"
"                        /dev/dmxp or /dev/dmxp:NAME (default $DMXP_REGION,\n"
"                        taken as the library takes it, then\n"
"                        " DMXP_DEFAULT_REGION ")\n"
"  -h, --help            this help; COMMAND --help for one command\n"
"  -V, --version         print the version\n"
"\n"
"Options may come before or after the command.  Numbers are decimal.\n"
"Exit status: 0 success, 1 error, 2 bad usage, 3 timed out.\n";

/* "dmxpctl COMMAND: what" and, for a usage error, "(dmxpctl COMMAND --help)". */
static void verror(bool usage, const char *fmt, va_list ap)
{
	const char *sep = cmd_name ? " " : "", *cmd = cmd_name ? cmd_name : "";

	fprintf(stderr, "%s%s%s: ", prog, sep, cmd);
	vfprintf(stderr, fmt, ap);
	if (usage)
		fprintf(stderr, " (%s%s%s --help)", prog, sep, cmd);
	fputc('\n', stderr);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(false, fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(true, fmt, ap);
	va_end(ap);
	exit(EXIT_USAGE);
}

void no_device(void)
{
	die("%s: no such device (is the dmxp module loaded? modprobe dmxp)", DMXP_DEVICE);
}

const char *region_name(void)
{
	const char *env = getenv(DMXP_REGION_ENV);

	if (region_path)
		return region_path;
	return env && *env ? env : DMXP_DEFAULT_REGION;
}

unsigned long long parse_num(const char *what, const char *s, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	/* A digit first: strtoull() would skip spaces and take " -1" as ULLONG_MAX. */
	if (!isdigit((unsigned char)*s))
		usage_error("invalid %s '%s'", what, s);
	/* Decimal only: "010" is ten, not eight. */
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		usage_error("invalid %s '%s': expected 0..%llu", what, s, max);
	return v;
}

/* One message for every bad capacity: not a number, too big, not a power of two. */
static unsigned long long parse_capacity(const char *s)
{
	unsigned long long v = 0;
	char *end;

	errno = 0;
	if (isdigit((unsigned char)*s))
		v = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)*s) || errno || *end || v < DMXP_CAPACITY_MIN ||
	    v > DMXP_CAPACITY_MAX || (v & (v - 1)))
		usage_error("invalid capacity '%s': expected a power of two from %llu to %llu",
			    s, (unsigned long long)DMXP_CAPACITY_MIN,
			    (unsigned long long)DMXP_CAPACITY_MAX);
	return v;
}

/*
 * The smallest region dmxpctl makes: one with a claim table (crash repair,
 * and the records peers reads) and the smallest ring, as
 * dmxp_rules_layout_plan() lays it out.  The library takes smaller ones
 * without a claim table; parse_size() asks the plan itself.
 */
#define REGION_MIN	((unsigned long long)DMXP_RULES_REGION_MIN + \
			 (unsigned long long)DMXP_CLAIMS * DMXP_CLAIM_SIZE)
_Static_assert(REGION_MIN == 133376, "create --help and dmxpctl(8) state the minimum");
/* The largest region file the library makes: DMXP_REGION_SIZE_MAX of lib/region.c. */
#define REGION_MAX	(1ULL << 40)

unsigned long long parse_size(const char *what, const char *s)
{
	struct dmxp_rules_layout plan;
	unsigned long long v, mult = 1;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		usage_error("invalid %s '%s': expected BYTES, optionally with K, M or G", what, s);
	v = strtoull(s, &end, 10);
	if (*end && !end[1]) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1ULL << 10; end++; break;
		case 'M': mult = 1ULL << 20; end++; break;
		case 'G': mult = 1ULL << 30; end++; break;
		}
	}
	if (*end)
		usage_error("invalid %s '%s': expected BYTES, optionally with K, M or G", what, s);
	if (errno || v > REGION_MAX / mult)
		usage_error("invalid %s '%s': too large, a region is at most %llu bytes (1024G)",
			    what, s, REGION_MAX);
	v *= mult;
	dmxp_rules_layout_plan(v, &plan);
	if (!plan.claims_count)
		usage_error("invalid %s '%s': a region is at least %llu bytes (with its claim table, for crash repair)",
			    what, s, REGION_MIN);
	return v;
}

unsigned int parse_channel(const char *s)
{
	return (unsigned int)parse_num("channel", s, DMXP_MAX_CHANNELS - 1);
}

struct dmxp_region *region_open(bool create, size_t size)
{
	return region_open_flags(create ? DMXP_OPEN_CREATE : 0, size);
}

static bool is_kernel_path(const char *path)
{
	size_t n = strlen(DMXP_DEVICE);

	return !strncmp(path, DMXP_DEVICE, n) && (!path[n] || path[n] == ':');
}

static void region_open_error(int ret, size_t size)
{
	switch (ret) {
	case -ENOENT:
		die("%s: no such region", region_name());
	case -ENODEV:
		no_device();
	case -EPROTO:
		die("%s: not a dmxp region, or one of another version", region_name());
	case -EINVAL:
		die("%s: invalid region size %zu", region_name(), size);
	default:
		die("%s: %s", region_name(), strerror(-ret));
	}
}

/*
 * A region file truncated while mapped: its reads past the new end raise
 * SIGBUS, in the library's checks while it opens the region as much as
 * in ours after.  One line and exit 1 instead of a crash.  The handler
 * may only write(2) and _exit(2), so the line is made beforehand:
 * installed by main() for every command, and named after each region
 * before it is opened (truncation_names()).
 */
static char sigbus_line[PATH_MAX + 128];
static volatile sig_atomic_t sigbus_len;

static void on_sigbus(int sig)
{
	ssize_t n = write(STDERR_FILENO, sigbus_line, (size_t)sigbus_len);

	(void)sig;
	(void)n;
	_exit(EXIT_FAILURE);
}

/* The line for a fault in region @name (NULL: not known yet). */
static void truncation_names(const char *name)
{
	sigbus_len = 0;		/* a fault while it is rewritten: no line */
	if (name)
		snprintf(sigbus_line, sizeof(sigbus_line), "%s %s: %s: region truncated under us\n",
			 prog, cmd_name ? cmd_name : "", name);
	else
		snprintf(sigbus_line, sizeof(sigbus_line), "%s %s: a region was truncated under us\n",
			 prog, cmd_name ? cmd_name : "");
	sigbus_len = (sig_atomic_t)strlen(sigbus_line);
}

static void catch_truncation(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	truncation_names(NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * With DMXP_OPEN_RDONLY, for the commands that only look: a region file
 * is mapped read-only; a kernel region read-write first (which creates
 * /dev/dmxp's default region, as any attach does), then, if that is not
 * permitted, read-only, for which read permission is enough.
 */
struct dmxp_region *region_open_flags(unsigned int flags, size_t size)
{
	bool kernel = is_kernel_path(region_name());
	struct dmxp_region *r;
	int ret;

	truncation_names(region_name());
	if ((flags & DMXP_OPEN_RDONLY) && !kernel)
		ret = dmxp_region_open(region_path, size, flags, &r);
	else
		ret = dmxp_region_open(region_path, size, flags & ~DMXP_OPEN_RDONLY, &r);
	if ((ret == -EACCES || ret == -EPERM) && (flags & DMXP_OPEN_RDONLY) && kernel)
		ret = dmxp_region_open(region_path, size, flags, &r);
	if (ret)
		region_open_error(ret, size);
	return r;
}

void chan_error(unsigned int ch, int err)
{
	switch (err) {
	case -ENOENT:
		die("channel %u does not exist", ch);
	case -EEXIST:
		die("channel %u already exists", ch);
	case -ENOSPC:
		die("channel %u: no room left in %s", ch, region_name());
	case -EIDRM:
		die("channel %u was destroyed", ch);
	case -EBUSY:
		die("channel %u is being created or destroyed by another process", ch);
	case -EPROTO:
		die("channel %u: inconsistent ring state in %s", ch, region_name());
	default:
		die("channel %u: %s", ch, strerror(-err));
	}
}

struct dmxp_chan *chan_open(struct dmxp_region *r, unsigned int ch)
{
	struct dmxp_chan *c;
	int ret = dmxp_chan_open(r, ch, &c);

	if (ret)
		chan_error(ch, ret);
	return c;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * The longest region file name: the library builds a region under its
 * name with the suffix ".PID.HEX.tmp" (lib/region.c), of at most 32
 * characters, and a file name has at most NAME_MAX.
 */
#define REGION_NAME_MAX	(NAME_MAX - (int)sizeof(".4294967295.ffffffffffffffff.tmp") + 1)
_Static_assert(REGION_NAME_MAX == 223, "dmxpctl(8) states the longest region name");

/*
 * -r REGION: a bare NAME (no '/') is a region file in /dev/shm, where
 * region files belong, never one in the current directory.
 */
static void set_region(const char *arg)
{
	static char buf[PATH_MAX];

	if (!*arg)
		usage_error("empty region path");
	if (strchr(arg, '/')) {
		region_path = arg;
		return;
	}
	if (!strcmp(arg, ".") || !strcmp(arg, ".."))
		usage_error("invalid region name '%s'", arg);
	if (strlen(arg) > REGION_NAME_MAX)
		usage_error("invalid region name '%.16s...': at most %d characters", arg,
			    REGION_NAME_MAX);
	snprintf(buf, sizeof(buf), "/dev/shm/%s", arg);
	region_path = buf;
}

/*
 * How many of @longopts @word (@n characters) abbreviates: getopt_long
 * returns '?' with optopt 0 both for an unknown and an ambiguous one.
 * An exact name is never ambiguous.
 */
static unsigned int prefix_matches(const char *word, size_t n, const struct option *longopts)
{
	unsigned int count = 0;

	for (; longopts->name; longopts++) {
		if (strlen(longopts->name) == n && !strncmp(longopts->name, word, n))
			return 1;
		if (!strncmp(longopts->name, word, n))
			count++;
	}
	return count;
}

/*
 * Why getopt_long returned '?' or ':'.  A long option is the word before
 * argv[optind], and optopt is 0 (unknown) or its value; a short one is
 * optopt, wherever it was in a cluster.
 */
static void option_error(int opt, char **argv, const struct option *longopts)
{
	const char *word = optind > 0 ? argv[optind - 1] : "";
	size_t n = strcspn(word, "=");
	const struct option *o = NULL;

	if (!strncmp(word, "--", 2) && n > 2)
		for (o = longopts; o->name; o++)
			if (!strncmp(o->name, word + 2, n - 2) && (!optopt || o->val == optopt))
				break;
	if (!o || (optopt && !o->name)) {
		if (opt == ':')
			usage_error("option '-%c' needs a value", optopt);
		usage_error("unknown option '-%c'", isprint(optopt) ? optopt : '?');
	}
	if (opt == ':')
		usage_error("option '--%s' needs a value", o->name);
	if (optopt && word[n])
		usage_error("option '--%s' takes no value", o->name);
	if (!optopt && prefix_matches(word + 2, n - 2, longopts) > 1)
		usage_error("ambiguous option '%.*s'", (int)n, word);
	usage_error("unknown option '%.*s'", (int)n, word);
}

/* Parse one command's options; @longopts ends with "help". */
int next_opt(int argc, char **argv, const char *shortopts,
	     const struct option *longopts, const char *help)
{
	struct option all[32];
	char shorts[64];
	size_t n = 0;
	int opt;

	/* ':' first: a missing value is ':', not '?'; -r/--region added. */
	snprintf(shorts, sizeof(shorts), ":%sr:", shortopts);
	for (; longopts[n].name && n < 30; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){ "region", required_argument, NULL, 'r' };
	all[n] = (struct option){ 0 };
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, all, NULL)) == 'r') {
		if (!strncmp(cmd_name, "region ", 7))
			usage_error("-r does not apply to region commands");
		set_region(optarg);
	}
	if (opt == 'h') {
		fputs(help, stdout);
		exit(EXIT_SUCCESS);
	}
	if (opt == '?' || opt == ':')
		option_error(opt, argv, all);
	return opt;
}

/* A region of @size bytes must hold the claim table and a ring of @cap slots. */
static void check_room(unsigned long long size, unsigned long long cap)
{
	struct dmxp_rules_layout plan;

	dmxp_rules_layout_plan(size, &plan);
	if (!dmxp_rules_band_fits(plan.bands_start, dmxp_rules_band_bytes(cap), size))
		usage_error("region size %llu has no room for %llu slots: at least %llu bytes",
			    size, cap,
			    (unsigned long long)(plan.bands_start + dmxp_rules_band_bytes(cap)));
}

/*
 * Make region file @path with channel @ch in it.  It is built under a
 * hidden temporary name in the same directory and link(2)ed into place
 * only once the channel is made: nothing that failed, and nothing another
 * process may already use, is ever removed under @path.  False if another
 * process published @path first (then attach to it instead).
 */
static bool create_region_file(const char *path, unsigned long long size, unsigned int ch,
			       unsigned long long cap)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	struct dmxp_region *r;
	sigset_t stop, old;
	struct timespec ts;
	char tmp[PATH_MAX];
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (snprintf(tmp, sizeof(tmp), "%.*s.dmxpctl.%d.%lx", dirlen, path, (int)getpid(),
		     (unsigned long)ts.tv_nsec) >= (int)sizeof(tmp))
		die("%s: %s", path, strerror(ENAMETOOLONG));
	/*
	 * Ctrl-C or a kill while the temporary file exists would leave it
	 * (with the memory of its ring) under a name nobody lists: held off
	 * until it is gone.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigaddset(&stop, SIGQUIT);
	sigprocmask(SIG_BLOCK, &stop, &old);
	ret = dmxp_region_open(tmp, size, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r);
	if (ret) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		region_open_error(ret, size);
	}
	ret = dmxp_chan_create(r, ch, cap);
	dmxp_region_close(r);
	if (!ret && link(tmp, path) < 0)
		ret = -errno;
	unlink(tmp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ret == -EEXIST)
		return false;
	if (ret)	/* the channel, or the link: nothing was published */
		die("%s: channel %u: %s; no region was created", path, ch, strerror(-ret));
	return true;
}

static int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "capacity", required_argument, NULL, 'c' },
		{ "region-size", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] create CH [--capacity N] [--region-size BYTES]\n"
		"Create channel CH (0..255) with N slots, a power of two from 2 to\n"
		"16777216 (default 1024).  The region is created first if it does not\n"
		"exist, with BYTES bytes (default 288 MiB, allocated as used; at least\n"
		"133376, the smallest region with a claim table for crash repair, and\n"
		"room for the ring; K, M and G multiply by 1024, 1024^2 and 1024^3).\n"
		"A region file is published only with its channel made: a create that\n"
		"fails leaves none.  A kernel region it made is left in place.\n";
	unsigned long long cap = DMXP_DEFAULT_CAPACITY, size = 0;
	struct dmxp_region *r;
	bool made = false;
	unsigned int ch;
	int opt, ret;

	while ((opt = next_opt(argc, argv, "c:s:h", opts, help)) != -1) {
		if (opt == 'c')
			cap = parse_capacity(optarg);
		else
			size = parse_size("region size", optarg);
	}
	if (optind + 1 != argc)
		usage_error("expected one channel id");
	ch = parse_channel(argv[optind]);
	if (size)
		check_room(size, cap);

	/* Attach, else create: a region file with its channel, or a kernel region. */
	truncation_names(region_name());
	ret = dmxp_region_open(region_path, 0, 0, &r);
	if (ret == -ENOENT && !is_kernel_path(region_name())) {
		if (create_region_file(region_name(), size, ch, cap))
			return 0;
		ret = dmxp_region_open(region_path, 0, 0, &r);	/* made by another meanwhile */
	} else if (ret == -ENOENT) {
		ret = dmxp_region_open(region_path, size, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r);
		made = !ret;
		if (ret == -EEXIST)	/* made by another meanwhile */
			ret = dmxp_region_open(region_path, 0, 0, &r);
	}
	if (ret)
		region_open_error(ret, size);
	ret = dmxp_chan_create(r, ch, cap);
	dmxp_region_close(r);
	/*
	 * A kernel region is published as the module creates it: another
	 * process may use it already, so it is never destroyed here.
	 */
	if (ret && made)
		die("channel %u: %s; the kernel region %s this command created is left in place",
		    ch, strerror(-ret), region_name());
	if (ret)
		chan_error(ch, ret);
	return 0;
}

static int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] destroy CH\n"
		"Destroy channel CH: its waiting messages are discarded.\n";
	struct dmxp_region *r;
	unsigned int ch;
	int ret;

	while (next_opt(argc, argv, "h", opts, help) != -1)
		;
	if (optind + 1 != argc)
		usage_error("expected one channel id");
	ch = parse_channel(argv[optind]);
	r = region_open(false, 0);
	ret = dmxp_chan_destroy(r, ch);
	if (ret)
		chan_error(ch, ret);
	dmxp_region_close(r);
	return 0;
}

/*
 * How far a send got: messages sent, and of how many (0: lines of
 * standard input, not known ahead).  An error names the one not sent.
 */
struct send_progress {
	unsigned long long	sent, total;
	const char		*unit;	/* "message" or "line" */
};

/* "2 of 5 messages" or "2 lines". */
static const char *progress_str(const struct send_progress *p, char *buf, size_t len)
{
	if (p->total)
		snprintf(buf, len, "%llu of %llu messages", p->sent, p->total);
	else
		snprintf(buf, len, "%llu %s%s", p->sent, p->unit, p->sent == 1 ? "" : "s");
	return buf;
}

static void send_one(struct dmxp_chan *c, const char *msg, size_t len,
		     __u32 type, bool nowait, struct send_progress *p)
{
	unsigned int ch = dmxp_chan_id(c);
	char done[64];
	int ret;

	if (len > DMXP_MAX_PAYLOAD)
		die("%s %llu is %zu bytes, longer than %d: sent %s before it", p->unit,
		    p->sent + 1, len, DMXP_MAX_PAYLOAD, progress_str(p, done, sizeof(done)));
	/* While the ring is full, sleep until a consumer frees a slot. */
	ret = dmxp_chan_send_wait(c, msg, len, type,
				  nowait ? DMXP_WAIT_NEVER : DMXP_WAIT_FOREVER);
	if (ret == -EAGAIN)
		die("channel %u is full after %s (%s %llu not sent)", ch,
		    progress_str(p, done, sizeof(done)), p->unit, p->sent + 1);
	if (ret && p->sent)
		die("channel %u: %s after %s (%s %llu not sent)", ch, strerror(-ret),
		    progress_str(p, done, sizeof(done)), p->unit, p->sent + 1);
	if (ret)
		chan_error(ch, ret);
	p->sent++;
}

/*
 * Decode the hex string @s (pairs of digits, spaces allowed) into @out
 * and its length into @len, which may be more than @room (what is beyond
 * is not kept).  NULL, or where @s stops being pairs of hex digits.
 */
static const char *unhex(const char *s, unsigned char *out, size_t room, size_t *len)
{
	size_t n = 0;

	while (*s) {
		unsigned int v;

		if (*s == ' ' || *s == ':') {
			s++;
			continue;
		}
		if (!s[1] || !isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
		    sscanf(s, "%2x", &v) != 1)
			return s;
		if (n < room)
			out[n] = (unsigned char)v;
		n++;
		s += 2;
	}
	*len = n;
	return NULL;
}

/*
 * Every MESSAGE argument is checked before any is sent (hex digits,
 * length): a bad one is reported with nothing sent, never after some.
 */
static void check_messages(int argc, char **argv, int from, bool hex, unsigned char *bin)
{
	const char *bad;
	size_t len;
	int i;

	for (i = from; i < argc; i++) {
		len = strlen(argv[i]);
		if (hex && (bad = unhex(argv[i], bin, DMXP_MAX_PAYLOAD, &len)))
			usage_error("invalid hex message '%s' (message %d): expected pairs of hex digits, nothing sent",
				    bad, i - from + 1);
		if (len > DMXP_MAX_PAYLOAD)
			die("message %d is %zu bytes, longer than %d: nothing sent",
			    i - from + 1, len, DMXP_MAX_PAYLOAD);
	}
}

/* A line of standard input, decoded from hex with --hex, sent. */
static void send_line(struct dmxp_chan *c, const char *line, size_t len, bool hex,
		      unsigned char *bin, __u32 type, bool nowait, struct send_progress *p)
{
	const char *bad;
	char done[64];

	if (hex && (bad = unhex(line, bin, DMXP_MAX_PAYLOAD + 1, &len)))
		die("line %llu: invalid hex '%s': sent %s before it", p->sent + 1, bad,
		    progress_str(p, done, sizeof(done)));
	send_one(c, hex ? (const char *)bin : line, len, type, nowait, p);
}

/* The whole of @path ("-": standard input) as one message. */
static size_t read_file(const char *path, unsigned char *buf, size_t room)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	size_t n;

	if (!f)
		die("%s: %s", path, strerror(errno));
	n = fread(buf, 1, room, f);
	if (ferror(f))
		die("%s: %s", path, strerror(errno));
	if (n == room && fgetc(f) != EOF)
		die("%s: longer than %d bytes", path, DMXP_MAX_PAYLOAD);
	if (f != stdin)
		fclose(f);
	return n;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "nowait", no_argument, NULL, 'N' },
		{ "hex", no_argument, NULL, 'x' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] send CH [--type T] [--nowait] [--hex] [--file FILE] [MESSAGE...]\n"
		"Send each MESSAGE as one message; with --file, the whole of FILE ('-':\n"
		"standard input) as one message; with neither, each line of standard\n"
		"input (without its newline).  With --hex each MESSAGE or line is hex\n"
		"digits (\"48 69\" sends \"Hi\").  A message holds at most 960 bytes.\n"
		"While the ring is full, wait; with --nowait, fail instead.  T is the\n"
		"message type recorded in the metadata (default 0).\n";
	unsigned char bin[DMXP_MAX_PAYLOAD + 1];
	struct send_progress p = { .unit = "message" };
	const char *file = NULL;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	bool nowait = false, hex = false;
	unsigned int ch;
	__u32 type = 0;
	int opt, i;

	while ((opt = next_opt(argc, argv, "t:Nxf:h", opts, help)) != -1) {
		if (opt == 't')
			type = (__u32)parse_num("type", optarg, UINT32_MAX);
		else if (opt == 'N')
			nowait = true;
		else if (opt == 'x')
			hex = true;
		else
			file = optarg;
	}
	if (optind >= argc)
		usage_error("expected a channel id");
	ch = parse_channel(argv[optind++]);
	if (file && optind < argc)
		usage_error("--file and MESSAGE arguments exclude each other");
	if (file && hex)
		usage_error("--file sends the file's bytes; --hex does not apply");

	check_messages(argc, argv, optind, hex, bin);
	r = region_open(false, 0);
	c = chan_open(r, ch);
	if (file) {
		size_t n = read_file(file, bin, DMXP_MAX_PAYLOAD + 1);

		p.total = 1;
		send_one(c, (const char *)bin, n, type, nowait, &p);
	} else if (optind < argc) {
		p.total = (unsigned long long)(argc - optind);
		for (i = optind; i < argc; i++) {
			size_t len = strlen(argv[i]);

			if (hex)
				unhex(argv[i], bin, sizeof(bin), &len);
			send_one(c, hex ? (const char *)bin : argv[i], len, type, nowait, &p);
		}
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t len;

		p.unit = "line";
		while ((len = getline(&line, &cap, stdin)) >= 0) {
			if (len && line[len - 1] == '\n')
				line[--len] = 0;
			send_line(c, line, (size_t)len, hex, bin, type, nowait, &p);
		}
		if (ferror(stdin))
			die("reading standard input: %s", strerror(errno));
		free(line);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

static void print_msg(const char *buf, size_t len, const struct dmxp_msg_meta *m,
		      bool hex, bool json, bool show_type)
{
	if (json) {
		putchar('{');
		json_message(stdout, m, buf, len);
		printf("}\n");
		return;
	}
	if (show_type)
		printf("%u ", m->message_type);
	if (hex)
		put_hex(stdout, buf, len);
	else
		fwrite(buf, 1, len, stdout);
	putchar('\n');
}

/* The longest --timeout: 2^31 ms (24.8 days), whose nanoseconds fit. */
#define TIMEOUT_MAX_MS	(1ULL << 31)

static int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "hex", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "type", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] recv CH [-n COUNT] [--wait] [--timeout MS] [--hex|--json] [--type]\n"
		"Receive messages and print each payload on its own line.  Stops\n"
		"after COUNT messages, or when the channel is empty.  With --wait,\n"
		"waits for messages instead of stopping at an empty channel; with\n"
		"--timeout (which implies --wait), waits at most MS milliseconds in\n"
		"all: the exit status is 3 if fewer than COUNT messages came by then.\n"
		"--hex prints payloads as hex digits; --type puts the message type and\n"
		"a space before each; --json prints one JSON object per message with\n"
		"its metadata and its payload in hex (and as text when printable).\n";
	bool hex = false, json = false, show_type = false;
	struct dmxp_msg_meta meta;
	unsigned long long count = 0, got = 0, timeout_ms = 0;
	bool wait = false, has_count = false, has_timeout = false;
	char buf[DMXP_MAX_PAYLOAD];
	long long deadline = 0;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	unsigned int ch;
	int opt;

	while ((opt = next_opt(argc, argv, "n:wT:xjyh", opts, help)) != -1) {
		if (opt == 'x') {
			hex = true;
		} else if (opt == 'j') {
			json = true;
		} else if (opt == 'y') {
			show_type = true;
		} else if (opt == 'n') {
			count = parse_num("count", optarg, ULLONG_MAX);
			has_count = true;
		} else if (opt == 'w') {
			wait = true;
		} else {
			timeout_ms = parse_num("timeout", optarg, TIMEOUT_MAX_MS);
			has_timeout = wait = true;
		}
	}
	if (optind + 1 != argc)
		usage_error("expected one channel id");
	ch = parse_channel(argv[optind]);
	if (json && (hex || show_type))
		usage_error("--json includes the type and the hex payload");
	if (has_count && !count)
		return 0;

	r = region_open(false, 0);
	c = chan_open(r, ch);
	if (has_timeout)
		deadline = now_ms() + (long long)timeout_ms;

	while (!has_count || got < count) {
		long long timeout = DMXP_WAIT_NEVER;
		ssize_t len;

		if (wait && has_timeout) {
			long long left = deadline - now_ms();

			timeout = left > 0 ? left * 1000000LL : DMXP_WAIT_NEVER;
		} else if (wait) {
			timeout = DMXP_WAIT_FOREVER;
		}
		len = dmxp_chan_recv(c, buf, sizeof(buf), &meta);
		if (len == -EAGAIN && timeout != DMXP_WAIT_NEVER) {
			/* Show what came so far before sleeping. */
			fflush(stdout);
			len = dmxp_chan_recv_wait(c, buf, sizeof(buf), &meta, timeout);
		}
		if (len >= 0) {
			print_msg(buf, (size_t)len, &meta, hex, json, show_type);
			got++;
			continue;
		}
		if (len == -ETIMEDOUT || (len == -EAGAIN && wait)) {
			fflush(stdout);
			if (has_count) {
				fprintf(stderr, "%s %s: timed out after %llu of %llu messages\n",
					prog, cmd_name, got, count);
				exit(EXIT_TIMEOUT);
			}
			break;
		}
		if (len == -EAGAIN)
			break;
		chan_error(ch, (int)len);
	}
	if (fflush(stdout) == EOF)
		die("writing standard output: %s", strerror(errno));
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

/*
 * Region commands.  A NAME without '/' is a kernel region ("/dev/dmxp:NAME");
 * anything else is a region path (a file, or /dev/dmxp[:NAME]).
 */
static const char *region_arg(const char *arg, char *buf, size_t len)
{
	if (strchr(arg, '/'))
		return arg;
	snprintf(buf, len, "%s:%s", DMXP_DEVICE, arg);
	return buf;
}

static int kernel_region_create(const char *name, unsigned long long size,
				unsigned int mode, bool excl)
{
	struct dmxp_ioc_version v = { .version = DMXP_VERSION };
	struct dmxp_ioc_region rq = { 0 };
	int fd, ret = 0;

	if (strlen(name) >= sizeof(rq.name))
		usage_error("invalid region name '%s': at most %d characters",
			    name, DMXP_NAME_MAX - 1);
	strcpy(rq.name, name);
	rq.size = size;
	rq.mode = mode;
	rq.flags = DMXP_REGION_CREATE | (excl ? DMXP_REGION_EXCL : 0);

	fd = open(DMXP_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENODEV || errno == ENXIO))
		no_device();
	if (fd < 0)
		die("%s: %s", DMXP_DEVICE, strerror(errno));
	if (ioctl(fd, DMXP_IOC_VERSION, &v) < 0)
		die("%s: version handshake: %s", DMXP_DEVICE, strerror(errno));
	if (ioctl(fd, DMXP_IOC_REGION_CREATE, &rq) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void region_error(const char *what, int err)
{
	switch (err) {
	case -EEXIST:
		die("%s: region already exists", what);
	case -ENOENT:
		die("%s: no such region", what);
	case -EINVAL:
		die("%s: invalid name, size or mode", what);
	case -EPROTO:
		die("%s: not a dmxp region, or one of another version", what);
	case -EPERM:
		die("%s: not the region's owner", what);
	case -ENODEV:
		no_device();
	default:
		die("%s: %s", what, strerror(-err));
	}
}

static int region_create_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "excl", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl region create NAME|PATH [--size BYTES] [--mode MODE] [--excl]\n"
		"Create a region: a kernel region NAME (in /dev/dmxp), or a region file\n"
		"PATH.  Without --excl an existing region is left as it is.  MODE (octal,\n"
		"at most 0666, default 0660) applies to kernel regions.  BYTES (default:\n"
		"288 MiB for a file, the module's default_size for a kernel region) is\n"
		"at least 133376 (a region with a claim table, for crash repair) and at\n"
		"most 1024G; K, M and G multiply by 1024, 1024^2 and 1024^3.\n";
	unsigned long long size = 0, mode = 0660;
	bool excl = false, mode_set = false;
	struct dmxp_region *r;
	const char *path;
	char buf[64];
	int opt, ret;

	while ((opt = next_opt(argc, argv, "s:m:xh", opts, help)) != -1) {
		if (opt == 's') {
			size = parse_size("region size", optarg);
		} else if (opt == 'm') {
			char *end;

			errno = 0;
			mode = strtoull(optarg, &end, 8);
			if (errno || *end || !*optarg || mode > 0666 || (mode & 0111))
				usage_error("invalid mode '%s': expected octal, at most 0666",
					    optarg);
			mode_set = true;
		} else {
			excl = true;
		}
	}
	if (optind + 1 != argc)
		usage_error("expected one region name or path");
	path = region_arg(argv[optind], buf, sizeof(buf));

	if (!strncmp(path, DMXP_DEVICE ":", strlen(DMXP_DEVICE) + 1)) {
		ret = kernel_region_create(path + strlen(DMXP_DEVICE) + 1, size,
					   (unsigned int)mode, excl);
	} else {
		if (mode_set)
			usage_error("--mode applies to kernel regions only");
		ret = dmxp_region_open(path, size,
				       DMXP_OPEN_CREATE | (excl ? DMXP_OPEN_EXCL : 0), &r);
		if (!ret)
			dmxp_region_close(r);
	}
	if (ret)
		region_error(argv[optind], ret);
	return 0;
}

static int region_destroy_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl region destroy NAME|PATH\n"
		"Destroy a region and everything in it.  Processes that have it open\n"
		"keep it until they close it.\n";
	char buf[64];
	int ret;

	while (next_opt(argc, argv, "h", opts, help) != -1)
		;
	if (optind + 1 != argc)
		usage_error("expected one region name or path");
	ret = dmxp_region_unlink(region_arg(argv[optind], buf, sizeof(buf)));
	if (ret)
		region_error(argv[optind], ret);
	return 0;
}

bool read_sysfs(const char *dir, const char *file, char *buf, size_t len)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return ok;
}

/*
 * @name for a terminal: anyone may name a file in /dev/shm, so bytes that
 * are not printable ASCII (escape sequences among them), and the
 * backslash, are written as \xNN.
 */
static const char *safe_name(const char *name, char *buf, size_t len)
{
	size_t n = 0;

	for (; *name && n + 5 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if (c < 0x20 || c >= 0x7f || c == '\\')
			n += (size_t)snprintf(buf + n, len - n, "\\x%02x", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = 0;
	return buf;
}

/* One row of region list, in text or as a JSON object. */
static void region_row(bool json, bool *first, const char *kind, const char *name,
		       unsigned long long size, unsigned long long channels,
		       unsigned int uid, unsigned int mode)
{
	char buf[4 * PATH_MAX + 1];

	if (!json) {
		printf("%-32s %12llu %8llu %6u %6.4o\n", safe_name(name, buf, sizeof(buf)),
		       size, channels, uid, mode);
		return;
	}
	printf("%s{\"type\":\"%s\",\"region\":", *first ? "" : ",", kind);
	json_str(stdout, name);
	printf(",\"size\":%llu,\"channels\":%llu,\"uid\":%u,\"mode\":\"%04o\"}", size,
	       channels, uid, mode);
	*first = false;
}

static int region_list_cmd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl region list [--json]\n"
		"List the kernel's regions (from /sys/kernel/dmxp) and the region\n"
		"files in /dev/shm: name or path, size, channels, owner, mode.\n"
		"--json: one JSON object, {\"regions\":[...]}, each with its type\n"
		"(\"kernel\" or \"file\"), region, size, channels, uid and mode.\n";
	bool json = false, first = true;
	struct dirent *d;
	int opt;
	DIR *dir;

	while ((opt = next_opt(argc, argv, "jh", opts, help)) != -1)
		if (opt == 'j')
			json = true;
	if (optind != argc)
		usage_error("takes no arguments");

	if (json)
		printf("{\"regions\":[");
	else
		printf("%-32s %12s %8s %6s %6s\n", "region", "size", "channels", "uid", "mode");
	dir = opendir("/sys/kernel/dmxp");
	while (dir && (d = readdir(dir))) {
		char base[300], size[32], count[16], uid[16], mode[16];

		if (d->d_name[0] == '.')
			continue;
		snprintf(base, sizeof(base), "/sys/kernel/dmxp/%s", d->d_name);
		if (!read_sysfs(base, "size", size, sizeof(size)) ||
		    !read_sysfs(base, "channel_count", count, sizeof(count)) ||
		    !read_sysfs(base, "uid", uid, sizeof(uid)) ||
		    !read_sysfs(base, "mode", mode, sizeof(mode)))
			continue;	/* destroyed meanwhile */
		region_row(json, &first, "kernel", d->d_name, strtoull(size, NULL, 10),
			   strtoull(count, NULL, 10), (unsigned int)strtoul(uid, NULL, 10),
			   (unsigned int)strtoul(mode, NULL, 8));
	}
	if (dir)
		closedir(dir);

	dir = opendir("/dev/shm");
	while (dir && (d = readdir(dir))) {
		char path[300];
		struct dmxp_region *r;
		struct stat st;

		snprintf(path, sizeof(path), "/dev/shm/%s", d->d_name);
		if (d->d_name[0] == '.' || stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		/* Only files that are dmxp regions; others fail validation. */
		truncation_names(path);
		if (dmxp_region_open(path, 0, DMXP_OPEN_RDONLY, &r))
			continue;
		region_row(json, &first, "file", path, dmxp_region_size(r),
			   (unsigned long long)dmxp_chan_list(r, NULL, 0),
			   (unsigned int)st.st_uid, (unsigned int)(st.st_mode & 0777));
		dmxp_region_close(r);
	}
	if (dir)
		closedir(dir);
	if (json)
		printf("]}\n");
	return 0;
}

static int cmd_region(int argc, char **argv)
{
	static const char help[] =
		"usage: dmxpctl region create NAME|PATH [--size BYTES] [--mode MODE] [--excl]\n"
		"       dmxpctl region destroy NAME|PATH\n"
		"       dmxpctl region list [--json]\n"
		"A NAME is a region of the kernel module (/dev/dmxp:NAME); a PATH with\n"
		"a '/' is a region file.\n";

	if (region_path)
		usage_error("-r does not apply to region commands");
	if (argc < 2)
		usage_error("expected create, destroy or list");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(help, stdout);
		return 0;
	}
	if (argv[1][0] == '-')
		usage_error("unknown option '%s'", argv[1]);
	if (!strcmp(argv[1], "create")) {
		cmd_name = "region create";
		return region_create_cmd(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "destroy")) {
		cmd_name = "region destroy";
		return region_destroy_cmd(argc - 1, argv + 1);
	}
	if (!strcmp(argv[1], "list")) {
		cmd_name = "region list";
		return region_list_cmd(argc - 1, argv + 1);
	}
	usage_error("unknown command '%s'", argv[1]);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "create", cmd_create },
	{ "destroy", cmd_destroy },
	{ "list", cmd_list },
	{ "stat", cmd_stat },
	{ "watch", cmd_watch },
	{ "dump", cmd_dump },
	{ "send", cmd_send },
	{ "recv", cmd_recv },
	{ "peers", cmd_peers },
	{ "region", cmd_region },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "region", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	size_t i;
	int opt;

	/*
	 * Options may come after a command's arguments, whatever the
	 * environment: getopt_long permutes them unless POSIXLY_CORRECT is set.
	 */
	unsetenv("POSIXLY_CORRECT");
	/*
	 * "+": stop at the command; its own options, -r among them, are
	 * parsed after it.  ":": a missing value is ':', reported by us.
	 */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:r:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			set_region(optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("dmxpctl %s (layout version %d)\n", DMXP_VERSION_STR,
			       DMXP_VERSION);
			return 0;
		default:
			option_error(opt, argv, opts);
		}
	}
	if (optind >= argc)
		usage_error("expected a command");

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			cmd_name = commands[i].name;
			catch_truncation();
			argc -= optind;
			argv += optind;
			optind = 0;	/* reinitialise getopt for the command's words */
			return commands[i].fn(argc, argv);
		}
	}
	usage_error("unknown command '%s'", argv[optind]);
}
