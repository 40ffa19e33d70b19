#!/usr/bin/env bats
# The relay engine at its edges: resets passed on, worker and listener
# limits, and the --stats listener under slow, idle or many scrapers.

bats_require_minimum_version 1.5.0
load helpers

# relay NAME ARGS...: pp-relay on a free port (LPORT), waited for.
relay() {
	local name=$1
	shift
	start_on_port LPORT "$name" pp-relay -l "127.0.0.1:@PORT@" "$@"
}

edgepeer() {
	python3 "$FIXTURES/edgepeer.py" "$@"
}

# The probe connection of start_on_port also ends: wait for its line.
settled() {
	wait_for 5 grep -q 'end=' "$BATS_TEST_TMPDIR/$1.err"
}

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
	start_on_port BPORT b pp-balance -l "127.0.0.1:@PORT@" \
		-s "127.0.0.1:$SPORT"
	settled b
	run -0 edgepeer get "127.0.0.1:$BPORT"
	assert_contains "$output" "reset"
}

@test "pp-relay -w 17 starts every worker and serves" {
	local i
	start_on_port SPORT srv pp_py serve "s1:@PORT@"
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
