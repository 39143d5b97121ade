#!/bin/sh
# C, Python and Rust on one channel: producers in all three languages
# into one consumer, and one C producer into a Python and a Rust consumer
# at once.  Every message arrives exactly once, in each sender's order,
# and carries its sender's runtime.  Natively on a region file, and in
# the guest on /dev/dmxp.
. ./tap.sh

top=$(cd .. && pwd)
CTL=${DMXPCTL:-$top/tools/dmxpctl/dmxpctl}
RS=${DMXP_RUST_BUILD:-$top/tools/rust/target/selftest}/dmxp-rs
N=${DMXP_POLYGLOT_COUNT:-2000}
dir=$(mktemp -d "${DMXP_TEST_DIR:-/tmp}/dmxp-polyglot.XXXXXX")
export PYTHONPATH="$top/tools/python${PYTHONPATH:+:$PYTHONPATH}"

if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	R=/dev/dmxp:polyglot-$$
	trap '$CTL region destroy "$R" >/dev/null 2>&1; rm -rf "$dir"' EXIT
else
	R=$dir/region
	trap 'rm -rf "$dir"' EXIT
fi

py=
for p in "${PYTHON:-}" "$(command -v python3 2>/dev/null)" /usr/bin/python3.*; do
	if [ -n "$p" ] && [ -x "$p" ] && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
		py=$p
		break
	fi
done
if [ -z "$py" ] || [ ! -x "$RS" ] || [ ! -x "$CTL" ]; then
	skip "C, Python and Rust on one channel: needs python3 (>= 3.9), $RS (built by test_rust.sh, which runs first, when rustc is present) and dmxpctl"
	tap_done
	exit $?
fi

check "create the channel (64 slots: senders and receivers must wait)" \
	"$CTL" -r "$R" create 5 --capacity 64

# A Python consumer of everything, started first.
"$py" - "$R" "$N" >"$dir/mixed.out" 2>&1 <<'PYEOF' &
import sys, dmxp
region, n = sys.argv[1], int(sys.argv[2])
want = {1: n, 2: n, 3: n}          # runtimes: C, Rust, Python
last, got, seen = {}, {1: 0, 2: 0, 3: 0}, set()
with dmxp.Region(region) as r, r.channel(5) as chan:
    while sum(got.values()) < 3 * n:
        try:
            payload, meta = chan.recv(timeout=20)
        except dmxp.Timeout:
            sys.exit("timed out after %r" % got)
        rt = meta.sender_runtime
        # "c-N", "py-N" and the Rust peer's "rs-N:..." payloads
        num = int(payload.split(b":")[0].split(b"-")[1])
        key = (rt, meta.sender_pid)
        if rt not in got or (rt, num) in seen or last.get(key, -1) >= num:
            sys.exit("runtime %d pid %d: message %d out of order or twice" % (rt, meta.sender_pid, num))
        seen.add((rt, num))
        last[key] = num
        got[rt] += 1
print("ok", got)
PYEOF
cons=$!

# Producers in three languages at once.
"$RS" produce "$R" 5 "$N" rs >"$dir/rs.out" 2>&1 &
p1=$!
"$py" - "$R" "$N" >"$dir/py.out" 2>&1 <<'PYEOF' &
import sys, dmxp
region, n = sys.argv[1], int(sys.argv[2])
with dmxp.Region(region) as r, r.channel(5) as chan:
    for i in range(n):
        chan.send(b"py-%d" % i, type=3, timeout=20)
PYEOF
p2=$!
i=0
while [ $i -lt "$N" ]; do echo "c-$i"; i=$((i + 1)); done | "$CTL" -r "$R" send 5 >"$dir/c.out" 2>&1 &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
wait $cons; rc=$?
verify "a Rust producer sent $N" test $r1 -eq 0 || sed 's/^/# /' "$dir/rs.out"
verify "a Python producer sent $N" test $r2 -eq 0 || sed 's/^/# /' "$dir/py.out"
verify "a C producer (dmxpctl) sent $N" test $r3 -eq 0 || sed 's/^/# /' "$dir/c.out"
check "one Python consumer got all $((3 * N)), each once, in each sender's order, with its runtime" \
	test $rc -eq 0 || cat "$dir/mixed.out"

# One C producer, a Python and a Rust consumer at once.
"$py" - "$R" "$dir/pyc.ready" >"$dir/pyc.out" 2>"$dir/pyc.err" <<'PYEOF' &
import sys, dmxp
with dmxp.Region(sys.argv[1]) as r, r.channel(5) as chan:
    open(sys.argv[2], "w").close()
    while True:
        try:
            payload, meta = chan.recv(timeout=2)
        except dmxp.Timeout:
            break
        assert meta.sender_runtime == 1, meta
        print(payload.decode())
PYEOF
pc=$!
"$RS" consume "$R" 5 --timeout-ms 2000 >"$dir/rsc.out" 2>"$dir/rsc.err" &
rc2=$!
i=0
while [ ! -e "$dir/pyc.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.2	# the Rust consumer starts in a few milliseconds
i=0
while [ $i -lt "$N" ]; do echo "m-$i"; i=$((i + 1)); done | "$CTL" -r "$R" send 5
check "a C producer sent $N to two consumers" test $? -eq 0
wait $pc; r1=$?
wait $rc2
verify "the Python consumer ended cleanly" test $r1 -eq 0 || sed 's/^/# /' "$dir/pyc.err"
awk '{ print $1 }' "$dir/rsc.out" >"$dir/rsc.names"
check "the Python and the Rust consumer together got each message exactly once" \
	sh -c "cat '$dir/pyc.out' '$dir/rsc.names' | sort | uniq -c | awk '\$1 != 1' | grep -q . && exit 1;
	       [ \$(cat '$dir/pyc.out' '$dir/rsc.names' | sort -u | grep -c '^m-') -eq $N ]"
check "each consumer got its share in the sender's order" \
	sh -c "for f in '$dir/pyc.out' '$dir/rsc.names'; do
		 sed 's/^m-//' \"\$f\" | awk 'NR > 1 && \$1 <= prev { exit 1 } { prev = \$1 }' || exit 1
	       done"
echo "# shares: Python $(wc -l <"$dir/pyc.out"), Rust $(wc -l <"$dir/rsc.names")"

tap_done
