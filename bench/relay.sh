#!/bin/bash
# The relay benchmark: the same load through direct connections, socat,
# HAProxy (mode tcp, nbthread as workers; haproxy-lb balances two servers),
# pp-relay and pp-balance (2 servers), in one run, printed as ratios to
# HAProxy.
#
#	bench/relay.sh -o BUILDDIR [-d SECONDS] [-r RUNS] [-n IDLE] [-c CONC]
#	    [-w WORKERS]
#
# bulk:  one stream, as fast as it goes, Gbit/s (median of RUNS).
# conn:  CONC clients in a loop of connect, 64 bytes each way, close:
#        connections/s, p50 and p99 latency (median of RUNS).
# idle:  IDLE connections open at once (one exchange each), RSS of the
#        relay's processes, and its growth per connection.
# ms/GB, us/c: CPU time (user + system) of the target and its workers
#        per GB of bulk and per short connection: what the target costs,
#        apart from how the shared CPUs were divided.
# -w: pp-relay and pp-balance run WORKERS workers, HAProxy as many
# threads (nbthread), socat forks per connection anyway.
# Load and servers are bench_load (one epoll loop each, C).  The machine
# is shared by client, relay and server: compare ratios within a run.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=build secs=3 runs=3 nidle=5000 conc=32 workers=1
while getopts c:d:ho:n:r:w: opt; do
	case $opt in
	w) workers=$OPTARG ;;
	c) conc=$OPTARG ;;
	d) secs=$OPTARG ;;
	n) nidle=$OPTARG ;;
	o) build=$OPTARG ;;
	r) runs=$OPTARG ;;
	*) echo "usage: bench/relay.sh -o BUILDDIR [-d SECONDS] [-r RUNS]" \
		"[-n IDLE] [-c CONC] [-w WORKERS]" >&2; exit 64 ;;
	esac
done
case $build in /*) ;; *) build=$top/$build ;; esac
load=$build/bench/bench_load
bin=$build/bin
for f in "$load" "$bin/pp-relay" "$bin/pp-balance"; do
	[ -x "$f" ] || { echo "relay.sh: $f is not built (make bench)" >&2; exit 1; }
done
have_haproxy=1 have_socat=1
command -v haproxy >/dev/null || have_haproxy=0
command -v socat >/dev/null || have_socat=0
[ "$(ulimit -n)" -ge $((nidle * 2 + 100)) ] ||
	ulimit -n $((nidle * 2 + 1000)) 2>/dev/null ||
	{ echo "relay.sh: ulimit -n too low for -n $nidle" >&2; exit 1; }

. "$top/bench/lib.sh"

waitport() {
	local i
	for ((i = 0; i < 200; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.025
	done
	echo "relay.sh: nothing listens on $1" >&2
	return 1
}

# Servers: two of each kind, for pp-balance.
for k in 0 1; do
	"$load" server "$(port $((1 + k)))" sink > /dev/null & pids+=($!)
	"$load" server "$(port $((3 + k)))" rr:64 > /dev/null & pids+=($!)
	"$load" server "$(port $((5 + k)))" echo > /dev/null & pids+=($!)
done
for k in 1 2 3 4 5 6; do waitport "$(port $k)" || exit 1; done

# start_target KIND PORT SERVER1 SERVER2: the relay of KIND on PORT, its pid
# in $tpid (none for direct).
start_target() {
	local kind=$1 lp=$2 s1=$3 s2=$4
	tpid=
	case $kind in
	direct) return 0 ;;
	socat)
		socat "TCP-LISTEN:$lp,bind=127.0.0.1,reuseaddr,fork,backlog=4096" \
			"TCP:127.0.0.1:$s1" 2>/dev/null & ;;
	haproxy|haproxy-lb)
		cat > "$tmp/h$lp.cfg" <<-EOF
		global
		    nbthread $workers
		    maxconn $((nidle + 1000))
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 60s
		    timeout server 60s
		frontend fe
		    bind 127.0.0.1:$lp
		    maxconn $((nidle + 1000))
		    default_backend be
		backend be
		    balance roundrobin
		    server s1 127.0.0.1:$s1
		EOF
		[ "$kind" = haproxy-lb ] &&
			echo "    server s2 127.0.0.1:$s2" >> "$tmp/h$lp.cfg"
		haproxy -db -f "$tmp/h$lp.cfg" 2>/dev/null & ;;
	pp-relay)
		"$bin/pp-relay" -q -w "$workers" -l "127.0.0.1:$lp" -c "127.0.0.1:$s1" & ;;
	pp-balance)
		"$bin/pp-balance" -q -w "$workers" -l "127.0.0.1:$lp" \
			-s "127.0.0.1:$s1" -s "127.0.0.1:$s2" & ;;
	esac
	tpid=$!
	pids+=("$tpid")
	waitport "$lp"
}

# per T0 T1 AMOUNT MULT: the CPU time between two cpu_ticks readings per
# AMOUNT (an awk expression), in seconds times MULT (1000: ms).
per() {
	awk -v a="$1" -v b="$2" -v m="$4" -v hz="$(getconf CLK_TCK)" \
		"BEGIN { n = $3; if (a == \"-\" || n <= 0) print \"-\";
		else printf \"%.0f\\n\", (b - a) * m / hz / n }"
}

kinds="direct"
[ $have_socat = 1 ] && kinds="$kinds socat"
[ $have_haproxy = 1 ] && kinds="$kinds haproxy haproxy-lb"
kinds="$kinds pp-relay pp-balance"

# Bulk and connection rate: every target up at once, the runs interleaved
# (run 1 of each, then run 2 ...), so that a busy moment of the machine
# does not land on one target only.
declare -A BULK CPS P50 P99 RSS PERCONN ADDR TPID BCPU RCPU
i=0
for kind in $kinds; do
	for test in bulk rr; do
		lp=$(port $((10 + i)))
		i=$((i + 1))
		if [ $test = bulk ]; then s1=$(port 1) s2=$(port 2); else s1=$(port 3) s2=$(port 4); fi
		start_target "$kind" "$lp" "$s1" "$s2" || exit 1
		TPID[$kind.$test]=$tpid
		if [ "$kind" = direct ]; then ADDR[$kind.$test]=127.0.0.1:$s1
		else ADDR[$kind.$test]=127.0.0.1:$lp; fi
	done
done
for ((r = 0; r < runs; r++)); do
	echo "relay.sh: run $((r + 1)) of $runs ..." >&2
	for kind in $kinds; do
		c0=$(cpu_ticks "${TPID[$kind.bulk]}")
		g=$("$load" bulk "${ADDR[$kind.bulk]}" "$secs" | awk '{ print $2 }')
		sleep 0.2	# socat's child ends and is reaped
		c1=$(cpu_ticks "${TPID[$kind.bulk]}")
		echo "$g" >> "$tmp/bulk.$kind"
		# CPU ms per GB moved through the target
		per "$c0" "$c1" "${g:-0} * $secs / 8" 1000 >> "$tmp/bulkcpu.$kind"
	done
	for kind in $kinds; do
		c0=$(cpu_ticks "${TPID[$kind.rr]}")
		out=$("$load" rr "${ADDR[$kind.rr]}" "$secs" "$conc" 64)
		sleep 0.2
		c1=$(cpu_ticks "${TPID[$kind.rr]}")
		echo "$out" >> "$tmp/rr.$kind"
		# CPU us per connection of the target
		per "$c0" "$c1" "$(echo "$out" | awk '{ print $2 + 0 }') * $secs" \
			1000000 >> "$tmp/rrcpu.$kind"
	done
done
for kind in $kinds; do
	BULK[$kind]=$(median < "$tmp/bulk.$kind")
	CPS[$kind]=$(awk '{ print $2 }' "$tmp/rr.$kind" | median)
	P50[$kind]=$(awk '{ print $4 }' "$tmp/rr.$kind" | median)
	P99[$kind]=$(awk '{ print $6 }' "$tmp/rr.$kind" | median)
	BCPU[$kind]=$(median < "$tmp/bulkcpu.$kind")
	RCPU[$kind]=$(median < "$tmp/rrcpu.$kind")
	stop_pid "${TPID[$kind.bulk]}"
	stop_pid "${TPID[$kind.rr]}"
done

# Idle connections: one target at a time.
for kind in $kinds; do
	if [ "$kind" = direct ]; then
		RSS[$kind]=- PERCONN[$kind]=-
		continue
	fi
	echo "relay.sh: $nidle idle connections through $kind ..." >&2
	start_target "$kind" "$(port 30)" "$(port 5)" "$(port 6)" || exit 1
	sleep 0.3
	before=$(rss_kb "$tpid")
	mkfifo "$tmp/hold"
	"$load" idle "127.0.0.1:$(port 30)" "$nidle" < "$tmp/hold" \
		> "$tmp/idle" &
	ipid=$!
	exec 9> "$tmp/hold"
	for ((k = 0; k < 600; k++)); do
		grep -q ready "$tmp/idle" 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	after=$(rss_kb "$tpid")
	exec 9>&-
	wait "$ipid" 2>/dev/null
	rm -f "$tmp/hold" "$tmp/idle"
	RSS[$kind]=$(awk -v a="$after" 'BEGIN { printf "%.1f", a / 1024 }')
	PERCONN[$kind]=$(awk -v a="$after" -v b="$before" -v n="$nidle" \
		'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
	stop_pid "$tpid"
	sleep 0.5
done

ratio() {
	awk -v x="$1" -v h="$2" 'BEGIN {
		if (x == "-" || h == "-" || h == 0) print "-";
		else printf "%.2fx", x / h }'
}
# Each row against its HAProxy counterpart: pp-balance against HAProxy
# balancing the same two servers, the others against one server.
printf '%-11s %9s %6s %6s %8s %6s %6s %7s %7s %8s %7s %6s\n' target \
	"bulk Gb/s" ratio "ms/GB" conn/s ratio "us/c" "p50 us" "p99 us" \
	"RSS MiB" B/idle ratio
for kind in $kinds; do
	h=haproxy
	[ "$kind" = pp-balance ] && h=haproxy-lb
	[ $have_haproxy = 1 ] || h=direct
	printf '%-11s %9s %6s %6s %8s %6s %6s %7s %7s %8s %7s %6s\n' \
		"$kind" \
		"${BULK[$kind]}" "$(ratio "${BULK[$kind]}" "${BULK[$h]}")" \
		"${BCPU[$kind]}" \
		"${CPS[$kind]}" "$(ratio "${CPS[$kind]}" "${CPS[$h]}")" \
		"${RCPU[$kind]}" \
		"${P50[$kind]}" "${P99[$kind]}" "${RSS[$kind]}" \
		"${PERCONN[$kind]}" "$(ratio "${PERCONN[$kind]}" "${PERCONN[$h]}")"
done
[ $have_haproxy = 1 ] &&
	echo "(ratios: pp-balance to haproxy-lb, which balances the same two servers; the others to haproxy)"
printf '(%s s x %s runs, medians; %s concurrent 64-byte exchanges; %s idle connections;\n' \
	"$secs" "$runs" "$conc" "$nidle"
echo " ms/GB and us/c: CPU time of the target, user + system, per GB moved and per connection)"
