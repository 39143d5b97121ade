// SPDX-License-Identifier: MIT
/*
 * The producer/consumer workload of stress_mpmc and tsan_threads (see
 * workload.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DMXP_TEST_NO_HARNESS
#include "helpers.h"
#include "workload.h"

#define WL_MAGIC	0x574b4c44u	/* "WKLD" */

struct msg_hdr {
	__u32	magic;
	__u32	producer;
	__u64	counter;
	__u64	hash;		/* test_hash() of the body */
	__u32	body_len;
	__u32	pid;		/* the producer's, checked against meta */
};

#define BODY_MAX	(DMXP_MAX_PAYLOAD - sizeof(struct msg_hdr))

bool wl_should_stop(const struct wl_run *rn)
{
	if (__atomic_load_n(&rn->sh->abort, __ATOMIC_RELAXED))
		return true;
	if (test_now_ns() > rn->deadline) {
		__atomic_store_n(&rn->sh->abort, 1, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

bool wl_consumers_done(const struct wl_shared *sh)
{
	__u64 expected = __atomic_load_n(&sh->expected, __ATOMIC_ACQUIRE);

	return __atomic_load_n(&sh->received, __ATOMIC_ACQUIRE) >= expected;
}

/* Build message (p, n) at @buf; returns its total length. */
static size_t build_msg(unsigned char *buf, unsigned int p, __u64 n, __u32 pid)
{
	struct msg_hdr h = {
		.magic = WL_MAGIC,
		.producer = p,
		.counter = n,
		.body_len = test_body_len(BODY_MAX, p, n),
		.pid = pid,
	};
	unsigned char *body = buf + sizeof(h);

	test_fill(body, h.body_len, p, n);
	h.hash = test_hash(body, h.body_len);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + h.body_len;
}

/* ---------------------------------------------------------------- producer */

void wl_produce(const struct wl_run *rn, struct dmxp_chan *c, unsigned int p, wl_bufs bufs)
{
	struct wl_shared *sh = rn->sh;
	__u32 pid = (__u32)getpid();
	unsigned long spins = 0;
	__u64 n = 0;
	int ret;

	while (n < rn->per_prod) {
		unsigned int mode = (unsigned int)(n % 5);

		if (rn->send_until && test_now_ns() > rn->send_until)
			break;
		if (mode <= 1) {
			size_t len = build_msg(bufs[0], p, n, pid);

			ret = dmxp_chan_send(c, bufs[0], len, test_msg_type(p, n));
		} else if (mode == 2) {
			struct dmxp_ref ref;

			ret = dmxp_chan_reserve(c, &ref);
			if (!ret && n % 13 == 2) {
				/* Give it up once: consumers skip a tombstone. */
				dmxp_chan_abort(c, &ref);
				ret = dmxp_chan_reserve(c, &ref);
			}
			if (!ret) {
				size_t len = build_msg(ref.payload, p, n, pid);

				ret = dmxp_chan_commit(c, &ref, len, test_msg_type(p, n));
			}
		} else {
			struct dmxp_smsg msgs[WL_MAX_BATCH];
			unsigned int k, want = 1 + (unsigned int)(n % WL_MAX_BATCH);

			if (want > rn->per_prod - n)
				want = (unsigned int)(rn->per_prod - n);
			for (k = 0; k < want; k++) {
				msgs[k].buf = bufs[k];
				msgs[k].len = (__u32)build_msg(bufs[k], p, n + k, pid);
				msgs[k].type = test_msg_type(p, n + k);
			}
			ret = dmxp_chan_send_batch(c, msgs, want);
			if (ret > 0) {
				if ((unsigned int)ret > want) {
					test_note_error(&sh->err, &sh->api_errors,
							"send_batch(%u) returned %d", want, ret);
					break;
				}
				n += (unsigned int)ret;
				continue;
			}
		}
		if (!ret) {
			n++;
			continue;
		}
		if (ret != -EAGAIN) {
			test_note_error(&sh->err, &sh->api_errors,
					"producer %u: error %d at message %llu",
					p, ret, (unsigned long long)n);
			break;
		}
		if (!(++spins & 63) && wl_should_stop(rn))
			break;
		sched_yield();
	}
	__atomic_store_n(&sh->sent[p], n, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------- consumer */

struct consumer_state {
	const struct wl_run *rn;
	unsigned int id;
	__s64 last[WL_MAX_PRODUCERS];	/* last counter seen from each producer */
};

static void consume(struct consumer_state *cs, const unsigned char *buf,
		    size_t len, const struct dmxp_msg_meta *meta)
{
	const struct wl_run *rn = cs->rn;
	struct wl_shared *sh = rn->sh;
	struct msg_hdr h;
	__u64 rec;

	__atomic_fetch_add(&sh->received, 1, __ATOMIC_RELEASE);
	if (meta->flags & DMXP_MSG_TOMBSTONE) {
		test_note_error(&sh->err, &sh->tombstones_seen,
				"consumer %u got a tombstone at id %llu",
				cs->id, (unsigned long long)meta->message_id);
		return;
	}
	if (len < sizeof(h)) {
		test_note_error(&sh->err, &sh->corrupt,
				"consumer %u: short message (%zu bytes) id %llu",
				cs->id, len, (unsigned long long)meta->message_id);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != WL_MAGIC || h.producer >= rn->producers ||
	    h.counter >= rn->per_prod) {
		test_note_error(&sh->err, &sh->corrupt,
				"consumer %u: bad header (magic %#x producer %u counter %llu) id %llu",
				cs->id, h.magic, h.producer, (unsigned long long)h.counter,
				(unsigned long long)meta->message_id);
		return;
	}
	if (h.body_len != test_body_len(BODY_MAX, h.producer, h.counter) ||
	    len != sizeof(h) + h.body_len ||
	    test_hash(buf + sizeof(h), h.body_len) != h.hash) {
		test_note_error(&sh->err, &sh->corrupt,
				"consumer %u: corrupt body of %u/%llu (len %zu body %u) id %llu",
				cs->id, h.producer, (unsigned long long)h.counter, len,
				h.body_len, (unsigned long long)meta->message_id);
	} else if (meta->payload_len != len || meta->channel_id != rn->chan_id ||
		   meta->message_type != test_msg_type(h.producer, h.counter) ||
		   meta->sender_pid != h.pid ||
		   meta->sender_runtime != DMXP_RUNTIME_C || meta->flags ||
		   meta->__pad || !meta->timestamp_ns ||
		   meta->timestamp_ns > (__u64)test_now_ns()) {
		test_note_error(&sh->err, &sh->corrupt,
				"consumer %u: bad meta of %u/%llu: len %u chan %u type %#x pid %u/%u rt %u flags %#x",
				cs->id, h.producer, (unsigned long long)h.counter,
				meta->payload_len, meta->channel_id, meta->message_type,
				meta->sender_pid, h.pid, meta->sender_runtime, meta->flags);
	}

	if ((__s64)h.counter <= cs->last[h.producer])
		test_note_error(&sh->err, &sh->fifo_errors,
				"consumer %u: producer %u counter %llu after %lld",
				cs->id, h.producer, (unsigned long long)h.counter,
				(long long)cs->last[h.producer]);
	cs->last[h.producer] = (__s64)h.counter;

	rec = WL_REC_SEEN | (meta->message_id & WL_REC_ID_MASK);
	__atomic_fetch_add(&rn->records[h.producer * rn->per_prod + h.counter], rec,
			   __ATOMIC_RELAXED);
}

void wl_consume(const struct wl_run *rn, struct dmxp_chan *c, unsigned int id, wl_bufs bufs)
{
	struct consumer_state cs = { .rn = rn, .id = id };
	struct wl_shared *sh = rn->sh;
	unsigned long iter = 0, spins = 0;
	unsigned int i;
	int ret;

	for (i = 0; i < WL_MAX_PRODUCERS; i++)
		cs.last[i] = -1;
	while (!wl_consumers_done(sh)) {
		unsigned int mode = (unsigned int)((iter + id) % 3);

		if (mode == 0) {
			struct dmxp_msg_meta meta;
			ssize_t len = dmxp_chan_recv(c, bufs[0], DMXP_MAX_PAYLOAD, &meta);

			ret = len < 0 ? (int)len : 0;
			if (len >= 0)
				consume(&cs, bufs[0], (size_t)len, &meta);
		} else if (mode == 1) {
			struct dmxp_rmsg msgs[WL_MAX_BATCH];
			unsigned int k, want = 1 + (unsigned int)(iter % WL_MAX_BATCH);

			for (k = 0; k < want; k++) {
				msgs[k].buf = bufs[k];
				msgs[k].buf_len = DMXP_MAX_PAYLOAD;
			}
			ret = dmxp_chan_recv_batch(c, msgs, want);
			if (ret > (int)want) {
				test_note_error(&sh->err, &sh->api_errors,
						"recv_batch(%u) returned %d", want, ret);
				break;
			}
			for (k = 0; ret > 0 && k < (unsigned int)ret; k++) {
				if (msgs[k].len != msgs[k].meta.payload_len)
					test_note_error(&sh->err, &sh->corrupt,
							"recv_batch: len %u, meta says %u",
							msgs[k].len, msgs[k].meta.payload_len);
				consume(&cs, msgs[k].buf, msgs[k].len, &msgs[k].meta);
			}
			if (ret > 0)
				ret = 0;
		} else {
			struct dmxp_ref ref;

			ret = dmxp_chan_peek(c, &ref);
			if (!ret) {
				struct dmxp_msg_meta meta = *ref.meta;
				size_t len = meta.payload_len;

				if (len > DMXP_MAX_PAYLOAD)
					len = DMXP_MAX_PAYLOAD;
				consume(&cs, ref.payload, len, &meta);
				dmxp_chan_release(c, &ref);
			}
		}
		iter++;
		if (!ret)
			continue;
		if (ret != -EAGAIN) {
			test_note_error(&sh->err, &sh->api_errors, "consumer %u: error %d", id, ret);
			break;
		}
		if (!(++spins & 63) && wl_should_stop(rn))
			break;
		sched_yield();
	}
}

/* ------------------------------------------------------------- the verdict */

void wl_tally(const struct wl_run *rn, struct wl_tally *t)
{
	unsigned int p;

	memset(t, 0, sizeof(*t));
	for (p = 0; p < rn->producers; p++) {
		__u64 n, sent = rn->sh->sent[p], prev_id = 0;

		for (n = 0; n < sent; n++) {
			__u64 rec = rn->records[p * rn->per_prod + n];
			__u64 seen = rec / WL_REC_SEEN, id = rec & WL_REC_ID_MASK;

			if (seen != 1) {
				if (!seen)
					t->lost++;
				else
					t->dups++;
				if (t->lost + t->dups <= 10)
					printf("# producer %u message %llu seen %llu times\n",
					       p, (unsigned long long)n, (unsigned long long)seen);
				continue;
			}
			if (n && id <= prev_id && ++t->order <= 10)
				printf("# producer %u message %llu has id %llu after %llu\n",
				       p, (unsigned long long)n, (unsigned long long)id,
				       (unsigned long long)prev_id);
			prev_id = id;
		}
	}
}
