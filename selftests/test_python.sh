#!/bin/sh
# The Python binding (tools/python): its unittest suite, one TAP line per
# test.  Natively on region files; with DMXP_TEST_BACKEND=kernel (in the
# guest) on kernel regions.  Skips when no Python 3.9+ is found: the guest
# has one only when tools/vm/run ships it (--with /usr/bin/python3.11
# --with /usr/lib/python3.11 --with /etc/python3.11).
#
# Then README.md's Python examples, the fenced block after each marker
# line "<!-- example: NAME -->", as pasted: "python" (the program, from the
# build tree with PYTHONPATH, on a temporary region), "python-tree" (the
# line that says which library the build tree's package loads) and
# "python-venv" (a fresh venv, pip install ./tools/python, in a clean
# environment with pip's index off: nothing may be downloaded), with the
# first python3 on PATH and with /usr/bin/python3 when that is another
# interpreter; the venv's package then runs the program outside the tree
# on its bundled library.  The venv checks skip when the interpreter has
# no venv or ensurepip module (Debian's python3-venv).
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

# ------------------------------------------------------ README.md's examples

top=$(cd .. && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-pyreadme.XXXXXX")
trap 'rm -f "$out"; rm -rf "$work"' EXIT
# dash runs no EXIT trap on a signal (run.sh's timeout sends TERM)
trap 'exit 143' TERM INT HUP
if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	region="/dev/dmxp:py-readme-$$"
else
	region="/dev/shm/dmxp-py-readme-$$"
fi

# readme_block NAME: the fenced block after "<!-- example: NAME -->"
readme_block() {
	awk -v m="<!-- example: $1 -->" '
		$0 == m { want = 1; next }
		want == 1 && /^```/ { want = 2; next }
		want == 1 { exit }
		want == 2 && /^```/ { exit }
		want == 2 { print }' "$top/README.md"
}

# a directory whose python3 is the interpreter $1 runs, to put first on PATH
python3_as() {
	_d="$work/bin-$2"
	mkdir -p "$_d"
	_exe=$("$1" -c 'import sys; print(sys.executable)') || return 1
	printf '#!/bin/sh\nexec "%s" "$@"\n' "$_exe" >"$_d/python3"
	chmod +x "$_d/python3"
	echo "$_d"
}

# hello PYTHON [PYTHONPATH [nolib]]: runs the README's program from $work
# on $region (nolib: without $DMXP_LIBRARY); its output, and whether it is
# the expected line
hello() {
	(cd "$work" && env -u PYTHONPATH ${3:+-u DMXP_LIBRARY} ${2:+PYTHONPATH="$2"} DMXP_REGION="$region" \
		"$1" hello.py) >"$work/hello.out" 2>&1
	_rc=$?
	"$py" -c 'import sys; sys.path.insert(0, sys.argv[2]); import dmxp
try:
    dmxp.unlink_region(sys.argv[1])
except OSError:
    pass' "$region" "$top/tools/python" 2>/dev/null
	sed 's/^/# /' "$work/hello.out"
	[ $_rc = 0 ] && grep -Eqx 'hello from pid [0-9]+ in PYTHON' "$work/hello.out"
}

readme_block python >"$work/hello.py"
if [ ! -s "$work/hello.py" ]; then
	not_ok "README: the python example (<!-- example: python -->) is there"
else
	ok "README: the python example (<!-- example: python -->) is there"
fi
check "README: the python example runs from the build tree with PYTHONPATH=tools/python" \
	hello "$py" "$top/tools/python"

readme_block python-tree >"$work/tree.sh"
bin=$(python3_as "$py" tree)
where=$(cd "$top" && env -u DMXP_LIBRARY -u PYTHONPATH PATH="$bin:$PATH" sh -e "$work/tree.sh" 2>&1)
if [ ! -e "$top/lib/libdmxp.so.1" ]; then
	skip "README: the build tree's package loads lib/libdmxp.so.1 by itself: lib/ is not built here"
else
	check "README: the build tree's package loads lib/libdmxp.so.1 by itself" \
		test "$where" = "$top/lib/libdmxp.so.1" || echo "# printed: $where"
fi

venv_t1() { echo "README: pip install ./tools/python into a fresh venv, offline, with $1"; }
venv_t2() { echo "README: the venv's package runs the python example outside the tree, on its bundled library ($1)"; }
venv_skip() {	# LABEL REASON
	skip "$(venv_t1 "$1"): $2"
	skip "$(venv_t2 "$1"): $2"
}

# venv_checks LABEL PYTHON TAG: the README's venv block with PYTHON as python3
venv_checks() {
	_t1=$(venv_t1 "$1") _t2=$(venv_t2 "$1")
	# A venv with pip needs venv and ensurepip (on Debian, python3-venv)
	if ! "$2" -c 'import ensurepip, venv' 2>/dev/null; then
		venv_skip "$1" "$2 cannot make a venv with pip (Debian: apt-get install python3-venv)"
		return
	fi
	_home="$work/home-$3"
	mkdir -p "$_home"
	_bin=$(python3_as "$2" "$3")
	readme_block python-venv >"$work/venv.sh"
	# A clean environment: no PIP_USER, PIP_TARGET, PIP_PREFIX... of the
	# caller's; PIP_NO_INDEX: any download would fail the install.
	_where=$(cd "$top" && env -i PATH="$_bin:$PATH" HOME="$_home" TMPDIR="${TMPDIR:-/tmp}" \
		PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
		sh -e "$work/venv.sh" 2>&1)
	_rc=$?
	_last=$(printf '%s\n' "$_where" | tail -n 1)
	case $_last in
	"$_home"/.venvs/dmxp/lib/python3*/site-packages/dmxp/libdmxp.so.1) _ok=$_rc ;;
	*) _ok=1 ;;
	esac
	check "$_t1" test "$_ok" = 0 || printf '%s\n' "$_where" | sed 's/^/# /' | tail -n 30
	if [ -x "$_home/.venvs/dmxp/bin/python" ]; then
		check "$_t2" hello "$_home/.venvs/dmxp/bin/python" "" nolib
	else
		not_ok "$_t2: no venv was made"
	fi
}

exe() { "$1" -c 'import sys, os; print(os.path.realpath(sys.executable))' 2>/dev/null; }
first=$(command -v python3 || true)
if [ ! -e "$top/lib/libdmxp.so.1" ]; then
	venv_skip "the first python3 on PATH" "lib/ is not built here"
elif [ -z "$first" ]; then
	venv_skip "the first python3 on PATH" "no python3 on PATH"
else
	venv_checks "the first python3 on PATH" "$first" first
fi
if [ ! -e "$top/lib/libdmxp.so.1" ]; then
	venv_skip /usr/bin/python3 "lib/ is not built here"
elif [ ! -x /usr/bin/python3 ]; then
	venv_skip /usr/bin/python3 "there is none"
elif [ -n "$first" ] && [ "$(exe "$first")" = "$(exe /usr/bin/python3)" ]; then
	venv_skip /usr/bin/python3 "it is the first python3 on PATH"
else
	venv_checks /usr/bin/python3 /usr/bin/python3 usr
fi
tap_done
