# Shared build settings, included by every Makefile of the tree.
# Quiet kernel-style lines ("  CC  foo.o") unless V=1.

TOP ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# The version, defined once: the file VERSION at the top (MAJOR.MINOR.PATCH).
# The library's file names derive from it; the copies that must stay (the
# uapi header's DMXP_VERSION_STR, tools/python, tools/rust) are checked
# equal to it by selftests/test_version.sh.
DMXP_RELEASE := $(strip $(file <$(TOP)/VERSION))
DMXP_MAJOR   := $(firstword $(subst ., ,$(DMXP_RELEASE)))
DMXP_SONAME  := libdmxp.so.$(DMXP_MAJOR)
DMXP_SOLIB   := libdmxp.so.$(DMXP_RELEASE)

CC      ?= cc
AR      ?= ar
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-missing-field-initializers
CPPFLAGS_DMXP := -I$(TOP)/include -I$(TOP)/include/uapi -D_GNU_SOURCE
ALL_CFLAGS = $(CPPFLAGS_DMXP) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)

# The kernel's kselftest harness and checkpatch, extracted from Debian's
# linux-source package by tools/fetch-kernel-tools (never committed).
KTOOLS := $(TOP)/.cache/linux

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-7s %s\n'
endif
