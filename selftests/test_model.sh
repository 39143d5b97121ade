#!/bin/sh
# The protocol model (lib/model/ring.pml) checked with SPIN, in the
# bounded configurations of `make check` (`make model` runs bigger ones).
# The model must find the bugs of rules the code used (the old readiness
# rule, one wake-up per message, a tombstone repair that does not yield
# to a whole message) and of batch rules the code must keep (its one
# wake-up after its last publish, publishing in position order, a repair
# of every position a record names), and verify the rules of lib/wait.c,
# lib/ring.c and lib/repair.c, with and without a process killed at any
# step, for single messages and batches.  About 26 s on 2 cores.
. ./tap.sh

RUN=../lib/model/run-model

if ! command -v spin >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
	skip "spin or gcc is not installed (tools/install-deps installs them)"
	tap_done
	exit $?
fi

# The configurations run two at a time (SPIN's pan uses one CPU), each
# into a file of its own, and are reported in this order.
work=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-models.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# Interrupted: the searches under way too.
tap_stop_children
n=0
# start FLAGS...: run-model in the background; "$work/N" gets its line and
# "$work/N.rc" its status.  At most two run at once.
start() {
	n=$((n + 1))
	("$RUN" "$@" >"$work/$n" 2>&1; echo $? >"$work/$n.rc") &
	[ $((n % 2)) = 1 ] || wait
}

# report N WANT NAME: WANT is "verified" or the assertion to find.
report() {
	_line=$(cat "$work/$1")
	_rc=$(cat "$work/$1.rc")
	echo "# $_line"
	case $2 in
	verified) check "$3" test "$_rc" -eq 0 ;;
	*) if [ "$_rc" -eq 1 ] && echo "$_line" | grep -q -F -- "$2"; then
		ok "$3"
	   else
		not_ok "$3"
	   fi ;;
	esac
}

# The two longest first, side by side.
start -DMAXCRASH=1 -DNCONS=1
start
start -DTOMB_FIRST -DMAXCRASH=2 -DNCONS=1
start -DBATCH -DM0=2 -DM1=0 -DNCONS=1 -DMAXCRASH=1
start -DBATCH -DM0=2 -DM1=1 -DNCONS=1
start -DBATCH -DPUBLISH_REVERSED -DM0=2 -DM1=0 -DNCONS=1 -DMAXCRASH=1
start -DBATCH -DREPAIR_FIRST -DM0=2 -DM1=0 -DNCONS=1 -DMAXCRASH=1
start -DOLD_READY
start -DWAKE_ONE
start -DBATCH -DEARLY_W1 -DM0=2 -DM1=0 -DNCONS=1
wait
report 8 '!(lost_recv_wakeup)' "old readiness rule: a consumer sleeps with a message ready"
report 9 '!(lost_recv_wakeup)' "one wake-up per message: a sleeper misses a message"
report 3 'got[m]==1))||dlost[m]' \
	"tombstone before a whole message: two deaths lose a complete message"
report 10 '!(lost_recv_wakeup)' \
	"a batch that looks for sleepers between its two publishes: a sleeper misses it"
report 6 'whole[(m-1)])' \
	"a batch published from its last message: a death delivers a suffix"
report 7 '(seq[(p%2)]==(p+1))' \
	"a repair of a batch's first position only: the ring stops"
report 2 verified "2 producers x 2 consumers: no lost wake-up, duplicate, loss or stuck ring"
report 1 verified "2 producers x 1 consumer, one killed at any step: repaired"
report 5 verified "a batch producer, a single one and a batch consumer: no lost wake-up, duplicate, loss or stuck ring"
report 4 verified "a batch producer and a batch consumer, one killed at any step: repaired, a prefix delivered"
tap_done
