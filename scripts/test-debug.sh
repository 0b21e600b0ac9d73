#!/bin/bash
# test-debug.sh [SUITE...]: `make test-debug`.  Build the debug kernel
# (kernel/config/debug.config on top of base.config: KASAN, lockdep,
# DEBUG_VM, DEBUG_LIST, DEBUG_OBJECTS, kmemleak), boot it and run VM suites
# on it (default: functional, hmm-tests and stress's short form; any of
# guest-suites.sh's) with every test timeout 10 times longer, through
# tests/vm/guest-debug.sh, which fails on any report in the kernel log, boot
# included, and on any leak kmemleak finds after the suites.  Not part of
# `make test`: under TCG the debug kernel is several times slower, and the
# CI's budget has no room for a second kernel and a second run.
# Results: build/test-results-debug/ (JUnit, logs, dmesg, kmemleak); the
# last lines printed are the per-suite counts and the debug kernel's reports.
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
"$ODP_ROOT/scripts/build.sh" all
quiet() { "$@" >/dev/null; }
stage "debug kernel (kernel/series + debug.config)" quiet \
	"$ODP_ROOT/scripts/build-kernel.sh" --debug || exit 1
load_env "$ODP_BUILD/paths.env"
[ $# -gt 0 ] || set -- functional hmm-tests stress

# The suites write build/test-results; this run's go to test-results-debug.
results="$ODP_BUILD/test-results"
rm -rf "$results" "$results-debug"
mkdir -p "$results"
rc=0
stage "tests in the VM (debug kernel)" "$ODP_ROOT/tests/vm/run-vm.sh" \
	--kernel "$ODP_KERNEL_DEBUG_IMAGE" --timeout "${ODP_DEBUG_VM_TIMEOUT:-7200}" -- \
	"$ODP_ROOT/tests/vm/guest-debug.sh" "$@" || rc=$?
mv "$results" "$results-debug"
results="$results-debug"

print_test_results "$start" "$results" "$rc" || rc=$?
if [ -r "$results/debug-summary.txt" ]; then
	cat "$results/debug-summary.txt"
else
	echo "debug kernel: no report summary (the guest did not get that far)"
	rc=1
fi
exit "$rc"
