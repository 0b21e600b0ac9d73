#!/bin/bash
# guest-suites.sh [SUITE...]: run the test suites inside the VM (called by
# guest-run.sh in host A's namespace).  Suites: functional, hmm-tests,
# hmm-tests-upstream, kunit, rdma-selftests, pyverbs, pyverbs-bar, stress,
# stress-bar, fuzz (default: all).  Each
# suite runs as a stage (as the host's build stages do) and prints its
# counts and failures; its log and JUnit XML go to $ODP_TEST_RESULTS
# (default $ODP_BUILD/test-results).  A suite that fails without a failed
# test (a timeout: status 124) counts as one failed test.  The exit status
# is non-zero if any suite failed.
# ODP_PYVERBS_MUST_RUN: the pyverbs tests that must not skip (pyverbs()).
# ODP_STRESS_ARGS, ODP_STRESS_BAR_ARGS, ODP_FUZZ_ARGS: odp_stress's (on
# the RAM-backed and on the BAR device), odp_fuzz's options;
# ODP_STRESS_TIMEOUT: how long odp_stress may take in all (default 900 s).
# ODP_TIMEOUT_SCALE (guest-debug.sh): the suites' timeouts, times this.
. "$(dirname "$0")/../../scripts/lib.sh"
# Every suite runs, whatever the one before did.
set +e
in_guest
here="$ODP_ROOT/tests/vm"
out="${ODP_TEST_RESULTS:-$ODP_BUILD/test-results}"
scale="${ODP_TIMEOUT_SCALE:-1}"
case "$scale" in [1-9] | [1-9][0-9] | 100) ;; *) die "ODP_TIMEOUT_SCALE=$scale: 1 to 100" ;; esac
report=("$ODP_PYTHON" "$ODP_ROOT/tests/report.py")
mkdir -p "$out"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(functional hmm-tests hmm-tests-upstream kunit pyverbs pyverbs-bar rdma-selftests stress stress-bar fuzz)
status=0

# run_suite NAME FN: FN's status is the suite's; one failed case for a
# suite that failed with none (report.py status).
run_suite() {
	local name="$1" rc=0
	stage "suite $name" "$2" || rc=$?
	"${report[@]}" status "$name" "$rc" "$out/$name.xml" || status=1
}

functional() {
	# ODP_NO_SKIP: in the VM a missing device or capability is a failure.
	ODP_NO_SKIP=1 ctest_suite functional vm
}

hmm_tests() {
	# test_hmm is built in: no modprobe.  Device-coherent variants skip
	# themselves (no spm_addr_dev* parameters).
	# HMM_TEST_PCI_UNREACHABLE: see guest-setup.sh.
	(cd "$ODP_SELFTESTS" && HMM_TEST_PCI_UNREACHABLE="$ODP_PCI_UNREACHABLE" ./hmm-tests) \
		>"$out/hmm-tests.log" 2>&1
	"${report[@]}" tap hmm-tests "$out/hmm-tests.log" "$out/hmm-tests.xml"
}

hmm_tests_upstream() {
	# Linux 7.3's own hmm-tests.c (build-hmm-tests.sh) on this kernel: the
	# same test code as on pristine 7.3 (make test-baseline compares).
	# khugepaged sleeps meanwhile (lib.sh): 7.3's anon_write_child fails
	# now and then when it collapses the child's range while the device
	# faults it (patch 52 mends our copy, which runs with khugepaged awake;
	# this one cannot be patched).
	khugepaged_asleep env -C "$ODP_SELFTESTS" ./hmm-tests-upstream \
		>"$out/hmm-tests-upstream.log" 2>&1
	"${report[@]}" tap hmm-tests-upstream "$out/hmm-tests-upstream.log" "$out/hmm-tests-upstream.xml"
}

kunit() {
	# The series' KUnit suites are built in and ran at boot; debugfs keeps
	# each suite's KTAP results (and report.py fails an empty log).
	local f
	: >"$out/kunit.log"
	for f in /sys/kernel/debug/kunit/*/results; do
		[ -r "$f" ] && cat "$f" >>"$out/kunit.log"
	done
	"${report[@]}" tap kunit "$out/kunit.log" "$out/kunit.xml"
}

# rdma_selftest SCRIPT: one upstream rxe_*.sh in a fresh network namespace,
# so that its veth/rxe names cannot collide with hosts A and B; prints its
# exit status.  The scripts modprobe/modinfo rdma_rxe; ours is built in, so
# they run with stubs (tests/vm/bin), and rping comes from rdma-core.
rdma_selftest() {
	local t="$1" rc d
	ip netns add kselftest
	(cd "$(dirname "$t")" &&
		PATH="$here/bin:$ODP_RDMA_CORE_BUILD/bin:$PATH" \
		timeout $((120 * scale)) ip netns exec kselftest bash "$t") >>"$out/rdma-selftests.log" 2>&1
	rc=$?
	# modprobe -r cannot delete what a script left behind: we do.
	for d in $(rdma -j link show 2>/dev/null | "$ODP_PYTHON" -c \
		'import json,sys; print(" ".join(l["ifname"] for l in json.load(sys.stdin)))'); do
		case "$d" in "$ODP_DEV_A" | "$ODP_DEV_B") ;; *) rdma link del "$d" 2>/dev/null ;; esac
	done
	ip netns del kselftest 2>/dev/null
	return "$rc"
}

rdma_selftests() {
	local t n=0 rc
	: >"$out/rdma-selftests.log"
	: >"$out/rdma-selftests.tap"
	for t in "$ODP_SELFTESTS"/rdma/rxe_*.sh; do
		n=$((n + 1))
		echo "### $(basename "$t")" >>"$out/rdma-selftests.log"
		rdma_selftest "$t"
		rc=$?
		case "$rc" in
		0) echo "ok $n $(basename "$t")" ;;
		4) echo "ok $n $(basename "$t") # SKIP" ;;
		# The status as a diagnostic: the name stays the script's.
		*) printf '# exit %s\nnot ok %s %s\n' "$rc" "$n" "$(basename "$t")" ;;
		esac >>"$out/rdma-selftests.tap"
	done
	"${report[@]}" tap rdma-selftests "$out/rdma-selftests.tap" "$out/rdma-selftests.xml"
}

pyverbs() {
	# rdma-core's tests as its run_tests.py runs them, from the source
	# tree, recording each result; 900 s at most (or $ODP_PYVERBS_TIMEOUT),
	# times ODP_TIMEOUT_SCALE.
	# The ODP tests over device memory (providers/ 0005) must not skip:
	# test_hmm is built in.  Pristine rdma-core (make test-baseline) has
	# none: ODP_PYVERBS_MUST_RUN is empty there.
	local must=(--must-run "${ODP_PYVERBS_MUST_RUN-^tests\.test_odp\.OdpDeviceMemoryTestCase\.}")
	[ -n "${must[1]}" ] || must=()
	(cd "$ODP_RDMA_CORE_SRC" &&
		timeout $((${ODP_PYVERBS_TIMEOUT:-900} * scale)) "$ODP_PYTHON" "$here/pyverbs_run.py" \
			--src "$ODP_RDMA_CORE_SRC" --build "$ODP_RDMA_CORE_BUILD" \
			--dev "$ODP_DEV_A" --junit "$out/pyverbs.xml" "${must[@]}") >"$out/pyverbs.log" 2>&1
	local rc=$?
	"${report[@]}" show pyverbs "$out/pyverbs.xml"
	return "$rc"
}

pyverbs_bar() {
	# The ODP tests over device memory (providers/ 0005) once more, on
	# test_hmm's BAR device (run_tests.py --hmm-dmirror): P2PDMA aliases,
	# reached by rxe through MMIO.  None may skip.
	local sel='^tests\.test_odp\.OdpDeviceMemoryTestCase\.'
	(cd "$ODP_RDMA_CORE_SRC" &&
		timeout $((300 * scale)) "$ODP_PYTHON" "$here/pyverbs_run.py" \
			--src "$ODP_RDMA_CORE_SRC" --build "$ODP_RDMA_CORE_BUILD" \
			--dev "$ODP_DEV_A" --hmm-dmirror "$ODP_DMIRROR_BAR" --select "$sel" \
			--must-run "$sel" --suite pyverbs-bar --junit "$out/pyverbs-bar.xml") \
		>"$out/pyverbs-bar.log" 2>&1
	local rc=$?
	"${report[@]}" show pyverbs-bar "$out/pyverbs-bar.xml"
	return "$rc"
}

# tap_program NAME LIMIT SUMMARY CMD...: run one of our TAP programs under
# LIMIT seconds (times ODP_TIMEOUT_SCALE), its output in NAME.log and its
# results in NAME.xml, and print its lines that match the regex SUMMARY.
# A skip (no rxe, no test_hmm) is a failure here: ODP_NO_SKIP.
tap_program() {
	local name=$1 limit=$2 summary=$3
	shift 3
	ODP_NO_SKIP=1 timeout -k 30 $((limit * scale)) "$@" >"$out/$name.log" 2>&1
	local rc=$?
	"${report[@]}" tap "$name" "$out/$name.log" "$out/$name.xml" || { [ "$rc" -ne 0 ] || rc=1; }
	grep -E "$summary" "$out/$name.log"
	return "$rc"
}

stress() {
	# odp_stress (tests/stress) on test_hmm's device memory: its TAP has
	# one result per check and the totals as comments.  make test's short
	# form by default; make stress passes its own options, and sets
	# ODP_STRESS_TIMEOUT from its DURATION, so that a worker stuck in the
	# kernel does not hold the VM.
	local args
	read -r -a args <<<"${ODP_STRESS_ARGS:---duration 120 --workers 4}"
	tap_program stress "${ODP_STRESS_TIMEOUT:-900}" '^# (totals|/dev)' \
		"$ODP_USERSPACE_BUILD/tests/stress/odp_stress" "${args[@]}"
}

stress_bar() {
	# The same on test_hmm's BAR device, whose aliases rxe reaches through
	# MMIO (and turns down for atomics, so those pages migrate): 60 s in
	# make test.
	local args
	read -r -a args <<<"${ODP_STRESS_BAR_ARGS:---duration 60 --workers 4}"
	ODP_DMIRROR="$ODP_DMIRROR_BAR" tap_program stress-bar "${ODP_STRESS_TIMEOUT:-900}" \
		'^# (totals|/dev)' "$ODP_USERSPACE_BUILD/tests/stress/odp_stress" "${args[@]}"
}

fuzz() {
	# odp_fuzz (tests/fuzz): test_hmm's ioctls, ODP registration and
	# advice, the alias switch, odp-devmem's and perftest's options;
	# bounded (iterations and seconds per target) and seeded (ODP_SEED
	# repeats a run).  One result per target, and one for the state after.
	local args
	read -r -a args <<<"${ODP_FUZZ_ARGS:---iterations 20000 --seconds 60}"
	tap_program fuzz 900 '^# (ioctl:|verbs:|switch:|cli:|seed|FAIL)' \
		"$ODP_USERSPACE_BUILD/tests/fuzz/odp_fuzz" "${args[@]}" \
		--odp-devmem "$ODP_USERSPACE_BUILD/userspace/tools/odp-devmem" \
		--perftest "$ODP_PERFTEST_BUILD" ioctl verbs switch cli
}

for s in "${suites[@]}"; do
	case "$s" in
	functional) run_suite functional functional ;;
	hmm-tests) run_suite hmm-tests hmm_tests ;;
	hmm-tests-upstream) run_suite hmm-tests-upstream hmm_tests_upstream ;;
	kunit) run_suite kunit kunit ;;
	rdma-selftests) run_suite rdma-selftests rdma_selftests ;;
	pyverbs) run_suite pyverbs pyverbs ;;
	pyverbs-bar) run_suite pyverbs-bar pyverbs_bar ;;
	stress) run_suite stress stress ;;
	stress-bar) run_suite stress-bar stress_bar ;;
	fuzz) run_suite fuzz fuzz ;;
	*) echo "unknown suite $s" >&2; status=1 ;;
	esac
done
exit "$status"
