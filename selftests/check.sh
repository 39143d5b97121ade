#!/bin/sh
# `make check`: the selftests natively (embedded backend), then inside a
# QEMU guest with dmxp.ko loaded (kernel backend) on Debian's kernel, then
# in the checked kernels (tools/vm/build-kernel: KASAN, lockdep, KCSAN...),
# and one totals line for all: "N passed, N failed, N skipped", after a
# recap of every failure of every pass (the last lines are what a CI log
# shows).
# `make check-debug`: the checked kernels only.
#
# usage: check.sh PASSES "NATIVE" "GUEST" "DEBUG" "OTHER" "RACE"
#
# PASSES: the words native, guest, checked.  The checked pass boots each
# kernel of DMXP_CHECK_KERNELS (default "6.1-debug 6.1-race 6.12-debug"),
# building it on first use: 6.1-debug runs the DEBUG tests, another
# version's debug kernel the OTHER tests, a race kernel the RACE tests
# (run.sh arguments, NAME=VALUE settings among them).
cd "$(dirname "$0")" || exit 1
passes=$1
native=$2
guest=$3
debug=$4
other=$5
race=$6
top=$(cd .. && pwd)
log=$(mktemp)
pre=
trap '[ -z "$pre" ] || kill -TERM -"$pre" 2>/dev/null; rm -f "$log" "$log.pre" "$log.fail"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
P=0 F=0 S=0
kernels=${DMXP_CHECK_KERNELS:-6.1-debug 6.1-race 6.12-debug}

# A checked kernel not yet built is built while the native and guest
# passes run, at the lowest priority: it takes what they leave of the CPU
# (a cold build is minutes).  The checked pass waits for it (build-kernel's
# lock).  In a session of its own, so that an interrupted check stops the
# whole build.
case " $passes " in *" checked "*" native "*|*" native "*" checked "*|*" guest "*" checked "*)
	if [ -f "$top/kmod/dmxp.ko" ]; then
		# shellcheck disable=SC2016
		setsid nice -n 19 sh -c 'for k in $0; do "$1" -q "$k" >/dev/null || exit 1; done' \
			"$kernels" "$top/tools/vm/build-kernel" >"$log.pre" 2>&1 &
		pre=$!
	fi
esac

fail() {	# $1: pass; $2: what failed
	echo "# FAIL [$1] $2" >>"$log.fail"
}

add_totals() {	# $1: pass; $2: label; reads the run's output in $log
	grep -E '^# FAIL ' "$log" | sed "s/^# FAIL /# FAIL [$1] /" >>"$log.fail"
	# The rig's verdicts, each with the first lines of its report.
	grep -E -A4 '^vm/run: ' "$log" | grep -v -x -e '--' | grep -v '^# FAIL ' | head -n 20 |
		while read -r l; do fail "$1" "$l"; done
	t=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$t" ]; then
		grep -E '^vm/run: ' "$log"
		echo "# $2: no totals: counted as one failure"
		fail "$1" "no totals"
		F=$((F + 1))
		return
	fi
	P=$((P + $(echo "$t" | sed -E 's/^([0-9]+) passed.*/\1/')))
	F=$((F + $(echo "$t" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
	s=$(echo "$t" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	S=$((S + ${s:-0}))
	echo "# $2: $t"
	# A dirty kernel log, a failed rmmod or a cut output comes after
	# the totals, as one failure more.
	if grep -q -E '^vm/run: ' "$log"; then
		grep -E '^vm/run: ' "$log"
		F=$((F + 1))
	fi
}

# Debian's Python for test_python.sh in the guest (it skips without one).
vm_with=
py=$(readlink -f /usr/bin/python3 2>/dev/null)
case $py in
/usr/bin/python3.*)
	for p in "$py" "/usr/lib/${py##*/}"; do
		[ -e "$p" ] && vm_with="$vm_with --with $p"
	done ;;
esac

case " $passes " in *" native "*)
	echo "# ==== native tests (embedded backend)"
	# shellcheck disable=SC2086
	./run.sh $native 2>&1 | tee "$log"
	add_totals native native
esac

case " $passes " in *" guest "*)
	echo "# ==== kernel tests (in a QEMU guest with dmxp.ko)"
	if [ ! -f "$top/kmod/dmxp.ko" ]; then
		echo "# kernel tests skipped: dmxp.ko was not built (no kernel headers)"
		S=$((S + 1))
	else
		# shellcheck disable=SC2086
		"$top/tools/vm/run" $vm_with -- env DMXP_TEST_BACKEND=kernel \
			selftests/run.sh $guest 2>&1 | tee "$log"
		add_totals guest guest
	fi
esac

case " $passes " in *" checked "*)
	# The checked kernels do the same work several times slower: the
	# harness's timeouts grow by this factor.
	scale=${DMXP_TEST_TIME_SCALE:-4}
	for k in $kernels; do
		case $k in
		*-race) tests=$race ;;
		6.1-debug) tests=$debug ;;
		*) tests=$other ;;
		esac
		echo "# ==== kernel tests in the checked kernel $k"
		t0=$(date +%s)
		if [ ! -f "$top/kmod/dmxp.ko" ]; then
			echo "# $k skipped: dmxp.ko was not built (no kernel headers)"
			S=$((S + 1))
			continue
		fi
		echo "# $k: the kernel (a cold build takes about 10 minutes)"
		if ! kdir=$("$top/tools/vm/build-kernel" "$k"); then
			echo "# $k: the kernel could not be built: counted as one failure"
			fail "$k" "the kernel could not be built"
			F=$((F + 1))
			continue
		fi
		echo "# $k: kernel $kdir ($(( $(date +%s) - t0 )) s)"
		t0=$(date +%s)
		# shellcheck disable=SC2086
		# One test's timeout well inside the guest's: a hung test costs
		# its own result, not the pass's.
		VM_KERNEL=$k VM_TIMEOUT=${DMXP_CHECK_TIMEOUT:-3600} "$top/tools/vm/run" $vm_with -- \
			env DMXP_TEST_BACKEND=kernel DMXP_TEST_TIME_SCALE=$scale \
			DMXP_TEST_TIMEOUT=$((240 * scale)) selftests/run.sh $tests 2>&1 | tee "$log"
		add_totals "$k" "$k ($(( $(date +%s) - t0 )) s)"
	done
esac

# The recap: at most 40 lines, the rest counted.
if [ -s "$log.fail" ]; then
	n=$(wc -l <"$log.fail")
	echo "# ==== failures"
	head -n 40 "$log.fail"
	[ "$n" -le 40 ] || echo "# ... and $((n - 40)) more, in the passes' output above"
fi
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
