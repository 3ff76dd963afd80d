# kubectl tke-net --probe-rules: runs in a short-lived privileged hostNetwork Pod on one node, reads the node's
# kube-proxy rules with the node's own tools (chroot into the node's root, mounted read-only at $RULES_ROOT), keeps
# what concerns the Services asked about, and hands it back gzip'd and base64'd as the termination message.
# POSIX sh; needs busybox (or the same tools): chroot, awk, head, wc, gzip, base64.
#
# Arguments: "svc NS/NAME" (a Service whose rules to keep) and "addr ADDRESS" (an address to keep: its ClusterIP,
# CLB address, node address), any number of each.
# Output: sections "### NAME rc=N" followed by the kept lines of: iptables-save, nft list ruleset, ipvsadm -Ln and
# ip addr show kube-ipvs0 (rc 127: the node has no such tool). At most RULES_MAX bytes (default 1000000) are read
# of each; when the encoded result does not fit the kubelet's 4096 bytes, the message is "too-large N" instead.

set -f
ROOT=${RULES_ROOT:-/host}
MAX=${RULES_MAX:-1000000}
OUT=${RULES_OUT:-/dev/termination-log}
TMP=${RULES_TMP:-/tmp}
SVCS=
ADDRS=
for a in "$@"; do
	case $a in
	"svc "*) SVCS="$SVCS ${a#svc }" ;;
	"addr "*) ADDRS="$ADDRS ${a#addr }" ;;
	esac
done

node() {
	# The node's tool, in this Pod's network namespace (hostNetwork: the node's). RULES_ROOT=- runs it as found
	# on PATH (the script's tests).
	if [ "$ROOT" = - ]; then
		"$@"
	else
		chroot "$ROOT" "$@"
	fi
}

# iptables-save: the lines of the Services (comment "NS/NAME:PORT ...") and every rule of a KUBE-* chain they jump
# to (KUBE-EXT-* and KUBE-FW-* rules carry no comment), in two passes over the saved text.
iptables_keep() {
	awk -v svcs="$SVCS" '
	BEGIN { n = split(svcs, S, " ") }
	function mine(line,   i) { for (i = 1; i <= n; i++) if (index(line, "\"" S[i] ":") || index(line, " " S[i] ":")) return 1; return 0 }
	NR == FNR {
		if (mine($0)) {
			for (i = 1; i <= NF; i++) if (($i == "-j" || $i == "-A") && $(i + 1) ~ /^KUBE-(SVC|SVL|EXT|FW|SEP)-/) keep[$(i + 1)] = 1
		}
		next
	}
	/^\*/ || /^COMMIT/ || /^:KUBE-(SERVICES|NODEPORTS) / { print; next }
	mine($0) || ($1 == "-A" && ($2 in keep)) { print }
	' "$1" "$1"
}

# nft list ruleset: the kube-proxy tables only; in them the chains named after the Services and, of each set and
# map, the elements that name a Service or an address asked about, one per line.
nft_keep() {
	awk -v svcs="$SVCS" -v addrs="$ADDRS" '
	BEGIN { n = split(svcs, S, " "); m = split(addrs, A, " ") }
	function mine(s,   i) {
		for (i = 1; i <= n; i++) if (index(s, "-" S[i] "/") || index(s, "\"" S[i] ":")) return 1
		for (i = 1; i <= m; i++) if (index(s " ", A[i] " ") == 1 || index(s, " " A[i] " ")) return 1
		return 0
	}
	function elements(s,   k, parts, e) {
		sub(/^[ \t]*elements = \{[ \t]*/, "", s)
		if (s ~ /\}[ \t]*$/) { sub(/[ \t]*\}[ \t]*$/, "", s); closed = 1 }
		k = split(s, parts, ",")
		for (e = 1; e <= k; e++) { gsub(/^[ \t]+|[ \t]+$/, "", parts[e]); if (parts[e] != "" && mine(parts[e])) print "\t\t\t" parts[e] "," }
		if (closed) { print "\t\t}"; inel = 0 }
	}
	/^table / { t = ($0 ~ / kube-proxy \{/); if (t) print; next }
	/^[ \t]*$/ { next }
	!t { next }
	/^}/ { print; t = 0; next }
	/^\tchain / { ch = 1; keepch = mine($0); if (keepch) print; next }
	ch { if (keepch) print; if ($0 ~ /^\t}/) ch = 0; next }
	/elements = \{/ { print "\t\telements = {"; inel = 1; closed = 0; elements($0); next }
	inel { closed = 0; elements($0); next }
	{ print }
	' "$1"
}

# ipvsadm -Ln: the virtual services on an address asked about, with their real servers.
ipvs_keep() {
	awk -v addrs="$ADDRS" '
	BEGIN { m = split(addrs, A, " ") }
	function mine(s,   i) { for (i = 1; i <= m; i++) if (index(s, A[i] ":") == 1 || index(s, "[" A[i] "]:") == 1) return 1; return 0 }
	/^(TCP|UDP|SCTP) / { k = mine($2); if (k) print; next }
	/^  ->/ { if (k) print; next }
	{ print }
	' "$1"
}

# ip addr show kube-ipvs0: its header and the addresses asked about.
ipvs0_keep() {
	awk -v addrs="$ADDRS" '
	BEGIN { m = split(addrs, A, " ") }
	function mine(s,   i) { for (i = 1; i <= m; i++) if (index(s, A[i] "/") == 1) return 1; return 0 }
	$1 == "inet" || $1 == "inet6" { if (mine($2)) print; next }
	/^[0-9]+:/ { print }
	' "$1"
}

section() {
	name=$1
	keep=$2
	shift 2
	(
		node "$@" 2>"$TMP/err"
		echo $? >"$TMP/rc"
	) | head -c "$MAX" >"$TMP/raw"
	rc=$(cat "$TMP/rc" 2>/dev/null || echo 1)
	echo "### $name rc=$rc"
	if [ -s "$TMP/raw" ]; then
		$keep "$TMP/raw"
	else
		head -c 300 "$TMP/err"
		echo
	fi
}

{
	section iptables-save iptables_keep iptables-save
	section nft nft_keep nft list ruleset
	section ipvsadm ipvs_keep ipvsadm -Ln
	section kube-ipvs0 ipvs0_keep ip addr show kube-ipvs0
	echo "### end"
} >"$TMP/kept" 2>&1
gzip -c "$TMP/kept" | base64 >"$TMP/encoded"
size=$(wc -c <"$TMP/encoded")
if [ "$size" -gt 4000 ]; then
	echo "too-large $(wc -c <"$TMP/kept")" >"$OUT"
else
	cat "$TMP/encoded" >"$OUT"
fi
