#!/usr/bin/env bash
# Builds krew and validate-krew-manifest from the Go module pinned in go.mod and caches
# them outside the repo, keyed by version. Prints the binaries' directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../gobuild.sh
source "$here/../gobuild.sh"

krew_version="$(module_version sigs.k8s.io/krew)"
out="$cache_root/krew-${krew_version#v}"
reuse_or_lock kubectl-krew validate-krew-manifest
echo "build.sh: building krew $krew_version with $go_version" >&2

cd "$here"
start=$SECONDS
# kubectl finds the plugin manager as kubectl-krew on PATH, the name Krew's own installer gives it.
"$go_bin" build -trimpath -buildvcs=false \
	-ldflags "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$krew_version" \
	-o "$tmp/kubectl-krew" sigs.k8s.io/krew/cmd/krew || die "go build of krew $krew_version failed"
"$go_bin" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/validate-krew-manifest" \
	sigs.k8s.io/krew/cmd/validate-krew-manifest || die "go build of validate-krew-manifest $krew_version failed"

KREW_ROOT="$tmp/root" KREW_NO_UPGRADE_CHECK=1 "$tmp/kubectl-krew" version >&2 || die "built krew does not run"
rm -rf "$tmp/root"

install_built kubectl-krew validate-krew-manifest
