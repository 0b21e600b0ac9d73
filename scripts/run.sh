#!/bin/bash
# run.sh: `make run`.  Build what is needed, boot the VM and run the demo
# benchmark (tests/bench/write-bw-demo.sh), which prints its table.
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
"$ODP_ROOT/scripts/build.sh" all
rc=0
stage "demo benchmark in the VM" "$ODP_ROOT/tests/vm/run-vm.sh" -- \
	"$ODP_ROOT/tests/bench/write-bw-demo.sh" || rc=$?
echo "total $(($(date +%s) - start))s; JSON per message size in build/bench/"
exit "$rc"
