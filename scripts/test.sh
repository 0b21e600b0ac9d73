#!/bin/bash
# test.sh [SUITE...]: `make test`.  Build what is needed, lint, run the host
# tests (test-host.sh), boot the VM once and run the test suites in it
# (functional, hmm-tests, kunit, rdma-selftests, pyverbs).  Default: all;
# given SUITEs, only those ("lint" and "host" are the host-side ones).
# Results: build/test-results/*.xml (JUnit) and *.log; the last lines
# printed are the per-suite counts and "N passed, N failed, N skipped" over
# all suites.
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
"$ODP_ROOT/scripts/build.sh" all
results="$ODP_BUILD/test-results"
rm -rf "$results"
mkdir -p "$results"

# wanted SUITE: whether SUITE runs (all do when none is named).
wanted() { [ $# -eq 1 ] || [[ " ${*:2} " == *" $1 "* ]]; }
vm_suites=()
for s in "$@"; do
	case "$s" in lint | host) ;; *) vm_suites+=("$s") ;; esac
done

rc=0
if wanted lint "$@"; then
	stage "lint (cppcheck, clang-format)" "$ODP_ROOT/scripts/lint.sh" || rc=1
fi
if wanted host "$@"; then
	stage "host tests (libhmmem under valgrind)" "$ODP_ROOT/scripts/test-host.sh" || rc=1
fi
if [ $# -eq 0 ] || [ ${#vm_suites[@]} -gt 0 ]; then
	stage "tests in the VM" "$ODP_ROOT/tests/vm/run-vm.sh" -- \
		"$ODP_ROOT/tests/vm/guest-suites.sh" "${vm_suites[@]}" || rc=$?
fi

print_test_results "$start" "$results" "$rc"
