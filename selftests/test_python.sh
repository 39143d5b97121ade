#!/bin/sh
# The Python binding (tools/python): its unittest suite, one TAP line per
# test.  Natively on region files; with DMXP_TEST_BACKEND=kernel (in the
# guest) on kernel regions.  Skips when no Python 3.9+ is found: the guest
# has one only when tools/vm/run ships it (--with /usr/bin/python3.11
# --with /usr/lib/python3.11 --with /etc/python3.11).
#
# PYTHON: the interpreter (default: python3 on PATH, else /usr/bin/python3.N)
. ./tap.sh

find_python() {
	for p in "${PYTHON:-}" python3 /usr/bin/python3 /usr/bin/python3.[0-9]*; do
		[ -n "$p" ] || continue
		command -v "$p" >/dev/null 2>&1 || continue
		if "$p" -c 'import sys, ctypes; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

if ! py=$(find_python); then
	skip "python binding: no Python 3.9+ with ctypes here (the guest needs tools/vm/run --with /usr/bin/python3.11 --with /usr/lib/python3.11 --with /etc/python3.11)"
	tap_done
	exit 0
fi
if [ ! -e ../lib/libdmxp.so.1 ] && [ -z "${DMXP_LIBRARY:-}" ]; then
	not_ok "python binding: ../lib/libdmxp.so.1 is not built (make lib)"
	tap_done
	exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$py" ../tools/python/tests/run.py >"$out" 2>&1
rc=$?
done_seen=0 failed=0
while IFS= read -r line; do
	case $line in
	"PASS "*) ok "python: ${line#PASS }" ;;
	"FAIL "*) not_ok "python: ${line#FAIL }"; failed=$((failed + 1)) ;;
	"SKIP "*) skip "python: ${line#SKIP }" ;;
	"DONE "*) done_seen=1 ;;
	"#"*) echo "$line" ;;
	*) echo "# $line" ;;
	esac
done <"$out"
if [ $done_seen = 0 ]; then
	not_ok "python: the test run ended early (exit $rc)"
elif [ $rc -ne 0 ] && [ $failed -eq 0 ]; then
	not_ok "python: the test run exited $rc"
fi
tap_done
