// SPDX-License-Identifier: MIT
/*
 * The ring: lock-free multi-producer multi-consumer messaging.
 *
 * A note on the protocol and its memory ordering.
 *
 * Each channel is Vyukov's bounded MPMC queue.  tail and head are
 * free-running 64-bit positions, masked only to index a slot; positions
 * are compared by signed 64-bit difference, so they never wrap in
 * practice.  The slot of position pos is slots[pos & mask], and its
 * sequence says whose turn it is:
 *
 *	sequence == pos		free: the producer of position pos may write
 *	sequence == pos + 1	full: holds message pos, for its consumer
 *	sequence == pos + cap	freed again: for the producer of pos + cap
 *
 * Producer of one message:
 *	pos = tail;  seq = load_acquire(slot.sequence)		[P1]
 *	seq == pos:  CAS tail pos -> pos + 1 (claims the slot)
 *	write meta and payload
 *	store_release(slot.sequence, pos + 1)			[P2] publish
 *
 * Consumer of one message:
 *	pos = head;  seq = load_acquire(slot.sequence)		[C1]
 *	seq == pos + 1:  CAS head pos -> pos + 1 (claims the message)
 *	read meta and payload
 *	store_release(slot.sequence, pos + cap)			[C2] free
 *
 * [C1] pairs with [P2]: a consumer that sees the message's sequence sees
 * everything the producer wrote into the slot before publishing it.
 * [P1] pairs with [C2]: a producer that sees the slot freed writes into it
 * only after the previous consumer has finished reading it.
 *
 * The CASes on tail and head only decide which producer (consumer) owns a
 * position; no data travels through them, so they are relaxed.  A claim
 * is made after the slot was seen ready: a slot with sequence == pos can
 * only change once position pos is claimed, and claiming it needs the CAS
 * from pos, so seeing the sequence and then winning the CAS means owning
 * that exact slot state.  The same argument covers reading a message's
 * length before claiming it, and the batch calls, which check a run of
 * slots and claim them with one CAS.
 *
 * The sequence store that publishes a message is done in one place,
 * ring_publish(), and the one that frees a slot in ring_free().  Each is
 * followed by a check for sleepers on the other side (lib/wait.c explains
 * why no wake-up is lost).
 *
 * A message at the head whose sender has claimed but not yet published
 * it makes the ring look empty to consumers behind it; a slot that a
 * consumer has claimed but not yet freed makes it look full to producers.
 * If that claimer died, the slot is repaired (lib/claim.c): before each
 * claiming CAS a thread writes the positions into its claim record, and
 * the CAS is a release so that a repairer that sees tail (head) past them
 * sees the record too ([R1]/[R2] in lib/claim.c).
 */
#include <string.h>

#include "internal.h"

/* A batch claims at most a ring, and at most what one claim record holds. */
static inline unsigned int batch_max(const struct dmxp_chan *c, unsigned int n)
{
	if (n > c->capacity)
		n = (unsigned int)c->capacity;
	return n > DMXP_CLAIM_BATCH_MAX ? DMXP_CLAIM_BATCH_MAX : n;
}

static inline void meta_fill(const struct dmxp_chan *c, struct dmxp_slot __shm *s,
			     __u64 pos, __u64 ts, __u32 type, __u32 len, __u16 flags)
{
	s->meta.message_id = pos;
	s->meta.timestamp_ns = ts;
	s->meta.channel_id = c->id;
	s->meta.message_type = type;
	s->meta.sender_pid = dmxp__pid;
	s->meta.sender_runtime = c->region->runtime;
	/*
	 * A consumer that saw this slot ready in the previous lap may still
	 * read these two before its claim fails (slot_peek()): atomic stores.
	 */
	WRITE_ONCE(s->meta.flags, flags);
	WRITE_ONCE(s->meta.payload_len, len);
	s->meta.__pad = 0;
}

/* Make message @pos visible to consumers.  Partner: [C1] load_acquire. */
static inline void ring_publish(struct dmxp_slot __shm *s, __u64 pos)
{
	store_release(&s->sequence, pos + 1);	/* [P2] */
}

/* Give slot @pos back to producers.  Partner: [P1] load_acquire. */
static inline void ring_free(const struct dmxp_chan *c, struct dmxp_slot __shm *s,
			     __u64 pos)
{
	store_release(&s->sequence, pos + c->capacity);	/* [C2] */
}

/*
 * Claim up to @n consecutive free slots for producing.  Returns how many
 * (>= 1) with *posp set to the first position, -EAGAIN when the ring is
 * full, or -EPROTO when the shared state contradicts the protocol.
 */
static int ring_claim_produce(struct dmxp_chan *c, unsigned int n, __u64 *posp,
			      struct dmxp_claim __shm *rec)
{
	__u64 pos = READ_ONCE(*c->stail);

	for (;;) {
		unsigned int k = 0;
		__s64 diff = 0;

		while (k < n) {
			/* [P1] pairs with [C2] in ring_free(). */
			__u64 seq = load_acquire(&ring_slot(c, pos + k)->sequence);

			diff = (__s64)(seq - (pos + k));
			if (diff)
				break;
			k++;
		}
		if (k) {
			if (rec)	/* [R1] */
				dmxp__claim_at(c, rec, DMXP_CLAIM_SEND, pos, k);
			DMXP_HOOK(SEND_CLAIMING);
			/* [R2]: the record before the claim (lib/claim.c). */
			if (cas_release(c->stail, &pos, pos + k)) {
				*posp = pos;
				return (int)k;
			}
			continue;	/* pos now holds the current tail */
		}
		if (diff < 0) {
			dmxp__idle(c, DMXP_NOTIFY_SEND);
			return -EAGAIN;	/* the slot still holds an older lap */
		}
		/*
		 * Another producer claimed pos: move on.  Its CAS of tail
		 * happened before the publish we saw, so tail has moved.
		 */
		{
			__u64 cur = READ_ONCE(*c->stail);

			if (cur == pos)
				return -EPROTO;
			pos = cur;
		}
	}
}

__dmxp_export
int dmxp_chan_send(struct dmxp_chan *c, const void *buf, size_t len, __u32 type)
{
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u64 pos;
	int ret;

	if (unlikely(len > DMXP_MAX_PAYLOAD))
		return -EMSGSIZE;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	rec = dmxp__claim_thread(c->region);
	ret = ring_claim_produce(c, 1, &pos, rec);
	if (unlikely(ret < 0)) {
		dmxp__claim_drop(rec);
		return ret;
	}
	DMXP_HOOK(SEND_CLAIMED);

	/*
	 * The payload first, then the meta next to the sequence: a consumer
	 * polling this slot's first line then takes it from us once, not
	 * once before and once after the payload's cache miss.
	 */
	s = ring_slot(c, pos);
	if (len)
		memcpy(s->payload, buf, len);
	DMXP_HOOK(SEND_PAYLOAD);
	meta_fill(c, s, pos, dmxp__now_ns(), type, (__u32)len, 0);
	if (rec)	/* whole: a repairer would deliver it */
		store_release(&rec->state, DMXP_CLAIM_SEND_WRITTEN);
	DMXP_HOOK(SEND_WRITTEN);
	ring_publish(s, pos);
	DMXP_HOOK(SEND_PUBLISHED);
	if (rec)
		dmxp__claim_end(rec);	/* [R3] */
	dmxp__wake_consumers(c, 1);
	return 0;
}

__dmxp_export
int dmxp_chan_send_batch(struct dmxp_chan *c, const struct dmxp_smsg *msgs,
			 unsigned int n)
{
	struct dmxp_claim __shm *rec;
	__u64 pos, ts;
	unsigned int i;
	int ret;

	if (!n || !msgs)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (msgs[i].len > DMXP_MAX_PAYLOAD)
			return -EMSGSIZE;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	rec = dmxp__claim_thread(c->region);
	ret = ring_claim_produce(c, batch_max(c, n), &pos, rec);
	if (unlikely(ret < 0)) {
		dmxp__claim_drop(rec);
		return ret;
	}

	ts = dmxp__now_ns();
	for (i = 0; i < (unsigned int)ret; i++) {
		struct dmxp_slot __shm *s = ring_slot(c, pos + i);

		if (msgs[i].len)
			memcpy(s->payload, msgs[i].buf, msgs[i].len);
		meta_fill(c, s, pos + i, ts, msgs[i].type, msgs[i].len, 0);
		ring_publish(s, pos + i);
		if (i == 0)
			DMXP_HOOK(BATCH_PART);
	}
	if (rec)
		dmxp__claim_end(rec);
	dmxp__wake_consumers(c, (unsigned int)ret);
	return ret;
}

/*
 * A zero-copy reference outlives the call, so it takes a record of the
 * handle's pool for itself rather than the thread's; ref->claim is its
 * pool bit + 1, 0 for none.
 */
static struct dmxp_claim __shm *ref_claim_take(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	int bit = dmxp__claim_take(c->region);
	struct dmxp_claim __shm *rec;

	if (bit < 0) {
		ref->claim = 0;
		return NULL;
	}
	ref->claim = (__u32)bit + 1;
	rec = dmxp__claim_rec(c->region, (unsigned int)bit);
	return rec;
}

static void ref_claim_put(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	if (ref->claim) {
		dmxp__claim_end(dmxp__claim_rec(c->region, ref->claim - 1));	/* [R3] */
		dmxp__claim_put(c->region, ref->claim - 1);
		ref->claim = 0;
	}
}

__dmxp_export
int dmxp_chan_reserve(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u64 pos;
	int ret;

	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	rec = ref_claim_take(c, ref);
	ret = ring_claim_produce(c, 1, &pos, rec);
	if (unlikely(ret < 0)) {
		ref_claim_put(c, ref);
		return ret;
	}
	s = ring_slot(c, pos);
	ref->payload = s->payload;
	ref->meta = NULL;
	ref->len = 0;
	ref->pos = pos;
	return 0;
}

__dmxp_export
int dmxp_chan_commit(struct dmxp_chan *c, struct dmxp_ref *ref, size_t len,
		     __u32 type)
{
	struct dmxp_slot __shm *s = ring_slot(c, ref->pos);
	int ret;

	if (len > DMXP_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* A reservation from before a destroy must not land in a new ring. */
	ret = chan_check(c);
	if (unlikely(ret)) {
		ref_claim_put(c, ref);
		return ret;
	}
	meta_fill(c, s, ref->pos, dmxp__now_ns(), type, (__u32)len, 0);
	ring_publish(s, ref->pos);
	ref_claim_put(c, ref);
	dmxp__wake_consumers(c, 1);
	ref->payload = NULL;
	return 0;
}

__dmxp_export
void dmxp_chan_abort(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_slot __shm *s = ring_slot(c, ref->pos);

	if (unlikely(chan_check(c))) {
		ref_claim_put(c, ref);
		return;		/* the ring it was reserved in is gone */
	}
	meta_fill(c, s, ref->pos, dmxp__now_ns(), 0, 0, DMXP_MSG_TOMBSTONE);
	ring_publish(s, ref->pos);
	ref_claim_put(c, ref);
	/* A consumer asleep behind the tombstone must skip it. */
	dmxp__wake_consumers(c, 1);
	ref->payload = NULL;
}

/*
 * What a consumer decided about a ready message before claiming it.
 */
struct peeked {
	__u32	len;		/* payload length, clamped to DMXP_MAX_PAYLOAD */
	bool	tombstone;
};

static inline struct peeked slot_peek(const struct dmxp_slot __shm *s)
{
	struct peeked p;

	/* Read once; a corrupt length must not send a copy out of the slot. */
	p.len = READ_ONCE(s->meta.payload_len);
	if (p.len > DMXP_MAX_PAYLOAD)
		p.len = DMXP_MAX_PAYLOAD;
	p.tombstone = READ_ONCE(s->meta.flags) & DMXP_MSG_TOMBSTONE;
	return p;
}

/*
 * Claim up to @n consecutive ready messages.  @fits, if not NULL, is
 * asked for each non-tombstone message (in order, by its index among
 * them) whether it fits its buffer; the run stops before one that does
 * not.  Returns how many slots were claimed (>= 1) with *posp set, or
 * -EAGAIN (empty), -EMSGSIZE (the first message does not fit; it stays),
 * -EPROTO.
 */
static int ring_claim_consume(struct dmxp_chan *c, unsigned int n, __u64 *posp,
			      bool (*fits)(void *arg, unsigned int i, __u32 len),
			      void *arg, struct dmxp_claim __shm *rec)
{
	__u64 pos = READ_ONCE(*c->shead);

	for (;;) {
		unsigned int k = 0, msgs = 0;
		bool too_big = false;
		__s64 diff = 0;

		while (k < n) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + k);
			/* [C1] pairs with [P2] in ring_publish(). */
			__u64 seq = load_acquire(&s->sequence);
			struct peeked p;

			diff = (__s64)(seq - (pos + k + 1));
			if (diff)
				break;
			p = slot_peek(s);
			if (!p.tombstone) {
				if (fits && !fits(arg, msgs, p.len)) {
					too_big = true;
					break;
				}
				msgs++;
			}
			k++;
		}
		if (k) {
			if (rec)	/* [R1] */
				dmxp__claim_at(c, rec, DMXP_CLAIM_RECV, pos, k);
			DMXP_HOOK(RECV_CLAIMING);
			/* [R2]: the record before the claim (lib/claim.c). */
			if (cas_release(c->shead, &pos, pos + k)) {
				*posp = pos;
				return (int)k;
			}
			continue;
		}
		if (too_big) {
			/*
			 * The length read is only meaningful if the message
			 * is still unclaimed: check head did not move.  The
			 * fence orders the length read before the head read.
			 */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			{
				__u64 cur = READ_ONCE(*c->shead);

				if (cur == pos)
					return -EMSGSIZE;
				pos = cur;
			}
			continue;
		}
		if (diff < 0) {
			/*
			 * Not yet published.  A consumer polling here would
			 * take the sequence's line and then, once it flips,
			 * the payload's: asking for the payload's line now
			 * lets the two misses overlap (the busy-poll latency
			 * in Documentation/performance.md).
			 */
			__builtin_prefetch(ring_slot(c, pos + k)->payload, 0, 3);
			dmxp__idle(c, DMXP_NOTIFY_RECV);
			return -EAGAIN;
		}
		{
			/* Another consumer took pos; see ring_claim_produce(). */
			__u64 cur = READ_ONCE(*c->shead);

			if (cur == pos)
				return -EPROTO;
			pos = cur;
		}
	}
}

struct room {
	size_t	room;	/* in: the caller's buffer */
	__u32	need;	/* out: the length of a message that did not fit */
};

static bool fits_one(void *arg, unsigned int i, __u32 len)
{
	struct room *r = arg;

	(void)i;	/* n == 1: only message 0 is ever asked about */
	r->need = len;
	return len <= r->room;
}

/*
 * Claim exactly the next real message, skipping tombstones.  Returns 0
 * with *posp set, or a negative errno as ring_claim_consume().  @r is
 * NULL when any length fits (peek).
 */
static int ring_claim_one(struct dmxp_chan *c, __u64 *posp, struct room *r,
			  struct dmxp_claim __shm *rec)
{
	for (;;) {
		struct dmxp_slot __shm *s;
		int ret = ring_claim_consume(c, 1, posp, r ? fits_one : NULL, r, rec);

		if (ret < 0)
			return ret;
		s = ring_slot(c, *posp);
		if (likely(!(s->meta.flags & DMXP_MSG_TOMBSTONE)))
			return 0;
		ring_free(c, s, *posp);
		dmxp__wake_producers(c, 1);
	}
}

__dmxp_export
ssize_t dmxp_chan_recv(struct dmxp_chan *c, void *buf, size_t len,
		       struct dmxp_msg_meta *meta)
{
	struct room room = { .room = len };
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u32 plen;
	__u64 pos;
	int ret;

	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	rec = dmxp__claim_thread(c->region);
	ret = ring_claim_one(c, &pos, &room, rec);
	if (unlikely(ret < 0)) {
		if (rec)
			dmxp__claim_end(rec);
		if (ret == -EMSGSIZE && meta) {
			/* Tell the caller how much room the message needs. */
			memset(meta, 0, sizeof(*meta));
			meta->payload_len = room.need;
		}
		return ret;
	}

	DMXP_HOOK(RECV_CLAIMED);
	s = ring_slot(c, pos);
	plen = slot_peek(s).len;
	if (plen)
		memcpy(buf, s->payload, plen);
	if (meta) {
		memcpy(meta, &s->meta, sizeof(*meta));
		meta->payload_len = plen;
	}
	DMXP_HOOK(RECV_COPIED);
	ring_free(c, s, pos);
	DMXP_HOOK(RECV_FREED);
	if (rec)
		dmxp__claim_end(rec);	/* [R3] */
	dmxp__wake_producers(c, 1);
	return plen;
}

struct rbatch {
	const struct dmxp_rmsg *msgs;
	unsigned int n;
};

static bool fits_batch(void *arg, unsigned int i, __u32 len)
{
	const struct rbatch *b = arg;

	return i < b->n && len <= b->msgs[i].buf_len;
}

__dmxp_export
int dmxp_chan_recv_batch(struct dmxp_chan *c, struct dmxp_rmsg *msgs,
			 unsigned int n)
{
	struct rbatch b = { msgs, n };
	struct dmxp_claim __shm *rec;
	unsigned int got = 0;
	int ret;

	if (!n || !msgs)
		return -EINVAL;
	ret = chan_check(c);
	if (unlikely(ret))
		return ret;

	rec = dmxp__claim_thread(c->region);
	while (got == 0) {
		__u64 pos;
		int k, i;

		ret = ring_claim_consume(c, batch_max(c, n), &pos, fits_batch, &b, rec);
		if (ret < 0)
			break;
		DMXP_HOOK(RECV_CLAIMED);
		k = ret;
		/* The run may hold tombstones: skip them, they fill no buffer. */
		for (i = 0; i < k; i++) {
			struct dmxp_slot __shm *s = ring_slot(c, pos + (__u64)i);
			struct peeked p = slot_peek(s);

			if (!p.tombstone) {
				struct dmxp_rmsg *m = &msgs[got++];

				if (p.len)
					memcpy(m->buf, s->payload, p.len);
				memcpy(&m->meta, &s->meta, sizeof(m->meta));
				m->meta.payload_len = p.len;
				m->len = p.len;
			}
			ring_free(c, s, pos + (__u64)i);
		}
		dmxp__wake_producers(c, (unsigned int)k);
	}
	dmxp__claim_drop(rec);
	return got ? (int)got : ret;
}

__dmxp_export
int dmxp_chan_peek(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	struct dmxp_claim __shm *rec;
	struct dmxp_slot __shm *s;
	__u64 pos;
	int ret;

	ret = chan_check(c);
	if (unlikely(ret))
		return ret;
	rec = ref_claim_take(c, ref);
	ret = ring_claim_one(c, &pos, NULL, rec);
	if (unlikely(ret < 0)) {
		ref_claim_put(c, ref);
		return ret;
	}
	s = ring_slot(c, pos);
	ref->payload = s->payload;
	ref->meta = &s->meta;
	ref->len = slot_peek(s).len;
	ref->pos = pos;
	return 0;
}

__dmxp_export
void dmxp_chan_release(struct dmxp_chan *c, struct dmxp_ref *ref)
{
	/* A peek from before a destroy must not free a slot of a new ring. */
	if (likely(!chan_check(c))) {
		ring_free(c, ring_slot(c, ref->pos), ref->pos);
		ref_claim_put(c, ref);
		dmxp__wake_producers(c, 1);
	} else {
		ref_claim_put(c, ref);
	}
	ref->payload = NULL;
	ref->meta = NULL;
}
