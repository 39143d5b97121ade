# TAP helpers for the shell tests; prints kselftest-style totals.
# Source it, call ok/not_ok/skip for each test, and end with tap_done.
_tap_n=0 _tap_pass=0 _tap_fail=0 _tap_skip=0
echo "TAP version 13"
ok() { _tap_n=$((_tap_n + 1)); _tap_pass=$((_tap_pass + 1)); echo "ok $_tap_n $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_fail=$((_tap_fail + 1)); echo "not ok $_tap_n $*"; }
skip() { _tap_n=$((_tap_n + 1)); _tap_skip=$((_tap_skip + 1)); echo "ok $_tap_n # SKIP $*"; }
# check NAME COMMAND...: passes when COMMAND exits 0
check() { _name=$1; shift; if "$@"; then ok "$_name"; else not_ok "$_name"; fi; }
# verify NAME COMMAND...: check, returning COMMAND's status (check's is
# always 0), so that a failure can say more or stop what depends on it
verify() {
	_vn=$1; shift
	if "$@"; then ok "$_vn"; return 0; fi
	not_ok "$_vn"
	return 1
}
# _tap_children PID: the processes whose parent is PID; from /proc where
# there is no pgrep (the guest's busybox).  cat goes on past a process
# that ended meanwhile (awk would stop at its file).
_tap_children() {
	if command -v pgrep >/dev/null 2>&1; then
		pgrep -P "$1"
		return
	fi
	cat /proc/[0-9]*/stat 2>/dev/null |
		awk -v p="$1" '{ pid = $1; sub(/.*\) /, ""); if ($2 == p) print pid }'
}
# tap_stop_children: on SIGINT or SIGTERM, end every process this script
# started, each with what it started in turn, then exit 130 or 143 (the
# EXIT trap runs).  A script's background work does not outlive it.
_tap_killtree() { for _c in $(_tap_children "$1"); do _tap_killtree "$_c"; done; kill -TERM "$1" 2>/dev/null; }
_tap_stop() { trap '' INT TERM; for _p in $(_tap_children $$); do _tap_killtree "$_p"; done; exit "$1"; }
tap_stop_children() { trap '_tap_stop 130' INT; trap '_tap_stop 143' TERM; }
tap_done() {
	echo "1..$_tap_n"
	echo "# Totals: pass:$_tap_pass fail:$_tap_fail xfail:0 xpass:0 skip:$_tap_skip error:0"
	[ "$_tap_fail" -eq 0 ]
}
