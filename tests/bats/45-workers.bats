#!/usr/bin/env bats
# Process supervision of pp-relay and pp-balance: signals, the master and
# its workers, dead and wedged workers, restarts, drain end reasons.

bats_require_minimum_version 1.5.0
load helpers

# workers PID: the worker pids of master PID, one a line.
workers() {
	pgrep -P "$1" || true
}

# nworkers PID N: master PID has exactly N workers.
nworkers() {
	[ "$(pgrep -P "$1" | wc -l)" -eq "$2" ]
}

# serves PORT N BASE: N clients (from BASE+1 ...) through PORT all get
# s1's answer.
serves() {
	local out
	out=$(pp_py clients "127.0.0.1:$1" "$2" --base "$3" --parallel 4)
	[ "$(grep -c "^${3%.0}\.[0-9]* s1 " <<< "$out")" -eq "$2" ] || {
		echo "not all served: $out" >&2
		return 1
	}
}

# metric NAME: the value of one sample line of /metrics.
metric() {
	metrics | awk -v n="$1" '$1 == n { print $2 }'
}

setup() {
	need_cmd socat python3 curl
}

# A stopped worker ignores the TERM of stop_all: wake it first.
teardown() {
	[ -z "${STOPPED:-}" ] || kill -CONT "$STOPPED" 2>/dev/null || true
	stop_all
}

@test "SIGHUP and SIGTERM back to back always stop the master and its workers" {
	local i w
	reply_server
	for ((i = 0; i < 20; i++)); do
		balance b -w 2 -g 1 -s "127.0.0.1:$SPORT" -q
		wait_for 5 nworkers "$b_pid" 2
		w=$(workers "$b_pid")
		kill -HUP "$b_pid"
		kill -TERM "$b_pid"
		# shellcheck disable=SC2086
		wait_for 5 gone "$b_pid" $w || {
			echo "trial $i: still running: $(ps -o pid,stat,args -p "$b_pid" $w)" >&2
			return 1
		}
		stop_pid "$b_pid"
	done
}

@test "SIGHUP and SIGTERM together stop a single-process relay and a worker" {
	local i w
	reply_server
	for ((i = 0; i < 10; i++)); do
		balance b -w 1 -g 1 -s "127.0.0.1:$SPORT" -q
		kill -HUP "$b_pid"
		kill -TERM "$b_pid"
		wait_for 5 gone "$b_pid"
		stop_pid "$b_pid"
	done
	# Both at a worker: that worker drains and ends, and stays ended.
	balance b -w 2 -g 1 -s "127.0.0.1:$SPORT"
	wait_for 5 nworkers "$b_pid" 2
	w=$(workers "$b_pid" | head -n 1)
	kill -HUP "$w"
	kill -TERM "$w"
	wait_for 5 gone "$w"
	sleep 0.5
	wait_for 5 nworkers "$b_pid" 1
}

@test "a SIGKILLed worker's connections do not stay counted as active" {
	local w before after
	reply_server
	SPORT_STATS=$(free_port)
	balance b -w 2 --stats "127.0.0.1:$SPORT_STATS" -s "127.0.0.1:$SPORT"
	wait_for 5 nworkers "$b_pid" 2
	settled b
	start_bg hold pp_py hold "127.0.0.1:$BPORT" 10 127.0.0.91
	wait_file "$BATS_TEST_TMPDIR/hold.out" 10
	assert_eq "$(cat "$BATS_TEST_TMPDIR/hold.out")" "held 10"
	wait_for 10 sh -c "curl -fsS http://127.0.0.1:$SPORT_STATS/metrics |
	    grep -qx 'pp_balance_connections_active 10'"
	before=$(metric pp_balance_connections_total)
	w=$(workers "$b_pid")
	# shellcheck disable=SC2086
	kill -KILL $w
	# shellcheck disable=SC2086
	wait_for 10 gone $w
	wait_for 10 nworkers "$b_pid" 2
	wait_for 10 metrics > /dev/null
	run -0 metrics
	assert_contains "$output" "pp_balance_connections_active 0"
	assert_contains "$output" \
		"pp_balance_server_active_connections{server=\"127.0.0.1:$SPORT\"} 0"
	after=$(metric pp_balance_connections_total)
	[ "$after" -ge "$before" ] || {
		echo "connections_total went down: $before -> $after" >&2
		return 1
	}
	[ "$before" -ge 10 ]
}

@test "a stopped (wedged) worker is killed and replaced, traffic is served" {
	local w
	reply_server
	relay r -w 2 -c "127.0.0.1:$SPORT"
	wait_for 5 nworkers "$r_pid" 2
	w=$(workers "$r_pid" | tail -n 1)
	STOPPED=$w
	kill -STOP "$w"
	# The bound is 10 s of silence, checked about once a second.
	wait_for 30 gone "$w"
	wait_for 10 nworkers "$r_pid" 2
	run -0 workers "$r_pid"
	assert_not_contains "$output" "$w"
	grep -q "worker .* silent" "$BATS_TEST_TMPDIR/r.err"
	serves "$LPORT" 20 127.9.2.0
}

@test "a stopped worker does not keep a stopping master alive" {
	local w
	reply_server
	relay r -w 2 -g 1 -c "127.0.0.1:$SPORT"
	wait_for 5 nworkers "$r_pid" 2
	w=$(workers "$r_pid" | head -n 1)
	STOPPED=$w
	kill -STOP "$w"
	kill -TERM "$r_pid"
	# Cut after the grace period and a margin (1 + 5 s), or as wedged.
	wait_for 15 gone "$r_pid" "$w"
}

@test "a connection that ends normally during the drain is logged end=done" {
	local cl rc=0
	start_on_port SPORT slow socat -t 5 \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
		"SYSTEM:sleep 1; echo late"
	relay r -g 5 -c "127.0.0.1:$SPORT"
	settled r
	echo x | socat -t 5 - "TCP:127.0.0.1:$LPORT,bind=127.0.0.66" \
		> "$BATS_TEST_TMPDIR/back" &
	cl=$!
	sleep 0.3
	kill -TERM "$r_pid"
	wait "$cl"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/back")" "late"
	wait "$r_pid" || rc=$?
	assert_eq "$rc" 0
	run -0 grep 'client=127.0.0.66:' "$BATS_TEST_TMPDIR/r.err"
	assert_contains "$output" "end=done"
}

@test "a worker that cannot start is restarted with a growing delay, from the last good servers" {
	local w n
	reply_server
	echo "127.0.0.1:$SPORT" > "$BATS_TEST_TMPDIR/servers"
	balance b -w 2 --servers-file "$BATS_TEST_TMPDIR/servers"
	wait_for 5 nworkers "$b_pid" 2
	settled b
	echo "127.0.0.1:$SPORT,nonsense" > "$BATS_TEST_TMPDIR/servers"
	w=$(workers "$b_pid" | head -n 1)
	: > "$BATS_TEST_TMPDIR/b.err"
	kill -KILL "$w"
	sleep 3
	n=$(grep -c worker "$BATS_TEST_TMPDIR/b.err" || true)
	[ "$n" -ge 1 ] && [ "$n" -le 5 ] || {
		echo "restarts logged in 3 s: $n" >&2
		head -n 20 "$BATS_TEST_TMPDIR/b.err" >&2
		return 1
	}
	grep -q "restarting it in [0-9]* ms" "$BATS_TEST_TMPDIR/b.err"
	wait_for 10 nworkers "$b_pid" 2
	serves "$BPORT" 20 127.9.3.0
}

@test "SIGUSR1 logs one status line per worker; the relay goes on serving" {
	local w
	reply_server
	for w in 1 2; do
		relay r -w "$w" -c "127.0.0.1:$SPORT"
		wait_for 5 nworkers "$r_pid" "$((w == 1 ? 0 : 2))"
		kill -USR1 "$r_pid"
		wait_for 5 sh -c "[ \$(grep -c 'status: .* connections open, 1/1 servers up' \
		    $BATS_TEST_TMPDIR/r.err) -eq $w ]"
		run -0 kill -0 "$r_pid"
		serves "$LPORT" 8 "127.9.4.0"
		stop_pid "$r_pid"
	done
}

@test "SIGUSR2, SIGTTIN and SIGTTOU are ignored: the relay neither dies nor stops" {
	local w s p
	reply_server
	for w in 1 2; do
		relay r -w "$w" -c "127.0.0.1:$SPORT"
		wait_for 5 nworkers "$r_pid" "$((w == 1 ? 0 : 2))"
		for s in USR2 TTIN TTOU; do
			# shellcheck disable=SC2046
			kill -"$s" "$r_pid" $(workers "$r_pid")
		done
		sleep 0.5
		for p in "$r_pid" $(workers "$r_pid"); do
			run -0 ps -o stat= -p "$p"
			assert_not_contains "$output" "T"
		done
		serves "$LPORT" 8 "127.9.5.0"
		stop_pid "$r_pid"
	done
}

@test "SIGQUIT drains the relay like SIGTERM and it exits 0" {
	local w rc
	reply_server
	for w in 1 2; do
		relay r -w "$w" -g 2 -c "127.0.0.1:$SPORT"
		wait_for 5 nworkers "$r_pid" "$((w == 1 ? 0 : 2))"
		serves "$LPORT" 4 "127.9.6.0"
		kill -QUIT "$r_pid"
		rc=0
		wait "$r_pid" || rc=$?
		assert_eq "$rc" 0
		grep -q 'drained, exiting' "$BATS_TEST_TMPDIR/r.err"
	done
}
