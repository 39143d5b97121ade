// SPDX-License-Identifier: MIT
/*
 * Regions: open (create, attach), validation of what is found at the
 * path, unlink, the accessors, and concurrent creation.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The harness leaves some parameters unused (TEST() wrappers, the timeout
 * handler), which -Wextra -Werror would reject.
 */
#include "kselftest_harness.h"
#include "helpers.h"

TEST_REGION_FILES_ONLY("region files: the kernel backend has test_kmod");

#define ENTRY_OFF(id)	(128ULL + (unsigned long long)(id) * 384)

FIXTURE(region) {
	char path[256];
	char other[300];	/* a second path some tests use */
};

FIXTURE_SETUP(region)
{
	test_region_path(self->path, sizeof(self->path), "region");
	snprintf(self->other, sizeof(self->other), "%s-other", self->path);
}

FIXTURE_TEARDOWN(region)
{
	unlink(self->path);
	unlink(self->other);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Overwrite @len bytes at @off of the file at @path. */
static int poke(const char *path, unsigned long long off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, (off_t)off);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int poke32(const char *path, unsigned long long off, __u32 v)
{
	unsigned char b[4] = { v, v >> 8, v >> 16, v >> 24 };

	return poke(path, off, b, 4);
}

static int poke64(const char *path, unsigned long long off, __u64 v)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return poke(path, off, b, 8);
}

/* Write a file of @size bytes that is not a region. */
static int write_junk(const char *path, size_t size, unsigned int seed)
{
	unsigned char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t done = 0;

	if (fd < 0)
		return -errno;
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		test_fill(buf, n, seed, done);
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -EIO;
		}
		done += n;
	}
	close(fd);
	return 0;
}

static unsigned long long file_hash(const char *path)
{
	static unsigned char buf[1 << 16];
	unsigned long long h = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		h = h * 31 + test_hash(buf, (size_t)n);
	close(fd);
	return h;
}

/* Create a region at @path with channel @id holding one message "hello". */
static int make_region(const char *path, unsigned int id)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	int ret;

	ret = dmxp_region_open(path, TEST_REGION_SIZE, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r);
	if (ret)
		return ret;
	ret = dmxp_chan_create(r, id, 8);
	if (!ret)
		ret = dmxp_chan_open(r, id, &c);
	if (!ret) {
		ret = dmxp_chan_send(c, "hello", 5, 0);
		dmxp_chan_close(c);
	}
	dmxp_region_close(r);
	return ret;
}

/* -------------------------------------------------------- create, attach */

TEST_F(region, rdonly_with_create_fails_einval)
{
	struct dmxp_region *r;

	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | DMXP_OPEN_RDONLY, &r));
	EXPECT_EQ(-ENOENT, dmxp_region_open(self->path, 0, DMXP_OPEN_RDONLY, &r));
}

TEST_F(region, create_new_region)
{
	struct dmxp_region *r;

	ASSERT_FALSE(exists(self->path));
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_STREQ(self->path, dmxp_region_path(r));
	EXPECT_EQ((size_t)TEST_REGION_SIZE, dmxp_region_size(r));
	EXPECT_EQ((size_t)(TEST_REGION_SIZE - FIRST_BAND), dmxp_region_free(r));
	EXPECT_EQ((off_t)TEST_REGION_SIZE, file_size(self->path));
	EXPECT_EQ(0, dmxp_chan_list(r, NULL, 0));
	dmxp_region_close(r);
	/* Closing keeps the region. */
	EXPECT_TRUE(exists(self->path));
}

TEST_F(region, create_size_0_uses_default_size)
{
	struct dmxp_region *r;

	ASSERT_EQ(0, dmxp_region_open(self->path, 0, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ((size_t)DMXP_DEFAULT_REGION_SIZE, dmxp_region_size(r));
	EXPECT_EQ((off_t)DMXP_DEFAULT_REGION_SIZE, file_size(self->path));
	dmxp_region_close(r);
}

TEST_F(region, attach_existing_ignores_size)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char buf[8];

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, dmxp_region_open(self->path, 2 * TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ((size_t)TEST_REGION_SIZE, dmxp_region_size(r));
	EXPECT_EQ((off_t)TEST_REGION_SIZE, file_size(self->path));
	/* It is the same region: the channel and its message are there. */
	ASSERT_EQ(0, dmxp_chan_open(r, 3, &c));
	EXPECT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

TEST_F(region, attach_without_create)
{
	struct dmxp_region *r;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	EXPECT_EQ((size_t)TEST_REGION_SIZE, dmxp_region_size(r));
	EXPECT_EQ(1, dmxp_chan_list(r, NULL, 0));
	dmxp_region_close(r);
}

TEST_F(region, two_opens_share_memory)
{
	struct dmxp_region *a, *b;
	struct dmxp_chan *ca, *cb;
	char buf[8];

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &a));
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &b));
	ASSERT_EQ(0, dmxp_chan_create(a, 1, 4));
	EXPECT_EQ(-EEXIST, dmxp_chan_create(b, 1, 4));
	ASSERT_EQ(0, dmxp_chan_open(a, 1, &ca));
	ASSERT_EQ(0, dmxp_chan_open(b, 1, &cb));
	ASSERT_EQ(0, dmxp_chan_send(ca, "ab", 2, 0));
	EXPECT_EQ(2, dmxp_chan_recv(cb, buf, sizeof(buf), NULL));
	EXPECT_EQ(dmxp_region_free(a), dmxp_region_free(b));
	dmxp_chan_close(ca);
	dmxp_chan_close(cb);
	dmxp_region_close(a);
	dmxp_region_close(b);
}

TEST_F(region, excl_on_existing_fails_eexist)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	EXPECT_EQ(-EEXIST, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	/* The existing region is intact. */
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	EXPECT_EQ(1, dmxp_chan_list(r, NULL, 0));
	dmxp_region_close(r);
}

TEST_F(region, excl_on_missing_creates)
{
	struct dmxp_region *r;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	EXPECT_TRUE(exists(self->path));
	dmxp_region_close(r);
}

TEST_F(region, open_missing_without_create_fails_enoent)
{
	struct dmxp_region *r = NULL;

	EXPECT_EQ(-ENOENT, dmxp_region_open(self->path, TEST_REGION_SIZE, 0, &r));
	EXPECT_EQ(NULL, r);
	EXPECT_FALSE(exists(self->path));
}

TEST_F(region, unknown_flag_fails_einval)
{
	struct dmxp_region *r = NULL;

	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | (1U << 2), &r));
	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | (1U << 31), &r));
	EXPECT_FALSE(exists(self->path));
}

TEST_F(region, excl_without_create_fails_einval)
{
	struct dmxp_region *r = NULL;

	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_EXCL, &r));
	EXPECT_FALSE(exists(self->path));
	/* Also when the region exists. */
	ASSERT_EQ(0, make_region(self->path, 3));
	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_EXCL, &r));
}

TEST_F(region, size_too_small_fails_einval)
{
	struct dmxp_region *r = NULL;

	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, DMXP_HEADER_SIZE - 1,
					    DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, 1, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, 4096, DMXP_OPEN_CREATE, &r));
	EXPECT_FALSE(exists(self->path));
}

TEST_F(region, size_too_large_fails_einval)
{
	struct dmxp_region *r = NULL;

	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, SIZE_MAX, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(-EINVAL, dmxp_region_open(self->path, (size_t)1 << 62, DMXP_OPEN_CREATE, &r));
	EXPECT_FALSE(exists(self->path));
}

TEST_F(region, null_path_uses_env)
{
	struct dmxp_region *r;

	ASSERT_EQ(0, setenv(DMXP_REGION_ENV, self->path, 1));
	ASSERT_EQ(0, dmxp_region_open(NULL, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_STREQ(self->path, dmxp_region_path(r));
	EXPECT_TRUE(exists(self->path));
	dmxp_region_close(r);
	/* An empty path is the same as NULL. */
	ASSERT_EQ(0, dmxp_region_open("", 0, 0, &r));
	EXPECT_STREQ(self->path, dmxp_region_path(r));
	dmxp_region_close(r);
	/* And unlink(NULL) removes that region. */
	EXPECT_EQ(0, dmxp_region_unlink(NULL));
	EXPECT_FALSE(exists(self->path));
	unsetenv(DMXP_REGION_ENV);
}

TEST_F(region, explicit_path_beats_env)
{
	struct dmxp_region *r;

	ASSERT_EQ(0, setenv(DMXP_REGION_ENV, self->other, 1));
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_STREQ(self->path, dmxp_region_path(r));
	EXPECT_FALSE(exists(self->other));
	dmxp_region_close(r);
	unsetenv(DMXP_REGION_ENV);
}

/* ---------------------------------------------------------- validation */

TEST_F(region, foreign_file_fails_eproto)
{
	struct dmxp_region *r = NULL;
	unsigned long long h;

	ASSERT_EQ(0, write_junk(self->path, TEST_REGION_SIZE, 5));
	h = file_hash(self->path);
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, TEST_REGION_SIZE, 0, &r));
	/* CREATE must not clobber a file that is not a region. */
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, TEST_REGION_SIZE,
					    DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r));
	EXPECT_EQ(h, file_hash(self->path));
	EXPECT_EQ((off_t)TEST_REGION_SIZE, file_size(self->path));
}

TEST_F(region, empty_file_fails_eproto)
{
	struct dmxp_region *r = NULL;
	int fd = open(self->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(0, file_size(self->path));
}

/*
 * A FIFO is not a region, and opening one must not wait for a writer:
 * anyone may plant one under /dev/shm where an inspecting tool looks.
 */
TEST_F(region, fifo_is_refused_without_waiting)
{
	struct dmxp_region *r = NULL;

	if (test_on_kernel())
		SKIP(return, "kernel regions are not files");
	ASSERT_EQ(0, mkfifo(self->other, 0600));
	alarm(5);	/* the old open() blocked here for good */
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->other, 0, DMXP_OPEN_RDONLY, &r));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->other, 0, 0, &r));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->other, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	alarm(0);
	EXPECT_EQ(NULL, r);
	unlink(self->other);
}

TEST_F(region, directory_is_not_a_region)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, mkdir(self->other, 0700));
	EXPECT_GT(0, dmxp_region_open(self->other, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	EXPECT_EQ(NULL, r);
	rmdir(self->other);
}

TEST_F(region, wrong_magic_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, 0, DMXP_MAGIC ^ 1));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, DMXP_OPEN_CREATE, &r));
}

TEST_F(region, wrong_version_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke32(self->path, 8, DMXP_VERSION + 1));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ(0, poke32(self->path, 8, 0));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, wrong_max_channels_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke32(self->path, 12, 512));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, file_shorter_than_header_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, truncate(self->path, DMXP_HEADER_SIZE - 64));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	ASSERT_EQ(0, truncate(self->path, 8));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, shrunk_file_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, truncate(self->path, TEST_REGION_SIZE - 4096));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, grown_file_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, truncate(self->path, TEST_REGION_SIZE + 4096));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, region_size_field_mismatch_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, 24, TEST_REGION_SIZE + 64));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, alloc_cursor_beyond_file_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, 32, TEST_REGION_SIZE + 64));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, alloc_cursor_inside_header_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, 32, 64));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_capacity_not_power_of_two_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 8, 3));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_capacity_zero_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 8, 0));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_band_beyond_file_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 16, TEST_REGION_SIZE + 1024 * 64));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_ring_past_end_of_file_fails_eproto)
{
	struct dmxp_region *r = NULL;
	/* The band starts inside the file but its 8 slots do not fit. */
	__u64 boff = (TEST_REGION_SIZE - 4 * DMXP_SLOT_SIZE) & ~63ULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 16, boff));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_band_in_header_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 16, 128));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_band_misaligned_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke64(self->path, ENTRY_OFF(3) + 16, DMXP_HEADER_SIZE + 8));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_id_mismatch_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke32(self->path, ENTRY_OFF(100), 101));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

TEST_F(region, channel_unknown_flags_fails_eproto)
{
	struct dmxp_region *r = NULL;

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, poke32(self->path, ENTRY_OFF(3) + 4, DMXP_CHAN_CREATED | 0x100));
	EXPECT_EQ(-EPROTO, dmxp_region_open(self->path, 0, 0, &r));
}

/* --------------------------------------------------------------- unlink */

TEST_F(region, unlink_refuses_foreign_file)
{
	ASSERT_EQ(0, write_junk(self->path, TEST_REGION_SIZE, 6));
	EXPECT_EQ(-EPROTO, dmxp_region_unlink(self->path));
	EXPECT_TRUE(exists(self->path));
}

TEST_F(region, unlink_refuses_small_foreign_file)
{
	ASSERT_EQ(0, write_junk(self->path, 100, 6));
	EXPECT_EQ(-EPROTO, dmxp_region_unlink(self->path));
	EXPECT_TRUE(exists(self->path));
}

TEST_F(region, unlink_removes_region)
{
	ASSERT_EQ(0, make_region(self->path, 3));
	EXPECT_EQ(0, dmxp_region_unlink(self->path));
	EXPECT_FALSE(exists(self->path));
	EXPECT_EQ(-ENOENT, dmxp_region_unlink(self->path));
}

TEST_F(region, unlink_missing_fails_enoent)
{
	EXPECT_EQ(-ENOENT, dmxp_region_unlink(self->path));
}

TEST_F(region, unlinked_region_stays_usable_while_open)
{
	struct dmxp_region *r, *r2;
	struct dmxp_chan *c;
	char buf[8];

	ASSERT_EQ(0, make_region(self->path, 3));
	ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
	ASSERT_EQ(0, dmxp_region_unlink(self->path));
	ASSERT_EQ(0, dmxp_chan_open(r, 3, &c));
	EXPECT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	EXPECT_EQ(0, dmxp_chan_send(c, "still", 5, 0));
	EXPECT_EQ(5, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
	dmxp_chan_close(c);
	/* A new region can be created at the same path meanwhile. */
	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE,
				      DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r2));
	EXPECT_EQ(0, dmxp_chan_list(r2, NULL, 0));
	EXPECT_EQ(1, dmxp_chan_list(r, NULL, 0));
	dmxp_region_close(r2);
	dmxp_region_close(r);
}

/* ------------------------------------------------------------ accessors */

TEST_F(region, free_shrinks_by_ring_size)
{
	struct dmxp_region *r;
	size_t before;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	before = dmxp_region_free(r);
	ASSERT_EQ(0, dmxp_chan_create(r, 0, 8));
	EXPECT_EQ(before - 8 * DMXP_SLOT_SIZE, dmxp_region_free(r));
	ASSERT_EQ(0, dmxp_chan_create(r, 1, 16));
	EXPECT_EQ(before - 24 * DMXP_SLOT_SIZE, dmxp_region_free(r));
	dmxp_region_close(r);
}

TEST_F(region, set_runtime_rejects_unknown_values)
{
	static const unsigned int bad[] = { 7, 8, 0x100, 0xfffe, 0x10000, 0x1ffff, UINT32_MAX };
	struct dmxp_msg_meta meta;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char buf[4];
	unsigned int i;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, 0, 16));
	ASSERT_EQ(0, dmxp_chan_open(r, 0, &c));
	ASSERT_EQ(0, dmxp_region_set_runtime(r, DMXP_RUNTIME_GO));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, dmxp_region_set_runtime(r, bad[i])) TH_LOG("value %#x", bad[i]);
	}
	/* A rejected value leaves the runtime as it was. */
	ASSERT_EQ(0, dmxp_chan_send(c, "x", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(DMXP_RUNTIME_GO, meta.sender_runtime);
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

TEST_F(region, set_runtime_accepts_known_values)
{
	static const unsigned int good[] = {
		DMXP_RUNTIME_UNKNOWN, DMXP_RUNTIME_C, DMXP_RUNTIME_RUST,
		DMXP_RUNTIME_PYTHON, DMXP_RUNTIME_KERNEL, DMXP_RUNTIME_GO,
		DMXP_RUNTIME_JAVA, DMXP_RUNTIME_OTHER,
	};
	struct dmxp_msg_meta meta;
	struct dmxp_region *r;
	struct dmxp_chan *c;
	char buf[4];
	unsigned int i;

	ASSERT_EQ(0, dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r));
	ASSERT_EQ(0, dmxp_chan_create(r, 0, 16));
	ASSERT_EQ(0, dmxp_chan_open(r, 0, &c));
	/* The default is C. */
	ASSERT_EQ(0, dmxp_chan_send(c, "x", 1, 0));
	ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
	EXPECT_EQ(DMXP_RUNTIME_C, meta.sender_runtime);
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ASSERT_EQ(0, dmxp_region_set_runtime(r, good[i]));
		ASSERT_EQ(0, dmxp_chan_send(c, "x", 1, 0));
		ASSERT_EQ(1, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
		EXPECT_EQ(good[i], meta.sender_runtime);
	}
	dmxp_chan_close(c);
	dmxp_region_close(r);
}

/* ---------------------------------------------------- concurrent create */

#define RACERS	8

FIXTURE(race) {
	char dir[256];
	char path[300];
};

FIXTURE_SETUP(race)
{
	const char *base = getenv("DMXP_TEST_DIR");

	snprintf(self->dir, sizeof(self->dir), "%s/dmxp-test-race-XXXXXX",
		 base && *base ? base : "/dev/shm");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/region", self->dir);
}

FIXTURE_TEARDOWN(race)
{
	DIR *d = opendir(self->dir);
	struct dirent *de;
	char p[600];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", self->dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(self->dir);
}

/* Child @i: open-or-create, create channel @i, send its index. */
static int racer(const char *path, unsigned int i)
{
	struct dmxp_region *r;
	struct dmxp_chan *c;
	unsigned char msg[2] = { 'c', (unsigned char)i };
	int ret;

	ret = dmxp_region_open(path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r);
	if (ret)
		return 10;
	if (dmxp_region_size(r) != TEST_REGION_SIZE)
		return 11;
	ret = dmxp_chan_create(r, i, 4);
	if (ret)
		return 12;
	if (dmxp_chan_open(r, i, &c))
		return 13;
	if (dmxp_chan_send(c, msg, sizeof(msg), i))
		return 14;
	dmxp_chan_close(c);
	dmxp_region_close(r);
	return 0;
}

TEST_F(race, concurrent_create_yields_one_region)
{
	unsigned int round;

	for (round = 0; round < 25; round++) {
		pid_t pids[RACERS];
		struct dmxp_region *r;
		struct dmxp_chan *c;
		struct dirent *de;
		unsigned int ids[RACERS + 1], i;
		int go[2], entries = 0;
		DIR *d;
		char ch;

		ASSERT_EQ(0, pipe(go));
		for (i = 0; i < RACERS; i++) {
			pids[i] = fork();
			ASSERT_LE(0, pids[i]);
			if (!pids[i]) {
				close(go[1]);
				/* EOF once the parent closes its end: all go at once. */
				if (read(go[0], &ch, 1) != 0)
					_exit(100);
				_exit(racer(self->path, i));
			}
		}
		close(go[0]);
		usleep(10000);
		close(go[1]);
		for (i = 0; i < RACERS; i++) {
			int st;

			ASSERT_EQ(pids[i], waitpid(pids[i], &st, 0));
			EXPECT_TRUE(WIFEXITED(st));
			EXPECT_EQ(0, WEXITSTATUS(st)) TH_LOG("round %u child %u", round, i);
		}

		/* Exactly one file: the region; no temporary left behind. */
		d = opendir(self->dir);
		ASSERT_NE(NULL, d);
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			entries++;
			EXPECT_STREQ("region", de->d_name);
		}
		closedir(d);
		EXPECT_EQ(1, entries);

		ASSERT_EQ(0, dmxp_region_open(self->path, 0, 0, &r));
		EXPECT_EQ((size_t)TEST_REGION_SIZE, dmxp_region_size(r));
		ASSERT_EQ(RACERS, dmxp_chan_list(r, ids, RACERS + 1));
		for (i = 0; i < RACERS; i++) {
			struct dmxp_msg_meta meta;
			unsigned char buf[8];

			EXPECT_EQ(i, ids[i]);
			ASSERT_EQ(0, dmxp_chan_open(r, i, &c));
			ASSERT_EQ(2, dmxp_chan_recv(c, buf, sizeof(buf), &meta));
			EXPECT_EQ('c', buf[0]);
			EXPECT_EQ(i, buf[1]);
			EXPECT_EQ(i, meta.message_type);
			EXPECT_EQ((__u32)pids[i], meta.sender_pid);
			EXPECT_EQ(-EAGAIN, dmxp_chan_recv(c, buf, sizeof(buf), NULL));
			dmxp_chan_close(c);
		}
		dmxp_region_close(r);
		ASSERT_EQ(0, dmxp_region_unlink(self->path));
		if (_metadata->passed == 0)
			break;
	}
}

TEST_HARNESS_MAIN
