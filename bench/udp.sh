#!/bin/bash
# The UDP benchmark: request/response datagrams straight to an echo
# server (direct), through socat's UDP relay (a process forked for each
# datagram it receives), through pp-relay --udp, and through pp-relay
# --udp --send-proxy=v2 (a v2 DGRAM header on every datagram, stripped
# by the echo server), in one run, printed as ratios to socat.
#
#	bench/udp.sh -o BUILDDIR [-d SECONDS] [-r RUNS] [-s SOURCES]
#	    [-c WINDOW] [-n IDLE] [-N SOCAT_IDLE] [-w WORKERS]
#
# rr:    SOURCES client sockets, each on its own address, WINDOW requests
#        of 64 bytes outstanding in all, for SECONDS: replies/s, p50 and
#        p99 latency (median of RUNS), and datagrams lost.
# us/rq: CPU time (user + system) of the relay and its children per
#        request answered: what the relay costs, apart from how the
#        shared CPUs were divided.
# idle:  IDLE client sockets (SOCAT_IDLE for socat, whose sessions are
#        processes) each send one request and then stay idle: the RSS of
#        the relay and its children, and its growth per session (socat's
#        children are counted whole, shared pages included, as ps shows
#        them).
# Load and echo server are tests/tools/pp-udp (C, one loop each).  The
# machine is shared by client, relay and server: compare ratios within
# a run.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=build secs=3 runs=3 nsrc=32 win=32 nidle=5000 nsocat=200 workers=1
while getopts c:d:hn:N:o:r:s:w: opt; do
	case $opt in
	c) win=$OPTARG ;;
	d) secs=$OPTARG ;;
	n) nidle=$OPTARG ;;
	N) nsocat=$OPTARG ;;
	o) build=$OPTARG ;;
	r) runs=$OPTARG ;;
	s) nsrc=$OPTARG ;;
	w) workers=$OPTARG ;;
	*) echo "usage: bench/udp.sh -o BUILDDIR [-d SECONDS] [-r RUNS]" \
		"[-s SOURCES] [-c WINDOW] [-n IDLE] [-N SOCAT_IDLE]" \
		"[-w WORKERS]" >&2; exit 64 ;;
	esac
done
case $build in /*) ;; *) build=$top/$build ;; esac
udp=$build/tools/pp-udp
bin=$build/bin
for f in "$udp" "$bin/pp-relay"; do
	[ -x "$f" ] || { echo "udp.sh: $f is not built (make bench)" >&2; exit 1; }
done
have_socat=1 have_udp=1
command -v socat >/dev/null || have_socat=0
"$bin/pp-relay" --help 2>/dev/null | grep -q -- --udp || have_udp=0
need=$((nidle * 3 + 1000))
[ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null ||
	{ echo "udp.sh: ulimit -n too low for -n $nidle" >&2; exit 1; }

. "$top/bench/lib.sh"

# bound PORT: until a UDP socket is bound there (nothing to connect to).
bound() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -n "$(ss -Huan "sport = :$1" 2>/dev/null)" ] && return 0
		sleep 0.025
	done
	echo "udp.sh: nothing bound on UDP port $1" >&2
	return 1
}

# Echo servers: plain (direct, socat, pp-relay) and one that strips the
# v2 header (pp-relay --send-proxy=v2).
"$udp" echo -l "127.0.0.1:$(port 1)" > /dev/null & pids+=($!)
"$udp" echo -l "127.0.0.1:$(port 2)" -m proxy > /dev/null & pids+=($!)
bound "$(port 1)" && bound "$(port 2)" || exit 1

# start_target KIND PORT [SOCAT_OPTS]: the relay of KIND on PORT, its
# pid in $tpid (none for direct).
start_target() {
	local kind=$1 lp=$2
	tpid=
	case $kind in
	direct) return 0 ;;
	socat)
		# shellcheck disable=SC2086
		socat ${3:-} "UDP4-RECVFROM:$lp,bind=127.0.0.1,fork" \
			"UDP4-SENDTO:127.0.0.1:$(port 1)" 2>/dev/null & ;;
	pp-relay)
		"$bin/pp-relay" --udp -q -w "$workers" -l "127.0.0.1:$lp" \
			-c "127.0.0.1:$(port 1)" & ;;
	pp-relay-v2)
		"$bin/pp-relay" --udp -q -w "$workers" -l "127.0.0.1:$lp" \
			-c "127.0.0.1:$(port 2)" --send-proxy=v2 & ;;
	esac
	tpid=$!
	pids+=("$tpid")
	bound "$lp"
}

# val KEY LINE: the value of KEY=value in LINE.
val() { tr ' ' '\n' <<< "$2" | sed -n "s/^$1=//p"; }

kinds=direct
[ $have_socat = 1 ] && kinds="$kinds socat"
[ $have_udp = 1 ] && kinds="$kinds pp-relay pp-relay-v2"
[ $have_udp = 1 ] ||
	echo "udp.sh: pp-relay has no --udp: its rows are empty" >&2

# Request/response: every target up at once, the runs interleaved, so a
# busy moment of the machine does not land on one target only.
declare -A ADDR TPID RPS P50 P99 LOST CPU RSS PER
i=0
for kind in $kinds; do
	lp=$(port $((10 + i)))
	i=$((i + 1))
	start_target "$kind" "$lp" || exit 1
	TPID[$kind]=$tpid
	if [ "$kind" = direct ]; then ADDR[$kind]=127.0.0.1:$(port 1)
	else ADDR[$kind]=127.0.0.1:$lp; fi
done
for ((r = 0; r < runs; r++)); do
	echo "udp.sh: run $((r + 1)) of $runs ..." >&2
	for kind in $kinds; do
		c0=$(cpu_ticks "${TPID[$kind]}")
		out=$("$udp" load -c "${ADDR[$kind]}" -S 127.7.0.0 -s "$nsrc" \
			-w "$win" -b 64 -d $((secs * 1000)) -T 1000 -t $((secs + 30)))
		sleep 0.6	# socat's children end and are reaped
		c1=$(cpu_ticks "${TPID[$kind]}")
		n=$(val answered "$out")
		val rps "$out" >> "$tmp/rps.$kind"
		val p50_us "$out" >> "$tmp/p50.$kind"
		val p99_us "$out" >> "$tmp/p99.$kind"
		val lost "$out" >> "$tmp/lost.$kind"
		awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { if (a == "-" || n <= 0) print "-";
			else printf "%.1f\n", (b - a) * 1e6 / hz / n }' \
			>> "$tmp/cpu.$kind"
	done
done
for kind in $kinds; do
	RPS[$kind]=$(median < "$tmp/rps.$kind")
	P50[$kind]=$(median < "$tmp/p50.$kind")
	P99[$kind]=$(median < "$tmp/p99.$kind")
	LOST[$kind]=$(median < "$tmp/lost.$kind")
	CPU[$kind]=$(median < "$tmp/cpu.$kind")
	stop_pid "${TPID[$kind]}"
done

# Idle sessions: one target at a time, each client socket's one request
# answered, then all of them idle while the relay is weighed.  socat
# keeps each child 60 s after its one datagram (-t 60), as its session.
for kind in $kinds; do
	if [ "$kind" = direct ] || [ "$kind" = pp-relay-v2 ]; then
		RSS[$kind]=- PER[$kind]=-
		continue
	fi
	k=$nidle
	[ "$kind" = socat ] && k=$nsocat
	echo "udp.sh: $k idle sessions through $kind ..." >&2
	start_target "$kind" "$(port 30)" "-t 60" || exit 1
	sleep 0.3
	before=$(rss_kb "$tpid")
	rm -f "$tmp/ready"
	"$udp" load -c "127.0.0.1:$(port 30)" -S 127.8.0.0 -s "$k" -n "$k" \
		-w 64 -T 3000 -H 60000 -r "$tmp/ready" > "$tmp/idle" &
	ipid=$!
	for ((j = 0; j < 600; j++)); do
		[ -s "$tmp/ready" ] && break
		sleep 0.1
	done
	sleep 0.5
	after=$(rss_kb "$tpid")
	got=$(val answered "$(head -n 1 "$tmp/idle")")
	kill -TERM "$ipid" 2>/dev/null
	wait "$ipid" 2>/dev/null
	[ "${got:-0}" = "$k" ] ||
		echo "udp.sh: $kind answered ${got:-0} of $k idle clients" >&2
	RSS[$kind]=$(awk -v a="$after" 'BEGIN { printf "%.1f", a / 1024 }')
	PER[$kind]=$(awk -v a="$after" -v b="$before" -v n="$k" \
		'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
	stop_pid "$tpid"
	sleep 0.5
done

ratio() {
	awk -v x="$1" -v h="$2" 'BEGIN {
		if (x == "-" || x == "" || h == "-" || h == "" || h == 0) print "-";
		else if (x / h < 0.01) print "<0.01x";
		else printf "%.2fx", x / h }'
}
ref=socat
[ $have_socat = 1 ] || ref=direct
printf '%-12s %9s %7s %7s %8s %7s %6s %8s %7s %7s\n' target req/s ratio \
	"p50 us" "p99 us" "us/rq" lost "RSS MiB" B/idle ratio
for kind in $kinds; do
	printf '%-12s %9s %7s %7s %8s %7s %6s %8s %7s %7s\n' "$kind" \
		"${RPS[$kind]}" "$(ratio "${RPS[$kind]}" "${RPS[$ref]}")" \
		"${P50[$kind]}" "${P99[$kind]}" "${CPU[$kind]}" \
		"${LOST[$kind]}" "${RSS[$kind]}" "${PER[$kind]}" \
		"$(ratio "${PER[$kind]}" "${PER[$ref]}")"
done
printf '(ratios to %s; %s s x %s runs, medians; %s client sockets, %s\n' \
	"$ref" "$secs" "$runs" "$nsrc" "$win 64-byte requests outstanding;"
printf ' pp-relay -w %s; idle: %s sessions, %s for socat (one process each);\n' \
	"$workers" "$nidle" "$nsocat"
echo " us/rq: CPU time of the relay per request)"
if [ $have_udp = 1 ] && [ $have_socat = 1 ]; then
	awk -v r="${RPS[pp-relay]}" -v s="${RPS[socat]}" -v b="${PER[pp-relay]}" \
		'BEGIN { printf "targets: pp-relay >= 3x socat: %s; " \
		"<= 1024 B per idle session: %s\n",
		(s > 0 && r >= 3 * s) ? "met" : "missed",
		(b != "-" && b <= 1024) ? "met" : "missed" }'
fi
