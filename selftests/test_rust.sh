#!/bin/sh
# The Rust peer (tools/rust) and the C library on the same channels.
#
# dmxp-rs is written from Documentation/MEMORY_LAYOUT.md with the Rust
# standard library only: #[repr(C)] structs for the layout, std atomics
# for the ring protocol, a raw futex syscall for the wake protocol.  This
# test builds it, and c_peer (its C counterpart, on libdmxp), when rustc
# is available; compares the Rust structs with <linux/dmxp.h>; checks
# region validation and stale handles; runs concurrent exchanges in
# both directions, checking each message's payload and metadata,
# per-producer order, no loss and no duplicate; and checks that the claim
# records dmxp-rs writes let a Rust producer killed holding a claimed
# slot be repaired (by the module on /dev/dmxp, by a libdmxp consumer on
# a region file).
#
# On the kernel backend (in the QEMU guest, which has no rustc) it runs
# the binaries that the native run built, on a kernel region: dmxp-rs
# attaches to /dev/dmxp with the ioctls itself.
#
# DMXP_RUST_COUNT: messages per producer (default 2000; 300 in the guest).
# RUSTC: the compiler (default: rustc from PATH, then ~/.cargo/bin).
. ./tap.sh

top=$(cd .. && pwd)
src=$top/tools/rust
out=${DMXP_RUST_BUILD:-$src/target/selftest}
RS=$out/dmxp-rs
CP=$out/c_peer
SHIM=$out/version_shim.so
CTL=${DMXPCTL:-$top/tools/dmxpctl/dmxpctl}
RAW=$top/selftests/helper_rawpeer
LIBA=$top/lib/libdmxp.a
kernel=0
[ "${DMXP_TEST_BACKEND:-}" = kernel ] && kernel=1

# The whole test skipped, with a reason.
skip_all() { skip "Rust peer: $*"; tap_done; exit 0; }

# stale TARGET SOURCE...: TARGET is missing or older than a SOURCE
stale() {
	_t=$1; shift
	[ -e "$_t" ] || return 0
	for _s; do [ -n "$(find "$_s" -newer "$_t")" ] && return 0; done
	return 1
}

find_rustc() {
	for _r in "${RUSTC:-}" "$(command -v rustc 2>/dev/null)" \
		  "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin/rustc" /root/.cargo/bin/rustc; do
		if [ -n "$_r" ] && [ -x "$_r" ] && "$_r" --version >/dev/null 2>&1; then
			echo "$_r"
			return 0
		fi
	done
	return 1
}

for f in "$CTL" "$RAW" "$LIBA"; do
	[ -e "$f" ] || skip_all "$f is not built (make -C selftests)"
done

# ------------------------------------------------------------------ build
if [ $kernel = 1 ]; then
	# No compiler in the guest: the native run built these just before.
	if [ ! -x "$RS" ] || [ ! -x "$CP" ]; then
		skip_all "$RS was not built natively before the guest started (rustc is not available in the guest)"
	fi
	! stale "$RS" "$src"/src/*.rs ||
		skip_all "$RS is older than its sources: run this test natively first (rustc is not available in the guest)"
	echo "# using $RS and $CP built natively"
else
	rustc=$(find_rustc) || skip_all "rustc not found (PATH, \$RUSTC, ~/.cargo/bin)"
	mkdir -p "$out" || skip_all "cannot create $out"
	built=1
	# This script holds the build commands: a change to it rebuilds too.
	if stale "$RS" "$src"/src/*.rs "$0"; then
		if "$rustc" -O -C strip=debuginfo --edition 2021 --crate-name dmxp_rs -o "$RS.$$.tmp" \
			"$src/src/main.rs" >"$out/rustc.log" 2>&1 && mv -f "$RS.$$.tmp" "$RS"; then
			ok "build dmxp-rs: $("$rustc" --version | cut -d' ' -f1-2) -O --edition 2021, std only"
		else
			not_ok "build dmxp-rs"
			built=0
		fi
		sed 's/^/# /' "$out/rustc.log"
		rm -f "$RS.$$.tmp"
	else
		ok "build dmxp-rs: up to date"
	fi
	if stale "$CP" "$src/c_peer.c" "$LIBA" "$top/include/dmxp.h" \
		"$top/include/uapi/linux/dmxp.h" "$0"; then
		if ${CC:-cc} -O2 -Wall -Wextra -Werror -std=gnu11 -I"$top/include" \
			-I"$top/include/uapi" -o "$CP.$$.tmp" "$src/c_peer.c" "$LIBA" -pthread \
			2>"$out/cc.log" && mv -f "$CP.$$.tmp" "$CP"; then
			ok "build c_peer against lib/libdmxp.a"
		else
			not_ok "build c_peer against lib/libdmxp.a"
			built=0
		fi
		sed 's/^/# /' "$out/cc.log"
		rm -f "$CP.$$.tmp"
	else
		ok "build c_peer: up to date"
	fi
	# For the guest run: the module's handshake answer, changed.
	if stale "$SHIM" "$src/version_shim.c" "$top/include/uapi/linux/dmxp.h" "$0"; then
		if ${CC:-cc} -O2 -Wall -Wextra -Werror -std=gnu11 -shared -fPIC \
			-I"$top/include/uapi" -o "$SHIM.$$.tmp" "$src/version_shim.c" -ldl \
			2>"$out/shim.log" && mv -f "$SHIM.$$.tmp" "$SHIM"; then
			ok "build version_shim.so (LD_PRELOAD, for the guest's handshake checks)"
		else
			not_ok "build version_shim.so"
			built=0
		fi
		sed 's/^/# /' "$out/shim.log"
		rm -f "$SHIM.$$.tmp"
	else
		ok "build version_shim.so: up to date"
	fi
	# Never go on with binaries older than the sources.
	[ $built = 1 ] || { tap_done; exit 1; }
fi

dir=$(mktemp -d "${DMXP_TEST_DIR:-/dev/shm}/dmxp-rust.XXXXXX")
trap 'rm -rf "$dir"' EXIT
export DMXP_REGION="$dir/region"
N=${DMXP_RUST_COUNT:-2000}
if [ $kernel = 1 ]; then
	DMXP_REGION=/dev/dmxp:$(basename "$0" .sh)-$$
	trap '$CTL region destroy "$DMXP_REGION" 2>/dev/null; rm -rf "$dir"' EXIT
	N=${DMXP_RUST_COUNT:-300}
fi
R=$DMXP_REGION
# How each side sleeps and is woken on this backend.
if [ $kernel = 1 ]; then
	waker="DMXP_IOC_NOTIFY ioctls" sleeper="poll() on the channel fd"
else
	waker="futex wake-ups" sleeper="FUTEX_WAIT on recv_futex"
fi

# wait_all PID...: every one exited 0
wait_all() {
	_st=0
	for _p; do wait "$_p" || _st=1; done
	return $_st
}

# show FILE...: the lines of FILEs as TAP diagnostics
show() { cat "$@" 2>/dev/null | sed 's/^\([^#]\)/# \1/'; }

# stat_of FILE WORD: the number before WORD in FILE's dmxp-rs stats line
stat_of() { sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p" "$1" | tail -n 1; }

# --------------------------------------------------------------- layout
$RS selftest >"$dir/st.out" 2>&1
check "Rust layout: #[repr(C)] sizes and offsets, compile-time asserts and run-time self-test" \
	test $? -eq 0
show "$dir/st.out"

$RS layout | sort >"$dir/layout.rs" && $CP layout | sort >"$dir/layout.c"
if cmp -s "$dir/layout.rs" "$dir/layout.c" && [ -s "$dir/layout.rs" ]; then
	ok "Rust layout equals <linux/dmxp.h>: $(grep -c '^struct' "$dir/layout.rs") structs," \
	   "$(grep -c '^field' "$dir/layout.rs") fields, $(grep -c '^const' "$dir/layout.rs")" \
	   "constants and ioctl numbers"
else
	diff "$dir/layout.rs" "$dir/layout.c" | sed 's/^/# /'
	not_ok "Rust layout equals <linux/dmxp.h>"
fi

# --------------------------------------------------------------- region
# The region (8 MiB) and the channels, made by dmxpctl (libdmxp).
if ! $CTL create 1 --capacity 16 --region-size 8388608; then
	not_ok "dmxpctl creates the region and channels"
	tap_done
	exit 1
fi
for c in 2 3 4; do $CTL create $c --capacity 16; done
$CTL create 5 --capacity 8
$CTL create 6 --capacity 32
$CTL create 9 --capacity 4
$CTL create 7 --capacity 8
$CTL create 8 --capacity 8

$RS selftest "$R" >"$dir/val.out" 2>&1
check "Rust region validation: attach, EPROTO for each damaged header field, open errors, claim records" \
	test $? -eq 0
grep -v -e '^#   ok' -e '^# layout' "$dir/val.out" | show

# handshake VERSION FEATURES WANT: dmxp-rs shown the module's answer with
# that version and those features attaches (WANT ok) or fails with EPROTO.
handshake() {
	LD_PRELOAD=$SHIM DMXP_SHIM_VERSION=$1 DMXP_SHIM_FEATURES=$2 \
		$RS selftest "$R" >"$dir/hs.out" 2>&1
	_st=$?
	if [ "$3" = ok ]; then
		[ $_st = 0 ] && return 0
	elif [ $_st != 0 ] && grep -q EPROTO "$dir/hs.out"; then
		return 0
	fi
	echo "# version $1 features $2: want $3, got status $_st"
	show "$dir/hs.out"
	return 1
}
if [ $kernel = 1 ]; then
	if [ ! -e "$SHIM" ] || stale "$SHIM" "$src/version_shim.c"; then
		skip "Rust handshake: $SHIM was not built natively before the guest started"
	else
		st=0
		handshake 0x70001 0xffff000f ok || st=1
		handshake 2 0x1f EPROTO || st=1
		handshake 0x10000 0x1f EPROTO || st=1
		handshake 1 0x17 EPROTO || st=1
		handshake 1 0 EPROTO || st=1
		check "Rust handshake: a newer minor and unknown features attach; another major or a missing feature is EPROTO" \
			test $st -eq 0
	fi
fi

$RS stale "$R" 9 "$CTL" >"$dir/stale.out" 2>&1
check "Rust stale handles: EIDRM after dmxpctl destroy, a sleeping consumer woken by it, new generation" \
	test $? -eq 0
grep -v '^#   ok' "$dir/stale.out" | show

# --------------------------------------------------------------- wake-ups
# One message every 10 ms: the other side sleeps for each one, so every
# message needs a wake-up across languages.
$CP consume "$R" 1 >"$dir/w1.out" 2>"$dir/w1c.err" & c1=$!
$RS produce "$R" 1 40 slow --interval-us 10000 2>"$dir/w1p.err" & p1=$!
wait_all $p1
st=$?
$CTL send 1 END
wait_all $c1 || st=1
wakes=$(stat_of "$dir/w1p.err" wake-ups)
if [ $st = 0 ] && [ "${wakes:-0}" -gt 0 ] &&
	$RS verify --channel 1 slow=40,2 -- "$dir/w1.out" >"$dir/w1.v"; then
	ok "wake Rust -> C: a libdmxp consumer asleep in recv_wait, woken by the Rust producer ($wakes $waker)"
else
	show "$dir/w1c.err" "$dir/w1p.err" "$dir/w1.v"
	not_ok "wake Rust -> C: a libdmxp consumer asleep in recv_wait, woken by the Rust producer"
fi

$RS consume "$R" 2 >"$dir/w2.out" 2>"$dir/w2c.err" & c1=$!
$CP produce "$R" 2 slow 40 10000 2>"$dir/w2p.err" & p1=$!
wait_all $p1
st=$?
$CTL send 2 END
wait_all $c1 || st=1
sleeps=$(stat_of "$dir/w2c.err" sleeps)
if [ $st = 0 ] && [ "${sleeps:-0}" -gt 0 ] &&
	$RS verify --channel 2 slow=40,1 -- "$dir/w2.out" >"$dir/w2.v"; then
	ok "wake C -> Rust: the Rust consumer asleep ($sleeps times, $sleeper), woken by libdmxp"
else
	show "$dir/w2c.err" "$dir/w2p.err" "$dir/w2.v"
	not_ok "wake C -> Rust: the Rust consumer asleep ($sleeper), woken by libdmxp"
fi

# ------------------------------------------------------ concurrent exchanges
# exchange NAME CH "EXPECT..." "CONSUMER FILES...": after the producers
# (started by the caller, pids in $prods) finish, one END per consumer
# (pids in $cons), then the verifier over their records.
exchange() {
	_name=$1 _ch=$2 _exp=$3 _files=$4
	# shellcheck disable=SC2086 # lists of words
	_n=$(echo $_files | wc -w)
	# shellcheck disable=SC2086
	wait_all $prods
	_pst=$?
	# shellcheck disable=SC2046
	$CTL send "$_ch" $(i=0; while [ $i -lt "$_n" ]; do echo END; i=$((i + 1)); done)
	# shellcheck disable=SC2086
	wait_all $cons
	_cst=$?
	if [ $_pst = 0 ] && [ $_cst = 0 ]; then
		ok "$_name: every producer and consumer finishes"
	else
		show "$dir"/*.err
		not_ok "$_name: every producer and consumer finishes (producers $_pst, consumers $_cst)"
	fi
	# shellcheck disable=SC2086
	if $RS verify --channel "$_ch" $_exp -- $_files >"$dir/v.out" 2>&1; then
		ok "$_name: each message exactly once, per-producer order, payload and metadata"
	else
		not_ok "$_name: each message exactly once, per-producer order, payload and metadata"
	fi
	show "$dir/v.out"
	rm -f "$dir"/*.err
}

# Rust -> C: 4 Rust producers in 3 processes (one with 2 threads, one
# publishing tombstones too), 3 libdmxp consumers.
cons='' prods=''
for i in 1 2 3; do
	$CP consume "$R" 3 >"$dir/rc$i.out" 2>"$dir/rc$i.err" & cons="$cons $!"
done
$RS produce "$R" 3 "$N" ra rb 2>"$dir/ra.err" & prods="$prods $!"
$RS produce "$R" 3 "$N" rc --tombstone-every 7 2>"$dir/rc.err" & prods="$prods $!"
$RS produce "$R" 3 "$N" rd 2>"$dir/rd.err" & prods="$prods $!"
exchange "Rust -> C, 4 Rust producers and 3 libdmxp consumers" 3 \
	"ra=$N,2 rb=$N,2 rc=$N,2 rd=$N,2" "$dir/rc1.out $dir/rc2.out $dir/rc3.out"

# C -> Rust: libdmxp producers (one with tombstones), helper_rawpeer
# (written from the document, runtime OTHER) and dmxpctl send, 3 Rust
# consumers.
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++) print "ctl-" i }' >"$dir/ctl.in"
cons='' prods=''
for i in 1 2 3; do
	$RS consume "$R" 4 >"$dir/cr$i.out" 2>"$dir/cr$i.err" & cons="$cons $!"
done
$CP produce "$R" 4 ca "$N" 2>"$dir/ca.err" & prods="$prods $!"
$CP produce "$R" 4 cb "$N" 0 5 2>"$dir/cb.err" & prods="$prods $!"
$RAW produce "$R" 4 raw "$N" 2>"$dir/raw.err" & prods="$prods $!"
$CTL send 4 <"$dir/ctl.in" 2>"$dir/ctl.err" & prods="$prods $!"
exchange "C -> Rust, libdmxp, helper_rawpeer and dmxpctl producers and 3 Rust consumers" 4 \
	"ca=$N,1 cb=$N,1 raw=$N,65535,plain ctl=$N,1,plain" \
	"$dir/cr1.out $dir/cr2.out $dir/cr3.out"

# Both at once: Rust and C producers and consumers on one ring of 8.
cons='' prods=''
for i in 1 2; do
	$RS consume "$R" 5 >"$dir/mr$i.out" 2>"$dir/mr$i.err" & cons="$cons $!"
	$CP consume "$R" 5 >"$dir/mc$i.out" 2>"$dir/mc$i.err" & cons="$cons $!"
done
$RS produce "$R" 5 "$N" ma mb --tombstone-every 11 2>"$dir/ma.err" & prods="$prods $!"
$RS produce "$R" 5 "$N" mc 2>"$dir/mc.err" & prods="$prods $!"
$CP produce "$R" 5 md "$N" 2>"$dir/md.err" & prods="$prods $!"
$CP produce "$R" 5 me "$N" 0 13 2>"$dir/me.err" & prods="$prods $!"
exchange "mixed, 3 Rust and 2 C producers, 2 Rust and 2 C consumers, ring of 8" 5 \
	"ma=$N,2 mb=$N,2 mc=$N,2 md=$N,1 me=$N,1" \
	"$dir/mr1.out $dir/mc1.out $dir/mr2.out $dir/mc2.out"

$RS threads "$R" 6 3 3 "$N" >"$dir/th.out" 2>&1
check "Rust threads: 3 producers and 3 consumers sharing one handle" test $? -eq 0
show "$dir/th.out"

# --------------------------------------------------------------- crash repair
# crash NAME CH TOMBSTONED [--written PAYLOAD]: a Rust producer claims a
# slot of CH (its claim record written, the CAS on tail done) and is
# SIGKILLed before publishing it.  Messages sent after it wait behind the
# slot while the producer lives, and reach a libdmxp consumer within a
# second once it is dead: its record lets the module (kernel) or the
# consumer (region file) repair the slot, as a tombstone or, with
# --written, by delivering the message.  dmxpctl stat counts the repair.
crash() {
	_name=$1 _ch=$2 _tomb=$3
	shift 3
	_want='' _n=2
	[ "${1:-}" = --written ] && _want="$2" _n=3
	# Files of their own: this shell may look before the child opens them.
	_out=$dir/hold$_ch.out _err=$dir/hold$_ch.err
	$RS hold "$R" "$_ch" "$@" >"$_out" 2>"$_err" & _h=$!
	_i=0
	while ! grep -qs '^claimed ' "$_out" && kill -0 $_h 2>/dev/null &&
		[ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	if ! grep -qs '^claimed 0 ' "$_out"; then
		kill -KILL $_h 2>/dev/null
		wait $_h 2>/dev/null
		show "$_out" "$_err"
		not_ok "$_name: dmxp-rs hold claims slot 0 with a claim record"
		return
	fi
	$CTL send "$_ch" after-1 after-2
	# Alive, it is not repaired: the consumer times out.
	$CTL recv "$_ch" -n 1 --timeout 300 >"$dir/live.out" 2>&1
	_live=$?
	kill -KILL $_h
	wait $_h 2>/dev/null
	$CTL recv "$_ch" -n $_n --timeout 1000 >"$dir/rep.out" 2>"$dir/rep.err"
	_st=$?
	printf '%s\n' ${_want:+"$_want"} after-1 after-2 >"$dir/rep.want"
	$CTL stat --json "$_ch" >"$dir/rep.stat" 2>&1
	echo >>"$dir/rep.stat"
	if [ $_live = 3 ] && [ $_st = 0 ] && cmp -s "$dir/rep.out" "$dir/rep.want" &&
		grep -q "\"repaired\":1,\"tombstoned\":$_tomb," "$dir/rep.stat"; then
		ok "$_name: $(cut -d' ' -f1-4 "$_out"); waits while alive, repaired within 1 s of SIGKILL"
	else
		echo "# alive: recv exit $_live (want 3: timed out); dead: recv exit $_st"
		show "$_out" "$_err" "$dir/live.out" "$dir/rep.out" "$dir/rep.err" \
			"$dir/rep.stat"
		not_ok "$_name: repaired within 1 s of SIGKILL"
	fi
}
crash "Rust producer killed after its claim: the slot becomes a tombstone" 7 1
crash "Rust producer killed with its message written: the message is delivered" 8 0 \
	--written held-msg

# A Rust producer alive in another time namespace (unshare -T: our pid
# namespace, boottime 100000 s ahead, entered at exec) holding a claimed
# slot: field 22 of its /proc/PID/stat reads differently there and here,
# and a libdmxp consumer here must not take it for a reused pid
# (MEMORY_LAYOUT.md 12.1).
tn_name="Rust producer alive in another time namespace: its claim is not repaired"
case $R in
/dev/dmxp*) skip "$tn_name: region files only" ;;
*)
	if ! unshare -T --boottime 100000 true 2>/dev/null; then
		skip "$tn_name: unshare -T --boottime is not permitted here"
	else
		$CTL create 10 --capacity 8
		unshare -T --boottime 100000 "$RS" hold "$R" 10 >"$dir/tn.out" 2>"$dir/tn.err" &
		tn_h=$!
		tn_i=0
		while ! grep -qs '^claimed 0 ' "$dir/tn.out" && kill -0 $tn_h 2>/dev/null &&
			[ $tn_i -lt 100 ]; do
			sleep 0.1
			tn_i=$((tn_i + 1))
		done
		$CTL send 10 after-1
		# Alive: the consumer times out, nothing is repaired.
		$CTL recv 10 -n 1 --timeout 300 >"$dir/tn.live" 2>&1
		tn_live=$?
		$CTL stat --json 10 >"$dir/tn.stat" 2>&1
		echo >>"$dir/tn.stat"
		kill -KILL $tn_h
		wait $tn_h 2>/dev/null
		if grep -qs '^claimed 0 ' "$dir/tn.out" && [ $tn_live = 3 ] &&
			grep -q '"repaired":0,"tombstoned":0,' "$dir/tn.stat"; then
			ok "$tn_name"
		else
			echo "# alive: recv exit $tn_live (want 3: timed out)"
			show "$dir/tn.out" "$dir/tn.err" "$dir/tn.live" "$dir/tn.stat"
			not_ok "$tn_name"
		fi
	fi
	;;
esac

# The verifier itself: each kind of damage to a correct record file fails.
# The largest of the Rust -> C consumers' files is damaged (how the
# messages were shared out depends on the scheduler), the others not.
f=$dir/rc1.out others=''
for g in "$dir/rc2.out" "$dir/rc3.out"; do
	if [ "$(wc -l <"$g")" -gt "$(wc -l <"$f")" ]; then
		others="$others $f"
		f=$g
	else
		others="$others $g"
	fi
done
sed 1d "$f" >"$dir/t1"
sed 1p "$f" >"$dir/t2"
awk 'NR == 1 { h = $0; next } NR == 2 { print; print h; next } 1' "$f" >"$dir/t3"
awk 'NR == 1 { $5 = 1 } 1' "$f" >"$dir/t4"
awk 'NR == 2 { $3 = "0123456789abcdef" } 1' "$f" >"$dir/t5"
st=0
if [ "$(wc -l <"$f")" -lt 3 ]; then
	st=1
	echo "# $f has fewer than 3 records"
fi
for t in t1 t2 t3 t4 t5; do
	# shellcheck disable=SC2086 # a list of files
	if $RS verify --channel 3 "ra=$N,2" "rb=$N,2" "rc=$N,2" "rd=$N,2" -- \
		"$dir/$t" $others >/dev/null 2>&1; then
		echo "# the verifier accepted $t"
		st=1
	fi
done
check "the verifier rejects a lost, a duplicated, a reordered message, a wrong runtime, a wrong payload" \
	test $st -eq 0

tap_done
