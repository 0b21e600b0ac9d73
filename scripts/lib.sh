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
