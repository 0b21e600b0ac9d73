#!/bin/bash
# perftest_hmm_test.sh ODP_DEVMEM [PERFTEST_BIN]: perftest 25.01 with our
# patches (perftest-ext/) on test_hmm device memory, between host A
# (rxe_a, test_hmm:0) and host B (rxe_b, test_hmm:1, namespace B).
# PERFTEST_BIN defaults to $ODP_PERFTEST_BUILD (paths.env: perftest is
# built after our userspace, since it links libhmmem).  ODP_DEVMEM flips
# the alias switch.  Prints KTAP, one result per check:
#   - every bad option combination exits non-zero with its own message,
#     before any traffic (bogus and empty specs, a quote in the spec, --use_hugepages,
#     --use-null-mr, another memory type in either order, --hmm_remigrate
#     without --use_hmm, with 0, -1 or a non-number, with -b, -D or
#     --run_infinitely); a device that does not exist fails both sides;
#   - ib_write_bw, ib_read_bw, ib_send_bw, ib_atomic_bw and -R (rdma_cm)
#     with aliases offered: both sides exit 0, and on both sides every page
#     of the buffer is on its device at exit, nothing migrated to system
#     RAM, the exporter offered aliases, and the port counted alias pages
#     and no fallback (`rdma statistic`);
#   - the latency tests: the CPU polls one page of each buffer (and
#     ib_write_lat writes one), so at most those pages migrate; ib_send_lat
#     polls its CQ and must not inline from HMM memory: nothing migrates;
#   - -a with --out_json keeps every message size: one JSON result per line
#     of the table, sizes strictly increasing, and the HMM_memory member;
#   - with the alias switch off, the same run migrates pages and offers no
#     alias; --hmm_remigrate=1 then moves them back every iteration, so
#     many more migrate, and the report counts the remigrations;
#   - on the BAR exporter (test_hmm:4 and 5), whose aliases are P2PDMA pages
#     that rxe reaches with MMIO accessors (CONFIG_RDMA_RXE_ODP_P2PDMA),
#     write, read and send leave every page on the devices; an atomic has
#     the responder's page migrated (no CPU atomic on MMIO), the client's
#     buffer stays.
# Exits 4 (skip) without rxe devices, test_hmm or perftest, unless
# ODP_NO_SKIP=1.
set -u
tool="${1:?usage: perftest_hmm_test.sh ODP_DEVMEM [PERFTEST_BIN]}"
bin="${2:-${ODP_PERFTEST_BUILD:-}}"
dev_a="${ODP_DEV_A:-rxe_a}" dev_b="${ODP_DEV_B:-rxe_b}"
ns_b="${ODP_NS_B:-B}" ip_b="${ODP_IP_B:-198.18.0.2}"
py="${ODP_PYTHON:-python3}"
tmp=$(mktemp -d)
# shellcheck disable=SC2317  # the EXIT trap runs it
restore() {
	[ ! -x "$tool" ] || {
		"$tool" dev set "$dev_a" odp-alias on
		"$tool" dev set "$dev_b" odp-alias on
	} >/dev/null 2>&1
	rm -rf "$tmp"
}
trap restore EXIT

# shellcheck source-path=SCRIPTDIR source=tap.sh
. "$(dirname "$0")/tap.sh"

if [ -z "$bin" ] || [ ! -x "$bin/ib_write_bw" ] || [ ! -x "$tool" ] ||
	[ ! -e /sys/class/infiniband/"$dev_a" ] || [ ! -e /sys/class/infiniband/"$dev_b" ] ||
	[ ! -c /dev/hmm_dmirror0 ] || [ ! -c /dev/hmm_dmirror1 ] || ! ip netns exec "$ns_b" true 2>/dev/null; then
	echo "TAP version 13"
	echo "1..0 # SKIP needs perftest ($bin), odp-devmem, $dev_a, $dev_b in namespace $ns_b and test_hmm"
	[ "${ODP_NO_SKIP:-0}" = 1 ] && exit 1
	exit 4
fi
"$bin/ib_write_bw" --help 2>&1 | grep -q -- --use_hmm || {
	echo "TAP version 13"
	echo "1..0 # SKIP $bin/ib_write_bw has no --use_hmm"
	[ "${ODP_NO_SKIP:-0}" = 1 ] && exit 1
	exit 4
}
echo "TAP version 13"
echo "1..33"

# --- bad options: the client alone, no server (it must fail before
# connecting).  bad NAME MESSAGE OPTION...
bad() {
	local name="$1" msg="$2" rc out
	shift 2
	out=$(timeout 30 "$bin/ib_write_bw" -d "$dev_a" -x 1 "$@" "$ip_b" 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$msg" <<<"$out"
	result "bad options: $name exits $rc with \"$msg\"" $? "$*: $out"
}
hmm=--use_hmm=test_hmm:0
bad "bogus backend" "Invalid --use_hmm=gpu0" --use_hmm=gpu0
bad "empty device" "Invalid --use_hmm=test_hmm:" --use_hmm=test_hmm:
bad "a quote in the spec" 'Invalid --use_hmm=test_hmm:"0' '--use_hmm=test_hmm:"0'
bad "hugepages" "cannot be used with --use_hugepages" "$hmm" --use_hugepages
bad "null MR" "cannot be used with --use-null-mr" "$hmm" --use-null-mr
bad "mmap after" "Can't use multiple memory types" "$hmm" --mmap="$tmp/f"
bad "mmap before" "Can't use multiple memory types" --mmap="$tmp/f" "$hmm"
bad "remigrate alone" "--hmm_remigrate needs --use_hmm" --hmm_remigrate=1
bad "remigrate 0" "needs a positive number" "$hmm" --hmm_remigrate=0
bad "remigrate -1" "must be non-negative" "$hmm" --hmm_remigrate=-1
bad "remigrate x" "HMM remigration interval argument 1x should be int" "$hmm" --hmm_remigrate=1x
bad "remigrate -b" "not with -b, -D or --run_infinitely" "$hmm" --hmm_remigrate=1 -b
bad "remigrate -D" "not with -b, -D or --run_infinitely" "$hmm" --hmm_remigrate=1 -D 2
bad "remigrate --run_infinitely" "not with -b, -D or --run_infinitely" "$hmm" --hmm_remigrate=1 --run_infinitely

# --- runs.  pair TAG TOOL SERVER-OPTS -- CLIENT-OPTS -- COMMON-OPTS: server
# on B, client on A, each with its JSON report; the outputs in $tmp.
pair() {
	local tag="$1" t="$2" s=() c=() srv rc_c rc_s
	shift 2
	while [ "$1" != -- ]; do s+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do c+=("$1"); shift; done
	shift
	ip netns exec "$ns_b" timeout 180 "$bin/$t" -d "$dev_b" -x 1 "${s[@]}" "$@" \
		--out_json --out_json_file="$tmp/$tag.server.json" >"$tmp/$tag.server.log" 2>&1 &
	srv=$!
	# Until the server listens (perftest's port 18515; rdma_cm's is not a
	# TCP socket: wait for the process to settle), at most 20 s
	for _ in $(seq 100); do
		ip netns exec "$ns_b" ss -Hltn 'sport = :18515' 2>/dev/null | grep -q . && break
		case " $* " in *" -R "*) sleep 2; break ;; esac
		sleep 0.2
	done
	timeout 180 "$bin/$t" -d "$dev_a" -x 1 "${c[@]}" "$@" \
		--out_json --out_json_file="$tmp/$tag.client.json" "$ip_b" >"$tmp/$tag.client.log" 2>&1
	rc_c=$?
	wait "$srv"
	rc_s=$?
	echo "client $rc_c server $rc_s" >"$tmp/$tag.rc"
	[ "$rc_c" -eq 0 ] && [ "$rc_s" -eq 0 ]
}
diag() { # the exit statuses, each side's whole output (perftest's errors
	# go to stderr unbuffered, so they land at the top of the log, before
	# the stdout flushed at exit), and what the kernel said lately of
	# processes, rxe and ODP (a signal loses perftest's buffered stdout)
	local f
	cat "$tmp/$1.rc" 2>/dev/null
	for f in "$tmp/$1".client.log "$tmp/$1".server.log; do
		[ -e "$f" ] && { echo "--- ${f##*/}"; head -n 80 "$f"; }
	done
	dmesg 2>/dev/null | grep -iE 'segfault|general protection|Out of memory|Killed process|traps:|rxe|odp|hmm' | tail -n 10
}

# port_counters DEV: the port's ODP counters, "name value" per line
port_counters() {
	rdma -j statistic show link "$1/1" | "$py" -c '
import json, sys
for k, v in json.load(sys.stdin)[0].items():
	if k.startswith("odp_"):
		print(k, v)'
}

# check_hmm TAG SIDE EXPR: EXPR (Python) holds for SIDE's HMM_memory member:
# h (the member), p (pages_at_exit), e (exporter_counters), r (results)
# Prints why it fails (a missing or broken report too); callers fail on
# any output.
check_hmm() {
	"$py" - "$tmp/$1.$2.json" "$3" 2>&1 <<'EOF' || echo "check_hmm $1 $2 failed"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    h = d["HMM_memory"]
    p, e, r = h["pages_at_exit"], h["exporter_counters"], d["results"]
    ok = eval(sys.argv[2])
except Exception as ex:
    print("%s: %r" % (sys.argv[1], ex))
    sys.exit(1)
if not ok:
    print("%s: %s is false: HMM_memory %s" % (sys.argv[1], sys.argv[2], json.dumps(h)))
sys.exit(0 if ok else 1)
EOF
}

# hmm_pair TAG TOOL OPTS...: a pair on test_hmm:1 (server) and test_hmm:0
# (client), or on $hmm_server and $hmm_client when set; prints the
# diagnostic if either side failed.
hmm_pair() {
	local tag="$1" t="$2"
	shift 2
	pair "$tag" "$t" --use_hmm="${hmm_server:-test_hmm:1}" -- \
		--use_hmm="${hmm_client:-test_hmm:0}" -- "$@" || diag "$tag"
}

# hmm_case NAME TAG SIDES EXPR TOOL OPTS...: result NAME of a hmm_pair whose
# sides both exit 0 and whose HMM reports satisfy EXPR (check_hmm) on each
# of SIDES ("client" or "client server").
hmm_case() {
	local name="$1" tag="$2" sides="$3" expr="$4" side out
	shift 4
	out=$(hmm_pair "$tag" "$@")
	for side in $sides; do
		[ -n "$out" ] || out=$(check_hmm "$tag" "$side" "$expr")
	done
	[ -z "$out" ]
	result "$name" $? "$out"
}

# aliased TAG TOOL OPTS...: a run with aliases offered; both sides keep all
# their pages on the device and migrate none; the ports count alias pages,
# no fallback.
on_device='p["device"] == h["pages"] and sum(p.values()) == h["pages"] and e["migrated_to_host"] == 0 and e["alias_offered"] > 0'
aliased() {
	local tag="$1" t="$2" out side
	shift 2
	port_counters "$dev_a" >"$tmp/$tag.a0"
	port_counters "$dev_b" >"$tmp/$tag.b0"
	out=$(hmm_pair "$tag" "$t" "$@")
	for side in client server; do
		[ -n "$out" ] || out=$(check_hmm "$tag" "$side" "$on_device")
	done
	port_counters "$dev_a" >"$tmp/$tag.a1"
	port_counters "$dev_b" >"$tmp/$tag.b1"
	[ -n "$out" ] || out=$(paste -d' ' "$tmp/$tag.a0" "$tmp/$tag.a1" "$tmp/$tag.b0" "$tmp/$tag.b1" | awk '
		$1 == "odp_alias_pages" && ($4 <= $2 && $8 <= $6) { print "no alias pages counted: " $0 }
		$1 == "odp_alias_fallbacks" && ($4 != $2 || $8 != $6) { print "alias fallbacks counted: " $0 }')
	[ -z "$out" ]
	result "$t $* with aliases${exporter:+ on the $exporter}: all pages stay on the devices, none migrates" $? "$out"
}
aliased write_bw ib_write_bw -s 65536 -n 50
aliased read_bw ib_read_bw -s 65536 -n 50
aliased send_bw ib_send_bw -s 65536 -n 50
aliased atomic_bw ib_atomic_bw -n 50
aliased write_bw_cm ib_write_bw -s 65536 -n 50 -R

# latency: the CPU polls the last byte of each message (and ib_write_lat
# writes the next), so the page holding it may migrate: at most 2 pages.
polled='e["migrated_to_host"] <= 2 and p["device"] >= h["pages"] - 2 and e["alias_offered"] > 0'
hmm_case "ib_write_lat -s 4096 -n 50: runs, at most the 2 pages the CPU polls migrate" \
	write_lat client "$polled" ib_write_lat -s 4096 -n 50
hmm_case "ib_read_lat -s 4096 -n 50: runs, at most the 2 pages the CPU polls migrate" \
	read_lat client "$polled" ib_read_lat -s 4096 -n 50

# ib_send_lat polls its CQ, not the buffer, and inlines small messages by
# default (perftest reads the payload with the CPU): not from HMM memory,
# so nothing migrates on either side.
hmm_case "ib_send_lat -s 64: no inline from HMM memory, nothing migrates" \
	send_lat "client server" "$on_device" ib_send_lat -s 64 -n 50

# -a: one result per size, as many as the table has lines
out=$(hmm_pair all ib_write_bw -a -n 5)
if [ -z "$out" ]; then
	rows=$(awk '$1 ~ /^[0-9]+$/ && NF >= 5' "$tmp/all.client.log" | wc -l)
	out=$(check_hmm all client "len(r) == $rows and $rows >= 10 and all(a[\"MsgSize\"] < b[\"MsgSize\"] for a, b in zip(r, r[1:])) and $on_device")
fi
[ -z "$out" ]
result "ib_write_bw -a --out_json: every message size in the JSON, the HMM report" $? "$out"

# The alias switch off: the NIC's faults migrate the pages to system RAM.
"$tool" dev set "$dev_a" odp-alias off && "$tool" dev set "$dev_b" odp-alias off
result "odp-devmem dev set odp-alias off on both devices" $?
hmm_case "aliases off: the client's pages migrate to system RAM, no alias" off client \
	'e["alias_offered"] == 0 and e["migrated_to_host"] >= 16 and p["host"] >= 16' \
	ib_write_bw -s 65536 -n 50
hmm_case "aliases off, --hmm_remigrate=1: pages migrate again and again, remigrations counted" \
	remig client \
	'h["remigrate_every"] == 1 and h["remigrations"] >= 40 and e["alias_offered"] == 0 and e["migrated_to_host"] >= 16 * 10' \
	ib_write_bw -s 65536 -n 50 --hmm_remigrate=1
"$tool" dev set "$dev_a" odp-alias on && "$tool" dev set "$dev_b" odp-alias on
result "odp-devmem dev set odp-alias on again" $?

# The BAR exporter (test_hmm:4 on A, 5 on B): its aliases are P2PDMA pages,
# which rxe reaches with MMIO accessors: nothing migrates, but for the
# responder's page of an atomic, which rxe has migrated first.
bar_a="${ODP_DMIRROR_BAR:-/dev/hmm_dmirror4}" bar_b="${ODP_DMIRROR_BAR_PEER:-/dev/hmm_dmirror5}"
if [ -c "$bar_a" ] && [ -c "$bar_b" ]; then
	export hmm_server="test_hmm:${bar_b##*dmirror}" hmm_client="test_hmm:${bar_a##*dmirror}"
	exporter="BAR exporter" aliased bar_write_bw ib_write_bw -s 65536 -n 50
	exporter="BAR exporter" aliased bar_read_bw ib_read_bw -s 65536 -n 50
	exporter="BAR exporter" aliased bar_send_bw ib_send_bw -s 65536 -n 50
	hmm_case "ib_atomic_bw on the BAR exporter: the responder's page migrates, the client's buffer stays" \
		bar_atomic_bw server \
		'e["alias_offered"] > 0 and e["migrated_to_host"] >= 1 and p["host"] >= 1' \
		ib_atomic_bw -n 50
	out=$(check_hmm bar_atomic_bw client "$on_device")
	result "ib_atomic_bw on the BAR exporter: the client's buffer stays on its device" $? "$out"
	unset hmm_server hmm_client
else
	for t in ib_write_bw ib_read_bw ib_send_bw "ib_atomic_bw (responder)" "ib_atomic_bw (client)"; do
		if [ "${ODP_NO_SKIP:-0}" = 1 ]; then
			result "$t on the BAR exporter" 1 "no $bar_a and $bar_b (ODP_NO_SKIP=1)"
		else
			n=$((n + 1))
			echo "ok $n $t on the BAR exporter # SKIP no $bar_a and $bar_b"
		fi
	done
fi

# A device that does not exist: the server fails to open it; both fail.
pair nodev ib_write_bw --use_hmm=test_hmm:7 -- --use_hmm=test_hmm:0 -- -s 65536 -n 5
grep -q "client [1-9]" "$tmp/nodev.rc" && grep -q "server [1-9]" "$tmp/nodev.rc" &&
	grep -q "Couldn't open HMM device memory test_hmm:7" "$tmp/nodev.server.log"
result "--use_hmm=test_hmm:7: both sides fail, the server names the device" $? "$(diag nodev)"

[ "$n" -eq 33 ] || { echo "# planned 33 results, printed $n"; failed=1; }
exit "$failed"
