#!/bin/bash
# test.sh [SUITE...]: `make test`.  Build what is needed, lint, run the host
# tests (test-host.sh), boot the VM once and run the test suites in it
# (functional, hmm-tests, hmm-tests-upstream, kunit, rdma-selftests,
# pyverbs and pyverbs-bar, stress's and stress-bar's short forms, fuzz),
# then compare the upstream suites among
# them with their baseline on pristine upstream (tests/baseline/, recorded
# by test-baseline.sh).  Default: all;
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

# The upstream suites that ran (BASELINE_SUITES in lib.sh) against their
# baseline on pristine upstream (make test-baseline): a pass there that is
# not a pass here fails.
baseline_compare() {
	local file upstream args=() s
	for s in "${BASELINE_SUITES[@]}"; do
		wanted "${s%%=*}" "${vm_suites[@]}" && args+=(--suite "$s")
	done
	[ ${#args[@]} -gt 0 ] || return 0
	file=$(baseline_file)
	upstream=$(baseline_upstream)
	[ -r "$file" ] || die "no baseline for ${file#"$ODP_ROOT/tests/baseline/"}: run 'make test-baseline' and commit it"
	"$ODP_PYTHON" "$ODP_ROOT/tests/baseline.py" compare "$file" "$results" \
		"$results/baseline.xml" --upstream "$upstream" "${args[@]}"
}
if [ $# -eq 0 ] || [ ${#vm_suites[@]} -gt 0 ]; then
	stage "baseline comparison (pristine upstream)" baseline_compare || { [ "$rc" -ne 0 ] || rc=1; }
fi

print_test_results "$start" "$results" "$rc"
