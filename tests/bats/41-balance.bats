#!/usr/bin/env bats
# pp-balance: the two-hop chain, algorithms, health checks, /metrics,
# reloads, limits behind a relay, integrity under load.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	need_cmd socat python3 curl
}

@test "pp-balance --help lists every option and exits 0" {
	run -0 pp-balance --help
	for o in listen server servers-file balance check-interval rise fall \
	    retries stats accept-proxy optional trust max-header send-proxy \
	    tlv crc32c pass-tlvs drop-tlv allow deny max-conns-per-ip \
	    rate-per-ip max-conns header-timeout connect-timeout \
	    idle-timeout grace usesrc workers user pidfile quiet verbose; do
		assert_contains "$output" "--$o"
	done
	for a in roundrobin leastconn source maglev random first; do
		assert_contains "$output" "$a"
	done
}

@test "pp-balance refuses bad server specs and missing files" {
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1
	assert_contains "$stderr" "no server"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2,bogus
	assert_contains "$stderr" "unknown server option"
	run -64 pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2,weight=0
	run -64 pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2 --balance nope
	run -66 pp-balance -l 127.0.0.1:1 --servers-file /nonexistent/servers
	printf '# two\n127.0.0.1:2\n127.0.0.1:3,weight=x\n' \
		> "$BATS_TEST_TMPDIR/servers"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 \
		--servers-file "$BATS_TEST_TMPDIR/servers"
	assert_contains "$stderr" "servers:3: "
	run -64 pp-balance -l 127.0.0.1:1 -c 127.0.0.1:2
}

@test "the chain: client -> pp-relay v2 -> pp-balance -> pp-strip servers see the client" {
	local k
	cat > "$BATS_TEST_TMPDIR/app" <<-'EOF'
	#!/bin/sh
	echo "$1 $TCPREMOTEIP $PROXY_VERSION"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/app"
	for k in 1 2; do
		start_on_port "P$k" "app$k" socat \
			"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
			"EXEC:pp-strip -- $BATS_TEST_TMPDIR/app app$k"
	done
	balance b --accept-proxy --trust 127.0.0.1 \
		-s "127.0.0.1:$P1,send-proxy" -s "127.0.0.1:$P2,send-proxy"
	start_on_port RPORT r pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$BPORT" --send-proxy=v2
	run -0 pp_py clients "127.0.0.1:$RPORT" 4 --base 127.20.30.0
	# Each answer names the client itself; the two servers alternate.
	[[ "$output" =~ ^127\.20\.30\.1\ app([12])\ 127\.20\.30\.1\ 1 ]]
	local first=${BASH_REMATCH[1]} second=$((3 - BASH_REMATCH[1]))
	assert_eq "$output" "127.20.30.1 app$first 127.20.30.1 1
127.20.30.2 app$second 127.20.30.2 1
127.20.30.3 app$first 127.20.30.3 1
127.20.30.4 app$second 127.20.30.4 1"
	wait_for 5 grep -q 'client=127.20.30.4:[0-9]* peer=127.0.0.1:' \
		"$BATS_TEST_TMPDIR/b.err"
}

@test "roundrobin with weights 1:2:3 gives exactly those shares over 600 connections" {
	reply_servers 3
	balance b -q -s "127.0.0.1:$P1,weight=1" -s "127.0.0.1:$P2,weight=2" \
		-s "127.0.0.1:$P3,weight=3"
	# The probe connection took one turn: skip to a fresh cycle of 6.
	pp_py clients "127.0.0.1:$BPORT" 5 > /dev/null
	pp_py clients "127.0.0.1:$BPORT" 600 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=100 s2=200 s3=300 "
}

@test "leastconn sends new connections to the server with fewest open" {
	local k
	for k in 1 2; do
		start_on_port "P$k" "s$k" pp_py serve --echo "s$k:@PORT@"
	done
	echo "127.0.0.1:$P1" > "$BATS_TEST_TMPDIR/servers"
	SPORT_STATS=$(free_port)
	balance b --balance leastconn --servers-file "$BATS_TEST_TMPDIR/servers" \
		--stats "127.0.0.1:$SPORT_STATS"
	settled b
	start_bg h1 pp_py hold "127.0.0.1:$BPORT" 4 127.0.0.1
	wait_file "$BATS_TEST_TMPDIR/h1.out"
	echo "127.0.0.1:$P2" >> "$BATS_TEST_TMPDIR/servers"
	kill -HUP "$b_pid"
	wait_for 5 sh -c "curl -fsS http://127.0.0.1:$SPORT_STATS/metrics | grep -q 'server=\"127.0.0.1:$P2\"'"
	start_bg h2 pp_py hold "127.0.0.1:$BPORT" 4 127.0.0.2
	wait_file "$BATS_TEST_TMPDIR/h2.out"
	run -0 metrics
	assert_contains "$output" "pp_balance_server_active_connections{server=\"127.0.0.1:$P1\"} 4"
	assert_contains "$output" "pp_balance_server_active_connections{server=\"127.0.0.1:$P2\"} 4"
}

@test "source and maglev: two independent pp-balance agree for 1000 addresses" {
	local algo
	reply_servers 4
	for algo in source maglev; do
		start_on_port B1 "b1$algo" pp-balance -q -l "127.0.0.1:@PORT@" \
			--balance "$algo" --accept-proxy -s "127.0.0.1:$P1,send-proxy" \
			-s "127.0.0.1:$P2,send-proxy" -s "127.0.0.1:$P3,send-proxy" \
			-s "127.0.0.1:$P4,send-proxy"
		# The other lists its servers in another order.
		start_on_port B2 "b2$algo" pp-balance -q -l "127.0.0.1:@PORT@" \
			--balance "$algo" --accept-proxy -s "127.0.0.1:$P4,send-proxy" \
			-s "127.0.0.1:$P3,send-proxy" -s "127.0.0.1:$P2,send-proxy" \
			-s "127.0.0.1:$P1,send-proxy"
		pp_py clients "127.0.0.1:$B1" 1000 --base 10.1.0.0 --hdr v2 \
			--parallel 8 > "$BATS_TEST_TMPDIR/m1"
		pp_py clients "127.0.0.1:$B2" 1000 --base 10.1.0.0 --hdr v1 \
			--parallel 8 > "$BATS_TEST_TMPDIR/m2"
		pp_py clients "127.0.0.1:$B1" 1000 --base 10.1.0.0 --hdr v1 \
			--parallel 8 > "$BATS_TEST_TMPDIR/m3"
		[ "$(grep -c ' s[1-4] 10\.1\.' "$BATS_TEST_TMPDIR/m1")" -eq 1000 ]
		if [ "$algo" = maglev ]; then
			cmp "$BATS_TEST_TMPDIR/m1" "$BATS_TEST_TMPDIR/m2"
		else
			# source hashes over the list order, like HAProxy:
			# the same list in both gives the same answer.
			:
		fi
		cmp "$BATS_TEST_TMPDIR/m1" "$BATS_TEST_TMPDIR/m3"
		# Every server gets a fair share (250 expected).
		for k in 1 2 3 4; do
			n=$(grep -c " s$k " "$BATS_TEST_TMPDIR/m1")
			[ "$n" -gt 150 ] && [ "$n" -lt 350 ]
		done
	done
	# source: a second process with the same list agrees.
	start_on_port B3 b3 pp-balance -q -l "127.0.0.1:@PORT@" \
		--balance source --accept-proxy -s "127.0.0.1:$P1,send-proxy" \
		-s "127.0.0.1:$P2,send-proxy" -s "127.0.0.1:$P3,send-proxy" \
		-s "127.0.0.1:$P4,send-proxy"
	pp_py clients "127.0.0.1:$B3" 1000 --base 10.1.0.0 --hdr v1 \
		--parallel 8 > "$BATS_TEST_TMPDIR/s3"
	pp_py clients "127.0.0.1:$B1" 1000 --base 10.1.0.0 --hdr v1 \
		--parallel 8 > /dev/null
	start_on_port B4 b4 pp-balance -q -l "127.0.0.1:@PORT@" \
		--balance source --accept-proxy -s "127.0.0.1:$P1,send-proxy" \
		-s "127.0.0.1:$P2,send-proxy" -s "127.0.0.1:$P3,send-proxy" \
		-s "127.0.0.1:$P4,send-proxy"
	pp_py clients "127.0.0.1:$B4" 1000 --base 10.1.0.0 --hdr v2 \
		--parallel 8 > "$BATS_TEST_TMPDIR/s4"
	cmp "$BATS_TEST_TMPDIR/s3" "$BATS_TEST_TMPDIR/s4"
}

@test "maglev: removing one of 5 servers moves only its clients (and a few percent)" {
	reply_servers 5
	start_on_port B1 b1 pp-balance -q -l "127.0.0.1:@PORT@" --balance maglev \
		--accept-proxy -s "127.0.0.1:$P1,send-proxy" \
		-s "127.0.0.1:$P2,send-proxy" -s "127.0.0.1:$P3,send-proxy" \
		-s "127.0.0.1:$P4,send-proxy" -s "127.0.0.1:$P5,send-proxy"
	start_on_port B2 b2 pp-balance -q -l "127.0.0.1:@PORT@" --balance maglev \
		--accept-proxy -s "127.0.0.1:$P1,send-proxy" \
		-s "127.0.0.1:$P2,send-proxy" -s "127.0.0.1:$P4,send-proxy" \
		-s "127.0.0.1:$P5,send-proxy"
	pp_py clients "127.0.0.1:$B1" 1000 --base 10.2.0.0 --hdr v1 \
		--parallel 8 > "$BATS_TEST_TMPDIR/m5"
	pp_py clients "127.0.0.1:$B2" 1000 --base 10.2.0.0 --hdr v1 \
		--parallel 8 > "$BATS_TEST_TMPDIR/m4"
	run -0 paste -d ' ' "$BATS_TEST_TMPDIR/m5" "$BATS_TEST_TMPDIR/m4"
	# Fields: src server client src server client.
	gone=$(awk '$2 == "s3"' <<< "$output" | wc -l)
	moved=$(awk '$2 != "s3" && $2 != $5' <<< "$output" | wc -l)
	echo "clients of s3: $gone, others moved: $moved" >&3
	[ "$gone" -gt 100 ]
	[ "$(awk '$5 == "s3"' <<< "$output" | wc -l)" -eq 0 ]
	[ "$moved" -le 50 ]
}

@test "health: a killed server goes down within fall x interval, no client fails, it comes back after rise" {
	reply_servers 2
	SPORT_STATS=$(free_port)
	balance b --check-interval 200 --fall 2 --rise 2 \
		--stats "127.0.0.1:$SPORT_STATS" \
		-s "127.0.0.1:$P1,check" -s "127.0.0.1:$P2,check"
	wait_for 5 sh -c "curl -fsS http://127.0.0.1:$SPORT_STATS/metrics | grep -q 'server_up{server=\"127.0.0.1:$P2\"} 1'"
	# Clients keep coming while s2 dies.
	pp_py clients "127.0.0.1:$BPORT" 300 --parallel 2 > "$BATS_TEST_TMPDIR/during" &
	local cl=$! t0
	sleep 0.2
	pkill -TERM -P "$s2_pid"; stop_pid "$s2_pid" || true
	t0=$(date +%s%N)
	wait_for 5 grep -q "server 127.0.0.1:$P2 is down" "$BATS_TEST_TMPDIR/b.err"
	# Within fall x interval (400 ms), plus one interval of phase and slack.
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -le 1000 ]
	wait "$cl"
	# Only connections in flight at the moment of the kill may fail.
	[ "$(grep -c '!' "$BATS_TEST_TMPDIR/during")" -le 2 ]
	run -0 metrics
	assert_contains "$output" "pp_balance_server_up{server=\"127.0.0.1:$P2\"} 0"
	assert_contains "$output" "pp_balance_server_check_failures_total{server=\"127.0.0.1:$P2\"} "
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/after"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/after")" "s1=20 "
	# Restarted on the same port, it comes back after two good checks.
	start_bg s2 pp_py serve "s2:$P2"
	wait_for 5 grep -q "server 127.0.0.1:$P2 is up" "$BATS_TEST_TMPDIR/b.err"
	run -0 metrics
	assert_contains "$output" "pp_balance_server_up{server=\"127.0.0.1:$P2\"} 1"
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/back"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/back")" "s1=10 s2=10 "
}

@test "health checks send LOCAL to a v2 server and a real TCP4 line to a v1 server" {
	local k
	for k in 1 2; do
		: > "$BATS_TEST_TMPDIR/cap$k"
		start_on_port "P$k" "cap$k" socat -u \
			"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
			"OPEN:$BATS_TEST_TMPDIR/cap$k,creat,append"
	done
	balance b --check-interval 100 -s "127.0.0.1:$P1,send-proxy-v2,check" \
		-s "127.0.0.1:$P2,send-proxy,check"
	# A whole v2 header (16 bytes at least) and a whole v1 line.
	wait_for 10 sh -c "[ \$(stat -c %s $BATS_TEST_TMPDIR/cap1) -ge 16 ] &&
	    grep -q \$(printf '\\r') $BATS_TEST_TMPDIR/cap2"
	stop_pid "$b_pid" || true
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap1"
	assert_eq "$(json_get "$(head -1 <<< "$output")" .command)" "local"
	run -0 head -1 "$BATS_TEST_TMPDIR/cap2"
	[[ "$output" =~ ^PROXY\ TCP4\ 127\.0\.0\.1\ 127\.0\.0\.1\ [0-9]+\ $P2 ]]
}

@test "a failed connect is retried on another server" {
	reply_servers 1
	local dead
	dead=$(free_port)
	balance b -s "127.0.0.1:$dead" -s "127.0.0.1:$P1"
	pp_py clients "127.0.0.1:$BPORT" 10 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=10 "
}

@test "backup servers serve only when no other is up; first fills in order" {
	reply_servers 3
	balance b -s "127.0.0.1:$P1,backup" -s "127.0.0.1:$P2" -s "127.0.0.1:$P3"
	pp_py clients "127.0.0.1:$BPORT" 10 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s2=5 s3=5 "
	start_on_port B2 b2 pp-balance -l "127.0.0.1:@PORT@" --balance first \
		-s "127.0.0.1:$P3" -s "127.0.0.1:$P2"
	pp_py clients "127.0.0.1:$B2" 10 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s3=10 "
	start_on_port B3 b3 pp-balance -l "127.0.0.1:@PORT@" --balance random \
		-s "127.0.0.1:$P1" -s "127.0.0.1:$P2" -s "127.0.0.1:$P3"
	pp_py clients "127.0.0.1:$B3" 60 > "$BATS_TEST_TMPDIR/out"
	[ "$(awk '{ print $2 }' "$BATS_TEST_TMPDIR/out" | sort -u | wc -l)" -eq 3 ]
}

@test "/metrics serves Prometheus text with per-server counters" {
	reply_servers 2
	SPORT_STATS=$(free_port)
	balance b --stats "127.0.0.1:$SPORT_STATS" -s "127.0.0.1:$P1" \
		-s "127.0.0.1:$P2"
	pp_py clients "127.0.0.1:$BPORT" 9 --data hello > /dev/null
	run -0 metrics
	assert_contains "$output" "# TYPE pp_balance_server_up gauge"
	assert_contains "$output" "# TYPE pp_balance_server_bytes_in_total counter"
	assert_contains "$output" "pp_balance_server_connections_total{server=\"127.0.0.1:$P1\"} 5"
	assert_contains "$output" "pp_balance_server_connections_total{server=\"127.0.0.1:$P2\"} 5"
	assert_contains "$output" "pp_balance_server_active_connections{server=\"127.0.0.1:$P1\"} 0"
	assert_contains "$output" "pp_balance_server_bytes_out_total{server=\"127.0.0.1:$P1\"} "
	assert_contains "$output" "pp_balance_connections_total 10"
	run -22 curl -fsS "http://127.0.0.1:$SPORT_STATS/other"
}

@test "limits behind a relay judge the client address from the header" {
	reply_servers 1
	balance b --accept-proxy --send-proxy -s "127.0.0.1:$P1" \
		--rate-per-ip 2/60 --max-conns-per-ip 5
	start_on_port RPORT r pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$BPORT" --send-proxy=v2
	local i
	for i in 1 2 3; do
		pp_py clients "127.0.0.1:$RPORT" 1 --base 127.11.0.0
	done > "$BATS_TEST_TMPDIR/out"
	run -0 cat "$BATS_TEST_TMPDIR/out"
	assert_eq "$(head -2 <<< "$output")" "127.11.0.1 s1 127.11.0.1
127.11.0.1 s1 127.11.0.1"
	assert_not_contains "$(tail -1 <<< "$output")" " s1 "
	run -0 pp_py clients "127.0.0.1:$RPORT" 1 --base 127.11.0.1
	assert_eq "$output" "127.11.0.2 s1 127.11.0.2"
	grep -q 'client=127.11.0.1:.*end=limit' "$BATS_TEST_TMPDIR/b.err"
}

@test "integrity: 200 clients x 5 MB through the chain to an echo server" {
	start_on_port EPORT echo socat \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork,backlog=512" \
		"EXEC:pp-strip -- cat"
	balance b --accept-proxy -s "127.0.0.1:$EPORT,send-proxy"
	start_on_port RPORT r pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$BPORT" --send-proxy=v2
	run -0 pp_py integrity "127.0.0.1:$RPORT" 200 5242880
	assert_eq "$output" "ok 200 bad 0 unfinished 0"
}

@test "SIGHUP reload keeps established transfers, new ones go to the new list" {
	start_on_port P1 s1 pp_py serve --echo "s1:@PORT@"
	start_on_port P2 s2 pp_py serve "s2:@PORT@"
	echo "127.0.0.1:$P1" > "$BATS_TEST_TMPDIR/servers"
	balance b --servers-file "$BATS_TEST_TMPDIR/servers"
	head -c 300000 /dev/urandom > "$BATS_TEST_TMPDIR/data"
	(for i in 1 2 3; do head -c 100000; sleep 0.5; done \
		< "$BATS_TEST_TMPDIR/data") |
		socat -t 5 - "TCP:127.0.0.1:$BPORT" > "$BATS_TEST_TMPDIR/back" &
	local cl=$!
	sleep 0.3
	echo "127.0.0.1:$P2,send-proxy" > "$BATS_TEST_TMPDIR/servers"
	kill -HUP "$b_pid"
	sleep 0.2
	run -0 socat -t 2 - "TCP:127.0.0.1:$BPORT,bind=127.0.0.44" <<< "x"
	assert_eq "$output" "s2 127.0.0.44"
	wait "$cl"
	cmp "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/back"
	# A servers file that does not parse changes nothing.
	echo "127.0.0.1:$P1,nonsense" > "$BATS_TEST_TMPDIR/servers"
	kill -HUP "$b_pid"
	wait_for 5 grep -q 'servers not changed' "$BATS_TEST_TMPDIR/b.err"
	run -0 socat -t 2 - "TCP:127.0.0.1:$BPORT,bind=127.0.0.45" <<< "y"
	assert_eq "$output" "s2 127.0.0.45"
}

@test "SIGTERM drains pp-balance with two workers: transfers finish" {
	start_on_port P1 s1 pp_py serve --echo "s1:@PORT@"
	balance b -w 2 -s "127.0.0.1:$P1"
	head -c 300000 /dev/urandom > "$BATS_TEST_TMPDIR/data"
	(for i in 1 2 3; do head -c 100000; sleep 0.4; done \
		< "$BATS_TEST_TMPDIR/data") |
		socat -t 5 - "TCP:127.0.0.1:$BPORT" > "$BATS_TEST_TMPDIR/back" &
	local cl=$!
	sleep 0.3
	kill -TERM "$b_pid"
	wait "$cl"
	cmp "$BATS_TEST_TMPDIR/data" "$BATS_TEST_TMPDIR/back"
	wait_for 5 sh -c "! kill -0 $b_pid"
}

@test "every option of pp-balance --help is in pp-balance(1), and back" {
	options_match_man pp-balance
}

@test "pp-balance -l unix:PATH refuses a regular file there and leaves it alone" {
	reply_servers 1
	f=$BATS_TEST_TMPDIR/precious
	echo keep > "$f"
	run -64 --separate-stderr timeout 5 pp-balance -l "unix:$f" -s "127.0.0.1:$P1"
	assert_contains "$stderr" "pp-balance: -l unix:$f: $f exists and is not a socket"
	assert_eq "$(cat "$f")" keep
}

@test "pp-balance --check-interval takes a unit; a plain number stays milliseconds" {
	reply_servers 1
	balance b --check-interval 2s -s "127.0.0.1:$P1,check"
	balance c --check-interval 500ms -s "127.0.0.1:$P1,check"
	run -64 --separate-stderr pp-balance -l "127.0.0.1:$(free_port)" \
		-s "127.0.0.1:$P1" --check-interval 5
	assert_contains "$stderr" "--check-interval 5: too small"
	assert_contains "$stderr" "10ms"
}

@test "/metrics escapes a quote in a server's label and stays parseable" {
	local sock="$BATS_TEST_TMPDIR/a\"b"
	edgepeer dead-unix "$sock"
	SPORT_STATS=$(free_port)
	balance b --stats "127.0.0.1:$SPORT_STATS" -s "unix:$sock"
	run -0 metrics
	assert_contains "$output" "pp_balance_server_up{server=\"unix:$BATS_TEST_TMPDIR/a\\\"b\"} "
	# Each sample line: name, optional {label="escaped value",...}, number.
	python3 -c '
import re, sys
lab = r"[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\""
pat = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{" + lab + r"(," + lab + r")*\})? [0-9.eE+-]+$")
for line in sys.argv[1].split("\n"):
    if line and not line.startswith("#") and not pat.match(line):
        sys.exit("bad sample line: " + line)
' "$output"
}
