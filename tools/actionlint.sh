#!/usr/bin/env bash
# `make lint`'s workflow linter: actionlint, built from its Go module at a pinned version and cached outside the
# repo (~/.cache/kubectl-tke-net/tools/actionlint-VERSION/, TKE_NET_TOOLS_CACHE to move it), with shellcheck for
# the `run:` scripts. First it proves it can fail (a broken workflow must give both kinds of finding), then it
# checks every workflow under .github/workflows/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

# Go discovery, the build lock and the move into the cache, shared with the e2e build scripts.
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/gobuild.sh
source "$repo/tests/e2e/gobuild.sh"

version=v1.7.12 # builds with Go >= 1.25 (its go.mod)
cache_root="${TKE_NET_TOOLS_CACHE:-$HOME/.cache/kubectl-tke-net/tools}"
out="$cache_root/actionlint-$version"

build() {
	reuse_or_lock actionlint
	echo "actionlint.sh: building actionlint $version with $go_version" >&2
	start=$SECONDS
	GOBIN="$tmp" "$go_bin" install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$version" ||
		die "go install of actionlint $version failed"
	"$tmp/actionlint" -version >&2 || die "built actionlint does not run"
	install_built actionlint
}

# reuse_or_lock exits when the binary is there: build in a subshell, which prints the folder.
bin="$( (build) | tail -n 1)/actionlint"
[[ -x "$bin" ]] || die "no actionlint at $bin"

shellcheck="$(command -v shellcheck)" || die "shellcheck not found: sudo apt-get install shellcheck (make lint-deps)"
# No step runs `shell: python`, so actionlint's pyflakes pass is off rather than depending on what is on PATH.
lint() { "$bin" -no-color -shellcheck="$shellcheck" -pyflakes= "$@"; }

# shellcheck disable=SC2016 # the $UNQUOTED is for the workflow's shell, not this one
broken='name: broken
on: push
jobs:
  test:
    runs-on: ubuntu-24.04
    needs: build
    steps:
      - run: cd $UNQUOTED
'
if found="$(lint - <<<"$broken" 2>&1)"; then
	die "actionlint passed a broken workflow: it checks nothing"
fi
for rule in job-needs shellcheck; do
	grep -q "\[$rule\]" <<<"$found" || die "actionlint missed the [$rule] finding of the broken workflow: $found"
done

cd "$repo"
lint .github/workflows/*.yml
echo "actionlint $version: .github/workflows/*.yml ok" >&2
