#!/bin/bash
# guest-debug.sh [SUITE...]: the debug kernel's run (`make test-debug`),
# called by guest-run.sh.  kmemleak forgets what was allocated before, the
# suites run (guest-suites.sh SUITE...), kmemleak scans twice, and then every
# report in the whole kernel log, boot and KUnit included, fails the run:
# KASAN, lockdep, DEBUG_VM, DEBUG_LIST, DEBUG_OBJECTS (ODEBUG), WARN, BUG,
# Oops, RCU stalls, hung tasks, and every leak kmemleak reports.  Writes
# dmesg-debug.txt, debug-reports.txt, kmemleak.txt and debug-summary.txt to
# $ODP_BUILD/test-results.
. "$(dirname "$0")/../../scripts/lib.sh"
set +e
in_guest
out="$ODP_BUILD/test-results"
kml=/sys/kernel/debug/kmemleak
mkdir -p "$out"
if [ ! -w "$kml" ]; then
	echo "guest-debug: no $kml: not the debug kernel (CONFIG_DEBUG_KMEMLEAK)?" >&2
	exit 1
fi
echo clear >"$kml"

# The debug kernel runs the tests several times slower (hmm-tests: 470 s
# against 63 s): every timeout of theirs is this many times longer
# (tests/lib/harness_timeout.h, tests/timeout-scale.cmake, guest-suites.sh).
export ODP_TIMEOUT_SCALE="${ODP_TIMEOUT_SCALE:-10}"

"$ODP_ROOT/tests/vm/guest-suites.sh" "$@"
status=$?

# Objects that RCU or a workqueue frees late are no leaks: give them time,
# and scan twice, as kmemleak.rst advises.
sleep 5
echo scan >"$kml"
sleep 5
echo scan >"$kml"
cat "$kml" >"$out/kmemleak.txt"
leaks=$(grep -c '^unreferenced object' "$out/kmemleak.txt")

dmesg >"$out/dmesg-debug.txt"
grep -nE -f "$ODP_ROOT/tests/vm/kernel-reports.ere" \
	"$out/dmesg-debug.txt" >"$out/debug-reports.txt"
reports=$(wc -l <"$out/debug-reports.txt")

echo "debug kernel: $reports report line(s) in the kernel log, $leaks leak(s) reported by kmemleak" |
	tee "$out/debug-summary.txt"
if [ "$reports" -gt 0 ]; then
	echo "first reports (debug-reports.txt):"
	head -n 40 "$out/debug-reports.txt"
	status=1
fi
if [ "$leaks" -gt 0 ]; then
	echo "first leaks (kmemleak.txt):"
	head -n 60 "$out/kmemleak.txt"
	status=1
fi
exit "$status"
