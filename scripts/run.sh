#!/bin/bash
# run.sh: `make run`.  Build what is needed, boot the VM, run the demo
# benchmark (tests/bench/write-bw-demo.sh) and print its table last.
. "$(dirname "$0")/lib.sh"

run_and_report "demo benchmark in the VM" "$ODP_BUILD/bench/write_bw_table.txt" \
	"$ODP_ROOT/tests/bench/write-bw-demo.sh"
