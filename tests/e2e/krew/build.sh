#!/usr/bin/env bash
# Builds krew and validate-krew-manifest from the Go module pinned in go.mod and caches
# them outside the repo, keyed by version. Prints the binaries' directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

krew_version="$(awk '$1 == "sigs.k8s.io/krew" && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
[[ -n "$krew_version" ]] || die "no version of sigs.k8s.io/krew in $here/go.mod"
cache_root="${TKE_NET_E2E_CACHE:-$HOME/.cache/kubectl-tke-net/e2e}"
out="$cache_root/krew-${krew_version#v}"

if [[ -x "$out/kubectl-krew" && -x "$out/validate-krew-manifest" ]]; then
	echo "$out"
	exit 0
fi

go_bin="${GO:-}"
if [[ -z "$go_bin" ]]; then
	if [[ -x /usr/local/go/bin/go ]]; then
		go_bin=/usr/local/go/bin/go
	else
		go_bin="$(command -v go)" || die "Go toolchain not found (set GO=/path/to/go)"
	fi
fi

go_version="$("$go_bin" version 2>&1)" || die "$go_bin does not run: $go_version"

mkdir -p "$cache_root" || die "cannot create cache directory $cache_root"

# Serialise concurrent builds of the same version; the winner's binaries are reused.
exec 9>"$out.lock" || die "cannot open lock file $out.lock"
flock 9 || die "cannot lock $out.lock"
if [[ -x "$out/kubectl-krew" && -x "$out/validate-krew-manifest" ]]; then
	echo "$out"
	exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-}"
echo "build.sh: building krew $krew_version with $go_version" >&2

tmp="$(mktemp -d "$cache_root/.build.XXXXXX")" || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

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

mkdir -p "$out" || die "cannot create $out"
mv -f "$tmp/kubectl-krew" "$tmp/validate-krew-manifest" "$out/" || die "cannot move binaries into $out"
echo "build.sh: built in $((SECONDS - start))s" >&2
echo "$out"
