#!/bin/bash
# build-perftest.sh: build perftest 25.01 from the Debian orig tarball with
# the patches in perftest-ext/series, against OUR rdma-core 65.0 build (not
# the host's libibverbs 44), and print the build's directory.
#
# Layout and caching as in build-rdma-core.sh:
#   $ODP_CACHE/userspace/perftest-<key>/{src,src/build}   (build -> src/build)
# <key> hashes the tarball, the series, this script and the rdma-core key;
# $ODP_BUILD/perftest points at the current build.  The binaries carry an
# rpath to rdma-core's lib/, so they load libibverbs 65 and its providers.
. "$(dirname "$0")/lib.sh"

rdma=$("$ODP_ROOT/scripts/build-rdma-core.sh")
tarball=$("$ODP_ROOT/scripts/fetch-source.sh" perftest)
mapfile -t patches < <(series_patches "$ODP_ROOT/perftest-ext/series")

key=$( {
	basename "$rdma"
	sha256sum <"$tarball"
	for p in "${patches[@]}"; do
		echo "$p"
		cat "$ODP_ROOT/perftest-ext/$p" || die "perftest-ext/series names $p, which does not exist"
	done
	cat "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
dir="$ODP_CACHE/userspace/perftest-$key"
src="$dir/src"
bld="$src/build"
inc="$rdma/src/build/include"
lib="$rdma/src/build/lib"

# One build at a time (make -j, or build-perftest.sh calling this one).
mkdir -p "$ODP_CACHE/userspace"
exec 9>"$ODP_CACHE/userspace/.perftest.lock"
flock 9

if [ ! -e "$dir/.done" ]; then
	log "perftest 25.01: building $dir (${#patches[@]} patch(es))"
	rm -rf "$dir"
	unpack_patched "$tarball" "$src" "$ODP_ROOT/perftest-ext" "${patches[@]}"

	export CCACHE_DIR="$ODP_CACHE/ccache" CCACHE_BASEDIR="$dir" CCACHE_NOHASHDIR=1
	# Regenerate the autotools files: our patches touch configure.ac and
	# Makefile.am (the tarball's pre-generated configure would ignore that).
	(cd "$src" && autoreconf -fi >"$dir/autoreconf.log" 2>&1) ||
		{ tail -n 40 "$dir/autoreconf.log" >&2; die "autoreconf failed (see $dir/autoreconf.log)"; }
	mkdir -p "$bld"
	# Our headers come first, ahead of the host's /usr/include; libibumad
	# and librdmacm come from the rdma-core build as well.
	(cd "$bld" && ../configure CC="ccache gcc" CFLAGS="-g -O2" \
		CPPFLAGS="-I$inc" LDFLAGS="-L$lib -Wl,-rpath,$lib" \
		>"$dir/configure.log" 2>&1) ||
		{ tail -n 40 "$dir/configure.log" >&2; die "configure failed (see $dir/configure.log)"; }
	grep -qx '#define HAVE_EX_ODP 1' "$bld/config.h" ||
		die "perftest config.h lacks HAVE_EX_ODP 1: --odp would be compiled out (see $bld/config.log)"
	make -C "$bld" -j"$(nproc_build)" >"$dir/make.log" 2>&1 ||
		{ tail -n 40 "$dir/make.log" >&2; die "make failed (see $dir/make.log)"; }
	ln -sfn src/build "$dir/build"

	# The binaries must load libibverbs 65 from our build, not the host's 44.
	# (ldd into a variable: grep -q would SIGPIPE ldd and trip pipefail.)
	deps=$(ldd "$bld/ib_write_bw")
	grep -qF "libibverbs.so.1 => $lib/libibverbs.so.1 " <<<"$deps" ||
		{ echo "$deps" >&2; die "ib_write_bw does not resolve libibverbs to $lib"; }
	log "perftest: $("$bld/ib_write_bw" --version 2>&1 | head -n1)"
	touch "$dir/.done"
else
	log "perftest 25.01: up to date ($dir)"
fi

# Keep the 3 most recently used builds (~20 MB each).
touch "$dir"
keep_recent_builds "$ODP_CACHE/userspace/perftest-" 3
mkdir -p "$ODP_BUILD"
ln -sfn "$dir" "$ODP_BUILD/perftest"
echo "$dir"
