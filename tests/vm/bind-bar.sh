#!/bin/bash
# bind-bar.sh [--tap]: hand every ivshmem function (Red Hat 1af4:1110) that
# run-vm.sh adds to test_hmm's PCI driver, test_hmm_bar, which matches
# nothing by itself: in PCI address order, so that host A's function gets
# /dev/hmm_dmirror4 and B's /dev/hmm_dmirror5.  A rescan first brings
# back a function that was removed (bar_exporter_test removes one, as a
# hot-unplug does).  Functions already bound stay as they are.
# guest-setup.sh runs it at boot; ctest runs it with --tap after
# bar_exporter_test (a FIXTURES_CLEANUP test), so that a removal the test
# could not undo (killed at its timeout) costs one failure, not every
# later test on the BAR devices.  With --tap it also checks that the BAR
# devices are there ($ODP_DMIRROR_BAR, $ODP_DMIRROR_BAR_PEER; default
# /dev/hmm_dmirror4 and 5).  Exit status 1 if a function did not bind.
set -u
tap=0
[ "${1:-}" = --tap ] && tap=1
{ echo 1 >/sys/bus/pci/rescan; } 2>/dev/null
rc=0 why="" n=0
for f in /sys/bus/pci/devices/*; do
	[ "$(cat "$f/vendor"):$(cat "$f/device")" = 0x1af4:0x1110 ] || continue
	n=$((n + 1))
	echo test_hmm_bar >"$f/driver_override"
	[ -e "$f/driver" ] || echo "${f##*/}" >/sys/bus/pci/drivers_probe
	if [ "$(basename "$(readlink "$f/driver")")" != test_hmm_bar ]; then
		rc=1
		why+="test_hmm_bar did not bind ${f##*/} (dmesg: $(dmesg | grep -i "${f##*/}" | tail -n 2)); "
	fi
done
if [ "$tap" -eq 1 ]; then
	for d in "${ODP_DMIRROR_BAR:-/dev/hmm_dmirror4}" "${ODP_DMIRROR_BAR_PEER:-/dev/hmm_dmirror5}"; do
		[ -c "$d" ] || { rc=1 why+="no $d; "; }
	done
	echo "TAP version 13"
	echo "# $n ivshmem functions"
	echo "1..1"
	if [ "$rc" -eq 0 ]; then
		echo "ok 1 the ivshmem functions are bound to test_hmm_bar, the BAR devices there"
	else
		echo "# $why"
		echo "not ok 1 the ivshmem functions are bound to test_hmm_bar, the BAR devices there"
	fi
elif [ "$rc" -ne 0 ]; then
	echo "bind-bar: $why" >&2
fi
exit "$rc"
