// SPDX-License-Identifier: MIT
/*
 * Steps on the mapped memory of regions: garbage written into it, the
 * header and entries read back, messages sent through the mapping.
 */
#include "fuzz_kmod.h"

/* The address of region offset @off in a piece of @ins, @len bytes, writable. */
unsigned char *region_at(int ins, __u64 off, size_t len, int prot)
{
	int i;

	for (i = 0; i < MAX_PIECES; i++) {
		struct mpiece *p = &g.piece[i];

		if (p->addr && p->inst == ins && (p->prot & prot) == prot && off >= p->off &&
		    off + len <= p->off + p->len)
			return p->addr + (off - p->off);
	}
	return NULL;
}

__u64 entry_off(int ci)
{
	return offsetof(struct dmxp_global_header, channels) +
	       (__u64)chan_ids[ci] * DMXP_ENTRY_SIZE;
}

/* Write garbage where it hurts: entries, slots, the header, anywhere. */
bool op_scribble(void)
{
	static const unsigned int entry_fields[] = {
		offsetof(struct dmxp_channel_entry, flags),
		offsetof(struct dmxp_channel_entry, capacity),
		offsetof(struct dmxp_channel_entry, band_offset),
		offsetof(struct dmxp_channel_entry, generation),
		offsetof(struct dmxp_channel_entry, recv_waiters),
		offsetof(struct dmxp_channel_entry, send_waiters),
		offsetof(struct dmxp_channel_entry, repaired),
		offsetof(struct dmxp_channel_entry, tail),
		offsetof(struct dmxp_channel_entry, head),
		offsetof(struct dmxp_channel_entry, tail),
		offsetof(struct dmxp_channel_entry, head),
	};
	static const unsigned int slot_fields[] = {
		offsetof(struct dmxp_slot, sequence),
		offsetof(struct dmxp_slot, sequence),
		offsetof(struct dmxp_slot, meta.payload_len),
		offsetof(struct dmxp_slot, meta.flags),
	};
	int i = pick_piece(PROT_WRITE), ci;
	struct mpiece *p;
	unsigned char *at = NULL;
	__u64 v = 0, off;
	size_t n, k;

	if (i < 0)
		return false;
	p = &g.piece[i];
	ci = (int)below(NCH);
	switch (below(4)) {
	case 0: {		/* a field of a channel entry */
		unsigned int fo = entry_fields[below(sizeof(entry_fields) / sizeof(entry_fields[0]))];
		__u64 *cur;

		off = entry_off(ci) + fo;
		at = region_at(p->inst, off, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		mark_dirty(p->inst, off, 8);
		cur = (__u64 *)at;
		if (fo == offsetof(struct dmxp_channel_entry, recv_waiters) ||
		    fo == offsetof(struct dmxp_channel_entry, send_waiters) ||
		    fo == offsetof(struct dmxp_channel_entry, flags) ||
		    fo == offsetof(struct dmxp_channel_entry, generation)) {
			__u32 w = pct(50) ? garbage32() : (__u32)below(3);

			call("poke %p: entry %u +%u = u32 %#x", at, chan_ids[ci], fo, w);
			__atomic_store_n((__u32 *)at, w, __ATOMIC_RELAXED);
		} else {
			__u64 old = __atomic_load_n(cur, __ATOMIC_RELAXED);

			switch (below(5)) {
			case 0:
				v = old + 1;
				break;
			case 1:
				v = old - 1;
				break;
			case 2:
				v = old + inst(p->inst)->ch[ci].cap;
				break;
			case 3:
				v = 0;
				break;
			default:
				v = garbage64();
				break;
			}
			call("poke %p: entry %u +%u = %#llx (was %#llx)", at, chan_ids[ci], fo,
			     (unsigned long long)v, (unsigned long long)old);
			__atomic_store_n(cur, v, __ATOMIC_RELAXED);
		}
		result("done");
		return true;
	}
	case 1: {		/* a field of a slot of a channel */
		struct mchan *c = &inst(p->inst)->ch[ci];
		unsigned int fo = slot_fields[below(4)];

		if (!c->present || !c->band_known)
			break;
		off = c->band + below(c->cap) * DMXP_SLOT_SIZE + fo;
		at = region_at(p->inst, off, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		if (fo == offsetof(struct dmxp_slot, sequence)) {
			__u64 old = __atomic_load_n((__u64 *)at, __ATOMIC_RELAXED);

			v = pct(50) ? old + 1 + below(3) : pct(50) ? old - 1 : garbage64();
			call("poke %p: channel %u slot seq = %#llx (was %#llx)", at, chan_ids[ci],
			     (unsigned long long)v, (unsigned long long)old);
			__atomic_store_n((__u64 *)at, v, __ATOMIC_RELAXED);
		} else if (fo == offsetof(struct dmxp_slot, meta.flags)) {
			__u16 w = pct(50) ? DMXP_MSG_TOMBSTONE : (__u16)garbage32();

			call("poke %p: channel %u slot flags = %#x", at, chan_ids[ci], w);
			memcpy(at, &w, 2);
		} else {
			__u32 w = pct(50) ? DMXP_MAX_PAYLOAD + 1 + (__u32)below(100) : garbage32();

			call("poke %p: channel %u slot payload_len = %u", at, chan_ids[ci], w);
			memcpy(at, &w, 4);
		}
		result("done");
		return true;
	}
	case 2: {		/* a field of the header */
		static const unsigned int hf[] = {
			offsetof(struct dmxp_global_header, magic),
			offsetof(struct dmxp_global_header, channel_count),
			offsetof(struct dmxp_global_header, region_size),
			offsetof(struct dmxp_global_header, alloc_cursor),
			offsetof(struct dmxp_global_header, claims_offset),
			offsetof(struct dmxp_global_header, claims_count),
			offsetof(struct dmxp_global_header, repair_lock),
		};
		unsigned int fo = hf[below(sizeof(hf) / sizeof(hf[0]))];

		at = region_at(p->inst, fo, 8, PROT_READ | PROT_WRITE);
		if (!at)
			break;
		mark_dirty(p->inst, fo, 8);
		v = garbage64();
		call("poke %p: header +%u = %#llx", at, fo, (unsigned long long)v);
		memcpy(at, &v, 8);
		result("done");
		return true;
	}
	default:
		break;
	}
	n = 1 + below(512);
	if (n > p->len)
		n = p->len;
	at = p->addr + below(p->len - n + 1);
	mark_dirty(p->inst, p->off + (__u64)(at - p->addr), n);
	call("scribble %p: %zu random bytes [region offset %#llx]", at, n,
	     (unsigned long long)(p->off + (__u64)(at - p->addr)));
	for (k = 0; k < n; k++)
		at[k] = (unsigned char)rnd();
	result("done");
	return true;
}

bool op_peek(void)
{
	int i = pick_piece(PROT_READ);
	volatile unsigned char *at;
	unsigned int sum = 0;
	size_t n, k;

	if (i < 0)
		return false;
	n = 1 + below(4096);
	if (n > g.piece[i].len)
		n = g.piece[i].len;
	at = g.piece[i].addr + below(g.piece[i].len - n + 1);
	call("read %zu bytes at %p", n, at);
	for (k = 0; k < n; k++)
		sum += at[k];
	result("sum %u", sum);
	return true;
}

/*
 * Send a well-formed message the way a peer does, through the mapping:
 * claim the slot at tail, fill it, publish it.  Whatever the mapping
 * holds, this only reads and writes inside it.
 */
bool op_send_mapped(void)
{
	int i = pick_piece(PROT_READ | PROT_WRITE), ci;
	struct dmxp_channel_entry *e;
	struct dmxp_slot *s;
	struct mchan *c;
	__u64 tail, seq;
	__u32 len, type;

	if (i < 0)
		return false;
	ci = (int)below(NCH);
	c = &inst(g.piece[i].inst)->ch[ci];
	if (!c->present || !c->band_known)
		return false;
	e = (void *)region_at(g.piece[i].inst, entry_off(ci), DMXP_ENTRY_SIZE,
			      PROT_READ | PROT_WRITE);
	if (!e)
		return false;
	tail = __atomic_load_n(&e->tail, __ATOMIC_ACQUIRE);
	s = (void *)region_at(g.piece[i].inst, c->band + (tail & (c->cap - 1)) * DMXP_SLOT_SIZE,
			      DMXP_SLOT_SIZE, PROT_READ | PROT_WRITE);
	if (!s)
		return false;
	seq = __atomic_load_n(&s->sequence, __ATOMIC_ACQUIRE);
	len = (__u32)below(DMXP_MAX_PAYLOAD + 1);
	type = (__u32)rnd();
	call("send through the mapping: channel %u tail %llu seq %llu len %u", chan_ids[ci],
	     (unsigned long long)tail, (unsigned long long)seq, len);
	if (seq != tail ||
	    !__atomic_compare_exchange_n(&e->tail, &tail, tail + 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_RELAXED)) {
		result("not free");
		return true;
	}
	memset(&s->meta, 0, sizeof(s->meta));
	s->meta.message_id = tail;
	s->meta.channel_id = chan_ids[ci];
	s->meta.message_type = type;
	s->meta.sender_pid = (__u32)getpid();
	s->meta.sender_runtime = DMXP_RUNTIME_C;
	s->meta.payload_len = len;
	memset(s->payload, 0x5a, len);
	__atomic_store_n(&s->sequence, tail + 1, __ATOMIC_RELEASE);
	result("sent");
	return true;
}
