#!/bin/bash
# build-perftest.sh: build perftest 25.01 from the Debian orig tarball with
# the patches in perftest-ext/series, against OUR rdma-core 65.0 build (not
# the host's libibverbs 44) and with --use_hmm on our libhmmem, record it in
# paths.env and print its directory.  libhmmem comes from the userspace
# build (build.sh builds it first; ODP_USERSPACE_BUILD in paths.env).
#
# Cached as rdma-core is (cached_build in lib.sh):
#   $ODP_CACHE/userspace/perftest-<key>/{src,src/build}   (build -> src/build)
#   $ODP_CACHE/userspace/perftest-<key>/hmmem/{include,lib}  (libhmmem's copy)
# <key> hashes the tarball, the series, this script, the rdma-core key and
# libhmmem's sources; $ODP_BUILD/perftest points at the current build.  The
# binaries carry an rpath to rdma-core's lib/ and to the libhmmem copy, so
# they load libibverbs 65 and its providers, and the libhmmem they were
# built with.
. "$(dirname "$0")/lib.sh"

rdma=$("$ODP_ROOT/scripts/build-rdma-core.sh")
tarball=$("$ODP_ROOT/scripts/fetch-source.sh" perftest)
mapfile -t patches < <(series_patches "$ODP_ROOT/perftest-ext/series")
load_env "$ODP_BUILD/paths.env"
hmmem_so="${ODP_USERSPACE_BUILD:-}/userspace/lib/libhmmem.so.1"
[ -e "$hmmem_so" ] ||
	die "libhmmem is not built (no ${hmmem_so#/}): build the userspace first (scripts/build.sh userspace)"
key=$( {
	basename "$rdma"
	source_key "$tarball" "$ODP_ROOT/perftest-ext" "${patches[@]}"
	cat "${BASH_SOURCE[0]}"
	# libhmmem as it was built: its sources and test_hmm's UAPI.
	(cd "$ODP_ROOT/userspace/lib" && cat CMakeLists.txt ./*.c ./*.h ./*.map)
	cat "$ODP_KERNEL_SRC/lib/test_hmm_uapi.h"
} | short_hash)
inc="$rdma/src/build/include"
lib="$rdma/src/build/lib"

build() {
	local dir="$1" src="$1/src" bld="$1/src/build" deps
	unpack_patched "$tarball" "$src" "$ODP_ROOT/perftest-ext" "${patches[@]}"
	# A copy of libhmmem that lives as long as this build does.
	mkdir -p "$dir/hmmem/include" "$dir/hmmem/lib"
	cp "$ODP_ROOT/userspace/lib/hmmem.h" "$dir/hmmem/include/"
	cp -P "${hmmem_so%.so.1}".so* "$dir/hmmem/lib/"
	# Regenerate the autotools files: our patches touch configure.ac and
	# Makefile.am (the tarball's pre-generated configure would ignore that).
	build_step "$dir/autoreconf.log" autoreconf -fi "$src"
	mkdir -p "$bld"
	# Our headers come first, ahead of the host's /usr/include; libibumad
	# and librdmacm come from the rdma-core build as well.
	build_step "$dir/configure.log" env -C "$bld" ../configure CC="ccache gcc" \
		CFLAGS="-g -O2" CPPFLAGS="-I$inc" LDFLAGS="-L$lib -Wl,-rpath,$lib" \
		--enable-hmm --with-hmmem="$dir/hmmem"
	grep -qx '#define HAVE_EX_ODP 1' "$bld/config.h" ||
		die "perftest config.h lacks HAVE_EX_ODP 1: --odp would be compiled out (see $bld/config.log)"
	grep -qx '#define HAVE_HMM 1' "$bld/config.h" ||
		die "perftest config.h lacks HAVE_HMM 1: --use_hmm would be compiled out (see $bld/config.log)"
	build_step "$dir/make.log" make -C "$bld" -j"$(nproc_build)"
	# perftest builds with -Wall; our patches add no warning to it.
	! grep -n 'warning:' "$dir/make.log" >&2 ||
		die "perftest built with warnings (above; $dir/make.log)"
	ln -sfn src/build "$dir/build"

	# The binaries must load libibverbs 65 from our build, not the host's 44.
	# (ldd into a variable: grep -q would SIGPIPE ldd and trip pipefail.)
	deps=$(ldd "$bld/ib_write_bw")
	grep -qF "libibverbs.so.1 => $lib/libibverbs.so.1 " <<<"$deps" ||
		{ echo "$deps" >&2; die "ib_write_bw does not resolve libibverbs to $lib"; }
	grep -qF "libhmmem.so.1 => $dir/hmmem/lib/libhmmem.so.1 " <<<"$deps" ||
		{ echo "$deps" >&2; die "ib_write_bw does not resolve libhmmem to $dir/hmmem/lib"; }
	log "perftest: $("$bld/ib_write_bw" --version 2>&1 | head -n1)"
}

dir=$(cached_build perftest "$key" build)
ln -sfn "$dir" "$ODP_BUILD/perftest"
record_path ODP_PERFTEST_BUILD "$dir/src/build"
echo "$dir"
