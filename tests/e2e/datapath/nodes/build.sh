#!/usr/bin/env bash
# Builds kubelet, kube-proxy and kube-controller-manager from the Go modules pinned in go.mod (the control
# plane's Kubernetes version) and caches them outside the repo, keyed by version. Prints the binaries' directory last.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=../../gobuild.sh
source "$here/../../gobuild.sh"

k8s_version="$(module_version k8s.io/kubernetes)"
cp_version="$(here="$here/../../controlplane" module_version k8s.io/kubernetes)"
[[ "$k8s_version" == "$cp_version" ]] || die "go.mod has Kubernetes $k8s_version, the control plane $cp_version"
out="$cache_root/k8s-${k8s_version#v}-node"
reuse_or_lock kubelet kube-proxy kube-controller-manager
echo "build.sh: building kubelet, kube-proxy and kube-controller-manager $k8s_version with $go_version" >&2
echo "build.sh: output $out (first build takes several minutes)" >&2

cv=k8s.io/component-base/version
ldflags="-s -w -X $cv.gitVersion=$k8s_version -X $cv.gitTreeState=clean"
ldflags+=" -X $cv.gitMajor=$(cut -d. -f1 <<<"${k8s_version#v}") -X $cv.gitMinor=$(cut -d. -f2 <<<"$k8s_version")"
ldflags+=" -X $cv.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

cd "$here"
start=$SECONDS
for cmd in kube-proxy kubelet kube-controller-manager; do
	t=$SECONDS
	"$go_bin" build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$tmp/$cmd" "k8s.io/kubernetes/cmd/$cmd" ||
		die "go build of $cmd $k8s_version failed"
	"$tmp/$cmd" --version >&2 || die "built $cmd does not run"
	echo "build.sh: $cmd in $((SECONDS - t))s" >&2
done

install_built kubelet kube-proxy kube-controller-manager
