#!/bin/bash
# test-host.sh: the tests that run on the build host, outside the VM
# (ctest label "host": libhmmem's API under valgrind; the cases that need
# test_hmm skip here and run in the VM).  Writes build/test-results/host.xml.
. "$(dirname "$0")/lib.sh"
load_env "$ODP_BUILD/paths.env"

out="$ODP_BUILD/test-results"
mkdir -p "$out"
rc=0
ctest --test-dir "$ODP_USERSPACE_BUILD" -L host --output-on-failure \
	--output-junit "$out/host.ctest-junit" \
	--test-output-size-passed 4194304 --test-output-size-failed 4194304 \
	>"$out/host.log" 2>&1 || rc=$?
"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" ctest host "$out/host.ctest-junit" "$out/host.xml" ||
	{ [ "$rc" -ne 0 ] || rc=1; }
[ "$rc" -eq 0 ] || cat "$out/host.log" >&2
exit "$rc"
