#!/bin/bash
# run-vm.sh [--kernel BZIMAGE] [--timeout SECONDS] [--shell] [--] CMD...
#
# Boot the odp-p2p kernel (paths.env's ODP_KERNEL_IMAGE, or $ODP_KERNEL)
# with virtme-ng (host root filesystem read-only, $ODP_BUILD writable),
# build the two-host RDMA topology, run CMD in host A's namespace and return
# its exit status.  --shell gives an interactive shell instead.  CMD's
# output (stdout and stderr) reaches the terminal; the guest console goes to
# $ODP_BUILD/vm/console.log only, and its tail is printed when the VM fails:
# a watchdog kill (status 124), a dead guest (panic), or a guest that never
# reported the command's status.  ODP_VM_OUT: another directory than
# $ODP_BUILD/vm for the console log and the guest's dmesg.txt and status.
. "$(dirname "$0")/../../scripts/lib.sh"
load_env "$ODP_BUILD/paths.env"

kernel="${ODP_KERNEL:-${ODP_KERNEL_IMAGE:-}}"
timeout="${ODP_VM_TIMEOUT:-1800}"
shell=0
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel="$2"; shift ;;
	--timeout) timeout="$2"; shift ;;
	--shell) shell=1 ;;
	--) shift; break ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ -r "$kernel" ] || die "no kernel at '$kernel': run 'make kernel' first"
[ "$shell" -eq 1 ] || [ $# -gt 0 ] || die "usage: run-vm.sh [options] CMD... | --shell"
command -v vng >/dev/null || die "vng missing: run scripts/install-deps.sh"

# KVM: use it only when a guest really boots with it (on some hosts
# /dev/kvm exists but guests hang in the firmware).  The probe result is
# cached per host boot.
use_kvm() {
	[ "${ODP_KVM:-auto}" = 0 ] && return 1
	[ -w /dev/kvm ] || return 1
	[ "${ODP_KVM:-auto}" = 1 ] && return 0
	local stamp="$ODP_CACHE/kvm-probe.$(cat /proc/sys/kernel/random/boot_id)"
	if [ ! -e "$stamp" ]; then
		mkdir -p "$ODP_CACHE"
		if timeout 60 vng --run "$kernel" --cpus 1 --memory 512M --exec true \
			>/dev/null 2>&1 </dev/null; then
			echo yes >"$stamp"
		else
			echo no >"$stamp"
		fi
	fi
	[ "$(cat "$stamp")" = yes ]
}

# One VM at a time: two TCG guests on a 2-core machine only slow each other
# down and share build/vm.
mkdir -p "$ODP_CACHE"
exec 8>"$ODP_CACHE/vm.lock"
if ! flock -n 8; then
	log "another VM is running; waiting for it"
	flock 8
fi

vng_args=(--run "$kernel" --cpus "${ODP_VM_CPUS:-2}" --memory "${ODP_VM_MEMORY:-3G}"
	--rwdir "$ODP_BUILD=$ODP_BUILD" --cwd "$ODP_ROOT" --force-9p --verbose)
# Two ivshmem-plain PCI functions whose BAR is RAM of the host: test_hmm's
# PCI driver (bound in guest-setup.sh) makes each BAR device memory,
# /dev/hmm_dmirror4 (host A) and /dev/hmm_dmirror5 (host B).  They sit behind
# one emulated PCIe switch (root port, upstream port, a downstream port each),
# so that the P2PDMA core lets each reach the other's BAR by bus address,
# while the devices on the root complex cannot reach them.  2 MiB multiples;
# ODP_VM_BAR_MB=0 leaves them out.
bar_mb="${ODP_VM_BAR_MB:-256}"
case "$bar_mb" in
''|*[!0-9]*) die "ODP_VM_BAR_MB=$bar_mb: not a number of MiB" ;;
esac
[ $((bar_mb % 2)) -eq 0 ] || die "ODP_VM_BAR_MB=$bar_mb: not a multiple of 2 MiB"
if [ "$bar_mb" -gt 0 ]; then
	vng_args+=("--qemu-opts=-device pcie-root-port,id=odprp,chassis=1,slot=1 -device x3130-upstream,id=odpsw,bus=odprp")
	for i in 0 1; do
		vng_args+=("--qemu-opts=-device xio3130-downstream,id=odpdn$i,bus=odpsw,chassis=$((2 + i)),slot=0 -object memory-backend-memfd,id=odpbar$i,size=${bar_mb}M,share=on -device ivshmem-plain,memdev=odpbar$i,bus=odpdn$i")
	done
fi
if use_kvm; then
	accel=kvm
else
	accel=tcg
	vng_args+=(--disable-kvm)
fi
# The guest finds the build where the host has it; ODP_GUEST_ENV (a file
# of paths that replace paths.env's, guest-setup.sh), ODP_TEST_RESULTS,
# ODP_PYVERBS_MUST_RUN, ODP_PYVERBS_TIMEOUT, ODP_STRESS_ARGS,
# ODP_STRESS_TIMEOUT, ODP_FUZZ_ARGS, ODP_TIMEOUT_SCALE (guest-suites.sh) and
# ODP_SEED (the tests' patterns) pass through when set.
guest_env="ODP_BUILD=$(printf %q "$ODP_BUILD")"
for v in ODP_GUEST_ENV ODP_TEST_RESULTS ODP_PYVERBS_MUST_RUN ODP_PYVERBS_TIMEOUT ODP_STRESS_ARGS ODP_STRESS_TIMEOUT ODP_FUZZ_ARGS ODP_TIMEOUT_SCALE ODP_SEED; do
	[ -z "${!v+set}" ] || guest_env+=" $v=$(printf %q "${!v}")"
done

vm_out="${ODP_VM_OUT:-$ODP_BUILD/vm}"
mkdir -p "$vm_out"
console="$vm_out/console.log"

# The shell's stderr (its prompt too) joins its stdout; the console goes to
# its log (see guest() below).
if [ "$shell" -eq 1 ]; then
	log "interactive VM ($accel, console in ${console#"$ODP_ROOT"/}); the topology is set up, 'exit' to leave"
	exec vng "${vng_args[@]}" --exec "$guest_env $ODP_ROOT/tests/vm/guest-setup.sh &&
		. /run/odp-p2p/env && exec ip netns exec \"\$ODP_NS_A\" bash -i 2>&1" \
		2> >(cat >"$console")
fi
cmd=$(printf '%q ' "$@")
log "booting the VM ($accel, watchdog ${timeout}s, console in ${console#"$ODP_ROOT"/})"

# With --verbose, vng writes the guest console to its stderr, where the
# guest command's stderr would arrive too: the command's stderr joins its
# stdout, and vng's stderr is the console.  Both through pipes: QEMU opens
# what fds 1 and 2 name once per port, truncating a regular file.
guest() {
	timeout --kill-after=15 "$timeout" vng "${vng_args[@]}" --exec \
		"$guest_env ODP_RESULTS=$(printf %q "$vm_out") $ODP_ROOT/tests/vm/guest-run.sh $cmd 2>&1" \
		</dev/null
}
# guest-run.sh leaves the command's status here: without it, the VM failed.
rm -f "$vm_out/status"
start=$(date +%s)
rc=0
{ guest 2>&1 >&3 3>&- | cat >"$console"; } 3>&1 | cat || rc=$?
log "VM finished in $(($(date +%s) - start))s with status $rc"
[ -e "$vm_out/status" ] && exit "$rc"

case "$rc" in
124 | 137) echo "VM WATCHDOG: the guest did not finish within ${timeout}s" >&2; rc=124 ;;
255) echo "VM: the guest died (kernel panic?)" >&2 ;;
*) echo "VM: the guest did not run the command to its end (status $rc)" >&2; [ "$rc" -ne 0 ] || rc=1 ;;
esac
echo "last console lines ($console):" >&2
tail -n 60 "$console" >&2
exit "$rc"
