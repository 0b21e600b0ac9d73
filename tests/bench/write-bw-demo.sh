#!/bin/bash
# write-bw-demo.sh: the `make run` demo, inside the VM.  ib_write_bw (our
# perftest 25.01 build) with --odp from host A to host B for a few message
# sizes; writes the table to $ODP_BUILD/bench/write_bw_table.txt (run.sh
# prints it last) and JSON per size next to it.  ib_write_bw is the build's
# (paths.env).  Environment:
# ODP_BENCH_SIZES (4096 65536 1048576), ODP_BENCH_ITERS (200).
. "$(dirname "$0")/../../scripts/lib.sh"
in_guest
out="$ODP_BUILD/bench"
table="$out/write_bw_table.txt"
bw="$ODP_PERFTEST_BUILD/ib_write_bw"

read -r -a sizes <<<"${ODP_BENCH_SIZES:-4096 65536 1048576}"
iters="${ODP_BENCH_ITERS:-200}"

# gid_index DEV IP: the RoCE v2 GID index of the device's IPv4 address.
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

# wait_listening NS PORT PID: until a TCP socket listens on PORT in
# namespace NS (perftest's out-of-band exchange), while PID lives; 30 s.
wait_listening() {
	local ns="$1" port="$2" pid="$3" deadline=$(($(date +%s) + 30))
	until [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :$port")" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

gid_a=$(gid_index "$ODP_DEV_A" "$ODP_IP_A") || die "no RoCE v2 GID on $ODP_DEV_A"
gid_b=$(gid_index "$ODP_DEV_B" "$ODP_IP_B") || die "no RoCE v2 GID on $ODP_DEV_B"

{
	printf 'ib_write_bw --odp, %s (host A) -> %s (host B), %s iterations, Soft-RoCE over veth\n' \
		"$ODP_DEV_A" "$ODP_DEV_B" "$iters"
	printf '%12s %12s %16s %16s %14s\n' "bytes" "iterations" "BW peak[MiB/s]" "BW avg[MiB/s]" "MsgRate[Mpps]"
} >"$table"
for s in "${sizes[@]}"; do
	port=$((18515 + s % 1000))
	ip netns exec "$ODP_NS_B" "$bw" -d "$ODP_DEV_B" -x "$gid_b" --odp -s "$s" -n "$iters" \
		-p "$port" --out_json --out_json_file="$out/write_bw_$s.json" >"$out/server_$s.log" 2>&1 &
	server=$!
	if ! wait_listening "$ODP_NS_B" "$port" "$server" ||
		! ip netns exec "$ODP_NS_A" "$bw" -d "$ODP_DEV_A" -x "$gid_a" --odp -s "$s" -n "$iters" \
			-p "$port" "$ODP_IP_B" >"$out/client_$s.log" 2>&1; then
		cat "$out/client_$s.log" "$out/server_$s.log" 2>/dev/null >&2
		kill "$server" 2>/dev/null || true
		die "ib_write_bw $s B failed"
	fi
	wait "$server"
	# The result row: "bytes iterations peak avg msgrate".
	row=$(awk -v s="$s" '$1 == s && NF >= 5 { print; exit }' "$out/client_$s.log")
	[ -n "$row" ] || { cat "$out/client_$s.log" >&2; die "no result row for $s B"; }
	read -r b n peak avg rate <<<"$row"
	printf '%12s %12s %16s %16s %14s\n' "$b" "$n" "$peak" "$avg" "$rate" >>"$table"
	log "ib_write_bw --odp, $s B: $avg MiB/s average"
done
echo "JSON per message size in ${out#"$ODP_ROOT"/}/" >>"$table"
