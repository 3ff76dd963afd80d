#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go modules pinned in go.mod and caches
# them outside the repo, keyed by version. Prints the binaries' directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

module_version() {
	local v
	v="$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
	[[ -n "$v" ]] || die "no version of $1 in $here/go.mod"
	echo "$v"
}

k8s_version="$(module_version k8s.io/kubernetes)"
etcd_version="$(module_version go.etcd.io/etcd/server/v3)"
cache_root="${TKE_NET_E2E_CACHE:-$HOME/.cache/kubectl-tke-net/e2e}"
out="$cache_root/k8s-${k8s_version#v}-etcd-${etcd_version#v}"

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
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

# Serialise concurrent builds of the same versions; the winner's binaries are reused.
exec 9>"$out.lock" || die "cannot open lock file $out.lock"
flock 9 || die "cannot lock $out.lock"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
	echo "$out"
	exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-}"
echo "build.sh: building kube-apiserver $k8s_version and etcd $etcd_version with $go_version" >&2
echo "build.sh: output $out (first build takes several minutes)" >&2

tmp="$(mktemp -d "$cache_root/.build.XXXXXX")" || die "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

cv=k8s.io/component-base/version
k8s_ldflags="-s -w -X $cv.gitVersion=$k8s_version -X $cv.gitTreeState=clean"
k8s_ldflags+=" -X $cv.gitMajor=$(cut -d. -f1 <<<"${k8s_version#v}") -X $cv.gitMinor=$(cut -d. -f2 <<<"$k8s_version")"
k8s_ldflags+=" -X $cv.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

cd "$here"
start=$SECONDS
"$go_bin" build -trimpath -buildvcs=false -ldflags "$k8s_ldflags" -o "$tmp/kube-apiserver" \
	k8s.io/kubernetes/cmd/kube-apiserver || die "go build of kube-apiserver $k8s_version failed"
"$go_bin" build -trimpath -buildvcs=false -ldflags "-s -w" -o "$tmp/etcd" \
	go.etcd.io/etcd/server/v3 || die "go build of etcd $etcd_version failed"

"$tmp/kube-apiserver" --version >&2 || die "built kube-apiserver does not run"
"$tmp/etcd" --version >&2 || die "built etcd does not run"

mkdir -p "$out" || die "cannot create $out"
mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$out/" || die "cannot move binaries into $out"
echo "build.sh: built in $((SECONDS - start))s" >&2
echo "$out"
