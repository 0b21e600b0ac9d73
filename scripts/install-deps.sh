#!/bin/bash
# Install the host packages the build and the VM need.  Bookworm packages
# come from the machine's own apt sources; virtme-ng comes from trixie
# (Architecture: all) through the private source list.  Idempotent and quick
# when everything is present.
. "$(dirname "$0")/lib.sh"

PKGS=(
	# kernel build, checkpatch, sparse
	build-essential bc bison flex libelf-dev libssl-dev cpio ccache sparse
	perl python3 git rsync xz-utils zstd
	# VM: QEMU (TCG), virtme-ng's dependencies, tools used in the guest
	qemu-system-x86 busybox-static kmod file iproute2 procps ethtool iputils-ping
	python3-argcomplete python3-requests python3-pkg-resources udev
	# rdma-core 65.0 with pyverbs
	cmake ninja-build pkg-config cython3 python3-dev libnl-3-dev
	libnl-route-3-dev libudev-dev
	# perftest 25.01
	autoconf automake libtool libpci-dev pciutils
	# our userspace, reports
	jq cppcheck clang-format valgrind groff-base
	# make run's plot
	gnuplot-nox
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	log "installing ${#missing[@]} packages: ${missing[*]}"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

# virtme-ng 1.35 from trixie installs on bookworm (arch all).
VNG_VERSION=1.35-1
if ! dpkg-query -W -f='${Version}' virtme-ng 2>/dev/null | grep -qxF "$VNG_VERSION"; then
	"$ODP_ROOT/scripts/setup-apt.sh"
	deb="$ODP_CACHE/debs/virtme-ng_${VNG_VERSION}_all.deb"
	if [ ! -e "$deb" ]; then
		mkdir -p "$ODP_CACHE/debs"
		(cd "$ODP_CACHE/debs" && "$ODP_ROOT/scripts/apt-private.sh" download -q \
			"virtme-ng=$VNG_VERSION" >/dev/null) || die "cannot download virtme-ng $VNG_VERSION"
	fi
	log "installing virtme-ng $VNG_VERSION"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "$deb" >/dev/null
fi
command -v vng >/dev/null || die "vng not found after installing virtme-ng"
