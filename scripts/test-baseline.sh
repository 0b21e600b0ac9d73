#!/bin/bash
# test-baseline.sh: `make test-baseline`.  Run the upstream suites that
# `make test` runs on the series (hmm-tests, the rdma selftests, rdma-core's
# whole pyverbs suite on rxe) on pristine upstream: Linux 7.3 without the
# series (same configuration, less the options only the series adds), its
# own hmm-tests and rdma scripts, and rdma-core 65.0 without providers/.
# The VM is the same, less the two BAR functions (pristine test_hmm has no
# PCI driver for them); its console and kernel log go to build/baseline/vm.
#
# The results are recorded in tests/baseline/linux-V_rdma-core-V.tsv (one
# line per test, with the upstream tarballs it ran on; commit it), which
# `make test` compares its own results with: a test that passes here and
# fails, skips or is missing with the series fails `make test`.  A run that
# did not complete (the VM died, a suite timed out) records nothing.  The
# recording is per upstream tarball: after a change of pin in
# upstream.lock, `make test` fails until it is recorded again.  If a
# `make test` left results in build/test-results, they are compared here
# too (for information: the exit status is the recording's).  The last
# lines printed are the stage times, the baseline's counts and that
# comparison.
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
# Host packages, sources, paths.env and the userspace the guest uses (not
# the series' kernel).
"$ODP_ROOT/scripts/build.sh" userspace
S="$ODP_ROOT/scripts"
base="$ODP_BUILD/baseline"
results="$base/results"
suites=(hmm-tests rdma-selftests pyverbs)
mkdir -p "$base"
upstream=$(baseline_upstream)
file=$(baseline_file)

# pristine BUILDER OUT: BUILDER --pristine, the path it prints into OUT.
pristine() { "$S/$1" --pristine >"$base/$2"; }
stage "pristine kernel (Linux 7.3)" pristine build-kernel.sh kernel.path
stage "pristine rdma-core 65.0" pristine build-rdma-core.sh rdma-core.path
stage "pristine selftests (hmm-tests, rdma)" pristine build-hmm-tests.sh selftests.path

rdma_core=$(cat "$base/rdma-core.path")
selftests=$(cat "$base/selftests.path")
case "$rdma_core$selftests" in *"'"*) die "a path with a quote: $rdma_core, $selftests" ;; esac
cat >"$base/paths.env" <<EOF
# Written by test-baseline.sh: the pristine builds, in place of paths.env's.
ODP_SELFTESTS='$selftests'
ODP_RDMA_CORE_SRC='$rdma_core/src'
ODP_RDMA_CORE_BUILD='$rdma_core/src/build'
EOF

rm -rf "$results"
mkdir -p "$results"
vm_start=$(date +%s)
rc=0
stage "upstream suites on pristine upstream" env ODP_VM_BAR_MB=0 ODP_VM_OUT="$base/vm" \
	ODP_GUEST_ENV="$base/paths.env" ODP_TEST_RESULTS="$results" ODP_PYVERBS_MUST_RUN= \
	"$ODP_ROOT/tests/vm/run-vm.sh" --kernel "$(cat "$base/kernel.path")" -- \
	"$ODP_ROOT/tests/vm/guest-suites.sh" "${suites[@]}" || rc=$?
vm_seconds=$(($(date +%s) - vm_start))

echo
print_stages "$start"
echo
[ "$rc" -ne 124 ] || die "the VM watchdog fired: the baseline run did not complete, nothing recorded"
# Upstream failures are recorded as such: only the baseline's passes bind.
[ "$rc" -eq 0 ] || warn "the upstream suites did not all pass on pristine upstream (status $rc; the failures are recorded as failed)"
mkdir -p "$(dirname "$file")"
echo "Baseline (${results#"$ODP_ROOT/"}):"
args=()
for s in "${suites[@]}"; do args+=(--suite "$s"); done
if ! "$ODP_PYTHON" "$ODP_ROOT/tests/baseline.py" record "$results" "$file" \
	--upstream "$upstream" --seconds "$vm_seconds" "${args[@]}" | sed 's/^/  /'; then
	die "nothing recorded"
fi
[ -z "$(git -C "$ODP_ROOT" status --porcelain -- "$file" 2>/dev/null)" ] ||
	echo "  ${file#"$ODP_ROOT/"} is new or changed: review it and commit it"

series="$ODP_BUILD/test-results"
args=()
for s in "${BASELINE_SUITES[@]}"; do
	[ ! -e "$series/${s%%=*}.xml" ] || args+=(--suite "$s")
done
if [ ${#args[@]} -gt 0 ]; then
	echo
	echo "The last make test's results (${series#"$ODP_ROOT/"}) against it:"
	"$ODP_PYTHON" "$ODP_ROOT/tests/baseline.py" compare "$file" "$series" \
		"$base/compare.xml" --upstream "$upstream" "${args[@]}" ||
		echo "  (for information: make test itself fails on this)"
fi
