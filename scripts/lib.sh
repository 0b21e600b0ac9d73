# shellcheck shell=bash
# Common helpers for the odp-p2p build scripts: paths, logging, stage timing.

set -euo pipefail

ODP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODP_BUILD="${ODP_BUILD:-$ODP_ROOT/build}"
ODP_CACHE="${ODP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odp-p2p}"
# Debian's interpreter, not whatever python3 comes first on PATH.
ODP_PYTHON="${ODP_PYTHON:-/usr/bin/python3}"
export ODP_ROOT ODP_BUILD ODP_CACHE ODP_PYTHON

log()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# stage NAME CMD...: run CMD, print its duration, append to the stage log.
stage() {
	local name="$1" start end rc=0
	shift
	start=$(date +%s)
	log "$name ..."
	"$@" || rc=$?
	end=$(date +%s)
	mkdir -p "$ODP_BUILD"
	printf '%-40s %5ss  rc=%s\n' "$name" "$((end - start))" "$rc" >>"$ODP_BUILD/stages.log"
	if [ "$rc" -ne 0 ]; then
		printf '==> %s FAILED after %ss (rc=%s)\n' "$name" "$((end - start))" "$rc" >&2
		return "$rc"
	fi
	printf '==> %s done in %ss\n' "$name" "$((end - start))" >&2
}

# Run as root, or through sudo when available.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "root is needed to run: $*"
	fi
}

nproc_build() { nproc 2>/dev/null || echo 2; }

# series_patches FILE: the entries of a patch series file (one path per
# line, relative to the file's directory; comments and blank lines skipped).
# A missing file is an empty series.
series_patches() {
	[ -r "$1" ] || return 0
	grep -vE '^\s*(#|$)' "$1" || true
}

# kernel_series_hash PATCH...: identifies kernel/series' patches and their
# contents; apply-series.sh records it to know what build/linux holds.
kernel_series_hash() {
	(cd "$ODP_ROOT/kernel" && { echo "$*"; cat "$@"; } | sha256sum | cut -c1-16)
}

# kernel_make OUT ARG...: make in $ODP_BUILD/linux with output in OUT,
# through ccache (paths below $ODP_ROOT are hashed relative, so clones at
# other paths share the cache) and with a reproducible build stamp.
kernel_make() {
	local out="$1"
	shift
	CCACHE_DIR="$ODP_CACHE/ccache" CCACHE_BASEDIR="$ODP_ROOT" \
		CCACHE_MAXSIZE=5G CCACHE_COMPILERCHECK=content \
		make -s -C "$ODP_BUILD/linux" O="$out" ARCH=x86_64 \
		CC="ccache gcc" HOSTCC="ccache gcc" \
		KBUILD_BUILD_TIMESTAMP="2026-01-01 00:00:00 UTC" \
		KBUILD_BUILD_USER=odp KBUILD_BUILD_HOST=odp \
		-j"$(nproc_build)" "$@"
}

# unpack_patched TARBALL SRC PATCHDIR PATCH...: unpack TARBALL into SRC
# (its top directory stripped) and apply each PATCH (relative to PATCHDIR)
# with patch -p1, refusing fuzz.
unpack_patched() {
	local tarball="$1" src="$2" pdir="$3" p
	shift 3
	mkdir -p "$src"
	tar -xf "$tarball" -C "$src" --strip-components=1
	for p in "$@"; do
		log "applying ${pdir#"$ODP_ROOT"/}/$p"
		patch -d "$src" -p1 -s -F0 --no-backup-if-mismatch <"$pdir/$p" ||
			die "${pdir#"$ODP_ROOT"/}/$p does not apply to $(basename "$tarball")"
	done
}

# keep_recent_builds PREFIX N: of the cached builds PREFIX*/, keep the N
# most recently used.
keep_recent_builds() {
	ls -1dt "$1"*/ | tail -n +"$(($2 + 1))" | xargs -r rm -rf
}
