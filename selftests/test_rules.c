// SPDX-License-Identifier: MIT
/*
 * The protocol's rules (common/dmxp_rules.h), which the library and the
 * module both compile in, checked table by table.  Each row is an input
 * and what Documentation/MEMORY_LAYOUT.md says of it (2.1 sizes, 7.1
 * sequences, 10.5 bands, 14 the claim table and its repair), worked out
 * from the text, not from running the code.  No region, no backend.
 */
#include <stdint.h>

#include "kselftest_harness.h"
#include "common.h"
#include "../common/dmxp_rules.h"

#define MiB		(1ULL << 20)
#define TABLE		(512ULL * 64)		/* DMXP_CLAIMS records of 64 bytes */
#define HDR		98432ULL
#define REGION_MIN	(HDR + 2 * 1088)	/* 100,608: the header and a ring of 2 */
#define BANDS_AFTER	(HDR + TABLE)		/* 131,200 */
#define LIB_MAX		(1ULL << 40)

/* ---------------------------------------------------------------- layout */

static const struct {
	unsigned long long	size, max;
	bool			ok;		/* a creator accepts the size */
	unsigned long long	claims_offset;
	unsigned int		claims_count;
	unsigned long long	bands_start;
} layouts[] = {
	/* Too small for the header and a ring of 2: refused. */
	{ 0,			LIB_MAX, false, 0,   0,   HDR },
	{ HDR,			LIB_MAX, false, 0,   0,   HDR },
	{ REGION_MIN - 1,	LIB_MAX, false, 0,   0,   HDR },
	/* The smallest legal region has no room for the table. */
	{ REGION_MIN,		LIB_MAX, true,  0,   0,   HDR },
	{ REGION_MIN + TABLE - 1, LIB_MAX, true, 0,  0,   HDR },
	/* The first size with the table and still a ring of 2 after it. */
	{ REGION_MIN + TABLE,	LIB_MAX, true,  HDR, 512, BANDS_AFTER },
	{ 1 * MiB,		LIB_MAX, true,  HDR, 512, BANDS_AFTER },
	/* The default, 288 MiB. */
	{ 288 * MiB,		LIB_MAX, true,  HDR, 512, BANDS_AFTER },
	/* Huge: the library's limit, and one byte over it. */
	{ LIB_MAX,		LIB_MAX, true,  HDR, 512, BANDS_AFTER },
	{ LIB_MAX + 1,		LIB_MAX, false, HDR, 512, BANDS_AFTER },
	/* The module's limit is its parameter. */
	{ 64 * MiB,		64 * MiB, true,  HDR, 512, BANDS_AFTER },
	{ 64 * MiB + 4096,	64 * MiB, false, HDR, 512, BANDS_AFTER },
};

TEST(layout_plan)
{
	unsigned int i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		struct dmxp_rules_layout plan;

		memset(&plan, 0xa5, sizeof(plan));
		dmxp_rules_layout_plan(layouts[i].size, &plan);
		EXPECT_EQ(layouts[i].ok, dmxp_rules_region_size_ok(layouts[i].size, layouts[i].max))
			TH_LOG("row %u: size %llu", i, layouts[i].size);
		EXPECT_EQ(layouts[i].claims_offset, plan.claims_offset)
			TH_LOG("row %u: size %llu", i, layouts[i].size);
		EXPECT_EQ(layouts[i].claims_count, plan.claims_count)
			TH_LOG("row %u: size %llu", i, layouts[i].size);
		EXPECT_EQ(layouts[i].bands_start, plan.bands_start)
			TH_LOG("row %u: size %llu", i, layouts[i].size);
		/* The first band is aligned, and a ring of 2 fits at it. */
		if (layouts[i].ok)
			EXPECT_TRUE(dmxp_rules_band_ok(2, plan.bands_start, layouts[i].size))
				TH_LOG("row %u: size %llu", i, layouts[i].size);
	}
}

/* -------------------------------------------------------- rings and bands */

static const struct {
	unsigned long long	cap;
	bool			ok;
} capacities[] = {
	{ 0, false },
	{ 1, false },			/* a power of two, below the minimum */
	{ 2, true },
	{ 3, false },
	{ 6, false },
	{ 1000, false },
	{ 1024, true },
	{ (1ULL << 24) - 1, false },
	{ 1ULL << 24, true },		/* the maximum */
	{ (1ULL << 24) + 1, false },
	{ 1ULL << 25, false },		/* a power of two, above it */
	{ 1ULL << 32, false },
	{ 1ULL << 63, false },
	{ ~0ULL, false },
};

TEST(capacity)
{
	unsigned int i;

	for (i = 0; i < sizeof(capacities) / sizeof(capacities[0]); i++)
		EXPECT_EQ(capacities[i].ok, dmxp_rules_capacity_ok(capacities[i].cap))
			TH_LOG("capacity %llu", capacities[i].cap);
}

static const struct {
	unsigned long long	cap, boff, size;
	bool			ok;
} bands[] = {
	{ 2, HDR, REGION_MIN, true },			/* fills the smallest region */
	{ 2, HDR, REGION_MIN - 1, false },		/* one byte short */
	{ 4, HDR, REGION_MIN, false },
	{ 2, HDR + 1, 1 * MiB, false },			/* not a multiple of 64 */
	{ 2, HDR + 32, 1 * MiB, false },
	{ 2, HDR + 64, 1 * MiB, true },
	{ 2, HDR - 64, 1 * MiB, false },		/* over the header */
	{ 2, 0, 1 * MiB, false },
	{ 2, 1 * MiB, 1 * MiB, false },			/* at the end: no room */
	{ 2, 2 * MiB, 1 * MiB, false },			/* past the end */
	{ 3, HDR, 1 * MiB, false },			/* not a capacity */
	{ 0, HDR, 1 * MiB, false },
	{ 1024, BANDS_AFTER, 288 * MiB, true },
	{ 1ULL << 24, BANDS_AFTER, BANDS_AFTER + (1ULL << 24) * 1088, true },
	{ 1ULL << 24, BANDS_AFTER, BANDS_AFTER + (1ULL << 24) * 1088 - 1, false },
	{ 1ULL << 25, BANDS_AFTER, LIB_MAX, false },
	/* An offset no subtraction may wrap around. */
	{ 2, ~0ULL & ~63ULL, LIB_MAX, false },
};

TEST(band)
{
	unsigned int i;

	EXPECT_EQ(2ULL * 1088, dmxp_rules_band_bytes(2));
	EXPECT_EQ((1ULL << 24) * 1088, dmxp_rules_band_bytes(1ULL << 24));
	/* 10.5: the cursor's room, whatever the band's size. */
	EXPECT_TRUE(dmxp_rules_band_fits(HDR, 0, HDR));
	EXPECT_TRUE(dmxp_rules_band_fits(BANDS_AFTER, 64, BANDS_AFTER + 64));
	EXPECT_FALSE(dmxp_rules_band_fits(BANDS_AFTER, 65, BANDS_AFTER + 64));
	EXPECT_FALSE(dmxp_rules_band_fits(BANDS_AFTER + 8, 64, 1 * MiB));
	EXPECT_FALSE(dmxp_rules_band_fits(HDR - 64, 64, 1 * MiB));
	EXPECT_FALSE(dmxp_rules_band_fits(1 * MiB + 64, 0, 1 * MiB));
	for (i = 0; i < sizeof(bands) / sizeof(bands[0]); i++)
		EXPECT_EQ(bands[i].ok, dmxp_rules_band_ok(bands[i].cap, bands[i].boff, bands[i].size))
			TH_LOG("row %u: cap %llu at %llu of %llu", i, bands[i].cap, bands[i].boff,
			       bands[i].size);
}

TEST(ring_seq)
{
	static const unsigned long long slots[] = { 0, 1, 2, 1023, (1ULL << 24) - 1 };
	unsigned int i;

	/* 7.1: a fresh ring's slot k is free for the producer of position k. */
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		EXPECT_EQ(slots[i], dmxp_rules_ring_seq(slots[i]));
}

/* ------------------------------------------------------------- records */

#define Q	(5ULL << 32)		/* a position past the first 2^32 */

static const struct {
	unsigned long long	end, p, cap;
	bool			in;
} windows[] = {
	/* 0 < end - p <= capacity */
	{ 100, 100, 8, false },		/* not claimed yet */
	{ 101, 100, 8, true },
	{ 108, 100, 8, true },		/* a lap past it: the ring stops there */
	{ 109, 100, 8, false },		/* further: stale */
	{ 99, 100, 8, false },		/* behind it */
	{ 0, ~0ULL, 8, true },		/* across the 64-bit wrap */
	{ Q + 1, Q - (1ULL << 32), 8, false },	/* the aliasing distance */
};

TEST(window)
{
	unsigned int i;

	for (i = 0; i < sizeof(windows) / sizeof(windows[0]); i++)
		EXPECT_EQ(windows[i].in, dmxp_rules_in_window(windows[i].end, windows[i].p,
							      windows[i].cap))
			TH_LOG("row %u", i);
	EXPECT_TRUE(dmxp_rules_side_send(DMXP_CLAIM_SEND));
	EXPECT_TRUE(dmxp_rules_side_send(DMXP_CLAIM_SEND_WRITTEN));
	EXPECT_FALSE(dmxp_rules_side_send(DMXP_CLAIM_RECV));
	EXPECT_FALSE(dmxp_rules_side_send(DMXP_CLAIM_REPAIR));
	EXPECT_FALSE(dmxp_rules_side_send(DMXP_CLAIM_IDLE));
	/* A record names [pos, pos + count), across the wrap too. */
	EXPECT_FALSE(dmxp_rules_names(10, 3, 9));
	EXPECT_TRUE(dmxp_rules_names(10, 3, 10));
	EXPECT_TRUE(dmxp_rules_names(10, 3, 12));
	EXPECT_FALSE(dmxp_rules_names(10, 3, 13));
	EXPECT_FALSE(dmxp_rules_names(10, 0, 10));
	EXPECT_TRUE(dmxp_rules_names(~0ULL, 2, 0));
}

static const struct {
	unsigned int	state, chan;
	bool		valid;
} valids[] = {
	{ DMXP_CLAIM_IDLE, 0, false },
	{ DMXP_CLAIM_SEND, 0, true },
	{ DMXP_CLAIM_SEND_WRITTEN, 255, true },
	{ DMXP_CLAIM_RECV, 256, false },
	{ DMXP_CLAIM_REPAIR, 7, true },
	{ DMXP_CLAIM_WAIT_RECV, 7, true },
	{ DMXP_CLAIM_WAIT_SEND, 7, true },
	{ 7, 7, false },
	{ ~0U, 7, false },
	{ DMXP_CLAIM_SEND, ~0U, false },
};

#define H_NONE	DMXP_RULES_HOLD_NONE
#define H_WAIT	DMXP_RULES_HOLD_WAITER
#define H_POS	DMXP_RULES_HOLD_POSITIONS

static const struct {
	unsigned int		state, rec_gen, gen;
	unsigned long long	cap;
	unsigned int		count;
	enum dmxp_rules_hold	hold;
	unsigned int		count_after;
} holds[] = {
	/* A channel destroyed (or re-created) since took the claim with it. */
	{ DMXP_CLAIM_SEND, 3, 4, 8, 1, H_NONE, 1 },
	{ DMXP_CLAIM_WAIT_RECV, 3, 5, 8, 0, H_NONE, 0 },
	/* A dead sleeper: its count, whatever the record's count says. */
	{ DMXP_CLAIM_WAIT_RECV, 3, 3, 8, 0, H_WAIT, 0 },
	{ DMXP_CLAIM_WAIT_SEND, 3, 3, 8, 99999, H_WAIT, 99999 },
	/* Counts: 1 to DMXP_CLAIM_BATCH_MAX. */
	{ DMXP_CLAIM_SEND, 3, 3, 8, 0, H_NONE, 0 },
	{ DMXP_CLAIM_RECV, 3, 3, 8, 1025, H_NONE, 1025 },
	{ DMXP_CLAIM_SEND, 3, 3, 8, 1, H_POS, 1 },
	{ DMXP_CLAIM_SEND_WRITTEN, 3, 3, 8, 8, H_POS, 8 },
	/* Longer than the ring: it holds at most the ring. */
	{ DMXP_CLAIM_RECV, 3, 3, 8, 9, H_POS, 8 },
	{ DMXP_CLAIM_REPAIR, 3, 3, 2, 1024, H_POS, 2 },
	{ DMXP_CLAIM_SEND, 3, 3, 1ULL << 24, 1024, H_POS, 1024 },
};

TEST(record)
{
	unsigned int i;

	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++)
		EXPECT_EQ(valids[i].valid, dmxp_rules_record_valid(valids[i].state, valids[i].chan))
			TH_LOG("row %u", i);
	for (i = 0; i < sizeof(holds) / sizeof(holds[0]); i++) {
		__u32 count = holds[i].count;

		EXPECT_EQ(holds[i].hold, dmxp_rules_hold(holds[i].state, holds[i].rec_gen,
							 holds[i].gen, holds[i].cap, &count))
			TH_LOG("row %u", i);
		EXPECT_EQ(holds[i].count_after, count)
			TH_LOG("row %u", i);
	}
}

/* ------------------------------------------------------------ covering */

#define C_NO	DMXP_RULES_COVER_NO
#define C_LIVE	DMXP_RULES_COVER_IF_LIVE
#define C_YES	DMXP_RULES_COVER_YES

/* The dead record is on channel 7, generation 3; the other one: */
static const struct {
	unsigned int		dead_state;
	unsigned int		state, chan, gen;
	enum dmxp_rules_cover	cover;
} covers[] = {
	/* A live claim on the same side holds its positions. */
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_SEND, 7, 3, C_LIVE },
	{ DMXP_CLAIM_SEND_WRITTEN, DMXP_CLAIM_SEND, 7, 3, C_LIVE },
	{ DMXP_CLAIM_SEND_WRITTEN, DMXP_CLAIM_SEND_WRITTEN, 7, 3, C_LIVE },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_RECV, 7, 3, C_LIVE },
	/*
	 * A record that says a position is whole, against a SEND record's
	 * tombstone: the SEND record lost its CAS, dead or alive the other.
	 */
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_SEND_WRITTEN, 7, 3, C_YES },
	/* Not on the same side. */
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_RECV, 7, 3, C_NO },
	{ DMXP_CLAIM_SEND_WRITTEN, DMXP_CLAIM_RECV, 7, 3, C_NO },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_SEND, 7, 3, C_NO },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_SEND_WRITTEN, 7, 3, C_NO },
	/* Another channel, or the same one at another generation. */
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_SEND, 8, 3, C_NO },
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_SEND_WRITTEN, 8, 3, C_NO },
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_SEND_WRITTEN, 7, 4, C_NO },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_RECV, 7, 2, C_NO },
	/* Records that claim nothing cover nothing. */
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_IDLE, 7, 3, C_NO },
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_REPAIR, 7, 3, C_NO },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_REPAIR, 7, 3, C_NO },
	{ DMXP_CLAIM_RECV, DMXP_CLAIM_WAIT_RECV, 7, 3, C_NO },
	{ DMXP_CLAIM_SEND, DMXP_CLAIM_WAIT_SEND, 7, 3, C_NO },
	{ DMXP_CLAIM_SEND, 99, 7, 3, C_NO },
};

TEST(cover)
{
	unsigned int i;

	for (i = 0; i < sizeof(covers) / sizeof(covers[0]); i++) {
		struct dmxp_rules_claim o = {
			.pos = 100, .count = 4, .chan = covers[i].chan,
			.generation = covers[i].gen, .state = covers[i].state,
		};
		unsigned int dead = covers[i].dead_state;

		EXPECT_EQ(covers[i].cover, dmxp_rules_cover(&o, dead, 7, 3))
			TH_LOG("row %u", i);
		EXPECT_EQ(covers[i].cover != C_NO, dmxp_rules_covers(&o, true, dead, 7, 3))
			TH_LOG("row %u, owner alive", i);
		EXPECT_EQ(covers[i].cover == C_YES, dmxp_rules_covers(&o, false, dead, 7, 3))
			TH_LOG("row %u, owner dead", i);
	}
}

/* -------------------------------------------------------------- repair */

#define P		1000ULL		/* the dead record's position */
#define CAP		8ULL
#define REP(q)		DMXP_SEQ_REPAIRING(q)

#define LEAVE		DMXP_RULES_LEAVE
#define DELIVER		DMXP_RULES_DELIVER
#define TOMB		DMXP_RULES_TOMBSTONE
#define FREE		DMXP_RULES_FREE
#define FINISH		DMXP_RULES_FINISH_TOMBSTONE
#define WAIT		DMXP_RULES_WAIT

static const struct {
	const char		*what;
	unsigned int		state;
	unsigned long long	p, seq, tail, head;
	bool			covered;
	enum dmxp_rules_repair	expect;
} repairs[] = {
	/* SEND: claimed (tail passed it), never published: a tombstone. */
	{ "send claimed", DMXP_CLAIM_SEND, P, P, P + 1, P, false, TOMB },
	{ "send claimed, covered", DMXP_CLAIM_SEND, P, P, P + 1, P, true, WAIT },
	{ "send a lap behind tail", DMXP_CLAIM_SEND, P, P, P + CAP, P, false, TOMB },
	{ "send published", DMXP_CLAIM_SEND, P, P + 1, P + 1, P, false, LEAVE },
	{ "send published, covered", DMXP_CLAIM_SEND, P, P + 1, P + 1, P, true, LEAVE },
	{ "send consumed and freed", DMXP_CLAIM_SEND, P, P + CAP, P + 2, P + 1, false, LEAVE },
	{ "send never claimed", DMXP_CLAIM_SEND, P, P, P, P, false, LEAVE },
	{ "send stale, a lap back", DMXP_CLAIM_SEND, P, P, P + CAP + 1, P, false, LEAVE },
	{ "send stale, far back", DMXP_CLAIM_SEND, P, P, P + 1000 * CAP, P, false, LEAVE },
	{ "send marked by a repairer", DMXP_CLAIM_SEND, P, REP(P), P + 1, P, false, LEAVE },
	/* The slot of Q says REPAIRING(Q) = Q - 2^32: "free" for Q - 2^32. */
	{ "send aliasing p - 2^32", DMXP_CLAIM_SEND, Q - (1ULL << 32), REP(Q), Q + 1, Q, false,
	  LEAVE },
	{ "send across the wrap", DMXP_CLAIM_SEND, ~0ULL, ~0ULL, 0, ~0ULL, false, TOMB },
	{ "send uses tail, not head", DMXP_CLAIM_SEND, P, P, P, P + 1, false, LEAVE },

	/* SEND_WRITTEN: the message is whole: delivered. */
	{ "written claimed", DMXP_CLAIM_SEND_WRITTEN, P, P, P + 1, P, false, DELIVER },
	{ "written claimed, covered", DMXP_CLAIM_SEND_WRITTEN, P, P, P + 1, P, true, WAIT },
	{ "written a lap behind tail", DMXP_CLAIM_SEND_WRITTEN, P, P, P + CAP, P, false,
	  DELIVER },
	{ "written published", DMXP_CLAIM_SEND_WRITTEN, P, P + 1, P + 1, P, false, LEAVE },
	{ "written never claimed", DMXP_CLAIM_SEND_WRITTEN, P, P, P, P, false, LEAVE },
	{ "written stale, a lap back", DMXP_CLAIM_SEND_WRITTEN, P, P, P + CAP + 1, P, false,
	  LEAVE },
	{ "written aliasing p - 2^32", DMXP_CLAIM_SEND_WRITTEN, Q - (1ULL << 32), REP(Q),
	  Q + 1, Q, false, LEAVE },

	/* RECV: claimed (head passed it), never freed: freed. */
	{ "recv claimed", DMXP_CLAIM_RECV, P, P + 1, P + 1, P + 1, false, FREE },
	{ "recv claimed, covered", DMXP_CLAIM_RECV, P, P + 1, P + 1, P + 1, true, WAIT },
	{ "recv a lap behind head", DMXP_CLAIM_RECV, P, P + 1, P + CAP, P + CAP, false, FREE },
	{ "recv freed", DMXP_CLAIM_RECV, P, P + CAP, P + 1, P + 1, false, LEAVE },
	{ "recv freed, covered", DMXP_CLAIM_RECV, P, P + CAP, P + 1, P + 1, true, LEAVE },
	{ "recv never claimed", DMXP_CLAIM_RECV, P, P + 1, P + 1, P, false, LEAVE },
	{ "recv stale, a lap back", DMXP_CLAIM_RECV, P, P + 1, P + CAP + 1, P + CAP + 1, false,
	  LEAVE },
	{ "recv not yet published", DMXP_CLAIM_RECV, P, P, P + 1, P + 1, false, LEAVE },
	/* REPAIRING(Q) is also "published" for Q - 2^32 - 1. */
	{ "recv aliasing p - 2^32 - 1", DMXP_CLAIM_RECV, Q - (1ULL << 32) - 1, REP(Q), Q + 1,
	  Q, false, LEAVE },
	{ "recv uses head, not tail", DMXP_CLAIM_RECV, P, P + 1, P + 1, P, false, LEAVE },

	/* REPAIR: a repairer died between its mark and its tombstone. */
	{ "repair marked", DMXP_CLAIM_REPAIR, P, REP(P), P + 1, P, false, FINISH },
	{ "repair marked, covered", DMXP_CLAIM_REPAIR, P, REP(P), P + 1, P, true, FINISH },
	{ "repair a lap behind tail", DMXP_CLAIM_REPAIR, P, REP(P), P + CAP, P, false, FINISH },
	{ "repair finished", DMXP_CLAIM_REPAIR, P, P + 1, P + 1, P, false, LEAVE },
	{ "repair never marked", DMXP_CLAIM_REPAIR, P, P, P + 1, P, false, LEAVE },
	{ "repair stale, a lap back", DMXP_CLAIM_REPAIR, P, REP(P), P + CAP + 1, P, false,
	  LEAVE },

	/* States that hold no positions. */
	{ "idle", DMXP_CLAIM_IDLE, P, P, P + 1, P, false, LEAVE },
	{ "waiter", DMXP_CLAIM_WAIT_RECV, P, P + 1, P + 1, P + 1, false, LEAVE },
	{ "waiter", DMXP_CLAIM_WAIT_SEND, P, P, P + 1, P + 1, false, LEAVE },
	{ "unknown", 7, P, P, P + 1, P + 1, false, LEAVE },
};

TEST(repair_decide)
{
	unsigned int i;

	for (i = 0; i < sizeof(repairs) / sizeof(repairs[0]); i++) {
		enum dmxp_rules_repair d, bare, held;

		d = dmxp_rules_repair_decide(repairs[i].state, repairs[i].p, repairs[i].seq,
					     repairs[i].tail, repairs[i].head, CAP,
					     repairs[i].covered);
		EXPECT_EQ(repairs[i].expect, d)
			TH_LOG("row %u: %s", i, repairs[i].what);
		/*
		 * The library asks whether a position is covered only when
		 * the answer without cover may change with it.
		 */
		bare = dmxp_rules_repair_decide(repairs[i].state, repairs[i].p, repairs[i].seq,
						repairs[i].tail, repairs[i].head, CAP, false);
		held = dmxp_rules_repair_decide(repairs[i].state, repairs[i].p, repairs[i].seq,
						repairs[i].tail, repairs[i].head, CAP, true);
		EXPECT_EQ(dmxp_rules_repair_coverable(bare), held == WAIT)
			TH_LOG("row %u: %s", i, repairs[i].what);
	}
}

static const struct {
	unsigned long long	p, now;
	unsigned int		chan, pid;
	unsigned short		runtime;
	unsigned char		fill;
} tombs[] = {
	/* The library's: the dead sender's pid, runtime not known. */
	{ Q + 3, 123456789, 17, 4242, DMXP_RUNTIME_UNKNOWN, 0xa5 },
	/* The module's: pid 0, the kernel. */
	{ 0, 0, 255, 0, DMXP_RUNTIME_KERNEL, 0x5a },
};

TEST(tombstone_meta)
{
	unsigned int i;

	/* 9.1: no payload, skipped; the rest names the position it stands for. */
	for (i = 0; i < sizeof(tombs) / sizeof(tombs[0]); i++) {
		struct dmxp_msg_meta m;

		memset(&m, tombs[i].fill, sizeof(m));
		dmxp_rules_tombstone_meta(&m, tombs[i].p, tombs[i].chan, tombs[i].now,
					  tombs[i].pid, tombs[i].runtime);
		EXPECT_EQ(tombs[i].p, m.message_id);
		EXPECT_EQ(tombs[i].now, m.timestamp_ns);
		EXPECT_EQ(tombs[i].chan, m.channel_id);
		EXPECT_EQ(0U, m.message_type);
		EXPECT_EQ(tombs[i].pid, m.sender_pid);
		EXPECT_EQ(tombs[i].runtime, m.sender_runtime);
		EXPECT_EQ(DMXP_MSG_TOMBSTONE, m.flags);
		EXPECT_EQ(0U, m.payload_len);
		EXPECT_EQ(0U, m.__pad);
	}
}

TEST_HARNESS_MAIN
