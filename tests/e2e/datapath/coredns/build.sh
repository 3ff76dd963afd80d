#!/usr/bin/env bash
# Builds CoreDNS from the Go module pinned in go.mod and caches it outside the repo, keyed by version.
# Prints the binary's directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../../gobuild.sh
source "$here/../../gobuild.sh"

version="$(module_version github.com/coredns/coredns)"
out="$cache_root/coredns-${version#v}"
reuse_or_lock coredns
echo "build.sh: building CoreDNS $version with $go_version" >&2

cd "$here"
start=$SECONDS
"$go_bin" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/coredns" github.com/coredns/coredns ||
	die "go build of CoreDNS $version failed"
"$tmp/coredns" -version >&2 || die "built coredns does not run"

install_built coredns
