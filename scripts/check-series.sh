#!/bin/bash
# check-series.sh: the review gate for kernel/series.
#  1. scripts/checkpatch.pl --strict on every patch;
#  2. every prefix of the series builds (bzImage, incremental, ccache);
#  3. for the .c files each patch touches, no new warnings from W=1 and
#     sparse (C=1) compared with the tree just before that patch.
# Leaves build/linux with the whole series applied.
. "$(dirname "$0")/lib.sh"

tree="$ODP_BUILD/linux"
out="$ODP_BUILD/kbuild-check"
"$ODP_ROOT/scripts/prepare-linux.sh"
mapfile -t patches < <(series_patches "$ODP_ROOT/kernel/series")
fail=0

# The base tree is a release tarball with no git history, so checkpatch
# cannot resolve the commit ids in Fixes: tags; everything else is checked.
# checkpatch runs on a copy outside this repository: given a path inside a
# git work tree it can misread a patch as a plain file (seen with 7.3's).
log "checkpatch --strict on ${#patches[@]} patch(es)"
cpdir=$(mktemp -d)
trap 'rm -rf "$cpdir"' EXIT
for p in "${patches[@]}"; do
	cp "$ODP_ROOT/kernel/$p" "$cpdir/"
	if (cd "$tree" && ./scripts/checkpatch.pl --strict --quiet --no-tree --show-types \
		--ignore UNKNOWN_COMMIT_ID "$cpdir/$(basename "$p")") >"$ODP_BUILD/checkpatch.log" 2>&1; then
		echo "  clean  $p"
	else
		echo "  DIRTY  $p"
		sed 's/^/         /' "$ODP_BUILD/checkpatch.log"
		fail=1
	fi
done

# Bookworm's sparse 0.6.4 predates __typeof_unqual__, which the kernel's
# checker-valid.sh requires (without it kbuild silently drops C=1).  Mapping
# it to __typeof__ only loses qualifier stripping; warnings are compared
# before/after each patch, so that cannot hide a new one.
check=(CHECK="sparse -D__typeof_unqual__=__typeof__")
[ "$("$tree/scripts/checker-valid.sh" sparse -D__typeof_unqual__=__typeof__)" = 1 ] ||
	die "sparse does not run on this tree"

# Sparse 0.6.4 (bookworm's, and still the latest release) does not fold
# __builtin_strlen() into a constant, so the static_assert() in 7.3's
# MODULE_INFO() reads to it as "bad constant expression" on every
# MODULE_LICENSE(), MODULE_DESCRIPTION(), MODULE_IMPORT_NS() line.  Files
# that exist before a patch carry it on both sides of the comparison; a file
# that a patch creates would show it as new.  Drop exactly that diagnostic on
# exactly those lines.
drop_modinfo_noise() {
	local line file lno src
	while IFS= read -r line; do
		if [[ "$line" =~ ^([^:]+):([0-9]+):[0-9]+:\ error:\ bad\ constant\ expression$ ]]; then
			file=${BASH_REMATCH[1]} lno=${BASH_REMATCH[2]}
			src=$(sed -n "${lno}p" "$file" 2>/dev/null)
			[[ "$src" =~ ^MODULE_[A-Z_]+\( ]] && continue
		fi
		printf '%s\n' "$line"
	done
}

# warnings FILE...: W=1 + sparse diagnostics for FILEs, line numbers removed.
warnings() {
	local f objs=()
	for f in "$@"; do objs+=("${f%.c}.o"); done
	[ ${#objs[@]} -gt 0 ] || return 0
	touch "${@/#/$tree/}"
	{ kernel_make "$out" "${check[@]}" W=1 C=1 "${objs[@]}" 2>&1 >/dev/null || true; } |
		{ grep -E 'warning:|error:' || true; } | drop_modinfo_noise |
		sed -E 's/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/' | sort -u
}

# Build the base once so that objects exist to compare against.  Start from
# the objects of the last full build, when there are any: kbuild then only
# rebuilds what the series and the config symbols it adds touch (ccache
# cannot help there, since every compile includes the whole autoconf.h).
export ODP_NO_KERNEL_CACHE=1
base="$ODP_BUILD/kbuild-base"
if [ ! -e "$out/.config" ] && [ -d "$base/arch/x86/boot" ]; then
	log "seeding $out with the objects of $base"
	mkdir -p "$out"
	cp -a "$base/." "$out/"
fi
log "building the base tree in $out"
"$ODP_ROOT/scripts/build-kernel.sh" --prefix 0 --out "$out" >/dev/null ||
	die "the base tree does not build"

for i in "${!patches[@]}"; do
	n=$((i + 1))
	p="${patches[$i]}"
	FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" "$i" >/dev/null
	mapfile -t cfiles < <(cd "$ODP_ROOT/kernel" && grep -E '^\+\+\+ b/.*\.c$' "$p" | sed 's|^+++ b/||' | sort -u)
	# Only files that the base config builds can be checked for warnings.
	built=()
	for f in "${cfiles[@]}"; do
		[ -e "$out/${f%.c}.o" ] && built+=("$f")
	done
	before=$(warnings "${built[@]}")
	# build-kernel.sh applies the first n patches itself.
	if ! "$ODP_ROOT/scripts/build-kernel.sh" --prefix "$n" --out "$out" >/dev/null 2>"$ODP_BUILD/prefix-build.log"; then
		echo "  BUILD FAILS after $n: $p"
		tail -n 30 "$ODP_BUILD/prefix-build.log" | sed 's/^/         /'
		fail=1
		continue
	fi
	after=$(warnings "${built[@]}")
	new=$(comm -13 <(echo "$before") <(echo "$after") | sed '/^$/d')
	if [ -n "$new" ]; then
		echo "  NEW WARNINGS after $n: $p"
		echo "$new" | sed 's/^/         /'
		fail=1
	else
		echo "  builds, no new W=1/sparse warnings (${#built[@]} file(s) checked): $p"
	fi
done
FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" >/dev/null
[ "$fail" -eq 0 ] || die "kernel-check failed"
log "kernel-check passed: ${#patches[@]} patch(es)"
