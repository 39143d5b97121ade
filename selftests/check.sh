#!/bin/sh
# `make check`: the selftests natively (embedded backend), inside a QEMU
# guest with dmxp.ko loaded (kernel backend) on Debian's kernel, and in
# the checked kernels (tools/vm/build-kernel: KASAN, lockdep, KCSAN...),
# and one totals line for all: "N passed, N failed, N skipped", after a
# recap of every failure of every pass (the last lines are what a CI log
# shows).
# `make check-debug`: the checked kernels only.
#
# usage: check.sh PASSES "NATIVE" "GUEST" "DEBUG" "OTHER" "RACE"
#
# PASSES: the words native, guest, checked.  The checked pass boots each
# kernel of DMXP_CHECK_KERNELS (default "6.1-debug 6.1-race 6.12-debug"),
# building it on first use: 6.1-debug runs the DEBUG tests, another
# version's debug kernel the OTHER tests, a race kernel the RACE tests
# (run.sh arguments, NAME=VALUE settings among them).
#
# The passes are processes that share nothing but the build tree: the
# native suite, and one QEMU guest each.  DMXP_CHECK_JOBS of them run at a
# time (default 1: tests that bound a latency, such as a wake-up's, fail
# now and then with two on two CPUs; Documentation/KERNEL.md).  A pass
# that runs the Rust peer (test_rust.sh, test_rust_polyglot.sh) starts
# when the native pass, which builds it, has ended; the others start in
# the order above as a place frees.  Each pass's output is shown whole,
# in the order the passes started, the one running as it comes; the
# totals of each pass and the recap come at the end.  A pass whose
# process ends in error with no failure in its totals (a guest killed
# after its tests, say) counts one.  DMXP_CHECK_TIMEOUT: seconds for
# each guest (default 3600; each test has run.sh's own limit).
#
# check.sh --worker DIR MAIN PASSES ...: one of the processes that take
# the passes from the queue in DIR, one at a time, while the check MAIN
# runs (internal).
cd "$(dirname "$0")" || exit 1
top=$(cd .. && pwd)
kernels=${DMXP_CHECK_KERNELS:-6.1-debug 6.1-race 6.12-debug}

# The passes of this check, in the order they are reported.
passes_of() {	# $1: PASSES
	case " $1 " in *" native "*) echo native ;; esac
	case " $1 " in *" guest "*) echo guest ;; esac
	case " $1 " in *" checked "*) for k in $kernels; do echo "$k"; done ;; esac
}

# ------------------------------------------------------------- one pass
# Debian's Python, for a pass with a script that uses it (test_python.sh,
# test_rust_polyglot.sh: they skip without one).  Not for the others: it
# doubles the archive a checked kernel unpacks at boot (about 6 s).
vm_with() {	# $@: the pass's run.sh arguments
	_py=0
	for _t; do
		case $_t in
		*.sh) grep -q python3 "$_t" 2>/dev/null && _py=1 ;;
		esac
	done
	[ $_py = 1 ] || return 0
	py=$(readlink -f /usr/bin/python3 2>/dev/null)
	case $py in
	/usr/bin/python3.*)
		for p in "$py" "/usr/lib/${py##*/}"; do
			[ -e "$p" ] && printf ' --with %s' "$p"
		done ;;
	esac
}

# run_pass NAME: the pass's output, ending with run.sh's totals line (or
# one made here for a pass that could not run).
run_pass() {
	case $1 in
	native)
		echo "# ==== native tests (embedded backend)"
		# shellcheck disable=SC2086
		env --default-signal=INT,QUIT ./run.sh $native ;;
	guest)
		echo "# ==== kernel tests (in a QEMU guest with dmxp.ko)"
		if [ ! -f "$top/kmod/dmxp.ko" ]; then
			echo "# kernel tests skipped: dmxp.ko was not built (no kernel headers)"
			echo "0 passed, 0 failed, 1 skipped"
			return
		fi
		# The rig's own limit is shorter than a loaded host may need.
		# shellcheck disable=SC2046,SC2086
		VM_TIMEOUT=${DMXP_CHECK_TIMEOUT:-3600} env --default-signal=INT,QUIT \
			"$top/tools/vm/run" $(vm_with $guest) -- \
			env DMXP_TEST_BACKEND=kernel selftests/run.sh $guest ;;
	*)
		k=$1
		tests=$(tests_of "$k")
		# The checked kernels do the same work several times slower:
		# the harness's timeouts grow by this factor.
		scale=${DMXP_TEST_TIME_SCALE:-4}
		echo "# ==== kernel tests in the checked kernel $k"
		if [ ! -f "$top/kmod/dmxp.ko" ]; then
			echo "# $k skipped: dmxp.ko was not built (no kernel headers)"
			echo "0 passed, 0 failed, 1 skipped"
			return
		fi
		t0=$(date +%s)
		echo "# $k: the kernel (a cold build takes about 10 minutes)"
		if ! kdir=$("$top/tools/vm/build-kernel" "$k"); then
			echo "# FAIL the kernel could not be built"
			echo "0 passed, 1 failed, 0 skipped"
			return
		fi
		echo "# $k: kernel $kdir ($(( $(date +%s) - t0 )) s)"
		# One test's timeout well inside the guest's: a hung test costs
		# its own result, not the pass's.
		# shellcheck disable=SC2046,SC2086
		VM_KERNEL=$k VM_TIMEOUT=${DMXP_CHECK_TIMEOUT:-3600} env --default-signal=INT,QUIT \
			"$top/tools/vm/run" $(vm_with $tests) -- \
			env DMXP_TEST_BACKEND=kernel DMXP_TEST_TIME_SCALE=$scale \
			DMXP_TEST_TIMEOUT=$((240 * scale)) selftests/run.sh $tests ;;
	esac
}

# timed_pass NAME: run_pass, and the pass's whole time.
timed_pass() {
	_t=$(date +%s)
	run_pass "$1"
	_rc=$?
	echo "# $1: $(( $(date +%s) - _t )) s, exit $_rc"
}

# tests_of NAME: the run.sh arguments of pass NAME.
tests_of() {
	case $1 in
	native) echo "$native" ;;
	guest) echo "$guest" ;;
	*-race) echo "$race" ;;
	6.1-debug) echo "$debug" ;;
	*) echo "$other" ;;
	esac
}

# Every process of the sessions @...: the first signal reaches what runs
# then; what it forks meanwhile is found again.  TERM for up to 5 s (the
# rig stops its guest on TERM), then KILL.
stop_sessions() {
	for _sig in TERM TERM TERM TERM TERM TERM TERM TERM TERM TERM KILL KILL KILL; do
		_left=
		for _g; do
			# Not the zombies; pgrep is never among them.
			_m=$(pgrep -r R,S,D,T,t -s "$_g" 2>/dev/null)
			if [ -z "$_m" ] || [ "$_m" = "$$" ]; then continue; fi
			_left=1
			pkill -"$_sig" -s "$_g" 2>/dev/null
		done
		[ -n "$_left" ] || return 0
		sleep 0.5
	done
}

# Pass NAME runs the Rust peer that the native pass builds.
needs_native() {
	[ "$1" != native ] && echo "$list" | grep -q -x native || return 1
	case " $(tests_of "$1") " in *" test_rust.sh "*|*" test_rust_polyglot.sh "*) return 0 ;; esac
	return 1
}

# The native pass has ended (or died, or its worker died before starting it).
native_over() {
	[ -e "$dir/native.done" ] && return 0
	if [ -s "$dir/native.pid" ]; then
		! kill -0 "$(cat "$dir/native.pid")" 2>/dev/null
		return
	fi
	[ -s "$dir/native.taken/by" ] && ! kill -0 "$(cat "$dir/native.taken/by")" 2>/dev/null
}

if [ "${1:-}" = --worker ]; then
	dir=$2 main=$3 passes=$4 native=$5 guest=$6 debug=$7 other=$8 race=$9
	list=$(passes_of "$passes")
	while kill -0 "$main" 2>/dev/null; do
		p='' left=''
		for q in $list; do
			[ -d "$dir/$q.taken" ] && continue
			left=1
			! needs_native "$q" || native_over || continue
			mkdir "$dir/$q.taken" 2>/dev/null || continue
			echo $$ >"$dir/$q.taken/by"
			p=$q
			break
		done
		if [ -z "$p" ]; then
			[ -n "$left" ] || exit 0
			sleep 1	# what is left waits for the native pass
			continue
		fi
		echo "$p" >>"$dir/started"
		: >"$dir/$p.out"
		timed_pass "$p" >>"$dir/$p.out" 2>&1 </dev/null &
		echo $! >"$dir/$p.pid.tmp" && mv "$dir/$p.pid.tmp" "$dir/$p.pid"
		while kill -0 "$!" 2>/dev/null && kill -0 "$main" 2>/dev/null; do
			sleep 1
		done
		kill -0 "$main" 2>/dev/null || break
		wait "$!"
		: >"$dir/$p.done"
	done
	# The check is gone (killed): so is what it started, the kernel
	# builds included, and at last this worker.
	[ ! -s "$dir/pre" ] || [ -e "$dir/pre.done" ] || stop_sessions "$(cat "$dir/pre")"
	rm -rf "$dir"
	trap '' TERM	# what is left of the session but this worker
	stop_sessions "$$"
	exit 1
fi

passes=$1
native=$2
guest=$3
debug=$4
other=$5
race=$6
jobs=${DMXP_CHECK_JOBS:-1}
case $jobs in
''|0*|*[!0-9]*) echo "check.sh: DMXP_CHECK_JOBS must be a positive number, not '$jobs'" >&2; exit 2 ;;
esac
dir=$(mktemp -d)
pre='' workers='' tailer=''
# Every process the check started, by session: a test under run.sh's
# timeout(1) has a process group of its own.
stop() {
	trap '' HUP INT QUIT PIPE TERM	# a second Ctrl-C does not cut it short
	[ -z "$tailer" ] || kill "$tailer" 2>/dev/null
	# (The prebuild's session only while it runs: its number may be
	# another's once it has ended.)
	[ -z "$pre" ] || [ -e "$dir/pre.done" ] || stop_sessions "$pre"
	# shellcheck disable=SC2086
	stop_sessions $workers
	rm -rf "$dir"
}
trap stop EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 131' QUIT
trap 'exit 141' PIPE
trap 'exit 143' TERM
P=0 F=0 S=0

# A checked kernel not yet built is built while the other passes run, at
# the lowest priority: it takes what they leave of the CPU (a cold build
# is minutes).  A checked pass waits for it (build-kernel's lock).  Each
# process in a session of its own, so that an interrupted check stops it
# whole.
case " $passes " in *" checked "*" native "*|*" native "*" checked "*|*" guest "*" checked "*)
	if [ -f "$top/kmod/dmxp.ko" ]; then
		# shellcheck disable=SC2016
		setsid nice -n 19 sh -c 'for k in $0; do "$1" -q "$k" >/dev/null || break; done; : >"$2"' \
			"$kernels" "$top/tools/vm/build-kernel" "$dir/pre.done" >"$dir/prebuild.log" 2>&1 &
		pre=$!
		echo "$pre" >"$dir/pre"
	fi
esac

list=$(passes_of "$passes")
i=0
while [ "$i" -lt "$jobs" ]; do
	setsid sh "./${0##*/}" --worker "$dir" "$$" "$passes" "$native" "$guest" "$debug" "$other" "$race" \
		</dev/null >/dev/null 2>>"$dir/workers.err" &
	workers="$workers $!"
	i=$((i + 1))
done

running() {
	for w in $workers; do kill -0 "$w" 2>/dev/null && return 0; done
	return 1
}

# Each pass's output in the order they started, followed as it grows.
shown=0
for _ in $list; do
	while :; do
		p=$(sed -n "$((shown + 1))p" "$dir/started" 2>/dev/null)
		[ -z "$p" ] || break
		running || break
		sleep 1
	done
	[ -n "$p" ] || break
	shown=$((shown + 1))
	while [ ! -s "$dir/$p.pid" ] && running; do sleep 1; done
	# Nobody reading any more (SIGPIPE): the check ends.
	if [ -e "$dir/$p.done" ] || [ ! -s "$dir/$p.pid" ]; then
		cat "$dir/$p.out" || exit 141
	else
		tail -n +1 -f --pid="$(cat "$dir/$p.pid")" "$dir/$p.out" &
		tailer=$!
		wait "$tailer" || exit 141
		tailer=''
	fi
done
# shellcheck disable=SC2086
wait $workers
workers=''
if [ -s "$dir/workers.err" ]; then
	echo "# check.sh: what its workers said:"
	sed 's/^/# /' "$dir/workers.err"
fi

fail() {	# $1: pass; $2: what failed
	echo "# FAIL [$1] $2" >>"$dir/fail"
}

add_totals() {	# $1: pass; reads its output in $dir/$1.out
	log=$dir/$1.out
	if [ ! -e "$log" ]; then
		echo "# $1: did not run: counted as one failure"
		fail "$1" "did not run"
		F=$((F + 1))
		return
	fi
	grep -E '^# FAIL ' "$log" | sed "s/^# FAIL /# FAIL [$1] /" >>"$dir/fail"
	# The rig's verdicts, each with the first lines of its report.
	grep -E -A4 '^vm/run: ' "$log" | grep -v -x -e '--' | grep -v -e '^# FAIL ' -e '^# vm/run: control ' |
		grep -v -E "^# $1: [0-9]+ s, exit [0-9]+\$" | head -n 20 |
		while read -r l; do fail "$1" "$l"; done
	t=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$t" ]; then
		grep -E '^vm/run: ' "$log"
		echo "# $1: no totals: counted as one failure"
		fail "$1" "no totals"
		F=$((F + 1))
		return
	fi
	f=$(echo "$t" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	# Each checker's control the rig saw reported: one test passed.
	c=$(grep -c -E '^# vm/run: control [a-z]+: ' "$log")
	P=$((P + $(echo "$t" | sed -E 's/^([0-9]+) passed.*/\1/') + c))
	if [ "$c" -gt 0 ]; then
		t=$(echo "$t" | awk -v c="$c" '{ $1 += c; print }')
	fi
	F=$((F + f))
	s=$(echo "$t" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	S=$((S + ${s:-0}))
	end=$(grep -E "^# $1: [0-9]+ s, exit [0-9]+\$" "$log" | tail -n 1)
	echo "# $1 ($(echo "$end" | sed -nE 's/.*: ([0-9]+ s), .*/\1/p')): $t"
	# A dirty kernel log, a failed rmmod or a cut output comes after
	# the totals, as one failure more.
	if grep -q -E '^vm/run: ' "$log"; then
		grep -E '^vm/run: ' "$log"
		# One failure for each control that failed, and one for
		# any other verdict (a dirty log, rmmod, a cut output).
		m=$(grep -c -E '^vm/run: control [a-z]+: ' "$log")
		o=$(grep -E '^vm/run: ' "$log" |
		    grep -v -c -E '^vm/run: (control [a-z]+: |[0-9]+ of the checkers)')
		F=$((F + m + (o > 0 || m == 0 ? 1 : 0)))
		return
	fi
	# A process that ended in error (or was not seen to end) with no
	# failure counted.
	rc=$(echo "$end" | sed -nE 's/.*, exit ([0-9]+)$/\1/p')
	if [ "${rc:-none}" != 0 ] && [ "$f" -eq 0 ]; then
		echo "# $1: exited ${rc:-without its end line}: counted as one failure"
		fail "$1" "exited ${rc:-without its end line}"
		F=$((F + 1))
	fi
}

echo "# ==== totals"
for p in $list; do
	add_totals "$p"
done

# The recap: at most 40 lines, the rest counted.
if [ -s "$dir/fail" ]; then
	n=$(wc -l <"$dir/fail")
	echo "# ==== failures"
	head -n 40 "$dir/fail"
	[ "$n" -le 40 ] || echo "# ... and $((n - 40)) more, in the passes' output above"
fi
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
