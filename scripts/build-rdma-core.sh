#!/bin/bash
# build-rdma-core.sh: build rdma-core 65.0 (libibverbs, providers incl. rxe,
# librdmacm, libibumad, pyverbs and its tests) from the Debian orig tarball
# with the patches in providers/series, record it in paths.env and print
# its directory.
#
# The build is IN_PLACE: binaries and run_tests.py hard-code absolute paths
# into the build tree, so it is built where it stays (cached_build in
# lib.sh), in $ODP_CACHE/userspace/rdma-core-<key>/{src,src/build}
# (build -> src/build), where <key> hashes the tarball, the series and this
# script.  $ODP_BUILD/rdma-core points at the current one.  The VM sees the
# host's root filesystem at the same paths.
#
# --pristine: rdma-core 65.0 without our patches, for the baseline run (make
# test-baseline), cached as pristine-rdma-core-<key>; only its directory is
# printed: nothing is recorded, $ODP_BUILD/rdma-core stays.
. "$(dirname "$0")/lib.sh"

pristine=0
case "${1:-}" in
"") ;;
--pristine) pristine=1 ;;
*) die "usage: build-rdma-core.sh [--pristine]" ;;
esac
tarball=$("$ODP_ROOT/scripts/fetch-source.sh" rdma-core)
patches=()
[ "$pristine" -eq 1 ] || mapfile -t patches < <(series_patches "$ODP_ROOT/providers/series")
key=$( { source_key "$tarball" "$ODP_ROOT/providers" "${patches[@]}"; cat "${BASH_SOURCE[0]}"; } | short_hash)

build() {
	local dir="$1" src="$1/src" bld="$1/src/build"
	unpack_patched "$tarball" "$src" "$ODP_ROOT/providers" "${patches[@]}"
	# $ODP_PYTHON: Debian's, which has cython3 and python3-dev (pyenv's
	# python3 may come first on PATH and has neither).
	# NO_MAN_PAGES: pandoc/rst2man are not installed and not needed.
	build_step "$dir/cmake.log" cmake -S "$src" -B "$bld" -GNinja -Wno-dev \
		-DIN_PLACE=1 -DNO_MAN_PAGES=1 \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DPYTHON_EXECUTABLE="$ODP_PYTHON" \
		-DCMAKE_C_COMPILER_LAUNCHER=ccache
	build_step "$dir/ninja.log" ninja -C "$bld" -j"$(nproc_build)"
	ln -sfn src/build "$dir/build"

	# Sanity: the pieces the rest of the project relies on.
	[ -e "$bld/lib/libibverbs.so" ] || die "no lib/libibverbs.so in $bld"
	ls "$bld"/lib/librxe-rdmav*.so >/dev/null 2>&1 || die "no rxe provider in $bld/lib"
	[ -e "$bld/etc/libibverbs.d/rxe.driver" ] || die "no rxe.driver in $bld/etc/libibverbs.d"
	[ -d "$bld/python/pyverbs" ] || die "pyverbs was not built (Cython missing?)"
	# run_tests.py is a generated sh wrapper that sets PYTHONPATH and
	# execs the interpreter given to cmake: check it is $ODP_PYTHON.
	grep -qF "exec '$ODP_PYTHON'" "$bld/bin/run_tests.py" || die "run_tests.py does not use $ODP_PYTHON"
	build_step "$dir/list-tests.log" "$bld/bin/run_tests.py" --list-tests
	grep -E '^tests\.' "$dir/list-tests.log" >"$dir/tests.list"
	log "rdma-core: run_tests.py lists $(grep -c . "$dir/tests.list") tests," \
		"$(grep -c '^tests\.test_odp\.' "$dir/tests.list") in test_odp"
}

if [ "$pristine" -eq 1 ]; then
	cached_build pristine-rdma-core "$key" build
	exit 0
fi
dir=$(cached_build rdma-core "$key" build)
ln -sfn "$dir" "$ODP_BUILD/rdma-core"
record_path ODP_RDMA_CORE_SRC "$dir/src"
record_path ODP_RDMA_CORE_BUILD "$dir/src/build"
record_path ODP_PYTHON "$ODP_PYTHON"
echo "$dir"
