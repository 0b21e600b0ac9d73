#!/bin/bash
# export-series.sh: write the commits odp-base..HEAD of $ODP_BUILD/linux back
# into kernel/ as `git format-patch` files, each stored under the kernel
# directory it changes most, and rewrite kernel/series in commit order.
#
# The cover letter, kernel/0000-cover-letter.patch, is regenerated too: its
# subject and text (everything above the shortlog) are kept from the existing
# file, where they are edited, and the shortlog and diffstat are new.
. "$(dirname "$0")/lib.sh"

tree="$ODP_BUILD/linux"
[ -d "$tree/.git" ] || die "no kernel tree at $tree: run 'make kernel-apply' first"
git -C "$tree" diff --quiet HEAD || die "$tree has uncommitted changes: commit them first"

# The directory a commit belongs under: that of the file with the most
# changed lines, preferring code over include/ and Documentation/.
patch_dir() {
	git -C "$tree" show --numstat --format= "$1" | awk '
		{ n = $1 + $2; f = $3; d = f; sub("/[^/]*$", "", d); if (d == f) d = ".";
		  pri = (f ~ /^(include|Documentation)\//) ? 0 : 1;
		  if (pri > bp || (pri == bp && n > bn)) { bp = pri; bn = n; best = d } }
		END { print best }'
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$tree" format-patch -q --zero-commit --no-signature --cover-letter \
	-o "$tmp" odp-base..HEAD
cover="$ODP_ROOT/kernel/0000-cover-letter.patch"
"$ODP_PYTHON" "$ODP_ROOT/scripts/cover-letter.py" "$tmp/0000-cover-letter.patch" "$cover" \
	>"$tmp/cover" || die "cannot write the cover letter"
rm "$tmp/0000-cover-letter.patch"
mapfile -t commits < <(git -C "$tree" rev-list --reverse odp-base..HEAD)
mapfile -t files < <(ls "$tmp" | grep -v '^cover$' | sort)
[ "${#commits[@]}" -eq "${#files[@]}" ] || die "format-patch produced ${#files[@]} files for ${#commits[@]} commits"

# Remove the patches of the old series, then write the new ones.
if [ -r "$ODP_ROOT/kernel/series" ]; then
	series_patches "$ODP_ROOT/kernel/series" | while read -r p; do
		rm -f "$ODP_ROOT/kernel/$p"
	done
fi
{
	echo "# Patch series against Linux 7.3, applied in this order by scripts/apply-series.sh."
	echo "# Written by scripts/export-series.sh; paths are relative to kernel/."
} >"$tmp/series"
for i in "${!commits[@]}"; do
	d=$(patch_dir "${commits[$i]}")
	mkdir -p "$ODP_ROOT/kernel/$d"
	cp "$tmp/${files[$i]}" "$ODP_ROOT/kernel/$d/${files[$i]}"
	echo "$d/${files[$i]}" >>"$tmp/series"
done
cp "$tmp/series" "$ODP_ROOT/kernel/series"
cp "$tmp/cover" "$cover"
find "$ODP_ROOT/kernel" -mindepth 1 -type d -empty -delete

# The tree now matches the exported series.
mapfile -t patches < <(series_patches "$ODP_ROOT/kernel/series")
want=$(kernel_series_hash "${patches[@]}")
echo "$want $(git -C "$tree" rev-parse HEAD)" >"$tree/.git/odp-series"
log "exported ${#commits[@]} patch(es) to kernel/:"
sed -n '3,$p' "$ODP_ROOT/kernel/series" | sed 's/^/    /' >&2
