#!/usr/bin/env bats
# Reliability of pp-relay --udp: many clients, junk and untrusted
# datagrams, a full session table; each test bounded in time and checked
# by count, never by time.  The peers are tests/tools/pp-udp: an echo
# server that says which client it was told (the v2 header stripped) and
# counts what it got, a load client with a source address per socket
# that counts replies lost and replies at the wrong socket, and a junk
# sender.  Figures go to stderr as "# " lines and to
# $PP_BIN/../reliability.log.

bats_require_minimum_version 1.5.0
load helpers

# The loads are bounded by their own timeouts, up to 120 s each.
test_timeout 300

setup_file() {
	build_test_tools
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PP_TOP/tests/tools/lsan.supp:print_suppressions=0}
	touch "$PP_BIN/../reliability.log"
}

setup() {
	[ -x "$PP_BIN/pp-relay" ] || strict_skip "pp-relay is not built"
	pp-relay --help | grep -q -- --udp || strict_skip "pp-relay has no --udp"
	need_cmd curl
	# A socket per client source in the load's process.
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 8192 ] || strict_skip "needs ulimit -n 8192 or more"
}

# echo_count KEY NAME: a counter of the pp-udp echo server started as
# NAME, from its stats file (written a few times a second).
echo_count() {
	awk -v k="$1" '$1 == k { print $2 }' "$BATS_TEST_TMPDIR/$2.stats"
}

# echo_settled NAME: until the echo server NAME's counters stop moving.
echo_settled() {
	local a b i
	for ((i = 0; i < 50; i++)); do
		a=$(cat "$BATS_TEST_TMPDIR/$1.stats" 2>/dev/null)
		sleep 0.3
		b=$(cat "$BATS_TEST_TMPDIR/$1.stats" 2>/dev/null)
		[ -n "$a" ] && [ "$a" = "$b" ] && return 0
	done
	return 1
}

# echo_udp NAME ARGS: a pp-udp echo server on a free UDP port
# ($NAME_port), its counters in $BATS_TEST_TMPDIR/NAME.stats.
echo_udp() {
	local name=$1
	shift
	start_on_port --udp "${name}_port" "$name" "$TOOLS/pp-udp" echo \
		-l "127.0.0.1:@PORT@" -s "$BATS_TEST_TMPDIR/$name.stats" "$@"
	wait_file "$BATS_TEST_TMPDIR/$name.out"
}

# relay_udp NAME ARGS: pp-relay --udp ARGS on a free UDP port
# ($NAME_port) with /metrics on a free TCP port ($NAME_stats).
relay_udp() {
	local name=$1 sp
	shift
	sp=$(free_port)
	start_on_port --udp "${name}_port" "$name" pp-relay --udp --grace 1 \
		-l "127.0.0.1:@PORT@" --stats "127.0.0.1:$sp" "$@"
	printf -v "${name}_stats" '%s' "$sp"
	wait_port 127.0.0.1 "$sp"
}

# metric NAME STATSPORT: one value from /metrics, NAME without the
# tool's prefix and with its labels as written ("" if absent).
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$2/metrics" |
		awk -v m="$1" '{ n = $1; sub(/^pp_[a-z]+_/, "", n) }
		    n == m { print $2; exit }'
}

@test "10000 datagrams from 500 sources through pp-relay --udp --send-proxy=v2: every reply to its own client, none lost" {
	local out
	echo_udp e -m proxy
	relay_udp relay -q -c "127.0.0.1:$e_port" --send-proxy=v2
	# -v: each reply must say the server was told this socket's own
	# address and port; a reply for another socket's id is counted.
	run -0 --separate-stderr timeout 120 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.51.0.0 -s 500 -n 10000 -w 64 \
		-T 3000 -v -t 90
	out=$output
	figures "udp 500 sources" "$out"
	assert_eq "$(val sent "$out")" 10000
	assert_eq "$(val answered "$out")" 10000
	assert_eq "$(val lost "$out")" 0
	assert_eq "$(val wrong_socket "$out")" 0
	assert_eq "$(val wrong_addr "$out")" 0
	assert_eq "$(val bad "$out")" 0
	assert_eq "$(val dup "$out")" 0
	echo_settled e
	# Every datagram came with a DGRAM header, from 500 clients.
	assert_eq "$(echo_count headers e)" 10000
	assert_eq "$(echo_count bad_headers e)" 0
	assert_eq "$(echo_count not_dgram e)" 0
	assert_eq "$(echo_count clients e)" 500
	assert_eq "$(metric udp_sessions_total "$relay_stats")" 500
	assert_eq "$(metric udp_datagrams_in_total "$relay_stats")" 10000
	assert_eq "$(metric udp_datagrams_out_total "$relay_stats")" 10000
	stop_clean relay
}

@test "10000 datagrams from 500 sources through pp-balance --udp --balance source to 3 servers: each client on one server, none lost" {
	local out sp e sum=0 peak=0
	echo_udp e1 -m proxy
	echo_udp e2 -m proxy
	echo_udp e3 -m proxy
	sp=$(free_port)
	start_on_port --udp bport balance pp-balance --udp --grace 1 -q \
		-l "127.0.0.1:@PORT@" --stats "127.0.0.1:$sp" --balance source \
		-s "127.0.0.1:$e1_port,send-proxy-v2" \
		-s "127.0.0.1:$e2_port,send-proxy-v2" \
		-s "127.0.0.1:$e3_port,send-proxy-v2"
	wait_port 127.0.0.1 "$sp"
	run -0 --separate-stderr timeout 120 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$bport" -S 127.58.0.0 -s 500 -n 10000 -w 64 \
		-T 3000 -v -t 90
	out=$output
	assert_eq "$(val answered "$out")" 10000
	assert_eq "$(val lost "$out")" 0
	assert_eq "$(val wrong_socket "$out")" 0
	assert_eq "$(val wrong_addr "$out")" 0
	# A client on two servers would be counted by both.
	for e in e1 e2 e3; do
		echo_settled "$e"
		sum=$((sum + $(echo_count clients "$e")))
		[ "$(echo_count clients "$e")" -gt "$peak" ] && peak=$(echo_count clients "$e")
		assert_eq "$(echo_count bad_headers "$e")" 0
	done
	figures "udp balance" "$out"$'\n'"clients per server: $(echo_count clients e1) $(echo_count clients e2) $(echo_count clients e3)"
	assert_eq "$sum" 500
	# source hashing spreads 500 addresses: no server has them all.
	[ "$peak" -lt 500 ]
	assert_eq "$(metric udp_sessions_total "$sp")" 500
	stop_clean balance
}

@test "claimed clients through pp-relay --udp --accept-proxy=v2 --trust: each reply to its own client, the server told the claimed address" {
	local out
	echo_udp e -m proxy
	relay_udp relay -q -c "127.0.0.1:$e_port" --accept-proxy=v2 \
		--trust 127.52.0.0/16 --send-proxy=v2
	# Each socket claims 198.18.0.0+1+i with its own port; 200 sources.
	run -0 --separate-stderr timeout 120 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.52.0.0 -s 200 -n 4000 -w 32 \
		-x -X 198.18.0.0 -T 3000 -v -t 90
	out=$output
	figures "udp claimed" "$out"
	assert_eq "$(val answered "$out")" 4000
	assert_eq "$(val lost "$out")" 0
	assert_eq "$(val wrong_socket "$out")" 0
	assert_eq "$(val wrong_addr "$out")" 0
	echo_settled e
	assert_eq "$(echo_count clients e)" 200
	assert_eq "$(echo_count bad_headers e)" 0
	stop_clean relay
}

@test "100000 junk and untrusted datagrams at pp-relay --udp --accept-proxy=v2: none forwarded, the daemon alive, clients answered" {
	local out j1 j2 during after dropped n
	echo_udp e -m proxy -k PPJUNK
	relay_udp relay -q -c "127.0.0.1:$e_port" --accept-proxy=v2 \
		--trust 127.53.0.0/16 --send-proxy=v2
	# Malformed headers from trusted peers, and malformed or well-formed
	# ones from peers outside --trust; each holds PPJUNK, so the echo
	# server counts any that get through.  Paced, so that the kernel
	# does not drop the clients' datagrams along with the junk.
	start_bg junk1 timeout 90 "$TOOLS/pp-udp" junk -c "127.0.0.1:$relay_port" \
		-S 127.53.1.0 -s 50 -n 50000 -R 10000 -k PPJUNK
	start_bg junk2 timeout 90 "$TOOLS/pp-udp" junk -c "127.0.0.1:$relay_port" \
		-S 127.54.0.0 -s 50 -n 50000 -R 10000 -u -k PPJUNK
	sleep 1
	# Clients from trusted peers, claiming addresses, for 2 s meanwhile.
	run -0 --separate-stderr timeout 60 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.53.2.0 -s 100 -d 2000 -w 4 \
		-x -T 3000 -v -t 50
	during=$output
	n=$(val answered "$during")
	wait_for 80 test -s "$BATS_TEST_TMPDIR/junk1.out"
	wait_for 80 test -s "$BATS_TEST_TMPDIR/junk2.out"
	j1=$(cat "$BATS_TEST_TMPDIR/junk1.out") j2=$(cat "$BATS_TEST_TMPDIR/junk2.out")
	kill -0 "$relay_pid"
	# And after.
	run -0 --separate-stderr timeout 60 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.53.3.0 -s 100 -n 1000 -w 8 \
		-x -T 3000 -v -t 50
	after=$output
	figures "udp junk" "$j1"$'\n'"$j2"$'\n'"during: $during"$'\n'"after: $after"
	assert_eq "$(val sent "$j1")" 50000
	assert_eq "$(val sent "$j2")" 50000
	for out in "$during" "$after"; do
		assert_eq "$(val lost "$out")" 0
		assert_eq "$(val wrong_socket "$out")" 0
		assert_eq "$(val wrong_addr "$out")" 0
	done
	echo_settled e
	[ "$n" -gt 0 ]
	# Nothing of the junk reached the server: only the clients'.
	assert_eq "$(echo_count marked e)" 0
	assert_eq "$(echo_count received e)" $((n + 1000))
	assert_eq "$(echo_count bad_headers e)" 0
	assert_eq "$(metric udp_datagrams_in_total "$relay_stats")" $((n + 1000))
	dropped=$(curl -s --max-time 5 "http://127.0.0.1:$relay_stats/metrics" |
		awk '/^pp_[a-z]+_udp_datagrams_dropped_total/ { n += $2 } END { print n + 0 }')
	figures "udp junk" "dropped by the relay: $dropped of 100000"
	[ "$dropped" -gt 0 ] && [ "$dropped" -le 100000 ]
	stop_clean relay
}

@test "pp-relay --udp --max-sessions: the oldest idle sessions go first, memory stays bounded" {
	local out before after grown ev
	echo_udp e -m proxy
	relay_udp relay -c "127.0.0.1:$e_port" --send-proxy=v2 --max-sessions 100
	# 100 clients in turn, one request each: the table is full.
	run -0 --separate-stderr timeout 60 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.55.0.0 -s 100 -n 100 -w 1 -T 3000
	assert_eq "$(val answered "$output")" 100
	assert_eq "$(metric udp_sessions_active "$relay_stats")" 100
	# 10 more: the 10 oldest go, in the order they came.
	run -0 --separate-stderr timeout 60 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.56.0.0 -s 10 -n 10 -w 1 -T 3000
	assert_eq "$(val answered "$output")" 10
	assert_eq "$(metric udp_sessions_active "$relay_stats")" 100
	assert_eq "$(metric 'udp_sessions_ended_total{reason="evicted"}' "$relay_stats")" 10
	wait_for 5 grep -q 'end=evicted' "$BATS_TEST_TMPDIR/relay.err"
	ev=$(grep 'end=evicted' "$BATS_TEST_TMPDIR/relay.err" |
		sed -n 's/.*client=\([0-9.]*\):.*/\1/p' | tr '\n' ' ')
	assert_eq "$ev" "$(for i in $(seq 1 10); do printf '127.55.0.%d ' "$i"; done)"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/relay.err")" "ending the oldest idle"

	# 6000 more clients: the table stays at 100 and so does the memory
	# (a session costs a few hundred bytes, 6000 of them over a MB).
	before=$(rss_kb "$relay_pid")
	run -0 --separate-stderr timeout 90 "$TOOLS/pp-udp" load \
		-c "127.0.0.1:$relay_port" -S 127.57.0.0 -s 6000 -n 6000 -w 8 \
		-T 3000 -t 80
	out=$output
	after=$(rss_kb "$relay_pid")
	grown=$((after - before))
	figures "udp max-sessions" "$out"$'\n'"rss before ${before} KB after ${after} KB"
	# Evicting a session whose reply is still on its way loses that
	# reply: lost may be above 0, a reply to another client never.
	assert_eq "$(val wrong_socket "$out")" 0
	assert_eq "$(val wrong_addr "$out")" 0
	[ "$(val answered "$out")" -gt 0 ]
	assert_eq "$(metric udp_sessions_active "$relay_stats")" 100
	assert_eq "$(metric udp_sessions_total "$relay_stats")" 6110
	assert_eq "$(metric 'udp_sessions_ended_total{reason="evicted"}' "$relay_stats")" 6010
	[ "$grown" -lt 512 ] || { echo "RSS grew by $grown KB" >&2; return 1; }
	stop_clean relay
}
