#!/bin/bash
# apply-series.sh: apply kernel/series onto the pristine base in
# $ODP_BUILD/linux with `git am`, one commit per patch, on branch "odp".
#
# Editing a patch: `make kernel-apply`, then edit and commit (or rebase -i)
# in build/linux, then `make kernel-export`.  This script refuses to throw
# away commits or edits that were not exported; FORCE=1 overrides.
#
# With N given, apply only the first N patches (used to build every prefix).
# When the tree holds an earlier prefix of the same series, exactly as
# applied, only the missing patches are applied on top: files no patch in
# between touches keep their mtimes, so kbuild rebuilds only what depends on
# those patches (make kernel-check builds every prefix in turn).
. "$(dirname "$0")/lib.sh"

tree="$ODP_BUILD/linux"
count="${1:-}"
"$ODP_ROOT/scripts/prepare-linux.sh"

mapfile -t patches < <(series_patches "$ODP_ROOT/kernel/series")
[ -z "$count" ] || patches=("${patches[@]:0:$count}")

state="$tree/.git/odp-series"
want=$(kernel_series_hash "${patches[@]}" 2>/dev/null </dev/null)
head=$(git -C "$tree" rev-parse HEAD)
if [ -r "$state" ]; then
	read -r have_hash have_head <"$state"
else
	have_hash="" have_head=$(git -C "$tree" rev-parse odp-base)
fi

if [ "$have_hash" = "$want" ] && [ "$have_head" = "$head" ] &&
	git -C "$tree" diff --quiet HEAD; then
	exit 0
fi
if [ -z "${FORCE:-}" ]; then
	if [ "$have_head" != "$head" ]; then
		die "$tree has commits that were not exported (HEAD moved since the last apply).
       Run 'make kernel-export' to save them into kernel/, or FORCE=1 to discard."
	fi
	if ! git -C "$tree" diff --quiet HEAD; then
		die "$tree has uncommitted changes. Commit and 'make kernel-export', or FORCE=1 to discard."
	fi
fi

git -C "$tree" am --abort >/dev/null 2>&1 || true
start=0
applied=$(git -C "$tree" rev-list --count odp-base..HEAD 2>/dev/null || echo -1)
if [ "$have_head" = "$head" ] && [ "$applied" -ge 0 ] && [ "$applied" -lt "${#patches[@]}" ] &&
	[ "$have_hash" = "$(kernel_series_hash "${patches[@]:0:$applied}" 2>/dev/null </dev/null)" ] &&
	[ "$(git -C "$tree" rev-parse --abbrev-ref HEAD)" = odp ] &&
	git -C "$tree" diff --quiet HEAD; then
	start=$applied
	# Untracked files (a build's touch of a file that a later patch adds)
	# would stop git am; removing them changes no tracked file's mtime.
	git -C "$tree" clean -q -fdx -e '/.git'
else
	git -C "$tree" checkout -q -f -B odp odp-base
	git -C "$tree" clean -q -fdx -e '/.git'
fi
for p in "${patches[@]:$start}"; do
	[ -r "$ODP_ROOT/kernel/$p" ] || die "kernel/series names $p, which does not exist"
	if ! git -C "$tree" am -q --keep-cr "$ODP_ROOT/kernel/$p" >/dev/null 2>"$ODP_BUILD/git-am.log"; then
		cat "$ODP_BUILD/git-am.log" >&2
		git -C "$tree" am --abort || true
		die "kernel/$p does not apply to $(git -C "$tree" log -1 --format=%s odp-base)"
	fi
done
echo "$want $(git -C "$tree" rev-parse HEAD)" >"$state"
log "applied ${#patches[@]} patch(es) onto $(git -C "$tree" log -1 --format=%s odp-base)"
