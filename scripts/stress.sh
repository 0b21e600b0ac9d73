#!/bin/bash
# stress.sh: `make stress [DURATION=S] [WORKERS=N] [KERNEL=debug|base]`.
# Runs tests/stress/odp_stress in the VM for DURATION seconds (default
# 1800) with WORKERS worker processes (default 4, half on each host): RDMA
# WRITE/READ/SEND/atomics through ODP MRs over test_hmm's device memory
# while threads migrate, MADV_DONTNEED, replace and fork, MRs are
# re-registered with the alias switch flipped, and workers are killed
# mid-transfer; every byte is checked.  On the debug kernel (default: KASAN,
# lockdep, DEBUG_VM, kmemleak; test-debug.sh) any report in the kernel log
# or leak fails the run; on the base kernel, any report (guest-run.sh).
# make test runs the short form (120 s, base kernel) as its suite "stress".
# Results: build/test-results-debug/ (debug) or build/test-results/ (base):
# stress.log holds the TAP and the totals.
. "$(dirname "$0")/lib.sh"

duration="${DURATION:-1800}"
workers="${WORKERS:-4}"
kernel="${KERNEL:-debug}"
case "$duration" in '' | *[!0-9]*) die "DURATION=$duration: not a number of seconds" ;; esac
case "$workers" in '' | *[!0-9]*) die "WORKERS=$workers: not a number" ;; esac
[ "$duration" -ge 1 ] || die "DURATION=$duration: at least 1 second"
[ "$workers" -ge 1 ] && [ "$workers" -le 32 ] || die "WORKERS=$workers: 1 to 32"

export ODP_STRESS_ARGS="--duration $duration --workers $workers"
# The run, the workers' final checks and their stop wait
export ODP_STRESS_TIMEOUT=$((duration + 600))
echo "stress: $duration s, $workers workers, $kernel kernel"
case "$kernel" in
debug)
	# Boot, KUnit and kmemleak's scans under KASAN and TCG, and the
	# workers' final checks (their stop wait is scaled too): 30 minutes.
	export ODP_DEBUG_VM_TIMEOUT=$((duration + 1800))
	exec "$ODP_ROOT/scripts/test-debug.sh" stress
	;;
base)
	start=$(date +%s)
	"$ODP_ROOT/scripts/build.sh" all
	load_env "$ODP_BUILD/paths.env"
	results="$ODP_BUILD/test-results"
	rm -rf "$results"
	mkdir -p "$results"
	rc=0
	stage "stress in the VM (base kernel)" "$ODP_ROOT/tests/vm/run-vm.sh" \
		--timeout $((duration + 600)) -- "$ODP_ROOT/tests/vm/guest-suites.sh" stress || rc=$?
	print_test_results "$start" "$results" "$rc"
	;;
*) die "KERNEL=$kernel: debug or base" ;;
esac
