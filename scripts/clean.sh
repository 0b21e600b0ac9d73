#!/bin/bash
# clean.sh [--dist]: `make clean` removes $ODP_BUILD (build/); `make
# distclean` (--dist) also removes $ODP_CACHE (downloads, ccache, cached
# kernels and userspace builds; ~/.cache/odp-p2p unless set).
. "$(dirname "$0")/lib.sh"

# remove DIR: rm -rf, refusing what cannot be a build or cache directory.
remove() {
	case "$(realpath -m "$1")" in
	/ | "$(realpath -m "$HOME")" | "$(realpath -m "$ODP_ROOT")") die "refusing to remove $1" ;;
	esac
	log "removing $1"
	rm -rf "$1"
}

case "${1:-}" in
"") remove "$ODP_BUILD" ;;
--dist) remove "$ODP_BUILD"; remove "$ODP_CACHE" ;;
*) die "usage: clean.sh [--dist]" ;;
esac
