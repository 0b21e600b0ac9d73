#!/bin/bash
# build-rdma-core.sh: build rdma-core 65.0 (libibverbs, providers incl. rxe,
# librdmacm, libibumad, pyverbs and its tests) from the Debian orig tarball
# with the patches in providers/series, and print the build's directory.
#
# The build is IN_PLACE: binaries and run_tests.py hard-code absolute paths
# into the build tree, so it is built where it stays, in
#   $ODP_CACHE/userspace/rdma-core-<key>/{src,src/build}   (build -> src/build)
# where <key> hashes the tarball, the series and this script.  A build with
# the same key is reused as is; $ODP_BUILD/rdma-core points at the current
# one.  The VM sees the host's root filesystem at the same paths.
. "$(dirname "$0")/lib.sh"

tarball=$("$ODP_ROOT/scripts/fetch-source.sh" rdma-core)
series="$ODP_ROOT/providers/series"
mapfile -t patches < <(series_patches "$series")

key=$( {
	sha256sum <"$tarball"
	for p in "${patches[@]}"; do
		echo "$p"
		cat "$ODP_ROOT/providers/$p" || die "providers/series names $p, which does not exist"
	done
	cat "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
dir="$ODP_CACHE/userspace/rdma-core-$key"
src="$dir/src"
bld="$src/build"

# One build at a time (make -j, or build-perftest.sh calling this one).
mkdir -p "$ODP_CACHE/userspace"
exec 9>"$ODP_CACHE/userspace/.rdma-core.lock"
flock 9

if [ ! -e "$dir/.done" ]; then
	log "rdma-core 65.0: building $dir (${#patches[@]} patch(es))"
	rm -rf "$dir"
	unpack_patched "$tarball" "$src" "$ODP_ROOT/providers" "${patches[@]}"

	# ccache: the key directory differs per build, so make paths relative
	# to it and do not hash the cwd, or a new key would never hit the cache.
	export CCACHE_DIR="$ODP_CACHE/ccache" CCACHE_BASEDIR="$dir" CCACHE_NOHASHDIR=1
	mkdir -p "$bld"
	# /usr/bin/python3: Debian's, which has cython3 0.29.32 and python3-dev
	# (pyenv's python3 comes first on PATH and has neither).
	# NO_MAN_PAGES: pandoc/rst2man are not installed and not needed.
	(cd "$bld" && cmake -GNinja -Wno-dev \
		-DIN_PLACE=1 -DNO_MAN_PAGES=1 \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DPYTHON_EXECUTABLE="$ODP_PYTHON" \
		-DCMAKE_C_COMPILER_LAUNCHER=ccache \
		.. >"$dir/cmake.log" 2>&1) || { tail -n 40 "$dir/cmake.log" >&2; die "cmake failed (see $dir/cmake.log)"; }
	ninja -C "$bld" -j"$(nproc_build)" >"$dir/ninja.log" 2>&1 ||
		{ tail -n 40 "$dir/ninja.log" >&2; die "ninja failed (see $dir/ninja.log)"; }
	ln -sfn src/build "$dir/build"

	# Sanity: the pieces the rest of the project relies on.
	[ -e "$bld/lib/libibverbs.so" ] || die "no lib/libibverbs.so in $bld"
	ls "$bld"/lib/librxe-rdmav*.so >/dev/null 2>&1 || die "no rxe provider in $bld/lib"
	[ -e "$bld/etc/libibverbs.d/rxe.driver" ] || die "no rxe.driver in $bld/etc/libibverbs.d"
	[ -d "$bld/python/pyverbs" ] || die "pyverbs was not built (Cython missing?)"
	# run_tests.py is a generated sh wrapper that sets PYTHONPATH and
	# execs the interpreter given to cmake: check it is Debian's.
	grep -qF "exec '$ODP_PYTHON'" "$bld/bin/run_tests.py" || die "run_tests.py does not use $ODP_PYTHON"
	"$bld/bin/run_tests.py" --list-tests >"$dir/tests.list" 2>"$dir/list-tests.err" ||
		{ cat "$dir/list-tests.err" >&2; die "run_tests.py --list-tests failed"; }
	log "rdma-core: run_tests.py lists $(grep -c . "$dir/tests.list") tests," \
		"$(grep -c '^tests\.test_odp\.' "$dir/tests.list") in test_odp"
	touch "$dir/.done"
else
	log "rdma-core 65.0: up to date ($dir)"
fi

# Keep the 3 most recently used builds (~140 MB each).
touch "$dir"
keep_recent_builds "$ODP_CACHE/userspace/rdma-core-" 3
mkdir -p "$ODP_BUILD"
ln -sfn "$dir" "$ODP_BUILD/rdma-core"
echo "$dir"
