// SPDX-License-Identifier: MIT
/*
 * c_peer: the C side of the Rust peer's tests (selftests/test_rust.sh).
 *
 * It uses libdmxp's public API only, and sends and prints the same test
 * traffic as dmxp-rs (tools/rust/src/testmsg.rs describes it): payload
 * "NAME-SEQ:" plus pattern bytes, a type derived from both, and one
 * record line per received message with its metadata.
 *
 *	c_peer layout
 *		the layout of <linux/dmxp.h> by offsetof/sizeof, in the format
 *		of `dmxp-rs layout` (Rust field names), for a diff
 *	c_peer produce REGION CH NAME COUNT [INTERVAL_US [TOMBSTONE_EVERY]]
 *		send COUNT messages with dmxp_chan_send_wait(); with
 *		TOMBSTONE_EVERY = K, before every K-th message publish a
 *		tombstone (dmxp_chan_reserve() + dmxp_chan_abort())
 *	c_peer consume REGION CH [TIMEOUT_MS]
 *		dmxp_chan_recv_wait() and print a record per message until a
 *		payload "END"
 *
 * Exit status: 0 success, 1 failure, 2 bad usage, 3 timed out.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmxp.h>

#define SEND_TIMEOUT_NS	(20LL * 1000000000LL)

static uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/* testmsg::payload(name, seq, false) */
static size_t gen_payload(const char *name, uint64_t seq, unsigned char *out)
{
	uint64_t h = fnv1a(name, strlen(name));
	int n = snprintf((char *)out, DMXP_MAX_PAYLOAD, "%s-%" PRIu64 ":", name, seq);
	uint64_t prefix = (uint64_t)n, len, k;

	len = prefix + (seq * 37 + h) % (DMXP_MAX_PAYLOAD + 1 - prefix);
	for (k = prefix; k < len; k++)
		out[k] = (unsigned char)(seq * 131 + k * 7 + (h >> 8));
	return (size_t)len;
}

/* testmsg::msg_type(name, seq, false) */
static uint32_t gen_type(const char *name, uint64_t seq)
{
	uint64_t h = fnv1a(name, strlen(name));

	return (uint32_t)(h ^ (h >> 32)) ^ ((uint32_t)seq * 2654435761u);
}

/* ----------------------------------------------------------------- layout */

#define STRUCT(rs, cs) \
	printf("struct %s size %zu align %zu\n", #rs, sizeof(struct cs), alignof(struct cs))
#define FIELD(rs, cs, rf, cf) \
	printf("field %s.%s offset %zu size %zu\n", #rs, rf, offsetof(struct cs, cf), \
	       sizeof(((struct cs *)0)->cf))
#define CONST(name) printf("const %s 0x%llx\n", #name, (unsigned long long)(name))

static int cmd_layout(void)
{
	STRUCT(MessageMeta, dmxp_msg_meta);
	STRUCT(Slot, dmxp_slot);
	STRUCT(ChannelEntry, dmxp_channel_entry);
	STRUCT(GlobalHeader, dmxp_global_header);
	STRUCT(Claim, dmxp_claim);
	STRUCT(IocVersion, dmxp_ioc_version);
	STRUCT(IocRegion, dmxp_ioc_region);
	STRUCT(IocNotify, dmxp_ioc_notify);
	STRUCT(IocChanFd, dmxp_ioc_chan_fd);

	FIELD(MessageMeta, dmxp_msg_meta, "message_id", message_id);
	FIELD(MessageMeta, dmxp_msg_meta, "timestamp_ns", timestamp_ns);
	FIELD(MessageMeta, dmxp_msg_meta, "channel_id", channel_id);
	FIELD(MessageMeta, dmxp_msg_meta, "message_type", message_type);
	FIELD(MessageMeta, dmxp_msg_meta, "sender_pid", sender_pid);
	FIELD(MessageMeta, dmxp_msg_meta, "sender_runtime", sender_runtime);
	FIELD(MessageMeta, dmxp_msg_meta, "flags", flags);
	FIELD(MessageMeta, dmxp_msg_meta, "payload_len", payload_len);
	FIELD(MessageMeta, dmxp_msg_meta, "pad", __pad);

	FIELD(Slot, dmxp_slot, "sequence", sequence);
	FIELD(Slot, dmxp_slot, "meta", meta);
	FIELD(Slot, dmxp_slot, "meta.message_id", meta.message_id);
	FIELD(Slot, dmxp_slot, "meta.timestamp_ns", meta.timestamp_ns);
	FIELD(Slot, dmxp_slot, "meta.channel_id", meta.channel_id);
	FIELD(Slot, dmxp_slot, "meta.message_type", meta.message_type);
	FIELD(Slot, dmxp_slot, "meta.sender_pid", meta.sender_pid);
	FIELD(Slot, dmxp_slot, "meta.sender_runtime", meta.sender_runtime);
	FIELD(Slot, dmxp_slot, "meta.flags", meta.flags);
	FIELD(Slot, dmxp_slot, "meta.payload_len", meta.payload_len);
	FIELD(Slot, dmxp_slot, "meta.pad", meta.__pad);
	FIELD(Slot, dmxp_slot, "pad", __pad);
	FIELD(Slot, dmxp_slot, "payload", payload);
	FIELD(Slot, dmxp_slot, "reserved", __reserved);

	FIELD(ChannelEntry, dmxp_channel_entry, "channel_id", channel_id);
	FIELD(ChannelEntry, dmxp_channel_entry, "flags", flags);
	FIELD(ChannelEntry, dmxp_channel_entry, "capacity", capacity);
	FIELD(ChannelEntry, dmxp_channel_entry, "band_offset", band_offset);
	FIELD(ChannelEntry, dmxp_channel_entry, "generation", generation);
	FIELD(ChannelEntry, dmxp_channel_entry, "owner_pid", owner_pid);
	FIELD(ChannelEntry, dmxp_channel_entry, "band_capacity", band_capacity);
	FIELD(ChannelEntry, dmxp_channel_entry, "recv_waiters", recv_waiters);
	FIELD(ChannelEntry, dmxp_channel_entry, "send_waiters", send_waiters);
	FIELD(ChannelEntry, dmxp_channel_entry, "recv_futex", recv_futex);
	FIELD(ChannelEntry, dmxp_channel_entry, "send_futex", send_futex);
	FIELD(ChannelEntry, dmxp_channel_entry, "wake_pad", __wake_pad);
	FIELD(ChannelEntry, dmxp_channel_entry, "repaired", repaired);
	FIELD(ChannelEntry, dmxp_channel_entry, "tombstoned", tombstoned);
	FIELD(ChannelEntry, dmxp_channel_entry, "owner_start", owner_start);
	FIELD(ChannelEntry, dmxp_channel_entry, "owner_ns", owner_ns);
	FIELD(ChannelEntry, dmxp_channel_entry, "meta_pad", __meta_pad);
	FIELD(ChannelEntry, dmxp_channel_entry, "tail", tail);
	FIELD(ChannelEntry, dmxp_channel_entry, "tail_pad", __tail_pad);
	FIELD(ChannelEntry, dmxp_channel_entry, "head", head);
	FIELD(ChannelEntry, dmxp_channel_entry, "head_pad", __head_pad);

	FIELD(GlobalHeader, dmxp_global_header, "magic", magic);
	FIELD(GlobalHeader, dmxp_global_header, "version", version);
	FIELD(GlobalHeader, dmxp_global_header, "max_channels", max_channels);
	FIELD(GlobalHeader, dmxp_global_header, "channel_count", channel_count);
	FIELD(GlobalHeader, dmxp_global_header, "reserved", reserved);
	FIELD(GlobalHeader, dmxp_global_header, "region_size", region_size);
	FIELD(GlobalHeader, dmxp_global_header, "alloc_cursor", alloc_cursor);
	FIELD(GlobalHeader, dmxp_global_header, "claims_offset", claims_offset);
	FIELD(GlobalHeader, dmxp_global_header, "claims_count", claims_count);
	FIELD(GlobalHeader, dmxp_global_header, "claims_pad", __claims_pad);
	FIELD(GlobalHeader, dmxp_global_header, "repair_lock", repair_lock);
	FIELD(GlobalHeader, dmxp_global_header, "pad", __pad);
	FIELD(GlobalHeader, dmxp_global_header, "channels", channels);

	FIELD(Claim, dmxp_claim, "owner", owner);
	FIELD(Claim, dmxp_claim, "state", state);
	FIELD(Claim, dmxp_claim, "pos", pos);
	FIELD(Claim, dmxp_claim, "chan", chan);
	FIELD(Claim, dmxp_claim, "count", count);
	FIELD(Claim, dmxp_claim, "generation", generation);
	FIELD(Claim, dmxp_claim, "pid", pid);
	FIELD(Claim, dmxp_claim, "start_time", start_time);
	FIELD(Claim, dmxp_claim, "pid_ns", pid_ns);
	FIELD(Claim, dmxp_claim, "pad", __pad);

	FIELD(IocVersion, dmxp_ioc_version, "version", version);
	FIELD(IocVersion, dmxp_ioc_version, "features", features);
	FIELD(IocVersion, dmxp_ioc_version, "max_region_size", max_region_size);
	FIELD(IocVersion, dmxp_ioc_version, "reserved", reserved);
	FIELD(IocRegion, dmxp_ioc_region, "name", name);
	FIELD(IocRegion, dmxp_ioc_region, "size", size);
	FIELD(IocRegion, dmxp_ioc_region, "mode", mode);
	FIELD(IocRegion, dmxp_ioc_region, "flags", flags);
	FIELD(IocRegion, dmxp_ioc_region, "uid", uid);
	FIELD(IocRegion, dmxp_ioc_region, "gid", gid);
	FIELD(IocRegion, dmxp_ioc_region, "lease", lease);
	FIELD(IocRegion, dmxp_ioc_region, "pad", __pad);
	FIELD(IocRegion, dmxp_ioc_region, "reserved", reserved);
	FIELD(IocNotify, dmxp_ioc_notify, "id", id);
	FIELD(IocNotify, dmxp_ioc_notify, "flags", flags);
	FIELD(IocNotify, dmxp_ioc_notify, "reserved", reserved);
	FIELD(IocChanFd, dmxp_ioc_chan_fd, "id", id);
	FIELD(IocChanFd, dmxp_ioc_chan_fd, "flags", flags);
	FIELD(IocChanFd, dmxp_ioc_chan_fd, "reserved", reserved);

	CONST(DMXP_MAGIC);
	CONST(DMXP_VERSION);
	CONST(DMXP_MAX_CHANNELS);
	CONST(DMXP_HEADER_SIZE);
	CONST(DMXP_ENTRY_SIZE);
	CONST(DMXP_SLOT_SIZE);
	CONST(DMXP_MAX_PAYLOAD);
	CONST(DMXP_CAPACITY_MIN);
	CONST(DMXP_CAPACITY_MAX);
	CONST(DMXP_BAND_ALIGN);
	CONST(DMXP_CHAN_CREATED);
	CONST(DMXP_CHAN_BUSY);
	CONST(DMXP_CHAN_FLAGS_KNOWN);
	CONST(DMXP_MSG_TOMBSTONE);
	CONST(DMXP_CLAIMS);
	CONST(DMXP_CLAIMS_MAX);
	CONST(DMXP_CLAIM_SIZE);
	CONST(DMXP_CLAIM_BATCH_MAX);
	CONST(DMXP_CLAIM_IDLE);
	CONST(DMXP_CLAIM_SEND);
	CONST(DMXP_CLAIM_SEND_WRITTEN);
	CONST(DMXP_CLAIM_RECV);
	CONST(DMXP_CLAIM_REPAIR);
	CONST(DMXP_RUNTIME_UNKNOWN);
	CONST(DMXP_RUNTIME_C);
	CONST(DMXP_RUNTIME_RUST);
	CONST(DMXP_RUNTIME_PYTHON);
	CONST(DMXP_RUNTIME_KERNEL);
	CONST(DMXP_RUNTIME_GO);
	CONST(DMXP_RUNTIME_JAVA);
	CONST(DMXP_RUNTIME_OTHER);
	CONST(DMXP_NAME_MAX);
	CONST(DMXP_NOTIFY_RECV);
	CONST(DMXP_NOTIFY_SEND);
	CONST(DMXP_CHAN_FD_NONBLOCK);
	CONST(DMXP_ABI_MAJOR);
	CONST(DMXP_FEAT_REGIONS);
	CONST(DMXP_FEAT_CHANNELS);
	CONST(DMXP_FEAT_WAKE);
	CONST(DMXP_FEAT_REPAIR);
	CONST(DMXP_IOC_VERSION);
	CONST(DMXP_IOC_REGION_ATTACH);
	CONST(DMXP_IOC_NOTIFY);
	CONST(DMXP_IOC_CHAN_FD);
	return 0;
}

/* --------------------------------------------------------- produce/consume */

static struct dmxp_region *region;

static struct dmxp_chan *open_chan(const char *path, const char *ch)
{
	struct dmxp_chan *c;
	int ret = dmxp_region_open(path, 0, 0, &region);

	if (ret) {
		fprintf(stderr, "c_peer: cannot open region %s: %s\n", path, strerror(-ret));
		exit(1);
	}
	ret = dmxp_chan_open(region, (unsigned int)atoi(ch), &c);
	if (ret) {
		fprintf(stderr, "c_peer: cannot open channel %s: %s\n", ch, strerror(-ret));
		exit(1);
	}
	return c;
}

static int cmd_produce(int argc, char **argv)
{
	const char *name = argv[3];
	uint64_t count = strtoull(argv[4], NULL, 0), seq;
	unsigned long interval = argc > 5 ? strtoul(argv[5], NULL, 0) : 0;
	uint64_t tomb_every = argc > 6 ? strtoull(argv[6], NULL, 0) : 0;
	struct dmxp_chan *c = open_chan(argv[1], argv[2]);
	unsigned char buf[DMXP_MAX_PAYLOAD];

	for (seq = 0; seq < count; seq++) {
		size_t len = gen_payload(name, seq, buf);
		int ret;

		if (tomb_every && seq % tomb_every == 0) {
			struct dmxp_ref ref;

			while ((ret = dmxp_chan_reserve(c, &ref)) == -EAGAIN)
				usleep(100);
			if (ret) {
				fprintf(stderr, "c_peer: reserve: %s\n", strerror(-ret));
				return 1;
			}
			dmxp_chan_abort(c, &ref);
		}
		ret = dmxp_chan_send_wait(c, buf, len, gen_type(name, seq), SEND_TIMEOUT_NS);
		if (ret) {
			fprintf(stderr, "c_peer: send %s-%" PRIu64 ": %s\n", name, seq, strerror(-ret));
			return ret == -ETIMEDOUT ? 3 : 1;
		}
		if (interval)
			usleep((useconds_t)interval);
	}
	dmxp_chan_close(c);
	dmxp_region_close(region);
	return 0;
}

/* Record::line() of testmsg.rs */
static void print_record(const struct dmxp_msg_meta *m, const unsigned char *p, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && p[i] != ':' && n < 64; i++, n++)
		putchar(isgraph(p[i]) ? p[i] : '?');
	if (!n)
		putchar('~');
	printf(" %zu %016" PRIx64 " %u %u %u %" PRIu64 " %u %" PRIu64 " %u\n", len,
	       fnv1a(p, len), m->message_type, m->sender_runtime, m->sender_pid,
	       (uint64_t)m->message_id, m->channel_id, (uint64_t)m->timestamp_ns, m->flags);
}

static int cmd_consume(int argc, char **argv)
{
	long long timeout_ns = (argc > 3 ? atoll(argv[3]) : 20000) * 1000000LL;
	struct dmxp_chan *c = open_chan(argv[1], argv[2]);
	unsigned char buf[DMXP_MAX_PAYLOAD];
	struct dmxp_msg_meta meta;
	unsigned long n = 0;

	for (;;) {
		ssize_t len = dmxp_chan_recv_wait(c, buf, sizeof(buf), &meta, timeout_ns);

		if (len < 0) {
			fflush(stdout);
			fprintf(stderr, "c_peer: receive after %lu messages: %s\n", n,
				strerror((int)-len));
			return len == -ETIMEDOUT ? 3 : 1;
		}
		if (len == 3 && !memcmp(buf, "END", 3))
			break;
		print_record(&meta, buf, (size_t)len);
		n++;
	}
	fflush(stdout);
	fprintf(stderr, "# c_peer consume: %lu messages\n", n);
	dmxp_chan_close(c);
	dmxp_region_close(region);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "layout"))
		return cmd_layout();
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "produce"))
		return cmd_produce(argc - 1, argv + 1);
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "consume"))
		return cmd_consume(argc - 1, argv + 1);
	fprintf(stderr, "usage: c_peer layout\n"
			"       c_peer produce REGION CH NAME COUNT [INTERVAL_US [TOMBSTONE_EVERY]]\n"
			"       c_peer consume REGION CH [TIMEOUT_MS]\n");
	return 2;
}
