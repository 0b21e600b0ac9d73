#!/bin/bash
# guest-run.sh CMD...: the VM's entry point.  Sets up the topology, runs CMD
# in host A's network namespace, then fails if the kernel log gained a
# report while it ran (BUG/WARNING/KASAN/lockdep/ODEBUG/RCU stall/hung task
# and the like: the extended regular expression in kernel-reports.ere,
# which guest-debug.sh uses too).  Exit status: CMD's, or 1 for a setup
# failure or a splat.  The kernel log goes to $ODP_RESULTS/dmesg.txt, the
# status to $ODP_RESULTS/status.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
results="${ODP_RESULTS:-}"

"$here/guest-setup.sh" || exit 1
. /run/odp-p2p/env

dmesg_before=$(dmesg | wc -l)
rc=0
# `ip netns exec` remounts /sys, hiding debugfs (gup_test needs it).
ip netns exec "$ODP_NS_A" bash -c \
	'mount -t debugfs none /sys/kernel/debug 2>/dev/null; exec "$@"' guest-run "$@" || rc=$?

splat=$(dmesg | tail -n +"$((dmesg_before + 1))" |
	grep -E -f "$here/kernel-reports.ere" || true)
if [ -n "$results" ]; then
	mkdir -p "$results"
	dmesg >"$results/dmesg.txt"
fi
if [ -n "$splat" ]; then
	echo "guest-run: the kernel log shows a splat while the command ran:" >&2
	dmesg | tail -n +"$((dmesg_before + 1))" | tail -n 80 >&2
	[ "$rc" -ne 0 ] || rc=1
fi
# run-vm.sh: the guest got this far (else the VM failed: it shows the console).
[ -z "$results" ] || echo "$rc" >"$results/status"
exit "$rc"
