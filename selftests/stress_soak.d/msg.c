// SPDX-License-Identifier: MIT
/*
 * The messages: their checksum, message_type and contents, built by
 * producers; and the received-bitmaps consumers mark them in.
 */
#include "stress_soak.h"

static __u64 hash_mix(__u64 h, __u64 w)
{
	h ^= w * 0x9E3779B97F4A7C15ULL;
	h = (h << 31 | h >> 33) * 0xC2B2AE3D27D4EB4FULL;
	return h;
}

static __u64 hash_bytes(__u64 h, const unsigned char *p, size_t n)
{
	__u64 w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = hash_mix(h, w);
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = hash_mix(h, w ^ (__u64)n << 56);
	}
	return h;
}

/* The checksum of a message of @len >= HDR bytes: all but the sum field. */
__u64 msg_sum(const unsigned char *p, size_t len)
{
	__u64 h = hash_bytes(0x736f616bULL, p, offsetof(struct soak_hdr, sum));

	h = hash_bytes(h, p + HDR, len - HDR);
	return mix64(h ^ len);
}

__u32 msg_type(unsigned int p, unsigned int ch, __u64 seq)
{
	return (__u32)p << 28 | (__u32)ch << TYPE_SEQ_BITS | (__u32)(seq & TYPE_SEQ_MASK);
}

/* The bytes of a message shorter than its header. */
void short_fill(unsigned char *b, size_t len, unsigned int p, unsigned int ch, __u64 seq)
{
	__u64 s = mix64(seq << 8 ^ (__u64)p << 4 ^ ch ^ (__u64)len << 56) | 1;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (unsigned char)(rng(&s) >> 56);
}

/* Payload length: every one of 0..960, with 0, 960 and the short ones often. */
size_t pick_len(__u64 *rs)
{
	unsigned int r = rnd(rs, 100);

	if (r < 8)
		return 0;
	if (r < 13)
		return DMXP_MAX_PAYLOAD;
	if (r < 21)
		return 1 + rnd(rs, HDR - 1);
	if (r < 25)
		return HDR;
	return rnd(rs, DMXP_MAX_PAYLOAD + 1);
}

/* Write message (@p, @ch, @seq) of @len bytes at @b (maybe a slot). */
void build_msg(unsigned char *b, size_t len, unsigned int p, unsigned int ch,
	       __u32 inc, __u64 seq, __u64 *rs)
{
	struct soak_hdr h = {
		.magic = SOAK_MAGIC, .producer = (__u16)p, .chan = (__u16)ch,
		.incarnation = inc, .len = (__u32)len, .seq = seq,
	};
	unsigned char *body = b + HDR;
	size_t n;
	__u64 w;

	if (len < HDR) {
		short_fill(b, len, p, ch, seq);
		return;
	}
	for (n = len - HDR; n >= 8; body += 8, n -= 8) {
		w = rng(rs);
		memcpy(body, &w, 8);
	}
	if (n) {
		w = rng(rs);
		memcpy(body, &w, n);
	}
	memcpy(b, &h, HDR);
	h.sum = msg_sum(b, len);
	memcpy(b + offsetof(struct soak_hdr, sum), &h.sum, sizeof(h.sum));
}

/* --------------------------------------------------------------- bitmaps */

/* Make sure sequences [@lo, @lo + @n) of (@p, @ch) have bitmap chunks. */
bool chunk_ensure(unsigned int p, unsigned int ch, __u64 lo, unsigned int n)
{
	__u64 ci, last = (lo + n - 1) >> CHUNK_SHIFT;

	for (ci = lo >> CHUNK_SHIFT; ci <= last; ci++) {
		__u32 idx;

		if (ci >= MAX_CHUNKS)
			return false;
		if (__atomic_load_n(&sh->chunk[p][ch][ci], __ATOMIC_RELAXED))
			continue;
		idx = __atomic_fetch_add(&sh->arena_next, 1, __ATOMIC_RELAXED);
		if (idx >= sh->arena_chunks)
			return false;
		__atomic_store_n(&sh->chunk[p][ch][ci], idx + 1, __ATOMIC_RELEASE);
	}
	return true;
}

__u64 *bit_word(unsigned int p, unsigned int ch, __u64 seq)
{
	__u64 ci = seq >> CHUNK_SHIFT;
	__u32 c;

	if (ci >= MAX_CHUNKS)
		return NULL;
	c = __atomic_load_n(&sh->chunk[p][ch][ci], __ATOMIC_ACQUIRE);
	if (!c)
		return NULL;
	return arena + (size_t)(c - 1) * CHUNK_WORDS +
	       (seq & ((1ULL << CHUNK_SHIFT) - 1)) / 64;
}
