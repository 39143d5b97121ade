#!/bin/sh
# The version is defined once, in the file VERSION at the top of the tree
# (build.mk reads it; the library's file names and the installed pages,
# libdmxp.pc and dkms.conf carry it).  The copies that code needs where
# the build system cannot reach must equal it: the uapi header's
# DMXP_VERSION_STR (the module's MODULE_VERSION, dmxpctl -V), the Python
# package's dmxp.constants.VERSION (pyproject.toml reads it), the Rust
# crate's Cargo.toml.  And what the build made from them: the library's
# file name and soname, dmxpctl -V, the module's version.  Natively only.
. ./tap.sh

top=$(cd .. && pwd)
ver=$(cat "$top/VERSION")
major=${ver%%.*}
CTL=${DMXPCTL:-../tools/dmxpctl/dmxpctl}

# same WHAT VALUE: VALUE is the version, else a comment line saying what it is
same() {
	[ "$2" = "$ver" ] || { echo "# $1 is '$2', VERSION is '$ver'"; return 1; }
}

check "VERSION is one line, MAJOR.MINOR.PATCH" \
	sh -c "[ \$(wc -l <'$top/VERSION') -eq 1 ] && echo '$ver' | grep -Eqx '[0-9]+\.[0-9]+\.[0-9]+'"

hdr=$(sed -n 's/^#define[[:space:]]*DMXP_VERSION_STR[[:space:]]*"\([^"]*\)".*/\1/p' \
	"$top/include/uapi/linux/dmxp.h")
check "the uapi header's DMXP_VERSION_STR is VERSION" same DMXP_VERSION_STR "$hdr"

py=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$top/tools/python/dmxp/constants.py")
check "the Python package's dmxp.constants.VERSION is VERSION" same dmxp.constants.VERSION "$py"
check "pyproject.toml takes its version from dmxp.constants.VERSION" sh -c "
	grep -qx 'dynamic = \[\"version\"\]' '$top/tools/python/pyproject.toml' &&
	grep -qx 'version = { attr = \"dmxp.constants.VERSION\" }' '$top/tools/python/pyproject.toml' &&
	! grep -q '^version = \"' '$top/tools/python/pyproject.toml'"

rs=$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$top/tools/rust/Cargo.toml")
check "the Rust crate's version is VERSION" same "Cargo.toml's version" "$rs"

# What the build made.
lib=$top/lib
if [ -f "$lib/libdmxp.a" ]; then
	check "the library is libdmxp.so.VERSION" test -f "$lib/libdmxp.so.$ver" -a ! -L "$lib/libdmxp.so.$ver"
	check "libdmxp.so.MAJOR links to it" test "$(readlink "$lib/libdmxp.so.$major")" = "libdmxp.so.$ver"
	if command -v readelf >/dev/null 2>&1; then
		soname=$(readelf -d "$lib/libdmxp.so.$ver" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
		check "its soname is libdmxp.so.MAJOR" test "$soname" = "libdmxp.so.$major"
	else
		skip "its soname is libdmxp.so.MAJOR: readelf is not installed"
	fi
else
	skip "the library is libdmxp.so.VERSION: lib/ is not built"
	skip "libdmxp.so.MAJOR links to it: lib/ is not built"
	skip "its soname is libdmxp.so.MAJOR: lib/ is not built"
fi

if [ -x "$CTL" ]; then
	check "dmxpctl -V prints VERSION" sh -c "'$CTL' -V | grep -qx 'dmxpctl $ver (layout version [0-9]*)'"
else
	skip "dmxpctl -V prints VERSION: dmxpctl is not built"
fi

if [ -f "$top/kmod/dmxp.ko" ] && command -v modinfo >/dev/null 2>&1; then
	check "the module's version is VERSION" same "modinfo -F version" \
		"$(modinfo -F version "$top/kmod/dmxp.ko")"
else
	skip "the module's version is VERSION: kmod/dmxp.ko is not built"
fi

# No other copy of the number in the sources: a new one belongs in this test.
esc=$(echo "$ver" | sed 's/\./\\./g')
others=$(cd "$top" && git ls-files 2>/dev/null | grep -v -e '^VERSION$' -e '\.svg$' -e '\.md$' |
	while read -r f; do [ -f "$f" ] && grep -l -- "$esc" "$f"; done |
	grep -vx -e include/uapi/linux/dmxp.h -e tools/python/dmxp/constants.py -e tools/rust/Cargo.toml)
if [ -d "$top/.git" ] || [ -f "$top/.git" ]; then
	[ -z "$others" ] || echo "$others" | sed 's/^/# also has the version: /'
	check "no other source file spells the version" test -z "$others"
else
	skip "no other source file spells the version: not a git checkout"
fi

tap_done
