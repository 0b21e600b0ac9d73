#!/bin/bash
# lint.sh: static checks on our own C code, as a test suite: cppcheck (no
# findings allowed) and clang-format (the tree must be formatted).  Writes
# build/test-results/lint.xml.
. "$(dirname "$0")/lib.sh"
load_env "$ODP_BUILD/paths.env"

out="$ODP_BUILD/test-results"
mkdir -p "$out"
tap="$out/lint.tap"
: >"$tap"
if ninja -C "$ODP_USERSPACE_BUILD" cppcheck >"$out/cppcheck.log" 2>&1; then
	echo "ok 1 cppcheck" >>"$tap"
else
	cat "$out/cppcheck.log" >&2
	echo "not ok 1 cppcheck" >>"$tap"
fi
mapfile -t files < <(cd "$ODP_ROOT" && git ls-files '*.c' '*.h' | grep -v '^kernel/')
if (cd "$ODP_ROOT" && clang-format --dry-run --Werror "${files[@]}") >"$out/clang-format.log" 2>&1; then
	echo "ok 2 clang-format (${#files[@]} files)" >>"$tap"
else
	cat "$out/clang-format.log" >&2
	echo "not ok 2 clang-format" >>"$tap"
fi
"$ODP_PYTHON" "$ODP_ROOT/tests/report.py" tap lint "$tap" "$out/lint.xml"
