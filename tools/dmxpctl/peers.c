// SPDX-License-Identifier: MIT
/*
 * dmxpctl peers: who is attached to a region and working on its channels,
 * from the claim table (Documentation/MEMORY_LAYOUT.md).  Each process
 * takes a record there for each of its threads, and says in it what it is
 * doing: claiming or writing slots (sending), claiming or reading them
 * (receiving), repairing a dead process's slots, or sleeping on a channel
 * (the sleepers counted in its recv_waiters and send_waiters).
 *
 * On a region file a record's owner is a pid; on a kernel region it is a
 * lease of the module, and the record's pid field says whose it is.
 * Whether that process is alive is decided by the library's own rule
 * (lib/proc.c), read-only, as before a repair: the pid with the start
 * time the record gives, in our pid namespace; a zombie is dead only
 * when none of its threads is left.  A process in another pid namespace,
 * or any when our /proc cannot prove a death, is "unknown".
 *
 * The mapping is only read (plain loads, a snapshot per field).
 */
#include <limits.h>
#include <stdio.h>

#include "dmxpctl.h"
/*
 * The library's internal proof of death, dmxp__owner_dead() and
 * dmxp__self_ident(): hidden from the shared library, but dmxpctl links
 * the static libdmxp.a, and must judge a process as the library does.
 */
#include "../../lib/internal.h"

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)


const char *liveness_name(enum liveness l)
{
	return l == LIVE_ALIVE ? "alive" : l == LIVE_DEAD ? "dead" : "unknown";
}

/*
 * Is the process the record names alive?  The library's own proof of
 * death (lib/proc.c), one rule in one place: dmxp__self_ident() gives no
 * start time when our /proc cannot prove a death (not ours, or silent),
 * and a record of another pid namespace proves nothing here: both are
 * "unknown".  Anything else the library does not prove dead is alive.
 */
static enum liveness rec_liveness(const struct dmxp_claim *rec)
{
	__u32 owner = LOAD(rec->owner), pid = LOAD(rec->pid);
	__u64 start = LOAD(rec->start_time), ns = LOAD(rec->pid_ns);
	__u64 self_start, self_ns;

	/*
	 * The three were read one by one: a record taken by another process
	 * meanwhile would pair its pid with the last owner's start time and
	 * make a live process look dead.  Its owner or pid changed: unknown.
	 */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (LOAD(rec->owner) != owner || LOAD(rec->pid) != pid)
		return LIVE_UNKNOWN;	/* changed hands */
	/* A region file's record being set up (a kernel region's owner is a lease). */
	if ((owner & DMXP_OWNER_SETUP) && !dmxp__is_kernel_path(region_name()))
		return LIVE_UNKNOWN;
	dmxp__self_ident(&self_start, &self_ns);
	if (!pid || pid > INT_MAX || !self_start || !ns || ns != self_ns)
		return LIVE_UNKNOWN;
	return dmxp__owner_dead(pid, start, ns) ? LIVE_DEAD : LIVE_ALIVE;
}

static const char *role_name(__u32 state)
{
	switch (state) {
	case DMXP_CLAIM_IDLE:		return "holding-a-record";
	case DMXP_CLAIM_SEND:		return "sending";
	case DMXP_CLAIM_SEND_WRITTEN:	return "sending";
	case DMXP_CLAIM_RECV:		return "receiving";
	case DMXP_CLAIM_REPAIR:		return "repairing";
	case DMXP_CLAIM_WAIT_RECV:	return "sleeping-to-receive";
	case DMXP_CLAIM_WAIT_SEND:	return "sleeping-to-send";
	default:			return "invalid";
	}
}

/* The region's claim table, or NULL (none, or not inside the region). */
static const struct dmxp_claim *claim_table(struct dmxp_region *r, unsigned int *count)
{
	const struct dmxp_global_header *h = dmxp_region_header(r);
	__u64 off = LOAD(h->claims_offset), size = dmxp_region_size(r);
	__u32 n = LOAD(h->claims_count);

	*count = 0;
	if (!off || !n || n > DMXP_CLAIMS_MAX || off < DMXP_HEADER_SIZE || off > size ||
	    (__u64)n * sizeof(struct dmxp_claim) > size - off)
		return NULL;
	*count = n;
	return (const struct dmxp_claim *)((const char *)h + off);
}

/* The sleepers records name on channel @ch in its life @generation: how many, how many dead. */
static unsigned int named_sleepers(struct dmxp_region *r, unsigned int ch,
				   unsigned int generation, unsigned int *dead)
{
	const struct dmxp_claim *t;
	unsigned int i, n, named = 0;

	*dead = 0;
	t = claim_table(r, &n);
	for (i = 0; t && i < n; i++) {
		__u32 state = LOAD(t[i].state);

		if (!LOAD(t[i].owner) || LOAD(t[i].chan) != ch ||
		    LOAD(t[i].generation) != generation ||
		    (state != DMXP_CLAIM_WAIT_RECV && state != DMXP_CLAIM_WAIT_SEND))
			continue;
		named++;
		if (rec_liveness(&t[i]) == LIVE_DEAD)
			(*dead)++;
	}
	return named;
}

unsigned int dead_sleepers(struct dmxp_region *r, unsigned int ch, unsigned int generation)
{
	unsigned int dead;

	named_sleepers(r, ch, generation, &dead);
	return dead;
}

/* Is record @rec one to show for the channels picked (@all: every record)? */
static bool rec_picked(const struct dmxp_claim *rec, const bool *picked, bool all)
{
	__u32 chan = LOAD(rec->chan);

	if (!LOAD(rec->owner))
		return false;
	if (LOAD(rec->state) == DMXP_CLAIM_IDLE)
		return all;	/* attached, on no channel */
	return all || (chan < DMXP_MAX_CHANNELS && picked[chan]);
}

static void peer_line(const struct dmxp_claim *rec, unsigned int i, bool json, bool first)
{
	__u32 owner = LOAD(rec->owner), state = LOAD(rec->state), pid = LOAD(rec->pid);
	bool on_chan = state != DMXP_CLAIM_IDLE;
	const char *role = role_name(state);
	const char *alive;

	/* A region file's record being set up names its pid in the owner. */
	if (!pid && (owner & DMXP_OWNER_SETUP))
		pid = owner & ~DMXP_OWNER_SETUP;
	alive = liveness_name(pid == LOAD(rec->pid) ? rec_liveness(rec) : LIVE_UNKNOWN);
	if (json) {
		printf("%s{\"record\":%u,\"owner\":%u,\"pid\":%u,\"alive\":\"%s\",\"role\":\"%s\""
		       ",\"state\":%u,\"channel\":", first ? "" : ",", i, owner, pid, alive,
		       role, state);
		if (on_chan)
			printf("%u,\"generation\":%u}", LOAD(rec->chan), LOAD(rec->generation));
		else
			printf("null,\"generation\":null}");
		return;
	}
	if (on_chan)
		printf("%-5u", LOAD(rec->chan));
	else
		printf("%-5s", "-");
	printf(" %7u %10u %10u %-8s %s\n", i, owner, pid, alive, role);
}

int cmd_peers(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char help[] =
		"usage: dmxpctl [-r REGION] peers [--json] [CH...]\n"
		"The processes working on the channels (CH, or all), from the region's\n"
		"claim records: for each record, the channel, the record's index, its\n"
		"owner (a pid; on a kernel region the module's lease), the pid, whether\n"
		"that process is alive, dead or unknown (another pid namespace), and\n"
		"its role: sending, receiving, repairing, sleeping-to-receive,\n"
		"sleeping-to-send, or (without CH) holding-a-record on no channel.\n"
		"Then the sleepers each channel counts that no record names.  Only\n"
		"reads the region.\n";
	unsigned int ids[DMXP_MAX_CHANNELS], i, count;
	bool picked[DMXP_MAX_CHANNELS] = { false }, json = false, first = true, all;
	const struct dmxp_claim *t;
	struct dmxp_region *r;
	int opt, n, k;

	while ((opt = next_opt(argc, argv, "jh", opts, help)) != -1)
		if (opt == 'j')
			json = true;
	all = optind == argc;
	for (k = optind; k < argc; k++)
		picked[parse_channel(argv[k])] = true;
	r = region_open_flags(DMXP_OPEN_RDONLY, 0);
	for (k = optind; k < argc; k++) {
		struct dmxp_chan_info info;
		unsigned int ch = parse_channel(argv[k]);
		int ret = dmxp_chan_info(r, ch, &info);

		if (ret)
			chan_error(ch, ret);
	}
	t = claim_table(r, &count);
	if (json) {
		printf("{\"region\":");
		json_str(stdout, region_name());
		printf(",\"records\":%u,\"peers\":[", count);
	} else {
		printf("region %s: %u claim records%s\n", region_name(), count,
		       t ? "" : " (too small for a claim table: no process is recorded)");
		printf("%-5s %7s %10s %10s %-8s %s\n", "chan", "record", "owner", "pid", "alive",
		       "role");
	}
	for (i = 0; t && i < count; i++) {
		if (!rec_picked(&t[i], picked, all))
			continue;
		peer_line(&t[i], i, json, first);
		first = false;
	}
	/* Sleepers counted by a channel: how many no record names. */
	n = dmxp_chan_list(r, ids, DMXP_MAX_CHANNELS);
	if (n > DMXP_MAX_CHANNELS)
		n = DMXP_MAX_CHANNELS;
	if (json)
		printf("],\"channels\":[");
	first = true;
	for (k = 0; k < n; k++) {
		const struct dmxp_channel_entry *e = &dmxp_region_header(r)->channels[ids[k]];
		unsigned int rw = LOAD(e->recv_waiters), sw = LOAD(e->send_waiters);
		unsigned int named, dead;

		if (!all && !picked[ids[k]])
			continue;
		named = named_sleepers(r, ids[k], LOAD(e->generation), &dead);
		if (json)
			printf("%s{\"id\":%u,\"recv_waiters\":%u,\"send_waiters\":%u"
			       ",\"named_sleepers\":%u,\"dead_sleepers\":%u}", first ? "" : ",",
			       ids[k], rw, sw, named, dead);
		else if (rw + sw > named)
			printf("channel %u: %u sleepers not named by a record\n", ids[k],
			       rw + sw - named);
		first = false;
	}
	if (json)
		printf("]}\n");
	dmxp_region_close(r);
	return 0;
}
