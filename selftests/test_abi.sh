#!/bin/sh
# A program built against libdmxp 1.0 (its header and library, taken from
# the tree's history) runs on this tree's library: it needs only the
# LIBDMXP_1.0 version node, every call binds, and each behaves as in 1.0
# (abi_1_0.c).  Skips where the history or a compiler is missing.
. ./tap.sh

top=$(cd .. && pwd)
CC=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-abi.XXXXXX")
region="${DMXP_TEST_DIR:-/dev/shm}/dmxp-abi-$$"
trap 'rm -rf "$work"; rm -f "$region"' EXIT

names="the 1.0 library builds from the history
the 1.0 program builds against the 1.0 header and library
the 1.0 program needs only the LIBDMXP_1.0 version
the 1.0 program runs on the 1.0 library
the 1.0 program runs on this library, every symbol bound at load"

# skip_rest WHY: skip the checks not run yet, and end.
skip_rest() {
	_i=0
	while read -r n; do
		_i=$((_i + 1))
		[ "$_i" -gt "$_tap_n" ] && skip "$n: $1"
	done <<-END
	$names
	END
	tap_done
	exit $?
}

command -v "$CC" >/dev/null 2>&1 || skip_rest "no C compiler"
command -v readelf >/dev/null 2>&1 || skip_rest "readelf is not installed"
[ -f "$top/lib/libdmxp.so.1" ] || skip_rest "the library is not built"
# 1.0 is the last tree whose header declared dmxp_chan_abort() void.
last=$(git -C "$top" log --format=%H -1 -S'void dmxp_chan_abort(' -- include/dmxp.h 2>/dev/null)
[ -n "$last" ] && git -C "$top" cat-file -e "$last^" 2>/dev/null ||
	skip_rest "the tree has no git history (a tarball or a shallow clone)"

git -C "$top" archive "$last^" | tar -x -C "$work" &&
	make -s -C "$work/lib" CC="$CC" >"$work/build.log" 2>&1
r=$?
check "the 1.0 library builds from the history" test $r -eq 0 ||
	{ cat "$work/build.log"; skip_rest "no 1.0 library"; }

$CC -O2 -Wall -Werror -I"$work/include" -I"$work/include/uapi" -o "$work/abi_1_0" \
	abi_1_0.c -L"$work/lib" -ldmxp >"$work/cc.log" 2>&1
r=$?
check "the 1.0 program builds against the 1.0 header and library" test $r -eq 0 ||
	{ cat "$work/cc.log"; skip_rest "no 1.0 program"; }

# The version needs of the program on libdmxp.so.1: LIBDMXP_1.0 and no other.
needs=$(readelf -V -W "$work/abi_1_0" | awk '
	/File: / { f = ($0 ~ /libdmxp\.so\.1/) }
	f && /Name: LIBDMXP/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print $(i + 1) }' |
	sort -u | tr '\n' ' ')
check "the 1.0 program needs only the LIBDMXP_1.0 version" test "$needs" = "LIBDMXP_1.0 " ||
	echo "# version needs: '$needs'"

out=$(LD_LIBRARY_PATH="$work/lib" LD_BIND_NOW=1 "$work/abi_1_0" "$region" 2>&1)
check "the 1.0 program runs on the 1.0 library" test "$out" = ok || echo "# $out"
rm -f "$region"

out=$(LD_LIBRARY_PATH="$top/lib" LD_BIND_NOW=1 "$work/abi_1_0" "$region" 2>&1)
check "the 1.0 program runs on this library, every symbol bound at load" test "$out" = ok ||
	echo "# $out"
tap_done
