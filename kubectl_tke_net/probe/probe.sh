# kubectl tke-net probe: runs in a short-lived Pod, tests the data path to a Service and writes one JSON line
# per test. POSIX sh; needs busybox 1.30 or later (or the same tools): nslookup, nc, wget, timeout, sed, tr, cut,
# head, tail, grep, true.
#
# Arguments, one test each, fields separated by spaces:
#   "dns NAME"                      resolve NAME as a fully qualified name (no search domains)
#   "tcp HOST PORT"                 TCP connect within PROBE_TCP_TIMEOUT
#   "clb HOST PORT"                 TCP connect to a CLB address within PROBE_CLB_TIMEOUT
#   "http HOST PORT VHOST PATH"     HTTP GET with "Host: VHOST" ("-": HOST itself) within PROBE_CLB_TIMEOUT;
#                                   any answer below 500 counts as an answer
#   "https HOST PORT VHOST PATH"    the same over TLS, without checking the certificate
# Output, appended to PROBE_OUT (default /dev/termination-log, which the kubelet hands back as the
# container's termination message), one line per test in the order they finish, then an end line:
#   {"n":1,"check":"dns","target":"web.shop.svc.cluster.local","ok":true,"ms":4,"address":"172.16.255.10"}
#   {"n":2,"check":"tcp","target":"172.16.255.10:80","ok":false,"ms":2010,"error":"timeout"}
#   {"n":3,"check":"http","target":"10.0.0.50:80","host":"shop.example.com","path":"/","ok":true,"ms":4012,"status":200}
#   {"check":"end","tests":3,"ms":4030}
# Environment: PROBE_DNS_SERVER (default: the resolv.conf nameserver), PROBE_DNS_PORT (default 53),
# PROBE_DNS_TIMEOUT (2), PROBE_TCP_TIMEOUT (2), PROBE_CLB_TIMEOUT (8), PROBE_PARALLEL (8 tests at a time).
# Times are milliseconds from /proc/uptime (10 ms steps). It writes no other file: the root file system
# may be read-only.

set -f
OUT=${PROBE_OUT:-/dev/termination-log}
DNS_T=${PROBE_DNS_TIMEOUT:-2}
TCP_T=${PROBE_TCP_TIMEOUT:-2}
CLB_T=${PROBE_CLB_TIMEOUT:-8}
PAR=${PROBE_PARALLEL:-8}
if ! : > "$OUT" 2>/dev/null; then
	OUT=/dev/stdout
fi
# busybox's full nc only names the cause of a failed connect when verbose; its small nc has no -v at all.
NCV=
if nc 2>&1 | grep -q -e '-v'; then
	NCV="-v -v"
fi

now() {
	if read -r up _ 2>/dev/null < /proc/uptime; then
		case $up in
			*.*) s=${up%.*}; f=${up#*.}; f=${f#0} ;;
			*) s=$up; f=0 ;;
		esac
		echo $((s * 1000 + f * 10))
	else
		echo $(($(date +%s) * 1000))
	fi
}

# A string fit for a JSON value: no quotes, backslashes or control characters, at most 60 characters.
clean() {
	printf '%s' "$1" | tr -d '"\\' | tr '\n\r\t' '   ' | cut -c1-60
}

emit() {
	printf '%s\n' "$1" >> "$OUT"
}

# why STATUS MS TIMEOUT_SECONDS MESSAGE: the cause of a failure in one word where possible.
why() {
	case $4 in
		*refused*) echo refused; return ;;
		*"timed out"*) echo timeout; return ;;
		*unreachable* | *"No route"*) echo unreachable; return ;;
	esac
	if [ "$1" -ge 124 ] || [ "$2" -ge $(($3 * 1000 - 50)) ]; then
		echo timeout
	elif [ -n "$4" ]; then
		clean "$4"
	else
		echo failed
	fi
}

probe_dns() { # N NAME
	name=${2%.}
	t0=$(now)
	res=$(timeout $((DNS_T * 2 + 2)) nslookup ${PROBE_DNS_PORT:+-port=$PROBE_DNS_PORT} -timeout="$DNS_T" -retry=1 \
		"$name." ${PROBE_DNS_SERVER:+"$PROBE_DNS_SERVER"} 2>&1)
	rc=$?
	ms=$(($(now) - t0))
	addr=$(printf '%s\n' "$res" | sed -n '/^Name:/,$ s/^Address:[[:space:]]*//p' | head -n 1)
	head='{"n":'$1',"check":"dns","target":"'$(clean "$name")'"'
	if [ -n "$addr" ]; then
		emit "$head"',"ok":true,"ms":'$ms',"address":"'$(clean "$addr")'"}'
		return
	fi
	case $res in
		*NXDOMAIN*) err=NXDOMAIN ;;
		*SERVFAIL*) err=SERVFAIL ;;
		*REFUSED*) err=REFUSED ;;
		*"timed out"* | *"no servers"*) err=timeout ;;
		*) if [ "$rc" -ge 124 ]; then err=timeout; else err="no address"; fi ;;
	esac
	emit "$head"',"ok":false,"ms":'$ms',"error":"'"$err"'"}'
}

probe_tcp() { # N CHECK HOST PORT TIMEOUT
	t0=$(now)
	# -e true: close as soon as the connection stands (both busybox nc variants; the small one has no -z).
	res=$(timeout $(($5 + 2)) nc $NCV -w "$5" "$3" "$4" -e true 2>&1 < /dev/null)
	rc=$?
	ms=$(($(now) - t0))
	head='{"n":'$1',"check":"'$2'","target":"'$(clean "$3:$4")'"'
	if [ "$rc" -eq 0 ]; then
		emit "$head"',"ok":true,"ms":'$ms'}'
	else
		emit "$head"',"ok":false,"ms":'$ms',"error":"'"$(why "$rc" "$ms" "$5" "$res")"'"}'
	fi
}

probe_http() { # N SCHEME HOST PORT VHOST PATH
	n=$1 scheme=$2 host=$3 port=$4 vhost=$5 path=$6
	case $host in
		*:*) url="$scheme://[$host]:$port$path" ;;
		*) url="$scheme://$host:$port$path" ;;
	esac
	set -- -S -q -O /dev/null
	if [ "$scheme" = https ]; then
		set -- "$@" --no-check-certificate
	fi
	if [ "$vhost" != - ]; then
		set -- "$@" --header "Host: $vhost"
	fi
	if [ "$vhost" = - ]; then
		vhost=
	fi
	t0=$(now)
	res=$(timeout "$CLB_T" wget "$@" "$url" 2>&1)
	rc=$?
	ms=$(($(now) - t0))
	code=$(printf '%s\n' "$res" | sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' | tail -n 1)
	head='{"n":'$n',"check":"'$scheme'","target":"'$(clean "$host:$port")'","host":"'$(clean "$vhost")'","path":"'$(clean "$path")'"'
	if [ -n "$code" ] && [ "$code" -lt 500 ]; then
		emit "$head"',"ok":true,"ms":'$ms',"status":'$code'}'
	elif [ -n "$code" ]; then
		emit "$head"',"ok":false,"ms":'$ms',"status":'$code',"error":"HTTP '$code'"}'
	else
		emit "$head"',"ok":false,"ms":'$ms',"error":"'"$(why "$rc" "$ms" "$CLB_T" "$res")"'"}'
	fi
}

run() { # N SPEC
	n=$1
	set -- $2
	case $1 in
		dns) probe_dns "$n" "$2" ;;
		tcp) probe_tcp "$n" tcp "$2" "$3" "$TCP_T" ;;
		clb) probe_tcp "$n" clb "$2" "$3" "$CLB_T" ;;
		http | https) probe_http "$n" "$1" "$2" "$3" "${4:--}" "${5:-/}" ;;
		*) emit '{"n":'$n',"check":"'$(clean "$1")'","ok":false,"ms":0,"error":"unknown test"}' ;;
	esac
}

start=$(now)
n=0
batch=0
for spec in "$@"; do
	n=$((n + 1))
	run "$n" "$spec" &
	batch=$((batch + 1))
	if [ "$batch" -ge "$PAR" ]; then
		wait
		batch=0
	fi
done
wait
emit '{"check":"end","tests":'$n',"ms":'$(($(now) - start))'}'
