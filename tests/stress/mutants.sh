#!/bin/bash
# mutants.sh build | run: shows that odp_stress's checks can fail.  Each
# mutant breaks odp_stress in one place, so that what it sends, or what
# it expects, is no longer what the kernel should do; each must then fail
# within a short run, in the VM, with the message that names the damage.
#   build: on the host, after the userspace build: writes the mutants to
#          $ODP_BUILD/stress-mutants/, compiled as ninja compiles odp_stress.
#   run:   in the VM (make vm-run CMD='tests/stress/mutants.sh run'): runs
#          each for 20 s and prints one line per mutant; exits 1 if any
#          passed or failed for another reason than its own.
. "$(dirname "$0")/../../scripts/lib.sh"
out="$ODP_BUILD/stress-mutants"

# name|python replacement (old -> new in odp_stress.c)|what its failure says
mutants=(
	# The WRITE/SEND carries another round's bytes than the check expects.
	"stale_source|odp_fill(w->src.addr, w->size, seed);|odp_fill(w->src.addr, w->size, seed + (odp_rnd(&w->rng, 64) == 0));|expected 0x"
	# Pages a disruption emptied between rounds are still expected to hold
	# their bytes: MADV_DONTNEED and the replacements are real.
	"model_ignores_disruptions|mark_disruptions(w, w->seen, d, ZEROS);|(void)0;|an earlier round's or 0"
	# No page counts as raced: disruptions do overlap the traffic.
	"no_raced_pages|memset(w->raced + first, 1, last - first + 1);|(void)0;|(this round's)"
	# The atomics model adds one too many.
	"atomic_model_off_by_one|w->atom[slot] += arg;|w->atom[slot] += arg + 1;|the slot held"
	# The fork child sees its copy change: its compare is given one
	# changed byte, as a NIC write through a shared page would.
	"cow_leak|memcpy(b, w->dev.addr + w->page, len);|memcpy(b, w->dev.addr + w->page, len);\n\tb[len / 2] ^= 1;|copy-on-write"
)

build() {
	local src="$ODP_ROOT/tests/stress/odp_stress.c" b="$ODP_USERSPACE_BUILD"
	local compile link m name old new
	local obj=tests/stress/CMakeFiles/odp_stress.dir/odp_stress.c.o
	# ninja's commands for odp_stress, less their inputs and outputs
	compile=$(ninja -C "$b" -t commands odp_stress | grep -F -- "-c $src" |
		sed -E 's/ -(MD|MT [^ ]+|MF [^ ]+|o [^ ]+|c [^ ]+)//g')
	link=$(ninja -C "$b" -t commands odp_stress | grep -F -- "-o tests/stress/odp_stress " |
		sed 's|^: && ||; s| && :$||; s| -o tests/stress/odp_stress | |')
	[ -n "$compile" ] && [ -n "$link" ] || die "no odp_stress in $b: build the userspace first"
	mkdir -p "$out"
	for m in "${mutants[@]}"; do
		IFS='|' read -r name old new _ <<<"$m"
		OLD="$old" NEW="$new" "$ODP_PYTHON" - "$src" "$out/$name.c" <<'EOF' || die "mutant $name: no such code"
import os, sys
old = os.environ["OLD"].replace("\\n", "\n").replace("\\t", "\t")
new = os.environ["NEW"].replace("\\n", "\n").replace("\\t", "\t")
text = open(sys.argv[1]).read()
if text.count(old) != 1:
    sys.exit(1)
open(sys.argv[2], "w").write(text.replace(old, new))
EOF
		(cd "$b" && eval "$compile -c $out/$name.c -o $out/$name.o" &&
			eval "${link//"$obj"/$out/$name.o} -o $out/$name") ||
			die "mutant $name does not build"
		echo "built $out/$name"
	done
}

run() {
	local m name want rc bad=0
	in_guest
	for m in "${mutants[@]}"; do
		IFS='|' read -r name _ _ want <<<"$m"
		[ -x "$out/$name" ] || die "no $out/$name: run '$0 build' on the host first"
		rc=0
		"$out/$name" --duration 20 --workers 4 --kill-ms 0 >"$out/$name.log" 2>&1 || rc=$?
		if [ "$rc" -eq 1 ] && grep -qF -- "$want" "$out/$name.log"; then
			echo "killed: $name ($(grep -m1 -F -- "$want" "$out/$name.log" | cut -c1-160))"
		else
			echo "SURVIVED: $name (exit $rc, no '$want' in $out/$name.log)"
			bad=1
		fi
	done
	return "$bad"
}

case "${1:-}" in
build) load_env "$ODP_BUILD/paths.env"; build ;;
run) run ;;
*) die "usage: $0 build | run" ;;
esac
