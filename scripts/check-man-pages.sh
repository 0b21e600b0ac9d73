#!/bin/sh
# check-man-pages.sh PAGE...: each man page renders without a groff
# warning (groff -ww); a ".so man3/x.3" page instead names a page that
# exists beside it (installed, both go to man3/).  A host test (ctest).
rc=0
for p; do
	first=$(head -n1 "$p")
	case "$first" in
	.so\ *)
		target="$(dirname "$p")/$(basename "${first#.so }")"
		[ -r "$target" ] || { echo "$p: $first: no $target"; rc=1; }
		continue ;;
	esac
	w=$(LC_ALL=C groff -ww -man -z "$p" 2>&1)
	[ -z "$w" ] || { echo "$p: $w"; rc=1; }
done
[ $rc -ne 0 ] || echo "$# man pages render without warnings"
exit $rc
