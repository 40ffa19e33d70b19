#!/usr/bin/env bats
# Reliability: the relays under load and abuse, each test bounded in time
# and checked by count.  The clients are tests/tools/pp-load.c (one epoll
# loop, thousands of connections) and the servers tests/tools/pp-echo.c,
# which greets each connection with the client address it was told and
# echoes every byte, so a client can check that its data came back whole
# and was its own.  Figures go to stderr as "# " lines and to
# $PP_BIN/../reliability.log.

bats_require_minimum_version 1.5.0
load helpers

# The loads are bounded by their own timeouts, up to 120 s each.
test_timeout 300

setup_file() {
	build_test_tools
	# Under ASan: libbsd's one-time setproctitle allocation is not ours.
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PP_TOP/tests/tools/lsan.supp:print_suppressions=0}
	: > "$PP_BIN/../reliability.log"
}

setup() {
	[ -x "$PP_BIN/pp-relay" ] || strict_skip "pp-relay is not built"
	[ -x "$PP_BIN/pp-balance" ] || strict_skip "pp-balance is not built"
	# Thousands of sockets in this shell's children.
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
	[ "$(ulimit -n)" -ge 8192 ] || strict_skip "needs ulimit -n 8192 or more"
}

# counter KEY FILE: a counter from a pp-echo stats file.
counter() {
	awk -v k="$1" '$1 == k { print $2 }' "$2"
}

@test "2000 concurrent connections through pp-relay and pp-balance: every byte verified end to end, none lost or mixed" {
	local rport bport out before_r before_b held_r held_b expect i
	echo_server e1 -p
	echo_server e2 -p
	echo_server e3 -p
	bport=$(free_port) rport=$(free_port)
	start_bg balance pp-balance --grace 1 -l "127.0.0.1:$bport" -q \
		--max-conns 10000 --accept-proxy=v2 --trust 127.0.0.0/8 --balance source \
		-s "127.0.0.1:$e1_port,send-proxy" \
		-s "127.0.0.1:$e2_port,send-proxy" \
		-s "127.0.0.1:$e3_port,send-proxy"
	start_bg relay pp-relay --grace 1 -l "127.0.0.1:$rport" -c "127.0.0.1:$bport" \
		-q --max-conns 10000 --send-proxy=v2
	wait_port 127.0.0.1 "$bport"
	wait_port 127.0.0.1 "$rport"
	before_r=$(rss_kb "$relay_pid") before_b=$(rss_kb "$balance_pid")

	# 2000 clients from 2000 addresses (127.1.0.1 ...), all connected
	# and answered once before any sends its 64 KB; -v: each checks
	# that the server was told its own address and port.  They stay
	# idle 2 s at the peak, to weigh the relays then.
	start_bg load timeout 120 "$TOOLS/pp-load" chain \
		-c "127.0.0.1:$rport" -n 2000 -b 65536 -S 127.1.0.0 -v \
		-H 2000 -r "$BATS_TEST_TMPDIR/held" -t 100
	wait_file "$BATS_TEST_TMPDIR/held" 60
	held_r=$(rss_kb "$relay_pid") held_b=$(rss_kb "$balance_pid")
	wait "$load_pid"
	out=$(cat "$BATS_TEST_TMPDIR/load.out")
	figures chain "$out"
	figures chain "rss_kb relay: idle $before_r, 2000 held $held_r ($(( (held_r - before_r) * 1024 / 2000 )) B/conn); balance: idle $before_b, 2000 held $held_b ($(( (held_b - before_b) * 1024 / 2000 )) B/conn)"
	cat "$BATS_TEST_TMPDIR/load.err" >&2

	expect=0
	for ((i = 0; i < 2000; i++)); do
		expect=$((expect + 65536 + ${#i} + 7))	# "HELLO i\n" + bulk
	done
	assert_contains "$out" "held_at_once=2000"
	[ "$(val ok "$out")" -eq 2000 ]
	[ "$(val errors "$out")" -eq 0 ]
	[ "$(val peak "$out")" -eq 2000 ]
	[ "$(val bytes_verified "$out")" -eq "$expect" ]
	# The servers received exactly what the clients sent, no more.
	sleep 0.3
	[ $(( $(counter bytes_in "$BATS_TEST_TMPDIR/e1.stats") +
		$(counter bytes_in "$BATS_TEST_TMPDIR/e2.stats") +
		$(counter bytes_in "$BATS_TEST_TMPDIR/e3.stats") )) -eq "$expect" ]
	figures chain "servers: e1 $(counter headers "$BATS_TEST_TMPDIR/e1.stats") e2 $(counter headers "$BATS_TEST_TMPDIR/e2.stats") e3 $(counter headers "$BATS_TEST_TMPDIR/e3.stats") connections (balance source), peak at one server $(counter peak "$BATS_TEST_TMPDIR/e1.stats")"
	stop_clean relay
	stop_clean balance
}

@test "500 slow senders trickling a header a byte a second: a normal client is not delayed by more than 100 ms, and they are cut at the header timeout" {
	local port out base during
	echo_server e1 -p
	port=$(free_port)
	start_bg relay pp-relay --grace 1 -l "127.0.0.1:$port" \
		-c "127.0.0.1:$e1_port" -q --accept-proxy --trust 127.0.0.0/8 --send-proxy=v1 \
		--header-timeout 3
	wait_port 127.0.0.1 "$port"
	# Probes (a whole header, a request, its echo) every 100 ms, before
	# (baseline) and while the 500 trickle.
	run --separate-stderr timeout 60 "$TOOLS/pp-load" slow \
		-c "127.0.0.1:$port" -n 500 -i 1000 -x 8000 -p -v \
		-P 127.0.0.2 -t 40
	figures slow "$output"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	base=$(val baseline_max_ms "$output") during=$(val during_max_ms "$output")
	[ "$(val cut "$output")" -eq 500 ]
	[ "$(val not_cut "$output")" -eq 0 ]
	# Cut at the 3 s header timeout: not before, not much after.
	[ "$(val cut_min_ms "$output")" -ge 2900 ]
	[ "$(val cut_max_ms "$output")" -le 4500 ]
	# A refused client is told nothing.
	[ "$(val bytes_from_peer "$output")" -eq 0 ]
	[ "$(val baseline_probe_failures "$output")" -eq 0 ]
	[ "$(val during_probe_failures "$output")" -eq 0 ]
	[ "$(val during_probes "$output")" -ge 20 ]
	[ "$during" -le $((base + 100)) ]
	# Only the probes' requests reached the server ("PING 100000\n").
	sleep 0.3
	[ "$(counter bytes_in "$BATS_TEST_TMPDIR/e1.stats")" -eq \
		$(( 12 * ($(val baseline_probes "$output") + $(val during_probes "$output")) )) ]
	stop_clean relay
}

@test "ulimit -n 256 and 1000 connection attempts: pp-relay keeps running, sheds load without spinning, then serves normally" {
	local port out
	echo_server e1 -p
	port=$(free_port)
	# The relay alone runs with 256 descriptors.
	start_bg relay bash -c "ulimit -n 256 && exec pp-relay --grace 1 \
		-l 127.0.0.1:$port -c 127.0.0.1:$e1_port -q --accept-proxy \
		--trust 127.0.0.0/8 --send-proxy=v1 --header-timeout 5"
	wait_port 127.0.0.1 "$port"
	[ "$(awk '/^Max open files/ { print $4 }' "/proc/$relay_pid/limits")" -eq 256 ]
	# 1000 at once, each asking one question (answer due in 3 s); all
	# held open 2 s more while the relay's CPU time is measured.
	run --separate-stderr timeout 60 "$TOOLS/pp-load" hold \
		-c "127.0.0.1:$port" -n 1000 -j 1000 -p -v -A 3000 -H 2000 \
		-W "$relay_pid" -P 127.0.0.2 -t 40
	figures emfile "$output"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	kill -0 "$relay_pid"
	[ "$(val attempts "$output")" -eq 1000 ]
	[ "$(val served "$output")" -gt 0 ]
	# Each relayed connection needs two descriptors: at most 128 fit.
	[ "$(val served "$output")" -le 128 ]
	[ $(( $(val served "$output") + $(val shed "$output") +
		$(val unanswered "$output") )) -eq 1000 ]
	# Out of descriptors it must not spin: under a quarter of the hold.
	[ "$(val daemon_cpu_ms "$output")" -ge 0 ]
	[ "$(val daemon_cpu_ms "$output")" -le 500 ]
	# The load is gone: normal service within a few seconds.
	wait_for 10 timeout 5 "$TOOLS/pp-load" probe -c "127.0.0.1:$port" \
		-n 1 -p -v -P 127.0.0.3
	run --separate-stderr timeout 30 "$TOOLS/pp-load" probe \
		-c "127.0.0.1:$port" -n 20 -p -v -P 127.0.0.3
	figures emfile "after: $output"
	[ "$status" -eq 0 ]
	assert_contains "$output" "probes=20 ok=20 failed=0"
	stop_clean relay
}

@test "a server killed mid-transfer: its clients see the close within a second, the other server's clients finish intact" {
	local port out kill_ms n_a=0 n_b=0 id srv st bytes end worst=-1000000
	echo_server A -p
	echo_server B -p
	port=$(free_port)
	start_bg balance pp-balance --grace 1 -l "127.0.0.1:$port" -q \
		--balance roundrobin --check-interval 500 \
		-s "127.0.0.1:$A_port,send-proxy,check" \
		-s "127.0.0.1:$B_port,send-proxy,check"
	wait_port 127.0.0.1 "$port"
	# 20 clients each sending 1 KB every 10 ms for 4 s, verified.
	start_bg load timeout 30 "$TOOLS/pp-load" stream -c "127.0.0.1:$port" \
		-n 20 -d 4000 -v -r "$BATS_TEST_TMPDIR/ready" -S 127.2.0.0 -t 25
	wait_file "$BATS_TEST_TMPDIR/ready" 10
	sleep 1
	kill_ms=$(date +%s%3N)
	kill -KILL "$A_pid"
	wait "$load_pid"
	out=$(cat "$BATS_TEST_TMPDIR/load.out")
	figures kill "$(grep summary <<< "$out")"
	cat "$BATS_TEST_TMPDIR/load.err" >&2
	while read -r _ id _ srv _ st _ bytes _ end; do
		# "conn ID server NAME status STATUS bytes N end_epoch_ms T"
		case $srv in
		A)
			n_a=$((n_a + 1))
			# Closed (not completed, not hung), and promptly.
			if [ "$st" = "done" ] || [ "$st" = "timeout" ]; then
				echo "conn $id on the killed server: $st" >&2
				return 1
			fi
			[ $((end - kill_ms)) -le "$worst" ] || worst=$((end - kill_ms))
			if [ $((end - kill_ms)) -ge 1000 ]; then
				echo "conn $id on A closed $((end - kill_ms)) ms after the kill" >&2
				return 1
			fi
			;;
		B)
			n_b=$((n_b + 1))
			if [ "$st" != done ] || [ "$bytes" -lt 100000 ]; then
				echo "conn $id on B: $st after $bytes bytes" >&2
				return 1
			fi
			;;
		*)
			echo "conn $id: no server ($srv, $st)" >&2
			return 1 ;;
		esac
	done < <(grep '^conn ' <<< "$out")
	figures kill "clients on the killed server: $n_a (closed at most $worst ms after the kill), on the other: $n_b (all complete)"
	[ "$n_a" -ge 5 ]
	[ "$n_b" -ge 5 ]
	[ "$(val errors "$out")" -eq "$n_a" ]
	stop_clean balance
}

@test "1000 connections of random bytes and malformed headers: no crash, not a byte reaches a server, normal clients served" {
	local port out
	echo_server e1 -p
	port=$(free_port)
	start_bg balance pp-balance --grace 1 -l "127.0.0.1:$port" -q \
		--accept-proxy --trust 127.0.0.0/8 --header-timeout 2 \
		-s "127.0.0.1:$e1_port,send-proxy"
	wait_port 127.0.0.1 "$port"
	# 100 at a time; each must be closed by the balancer (at once, or at
	# the 2 s header timeout for an incomplete one) within 6 s.
	run --separate-stderr timeout 90 "$TOOLS/pp-load" junk \
		-c "127.0.0.1:$port" -n 1000 -j 100 -x 6000 -p -v \
		-P 127.0.0.2 -s 7 -t 80
	figures junk "$output"
	echo "$stderr" >&2
	[ "$status" -eq 0 ]
	kill -0 "$balance_pid"
	[ "$(val cut "$output")" -eq 1000 ]
	[ "$(val bytes_from_peer "$output")" -eq 0 ]
	[ "$(val baseline_probe_failures "$output")" -eq 0 ]
	[ "$(val during_probe_failures "$output")" -eq 0 ]
	[ "$(val during_probes "$output")" -ge 10 ]
	sleep 0.3
	[ "$(counter bytes_in "$BATS_TEST_TMPDIR/e1.stats")" -eq \
		$(( 12 * ($(val baseline_probes "$output") + $(val during_probes "$output")) )) ]
	run --separate-stderr timeout 30 "$TOOLS/pp-load" probe \
		-c "127.0.0.1:$port" -n 20 -p -v -P 127.0.0.3
	[ "$status" -eq 0 ]
	assert_contains "$output" "probes=20 ok=20 failed=0"
	stop_clean balance
}
