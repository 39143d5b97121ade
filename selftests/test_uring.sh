#!/bin/sh
# The io_uring consumer examples (tools/examples) on a kernel region: each
# receives COUNT messages sent in bursts, with pauses in which it really
# sleeps, through a small ring that the producer fills; and a consumer
# with nothing to receive does not use the CPU.  Needs /dev/dmxp (the
# guest); skips elsewhere.  The three examples run side by side, each on
# channels of its own (their waits are mostly sleeps); their results are
# reported in order.
. ./tap.sh

CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}
EX=${DMXP_EXAMPLES:-../tools/examples}
EXAMPLES="uring_poll uring_read uring_eventfd"
COUNT=200	# 5 bursts of 40, through a 16-slot ring
BURST=40
TIMEOUT=30	# seconds for an example to finish

if [ ! -e /dev/dmxp ]; then
	for e in $EXAMPLES; do skip "$e: no /dev/dmxp (the module is not loaded)"; done
	tap_done
	exit 0
fi

dir=$(mktemp -d "${DMXP_TEST_DIR:-/tmp}/dmxp-uring.XXXXXX")
name=uring-$$
region=/dev/dmxp:$name
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	$CTL region destroy "$name" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
# Interrupted: the scenarios under way too, with what they started.
tap_stop_children

# wait_exit PID SECONDS: wait for PID (a child) to end; 1 if it does not
wait_exit() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		_i=$((_i + 1))
		if [ "$_i" -gt $(($2 * 10)) ]; then
			kill "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# now_ms: milliseconds since boot
now_ms() {
	awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}

# cpu_ticks PID: user + system clock ticks of the process, threads included
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

check "region create" $CTL region create "$name"

# scenario EXAMPLE CH: the example's checks on channels CH, CH+1 and
# CH+2, as lines "R ok NAME", "R not_ok NAME" and "R skip NAME" among
# its comments (report() turns them into TAP).
scenario() {
	e=$1 ch=$2
	ok() { echo "R ok $*"; }
	not_ok() { echo "R not_ok $*"; }
	skip() { echo "R skip $*"; }
	pids=""
	trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT
	if [ ! -x "$EX/$e" ]; then
		skip "$e: not built (make -C tools/examples)"
		return
	fi
	$CTL -r "$region" create "$ch" --capacity 16 || { not_ok "$e: create channel $ch"; return; }

	# COUNT messages in bursts; between them the consumer sleeps.  A
	# consumer that stopped receiving leaves a send waiting on a full
	# ring: it is given up after TIMEOUT seconds, and the rest too.
	"$EX/$e" "$region" "$ch" "$COUNT" >"$dir/$e.out" 2>"$dir/$e.err" &
	pid=$! pids="$pids $pid"
	sleep 0.3
	n=1
	while [ "$n" -le "$COUNT" ]; do
		if ! seq "$n" $((n + BURST - 1)) |
			timeout "$TIMEOUT" $CTL -r "$region" send "$ch"; then
			echo "# send failed at $n"
			break
		fi
		n=$((n + BURST))
		sleep 0.2
	done
	if wait_exit "$pid" "$TIMEOUT"; then
		wait "$pid"
		rc=$?
	else
		rc=timeout
	fi
	check "$e: exits 0 (status $rc)" test "$rc" = 0
	sed 's/^/# /' "$dir/$e.err"
	sed 's/^/# /' "$dir/$e.out"
	check "$e: received $COUNT in order" \
		grep -q "received $COUNT messages in order, counter 1\.\.$COUNT," "$dir/$e.out"
	check "$e: the channel is empty" \
		sh -c "$CTL -r '$region' list | grep -Eq '^$ch +16 +0\$'"

	# A consumer with nothing to receive sleeps: under 0.2 s of CPU in 1 s
	# (/proc/PID/stat counts in USER_HZ, 100 per second).
	ch=$((ch + 1))
	$CTL -r "$region" create "$ch" --capacity 16 || { not_ok "$e: create channel $ch"; return; }
	"$EX/$e" "$region" "$ch" 1 >"$dir/$e.idle" 2>&1 &
	pid=$! pids="$pids $pid"
	sleep 0.5
	t0=$(cpu_ticks "$pid")
	sleep 1
	t1=$(cpu_ticks "$pid")
	check "$e: idle consumer does not spin ($((t1 - t0)) ticks in 1 s)" \
		test $((t1 - t0)) -lt 20
	$CTL -r "$region" send "$ch" 1
	if wait_exit "$pid" "$TIMEOUT"; then
		wait "$pid"
		rc=$?
	else
		rc=timeout
	fi
	check "$e: an idle consumer wakes for one message (status $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || sed 's/^/# /' "$dir/$e.idle"

	# A producer that never wakes anyone (the seed's protocol only): the
	# module's once-a-second re-check still wakes the consumer, within
	# about a second (here: under 3 s, for a slow guest).  Not uring_read,
	# whose own watchdog takes a second without a completion while a
	# message waits for a lost wake-up (it expects notifying producers).
	[ "$e" = uring_read ] && return
	ch=$((ch + 1))
	$CTL -r "$region" create "$ch" --capacity 16 || { not_ok "$e: create channel $ch"; return; }
	"$EX/$e" "$region" "$ch" 3 >"$dir/$e.silent" 2>&1 &
	pid=$! pids="$pids $pid"
	sleep 0.5
	t0=$(now_ms)
	./helper_rawpeer produce-silent "$region" "$ch" 3
	if wait_exit "$pid" 10; then
		wait "$pid"
		rc=$?
	else
		rc=timeout
	fi
	ms=$(($(now_ms) - t0))
	check "$e: a silent producer's messages arrive (status $rc, $ms ms)" \
		sh -c "[ '$rc' = 0 ] && [ $ms -lt 3000 ]"
	[ "$rc" = 0 ] || sed 's/^/# /' "$dir/$e.silent"
}

# report FILE: a scenario's lines, its checks counted here.  A scenario
# that reported nothing (it died) is one failure.
report() {
	_any=''
	while IFS= read -r _l; do
		case $_l in
		"R ok "*) ok "${_l#R ok }" ;;
		"R not_ok "*) not_ok "${_l#R not_ok }" ;;
		"R skip "*) skip "${_l#R skip }" ;;
		*) echo "$_l"; continue ;;
		esac
		_any=1
	done <"$1"
	[ -n "$_any" ] || not_ok "$(basename "$1" .log): reported nothing"
}

ch=1 scen=""
for e in $EXAMPLES; do
	scenario "$e" "$ch" >"$dir/$e.log" 2>&1 &
	scen="$scen $!"
	ch=$((ch + 3))
done
# shellcheck disable=SC2086
wait $scen
for e in $EXAMPLES; do
	report "$dir/$e.log"
done

# A region file has no channel fds: a one-line error, status 1.
file=$dir/region
$CTL -r "$file" create 1 >/dev/null
for e in $EXAMPLES; do
	[ -x "$EX/$e" ] || continue
	"$EX/$e" "$file" 1 1 >/dev/null 2>"$dir/err"
	rc=$?
	check "$e: a region file is refused" \
		sh -c "[ $rc -eq 1 ] && [ \$(wc -l <'$dir/err') -eq 1 ] && grep -q 'not a kernel region' '$dir/err'"
done

tap_done
