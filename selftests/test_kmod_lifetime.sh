#!/bin/sh
# The module's lifetime: it cannot be unloaded while a region is mapped or
# /dev/dmxp is open, unloading frees every region, and a reload starts
# empty.  Needs the module loaded and rmmod/insmod (the guest of
# tools/vm/run): skipped everywhere else.  Leaves the module loaded.
. ./tap.sh

CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}
KO=${DMXP_KO:-/lib/dmxp.ko}
SYS=/sys/kernel/dmxp
R=life-$$
K=keep-$$
dir=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-life.XXXXXX")
rpid=
trap '[ -n "$rpid" ] && kill "$rpid" 2>/dev/null; rm -rf "$dir"' EXIT

names="create a region and a channel
a reader maps the region
rmmod fails while a region is mapped
the module stays loaded
the region survives the failed rmmod
the mapped region still works
rmmod fails while /dev/dmxp is open but not mapped
the module stays loaded with the file open
rmmod succeeds once nothing uses the module
/sys/kernel/dmxp is gone
/dev/dmxp is gone
insmod works again
/dev/dmxp is back
regions start with only the default one after the reload
the persistent regions were freed
a region works after the reload"

if [ ! -e /dev/dmxp ] || ! command -v rmmod >/dev/null 2>&1 ||
   ! command -v insmod >/dev/null 2>&1 || [ ! -f "$KO" ] || [ ! -x "$CTL" ]; then
	while read -r t; do
		skip "$t: needs /dev/dmxp, rmmod, insmod and $KO (the test guest)"
	done <<EOF
$names
EOF
	tap_done
	exit $?
fi

loaded() { [ -d /sys/module/dmxp ]; }
# Load the module again if a check unloaded it by mistake.
reload() { loaded || insmod "$KO"; }

# is_mapped PID: PID maps /dev/dmxp
is_mapped() { grep -q ' /dev/dmxp' "/proc/$1/maps" 2>/dev/null; }

check "create a region and a channel" sh -c \
	"$CTL -r /dev/dmxp:$R create 0 --capacity 4 && $CTL -r /dev/dmxp:$K create 1 --capacity 2 &&
	 $CTL -r /dev/dmxp:$K send 1 kept"

$CTL -r /dev/dmxp:$R recv 0 -n 1 --wait --timeout 5000 >"$dir/out" 2>"$dir/err" &
rpid=$!
i=0
while ! is_mapped $rpid && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "a reader maps the region" is_mapped $rpid

if rmmod dmxp 2>"$dir/rmmod.err"; then
	not_ok "rmmod fails while a region is mapped"
else
	ok "rmmod fails while a region is mapped"
fi
check "the module stays loaded" sh -c "[ -d /sys/module/dmxp ] && [ -e /dev/dmxp ]"
check "the region survives the failed rmmod" test -d "$SYS/$R"
reload

$CTL -r /dev/dmxp:$R send 0 hello
wait $rpid
rc=$?
rpid=
if [ $rc -eq 0 ] && [ "$(cat "$dir/out")" = hello ]; then
	ok "the mapped region still works"
else
	echo "# reader exited $rc: $(cat "$dir/out" "$dir/err")"
	not_ok "the mapped region still works"
fi

exec 3<>/dev/dmxp
if rmmod dmxp 2>/dev/null; then
	not_ok "rmmod fails while /dev/dmxp is open but not mapped"
else
	ok "rmmod fails while /dev/dmxp is open but not mapped"
fi
check "the module stays loaded with the file open" loaded
exec 3>&-
reload

# Region $K still exists, with a message in it: unloading frees it.
if rmmod dmxp; then
	ok "rmmod succeeds once nothing uses the module"
else
	not_ok "rmmod succeeds once nothing uses the module"
fi
check "/sys/kernel/dmxp is gone" test ! -e "$SYS"
check "/dev/dmxp is gone" test ! -e /dev/dmxp

check "insmod works again" insmod "$KO"
reload
i=0
while [ ! -e /dev/dmxp ] && [ $i -lt 20 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "/dev/dmxp is back" test -c /dev/dmxp
check "regions start with only the default one after the reload" test "$(ls -A "$SYS" 2>/dev/null)" = default
check "the persistent regions were freed" sh -c \
	"! $CTL -r /dev/dmxp:$K list 2>/dev/null && ! $CTL -r /dev/dmxp:$R list 2>/dev/null"
check "a region works after the reload" sh -c \
	"$CTL -r /dev/dmxp:$R create 0 --capacity 2 && $CTL -r /dev/dmxp:$R send 0 again &&
	 [ \"\$($CTL -r /dev/dmxp:$R recv 0)\" = again ] && $CTL region destroy $R"

reload
tap_done
