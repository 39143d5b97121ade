#!/bin/sh
# `make check`: the selftests natively (embedded backend), then inside a
# QEMU guest with dmxp.ko loaded (kernel backend), and one totals line
# for both: "N passed, N failed, N skipped".
#
# usage: check.sh "NATIVE TESTS" "GUEST TESTS"
cd "$(dirname "$0")" || exit 1
native=$1
guest=$2
top=$(cd .. && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
P=0 F=0 S=0

add_totals() {	# $1: label; reads the run's output in $log
	t=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$t" ]; then
		echo "# $1: no totals: counted as one failure"
		F=$((F + 1))
		return
	fi
	P=$((P + $(echo "$t" | sed -E 's/^([0-9]+) passed.*/\1/')))
	F=$((F + $(echo "$t" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
	s=$(echo "$t" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	S=$((S + ${s:-0}))
	echo "# $1: $t"
}

echo "# ==== native tests (embedded backend)"
# shellcheck disable=SC2086
./run.sh $native 2>&1 | tee "$log"
add_totals native

echo "# ==== kernel tests (in a QEMU guest with dmxp.ko)"
if [ ! -f "$top/kmod/dmxp.ko" ]; then
	echo "# kernel tests skipped: dmxp.ko was not built (no kernel headers)"
	S=$((S + 1))
else
	# Debian's Python for test_python.sh in the guest (it skips without one).
	vm_with=
	py=$(readlink -f /usr/bin/python3 2>/dev/null)
	case $py in
	/usr/bin/python3.*)
		for p in "$py" "/usr/lib/${py##*/}"; do
			[ -e "$p" ] && vm_with="$vm_with --with $p"
		done ;;
	esac
	# shellcheck disable=SC2086
	"$top/tools/vm/run" $vm_with -- env DMXP_TEST_BACKEND=kernel selftests/run.sh $guest 2>&1 |
		tee "$log"
	add_totals guest
	# A dirty kernel log or a failed rmmod comes after the totals.
	if grep -q -E '^vm/run: ' "$log"; then
		grep -E '^vm/run: ' "$log"
		F=$((F + 1))
	fi
fi

echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
