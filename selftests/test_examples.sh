#!/bin/sh
# The examples, as a user meets them.  Every fenced code block of
# README.md, Documentation/BUILDING_CONSUMERS.md and tools/examples/README.md
# is marked by the line before it:
#
#   <!-- example: NAME [installed] [expect: TEXT] -->   tested here
#   <!-- example: NAME excerpt: PATH -->                its lines are PATH's, in order
#   <!-- example: NAME skip: REASON -->                 not runnable in a test
#
# and a block with neither fails, so that no new block can rot.  A C block
# is saved as NAME.c, compiled with -Wall -Wextra -Werror against the
# build tree and run; a sh block runs with `sh -e`, in the order of the
# document, in a directory that has the tree's include/, lib/ and tools/
# (so the README's own compile line builds the C block saved before it);
# TEXT must be in the output.  Then `make install` into a DESTDIR: each C
# block is compiled with pkg-config against the installed copy and run on
# its shared library, and the `installed` sh blocks run with pkg-config,
# the loader and PATH pointed at it.  Every run uses a temporary region
# ($DMXP_REGION).  Blocks without a language (synopses, output) are
# text; README.md's Python blocks, and blocks named python or python-*,
# are test_python.sh's.
#
# Then the programs make built in tools/examples: hello, producer and a
# consumer asleep in dmxp_chan_recv_wait(), poll_consumer (which waits
# in poll() on a kernel region's channel fd, and refuses a region file
# with one line), and their usage errors.  In the QEMU guest
# (DMXP_TEST_BACKEND=kernel), which has no compiler, only those, on a
# kernel region.
. ./tap.sh

top=$(cd .. && pwd)
CC=${CC:-cc}
CTL=$top/tools/dmxpctl/dmxpctl
EX=$top/tools/examples
DOCS="README.md Documentation/BUILDING_CONSUMERS.md tools/examples/README.md"
work=$(mktemp -d "${DMXP_TEST_DIR:-/dev/shm}/dmxp-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
export DMXP_REGION="$work/region"
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	DMXP_REGION=/dev/dmxp:$(basename "$0" .sh)-$$
	trap '"$CTL" region destroy "$DMXP_REGION" 2>/dev/null; rm -rf "$work"' EXIT
fi

# run_to FILE CMD...: CMD, bounded, its output (both streams) in FILE
run_to() {
	_f=$1; shift
	timeout 60 "$@" >"$_f" 2>&1 </dev/null
}

# has FILE TEXT: FILE contains TEXT, or its first lines go to the log
has() {
	grep -qF -- "$2" "$1" && return 0
	echo "# no '$2' in the output:"
	head -n 10 "$1" | sed 's/^/#   /'
	return 1
}

# ------------------------------------------------------ the documents' blocks

# blocks: every fenced block of $DOCS into $work/blocks/N, and one line
# per block "N<TAB>DOC<TAB>LINE<TAB>LANG<TAB>MARKER" (MARKER: what follows
# "example:" on the line before the fence, or empty).
mkdir -p "$work/blocks" "$work/run" "$work/bin"
(cd "$top" && awk -v dir="$work/blocks" '
FNR == 1 { inb = 0; prev = "" }
!inb && /^```/ {
	inb = 1; n++; lang = substr($0, 4)
	mk = ""
	if (prev ~ /^<!-- example: .* -->$/) {
		mk = prev; sub(/^<!-- example: /, "", mk); sub(/ -->$/, "", mk)
	}
	printf "%d\t%s\t%d\t%s\t%s\n", n, FILENAME, FNR, lang, mk
	printf "" > (dir "/" n); next
}
inb && /^```$/ { inb = 0; close(dir "/" n); prev = $0; next }
inb { print > (dir "/" n); next }
{ prev = $0 }
' $DOCS) >"$work/manifest"

# The directory the sh blocks run in: the tree's parts they name.
for d in include lib tools; do ln -s "$top/$d" "$work/run/$d"; done

# excerpt FILE PATH: FILE's lines stand in PATH in that order (leading
# white space aside; blank lines and "..." stand for what is left out)
excerpt() {
	awk 'NR == FNR { sub(/^[ \t]+/, ""); if ($0 != "" && $0 != "...") want[++n] = $0; next }
	     { sub(/^[ \t]+/, "") } i < n && $0 == want[i + 1] { i++ }
	     END { if (i < n) { print "# not in order in the file: " want[i + 1]; exit 1 } }' \
		"$1" "$top/$2"
}

native_doc=1
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	native_doc=0 why="runs natively (the guest has no compiler)"
elif ! command -v "${CC%% *}" >/dev/null 2>&1; then
	native_doc=0 why="no compiler ($CC)"
elif [ ! -e "$top/lib/libdmxp.so.1" ] || [ ! -x "$CTL" ]; then
	native_doc=0 why="the tree is not built (make)"
fi

tab=$(printf '\t')
# C blocks and installed sh blocks, for the install pass: "N NAME" lines
: >"$work/c_blocks"
: >"$work/installed_blocks"
unmarked=""
while IFS="$tab" read -r n doc line lang mk; do
	where="$doc:$line"
	name=${mk%% *}
	attrs=" ${mk#"$name"} "
	expect=""
	case $attrs in *" expect: "*) expect=${attrs#*" expect: "}; expect=${expect% } ;; esac
	case $lang in
	'')
		continue ;;	# a synopsis or output: text, not a program
	python)
		if [ "$doc" = README.md ]; then
			continue	# test_python.sh runs README.md's Python blocks
		fi ;;
	esac
	if [ -z "$name" ]; then
		not_ok "$where: the $lang block is marked <!-- example: NAME --> or <!-- example: NAME skip: REASON -->"
		unmarked="$unmarked $where"
		continue
	fi
	case $name in
	python|python[-_]*)
		skip "$where $name: test_python.sh runs the Python examples"
		continue ;;
	esac
	case $attrs in
	*" skip: "*)
		reason=${attrs#*" skip: "}
		skip "$where $name: ${reason% }"
		continue ;;
	*" excerpt: "*)
		path=${attrs#*" excerpt: "}; path=${path%% *}
		check "$where $name: its lines are $path's" excerpt "$work/blocks/$n" "$path"
		continue ;;
	esac
	if [ $native_doc = 0 ]; then
		skip "$where $name: $why"
		continue
	fi
	case $lang in
	c)
		cp "$work/blocks/$n" "$work/run/$name.c"
		echo "$n $name $expect" >>"$work/c_blocks"
		if [ -f "$EX/$name.c" ]; then
			check "$where $name: is tools/examples/$name.c" cmp -s "$work/blocks/$n" "$EX/$name.c"
		fi
		# shellcheck disable=SC2086
		check "$where $name: compiles with -Wall -Wextra -Werror against the build tree" \
			$CC -Wall -Wextra -Werror -I"$top/include" -I"$top/include/uapi" \
			-o "$work/bin/$name" "$work/run/$name.c" -L"$top/lib" -ldmxp -Wl,-rpath,"$top/lib"
		if run_to "$work/out" "$work/bin/$name"; then
			check "$where $name: runs${expect:+ and prints $expect}" has "$work/out" "$expect"
		else
			not_ok "$where $name: runs (exit status $?)"
			sed 's/^/# /' "$work/out" | head -n 10
		fi ;;
	sh)
		case $attrs in
		*" installed "*)
			echo "$n $name $where $expect" >>"$work/installed_blocks"
			continue ;;
		esac
		if (cd "$work/run" && run_to "$work/out" sh -e "$work/blocks/$n"); then
			check "$where $name: runs as pasted${expect:+ and prints $expect}" \
				has "$work/out" "$expect"
		else
			not_ok "$where $name: runs as pasted (exit status $?)"
			sed 's/^/# /' "$work/out" | head -n 10
		fi ;;
	*)
		not_ok "$where $name: a $lang block: this test runs c and sh blocks (mark it skip)" ;;
	esac
done <"$work/manifest"
[ -z "$unmarked" ] || echo "# unmarked blocks:$unmarked"

# The quick start: without root first (make, then dmxpctl), then the
# root-and-QEMU commands, which CI runs as they are written.
quick_order() {
	awk '/^## / { q = ($0 == "## Quick start") } q { print FNR ": " $0 }' "$top/README.md" >"$work/quick"
	_make=$(grep -m1 -n '^[0-9]*: make$' "$work/quick" | cut -d: -f1)
	_ctl=$(grep -m1 -n '^[0-9]*: tools/dmxpctl/dmxpctl ' "$work/quick" | cut -d: -f1)
	_demo=$(grep -m1 -n '^[0-9]*: make demo ' "$work/quick" | cut -d: -f1)
	_check=$(grep -m1 -n '^[0-9]*: make check ' "$work/quick" | cut -d: -f1)
	[ -n "$_make" ] && [ -n "$_ctl" ] && [ -n "$_demo" ] && [ -n "$_check" ] &&
		[ "$_make" -lt "$_ctl" ] && [ "$_ctl" -lt "$_demo" ] && [ "$_demo" -lt "$_check" ] && return 0
	echo "# quick start lines: make ${_make:-none}, dmxpctl ${_ctl:-none}, make demo ${_demo:-none}, make check ${_check:-none}"
	return 1
}
check "README's quick start: make and dmxpctl without root, then make demo and make check" quick_order
check "every block of $DOCS is tested or skipped with a reason" test -z "$unmarked"
rm -f "$DMXP_REGION"

# ---- against an installed copy (test_install.sh checks the install itself)

d="$work/dest"
lib="$d/usr/local/lib"
# pc ARGS...: pkg-config on the DESTDIR's libdmxp.pc
pc() { PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_LIBDIR="$lib/pkgconfig" \
	PKG_CONFIG_SYSROOT_DIR="$d" pkg-config "$@"; }
if [ $native_doc = 0 ]; then
	skip "make install into a DESTDIR: $why"
elif ! command -v make >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; then
	native_doc=0 why="make or pkg-config is not installed"
	skip "make install into a DESTDIR: $why"
elif env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" --no-print-directory \
		install DESTDIR="$d" PREFIX=/usr/local >"$work/log" 2>&1; then
	ok "make install into a DESTDIR"
else
	not_ok "make install into a DESTDIR"
	tail -n 20 "$work/log" | sed 's/^/# /'
	native_doc=0 why="make install failed"
fi

while read -r n name expect; do
	if [ $native_doc = 0 ]; then
		skip "$name: builds and runs against the installed copy: $why"
		continue
	fi
	# shellcheck disable=SC2046
	if $CC -Wall -Wextra -Werror -o "$work/bin/$name-installed" "$work/run/$name.c" \
			$(pc --cflags --libs libdmxp) 2>"$work/out" &&
	   LD_LIBRARY_PATH="$lib" run_to "$work/out" "$work/bin/$name-installed" &&
	   LD_LIBRARY_PATH="$lib" ldd "$work/bin/$name-installed" | grep -q "$lib/libdmxp.so.1"; then
		check "$name: builds with pkg-config and runs on the installed library" has "$work/out" "$expect"
	else
		not_ok "$name: builds with pkg-config and runs on the installed library"
		sed 's/^/# /' "$work/out" | head -n 10
	fi
done <"$work/c_blocks"

while read -r n name where expect; do
	if [ $native_doc = 0 ]; then
		skip "$where $name: $why"
		continue
	fi
	if (cd "$work/run" && PATH="$d/usr/local/bin:$PATH" LD_LIBRARY_PATH="$lib" \
		PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_LIBDIR="$lib/pkgconfig" \
		PKG_CONFIG_SYSROOT_DIR="$d" run_to "$work/out" sh -e "$work/blocks/$n"); then
		check "$where $name: runs as pasted against the installed copy${expect:+ and prints $expect}" \
			has "$work/out" "$expect"
	else
		not_ok "$where $name: runs as pasted against the installed copy (exit status $?)"
		sed 's/^/# /' "$work/out" | head -n 10
	fi
done <"$work/installed_blocks"
rm -f "$DMXP_REGION"

# --------------------------------------------- the programs of tools/examples

for p in hello producer consumer poll_consumer; do
	[ -x "$EX/$p" ] && continue
	skip "the built examples: tools/examples/$p is not built (make)"
	tap_done
	exit $?
done

out="$work/out"
check "hello runs without LD_LIBRARY_PATH (its rpath finds libdmxp.so.1)" \
	sh -c "env -u LD_LIBRARY_PATH '$EX/hello' >'$out' 2>&1 && grep -qx 'received \"hello\" from pid [0-9]*' '$out'"

# A consumer asleep before the producer starts: 1000 messages, in order.
seq_msgs() { i=1; while [ $i -le "$1" ]; do echo "message $i"; i=$((i + 1)); done; }
pair() {
	timeout 60 "$EX/consumer" 3 1000 >"$work/got" 2>&1 &
	_c=$!
	sleep 0.3
	timeout 60 "$EX/producer" 3 1000 >"$work/sent" 2>&1 || { kill $_c; wait $_c; return 1; }
	wait $_c || { cat "$work/got" | sed 's/^/# /' | tail -n 3; return 1; }
	seq_msgs 1000 | cmp -s - "$work/got" &&
		grep -qx 'producer: sent 1000 messages on channel 3' "$work/sent"
}
check "consumer, asleep in dmxp_chan_recv_wait(), receives producer's 1000 messages in order" pair

# usage STATUS PATTERN CMD...: exit STATUS, one stderr line matching PATTERN
usage() {
	_st=$1 _pat=$2; shift 2
	"$@" >/dev/null 2>"$work/err"
	_rc=$?
	[ $_rc -eq "$_st" ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q -- "$_pat" "$work/err" && return 0
	echo "# $*: exit $_rc"
	sed 's/^/# /' "$work/err"
	return 1
}
check "producer: a bad number is one line and exit status 2" \
	usage 2 "^producer: bad number '08x' (usage: producer \[CH \[COUNT\]\])$" "$EX/producer" 08x
check "consumer: channel 256 is one line and exit status 2" \
	usage 2 "^consumer: bad number '256'" "$EX/consumer" 256

if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	skip "poll_consumer refuses a region file with one line: needs a region file (natively)"
	polled() {
		timeout 60 "$EX/poll_consumer" 4 500 >"$work/got" 2>&1 &
		_c=$!
		sleep 0.3
		timeout 60 "$EX/producer" 4 500 >/dev/null 2>&1 || { kill $_c; wait $_c; return 1; }
		wait $_c && seq_msgs 500 | cmp -s - "$work/got"
	}
	check "poll_consumer, asleep in poll() on the channel fd, receives 500 messages in order" polled
else
	check "poll_consumer refuses a region file with one line" \
		usage 1 "^poll_consumer: .* is a region file, which has no channel fd" "$EX/poll_consumer"
	skip "poll_consumer, asleep in poll() on the channel fd, receives 500 messages in order: needs /dev/dmxp (the guest)"
fi

tap_done
