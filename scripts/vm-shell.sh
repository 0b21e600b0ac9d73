#!/bin/bash
# vm-shell.sh: `make vm-shell`.  Build what is needed and open an
# interactive shell in the VM, in host A's namespace, with the topology set
# up and /run/odp-p2p/env sourced.
. "$(dirname "$0")/lib.sh"

"$ODP_ROOT/scripts/build.sh" all
exec "$ODP_ROOT/tests/vm/run-vm.sh" --shell
