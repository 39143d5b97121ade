#!/bin/sh
# dmxpctl: every command, its output, and a one-line error with the
# documented exit status for every bad input.
. ./tap.sh

CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}
dir=$(mktemp -d "${DMXP_TEST_DIR:-/dev/shm}/dmxp-ctl.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export DMXP_REGION="$dir/region"
# On the kernel backend (in the guest), the same tests on a kernel region.
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	DMXP_REGION=/dev/dmxp:$(basename "$0" .sh)-$$
	trap '$CTL region destroy "$DMXP_REGION" 2>/dev/null; rm -rf "$dir"' EXIT
fi
out="$dir/out" err="$dir/err"

# expect STATUS PATTERN CMD...: exit status STATUS and, on failure, one
# stderr line matching PATTERN
expect() {
	_st=$1 _pat=$2; shift 2
	"$@" >"$out" 2>"$err"
	_rc=$?
	[ "$_rc" -eq "$_st" ] || { echo "# $*: exit $_rc, expected $_st"; cat "$err"; return 1; }
	if [ "$_st" -ne 0 ]; then
		[ "$(wc -l <"$err")" -eq 1 ] || { echo "# $*: stderr is not one line"; cat "$err"; return 1; }
		grep -q -- "$_pat" "$err" || { echo "# $*: stderr lacks '$_pat'"; cat "$err"; return 1; }
	fi
	return 0
}

check "list without a region fails" expect 1 "no such region" $CTL list
check "create makes the region and the channel" expect 0 "" $CTL create 3 --capacity 4
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	check "the kernel region exists after create" test -d "/sys/kernel/dmxp/${DMXP_REGION#/dev/dmxp:}"
else
	check "region file exists after create" test -f "$DMXP_REGION"
fi
check "create an existing channel fails" expect 1 "already exists" $CTL create 3
check "create with -r" expect 0 "" $CTL -r "$DMXP_REGION" create 4
check "channel id 256 is refused" expect 2 "invalid channel" $CTL create 256
check "channel id -1 is refused" expect 2 "invalid channel" $CTL create -- -1
check "channel id abc is refused" expect 2 "invalid channel" $CTL create abc
check "capacity 3 is refused" expect 2 "invalid capacity" $CTL create 5 --capacity 3
check "capacity 1 is refused" expect 2 "invalid capacity" $CTL create 5 --capacity 1
check "capacity 2^24+1 is refused" expect 2 "invalid capacity" $CTL create 5 --capacity 16777217
check "capacity x is refused" expect 2 "invalid capacity" $CTL create 5 --capacity x
check "unknown command" expect 2 "unknown command" $CTL frobnicate
check "no command" expect 2 "expected a command" $CTL
check "create without id" expect 2 "expected one channel id" $CTL create
check "send to a missing channel" expect 1 "does not exist" $CTL send 9 hello
check "recv from a missing channel" expect 1 "does not exist" $CTL recv 9
check "destroy a missing channel" expect 1 "does not exist" $CTL destroy 9

check "send arguments" expect 0 "" $CTL send 3 one two three
$CTL list >"$out"
check "list shows id, capacity and depth" grep -Eq '^3 +4 +3$' "$out"
check "list shows the empty channel" grep -Eq '^4 +1024 +0$' "$out"
check "send to a full ring with --nowait fails" expect 1 "is full" $CTL send 3 --nowait four five
check "recv -n 2" expect 0 "" $CTL recv 3 -n 2
check "recv -n 2 prints the first two" test "$(cat "$out")" = "$(printf 'one\ntwo')"
check "recv drains and stops" expect 0 "" $CTL recv 3
check "recv drained the rest in order" test "$(cat "$out")" = "$(printf 'three\nfour')"
check "recv on an empty channel prints nothing" expect 0 "" $CTL recv 3
check "recv on an empty channel output" test ! -s "$out"
check "recv --timeout with fewer than COUNT exits 3" expect 3 "timed out" $CTL recv 3 -n 1 --timeout 100
check "recv --timeout without -n ends quietly" expect 0 "" $CTL recv 3 --timeout 100

printf 'line one\n\nline three' | $CTL send 4 >"$out" 2>"$err"
check "send from stdin" test $? -eq 0
check "stdin lines come back, empty line included" \
	test "$($CTL recv 4)" = "$(printf 'line one\n\nline three')"
long=$(head -c 961 /dev/zero | tr '\0' x)
check "a 961-byte message is refused" expect 1 "longer than 960" $CTL send 4 "$long"
check "nothing was sent by the refused message" test -z "$($CTL recv 4)"
ok960=$(head -c 960 /dev/zero | tr '\0' y)
check "a 960-byte message is accepted" expect 0 "" $CTL send 4 "$ok960"
check "the 960-byte message comes back intact" test "$($CTL recv 4)" = "$ok960"

# send waits while the ring is full, and completes once a reader drains it
( $CTL send 3 a b c d e f g h >"$dir/send.out" 2>&1; echo $? >"$dir/send.rc" ) &
spid=$!
sleep 0.3
check "blocked send is still waiting on a full ring" test ! -e "$dir/send.rc"
$CTL recv 3 -n 8 --timeout 10000 >"$out" 2>"$err"
wait $spid
check "waiting send completed" test "$(cat "$dir/send.rc")" = 0
check "the waiting receiver got all 8 in order" test "$(tr -d '\n' <"$out")" = abcdefgh

# recv --wait sleeps: two seconds of waiting cost (almost) no CPU, and a
# message then ends it at once.  The CPU is counted from 1 s in, once the
# program has started (which a kernel with KASAN makes costly).
$CTL recv 3 -n 1 --wait >"$dir/wait.out" 2>&1 &
wpid=$!
# utime + stime, in clock ticks (fields 14 and 15 of /proc/PID/stat)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$wpid/stat" 2>/dev/null || echo gone; }
sleep 1
t0=$(cpu_ticks)
sleep 2
t1=$(cpu_ticks)
case $t0$t1 in *gone*) ticks=gone ;; *) ticks=$((t1 - t0)) ;; esac
check "recv --wait is still waiting after 3 s" kill -0 $wpid
check "recv --wait used at most 5 ticks of CPU in 2 s (used: $ticks)" test "$ticks" -le 5
$CTL send 3 woken
i=0
while kill -0 $wpid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "recv --wait returned within 5 s of the message" sh -c "! kill -0 $wpid 2>/dev/null"
wait $wpid
check "recv --wait printed the message" test "$(cat "$dir/wait.out")" = woken

check "destroy" expect 0 "" $CTL destroy 3
check "destroyed channel is gone from list" sh -c "! $CTL list | grep -Eq '^3 '"
check "destroy twice fails" expect 1 "does not exist" $CTL destroy 3
check "re-create after destroy" expect 0 "" $CTL create 3 --capacity 2
check "re-created channel is empty" test -z "$($CTL recv 3)"

head -c 200000 /dev/urandom >"$dir/junk"
check "a foreign file is refused" expect 1 "not a dmxp region" $CTL -r "$dir/junk" list
check "a foreign file is not modified by create" \
	sh -c "cp '$dir/junk' '$dir/junk2'; $CTL -r '$dir/junk' create 1 2>/dev/null; cmp -s '$dir/junk' '$dir/junk2'"
# The operator's commands: stat, watch, dump, --json, --hex, --file.
$CTL create 6 --capacity 4 >/dev/null 2>&1
check "send --hex" expect 0 "" $CTL send 6 --hex "48 69" 00ff
printf 'a\001b' >"$dir/payload"
check "send --file with --type" expect 0 "" $CTL send 6 --file "$dir/payload" --type 7
check "stat" expect 0 "" $CTL stat 6
check "stat shows sent, received and depth" grep -Eq '^6 +4 +3 +3 +0 +0 +0 ' "$out"
check "stat --json" expect 0 "" $CTL stat --json 6
check "stat --json has the counters" grep -q '"id":6,"capacity":4,"depth":3,"sent":3,"received":0' "$out"
check "stat of a missing channel" expect 1 "does not exist" $CTL stat 9
check "list --json" expect 0 "" $CTL list --json
check "list --json has channel 6" grep -q '{"id":6,"capacity":4,"depth":3}' "$out"
check "dump" expect 0 "" $CTL dump 6
check "dump shows the hex-sent message as text" grep -Eq '^ +0 +1 full +0 +0 +2 .*"Hi"' "$out"
check "dump shows binary payloads in hex" grep -Eq '^ +1 +2 full +1 +0 +2 .* 00ff$' "$out"
check "dump shows the type of the file message" grep -Eq '^ +2 +3 full +2 +7 +3 .* 610162$' "$out"
check "dump --all shows the free slot" sh -c "$CTL dump 6 --all | grep -Eq '^ +3 +3 free +3'"
check "dump --json" expect 0 "" $CTL dump 6 --json
check "dump --json decodes the slot" grep -q '"slot":2,"sequence":3,"state":"full","position":2,"message_id":2' "$out"
check "dump of a missing channel" expect 1 "does not exist" $CTL dump 9
check "dump without a channel" expect 2 "expected one channel id" $CTL dump
check "recv --type --hex" expect 0 "" $CTL recv 6 -n 2 --type --hex
check "recv --type --hex prints type and hex" test "$(cat "$out")" = "$(printf '0 4869\n0 00ff')"
check "recv --json" expect 0 "" $CTL recv 6 --json
check "recv --json has the metadata" grep -q '"message_id":2,"type":7,"len":3,.*"runtime":"c","payload_hex":"610162"}' "$out"
check "recv --json with --hex is a usage error" expect 2 "includes" $CTL recv 6 --json --hex
check "send --hex with bad digits" expect 2 "invalid hex" $CTL send 6 --hex 4g
check "send --file of a missing file" expect 1 "No such file" $CTL send 6 --file "$dir/none"
head -c 961 /dev/zero >"$dir/big"
check "send --file of 961 bytes" expect 1 "longer than 960" $CTL send 6 --file "$dir/big"
check "send --file with a MESSAGE" expect 2 "exclude" $CTL send 6 --file "$dir/payload" x
check "stat after the receives" sh -c "$CTL stat 6 | grep -Eq '^6 +4 +0 +3 +3 '"
# watch: the rates of a channel that is being used.
# The load runs until watch is done (at most 400 rounds), so that both of
# its intervals see messages however slowly each round starts.
( i=0; while [ $i -lt 400 ] && [ ! -e "$dir/watched" ]; do
	$CTL send 6 --nowait m >/dev/null 2>&1; $CTL recv 6 >/dev/null 2>&1; i=$((i + 1))
done ) &
tpid=$!
$CTL watch -i 1 -n 2 6 >"$out" 2>"$err"
rc=$?
touch "$dir/watched"
wait $tpid
check "watch -n 2 exits 0" test $rc -eq 0
check "watch printed two screens" test "$(grep -c '^dmxpctl watch' "$out")" -eq 2
check "watch showed a message rate" sh -c "awk '\$1 == 6 && \$4 + 0 > 0' '$out' | grep -q ."
check "watch with a bad interval" expect 2 "invalid interval" $CTL watch -i 0
check "stat --help" expect 0 "" $CTL stat --help
check "dump --help" expect 0 "" $CTL dump --help
check "watch --help" expect 0 "" $CTL watch --help
check "--help" expect 0 "" $CTL --help
check "create --help" expect 0 "" $CTL create --help
check "--version" expect 0 "" $CTL --version

tap_done
