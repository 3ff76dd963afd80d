# Sourced by the build scripts of tests/e2e/*/: the Go toolchain, the versioned cache outside the repo,
# and a lock so that concurrent builds of the same version reuse the winner's binaries.
# The caller sets `here` (its folder) before sourcing and `out` before calling reuse_or_lock.

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

# The version of module $1 in the caller's go.mod.
module_version() {
	local v
	v="$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$here/go.mod")"
	[[ -n "$v" ]] || die "no version of $1 in $here/go.mod"
	echo "$v"
}

cache_root="${TKE_NET_E2E_CACHE:-$HOME/.cache/kubectl-tke-net/e2e}"

_all_built() {
	local f
	for f in "$@"; do [[ -x "$out/$f" ]] || return 1; done
}

# Exit printing $out when every named binary is already there; otherwise find Go, take the lock
# (looking once more: another build may have finished meanwhile), and leave go_bin, go_version and
# an empty build folder tmp (removed on exit) for the caller.
reuse_or_lock() {
	if _all_built "$@"; then
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
	exec 9>"$out.lock" || die "cannot open lock file $out.lock"
	flock 9 || die "cannot lock $out.lock"
	if _all_built "$@"; then
		echo "$out"
		exit 0
	fi
	export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-}"
	tmp="$(mktemp -d "$cache_root/.build.XXXXXX")" || die "mktemp failed"
	trap 'rm -rf "$tmp"' EXIT
}

# Move the built binaries from tmp into out and print out.
install_built() {
	mkdir -p "$out" || die "cannot create $out"
	local f
	for f in "$@"; do mv -f "$tmp/$f" "$out/" || die "cannot move $f into $out"; done
	echo "build.sh: built in $((SECONDS - start))s" >&2
	echo "$out"
}
