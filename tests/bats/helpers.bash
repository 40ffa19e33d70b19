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

# free_port [udp]: a TCP (or UDP) port below the kernel's ephemeral range
# with no socket of any state on it, so neither a listener nor a TIME-WAIT
# left by a load test makes a server's bind() fail.
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

# lo_addr: a random 127.x.y.z other than 127.0.0.1, so a test can check
# that exactly its client's address arrived.
lo_addr() {
	echo "127.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1)).$((RANDOM % 250 + 2))"
}

# ppclient ARGS...: tests/fixtures/ppclient.py, a client that controls how
# its bytes are cut into writes and which source address it binds.
ppclient() {
	python3 "$FIXTURES/ppclient.py" "$@"
}

# sha FILE|-: the SHA-256 of a file or of stdin, hex only.
sha() {
	sha256sum "${1:--}" | cut -d' ' -f1
}

# nlines TEXT: how many lines TEXT has (0 for empty).
nlines() {
	if [ -z "$1" ]; then echo 0; else printf '%s\n' "$1" | wc -l; fi
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

# json_expect JSON PATH VALUE [PATH VALUE]...: each PATH of JSON, read and
# printed as json_get does ("null", "true", compact JSON, "" if absent),
# must equal its VALUE.  One python run checks them all and prints every
# mismatch, so many fields cost one process, not one each.
json_expect() {
	python3 -c '
import json, re, sys
doc = json.loads(sys.argv[1])
def get(v, path):
    for part in re.findall(r"\.([A-Za-z_0-9]+)|\[(\d+)\]", path):
        if part[0]:
            if not isinstance(v, dict) or part[0] not in v: return ""
            v = v[part[0]]
        else:
            i = int(part[1])
            if not isinstance(v, list) or i >= len(v): return ""
            v = v[i]
    if v is None: return "null"
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, (dict, list)): return json.dumps(v, separators=(",", ":"))
    return str(v)
args, bad = sys.argv[2:], 0
if len(args) % 2: sys.exit("json_expect: PATH without VALUE")
for path, want in zip(args[0::2], args[1::2]):
    got = get(doc, path)
    if got != want:
        print("%s: expected: %s\n%s       got: %s" % (path, want, " " * len(path), got), file=sys.stderr)
        bad = 1
sys.exit(bad)
' "$@"
}

# pp_py CMD ARGS...: a small loopback peer in python3 for relay tests.
#   pp_py serve [--echo] NAME:PORT...   servers; each reads an optional
#       PROXY header (v1 or v2) and answers "NAME CLIENT_IP\n" then closes
#       (or, with --echo, echoes the payload after the header); prints
#       "ready" once listening.
#   pp_py clients HOST:PORT N [--base 127.1.0.0] [--hdr v1|v2] [--data S]
#       [--parallel P]: N connections from (or, with --hdr, claiming in a
#       header) the sources base+1 ... base+N; sends DATA, half-closes and
#       prints "SOURCE REPLY" a line ("SOURCE !ERROR" when it failed).
#   pp_py integrity HOST:PORT N BYTES [--src 127.3.0.0]: N concurrent
#       clients each send BYTES of random data and check the echo.
#   pp_py hold HOST:PORT N SRC: open N connections from SRC and keep them
#       open until killed; prints "held K" (K that stayed open after 1 s).
pp_py() {
	python3 -c '
import os, socket, struct, sys, threading, selectors, hashlib, ipaddress, time

def read_header(c):
    b = b""
    while len(b) < 16:
        d = c.recv(16 - len(b))
        if not d:
            return None, b
        b += d
    if b.startswith(b"\r\n\r\n\x00\r\nQUIT\n"):
        ln = struct.unpack("!H", b[14:16])[0]
        rest = b""
        while len(rest) < ln:
            d = c.recv(ln - len(rest))
            if not d:
                return None, b + rest
            rest += d
        if b[12] & 0xF == 0:
            return "local", b""
        fam = b[13] >> 4
        if fam == 1:
            return socket.inet_ntop(socket.AF_INET, rest[0:4]), b""
        if fam == 2:
            return socket.inet_ntop(socket.AF_INET6, rest[0:16]), b""
        return "unspec", b""
    if b.startswith(b"PROXY "):
        while not b.endswith(b"\r\n"):
            d = c.recv(1)
            if not d:
                return None, b
            b += d
        f = b.decode().split()
        return (f[2] if f[1] != "UNKNOWN" else "unknown"), b""
    return "none", b

def serve(args):
    echo = False
    if args and args[0] == "--echo":
        echo = True
        args = args[1:]
    def handle(c, name):
        try:
            cl, rest = read_header(c)
            if echo:
                if rest:
                    c.sendall(rest)
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            else:
                c.sendall(("%s %s\n" % (name, cl)).encode())
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    def loop(s, name):
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c, name), daemon=True).start()
    for a in args:
        name, port = a.rsplit(":", 1)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(port)))
        s.listen(1024)
        threading.Thread(target=loop, args=(s, name), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)

def hostport(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)

def v1hdr(src):
    return ("PROXY TCP4 %s 127.0.0.1 40000 80\r\n" % src).encode()

def v2hdr(src):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) +
            struct.pack("!H", 12) + socket.inet_aton(src) +
            socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 80))

def clients(args):
    target = hostport(args[0]); n = int(args[1])
    base, hdr, data, par = "127.1.0.0", None, b"", 1
    i = 2
    while i < len(args):
        if args[i] == "--base": base = args[i + 1]
        elif args[i] == "--hdr": hdr = args[i + 1]
        elif args[i] == "--data": data = args[i + 1].encode()
        elif args[i] == "--parallel": par = int(args[i + 1])
        i += 2
    b = int(ipaddress.IPv4Address(base))
    out = [None] * n
    def one(k):
        src = str(ipaddress.IPv4Address(b + k + 1))
        try:
            c = socket.socket()
            c.settimeout(10)
            if hdr is None:
                c.bind((src, 0))
            c.connect(target)
            pre = v1hdr(src) if hdr == "v1" else v2hdr(src) if hdr == "v2" else b""
            c.sendall(pre + data)
            c.shutdown(socket.SHUT_WR)
            r = b""
            while True:
                d = c.recv(65536)
                if not d: break
                r += d
            c.close()
            out[k] = "%s %s" % (src, r.decode(errors="replace").strip() or "!EMPTY")
        except OSError as e:
            out[k] = "%s !%s" % (src, e.__class__.__name__)
    ks = list(range(n))
    def worker():
        while True:
            try: k = ks.pop()
            except IndexError: return
            one(k)
    ts = [threading.Thread(target=worker) for _ in range(par)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("\n".join(out))

def integrity(args):
    target = hostport(args[0]); n = int(args[1]); size = int(args[2])
    src = args[4] if len(args) > 4 and args[3] == "--src" else "127.3.0.0"
    b = int(ipaddress.IPv4Address(src))
    block = os.urandom(size)
    mv = memoryview(block + block)
    sel = selectors.DefaultSelector()
    st = {}
    for k in range(n):
        c = socket.socket()
        c.bind((str(ipaddress.IPv4Address(b + k + 1)), 0))
        c.connect(target)
        c.setblocking(False)
        off = (k * 7919) % size
        want = hashlib.sha256(mv[off:off + size]).hexdigest()
        st[c] = dict(off=off, sent=0, got=0, h=hashlib.sha256(), want=want)
        sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE)
    left = n; bad = 0; deadline = time.time() + 120
    while left and time.time() < deadline:
        for key, ev in sel.select(1):
            c = key.fileobj; s = st[c]
            if ev & selectors.EVENT_WRITE and s["sent"] < size:
                try:
                    m = c.send(mv[s["off"] + s["sent"]:s["off"] + min(size, s["sent"] + 262144)])
                    s["sent"] += m
                except BlockingIOError:
                    pass
                if s["sent"] == size:
                    c.shutdown(socket.SHUT_WR)
                    sel.modify(c, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    d = c.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if d:
                    s["got"] += len(d); s["h"].update(d)
                    continue
                sel.unregister(c); c.close(); left -= 1
                if s["got"] != size or s["h"].hexdigest() != s["want"]:
                    bad += 1
    print("ok %d bad %d unfinished %d" % (n - bad - left, bad, left))

def hold(args):
    target = hostport(args[0]); n = int(args[1]); src = args[2]
    cs = []
    for _ in range(n):
        c = socket.socket(); c.bind((src, 0)); c.connect(target); cs.append(c)
    time.sleep(1)
    alive = 0
    for c in cs:
        c.setblocking(False)
        try:
            alive += 1 if c.recv(1) is None else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("held %d" % alive, flush=True)
    while True:
        time.sleep(3600)

{"serve": serve, "clients": clients, "integrity": integrity,
 "hold": hold}[sys.argv[1]](sys.argv[2:])
' "$@"
}

# listen_port: the same as free_port (an older name).
listen_port() {
	free_port
}

# start_on_port [-u] VAR NAME CMD ARGS...: start_bg NAME CMD with every
# "@PORT@" in its arguments replaced by a free port, wait until it listens
# there, and set VAR to the port.  free_port cannot see ports held by
# outgoing connections, so a bind that fails is retried on another port.
# -u: a UDP port, ready once a socket is bound there (UDP has nothing to
# connect to).
start_on_port() {
	local _proto=tcp _var _name _port _i _j _pv
	[ "$1" = -u ] && { _proto=udp; shift; }
	_var=$1 _name=$2
	shift 2
	_pv=${_name}_pid
	for ((_i = 0; _i < 5; _i++)); do
		_port=$(free_port "$_proto") || return 1
		start_bg "$_name" "${@//@PORT@/$_port}"
		for ((_j = 0; _j < 100; _j++)); do
			if port_ready "$_proto" "$_port"; then
				printf -v "$_var" '%s' "$_port"
				return 0
			fi
			kill -0 "${!_pv}" 2>/dev/null || break
			sleep 0.05
		done
		stop_pid "${!_pv}"
	done
	echo "start_on_port: $* never listened" >&2
	return 1
}

# port_ready tcp|udp PORT: something accepts on 127.0.0.1:PORT (TCP), or
# a socket is bound to PORT (UDP).
port_ready() {
	if [ "$1" = udp ]; then
		[ -n "$(ss -Huan "sport = :$2" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null
	fi
}

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

# silent_client HOST PORT [SECONDS]: connect, send nothing, and print how
# long (in seconds, 3 decimals) until the other side closed, or "open" when
# it is still open after SECONDS (default 5).
silent_client() {
	python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
t = time.monotonic()
s.settimeout(float(sys.argv[3]))
try:
    s.recv(1)
    print("%.3f" % (time.monotonic() - t))
except socket.timeout:
    print("open")
except OSError:
    print("%.3f" % (time.monotonic() - t))
' "$1" "$2" "${3:-5}"
}

# less_than A B: A < B, both decimal numbers.
less_than() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }' ||
		{ echo "expected $1 < $2" >&2; return 1; }
}

# For the reliability suites: figures go to stderr as "# " lines and to
# $PP_BIN/../reliability.log.
# figures LABEL TEXT: keep the figures and show them.
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
