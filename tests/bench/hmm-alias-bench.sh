#!/bin/bash
# hmm-alias-bench.sh: the `make bench-hmm` measurement, inside the VM.  An
# importer (test_hmm's dmirror1) faults a buffer that lives in another
# device's (dmirror0's) device-private memory, through DMA-able aliases and
# through migration to RAM (hmm_alias_fault_bench); then upstream 7.3's
# hmm-tests and the series' hmm-tests run and give their counts.  Writes
# the report to $ODP_BUILD/bench/hmm_alias_report.txt (bench-hmm.sh prints
# it last), JSON and logs next to it.  Environment: ODP_HMM_BENCH_MIB (64),
# ODP_HMM_BENCH_REPEAT (5).
. "$(dirname "$0")/../../scripts/lib.sh"
in_guest
out="$ODP_BUILD/bench"
report="$out/hmm_alias_report.txt"

mib="${ODP_HMM_BENCH_MIB:-64}"
repeat="${ODP_HMM_BENCH_REPEAT:-5}"
json="$out/hmm_alias_fault_${mib}mib.json"
status=0

# systemd-detect-virt --vm: "qemu" under TCG (emulated CPU), "kvm" under KVM.
virt=$(systemd-detect-virt --vm 2>/dev/null || true)
printf 'kernel %s, %s CPUs, virtualization: %s%s\n' "$(uname -r)" "$(nproc)" "${virt:-unknown}" \
	"$([ "$virt" = qemu ] && echo ' (TCG: timings are indicative only)')" >"$report"
log "hmm_alias_fault_bench: ${mib} MiB, $repeat repetitions per mode"
# A skip is a failure here: the VM has test_hmm and the series.
ODP_NO_SKIP=1 "$ODP_USERSPACE_BUILD/tests/bench/hmm_alias_fault_bench" --size "$mib" --repeat "$repeat" --json "$json" >>"$report" || status=1
echo "JSON: ${json#"$ODP_ROOT"/}" >>"$report"

# hmm-tests on this kernel: upstream 7.3's tests and the series' tests.
printf '\nhmm-tests on this kernel (skips: the device-coherent variants)\n' >>"$report"
for t in hmm-tests-upstream hmm-tests; do
	log "$t"
	# A failed test shows in the counts below.  7.3's own copy runs with
	# khugepaged asleep, as in make test (lib.sh).
	sleeper=()
	[ "$t" = hmm-tests ] || sleeper=(khugepaged_asleep)
	"${sleeper[@]}" env -C "$ODP_SELFTESTS" HMM_TEST_PCI_UNREACHABLE="$ODP_PCI_UNREACHABLE" "./$t" \
		>"$out/$t.log" 2>&1 || true
	"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" tap "$t" "$out/$t.log" "$out/$t.xml" >>"$report" ||
		status=1
done
exit "$status"
