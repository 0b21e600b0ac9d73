#!/bin/bash
# guest-setup.sh: runs inside the VM (as root) before any test.  Builds the
# test topology: two hosts, A and B, as network namespaces joined by a veth
# pair, with a Soft-RoCE device on each side, and checks that the test_hmm
# exporters are present.  Names and addresses are exported to the tests
# through /run/odp-p2p/env.
#
# Addresses are from 198.18.0.0/15 (RFC 2544, benchmarking): they exist only
# inside the VM.
set -euo pipefail

NS_A=A NS_B=B
IP_A=198.18.0.1 IP_B=198.18.0.2

fail() { echo "guest-setup: $*" >&2; exit 1; }

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
mkdir -p /run/netns /run/odp-p2p

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add veth-a type veth peer name veth-b
ip link set veth-a netns "$NS_A"
ip link set veth-b netns "$NS_B"
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_A" addr add "$IP_A/24" dev veth-a
ip -n "$NS_B" addr add "$IP_B/24" dev veth-b
ip -n "$NS_A" link set veth-a up
ip -n "$NS_B" link set veth-b up

# Shared mode (the default) keeps both RDMA devices visible from both
# namespaces, so one process can drive both ends; the traffic still crosses
# the two network stacks and the veth pair.
rdma system set netns shared 2>/dev/null || true
ip netns exec "$NS_A" rdma link add rxe_a type rxe netdev veth-a
ip netns exec "$NS_B" rdma link add rxe_b type rxe netdev veth-b

# Wait until both ports are ACTIVE and have an IPv4 RoCE v2 GID.
for dev in rxe_a rxe_b; do
	for _ in $(seq 50); do
		state=$(cat "/sys/class/infiniband/$dev/ports/1/state" 2>/dev/null || true)
		case "$state" in *ACTIVE*) break ;; esac
		sleep 0.1
	done
	case "$state" in *ACTIVE*) ;; *) fail "$dev port not ACTIVE ($state)" ;; esac
done
ip netns exec "$NS_A" ping -q -c 1 -W 2 "$IP_B" >/dev/null || fail "no IP connectivity A -> B"

for d in /dev/hmm_dmirror0 /dev/hmm_dmirror1; do
	[ -c "$d" ] || fail "$d missing (CONFIG_TEST_HMM)"
done

cat >/run/odp-p2p/env <<EOL
export ODP_NS_A=$NS_A ODP_NS_B=$NS_B
export ODP_IP_A=$IP_A ODP_IP_B=$IP_B
export ODP_DEV_A=rxe_a ODP_DEV_B=rxe_b
export ODP_DMIRROR=/dev/hmm_dmirror0 ODP_DMIRROR_PEER=/dev/hmm_dmirror1
EOL
