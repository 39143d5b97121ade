#!/bin/sh
# The protocol model (lib/model/ring.pml) checked with SPIN, in the
# bounded configurations of `make check` (`make model` runs bigger ones).
# The model must find the bugs of rules the code used (the old readiness
# rule, one wake-up per message, a tombstone repair that does not yield
# to a whole message), and verify the rules of lib/wait.c and lib/claim.c,
# with and without a process killed at any step.  About a minute on 2 cores.
. ./tap.sh

RUN=../lib/model/run-model

if ! command -v spin >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
	skip "spin or gcc is not installed (tools/install-deps installs them)"
	tap_done
	exit $?
fi

# model WANT NAME FLAGS...: WANT is "verified" or the assertion to find.
model() {
	_want=$1 _name=$2
	shift 2
	_line=$("$RUN" "$@")
	_rc=$?
	echo "# $_line"
	case $_want in
	verified) check "$_name" test "$_rc" -eq 0 ;;
	*) if [ "$_rc" -eq 1 ] && echo "$_line" | grep -q -F -- "$_want"; then
		ok "$_name"
	   else
		not_ok "$_name"
	   fi ;;
	esac
}

model '!(lost_recv_wakeup)' "old readiness rule: a consumer sleeps with a message ready" -DOLD_READY
model '!(lost_recv_wakeup)' "one wake-up per message: a sleeper misses a message" -DWAKE_ONE
model 'got[m]==1))||dlost[m]' \
	"tombstone before a whole message: two deaths lose a complete message" \
	-DTOMB_FIRST -DMAXCRASH=2 -DNCONS=1
model verified "2 producers x 2 consumers: no lost wake-up, duplicate, loss or stuck ring"
model verified "2 producers x 1 consumer, one killed at any step: repaired" -DMAXCRASH=1 -DNCONS=1
tap_done
