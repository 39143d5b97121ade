// SPDX-License-Identifier: MIT
/*
 * The kernel module's permissions, exercised by unprivileged users.
 *
 * A region has an owner (uid, gid) and permission bits, checked when a
 * /dev/dmxp file is bound to it; the file's open mode then bounds what the
 * binding may do: a file open O_RDONLY makes a read-only binding (read-only
 * mapping, no state change, a channel fd that only polls), a file open
 * O_RDWR a read-write one.  Documentation/SECURITY.md states the model.
 *
 * Each test makes its regions as root, then forks a child that drops to
 * another uid/gid with setresgid()/setresuid() (which also drops every
 * capability) and makes one attempt; the child's exit status is 0 or the
 * errno of that attempt.  The users: NOBODY (65534), OWNER (1000, group
 * 1000), a member of OWNER's group by its effective gid or by a
 * supplementary group.  /dev/dmxp is made world read-writable while a test
 * runs, so that the region's mode is what is tested, not the device's.
 *
 * Every test skips when /dev/dmxp does not exist (the module is not
 * loaded, as on the host) or when not run as root; tools/vm/run runs them
 * in a guest with the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"

#define REGION_SIZE	(256ULL << 10)
#define CH		3		/* the channel every test region has */
#define CH_CAP		8
#define NOBODY		65534
#define OWNER		1000
#define MAX_NAMES	4
#define EXCL_CREATE	(DMXP_REGION_CREATE | DMXP_REGION_EXCL)

/* Exit statuses of a child that got nowhere near its attempt. */
#define E_SETUP		250		/* could not become the user */
#define E_OPEN		251		/* could not open /dev/dmxp */
#define E_SHAKE		252		/* handshake failed */
#define E_CHECK		253		/* the attempt worked but its result is wrong */
#define E_SIGNAL	128		/* + the signal that killed the child */

/* A user: uid, gid, supplementary groups. */
struct who {
	uid_t	uid;
	gid_t	gid;
	int	ngroups;
	gid_t	groups[1];
};

static const struct who nobody = { NOBODY, NOBODY, 0, { 0 } };
static const struct who owner = { OWNER, OWNER, 0, { 0 } };
/* Not the owner, in the owner's group by effective gid or supplementary group. */
static const struct who member_egid = { NOBODY, OWNER, 0, { 0 } };
static const struct who member_supp = { NOBODY, NOBODY, 1, { OWNER } };

/* What a child attempts, and with what. */
struct ctx {
	char	name[DMXP_NAME_MAX];	/* the region */
	int	oflags;			/* how the child opens /dev/dmxp */
	__u32	mode;			/* c_create: the region's mode */
	int	prot, mflags;		/* c_mmap: mmap()'s */
	int	sock;			/* the child's end of a socketpair, or -1 */
	int	devdir;			/* /dev, opened before dropping privileges */
	size_t	size;			/* set by bind_region() in the child */
};

/* ---------------------------------------------------------------- helpers */

/* ------------------------------------------------------ the child's side */

typedef int (*child_fn)(struct ctx *c);

/*
 * Run @fn as @w in a child: its exit status (0 or an errno, or E_*), or
 * E_SIGNAL + the signal that killed it.
 */
static int run_as(const struct who *w, child_fn fn, struct ctx *c)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return E_SETUP;
	if (pid == 0) {
		/*
		 * Look up /dev as root: the device's own permissions are what
		 * is tested, not those of the directories above it (a guest's
		 * initramfs root may be 0700).
		 */
		c->devdir = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (c->devdir < 0 || setgroups(w->ngroups, w->groups) ||
		    setresgid(w->gid, w->gid, w->gid) || setresuid(w->uid, w->uid, w->uid))
			_exit(E_SETUP);
		if (geteuid() != w->uid || getegid() != w->gid)
			_exit(E_SETUP);
		_exit(fn(c) & 0xff);
	}
	if (waitpid(pid, &status, 0) != pid)
		return E_SETUP;
	if (WIFSIGNALED(status))
		return E_SIGNAL + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : E_SETUP;
}

/* In the child: /dev/dmxp with c->oflags, handshaken; fd or -E_*. */
static int child_open(struct ctx *c)
{
	int fd = dev_open_at(c->devdir, c->oflags);

	if (fd == -EACCES || fd == -EPERM || fd == -ENOENT)
		return -E_OPEN;
	return fd < 0 ? -E_SHAKE : fd;
}

/* In the child: a file bound to c->name; the fd, or -errno of the attach. */
static int bind_region(struct ctx *c)
{
	struct dmxp_ioc_region rq;
	int fd = child_open(c), ret;

	if (fd < 0)
		return fd;
	ret = region_attach(fd, c->name, &rq);
	if (ret) {
		close(fd);
		return ret;
	}
	c->size = rq.size;
	return fd;
}

/* The positive errno of a call that returned -errno (0 stays 0). */
#define ERR(x)	((x) < 0 ? -(x) : 0)

#define BIND_OR_EXIT(c, fd) do {					\
	(fd) = bind_region(c);						\
	if ((fd) < 0)							\
		return -(fd);						\
} while (0)

static int c_attach(struct ctx *c)
{
	int fd = bind_region(c);

	return ERR(fd);
}

/* Create c->name with c->mode, then CH on it: the errno of the first failure. */
static int c_create(struct ctx *c)
{
	int fd = child_open(c), ret;

	if (fd < 0)
		return -fd;
	ret = region_create(fd, c->name, REGION_SIZE, c->mode, EXCL_CREATE, NULL);
	if (!ret)
		ret = ioc_chan_create(fd, CH, CH_CAP, NULL);
	return ERR(ret);
}

static int c_destroy(struct ctx *c)
{
	int fd = child_open(c);

	if (fd < 0)
		return -fd;
	return ERR(region_destroy(fd, c->name));
}

static int c_mmap(struct ctx *c)
{
	void *p;
	int fd;

	BIND_OR_EXIT(c, fd);
	p = mmap(NULL, c->size, c->prot, c->mflags, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	/* Whatever was mapped reads the region. */
	return ((struct dmxp_global_header *)p)->magic == DMXP_MAGIC ? 0 : E_CHECK;
}

/* Map read-only, then ask for write access. */
static int c_mprotect_write(struct ctx *c)
{
	void *p;
	int fd;

	BIND_OR_EXIT(c, fd);
	p = mmap(NULL, c->size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return E_CHECK;
	return mprotect(p, c->size, PROT_READ | PROT_WRITE) ? errno : 0;
}

/* Map read-only and store: the child dies of SIGSEGV. */
static int c_store(struct ctx *c)
{
	volatile __u64 *tail;
	void *p;
	int fd;

	BIND_OR_EXIT(c, fd);
	p = mmap(NULL, c->size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return E_CHECK;
	tail = &((struct dmxp_global_header *)p)->channels[CH].tail;
	*tail = 1000;
	return 0;
}

/* The first message of CH, read in a read-only mapping, is "hello". */
static int c_read_message(struct ctx *c)
{
	const struct dmxp_global_header *h;
	const struct dmxp_slot *s;
	void *p;
	int fd;

	BIND_OR_EXIT(c, fd);
	p = mmap(NULL, c->size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return errno;
	h = p;
	s = (const struct dmxp_slot *)((const char *)p + h->channels[CH].band_offset);
	if (s->sequence != 1 || s->meta.payload_len != 5 || memcmp(s->payload, "hello", 5))
		return E_CHECK;
	return 0;
}

static int c_chan_create(struct ctx *c)
{
	int fd;

	BIND_OR_EXIT(c, fd);
	return ERR(ioc_chan_create(fd, CH + 1, CH_CAP, NULL));
}

static int c_chan_destroy(struct ctx *c)
{
	int fd;

	BIND_OR_EXIT(c, fd);
	return ERR(ioc_chan_destroy(fd, CH));
}

static int c_notify(struct ctx *c)
{
	int fd;

	BIND_OR_EXIT(c, fd);
	return ERR(ioc_notify(fd, CH, DMXP_NOTIFY_RECV));
}

static int c_chan_fd(struct ctx *c)
{
	int fd;

	BIND_OR_EXIT(c, fd);
	return ERR(ioc_chan_fd(fd, CH, DMXP_CHAN_FD_NONBLOCK));
}

static int c_eventfd(struct ctx *c)
{
	int fd, efd;

	BIND_OR_EXIT(c, fd);
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return E_CHECK;
	return ERR(ioc_eventfd(fd, CH, efd, 0));
}

static int c_eventfd_unregister(struct ctx *c)
{
	int fd, efd;

	BIND_OR_EXIT(c, fd);
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return E_CHECK;
	return ERR(ioc_eventfd(fd, CH, efd, DMXP_EVENTFD_UNREGISTER));
}

/* A channel fd of a read-only binding, or exit with the errno. */
#define CHAN_FD_OR_EXIT(c, cfd) do {					\
	int __fd;							\
									\
	BIND_OR_EXIT(c, __fd);						\
	(cfd) = ioc_chan_fd(__fd, CH, DMXP_CHAN_FD_NONBLOCK);	\
	if ((cfd) < 0)							\
		return E_CHECK;						\
} while (0)

static int c_chanfd_write(struct ctx *c)
{
	int cfd;

	CHAN_FD_OR_EXIT(c, cfd);
	return write(cfd, "x", 1) == 1 ? 0 : errno;
}

static int c_chanfd_read(struct ctx *c)
{
	char buf[sizeof(struct dmxp_msg_meta) + DMXP_MAX_PAYLOAD];
	int cfd;

	CHAN_FD_OR_EXIT(c, cfd);
	return read(cfd, buf, sizeof(buf)) >= 0 ? 0 : errno;
}

static int c_chanfd_poll(struct ctx *c)
{
	struct pollfd p = { .events = POLLIN };
	int cfd;

	CHAN_FD_OR_EXIT(c, cfd);
	p.fd = cfd;
	if (poll(&p, 1, 0) != 1)
		return E_CHECK;
	return p.revents & POLLIN ? 0 : E_CHECK;
}

static int c_chanfd_accmode(struct ctx *c)
{
	int cfd, fl;

	CHAN_FD_OR_EXIT(c, cfd);
	fl = fcntl(cfd, F_GETFL);
	return fl >= 0 && (fl & O_ACCMODE) == O_ACCMODE ? 0 : E_CHECK;
}

/* A permission refused: the unbound file can do nothing with the region. */
#define UNBOUND_OR_EXIT(c, fd) do {					\
	(fd) = child_open(c);						\
	if ((fd) < 0)							\
		return -(fd);						\
	if (region_attach(fd, (c)->name, NULL) != -EACCES)		\
		return E_CHECK;						\
} while (0)

static int c_noperm_mmap(struct ctx *c)
{
	int fd;

	UNBOUND_OR_EXIT(c, fd);
	return mmap(NULL, REGION_SIZE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ?
	       errno : 0;
}

static int c_noperm_notify(struct ctx *c)
{
	int fd;

	UNBOUND_OR_EXIT(c, fd);
	return ERR(ioc_notify(fd, CH, DMXP_NOTIFY_RECV));
}

static int c_noperm_chan_fd(struct ctx *c)
{
	int fd;

	UNBOUND_OR_EXIT(c, fd);
	return ERR(ioc_chan_fd(fd, CH, DMXP_CHAN_FD_NONBLOCK));
}

static int c_noperm_eventfd(struct ctx *c)
{
	int fd, efd = eventfd(0, EFD_CLOEXEC);

	UNBOUND_OR_EXIT(c, fd);
	return ERR(ioc_eventfd(fd, CH, efd, 0));
}

static int c_noperm_chan_create(struct ctx *c)
{
	int fd;

	UNBOUND_OR_EXIT(c, fd);
	return ERR(ioc_chan_create(fd, CH + 1, CH_CAP, NULL));
}

static int c_noperm_chan_destroy(struct ctx *c)
{
	int fd;

	UNBOUND_OR_EXIT(c, fd);
	return ERR(ioc_chan_destroy(fd, CH));
}

/* SCM_RIGHTS: what the child does with the /dev/dmxp file it receives. */
static int c_scm_map_write(struct ctx *c)
{
	struct dmxp_global_header *h;
	int fd = recv_fd(c->sock);

	if (fd < 0)
		return E_CHECK;
	h = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		return errno;
	h->reserved = 0x5ca1ab1e;	/* a store the parent checks */
	return 0;
}

static int c_scm_chan_create(struct ctx *c)
{
	int fd = recv_fd(c->sock);

	return fd < 0 ? E_CHECK : ERR(ioc_chan_create(fd, CH + 1, CH_CAP, NULL));
}

static int c_scm_notify(struct ctx *c)
{
	int fd = recv_fd(c->sock);

	return fd < 0 ? E_CHECK : ERR(ioc_notify(fd, CH, DMXP_NOTIFY_RECV));
}

static int c_scm_attach(struct ctx *c)
{
	int fd = recv_fd(c->sock);

	return fd < 0 ? E_CHECK : ERR(region_attach(fd, c->name, NULL));
}

static int c_scm_chanfd_write(struct ctx *c)
{
	int fd = recv_fd(c->sock);

	if (fd < 0)
		return E_CHECK;
	return write(fd, "x", 1) == 1 ? 0 : errno;
}

/* ---------------------------------------------------------------- fixture */

FIXTURE(perm) {
	bool nodev;
	mode_t devmode;			/* /dev/dmxp's, restored by the teardown */
	int nnames;
	char names[MAX_NAMES][DMXP_NAME_MAX];
	int sv[2];			/* a socketpair, for SCM_RIGHTS */
	struct ctx c;			/* the child's context; c.name is the region */
};

static void perm_init(struct __test_metadata *_metadata, FIXTURE_DATA(perm) *self)
{
	struct stat st;

	self->sv[0] = self->sv[1] = -1;
	self->c.sock = -1;
	self->c.devdir = -1;
	self->c.oflags = O_RDWR;
	SKIP_WITHOUT_DEV(self->nodev, "the permission tests need root, to become other users");
	ASSERT_EQ(0, stat(DMXP_DEVICE, &st));
	self->devmode = st.st_mode & 07777;
	ASSERT_EQ(0, chmod(DMXP_DEVICE, 0666));
}

static void perm_fini(FIXTURE_DATA(perm) *self)
{
	int fd, i;

	if (self->nodev)
		return;
	chmod(DMXP_DEVICE, self->devmode);
	if (self->sv[0] >= 0) {
		close(self->sv[0]);
		close(self->sv[1]);
	}
	fd = dev_open_at(-1, O_RDWR);
	if (fd < 0)
		return;
	for (i = 0; i < self->nnames; i++)
		region_destroy(fd, self->names[i]);
	close(fd);
}

FIXTURE_SETUP(perm)
{
	perm_init(_metadata, self);
}

FIXTURE_TEARDOWN(perm)
{
	perm_fini(self);
}

/* A fresh region name in self->c.name, destroyed by the teardown. */
static const char *new_name(FIXTURE_DATA(perm) *self)
{
	char *n;

	if (self->nnames >= MAX_NAMES)
		abort();
	n = self->names[self->nnames];
	snprintf(n, DMXP_NAME_MAX, "p-%d-%d", (int)getpid(), self->nnames);
	self->nnames++;
	strcpy(self->c.name, n);
	return n;
}

/*
 * A region with @mode and channel CH, made by root; returns a read-write
 * file bound to it, or -errno.
 */
static int root_region(FIXTURE_DATA(perm) *self, __u32 mode)
{
	const char *name = new_name(self);
	int fd = dev_open_at(-1, O_RDWR), ret;

	if (fd < 0)
		return fd;
	ret = region_create(fd, name, REGION_SIZE, mode, EXCL_CREATE, NULL);
	if (!ret)
		ret = ioc_chan_create(fd, CH, CH_CAP, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A region with @mode and channel CH, made by @w: 0 or the child's status. */
static int user_region(FIXTURE_DATA(perm) *self, const struct who *w, __u32 mode)
{
	new_name(self);
	self->c.mode = mode;
	self->c.oflags = O_RDWR;
	return run_as(w, c_create, &self->c);
}

/* Root sends "hello" on CH of the region bound to @fd: 0 or -errno. */
static int root_send(int fd)
{
	int cfd = ioc_chan_fd(fd, CH, DMXP_CHAN_FD_NONBLOCK);
	ssize_t n;

	if (cfd < 0)
		return cfd;
	n = write(cfd, "hello", 5);
	close(cfd);
	return n == 5 ? 0 : -EIO;
}

/* Run @fn as @w with /dev/dmxp opened with @oflags, on the current region. */
static int try_as(FIXTURE_DATA(perm) *self, const struct who *w, int oflags, child_fn fn)
{
	self->c.oflags = oflags;
	return run_as(w, fn, &self->c);
}

/* A root region of @mode (its bound file closed): 0 or -errno. */
static int root_region_closed(FIXTURE_DATA(perm) *self, __u32 mode)
{
	int fd = root_region(self, mode);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* ------------------------------------------------------ the matrix of cases */

/*
 * A case of the matrix: a region made by root or by OWNER with a mode (or
 * only named, for a create), one attempt as a user with /dev/dmxp opened
 * with some flags, the child's expected status, then what the region
 * shows: a sysfs attribute's value, whether it still exists.
 */
enum made {
	BY_ROOT,		/* by root, its file closed */
	BY_OWNER,		/* by OWNER, in a child */
	BY_ROOT_SENT,		/* by root, which sent "hello" on CH and keeps it bound */
	NAME_ONLY,		/* not made: the child creates it with .mode */
};

/* The matrix's fixture is perm's: the same setup and teardown, per case. */
FIXTURE(matrix) {
	FIXTURE_DATA(perm) p;
};

FIXTURE_VARIANT(matrix) {
	enum made		made;
	__u32			mode;
	const struct who	*who;
	int			oflags;
	child_fn		fn;
	int			prot, mflags;	/* c_mmap's */
	int			expect;		/* the child's exit status */
	const char		*attr;		/* if set, sysfs attr of the region is... */
	long long		attr_val;
	int			exists;		/* 1: the region exists, -1: it is gone */
};

#define ROOT(m)		.made = BY_ROOT, .mode = (m)
#define OWNED(m)	.made = BY_OWNER, .mode = (m)
#define SENT(m)		.made = BY_ROOT_SENT, .mode = (m)
#define ATTR(a, v)	.attr = (a), .attr_val = (v)

/* attach: the mode bits */
FIXTURE_VARIANT_ADD(matrix, other_rw_mode_0666_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, other_rw_mode_0644_eacces) {
	ROOT(0644), .who = &nobody, .oflags = O_RDWR, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, other_ro_mode_0644_ok) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, other_ro_mode_0604_ok) {
	ROOT(0604), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, other_ro_mode_0640_eacces) {
	ROOT(0640), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, other_ro_mode_0600_eacces) {
	ROOT(0600), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = EACCES,
};
/* Write without read grants nothing: a binding always reads. */
FIXTURE_VARIANT_ADD(matrix, other_rw_mode_0602_eacces) {
	ROOT(0602), .who = &nobody, .oflags = O_RDWR, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, other_ro_mode_0602_eacces) {
	ROOT(0602), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = EACCES,
};
/* A file open only for writing cannot be bound at all. */
FIXTURE_VARIANT_ADD(matrix, wronly_attach_ebadf) {
	ROOT(0666), .who = &nobody, .oflags = O_WRONLY, .fn = c_attach, .expect = EBADF,
};
FIXTURE_VARIANT_ADD(matrix, ro_create_ebadf) {
	.made = NAME_ONLY, .mode = 0666, .who = &nobody, .oflags = O_RDONLY, .fn = c_create,
	.expect = EBADF, .exists = -1,
};
FIXTURE_VARIANT_ADD(matrix, wronly_create_ebadf) {
	.made = NAME_ONLY, .mode = 0666, .who = &nobody, .oflags = O_WRONLY, .fn = c_create,
	.expect = EBADF, .exists = -1,
};

/* attach: an unprivileged owner (1000) */
FIXTURE_VARIANT_ADD(matrix, owner_rw_mode_0600_ok) {
	OWNED(0600), .who = &owner, .oflags = O_RDWR, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, owner_rw_mode_0400_eacces) {
	OWNED(0400), .who = &owner, .oflags = O_RDWR, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, owner_ro_mode_0400_ok) {
	OWNED(0400), .who = &owner, .oflags = O_RDONLY, .fn = c_attach, .expect = 0,
};
/* The owner's bits decide for the owner, even when others get more. */
FIXTURE_VARIANT_ADD(matrix, owner_mode_0066_eacces) {
	OWNED(0066), .who = &owner, .oflags = O_RDONLY, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, other_of_owner_mode_0600_eacces) {
	OWNED(0600), .who = &nobody, .oflags = O_RDONLY, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, owner_destroys_mode_0) {
	OWNED(0), .who = &owner, .oflags = O_RDWR, .fn = c_destroy, .expect = 0,
	.exists = -1,
};
/* Destroying is the owner's, whatever the mode grants others. */
FIXTURE_VARIANT_ADD(matrix, other_destroys_mode_0666_eperm) {
	OWNED(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_destroy, .expect = EPERM,
	.exists = 1,
};
FIXTURE_VARIANT_ADD(matrix, owner_destroys_ro_file_ebadf) {
	OWNED(0600), .who = &owner, .oflags = O_RDONLY, .fn = c_destroy, .expect = EBADF,
	.exists = 1,
};
/* Destroying needs a file open for writing, not for reading. */
FIXTURE_VARIANT_ADD(matrix, owner_destroys_wronly_file_ok) {
	OWNED(0600), .who = &owner, .oflags = O_WRONLY, .fn = c_destroy, .expect = 0,
	.exists = -1,
};

/* attach: the group bits */
FIXTURE_VARIANT_ADD(matrix, group_egid_rw_mode_0660_ok) {
	OWNED(0660), .who = &member_egid, .oflags = O_RDWR, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, group_supplementary_rw_mode_0660_ok) {
	OWNED(0660), .who = &member_supp, .oflags = O_RDWR, .fn = c_attach, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, group_rw_mode_0640_eacces) {
	OWNED(0640), .who = &member_supp, .oflags = O_RDWR, .fn = c_attach, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, group_ro_mode_0640_ok) {
	OWNED(0640), .who = &member_supp, .oflags = O_RDONLY, .fn = c_attach, .expect = 0,
};
/* The group's bits decide for a member, even when others get more. */
FIXTURE_VARIANT_ADD(matrix, group_mode_0606_eacces) {
	OWNED(0606), .who = &member_egid, .oflags = O_RDONLY, .fn = c_attach,
	.expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, not_in_group_mode_0660_eacces) {
	OWNED(0660), .who = &nobody, .oflags = O_RDWR, .fn = c_attach, .expect = EACCES,
};
/* A group member is not the owner: it may not destroy. */
FIXTURE_VARIANT_ADD(matrix, group_destroys_eperm) {
	OWNED(0660), .who = &member_egid, .oflags = O_RDWR, .fn = c_destroy, .expect = EPERM,
	.exists = 1,
};

/* a read-only binding: the mapping */
FIXTURE_VARIANT_ADD(matrix, ro_mmap_shared_read_ok) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_mmap,
	.prot = PROT_READ, .mflags = MAP_SHARED, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, ro_mmap_shared_write_eacces) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_mmap,
	.prot = PROT_READ | PROT_WRITE, .mflags = MAP_SHARED, .expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, ro_mmap_private_write_einval) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_mmap,
	.prot = PROT_READ | PROT_WRITE, .mflags = MAP_PRIVATE, .expect = EINVAL,
};
FIXTURE_VARIANT_ADD(matrix, ro_mmap_private_read_einval) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_mmap,
	.prot = PROT_READ, .mflags = MAP_PRIVATE, .expect = EINVAL,
};
/* MAP_PRIVATE is refused on a read-write binding too: no private copy. */
FIXTURE_VARIANT_ADD(matrix, rw_mmap_private_write_einval) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_mmap,
	.prot = PROT_READ | PROT_WRITE, .mflags = MAP_PRIVATE, .expect = EINVAL,
};
FIXTURE_VARIANT_ADD(matrix, rw_mmap_shared_write_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_mmap,
	.prot = PROT_READ | PROT_WRITE, .mflags = MAP_SHARED, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, ro_mprotect_write_eacces) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_mprotect_write,
	.expect = EACCES,
};
/* A read-only binding of a region whose mode grants write: still read-only. */
FIXTURE_VARIANT_ADD(matrix, ro_file_mode_0666_mprotect_write_eacces) {
	ROOT(0666), .who = &nobody, .oflags = O_RDONLY, .fn = c_mprotect_write,
	.expect = EACCES,
};
FIXTURE_VARIANT_ADD(matrix, ro_store_sigsegv) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_store,
	.expect = E_SIGNAL + SIGSEGV, ATTR("ch3/tail", 0),
};
/* The read-only mapping is the region itself, not a copy. */
FIXTURE_VARIANT_ADD(matrix, ro_mapping_sees_messages) {
	SENT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_read_message, .expect = 0,
};

/* a read-only binding: the ioctls and the channel fd */
FIXTURE_VARIANT_ADD(matrix, ro_chan_create_ebadf) {
	ROOT(0666), .who = &nobody, .oflags = O_RDONLY, .fn = c_chan_create,
	.expect = EBADF, ATTR("channel_count", 1),
};
FIXTURE_VARIANT_ADD(matrix, ro_chan_destroy_ebadf) {
	ROOT(0666), .who = &nobody, .oflags = O_RDONLY, .fn = c_chan_destroy,
	.expect = EBADF, ATTR("channel_count", 1),
};
FIXTURE_VARIANT_ADD(matrix, ro_notify_ebadf) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_notify,
	.expect = EBADF, ATTR("ch3/notifies", 0),
};
FIXTURE_VARIANT_ADD(matrix, ro_eventfd_register_ebadf) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_eventfd, .expect = EBADF,
};
FIXTURE_VARIANT_ADD(matrix, ro_eventfd_unregister_ebadf) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_eventfd_unregister,
	.expect = EBADF,
};
FIXTURE_VARIANT_ADD(matrix, ro_chan_fd_ok) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_chan_fd, .expect = 0,
};
/* A read-only binding's channel fd is open neither for reading nor writing. */
FIXTURE_VARIANT_ADD(matrix, ro_chanfd_access_mode) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_chanfd_accmode, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, ro_chanfd_write_ebadf) {
	ROOT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_chanfd_write,
	.expect = EBADF, ATTR("ch3/tail", 0),
};
/* read() would take the message, a change to the ring: refused, it stays. */
FIXTURE_VARIANT_ADD(matrix, ro_chanfd_read_ebadf) {
	SENT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_chanfd_read,
	.expect = EBADF, ATTR("ch3/depth", 1),
};
FIXTURE_VARIANT_ADD(matrix, ro_chanfd_poll_ok) {
	SENT(0644), .who = &nobody, .oflags = O_RDONLY, .fn = c_chanfd_poll, .expect = 0,
};

/* The same calls on a read-write binding of the same user work. */
FIXTURE_VARIANT_ADD(matrix, rw_chan_create_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_chan_create,
	.expect = 0, ATTR("channel_count", 2),
};
FIXTURE_VARIANT_ADD(matrix, rw_chan_destroy_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_chan_destroy,
	.expect = 0, ATTR("channel_count", 0),
};
FIXTURE_VARIANT_ADD(matrix, rw_notify_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_notify,
	.expect = 0, ATTR("ch3/notifies", 1),
};
FIXTURE_VARIANT_ADD(matrix, rw_eventfd_register_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_eventfd, .expect = 0,
};
FIXTURE_VARIANT_ADD(matrix, rw_chanfd_write_ok) {
	ROOT(0666), .who = &nobody, .oflags = O_RDWR, .fn = c_chanfd_write,
	.expect = 0, ATTR("ch3/depth", 1),
};

/* no permission: an unbound file does nothing */
FIXTURE_VARIANT_ADD(matrix, noperm_mmap_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_mmap, .expect = ENXIO,
};
FIXTURE_VARIANT_ADD(matrix, noperm_notify_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_notify,
	.expect = ENXIO, ATTR("ch3/notifies", 0),
};
FIXTURE_VARIANT_ADD(matrix, noperm_chan_fd_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_chan_fd, .expect = ENXIO,
};
FIXTURE_VARIANT_ADD(matrix, noperm_eventfd_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_eventfd, .expect = ENXIO,
};
FIXTURE_VARIANT_ADD(matrix, noperm_chan_create_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_chan_create,
	.expect = ENXIO, ATTR("channel_count", 1),
};
FIXTURE_VARIANT_ADD(matrix, noperm_chan_destroy_enxio) {
	ROOT(0600), .who = &nobody, .oflags = O_RDWR, .fn = c_noperm_chan_destroy,
	.expect = ENXIO, ATTR("channel_count", 1),
};

FIXTURE_SETUP(matrix)
{
	perm_init(_metadata, &self->p);
}

FIXTURE_TEARDOWN(matrix)
{
	perm_fini(&self->p);
}

TEST_F(matrix, attempt)
{
	FIXTURE_DATA(perm) *p = &self->p;
	int fd = -1;

	if (p->nodev)
		SKIP(return, "no %s or not root", DMXP_DEVICE);
	switch (variant->made) {
	case BY_ROOT:
		ASSERT_EQ(0, root_region_closed(p, variant->mode));
		break;
	case BY_OWNER:
		ASSERT_EQ(0, user_region(p, &owner, variant->mode));
		break;
	case BY_ROOT_SENT:
		fd = root_region(p, variant->mode);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, root_send(fd));
		break;
	case NAME_ONLY:
		new_name(p);
		p->c.mode = variant->mode;
		break;
	}
	p->c.prot = variant->prot;
	p->c.mflags = variant->mflags;
	EXPECT_EQ(variant->expect, try_as(p, variant->who, variant->oflags, variant->fn));
	if (variant->attr)
		EXPECT_EQ(variant->attr_val, sysfs_num(p->c.name, variant->attr));
	if (variant->exists)
		EXPECT_EQ(variant->exists > 0, sysfs_exists(p->c.name, ""));
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------ attach, create and destroy */

/* Even root needs a file open for writing to create. */
TEST_F(perm, ro_create_by_root_ebadf)
{
	int fd;

	NEED_DEV();
	fd = dev_open_at(-1, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, region_create(fd, new_name(self), REGION_SIZE, 0600, EXCL_CREATE, NULL));
	EXPECT_FALSE(sysfs_exists(self->c.name, ""));
	close(fd);
}

/* The handshake comes first: a read-only file is told EPROTO before EBADF. */
TEST_F(perm, ro_before_handshake_eproto)
{
	struct dmxp_ioc_chan c = { .id = CH, .capacity = CH_CAP };
	int fd;

	NEED_DEV();
	fd = open(DMXP_DEVICE, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPROTO, xioctl(fd, DMXP_IOC_CHAN_CREATE, &c));
	close(fd);
}

/* The file's mode is checked before the argument: EBADF, not EINVAL. */
TEST_F(perm, ro_notify_bad_flags_ebadf)
{
	struct dmxp_ioc_notify n = { .id = CH, .flags = ~0U };
	int fd;

	NEED_DEV();
	ASSERT_EQ(0, root_region_closed(self, 0644));
	fd = dev_open_at(-1, O_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, region_attach(fd, self->c.name, NULL));
	EXPECT_EQ(-EBADF, xioctl(fd, DMXP_IOC_NOTIFY, &n));
	close(fd);
}

/* An unknown command is unknown on any file. */
TEST_F(perm, ro_unknown_cmd_enotty)
{
	__u64 arg[8] = { 0 };
	int fd;

	NEED_DEV();
	fd = dev_open_at(-1, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, xioctl(fd, _IOW(DMXP_IOC_MAGIC, 0x7f, __u64), arg));
	close(fd);
}

/* CAP_IPC_OWNER: root attaches whatever the mode and owner. */
TEST_F(perm, root_attaches_mode_0_of_other_owner)
{
	int fd;

	NEED_DEV();
	ASSERT_EQ(0, user_region(self, &owner, 0));
	fd = dev_open_at(-1, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, region_attach(fd, self->c.name, NULL));
	close(fd);
}

/* ------------------------------------ attach: an unprivileged owner (1000) */

TEST_F(perm, owner_creates_owned_region)
{
	NEED_DEV();
	ASSERT_EQ(0, user_region(self, &owner, 0600));
	EXPECT_EQ(OWNER, sysfs_num(self->c.name, "uid"));
	EXPECT_EQ(OWNER, sysfs_num(self->c.name, "gid"));
	EXPECT_EQ(0600, sysfs_num(self->c.name, "mode"));
}

/* The creator's file is bound read-write whatever the mode, as open(O_CREAT). */
TEST_F(perm, owner_creates_mode_0400_and_writes)
{
	NEED_DEV();
	/* c_create makes channel CH on its own binding. */
	EXPECT_EQ(0, user_region(self, &owner, 0400));
	EXPECT_EQ(1, sysfs_num(self->c.name, "channel_count"));
}

TEST_F(perm, root_destroys_ro_file_ebadf)
{
	int fd;

	NEED_DEV();
	ASSERT_EQ(0, root_region_closed(self, 0600));
	fd = dev_open_at(-1, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, region_destroy(fd, self->c.name));
	EXPECT_TRUE(sysfs_exists(self->c.name, ""));
	close(fd);
}

/* --------------------- SCM_RIGHTS: a passed file keeps the opener's rights */

/* Root binds a file of @oflags to a fresh region of @mode and passes it. */
static int pass_bound(FIXTURE_DATA(perm) *self, __u32 mode, int oflags)
{
	int fd, rfd, ret;

	fd = root_region(self, mode);
	if (fd < 0)
		return fd;
	if (oflags != O_RDWR) {
		close(fd);
		rfd = dev_open_at(-1, oflags);
		if (rfd < 0)
			return rfd;
		ret = region_attach(rfd, self->c.name, NULL);
		if (ret) {
			close(rfd);
			return ret;
		}
		fd = rfd;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->sv))
		ret = -errno;
	else
		ret = send_fd(self->sv[0], fd);
	close(fd);		/* in flight, the file lives on */
	self->c.sock = self->sv[1];
	return ret;
}

TEST_F(perm, scm_rw_map_write_ok)
{
	int fd;
	struct dmxp_global_header *h;

	NEED_DEV();
	ASSERT_EQ(0, pass_bound(self, 0600, O_RDWR));
	EXPECT_EQ(0, run_as(&nobody, c_scm_map_write, &self->c));
	/* The store landed in the region. */
	fd = dev_open_at(-1, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, region_attach(fd, self->c.name, NULL));
	h = mmap(NULL, REGION_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, h);
	EXPECT_EQ(0x5ca1ab1e, h->reserved);
	munmap(h, REGION_SIZE);
	close(fd);
}

TEST_F(perm, scm_rw_chan_create_ok)
{
	NEED_DEV();
	ASSERT_EQ(0, pass_bound(self, 0600, O_RDWR));
	EXPECT_EQ(0, run_as(&nobody, c_scm_chan_create, &self->c));
	EXPECT_EQ(2, sysfs_num(self->c.name, "channel_count"));
}

TEST_F(perm, scm_rw_notify_ok)
{
	NEED_DEV();
	ASSERT_EQ(0, pass_bound(self, 0600, O_RDWR));
	EXPECT_EQ(0, run_as(&nobody, c_scm_notify, &self->c));
}

TEST_F(perm, scm_ro_map_write_eacces)
{
	NEED_DEV();
	ASSERT_EQ(0, pass_bound(self, 0600, O_RDONLY));
	EXPECT_EQ(EACCES, run_as(&nobody, c_scm_map_write, &self->c));
}

TEST_F(perm, scm_ro_notify_ebadf)
{
	NEED_DEV();
	ASSERT_EQ(0, pass_bound(self, 0600, O_RDONLY));
	EXPECT_EQ(EBADF, run_as(&nobody, c_scm_notify, &self->c));
}

/* An unbound file carries no right: the receiver's attach is checked. */
TEST_F(perm, scm_unbound_attach_eacces)
{
	int fd;

	NEED_DEV();
	ASSERT_EQ(0, root_region_closed(self, 0600));
	fd = dev_open_at(-1, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->sv));
	ASSERT_EQ(0, send_fd(self->sv[0], fd));
	close(fd);
	self->c.sock = self->sv[1];
	EXPECT_EQ(EACCES, run_as(&nobody, c_scm_attach, &self->c));
}

TEST_F(perm, scm_chanfd_write_ok)
{
	int fd, cfd;

	NEED_DEV();
	fd = root_region(self, 0600);
	ASSERT_LE(0, fd);
	cfd = ioc_chan_fd(fd, CH, DMXP_CHAN_FD_NONBLOCK);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, self->sv));
	ASSERT_EQ(0, send_fd(self->sv[0], cfd));
	close(cfd);
	self->c.sock = self->sv[1];
	EXPECT_EQ(0, run_as(&nobody, c_scm_chanfd_write, &self->c));
	EXPECT_EQ(1, sysfs_num(self->c.name, "ch3/depth"));
	close(fd);
}

/* ------------------------------------------------- the default region */

/* "default" as the module configures it: owner, group and mode. */
static void expect_default_configured(struct __test_metadata *_metadata)
{
	ASSERT_TRUE(sysfs_exists(DMXP_DEFAULT_NAME, ""));
	EXPECT_EQ(param_or("default_uid", 0), sysfs_num(DMXP_DEFAULT_NAME, "uid"));
	EXPECT_EQ(param_or("default_gid", 0), sysfs_num(DMXP_DEFAULT_NAME, "gid"));
	EXPECT_EQ(param_or("default_mode", 0666), sysfs_num(DMXP_DEFAULT_NAME, "mode"));
}

/* The module made "default" at load: nobody could take the name first. */
TEST_F(perm, default_exists_as_configured)
{
	NEED_DEV();
	expect_default_configured(_metadata);
}

/* An exclusive create of the existing "default" fails and changes nothing. */
TEST_F(perm, other_creates_default_excl_eexist)
{
	NEED_DEV();
	strcpy(self->c.name, DMXP_DEFAULT_NAME);
	self->c.mode = 0600;
	self->c.oflags = O_RDWR;
	EXPECT_EQ(EEXIST, run_as(&nobody, c_create, &self->c));
	expect_default_configured(_metadata);
}

/*
 * Even when "default" is gone (destroyed by root), a user who creates it
 * gets the module's region, with the configured owner and mode, not one
 * of their own with their mode.
 */
TEST_F(perm, other_recreates_default_as_configured)
{
	int fd = dev_open_at(-1, O_RDWR);

	NEED_DEV();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, region_destroy(fd, DMXP_DEFAULT_NAME));
	close(fd);
	strcpy(self->c.name, DMXP_DEFAULT_NAME);
	self->c.mode = 0600;
	self->c.oflags = O_RDWR;
	/* Bound to it if its mode lets others in (0666 by default). */
	run_as(&nobody, c_create, &self->c);
	expect_default_configured(_metadata);
}

TEST_HARNESS_MAIN
