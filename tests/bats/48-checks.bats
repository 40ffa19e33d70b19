#!/usr/bin/env bats
# pp-balance health checks beyond the connect: check-send/check-expect
# against a real Redis, check-http/check-status against nginx, the PROXY
# header a check starts with, and what a spec may not combine.  Server
# state is read from /metrics, never from timing.

bats_require_minimum_version 1.5.0
load helpers

# balance NAME ARGS...: pp-balance on a free port (BPORT) with --stats on
# another (SPORT), waited for.
balance() {
	local name=$1
	shift
	SPORT=$(free_port)
	start_on_port BPORT "$name" pp-balance -l "127.0.0.1:@PORT@" \
		--stats "127.0.0.1:$SPORT" "$@"
}

metrics() {
	curl -fsS --max-time 5 "http://127.0.0.1:$SPORT/metrics"
}

# is_up PORT 0|1: /metrics says the server on 127.0.0.1:PORT is that.
is_up() {
	metrics | grep -qx "pp_balance_server_up{server=\"127.0.0.1:$1\"} $2"
}

# redis_run: a Redis in the foreground on a free port (RPORT), saving
# nothing, every file in the test's directory.
redis_run() {
	need_cmd redis-server redis-cli
	start_on_port RPORT redis redis-server --port @PORT@ --bind 127.0.0.1 \
		--save '' --appendonly no --daemonize no \
		--dir "$BATS_TEST_TMPDIR"
}

@test "pp-balance refuses check options that make no sense, naming them" {
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-send=PING\q'
	assert_contains "$stderr" "check-send: bad escape"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-expect=\x4'
	assert_contains "$stderr" "check-expect: bad escape"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-status=200'
	assert_contains "$stderr" "check-status needs check-http"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-http=health'
	assert_contains "$stderr" "check-http: expected a path starting with '/'"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-http=/h,check-send=x'
	assert_contains "$stderr" "one request only"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-http=/h,check-expect=x'
	assert_contains "$stderr" "check-http goes with check-status"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		-s '127.0.0.1:2,check-http=/h,check-status=99'
	assert_contains "$stderr" "check-status must be 100 to 599"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2 \
		--check-timeout 0
	assert_contains "$stderr" "--check-timeout 0: too small"
	run -64 --separate-stderr pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--check-timeout 1s
	# In a servers file too, with the line named.
	printf '127.0.0.1:2,check-send=\\xZZ\n' > "$BATS_TEST_TMPDIR/servers"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		--servers-file "$BATS_TEST_TMPDIR/servers"
	assert_contains "$stderr" "servers:1: check-send: bad escape"
}

@test "check-send PING / check-expect +PONG: Redis stays up, goes down when paused, comes back" {
	need_cmd curl
	redis_run
	# A second server on the same Redis that expects what it never says.
	balance b --check-interval 200 --fall 2 --rise 1 --check-timeout 150 \
		-s "127.0.0.1:$RPORT,check-send=PING\\r\\n,check-expect=+PONG" \
		-s "127.0.0.1:$RPORT,weight=2,check-send=PING\\r\\n,check-expect=+NOPE"
	# Both specs share one address and so one line in /metrics: read
	# the expecting-wrong one from its own log line.
	wait_for 5 grep -q "server 127.0.0.1:$RPORT is down" "$BATS_TEST_TMPDIR/b.err"
	stop_pid "$b_pid"
	balance b --check-interval 200 --fall 2 --rise 1 --check-timeout 150 \
		-s "127.0.0.1:$RPORT,check-send=PING\\r\\n,check-expect=+PONG"
	wait_for 5 is_up "$RPORT" 1
	# Good checks for a while: it stays up, no failure counted.
	sleep 1
	is_up "$RPORT" 1
	run -0 metrics
	assert_contains "$output" "pp_balance_server_check_failures_total{server=\"127.0.0.1:$RPORT\"} 0"
	# Redis still accepts, but answers nothing for 3 s.
	local t0 t1
	t0=$(date +%s%N)
	run -0 redis-cli -p "$RPORT" CLIENT PAUSE 3000 ALL
	wait_for 5 is_up "$RPORT" 0
	t1=$(date +%s%N)
	echo "# redis paused -> down in $(( (t1 - t0) / 1000000 )) ms" \
		"(interval 200 ms, fall 2, timeout 150 ms)" >&3
	# The worker that runs the checks kept serving /metrics meanwhile:
	# a check waiting for its reply blocks nothing.
	run -0 metrics
	assert_not_contains "$output" "check_failures_total{server=\"127.0.0.1:$RPORT\"} 0"
	# After the pause PONG comes again: up after rise (1) good check.
	wait_for 8 is_up "$RPORT" 1
	grep -q "server 127.0.0.1:$RPORT is up" "$BATS_TEST_TMPDIR/b.err"
}

@test "check-send with send-proxy-v2 starts with a LOCAL header, check-http with v1 with a TCP4 line" {
	capture_servers 2
	# No probe connection: its header would reach cap1 too.
	quiet_start b pp-balance -l 127.0.0.1:@PORT@ --check-interval 100 \
		-s "127.0.0.1:$P1,send-proxy-v2,check-send=PING\\r\\n" \
		-s "127.0.0.1:$P2,send-proxy,check-http=/health"
	wait_for 10 grep -q PING "$BATS_TEST_TMPDIR/cap1"
	wait_for 10 grep -q 'User-Agent' "$BATS_TEST_TMPDIR/cap2"
	stop_pid "$b_pid"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap1"
	json_expect "$(head -1 <<< "$output")" .command local .header_len 16
	# The request right after the 16 bytes of the header.
	assert_eq "$(head -c 22 "$BATS_TEST_TMPDIR/cap1" | tail -c 6 | hex)" \
		"50494e470d0a"
	run -0 head -2 "$BATS_TEST_TMPDIR/cap2"
	[[ "${lines[0]}" =~ ^PROXY\ TCP4\ 127\.0\.0\.1\ 127\.0\.0\.1\ [0-9]+\ $P2 ]]
	assert_eq "${lines[1]}" "$(printf 'GET /health HTTP/1.0\r')"
}

@test "check-http against nginx: 200 up, 503 down, check-status=418 wanted, 404 down" {
	need_cmd nginx curl
	local d=$BATS_TEST_TMPDIR/nginx n1 n2 n3
	n1=$(free_port) n2=$(free_port) n3=$(free_port)
	# /health reads the test's directory (-f): nginx_http's worker can.
	nginx_http "$d" "server {
		listen 127.0.0.1:$n1;
		listen 127.0.0.1:$n2;
		listen 127.0.0.1:$n3;
		location = /health {
			if (-f $d/down) { return 503; }
			return 200 \"ok\\n\";
		}
		location = /teapot { return 418; }
	}"
	wait_listen "$n3" 10 || { cat "$d/error.log" >&2; return 1; }
	balance b --check-interval 100 --fall 2 --rise 2 \
		-s "127.0.0.1:$n1,check-http=/health" \
		-s "127.0.0.1:$n2,check-http=/teapot,check-status=418" \
		-s "127.0.0.1:$n3,check-http=/missing"
	wait_for 5 is_up "$n3" 0
	wait_for 5 is_up "$n1" 1
	is_up "$n2" 1
	touch "$d/down"
	wait_for 5 is_up "$n1" 0
	is_up "$n2" 1
	rm "$d/down"
	wait_for 5 is_up "$n1" 1
	# Traffic goes to the two that are up.
	run -0 curl -fsS --max-time 5 "http://127.0.0.1:$BPORT/health"
	assert_eq "$output" "ok"
}
