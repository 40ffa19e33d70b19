#!/bin/sh
# demo.sh BINDIR: the whole proxyhdr chain on loopback, as `make demo` runs it.
#
#   clients        DMZ                       LAN                      servers
#   127.0.0.11 -> pp-relay --send-proxy=v2 -> pp-balance --accept-proxy -> s1, s2, s3
#   127.0.0.12     (+ AUTHORITY, UNIQUE_ID)    --balance source, check     pp-strip under
#   ...                                        send-proxy (v1) to each     socat, answering
#                                                                          with what it was told
#
# Every client connects from its own address; each hop opens a new
# connection, and the PROXY headers carry the client's address through.
# The demo prints, per request, the client's address as each hop saw it,
# kills a server and shows pp-balance take it out of rotation, and ends
# with a one-line verdict.  Everything it starts is stopped on exit, also
# on Ctrl-C.  Needs socat; runs in about ten seconds.
set -u

BIN=${1:-}
if [ -z "$BIN" ] || [ ! -x "$BIN/pp-relay" ] || [ ! -x "$BIN/pp-balance" ] ||
    [ ! -x "$BIN/pp-strip" ]; then
	echo "usage: demo.sh BINDIR (the directory of the built pp-* tools)" >&2
	exit 64
fi
BIN=$(cd "$BIN" && pwd)
EX=$(cd "$(dirname "$0")" && pwd)
command -v socat >/dev/null 2>&1 ||
	{ echo "demo: socat is needed (apt-get install socat)" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/proxyhdr-demo.XXXXXX") || exit 1
PIDS=
DONE=

# Stop what we started (by pid: TERM, then KILL after 2 s), remove TMP.
cleanup() {
	[ -n "$DONE" ] && return
	DONE=1
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	i=0
	while [ $i -lt 20 ]; do
		alive=
		for p in $PIDS; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ -z "$alive" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM HUP

# A ':' or ',' in a path inside socat's EXEC:"..." is written '\:' '\,'.
esc() { printf '%s' "$1" | sed 's/[:,]/\\&/g'; }

# busy PORT: something listens on 127.0.0.1:PORT.
busy() {
	socat -u OPEN:/dev/null "TCP:127.0.0.1:$1,connect-timeout=1" \
		>/dev/null 2>&1
}

# Eight free ports in a row, from a random base below the kernel's
# ephemeral range (a port there may be held by a connection in TIME_WAIT,
# and a server cannot bind it even though nothing listens).
# (dash's read takes /proc files a byte at a time and gets one: use awk.)
low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
case $low in '' | *[!0-9]*) low=32768 ;; esac
[ "$low" -gt 12000 ] || low=32768
tries=0
while :; do
	tries=$((tries + 1))
	base=$(( 10000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (low - 10200) ))
	free=1
	for k in 0 1 2 3 4 5 6 7; do
		busy $((base + k)) && { free=; break; }
	done
	[ -n "$free" ] && break
	[ $tries -ge 20 ] && { echo "demo: no free ports found" >&2; exit 1; }
done
S1=$base S2=$((base + 1)) S3=$((base + 2))
LB=$((base + 3)) STATS=$((base + 4)) RELAY=$((base + 5)) TAP=$((base + 6))

# wait_listen PORT: until something listens there (5 s at most).
wait_listen() {
	i=0
	while [ $i -lt 50 ]; do
		busy "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	for f in "$TMP"/*.log; do
		[ -s "$f" ] && sed "s|^|${f##*/}: |" "$f" | tail -n 3 >&2
	done
	echo "demo: FAIL: nothing listens on 127.0.0.1:$1"
	exit 1
}

# metrics: pp-balance's Prometheus text.
metrics() {
	printf 'GET /metrics HTTP/1.0\r\nHost: demo\r\n\r\n' |
		timeout 3 socat -t 2 - "TCP:127.0.0.1:$STATS" 2>/dev/null
}

# up_count: how many servers pp-balance has up.
up_count() {
	metrics | awk '/^pp_balance_server_up\{/ { n += $2 } END { print n + 0 }'
}

start() {
	name=$1
	shift
	"$@" > "$TMP/$name.out" 2> "$TMP/$name.log" &
	PIDS="$PIDS $!"
	eval "PID_$name=$!"
}

echo "proxyhdr demo: client -> pp-relay (DMZ) -> pp-balance (LAN) -> servers, on 127.0.0.1"
echo

# The servers: pp-strip under socat, running whoami (it answers with the
# address it was told).
for n in 1 2 3; do
	eval "port=\$S$n"
	start "s$n" socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=64" \
		"EXEC:$(esc "$BIN/pp-strip") -T 5 --trust 127.0.0.1/32 -- $(esc "$EX/whoami") s$n"
	echo "server s$n    127.0.0.1:$port  socat ... EXEC:\"pp-strip -- whoami s$n\""
done
for n in 1 2 3; do
	eval "wait_listen \$S$n"
done

start balance "$BIN/pp-balance" -v -l "127.0.0.1:$LB" --accept-proxy=v2 \
	--trust 127.0.0.1/32 --balance source --check-interval 250 \
	--rise 1 --fall 2 --grace 1 --stats "127.0.0.1:$STATS" \
	-s "127.0.0.1:$S1,send-proxy,check" -s "127.0.0.1:$S2,send-proxy,check" \
	-s "127.0.0.1:$S3,send-proxy,check"
echo "pp-balance   127.0.0.1:$LB  --accept-proxy=v2 --trust 127.0.0.1/32 --balance source"
echo "                             -s 127.0.0.1:$S1,send-proxy,check (and s2, s3)" \
	"--stats 127.0.0.1:$STATS"
RELAY_OPTS="--send-proxy=v2 --tlv authority=app.example --tlv unique-id=proxyhdr-demo"
# shellcheck disable=SC2086
start relay "$BIN/pp-relay" -v -l "127.0.0.1:$RELAY" -c "127.0.0.1:$LB" \
	$RELAY_OPTS --grace 1
echo "pp-relay     127.0.0.1:$RELAY  -c 127.0.0.1:$LB $RELAY_OPTS"
wait_listen "$LB"
wait_listen "$STATS"
wait_listen "$RELAY"
i=0
while [ "$(up_count)" -lt 3 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "pp-balance reports $(up_count) of 3 servers up"

# What pp-relay writes in front of a client's bytes, decoded by
# pp-inspect: a second pp-relay with the same options, to pp-inspect.
if [ -x "$BIN/pp-inspect" ]; then
	start tap "$BIN/pp-inspect" --once -l "127.0.0.1:$TAP"
	# shellcheck disable=SC2086
	start tapr "$BIN/pp-relay" -q -l "127.0.0.1:$((base + 7))" \
		-c "127.0.0.1:$TAP" $RELAY_OPTS --grace 1
	# pp-inspect --once reports one connection, so no probe connects to it
	# or to the relay in front: the client retries until it gets in.
	i=0
	while ! grep -qs '^payload' "$TMP/tap.out" && [ $i -lt 30 ]; do
		echo hello | timeout 5 socat -t 1 - \
			"TCP:127.0.0.1:$((base + 7)),bind=127.0.0.11" \
			>/dev/null 2>&1 || sleep 0.1
		i=$((i + 1))
	done
	echo
	echo "The header pp-relay sends to pp-balance for client 127.0.0.11 (pp-inspect):"
	grep -E '^(version|src|dst|tlv):' "$TMP/tap.out" | sed 's/^/    /'
fi

# log_of FILE ADDR:PORT: the log line of that client's connection (the
# relays write it when the connection ends: wait a little for it).
log_of() {
	i=0
	while [ $i -lt 20 ]; do
		line=$(grep -sF "client=$2 " "$1" | tail -n 1)
		[ -n "$line" ] && break
		sleep 0.05
		i=$((i + 1))
	done
	printf '%s\n' "$line"
}
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

REQ=0 GOOD=0 KILLED='' WRONG=''
SERVED=

# request N ADDR: one request from client address ADDR, and its line.
request() {
	REQ=$((REQ + 1))
	cport=$((base + 100 + REQ))
	ans=$(printf 'hello from %s\n' "$2" | timeout 5 socat -t 3 -T 5 - \
		"TCP:127.0.0.1:$RELAY,bind=$2:$cport,reuseaddr" 2>/dev/null)
	srv=${ans%%:*}
	told=$(printf '%s\n' "$ans" | sed -n 's/^[^ ]* you are \([^ ]*\) .*/\1/p')
	rl=$(log_of "$TMP/relay.log" "$2:$cport")
	bl=$(log_of "$TMP/balance.log" "$2:$cport")
	relay_saw=$(field "$rl" peer)
	bal_saw=$(field "$bl" client)
	bal_peer=$(field "$bl" peer)
	verdict=ok
	if [ "$told" != "$2:$cport" ]; then
		verdict="WRONG: server was told '${told:-nothing}'"
		WRONG="$WRONG $REQ"
	elif [ -n "$KILLED" ] && [ "$srv" = "$KILLED" ]; then
		verdict="WRONG: served by $KILLED, which is down"
		WRONG="$WRONG $REQ"
	else
		GOOD=$((GOOD + 1))
	fi
	[ -n "$srv" ] || srv=-
	printf '%3d  %-17s %-17s %-17s %-17s %-3s %-17s %s\n' "$REQ" \
		"$2:$cport" "${relay_saw:--}" "${bal_saw:--}" "${bal_peer:--}" \
		"$srv" "${told:--}" "$verdict"
	SERVED="$SERVED $2=$srv"
}

header() {
	printf '%3s  %-17s %-17s %-17s %-17s %-3s %-17s\n' req client \
		"pp-relay: peer" "pp-balance: hdr" "pp-balance: peer" srv \
		"server was told"
}

echo
echo "Round 1: six clients, each from its own address"
header
for c in 11 12 13 14 15 16; do
	request 1 "127.0.0.$c"
done

# Kill the server that had the first client.
first=$(printf '%s\n' "$SERVED" | tr ' ' '\n' | sed -n 's/^127\.0\.0\.11=//p')
case $first in
s1 | s2 | s3) KILLED=$first ;;
*) KILLED=s2 ;;
esac
eval "kpid=\$PID_$KILLED"
eval "kport=\$S${KILLED#s}"
echo
echo "Killing $KILLED (127.0.0.1:$kport, pid $kpid) ..."
t0=$(date +%s%N)
kill -KILL "$kpid"
# (bash reports a killed job on stderr when it reaps it: quietly here.)
wait "$kpid" 2>/dev/null
i=0
while [ $i -lt 50 ]; do
	metrics | grep -q "^pp_balance_server_up{server=\"127.0.0.1:$kport\"} 0" &&
		break
	sleep 0.1
	i=$((i + 1))
done
t1=$(date +%s%N)
grep -F "server 127.0.0.1:$kport is down" "$TMP/balance.log" | tail -n 1 |
	sed 's/^[^s]*server/pp-balance log: server/'
echo "pp-balance /metrics after $(( (t1 - t0) / 1000000 )) ms:"
metrics | grep '^pp_balance_server_up{' |
	sed -e "s/$S1\"/$S1\" (s1)/" -e "s/$S2\"/$S2\" (s2)/" \
	    -e "s/$S3\"/$S3\" (s3)/" -e 's/^/    /'
DOWN_SHOWN=
metrics | grep -q "^pp_balance_server_up{server=\"127.0.0.1:$kport\"} 0" &&
	DOWN_SHOWN=1

echo
echo "Round 2: the same clients again; $KILLED gets none of them"
header
for c in 11 12 13 14 15 16; do
	request 2 "127.0.0.$c"
done

echo
if [ "$GOOD" -eq "$REQ" ] && [ -n "$DOWN_SHOWN" ]; then
	echo "demo: PASS: $GOOD/$REQ requests reached a server with the client's own address"
	exit 0
fi
if [ -z "$DOWN_SHOWN" ]; then
	echo "demo: FAIL: $GOOD/$REQ requests reached a server with the client's own address; $KILLED was not marked down"
else
	echo "demo: FAIL: $GOOD/$REQ requests reached a server with the client's own address (wrong:$WRONG)"
fi
exit 1
