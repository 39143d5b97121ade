// SPDX-License-Identifier: MIT
/*
 * The shared-memory ABI: every offset and size of include/uapi/linux/dmxp.h
 * checked at run time, and the bytes the library writes into a region file
 * read back with pread(2), independently of the library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

/*
 * The harness leaves some parameters unused (TEST() wrappers, the timeout
 * handler), which -Wextra -Werror would reject.
 */
#include "kselftest_harness.h"
#include "helpers.h"

TEST_REGION_FILES_ONLY("the bytes of region files: test_kmod checks the kernel layout");

#define ENTRY_OFF(id)		(128ULL + (unsigned long long)(id) * 384)
#define SLOT_OFF(boff, i)	((boff) + (unsigned long long)(i) * 1088)

/* Little-endian reads straight from the file, whatever the host order. */
static unsigned long long rd_le(int fd, unsigned long long off, unsigned int n)
{
	unsigned char b[8] = { 0 };
	unsigned long long v = 0;
	int i;

	if (pread(fd, b, n, (off_t)off) != (ssize_t)n)
		return ~0ULL;
	for (i = (int)n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static unsigned long long rd64(int fd, unsigned long long off)
{
	return rd_le(fd, off, 8);
}

static unsigned int rd32(int fd, unsigned long long off)
{
	return (unsigned int)rd_le(fd, off, 4);
}

static unsigned int rd16(int fd, unsigned long long off)
{
	return (unsigned int)rd_le(fd, off, 2);
}

TEST(abi_constants)
{
	EXPECT_EQ(0x444D58505F4D454DULL, DMXP_MAGIC);
	EXPECT_EQ(1, DMXP_VERSION);
	EXPECT_EQ(256, DMXP_MAX_CHANNELS);
	EXPECT_EQ(98432, DMXP_HEADER_SIZE);
	EXPECT_EQ(384, DMXP_ENTRY_SIZE);
	EXPECT_EQ(1088, DMXP_SLOT_SIZE);
	EXPECT_EQ(960, DMXP_MAX_PAYLOAD);
	EXPECT_EQ(2ULL, DMXP_CAPACITY_MIN);
	EXPECT_EQ(1ULL << 24, DMXP_CAPACITY_MAX);
	EXPECT_EQ(64, DMXP_BAND_ALIGN);
	EXPECT_EQ(1U, DMXP_CHAN_CREATED);
	EXPECT_EQ(2U, DMXP_CHAN_BUSY);
	EXPECT_EQ(1U, DMXP_MSG_TOMBSTONE);
	EXPECT_EQ(0, (int)DMXP_RUNTIME_UNKNOWN);
	EXPECT_EQ(1, (int)DMXP_RUNTIME_C);
	EXPECT_EQ(2, (int)DMXP_RUNTIME_RUST);
	EXPECT_EQ(3, (int)DMXP_RUNTIME_PYTHON);
	EXPECT_EQ(4, (int)DMXP_RUNTIME_KERNEL);
	EXPECT_EQ(5, (int)DMXP_RUNTIME_GO);
	EXPECT_EQ(6, (int)DMXP_RUNTIME_JAVA);
	EXPECT_EQ(0xffff, (int)DMXP_RUNTIME_OTHER);
}

TEST(global_header_offsets)
{
	EXPECT_EQ((size_t)98432, sizeof(struct dmxp_global_header));
	EXPECT_EQ((size_t)128, _Alignof(struct dmxp_global_header));
	EXPECT_EQ((size_t)0, offsetof(struct dmxp_global_header, magic));
	EXPECT_EQ((size_t)8, offsetof(struct dmxp_global_header, version));
	EXPECT_EQ((size_t)12, offsetof(struct dmxp_global_header, max_channels));
	EXPECT_EQ((size_t)16, offsetof(struct dmxp_global_header, channel_count));
	EXPECT_EQ((size_t)20, offsetof(struct dmxp_global_header, reserved));
	EXPECT_EQ((size_t)24, offsetof(struct dmxp_global_header, region_size));
	EXPECT_EQ((size_t)32, offsetof(struct dmxp_global_header, alloc_cursor));
	EXPECT_EQ((size_t)128, offsetof(struct dmxp_global_header, channels));
	EXPECT_EQ((size_t)8, sizeof(((struct dmxp_global_header *)0)->magic));
	EXPECT_EQ((size_t)8, sizeof(((struct dmxp_global_header *)0)->region_size));
	EXPECT_EQ((size_t)8, sizeof(((struct dmxp_global_header *)0)->alloc_cursor));
	EXPECT_EQ((size_t)4, sizeof(((struct dmxp_global_header *)0)->channel_count));
}

TEST(channel_entry_offsets)
{
	unsigned int i;

	EXPECT_EQ((size_t)384, sizeof(struct dmxp_channel_entry));
	EXPECT_EQ((size_t)128, _Alignof(struct dmxp_channel_entry));
	EXPECT_EQ((size_t)0, offsetof(struct dmxp_channel_entry, channel_id));
	EXPECT_EQ((size_t)4, offsetof(struct dmxp_channel_entry, flags));
	EXPECT_EQ((size_t)8, offsetof(struct dmxp_channel_entry, capacity));
	EXPECT_EQ((size_t)16, offsetof(struct dmxp_channel_entry, band_offset));
	EXPECT_EQ((size_t)24, offsetof(struct dmxp_channel_entry, generation));
	EXPECT_EQ((size_t)28, offsetof(struct dmxp_channel_entry, owner_pid));
	EXPECT_EQ((size_t)32, offsetof(struct dmxp_channel_entry, band_capacity));
	EXPECT_EQ((size_t)128, offsetof(struct dmxp_channel_entry, tail));
	EXPECT_EQ((size_t)256, offsetof(struct dmxp_channel_entry, head));
	EXPECT_EQ((size_t)8, sizeof(((struct dmxp_channel_entry *)0)->tail));
	EXPECT_EQ((size_t)8, sizeof(((struct dmxp_channel_entry *)0)->head));
	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		EXPECT_EQ((size_t)ENTRY_OFF(i),
			  offsetof(struct dmxp_global_header, channels[i]));
	}
}

TEST(slot_offsets)
{
	EXPECT_EQ((size_t)1088, sizeof(struct dmxp_slot));
	EXPECT_EQ((size_t)64, _Alignof(struct dmxp_slot));
	EXPECT_EQ((size_t)40, sizeof(struct dmxp_msg_meta));
	EXPECT_EQ((size_t)0, offsetof(struct dmxp_slot, sequence));
	EXPECT_EQ((size_t)8, offsetof(struct dmxp_slot, meta));
	EXPECT_EQ((size_t)8, offsetof(struct dmxp_slot, meta.message_id));
	EXPECT_EQ((size_t)16, offsetof(struct dmxp_slot, meta.timestamp_ns));
	EXPECT_EQ((size_t)24, offsetof(struct dmxp_slot, meta.channel_id));
	EXPECT_EQ((size_t)28, offsetof(struct dmxp_slot, meta.message_type));
	EXPECT_EQ((size_t)32, offsetof(struct dmxp_slot, meta.sender_pid));
	EXPECT_EQ((size_t)36, offsetof(struct dmxp_slot, meta.sender_runtime));
	EXPECT_EQ((size_t)38, offsetof(struct dmxp_slot, meta.flags));
	EXPECT_EQ((size_t)40, offsetof(struct dmxp_slot, meta.payload_len));
	EXPECT_EQ((size_t)64, offsetof(struct dmxp_slot, payload));
	EXPECT_EQ((size_t)960, sizeof(((struct dmxp_slot *)0)->payload));
	EXPECT_EQ((size_t)1024, offsetof(struct dmxp_slot, __reserved));
	EXPECT_EQ((size_t)2, sizeof(((struct dmxp_msg_meta *)0)->sender_runtime));
	EXPECT_EQ((size_t)2, sizeof(((struct dmxp_msg_meta *)0)->flags));
	EXPECT_EQ((size_t)4, sizeof(((struct dmxp_msg_meta *)0)->payload_len));
}

FIXTURE(region) {
	char path[256];
	struct dmxp_region *r;
	int fd;
};

FIXTURE_SETUP(region)
{
	test_region_path(self->path, sizeof(self->path), "layout");
	self->fd = -1;
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &self->r));
	self->fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(region)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->r)
		dmxp_region_close(self->r);
	unlink(self->path);
}

TEST_F(region, fresh_file_has_documented_header)
{
	unsigned char magic[8];
	struct stat st;
	unsigned int i;
	int fd = self->fd;

	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ((off_t)TEST_REGION_SIZE, st.st_size);

	/* The magic as little-endian bytes on disk. */
	ASSERT_EQ(8, pread(fd, magic, 8, 0));
	EXPECT_EQ(0, memcmp(magic, "\x4d\x45\x4d\x5f\x50\x58\x4d\x44", 8));
	EXPECT_EQ(DMXP_MAGIC, rd64(fd, 0));
	EXPECT_EQ(1U, rd32(fd, 8));
	EXPECT_EQ(256U, rd32(fd, 12));
	EXPECT_EQ(0U, rd32(fd, 16));		/* channel_count */
	EXPECT_EQ(0U, rd32(fd, 20));		/* reserved */
	EXPECT_EQ(TEST_REGION_SIZE, rd64(fd, 24));
	/* The claim table right after the header, then the first band. */
	EXPECT_EQ(98432ULL + 512 * 64, rd64(fd, 32));	/* alloc_cursor */
	EXPECT_EQ(98432ULL, rd64(fd, 40));		/* claims_offset */
	EXPECT_EQ(512U, rd32(fd, 48));			/* claims_count */
	EXPECT_EQ(0ULL, rd64(fd, 56));			/* repair_lock */

	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		unsigned long long e = ENTRY_OFF(i);

		EXPECT_EQ(i, rd32(fd, e + 0)) TH_LOG("entry %u channel_id", i);
		EXPECT_EQ(0U, rd32(fd, e + 4)) TH_LOG("entry %u flags", i);
		EXPECT_EQ(0ULL, rd64(fd, e + 8)) TH_LOG("entry %u capacity", i);
		EXPECT_EQ(0ULL, rd64(fd, e + 128)) TH_LOG("entry %u tail", i);
		EXPECT_EQ(0ULL, rd64(fd, e + 256)) TH_LOG("entry %u head", i);
	}
}

TEST_F(region, created_channel_entry_and_slots)
{
	unsigned long long e = ENTRY_OFF(3), boff;
	struct dmxp_chan_info info;
	unsigned int i;
	int fd = self->fd;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 3, 8));

	EXPECT_EQ(3U, rd32(fd, e + 0));
	EXPECT_EQ(DMXP_CHAN_CREATED, rd32(fd, e + 4));
	EXPECT_EQ(8ULL, rd64(fd, e + 8));
	boff = rd64(fd, e + 16);
	EXPECT_EQ(0ULL, boff % 64);
	EXPECT_LE(98432ULL, boff);
	EXPECT_LE(boff + 8 * 1088, TEST_REGION_SIZE);
	EXPECT_EQ(0U, rd32(fd, e + 28));	/* owner_pid: nobody holds BUSY */
	EXPECT_LE(8ULL, rd64(fd, e + 32));	/* band_capacity */
	EXPECT_EQ(0ULL, rd64(fd, e + 128));	/* tail */
	EXPECT_EQ(0ULL, rd64(fd, e + 256));	/* head */
	EXPECT_EQ(1U, rd32(fd, 16));		/* channel_count */
	/* The first ring is carved right at the cursor. */
	EXPECT_EQ(boff + 8 * 1088, rd64(fd, 32));

	/* The other entries are untouched. */
	EXPECT_EQ(0U, rd32(fd, ENTRY_OFF(2) + 4));
	EXPECT_EQ(0U, rd32(fd, ENTRY_OFF(4) + 4));

	for (i = 0; i < 8; i++) {
		EXPECT_EQ((unsigned long long)i, rd64(fd, SLOT_OFF(boff, i)))
			TH_LOG("slot %u sequence", i);
	}

	ASSERT_EQ(0, dmxp_chan_info(self->r, 3, &info));
	EXPECT_EQ(boff, info.band_offset);
	EXPECT_EQ(8ULL, info.capacity);
}

TEST_F(region, sent_message_bytes_in_slot)
{
	static const char msg[] = "layout check payload";
	unsigned long long e = ENTRY_OFF(7), boff, s, t0, t1, ts;
	unsigned char buf[sizeof(msg)];
	struct dmxp_chan *c;
	int fd = self->fd;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 7, 8));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 7, &c));
	boff = rd64(fd, e + 16);
	s = SLOT_OFF(boff, 0);

	t0 = (unsigned long long)test_now_ns();
	ASSERT_EQ(0, dmxp_chan_send(c, msg, sizeof(msg), 0xabcd1234));
	t1 = (unsigned long long)test_now_ns();

	EXPECT_EQ(1ULL, rd64(fd, s + 0));		/* sequence: full, pos 0 */
	EXPECT_EQ(0ULL, rd64(fd, s + 8));		/* message_id */
	ts = rd64(fd, s + 16);
	EXPECT_LE(t0, ts);
	EXPECT_GE(t1, ts);
	EXPECT_EQ(7U, rd32(fd, s + 24));		/* channel_id */
	EXPECT_EQ(0xabcd1234U, rd32(fd, s + 28));	/* message_type */
	EXPECT_EQ((unsigned int)getpid(), rd32(fd, s + 32));
	EXPECT_EQ((unsigned int)DMXP_RUNTIME_C, rd16(fd, s + 36));
	EXPECT_EQ(0U, rd16(fd, s + 38));		/* flags */
	EXPECT_EQ((unsigned int)sizeof(msg), rd32(fd, s + 40));
	ASSERT_EQ((ssize_t)sizeof(msg), pread(fd, buf, sizeof(msg), (off_t)(s + 64)));
	EXPECT_EQ(0, memcmp(buf, msg, sizeof(msg)));

	EXPECT_EQ(1ULL, rd64(fd, e + 128));		/* tail */
	EXPECT_EQ(0ULL, rd64(fd, e + 256));		/* head */
	EXPECT_EQ(1ULL, rd64(fd, SLOT_OFF(boff, 1)));	/* still free for pos 1 */

	/* The second message goes to slot 1 with the next id. */
	ASSERT_EQ(0, dmxp_chan_send(c, "x", 1, 2));
	EXPECT_EQ(2ULL, rd64(fd, SLOT_OFF(boff, 1)));
	EXPECT_EQ(1ULL, rd64(fd, SLOT_OFF(boff, 1) + 8));
	EXPECT_EQ(2ULL, rd64(fd, e + 128));

	/* Consuming frees slot 0 for the producer of position 0 + capacity. */
	ASSERT_EQ((ssize_t)sizeof(msg), dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(8ULL, rd64(fd, s + 0));
	EXPECT_EQ(1ULL, rd64(fd, e + 256));
	dmxp_chan_close(c);
}

TEST_F(region, runtime_recorded_in_slot)
{
	unsigned long long boff;
	struct dmxp_chan *c;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 0, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 0, &c));
	ASSERT_EQ(0, dmxp_region_set_runtime(self->r, DMXP_RUNTIME_RUST));
	ASSERT_EQ(0, dmxp_chan_send(c, "r", 1, 0));
	boff = rd64(self->fd, ENTRY_OFF(0) + 16);
	EXPECT_EQ((unsigned int)DMXP_RUNTIME_RUST, rd16(self->fd, SLOT_OFF(boff, 0) + 36));
	dmxp_chan_close(c);
}

TEST_F(region, aborted_reservation_is_tombstone_in_slot)
{
	unsigned long long boff;
	struct dmxp_chan *c;
	struct dmxp_ref ref;

	ASSERT_EQ(0, dmxp_chan_create(self->r, 9, 4));
	ASSERT_EQ(0, dmxp_chan_open(self->r, 9, &c));
	boff = rd64(self->fd, ENTRY_OFF(9) + 16);
	ASSERT_EQ(0, dmxp_chan_reserve(c, &ref));
	/* Claimed but not published: tail moved, the sequence did not. */
	EXPECT_EQ(1ULL, rd64(self->fd, ENTRY_OFF(9) + 128));
	EXPECT_EQ(0ULL, rd64(self->fd, SLOT_OFF(boff, 0)));
	dmxp_chan_abort(c, &ref);
	EXPECT_EQ(1ULL, rd64(self->fd, SLOT_OFF(boff, 0)));
	EXPECT_EQ(DMXP_MSG_TOMBSTONE, rd16(self->fd, SLOT_OFF(boff, 0) + 38));
	EXPECT_EQ(0U, rd32(self->fd, SLOT_OFF(boff, 0) + 40));
	dmxp_chan_close(c);
}

TEST_HARNESS_MAIN
