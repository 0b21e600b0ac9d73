#!/bin/bash
# test-host.sh: the tests that run on the build host, outside the VM
# (ctest label "host": libhmmem's API under valgrind; the cases that need
# test_hmm skip here and run in the VM).  Writes build/test-results/host.xml.
. "$(dirname "$0")/lib.sh"
load_env "$ODP_BUILD/paths.env"

mkdir -p "$ODP_BUILD/test-results"
rc=0
ctest_suite host host || rc=$?
[ "$rc" -eq 0 ] || cat "$ODP_BUILD/test-results/host.log" >&2
exit "$rc"
