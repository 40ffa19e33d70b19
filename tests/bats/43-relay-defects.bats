#!/usr/bin/env bats
# The relay engine at its edges: resets passed on, worker and listener
# limits, and the --stats listener under slow, idle or many scrapers.

bats_require_minimum_version 1.5.0
load helpers

# cpu PID: its user + system time, in clock ticks.
cpu() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

setup() {
	need_cmd python3
}

@test "pp-relay resets the client when the server resets mid-answer" {
	start_on_port SPORT srv edgepeer rst-server @PORT@ 1000
	# What a direct client sees, so the relay is held to the same.
	run -0 edgepeer get "127.0.0.1:$SPORT"
	assert_contains "$output" "reset"
	relay r -c "127.0.0.1:$SPORT"
	settled r
	run -0 edgepeer get "127.0.0.1:$LPORT"
	assert_contains "$output" "reset"
	wait_for 5 grep -q 'up=18 down=1000 .*end=reset' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay resets the client when the server resets in a bulk transfer" {
	# Over 16 KB: the answer moves by splice(2).
	start_on_port SPORT srv edgepeer rst-server @PORT@ 300000
	run -0 edgepeer get "127.0.0.1:$SPORT"
	assert_contains "$output" "reset"
	relay r -c "127.0.0.1:$SPORT"
	settled r
	run -0 edgepeer get "127.0.0.1:$LPORT"
	assert_contains "$output" "reset"
	wait_for 5 grep -q 'end=reset' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-relay resets the server when the client resets" {
	start_on_port SPORT srv edgepeer end-server @PORT@
	relay r -c "127.0.0.1:$SPORT"
	settled r
	wait_for 5 grep -q 'eof 0' "$BATS_TEST_TMPDIR/srv.out"
	run -0 edgepeer reset-client "127.0.0.1:$LPORT"
	wait_for 5 grep -q 'reset 18' "$BATS_TEST_TMPDIR/srv.out"
	run -1 grep -q 'eof 18' "$BATS_TEST_TMPDIR/srv.out"
	wait_for 5 grep -q 'up=18 .*end=reset' "$BATS_TEST_TMPDIR/r.err"
}

@test "pp-balance resets the client when the server resets mid-answer" {
	start_on_port SPORT srv edgepeer rst-server @PORT@ 1000
	balance b -s "127.0.0.1:$SPORT"
	settled b
	run -0 edgepeer get "127.0.0.1:$BPORT"
	assert_contains "$output" "reset"
}

@test "pp-relay -w 17 starts every worker and serves" {
	local i
	reply_server
	# 17 and more used to write past the table of listening sockets.
	relay r -c "127.0.0.1:$SPORT" --send-proxy -w 17
	for ((i = 0; i < 100; i++)); do
		[ "$(pgrep -c -P "$r_pid")" -eq 17 ] && break
		sleep 0.1
	done
	[ "$(pgrep -c -P "$r_pid")" -eq 17 ]
	run -0 pp_py clients "127.0.0.1:$LPORT" 40 --parallel 8
	[ "$(grep -c ' s1 127\.' <<< "$output")" -eq 40 ]
}

@test "pp-relay and pp-balance refuse -w out of range, naming the range" {
	local p
	p=$(free_port)
	# A relay that starts instead is stopped by timeout (status 124).
	run -64 --separate-stderr timeout 5 pp-relay -l "127.0.0.1:$p" \
		-c 127.0.0.1:2 -w 65
	assert_contains "$stderr" "65: too large (1 to 64)"
	run -64 --separate-stderr timeout 5 pp-relay -l "127.0.0.1:$p" \
		-c 127.0.0.1:2 -w 0
	assert_contains "$stderr" "0: too small (1 to 64)"
	run -64 --separate-stderr timeout 5 pp-balance -l "127.0.0.1:$p" \
		-s 127.0.0.1:2 -w 300
	assert_contains "$stderr" "300: too large (1 to 64)"
}

# stats_balancer: pp-balance -w 1 with --stats on SPORT_STATS, one live
# server (s1) first and 200 closed ports after it, so the page is large.
stats_balancer() {
	local k
	reply_server
	echo "127.0.0.1:$SPORT" > "$BATS_TEST_TMPDIR/servers"
	for ((k = 1; k <= 200; k++)); do
		echo "127.0.0.1:$((1 + k))"
	done >> "$BATS_TEST_TMPDIR/servers"
	SPORT_STATS=$(free_port)
	balance b -w 1 --balance first \
		--servers-file "$BATS_TEST_TMPDIR/servers" \
		--stats "127.0.0.1:$SPORT_STATS" "$@"
	settled b
}

@test "pp-balance: scrapers that never read do not stall relayed traffic" {
	stats_balancer
	run -0 edgepeer http "127.0.0.1:$SPORT_STATS" \
		'GET /metrics HTTP/1.0\r\n\r\n'
	[ "${#output}" -gt 65536 ]
	start_bg stall edgepeer stall "127.0.0.1:$SPORT_STATS" 20 "$(lo_addr)"
	wait_for 10 grep -q 'stalled 20' "$BATS_TEST_TMPDIR/stall.out"
	# Each stalled scraper used to hold the worker for a second or more.
	run -0 timeout 20 python3 -c '
import socket, sys, threading, time
out, t0 = [], time.time()
def one():
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
        c.shutdown(socket.SHUT_WR)
        out.append(c.makefile("rb").read().decode().split(" ")[0])
    except OSError as e:
        out.append(e.__class__.__name__)
ts = [threading.Thread(target=one) for _ in range(50)]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(sorted(set(out))), len(out), "%.1f" % (time.time() - t0))
' "$BPORT"
	echo "$output" >&2
	assert_contains "$output" "s1 50 "
	# Well inside the clients' 10 s: nothing waited on a scraper.
	[ "$(awk '{ print ($3 < 5) }' <<< "$output")" -eq 1 ]
}

@test "--stats reads a request split across segments" {
	stats_balancer
	run -0 edgepeer http "127.0.0.1:$SPORT_STATS" 'GET /met' \
		'rics HTTP/1.0\r\n' '\r\n'
	assert_contains "${output%%$'\r'*}" "200 OK"
	assert_contains "$output" "pp_balance_server_up{server=\"127.0.0.1:$SPORT\"} 1"
}

@test "--stats answers HEAD with the headers of GET and no body" {
	local get head glen
	stats_balancer
	get=$(edgepeer http "127.0.0.1:$SPORT_STATS" 'GET /metrics HTTP/1.0\r\n\r\n')
	# The dot keeps the blank line from being cut as trailing newlines.
	head=$(edgepeer http "127.0.0.1:$SPORT_STATS" 'HEAD /metrics HTTP/1.0\r\n\r\n'; echo .)
	assert_contains "${head%%$'\r'*}" "200 OK"
	glen=$(grep -i '^content-length:' <<< "$get" | tr -dc 0-9)
	[ "$glen" -gt 0 ]
	assert_contains "$head" "Content-Length: $glen"$'\r'
	# Nothing after the blank line.
	assert_eq "${head#*$'\r\n\r\n'}" "."
	run -0 edgepeer http "127.0.0.1:$SPORT_STATS" 'HEAD /other HTTP/1.0\r\n\r\n'
	assert_contains "${output%%$'\r'*}" "404"
}

@test "--stats closes an idle client after its 10 s timeout" {
	stats_balancer
	# A client that connects and says nothing, for up to 30 s.
	start_bg idle edgepeer idle "127.0.0.1:$SPORT_STATS" 30
	wait_for 25 grep -q '^closed ' "$BATS_TEST_TMPDIR/idle.out"
	# Closed by the relay without an answer, and not before its time.
	run -0 cat "$BATS_TEST_TMPDIR/idle.out"
	[ "$(awk '{ print ($2 == 0 && $3 >= 8) }' <<< "$output")" -eq 1 ]
}

@test "300 idle --stats clients under ulimit -n 256: relayed requests still served, no spin" {
	local t1 t2
	reply_server
	SPORT_STATS=$(free_port)
	start_on_port LPORT r bash -c "ulimit -n 256 && exec pp-relay \
		-l 127.0.0.1:@PORT@ -c 127.0.0.1:$SPORT -q --send-proxy \
		--stats 127.0.0.1:$SPORT_STATS"
	[ "$(awk '/^Max open files/ { print $4 }' "/proc/$r_pid/limits")" -eq 256 ]
	start_bg hold pp_py hold "127.0.0.1:$SPORT_STATS" 300 127.0.0.5
	wait_file "$BATS_TEST_TMPDIR/hold.out" 60
	# At most a handful are kept: the rest are accepted and closed.
	[ "$(awk '{ print $2 }' "$BATS_TEST_TMPDIR/hold.out")" -le 32 ]
	t1=$(cpu "$r_pid")
	sleep 3
	t2=$(cpu "$r_pid")
	echo "cpu ticks over 3 s: $((t2 - t1))" >&2
	[ $((t2 - t1)) -lt 100 ]
	run -0 pp_py clients "127.0.0.1:$LPORT" 100 --parallel 10
	[ "$(grep -c ' s1 127\.' <<< "$output")" -eq 100 ]
	kill -0 "$r_pid"
}
