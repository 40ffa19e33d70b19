# What bench/relay.sh and bench/udp.sh share: the processes they start
# (stopped on exit), their ports, and the CPU time and memory of a target.
# Sourced after "set -u"; callers append to pids and use $tmp.

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		pkill -TERM -P "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Below the ephemeral range, so no outgoing socket holds our ports.
low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
[ "${low:-0}" -gt 12000 ] || low=32768
base=$((10000 + RANDOM % (low - 10100)))
port() { echo $((base + $1)); }

stop_pid() {
	[ -n "$1" ] || return 0
	pkill -TERM -P "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# CPU time of a target (clock ticks, user + system), with its live
# workers and its reaped children (socat's forks); "-" for none.
cpu_ticks() {
	local p t=0
	[ -n "$1" ] || { echo -; return; }
	t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat")
	for p in $(pgrep -P "$1"); do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null ||
			echo 0)))
	done
	echo "$t"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "-" }'; }

# KB of RSS of a process and its children.
rss_kb() {
	local p t=0 k
	for p in "$1" $(pgrep -P "$1"); do
		k=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		t=$((t + ${k:-0}))
	done
	echo "$t"
}
