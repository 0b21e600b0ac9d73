#!/bin/bash
# test.sh [SUITE...]: build what is needed, boot the VM once and run the test
# suites in it (functional, hmm-tests, rdma-selftests, pyverbs; default all).
# Results: build/test-results/*.xml (JUnit) and *.log; the last line printed
# is "N passed, N failed, N skipped" over all suites.
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
"$ODP_ROOT/scripts/build.sh" all
results="$ODP_BUILD/test-results"
rm -rf "$results"
mkdir -p "$results"

rc=0
stage "lint (cppcheck, clang-format)" "$ODP_ROOT/scripts/lint.sh" || rc=1
stage "tests in the VM" "$ODP_ROOT/tests/vm/run-vm.sh" -- \
	"$ODP_ROOT/tests/vm/guest-suites.sh" "$@" || rc=$?

echo
echo "Stage times:"
sed 's/^/  /' "$ODP_BUILD/stages.log"
echo "  total $(($(date +%s) - start))s"
echo
echo "Results (build/test-results):"
if [ "$rc" -eq 124 ]; then
	echo "  the VM watchdog fired: the suites did not finish"
fi
"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" summary "$results" >"$results/summary.txt" || rc=1
cat "$results/summary.txt"
exit "$rc"
