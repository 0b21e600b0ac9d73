#!/bin/bash
# fetch-source.sh NAME: download the pinned upstream source NAME (see
# upstream.lock) from the Debian archive into $ODP_CACHE/src, verify its
# SHA-256 and print the tarball's path on stdout.
#
# "linux" tries the orig tarball of the linux source package first and falls
# back to the tarball inside linux-source-7.3 (same upstream version).  If
# the archive no longer has the pinned 7.3.x point release but has a newer
# 7.3.y, that one is taken with a loud warning and without a checksum pin;
# the kernel series must still apply to it (apply-series.sh checks that).
. "$(dirname "$0")/lib.sh"

name="${1:?usage: fetch-source.sh NAME}"
"$ODP_ROOT/scripts/setup-apt.sh"

apt_cache() { apt-cache "${APT_PRIVATE_OPTS[@]}" "$@"; }

# available_versions KIND PKG
available_versions() {
	if [ "$1" = src ]; then
		apt_cache showsrc "$2" 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -uV
	else
		apt_cache show "$2" 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -uV
	fi
}

# fetch NAME: echo the verified tarball path, or return 1.
fetch() {
	local name="$1" kind pkg version upstream sha versions newer dest tmp f actual
	read -r _ kind pkg version upstream sha < <(awk -v n="$name" '$1 == n' "$ODP_ROOT/upstream.lock") ||
		die "$name is not in upstream.lock"

	versions=$(available_versions "$kind" "$pkg")
	if ! grep -qxF "$version" <<<"$versions"; then
		case "$name" in
		linux*)
			newer=$(grep -E "^${upstream%.*}\.[0-9]+-" <<<"$versions" | tail -n1 || true)
			[ -n "$newer" ] || { warn "no $pkg ${upstream%.*}.x in the archive"; return 1; }
			warn "*****************************************************************"
			warn "$pkg $version is no longer in the archive: using $newer."
			warn "Check the kernel series against it and update upstream.lock."
			warn "*****************************************************************"
			version="$newer" upstream="${newer%%-*}" sha=""
			;;
		*) die "$pkg $version is not in the archive (it has: $(echo $versions))" ;;
		esac
	fi

	dest="$ODP_CACHE/src"
	mkdir -p "$dest"
	if [ "$kind" = src ]; then
		f="$dest/${pkg}_${upstream}.orig.tar"
	else
		f="$dest/${pkg}_${version}.tar"
	fi
	f=$(ls "$f".* 2>/dev/null | head -n1 || true)

	if [ -z "$f" ]; then
		log "downloading $pkg $version from the Debian archive"
		tmp=$(mktemp -d "$dest/.dl.XXXXXX")
		if [ "$kind" = src ]; then
			# The archive often lacks the .dsc (404) and apt-get then fails
			# although the tarballs arrived: the checksum below decides.
			(cd "$tmp" && "$ODP_ROOT/scripts/apt-private.sh" source --download-only -q \
				"$pkg=$version" >"$tmp/apt.log" 2>&1) || true
			f=$(ls "$tmp/${pkg}_${upstream}".orig.tar.* 2>/dev/null | head -n1 || true)
			[ -n "$f" ] && mv "$f" "$dest/" && f="$dest/$(basename "$f")"
		else
			(cd "$tmp" && "$ODP_ROOT/scripts/apt-private.sh" download -q \
				"$pkg=$version" >"$tmp/apt.log" 2>&1) || true
			if ls "$tmp"/*.deb >/dev/null 2>&1; then
				dpkg-deb --fsys-tarfile "$tmp"/*.deb |
					tar -x -C "$tmp" --wildcards './usr/src/*.tar.*'
				f=$(ls "$tmp"/usr/src/*.tar.* | head -n1)
				mv "$f" "$dest/${pkg}_${version}.tar.${f##*.tar.}"
				f="$dest/${pkg}_${version}.tar.${f##*.tar.}"
			fi
		fi
		if [ -z "$f" ]; then
			grep -E '^(E|Err):' "$tmp/apt.log" | sed 's/^/    apt: /' >&2 || true
			rm -rf "$tmp"
			warn "download of $pkg $version failed"
			return 1
		fi
		rm -rf "$tmp"
	fi

	actual=$(sha256sum "$f" | cut -d' ' -f1)
	if [ -n "$sha" ] && [ "$actual" != "$sha" ]; then
		rm -f "$f"
		die "$f: SHA-256 $actual, expected $sha (removed)"
	fi
	echo "$f"
}

if [ "$name" = linux ]; then
	# Prefer whatever is already cached, then the orig tarball, then the
	# linux-source package (say so once, when that one is downloaded).
	if ls "$ODP_CACHE"/src/linux_*.orig.tar.* >/dev/null 2>&1; then
		fetch linux
	elif ls "$ODP_CACHE"/src/linux-source-*.tar.* >/dev/null 2>&1; then
		fetch linux-source
	else
		fetch linux || {
			warn "linux orig tarball unavailable; using the linux-source-7.3 package"
			fetch linux-source
		}
	fi || die "cannot fetch Linux 7.3 from the archive"
else
	fetch "$name" || die "cannot fetch $name"
fi
