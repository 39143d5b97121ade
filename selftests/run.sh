#!/bin/sh
# Run each test (a kselftest binary or a TAP shell script) under a
# timeout, show its TAP output, and add up the "# Totals:" lines.  A test
# that dies without printing its totals counts as one failure.  The last
# line is "N passed, N failed, N skipped", after one "# FAIL TEST: ..."
# line per failure (check.sh gathers them from every pass); the exit
# status is 0 only if nothing failed.
#
# usage: run.sh [NAME=VALUE | TEST]...
#
# A NAME=VALUE argument sets that environment variable for the tests after
# it (DMXP_STRESS_SECONDS=60 stress_soak).  DMXP_TEST_TIMEOUT: seconds per
# test, 600.

cd "$(dirname "$0")" || exit 1
pass=0 fail=0 skip=0
log=$(mktemp)
fails=$(mktemp)
trap 'rm -f "$log" "$fails"' EXIT

for t in "$@"; do
	case $t in
	*=*)
		case ${t%%=*} in
		''|[0-9]*|*[!A-Za-z0-9_]*) ;;	# not a variable's name: a test
		*) export "${t%%=*}=${t#*=}"; continue ;;
		esac ;;
	esac
	echo "# ---- $t"
	t0=$(date +%s)
	case $t in
	*.sh) cmd="sh ./$t" ;;
	*) cmd="./$t" ;;
	esac
	timeout -k 10 "${DMXP_TEST_TIMEOUT:-600}" $cmd >"$log" 2>&1
	rc=$?
	cat "$log"
	echo "# $t: $(( $(date +%s) - t0 )) s"
	totals=$(grep -E '^# Totals: pass:[0-9]+ fail:[0-9]+' "$log" | tail -n 1)
	if [ -z "$totals" ]; then
		echo "# $t: exited $rc without totals: counted as one failure"
		echo "# FAIL $t: exited $rc without totals" >>"$fails"
		fail=$((fail + 1))
		continue
	fi
	p=$(echo "$totals" | sed -E 's/.* pass:([0-9]+).*/\1/')
	f=$(echo "$totals" | sed -E 's/.* fail:([0-9]+).*/\1/')
	s=$(echo "$totals" | sed -E 's/.* skip:([0-9]+).*/\1/')
	e=$(echo "$totals" | sed -E 's/.* error:([0-9]+).*/\1/')
	case $e in *[!0-9]*|'') e=0 ;; esac
	f=$((f + e))
	grep -E '^not ok ' "$log" | grep -v -E '# (SKIP|skip|TODO)' |
		sed "s/^/# FAIL $t: /" >>"$fails"
	# A non-zero exit other than kselftest's SKIP (4) with no failure counted.
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] && [ "$f" -eq 0 ]; then
		echo "# $t: exited $rc: counted as one failure"
		echo "# FAIL $t: exited $rc" >>"$fails"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done

cat "$fails"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
