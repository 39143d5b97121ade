// SPDX-License-Identifier: MIT
/*
 * Regions: open (create or attach), validate, close, unlink.
 *
 * Creation is atomic by construction: the creator builds the whole header
 * in a private temporary file next to the target and link(2)s it into
 * place.  link() fails with EEXIST if another process won the race, in
 * which case the loser discards its file and attaches to the winner's.
 * Nobody can ever observe a half-initialised region under the real name.
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "internal.h"

#define DMXP_REGION_SIZE_MAX	(1ULL << 40)

int dmxp__back(int fd, __u64 offset, __u64 len)
{
	int err = posix_fallocate(fd, (off_t)offset, (off_t)len);

	/* A file system without fallocate gets its pages on first touch. */
	if (err == EOPNOTSUPP || err == EINVAL)
		return 0;
	return err == EFBIG ? -ENOSPC : -err;
}

/*
 * What the inline calls may use of this CPU (struct dmxp__region_fast.hints),
 * asked once.  PREFETCHW is asked of CPUID, with the kernel's rule
 * (init_amd(), init_hygon()): every AMD or Hygon CPU with 3DNow! or long
 * mode has it, whatever the bit says (QEMU's default CPU model leaves
 * it out).  The compiler emits PREFETCHW only when the build targets a
 * CPU that has it.
 */
static int cpu_hints_known = -1;

static __u16 cpu_hints_probe(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d, v[3];

	if (!__get_cpuid(0, &a, &v[0], &v[2], &v[1]) ||	/* EBX, EDX, ECX */
	    !__get_cpuid(0x80000001, &a, &b, &c, &d))
		return 0;
	if (c & (1U << 8))				/* PRFCHW */
		return DMXP__HINT_PREFETCHW;
	if ((!memcmp(v, "AuthenticAMD", 12) || !memcmp(v, "HygonGenuine", 12)) &&
	    (d & (1U << 31 | 1U << 29)))		/* 3DNow!, LM */
		return DMXP__HINT_PREFETCHW;
#endif
	return 0;
}

static __u16 cpu_hints(void)
{
	int h = __atomic_load_n(&cpu_hints_known, __ATOMIC_RELAXED);

	if (h < 0) {
		h = cpu_hints_probe();
		__atomic_store_n(&cpu_hints_known, h, __ATOMIC_RELAXED);
	}
	return (__u16)h;
}

static const char *default_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	env = getenv(DMXP_REGION_ENV);
	return env && *env ? env : DMXP_DEFAULT_REGION;
}

/*
 * Check everything a later call relies on.  The header was written by
 * some other process: a foreign file, an older version or a truncated
 * region must give -EPROTO, never a crash.
 */
static int region_validate(const struct dmxp_global_header __shm *h, size_t size)
{
	__u64 cursor;
	unsigned int i;

	/* Pairs with the store_release() of magic in header_init(). */
	if (load_acquire(&h->magic) != DMXP_MAGIC || h->version != DMXP_VERSION ||
	    h->max_channels != DMXP_MAX_CHANNELS || h->region_size != size)
		return -EPROTO;
	cursor = READ_ONCE(h->alloc_cursor);
	/* Where the next band would start: see band_alloc() (lib/file.c). */
	if (!dmxp_rules_band_fits(cursor, 0, size))
		return -EPROTO;

	for (i = 0; i < DMXP_MAX_CHANNELS; i++) {
		const struct dmxp_channel_entry __shm *e = &h->channels[i];
		__u32 gen;
		__u64 cap, boff;
		int ret;

		if (e->channel_id != i || (READ_ONCE(e->flags) & ~DMXP_CHAN_FLAGS_KNOWN))
			return -EPROTO;
		/* A channel being created or destroyed right now is skipped. */
		ret = dmxp__entry_snapshot(h, size, i, &gen, &cap, &boff);
		if (ret == -EPROTO)
			return ret;
	}
	return 0;
}

static void header_init(struct dmxp_global_header __shm *h, size_t size)
{
	struct dmxp_rules_layout plan;
	unsigned int i;

	/* The file is fresh from ftruncate(): everything else reads zero. */
	dmxp_rules_layout_plan(size, &plan);
	h->version = DMXP_VERSION;
	h->max_channels = DMXP_MAX_CHANNELS;
	h->region_size = size;
	h->alloc_cursor = plan.bands_start;
	h->claims_offset = plan.claims_offset;
	h->claims_count = plan.claims_count;
	for (i = 0; i < DMXP_MAX_CHANNELS; i++)
		h->channels[i].channel_id = i;
	/* Pairs with the magic check in region_validate() of attachers. */
	store_release(&h->magic, DMXP_MAGIC);
}

static int map_fd(int fd, size_t size, bool rdonly, struct dmxp_global_header **out)
{
	void *p = mmap(NULL, size, rdonly ? PROT_READ : PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

/*
 * Build a region in a temporary file beside @path and link it into place.
 * Returns 0 with *fdp and *hp set when this process created the region,
 * -EEXIST when another one did first.
 */
static int region_create(const char *path, size_t size, int *fdp,
			 struct dmxp_global_header **hp)
{
	struct timespec ts;
	char *tmp;
	int fd, ret;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (asprintf(&tmp, "%s.%u.%lx.tmp", path, (unsigned int)getpid(),
		     (unsigned long)ts.tv_nsec ^ (unsigned long)pthread_self()) < 0)
		return -ENOMEM;

	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		ret = -errno;
		goto out_free;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		goto out_close;
	}
	/*
	 * Back the header now: a full tmpfs must give an error here, not a
	 * SIGBUS at the first store.  Rings are backed as they are created.
	 */
	ret = dmxp__back(fd, 0, DMXP_HEADER_SIZE);
	if (ret)
		goto out_close;
	ret = map_fd(fd, size, false, hp);
	if (ret)
		goto out_close;
	header_init(*hp, size);

	if (link(tmp, path) < 0) {
		ret = -errno;
		munmap(*hp, size);
		goto out_close;
	}
	unlink(tmp);
	free(tmp);
	*fdp = fd;
	return 0;

out_close:
	close(fd);
	unlink(tmp);
out_free:
	free(tmp);
	return ret;
}

static int region_attach(const char *path, bool rdonly, int *fdp, size_t *sizep,
			 struct dmxp_global_header **hp)
{
	struct stat st;
	int fd, ret;

	/*
	 * Non-blocking: a FIFO (anyone may plant one where a region is
	 * looked for) would otherwise wait for a writer.  Nothing but a
	 * regular file goes on, and on one the flag changes nothing.
	 */
	fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < DMXP_HEADER_SIZE ||
	    (unsigned long long)st.st_size > DMXP_REGION_SIZE_MAX) {
		ret = -EPROTO;
		goto out_close;
	}
	ret = map_fd(fd, (size_t)st.st_size, rdonly, hp);
	if (ret)
		goto out_close;
	ret = region_validate(*hp, (size_t)st.st_size);
	if (ret) {
		munmap(*hp, (size_t)st.st_size);
		goto out_close;
	}
	*fdp = fd;
	*sizep = (size_t)st.st_size;
	return 0;

out_close:
	close(fd);
	return ret;
}

__dmxp_export
int dmxp_region_open(const char *path, size_t size, unsigned int flags,
		     struct dmxp_region **out)
{
	struct dmxp_global_header *h = NULL;
	struct dmxp_region *r;
	__u32 lease = 0;
	int fd = -1, ret;

	if (!out || (flags & ~(DMXP_OPEN_CREATE | DMXP_OPEN_EXCL | DMXP_OPEN_RDONLY)) ||
	    ((flags & DMXP_OPEN_EXCL) && !(flags & DMXP_OPEN_CREATE)) ||
	    ((flags & DMXP_OPEN_RDONLY) && (flags & DMXP_OPEN_CREATE)))
		return -EINVAL;
	/* The size matters only to a creator. */
	if ((flags & DMXP_OPEN_CREATE) && size &&
	    !dmxp_rules_region_size_ok(size, DMXP_REGION_SIZE_MAX))
		return -EINVAL;
	path = default_path(path);
	dmxp__pid_init();

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->path = strdup(path);
	if (!r->path) {
		ret = -ENOMEM;
		goto err;
	}

	if (dmxp__is_kernel_path(path)) {
		ret = dmxp__kernel_open(path, size, flags, &fd, &r->size, &h, &lease);
		if (ret)
			goto err;
		ret = region_validate(h, r->size);
		if (ret) {
			munmap(h, r->size);
			close(fd);
			goto err;
		}
		r->ops = &dmxp__kernel_ops;
		goto done;
	}

	r->ops = &dmxp__shm_ops;
	ret = region_attach(path, flags & DMXP_OPEN_RDONLY, &fd, &r->size, &h);
	if (ret == -ENOENT && (flags & DMXP_OPEN_CREATE)) {
		if (!size)
			size = DMXP_DEFAULT_REGION_SIZE;
		ret = region_create(path, size, &fd, &h);
		if (!ret)
			r->size = size;
		else if (ret == -EEXIST && !(flags & DMXP_OPEN_EXCL))
			ret = region_attach(path, false, &fd, &r->size, &h);
	} else if (!ret && (flags & DMXP_OPEN_EXCL)) {
		munmap(h, r->size);
		close(fd);
		ret = -EEXIST;
	}
	if (ret)
		goto err;
done:
	r->shdr = h;
	r->fd = fd;
	r->f.runtime = DMXP_RUNTIME_C;
	r->f.hints = cpu_hints();
	r->rdonly = flags & DMXP_OPEN_RDONLY;
	ret = dmxp__claims_open(r, lease);
	if (ret) {
		munmap(h, r->size);
		close(fd);
		goto err;
	}
	*out = r;
	return 0;
err:
	free(r->path);
	free(r);
	return ret;
}

__dmxp_export
void dmxp_region_close(struct dmxp_region *r)
{
	if (!r)
		return;
	dmxp__claims_close(r);
	munmap(r->shdr, r->size);
	close(r->fd);
	free(r->path);
	free(r);
}

__dmxp_export
int dmxp_region_unlink(const char *path)
{
	struct dmxp_region *r;
	int ret;

	path = default_path(path);
	if (dmxp__is_kernel_path(path))
		return dmxp__kernel_unlink(path);
	/* Refuse to remove a file that is not a dmxp region. */
	ret = dmxp_region_open(path, 0, 0, &r);
	if (ret)
		return ret;
	dmxp_region_close(r);
	return unlink(path) < 0 ? -errno : 0;
}

__dmxp_export
const char *dmxp_region_path(const struct dmxp_region *r)
{
	return r->path;
}

__dmxp_export
size_t dmxp_region_size(const struct dmxp_region *r)
{
	return r->size;
}

__dmxp_export
const struct dmxp_global_header *dmxp_region_header(const struct dmxp_region *r)
{
	return r->shdr;
}

__dmxp_export
size_t dmxp_region_free(const struct dmxp_region *r)
{
	__u64 cursor = READ_ONCE(r->shdr->alloc_cursor);

	return cursor <= r->size ? r->size - cursor : 0;
}

__dmxp_export
int dmxp_region_set_runtime(struct dmxp_region *r, unsigned int runtime)
{
	if (runtime > DMXP_RUNTIME_JAVA && runtime != DMXP_RUNTIME_OTHER)
		return -EINVAL;
	r->f.runtime = (__u16)runtime;
	return 0;
}
