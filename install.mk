# Installing dmxp; included by the top Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#       $(LIBDIR):        libdmxp.so.VERSION, libdmxp.so.MAJOR -> libdmxp.so.VERSION,
#                         libdmxp.so -> libdmxp.so.MAJOR, libdmxp.a (VERSION:
#                         the file VERSION, MAJOR its first number)
#       $(INCLUDEDIR):    dmxp.h, and dmxp/linux/dmxp.h (the uapi header,
#                         found through libdmxp.pc's -I${includedir}/dmxp)
#       $(PKGCONFIGDIR):  libdmxp.pc
#       $(BINDIR):        dmxpctl
#       $(MANDIR):        man3 (every function of dmxp.h, and libdmxp(3)),
#                         man4 (dmxp(4), the device), man8 (dmxpctl(8))
#       $(PYTHONDIR):     the package(s) of tools/python, when it exists
#                         (not a stray libdmxp.so* in it), and
#                         dmxp/_installed.py: LIBDIR (made absolute), where
#                         the package finds libdmxp.so.1 without $DMXP_LIBRARY
#       then ldconfig, when installing into / as root.
#   make uninstall        removes exactly those (give the same PREFIX, DESTDIR)
#
#   make install-kmod [DESTDIR=]
#       dmxp.ko (make -C kmod install: modules_install and depmod), the udev
#       rule $(UDEVRULESDIR)/60-dmxp.rules, $(MODPROBEDIR)/dmxp.conf (the
#       module's parameters, commented out) and $(MODULESLOADDIR)/dmxp.conf
#       (load at boot); without DESTDIR also the system group "dmxp".
#       An installed configuration file that was edited is kept.
#   make uninstall-kmod   removes them (not the group, nor edited files)
#
#   make dkms-install     the module's source into /usr/src/dmxp-VERSION,
#                         then dkms add, build and install (KVER=... for a
#                         kernel other than the running one), and the files
#                         and group of install-kmod but the module; with
#                         DESTDIR, the source and the files are only staged
#   make dkms-uninstall   dkms remove, the source, and those files
#
# The udev, modprobe.d and modules-load.d files go to /etc whatever PREFIX
# is (the only directories those tools read that belong to the local
# administrator); a distribution package sets UDEVRULESDIR=/usr/lib/udev/rules.d
# and so on.  Python: the package directories are copied, not installed
# with pip, because Debian's pip writes `--prefix=/usr/local` installs to
# /usr/local/local/lib/python3.X/dist-packages, which is not on sys.path,
# and cannot uninstall from a DESTDIR; see Documentation/ADMIN.md.

PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
MANDIR         ?= $(PREFIX)/share/man
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSCONFDIR     ?= /etc
UDEVRULESDIR   ?= $(SYSCONFDIR)/udev/rules.d
MODPROBEDIR    ?= $(SYSCONFDIR)/modprobe.d
MODULESLOADDIR ?= $(SYSCONFDIR)/modules-load.d

# Debian's interpreter, whose sys.path has /usr/local/lib/python3.X/dist-packages
# and /usr/lib/python3/dist-packages (evaluated only when installing Python).
PYTHON    ?= $(firstword $(wildcard /usr/bin/python3) python3)
PYTHONDIR ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/python$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages)

# One version number: DMXP_RELEASE, the file VERSION (build.mk), with the
# library's file names derived from it.  The uapi header's
# DMXP_VERSION_STR (the module's MODULE_VERSION, what dmxpctl -V prints)
# is checked equal to it by selftests/test_version.sh.
LIB_SONAME   := $(DMXP_SONAME)
LIB_REALNAME := $(DMXP_SOLIB)

MAN_PAGES  := $(wildcard man/*.[348])
# Python packages: directories of tools/python (or tools/python/src) with
# an __init__.py.
PY_PKGDIRS := $(patsubst %/__init__.py,%,$(wildcard tools/python/*/__init__.py tools/python/src/*/__init__.py))

# pkg-config paths relative to ${prefix} when they are under it.
PC_LIBDIR     = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

comma := ,
empty :=
space := $(empty) $(empty)

DKMS_SRC = $(DESTDIR)/usr/src/dmxp-$(DMXP_RELEASE)
# True when installing into the running system as root.
LIVE_ROOT = [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]

# ------------------------------------------------------------ the library

install: lib
	$(Q)test -n "$(DMXP_RELEASE)" && test -n "$(LIB_SONAME)" && test -n "$(LIB_REALNAME)" || \
		{ echo "install: cannot read the version or library names"; exit 1; }
	$(Q)$(MAKE) -C tools $(if $(V:0=),,-s) dmxpctl/dmxpctl
	$(quiet) INSTALL "$(DESTDIR)$(LIBDIR)/{$(LIB_REALNAME),$(LIB_SONAME),libdmxp.so,libdmxp.a}"
	$(Q)install -d "$(DESTDIR)$(LIBDIR)"
	$(Q)install -m 644 lib/$(LIB_REALNAME) "$(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)"
	$(Q)ln -sfn $(LIB_REALNAME) "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)"
	$(Q)ln -sfn $(LIB_SONAME) "$(DESTDIR)$(LIBDIR)/libdmxp.so"
	$(Q)install -m 644 lib/libdmxp.a "$(DESTDIR)$(LIBDIR)/libdmxp.a"
	$(quiet) INSTALL "$(DESTDIR)$(INCLUDEDIR)/{dmxp.h,dmxp/linux/dmxp.h}"
	$(Q)install -d "$(DESTDIR)$(INCLUDEDIR)/dmxp/linux"
	$(Q)install -m 644 include/dmxp.h "$(DESTDIR)$(INCLUDEDIR)/dmxp.h"
	$(Q)install -m 644 include/uapi/linux/dmxp.h "$(DESTDIR)$(INCLUDEDIR)/dmxp/linux/dmxp.h"
	$(quiet) INSTALL "$(DESTDIR)$(PKGCONFIGDIR)/libdmxp.pc"
	$(Q)install -d "$(DESTDIR)$(PKGCONFIGDIR)"
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(PC_LIBDIR)|g' \
		-e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' -e 's|@VERSION@|$(DMXP_RELEASE)|g' \
		lib/libdmxp.pc.in > "$(DESTDIR)$(PKGCONFIGDIR)/libdmxp.pc"
	$(Q)chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/libdmxp.pc"
	$(quiet) INSTALL "$(DESTDIR)$(BINDIR)/dmxpctl"
	$(Q)install -d "$(DESTDIR)$(BINDIR)"
	$(Q)install -m 755 tools/dmxpctl/dmxpctl "$(DESTDIR)$(BINDIR)/dmxpctl"
	$(quiet) INSTALL "$(DESTDIR)$(MANDIR)/man{3,4,8}: $(words $(MAN_PAGES)) pages"
	$(Q)for f in $(MAN_PAGES); do \
		d="$(DESTDIR)$(MANDIR)/man$${f##*.}"; \
		install -d "$$d" && \
		sed 's/@VERSION@/$(DMXP_RELEASE)/g' "$$f" > "$$d/$${f##*/}" && \
		chmod 644 "$$d/$${f##*/}" || exit 1; \
	done
ifneq ($(PY_PKGDIRS),)
	$(quiet) INSTALL "$(DESTDIR)$(PYTHONDIR)/{$(subst $(space),$(comma),$(notdir $(PY_PKGDIRS)))}"
	$(Q)for p in $(PY_PKGDIRS); do \
		(cd "$$(dirname "$$p")" && \
		 find "$$(basename "$$p")" -name __pycache__ -prune -o -type f ! -name '*.py[co]' \
			! -name '*.so' ! -name '*.so.*' -print) | \
		while read -r f; do \
			install -D -m 644 "$$(dirname "$$p")/$$f" "$(DESTDIR)$(PYTHONDIR)/$$f" || exit 1; \
		done || exit 1; \
	done
	$(Q)if [ -d "$(DESTDIR)$(PYTHONDIR)/dmxp" ]; then \
		printf '%s\n' '# Written by make install: where dmxp._lib looks for libdmxp.so.1.' \
			'LIBDIR = "$(abspath $(LIBDIR))"' > "$(DESTDIR)$(PYTHONDIR)/dmxp/_installed.py" && \
		chmod 644 "$(DESTDIR)$(PYTHONDIR)/dmxp/_installed.py"; \
	fi
else
	$(quiet) PYTHON "tools/python does not exist: no Python package installed"
endif
	$(Q)if $(LIVE_ROOT); then ldconfig; fi

uninstall:
	$(quiet) RM "the files of make install under $(DESTDIR)$(PREFIX)"
	$(Q)rm -f "$(DESTDIR)$(LIBDIR)/$(LIB_REALNAME)" "$(DESTDIR)$(LIBDIR)/$(LIB_SONAME)" \
		"$(DESTDIR)$(LIBDIR)/libdmxp.so" "$(DESTDIR)$(LIBDIR)/libdmxp.a" \
		"$(DESTDIR)$(INCLUDEDIR)/dmxp.h" "$(DESTDIR)$(INCLUDEDIR)/dmxp/linux/dmxp.h" \
		"$(DESTDIR)$(PKGCONFIGDIR)/libdmxp.pc" "$(DESTDIR)$(BINDIR)/dmxpctl"
	$(Q)rmdir "$(DESTDIR)$(INCLUDEDIR)/dmxp/linux" "$(DESTDIR)$(INCLUDEDIR)/dmxp" 2>/dev/null || true
	$(Q)for f in $(MAN_PAGES); do rm -f "$(DESTDIR)$(MANDIR)/man$${f##*.}/$${f##*/}"; done
ifneq ($(PY_PKGDIRS),)
	$(Q)for p in $(notdir $(PY_PKGDIRS)); do rm -rf "$(DESTDIR)$(PYTHONDIR)/$$p"; done
endif
	$(Q)if $(LIVE_ROOT); then ldconfig; fi

# ----------------------------------------------------- the kernel module

PKG_UDEV     := packaging/udev/60-dmxp.rules
PKG_MODPROBE := packaging/modprobe.d/dmxp.conf
PKG_MODLOAD  := packaging/modules-load.d/dmxp.conf

# Where make -C kmod install put the module (its INSTALL_MOD_PATH default).
KMOD_ROOT = $(or $(INSTALL_MOD_PATH),$(DESTDIR))
KMOD_DIR  = $(or $(INSTALL_MOD_DIR),extra)

# The udev rule, modprobe.d and modules-load.d files, and (into the
# running system) the group; for install-kmod and dkms-install alike.
define install_kmod_conf
	$(Q)packaging/install-conf install $(PKG_UDEV) "$(DESTDIR)$(UDEVRULESDIR)/60-dmxp.rules"
	$(Q)packaging/install-conf install $(PKG_MODPROBE) "$(DESTDIR)$(MODPROBEDIR)/dmxp.conf"
	$(Q)packaging/install-conf install $(PKG_MODLOAD) "$(DESTDIR)$(MODULESLOADDIR)/dmxp.conf"
	$(Q)if [ -z "$(DESTDIR)" ]; then \
		if ! getent group dmxp >/dev/null; then \
			echo "  GROUP   dmxp (groupadd --system)"; \
			groupadd --system dmxp || exit 1; \
		fi; \
		if command -v udevadm >/dev/null && [ -d /run/udev ]; then \
			udevadm control --reload; \
			udevadm trigger --subsystem-match=misc --sysname-match=dmxp; \
		fi; \
	fi
endef

define uninstall_kmod_conf
	$(Q)packaging/install-conf remove $(PKG_UDEV) "$(DESTDIR)$(UDEVRULESDIR)/60-dmxp.rules"
	$(Q)packaging/install-conf remove $(PKG_MODPROBE) "$(DESTDIR)$(MODPROBEDIR)/dmxp.conf"
	$(Q)packaging/install-conf remove $(PKG_MODLOAD) "$(DESTDIR)$(MODULESLOADDIR)/dmxp.conf"
	$(Q)if [ -z "$(DESTDIR)" ] && command -v udevadm >/dev/null && [ -d /run/udev ]; then \
		udevadm control --reload; \
	fi
endef

install-kmod: kmod
	$(Q)if [ -f kmod/dmxp.ko ]; then \
		$(MAKE) -C kmod install; \
	else \
		echo "  KMOD    kmod/dmxp.ko was not built: only the configuration files are installed"; \
	fi
	$(install_kmod_conf)

uninstall-kmod:
	$(Q)for ko in "$(KMOD_ROOT)"/lib/modules/*/$(KMOD_DIR)/dmxp.ko; do \
		[ -f "$$ko" ] || continue; \
		printf '  %-7s %s\n' RM "$$ko"; rm -f "$$ko" || exit 1; \
		rel=$${ko%/$(KMOD_DIR)/dmxp.ko}; rel=$${rel##*/}; \
		if [ -z "$(KMOD_ROOT)" ]; then depmod -a "$$rel"; fi; \
	done
	$(uninstall_kmod_conf)

# ------------------------------------------------------------------ DKMS

dkms-install:
	$(Q)test -n "$(DMXP_RELEASE)" || { echo "dkms-install: cannot read the file VERSION"; exit 1; }
	$(Q)if [ -z "$(DESTDIR)" ] && ! command -v dkms >/dev/null; then \
		echo "dkms-install: dkms is not installed (apt-get install dkms)"; exit 1; \
	fi
	$(quiet) INSTALL "$(DKMS_SRC)"
	$(Q)rm -rf "$(DKMS_SRC)"
	$(Q)install -d "$(DKMS_SRC)/kmod" "$(DKMS_SRC)/include/uapi/linux" "$(DKMS_SRC)/common"
	$(Q)install -m 644 kmod/Makefile kmod/Kbuild $(filter-out %.mod.c,$(wildcard kmod/*.c)) \
		$(wildcard kmod/*.h) "$(DKMS_SRC)/kmod/"
	$(Q)install -m 644 include/uapi/linux/dmxp.h "$(DKMS_SRC)/include/uapi/linux/"
	$(Q)install -m 644 common/dmxp_rules.h "$(DKMS_SRC)/common/"
	$(Q)sed 's/#MODULE_VERSION#/$(DMXP_RELEASE)/' packaging/dkms.conf > "$(DKMS_SRC)/dkms.conf"
	$(Q)if [ -n "$(DESTDIR)" ]; then \
		echo "  DKMS    DESTDIR is set: staged only (dkms add, build and install are left to the target)"; \
		exit 0; \
	fi; \
	set -e; \
	if dkms status -m dmxp -v $(DMXP_RELEASE) | grep -q .; then \
		dkms remove -m dmxp -v $(DMXP_RELEASE) --all; \
	fi; \
	dkms add -m dmxp -v $(DMXP_RELEASE); \
	dkms build -m dmxp -v $(DMXP_RELEASE) $(if $(KVER),-k $(KVER)); \
	dkms install -m dmxp -v $(DMXP_RELEASE) $(if $(KVER),-k $(KVER))
	$(install_kmod_conf)

dkms-uninstall:
	$(Q)if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null && \
	    dkms status -m dmxp -v $(DMXP_RELEASE) | grep -q .; then \
		dkms remove -m dmxp -v $(DMXP_RELEASE) --all || exit 1; \
	fi
	$(quiet) RM "$(DKMS_SRC)"
	$(Q)rm -rf "$(DKMS_SRC)"
	$(uninstall_kmod_conf)

.PHONY: install uninstall install-kmod uninstall-kmod dkms-install dkms-uninstall
