# shellcheck shell=bash
# Common helpers of the odp-p2p scripts, on the host and in the VM: paths,
# logging, stages, paths.env, cached builds, apt options.

set -euo pipefail

ODP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ODP_BUILD="${ODP_BUILD:-$ODP_ROOT/build}"
ODP_CACHE="${ODP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/odp-p2p}"
# Debian's interpreter, not whatever python3 comes first on PATH.
ODP_PYTHON="${ODP_PYTHON:-/usr/bin/python3}"
export ODP_ROOT ODP_BUILD ODP_CACHE ODP_PYTHON

# apt and apt-cache options that point at the private source list and state
# made by setup-apt.sh (the machine's own /etc/apt is never touched).
APT_PRIVATE_OPTS=(
	-o Dir::Etc::SourceList="$ODP_CACHE/apt/sources.list"
	-o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$ODP_CACHE/apt/lists"
	-o Dir::State::Status=/var/lib/dpkg/status
	-o Dir::Cache::Archives="$ODP_CACHE/apt/archives"
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
	-o APT::Get::List-Cleanup=false
	-o Debug::NoLocking=true -o APT::Sandbox::User=root
)

log()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# load_env FILE: source a NAME=value file (paths.env, topology.env) with
# every variable exported, for the programs we start.
load_env() {
	[ -r "$1" ] || die "$1 missing (run 'make build' first?)"
	set -a
	# shellcheck disable=SC1090
	. "$1"
	set +a
}

# record_path NAME VALUE: write NAME='VALUE' into $ODP_BUILD/paths.env, the
# one list of where the build put things: the VM scripts and lint source
# it, CMake reads it.  Each build script records what it built.
record_path() {
	local name="$1" value="$2" f="$ODP_BUILD/paths.env"
	case "$value" in *"'"*) die "$name: a path with a quote: $value" ;; esac
	mkdir -p "$ODP_BUILD"
	(
		flock 9
		{
			echo "# Where the build put things; written by scripts/ (record_path in lib.sh)."
			grep -v -e '^#' -e "^$name=" "$f" 2>/dev/null || true
			printf "%s='%s'\n" "$name" "$value"
		} >"$f.tmp"
		# Unchanged, it keeps its time: CMake configures again on a change.
		if cmp -s "$f.tmp" "$f"; then rm -f "$f.tmp"; else mv -f "$f.tmp" "$f"; fi
	) 9>>"$ODP_BUILD/.paths.lock"
}

# stage NAME CMD...: run CMD, print its duration, append to the stage log
# ($ODP_BUILD/stages.log, which the VM's suites share).  CMD runs in a
# subshell with the caller's errexit, so that a shell function fails at its
# first failing command in a `set -e` script, as it would outside a stage.
stage() {
	local name="$1" start end rc errexit=+e
	shift
	[[ $- == *e* ]] && errexit=-e
	start=$(date +%s)
	log "$name ..."
	set +e
	(
		set "$errexit"
		"$@"
	)
	rc=$?
	set "$errexit"
	end=$(date +%s)
	mkdir -p "$ODP_BUILD"
	printf '%-40s %5ss  rc=%s\n' "$name" "$((end - start))" "$rc" >>"$ODP_BUILD/stages.log"
	if [ "$rc" -ne 0 ]; then
		printf '==> %s FAILED after %ss (rc=%s)\n' "$name" "$((end - start))" "$rc" >&2
		return "$rc"
	fi
	printf '==> %s done in %ss\n' "$name" "$((end - start))" >&2
}

# print_stages START: the stage times of this run and the total since START.
print_stages() {
	echo "Stage times:"
	sed 's/^/  /' "$ODP_BUILD/stages.log"
	echo "  total $(($(date +%s) - $1))s"
}

# print_test_results START RESULTS RC: the end of `make test` and
# `make test-debug`: the stage times since START, then the per-suite counts
# of the suites' results in RESULTS (also written to RESULTS/summary.txt).
# Returns RC, or 1 if the summary cannot be made.
print_test_results() {
	local start="$1" results="$2" rc="$3"
	echo
	print_stages "$start"
	echo
	echo "Results (${results#"$ODP_ROOT/"}):"
	if [ "$rc" -eq 124 ]; then
		echo "  the VM watchdog fired: the suites did not finish"
	fi
	"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" summary "$results" >"$results/summary.txt" || rc=1
	cat "$results/summary.txt"
	return "$rc"
}

# run_and_report STAGE REPORT GUEST_COMMAND...: `make run`, `make bench-hmm`,
# `make bench-rdma`:
# build, run GUEST_COMMAND in the VM as stage STAGE, then print the stage
# times and REPORT (the file GUEST_COMMAND writes) last.  Returns the VM's
# status.
run_and_report() {
	local name="$1" report="$2" start rc=0
	start=$(date +%s)
	"$ODP_ROOT/scripts/build.sh" all
	rm -f "$report"
	stage "$name" "$ODP_ROOT/tests/vm/run-vm.sh" -- "${@:3}" || rc=$?
	echo
	print_stages "$start"
	echo
	[ ! -s "$report" ] || cat "$report"
	return "$rc"
}

# ctest_suite SUITE LABEL: our ctest tests labelled LABEL as test suite
# SUITE: the whole output in $ODP_TEST_RESULTS (default
# $ODP_BUILD/test-results)/SUITE.log, one JUnit case per KTAP result
# (report.py ctest) in SUITE.xml.  Non-zero if ctest or the report failed.
# The caller sets the tests' environment.
ctest_suite() {
	local suite="$1" label="$2" out="${ODP_TEST_RESULTS:-$ODP_BUILD/test-results}" rc=0
	# Whole outputs in the JUnit file: report.py reads each test's KTAP.
	ctest --test-dir "$ODP_USERSPACE_BUILD" -L "$label" --output-on-failure \
		--output-junit "$out/$suite.ctest-junit" \
		--test-output-size-passed 4194304 --test-output-size-failed 4194304 \
		>"$out/$suite.log" 2>&1 || rc=$?
	"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" ctest "$suite" "$out/$suite.ctest-junit" \
		"$out/$suite.xml" || { [ "$rc" -ne 0 ] || rc=1; }
	return "$rc"
}

# baseline_upstream: what a baseline is recorded on: the upstream tarballs
# of Linux and rdma-core that fetch-source.sh gives (names and checksums);
# baseline_file: where make test-baseline records it and make test reads
# it (tests/baseline.py), named after the pins in upstream.lock.
# BASELINE_SUITES: the suites make test compares with the baseline, each
# as SUITE=BASELINE_SUITE (hmm-tests-upstream, 7.3's own hmm-tests.c on the
# series' kernel, answers to the baseline's hmm-tests).
BASELINE_SUITES=(hmm-tests=hmm-tests hmm-tests-upstream=hmm-tests
	rdma-selftests=rdma-selftests pyverbs=pyverbs)
baseline_upstream() {
	local name f
	for name in linux rdma-core; do
		f=$("$ODP_ROOT/scripts/fetch-source.sh" "$name") || die "cannot fetch $name"
		printf '%s (sha256 %s)\n' "$(basename "$f")" "$(sha256sum "$f" | cut -c1-16)"
	done | paste -sd, - | sed 's/,/, /g'
}
baseline_file() {
	awk '$1 == "linux" { l = $5 } $1 == "rdma-core" { r = $5 }
		END { if (l == "" || r == "") exit 1
		      printf "%s/tests/baseline/linux-%s_rdma-core-%s.tsv\n", root, l, r }' \
		root="$ODP_ROOT" "$ODP_ROOT/upstream.lock" || die "upstream.lock pins no linux or rdma-core"
}

# in_guest: for scripts that run in the VM: the topology and the build's
# paths (/run/odp-p2p/env, written by guest-setup.sh), and
# $ODP_BUILD/bench for what they write.
in_guest() {
	[ -r /run/odp-p2p/env ] || die "no /run/odp-p2p/env: run this in the VM (tests/vm/run-vm.sh)"
	# shellcheck disable=SC1091
	. /run/odp-p2p/env
	mkdir -p "$ODP_BUILD/bench"
}

# khugepaged_asleep CMD...: in the VM, run CMD with khugepaged's scans put
# off (its sleep at the most, 2^32-1 ms), then restore the sleep; CMD's
# status.  Linux 7.3's hmm-tests fail now and then when khugepaged
# collapses a range under a test (README, Known issues).  Each write to
# the knob wakes khugepaged for one pass first: give it a second.  A
# khugepaged with no mm to scan also makes one pass when the next mm
# comes, whatever the sleep.
khugepaged_asleep() {
	local knob=/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
	local saved rc=0
	if [ ! -w "$knob" ] || ! saved=$(cat "$knob") || ! echo 4294967295 >"$knob"; then
		warn "cannot put khugepaged to sleep ($knob): running with it awake"
		"$@"
		return
	fi
	sleep 1
	"$@" || rc=$?
	echo "$saved" >"$knob" || warn "could not restore $knob to $saved: khugepaged stays asleep"
	return "$rc"
}

# Run as root, or through sudo when available.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "root is needed to run: $*"
	fi
}

nproc_build() { nproc 2>/dev/null || echo 2; }

# series_patches FILE: the entries of a patch series file (one path per
# line, relative to the file's directory; comments and blank lines skipped).
# A missing file is an empty series.
series_patches() {
	[ -r "$1" ] || return 0
	grep -vE '^\s*(#|$)' "$1" || true
}

# kernel_series_hash PATCH...: identifies kernel/series' patches and their
# contents; apply-series.sh records it to know what build/linux holds.
kernel_series_hash() {
	(cd "$ODP_ROOT/kernel" && { echo "$*"; cat "$@"; } | sha256sum | cut -c1-16)
}

# kernel_make OUT ARG...: make in $ODP_BUILD/linux (or $ODP_KERNEL_TREE)
# with output in OUT,
# through ccache (paths below $ODP_ROOT are hashed relative, so clones at
# other paths share the cache) and with a reproducible build stamp.
kernel_make() {
	local out="$1"
	shift
	CCACHE_DIR="$ODP_CACHE/ccache" CCACHE_BASEDIR="$ODP_ROOT" \
		CCACHE_MAXSIZE=5G CCACHE_COMPILERCHECK=content \
		make -s -C "${ODP_KERNEL_TREE:-$ODP_BUILD/linux}" O="$out" ARCH=x86_64 \
		CC="ccache gcc" HOSTCC="ccache gcc" \
		KBUILD_BUILD_TIMESTAMP="2026-01-01 00:00:00 UTC" \
		KBUILD_BUILD_USER=odp KBUILD_BUILD_HOST=odp \
		-j"$(nproc_build)" "$@"
}

# unpack_patched TARBALL SRC PATCHDIR PATCH...: unpack TARBALL into SRC
# (its top directory stripped) and apply each PATCH (relative to PATCHDIR)
# with patch -p1, refusing fuzz.
unpack_patched() {
	local tarball="$1" src="$2" pdir="$3" p
	shift 3
	mkdir -p "$src"
	tar -xf "$tarball" -C "$src" --strip-components=1
	for p in "$@"; do
		log "applying ${pdir#"$ODP_ROOT"/}/$p"
		patch -d "$src" -p1 -s -F0 --no-backup-if-mismatch <"$pdir/$p" ||
			die "${pdir#"$ODP_ROOT"/}/$p does not apply to $(basename "$tarball")"
	done
}

# keep_recent_builds PREFIX N: of the cached builds PREFIX*/, keep the N
# most recently used.
keep_recent_builds() {
	ls -1dt "$1"*/ | tail -n +"$(($2 + 1))" | xargs -r rm -rf
}

# short_hash: a 16-hex-digit key for what arrives on stdin.
short_hash() { sha256sum | cut -c1-16; }

# source_key TARBALL PATCHDIR PATCH...: what identifies an upstream source
# with our patches, for short_hash: the tarball's checksum, each patch's
# name and contents.
source_key() {
	local tarball="$1" pdir="$2" p
	shift 2
	sha256sum <"$tarball"
	for p in "$@"; do
		echo "$p"
		cat "$pdir/$p" || die "${pdir#"$ODP_ROOT"/}/series names $p, which does not exist"
	done
}

# build_step LOG CMD...: run CMD with its output in LOG; on failure print
# the log's tail and fail.
build_step() {
	local log="$1"
	shift
	"$@" >"$log" 2>&1 && return 0
	tail -n 40 "$log" >&2
	warn "$(basename "$log" .log) failed (see $log)"
	return 1
}

# cached_build NAME KEY BUILD_FN: the cached build NAME-KEY.  Builds it
# once, by running BUILD_FN DIR, in DIR=$ODP_CACHE/userspace/NAME-KEY,
# where it stays (IN_PLACE builds hard-code their paths).  One build of NAME
# at a time; a .done marker says it finished; the 3 most recently used
# builds of NAME are kept.  ccache serves every key: paths are hashed
# relative to DIR and the cwd is not hashed.  Prints DIR.
cached_build() {
	local name="$1" key="$2" fn="$3" dir lock rc
	dir="$ODP_CACHE/userspace/$name-$key"
	mkdir -p "$ODP_CACHE/userspace"
	exec {lock}>"$ODP_CACHE/userspace/.$name.lock"
	flock "$lock"
	if [ -e "$dir/.done" ]; then
		log "$name: up to date ($dir)"
	else
		log "$name: building $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		set +e
		(
			set -e
			export CCACHE_DIR="$ODP_CACHE/ccache" CCACHE_BASEDIR="$dir" CCACHE_NOHASHDIR=1
			"$fn" "$dir"
		) >&2
		rc=$?
		set -e
		[ "$rc" -eq 0 ] || die "$name: the build failed (logs in $dir)"
		touch "$dir/.done"
	fi
	touch "$dir"
	keep_recent_builds "$ODP_CACHE/userspace/$name-" 3
	exec {lock}>&-
	echo "$dir"
}
