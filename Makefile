# odp-p2p: thin front door.  Every target is one script in scripts/ that
# builds what it needs and prints its stages; see README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help
S := scripts

.PHONY: help run test test-debug test-baseline stress bench-hmm bench-rdma build kernel kernel-apply kernel-export \
	kernel-check providers-apply providers-export perftest-apply perftest-export \
	userspace vm-shell vm-run deps clean distclean

help:
	@echo "make run               build, boot the VM, run the demo benchmark, print its table"
	@echo "make test              build, boot the VM, run every test suite (SUITES='functional ...' for some)"
	@echo "make test-debug        build the debug kernel (KASAN, lockdep, kmemleak), run SUITES (default: functional hmm-tests stress) on it"
	@echo "make stress           DURATION=S (1800) WORKERS=N (4) KERNEL=debug|base: RDMA traffic vs page churn, every byte checked"
	@echo "make test-baseline     run the upstream suites on pristine 7.3.4 + rdma-core 65.0, record tests/baseline/"
	@echo "make bench-hmm         build, boot the VM, time faulting device-private memory: aliases vs migration"
	@echo "make bench-rdma        build, boot the VM, time RDMA WRITE/READ: host memory, aliases, migration"
	@echo "make build             build everything the VM needs (kernel, rdma-core, perftest, selftests, ours)"
	@echo "make kernel            build the patched kernel (bzImage)"
	@echo "make userspace         build rdma-core, perftest, the selftests and our userspace"
	@echo "make kernel-apply      apply kernel/series to build/linux (for editing)"
	@echo "make kernel-export     write build/linux's commits back to kernel/"
	@echo "make providers-apply   apply providers/series to build/src/rdma-core (for editing)"
	@echo "make providers-export  write build/src/rdma-core's commits back to providers/"
	@echo "make perftest-apply    apply perftest-ext/series to build/src/perftest (for editing)"
	@echo "make perftest-export   write build/src/perftest's commits back to perftest-ext/"
	@echo "make kernel-check      checkpatch --strict every patch, build every prefix and mlx5"
	@echo "make vm-shell          interactive shell in the VM (host A's namespace)"
	@echo "make vm-run CMD=...    run CMD in the VM in host A's namespace"
	@echo "make deps              install the host packages"
	@echo "make clean             remove build/ (downloads and ccache stay in \$$ODP_CACHE)"
	@echo "make distclean         remove build/ and \$$ODP_CACHE (default ~/.cache/odp-p2p)"

run:
	@$(S)/run.sh

test:
	@$(S)/test.sh $(SUITES)

test-debug:
	@$(S)/test-debug.sh $(SUITES)

test-baseline:
	@$(S)/test-baseline.sh

stress:
	@DURATION=$(DURATION) WORKERS=$(WORKERS) KERNEL=$(KERNEL) $(S)/stress.sh

bench-hmm:
	@$(S)/bench-hmm.sh

bench-rdma:
	@$(S)/bench-rdma.sh

build:
	@$(S)/build.sh all

kernel:
	@$(S)/build.sh kernel

userspace:
	@$(S)/build.sh userspace

deps:
	@$(S)/install-deps.sh

kernel-apply:
	@$(S)/apply-series.sh

kernel-export:
	@$(S)/export-series.sh

providers-apply:
	@$(S)/upstream-series.sh apply rdma-core

providers-export:
	@$(S)/upstream-series.sh export rdma-core

perftest-apply:
	@$(S)/upstream-series.sh apply perftest

perftest-export:
	@$(S)/upstream-series.sh export perftest

kernel-check:
	@$(S)/check-series.sh

vm-shell:
	@$(S)/vm-shell.sh

vm-run:
	@$(S)/vm-run.sh "$$CMD"

clean:
	@$(S)/clean.sh

distclean:
	@$(S)/clean.sh --dist
