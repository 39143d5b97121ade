#!/bin/sh
# dmxp-bench: its options, a short run of each kind of case with the
# loss checks on, and its JSON.  Not a measurement: the figures of a run
# this short mean nothing, only that every case runs and reports.
. ./tap.sh

BENCH=${DMXP_BENCH:-../tools/dmxp-bench/dmxp-bench}
dir=$(mktemp -d "${DMXP_TEST_DIR:-/tmp}/dmxp-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
out="$dir/out" err="$dir/err"

if [ ! -x "$BENCH" ]; then
	skip "dmxp-bench is not built ($BENCH)"
	tap_done
	exit $?
fi

# usage STATUS PATTERN ARGS...: exit STATUS and one stderr line matching PATTERN
usage() {
	_st=$1 _pat=$2; shift 2
	"$BENCH" "$@" >"$out" 2>"$err"
	_rc=$?
	[ "$_rc" -eq "$_st" ] || { echo "# dmxp-bench $*: exit $_rc, expected $_st"; return 1; }
	[ "$(wc -l <"$err")" -eq 1 ] || { echo "# dmxp-bench $*: stderr is not one line"; cat "$err"; return 1; }
	grep -q -- "$_pat" "$err" || { echo "# dmxp-bench $*: stderr lacks '$_pat'"; cat "$err"; return 1; }
}

"$BENCH" --list >"$out" 2>"$err"
check "--list exits 0" test $? -eq 0
for c in lat-block/dmxp lat-block/futex lat-busy/cacheline tput/dmxp/2x2/960 \
	 tput/dmxp-zc/1x1/8 tput/dmxp-batch/1x2/512 tput/spsc/1x1/64 tput/pipe/2x1/64 \
	 tput/uds/1x1/64 tput/mq/1x1/64 tput/efdshm/1x1/64 tput/zmq/2x2/64 tput/iceoryx/1x1/64 \
	 lat-busy/vyukov tput/vyukov/1x1/64 tput/vyukov/2x2/960 pair/vyukov pair/dmxp \
	 pair/dmxp-zc pair/dmxp-batch; do
	check "--list names $c" grep -q "^$c " "$out"
done
check "an unknown case is a usage error" usage 2 "no case matches" --cases nosuch
check "a bad repeat count is a usage error" usage 2 "invalid repeat" --repeat 0
check "a bad duration is a usage error" usage 2 "invalid duration" --duration-ms x
check "an extra argument is a usage error" usage 2 "unexpected argument" extra
check "an unknown timestamp policy is a usage error" usage 2 "is not precise, coarse or none" \
	--timestamp sometimes

# One short run of each driver; the throughput cases fail the run on any
# lost or duplicated message.
cases='tput/dmxp/1x1/64,tput/dmxp-zc/2x1/8,tput/dmxp-batch/2x2/960,tput/spsc/1x1/64,tput/spsc/1x1/8,tput/pipe/1x2/64,tput/vyukov/1x1/64,tput/vyukov/2x2/64,lat-busy/dmxp,lat-busy/cacheline,lat-busy/vyukov,lat-block/dmxp,lat-block/futex,lat-block/dmxp-kernel,pair/vyukov,pair/dmxp,pair/dmxp-zc,pair/dmxp-batch'
"$BENCH" --cases "$cases" --duration-ms 20 --iterations 200 --warmup 20 --repeat 2 \
	--json --json-out "$dir/json" >"$out" 2>"$err"
rc=$?
verify "a short run of every driver exits 0" test "$rc" -eq 0 || sed 's/^/# /' "$err"
n=$(grep -c '^{"name":"[^"]*","peer"' "$out")
check "one JSON object per case and per target" test "$n" -ge 16
check "--json-out writes the same objects" cmp -s "$out" "$dir/json"
for c in $(echo "$cases" | tr , ' '); do
	line=$(grep "^{\"name\":\"$c\"" "$out")
	if echo "$line" | grep -q '"value":null'; then
		# Skipped: only the kernel backend off the guest, and with a reason.
		check "$c is skipped with a reason" sh -c \
			"echo '$line' | grep -q '\"skipped\":\"[^\"]' && [ '$c' = lat-block/dmxp-kernel ] && [ '${DMXP_TEST_BACKEND:-}' != kernel ]"
	else
		check "$c reports a positive value" sh -c "echo '$line' | grep -q '\"value\":[1-9]'"
	fi
done
check "the text tables went to stderr" grep -q '^tput/dmxp/1x1/64 ' "$err"
check "a pair case reports nanoseconds per message" sh -c \
	"grep '^{\"name\":\"pair/dmxp\"' '$out' | grep -q '\"metric\":\"send_recv_pair\",\"value\":[1-9][0-9.]*,\"unit\":\"ns\"'"
# The ceiling has every way of moving messages that dmxp has.
check "the SPSC ceiling moves many messages per call" sh -c \
	"grep '^{\"name\":\"tput/spsc/1x1/64\"' '$out' | grep -q '\"api\":\"batch\"'"
check "the targets are reported" grep -q '"metric":"target_ratio"' "$out"
# With --repeat 2 each target is the median of two rounds of its cases.
check "the targets' cases run again in rounds" grep -q "the targets' [0-9]* pairs of cases again, 2 rounds" "$err"
check "a target says it is the median of its rounds" sh -c \
	"grep '\"name\":\"send+recv, one thread, vs bare Vyukov ring\"' '$out' | grep -q '\"statistic\":\"median of rounds\",\"rounds\":2,\"round_min\":[0-9.]*,\"round_max\":[0-9.]*'"

# An odd --repeat: one round more, so that each order runs as often.
"$BENCH" --cases 'pair/dmxp,pair/vyukov' --iterations 200 --warmup 20 --repeat 3 \
	--json >"$out" 2>"$err"
verify "a run with --repeat 3 exits 0" test $? -eq 0 || sed 's/^/# /' "$err"
check "an odd --repeat runs an even number of rounds" sh -c \
	"grep '\"name\":\"send+recv, one thread, vs bare Vyukov ring\"' '$out' | grep -q '\"rounds\":4,'"

# --timestamp and --stalls: in the JSON parameters and figures.
"$BENCH" --cases 'tput/dmxp/2x1/64,tput/vyukov/2x1/64,tput/pipe/1x1/64' --duration-ms 20 \
	--timestamp none --stalls --json >"$out" 2>"$err"
verify "a run with --timestamp none --stalls exits 0" test $? -eq 0 || sed 's/^/# /' "$err"
check "dmxp's parameters say the timestamp policy" sh -c \
	"grep '^{\"name\":\"tput/dmxp/2x1/64\"' '$out' | grep -q '\"timestamp\":\"none\"'"
for c in tput/dmxp/2x1/64 tput/vyukov/2x1/64; do
	check "$c counts its stalls" sh -c \
		"grep '^{\"name\":\"$c\"' '$out' | grep -q '\"stalls\":[0-9]*,\"stall_max_us\":[0-9.]*,\"stalled_pct\":[0-9.]*'"
done
check "a transport without a backlog reports no stalls" sh -c \
	"grep '^{\"name\":\"tput/pipe/1x1/64\"' '$out' | grep -vq '\"stalls\"'"
# A peer whose -dev package is missing is built without its calls: its
# cases are skipped with the package's name, and the run goes on.
NOPEERS=${BENCH}-nopeers
if [ -x "$NOPEERS" ]; then
	"$NOPEERS" --cases 'lat-block/zmq,tput/zmq/1x1/64,lat-busy/iceoryx,pair/vyukov' \
		--iterations 200 --warmup 20 --json >"$out" 2>"$err"
	verify "a run with peers not built in exits 0" test $? -eq 0 || sed 's/^/# /' "$err"
	for c in lat-block/zmq tput/zmq/1x1/64 lat-busy/iceoryx; do
		check "$c not built in is skipped, naming its package" sh -c \
			"grep '^{\"name\":\"$c\"' '$out' | grep -q '\"skipped\":\"[^\"]*Debian package'"
	done
	check "the other cases still run" sh -c \
		"grep '^{\"name\":\"pair/vyukov\"' '$out' | grep -q '\"value\":[1-9]'"
elif [ -n "${DMXP_BENCH:-}" ]; then
	skip "dmxp-bench without its peers is not beside DMXP_BENCH ($NOPEERS)"
else
	not_ok "dmxp-bench without its peers is built with dmxp-bench ($NOPEERS is missing)"
fi

if command -v python3 >/dev/null 2>&1; then
	check "every line is valid JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$out"
else
	skip "python3 is not installed: JSON syntax not checked"
fi

tap_done
