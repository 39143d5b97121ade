// SPDX-License-Identifier: MIT
/*
 * An LD_PRELOAD shim for selftests/test_rust.sh: the module's answer to
 * DMXP_IOC_VERSION, as the program sees it, with its version and features
 * replaced by DMXP_SHIM_VERSION and DMXP_SHIM_FEATURES (numbers, any
 * base), when set.  So a peer's handshake can be shown a module of another
 * ABI major, or one that lacks a feature, on the real device.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/dmxp.h>

int ioctl(int fd, unsigned long req, ...);

static void replace(__u32 *field, const char *env)
{
	const char *s = getenv(env);

	if (s && *s)
		*field = (__u32)strtoul(s, NULL, 0);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real)(int, unsigned long, void *);
	void *arg;
	va_list ap;
	int ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (int (*)(int, unsigned long, void *))dlsym(RTLD_NEXT, "ioctl");
	ret = real(fd, req, arg);
	if (ret == 0 && req == DMXP_IOC_VERSION) {
		struct dmxp_ioc_version *v = arg;

		replace(&v->version, "DMXP_SHIM_VERSION");
		replace(&v->features, "DMXP_SHIM_FEATURES");
	}
	return ret;
}
