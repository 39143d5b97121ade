// SPDX-License-Identifier: MIT
/*
 * The producer and consumer processes: their operations on the channels
 * and the checks of every message received.
 */
#include "stress_soak.h"

struct wctx {
	struct dmxp_region *r;
	const struct dmxp_global_header *hdr;
	struct dmxp_chan *h[NR_CHANS];
	long long retry_ns[NR_CHANS];
	struct worker *ws;
	unsigned int idx, role, slot;
	__u32 inc;
	__u64 rs;
};

static void count(struct wctx *w, unsigned int s, __u64 n)
{
	bump(&w->ws->stat[s], n);
}

static void set_op(struct wctx *w, unsigned int op, unsigned int ch)
{
	w->ws->op = op;
	w->ws->chan = ch;
	__atomic_store_n(&w->ws->op_ns, test_now_ns(), __ATOMIC_RELAXED);
}

/*
 * Announce a call on churn channel @ch.  The churner, after destroying a
 * channel, waits for every worker it sees announced on it to finish: its
 * call may still touch the old ring.  A call that starts after the
 * destroy gets -EIDRM: the store here and the library's read of the
 * generation are ordered against the churner's destroy and its read of
 * the announcement by the full fences on both sides.
 */
static void busy_enter(struct wctx *w, unsigned int ch)
{
	__u64 n;

	if (!chans[ch].churn)
		return;
	n = ++w->ws->busy_count;
	__atomic_store_n(&w->ws->busy, (__u64)(ch + 1) | n << 8, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void busy_exit(struct wctx *w)
{
	__atomic_store_n(&w->ws->busy, 0, __ATOMIC_RELEASE);
}

static void chan_drop(struct wctx *w, unsigned int ch)
{
	dmxp_chan_close(w->h[ch]);
	w->h[ch] = NULL;
}

/* The worker's handle of channel @ch, opened if need be; NULL if absent. */
static struct dmxp_chan *chan_get(struct wctx *w, unsigned int ch)
{
	static const unsigned int spins[] = { 0, 1000, 20000, 100000 };
	struct dmxp_chan *c;
	__u32 g1, g2;
	int ret;

	if (w->h[ch])
		return w->h[ch];
	if (w->retry_ns[ch] && test_now_ns() < w->retry_ns[ch])
		return NULL;
	g1 = chan_gen(w->hdr, ch);
	ret = dmxp_chan_open(w->r, chans[ch].id, &c);
	g2 = chan_gen(w->hdr, ch);
	if (!ret && g1 != g2) {
		/* Re-created under us: the handle's generation is unknown. */
		dmxp_chan_close(c);
		ret = -EBUSY;
	}
	if (ret) {
		if (chans[ch].churn && (ret == -ENOENT || ret == -EBUSY)) {
			count(w, S_ENOENT, 1);
			w->retry_ns[ch] = test_now_ns() + 200000 + rnd_ns(&w->rs, 2000000);
			return NULL;
		}
		note_error(E_API, "%s %u.%u: open channel %u: %d", role_names[w->role],
			   w->slot, w->inc, chans[ch].id, ret);
		w->retry_ns[ch] = test_now_ns() + 100000000;
		return NULL;
	}
	w->retry_ns[ch] = 0;
	ret = dmxp_chan_set_spin(c, spins[rnd(&w->rs, 4)]);
	if (ret)
		note_error(E_API, "set_spin: %d", ret);
	if (w->role == ROLE_PRODUCER && chans[ch].churn) {
		struct prod_book *pb = &sh->prod[w->slot];

		if (pb->gen[ch] != g1) {
			pb->gen_first[ch] = pb->next[ch];
			__atomic_store_n(&pb->gen[ch], g1, __ATOMIC_RELEASE);
		}
	}
	w->h[ch] = c;
	count(w, S_OPEN, 1);
	return c;
}

/* A call on @ch failed with @ret, neither -EAGAIN nor -ETIMEDOUT. */
static void call_failed(struct wctx *w, unsigned int ch, int ret, const char *what)
{
	if (chans[ch].churn && (ret == -EIDRM || ret == -ENOENT)) {
		count(w, S_EIDRM, 1);
		chan_drop(w, ch);
		return;
	}
	note_error(E_API, "%s %u.%u: %s on channel %u: %d", role_names[w->role], w->slot,
		   w->inc, what, chans[ch].id, ret);
	chan_drop(w, ch);
}

/* The timeouts of the _wait calls, and how often each is picked. */
static const long long wait_ns[] = {
	0, 1000, 10000, 100000, 1000000, 5000000, 20000000, 50000000,
};
static const unsigned int wait_weights[] = { 4, 2, 2, 2, 3, 2, 1, 1 };

static long long pick_wait(struct wctx *w)
{
	return wait_ns[pick(&w->rs, wait_weights, ARRAY_SIZE(wait_ns))];
}

/* Check a _wait call's result against its timeout @t and duration. */
static void check_wait(struct wctx *w, unsigned int ch, const char *what, long long t,
		       long long elapsed, long ret)
{
	long long over = elapsed - t, max;

	if (ret == -ETIMEDOUT && t == 0)
		note_error(E_API, "%s on channel %u: -ETIMEDOUT with timeout 0", what,
			   chans[ch].id);
	else if (ret == -ETIMEDOUT && elapsed < t)
		note_error(E_TIMING, "%s on channel %u: timed out after %lld of %lld ns", what,
			   chans[ch].id, elapsed, t);
	else if (ret == -EAGAIN && t != 0)
		note_error(E_API, "%s on channel %u: -EAGAIN with timeout %lld ns", what,
			   chans[ch].id, t);
	if (t <= 0)
		return;
	max = __atomic_load_n(&sh->max_overrun_ns, __ATOMIC_RELAXED);
	while (over > max &&
	       !__atomic_compare_exchange_n(&sh->max_overrun_ns, &max, over, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (over > 10000000000LL)
		note_error(E_TIMING, "%s on channel %u: returned %ld after %lld ns, timeout %lld",
			   what, chans[ch].id, ret, elapsed, t);
}

static void producer_abort(struct wctx *w, struct dmxp_chan *c, unsigned int ch)
{
	struct soak_hdr t = {
		.magic = TOMB_MAGIC, .producer = (__u16)w->slot, .chan = (__u16)ch,
		.incarnation = w->inc, .seq = ~0ULL,
	};
	struct dmxp_ref ref;
	int ret;

	busy_enter(w, ch);
	ret = dmxp_chan_reserve(c, &ref);
	if (!ret) {
		/* A half-written message: no consumer may ever see it. */
		memcpy(ref.payload, &t, HDR);
		memset((char *)ref.payload + HDR, 0xa5, rnd(&w->rs, DMXP_MAX_PAYLOAD - HDR));
		if (!rnd(&w->rs, 16))
			sched_yield();
		dmxp_chan_abort(c, &ref);
	}
	busy_exit(w);
	if (!ret) {
		count(w, S_ABORT, 1);
		bump(&w->ws->aborted[ch], 1);
	} else if (ret == -EAGAIN) {
		count(w, S_FULL, 1);
	} else {
		call_failed(w, ch, ret, "reserve");
	}
}

/* A data channel @data_pct times in 100, else a churn channel. */
static unsigned int pick_chan(struct wctx *w, unsigned int data_pct)
{
	return rnd(&w->rs, 100) < data_pct ? rnd(&w->rs, NR_DATA) :
					      NR_DATA + rnd(&w->rs, NR_CHURN);
}

/*
 * Announce operation @op on channel @ch and return its handle; NULL when
 * the operation is a pause (done here) or the channel is absent now.
 */
static struct dmxp_chan *op_start(struct wctx *w, unsigned int op, unsigned int ch)
{
	struct dmxp_chan *c;

	set_op(w, op, ch);
	if (op == OP_PAUSE) {
		count(w, S_PAUSE, 1);
		sleep_ns(rnd_ns(&w->rs, 2000000));
		return NULL;
	}
	c = chan_get(w, ch);
	if (!c)
		sched_yield();
	return c;
}

static void producer_op(struct wctx *w)
{
	static const unsigned int weights[] = {
		[OP_SEND] = 20, [OP_SEND_WAIT] = 20, [OP_BATCH] = 20, [OP_BURST] = 12,
		[OP_COMMIT] = 15, [OP_ABORT] = 4, [OP_PAUSE] = 1,
	};
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct prod_book *pb = &sh->prod[w->slot];
	struct dmxp_smsg msgs[MAX_BATCH];
	unsigned int ch, op, n = 1, i, sent = 0;
	struct dmxp_chan *c;
	__u64 seq0;
	int ret = 0;

	ch = pick_chan(w, 78);
	op = pick(&w->rs, weights, OP_PAUSE + 1);
	c = op_start(w, op, ch);
	if (!c)
		return;
	if (op == OP_ABORT) {
		producer_abort(w, c, ch);
		return;
	}
	if (op == OP_BATCH)
		n = 1 + rnd(&w->rs, MAX_BATCH);
	else if (op == OP_BURST)
		n = 2 + rnd(&w->rs, MAX_BATCH - 1);

	seq0 = pb->next[ch];
	if (!chunk_ensure(w->slot, ch, seq0, n)) {
		if (!pb->pair_full)
			note_error(E_BOOK, "producer %u: no bitmap room for channel %u at %llu",
				   w->slot, chans[ch].id, (unsigned long long)seq0);
		pb->pair_full = 1;
		sleep_ns(1000000);
		return;
	}
	if (op != OP_COMMIT) {
		for (i = 0; i < n; i++) {
			size_t len = pick_len(&w->rs);

			build_msg(bufs[i], len, w->slot, ch, w->inc, seq0 + i, &w->rs);
			msgs[i].buf = bufs[i];
			msgs[i].len = (__u32)len;
			msgs[i].type = msg_type(w->slot, ch, seq0 + i);
		}
	}
	/* From here until hi comes down, [seq0, seq0 + n) may be in the ring. */
	__atomic_store_n(&pb->hi[ch], seq0 + n, __ATOMIC_RELEASE);
	busy_enter(w, ch);
	switch (op) {
	case OP_SEND:
		ret = dmxp_chan_send(c, msgs[0].buf, msgs[0].len, msgs[0].type);
		sent = !ret;
		count(w, S_SEND, 1);
		break;
	case OP_SEND_WAIT: {
		long long t = pick_wait(w), t0 = test_now_ns();

		ret = dmxp_chan_send_wait(c, msgs[0].buf, msgs[0].len, msgs[0].type, t);
		check_wait(w, ch, "send_wait", t, test_now_ns() - t0, ret);
		sent = !ret;
		count(w, S_SEND_WAIT, 1);
		if (ret == -ETIMEDOUT)
			count(w, S_SEND_TIMEOUT, 1);
		break;
	}
	case OP_BATCH:
		ret = dmxp_chan_send_batch(c, msgs, n);
		if (ret > (int)n) {
			note_error(E_API, "send_batch(%u) returned %d", n, ret);
			ret = (int)n;
		}
		if (ret > 0) {
			sent = (unsigned int)ret;
			ret = 0;
		}
		count(w, S_BATCH, 1);
		count(w, S_BATCH_MSGS, sent);
		break;
	case OP_BURST:
		for (i = 0; i < n; i++) {
			ret = dmxp_chan_send(c, msgs[i].buf, msgs[i].len, msgs[i].type);
			if (ret)
				break;
			sent++;
		}
		if (sent)
			ret = 0;	/* the rest did not fit: fine */
		count(w, S_BURST, 1);
		break;
	case OP_COMMIT: {
		struct dmxp_ref ref;

		ret = dmxp_chan_reserve(c, &ref);
		if (ret)
			break;
		/* Written in place, in the slot. */
		msgs[0].len = (__u32)pick_len(&w->rs);
		build_msg(ref.payload, msgs[0].len, w->slot, ch, w->inc, seq0, &w->rs);
		if (!rnd(&w->rs, 16))
			sched_yield();	/* consumers behind us wait */
		ret = dmxp_chan_commit(c, &ref, msgs[0].len, msg_type(w->slot, ch, seq0));
		sent = !ret;
		count(w, S_COMMIT, 1);
		break;
	}
	}
	busy_exit(w);
	__atomic_store_n(&pb->next[ch], seq0 + sent, __ATOMIC_RELAXED);
	__atomic_store_n(&pb->hi[ch], seq0 + sent, __ATOMIC_RELEASE);
	bump(&w->ws->sent[ch], sent);
	if (ret == -EAGAIN || ret == -ETIMEDOUT) {
		count(w, S_FULL, 1);
		if (ret == -EAGAIN)
			sched_yield();
	} else if (ret < 0) {
		call_failed(w, ch, ret, op_names[op]);
	}
}

/* Check one received message, then record it. */
static void check_msg(struct wctx *w, unsigned int ch, const unsigned char *buf,
		      size_t len, const struct dmxp_msg_meta *m)
{
	struct cons_book *cb = &sh->cons[w->slot];
	unsigned int p, mch;
	__u64 seq, hi, *word, bit;
	long long now = test_now_ns();

	bump(&w->ws->received[ch], 1);
	if (m->flags & DMXP_MSG_TOMBSTONE) {
		note_error(E_TOMBSTONE, "consumer %u.%u: a tombstone at id %llu on channel %u",
			   w->slot, w->inc, (unsigned long long)m->message_id, chans[ch].id);
		return;
	}
	if (len >= HDR && !memcmp(buf, &(__u32){ TOMB_MAGIC }, 4)) {
		note_error(E_TOMBSTONE,
			   "consumer %u.%u: an aborted reservation delivered, id %llu channel %u",
			   w->slot, w->inc, (unsigned long long)m->message_id, chans[ch].id);
		return;
	}
	if (m->payload_len != len || len > DMXP_MAX_PAYLOAD || m->channel_id != chans[ch].id ||
	    m->flags || m->__pad || m->sender_runtime != DMXP_RUNTIME_C || !m->timestamp_ns ||
	    m->timestamp_ns > (__u64)now) {
		note_error(E_META,
			   "consumer %u.%u: bad meta on channel %u: len %zu/%u chan %u flags %#x pad %u runtime %u ts %llu id %llu",
			   w->slot, w->inc, chans[ch].id, len, m->payload_len, m->channel_id,
			   m->flags, m->__pad, m->sender_runtime,
			   (unsigned long long)m->timestamp_ns, (unsigned long long)m->message_id);
		return;
	}
	p = m->message_type >> 28;
	mch = (m->message_type >> TYPE_SEQ_BITS) & 7;
	if (p >= sh->np || mch != ch) {
		note_error(E_CORRUPT, "consumer %u.%u: bad type %#x on channel %u, id %llu",
			   w->slot, w->inc, m->message_type, chans[ch].id,
			   (unsigned long long)m->message_id);
		return;
	}
	if (len >= HDR) {
		struct soak_hdr h;
		__u32 inc;

		memcpy(&h, buf, HDR);
		if (h.magic != SOAK_MAGIC || h.producer != p || h.chan != ch || h.len != len ||
		    (h.seq & TYPE_SEQ_MASK) != (m->message_type & TYPE_SEQ_MASK) ||
		    msg_sum(buf, len) != h.sum) {
			note_error(E_CORRUPT,
				   "consumer %u.%u: corrupt message on channel %u id %llu: magic %#x producer %u/%u chan %u len %u/%zu seq %llu type %#x sum %s",
				   w->slot, w->inc, chans[ch].id, (unsigned long long)m->message_id,
				   h.magic, h.producer, p, h.chan, h.len, len,
				   (unsigned long long)h.seq, m->message_type,
				   msg_sum(buf, len) == h.sum ? "ok" : "BAD");
			return;
		}
		seq = h.seq;
		inc = h.incarnation;
		if (inc >= MAX_INC ||
		    inc >= __atomic_load_n(&sh->prod[p].incarnations, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&sh->pid_hist[p][inc], __ATOMIC_ACQUIRE) != m->sender_pid)
			note_error(E_META,
				   "consumer %u.%u: producer %u seq %llu: incarnation %u, sender pid %u",
				   w->slot, w->inc, p, (unsigned long long)seq, inc, m->sender_pid);
	} else {
		unsigned char want[HDR];
		__u64 next = (__u64)(cb->last_seq[ch][p] + 1);
		__s64 i;

		/* The smallest sequence after the last one with these low bits. */
		seq = (next & ~TYPE_SEQ_MASK) | (m->message_type & TYPE_SEQ_MASK);
		if (seq < next)
			seq += TYPE_SEQ_MASK + 1;
		short_fill(want, len, p, ch, seq);
		if (memcmp(want, buf, len)) {
			note_error(E_CORRUPT,
				   "consumer %u.%u: corrupt short message (%zu bytes) of producer %u seq %llu on channel %u id %llu",
				   w->slot, w->inc, len, p, (unsigned long long)seq, chans[ch].id,
				   (unsigned long long)m->message_id);
			return;
		}
		i = __atomic_load_n(&sh->prod[p].incarnations, __ATOMIC_ACQUIRE);
		if (i > MAX_INC)
			i = MAX_INC;
		while (--i >= 0 &&
		       __atomic_load_n(&sh->pid_hist[p][i], __ATOMIC_ACQUIRE) != m->sender_pid)
			;
		if (i < 0)
			note_error(E_META, "consumer %u.%u: short message of producer %u from pid %u",
				   w->slot, w->inc, p, m->sender_pid);
		count(w, S_SHORT, 1);
	}

	hi = __atomic_load_n(&sh->prod[p].hi[ch], __ATOMIC_ACQUIRE);
	if (hi < __atomic_load_n(&sh->prod[p].next[ch], __ATOMIC_RELAXED))
		hi = __atomic_load_n(&sh->prod[p].next[ch], __ATOMIC_RELAXED);
	if (seq >= hi) {
		note_error(E_CORRUPT,
			   "consumer %u.%u: producer %u seq %llu on channel %u not sent yet (below %llu)",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id,
			   (unsigned long long)hi);
		return;
	}
	if ((__s64)seq <= cb->last_seq[ch][p])
		note_error(E_ORDER, "consumer %u.%u: producer %u seq %llu after %lld on channel %u",
			   w->slot, w->inc, p, (unsigned long long)seq,
			   (long long)cb->last_seq[ch][p], chans[ch].id);
	else
		cb->last_seq[ch][p] = (__s64)seq;
	if (!chans[ch].churn) {
		if (m->message_id + 1 <= cb->last_pos[ch])
			note_error(E_ORDER, "consumer %u.%u: message_id %llu after %llu on channel %u",
				   w->slot, w->inc, (unsigned long long)m->message_id,
				   (unsigned long long)cb->last_pos[ch] - 1, chans[ch].id);
		cb->last_pos[ch] = m->message_id + 1;
	}
	word = bit_word(p, ch, seq);
	if (!word) {
		note_error(E_BOOK, "consumer %u.%u: no bitmap for producer %u seq %llu channel %u",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id);
		return;
	}
	bit = 1ULL << (seq & 63);
	if (__atomic_fetch_or(word, bit, __ATOMIC_RELAXED) & bit)
		note_error(E_DUP, "consumer %u.%u: producer %u seq %llu received twice on channel %u (id %llu)",
			   w->slot, w->inc, p, (unsigned long long)seq, chans[ch].id,
			   (unsigned long long)m->message_id);
}

static void consumer_op(struct wctx *w)
{
	enum { C_RECV, C_SMALL, C_WAIT, C_BATCH, C_PEEK, C_PAUSE };
	static const unsigned int weights[] = {
		[C_RECV] = 20, [C_SMALL] = 8, [C_WAIT] = 25, [C_BATCH] = 25, [C_PEEK] = 20,
		[C_PAUSE] = 1,
	};
	static const unsigned int ops[] = {
		[C_RECV] = OP_RECV, [C_SMALL] = OP_RECV_SMALL, [C_WAIT] = OP_RECV_WAIT,
		[C_BATCH] = OP_RECV_BATCH, [C_PEEK] = OP_PEEK, [C_PAUSE] = OP_PAUSE,
	};
	static unsigned char bufs[MAX_BATCH][DMXP_MAX_PAYLOAD];
	struct cons_book *cb = &sh->cons[w->slot];
	struct dmxp_msg_meta meta;
	unsigned int ch, kind, n = 1;
	struct dmxp_chan *c;
	long ret = 0;

	ch = pick_chan(w, 75);
	kind = pick(&w->rs, weights, C_PAUSE + 1);
	c = op_start(w, ops[kind], ch);
	if (!c)
		return;
	if (kind == C_BATCH)
		n = 1 + rnd(&w->rs, MAX_BATCH);
	__atomic_store_n(&cb->inflight, (ch + 1) | n << 8, __ATOMIC_RELEASE);
	busy_enter(w, ch);
	switch (kind) {
	case C_RECV:
		ret = dmxp_chan_recv(c, bufs[0], DMXP_MAX_PAYLOAD, &meta);
		if (ret >= 0)
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		count(w, S_RECV, 1);
		break;
	case C_SMALL: {
		size_t room = rnd(&w->rs, DMXP_MAX_PAYLOAD + 1);

		ret = dmxp_chan_recv(c, bufs[0], room, &meta);
		if (ret == -EMSGSIZE) {
			/* It stays in the ring; meta says how big it is. */
			if (meta.payload_len <= room || meta.payload_len > DMXP_MAX_PAYLOAD ||
			    meta.message_id || meta.message_type)
				note_error(E_API, "recv(%zu): -EMSGSIZE with payload_len %u", room,
					   meta.payload_len);
			count(w, S_EMSGSIZE, 1);
			ret = 0;
		} else if (ret >= 0) {
			if ((size_t)ret > room)
				note_error(E_API, "recv(%zu) returned %ld bytes", room, ret);
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		}
		count(w, S_RECV_SMALL, 1);
		break;
	}
	case C_WAIT: {
		long long t = pick_wait(w), t0 = test_now_ns();

		ret = dmxp_chan_recv_wait(c, bufs[0], DMXP_MAX_PAYLOAD, &meta, t);
		check_wait(w, ch, "recv_wait", t, test_now_ns() - t0, ret);
		if (ret >= 0)
			check_msg(w, ch, bufs[0], (size_t)ret, &meta);
		count(w, S_RECV_WAIT, 1);
		if (ret == -ETIMEDOUT)
			count(w, S_RECV_TIMEOUT, 1);
		break;
	}
	case C_BATCH: {
		struct dmxp_rmsg msgs[MAX_BATCH];
		unsigned int k;

		for (k = 0; k < n; k++) {
			msgs[k].buf = bufs[k];
			msgs[k].buf_len = rnd(&w->rs, 10) ? DMXP_MAX_PAYLOAD :
				rnd(&w->rs, DMXP_MAX_PAYLOAD + 1);
		}
		ret = dmxp_chan_recv_batch(c, msgs, n);
		if (ret > (long)n) {
			note_error(E_API, "recv_batch(%u) returned %ld", n, ret);
			ret = n;
		}
		for (k = 0; ret > 0 && k < (unsigned int)ret; k++) {
			if (msgs[k].len > msgs[k].buf_len)
				note_error(E_API, "recv_batch: %u bytes into a buffer of %u",
					   msgs[k].len, msgs[k].buf_len);
			check_msg(w, ch, msgs[k].buf, msgs[k].len, &msgs[k].meta);
		}
		if (ret > 0)
			count(w, S_RECV_BATCH_MSGS, (__u64)ret);
		if (ret == -EMSGSIZE) {
			if (msgs[0].buf_len >= DMXP_MAX_PAYLOAD)
				note_error(E_API, "recv_batch: -EMSGSIZE into %u bytes",
					   msgs[0].buf_len);
			count(w, S_EMSGSIZE, 1);
		}
		if (ret > 0 || ret == -EMSGSIZE)
			ret = 0;
		count(w, S_RECV_BATCH, 1);
		break;
	}
	case C_PEEK: {
		struct dmxp_ref ref;

		ret = dmxp_chan_peek(c, &ref);
		if (!ret) {
			meta = *ref.meta;
			if (ref.len != meta.payload_len)
				note_error(E_META, "peek: len %u, meta says %u", ref.len,
					   meta.payload_len);
			/* Checked in place, in the slot. */
			check_msg(w, ch, ref.payload, ref.len, &meta);
			if (!rnd(&w->rs, 16))
				sched_yield();	/* producers a lap later wait */
			dmxp_chan_release(c, &ref);
		}
		count(w, S_PEEK, 1);
		break;
	}
	}
	busy_exit(w);
	__atomic_store_n(&cb->inflight, 0, __ATOMIC_RELEASE);
	if (ret == -EAGAIN || ret == -ETIMEDOUT) {
		count(w, S_EMPTY, 1);
		if (ret == -EAGAIN)
			sched_yield();
	} else if (ret < 0) {
		call_failed(w, ch, (int)ret, op_names[ops[kind]]);
	}
}

int worker_main(unsigned int idx)
{
	struct wctx w = { .idx = idx };
	long long end;
	unsigned int ch;
	int ret;

	w.ws = &sh->w[idx];
	w.role = role_of(idx);
	w.slot = slot_of(idx);
	w.inc = w.ws->incarnation;
	w.rs = mix64(sh->seed ^ mix64((__u64)idx << 32 | w.inc)) | 1;
	ret = dmxp_region_open(region_path, 0, 0, &w.r);
	if (ret) {
		note_error(E_API, "%s %u.%u: region open: %d", role_names[w.role], w.slot, w.inc,
			   ret);
		return 10;
	}
	w.hdr = dmxp_region_header(w.r);
	if (w.role == ROLE_PRODUCER && w.inc < MAX_INC)
		__atomic_store_n(&sh->pid_hist[w.slot][w.inc], (__u32)getpid(), __ATOMIC_RELEASE);
	/* The last recordable incarnation stays to the end. */
	end = w.inc >= MAX_INC - 1 ? LLONG_MAX :
		test_now_ns() + LIFE_MIN_NS + rnd_ns(&w.rs, LIFE_RANGE_NS);

	for (;;) {
		if (flag(&sh->abort))
			break;
		if (flag(w.role == ROLE_PRODUCER ? &sh->stop_produce : &sh->stop_all))
			break;
		if (test_now_ns() > end)
			break;
		if (w.role == ROLE_PRODUCER)
			producer_op(&w);
		else
			consumer_op(&w);
		bump(&w.ws->ops, 1);
	}
	set_op(&w, OP_EXIT, 0);
	for (ch = 0; ch < NR_CHANS; ch++)
		chan_drop(&w, ch);
	dmxp_region_close(w.r);
	return 0;
}
