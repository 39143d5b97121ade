// SPDX-License-Identifier: MIT
/*
 * The library's side of the DMXP_IOC_VERSION handshake: it accepts a
 * module of its ABI major whose features include what it needs, whatever
 * the module's minor and whatever bits it does not know, and refuses
 * another major (or a missing feature) with EPROTO.
 *
 * The module under test is the real one; this program stands between the
 * library and it by defining ioctl(): the library (linked in statically)
 * calls this one, which passes every request on and, for the handshake,
 * rewrites the module's answer into that of the module a test imagines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "kselftest_harness.h"
#include "helpers.h"

enum module_kind {
	MOD_REAL,		/* the answer as given */
	MOD_NEWER,		/* a higher minor and feature bits unknown today */
	MOD_1_0,		/* the 1.0.0 module: version 1, the first four bits */
	MOD_MAJOR_REFUSES,	/* another major: refuses, says what it speaks */
	MOD_MAJOR_ANSWERS,	/* another major that answers nonetheless */
	MOD_NO_WAKE,		/* the same major without DMXP_FEAT_WAKE */
};

static enum module_kind module_kind;
static struct dmxp_ioc_version asked;	/* the library's last request */
static int handshakes;

int ioctl(int fd, unsigned long req, ...)
{
	struct dmxp_ioc_version *v;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (req == DMXP_IOC_VERSION) {
		memcpy(&asked, arg, sizeof(asked));
		handshakes++;
	}
	ret = syscall(SYS_ioctl, fd, req, arg);
	if (req != DMXP_IOC_VERSION || ret)
		return (int)ret;
	v = arg;
	switch (module_kind) {
	case MOD_REAL:
		break;
	case MOD_NEWER:
		v->version = DMXP_ABI_VERSION(DMXP_ABI_MAJOR, 0x7fff);
		v->features |= 0xffff0000U;
		break;
	case MOD_1_0:
		v->version = 1;
		v->features = DMXP_FEAT_REGIONS | DMXP_FEAT_CHANNELS | DMXP_FEAT_WAKE |
			      DMXP_FEAT_REPAIR;
		break;
	case MOD_MAJOR_REFUSES:
		v->version = DMXP_ABI_VERSION(DMXP_ABI_MAJOR + 1, 0);
		errno = EPROTONOSUPPORT;
		return -1;
	case MOD_MAJOR_ANSWERS:
		v->version = DMXP_ABI_VERSION(DMXP_ABI_MAJOR + 1, 0);
		break;
	case MOD_NO_WAKE:
		v->features &= ~DMXP_FEAT_WAKE;
		break;
	}
	return 0;
}

FIXTURE(ver) {
	bool nodev;
	char path[64];
};

FIXTURE_SETUP(ver)
{
	SKIP_WITHOUT_DEV(self->nodev, "the kernel tests need root");
	snprintf(self->path, sizeof(self->path), DMXP_DEVICE ":ver-%d", (int)getpid());
	module_kind = MOD_REAL;
	handshakes = 0;
}

FIXTURE_TEARDOWN(ver)
{
	module_kind = MOD_REAL;
	if (!self->nodev)
		dmxp_region_unlink(self->path);
}

/* Open a region through a module of @kind: dmxp_region_open()'s result. */
static int open_through(FIXTURE_DATA(ver) *self, enum module_kind kind)
{
	struct dmxp_region *r = NULL;
	int ret;

	module_kind = kind;
	ret = dmxp_region_open(self->path, TEST_REGION_SIZE, DMXP_OPEN_CREATE, &r);
	module_kind = MOD_REAL;
	if (!ret)
		dmxp_region_close(r);
	return ret;
}

/* The library asks what a 1.0.0 module accepts too: version 1, nothing asked. */
TEST_F(ver, lib_request_is_1_0)
{
	NEED_DEV();
	ASSERT_EQ(0, open_through(self, MOD_REAL));
	ASSERT_LT(0, handshakes);
	EXPECT_EQ(1U, asked.version);
	EXPECT_EQ(0U, asked.features);
	EXPECT_EQ(0ULL, asked.max_region_size);
}

TEST_F(ver, lib_accepts_newer_minor_and_unknown_features)
{
	NEED_DEV();
	EXPECT_EQ(0, open_through(self, MOD_NEWER));
}

TEST_F(ver, lib_accepts_1_0_module)
{
	NEED_DEV();
	EXPECT_EQ(0, open_through(self, MOD_1_0));
}

TEST_F(ver, lib_refuses_other_major)
{
	NEED_DEV();
	EXPECT_EQ(-EPROTO, open_through(self, MOD_MAJOR_REFUSES));
	EXPECT_EQ(-EPROTO, open_through(self, MOD_MAJOR_ANSWERS));
}

TEST_F(ver, lib_refuses_missing_feature)
{
	NEED_DEV();
	EXPECT_EQ(-EPROTO, open_through(self, MOD_NO_WAKE));
}

TEST_HARNESS_MAIN
