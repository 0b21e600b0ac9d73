#!/bin/bash
# odp-rdma-bench.sh: the `make bench-rdma` measurement, inside the VM.
# RDMA WRITE and READ from rxe_a into an ODP MR on rxe_b over host memory,
# over test_hmm device-private memory through aliases, and through
# migration (tests/bench/odp_rdma_bench.c: steady, ping-pong, first-touch).
# Writes the report to $ODP_BUILD/bench/odp_rdma_report.txt (bench-rdma.sh
# prints it last) and JSON next to it.  Environment: ODP_RDMA_BENCH_SIZES
# (65536,1048576), ODP_RDMA_BENCH_ITERS (20), ODP_RDMA_BENCH_FIRST_MIB (64).
. "$(dirname "$0")/../../scripts/lib.sh"
in_guest
out="$ODP_BUILD/bench"
report="$out/odp_rdma_report.txt"
json="$out/odp_rdma_bench.json"

sizes="${ODP_RDMA_BENCH_SIZES:-65536,1048576}"
iters="${ODP_RDMA_BENCH_ITERS:-20}"
first="${ODP_RDMA_BENCH_FIRST_MIB:-64}"

virt=$(systemd-detect-virt --vm 2>/dev/null || true)
printf 'kernel %s, %s CPUs, virtualization: %s%s\n' "$(uname -r)" "$(nproc)" "${virt:-unknown}" \
	"$([ "$virt" = qemu ] && echo ' (TCG: timings are indicative only)')" >"$report"
log "odp_rdma_bench: sizes $sizes, $iters operations each, first touch ${first} MiB"
status=0
# A skip is a failure here: the VM has both rxe hosts, test_hmm and the series.
ODP_NO_SKIP=1 "$ODP_USERSPACE_BUILD/tests/bench/odp_rdma_bench" --sizes "$sizes" --iters "$iters" \
	--first-touch-mib "$first" --json "$json" >>"$report" 2>&1 || status=1
echo "JSON: ${json#"$ODP_ROOT"/}" >>"$report"
exit "$status"
