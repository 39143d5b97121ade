#!/bin/sh
# The io_uring consumer examples (tools/examples) on a kernel region: each
# receives COUNT messages sent in bursts, with pauses in which it really
# sleeps, through a small ring that the producer fills; a consumer with
# nothing to receive does not use the CPU; and one whose producer wakes
# nobody is still woken by the module's re-check.  Needs /dev/dmxp (the
# guest); skips elsewhere.
#
# The three examples run side by side (their waits are mostly sleeps),
# each in regions of its own: the module's once-a-second re-check is one
# job per region, which one example's sleeper would keep running for
# another's silent producer; the silent producer has a new region of its
# own for the same reason.  Their results are reported in order.
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
base=uring-$$
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for e in $EXAMPLES; do
		$CTL region destroy "$base-${e#uring_}" 2>/dev/null
		$CTL region destroy "$base-${e#uring_}-s" 2>/dev/null
	done
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

# settle PID: wait until the process's start-up is over: its CPU time has
# stopped moving and it sleeps (3 s at most; 1 if it does not).  Its
# ticks then are in $settled.
settle() {
	sleep 0.3
	settled=$(cpu_ticks "$1") _i=0
	while [ $_i -lt 27 ]; do
		sleep 0.1
		_t=$(cpu_ticks "$1")
		if [ "$_t" = "$settled" ] &&
			[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = S ]; then
			return 0
		fi
		settled=$_t _i=$((_i + 1))
	done
	return 1
}

# scenario EXAMPLE: the example's checks, in regions of its own.  Its
# results are lines "R ok NAME", "R not_ok NAME" and "R skip NAME", each
# on a line of its own among its comments, and "R done" at its end
# (report() turns them into TAP).
scenario() {
	e=$1
	name=$base-${e#uring_}
	region=/dev/dmxp:$name
	ok() { printf '\nR ok %s\n' "$*"; }
	not_ok() { printf '\nR not_ok %s\n' "$*"; }
	skip() { printf '\nR skip %s\n' "$*"; }
	pids=""
	trap 'for p in $pids; do kill "$p" 2>/dev/null; done' EXIT
	# (A background shell ignores SIGINT: tap_stop_children sends TERM.)
	trap 'exit 143' TERM
	if [ ! -x "$EX/$e" ]; then
		skip "$e: not built (make -C tools/examples)"
		return
	fi
	verify "$e: region create" $CTL region create "$name" || return
	$CTL -r "$region" create 1 --capacity 16 || { not_ok "$e: create channel 1"; return; }

	# COUNT messages in bursts; between them the consumer sleeps.  A
	# consumer that stopped receiving leaves a send waiting on a full
	# ring: it is given up after TIMEOUT seconds, and the rest too.
	"$EX/$e" "$region" 1 "$COUNT" >"$dir/$e.out" 2>"$dir/$e.err" &
	pid=$! pids="$pids $pid"
	sleep 0.3
	n=1
	while [ "$n" -le "$COUNT" ]; do
		if ! seq "$n" $((n + BURST - 1)) |
			timeout "$TIMEOUT" $CTL -r "$region" send 1; then
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
		sh -c "$CTL -r '$region' list | grep -Eq '^1 +16 +0\$'"

	# A consumer with nothing to receive sleeps.  Once its start-up is
	# over (settle(); a spinning one never settles, and is measured
	# after 3 s), it uses under 0.2 s of CPU in 1 s (/proc/PID/stat
	# counts in USER_HZ, 100 a second), and it is still there.
	$CTL -r "$region" create 2 --capacity 16 || { not_ok "$e: create channel 2"; return; }
	"$EX/$e" "$region" 2 1 >"$dir/$e.idle" 2>&1 &
	pid=$! pids="$pids $pid"
	settle "$pid"
	t0=$settled
	sleep 1
	t1=$(cpu_ticks "$pid")
	check "$e: idle consumer does not spin ($((t1 - t0)) ticks in 1 s)" \
		sh -c "[ $((t1 - t0)) -lt 20 ] && kill -0 $pid"
	$CTL -r "$region" send 2 1
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
	# about a second (here: under 3 s, for a slow guest).  In a new region,
	# where nothing else keeps the re-check running, and only once the
	# consumer is asleep: its own wait must have started it.  Not
	# uring_read, whose own watchdog takes a second without a completion
	# while a message waits for a lost wake-up (it expects notifying
	# producers).
	[ "$e" = uring_read ] && return
	verify "$e: a region for the silent producer" $CTL region create "$name-s" || return
	$CTL -r "$region-s" create 1 --capacity 16 || { not_ok "$e: create channel 1 of $name-s"; return; }
	"$EX/$e" "$region-s" 1 3 >"$dir/$e.silent" 2>&1 &
	pid=$! pids="$pids $pid"
	if settle "$pid"; then asleep=yes; else asleep=no; fi
	t0=$(now_ms)
	./helper_rawpeer produce-silent "$region-s" 1 3
	if wait_exit "$pid" 10; then
		wait "$pid"
		rc=$?
	else
		rc=timeout
	fi
	ms=$(($(now_ms) - t0))
	check "$e: a silent producer's messages arrive (status $rc, $ms ms; asleep before: $asleep)" \
		sh -c "[ '$rc' = 0 ] && [ $ms -lt 3000 ] && [ $asleep = yes ]"
	[ "$rc" = 0 ] || sed 's/^/# /' "$dir/$e.silent"
}

# report EXAMPLE: its scenario's lines, its checks counted here.  One
# that did not reach its end (killed, or its shell died) is one failure.
report() {
	_done=''
	while IFS= read -r _l; do
		case $_l in
		'') ;;
		"R ok "*) ok "${_l#R ok }" ;;
		"R not_ok "*) not_ok "${_l#R not_ok }" ;;
		"R skip "*) skip "${_l#R skip }" ;;
		"R done") _done=1 ;;
		*) echo "$_l" ;;
		esac
	done <"$dir/$1.log"
	[ -n "$_done" ] || not_ok "$1: its checks stopped before their end"
}

for e in $EXAMPLES; do
	{ scenario "$e"; printf '\nR done\n'; } >"$dir/$e.log" 2>&1 &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids
for e in $EXAMPLES; do
	report "$e"
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
