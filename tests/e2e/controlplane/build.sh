#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go modules pinned in go.mod and caches
# them outside the repo, keyed by version. Prints the binaries' directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../gobuild.sh
source "$here/../gobuild.sh"

k8s_version="$(module_version k8s.io/kubernetes)"
etcd_version="$(module_version go.etcd.io/etcd/server/v3)"
out="$cache_root/k8s-${k8s_version#v}-etcd-${etcd_version#v}"
reuse_or_lock kube-apiserver etcd
echo "build.sh: building kube-apiserver $k8s_version and etcd $etcd_version with $go_version" >&2
echo "build.sh: output $out (first build takes several minutes)" >&2

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

install_built kube-apiserver etcd
