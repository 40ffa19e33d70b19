# Shared by every bats suite: where the tools are, free loopback ports,
# servers started in the background and stopped by PID in teardown, hex
# helpers and assertions (bats-assert is not installed).
#
# Each file starts with:
#   bats_require_minimum_version 1.5.0
#   load helpers

PP_BIN=${PP_BIN:-$BATS_TEST_DIRNAME/../../build/bin}
PP_TOP=${PP_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
FIXTURES=$BATS_TEST_DIRNAME/../fixtures
PATH=$PP_BIN:$PATH
export PP_BIN PP_TOP PATH

# Pids of everything the current test started; teardown kills them.
PP_PIDS=()

# A TCP port nobody listens on right now, on 127.0.0.1 (or $1).
free_port() {
	local host=${1:-127.0.0.1} port i
	for ((i = 0; i < 100; i++)); do
		port=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
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

# stop_pid PID: TERM, then KILL after 2 s; reaps it.
stop_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 40; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# Kill the whole process group too, for servers that fork children.
stop_all() {
	local pid
	for pid in "${PP_PIDS[@]}"; do
		pkill -TERM -P "$pid" 2>/dev/null
		stop_pid "$pid"
	done
	PP_PIDS=()
}

teardown() {
	stop_all
}

# hex: bytes on stdin as lower-case hex without spaces.
hex() { od -An -v -tx1 | tr -d ' \n'; }
# unhex HEX: the bytes of HEX on stdout.
unhex() { printf '%s' "$1" | xxd -r -p; }

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

# json_get JSON PATH: one value from JSON, PATH in jq-like dotted form
# (.src.addr, .tlvs[0].name); prints "null" for null, nothing if absent.
json_get() {
	python3 -c '
import json, re, sys
v = json.loads(sys.argv[1])
for part in re.findall(r"\.([A-Za-z_0-9]+)|\[(\d+)\]", sys.argv[2]):
    if part[0]:
        if not isinstance(v, dict) or part[0] not in v: sys.exit(0)
        v = v[part[0]]
    else:
        i = int(part[1])
        if not isinstance(v, list) or i >= len(v): sys.exit(0)
        v = v[i]
if v is None: print("null")
elif isinstance(v, bool): print("true" if v else "false")
elif isinstance(v, (dict, list)): print(json.dumps(v, separators=(",", ":")))
else: print(v)
' "$1" "$2"
}

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
