#!/bin/bash
# apt-get with the private source list made by setup-apt.sh.
. "$(dirname "$0")/lib.sh"
APT_DIR="$ODP_CACHE/apt"
exec apt-get \
	-o Dir::Etc::SourceList="$APT_DIR/sources.list" \
	-o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$APT_DIR/lists" \
	-o Dir::State::Status=/var/lib/dpkg/status \
	-o Dir::Cache::Archives="$APT_DIR/archives" \
	-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
	-o APT::Get::List-Cleanup=false \
	-o Debug::NoLocking=true -o APT::Sandbox::User=root \
	"$@"
