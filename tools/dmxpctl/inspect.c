// SPDX-License-Identifier: MIT
/*
 * dmxpctl: looking into a region without changing it.
 *
 *	list	the channels: id, capacity, depth
 *	stat	per channel: messages sent and received, depth, waiters
 *		(and, on kernel regions, the module's wake-up count)
 *	watch	stat again every interval, with message rates, like top
 *	dump	the slots of a channel: sequence, state, metadata, payload
 *
 * Everything is read from the mapping with plain loads while other
 * processes may be sending and receiving: a snapshot, consistent per
 * field, not across fields.  A slot's state is decoded from its sequence
 * as Documentation/MEMORY_LAYOUT.md defines it; nothing is trusted for a
 * bound (a ring outside the region is reported, not read).  A region file
 * truncated under us faults (SIGBUS) at the next read past its new end:
 * the command ends with one line, "region truncated under us", and exit 1
 * (region_open_flags()).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dmxpctl.h"

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)

/* ------------------------------------------------------------- output */

/*
 * The length of the well-formed UTF-8 sequence of two to four bytes at
 * @s (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), or 0.
 */
static int utf8_len(const unsigned char *s)
{
	unsigned int cp, n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;	/* the NUL ends it here too */
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return (int)n;
}

/*
 * A JSON string of @s, a name from the file system: well-formed UTF-8
 * passes as it is; any other byte B >= 0x80 is written \udcBB, the lone
 * surrogate that Python's "surrogateescape" decodes back to that byte,
 * so that a reader can rebuild the exact name.
 */
void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;
		int n;

		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((n = utf8_len(p)) > 0) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
			continue;
		} else {
			fprintf(f, "\\udc%02x", c);
		}
		p++;
	}
	fputc('"', f);
}

void put_hex(FILE *f, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(f, "%02x", b[i]);
}

bool is_text(const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] < 0x20 || b[i] >= 0x7f)
			return false;
	return true;
}

void json_message(FILE *f, const struct dmxp_msg_meta *m, const void *payload, size_t len)
{
	fprintf(f, "\"message_id\":%llu,\"type\":%u,\"len\":%zu,\"timestamp_ns\":%llu"
		",\"sender_pid\":%u,\"tombstone\":%s,\"runtime\":\"%s\",\"payload_hex\":\"",
		(unsigned long long)m->message_id, m->message_type, len,
		(unsigned long long)m->timestamp_ns, m->sender_pid,
		m->flags & DMXP_MSG_TOMBSTONE ? "true" : "false",
		runtime_name(m->sender_runtime));
	put_hex(f, payload, len);
	fputc('"', f);
	if (is_text(payload, len)) {
		char text[DMXP_MAX_PAYLOAD + 1];

		memcpy(text, payload, len);
		text[len] = 0;
		fprintf(f, ",\"payload\":");
		json_str(f, text);
	}
}

const char *runtime_name(unsigned int runtime)
{
	static const char *const names[] = {
		[DMXP_RUNTIME_UNKNOWN] = "unknown", [DMXP_RUNTIME_C] = "c",
		[DMXP_RUNTIME_RUST] = "rust", [DMXP_RUNTIME_PYTHON] = "python",
		[DMXP_RUNTIME_KERNEL] = "kernel", [DMXP_RUNTIME_GO] = "go",
		[DMXP_RUNTIME_JAVA] = "java",
	};

	if (runtime < sizeof(names) / sizeof(names[0]) && names[runtime])
		return names[runtime];
	return runtime == DMXP_RUNTIME_OTHER ? "other" : "invalid";
}

/* ------------------------------------------------------------ snapshots */

struct chan_stat {
	struct dmxp_chan_info	info;
	unsigned int		recv_waiters, send_waiters, generation;
	unsigned int		dead_sleepers;	/* named by records of dead processes */
	long long		notifies;	/* kernel regions; -1: not known */
	unsigned long long	repaired;	/* slots of dead processes given back */
	unsigned long long	tombstoned;	/* of those, tombstones */
};

/* The kernel region's sysfs directory, or NULL for a region file. */
static const char *sysfs_dir(char *buf, size_t len)
{
	const char *name = region_name();

	if (!strcmp(name, DMXP_DEVICE))
		name = "default";
	else if (!strncmp(name, DMXP_DEVICE ":", strlen(DMXP_DEVICE) + 1))
		name += strlen(DMXP_DEVICE) + 1;
	else
		return NULL;
	snprintf(buf, len, "/sys/kernel/dmxp/%s", name);
	return buf;
}

/* Channel @id now; false if it is not created (any more). */
static bool chan_stat(struct dmxp_region *r, unsigned int id, struct chan_stat *st)
{
	const struct dmxp_channel_entry *e = &dmxp_region_header(r)->channels[id];
	char dir[300], sub[32], val[32];

	if (dmxp_chan_info(r, id, &st->info))
		return false;
	st->recv_waiters = LOAD(e->recv_waiters);
	st->send_waiters = LOAD(e->send_waiters);
	st->generation = LOAD(e->generation);
	st->dead_sleepers = dead_sleepers(r, id, st->generation);
	st->repaired = LOAD(e->repaired);
	st->tombstoned = LOAD(e->tombstoned);
	st->notifies = -1;
	snprintf(sub, sizeof(sub), "ch%u", id);
	if (sysfs_dir(dir, sizeof(dir)) && strlen(dir) + strlen(sub) + 1 < sizeof(dir)) {
		strcat(dir, "/");
		strcat(dir, sub);
		if (read_sysfs(dir, "notifies", val, sizeof(val)))
			st->notifies = strtoll(val, NULL, 10);
		/* The module's own counts, which no mapper can overwrite. */
		if (read_sysfs(dir, "repaired", val, sizeof(val)))
			st->repaired = strtoull(val, NULL, 10);
		if (read_sysfs(dir, "tombstoned", val, sizeof(val)))
			st->tombstoned = strtoull(val, NULL, 10);
	}
	return true;
}

/*
 * The channels named by argv[from..] (in their order, each once: at most
 * DMXP_MAX_CHANNELS however many words), or every created one: their count.
 */
static int pick_channels(struct dmxp_region *r, int argc, char **argv, int from,
			 unsigned int *ids)
{
	bool picked[DMXP_MAX_CHANNELS] = { false };
	int i, n = 0;

	if (from < argc) {
		for (i = from; i < argc; i++) {
			unsigned int ch = parse_channel(argv[i]);

			if (!picked[ch])
				ids[n++] = ch;
			picked[ch] = true;
		}
		return n;
	}
	n = dmxp_chan_list(r, ids, DMXP_MAX_CHANNELS);
	if (n < 0)
		die("%s: %s", region_name(), strerror(-n));
	return n > DMXP_MAX_CHANNELS ? DMXP_MAX_CHANNELS : n;
}

static bool opt_json(int argc, char **argv, const char *shortopts,
		     const struct option *opts, const char *help)
{
	bool json = false;
	int opt;

	while ((opt = next_opt(argc, argv, shortopts, opts, help)) != -1)
		if (opt == 'j')
			json = true;
	return json;
}

/* ----------------------------------------------------------------- list */

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] list [--json]\n"
		"Print one line per created channel: id, capacity, depth (messages\n"
		"waiting or being written).  --json: one JSON object for the region.\n";
	unsigned int ids[DMXP_MAX_CHANNELS];
	bool json = opt_json(argc, argv, "jh", opts, help), first = true;
	struct dmxp_region *r;
	int i, n;

	if (optind != argc)
		usage_error("takes no arguments");
	r = region_open_flags(DMXP_OPEN_RDONLY, 0);
	n = pick_channels(r, argc, argv, argc, ids);
	if (json) {
		printf("{\"region\":");
		json_str(stdout, region_name());
		printf(",\"channels\":[");
	} else {
		printf("%-4s %10s %10s\n", "id", "capacity", "depth");
	}
	for (i = 0; i < n; i++) {
		struct dmxp_chan_info info;

		/* A channel destroyed since the list was taken is left out. */
		if (dmxp_chan_info(r, ids[i], &info))
			continue;
		if (json)
			printf("%s{\"id\":%u,\"capacity\":%" PRIu64 ",\"depth\":%" PRIu64 "}",
			       first ? "" : ",", info.id, (uint64_t)info.capacity,
			       (uint64_t)info.depth);
		else
			printf("%-4u %10" PRIu64 " %10" PRIu64 "\n", info.id,
			       (uint64_t)info.capacity, (uint64_t)info.depth);
		first = false;
	}
	if (json)
		printf("]}\n");
	dmxp_region_close(r);
	return 0;
}

/* ----------------------------------------------------------------- stat */

static void stat_json(struct dmxp_region *r, const struct chan_stat *st, int n)
{
	char dir[300];
	int i;

	printf("{\"region\":");
	json_str(stdout, region_name());
	printf(",\"backend\":\"%s\",\"size\":%zu,\"free\":%zu,\"channel_count\":%d,\"channels\":[",
	       sysfs_dir(dir, sizeof(dir)) ? "kernel" : "file", dmxp_region_size(r),
	       dmxp_region_free(r), dmxp_chan_list(r, NULL, 0));
	for (i = 0; i < n; i++) {
		const struct dmxp_chan_info *in = &st[i].info;

		printf("%s{\"id\":%u,\"capacity\":%" PRIu64 ",\"depth\":%" PRIu64
		       ",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"tail\":%" PRIu64
		       ",\"head\":%" PRIu64 ",\"recv_waiters\":%u,\"send_waiters\":%u"
		       ",\"generation\":%u,\"band_offset\":%" PRIu64 ",\"repaired\":%llu"
		       ",\"tombstoned\":%llu,\"dead_sleepers\":%u,\"notifies\":",
		       i ? "," : "", in->id, (uint64_t)in->capacity, (uint64_t)in->depth,
		       (uint64_t)in->tail, (uint64_t)in->head, (uint64_t)in->tail,
		       (uint64_t)in->head, st[i].recv_waiters, st[i].send_waiters,
		       st[i].generation, (uint64_t)in->band_offset, st[i].repaired,
		       st[i].tombstoned, st[i].dead_sleepers);
		if (st[i].notifies >= 0)
			printf("%lld}", st[i].notifies);
		else
			printf("null}");
	}
	printf("]}\n");
}

static void stat_text(struct dmxp_region *r, const struct chan_stat *st, int n)
{
	char dir[300];
	int i;

	printf("region %s (%s): %zu bytes, %zu free, %d channels\n", region_name(),
	       sysfs_dir(dir, sizeof(dir)) ? "kernel" : "file", dmxp_region_size(r),
	       dmxp_region_free(r), dmxp_chan_list(r, NULL, 0));
	printf("%-4s %9s %9s %14s %14s %7s %7s %9s %9s %10s %13s\n", "id", "capacity", "depth",
	       "sent", "received", "r-wait", "s-wait", "repaired", "tombst", "notifies",
	       "dead-sleepers");
	for (i = 0; i < n; i++) {
		const struct dmxp_chan_info *in = &st[i].info;

		printf("%-4u %9" PRIu64 " %9" PRIu64 " %14" PRIu64 " %14" PRIu64 " %7u %7u"
		       " %9llu %9llu ",
		       in->id, (uint64_t)in->capacity, (uint64_t)in->depth,
		       (uint64_t)in->tail, (uint64_t)in->head, st[i].recv_waiters,
		       st[i].send_waiters, st[i].repaired, st[i].tombstoned);
		if (st[i].notifies >= 0)
			printf("%10lld", st[i].notifies);
		else
			printf("%10s", "-");
		printf(" %13u\n", st[i].dead_sleepers);
	}
}

/* Snapshot the channels named by argv[optind..] (or all) into @st. */
static int stat_all(struct dmxp_region *r, int argc, char **argv, struct chan_stat *st)
{
	unsigned int ids[DMXP_MAX_CHANNELS];
	int i, n, k = 0;

	n = pick_channels(r, argc, argv, optind, ids);
	for (i = 0; i < n; i++) {
		if (chan_stat(r, ids[i], &st[k]))
			k++;
		else if (optind < argc)
			chan_error(ids[i], -ENOENT);	/* one the user named */
	}
	return k;
}

int cmd_stat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] stat [--json] [CH...]\n"
		"The region, and for each channel (CH, or all): capacity, depth, the\n"
		"messages sent (its tail position) and received (its head) since it\n"
		"was created, the consumers (r-wait) and producers (s-wait) asleep on\n"
		"it, the slots of dead processes repaired (repaired) and of those the\n"
		"messages never written, skipped as tombstones (tombst), on kernel\n"
		"regions the module's wake-ups (notifies), and the sleepers whose\n"
		"process is gone (dead-sleepers; 'dmxpctl peers' names them).\n";
	struct chan_stat *st = calloc(DMXP_MAX_CHANNELS, sizeof(*st));
	bool json = opt_json(argc, argv, "jh", opts, help);
	struct dmxp_region *r;
	int n;

	if (!st)
		die("%s", strerror(ENOMEM));
	r = region_open_flags(DMXP_OPEN_RDONLY, 0);
	n = stat_all(r, argc, argv, st);
	if (json)
		stat_json(r, st, n);
	else
		stat_text(r, st, n);
	dmxp_region_close(r);
	free(st);
	return 0;
}

/* ---------------------------------------------------------------- watch */

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
	(void)sig;
	stop_watch = 1;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_watch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] watch [-i SECONDS] [-n COUNT] [CH...]\n"
		"Show the channels (CH, or all) every SECONDS (default 1) with the\n"
		"messages sent and received per second over the last interval, the\n"
		"depth and the sleepers; on a terminal the screen is redrawn, like\n"
		"top.  Stops after COUNT screens, or at Ctrl-C.\n";
	struct chan_stat *prev = calloc(DMXP_MAX_CHANNELS, sizeof(*prev));
	struct chan_stat *cur = calloc(DMXP_MAX_CHANNELS, sizeof(*cur));
	unsigned long long count = 0, shown = 0, interval_ms = 1000;
	bool tty = isatty(STDOUT_FILENO);
	struct sigaction sa = { .sa_handler = on_sigint };
	struct dmxp_region *r;
	int opt, np, nc, i;
	double t0, t1;

	if (!prev || !cur)
		die("%s", strerror(ENOMEM));
	while ((opt = next_opt(argc, argv, "i:n:h", opts, help)) != -1) {
		if (opt == 'i') {
			char *end;
			double s = strtod(optarg, &end);

			if (*end || !(s >= 0.01 && s <= 3600))
				usage_error("invalid interval '%s': expected 0.01..3600 seconds",
					    optarg);
			interval_ms = (unsigned long long)(s * 1000 + 0.5);
		} else {
			count = parse_num("count", optarg, ULLONG_MAX);
		}
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r = region_open_flags(DMXP_OPEN_RDONLY, 0);
	np = stat_all(r, argc, argv, prev);
	t0 = mono_s();
	while (!stop_watch && (!count || shown < count)) {
		struct timespec d = { .tv_sec = (time_t)(interval_ms / 1000),
				      .tv_nsec = (long)(interval_ms % 1000) * 1000000L };

		nanosleep(&d, NULL);	/* a signal ends it early: fine */
		nc = stat_all(r, argc, argv, cur);
		t1 = mono_s();
		if (tty)
			fputs("\033[H\033[2J", stdout);
		printf("dmxpctl watch %s: %d channels, every %.2f s\n", region_name(), nc,
		       interval_ms / 1000.0);
		printf("%-4s %9s %9s %12s %12s %14s %14s %7s %7s\n", "id", "capacity", "depth",
		       "sent/s", "recv/s", "sent", "received", "r-wait", "s-wait");
		for (i = 0; i < nc; i++) {
			const struct dmxp_chan_info *in = &cur[i].info;
			double ds = 0, dr = 0;
			int j;

			/* Rates against the same channel, same life, last time. */
			for (j = 0; j < np; j++) {
				if (prev[j].info.id == in->id &&
				    prev[j].generation == cur[i].generation &&
				    in->tail >= prev[j].info.tail && in->head >= prev[j].info.head) {
					ds = (double)(in->tail - prev[j].info.tail) / (t1 - t0);
					dr = (double)(in->head - prev[j].info.head) / (t1 - t0);
					break;
				}
			}
			printf("%-4u %9" PRIu64 " %9" PRIu64 " %12.0f %12.0f %14" PRIu64 " %14" PRIu64
			       " %7u %7u\n", in->id, (uint64_t)in->capacity, (uint64_t)in->depth,
			       ds, dr, (uint64_t)in->tail, (uint64_t)in->head,
			       cur[i].recv_waiters, cur[i].send_waiters);
		}
		if (!tty)
			putchar('\n');
		fflush(stdout);
		memcpy(prev, cur, sizeof(*cur) * (size_t)nc);
		np = nc;
		t0 = t1;
		shown++;
	}
	dmxp_region_close(r);
	free(prev);
	free(cur);
	return 0;
}

/* ----------------------------------------------------------------- dump */

/* How slot @i of a ring of @cap slots stands, from its sequence @seq. */
static const char *slot_state(__u64 seq, __u64 i, __u64 cap, __u64 head, __u64 tail,
			      __u64 *pos)
{
	__u64 mask = cap - 1;

	if ((seq & mask) == i) {
		/* Free for the producer of position seq, or claimed by it. */
		*pos = seq;
		return (__s64)(seq - tail) < 0 ? "writing" : "free";
	}
	if (((seq - 1) & mask) == i) {
		/* Holds message seq - 1, or a consumer is reading it. */
		*pos = seq - 1;
		return (__s64)(seq - 1 - head) < 0 ? "reading" : "full";
	}
	*pos = 0;
	return "invalid";
}

static void dump_slot(const struct dmxp_slot *s, __u64 i, __u64 cap, __u64 head,
		      __u64 tail, bool json, bool hex, bool *first)
{
	struct dmxp_msg_meta m;
	unsigned char payload[DMXP_MAX_PAYLOAD];
	__u64 seq = LOAD(s->sequence), pos;
	const char *state = slot_state(seq, i, cap, head, tail, &pos);
	bool has_msg = !strcmp(state, "full") || !strcmp(state, "reading");
	size_t len;

	memcpy(&m, (const void *)&s->meta, sizeof(m));
	len = m.payload_len > DMXP_MAX_PAYLOAD ? DMXP_MAX_PAYLOAD : m.payload_len;
	memcpy(payload, (const void *)s->payload, len);

	if (json) {
		printf("%s{\"slot\":%llu,\"sequence\":%llu,\"state\":\"%s\",\"position\":%llu",
		       *first ? "" : ",", (unsigned long long)i, (unsigned long long)seq,
		       state, (unsigned long long)pos);
		if (has_msg) {
			putchar(',');
			json_message(stdout, &m, payload, len);
		}
		printf("}");
		*first = false;
		return;
	}
	printf("%6llu %12llu %-8s %10llu", (unsigned long long)i, (unsigned long long)seq,
	       state, (unsigned long long)pos);
	if (has_msg) {
		size_t show = len > 32 ? 32 : len;

		printf(" %6u %4u %7u %-7s %s", m.message_type, m.payload_len, m.sender_pid,
		       runtime_name(m.sender_runtime),
		       m.flags & DMXP_MSG_TOMBSTONE ? "tombstone " : "");
		if (hex || !is_text(payload, show)) {
			put_hex(stdout, payload, show);
		} else {
			putchar('"');
			fwrite(payload, 1, show, stdout);
			putchar('"');
		}
		if (show < len)
			printf("...");
	}
	putchar('\n');
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "hex", no_argument, NULL, 'x' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] dump CH [--all] [--limit N] [--hex] [--json]\n"
		"Show the slots of channel CH from its head to its tail (messages being\n"
		"read, waiting, or being written), at most N (default 64); --all shows\n"
		"every slot of the ring.  Each: slot index, sequence, state (free,\n"
		"writing, full, reading, invalid), the position it is for and, when it\n"
		"holds a message, the message's type, length, sender pid and runtime\n"
		"and the start of its payload (text, or hex with --hex).  A snapshot:\n"
		"the ring may change while it is read.\n";
	unsigned long long limit = 64;
	bool all = false, hex = false, json = false, first = true;
	const struct dmxp_global_header *h;
	const struct dmxp_slot *slots;
	struct dmxp_chan_info info;
	struct dmxp_region *r;
	unsigned int ch;
	__u64 i, n;
	int opt, ret;

	while ((opt = next_opt(argc, argv, "al:xjh", opts, help)) != -1) {
		if (opt == 'a')
			all = true;
		else if (opt == 'l')
			limit = parse_num("limit", optarg, ULLONG_MAX);
		else if (opt == 'x')
			hex = true;
		else
			json = true;
	}
	if (optind + 1 != argc)
		usage_error("expected one channel id");
	ch = parse_channel(argv[optind]);
	r = region_open_flags(DMXP_OPEN_RDONLY, 0);
	ret = dmxp_chan_info(r, ch, &info);
	if (ret)
		chan_error(ch, ret);
	if (info.band_offset > dmxp_region_size(r) ||
	    info.capacity > (dmxp_region_size(r) - info.band_offset) / sizeof(struct dmxp_slot))
		die("channel %u: its ring lies outside %s", ch, region_name());
	h = dmxp_region_header(r);
	slots = (const struct dmxp_slot *)((const char *)h + info.band_offset);

	if (json)
		printf("{\"channel\":%u,\"capacity\":%llu,\"head\":%llu,\"tail\":%llu,\"slots\":[",
		       ch, (unsigned long long)info.capacity, (unsigned long long)info.head,
		       (unsigned long long)info.tail);
	else
		printf("channel %u: capacity %llu, head %llu, tail %llu\n%6s %12s %-8s %10s %6s %4s %7s %-7s %s\n",
		       ch, (unsigned long long)info.capacity, (unsigned long long)info.head,
		       (unsigned long long)info.tail, "slot", "sequence", "state", "position",
		       "type", "len", "pid", "runtime", "payload");
	if (all) {
		for (i = 0; i < info.capacity; i++)
			dump_slot(&slots[i], i, info.capacity, info.head, info.tail, json, hex,
				  &first);
	} else {
		n = info.tail - info.head;
		if ((__s64)n < 0)
			n = 0;
		if (n > info.capacity)
			n = info.capacity;
		if (n > limit)
			n = limit;
		for (i = 0; i < n; i++) {
			__u64 idx = (info.head + i) & (info.capacity - 1);

			dump_slot(&slots[idx], idx, info.capacity, info.head, info.tail, json,
				  hex, &first);
		}
	}
	if (json)
		printf("]}\n");
	dmxp_region_close(r);
	return 0;
}
