# odp-p2p: thin front door.  The work is done by scripts/ and tests/vm/;
# see README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help
S := scripts

.PHONY: help run test bench-hmm build kernel kernel-apply kernel-export \
	kernel-check userspace vm-shell vm-run deps clean distclean

help:
	@echo "make run            build, boot the VM, run the demo benchmark, print its table"
	@echo "make test           build, boot the VM, run every test suite"
	@echo "make bench-hmm      build, boot the VM, time faulting device-private memory: aliases vs migration"
	@echo "make kernel         build the patched kernel (bzImage)"
	@echo "make kernel-apply   apply kernel/series to build/linux (for editing)"
	@echo "make kernel-export  write build/linux's commits back to kernel/"
	@echo "make kernel-check   checkpatch --strict every patch, build every prefix"
	@echo "make vm-shell       interactive shell in the VM (host A's namespace)"
	@echo "make vm-run CMD=... run CMD in the VM in host A's namespace"
	@echo "make clean          remove build/ (downloads and ccache stay in ~/.cache/odp-p2p)"

run:
	@$(S)/run.sh

test:
	@$(S)/test.sh $(SUITES)

bench-hmm:
	@$(S)/build.sh all && tests/vm/run-vm.sh -- tests/bench/hmm-alias-bench.sh

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

kernel-check:
	@$(S)/check-series.sh

vm-shell:
	@$(S)/build.sh all && tests/vm/run-vm.sh --shell

vm-run:
	@test -n "$(CMD)" || { echo "usage: make vm-run CMD='command'"; exit 2; }
	@$(S)/build.sh all && tests/vm/run-vm.sh -- bash -c "$$CMD"

clean:
	rm -rf build

distclean: clean
	rm -rf $(HOME)/.cache/odp-p2p
