#!/bin/sh
# The message path of the built library pays no full fence: a send
# (receive) ends with the seq_cst CAS of its publish (free) and a seq_cst
# load of the waiter count, which on x86-64 are a locked cmpxchg, as a
# release CAS is, and a plain load (lib/wait.c, [W1]).  The fenced wakers
# are out of line, for the rare paths.  Checked in the disassembly of
# each messaging call; x86-64 only (elsewhere the instructions differ),
# natively.
. ./tap.sh

so=../lib/libdmxp.so.$(cat ../VERSION)
CALLS="dmxp_chan_send dmxp_chan_recv dmxp_chan_send_batch dmxp_chan_recv_batch
dmxp_chan_commit dmxp_chan_peek dmxp_chan_reserve dmxp_chan_release@@LIBDMXP_1.1"

if [ "$(uname -m)" != x86_64 ]; then
	for f in $CALLS; do skip "$f has no full fence: not x86-64"; done
elif ! command -v objdump >/dev/null 2>&1; then
	for f in $CALLS; do skip "$f has no full fence: objdump is not installed"; done
elif [ ! -f "$so" ]; then
	for f in $CALLS; do not_ok "$f has no full fence: $so is not built"; done
else
	for f in $CALLS; do
		d=$(objdump -d --no-show-raw-insn --disassemble="$f" "$so")
		n=$(printf '%s\n' "$d" | grep -c -E '^ +[0-9a-f]+:')
		fences=$(printf '%s\n' "$d" | grep -E 'mfence|lock or[lq]? +\$0x0,' || true)
		if [ "$n" -lt 10 ]; then
			not_ok "$f has no full fence: not found in $so ($n instructions)"
		elif [ -n "$fences" ]; then
			printf '%s\n' "$fences" | sed 's/^/# /'
			not_ok "$f has no full fence"
		else
			ok "$f has no full fence ($n instructions)"
		fi
	done
fi
tap_done
