#!/bin/bash
# perftest-bench.sh: the `make run` benchmark, inside the VM.  perftest 25.01
# with our patches (perftest-ext/) between host A (rxe_a) and host B (rxe_b,
# namespace B): ib_write_bw and ib_read_bw at 4 KiB, 64 KiB, 1 MiB and
# 4 MiB, and ib_write_lat at 4 KiB and 64 KiB, each size on every case in
# turn:
#   a   host memory, pinned MR
#   b   host memory, ODP (--odp)
#   c   device memory (test_hmm), ODP, aliases offered (--use_hmm)
#   d   device memory, ODP, the alias switch off: the NIC's faults migrate
#   ec  c with --hmm_remigrate=1 (a GPU kernel touches the buffer between
#       iterations: its pages go back to the device)
#   ed  d with --hmm_remigrate=1
#   cR  c over rdma_cm (-R)
#   p   device memory of test_hmm's BAR devices (test_hmm:4 and 5): PCI
#       P2PDMA aliases, which rxe reaches with uncached MMIO accessors
#   pd  p with the alias switch off: the NIC's faults migrate
# 90 runs, about 13 minutes on 2 cores.  One line of progress per run;
# then bench_report.py writes the table ($ODP_BUILD/bench/perftest_table.txt,
# which run.sh prints last), and
# perftest.json, perftest.csv, perftest.png (gnuplot) and one directory of
# raw outputs per run next to it.  Fails if any run fails.
# Environment: QUICK=1 (ib_write_bw at 1 MiB and ib_write_lat at 4 KiB:
# 18 runs, half the bytes, under 4 minutes), ODP_BENCH_CASES (the cases
# above, in order), ODP_BENCH_SIZES (bandwidth sizes, bytes),
# ODP_BENCH_BYTES (bytes per bandwidth run: 32 MiB, QUICK 16 MiB; at least
# 10 and at most 1000 iterations), ODP_BENCH_LAT_ITERS (500, QUICK 200).
. "$(dirname "$0")/../../scripts/lib.sh"
in_guest
here="$ODP_ROOT/tests/bench"
out="$ODP_BUILD/bench"
raw="$out/perftest-runs"
report=("$ODP_PYTHON" "$here/bench_report.py")
pt="$ODP_PERFTEST_BUILD"
devmem="$ODP_USERSPACE_BUILD/userspace/tools/odp-devmem"
[ -x "$pt/ib_write_bw" ] || die "no perftest build ($pt): make build"
help=$("$pt/ib_write_bw" --help 2>&1 || true)
grep -q -- --use_hmm <<<"$help" || die "$pt/ib_write_bw has no --use_hmm"

if [ "${QUICK:-0}" = 1 ]; then
	sizes_default="1048576" bw_tests=(ib_write_bw) lat_sizes=(4096)
	bytes_default=16777216 lat_iters_default=200
else
	sizes_default="4096 65536 1048576 4194304"
	bw_tests=(ib_write_bw ib_read_bw) lat_sizes=(4096 65536)
	bytes_default=33554432 lat_iters_default=500
fi
read -r -a sizes <<<"${ODP_BENCH_SIZES:-$sizes_default}"
read -r -a cases <<<"${ODP_BENCH_CASES:-a b c cR ec d ed p pd}"
bytes="${ODP_BENCH_BYTES:-$bytes_default}"
lat_iters="${ODP_BENCH_LAT_ITERS:-$lat_iters_default}"

# The alias switch of both devices; on again whatever happens.
aliases() {
	"$devmem" dev set "$ODP_DEV_A" odp-alias "$1" >/dev/null &&
		"$devmem" dev set "$ODP_DEV_B" odp-alias "$1" >/dev/null
}
trap 'aliases on' EXIT

# case_opts CASE SIDE(0|1): perftest's memory options for CASE
case_opts() {
	case "$1" in
	a) ;;
	b) echo --odp ;;
	c | d) echo "--use_hmm=test_hmm:$2" ;;
	ec | ed) echo "--use_hmm=test_hmm:$2 --hmm_remigrate=1" ;;
	cR) echo "--use_hmm=test_hmm:$2 -R" ;;
	p | pd) echo "--use_hmm=test_hmm:$(($2 + 4))" ;;
	*) die "unknown case $1 (a b c d ec ed cR p pd)" ;;
	esac
}

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
gid_a=$(gid_index "$ODP_DEV_A" "$ODP_IP_A") || die "no RoCE v2 GID on $ODP_DEV_A"
gid_b=$(gid_index "$ODP_DEV_B" "$ODP_IP_B") || die "no RoCE v2 GID on $ODP_DEV_B"

# wait_server PID RDMA_CM: until perftest's server listens (TCP 18515), or
# for rdma_cm a moment; 30 s at most, while PID lives.
wait_server() {
	local pid="$1" deadline=$(($(date +%s) + 30))
	if [ "$2" = 1 ]; then
		sleep 2
		kill -0 "$pid" 2>/dev/null
		return
	fi
	until [ -n "$(ip netns exec "$ODP_NS_B" ss -Hltn 'sport = :18515')" ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# port_counters FILE: both ports' counters (rdma statistic) as JSON
port_counters() {
	{
		rdma -j statistic show link "$ODP_DEV_A/1"
		rdma -j statistic show link "$ODP_DEV_B/1"
	} >"$1"
}

# one CASE TEST SIZE ITERS: one server/client pair; its outputs in
# $raw/CASE-TEST-SIZE/; bench_report.py records it and prints progress.
one() {
	local c="$1" t="$2" s="$3" n="$4" d cm=0 srv rc_c rc_s start
	d="$raw/$c-$t-$s"
	mkdir -p "$d"
	[ "$c" != cR ] || cm=1
	# shellcheck disable=SC2046  # the options are words
	set -- -d "$ODP_DEV_B" -x "$gid_b" -s "$s" -n "$n" $(case_opts "$c" 1)
	port_counters "$d/counters.before"
	start=$(date +%s%N)
	ip netns exec "$ODP_NS_B" timeout 300 "$pt/$t" "$@" \
		--out_json --out_json_file="$d/server.json" >"$d/server.log" 2>&1 &
	srv=$!
	rc_c=1
	if wait_server "$srv" "$cm"; then
		# shellcheck disable=SC2046
		timeout 300 "$pt/$t" -d "$ODP_DEV_A" -x "$gid_a" -s "$s" -n "$n" \
			$(case_opts "$c" 0) --out_json --out_json_file="$d/client.json" \
			"$ODP_IP_B" >"$d/client.log" 2>&1
		rc_c=$?
	fi
	wait "$srv"
	rc_s=$?
	port_counters "$d/counters.after"
	"${report[@]}" record "$out/perftest.jsonl" "$d" --case "$c" --test "$t" --size "$s" \
		--iters "$n" --rc "$rc_c" "$rc_s" --ms "$((($(date +%s%N) - start) / 1000000))" \
		--progress "$((++done))/$total" || {
		tail -n 30 "$d/client.log" "$d/server.log" >&2
		return 1
	}
}

iters_for() { # SIZE: bandwidth iterations for about $bytes bytes
	local n=$((bytes / $1))
	[ "$n" -ge 10 ] || n=10
	[ "$n" -le 1000 ] || n=1000
	echo "$n"
}

total=$((${#cases[@]} * (${#bw_tests[@]} * ${#sizes[@]} + ${#lat_sizes[@]})))
done=0
rm -rf "$raw" "$out"/perftest.* "$out"/perftest_table.txt
mkdir -p "$raw"
log "perftest benchmark: ${#cases[@]} cases (${cases[*]}), $total runs; raw outputs in ${raw#"$ODP_ROOT"/}/"
failed=0
# every_case TEST SIZE ITERS: the cases one after the other, so that the
# ratios compare runs minutes apart at most (TCG's speed drifts).
every_case() {
	local c
	for c in "${cases[@]}"; do
		case "$c" in d | ed | pd) aliases off ;; *) aliases on ;; esac ||
			die "cannot set the alias switch"
		one "$c" "$@" || failed=1
	done
}
for t in "${bw_tests[@]}"; do
	for s in "${sizes[@]}"; do
		every_case "$t" "$s" "$(iters_for "$s")"
	done
done
for s in "${lat_sizes[@]}"; do
	every_case ib_write_lat "$s" "$lat_iters"
done
aliases on
"${report[@]}" report "$out/perftest.jsonl" --out "$out/perftest" \
	--title "perftest 25.01 + perftest-ext: $ODP_DEV_A (host A) -> $ODP_DEV_B (host B), Soft-RoCE over veth, QEMU TCG" ||
	failed=1
[ "$failed" -eq 0 ] || die "some runs failed (above; raw outputs in ${raw#"$ODP_ROOT"/}/)"
