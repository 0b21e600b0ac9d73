#!/bin/bash
# build.sh [kernel|userspace|all]: everything `make run` and `make test`
# need, in stages that print their duration: host packages, upstream
# sources, the patched kernel, rdma-core 65.0, perftest 25.01, the upstream
# selftests and our own userspace.  Unchanged stages are skipped quickly.
. "$(dirname "$0")/lib.sh"

what="${1:-all}"
S="$ODP_ROOT/scripts"
mkdir -p "$ODP_BUILD"
: >"$ODP_BUILD/stages.log"

stage "host packages" "$S/install-deps.sh"
stage "upstream sources" bash -c "'$S/fetch-source.sh' linux >/dev/null && '$S/fetch-source.sh' rdma-core >/dev/null && '$S/fetch-source.sh' perftest >/dev/null"
if [ "$what" = all ] || [ "$what" = kernel ]; then
	stage "kernel (Linux 7.3 + kernel/series)" bash -c "'$S/build-kernel.sh' >/dev/null"
fi
if [ "$what" = all ] || [ "$what" = userspace ]; then
	stage "rdma-core 65.0 + pyverbs" bash -c "'$S/build-rdma-core.sh' >/dev/null"
	stage "perftest 25.01" bash -c "'$S/build-perftest.sh' >/dev/null"
	stage "kernel selftests (hmm-tests, rdma)" bash -c "'$S/build-hmm-tests.sh' >/dev/null"
	stage "odp-p2p userspace and tests" bash -c "cmake -S '$ODP_ROOT' -B '$ODP_BUILD/userspace' -GNinja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && ninja -C '$ODP_BUILD/userspace' >/dev/null"
fi
