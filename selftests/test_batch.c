// SPDX-License-Identifier: MIT
/*
 * Batches across their chunks (32 slots a chunk of a send) and the
 * words of a receive's bitmaps (64 slots a word), on a 1,024-slot
 * channel, with a repairer acting from the test hook in this thread: a
 * receive whose slots are freed under it between its copy and its free,
 * a send whose slots are tombstoned under it once a chunk is written or
 * the first slot published, and one whose slot is tombstoned while its
 * message is being written.  Every message that arrives is checked, by
 * type and payload, against what the sends said was sent.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The harness leaves some parameters unused (TEST() wrappers, the timeout
 * handler), which -Wextra -Werror would reject.
 */
#include "kselftest_harness.h"
#include "helpers.h"
#include "internal.h"	/* the test hooks: this test is built with DMXP_TEST_HOOKS */

extern void (*dmxp__hook_fn)(int step);

#define CH	1
#define CAP	1024
#define LEN(id)	((__u32)((id) % 65))	/* each message's length, 0..64 */

/* The repairer's part: at its step's @nth occurrence, act on @set. */
static struct {
	struct dmxp_slot	*slots;
	unsigned char		set[CAP];	/* by index in the run */
	__u64			base;		/* the run's first position */
	int			step, nth;	/* -1: done */
	bool			tombstone;	/* a send's slots; else a receive's */
} act;

static unsigned long checks, fails;

#define CHECK(cond, ...) do {							\
	checks++;								\
	if (!(cond) && fails++ < 10)						\
		TH_LOG(__VA_ARGS__);						\
} while (0)

static void repair_hook(int step)
{
	unsigned int i;

	if (step != act.step || --act.nth > 0)
		return;
	act.step = -1;
	for (i = 0; i < CAP; i++) {
		__u64 p = act.base + i, seq = act.tombstone ? p : p + 1;
		struct dmxp_slot *s = &act.slots[p & (CAP - 1)];

		if (!act.set[i])
			continue;
		if (!act.tombstone) {	/* a dead consumer's: free it */
			__atomic_compare_exchange_n(&s->sequence, &seq, p + CAP, false,
						    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
			continue;
		}
		/* A dead producer's: mark, tombstone, publish. */
		if (!__atomic_compare_exchange_n(&s->sequence, &seq, DMXP_SEQ_REPAIRING(p), false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		s->meta.message_id = p;
		s->meta.message_type = 0;
		__atomic_store_n(&s->meta.flags, DMXP_MSG_TOMBSTONE, __ATOMIC_RELAXED);
		__atomic_store_n(&s->meta.payload_len, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->sequence, p + 1, __ATOMIC_RELEASE);
	}
}

/* Arm the repairer for the run from @base: @step's @nth occurrence. */
static void act_arm(__u64 base, bool tombstone, int step, int nth)
{
	act.base = base;
	act.tombstone = tombstone;
	act.nth = nth;
	act.step = step;
}

static void fill(unsigned char *b, __u32 len, __u64 id)
{
	__u32 i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(id * 31 + i);
}

static struct dmxp_rmsg rm[CAP];
static unsigned char rbuf[CAP][64];

static void rm_reset(void)
{
	unsigned int i;

	for (i = 0; i < CAP; i++) {
		rm[i].buf = rbuf[i];
		rm[i].buf_len = 64;
		rm[i].len = 12345;
	}
}

/* Entry @i holds message @id, whole. */
static bool entry_is(unsigned int i, __u64 id)
{
	unsigned char b[64];

	fill(b, LEN(id), id);
	return rm[i].meta.message_type == (__u32)id && rm[i].len == LEN(id) &&
	       !memcmp(b, rbuf[i], LEN(id));
}

/* Receive what is left: exactly @want[0..nwant), in order. */
static void drain(struct __test_metadata *_metadata, struct dmxp_chan *c, const __u64 *want,
		  int nwant, const char *what)
{
	int got = 0, r, i;

	for (;;) {
		rm_reset();
		r = dmxp_chan_recv_batch(c, rm, CAP);
		if (r == -EAGAIN)
			break;
		CHECK(r > 0, "%s: a drain's receive: %d", what, r);
		if (r <= 0)
			break;
		for (i = 0; i < r; i++, got++)
			CHECK(got < nwant && entry_is((unsigned int)i, want[got]),
			      "%s: drained message %d is not message %llu", what, got,
			      got < nwant ? (unsigned long long)want[got] : 0ULL);
	}
	CHECK(got == nwant, "%s: drained %d, want %d", what, got, nwant);
}

FIXTURE(batch) {
	char path[256];
	struct dmxp_region *r;
	struct dmxp_chan *c;
	__u64 pos;		/* positions used: head == tail between cases */
	__u64 serial;		/* the last message's id */
};

FIXTURE_SETUP(batch)
{
	struct dmxp_chan_info info;

	test_region_path(self->path, sizeof(self->path), "batch");
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, CH, CAP));
	ASSERT_EQ(0, dmxp_chan_open(self->r, CH, &self->c));
	ASSERT_EQ(0, dmxp_chan_info(self->r, CH, &info));
	act.slots = (struct dmxp_slot *)((char *)dmxp_region_header(self->r) + info.band_offset);
	act.step = -1;
	dmxp__hook_fn = repair_hook;
	checks = fails = 0;
	srand(1);
}

FIXTURE_TEARDOWN(batch)
{
	dmxp__hook_fn = NULL;
	if (self->c)
		dmxp_chan_close(self->c);
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
}

/*
 * Put @k slots into the ring, @pat[i] a message (its id into @ids) or a
 * tombstone (an aborted reservation).
 */
static int put(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self,
	       const unsigned char *pat, int k, __u64 *ids)
{
	unsigned char b[64];
	int i, n = 0;

	for (i = 0; i < k; i++) {
		struct dmxp_ref ref;
		__u64 id;

		if (!pat[i]) {
			CHECK(!dmxp_chan_reserve(self->c, &ref) && !dmxp_chan_abort(self->c, &ref),
			      "a tombstone");
			continue;
		}
		id = ++self->serial;
		fill(b, LEN(id), id);
		CHECK(!dmxp_chan_send(self->c, b, LEN(id), (__u32)id), "a send");
		ids[n++] = id;
	}
	return n;
}

/*
 * A receive of a run of @k slots (@pat as put()), the slots of @fr freed
 * under it between its copy and its free: it returns the messages of the
 * other slots, in order, or -ECANCELED when none is left of a run a
 * repairer freed in.
 */
static void recv_case(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self,
		      const unsigned char *pat, int k, const unsigned char *fr, const char *what)
{
	__u64 ids[CAP], want[CAP];
	int i, m = 0, nwant = 0, r;
	bool freed = false;

	put(_metadata, self, pat, k, ids);
	memset(act.set, 0, sizeof(act.set));
	for (i = 0; i < k; i++) {
		act.set[i] = fr[i];
		freed |= fr[i];
		if (pat[i] && !fr[i])
			want[nwant++] = ids[m];
		m += pat[i];
	}
	act_arm(self->pos, false, DMXP_HOOK_RECV_COPIED, 1);
	rm_reset();
	r = dmxp_chan_recv_batch(self->c, rm, CAP);
	act.step = -1;
	if (!nwant)
		CHECK(r == (freed ? -ECANCELED : -EAGAIN), "%s: k %d: returned %d", what, k, r);
	else
		CHECK(r == nwant, "%s: k %d: returned %d, want %d", what, k, r, nwant);
	for (i = 0; i < r && i < nwant; i++)
		CHECK(entry_is((unsigned int)i, want[i]), "%s: k %d: entry %d is not message %llu",
		      what, k, i, (unsigned long long)want[i]);
	drain(_metadata, self->c, NULL, 0, what);
	self->pos += (__u64)k;
}

/* Run lengths that cross a word of the receive's bitmaps, and a few more. */
static const int runs[] = { 1, 2, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 191, 192, 193,
			    511, 512, 513, 1000, 1023, 1024 };
/* Slots at the edges of the words. */
static const int edges[] = { 0, 1, 31, 32, 62, 63, 64, 65, 127, 128, 129, 511, 512, 959, 960,
			     1022, 1023 };
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

TEST_F(batch, a_receive_of_every_run_gets_its_messages)
{
	unsigned char pat[CAP], fr[CAP] = { 0 };
	unsigned int r;
	int i;

	for (r = 0; r < NELEM(runs); r++) {
		memset(pat, 1, sizeof(pat));
		recv_case(_metadata, self, pat, runs[r], fr, "messages");
		for (i = 0; i < runs[r]; i++)
			pat[i] = rand() % 5 != 0;
		recv_case(_metadata, self, pat, runs[r], fr, "messages and tombstones");
	}
	EXPECT_EQ(0UL, fails);
	TH_LOG("%lu checks", checks);
}

TEST_F(batch, a_receive_repaired_under_it_keeps_the_other_messages_in_order)
{
	unsigned char pat[CAP], fr[CAP];
	unsigned int r, e;
	int i, t;

	for (r = 0; r < NELEM(runs); r++) {
		for (t = 0; t < 3; t++) {
			memset(pat, 1, sizeof(pat));
			memset(fr, 0, sizeof(fr));
			if (t)
				for (i = 0; i < runs[r]; i++)
					pat[i] = rand() % 4 != 0;
			if (t < 2) {
				for (e = 0; e < NELEM(edges); e++)
					if (edges[e] < runs[r] && rand() % 2)
						fr[edges[e]] = 1;
			} else {
				for (i = 0; i < runs[r]; i++)
					fr[i] = rand() % 9 == 0;
			}
			recv_case(_metadata, self, pat, runs[r], fr, "repaired");
		}
		memset(pat, 1, sizeof(pat));
		memset(fr, 1, sizeof(fr));
		recv_case(_metadata, self, pat, runs[r], fr, "the whole run repaired");
	}
	EXPECT_EQ(0UL, fails);
	TH_LOG("%lu checks", checks);
}

/*
 * A send of @n, the slots of @tomb tombstoned under it at @step's @nth
 * occurrence: the call returns the first tombstoned index (or -ECANCELED
 * for 0, @n for none), and exactly the messages before it arrive.
 */
static void send_case(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self, int n,
		      int step, int nth, const unsigned char *tomb, const char *what)
{
	static unsigned char sb[CAP][64];
	struct dmxp_smsg sm[CAP];
	__u64 ids[CAP];
	int i, r, first = n;

	for (i = 0; i < n; i++) {
		ids[i] = ++self->serial;
		fill(sb[i], LEN(ids[i]), ids[i]);
		sm[i] = (struct dmxp_smsg){ .buf = sb[i], .len = LEN(ids[i]), .type = (__u32)ids[i] };
	}
	memset(act.set, 0, sizeof(act.set));
	for (i = n - 1; i >= 0; i--) {
		act.set[i] = tomb[i];
		if (tomb[i])
			first = i;
	}
	act_arm(self->pos, true, step, nth);
	r = dmxp_chan_send_batch(self->c, sm, (unsigned int)n);
	act.step = -1;
	CHECK(r == (first ? first : -ECANCELED), "%s: n %d, slot %d: returned %d", what, n, first, r);
	drain(_metadata, self->c, ids, first, what);
	self->pos += (__u64)n;
}

static const int sends[] = { 2, 31, 32, 33, 63, 64, 65, 100, 1024 };

/* The slots tombstoned for a send of @n: @t alone, or @t and all after. */
static void tombs(unsigned char *tomb, int n, int t, bool rest)
{
	memset(tomb, 0, CAP);
	if (rest)
		memset(tomb + t, 1, (size_t)(n - t));
	else
		tomb[t] = 1;
}

/* The tombstoned slots of a send of @n: all for small sends, the edges for large. */
static bool tomb_at(int n, int t)
{
	return n <= 100 || t < 2 || (t >= 30 && t <= 34) || (t >= 62 && t <= 66) || t >= n - 2;
}

/* A send of @n at hook @step: slot @t tombstoned, then slot @t and every one after it. */
static void send_tombed(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self, int n,
			int t, int step, const char *when)
{
	unsigned char tomb[CAP];
	char what[96];

	tombs(tomb, n, t, false);
	snprintf(what, sizeof(what), "one slot, %s", when);
	send_case(_metadata, self, n, step, 1, tomb, what);
	tombs(tomb, n, t, true);
	snprintf(what, sizeof(what), "from a slot on, %s", when);
	send_case(_metadata, self, n, step, 1, tomb, what);
}

TEST_F(batch, a_send_repaired_under_it_delivers_the_messages_before_and_says_how_many)
{
	unsigned char tomb[CAP];
	unsigned int s;
	int n, t;

	for (s = 0; s < NELEM(sends); s++) {
		n = sends[s];
		tombs(tomb, n, 0, false);
		tomb[0] = 0;
		send_case(_metadata, self, n, DMXP_HOOK_BATCH_PART, 1, tomb, "not repaired");
		for (t = 0; t < n; t++) {
			if (!tomb_at(n, t))
				continue;
			if (t)	/* slot 0 is published at BATCH_PART */
				send_tombed(_metadata, self, n, t, DMXP_HOOK_BATCH_PART,
					    "at the first publish");
			send_tombed(_metadata, self, n, t, DMXP_HOOK_BATCH_WRITTEN,
				    "the first chunk written");
		}
	}
	EXPECT_EQ(0UL, fails);
	TH_LOG("%lu checks", checks);
}

/*
 * A repairer tombstones every slot of a send while the send writes
 * message @t (its payload written, its meta not): the meta the send then
 * writes over the tombstone must not make it a message, since the send
 * reports none delivered (-ECANCELED: its first slot was repaired).
 */
TEST_F(batch, a_send_repaired_while_it_writes_delivers_nothing_it_says_it_did_not)
{
	unsigned char tomb[CAP];
	unsigned int s;
	int n, t;

	for (s = 0; s < NELEM(sends); s++) {
		n = sends[s];
		for (t = 1; t < n && t < 32; t++) {	/* in the first chunk: none published */
			tombs(tomb, n, 0, true);
			send_case(_metadata, self, n, DMXP_HOOK_SEND_PAYLOAD, t + 1, tomb,
				  "all, while a message is written");
		}
	}
	EXPECT_EQ(0UL, fails);
	TH_LOG("%lu checks", checks);
}

/*
 * Put a tombstone and a message behind it, and arm the repairer to free
 * the tombstone's slot once a receive or peek has claimed it.  Returns
 * the message's id.
 */
static __u64 tombstone_freed_once_claimed(struct __test_metadata *_metadata,
					  FIXTURE_DATA(batch) *self)
{
	unsigned char pat[2] = { 0, 1 };
	__u64 id;

	put(_metadata, self, pat, 2, &id);
	memset(act.set, 0, sizeof(act.set));
	act.set[0] = 1;
	act_arm(self->pos, false, DMXP_HOOK_TOMBSTONE_CLAIMED, 1);
	return id;
}

/*
 * A single receive claims a tombstone at the head, and a repairer frees
 * its slot first: the repairer may have taken the claim record over, so
 * the receive ends (-ECANCELED) instead of claiming the message behind
 * it with that record; the next receive gets the message.
 */
TEST_F(batch, a_receive_whose_tombstone_is_repaired_claims_no_more)
{
	__u64 id = tombstone_freed_once_claimed(_metadata, self);
	unsigned char b[64];

	EXPECT_EQ(-ECANCELED, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	act.step = -1;
	EXPECT_EQ((ssize_t)LEN(id), dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(self->c, b, sizeof(b), NULL));
	EXPECT_EQ(0UL, fails);
}

/* The same for a peek: nothing peeked, the reference finished, and the next peek gets the message. */
TEST_F(batch, a_peek_whose_tombstone_is_repaired_claims_no_more)
{
	__u64 id = tombstone_freed_once_claimed(_metadata, self);
	struct dmxp_ref ref;

	EXPECT_EQ(-ECANCELED, dmxp_chan_peek(self->c, &ref));
	act.step = -1;
	EXPECT_EQ(NULL, ref.payload);
	ASSERT_EQ(0, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ(LEN(id), ref.len);
	EXPECT_EQ((__u32)id, ref.meta->message_type);
	EXPECT_EQ(0, dmxp_chan_release(self->c, &ref));
	EXPECT_EQ(-EAGAIN, dmxp_chan_peek(self->c, &ref));
	EXPECT_EQ(0UL, fails);
}

TEST_HARNESS_MAIN
