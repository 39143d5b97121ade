#!/bin/sh
# The documentation against the code.  The producer and consumer of
# Documentation/MEMORY_LAYOUT.md ("A minimal producer and consumer in
# C11"), taken from the markdown as it stands, compiles with -Wall -Wextra
# -Werror and exchanges messages with dmxpctl both ways (waking a dmxpctl
# asleep in recv --wait), and between two processes of its own.
# Documentation/API_REFERENCE.md, the index of the man pages, has a line
# for every function of include/dmxp.h naming its page, and the page
# exists (test_install.sh checks the pages themselves).  Natively only:
# the guest has no compiler.
. ./tap.sh

top=$(cd .. && pwd)
CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}
CC=${CC:-cc}
dir=$(mktemp -d "${DMXP_TEST_DIR:-/dev/shm}/dmxp-docs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
doc=$top/Documentation/MEMORY_LAYOUT.md

# The fenced C block(s) of the section, found by its title, not its number.
awk '
/^## [0-9]+\. / { in_sec = ($0 ~ /^## [0-9]+\. A minimal producer and consumer in C11$/); next }
in_sec && /^```c$/ { code = 1; next }
in_sec && code && /^```$/ { code = 0; next }
in_sec && code { print }
' "$doc" >"$dir/example.c"

# A main for it: send COUNT messages "PREFIX-i" (type 7), or receive COUNT
# and print "TYPE PAYLOAD" lines, on channel CH of REGION.
cat >>"$dir/example.c" <<'EOF'

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	uint64_t size;
	unsigned char *r;
	struct chan c;
	char buf[MAX_PAYLOAD + 1];
	long n;
	int rc;

	if (argc != 6)
		return 2;
	r = region_attach(argv[1], &size);
	if (!r)
		return 3;
	if (chan_open(&c, r, size, (uint32_t)atoi(argv[2])))
		return 4;
	n = atol(argv[4]);
	for (long i = 0; i < n; i++) {
		if (!strcmp(argv[3], "send")) {
			int len = snprintf(buf, sizeof(buf), "%s-%ld", argv[5], i);

			while ((rc = chan_send(&c, buf, (uint32_t)len, 7)) == -EAGAIN)
				sched_yield();
		} else {
			uint32_t type = 0;

			while ((rc = chan_recv(&c, buf, &type)) == -EAGAIN)
				sched_yield();
			if (rc >= 0) {
				buf[rc] = 0;
				printf("%u %s\n", type, buf);
				rc = 0;
			}
		}
		if (rc)
			return 5;
	}
	return 0;
}
EOF

check "the layout document's example is found" test "$(grep -c 'chan_send\|chan_recv\|region_attach' "$dir/example.c")" -ge 6
if command -v "${CC%% *}" >/dev/null 2>&1; then
	check "the layout document's example compiles with -Wall -Wextra -Werror" \
		$CC -std=c11 -O2 -Wall -Wextra -Werror -o "$dir/example" "$dir/example.c"
else
	skip "the layout document's example compiles with -Wall -Wextra -Werror: no compiler ($CC)"
fi
# Each run bounded: a send to a full ring retries for ever.
ex() { timeout 120 "$dir/example" "$@"; }

# expect FILE N PREFIX: FILE is the lines "7 PREFIX-0" .. "7 PREFIX-(N-1)"
expect() {
	i=0
	: >"$dir/want"
	while [ $i -lt "$2" ]; do echo "7 $3-$i" >>"$dir/want"; i=$((i + 1)); done
	cmp -s "$1" "$dir/want" || { echo "# $1 differs:"; diff "$1" "$dir/want" | head -5 | sed 's/^/# /'; return 1; }
}

R=$dir/region
ex_to_ctl() {
	ex "$R" 5 send 200 ex && "$CTL" -r "$R" recv 5 -n 200 --type >"$dir/got" &&
		expect "$dir/got" 200 ex
}
ctl_to_ex() {
	i=0
	while [ $i -lt 200 ]; do echo "ctl-$i"; i=$((i + 1)); done |
		"$CTL" -r "$R" send 5 --type 7 &&
		ex "$R" 5 recv 200 x >"$dir/got" && expect "$dir/got" 200 ctl
}
# dmxpctl asleep in the library's blocking receive: the example's waker
# half must wake it.
ex_wakes_ctl() {
	"$CTL" -r "$R" recv 5 -n 3 --timeout 10000 --type >"$dir/got" &
	sleeper=$!
	sleep 0.5
	ex "$R" 5 send 3 wake || { wait $sleeper; return 1; }
	wait $sleeper && expect "$dir/got" 3 wake
}
# Two processes of the example, 100000 messages through 256 slots.
ex_to_ex() {
	ex "$R" 5 recv 100000 x >"$dir/got" &
	consumer=$!
	ex "$R" 5 send 100000 big || { kill $consumer; wait $consumer; return 1; }
	wait $consumer && expect "$dir/got" 100000 big
}
if [ -x "$dir/example" ] && [ -x "$CTL" ] && "$CTL" -r "$R" create 5 --capacity 256 >/dev/null; then
	check "the example sends 200 messages dmxpctl receives in order" ex_to_ctl
	check "the example receives 200 messages dmxpctl sends" ctl_to_ex
	check "the example wakes dmxpctl asleep in recv --wait" ex_wakes_ctl
	check "an example producer and consumer exchange 100000 messages in order" ex_to_ex
else
	for t in "the example sends 200 messages dmxpctl receives in order" \
		 "the example receives 200 messages dmxpctl sends" \
		 "the example wakes dmxpctl asleep in recv --wait" \
		 "an example producer and consumer exchange 100000 messages in order"; do
		skip "$t: the example or dmxpctl is not built"
	done
fi

# API_REFERENCE.md, the index of the man pages: a line for every function
# of dmxp.h naming its page, and the page.
api=$top/Documentation/API_REFERENCE.md
funcs=$(sed -n 's/^[a-z].*[ *]\(dmxp_[a-z][a-z_]*\)(.*/\1/p' "$top/include/dmxp.h" | sort -u)
missing=
for f in $funcs; do
	grep -q "^| \[\`$f()\`\](../man/$f.3) |" "$api" && [ -f "$top/man/$f.3" ] ||
		missing="$missing $f"
done
[ -z "$missing" ] || echo "# not indexed with their page:$missing"
check "API_REFERENCE.md indexes every function of dmxp.h ($(echo $funcs | wc -w)) with its page" \
	test -n "$funcs" -a -z "$missing"

tap_done
