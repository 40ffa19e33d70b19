#!/usr/bin/env bats
# The control socket (--control unix:PATH) of pp-balance and pp-relay:
# drain under load, weights at run time, maint and health checks, what a
# reload keeps, and abuse of the socket itself.  Clients are
# tests/tools/pp-load.c, servers tests/tools/pp-echo.c (its stats file
# counts the connections each server accepted, health checks included).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
	build_test_tools
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PP_TOP/tests/tools/lsan.supp:print_suppressions=0}
}

setup() {
	[ -x "$PP_BIN/pp-balance" ] || strict_skip "pp-balance is not built"
	need_cmd socat jq
	CTL=$BATS_TEST_TMPDIR/ctl.sock
}

# Built with ASan and UBSan, a report in the daemon's stderr fails the test.
teardown() {
	stop_all
	local f
	for f in "$BATS_TEST_TMPDIR"/b.err "$BATS_TEST_TMPDIR"/r.err; do
		[ -f "$f" ] || continue
		if grep -E 'Sanitizer|runtime error|^==[0-9]+==' "$f" >&2; then
			echo "sanitizer report in $f" >&2
			return 1
		fi
	done
}

# ctl LINE...: the lines to the control socket, the answer on stdout.
ctl() {
	printf '%s\n' "$@" | timeout 10 socat -t 5 - "UNIX-CONNECT:$CTL"
}

# counter KEY NAME: a counter from pp-echo NAME's stats file.
counter() {
	awk -v k="$1" '$1 == k { print $2 }' "$BATS_TEST_TMPDIR/$2.stats"
}

# accepted NAME: connections pp-echo NAME accepted, once its stats file
# has stopped changing (it is written a few times a second).
accepted() {
	local a b i
	b=$(counter accepted "$1")
	for ((i = 0; i < 20; i++)); do
		sleep 0.3
		a=$(counter accepted "$1")
		[ "$a" = "$b" ] && break
		b=$a
	done
	echo "${a:-0}"
}

# controlled ARGS...: pp-balance "b" (helpers' balance) with the control
# socket at $CTL, waited for.
controlled() {
	balance b --control "unix:$CTL" --grace 1 "$@"
	wait_for 5 test -S "$CTL"
}

# field ADDR KEY: KEY=value of server ADDR in "show servers".
field() {
	ctl "show servers" | awk -v a="$1" -v k="$2" '$1 == a {
		for (i = 2; i <= NF; i++) if (index($i, k "=") == 1)
			print substr($i, length(k) + 2) }'
}

# field_is ADDR KEY VALUE: for wait_for, which runs it again each time.
field_is() {
	[ "$(field "$1" "$2")" = "$3" ]
}

# lines_are N: "show servers" answers N lines (the empty one included).
lines_are() {
	[ "$(ctl 'show servers' | wc -l)" -eq "$1" ]
}

# at_least NAME N: pp-echo NAME accepted N connections or more.
at_least() {
	[ "$(counter accepted "$1")" -ge "$2" ]
}

# applied: the workers take a change within a second.
applied() {
	sleep 1.2
}

# probes N: N short connections through the balancer, one after the
# other; every one must succeed.
probes() {
	run --separate-stderr timeout 60 "$TOOLS/pp-load" probe \
		-c "127.0.0.1:$BPORT" -n "$1" -t 50
	echo "$output" | tail -n 1 >&3
	[ "$status" -eq 0 ]
	assert_contains "$output" "ok=$1 failed=0"
}

# fds PID: descriptors of PID and its children (the workers).
fds() {
	local p n=0
	for p in "$1" $(pgrep -P "$1"); do
		n=$((n + $(ls "/proc/$p/fd" | wc -l)))
	done
	echo "$n"
}

# fds_are N: fds of the balancer's processes ($b_pid) are N.
fds_are() {
	[ "$(fds "$b_pid")" -eq "$1" ]
}

@test "pp-balance --control needs a unix: address and makes the socket mode 0600" {
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2 \
		--control 127.0.0.1:3
	assert_contains "$stderr" "--control 127.0.0.1:3: expected unix:PATH"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2 \
		--control unix:@ctl
	assert_contains "$stderr" "an abstract socket has no permissions"
	echo_server e1
	controlled -s "127.0.0.1:$e1_port"
	assert_eq "$(stat -c %a "$CTL")" 600
	assert_eq "$(stat -c %U "$CTL")" "$(id -un)"
}

@test "the control socket is owned by the user of -u" {
	[ "$(id -u)" -eq 0 ] || skip "needs root: -u changes the user"
	echo_server e1
	controlled -s "127.0.0.1:$e1_port" -u nobody -w 2
	assert_eq "$(stat -c %U:%a "$CTL")" nobody:600
	assert_contains "$(ctl 'show info')" "workers=2"
}

@test "drain under load: B takes no new connection, its open transfers end byte-exact, ready brings it back" {
	local out a0 b0 c0 a1 b1 c1 b2 act expect i
	echo_server A
	echo_server B
	echo_server C
	controlled -w 2 -s "127.0.0.1:$A_port" -s "127.0.0.1:$B_port" \
		-s "127.0.0.1:$C_port"
	# Nine long transfers of 32 MB each, opened and answered once, then
	# held idle 8 s before their bulk: they are open while B drains.
	start_bg load timeout 120 "$TOOLS/pp-load" chain -c "127.0.0.1:$BPORT" \
		-n 9 -b 33554432 -H 12000 -r "$BATS_TEST_TMPDIR/held" -t 100
	wait_file "$BATS_TEST_TMPDIR/held" 30
	act=$(field "127.0.0.1:$B_port" active)
	[ "$act" -ge 1 ]
	a0=$(accepted A) b0=$(accepted B) c0=$(accepted C)

	assert_eq "$(ctl "set server 127.0.0.1:$B_port state drain")" ok
	assert_eq "$(field "127.0.0.1:$B_port" state)" drain
	applied
	probes 300
	a1=$(accepted A) b1=$(accepted B) c1=$(accepted C)
	assert_eq "$b1" "$b0"
	assert_eq "$((a1 + c1 - a0 - c0))" 300
	# Its open connections are still there, and they finish.
	assert_eq "$(field "127.0.0.1:$B_port" active)" "$act"
	wait "$load_pid"
	out=$(tail -n 1 "$BATS_TEST_TMPDIR/load.out")
	expect=0
	for ((i = 0; i < 9; i++)); do
		expect=$((expect + 33554432 + ${#i} + 7))	# "HELLO i\n" + bulk
	done
	assert_contains "$out" "connections=9 ok=9 errors=0"
	assert_contains "$out" "bytes_verified=$expect"
	printf '# drain: before A=%s B=%s C=%s (B had %s open); 300 probes while B drains: A=%s B=%s C=%s; %s\n' \
		"$a0" "$b0" "$c0" "$act" "$a1" "$b1" "$c1" "$out" >&3

	assert_eq "$(ctl "set server 127.0.0.1:$B_port state ready")" ok
	applied
	probes 30
	b2=$(accepted B)
	[ "$b2" -gt "$b1" ]
	printf '# ready again: 30 probes, B=%s\n' "$((b2 - b1))" >&3
	grep -q "control: server 127.0.0.1:$B_port state drain (was ready)" \
		"$BATS_TEST_TMPDIR/b.err"
	grep -q "control: server 127.0.0.1:$B_port state ready (was drain)" \
		"$BATS_TEST_TMPDIR/b.err"
}

@test "a weight set at run time gives roundrobin its exact shares" {
	local a0 b0 c0 a1 b1 c1
	echo_server A
	echo_server B
	echo_server C
	controlled -s "127.0.0.1:$A_port" -s "127.0.0.1:$B_port" \
		-s "127.0.0.1:$C_port"
	# The round robin goes on from where the port check left it.
	a0=$(accepted A) b0=$(accepted B) c0=$(accepted C)
	probes 300
	a1=$(accepted A) b1=$(accepted B) c1=$(accepted C)
	assert_eq "$((a1 + b1 + c1 - a0 - b0 - c0))" 300
	assert_eq "$(ctl "set server 127.0.0.1:$B_port weight 3")" ok
	assert_eq "$(field "127.0.0.1:$B_port" weight)" 3
	probes 600
	assert_eq "$(($(accepted A) - a1)) $(($(accepted B) - b1)) $(($(accepted C) - c1))" \
		"120 360 120"
	assert_eq "$(field "127.0.0.1:$B_port" total)" "$(accepted B)"
	printf '# weight: A B C before %s %s %s; weight B 3, 600 more: %s %s %s\n' \
		"$a1" "$b1" "$c1" "$(accepted A)" "$(accepted B)" "$(accepted C)" >&3
	run -0 ctl "set server 127.0.0.1:$B_port weight 0" \
		"set server 127.0.0.1:$B_port weight 1001" \
		"set server 127.0.0.1:$B_port weight x"
	assert_eq "$(grep -c '^error: weight .*: expected 1 to 1000, or list$' <<< "$output")" 3
	assert_eq "$(ctl "set server 127.0.0.1:$B_port weight list")" ok
	assert_eq "$(field "127.0.0.1:$B_port" weight)" 1
}

@test "the weight and state show in /metrics" {
	local sport m
	echo_server A
	sport=$(free_port)
	controlled -s "127.0.0.1:$A_port" -S "127.0.0.1:$sport"
	ctl "set server 127.0.0.1:$A_port weight 7" \
		"set server 127.0.0.1:$A_port state maint" > /dev/null
	m=$(curl -fsS "http://127.0.0.1:$sport/metrics")
	assert_contains "$m" "pp_balance_server_weight{server=\"127.0.0.1:$A_port\"} 7"
	assert_contains "$m" "pp_balance_server_admin_state{server=\"127.0.0.1:$A_port\"} 2"
	assert_contains "$(ctl 'show stat')" "pp_balance_server_weight{server=\"127.0.0.1:$A_port\"} 7"
}

@test "maint stops the checks of a server and takes it out; ready brings both back" {
	local n0 n1 n2
	echo_server A
	echo_server B
	controlled -w 2 -s "127.0.0.1:$A_port,check" -s "127.0.0.1:$B_port,check" \
		-i 100
	wait_for 5 at_least A 3
	assert_eq "$(ctl "set server 127.0.0.1:$A_port state maint")" ok
	applied
	n0=$(accepted A)
	sleep 1
	n1=$(accepted A)
	assert_eq "$n1" "$n0"
	assert_eq "$(field "127.0.0.1:$A_port" check)" stopped
	probes 20
	assert_eq "$(accepted A)" "$n1"
	assert_eq "$(ctl "set server 127.0.0.1:$A_port state ready")" ok
	applied
	n2=$(accepted A)
	[ "$n2" -gt "$n1" ]
	wait_for 5 field_is "127.0.0.1:$A_port" check ok
}

@test "disable health stops checks and counts the server up; enable checks it again" {
	local n0 n1
	echo_server A
	echo_server B
	controlled -s "127.0.0.1:$A_port,check" -s "127.0.0.1:$B_port,check" \
		-i 100 --fall 1 --rise 1
	wait_for 5 field_is "127.0.0.1:$A_port" check ok
	assert_eq "$(ctl "disable health 127.0.0.1:$A_port")" ok
	applied
	n0=$(accepted A)
	sleep 1
	assert_eq "$(accepted A)" "$n0"
	assert_eq "$(field "127.0.0.1:$A_port" check)" disabled
	assert_eq "$(ctl "enable health 127.0.0.1:$A_port")" ok
	applied
	n1=$(accepted A)
	[ "$n1" -gt "$n0" ]
	# B dies: down by its checks; with them disabled it counts as up.
	stop_pid "$B_pid"
	wait_for 5 field_is "127.0.0.1:$B_port" health down
	ctl "disable health 127.0.0.1:$B_port" > /dev/null
	wait_for 5 field_is "127.0.0.1:$B_port" health up
	ctl "enable health 127.0.0.1:$B_port" > /dev/null
	wait_for 5 field_is "127.0.0.1:$B_port" health down
	# A server without checks has none to disable.
	run -0 ctl "disable health 127.0.0.1:1"
	assert_contains "$output" "error: 127.0.0.1:1: no such server"
}

@test "show servers, show servers json and show info parse" {
	local j
	echo_server A
	echo_server B
	controlled -s "127.0.0.1:$A_port,weight=2" -s "127.0.0.1:$B_port,check,backup" -i 100
	wait_for 5 field_is "127.0.0.1:$B_port" check ok
	ctl "set server 127.0.0.1:$A_port state drain" > /dev/null
	j=$(ctl "show servers json")
	jq -e . <<< "$j" > /dev/null
	assert_eq "$(jq -r '.servers | length' <<< "$j")" 2
	assert_eq "$(jq -r '.servers[0] | "\(.addr) \(.state) \(.health) \(.weight) \(.check) \(.backup)"' <<< "$j")" \
		"127.0.0.1:$A_port drain up 2 none false"
	assert_eq "$(jq -r '.servers[1] | "\(.addr) \(.state) \(.weight) \(.check) \(.backup)"' <<< "$j")" \
		"127.0.0.1:$B_port ready 1 ok true"
	jq -e '.servers[] | (.active|type) == "number" and (.total|type) == "number" and (.last_change >= 0)' <<< "$j" > /dev/null
	run -0 ctl "show servers"
	assert_eq "$(nlines "$output")" 2
	[[ ${lines[0]} =~ ^127\.0\.0\.1:$A_port\ state=drain\ health=up\ weight=2\ active=[0-9]+\ total=[0-9]+\ check=none\ last_change=[0-9]+$ ]]
	run -0 ctl "show info json"
	assert_eq "$(jq -r '"\(.name) \(.workers) \(.servers) \(.balance)"' <<< "$output")" \
		"pp-balance 1 2 roundrobin"
	run -0 ctl "show info"
	assert_contains "$output" "uptime="
	assert_contains "$output" "connections_total="
	# Several commands on one connection: one answer each, in order,
	# each ended by an empty line.
	assert_eq "$(ctl help "show info" quit "show info" | grep -c '^name=pp-balance$')" 1
	assert_eq "$(ctl help "show info" quit "show info" | grep -c '^$')" 2
}

@test "bad commands get one error line each" {
	local l
	echo_server A
	controlled -s "127.0.0.1:$A_port"
	for l in "bogus" "show" "show servers xml" "set server" \
	    "set server 127.0.0.1:$A_port state off" \
	    "set server 127.0.0.1:$A_port colour red" \
	    "set server nohost state drain" \
	    "set server 127.0.0.1:1 state drain" \
	    "set server 127.0.0.1:$A_port,check state drain" \
	    "disable health" "enable health 127.0.0.1:$A_port"; do
		run -0 ctl "$l"
		assert_eq "$(nlines "$output")" 1
		[[ $output == error:* ]] || { echo "$l: $output" >&2; return 1; }
	done
	assert_eq "$(field "127.0.0.1:$A_port" state)" ready
}

@test "a reload keeps the state set at run time for a server still listed" {
	local f=$BATS_TEST_TMPDIR/servers a0 b0 c0
	echo_server A
	echo_server B
	echo_server C
	printf '%s\n' "127.0.0.1:$A_port" "127.0.0.1:$B_port" "127.0.0.1:$C_port" > "$f"
	controlled -w 2 --servers-file "$f"
	ctl "set server 127.0.0.1:$A_port state drain" \
		"set server 127.0.0.1:$B_port weight 5" \
		"set server 127.0.0.1:$C_port state maint" > /dev/null
	# A changes its options, B stays, C leaves the list.
	printf '%s\n' "127.0.0.1:$A_port,weight=3" "127.0.0.1:$B_port,weight=2" > "$f.new"
	mv "$f.new" "$f"
	kill -HUP "$b_pid"
	wait_for 5 lines_are 3
	assert_eq "$(field "127.0.0.1:$A_port" state) $(field "127.0.0.1:$A_port" weight)" "drain 3"
	assert_eq "$(field "127.0.0.1:$B_port" state) $(field "127.0.0.1:$B_port" weight)" "ready 5"
	# Listed again, C starts from the list.
	printf '%s\n' "127.0.0.1:$A_port" "127.0.0.1:$B_port" "127.0.0.1:$C_port" > "$f.new"
	mv "$f.new" "$f"
	applied
	kill -HUP "$b_pid"
	wait_for 5 lines_are 4
	assert_eq "$(field "127.0.0.1:$C_port" state)" ready
	assert_eq "$(field "127.0.0.1:$A_port" state) $(field "127.0.0.1:$A_port" weight)" "drain 1"
	applied
	a0=$(accepted A) b0=$(accepted B) c0=$(accepted C)
	probes 60
	assert_eq "$(accepted A)" "$a0"
	[ $(($(accepted B) - b0)) -gt $(($(accepted C) - c0)) ]
}

@test "control socket abuse: a 1 MB line, 200 clients, junk; the data path serves and descriptors come back" {
	local before after
	echo_server A
	echo_server B
	controlled -w 2 -s "127.0.0.1:$A_port" -s "127.0.0.1:$B_port"
	probes 10
	before=$(fds "$b_pid")
	start_bg abuse python3 -c '
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
path = sys.argv[1]
big = socket.socket(socket.AF_UNIX)
big.connect(path)
big.settimeout(10)
try:
    big.sendall(b"x" * (1 << 20))
    print("big: all sent", flush=True)
except OSError as e:
    print("big: cut", e.__class__.__name__, flush=True)
big.close()
held = []
for i in range(200):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
    except OSError:
        continue
    s.setblocking(False)
    try:
        if i % 3 == 0:
            s.send(os.urandom(512))
        elif i % 3 == 1:
            s.send(b"show servers\nshow\x00 junk\n\xff\xfe\n")
    except OSError:
        pass
    held.append(s)
print("held", len(held), flush=True)
time.sleep(30)
' "$CTL"
	wait_for 30 grep -q '^held' "$BATS_TEST_TMPDIR/abuse.out"
	cat "$BATS_TEST_TMPDIR/abuse.out" >&3
	# The socket is full: one more client hears so, and nothing stalls.
	run -0 timeout 10 socat -u "UNIX-CONNECT:$CTL" -
	assert_eq "$output" "error: too many control clients"
	probes 100
	stop_pid "$abuse_pid"
	wait_for 10 fds_are "$before"
	after=$(fds "$b_pid")
	printf '# abuse: descriptors of master and workers before %s, after %s\n' \
		"$before" "$after" >&3
	assert_contains "$(ctl 'show info')" "name=pp-balance"
	probes 10
}

@test "a client that holds the socket, or never reads its answers, stalls no other client" {
	echo_server A
	controlled -w 2 -s "127.0.0.1:$A_port"
	start_bg hog python3 -c '
import signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
half = socket.socket(socket.AF_UNIX)
half.connect(sys.argv[1])
half.send(b"show ser")                  # half a line, then silence
deaf = socket.socket(socket.AF_UNIX)
deaf.connect(sys.argv[1])
deaf.setblocking(False)
n = 0
try:
    for n in range(100000):             # answers it never reads
        deaf.send(b"show stat\n")
except OSError:
    pass
print("hogging", n, flush=True)
time.sleep(30)
' "$CTL"
	wait_for 20 grep -q '^hogging' "$BATS_TEST_TMPDIR/hog.out"
	cat "$BATS_TEST_TMPDIR/hog.out" >&3
	run -0 ctl "show info"
	assert_contains "$output" "name=pp-balance"
	assert_eq "$(ctl "set server 127.0.0.1:$A_port state drain")" ok
	assert_eq "$(field "127.0.0.1:$A_port" state)" drain
	stop_pid "$hog_pid"
}

@test "a line longer than 1023 bytes gets an error and the connection ends" {
	echo_server A
	controlled -s "127.0.0.1:$A_port"
	run -0 bash -c "head -c 5000 /dev/zero | tr '\\0' x | timeout 10 socat -t 5 - UNIX-CONNECT:$CTL"
	assert_contains "$output" "error: line longer than 1023 bytes"
	assert_contains "$(ctl 'show info')" "name=pp-balance"
}

@test "pp-relay --control shows its one server" {
	local rport n
	echo_server A
	start_on_port rport r pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$A_port" --control "unix:$CTL" -w 2 --grace 1
	wait_for 5 test -S "$CTL"
	BPORT=$rport
	probes 5
	run -0 ctl "show servers"
	[[ $output =~ ^127\.0\.0\.1:$A_port\ state=ready\ health=up\ weight=1\ active=0\ total=([0-9]+)\ check=none ]]
	# The probes, and start_on_port's own look at the port.
	n=${BASH_REMATCH[1]}
	[ "$n" -ge 5 ]
	run -0 ctl "show info"
	assert_contains "$output" "name=pp-relay"
	assert_contains "$output" "workers=2"
	assert_contains "$(ctl 'show stat')" "pp_relay_server_connections_total{server=\"127.0.0.1:$A_port\"} $n"
	# maint: no new connection to it, so none at all.
	ctl "set server 127.0.0.1:$A_port state maint" > /dev/null
	applied
	run timeout 10 "$TOOLS/pp-load" probe -c "127.0.0.1:$rport" -n 1 -t 5
	[ "$status" -ne 0 ]
}
