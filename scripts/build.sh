#!/bin/bash
# build.sh [kernel|userspace|all]: everything `make run` and `make test`
# need, in stages that print their duration: host packages, upstream
# sources, the patched kernel, rdma-core 65.0, the upstream selftests, our
# own userspace and perftest 25.01 (its --use_hmm links our libhmmem).
# Unchanged stages are skipped quickly.
# Each builder records where it put its output in build/paths.env.
. "$(dirname "$0")/lib.sh"

what="${1:-all}"
case "$what" in all | kernel | userspace) ;; *) die "usage: build.sh [kernel|userspace|all]" ;; esac
S="$ODP_ROOT/scripts"
mkdir -p "$ODP_BUILD"
: >"$ODP_BUILD/stages.log"

# quiet CMD...: CMD without the path it prints (paths.env has it).
quiet() { "$@" >/dev/null; }

fetch_sources() {
	local name
	for name in linux rdma-core perftest; do
		"$S/fetch-source.sh" "$name" >/dev/null
	done
}

# Without the kernel stage, the userspace still needs a tree with the
# series (test_hmm's UAPI, the kselftest harness): take the one there is.
kernel_tree() {
	[ -d "$ODP_BUILD/linux/.git" ] || "$S/apply-series.sh"
	record_path ODP_KERNEL_SRC "$ODP_BUILD/linux"
}

userspace() {
	local bld="$ODP_BUILD/userspace"
	build_step "$ODP_BUILD/userspace-cmake.log" cmake -S "$ODP_ROOT" -B "$bld" -GNinja \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DODP_PATHS_ENV="$ODP_BUILD/paths.env"
	build_step "$ODP_BUILD/userspace-ninja.log" ninja -C "$bld"
	record_path ODP_USERSPACE_BUILD "$bld"
}

stage "host packages" "$S/install-deps.sh"
stage "upstream sources" fetch_sources
if [ "$what" != userspace ]; then
	stage "kernel (Linux 7.3 + kernel/series)" quiet "$S/build-kernel.sh"
fi
if [ "$what" != kernel ]; then
	[ "$what" = all ] || stage "kernel tree (Linux 7.3 + kernel/series)" kernel_tree
	stage "rdma-core 65.0 + pyverbs" quiet "$S/build-rdma-core.sh"
	stage "kernel selftests (hmm-tests, rdma)" quiet "$S/build-hmm-tests.sh"
	stage "odp-p2p userspace and tests" userspace
	# perftest's --use_hmm links the libhmmem just built.
	stage "perftest 25.01" quiet "$S/build-perftest.sh"
fi
