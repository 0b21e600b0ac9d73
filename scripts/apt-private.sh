#!/bin/bash
# apt-get with the private source list made by setup-apt.sh.
. "$(dirname "$0")/lib.sh"
exec apt-get "${APT_PRIVATE_OPTS[@]}" "$@"
