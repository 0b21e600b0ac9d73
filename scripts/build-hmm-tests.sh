#!/bin/bash
# build-hmm-tests.sh [--pristine]: build the kernel's HMM selftest
# (mm/hmm-tests) out of the tree in $ODP_BUILD/linux (which stays untouched:
# no in-tree build), copy the rdma selftest scripts next to it, record the
# output directory in paths.env (ODP_SELFTESTS) and print it:
#   $ODP_BUILD/selftests/hmm-tests
#   $ODP_BUILD/selftests/rdma/*.sh, $ODP_BUILD/selftests/kselftest/ktap_helpers.sh
# (same relative layout as in the kernel: the rdma scripts source
# "$(dirname "$0")/../kselftest/ktap_helpers.sh").
#
# The rdma scripts assume a modular kernel.  Our VM kernel has everything
# built in and no /lib/modules, so the guest runner must cater for:
#   modprobe (load, and "modprobe -r" in the EXIT cleanup): all six scripts;
#     rxe_sent_rcvd_bytes.sh exits 1 if "modprobe tun"/"modprobe rdma_rxe"
#     fails; with built-ins, "modprobe -r" no longer removes leftover rxe
#     links between scripts.
#   modinfo (skip/exit when it fails): rxe_ipv6.sh, rxe_netns_names.sh,
#     rxe_rping_between_netns.sh, rxe_socket_with_netns.sh,
#     rxe_test_NETDEV_UNREGISTER.sh.
#   rxe_netns_names.sh also requires modprobe on PATH (need_cmd modprobe).
#   rping (not on the host's PATH; rdma-core's build/bin has it):
#     rxe_rping_between_netns.sh, rxe_sent_rcvd_bytes.sh.
#
# --pristine: the same from pristine 7.3 ($ODP_BUILD/linux-pristine, made by
# prepare-linux.sh --pristine) into $ODP_BUILD/baseline/selftests, for the
# baseline run (make test-baseline); nothing is recorded in paths.env.
# --check: only compile and link hmm-tests from $ODP_BUILD/linux as it is
# (a prefix of the series: check-series.sh), into a directory that is
# removed; the compiler's diagnostics on stderr, status 1 if it fails.
. "$(dirname "$0")/lib.sh"

K="$ODP_BUILD/linux"
out="$ODP_BUILD/selftests"
pristine=0
check=0
case "${1:-}" in
"") ;;
--pristine) pristine=1 K="$ODP_BUILD/linux-pristine" out="$ODP_BUILD/baseline/selftests" ;;
--check) check=1 ;;
*) die "usage: build-hmm-tests.sh [--pristine | --check]" ;;
esac
mm="$K/tools/testing/selftests/mm"
[ -r "$mm/hmm-tests.c" ] || die "no kernel tree at $K (run prepare-linux.sh first)"
[ "$check" -eq 1 ] || mkdir -p "$out"

# As verified in the ecosystem brief; flags as in selftests/mm/Makefile.
# Bookworm's /usr/include plus tools/include/uapi stand in for the kernel's
# exported headers (KHDR_INCLUDES), which need an in-tree "make headers".
cflags=(-Wall -O2 -g -U_FORTIFY_SOURCE
	-I"$K" -I"$K/tools/testing/selftests" -I"$mm" -isystem "$K/tools/include/uapi")
srcs=("$mm/hmm-tests.c" "$mm/vm_util.c" "$mm/hugepage_settings.c")
libs=(-lrt -lpthread -lm)
# The test itself (not its helpers) waits for each test as long as
# $ODP_TIMEOUT_SCALE says (tests/lib/harness_timeout.h; make test-debug).
scaled=(-include "$ODP_ROOT/tests/lib/harness_timeout.h")
# hmm_build OUT TEST.C: the test with the timeouts scaled, and the helpers.
hmm_build() {
	local tmp
	tmp=$(mktemp -d) || return 1
	gcc "${cflags[@]}" "${scaled[@]}" -c "$2" -o "$tmp/test.o" &&
		gcc "${cflags[@]}" "$tmp/test.o" "${srcs[@]:1}" "${libs[@]}" -o "$1"
	local rc=$?
	rm -rf "$tmp"
	return "$rc"
}

if [ "$check" -eq 1 ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	hmm_build "$tmp/hmm-tests" "${srcs[0]}"
	exit
fi

# Rebuild only when a file the compiler reads (gcc -M: sources and every
# header, the kernel's and the system's), the flags or this script changed.
hash=$( {
	echo "${cflags[*]} ${libs[*]}"
	cat "${BASH_SOURCE[0]}"
	gcc "${cflags[@]}" "${scaled[@]}" -M "${srcs[@]}" | sed 's/^[^:]*://; s/\\$//' | tr ' ' '\n' |
		grep . | sort -u | xargs cat
} | sha256sum | cut -c1-16)

if [ -x "$out/hmm-tests" ] && [ "$(cat "$out/.hmm-tests.hash" 2>/dev/null)" = "$hash" ]; then
	log "hmm-tests: up to date"
else
	log "hmm-tests: building from $K"
	hmm_build "$out/hmm-tests.tmp" "${srcs[0]}" || die "hmm-tests does not build"
	# The harness lists on stderr and exits KSFT_SKIP (4) after -l.
	rc=0; "$out/hmm-tests.tmp" -l >/dev/null 2>"$out/hmm-tests.list" || rc=$?
	[ "$rc" -eq 4 ] && grep -qw open_close "$out/hmm-tests.list" ||
		die "hmm-tests -l does not list the tests (rc=$rc)"
	mv -f "$out/hmm-tests.tmp" "$out/hmm-tests"
	echo "$hash" >"$out/.hmm-tests.hash"
fi

# The same test as it is in pristine 7.3 (odp-base), built against the
# patched tree's headers (test_hmm's UAPI only grows): running it on the
# patched kernel shows the upstream tests still pass.
if [ "$pristine" -eq 0 ]; then
	up="$out/upstream"
	mkdir -p "$up"
	git -C "$K" show odp-base:tools/testing/selftests/mm/hmm-tests.c >"$up/hmm-tests.c.new"
	if [ -x "$out/hmm-tests-upstream" ] && cmp -s "$up/hmm-tests.c.new" "$up/hmm-tests.c" &&
		[ "$(cat "$out/.hmm-tests-upstream.hash" 2>/dev/null)" = "$hash" ]; then
		rm -f "$up/hmm-tests.c.new"
	else
		mv -f "$up/hmm-tests.c.new" "$up/hmm-tests.c"
		hmm_build "$out/hmm-tests-upstream" "$up/hmm-tests.c" ||
			die "upstream hmm-tests does not build"
		echo "$hash" >"$out/.hmm-tests-upstream.hash"
	fi
fi

# rsync only rewrites what changed; --delete drops scripts removed upstream.
mkdir -p "$out/kselftest"
rsync -a --delete "$K/tools/testing/selftests/rdma/" "$out/rdma/"
rsync -a "$K/tools/testing/selftests/kselftest/ktap_helpers.sh" "$out/kselftest/"

[ "$pristine" -eq 1 ] || record_path ODP_SELFTESTS "$out"
echo "$out"
