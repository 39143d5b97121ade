# dmxp: shared-memory message channels for Linux.
#
#   make            build the library, the tools and the kernel module
#   make demo       build and run the producer/consumer demo
#   make check      run every test; ends with "N passed, N failed"
#   make stress     the long multi-process stress run (minutes)
#   make clean
#
# V=1 shows the full commands.  Missing Debian packages are installed by
# tools/install-deps, which says what it installs.

include build.mk
MAKEFLAGS += --no-print-directory

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
                    $(wildcard /usr/src/linux-headers-*-amd64))

DEMO_REGION ?= /dev/shm/dmxp_demo
STRESS_SECONDS ?= 60

all: lib tools kmod

deps:
	$(Q)tools/install-deps

lib: deps
	$(Q)$(MAKE) -C lib

tools: lib
	$(Q)$(MAKE) -C tools

kmod: deps
ifeq ($(wildcard kmod/Kbuild),)
	@echo "  KMOD    no module sources in kmod/: skipped"
else ifeq ($(KDIR),)
	@echo "  KMOD    kernel headers not found (install linux-headers-amd64): module skipped"
else
	$(Q)$(MAKE) -C kmod KDIR=$(KDIR)
endif

demo: tools
	$(Q)rm -f $(DEMO_REGION)
	$(Q)DMXP_REGION=$(DEMO_REGION) tools/demo/dmxp-demo
	$(Q)rm -f $(DEMO_REGION)

selftests: lib tools
	$(Q)$(MAKE) -C selftests

check: selftests
	$(Q)$(MAKE) -C selftests run

stress: selftests
	$(Q)cd selftests && DMXP_STRESS_SECONDS=$(STRESS_SECONDS) \
		DMXP_TEST_TIMEOUT=$$(( $(STRESS_SECONDS) * 20 + 600 )) \
		./run.sh stress_mpmc tsan_threads

clean:
	$(Q)$(MAKE) -C lib clean
	$(Q)$(MAKE) -C tools clean
	$(Q)$(MAKE) -C selftests clean
ifneq ($(wildcard kmod/Kbuild),)
	$(Q)$(MAKE) -C kmod clean
endif

.PHONY: all deps lib tools kmod demo selftests check stress clean
