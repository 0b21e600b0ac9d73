#!/bin/bash
# upstream-series.sh apply|export NAME: edit the patch series we keep
# against a userspace upstream, as kernel-apply/kernel-export do for Linux.
#
#   NAME       patches (and their series file)   git tree
#   rdma-core  providers/                        build/src/rdma-core
#   perftest   perftest-ext/                     build/src/perftest
#
# apply:  unpack the pristine tarball (fetch-source.sh NAME) into a new git
#         tree, commit it as tag odp-base and `git am` each patch of the
#         series on branch "odp".  Refuses to replace a tree with commits or
#         edits that were not exported (FORCE=1 overrides).
# export: write odp-base..HEAD back as `git format-patch` files, numbered
#         in order, and rewrite the series file.  The build applies them with
#         patch -p1 -F0 (unpack_patched in lib.sh), so what is exported is
#         exactly what gets built.
. "$(dirname "$0")/lib.sh"

usage() { die "usage: upstream-series.sh apply|export rdma-core|perftest"; }
action="${1:-}" name="${2:-}"
case "$name" in
rdma-core) pdir="$ODP_ROOT/providers" ;;
perftest) pdir="$ODP_ROOT/perftest-ext" ;;
*) usage ;;
esac
tree="$ODP_BUILD/src/$name"
state="$tree/.git/odp-series"

series_state() {
	local p
	mapfile -t p < <(series_patches "$pdir/series")
	(cd "$pdir" 2>/dev/null; { echo "${p[*]}"; [ ${#p[@]} -eq 0 ] || cat "${p[@]}"; } | short_hash)
}

apply() {
	local tarball p patches
	if [ -d "$tree/.git" ] && [ -z "${FORCE:-}" ]; then
		local have_head=""
		[ -r "$state" ] && read -r _ have_head <"$state"
		[ "$have_head" = "$(git -C "$tree" rev-parse HEAD)" ] ||
			die "$tree has commits that were not exported: 'make ${pdir##*/}-export' first, or FORCE=1 to discard"
		git -C "$tree" diff --quiet HEAD ||
			die "$tree has uncommitted changes: commit and export them, or FORCE=1 to discard"
	fi
	tarball=$("$ODP_ROOT/scripts/fetch-source.sh" "$name")
	rm -rf "$tree"
	mkdir -p "$tree"
	tar -xf "$tarball" -C "$tree" --strip-components=1
	git -C "$tree" init -q -b odp
	git -C "$tree" add -A -f
	git -C "$tree" -c user.name=odp -c user.email=odp@localhost \
		commit -q -m "$(basename "$tarball") (pristine)"
	git -C "$tree" tag odp-base
	mapfile -t patches < <(series_patches "$pdir/series")
	for p in "${patches[@]}"; do
		[ -r "$pdir/$p" ] || die "${pdir##*/}/series names $p, which does not exist"
		git -C "$tree" am -q --keep-cr "$pdir/$p" >/dev/null 2>"$ODP_BUILD/git-am.log" || {
			cat "$ODP_BUILD/git-am.log" >&2
			die "${pdir##*/}/$p does not apply to $(basename "$tarball")"
		}
	done
	echo "$(series_state) $(git -C "$tree" rev-parse HEAD)" >"$state"
	log "$tree: ${#patches[@]} patch(es) applied on branch odp over tag odp-base"
}

export_series() {
	local p
	[ -d "$tree/.git" ] || die "no tree at $tree: run 'make ${pdir##*/}-apply' first"
	git -C "$tree" diff --quiet HEAD || die "$tree has uncommitted changes: commit them first"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	git -C "$tree" format-patch -q --zero-commit --no-signature -o "$tmp" odp-base..HEAD
	mkdir -p "$pdir"
	series_patches "$pdir/series" | while read -r p; do rm -f "$pdir/$p"; done
	{
		echo "# Patches against $name $(awk -v n="$name" '$1 == n { print $5 }' "$ODP_ROOT/upstream.lock"), applied in this order by the build."
		echo "# Written by scripts/upstream-series.sh export $name; edit them there."
	} >"$pdir/series"
	for p in "$tmp"/*.patch; do
		[ -e "$p" ] || break
		cp "$p" "$pdir/"
		basename "$p" >>"$pdir/series"
	done
	echo "$(series_state) $(git -C "$tree" rev-parse HEAD)" >"$state"
	log "exported $(series_patches "$pdir/series" | grep -c .) patch(es) to ${pdir##*/}/"
}

case "$action" in
apply) apply ;;
export) export_series ;;
*) usage ;;
esac
