// SPDX-License-Identifier: MIT
/*
 * Channels: create, destroy, open, close, info, list, and what stale
 * handles see after a destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

/*
 * The harness leaves some parameters unused (TEST() wrappers, the timeout
 * handler), which -Wextra -Werror would reject.
 */
#include "kselftest_harness.h"
#include "helpers.h"

#define ENTRY_OFF(id)	(128ULL + (unsigned long long)(id) * 384)
#define RING_BYTES(cap)	((unsigned long long)(cap) * DMXP_SLOT_SIZE)

FIXTURE(chan) {
	char path[256];
	struct dmxp_region *r;
};

FIXTURE_SETUP(chan)
{
	test_region_path(self->path, sizeof(self->path), "chan");
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
}

FIXTURE_TEARDOWN(chan)
{
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
}

/*
 * A little-endian header field read through a fresh mapping of the region
 * (not through the library's channel calls), on either backend.
 */
static unsigned long long file_le(const char *path, unsigned long long off, unsigned int n)
{
	const unsigned char *b;
	struct dmxp_region *r;
	unsigned long long v = 0;
	int i;

	if (dmxp_region_open(path, 0, 0, &r))
		return ~0ULL;
	b = (const unsigned char *)dmxp_region_header(r);
	if (off + n > dmxp_region_size(r)) {
		dmxp_region_close(r);
		return ~0ULL;
	}
	for (i = (int)n - 1; i >= 0; i--)
		v = v << 8 | __atomic_load_n(&b[off + (unsigned int)i], __ATOMIC_RELAXED);
	dmxp_region_close(r);
	return v;
}

static unsigned int channel_count(const char *path)
{
	return (unsigned int)file_le(path, 16, 4);
}

static unsigned long long alloc_cursor(const char *path)
{
	return file_le(path, 32, 8);
}

/* Fork @n children that each run @fn(@i) once released together; 0 if all exited 0. */
static int run_children(unsigned int n, int (*fn)(void *arg, unsigned int i), void *arg,
			int *status)
{
	int go[2];
	pid_t pids[64];
	unsigned int i;
	char c;

	if (n > 64 || pipe(go))
		return -1;
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -1;
		if (!pids[i]) {
			close(go[1]);
			/* Returns 0 (EOF) when the parent closes its end. */
			if (read(go[0], &c, 1) != 0)
				_exit(100);
			_exit(fn(arg, i));
		}
	}
	close(go[0]);
	usleep(20000);	/* let them all reach read() */
	close(go[1]);
	for (i = 0; i < n; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) != pids[i])
			return -1;
		status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 200 + WTERMSIG(st);
	}
	return 0;
}

/* ------------------------------------------------------------ bad input */

TEST_F(chan, create_id_256_fails_einval)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 256, 8));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, UINT32_MAX, 8));
	EXPECT_EQ(0U, channel_count(self->path));
	EXPECT_EQ(0, dmxp_chan_list(self->r, NULL, 0));
}

TEST_F(chan, create_id_255_is_valid)
{
	unsigned int ids[1];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 255, 2));
	ASSERT_EQ(1, dmxp_chan_list(self->r, ids, 1));
	EXPECT_EQ(255U, ids[0]);
}

TEST_F(chan, create_capacity_0_uses_default)
{
	struct dmxp_chan_info info;
	struct dmxp_chan *c;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 4, 0));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 4, &info));
	EXPECT_EQ((__u64)DMXP_DEFAULT_CAPACITY, info.capacity);
	ASSERT_EQ(0, dmxp_chan_open(self->r, 4, &c));
	EXPECT_EQ((size_t)DMXP_DEFAULT_CAPACITY, dmxp_chan_capacity(c));
	EXPECT_EQ(4U, dmxp_chan_id(c));
	dmxp_chan_close(c);
}

TEST_F(chan, create_capacity_1_fails_einval)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, 1));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 4));
}

TEST_F(chan, create_capacity_3_fails_einval)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, 3));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, 6));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, 1023));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 4));
}

TEST_F(chan, create_capacity_above_max_fails_einval)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, (1UL << 24) + 1));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, 1UL << 25));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, SIZE_MAX));
	EXPECT_EQ(-EINVAL, dmxp_chan_create(self->r, 4, (size_t)1 << 63));
	EXPECT_EQ((unsigned long long)FIRST_BAND, alloc_cursor(self->path));
}

TEST_F(chan, create_capacity_max_is_valid_but_needs_room)
{
	/* 2^24 slots is a valid capacity: this small region only lacks room. */
	EXPECT_EQ(-ENOSPC, dmxp_chan_create(self->r, 4, 1UL << 24));
}

TEST_F(chan, create_capacity_2_is_valid)
{
	struct dmxp_chan *c;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 4, 2));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 4, &c));
	EXPECT_EQ((size_t)2, dmxp_chan_capacity(c));
	dmxp_chan_close(c);
}

TEST_F(chan, create_twice_fails_eexist)
{
	struct dmxp_chan_info before, after;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 9, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 9, &before));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(self->r, 9, 8));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(self->r, 9, 16));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 9, &after));
	EXPECT_EQ(before.capacity, after.capacity);
	EXPECT_EQ(before.band_offset, after.band_offset);
	EXPECT_EQ(1U, channel_count(self->path));
}

TEST_F(chan, create_twice_keeps_messages_and_handles)
{
	struct dmxp_chan *c;
	char buf[8];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 9, 8));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 9, &c));
	ASSERT_EQ(0, dmxp_chan_send(c, "keep", 4, 0));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(self->r, 9, 8));
	EXPECT_EQ(4, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	dmxp_chan_close(c);
}

TEST_F(chan, destroy_not_created_fails_enoent)
{
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 0));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 255));
}

TEST_F(chan, destroy_twice_fails_enoent)
{
	ASSERT_EQ(0, dmxp_chan_create(self->r, 0, 2));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 0));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 0));
	EXPECT_EQ(0U, channel_count(self->path));
}

TEST_F(chan, destroy_id_256_fails_einval)
{
	EXPECT_EQ(-EINVAL, dmxp_chan_destroy(self->r, 256));
}

TEST_F(chan, open_not_created_fails_enoent)
{
	struct dmxp_chan *c = NULL;

	EXPECT_EQ(-ENOENT, dmxp_chan_open(self->r, 17, &c));
	EXPECT_EQ(NULL, c);
}

TEST_F(chan, open_destroyed_fails_enoent)
{
	struct dmxp_chan *c = NULL;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 17, 4));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 17));
	EXPECT_EQ(-ENOENT, dmxp_chan_open(self->r, 17, &c));
}

TEST_F(chan, open_id_256_fails_einval)
{
	struct dmxp_chan *c = NULL;

	EXPECT_EQ(-EINVAL, dmxp_chan_open(self->r, 256, &c));
}

TEST_F(chan, open_null_out_fails_einval)
{
	ASSERT_EQ(0, dmxp_chan_create(self->r, 17, 4));
	EXPECT_EQ(-EINVAL, dmxp_chan_open(self->r, 17, NULL));
}

TEST_F(chan, info_not_created_fails_enoent)
{
	struct dmxp_chan_info info;

	EXPECT_EQ(-ENOENT, dmxp_chan_info(self->r, 3, &info));
}

TEST_F(chan, info_id_256_fails_einval)
{
	struct dmxp_chan_info info;

	EXPECT_EQ(-EINVAL, dmxp_chan_info(self->r, 256, &info));
}

TEST_F(chan, info_null_fails_einval)
{
	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 4));
	EXPECT_EQ(-EINVAL, dmxp_chan_info(self->r, 3, NULL));
}

TEST_F(chan, list_null_ids_with_n_fails_einval)
{
	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 4));
	EXPECT_EQ(-EINVAL, dmxp_chan_list(self->r, NULL, 4));
}

/* --------------------------------------------------------------- space */

TEST_F(chan, region_too_small_fails_enospc_and_changes_nothing)
{
	unsigned long long cursor = alloc_cursor(self->path);
	size_t free_before = dmxp_region_free(self->r);
	struct dmxp_chan_info info;
	unsigned int ids[4];

	/* 4096 slots need 4.25 MiB; the region has 4 MiB of rings. */
	EXPECT_EQ(-ENOSPC, dmxp_chan_create(self->r, 5, 4096));
	EXPECT_EQ(cursor, alloc_cursor(self->path));
	EXPECT_EQ(free_before, dmxp_region_free(self->r));
	EXPECT_EQ(0U, channel_count(self->path));
	EXPECT_EQ(0, dmxp_chan_list(self->r, ids, 4));
	EXPECT_EQ(-ENOENT, dmxp_chan_info(self->r, 5, &info));
	EXPECT_EQ(0U, (unsigned int)file_le(self->path, ENTRY_OFF(5) + 4, 4));
	/* The id is free: a ring that fits can be created. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, 5, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 5, &info));
	EXPECT_EQ(cursor, info.band_offset);
}

TEST_F(chan, region_full_fails_enospc)
{
	struct dmxp_chan_info info;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 0, 2048));
	EXPECT_EQ(-ENOSPC, dmxp_chan_create(self->r, 1, 2048));
	EXPECT_EQ(1U, channel_count(self->path));
	/* What is left still serves a smaller ring. */
	ASSERT_EQ(0, dmxp_chan_create(self->r, 1, 1024));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 1, &info));
	EXPECT_LE(info.band_offset + RING_BYTES(1024), (__u64)TEST_REGION_SIZE);
}

TEST(smallest_region_holds_capacity_2)
{
	size_t size = DMXP_HEADER_SIZE + 2 * DMXP_SLOT_SIZE;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char path[256];
	char buf[4];

	test_region_path(path, sizeof(path), "chan-small");
	ASSERT_EQ(0, dmxp_region_open(path, size, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	/* A kernel region is rounded up to whole pages: less than 4 slots more. */
	size = dmxp_region_size(r);
	ASSERT_GT((size_t)DMXP_HEADER_SIZE + 4 * DMXP_SLOT_SIZE, size);
	EXPECT_EQ(size - DMXP_HEADER_SIZE, dmxp_region_free(r));
	EXPECT_EQ(-ENOSPC, dmxp_chan_create(r, 0, 4));
	EXPECT_EQ(0, dmxp_chan_create(r, 0, 2));
	EXPECT_EQ(size - DMXP_HEADER_SIZE - 2 * DMXP_SLOT_SIZE, dmxp_region_free(r));
	EXPECT_EQ(-ENOSPC, dmxp_chan_create(r, 1, 2));
	ASSERT_EQ(0, dmxp_chan_open(r, 0, &c));
	EXPECT_EQ(0, dmxp_chan_send(c, "a", 1, 0));
	EXPECT_EQ(0, dmxp_chan_send(c, "b", 1, 0));
	EXPECT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	dmxp_chan_close(c);
	dmxp_region_close(r);
	test_region_remove(path);
}

TEST_F(chan, recreate_reuses_band_when_it_fits)
{
	struct dmxp_chan_info info;
	unsigned long long boff, cursor;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	boff = info.band_offset;
	cursor = alloc_cursor(self->path);

	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 6));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	EXPECT_EQ(boff, info.band_offset);
	EXPECT_EQ(cursor, alloc_cursor(self->path));

	/* A smaller ring fits the band too. */
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 6));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 2));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	EXPECT_EQ(boff, info.band_offset);
	EXPECT_EQ(2ULL, info.capacity);

	/* And the band keeps its full size: 8 fits again afterwards. */
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 6));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	EXPECT_EQ(boff, info.band_offset);
	EXPECT_EQ(cursor, alloc_cursor(self->path));
}

TEST_F(chan, recreate_larger_takes_new_band)
{
	struct dmxp_chan_info info, other;
	unsigned long long boff, cursor;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 8));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	boff = info.band_offset;
	ASSERT_EQ(0, dmxp_chan_create(self->r, 7, 4));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 7, &other));
	cursor = alloc_cursor(self->path);

	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 6));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 16));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 6, &info));
	EXPECT_NE(boff, info.band_offset);
	EXPECT_EQ(cursor, info.band_offset);
	EXPECT_EQ(cursor + RING_BYTES(16), alloc_cursor(self->path));
	EXPECT_EQ(16ULL, info.capacity);
	/* It overlaps neither its old band's neighbour nor anything else. */
	EXPECT_LE(other.band_offset + RING_BYTES(4), info.band_offset);
}

TEST_F(chan, recreated_channel_starts_empty)
{
	struct dmxp_msg_meta meta;
	struct dmxp_chan *c;
	char buf[8];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 6, &c));
	ASSERT_EQ(0, dmxp_chan_send(c, "old1", 4, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "old2", 4, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "old3", 4, 0));
	dmxp_chan_close(c);
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 6));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 6, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 6, &c));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	/* All four slots are free again and ids start over. */
	ASSERT_EQ(0, dmxp_chan_send(c, "new1", 4, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "new2", 4, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "new3", 4, 0));
	ASSERT_EQ(0, dmxp_chan_send(c, "new4", 4, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_send(c, "new5", 4, 0));
	ASSERT_EQ(4, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(0, memcmp(buf, "new1", 4));
	EXPECT_EQ(0ULL, meta.message_id);
	dmxp_chan_close(c);
}

/* ---------------------------------------------------------- stale handles */

FIXTURE(stale) {
	char path[256];
	struct dmxp_region *r;
	struct dmxp_chan *c;
};

FIXTURE_VARIANT(stale) {
	bool recreate;	/* the id is created again after the destroy */
};

FIXTURE_VARIANT_ADD(stale, destroyed) {
	.recreate = false,
};

FIXTURE_VARIANT_ADD(stale, recreated) {
	.recreate = true,
};

FIXTURE_SETUP(stale)
{
	test_region_path(self->path, sizeof(self->path), "stale");
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &self->c));
	ASSERT_EQ(0, dmxp_chan_send(self->c, "before", 6, 0));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 2));
	if (variant->recreate) {
		struct dmxp_chan *c;

		ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
		/* Something in the new ring for a stale consumer to steal. */
		ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &c));
		ASSERT_EQ(0, dmxp_chan_send(c, "after", 5, 0));
		dmxp_chan_close(c);
	}
}

FIXTURE_TEARDOWN(stale)
{
	if (self->c)
		dmxp_chan_close(self->c);
	if (self->r)
		dmxp_region_close(self->r);
	test_region_remove(self->path);
}

/* Nothing the stale handle did reached the new ring (or the old one). */
#define EXPECT_RING_UNTOUCHED() do {					\
	struct dmxp_chan_info __i;					\
									\
	if (variant->recreate) {					\
		ASSERT_EQ(0, dmxp_chan_info(self->r, 2, &__i));		\
		EXPECT_EQ(1ULL, __i.tail);				\
		EXPECT_EQ(0ULL, __i.head);				\
	} else {							\
		EXPECT_EQ(-ENOENT, dmxp_chan_info(self->r, 2, &__i));	\
	}								\
} while (0)

TEST_F(stale, send_fails_eidrm)
{
	EXPECT_EQ(-EIDRM, dmxp_chan_send(self->c, "x", 1, 0));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, recv_fails_eidrm)
{
	char buf[16];

	EXPECT_EQ(-EIDRM, dmxp_chan_recv(self->c, buf, sizeof(buf), NULL));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, reserve_fails_eidrm)
{
	struct dmxp_ref ref;

	EXPECT_EQ(-EIDRM, dmxp_chan_reserve(self->c, &ref));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, peek_fails_eidrm)
{
	struct dmxp_ref ref;

	EXPECT_EQ(-EIDRM, dmxp_chan_peek(self->c, &ref));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, send_batch_fails_eidrm)
{
	struct dmxp_smsg m = { .buf = "x", .len = 1, .type = 0 };

	EXPECT_EQ(-EIDRM, dmxp_chan_send_batch(self->c, &m, 1));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, recv_batch_fails_eidrm)
{
	char buf[16];
	struct dmxp_rmsg m = { .buf = buf, .buf_len = sizeof(buf) };

	EXPECT_EQ(-EIDRM, dmxp_chan_recv_batch(self->c, &m, 1));
	EXPECT_RING_UNTOUCHED();
}

TEST_F(stale, reopened_handle_works)
{
	struct dmxp_chan *c;
	char buf[16];

	if (!variant->recreate) {
		EXPECT_EQ(-ENOENT, dmxp_chan_open(self->r, 2, &c));
		return;
	}
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &c));
	EXPECT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "after", 5));
	/* The old ring's message is gone. */
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	dmxp_chan_close(c);
}

/* Destroy channel 2 and create it again, of 4 slots; *@c: a handle of the new ring. */
static void recreate(FIXTURE_DATA(chan) *self, struct __test_metadata *_metadata,
		     struct dmxp_chan **c)
{
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 2));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, c));
}

/*
 * A reservation or a peek that spans a destroy and a re-create of the
 * same id must not touch the new ring, which reuses the old band: what
 * the stale handle sends is discarded, and the new ring keeps working.
 */
TEST_F(chan, stale_commit_does_not_reach_recreated_ring)
{
	struct dmxp_chan *old, *c;
	struct dmxp_ref ref;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &old));
	ASSERT_EQ(0, dmxp_chan_reserve(old, &ref));
	memcpy(ref.payload, "stale", 5);
	recreate(self, _metadata, &c);

	EXPECT_EQ(-EIDRM, dmxp_chan_commit(old, &ref, 5, 0));
	/* The reservation is finished: it cannot be used again. */
	EXPECT_EQ(-EINVAL, dmxp_chan_commit(old, &ref, 5, 0));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, dmxp_chan_send(c, "fresh", 5, 0));
	ASSERT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "fresh", 5));
	dmxp_chan_close(c);
	dmxp_chan_close(old);
}

TEST_F(chan, stale_abort_does_not_reach_recreated_ring)
{
	struct dmxp_chan *old, *c;
	struct dmxp_ref ref;
	char buf[16];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &old));
	ASSERT_EQ(0, dmxp_chan_reserve(old, &ref));
	recreate(self, _metadata, &c);

	EXPECT_EQ(-EIDRM, dmxp_chan_abort(old, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_abort(old, &ref));
	ASSERT_EQ(0, dmxp_chan_send(c, "fresh", 5, 0));
	ASSERT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "fresh", 5));
	EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	dmxp_chan_close(c);
	dmxp_chan_close(old);
}

TEST_F(chan, stale_release_does_not_break_recreated_ring)
{
	struct dmxp_chan *old, *c;
	struct dmxp_ref ref;
	char buf[16];
	int i;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 2, &old));
	ASSERT_EQ(0, dmxp_chan_send(old, "old", 3, 0));
	ASSERT_EQ(0, dmxp_chan_peek(old, &ref));
	recreate(self, _metadata, &c);

	EXPECT_EQ(-EIDRM, dmxp_chan_release(old, &ref));
	EXPECT_EQ(-EINVAL, dmxp_chan_release(old, &ref));
	/* The new ring still takes and gives back all four messages in order. */
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, dmxp_chan_send(c, "fresh", 5, (__u32)i)) TH_LOG("send %d", i);
	}
	for (i = 0; i < 4; i++) {
		struct dmxp_msg_meta meta;

		EXPECT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), &meta)) TH_LOG("recv %d", i);
		EXPECT_EQ((__u32)i, meta.message_type);
	}
	dmxp_chan_close(c);
	dmxp_chan_close(old);
}

/* --------------------------------------------------------- info and list */

TEST_F(chan, list_returns_ascending_ids)
{
	static const unsigned int made[] = { 200, 3, 255, 0, 17 };
	static const unsigned int want[] = { 0, 3, 17, 200, 255 };
	unsigned int ids[8], i;

	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, dmxp_chan_create(self->r, made[i], 2));
	}
	memset(ids, 0xff, sizeof(ids));
	ASSERT_EQ(5, dmxp_chan_list(self->r, ids, 8));
	for (i = 0; i < 5; i++) {
		EXPECT_EQ(want[i], ids[i]);
	}
	EXPECT_EQ(0xffffffffU, ids[5]);
}

TEST_F(chan, list_returns_total_when_n_smaller)
{
	unsigned int ids[4], i;

	for (i = 10; i < 16; i++) {
		ASSERT_EQ(0, dmxp_chan_create(self->r, i, 2));
	}
	memset(ids, 0xff, sizeof(ids));
	ASSERT_EQ(6, dmxp_chan_list(self->r, ids, 2));
	EXPECT_EQ(10U, ids[0]);
	EXPECT_EQ(11U, ids[1]);
	EXPECT_EQ(0xffffffffU, ids[2]);
	EXPECT_EQ(6, dmxp_chan_list(self->r, NULL, 0));
}

TEST_F(chan, list_drops_destroyed)
{
	unsigned int ids[4];

	ASSERT_EQ(0, dmxp_chan_create(self->r, 1, 2));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 2, 2));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 2));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 2));
	ASSERT_EQ(2, dmxp_chan_list(self->r, ids, 4));
	EXPECT_EQ(1U, ids[0]);
	EXPECT_EQ(3U, ids[1]);
}

TEST_F(chan, info_tracks_sends_and_receives)
{
	struct dmxp_chan_info info;
	struct dmxp_chan *c;
	struct dmxp_ref ref;
	char buf[8];
	int i;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 8, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 8, &c));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 8, &info));
	EXPECT_EQ(8U, info.id);
	EXPECT_EQ(DMXP_CHAN_CREATED, info.flags);
	EXPECT_EQ(4ULL, info.capacity);
	EXPECT_EQ(0ULL, info.head);
	EXPECT_EQ(0ULL, info.tail);
	EXPECT_EQ(0ULL, info.depth);
	EXPECT_EQ(0ULL, info.band_offset % DMXP_BAND_ALIGN);
	EXPECT_LE((__u64)DMXP_HEADER_SIZE, info.band_offset);

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, dmxp_chan_send(c, "m", 1, 0));
	}
	ASSERT_EQ(0, dmxp_chan_info(self->r, 8, &info));
	EXPECT_EQ(0ULL, info.head);
	EXPECT_EQ(3ULL, info.tail);
	EXPECT_EQ(3ULL, info.depth);

	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 8, &info));
	EXPECT_EQ(1ULL, info.head);
	EXPECT_EQ(3ULL, info.tail);
	EXPECT_EQ(2ULL, info.depth);

	/* A reservation counts: claimed positions are part of the depth. */
	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	ASSERT_EQ(0, dmxp_chan_info(self->r, 8, &info));
	EXPECT_EQ(4ULL, info.tail);
	EXPECT_EQ(3ULL, info.depth);
	ASSERT_EQ(0, dmxp_chan_commit(c, &ref, 1, 0));

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	}
	ASSERT_EQ(0, dmxp_chan_info(self->r, 8, &info));
	EXPECT_EQ(4ULL, info.head);
	EXPECT_EQ(4ULL, info.tail);
	EXPECT_EQ(0ULL, info.depth);
	dmxp_chan_close(c);
}

TEST_F(chan, channel_count_tracks_create_and_destroy)
{
	unsigned int i;

	EXPECT_EQ(0U, channel_count(self->path));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, dmxp_chan_create(self->r, i * 50, 2));
		EXPECT_EQ(i + 1, channel_count(self->path));
	}
	/* Failed calls change nothing. */
	EXPECT_EQ(-EEXIST, dmxp_chan_create(self->r, 0, 2));
	EXPECT_EQ(-ENOENT, dmxp_chan_destroy(self->r, 1));
	EXPECT_EQ(5U, channel_count(self->path));
	ASSERT_EQ(0, dmxp_chan_destroy(self->r, 50));
	EXPECT_EQ(4U, channel_count(self->path));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 50, 2));
	EXPECT_EQ(5U, channel_count(self->path));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, dmxp_chan_destroy(self->r, i * 50));
	}
	EXPECT_EQ(0U, channel_count(self->path));
}

TEST_F(chan, created_channel_visible_to_other_region_handle)
{
	struct dmxp_region *r2;
	struct dmxp_chan *c1, *c2;
	char buf[8];

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r2));
	ASSERT_EQ(0, dmxp_chan_create(self->r, 12, 4));
	ASSERT_EQ(0, dmxp_chan_open(r2, 12, &c2));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 12, &c1));
	ASSERT_EQ(0, dmxp_chan_send(c1, "hi", 2, 0));
	EXPECT_EQ(2, dmxp_chan_recv(c2, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, dmxp_chan_destroy(r2, 12));
	EXPECT_EQ(-EIDRM, dmxp_chan_send(c1, "hi", 2, 0));
	dmxp_chan_close(c1);
	dmxp_chan_close(c2);
	dmxp_region_close(r2);
}

TEST_F(chan, rdonly_handle_inspects_only)
{
	struct dmxp_region *rw, *ro;
	struct dmxp_chan_info info;
	struct dmxp_chan *c;
	unsigned int ids[4];
	long page = sysconf(_SC_PAGESIZE);

	rw = self->r;
	ASSERT_EQ(0, dmxp_chan_create(rw, 3, 4));
	ASSERT_EQ(0, dmxp_chan_open(rw, 3, &c));
	ASSERT_EQ(0, dmxp_chan_send(c, "hi", 2, 0));

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, DMXP_OPEN_RDONLY, &ro));
	EXPECT_EQ(dmxp_region_size(rw), dmxp_region_size(ro));
	EXPECT_EQ(1, dmxp_chan_list(ro, ids, 4));
	EXPECT_EQ(3U, ids[0]);
	ASSERT_EQ(0, dmxp_chan_info(ro, 3, &info));
	EXPECT_EQ(1ULL, info.depth);
	EXPECT_EQ(DMXP_MAGIC, dmxp_region_header(ro)->magic);
	/* Only looking: the ring and the table are written by claims. */
	EXPECT_EQ(-EBADF, dmxp_chan_open(ro, 3, &c));
	EXPECT_EQ(-EBADF, dmxp_chan_create(ro, 4, 4));
	EXPECT_EQ(-EBADF, dmxp_chan_destroy(ro, 3));
	/* Mapped read-only, for good. */
	EXPECT_EQ(-1, mprotect((void *)dmxp_region_header(ro), (size_t)page,
			       PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* The read-write handle is untouched. */
	ASSERT_EQ(0, dmxp_chan_info(rw, 3, &info));
	EXPECT_EQ(1ULL, info.depth);
	dmxp_region_close(ro);
	dmxp_chan_close(c);
}

TEST_F_TIMEOUT(chan, busy_entry_fails_ebusy, 20)
{
	__u32 busy = DMXP_CHAN_BUSY, me = (__u32)getpid();
	struct dmxp_chan_info info;
	int fd;

	if (test_on_kernel())
		SKIP(return, "the kernel creates channels under its own lock");
	fd = open(self->path, O_RDWR | O_CLOEXEC);
	/* A live process holds BUSY on id 30 (flags at entry + 4, owner_pid + 28). */
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, pwrite(fd, &busy, 4, (off_t)(ENTRY_OFF(30) + 4)));
	ASSERT_EQ(4, pwrite(fd, &me, 4, (off_t)(ENTRY_OFF(30) + 28)));
	close(fd);
	EXPECT_EQ(-EBUSY, dmxp_chan_create(self->r, 30, 4));
	EXPECT_EQ(-ENOENT, dmxp_chan_info(self->r, 30, &info));
	/* Other ids are unaffected. */
	EXPECT_EQ(0, dmxp_chan_create(self->r, 31, 4));
}

TEST_F_TIMEOUT(chan, busy_entry_of_dead_holder_is_taken_back, 20)
{
	__u32 busy = DMXP_CHAN_BUSY, dead, gen;
	const struct dmxp_channel_entry *e = &dmxp_region_header(self->r)->channels[30];
	struct stat ns;
	long long t0;
	pid_t pid;
	int fd;

	if (test_on_kernel())
		SKIP(return, "the kernel creates channels under its own lock");
	ASSERT_EQ(0, stat("/proc/self/ns/pid", &ns));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	dead = (__u32)pid;
	/* A creator of our pid namespace that died holding BUSY on id 30. */
	fd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(4, pwrite(fd, &busy, 4, (off_t)(ENTRY_OFF(30) + 4)));
	ASSERT_EQ(4, pwrite(fd, &dead, 4, (off_t)(ENTRY_OFF(30) + 28)));
	/* Not yet naming its namespace (owner_ns, at + 88): not provably dead. */
	EXPECT_EQ(-EBUSY, dmxp_chan_create(self->r, 30, 4));
	ASSERT_EQ(8, pwrite(fd, &(__u64){ ns.st_ino }, 8, (off_t)(ENTRY_OFF(30) + 88)));
	close(fd);
	gen = e->generation;
	t0 = test_now_ns();
	EXPECT_EQ(0, dmxp_chan_create(self->r, 30, 4));
	EXPECT_GT(200LL * 1000000, test_now_ns() - t0);
	/* Taken back (+1), then created (+1). */
	EXPECT_EQ(gen + 2, e->generation);
	EXPECT_EQ(0U, e->owner_pid);
	EXPECT_EQ(0ULL, e->owner_ns);
	EXPECT_EQ(0, dmxp_chan_destroy(self->r, 30));
}

/* ------------------------------------------------------------ concurrency */

struct race {
	const char *path;
	unsigned int id;	/* same id for all, or ~0U: child i creates i * 3 */
	size_t cap;
	unsigned int shift;	/* with ~0U: child i uses 2 << ((i + shift) % 4) */
};

static size_t race_cap(const struct race *ra, unsigned int i)
{
	return ra->id == ~0U ? (size_t)2 << ((i + ra->shift) % 4) : ra->cap;
}

static int race_create(void *arg, unsigned int i)
{
	const struct race *ra = arg;
	struct dmxp_region *r;
	unsigned int id = ra->id == ~0U ? i * 3 : ra->id;
	size_t cap = race_cap(ra, i);
	int ret;

	if (dmxp_region_open(ra->path, 0, 0, &r))
		return 99;
	ret = dmxp_chan_create(r, id, cap);
	dmxp_region_close(r);
	switch (ret) {
	case 0:
		return 0;
	case -EEXIST:
		return 1;
	default:
		return 10 + (-ret & 0x3f);
	}
}

TEST_F(chan, concurrent_create_same_id_one_wins)
{
	struct race ra = { self->path, 40, 64, 0 };
	int status[8];
	unsigned int round, rounds = 20 / test_time_scale() ?: 1, i;

	/* Fewer rounds in a checked kernel, where each costs ten times more. */
	for (round = 0; round < rounds; round++) {
		int won = 0, lost = 0;

		ASSERT_EQ(0, run_children(8, race_create, &ra, status));
		for (i = 0; i < 8; i++) {
			if (status[i] == 0)
				won++;
			else if (status[i] == 1)
				lost++;
			else
				TH_LOG("round %u child %u exited %d", round, i, status[i]);
		}
		EXPECT_EQ(1, won);
		EXPECT_EQ(7, lost);
		EXPECT_EQ(1U, channel_count(self->path));
		ASSERT_EQ(0, dmxp_chan_destroy(self->r, 40));
	}
}

TEST_F(chan, concurrent_create_different_ids_disjoint_bands)
{
	struct race ra = { self->path, ~0U, 0, 0 };
	struct dmxp_chan_info info[16];
	unsigned int round, rounds = 10 / test_time_scale() ?: 1, i, j, n = 16;
	int status[16];

	for (round = 0; round < rounds; round++) {
		ASSERT_EQ(0, run_children(n, race_create, &ra, status));
		for (i = 0; i < n; i++) {
			EXPECT_EQ(0, status[i]) TH_LOG("round %u child %u", round, i);
		}
		EXPECT_EQ(n, channel_count(self->path));
		for (i = 0; i < n; i++) {
			ASSERT_EQ(0, dmxp_chan_info(self->r, i * 3, &info[i]));
			EXPECT_EQ((__u64)race_cap(&ra, i), info[i].capacity);
			EXPECT_LE(info[i].band_offset + RING_BYTES(info[i].capacity),
				  alloc_cursor(self->path));
		}
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++) {
				__u64 ai = info[i].band_offset;
				__u64 bi = ai + RING_BYTES(info[i].capacity);
				__u64 aj = info[j].band_offset;
				__u64 bj = aj + RING_BYTES(info[j].capacity);

				EXPECT_TRUE(bi <= aj || bj <= ai)
					TH_LOG("round %u: channels %u and %u overlap",
					       round, i * 3, j * 3);
			}
		/*
		 * Re-create with shifted capacities next round: some rings
		 * reuse their band, others need a new one at the same time.
		 */
		for (i = 0; i < n; i++) {
			ASSERT_EQ(0, dmxp_chan_destroy(self->r, i * 3));
		}
		ra.shift++;
	}
}

/*
 * Taking a claim record reads /proc under the library's locks.  A thread
 * with a cancellation pending that sends for the first time must not be
 * cancelled in there: it would leave the lock held, and every later
 * thread's first claim would hang.
 */
static void *send_cancel_pending(void *arg)
{
	pthread_cancel(pthread_self());		/* deferred: pending */
	return (void *)(long)dmxp_chan_send(arg, "x", 1, 0);
}

static void *send_once(void *arg)
{
	return (void *)(long)dmxp_chan_send(arg, "y", 1, 0);
}

/* In a child of fork(), whose pool of records starts empty: 0 or why not. */
static int cancelled_first_send(struct dmxp_chan *c)
{
	struct timespec ts;
	pthread_t tid;
	void *res;

	if (pthread_create(&tid, NULL, send_cancel_pending, c) || pthread_join(tid, &res))
		return 10;
	if (pthread_create(&tid, NULL, send_once, c))
		return 11;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	if (pthread_timedjoin_np(tid, &res, &ts))
		return 12;	/* a later thread's first send hung */
	return res ? 13 : 0;
}

TEST_F(chan, send_with_cancellation_pending_leaves_no_lock)
{
	struct dmxp_chan *c;
	int status, i;
	char buf[4];
	pid_t pid;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 5, 64));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 5, &c));
	for (i = 0; i < 8; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			alarm(10);
			_exit(cancelled_first_send(c));
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("round %d: a later first send hung", i);
	}
	while (dmxp_chan_recv(c, buf, sizeof(buf), NULL) > 0)
		;
	dmxp_chan_close(c);
}

TEST_HARNESS_MAIN
