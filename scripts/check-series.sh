#!/bin/bash
# check-series.sh: the review gate for kernel/series.
#  1. scripts/checkpatch.pl --strict on every patch;
#  2. every prefix of the series builds (bzImage, incremental, ccache); a
#     patch that changes no file the kernel build reads (only
#     tools/testing/, Documentation/, MAINTAINERS) leaves the image of the
#     prefix before it, which is not built again; and a patch that touches
#     the hmm-tests selftest's sources or test_hmm's UAPI header compiles
#     hmm-tests before and after it: it must build, with no new warnings;
#  3. for the .c files each patch touches, no new warnings from W=1 and
#     sparse (C=1) compared with the tree just before that patch;
#  4. mlx5 and nouveau, which the VM cannot run, are compiled with the
#     whole series (kernel/config/mlx5.config, nouveau.config), with the
#     same warning comparison for their files that the series touches;
#  5. every file the series adds is covered by a MAINTAINERS entry.
# Leaves build/linux with the whole series applied.
. "$(dirname "$0")/lib.sh"

tree="$ODP_BUILD/linux"
out="$ODP_BUILD/kbuild-check"
"$ODP_ROOT/scripts/prepare-linux.sh"
mapfile -t patches < <(series_patches "$ODP_ROOT/kernel/series")
fail=0

# The base tree is a release tarball with no git history, so checkpatch
# cannot resolve the commit ids in Fixes: tags; everything else is checked.
# FILE_PATH_CHANGES asks of every new file whether MAINTAINERS needs an
# update; step 5 answers that from MAINTAINERS itself.
# checkpatch runs on a copy outside this repository: given a path inside a
# git work tree it can misread a patch as a plain file (seen with 7.3's).
log "checkpatch --strict on ${#patches[@]} patch(es)"
cpdir=$(mktemp -d)
trap 'rm -rf "$cpdir"' EXIT
for p in "${patches[@]}"; do
	cp "$ODP_ROOT/kernel/$p" "$cpdir/"
	if (cd "$tree" && ./scripts/checkpatch.pl --strict --quiet --no-tree --show-types \
		--ignore UNKNOWN_COMMIT_ID,FILE_PATH_CHANGES "$cpdir/$(basename "$p")") >"$ODP_BUILD/checkpatch.log" 2>&1; then
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
# MODULE_LICENSE(), MODULE_DESCRIPTION(), MODULE_IMPORT_NS() and
# module_param*() line (their MODULE_INFO()s).  Files
# that exist before a patch carry it on both sides of the comparison; a file
# that a patch creates would show it as new.  Drop exactly that diagnostic on
# exactly those lines.
drop_modinfo_noise() {
	local line file lno src
	while IFS= read -r line; do
		if [[ "$line" =~ ^([^:]+):([0-9]+):[0-9]+:\ error:\ bad\ constant\ expression$ ]]; then
			file=${BASH_REMATCH[1]} lno=${BASH_REMATCH[2]}
			src=$(sed -n "${lno}p" "$file" 2>/dev/null)
			[[ "$src" =~ ^(MODULE_[A-Z_]+|module_param[a-z_]*)\( ]] && continue
		fi
		printf '%s\n' "$line"
	done
}

# warnings FILE...: W=1 + sparse diagnostics for FILEs, line numbers removed,
# built in $wout (default: $out).
warnings() {
	local f objs=() srcs=()
	# A file that a later patch adds is not there yet: nothing to compare.
	for f in "$@"; do
		[ -e "$tree/$f" ] || continue
		objs+=("${f%.c}.o")
		srcs+=("$tree/$f")
	done
	[ ${#objs[@]} -gt 0 ] || return 0
	touch "${srcs[@]}"
	{ kernel_make "${wout:-$out}" "${check[@]}" W=1 C=1 "${objs[@]}" 2>&1 >/dev/null || true; } |
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

# hmm_tests_warnings: hmm-tests.c and its helpers compiled from $tree as
# build-hmm-tests.sh builds them (--check): their diagnostics, line numbers
# removed, and, if it does not build, a line saying so; sorted.
hmm_tests_warnings() {
	local diag rc=0
	diag=$("$ODP_ROOT/scripts/build-hmm-tests.sh" --check 2>&1) || rc=$?
	{
		[ "$rc" -eq 0 ] || echo "hmm-tests does not build (status $rc)"
		{ grep -E 'warning:|error:' <<<"$diag" || true; } |
			sed -E 's/:[0-9]+:[0-9]+:/:/; s/:[0-9]+:/:/'
	} | sort -u
}

# compare_diags BEFORE AFTER FAILED PASSED: the lines of AFTER that BEFORE
# (both sorted) lacks; with any, or when AFTER says hmm-tests does not
# build (a failure before the patch too), prints FAILED and the lines and
# sets fail; else prints PASSED.
compare_diags() {
	local new
	new=$(comm -13 <(echo "$1") <(echo "$2") | sed '/^$/d')
	if [ -z "$new" ] && grep -q '^hmm-tests does not build' <<<"$2"; then
		new="$2"
	fi
	if [ -n "$new" ]; then
		echo "  $3"
		echo "$new" | sed 's/^/         /'
		fail=1
	else
		echo "  $4"
	fi
}

# A patch that touches none of the files the kernel build reads: only the
# selftests and the other test programs (tools/testing/; the rest of tools/
# holds objtool and its headers, which the build compiles), the
# documentation and MAINTAINERS.  hmm-tests reads its own sources, the
# kselftest headers, test_hmm's UAPI, gup_test's and tools/include.
outside_build='^(tools/testing/|Documentation/|MAINTAINERS$)'
hmm_tests_sources='^(tools/testing/selftests/(mm/|kselftest)|lib/test_hmm_uapi\.h$|mm/gup_test\.h$|tools/include/)'

for i in "${!patches[@]}"; do
	n=$((i + 1))
	p="${patches[$i]}"
	FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" "$i" >/dev/null
	# Every path the patch names, both sides (a deleted file's new side is
	# /dev/null).
	pfiles=$(sed -nE 's|^diff --git a/([^ ]+) b/([^ ]+)$|\1\n\2|p' "$ODP_ROOT/kernel/$p" | sort -u)
	hmm=0 hmm_before=""
	if grep -qE "$hmm_tests_sources" <<<"$pfiles"; then
		hmm=1 hmm_before=$(hmm_tests_warnings)
	fi
	if [ -n "$pfiles" ] && ! grep -qvE "$outside_build" <<<"$pfiles"; then
		FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" "$n" >/dev/null
		if [ "$hmm" -eq 0 ]; then
			echo "  no file the kernel build reads: $p"
		else
			compare_diags "$hmm_before" "$(hmm_tests_warnings)" \
				"NEW hmm-tests WARNINGS (or errors) after $n: $p" \
				"no file the kernel build reads; hmm-tests compiles, no new warnings: $p"
		fi
		continue
	fi
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
	compare_diags "$before" "$(warnings "${built[@]}")" "NEW WARNINGS after $n: $p" \
		"builds, no new W=1/sparse warnings (${#built[@]} file(s) checked): $p"
	if [ "$hmm" -eq 1 ]; then
		compare_diags "$hmm_before" "$(hmm_tests_warnings)" \
			"NEW hmm-tests WARNINGS (or errors) after $n: $p" \
			"hmm-tests compiles, no new warnings: $p"
	fi
done

# compile_driver NAME SYMBOL DIR [whole]: a driver the VM cannot run (no
# ConnectX, no NVIDIA GPU), compiled with the whole series and
# kernel/config/NAME.config in a directory of its own seeded with the objects
# just built: with "whole", all of DIR (mlx5); else only the objects of DIR's
# files that the series touches (nouveau: its directory is large, and the
# rest of it is not ours).  Compiled, not linked: the new options change
# autoconf.h, so a bzImage would recompile the whole kernel without ccache
# hits.  Then the W=1/sparse warnings of its files that the series touches
# are compared with the tree before the first patch that touches them.
compile_driver() {
	local name="$1" symbol="$2" dir="$3" whole="${4:-}" first=0 mfiles=() f i
	local target=()
	for i in "${!patches[@]}"; do
		mapfile -t f < <(cd "$ODP_ROOT/kernel" && grep -E "^\+\+\+ b/$dir/.*\.c$" "${patches[$i]}" | sed 's|^+++ b/||')
		[ ${#f[@]} -gt 0 ] || continue
		[ "$first" -gt 0 ] || first=$((i + 1))
		mfiles+=("${f[@]}")
	done
	[ "$first" -gt 0 ] || return 0
	mapfile -t mfiles < <(printf '%s\n' "${mfiles[@]}" | sort -u)
	if [ -n "$whole" ]; then
		target=("$dir/")
	else
		for f in "${mfiles[@]}"; do target+=("${f%.c}.o"); done
	fi
	FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" >/dev/null
	wout="$ODP_BUILD/kbuild-$name"
	log "compiling $name (kernel/config/$name.config) with the series, checking ${#mfiles[@]} file(s) against the tree before patch $first"
	if [ ! -e "$wout/.config" ]; then
		mkdir -p "$wout"
		cp -a "$out/." "$wout/"
	fi
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$wout" "$out/.config" \
		"$ODP_ROOT/kernel/config/$name.config" >/dev/null
	kernel_make "$wout" olddefconfig >/dev/null
	if ! grep -qx "$symbol=y" "$wout/.config"; then
		echo "  $name NOT CONFIGURED: kernel/config/$name.config did not enable $symbol"
		fail=1
	elif ! kernel_make "$wout" "${target[@]}" >/dev/null 2>"$ODP_BUILD/prefix-build.log"; then
		echo "  $name DOES NOT COMPILE with the series"
		tail -n 30 "$ODP_BUILD/prefix-build.log" | sed 's/^/         /'
		fail=1
	else
		after=$(warnings "${mfiles[@]}")
		FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" $((first - 1)) >/dev/null
		compare_diags "$(warnings "${mfiles[@]}")" "$after" "NEW $name WARNINGS with the series" \
			"$name compiles, no new W=1/sparse warnings (${#mfiles[@]} file(s) checked)"
	fi
	unset wout
}
compile_driver mlx5 CONFIG_MLX5_INFINIBAND drivers/infiniband/hw/mlx5 whole
compile_driver nouveau CONFIG_DRM_NOUVEAU_SVM drivers/gpu/drm/nouveau

FORCE=1 "$ODP_ROOT/scripts/apply-series.sh" >/dev/null

# Every file the series adds needs a MAINTAINERS entry other than THE REST.
for p in "${patches[@]}"; do
	grep -A3 '^new file mode' "$ODP_ROOT/kernel/$p" >/dev/null || continue
	mapfile -t added < <(awk '/^diff --git /{f=$4; sub("^b/", "", f)} /^new file mode/{print f}' "$ODP_ROOT/kernel/$p")
	for f in "${added[@]}"; do
		# (a line that is neither THE REST nor empty: the here-string
		# of no output is one empty line)
		if grep -qvxE '(THE REST)?' <<<"$(cd "$tree" && ./scripts/get_maintainer.pl --no-git \
			--no-git-fallback --no-rolestats --subsystem --no-email --no-l -f "$f")"; then
			echo "  maintained: $f"
		else
			echo "  NO MAINTAINERS ENTRY for $f (added by $p)"
			fail=1
		fi
	done
done
[ "$fail" -eq 0 ] || die "kernel-check failed"
log "kernel-check passed: ${#patches[@]} patch(es)"
