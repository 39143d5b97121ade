#!/bin/sh
# The QEMU rig (tools/vm/run) itself: a command's output reaches the host
# whole, however slowly the host reads it; the command's exit status comes
# back; the kernel-log scan fails a run on a checker's report, on a KCSAN
# race whose access is in the module, and not on a race inside the core
# kernel or on lockdep's boot line.  The reports are written into the
# guest's log through /dev/kmsg.  A checker's control (tools/vm/control)
# that the kernel does not report fails the run: lockdep's, in Debian's
# kernel, which has none; and so does one for a checker that dmxp.ko does
# not call (KASAN).  Runs on the host; skips without dmxp.ko.
. ./tap.sh

RUN=../tools/vm/run
# Debian's kernel, with the rig's own choice of controls.
unset VM_KERNEL VM_CONTROLS
LINES=10000
PAD=0123456789012345678901234567890123456789012345678901234567890123456789

if [ ! -f ../kmod/dmxp.ko ] || ! command -v qemu-system-x86_64 >/dev/null; then
	for t in "output whole" "exit status" "stderr" "no newline" "left out" "--with" \
		"left behind" "clean log" "core race" "module race" "ubsan" \
		"control unreported" "control uninstrumented" "control unknown"; do
		skip "$t: no kmod/dmxp.ko or QEMU"
	done
	tap_done
	exit 0
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-rig.XXXXXX")
trap 'rm -rf "$dir"' EXIT
# Interrupted: the runs in the background too (each rig stops its guest
# on TERM).
tap_stop_children

# The tree's copy leaves object files, the ASan builds and the library
# builds that only tests link (selftests/libdmxp-*.a) out, and keeps the
# rest (the static library); --with brings one in, at its real path.
top=$(cd .. && pwd)
lib=$top/lib/libdmxp.a
obj=$(ls "$top"/lib/*.o 2>/dev/null | head -n 1)
pic=$(ls "$top"/lib/*.os 2>/dev/null | head -n 1)
kind=$(ls "$top"/selftests/libdmxp-*.a 2>/dev/null | head -n 1)
asan=$(ls "$top"/selftests/*.asan 2>/dev/null | head -n 2)
with=$(echo "$asan" | head -n 1) without=$(echo "$asan" | sed -n 2p)
[ -z "$with" ] || with=$(realpath "$with")

# kmsg NAME LINE...: boot, write each line into the kernel log, exit 0;
# the run's output goes into $dir/NAME, its status into $dir/NAME.rc.
kmsg() {
	_n=$1 _c=""
	shift
	for l in "$@"; do _c="$_c echo '$l' >/dev/kmsg;"; done
	$RUN -- sh -c "$_c" >"$dir/$_n" 2>&1
	echo $? >"$dir/$_n.rc"
}

# These four runs boot in two chains in the background, beside the first
# run while its reader sleeps (three guests at a time).
{
	kmsg clean "RCU lockdep checking is enabled." \
		"==================================================================" \
		"BUG: KCSAN: data-race in pollwake / poll_schedule_timeout" \
		"write to 0xffff888003f3fa30 of 4 bytes by task 1 on cpu 0:" \
		" pollwake+0x4d/0xd0" \
		"read to 0xffff888003f3fa30 of 4 bytes by task 2 on cpu 1:" \
		" poll_schedule_timeout+0x8b/0xf0" \
		"=================================================================="
	kmsg race "==================================================================" \
		"BUG: KCSAN: data-race in dmxp_chan_wake / pollwake" \
		"read to 0xffff888003f3fa30 of 4 bytes by task 1 on cpu 0:" \
		" dmxp_chan_wake+0x4d/0xd0 [dmxp]" \
		"write to 0xffff888003f3fa30 of 4 bytes by task 2 on cpu 1:" \
		" pollwake+0x8b/0xf0" \
		"=================================================================="
} &
kpid=$!
{
	kmsg ubsan "UBSAN: array-index-out-of-bounds in kmod/chan.c:1:1"
	VM_CONTROLS=lockdep $RUN -- true >"$dir/control" 2>&1
	echo $? >"$dir/control.rc"
} &
kpid2=$!

# 10,000 lines of 80 bytes, printed at once, read by a host that sleeps
# first: far more than the pipes between QEMU and the reader hold.  Then a
# line on stderr, a process left behind that still holds the output, and
# a last line without its newline.
{
	$RUN ${with:+--with "$with"} -- sh -c "[ -e '$with' ] && echo with-carried; \
		[ -e '$lib' ] && ! [ -e '$obj' ] && ! [ -e '$pic' ] && ! [ -e '$without' ] && \
			! [ -e '$kind' ] && \
			echo left-out; \
		i=0; while [ \$i -lt $LINES ]; do echo \"line \$i $PAD\"; \
		i=\$((i + 1)); done; echo to-stderr >&2; \
		(trap '' TERM; sleep 1; while :; do echo late; sleep 0.05; done) & \
		printf no-newline; exit 7"
	echo "rc=$?" >"$dir/rc"
} 2>&1 | { sleep 10; cat; } >"$dir/out"
rc=$(sed 's/rc=//' "$dir/rc")

n=$(grep -c "^line [0-9]* $PAD\$" "$dir/out")
in_order=$(grep "^line [0-9]* $PAD\$" "$dir/out" | awk '$2 != NR - 1 { bad = 1 } END { print bad ? "no" : "yes" }')
check "output whole: $n of $LINES lines, in order: $in_order" \
	sh -c '[ "$1" = "$2" ] && [ "$3" = yes ]' _ "$n" $LINES "$in_order"
check "exit status carried (7, got $rc)" [ "$rc" = 7 ]
check "stderr carried" grep -qx to-stderr "$dir/out"
check "a last line without a newline carried" grep -qx no-newline "$dir/out"
if [ -f "$lib" ] && [ -n "$obj" ] && [ -n "$pic" ] && [ -n "$without" ]; then
	check "object files, ASan builds and the libraries only tests link stay out of the guest" grep -qx left-out "$dir/out"
	check "--with brings one in" grep -qx with-carried "$dir/out"
else
	skip "object files, ASan builds and the libraries only tests link stay out of the guest: none built"
	skip "--with brings one in: no ASan build"
fi
# It ignores SIGTERM and writes on the port until it is killed: nothing
# of it may follow the result.
check "a process left behind is ended with the run" \
	sh -c "! sed -n '/^DMXP-VM-RESULT/,\$p' '$dir/out' | grep -q late"

wait $kpid $kpid2
rc=$(cat "$dir/clean.rc")
check "clean log: lockdep's boot line and a core race (status $rc)" [ "$rc" = 0 ]
check "core race: shown as not counted" grep -q 'not counted' "$dir/clean"
rc=$(cat "$dir/race.rc")
check "module race: the run fails (status $rc)" \
	sh -c '[ "$1" = 120 ] && grep -q "dmxp_chan_wake+0x4d" "$2"' _ "$rc" "$dir/race"
rc=$(cat "$dir/ubsan.rc")
check "ubsan: the run fails (status $rc)" [ "$rc" = 120 ]
rc=$(cat "$dir/control.rc")
check "control unreported: lockdep's in a kernel without lockdep fails the run (status $rc)" \
	sh -c '[ "$1" = 126 ] && grep -q "^vm/run: control lockdep: the kernel log shows no report" "$2"' \
	_ "$rc" "$dir/control"
VM_CONTROLS=kasan $RUN -- true >"$dir/uninstrumented" 2>&1
rc=$?
check "control uninstrumented: KASAN's for a dmxp.ko built without KASAN fails before booting (status $rc)" \
	sh -c '[ "$1" = 126 ] && grep -q "^vm/run: .*dmxp.ko is not instrumented for KASAN" "$2"' \
	_ "$rc" "$dir/uninstrumented"
VM_CONTROLS="kasan tsan" $RUN -- true >"$dir/unknown" 2>&1
rc=$?
check "control unknown: refused before booting (status $rc)" \
	sh -c '[ "$1" = 125 ] && grep -q "unknown control .tsan." "$2"' _ "$rc" "$dir/unknown"

tap_done
