#!/usr/bin/env bats
# pp-balance and pp-relay under systemd: the example units pass
# systemd-analyze verify, and the notification protocol (sd_notify(3))
# is read by tests/tools/notify.py, which plays systemd's side on a
# datagram socket, while systemd-socket-activate hands over the port.

bats_require_minimum_version 1.5.0
load helpers

EX=$PP_TOP/examples/systemd

setup() {
	need_cmd python3 socat systemd-socket-activate
	sa_env
}

teardown() {
	local p
	# notify.py's program, if notify.py itself was cut short.
	if [ -s "$BATS_TEST_TMPDIR/prog.pid" ]; then
		p=$(cat "$BATS_TEST_TMPDIR/prog.pid")
		pkill -KILL -P "$p" 2>/dev/null || true
		kill -KILL "$p" 2>/dev/null || true
	fi
	stop_all
}

# systemd-socket-activate gives its program only the variables named
# with -E: NOTIFY_SOCKET, and the sanitizers' options when set.
sa_env() {
	local v
	SA_ENV=(-E NOTIFY_SOCKET)
	for v in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
		[ -z "${!v:-}" ] || SA_ENV+=(-E "$v")
	done
}

# backend: a server answering "served" to each line, on SPORT.
backend() {
	start_on_port SPORT s1 socat \
		"TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
		"SYSTEM:read l; echo served"
}

# notify SOCKET ARGS... ';' STEPS...: notify.py with its program's pid
# in prog.pid, bounded; its events in $output, the program's messages in
# $stderr.
notify() {
	local sock=$1
	shift
	run --separate-stderr timeout 40 "$TEST_TOOLS/notify.py" "$sock" \
		"$BATS_TEST_TMPDIR/prog.pid" -- "$@"
}

# before A B: the first line matching A comes before the first matching B.
before() {
	local a b
	a=$(grep -n -m1 -- "$1" <<< "$output" | cut -d: -f1)
	b=$(grep -n -m1 -- "$2" <<< "$output" | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] ||
		{ echo "expected '$1' (line $a) before '$2' (line $b)" >&2; return 1; }
}

@test "examples/systemd: pp-balance and pp-relay units pass systemd-analyze verify" {
	need_cmd systemd-analyze man
	local d=$BATS_TEST_TMPDIR/units u
	mkdir -p "$d" "$BATS_TEST_TMPDIR/man/man1"
	# Documentation=man:... is looked up: this build's pages.
	cp "$PP_BIN/../man/"*.1 "$BATS_TEST_TMPDIR/man/man1/"
	for u in pp-balance.service pp-balance.socket pp-relay.service \
	    pp-relay.socket; do
		sed "s|/usr/local/bin/|$PP_BIN/|g" "$EX/$u" > "$d/$u"
	done
	grep -qx 'Type=notify' "$d/pp-balance.service"
	grep -q '^WatchdogSec=' "$d/pp-balance.service"
	grep -q '^ExecReload=.*kill -HUP' "$d/pp-balance.service"
	assert_not_contains "$(grep ^ExecStart= "$d/pp-balance.service")" " -l "
	cd "$d"
	MANPATH=$BATS_TEST_TMPDIR/man run -0 --separate-stderr systemd-analyze verify \
		./pp-balance.socket ./pp-balance.service ./pp-relay.socket \
		./pp-relay.service
	assert_empty "$stderr"
}

@test "socket activation: READY=1 before the first connection is served; RELOADING/READY on SIGHUP; STOPPING on SIGQUIT" {
	backend
	local port
	port=$(free_port)
	notify "$BATS_TEST_TMPDIR/notify.sock" \
		systemd-socket-activate "${SA_ENV[@]}" -l "127.0.0.1:$port" \
		pp-balance -s "127.0.0.1:$SPORT,check" --check-interval 200 \; \
		"serve:$port" expect:STATUS= hup expect:READY=1 quit \
		expect:STOPPING=1 wait
	[ "$status" -eq 0 ]
	local all=$output
	before '^notify READY=1$' '^served$'
	before '^notify RELOADING=1' '^notify STOPPING=1'
	run -0 grep '^notify STATUS=' <<< "$all"
	assert_contains "$output" "1/1 server up"
	run -0 tail -1 <<< "$(grep -v '^notify STATUS' <<< "$all")"
	assert_eq "$output" "exit 0"
	# The reload: RELOADING=1 with the time systemd 253+ wants, then READY.
	run -0 grep -A1 '^notify RELOADING=1' <<< "$all"
	[[ "${lines[0]}" =~ ^notify\ RELOADING=1\ MONOTONIC_USEC=[0-9]+\  ]]
	assert_eq "${lines[1]}" "notify READY=1"
}

@test "pp-relay -w 2 under socket activation: the master notifies, an abstract NOTIFY_SOCKET works" {
	backend
	local port
	port=$(free_port)
	notify "@pp-test-$$-$BATS_TEST_NUMBER" \
		systemd-socket-activate "${SA_ENV[@]}" -l "127.0.0.1:$port" \
		pp-relay -c "127.0.0.1:$SPORT" -w 2 \; \
		"serve:$port" hup expect:READY=1 "serve:$port" quit \
		expect:STOPPING=1 wait
	[ "$status" -eq 0 ]
	before '^notify READY=1$' '^served$'
	before '^notify RELOADING=1' '^notify STOPPING=1'
	# One READY at start, one after the reload: the workers say nothing.
	[ "$(grep -c '^notify READY=1$' <<< "$output")" -eq 2 ]
	assert_eq "$(grep -c '^notify STOPPING=1$' <<< "$output")" 1
	assert_contains "$output" "exit 0"
}

@test "WATCHDOG=1 while the workers beat, none while one is stopped, again once it runs" {
	backend
	local port quiet
	port=$(free_port)
	# A 600 ms watchdog: pings every 300 ms while all is well.
	notify "$BATS_TEST_TMPDIR/notify.sock" \
		systemd-socket-activate "${SA_ENV[@]}" -l "127.0.0.1:$port" \
		-E WATCHDOG_USEC=600000 \
		pp-balance -s "127.0.0.1:$SPORT" -w 2 \; \
		"serve:$port" expect:WATCHDOG=1 expect:WATCHDOG=1 stop:1 \
		drain:1 drain:1.5 cont:1 expect:WATCHDOG=1 quit wait
	[ "$status" -eq 0 ]
	# Between the two "drained": 1.5 s with a worker stopped, no ping.
	quiet=$(sed -n '/^drained$/,/^drained$/p' <<< "$output" | grep -c WATCHDOG || true)
	assert_eq "$quiet" 0
	# And pings came again after SIGCONT.
	run -0 sed -n '/^drained$/,$p' <<< "$output"
	[ "$(sed -n '3,$p' <<< "$output" | grep -c '^notify WATCHDOG=1$')" -ge 1 ]
}

@test "without NOTIFY_SOCKET nothing is sent and nothing changes" {
	backend
	local port
	port=$(free_port)
	start_bg b systemd-socket-activate "${SA_ENV[@]:2}" -l "127.0.0.1:$port" \
		pp-balance -s "127.0.0.1:$SPORT"
	wait_port 127.0.0.1 "$port"
	run -0 sh -c "printf 'hi\n' | timeout 5 socat -t 2 - TCP:127.0.0.1:$port"
	assert_eq "$output" "served"
	assert_not_contains "$(cat "$BATS_TEST_TMPDIR/b.err")" "NOTIFY"
}
