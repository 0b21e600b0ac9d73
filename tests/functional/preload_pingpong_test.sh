#!/bin/bash
# preload_pingpong_test.sh ODP_DEVMEM RDMA_CORE_BIN: unmodified verbs
# programs on device memory.  rdma-core's ibv_rc_pingpong -o -c (ODP MRs,
# the server checks what it received) between host A (rxe_a, test_hmm's
# $ODP_DMIRROR, default /dev/hmm_dmirror0) and host B (rxe_b,
# $ODP_DMIRROR_PEER, default /dev/hmm_dmirror1; namespace B), each under
# `odp-devmem run -n 1`: the preload library moves each ODP MR's buffer to
# its own test_hmm device at registration and after every completion.
# ctest runs it on the RAM-backed devices and, as preload_pingpong_test_bar,
# on the BAR devices (4 and 5), whose aliases rxe reaches through MMIO.
# Prints KTAP, one result per check:
#   - both sides exit 0 (rc_pingpong's own check, -c, compares every byte
#     the server received with a constant: weak; the byte-exact checks of
#     the alias path are the other functional tests');
#   - with aliases offered, the client's 16 pages are all on its device at
#     deregistration (its CPU does not touch them after the first fill),
#     every page the NICs faulted was an alias (alias_pages > 0, no
#     fallback, nothing refused), and the only pages migrated to RAM are
#     those the programs' CPUs touched: the client's initial fill and the
#     server's final check, 16 each;
#   - with -R (the exporter refuses aliases, Linux 7.3's behaviour) the same
#     run passes, on both sides no alias is offered or mapped, the NIC's
#     faults are fallbacks and migrated more than the CPU's own pages;
#   - bad `run` usage fails with status 2 (127 for a missing program).
# Exits 4 (skip) without rxe devices or test_hmm, unless ODP_NO_SKIP=1.
set -u
tool="${1:?usage: preload_pingpong_test.sh ODP_DEVMEM RDMA_CORE_BIN}"
bin="${2:?usage: preload_pingpong_test.sh ODP_DEVMEM RDMA_CORE_BIN}"
dev_a="${ODP_DEV_A:-rxe_a}" dev_b="${ODP_DEV_B:-rxe_b}"
dm_a="${ODP_DMIRROR:-/dev/hmm_dmirror0}" dm_b="${ODP_DMIRROR_PEER:-/dev/hmm_dmirror1}"
ns_b="${ODP_NS_B:-B}" ip_b="${ODP_IP_B:-198.18.0.2}"
size=65536 iters=20 pages=16
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source-path=SCRIPTDIR source=tap.sh
. "$(dirname "$0")/tap.sh"

if [ ! -e /sys/class/infiniband/"$dev_a" ] || [ ! -e /sys/class/infiniband/"$dev_b" ] ||
	[ ! -c "$dm_a" ] || [ ! -c "$dm_b" ] || ! ip netns exec "$ns_b" true 2>/dev/null; then
	echo "TAP version 13"
	echo "1..0 # SKIP needs $dev_a, $dev_b in namespace $ns_b and test_hmm's $dm_a and $dm_b"
	[ "${ODP_NO_SKIP:-0}" = 1 ] && exit 1
	exit 4
fi
echo "TAP version 13"
echo "# exporters: test_hmm:$dm_a (host A), test_hmm:$dm_b (host B)"
echo "1..11"

# pingpong TAG [RUN-OPTION...]: server on B, client on A; reports in
# $tmp/TAG.{server,client}.report, outputs in $tmp/TAG.*.log
pingpong() {
	local tag="$1" srv rc_s rc_c
	shift
	ip netns exec "$ns_b" "$tool" run -e "test_hmm:$dm_b" -n 1 -r "$tmp/$tag.server.report" "$@" -- \
		timeout 120 "$bin/ibv_rc_pingpong" -d "$dev_b" -g 1 -o -c -n "$iters" -s "$size" \
		>"$tmp/$tag.server.log" 2>&1 &
	srv=$!
	# Until the server listens (rc_pingpong's port 18515), at most 20 s
	for _ in $(seq 100); do
		ip netns exec "$ns_b" ss -Hltn 'sport = :18515' 2>/dev/null | grep -q . && break
		sleep 0.2
	done
	"$tool" run -e "test_hmm:$dm_a" -n 1 -r "$tmp/$tag.client.report" "$@" -- \
		timeout 120 "$bin/ibv_rc_pingpong" -d "$dev_a" -g 1 -o -c -n "$iters" -s "$size" "$ip_b" \
		>"$tmp/$tag.client.log" 2>&1
	rc_c=$?
	wait "$srv"
	rc_s=$?
	[ "$rc_c" -eq 0 ] && [ "$rc_s" -eq 0 ]
}

# field REPORT NAME: the number after NAME in REPORT's line that has it
field() { grep -o "$2 [0-9]*" "$1" | head -n1 | awk '{ print $2 }'; }
diag() { cat "$tmp/$1".*.log "$tmp/$1".*.report 2>/dev/null; }

pingpong aliases
result "rc_pingpong -o -c with aliases: both sides exit 0 (its own check included)" $? "$(diag aliases)"
c="$tmp/aliases.client.report" s="$tmp/aliases.server.report"
grep -q "$pages pages at 0x[0-9a-f]*: $pages on test_hmm:$dm_a at deregistration; odp-alias on" "$c"
result "client: all $pages pages on the device at deregistration" $? "$(cat "$c")"
[ "$(field "$c" alias_pages)" -gt 0 ] && [ "$(field "$s" alias_pages)" -gt 0 ] &&
	[ "$(field "$c" alias_fallbacks)" -eq 0 ] && [ "$(field "$s" alias_fallbacks)" -eq 0 ]
result "both MRs mapped aliases, no fallback" $? "$(cat "$c" "$s")"
[ "$(field "$c" alias_refused)" -eq 0 ] && [ "$(field "$s" alias_refused)" -eq 0 ] &&
	[ "$(field "$c" migrated_to_host)" -eq "$pages" ] && [ "$(field "$s" migrated_to_host)" -eq "$pages" ]
result "only the CPUs' own accesses migrated ($pages pages a side)" $? "$(cat "$c" "$s")"
again=$(grep -o "pages moved to the device, [0-9]* times again" "$c" | awk '{ print $6 }')
[ "${again:-0}" -ge "$iters" ]
result "client: moved to the device again after its completions (${again:-0} times)" $? "$(cat "$c")"

pingpong refused -R
result "rc_pingpong -o -c with aliases refused: both sides exit 0" $? "$(diag refused)"
c="$tmp/refused.client.report" s="$tmp/refused.server.report"
refused_ok=0
for r in "$c" "$s"; do
	[ "$(field "$r" alias_pages)" -eq 0 ] && [ "$(field "$r" alias_fallbacks)" -gt 0 ] &&
		[ "$(field "$r" alias_offered)" -eq 0 ] && [ "$(field "$r" alias_refused)" -gt 0 ] &&
		[ "$(field "$r" migrated_to_host)" -gt "$pages" ] || refused_ok=1
done
result "refused, both sides: no alias mapped or offered, the NIC's faults migrated pages" $refused_ok "$(cat "$c" "$s")"

out=$("$tool" run 2>&1)
[ $? -eq 2 ] && grep -q "no PROGRAM to run" <<<"$out"
result "run without a program: usage error" $? "$out"
out=$("$tool" run -n 0 -- true 2>&1)
[ $? -eq 2 ] && grep -q "a number of completions, > 0" <<<"$out"
result "run -n 0: usage error" $? "$out"
out=$("$tool" run -e nvme:0 -- true 2>&1)
st1=$?
out2=$("$tool" run -- /nonexistent/program 2>&1)
st2=$?
[ $st1 -eq 2 ] && grep -q "an exporter is test_hmm" <<<"$out" &&
	[ $st2 -eq 127 ] && grep -q "/nonexistent/program: No such file or directory" <<<"$out2"
result "run -e with an unknown exporter: 2; a missing program: 127" $? "$out
$out2"
out=$(ODP_DEVMEM_QUIET=1 "$tool" run -q -e test_hmm:/dev/null -- "$bin/ibv_rc_pingpong" -d "$dev_a" -g 1 -o -n 1 127.0.0.1 2>&1)
grep -q "cannot open test_hmm:/dev/null: .*ODP MRs stay where the program puts them" <<<"$out"
result "run -q with an exporter that cannot open: still says so" $? "$out"
exit $failed
