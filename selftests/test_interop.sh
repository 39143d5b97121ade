#!/bin/sh
# Interoperability under concurrency between dmxpctl (libdmxp) and a peer
# written from the layout document alone (helper_rawpeer), both ways: no
# message lost, duplicated or reordered per producer.
. ./tap.sh

CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}
RAW=./helper_rawpeer
dir=$(mktemp -d "${DMXP_TEST_DIR:-/dev/shm}/dmxp-interop.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export DMXP_REGION="$dir/region"
# On the kernel backend (in the guest), the same tests on a kernel region.
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	DMXP_REGION=/dev/dmxp:$(basename "$0" .sh)-$$
	trap '$CTL region destroy "$DMXP_REGION" 2>/dev/null; rm -rf "$dir"' EXIT
fi
N=${DMXP_INTEROP_COUNT:-3000}

seqlines() { awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) print p "-" i }'; }

# in_order FILE: every producer's counters appear in increasing order
in_order() {
	awk -F- '{ p = $1; n = $2 + 0; if (p in last && n <= last[p]) { print "# out of order: " $0; bad = 1 } last[p] = n }
		END { exit bad }' "$1"
}

# exactly_once EXPECTED FILE...: the union of FILEs is EXPECTED, each line once
exactly_once() {
	_exp=$1; shift
	sort "$@" >"$dir/got.sorted"
	sort "$_exp" >"$dir/exp.sorted"
	if ! cmp -s "$dir/got.sorted" "$dir/exp.sorted"; then
		echo "# missing: $(comm -23 "$dir/exp.sorted" "$dir/got.sorted" | wc -l)," \
		     "unexpected or duplicated: $(comm -13 "$dir/exp.sorted" "$dir/got.sorted" | wc -l)"
		return 1
	fi
}

$CTL create 1 --capacity 16 || { not_ok "create channel 1"; tap_done; exit 1; }
$CTL create 2 --capacity 16 || { not_ok "create channel 2"; tap_done; exit 1; }

# 1. raw producers and dmxpctl producers at once, dmxpctl consuming
seqlines d1 "$N" >"$dir/d1.in"
seqlines d2 "$N" >"$dir/d2.in"
$CTL recv 1 -n $((4 * N)) --timeout 120000 >"$dir/a.out" 2>"$dir/a.err" &
rpid=$!
$RAW produce "$DMXP_REGION" 1 r1 "$N" & p1=$!
$RAW produce "$DMXP_REGION" 1 r2 "$N" & p2=$!
$CTL send 1 <"$dir/d1.in" & p3=$!
$CTL send 1 <"$dir/d2.in" & p4=$!
st=0
for p in $p1 $p2 $p3 $p4; do wait $p || st=1; done
check "raw and dmxpctl producers finish" test $st -eq 0
wait $rpid
check "dmxpctl recv got every message" test $? -eq 0
{ seqlines r1 "$N"; seqlines r2 "$N"; cat "$dir/d1.in" "$dir/d2.in"; } >"$dir/a.exp"
check "raw -> dmxpctl: each message exactly once" exactly_once "$dir/a.exp" "$dir/a.out"
check "raw -> dmxpctl: per-producer order" in_order "$dir/a.out"

# 2. dmxpctl and raw producers at once, raw and dmxpctl consumers at once
$RAW consume "$DMXP_REGION" 2 >"$dir/c1.out" & c1=$!
$RAW consume "$DMXP_REGION" 2 >"$dir/c2.out" & c2=$!
# dmxpctl takes what it can for 3 s, then the raw consumers take the rest
$CTL recv 2 --timeout 3000 >"$dir/c3.out" 2>"$dir/c3.err" & c3=$!
$CTL send 2 <"$dir/d1.in" & p1=$!
$CTL send 2 <"$dir/d2.in" & p2=$!
$RAW produce "$DMXP_REGION" 2 r1 "$N" & p3=$!
st=0
for p in $p1 $p2 $p3; do wait $p || st=1; done
check "dmxpctl and raw producers finish" test $st -eq 0
wait $c3
check "the dmxpctl consumer ends at its timeout" test $? -eq 0
$CTL send 2 END END
st=0
for p in $c1 $c2; do wait $p || st=1; done
check "raw consumers finish" test $st -eq 0
{ seqlines r1 "$N"; cat "$dir/d1.in" "$dir/d2.in"; } >"$dir/b.exp"
check "dmxpctl -> raw: each message exactly once" \
	exactly_once "$dir/b.exp" "$dir/c1.out" "$dir/c2.out" "$dir/c3.out"
check "dmxpctl -> raw: per-producer order, consumer 1" in_order "$dir/c1.out"
check "dmxpctl -> raw: per-producer order, consumer 2" in_order "$dir/c2.out"
check "dmxpctl -> raw: per-producer order, dmxpctl consumer" in_order "$dir/c3.out"
echo "# consumers: raw $(wc -l <"$dir/c1.out"), raw $(wc -l <"$dir/c2.out"), dmxpctl $(wc -l <"$dir/c3.out")"

tap_done
