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
this library exports every function of 1.0 at LIBDMXP_1.0
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
# The tree of 1.0: the last whose dmxp_chan_abort() and _release()
# returned void.  Whoever owns the checkout, git may read it here.
v10=17c480d3ff6d1c5fb7b8cbf5ed13ca1cf120ba34
git_() { git -c safe.directory="$top" -C "$top" "$@"; }
[ -e "$top/.git" ] || skip_rest "the tree is not a git checkout"
[ "$(git_ rev-parse --is-shallow-repository)" = false ] ||
	skip_rest "a shallow clone has no 1.0 to build"

git_ archive "$v10" >"$work/v10.tar" 2>"$work/build.log" &&
	tar -x -C "$work" -f "$work/v10.tar" &&
	make -s -C "$work/lib" CC="$CC" >>"$work/build.log" 2>&1
r=$?
verify "the 1.0 library builds from the history" test $r -eq 0 ||
	{ sed 's/^/# /' "$work/build.log"; skip_rest "no 1.0 library"; }

# name@LIBDMXP_1.0 for each function a library exports at that version
v10_syms() {
	readelf --dyn-syms -W "$1" |
		awk '$7 != "UND" && $8 ~ /@@?LIBDMXP_1\.0$/ { sub(/@.*/, "", $8); print $8 }' | sort
}
v10_syms "$work/lib/libdmxp.so.1" >"$work/old.syms"
v10_syms "$top/lib/libdmxp.so.1" >"$work/new.syms"
missing=$(comm -23 "$work/old.syms" "$work/new.syms" | tr '\n' ' ')
verify "this library exports every function of 1.0 at LIBDMXP_1.0" \
	test -s "$work/old.syms" -a -z "$missing" || echo "# missing: '$missing'"

$CC -O2 -Wall -Werror -I"$work/include" -I"$work/include/uapi" -o "$work/abi_1_0" \
	abi_1_0.c -L"$work/lib" -ldmxp >"$work/cc.log" 2>&1
r=$?
verify "the 1.0 program builds against the 1.0 header and library" test $r -eq 0 ||
	{ sed 's/^/# /' "$work/cc.log"; skip_rest "no 1.0 program"; }

# The version needs of the program on libdmxp.so.1: LIBDMXP_1.0 and no other.
needs=$(readelf -V -W "$work/abi_1_0" | awk '
	/File: / { f = ($0 ~ /libdmxp\.so\.1/) }
	f && /Name: LIBDMXP/ { for (i = 1; i <= NF; i++) if ($i == "Name:") print $(i + 1) }' |
	sort -u | tr '\n' ' ')
verify "the 1.0 program needs only the LIBDMXP_1.0 version" test "$needs" = "LIBDMXP_1.0 " ||
	echo "# version needs: '$needs'"

out=$(LD_LIBRARY_PATH="$work/lib" LD_BIND_NOW=1 "$work/abi_1_0" "$region" 2>&1)
verify "the 1.0 program runs on the 1.0 library" test "$out" = ok || echo "# $out"
rm -f "$region"

out=$(LD_LIBRARY_PATH="$top/lib" LD_BIND_NOW=1 "$work/abi_1_0" "$region" 2>&1)
verify "the 1.0 program runs on this library, every symbol bound at load" test "$out" = ok ||
	echo "# $out"
tap_done
