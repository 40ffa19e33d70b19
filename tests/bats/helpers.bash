# Shared by every bats suite: where the tools are, free loopback ports,
# servers started in the background and stopped by PID in teardown, the
# peers in tests/tools, the relay suites' servers, hex helpers and
# assertions (bats-assert is not installed).
#
# Each file starts with:
#   bats_require_minimum_version 1.5.0
#   load helpers

PP_BIN=${PP_BIN:-$BATS_TEST_DIRNAME/../../build/bin}
PP_TOP=${PP_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
# shellcheck disable=SC2034 # read by the suites
FIXTURES=$BATS_TEST_DIRNAME/../fixtures
TEST_TOOLS=$BATS_TEST_DIRNAME/../tools
PATH=$PP_BIN:$PATH
export PP_BIN PP_TOP PATH

# A hung test fails after this many seconds instead of holding up the
# run (bats 1.7 and later).  A suite that is slow by nature asks for more
# with test_timeout after `load helpers`.
export BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-120}

# test_timeout SECONDS: the bound for this file's tests, unless the
# environment already gave a larger one.
test_timeout() {
	[ "$BATS_TEST_TIMEOUT" -ge "$1" ] || BATS_TEST_TIMEOUT=$1
}

# Pids of everything the current test started; teardown kills them.
PP_PIDS=()

# ---- ports and servers ------------------------------------------------

# free_port [udp]: a TCP (or UDP) port below the kernel's ephemeral range
# with no socket of any state on it, so neither a listener nor a TIME-WAIT
# left by a load test makes a server's bind() fail.  It cannot see ports
# that outgoing connections hold: a server started on it goes through
# start_on_port, which retries.
free_port() {
	local lo=32768 rest port i kind=-t
	[ "${1:-tcp}" = udp ] && kind=-u
	read -r lo rest < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
	[ "$lo" -gt 11024 ] || lo=32768
	for ((i = 0; i < 100; i++)); do
		port=$((10000 + RANDOM % (lo - 10000)))
		if [ -z "$(ss -H "$kind" -an "sport = :$port" 2>/dev/null)" ]; then
			echo "$port"
			return 0
		fi
	done
	echo "free_port: none found" >&2
	return 1
}

# start_bg NAME CMD ARGS...: run CMD in the background, output to
# $BATS_TEST_TMPDIR/NAME.out and .err, remember its pid in PP_PIDS and in
# the variable NAME_pid.
start_bg() {
	local name=$1
	shift
	"$@" > "$BATS_TEST_TMPDIR/$name.out" 2> "$BATS_TEST_TMPDIR/$name.err" &
	PP_PIDS+=($!)
	printf -v "${name}_pid" '%s' "$!"
}

# start_on_port [--listen] [--udp] [--file TEMPLATE OUT] VAR NAME CMD
# ARGS...: start_bg NAME CMD with every "@PORT@" in its arguments replaced
# by a free port, wait until it listens there, and set VAR to the port.  A
# bind that fails is retried on another port, 5 times.
#   --listen  wait for a listening socket without connecting to it, for
#             a server that would take the probe as its one client
#   --udp     a UDP port, ready once a socket is bound there (UDP has
#             nothing to connect to)
#   --file    first write TEMPLATE to OUT with @PORT@ filled in, and @DIR@
#             as $BATS_TEST_TMPDIR (a configuration file)
start_on_port() {
	local _listen='' _udp='' _tmpl='' _out='' _var _name _port _i _j _pv
	while :; do
		case $1 in
		--listen) _listen=1; shift ;;
		--udp) _udp=1; shift ;;
		--file) _tmpl=$2 _out=$3; shift 3 ;;
		*) break ;;
		esac
	done
	_var=$1 _name=$2
	shift 2
	_pv=${_name}_pid
	for ((_i = 0; _i < 5; _i++)); do
		_port=$(free_port ${_udp:+udp}) || return 1
		[ -z "$_tmpl" ] || sed -e "s|@PORT@|$_port|g" \
			-e "s|@DIR@|$BATS_TEST_TMPDIR|g" "$_tmpl" > "$_out"
		start_bg "$_name" "${@//@PORT@/$_port}"
		for ((_j = 0; _j < 100; _j++)); do
			if [ -n "$_udp" ]; then
				[ -n "$(ss -Huan "sport = :$_port" 2>/dev/null)" ]
			elif [ -n "$_listen" ]; then
				[ -n "$(ss -Hltn "sport = :$_port" 2>/dev/null)" ]
			else
				(exec 3<>"/dev/tcp/127.0.0.1/$_port") 2>/dev/null
			fi && {
				printf -v "$_var" '%s' "$_port"
				return 0
			}
			kill -0 "${!_pv}" 2>/dev/null || break
			sleep 0.05
		done
		stop_pid "${!_pv}"
	done
	echo "start_on_port: $* never listened" >&2
	cat "$BATS_TEST_TMPDIR/$_name.err" >&2
	return 1
}

# wait_port HOST PORT [SECONDS]: until something listens there (TCP).
wait_port() {
	local host=$1 port=$2 limit=${3:-5} i
	for ((i = 0; i < limit * 20; i++)); do
		(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "wait_port: nothing listens on $host:$port after ${limit}s" >&2
	return 1
}

# wait_listen PORT [SECONDS]: until a TCP socket listens on PORT, without
# connecting to it (a connection would start a per-connection server).
wait_listen() {
	local port=$1 limit=${2:-5} i
	for ((i = 0; i < limit * 20; i++)); do
		[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	echo "wait_listen: nothing listens on port $port after ${limit}s" >&2
	return 1
}

# wait_file FILE [SECONDS]: until FILE exists and is not empty.
wait_file() {
	local f=$1 limit=${2:-5} i
	for ((i = 0; i < limit * 20; i++)); do
		[ -s "$f" ] && return 0
		sleep 0.05
	done
	echo "wait_file: $f still empty after ${limit}s" >&2
	return 1
}

# wait_for SECONDS CMD...: until CMD succeeds, bounded.
wait_for() {
	local limit=$1 i
	shift
	for ((i = 0; i < limit * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "wait_for: '$*' still failing after ${limit}s" >&2
	return 1
}

# gone PID...: none of them runs any more (a zombie counts as gone).
gone() {
	local p st
	for p in "$@"; do
		kill -0 "$p" 2>/dev/null || continue
		st=$(ps -o stat= -p "$p" 2>/dev/null) || continue
		case $st in Z*) ;; *) return 1 ;; esac
	done
}

# stop_pid PID: TERM, then KILL after 2 s; reaps it.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 40; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null
	return 0
}

# Kill the whole process group too, for servers that fork children.
stop_all() {
	local pid
	for pid in "${PP_PIDS[@]}"; do
		pkill -TERM -P "$pid" 2>/dev/null || true
		stop_pid "$pid"
	done
	PP_PIDS=()
}

teardown() {
	stop_all
}

# ---- data and assertions ----------------------------------------------

# hex: bytes on stdin as lower-case hex without spaces.
hex() { od -An -v -tx1 | tr -d ' \n'; }
# unhex HEX: the bytes of HEX on stdout.
unhex() { printf '%s' "$1" | xxd -r -p; }

# sha FILE|-: the SHA-256 of a file or of stdin, hex only.
sha() {
	sha256sum "${1:--}" | cut -d' ' -f1
}

# nlines TEXT: how many lines TEXT has (0 for empty).
nlines() {
	if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi
}

# Assertions: they print what was expected and what came, then fail.
assert_eq() {
	if [ "$1" != "$2" ]; then
		printf 'expected: %s\n     got: %s\n' "$2" "$1" >&2
		return 1
	fi
}
assert_contains() {
	case $1 in
	*"$2"*) return 0 ;;
	esac
	printf 'expected to contain: %s\n                got: %s\n' "$2" "$1" >&2
	return 1
}
assert_not_contains() {
	case $1 in
	*"$2"*)
		printf 'expected not to contain: %s\n                    got: %s\n' \
			"$2" "$1" >&2
		return 1 ;;
	esac
	return 0
}
assert_empty() {
	if [ -n "$1" ]; then
		printf 'expected nothing, got: %s\n' "$1" >&2
		return 1
	fi
}

# less_than A B: A < B, both decimal numbers.
less_than() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }' ||
		{ echo "expected $1 < $2" >&2; return 1; }
}

# json_get JSON PATH: one value from JSON, PATH in jq-like dotted form
# (.src.addr, .tlvs[0].name); prints "null" for null, nothing if absent.
json_get() {
	"$TEST_TOOLS/jsonpath.py" get "$1" "$2"
}

# json_expect JSON PATH VALUE [PATH VALUE]...: each PATH of JSON, read and
# printed as json_get does ("null", "true", compact JSON, "" if absent),
# must equal its VALUE.  One process checks them all and prints every
# mismatch, so many fields cost one process, not one each.
json_expect() {
	"$TEST_TOOLS/jsonpath.py" expect "$@"
}

# env_of NAME: the value of NAME in $BATS_TEST_TMPDIR/env (a program's
# environment, one NAME=VALUE a line), or "(unset)".
env_of() {
	local line
	line=$(grep "^$1=" "$BATS_TEST_TMPDIR/env") || { echo "(unset)"; return 0; }
	echo "${line#*=}"
}

# ---- what a test needs ------------------------------------------------

# Skips fail the run in CI (PP_TEST_STRICT=1) unless the reason is
# allowed there (not root, for namespace tests).
strict_skip() {
	if [ "${PP_TEST_STRICT:-0}" = 1 ]; then
		echo "skip not allowed under PP_TEST_STRICT: $*" >&2
		return 1
	fi
	skip "$*"
}

# need_root REASON: network namespace tests run only as root.
need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: $*"
}

# need_cmd CMD...: a real peer must be installed; missing is a failure in
# CI (scripts/deps installs them), a skip elsewhere.
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || strict_skip "$c is not installed (run scripts/deps)"
	done
}

# need_tool NAME: a tool of this project that another developer may not
# have built yet.
need_tool() {
	[ -x "$PP_BIN/$1" ] || strict_skip "$1 is not built in $PP_BIN"
}

# build_test_tools: $TOOLS holds pp-echo, pp-load and pp-udp.  make check
# builds them; a bats run on its own builds them here.
build_test_tools() {
	local t
	TOOLS=$PP_BIN/../tools
	mkdir -p "$TOOLS"
	for t in pp-echo pp-load pp-udp; do
		[ -x "$TOOLS/$t" ] && continue
		cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$TOOLS/$t.$$" \
			"$PP_TOP/tests/tools/$t.c"
		mv "$TOOLS/$t.$$" "$TOOLS/$t"
	done
	export TOOLS
}

# ---- peers (tests/tools) ----------------------------------------------

# lo_addr: a random 127.x.y.z other than 127.0.0.1, so a test can check
# that exactly its client's address arrived.
lo_addr() {
	echo "127.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))"
}

# ppclient ARGS...: tests/tools/ppclient.py, a client that controls how
# its bytes are cut into writes and which source address it binds.
ppclient() {
	"$TEST_TOOLS/ppclient.py" "$@"
}

# edgepeer MODE ARGS...: tests/tools/edgepeer.py, peers that reset, stall,
# stay silent or are not there at all.
edgepeer() {
	"$TEST_TOOLS/edgepeer.py" "$@"
}

# silent_client HOST PORT [SECONDS]: connect, send nothing, and print how
# long (in seconds, 3 decimals) until the other side closed, or "open" when
# it is still open after SECONDS (default 5).
silent_client() {
	edgepeer silent "$1" "$2" "${3:-5}"
}

# pp_py serve|clients|integrity|hold ARGS...: tests/tools/relaypeer.py,
# servers that answer "NAME CLIENT" and clients from many sources.
pp_py() {
	"$TEST_TOOLS/relaypeer.py" "$@"
}

# ---- the relay suites: pp-relay, pp-balance and their servers ---------

# relay NAME ARGS...: pp-relay on a free port (LPORT), waited for.
relay() {
	local name=$1
	shift
	start_on_port LPORT "$name" pp-relay -l "127.0.0.1:@PORT@" "$@"
}

# balance NAME ARGS...: pp-balance on a free port (BPORT), waited for.
balance() {
	local name=$1
	shift
	start_on_port BPORT "$name" pp-balance -l "127.0.0.1:@PORT@" "$@"
}

# reply_server: a server answering "s1 CLIENT" (pp_py serve) on SPORT.
reply_server() {
	start_on_port SPORT srv pp_py serve "s1:@PORT@"
}

# reply_servers N: servers s1..sN answering "sK CLIENT"; their ports in
# P1..PN.
reply_servers() {
	local k
	for ((k = 1; k <= $1; k++)); do
		start_on_port "P$k" "s$k" pp_py serve "s$k:@PORT@"
	done
}

# capture_server: a server on SPORT that appends every byte it receives
# to $BATS_TEST_TMPDIR/cap.
capture_server() {
	: > "$BATS_TEST_TMPDIR/cap"
	start_on_port SPORT cap socat -u \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
		"OPEN:$BATS_TEST_TMPDIR/cap,creat,append"
}

# capture_servers N: servers cap1..capN on ports P1..PN that append all
# they receive, connection after connection, to $BATS_TEST_TMPDIR/capK.
capture_servers() {
	local k
	for ((k = 1; k <= $1; k++)); do
		: > "$BATS_TEST_TMPDIR/cap$k"
		start_on_port "P$k" "cap$k" socat -u \
			"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
			"OPEN:$BATS_TEST_TMPDIR/cap$k,creat,append"
	done
}

# quiet_start NAME ARGS...: a daemon on 127.0.0.1:@PORT@ (a free port,
# in QPORT) waited for without connecting to it, so that nothing but its
# own traffic (health checks) reaches its servers.
quiet_start() {
	local name=$1
	shift
	QPORT=$(free_port)
	start_bg "$name" "${@//@PORT@/$QPORT}"
	wait_listen "$QPORT"
}

# settled NAME: the probe connection of start_on_port went through the
# relay NAME too: wait until it is logged, then empty the capture file of
# capture_server, if there is one, of what the probe left.
settled() {
	wait_for 5 grep -q 'end=' "$BATS_TEST_TMPDIR/$1.err"
	[ ! -e "$BATS_TEST_TMPDIR/cap" ] || : > "$BATS_TEST_TMPDIR/cap"
}

# metrics: the /metrics page of the --stats listener on SPORT_STATS.
metrics() {
	curl -fsS "http://127.0.0.1:$SPORT_STATS/metrics"
}

# counts FILE: "sK=N " per server, of lines "SRC sK CLIENT".
counts() {
	awk '{ print $2 }' "$1" | sort | uniq -c | awk '{ print $2 "=" $1 }' |
		tr '\n' ' '
}

# nginx_http DIR SERVER...: nginx in the foreground (start_bg nginx)
# with an http block holding the SERVER blocks given, every file it
# writes inside DIR (PEERS.md).  As root its worker runs as root too, so
# it can read the test's directory.  The caller waits for its port.
nginx_http() {
	need_cmd nginx
	local d=$1
	shift
	mkdir -p "$d"
	{
		[ "$(id -u)" -ne 0 ] || echo "user root;"
		cat <<-EOF
		worker_processes 1;
		pid $d/nginx.pid;
		error_log $d/error.log;
		events { worker_connections 64; }
		http {
		access_log off;
		client_body_temp_path $d/body;
		proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fastcgi;
		uwsgi_temp_path $d/uwsgi;
		scgi_temp_path $d/scgi;
		EOF
		printf '%s\n' "$@" "}"
	} > "$d/nginx.conf"
	start_bg nginx nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
}

# ---- the reliability suites -------------------------------------------

# figures LABEL TEXT: keep the figures and show them (stderr as "# "
# lines, and $PP_BIN/../reliability.log).
figures() {
	local line
	while IFS= read -r line; do
		printf '%s: %s\n' "$1" "$line" >> "$PP_BIN/../reliability.log"
		printf '# %s: %s\n' "$1" "$line" >&3
	done <<< "$2"
}

# val KEY TEXT: the value of KEY=value in TEXT.
val() {
	local v
	v=$(grep -o "\\b$1=[-0-9]*" <<< "$2" | tail -n 1)
	echo "${v#*=}"
}

# stop_clean NAME: SIGTERM the daemon started as NAME; it must exit 0
# within its grace period (-g 1) and its stderr must hold no sanitizer
# report (the suites also run built with ASan+UBSan: leaks show at exit).
stop_clean() {
	local name=$1 pid i rc
	pid=${name}_pid
	pid=${!pid}
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	rc=0
	wait "$pid" || rc=$?
	if grep -E 'Sanitizer|runtime error|^==[0-9]+==' \
	    "$BATS_TEST_TMPDIR/$name.err" >&2; then
		echo "$name: sanitizer report above" >&2
		return 1
	fi
	if [ "$rc" -ne 0 ]; then
		echo "$name exited $rc after SIGTERM" >&2
		tail -n 5 "$BATS_TEST_TMPDIR/$name.err" >&2
		return 1
	fi
}

# rss_kb PID: resident memory of a process.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# ---- man pages --------------------------------------------------------

# options_match_man TOOL: every --option of TOOL --help is in man/TOOL.1.scd
# (as *--option*), and every one there is in --help.
options_match_man() {
	local o man=$PP_TOP/man/$1.1.scd
	for o in $("$1" --help | grep -o -- '--[a-z0-9-]*' | sort -u); do
		grep -q -- "\*${o}\*" "$man" ||
			{ echo "missing in the man page: $o" >&2; return 1; }
	done
	for o in $(grep -o -- '\*--[a-z0-9-]*\*' "$man" | tr -d '*' | sort -u); do
		"$1" --help | grep -q -- "$o" ||
			{ echo "missing in --help: $o" >&2; return 1; }
	done
}

# synopsis_matches_usage TOOL: the SYNOPSIS of man/TOOL.1.scd, markup
# and line breaks aside, is the usage block of TOOL -h.
synopsis_matches_usage() {
	local man usage
	man=$(sed -n '/^# SYNOPSIS/,/^# DESCRIPTION/p' "$PP_TOP/man/$1.1.scd" |
		sed '1d;$d' | tr -d '*_\\' | tr -s ' \n\t' '   ' | sed 's/^ //; s/ $//')
	usage=$("$1" -h | sed -n '1,/^$/p' | sed 's/^usage: //' |
		tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
	assert_eq "$man" "$usage"
}

# echo_server NAME [ARGS]: a pp-echo ($TOOLS, build_test_tools) on a free
# port ($NAME_port), counters in $BATS_TEST_TMPDIR/NAME.stats; if the
# bind fails all the same, another port is tried.
echo_server() {
	local name=$1 port try i pid
	shift
	for ((try = 0; try < 5; try++)); do
		port=$(free_port)
		start_bg "$name" "$TOOLS/pp-echo" -l "127.0.0.1:$port" \
			-n "$name" -s "$BATS_TEST_TMPDIR/$name.stats" "$@"
		pid=${PP_PIDS[-1]}
		for ((i = 0; i < 100; i++)); do
			if [ -s "$BATS_TEST_TMPDIR/$name.out" ]; then
				printf -v "${name}_port" '%s' "$port"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		cat "$BATS_TEST_TMPDIR/$name.err" >&2
	done
	return 1
}
