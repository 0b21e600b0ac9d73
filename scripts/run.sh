#!/bin/bash
# run.sh: `make run`.  Build what is needed, boot the VM, run the perftest
# benchmark (tests/bench/perftest-bench.sh: host memory, ODP, device memory
# with aliases and with migration) and print its table last.  QUICK=1 and
# the ODP_BENCH_* variables of perftest-bench.sh pass through to the VM.
. "$(dirname "$0")/lib.sh"

vars=(QUICK="${QUICK:-0}")
for v in ODP_BENCH_CASES ODP_BENCH_SIZES ODP_BENCH_BYTES ODP_BENCH_LAT_ITERS; do
	[ -z "${!v:-}" ] || vars+=("$v=${!v}")
done
run_and_report "perftest benchmark in the VM" "$ODP_BUILD/bench/perftest_table.txt" \
	env "${vars[@]}" "$ODP_ROOT/tests/bench/perftest-bench.sh"
