#!/bin/bash
# write-bw-demo.sh: the `make run` demo, inside the VM.  ib_write_bw (our
# perftest 25.01 build, from paths.env) with --odp from host A to host B for
# a few message sizes; prints one table and writes JSON per size to
# $ODP_BUILD/bench.
set -euo pipefail
. /run/odp-p2p/env
out="$ODP_BUILD/bench"
bw="$ODP_PERFTEST_BUILD/ib_write_bw"
[ -x "$bw" ] || { echo "missing $bw" >&2; exit 1; }
mkdir -p "$out"

sizes=(${ODP_BENCH_SIZES:-4096 65536 1048576})
iters="${ODP_BENCH_ITERS:-200}"

# RoCE v2 GID index of the device's IPv4 address.
gid_index() {
	local dev="$1" ip="$2" t i
	for t in /sys/class/infiniband/"$dev"/ports/1/gid_attrs/types/*; do
		i="${t##*/}"
		[ "$(cat "$t" 2>/dev/null)" = "RoCE v2" ] || continue
		case "$(cat /sys/class/infiniband/"$dev"/ports/1/gids/"$i")" in
		*"$(printf '%02x%02x:%02x%02x' ${ip//./ })") echo "$i"; return ;;
		esac
	done
	return 1
}
gid_a=$(gid_index "$ODP_DEV_A" "$ODP_IP_A") || { echo "no RoCE v2 GID on $ODP_DEV_A" >&2; exit 1; }
gid_b=$(gid_index "$ODP_DEV_B" "$ODP_IP_B") || { echo "no RoCE v2 GID on $ODP_DEV_B" >&2; exit 1; }

printf '\nib_write_bw --odp, %s (host A) -> %s (host B), %s iterations, Soft-RoCE over veth\n' \
	"$ODP_DEV_A" "$ODP_DEV_B" "$iters"
printf '%12s %12s %16s %16s %14s\n' "bytes" "iterations" "BW peak[MiB/s]" "BW avg[MiB/s]" "MsgRate[Mpps]"
for s in "${sizes[@]}"; do
	port=$((18515 + s % 1000))
	ip netns exec "$ODP_NS_B" "$bw" -d "$ODP_DEV_B" -x "$gid_b" --odp -s "$s" -n "$iters" \
		-p "$port" --out_json --out_json_file="$out/write_bw_$s.json" >"$out/server_$s.log" 2>&1 &
	server=$!
	sleep 1
	if ! ip netns exec "$ODP_NS_A" "$bw" -d "$ODP_DEV_A" -x "$gid_a" --odp -s "$s" -n "$iters" \
		-p "$port" "$ODP_IP_B" >"$out/client_$s.log" 2>&1; then
		cat "$out/client_$s.log" "$out/server_$s.log" >&2
		kill "$server" 2>/dev/null || true
		exit 1
	fi
	wait "$server"
	# The result row: "bytes iterations peak avg msgrate".
	row=$(awk -v s="$s" '$1 == s && NF >= 5 { print; exit }' "$out/client_$s.log")
	[ -n "$row" ] || { cat "$out/client_$s.log" >&2; exit 1; }
	read -r b n peak avg rate <<<"$row"
	printf '%12s %12s %16s %16s %14s\n' "$b" "$n" "$peak" "$avg" "$rate"
done
