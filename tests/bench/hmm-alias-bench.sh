#!/bin/bash
# hmm-alias-bench.sh: the `make bench-hmm` measurement, inside the VM.  An
# importer (test_hmm's dmirror1) faults a buffer that lives in another
# device's (dmirror0's) device-private memory, through DMA-able aliases and
# through migration to RAM (hmm_alias_fault_bench); prints the table and
# writes JSON to $ODP_BUILD/bench.  Then runs upstream 7.3's hmm-tests and
# the series' hmm-tests and prints their pass/fail/skip counts.  Environment: ODP_HMM_BENCH_MIB (64),
# ODP_HMM_BENCH_REPEAT (5).
set -euo pipefail
. /run/odp-p2p/env
out="$ODP_BUILD/bench"
bench="$ODP_USERSPACE_BUILD/tests/bench/hmm_alias_fault_bench"
[ -x "$bench" ] || { echo "missing $bench: run 'make build'" >&2; exit 1; }
mkdir -p "$out"

mib="${ODP_HMM_BENCH_MIB:-64}"
repeat="${ODP_HMM_BENCH_REPEAT:-5}"
json="$out/hmm_alias_fault_${mib}mib.json"

# systemd-detect-virt --vm: "qemu" under TCG (emulated CPU), "kvm" under KVM.
virt=$(systemd-detect-virt --vm 2>/dev/null || true)
printf '\nkernel %s, %s CPUs, virtualization: %s%s\n' "$(uname -r)" "$(nproc)" "${virt:-unknown}" \
	"$([ "$virt" = qemu ] && echo ' (TCG: timings are indicative only)')"
# A skip is a failure here: the VM has test_hmm and the series.
ODP_NO_SKIP=1 "$bench" --size "$mib" --repeat "$repeat" --json "$json"
echo "JSON: $json"

# hmm-tests on this kernel: upstream 7.3's tests and the series' tests.
printf '\nhmm-tests on this kernel (skips: the device-coherent variants)\n'
for t in hmm-tests-upstream hmm-tests; do
	(cd "$ODP_SELFTESTS" && "./$t") >"$out/$t.log" 2>&1 || true
	"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" tap "$t" "$out/$t.log" "$out/$t.xml" ||
		status=1
done
exit "${status:-0}"
