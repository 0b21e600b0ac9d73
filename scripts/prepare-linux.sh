#!/bin/bash
# prepare-linux.sh: make $ODP_BUILD/linux a git tree of pristine Linux 7.3
# with a single base commit tagged "odp-base".  The pristine repository is
# cached under $ODP_CACHE/git, so later trees are cheap local clones.
#
# --pristine: make $ODP_BUILD/linux-pristine that tree at odp-base instead,
# for the baseline kernel (make test-baseline).  Nothing is ever committed
# there: an existing one is reset to odp-base and cleaned.
. "$(dirname "$0")/lib.sh"

pristine=0
case "${1:-}" in
"") ;;
--pristine) pristine=1 ;;
*) die "usage: prepare-linux.sh [--pristine]" ;;
esac

tarball=$("$ODP_ROOT/scripts/fetch-source.sh" linux)
tsum=$(sha256sum "$tarball" | cut -c1-12)
base_repo="$ODP_CACHE/git/linux-$tsum.git"
tree="$ODP_BUILD/linux"

git_id=(-c user.name="odp-p2p build" -c user.email="odp-p2p@localhost"
	-c core.autocrlf=false -c gc.auto=0)

if [ ! -d "$base_repo" ]; then
	log "unpacking $(basename "$tarball") into a git repository (once per tarball)"
	tmp=$(mktemp -d "$ODP_CACHE/.unpack.XXXXXX")
	tar -xf "$tarball" -C "$tmp" --strip-components=1
	version=$(make -s -C "$tmp" kernelversion)
	git -C "$tmp" init -q -b pristine
	git -C "$tmp" "${git_id[@]}" add -A -f .
	git -C "$tmp" "${git_id[@]}" commit -q -m "Linux $version" \
		-m "Pristine source from the Debian archive: $(basename "$tarball")" \
		-m "sha256: $(sha256sum "$tarball" | cut -d' ' -f1)"
	git -C "$tmp" tag odp-base
	mkdir -p "$ODP_CACHE/git"
	git clone -q --bare "$tmp" "$base_repo.new"
	mv "$base_repo.new" "$base_repo"
	rm -rf "$tmp"
fi

if [ "$pristine" -eq 1 ]; then
	tree="$ODP_BUILD/linux-pristine"
	# A clone of another tarball's repository (the pin moved) goes.
	if [ -d "$tree/.git" ] && [ "$(git -C "$tree" config remote.origin.url)" != "$base_repo" ]; then
		log "$tree is of another tarball: cloning it again"
		rm -rf "$tree"
	fi
	if [ ! -d "$tree/.git" ]; then
		log "cloning the pristine tree into $tree"
		mkdir -p "$ODP_BUILD"
		git clone -q --shared -b pristine "$base_repo" "$tree"
		git -C "$tree" fetch -q --tags origin
	fi
	git -C "$tree" checkout -q -f --detach odp-base
	git -C "$tree" clean -q -fdx -e '/.git'
	version=$(make -s -C "$tree" kernelversion)
	case "$version" in
	7.3.*) log "pristine Linux $version ready in $tree" ;;
	*) die "expected Linux 7.3.x in $tree, got $version" ;;
	esac
	exit 0
fi

if [ -d "$tree/.git" ]; then
	git -C "$tree" rev-parse -q --verify odp-base >/dev/null ||
		die "$tree exists but has no odp-base tag; remove it"
	exit 0
fi
log "cloning the pristine tree into $tree"
mkdir -p "$ODP_BUILD"
git clone -q --shared -b pristine "$base_repo" "$tree"
git -C "$tree" fetch -q --tags origin
git -C "$tree" checkout -q -b odp odp-base
git -C "$tree" config user.name >/dev/null || git -C "$tree" config user.name "odp-p2p developer"
git -C "$tree" config user.email >/dev/null || git -C "$tree" config user.email "odp-p2p@localhost"
version=$(make -s -C "$tree" kernelversion)
case "$version" in
7.3.*) log "Linux $version ready in $tree" ;;
*) die "expected Linux 7.3.x, got $version" ;;
esac
