#!/bin/bash
# vm-run.sh CMD: `make vm-run CMD='...'`.  Build what is needed, boot the VM
# and run the shell command CMD in host A's namespace (`ip netns exec B ...`
# works inside); its output reaches the terminal, its status is ours.
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: make vm-run CMD='command'"
"$ODP_ROOT/scripts/build.sh" all
stage "command in the VM" "$ODP_ROOT/tests/vm/run-vm.sh" -- bash -c "$1"
