#!/bin/sh
# Throughput of the filters on the same data in one run: pp-send (filter
# mode and -c), pp-strip (filter mode), next to cat and socat.
#
#	bench/filters.sh -o BUILDDIR [-m MB] [-r RUNS]
#
# Or source it from bench/run and call section_filters with $build set;
# FILTERS_MB (default 1024) and FILTERS_RUNS (default 3) change the size
# of the data and how many runs each row takes (the best one counts).
#
# Rows, each on the same file of random bytes (the page cache holds it):
#   file: the tool reads the file on stdin and writes to /dev/null;
#   pipe: cat FILE | tool | cat > /dev/null, the shape of a real filter;
#   tcp:  the tool sends the data over loopback TCP to a socat sink.
# MB is 10^6 bytes.  Everything runs on 127.0.0.1 and is stopped at the
# end; nothing is left but the numbers.
set -u

# now: seconds since the epoch with nanoseconds.
filters_now() {
	date +%s.%N
}

# filters_time CMD: the best wall time of FILTERS_RUNS runs of sh -c CMD.
filters_time() {
	best= run=0
	while [ "$run" -lt "$runs" ]; do
		t0=$(filters_now)
		sh -c "$1" || return 1
		t1=$(filters_now)
		best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
		    'BEGIN { d = b - a; if (best == "" || d < best) best = d;
		    printf "%.6f", best }')
		run=$((run + 1))
	done
	echo "$best"
}

# filters_row NAME SHAPE CMD: one line of the table.
filters_row() {
	secs=$(filters_time "$3") || { echo "bench: $1 failed" >&2; return 1; }
	awk -v n="$1" -v s="$2" -v t="$secs" -v b="$bytes" \
	    'BEGIN { printf "%-28s %-5s %8.3f s %10.0f MB/s\n", n, s, t,
	    b / t / 1e6 }'
}

# A port below the ephemeral range that no socket uses.
filters_port() {
	lo=32768
	read -r lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null
	[ "$lo" -gt 11024 ] 2>/dev/null || lo=32768
	pi=0
	while [ "$pi" -lt 100 ]; do
		p=$(awk -v lo="$lo" -v r="$(od -An -N2 -tu2 /dev/urandom)" \
		    'BEGIN { print 10000 + r % (lo - 10000) }')
		if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
		pi=$((pi + 1))
	done
	return 1
}

# filters_sink: a socat that reads one connection to /dev/null; sets
# SINK_PORT and SINK_PID.
filters_sink() {
	SINK_PORT=$(filters_port) || return 1
	socat -b 131072 -u \
	    "TCP-LISTEN:$SINK_PORT,bind=127.0.0.1,reuseaddr" OPEN:/dev/null &
	SINK_PID=$!
	si=0
	until [ -n "$(ss -Hltn "sport = :$SINK_PORT" 2>/dev/null)" ]; do
		si=$((si + 1))
		[ "$si" -lt 100 ] || return 1
		sleep 0.05
	done
}

# filters_tcp_row NAME CMD: CMD sends the file to 127.0.0.1:$SINK_PORT.
filters_tcp_row() {
	best= run=0
	while [ "$run" -lt "$runs" ]; do
		filters_sink || { echo "bench: no sink" >&2; return 1; }
		t0=$(filters_now)
		sh -c "$(echo "$2" | sed "s/@PORT@/$SINK_PORT/g")" ||
		    { kill "$SINK_PID" 2>/dev/null; return 1; }
		wait "$SINK_PID"
		t1=$(filters_now)
		best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
		    'BEGIN { d = b - a; if (best == "" || d < best) best = d;
		    printf "%.6f", best }')
		run=$((run + 1))
	done
	awk -v n="$1" -v t="$best" -v b="$bytes" \
	    'BEGIN { printf "%-28s %-5s %8.3f s %10.0f MB/s\n", n, "tcp", t,
	    b / t / 1e6 }'
}

section_filters() {
	bin=$build/bin
	mb=${FILTERS_MB:-1024}
	runs=${FILTERS_RUNS:-3}
	for t in pp-send pp-strip; do
		if [ ! -x "$bin/$t" ]; then
			echo "bench: $bin/$t is not built (make O=...)" >&2
			return 1
		fi
	done
	for c in socat ss awk; do
		command -v "$c" >/dev/null 2>&1 ||
		    { echo "bench: $c is not installed" >&2; return 1; }
	done
	dir=$(mktemp -d "${TMPDIR:-/tmp}/pp-filters.XXXXXX") || return 1
	bytes=$((mb * 1048576))
	head -c "$bytes" /dev/urandom > "$dir/data"
	"$bin/pp-send" -2 -s 192.0.2.1:56324 -d 198.51.100.7:443 -n \
	    > "$dir/header"
	cat "$dir/header" "$dir/data" > "$dir/framed"
	send="'$bin/pp-send' -2 -s 192.0.2.1:56324 -d 198.51.100.7:443"
	strip="'$bin/pp-strip'"

	echo "$mb MiB of random bytes, best of $runs runs"
	printf '%-28s %-5s %10s %15s\n' tool shape time throughput
	rc=0
	filters_row cat file "cat < '$dir/data' > /dev/null" || rc=1
	filters_row "socat -u - -" file \
	    "socat -u - - < '$dir/data' > /dev/null" || rc=1
	filters_row "pp-send (filter)" file \
	    "$send < '$dir/data' > /dev/null" || rc=1
	filters_row "pp-strip (filter)" file \
	    "$strip < '$dir/framed' > /dev/null" || rc=1
	filters_row cat pipe \
	    "cat '$dir/data' | cat | cat > /dev/null" || rc=1
	filters_row "socat -u - -" pipe \
	    "cat '$dir/data' | socat -u - - | cat > /dev/null" || rc=1
	filters_row "pp-send (filter)" pipe \
	    "cat '$dir/data' | $send | cat > /dev/null" || rc=1
	filters_row "pp-strip (filter)" pipe \
	    "cat '$dir/framed' | $strip | cat > /dev/null" || rc=1
	filters_row "pp-send | pp-strip" pipe \
	    "cat '$dir/data' | $send | $strip | cat > /dev/null" || rc=1
	filters_tcp_row "socat -u - TCP" \
	    "socat -u - TCP:127.0.0.1:@PORT@ < '$dir/data'" || rc=1
	filters_tcp_row "socat -b128k -u - TCP" \
	    "socat -b 131072 -u - TCP:127.0.0.1:@PORT@ < '$dir/data'" || rc=1
	filters_tcp_row "pp-send -c" \
	    "$send -c 127.0.0.1:@PORT@ < '$dir/data' > /dev/null" || rc=1
	rm -rf "$dir"
	return $rc
}

# Run on its own unless sourced by bench/run (which defines SECTIONS).
if [ -z "${SECTIONS:-}" ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	build=build
	while getopts ho:m:r: opt; do
		case $opt in
		o) build=$OPTARG ;;
		m) FILTERS_MB=$OPTARG ;;
		r) FILTERS_RUNS=$OPTARG ;;
		*) echo "usage: bench/filters.sh -o BUILDDIR [-m MB] [-r RUNS]" >&2
		    exit 64 ;;
		esac
	done
	case $build in /*) ;; *) build=$top/$build ;; esac
	echo "== filters"
	section_filters
	exit $?
fi
