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
dmxp_chan_commit dmxp_chan_peek dmxp_chan_reserve dmxp_chan_release@@LIBDMXP_1.1
dmxp__chan_commit_slow dmxp__chan_peek_slow dmxp__chan_reserve_slow dmxp__chan_release_slow"

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

# Nor an indirect call: a claim's "does it fit" test is inlined into each
# receive, and a wake-up is a direct call (dmxp__notify()).
if [ "$(uname -m)" = x86_64 ] && command -v objdump >/dev/null 2>&1 && [ -f "$so" ]; then
	ind=$(objdump -d --no-show-raw-insn "$so" |
		awk '/^[0-9a-f]+ <.*>:$/ { fn = $2 } /(call|jmp) +\*/ { print fn }' |
		grep -v "@plt>" | grep -E '^<(dmxp_chan_(send|recv|send_batch|recv_batch|reserve|commit|abort|peek|release)|dmxp__chan_[a-z]+_slow|dmxp__(send|recv|commit|release)_[a-z]*|dmxp__ref_put|ring_[a-z_]*|ref_[a-z_]*)[@>.]' |
		sort -u | tr '\n' ' ')
	check "the message path makes no indirect call${ind:+ (}${ind% }${ind:+)}" test -z "$ind"
else
	skip "the message path makes no indirect call: not x86-64, no objdump or no library"
fi

# A program built with dmxp.h sends and receives inline, and so reserves,
# commits, peeks and releases: its code calls the library only for what
# the inline path hands over (the whole call, dmxp__chan_send_slow and
# the like), pays no full fence either, and calls dmxp_chan_send/recv
# themselves with DMXP_NO_INLINE.  The header builds
# as C89 (with and without DMXP_NO_INLINE), strict C99/C11, C++ (no
# old-style cast) and with clang, without a warning.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/p.c" <<'EOF'
#include <dmxp.h>
int snd(struct dmxp_chan *c, const void *b);
ssize_t rcv(struct dmxp_chan *c, void *b, struct dmxp_msg_meta *m);
int snd(struct dmxp_chan *c, const void *b) { return dmxp_chan_send(c, b, 64, 0); }
ssize_t rcv(struct dmxp_chan *c, void *b, struct dmxp_msg_meta *m)
{
	return dmxp_chan_recv(c, b, 960, m);
}
int rsv(struct dmxp_chan *c, struct dmxp_ref *r);
int cmt(struct dmxp_chan *c, struct dmxp_ref *r);
int pk(struct dmxp_chan *c, struct dmxp_ref *r);
int rel(struct dmxp_chan *c, struct dmxp_ref *r);
int rsv(struct dmxp_chan *c, struct dmxp_ref *r) { return dmxp_chan_reserve(c, r); }
int cmt(struct dmxp_chan *c, struct dmxp_ref *r) { return dmxp_chan_commit(c, r, 64, 0); }
int pk(struct dmxp_chan *c, struct dmxp_ref *r) { return dmxp_chan_peek(c, r); }
int rel(struct dmxp_chan *c, struct dmxp_ref *r) { return dmxp_chan_release(c, r); }
EOF
inc="-I../include -I../include/uapi"
# fn OBJ FUNC: FUNC's instructions and relocations in OBJ
fn() {
	objdump -dr --no-show-raw-insn "$1" |
		awk -v f="<$2>:" '$2 == f { p = 1; next } /^$/ { p = 0 } p'
}
if [ "$(uname -m)" != x86_64 ] || ! command -v objdump >/dev/null 2>&1; then
	skip "a program's send and receive are inline: not x86-64, or no objdump"
	skip "a program's zero-copy calls are inline: not x86-64, or no objdump"
	skip "a program's sends ask for the slot's payload line before they claim it: not x86-64, or no objdump"
	skip "DMXP_NO_INLINE makes them calls: not x86-64, or no objdump"
elif ! ${CC:-cc} -O2 -Wall -Wextra -Werror $inc -c -o "$tmp/p.o" "$tmp/p.c" ||
     ! ${CC:-cc} -O2 -Wall -Wextra -Werror -DDMXP_NO_INLINE $inc -c -o "$tmp/n.o" "$tmp/p.c"; then
	not_ok "a program's send and receive are inline: it does not build"
	not_ok "a program's zero-copy calls are inline: it does not build"
	not_ok "a program's sends ask for the slot's payload line before they claim it: it does not build"
	not_ok "DMXP_NO_INLINE makes them calls: it does not build"
else
	bad=
	for f in snd:send rcv:recv; do
		d=$(fn "$tmp/p.o" "${f%:*}")
		printf '%s\n' "$d" | grep -q "dmxp__chan_${f#*:}_slow" || bad="$bad ${f%:*}:no-slow-call"
		! printf '%s\n' "$d" | grep -q "dmxp_chan_${f#*:}-" || bad="$bad ${f%:*}:calls-dmxp_chan_${f#*:}"
		! printf '%s\n' "$d" | grep -qE 'mfence|lock or[lq]? +\$0x0,' || bad="$bad ${f%:*}:fence"
	done
	check "a program's send and receive are inline, with no full fence${bad:+ (}${bad# }${bad:+)}" \
		test -z "$bad"
	bad=
	for f in rsv:reserve cmt:commit pk:peek rel:release; do
		d=$(fn "$tmp/p.o" "${f%:*}")
		printf '%s\n' "$d" | grep -q "dmxp__chan_${f#*:}_slow" || bad="$bad ${f%:*}:no-slow-call"
		! printf '%s\n' "$d" | grep -q "dmxp_chan_${f#*:}-" || bad="$bad ${f%:*}:calls-dmxp_chan_${f#*:}"
		! printf '%s\n' "$d" | grep -qE 'mfence|lock or[lq]? +\$0x0,' || bad="$bad ${f%:*}:fence"
		! printf '%s\n' "$d" | grep -qE 'call +\*|jmp +\*' || bad="$bad ${f%:*}:indirect"
	done
	check "a program's zero-copy calls are inline, with no full fence${bad:+ (}${bad# }${bad:+)}" \
		test -z "$bad"
	# A slot seen free has its payload line asked for before the claim:
	# one PREFETCHW (behind the library's hint) ahead of the claiming CAS,
	# the first lock cmpxchg; not the first line too (dmxp.h says why),
	# and no other kind of prefetch anywhere, which the hint does not cover.
	bad=
	for f in snd rsv; do
		fn "$tmp/p.o" $f | awk '/lock cmpxchg/ { c = 1 } /prefetchw/ && !c { n++ }
			/prefetch(t[0-2]|nta|wt1)/ { other = 1 }
			END { exit !(c && n == 1 && !other) }' || bad="$bad $f"
	done
	check "a program's sends ask for the slot's payload line before they claim it${bad:+ (not:}${bad}${bad:+)}" \
		test -z "$bad"
	check "DMXP_NO_INLINE makes them calls" sh -c "
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_send-' &&
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_recv-' &&
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_reserve-' &&
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_commit-' &&
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_peek-' &&
		objdump -dr '$tmp/n.o' | grep -q 'dmxp_chan_release-' &&
		! objdump -dr '$tmp/n.o' | grep -q 'dmxp__chan_[a-z]*_slow'"
fi
# -std=c89 without -pedantic: the uapi header has used C99's enum comma
# and long long from the start.
for std in c89 "c89 -DDMXP_NO_INLINE"; do
	check "dmxp.h builds as $std" \
		${CC:-cc} -std=$std -O2 -Wall -Wextra -Werror $inc -c -o "$tmp/s.o" "$tmp/p.c"
done
for std in c99 c11; do
	check "dmxp.h builds as strict $std (-Wpedantic -Wconversion)" \
		${CC:-cc} -std=$std -O2 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror \
		$inc -c -o "$tmp/s.o" "$tmp/p.c"
done
for cxx in "${CXX:-c++}" clang clang++; do
	case $cxx in
	clang) lang= ;;
	*) lang="-x c++ -std=c++11 -Wold-style-cast -Wzero-as-null-pointer-constant" ;;
	esac
	if command -v "$cxx" >/dev/null 2>&1; then
		check "dmxp.h builds with $cxx${lang:+ as C++}" \
			"$cxx" $lang -O2 -Wall -Wextra -Wpedantic -Werror $inc -c -o "$tmp/x.o" "$tmp/p.c"
	else
		skip "dmxp.h builds with $cxx: not installed"
	fi
done
tap_done
