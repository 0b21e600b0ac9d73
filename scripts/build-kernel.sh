#!/bin/bash
# build-kernel.sh [--debug] [--prefix N] [--out DIR]: apply the series and
# build a bzImage from tinyconfig + kernel/config fragments, with ccache.
#
# The finished image is cached under $ODP_CACHE/kernels, keyed by the base
# tree, the patches and the fragments, so an unchanged kernel is not rebuilt.
# Prints the bzImage path on stdout; the whole series' image in its default
# place is recorded in paths.env (ODP_KERNEL_IMAGE, or ODP_KERNEL_DEBUG_IMAGE
# with --debug), with the tree it came from (ODP_KERNEL_SRC).
. "$(dirname "$0")/lib.sh"

variant=base prefix="" out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--debug) variant=debug ;;
	--prefix) prefix="$2"; shift ;;
	--out) out="$2"; shift ;;
	*) die "unknown option $1" ;;
	esac
	shift
done
fragments=("$ODP_ROOT/kernel/config/base.config")
[ "$variant" = debug ] && fragments+=("$ODP_ROOT/kernel/config/debug.config")
record=""
if [ -z "$out" ] && [ -z "$prefix" ]; then
	record=ODP_KERNEL_IMAGE
	[ "$variant" = base ] || record=ODP_KERNEL_DEBUG_IMAGE
fi
out="${out:-$ODP_BUILD/kbuild-$variant}"
# kbuild resolves O= from the kernel tree: make it absolute.
out=$(realpath -m "$out")
tree="$ODP_BUILD/linux"

# done_image: the image is in $out; record it and print its path.
done_image() {
	if [ -n "$record" ]; then
		record_path ODP_KERNEL_SRC "$tree"
		record_path "$record" "$out/bzImage"
	fi
	echo "$out/bzImage"
}

"$ODP_ROOT/scripts/apply-series.sh" $prefix >&2

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
		# A prefix of the series may predate the option: a later patch adds it.
		if [ -n "$prefix" ] && ! grep -rqsx --include='Kconfig*' "config ${opt#CONFIG_}" "$tree"; then
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
