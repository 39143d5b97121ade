#!/bin/sh
# make install, uninstall, install-kmod, uninstall-kmod and dkms-install
# (install.mk, kmod/Makefile), into temporary DESTDIRs, never into the
# system: the exact file list, the soname links, the headers and
# libdmxp.pc, a program built through pkg-config against the installed
# library (shared and static), a man page for every exported function,
# pages that render without a warning, the module and its configuration
# files, the DKMS source tree, and uninstall leaving nothing but
# directories.  In the QEMU guest (DMXP_TEST_BACKEND=kernel), which has no
# make or compiler: the device node that devtmpfs makes without udev, and
# the default region's mode; the install checks are skipped there.
. ./tap.sh

top=$(cd .. && pwd)
ver=$(cat "$top/VERSION")	# the version; the library's file names carry it
CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}

guest_names="/dev/dmxp is a character device (devtmpfs, no udev)
/dev/dmxp is owned by root:root
/dev/dmxp has mode 0660
the module's default_mode parameter is 0666
the default region exists from load with default_mode
the loaded module's version is the file VERSION's"

native_names="make install into a DESTDIR
the installed files are exactly the expected ones
libdmxp.so -> libdmxp.so.1 -> libdmxp.so.VERSION
the installed library's soname is libdmxp.so.1
abort and release keep their 1.0 versions beside the 1.1 defaults
the installed headers are the tree's
libdmxp.pc has the prefix, the version and the flags
every function of libdmxp.map has a section 3 page
every function of dmxp.h is in libdmxp.map
each page names its function in NAME and SYNOPSIS, with RETURN VALUE, ERRORS and ATTRIBUTES
the installed pages carry the version
every installed page renders without a warning
the installed dmxpctl runs
libdmxp(3)'s example builds with pkg-config against the installed library
the example runs on the installed shared library
the example links the static library with pkg-config --static
the statically linked example runs
the Python package is installed and imports
the installed Python package records the library directory
make uninstall leaves only directories
PREFIX=/opt/dmxp installs everything under it
the Python package installed under a PREFIX loads that PREFIX's library by itself
a relative PREFIX records the absolute library directory for the Python package
make install-kmod into a DESTDIR
install-kmod installs the module built for its kernel
install-kmod installs the udev rule, modprobe.d and modules-load.d files
the udev rule gives /dev/dmxp to group dmxp, mode 0660
install-kmod installs nothing else
uninstall-kmod keeps an edited configuration file
uninstall-kmod removes the rest
make dkms-install into a DESTDIR stages the source and dkms.conf
dkms-install stages the configuration files of install-kmod, not the module
the staged DKMS tree builds with dkms.conf's MAKE command
dkms-install without dkms fails with one line
dkms-uninstall removes the staged tree and files"

skip_all() {	# $1: names, $2: reason
	while IFS= read -r _t; do
		skip "$_t: $2"
	done <<EOF
$1
EOF
}

# ------------------------------------------------------------- in the guest

if [ "${DMXP_TEST_BACKEND:-}" = kernel ]; then
	skip_all "$native_names" "runs natively (the guest has no make or compiler)"
	if [ ! -e /dev/dmxp ] || [ ! -d /sys/module/dmxp ]; then
		skip_all "$guest_names" "the dmxp module is not loaded"
		tap_done
		exit $?
	fi
	verify "/dev/dmxp is a character device (devtmpfs, no udev)" test -c /dev/dmxp
	owner=$(stat -c '%u:%g' /dev/dmxp)
	verify "/dev/dmxp is owned by root:root" test "$owner" = 0:0 ||
		echo "# owner $owner"
	mode=$(stat -c '%a' /dev/dmxp)
	verify "/dev/dmxp has mode 0660" test "$mode" = 660 || echo "# mode $mode"
	param=$(cat /sys/module/dmxp/parameters/default_mode)
	verify "the module's default_mode parameter is 0666" test "$param" = 438 ||
		echo "# default_mode $param"
	# The module makes it at load (a test may have destroyed it since:
	# then attaching makes it again, as configured).
	[ -d /sys/kernel/dmxp/default ] || { [ -x "$CTL" ] && $CTL -r /dev/dmxp list >/dev/null; }
	rmode=$(cat /sys/kernel/dmxp/default/mode 2>/dev/null)
	verify "the default region exists from load with default_mode" \
		test "$rmode" = 0666 || echo "# default region mode '$rmode'"
	mver=$(cat /sys/module/dmxp/version 2>/dev/null)
	verify "the loaded module's version is the file VERSION's" test "$mver" = "$ver" ||
		echo "# module version '$mver', VERSION '$ver'"
	tap_done
	exit $?
fi

# ----------------------------------------------------------------- natively

skip_all "$guest_names" "needs the module loaded on devtmpfs without udev (the guest: DMXP_TEST_BACKEND=kernel)"

if ! command -v make >/dev/null 2>&1; then
	skip_all "$native_names" "make is not installed"
	tap_done
	exit $?
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dmxp-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/log"

# mk ARGS...: make in the tree, outside any make that runs this test; the
# output goes to $log and, on failure, into the TAP stream.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" --no-print-directory "$@" \
		>"$log" 2>&1 && return 0
	sed 's/^/# /' "$log" | tail -n 40
	return 1
}

# files DIR: every non-directory under DIR, relative, sorted
files() { (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }

# same_list EXPECTED ACTUAL: identical lists, or the difference
same_list() {
	cmp -s "$1" "$2" && return 0
	diff "$1" "$2" | sed 's/^/# /'
	return 1
}

d="$work/dest"
P=usr/local
man="$d/$P/share/man"

# ---- make install

verify "make install into a DESTDIR" mk install DESTDIR="$d"

{
	echo "$P/bin/dmxpctl"
	echo "$P/include/dmxp.h"
	echo "$P/include/dmxp/linux/dmxp.h"
	for f in libdmxp.a libdmxp.so libdmxp.so.1 libdmxp.so.$ver pkgconfig/libdmxp.pc; do
		echo "$P/lib/$f"
	done
	for f in "$top"/man/*.[348]; do
		echo "$P/share/man/man${f##*.}/${f##*/}"
	done
} | LC_ALL=C sort >"$work/expected"
# The Python package: the files of each package directory of tools/python
# but a library left there (a wheel's bundled copy is not installed), and
# dmxp/_installed.py (the library directory).
py_pkgs=$(cd "$top" && ls -d tools/python/*/__init__.py tools/python/src/*/__init__.py 2>/dev/null |
	sed 's|/__init__.py$||')
if [ -n "$py_pkgs" ]; then
	pydir=$(cd "$d" && ls -d $P/lib/python3*/dist-packages 2>/dev/null | head -n 1)
	for p in $py_pkgs; do
		(cd "$top/$(dirname "$p")" &&
		 find "$(basename "$p")" -name __pycache__ -prune -o -type f ! -name '*.py[co]' \
			! -name '*.so' ! -name '*.so.*' -print) |
			sed "s|^|${pydir:-PYTHONDIR}/|"
		[ "${p##*/}" != dmxp ] || echo "${pydir:-PYTHONDIR}/dmxp/_installed.py"
	done >>"$work/expected"
	LC_ALL=C sort -o "$work/expected" "$work/expected"
fi
files "$d" >"$work/actual"
verify "the installed files are exactly the expected ones" same_list "$work/expected" "$work/actual"

lib="$d/$P/lib"
verify "libdmxp.so -> libdmxp.so.1 -> libdmxp.so.VERSION" sh -c "
	[ \"\$(readlink '$lib/libdmxp.so')\" = libdmxp.so.1 ] &&
	[ \"\$(readlink '$lib/libdmxp.so.1')\" = libdmxp.so.$ver ] &&
	[ -f '$lib/libdmxp.so.$ver' ] && [ ! -L '$lib/libdmxp.so.$ver' ]"
if command -v readelf >/dev/null 2>&1; then
	soname=$(readelf -d "$lib/libdmxp.so.$ver" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
	verify "the installed library's soname is libdmxp.so.1" test "$soname" = libdmxp.so.1 ||
		echo "# soname '$soname'"
	vers=$(readelf --dyn-syms -W "$lib/libdmxp.so.$ver" |
		grep -oE 'dmxp_chan_(abort|release)@@?LIBDMXP_1\.[01]' | LC_ALL=C sort | tr '\n' ' ')
	verify "abort and release keep their 1.0 versions beside the 1.1 defaults" test \
		"$vers" = "dmxp_chan_abort@@LIBDMXP_1.1 dmxp_chan_abort@LIBDMXP_1.0 dmxp_chan_release@@LIBDMXP_1.1 dmxp_chan_release@LIBDMXP_1.0 " ||
		echo "# versions: $vers"
	verify "dmxp_chan_set_timestamp is LIBDMXP_1.2" sh -c "
		readelf --dyn-syms -W '$lib/libdmxp.so.$ver' |
		grep -qE 'dmxp_chan_set_timestamp@@LIBDMXP_1\.2\$'"
	inl=$(readelf --dyn-syms -W "$lib/libdmxp.so.$ver" |
		grep -oE 'dmxp__[a-z_]+@@LIBDMXP_1\.3$' | LC_ALL=C sort | tr '\n' ' ')
	verify "what the inline calls of dmxp.h use is LIBDMXP_1.3" test "$inl" = \
		"dmxp__chan_recv_slow@@LIBDMXP_1.3 dmxp__chan_send_slow@@LIBDMXP_1.3 dmxp__clock@@LIBDMXP_1.3 dmxp__notify@@LIBDMXP_1.3 dmxp__pid@@LIBDMXP_1.3 dmxp__recv_repaired@@LIBDMXP_1.3 dmxp__send_repaired@@LIBDMXP_1.3 dmxp__tclaim@@LIBDMXP_1.3 " ||
		echo "# versions: $inl"
	zc=$(readelf --dyn-syms -W "$lib/libdmxp.so.$ver" |
		grep -oE 'dmxp__[a-z_]+@@LIBDMXP_1\.4$' | LC_ALL=C sort | tr '\n' ' ')
	verify "what the inline zero-copy calls of dmxp.h use is LIBDMXP_1.4" test "$zc" = \
		"dmxp__chan_commit_slow@@LIBDMXP_1.4 dmxp__chan_peek_slow@@LIBDMXP_1.4 dmxp__chan_release_slow@@LIBDMXP_1.4 dmxp__chan_reserve_slow@@LIBDMXP_1.4 dmxp__commit_repaired@@LIBDMXP_1.4 dmxp__ref_put@@LIBDMXP_1.4 dmxp__release_repaired@@LIBDMXP_1.4 " ||
		echo "# versions: $zc"
else
	skip "the installed library's soname is libdmxp.so.1: readelf is not installed"
	skip "abort and release keep their 1.0 versions beside the 1.1 defaults: readelf is not installed"
	skip "dmxp_chan_set_timestamp is LIBDMXP_1.2: readelf is not installed"
	skip "what the inline calls of dmxp.h use is LIBDMXP_1.3: readelf is not installed"
	skip "what the inline zero-copy calls of dmxp.h use is LIBDMXP_1.4: readelf is not installed"
fi
verify "the installed headers are the tree's" sh -c "
	cmp -s '$top/include/dmxp.h' '$d/$P/include/dmxp.h' &&
	cmp -s '$top/include/uapi/linux/dmxp.h' '$d/$P/include/dmxp/linux/dmxp.h'"

# pkg-config through the DESTDIR: PKG_CONFIG_SYSROOT_DIR puts $d before
# the .pc file's paths, as for any staged tree.
pc() { PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_LIBDIR="$lib/pkgconfig" \
	PKG_CONFIG_SYSROOT_DIR="$d" pkg-config "$@" libdmxp; }
if command -v pkg-config >/dev/null 2>&1; then
	cflags=$(pc --cflags) libs=$(pc --libs) slibs=$(pc --static --libs)
	pcver=$(pc --modversion) pcprefix=$(pc --variable=prefix)
	echo "# pkg-config: $cflags | $libs | --static: $slibs"
	verify "libdmxp.pc has the prefix, the version and the flags" sh -c "
		[ '$pcver' = '$ver' ] && [ '$pcprefix' = '$d/usr/local' -o '$pcprefix' = /usr/local ] &&
		case ' $cflags ' in *' -I$d/$P/include/dmxp '*) ;; *) exit 1 ;; esac &&
		case ' $libs ' in *' -L$d/$P/lib '*'-ldmxp '*) ;; *) exit 1 ;; esac &&
		case ' $slibs ' in *' -pthread '*) ;; *) exit 1 ;; esac"
else
	skip "libdmxp.pc has the prefix, the version and the flags: pkg-config is not installed"
fi

# ---- the manual pages

map_funcs=$(sed -n 's/^[[:space:]]*\(dmxp_[a-z][a-z_]*\);.*/\1/p' "$top/lib/libdmxp.map" | sort)
hdr_funcs=$(grep -oE '^[a-z][a-z _*]*[ *](dmxp_[a-z][a-z_]+)\(' "$top/include/dmxp.h" |
	sed -E 's/.*(dmxp_[a-z_]+)\($/\1/' | sort -u)
missing=""
for f in $map_funcs; do
	[ -f "$man/man3/$f.3" ] || missing="$missing $f"
done
verify "every function of libdmxp.map has a section 3 page" test -z "$missing" ||
	echo "# no page:$missing"
notmapped=""
for f in $hdr_funcs; do
	echo "$map_funcs" | grep -qx "$f" || notmapped="$notmapped $f"
done
verify "every function of dmxp.h is in libdmxp.map" test -z "$notmapped" -a -n "$hdr_funcs" ||
	echo "# not exported:$notmapped"

# page_ok FUNC: its page (or the page its .so link names) describes it
page_ok() {
	_p="$man/man3/$1.3"
	[ -f "$_p" ] || return 1
	_first=$(head -n 1 "$_p")
	case $_first in .so\ *) _p="$man/${_first#.so }" ;; esac
	[ -f "$_p" ] || { echo "# $1: .so target $_p is missing"; return 1; }
	# NAME lists it; the synopsis declares it
	sed -n '/^\.SH NAME/,/^\.SH/p' "$_p" | grep -qw "$1" || { echo "# $1: not in NAME"; return 1; }
	sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$_p" | grep -q "[ *]$1(" || { echo "# $1: not in SYNOPSIS"; return 1; }
	for _s in DESCRIPTION "RETURN VALUE" ERRORS ATTRIBUTES; do
		grep -q "^\.SH \"*$_s" "$_p" || { echo "# $1: no $_s"; return 1; }
	done
}
bad=""
for f in $map_funcs; do
	page_ok "$f" || bad="$bad $f"
done
verify "each page names its function in NAME and SYNOPSIS, with RETURN VALUE, ERRORS and ATTRIBUTES" \
	test -z "$bad" -a -n "$map_funcs"
verify "the installed pages carry the version" sh -c "
	! grep -rl '@VERSION@' '$man' >/dev/null &&
	grep -q '^\.TH libdmxp 3 .*\"dmxp $ver\"' '$man/man3/libdmxp.3' &&
	grep -q '^\.TH dmxp 4 .*\"dmxp $ver\"' '$man/man4/dmxp.4' &&
	grep -q '^\.TH dmxpctl 8 .*\"dmxp $ver\"' '$man/man8/dmxpctl.8'"

# Render each installed page from the manual's root (.so links resolve
# there) with every warning on: man --warnings runs tbl for the pages
# that ask for it; groff -ww is the fallback.
render() {
	if command -v man >/dev/null 2>&1; then
		# shellcheck disable=SC2069 # stderr only: the warnings
		(cd "$man" && MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
	else
		(cd "$man" && soelim -r "$1" | groff -t -man -ww -z 2>&1)
	fi
}
if command -v man >/dev/null 2>&1 || command -v groff >/dev/null 2>&1; then
	warned=""
	for f in $(cd "$man" && ls man3/* man4/* man8/*); do
		out=$(render "$f")
		if [ -n "$out" ]; then
			warned="$warned $f"
			echo "$out" | sed "s|^|# $f: |"
		fi
	done
	verify "every installed page renders without a warning" test -z "$warned"
else
	skip "every installed page renders without a warning: neither man-db nor groff is installed"
fi

verify "the installed dmxpctl runs" sh -c "'$d/$P/bin/dmxpctl' -V | grep -qx 'dmxpctl $ver (layout version [0-9]*)'"

# ---- a program built against the installed library: libdmxp(3)'s example

sed -n '/^\.SH EXAMPLES/,/^\.SH/{/^\.EX/,/^\.EE/p}' "$top/man/libdmxp.3" | sed -e '/^\.E[XE]$/d' \
	-e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/^\\&$//' >"$work/example.c"
export DMXP_REGION="$work/region"
if ! command -v cc >/dev/null 2>&1 || ! command -v pkg-config >/dev/null 2>&1; then
	for t in "libdmxp(3)'s example builds with pkg-config against the installed library" \
		 "the example runs on the installed shared library" \
		 "the example links the static library with pkg-config --static" \
		 "the statically linked example runs"; do
		skip "$t: cc or pkg-config is not installed"
	done
else
	# shellcheck disable=SC2086
	verify "libdmxp(3)'s example builds with pkg-config against the installed library" \
		cc -Wall -Wextra -Werror -o "$work/example" "$work/example.c" $cflags $libs \
		-Wl,-rpath,"$lib"
	out=$("$work/example" 2>&1)
	verify "the example runs on the installed shared library" sh -c "
		echo '$out' | grep -qx 'hello from pid [0-9]*' &&
		ldd '$work/example' | grep -q 'libdmxp.so.1 => $lib/libdmxp.so.1'" ||
		{ echo "# output: $out"; ldd "$work/example" | sed 's/^/# /'; }
	rm -f "$DMXP_REGION"
	# The static library for libdmxp only, and its Libs.private.
	static_libs=$(echo "$slibs" | sed 's/-ldmxp/-Wl,-Bstatic -ldmxp -Wl,-Bdynamic/')
	# shellcheck disable=SC2086
	verify "the example links the static library with pkg-config --static" \
		cc -Wall -Wextra -Werror -o "$work/example-static" "$work/example.c" $cflags $static_libs
	out=$("$work/example-static" 2>&1)
	verify "the statically linked example runs" sh -c "
		echo '$out' | grep -qx 'hello from pid [0-9]*' &&
		! ldd '$work/example-static' | grep -q libdmxp" || echo "# output: $out"
	rm -f "$DMXP_REGION"
fi
unset DMXP_REGION

if [ -z "$py_pkgs" ]; then
	skip "the Python package is installed and imports: tools/python has no package"
elif ! command -v python3 >/dev/null 2>&1 || [ -z "$pydir" ]; then
	skip "the Python package is installed and imports: no python3, or nothing was installed"
else
	mods=$(for p in $py_pkgs; do basename "$p"; done)
	ok_py=1
	for m in $mods; do
		where=$(cd "$work" && PYTHONPATH="$d/$pydir" DMXP_LIBRARY="$lib/libdmxp.so.1" \
			python3 -c "import $m, os; print(os.path.dirname($m.__file__))" 2>&1) || ok_py=0
		[ "$where" = "$d/$pydir/$m" ] || { ok_py=0; echo "# import $m: $where"; }
	done
	verify "the Python package is installed and imports" test $ok_py = 1
fi
if [ -f "$d/$pydir/dmxp/__init__.py" ]; then
	verify "the installed Python package records the library directory" \
		grep -qx 'LIBDIR = "/usr/local/lib"' "$d/$pydir/dmxp/_installed.py" ||
		sed 's/^/# _installed.py: /' "$d/$pydir/dmxp/_installed.py"
else
	skip "the installed Python package records the library directory: no dmxp package installed"
fi

# ---- make uninstall

mk uninstall DESTDIR="$d" || echo "# make uninstall failed"
files "$d" >"$work/actual"
verify "make uninstall leaves only directories" same_list /dev/null "$work/actual"

d2="$work/opt"
if mk install DESTDIR="$d2" PREFIX=/opt/dmxp; then
	sed "s|^$P/|opt/dmxp/|; s|/python3[^/]*/dist-packages/|/PY/|" "$work/expected" | LC_ALL=C sort >"$work/expected2"
	files "$d2" | sed "s|/python3[^/]*/dist-packages/|/PY/|" | LC_ALL=C sort >"$work/actual2"
	verify "PREFIX=/opt/dmxp installs everything under it" sh -c "
		cmp -s '$work/expected2' '$work/actual2' &&
		grep -qx 'prefix=/opt/dmxp' '$d2/opt/dmxp/lib/pkgconfig/libdmxp.pc'" ||
		diff "$work/expected2" "$work/actual2" | sed 's/^/# /'
	mk uninstall DESTDIR="$d2" PREFIX=/opt/dmxp || true
else
	not_ok "PREFIX=/opt/dmxp installs everything under it"
fi

# Into a PREFIX without DESTDIR (LIVE_ROOT=false: no ldconfig), as a user
# installs into a directory of their own: the package finds the prefix's
# library with neither DMXP_LIBRARY nor LD_LIBRARY_PATH.
t="the Python package installed under a PREFIX loads that PREFIX's library by itself"
pfx="$work/prefix"
if [ -z "$py_pkgs" ] || ! command -v python3 >/dev/null 2>&1; then
	skip "$t: no python3, or tools/python has no package"
elif mk install PREFIX="$pfx" LIVE_ROOT=false; then
	ppy=$(ls -d "$pfx"/lib/python3*/dist-packages 2>/dev/null | head -n 1)
	where=$(cd "$work" && env -u DMXP_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$ppy" \
		python3 -c 'import dmxp; print(dmxp.library_path())' 2>&1)
	verify "$t" test "$where" = "$pfx/lib/libdmxp.so.1" || echo "# loaded: $where"
	mk uninstall PREFIX="$pfx" LIVE_ROOT=false || echo "# make uninstall failed"
	rm -rf "$pfx"
else
	not_ok "$t"
fi

# PREFIX relative to the tree (make -C runs there): _installed.py holds
# the directory as an absolute path, which any working directory finds.
t="a relative PREFIX records the absolute library directory for the Python package"
rel="$(printf '%s\n' "$top" | sed 's|/[^/]*|../|g')${work#/}/relprefix"
if [ -z "$py_pkgs" ] || ! command -v python3 >/dev/null 2>&1; then
	skip "$t: no python3, or tools/python has no package"
elif mk install PREFIX="$rel" LIVE_ROOT=false; then
	ppy=$(ls -d "$work"/relprefix/lib/python3*/dist-packages 2>/dev/null | head -n 1)
	where=$(cd "$work" && env -u DMXP_LIBRARY -u LD_LIBRARY_PATH PYTHONPATH="$ppy" \
		python3 -c 'import dmxp; print(dmxp.library_path())' 2>&1)
	verify "$t" sh -c "grep -qx 'LIBDIR = \"$work/relprefix/lib\"' '$ppy/dmxp/_installed.py' &&
		test '$where' = '$work/relprefix/lib/libdmxp.so.1'" ||
		{ sed 's/^/# _installed.py: /' "$ppy/dmxp/_installed.py"; echo "# loaded: $where"; }
	mk uninstall PREFIX="$rel" LIVE_ROOT=false || echo "# make uninstall failed"
	rm -rf "$work/relprefix"
else
	not_ok "$t"
fi

# ---- make install-kmod

k="$work/kmod"
verify "make install-kmod into a DESTDIR" mk install-kmod DESTDIR="$k"
if [ -f "$top/kmod/dmxp.ko" ] && command -v modinfo >/dev/null 2>&1; then
	rel=$(modinfo -F vermagic "$top/kmod/dmxp.ko" | cut -d' ' -f1)
	verify "install-kmod installs the module built for its kernel" \
		cmp -s "$top/kmod/dmxp.ko" "$k/lib/modules/$rel/extra/dmxp.ko"
	modfile="lib/modules/$rel/extra/dmxp.ko"
else
	skip "install-kmod installs the module built for its kernel: kmod/dmxp.ko is not built (no kernel headers)"
	modfile=""
fi
verify "install-kmod installs the udev rule, modprobe.d and modules-load.d files" sh -c "
	cmp -s '$top/packaging/udev/60-dmxp.rules' '$k/etc/udev/rules.d/60-dmxp.rules' &&
	cmp -s '$top/packaging/modprobe.d/dmxp.conf' '$k/etc/modprobe.d/dmxp.conf' &&
	cmp -s '$top/packaging/modules-load.d/dmxp.conf' '$k/etc/modules-load.d/dmxp.conf'"
verify "the udev rule gives /dev/dmxp to group dmxp, mode 0660" \
	grep -qE '^SUBSYSTEM=="misc", KERNEL=="dmxp", GROUP="dmxp", MODE="0660"$' \
	"$k/etc/udev/rules.d/60-dmxp.rules"
{
	[ -n "$modfile" ] && echo "$modfile"
	printf '%s\n' etc/modprobe.d/dmxp.conf etc/modules-load.d/dmxp.conf etc/udev/rules.d/60-dmxp.rules
} | LC_ALL=C sort >"$work/expected"
files "$k" >"$work/actual"
verify "install-kmod installs nothing else" same_list "$work/expected" "$work/actual"

echo "options dmxp default_mode=0666" >>"$k/etc/modprobe.d/dmxp.conf"
mk uninstall-kmod DESTDIR="$k" || echo "# make uninstall-kmod failed"
verify "uninstall-kmod keeps an edited configuration file" \
	grep -q '^options dmxp default_mode=0666$' "$k/etc/modprobe.d/dmxp.conf"
rm -f "$k/etc/modprobe.d/dmxp.conf"
files "$k" >"$work/actual"
verify "uninstall-kmod removes the rest" same_list /dev/null "$work/actual"

# ---- DKMS: the staged source tree, built the way dkms builds it

s="$work/dkms"
src="$s/usr/src/dmxp-$ver"
if mk dkms-install DESTDIR="$s"; then
	verify "make dkms-install into a DESTDIR stages the source and dkms.conf" sh -c "
		grep -qx 'PACKAGE_VERSION=\"$ver\"' '$src/dkms.conf' &&
		grep -qx 'PACKAGE_NAME=\"dmxp\"' '$src/dkms.conf' &&
		grep -qx 'AUTOINSTALL=\"yes\"' '$src/dkms.conf' &&
		! grep -q '#MODULE_VERSION#' '$src/dkms.conf' &&
		cmp -s '$top/include/uapi/linux/dmxp.h' '$src/include/uapi/linux/dmxp.h' &&
		cmp -s '$top/kmod/Kbuild' '$src/kmod/Kbuild' && cmp -s '$top/kmod/main.c' '$src/kmod/main.c' &&
		! ls '$src/kmod/' | grep -qE '\\.(o|ko|mod|mod\\.c|cmd)\$'"
	{
		(cd "$s" && find "usr/src/dmxp-$ver" ! -type d)
		printf '%s\n' etc/modprobe.d/dmxp.conf etc/modules-load.d/dmxp.conf etc/udev/rules.d/60-dmxp.rules
	} | LC_ALL=C sort >"$work/expected"
	files "$s" >"$work/actual"
	verify "dkms-install stages the configuration files of install-kmod, not the module" \
		same_list "$work/expected" "$work/actual"
else
	not_ok "make dkms-install into a DESTDIR stages the source and dkms.conf"
	not_ok "dkms-install stages the configuration files of install-kmod, not the module"
fi
kernelver='' kernel_source_dir=''
if [ -f "$top/kmod/dmxp.ko" ] && command -v modinfo >/dev/null 2>&1; then
	kernelver=$(modinfo -F vermagic "$top/kmod/dmxp.ko" | cut -d' ' -f1)
	# shellcheck disable=SC2012
	kernel_source_dir=$(ls -d "/lib/modules/$kernelver/build" "/usr/src/linux-headers-$kernelver" 2>/dev/null | head -n 1)
fi
if [ -n "$kernel_source_dir" ] && [ -f "$src/dkms.conf" ]; then
	# dkms runs MAKE[0] in a copy of the tree, with these two variables set.
	cp -a "$src" "$work/build"
	make_cmd=$(sed -n 's/^MAKE\[0\]="\(.*\)"$/\1/p' "$work/build/dkms.conf" |
		sed "s|\${kernelver}|$kernelver|g; s|\${kernel_source_dir}|$kernel_source_dir|g")
	echo "# MAKE[0]: $make_cmd"
	verify "the staged DKMS tree builds with dkms.conf's MAKE command" sh -c "
		cd '$work/build' && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $make_cmd >'$log' 2>&1 &&
		[ \"\$(modinfo -F version kmod/dmxp.ko)\" = '$ver' ]" || sed 's/^/# /' "$log" | tail -n 20
else
	skip "the staged DKMS tree builds with dkms.conf's MAKE command: no kmod/dmxp.ko, or no headers of its kernel"
fi
if command -v dkms >/dev/null 2>&1; then
	skip "dkms-install without dkms fails with one line: dkms is installed (the test never installs into the system)"
else
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$top" --no-print-directory -s dkms-install \
		>"$log" 2>&1
	rc=$?
	verify "dkms-install without dkms fails with one line" sh -c "
		[ $rc -ne 0 ] && grep -q '^dkms-install: dkms is not installed' '$log' &&
		[ \$(grep -vc '^make: ' '$log') -eq 1 ]" || sed 's/^/# /' "$log"
fi
mk dkms-uninstall DESTDIR="$s" || echo "# make dkms-uninstall failed"
files "$s" >"$work/actual"
verify "dkms-uninstall removes the staged tree and files" same_list /dev/null "$work/actual"

tap_done
