#!/bin/bash
# bench-rdma.sh: `make bench-rdma`.  Build what is needed, boot the VM, time
# RDMA WRITE/READ into ODP MRs over host memory, device memory through
# aliases and device memory through migration
# (tests/bench/odp-rdma-bench.sh) and print its report last.
. "$(dirname "$0")/lib.sh"

run_and_report "RDMA benchmark in the VM" "$ODP_BUILD/bench/odp_rdma_report.txt" \
	"$ODP_ROOT/tests/bench/odp-rdma-bench.sh"
