#!/bin/sh
# libdmxp.so can be unloaded: a program dlopen()s it, sends from a
# thread, closes everything and dlclose()s it, and then the thread exits
# (its record's destructor must have gone with the library) and the
# program forks (the fork handlers the library registered at load must
# have gone too).  Natively: it builds a program.
. ./tap.sh

so=$(cd ../lib && pwd)/libdmxp.so.1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/unload.c" <<'EOF'
#define DMXP_NO_INLINE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dmxp.h>

static __typeof__(dmxp_chan_send) *send_fn;
static struct dmxp_chan *c;
static pthread_barrier_t sent, unloaded;

static void *sender(void *arg)
{
	(void)arg;
	if (send_fn(c, "x", 1, 0))
		_exit(3);
	pthread_barrier_wait(&sent);
	pthread_barrier_wait(&unloaded);
	return NULL;	/* the thread's destructors run now */
}

int main(int argc, char **argv)
{
	struct dmxp_region *r;
	char path[128];
	pthread_t t;
	int status;
	pid_t pid;
	void *h;

	if (argc != 3 || !(h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)))
		return 10;
	send_fn = (__typeof__(send_fn))dlsym(h, "dmxp_chan_send");
	snprintf(path, sizeof(path), "%s/region", argv[2]);
	if (((__typeof__(dmxp_region_open) *)dlsym(h, "dmxp_region_open"))
		    (path, 4 << 20, DMXP_OPEN_CREATE | DMXP_OPEN_EXCL, &r))
		return 11;
	unlink(path);	/* mapped: nothing is left behind */
	if (((__typeof__(dmxp_chan_create) *)dlsym(h, "dmxp_chan_create"))(r, 1, 8) ||
	    ((__typeof__(dmxp_chan_open) *)dlsym(h, "dmxp_chan_open"))(r, 1, &c))
		return 12;
	pthread_barrier_init(&sent, NULL, 2);
	pthread_barrier_init(&unloaded, NULL, 2);
	if (pthread_create(&t, NULL, sender, NULL))
		return 13;
	pthread_barrier_wait(&sent);
	((__typeof__(dmxp_chan_close) *)dlsym(h, "dmxp_chan_close"))(c);
	((__typeof__(dmxp_region_close) *)dlsym(h, "dmxp_region_close"))(r);
	if (dlclose(h))
		return 14;
	pthread_barrier_wait(&unloaded);
	pthread_join(t, NULL);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status)
		return 4;
	return 0;
}
EOF
if ! command -v ${CC:-cc} >/dev/null 2>&1; then
	skip "a thread exits after the library was unloaded: no C compiler"
elif [ ! -f "$so" ]; then
	not_ok "a thread exits after the library was unloaded: $so is not built"
elif ! ${CC:-cc} -O2 -Wall -Wextra -Werror -I../include -I../include/uapi -pthread \
		-o "$tmp/unload" "$tmp/unload.c" -ldl; then
	not_ok "a thread exits after the library was unloaded: the program does not build"
else
	"$tmp/unload" "$so" "$tmp"
	rc=$?
	[ "$rc" -eq 0 ] || echo "# exit status $rc"
	check "a thread exits after the library was unloaded, and the program forks" test "$rc" -eq 0
fi
tap_done
