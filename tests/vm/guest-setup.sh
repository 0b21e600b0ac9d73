#!/bin/bash
# guest-setup.sh: runs inside the VM (as root) before any test.  Builds the
# test topology named in topology.env: two hosts, A and B, as network
# namespaces joined by a veth pair, with a Soft-RoCE device on each side,
# and checks that the test_hmm devices are present.  /run/odp-p2p/env then
# exports the topology and the build's paths (paths.env, then the file
# $ODP_GUEST_ENV names, if any: make test-baseline's pristine builds) to the
# tests.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${ODP_BUILD:-$root/build}"
if [ -n "${ODP_GUEST_ENV:-}" ]; then
	[ -r "$ODP_GUEST_ENV" ] || { echo "guest-setup: no $ODP_GUEST_ENV" >&2; exit 1; }
fi
# shellcheck source=topology.env
. "$here/topology.env"

fail() { echo "guest-setup: $*" >&2; exit 1; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
mkdir -p /run/netns /run/odp-p2p

ip netns add "$ODP_NS_A"
ip netns add "$ODP_NS_B"
ip link add "$ODP_NETDEV_A" type veth peer name "$ODP_NETDEV_B"
ip link set "$ODP_NETDEV_A" netns "$ODP_NS_A"
ip link set "$ODP_NETDEV_B" netns "$ODP_NS_B"
for ns in "$ODP_NS_A" "$ODP_NS_B"; do
	ip -n "$ns" link set lo up
done
ip -n "$ODP_NS_A" addr add "$ODP_IP_A/24" dev "$ODP_NETDEV_A"
ip -n "$ODP_NS_B" addr add "$ODP_IP_B/24" dev "$ODP_NETDEV_B"
ip -n "$ODP_NS_A" link set "$ODP_NETDEV_A" up
ip -n "$ODP_NS_B" link set "$ODP_NETDEV_B" up

# Shared mode (the default) keeps both RDMA devices visible from both
# namespaces, so one process can drive both ends; the traffic still crosses
# the two network stacks and the veth pair.
rdma system set netns shared 2>/dev/null || true
ip netns exec "$ODP_NS_A" rdma link add "$ODP_DEV_A" type rxe netdev "$ODP_NETDEV_A"
ip netns exec "$ODP_NS_B" rdma link add "$ODP_DEV_B" type rxe netdev "$ODP_NETDEV_B"

# Wait until both ports are ACTIVE and have an IPv4 RoCE v2 GID.
for dev in "$ODP_DEV_A" "$ODP_DEV_B"; do
	for _ in $(seq 50); do
		state=$(cat "/sys/class/infiniband/$dev/ports/1/state" 2>/dev/null || true)
		case "$state" in *ACTIVE*) break ;; esac
		sleep 0.1
	done
	case "$state" in *ACTIVE*) ;; *) fail "$dev port not ACTIVE ($state)" ;; esac
done
ip netns exec "$ODP_NS_A" ping -q -c 1 -W 2 "$ODP_IP_B" >/dev/null || fail "no IP connectivity A -> B"

for d in "$ODP_DMIRROR" "$ODP_DMIRROR_PEER"; do
	[ -c "$d" ] || fail "$d missing (CONFIG_TEST_HMM)"
done

# test_hmm's PCI driver matches nothing by itself: hand it the ivshmem
# functions that run-vm.sh adds (A gets /dev/hmm_dmirror4, B 5).
"$here/bind-bar.sh" || fail "the BAR exporter's functions did not all bind"

# A PCI importer that cannot reach those BARs by P2PDMA, for hmm-tests: a
# function on the root complex, while they are behind a switch (run-vm.sh),
# so that only the host bridge could join them.  The P2PDMA core allows that
# on AMD Zen CPUs and whitelisted host bridges; QEMU's q35 host bridge is not
# one, and TCG's default CPU (qemu64) is no Zen: with KVM on a Zen host
# (-cpu host) nothing is declared unreachable.
pci_unreachable=""
family=$(awk -F': ' '/^cpu family/ { print $2; exit }' /proc/cpuinfo)
if ! grep -q '^vendor_id.*AuthenticAMD' /proc/cpuinfo || [ "${family:-0}" -lt 23 ]; then
	for f in /sys/bus/pci/devices/*; do
		case "$(readlink -f "$f")" in
		/sys/devices/pci*/*/*) continue ;;	# behind a bridge
		esac
		# Bound, no bridge, and its driver lets it address all memory:
		# hmm_dma_map_alloc() refuses a device that cannot.
		[ -e "$f/driver" ] || continue
		case "$(cat "$f/class")" in 0x06*) continue ;; esac
		[ "$(cat "$f/dma_mask_bits" 2>/dev/null)" = 64 ] || continue
		pci_unreachable="${f##*/}"
		break
	done
fi

cat >/run/odp-p2p/env <<EOL
# Written by guest-setup.sh: the topology and where the build put things.
set -a
ODP_ROOT='$root'
ODP_BUILD='$build'
. '$here/topology.env'
. '$build/paths.env'
${ODP_GUEST_ENV:+. '$ODP_GUEST_ENV'}
ODP_PCI_UNREACHABLE='$pci_unreachable'
set +a
EOL
