# dmxp: shared-memory message channels for Linux.
#
#   make            build the library, the tools and the kernel module
#   make demo       the producer/consumer demo, on /dev/shm and, in a QEMU
#                   guest, on /dev/dmxp
#   make check      every test, natively and in the guest on Debian's kernel,
#                   then in the checked kernels (make check-debug); ends with
#                   "N passed, N failed, N skipped"
#   make check-debug  the guest tests that go through the module, in kernels
#                   with KASAN, lockdep, KCSAN
#                   (6.1 and 6.12, built by tools/vm/build-kernel on first
#                   use and cached in ~/.cache/dmxp); one totals line
#   make stress     the long multi-process stress run (minutes)
#   make soak       the soak test for SOAK_SECONDS (default 600) natively, then
#                   as long in the guest, SIGKILLing workers (DMXP_SOAK_KILL=0: not)
#   make model      the protocol model (lib/model/ring.pml) checked with SPIN in
#                   its full configurations (minutes; `make check` runs small ones)
#   make fuzz       the module's randomised fuzzer in the guest, FUZZ_SECONDS
#                   (default 600), FUZZ_SEED to replay a run (default: the clock)
#   make bench      the benchmarks vs the peers, natively and in the guest;
#                   regenerates Documentation/performance.md's results
#   make vm-shell   an interactive guest with dmxp.ko loaded
#   make install    the library, headers, libdmxp.pc, dmxpctl, the man pages
#                   and the Python package into PREFIX (/usr/local), honouring
#                   DESTDIR; make uninstall removes them
#   make install-kmod   dmxp.ko, udev rule, modprobe.d, modules-load.d, group
#   make dkms-install   the module under DKMS (make dkms-uninstall)
#   make checkpatch the kernel's style check of kmod/
#   make sparse     build kmod/ with sparse (C=1)
#   make clean
#
#   make deps       install the missing Debian packages (tools/install-deps,
#                   which says what it installs; as root)
#
# V=1 shows the full commands.  The build installs nothing: `make` builds
# with what is installed, names each missing package (tools/check-deps),
# stops when the library cannot be built and skips the optional parts (the
# module, the io_uring examples, the benchmark's peers).  The README's
# commands (demo, check) and the test, benchmark and guest targets run
# tools/install-deps first.

include build.mk
MAKEFLAGS += --no-print-directory

# True (in a recipe) when kernel headers are installed: the running
# kernel's, else Debian's (kmod/Makefile picks which).  Says which package
# is missing otherwise.
HAVE_KHDRS = tools/check-deps kmod

DEMO_REGION ?= /dev/shm/dmxp_demo
STRESS_SECONDS ?= 60
SOAK_SECONDS ?= 600
FUZZ_SECONDS ?= 600

all: lib tools kmod

deps:
	$(Q)tools/install-deps

# The targets that install what they need first: the README's commands
# and the test, benchmark and guest targets.  With -j, what they build
# waits for deps.
DEPS_GOALS := demo check check-debug bench stress soak fuzz model vm-shell sparse
ifneq ($(filter deps $(DEPS_GOALS),$(MAKECMDGOALS)),)
lib kmod: | deps
endif

# The builds use every CPU unless the caller said how many jobs (-j):
# the suite's build took 156 s serially, 84 s with -j2 on 2 CPUs.  The
# tests themselves run one at a time (selftests/check.sh).
# (-j shows in MAKEFLAGS only in recipes, hence = and not :=.)
NPROC := $(shell nproc 2>/dev/null || echo 1)
JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

lib:
	$(Q)$(MAKE) $(JOBS) -C lib

tools: lib
	$(Q)$(MAKE) $(JOBS) -C tools

kmod:
	$(Q)if $(HAVE_KHDRS); then \
		printf '  %-7s %s\n' KMOD kmod/dmxp.ko; \
		$(MAKE) $(JOBS) -C kmod $(if $(V:0=),,>/dev/null); \
	else \
		echo "  SKIP    kmod/dmxp.ko: no kernel headers (make deps installs them)"; \
	fi

demo: deps tools kmod
	$(Q)rm -f $(DEMO_REGION)
	$(Q)DMXP_REGION=$(DEMO_REGION) tools/demo/dmxp-demo
	$(Q)rm -f $(DEMO_REGION)
	$(Q)if [ -f kmod/dmxp.ko ]; then \
		echo "  VM      the same demo in a QEMU guest, on /dev/dmxp"; \
		tools/vm/run -- env DMXP_REGION=/dev/dmxp tools/demo/dmxp-demo -n 200000; \
	fi

# The benchmark: every case natively, the blocking and busy-poll latency
# cases again in the QEMU guest (where /dev/dmxp exists), then the results
# and charts of Documentation/performance.md are regenerated from the JSON.
BENCH_OUT    := .cache/bench
BENCH_NATIVE := tools/dmxp-bench/dmxp-bench --repeat 5
BENCH_GUEST  := tools/dmxp-bench/dmxp-bench --repeat 5 --iterations 5000 \
		--cases 'lat-block/dmxp*,lat-block/futex,lat-block/eventfd,lat-block/pipe,lat-busy/dmxp*,lat-busy/cacheline'
# The targets against the bare ring once more, dmxp's sends not stamped
# with the time, as the bare ring's are not (dmxp_chan_set_timestamp(3)).
BENCH_NOSTAMP := tools/dmxp-bench/dmxp-bench --repeat 5 --timestamp none \
		--cases 'pair/dmxp,pair/vyukov,tput/dmxp/1x1/64,tput/dmxp-batch/1x1/64,tput/vyukov/1x1/64,tput/spsc/1x1/64,lat-busy/dmxp,lat-busy/vyukov,lat-busy/cacheline'

bench: deps tools kmod
	$(Q)mkdir -p $(BENCH_OUT)
	$(Q)rm -f $(BENCH_OUT)/native.json $(BENCH_OUT)/guest.json $(BENCH_OUT)/nostamp.json
	$(Q)$(BENCH_NATIVE) --json-out $(BENCH_OUT)/native.json
	$(Q)$(BENCH_NOSTAMP) --json-out $(BENCH_OUT)/nostamp.json
	$(Q)for api in into many; do \
		python3 tools/python/bench_recv.py --api $$api --repeat 5 --json \
			> $(BENCH_OUT)/python.out || { cat $(BENCH_OUT)/python.out; exit 1; }; \
		grep -v '^{' $(BENCH_OUT)/python.out; \
		grep '^{' $(BENCH_OUT)/python.out >> $(BENCH_OUT)/native.json; \
	done
	$(Q)if [ -f kmod/dmxp.ko ]; then \
		echo "  VM      the latency cases in a QEMU guest (TCG-emulated), on /dev/dmxp"; \
		tools/vm/run -- sh -c "$(BENCH_GUEST) --json-out /tmp/guest.json && cat /tmp/guest.json" \
			> $(BENCH_OUT)/guest.out || { cat $(BENCH_OUT)/guest.out; exit 1; }; \
		grep -v '^{' $(BENCH_OUT)/guest.out; \
		grep '^{' $(BENCH_OUT)/guest.out > $(BENCH_OUT)/guest.json; \
	fi
	$(Q)tools/dmxp-bench/report --native $(BENCH_OUT)/native.json \
		$$([ -s $(BENCH_OUT)/guest.json ] && echo --guest $(BENCH_OUT)/guest.json) \
		--nostamp $(BENCH_OUT)/nostamp.json --nostamp-command "$(BENCH_NOSTAMP)" \
		--command "$(BENCH_NATIVE)" --guest-command "tools/vm/run -- $(BENCH_GUEST)" \
		--doc Documentation/performance.md --charts Documentation
	$(Q)echo "  BENCH   Documentation/performance.md, perf-throughput.svg, perf-latency.svg"

selftests: lib tools
	$(Q)$(MAKE) $(JOBS) -C selftests

check: deps selftests kmod
	$(Q)$(MAKE) -C selftests run

check-debug: deps selftests kmod
	$(Q)$(MAKE) -C selftests run-checked

stress: deps selftests
	$(Q)cd selftests && DMXP_STRESS_SECONDS=$(STRESS_SECONDS) \
		DMXP_TEST_TIMEOUT=$$(( $(STRESS_SECONDS) * 20 + 600 )) \
		./run.sh stress_mpmc stress_wake tsan_threads

soak: deps selftests kmod
	$(Q)cd selftests && DMXP_STRESS_SECONDS=$(SOAK_SECONDS) \
		DMXP_TEST_TIMEOUT=$$(( $(SOAK_SECONDS) + 600 )) ./run.sh stress_soak
	$(Q)if [ -f kmod/dmxp.ko ]; then \
		echo "  VM      the soak test in a QEMU guest, on /dev/dmxp"; \
		tools/vm/run --timeout $$(( $(SOAK_SECONDS) + 900 )) -- env DMXP_TEST_BACKEND=kernel \
			DMXP_STRESS_SECONDS=$(SOAK_SECONDS) DMXP_TEST_TIMEOUT=$$(( $(SOAK_SECONDS) + 600 )) \
			DMXP_SOAK_KILL=$${DMXP_SOAK_KILL:-1} selftests/run.sh stress_soak; \
	fi

fuzz: deps selftests kmod
	$(Q)VM_TIMEOUT=$$(( $(FUZZ_SECONDS) + 600 )) tools/vm/run -- selftests/fuzz_kmod \
		--seconds $(FUZZ_SECONDS) $(if $(FUZZ_SEED),--seed $(FUZZ_SEED))

model: deps
	$(Q)lib/model/run-model --full

vm-shell: deps tools kmod selftests
	$(Q)tools/vm/run --shell

checkpatch:
	$(Q)tools/fetch-kernel-tools $(KTOOLS)
	@# An out-of-tree module needs its LINUX_VERSION_CODE compatibility shims.
	$(Q)$(KTOOLS)/scripts/checkpatch.pl --no-tree --strict --show-types --quiet \
		--ignore SPDX_LICENSE_TAG,LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f $(filter-out %.mod.c,$(wildcard kmod/*.c)) kmod/*.h common/*.h

sparse: deps
	$(Q)$(MAKE) -C kmod C=2

clean:
	$(Q)$(MAKE) -C lib clean
	$(Q)$(MAKE) -C tools clean
	$(Q)$(MAKE) -C selftests clean
	$(Q)if $(HAVE_KHDRS) 2>/dev/null; then $(MAKE) -C kmod clean >/dev/null; fi

.PHONY: all deps lib tools kmod demo bench selftests check check-debug stress soak fuzz model vm-shell checkpatch sparse clean \
	install uninstall install-kmod uninstall-kmod dkms-install dkms-uninstall

include install.mk
