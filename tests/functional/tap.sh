# tap.sh: sourced by the functional tests written in shell.  result NAME
# STATUS [DIAGNOSTIC] prints one KTAP result, numbered in $n, with the
# diagnostic as comments when STATUS is non-zero; $failed is 1 once one
# failed.
n=0 failed=0
result() { # NAME CONDITION-STATUS [DIAGNOSTIC]
	n=$((n + 1))
	if [ "$2" -eq 0 ]; then
		echo "ok $n $1"
	else
		failed=1
		echo "not ok $n $1"
		[ -z "${3:-}" ] || sed 's/^/# /' <<<"$3"
	fi
}
