#!/bin/bash
# bench-hmm.sh: `make bench-hmm`.  Build what is needed, boot the VM, time
# faulting device-private memory through aliases vs migration
# (tests/bench/hmm-alias-bench.sh) and print its report last.
. "$(dirname "$0")/lib.sh"

run_and_report "hmm alias benchmark in the VM" "$ODP_BUILD/bench/hmm_alias_report.txt" \
	"$ODP_ROOT/tests/bench/hmm-alias-bench.sh"
