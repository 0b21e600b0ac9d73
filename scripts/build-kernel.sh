#!/bin/bash
# build-kernel.sh [--debug] [--prefix N] [--out DIR]: apply the series and
# build a bzImage from tinyconfig + kernel/config fragments, with ccache.
# build-kernel.sh --pristine [--out DIR]: the same configuration of pristine
# Linux 7.3 (the tree at odp-base, $ODP_BUILD/linux-pristine) for the
# baseline run (make test-baseline); the options only the series adds drop
# out, and nothing is recorded in paths.env.
#
# The finished image is cached under $ODP_CACHE/kernels, keyed by the base
# tree, the patches and the fragments, so an unchanged kernel is not rebuilt.
# Prints the bzImage path on stdout; the whole series' image in its default
# place is recorded in paths.env (ODP_KERNEL_IMAGE, or ODP_KERNEL_DEBUG_IMAGE
# with --debug), with the tree it came from (ODP_KERNEL_SRC).
. "$(dirname "$0")/lib.sh"

variant=base prefix="" out="" pristine=0
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) variant=debug ;;
	--pristine) pristine=1 ;;
	--prefix) prefix="$2"; shift ;;
	--out) out="$2"; shift ;;
	*) die "unknown option $1" ;;
	esac
	shift
done
fragments=("$ODP_ROOT/kernel/config/base.config")
[ "$variant" = debug ] && fragments+=("$ODP_ROOT/kernel/config/debug.config")
record=""
if [ "$pristine" -eq 1 ]; then
	[ "$variant" = base ] && [ -z "$prefix" ] || die "--pristine goes with neither --debug nor --prefix"
	out="${out:-$ODP_BUILD/kbuild-pristine}"
elif [ -z "$out" ] && [ -z "$prefix" ]; then
	record=ODP_KERNEL_IMAGE
	[ "$variant" = base ] || record=ODP_KERNEL_DEBUG_IMAGE
fi
out="${out:-$ODP_BUILD/kbuild-$variant}"
# kbuild resolves O= from the kernel tree: make it absolute.
out=$(realpath -m "$out")
tree="$ODP_BUILD/linux"
if [ "$pristine" -eq 1 ]; then
	tree="$ODP_BUILD/linux-pristine"
	export ODP_KERNEL_TREE="$tree"
fi

# done_image: the image is in $out; record it and print its path.
done_image() {
	if [ -n "$record" ]; then
		record_path ODP_KERNEL_SRC "$tree"
		record_path "$record" "$out/bzImage"
	fi
	echo "$out/bzImage"
}

if [ "$pristine" -eq 1 ]; then
	"$ODP_ROOT/scripts/prepare-linux.sh" --pristine >&2
else
	"$ODP_ROOT/scripts/apply-series.sh" $prefix >&2
fi

key=$( { git -C "$tree" rev-parse HEAD^{tree}; cat "${fragments[@]}"; gcc --version | head -n1; } |
	sha256sum | cut -c1-16)
cached="$ODP_CACHE/kernels/$key"
mkdir -p "$out"
if [ -z "${ODP_NO_KERNEL_CACHE:-}" ] && [ -r "$cached/bzImage" ]; then
	log "kernel $key unchanged: using the cached image"
	cp "$cached/bzImage" "$cached/.config" "$out/"
	done_image
	exit 0
fi

kernel_make "$out" tinyconfig >/dev/null
"$tree/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
kernel_make "$out" olddefconfig >/dev/null
# Every option the fragments ask for must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n | "# CONFIG_"*" is not set")
		opt="${line%%=*}" opt="${opt#\# }" opt="${opt%% *}"
		if grep -q "^$opt=" "$out/.config"; then warn "$opt is set, wanted n"; bad=1; fi ;;
	CONFIG_*=*)
		grep -qxF "$line" "$out/.config" && continue
		opt="${line%%=*}"
		# A prefix of the series (or none) may predate the option: a later
		# patch adds it.
		if { [ -n "$prefix" ] || [ "$pristine" -eq 1 ]; } &&
			! grep -rqsE --include='Kconfig*' "^(menu)?config ${opt#CONFIG_}\$" "$tree"; then
			[ "$pristine" -eq 0 ] || log "pristine: no $opt in Linux 7.3 (the series adds it)"
			continue
		fi
		warn "$line missing from .config (unmet dependency?)"; bad=1 ;;
	esac
done < <(cat "${fragments[@]}")
[ "$bad" -eq 0 ] || die "kernel configuration does not match the fragments"

log "building bzImage ($variant) in $out"
kernel_make "$out" bzImage 2> >(grep -v '^\s*$' >&2)
mkdir -p "$cached"
cp "$out/arch/x86/boot/bzImage" "$out/.config" "$cached/"
cp "$out/arch/x86/boot/bzImage" "$out/bzImage"
done_image
