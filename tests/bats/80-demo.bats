#!/usr/bin/env bats
# `make demo` (examples/demo.sh) runs here: its verdict line is the
# assertion, and it must leave nothing running behind it.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	need_cmd socat
	for t in pp-relay pp-balance pp-strip; do
		[ -x "$PP_BIN/$t" ] || strict_skip "$t is not built in $PP_BIN"
	done
}

@test "the demo passes: 12 requests reach a server with the client's own address, a killed server leaves the rotation" {
	TMPDIR=$BATS_TEST_TMPDIR run --separate-stderr \
		timeout 60 sh "$PP_TOP/examples/demo.sh" "$PP_BIN"
	printf '%s\n' "$output" >&2
	[ "$status" -eq 0 ]
	assert_eq "${lines[-1]}" \
		"demo: PASS: 12/12 requests reached a server with the client's own address"
	assert_empty "$stderr"
	# Every hop saw the client: each request line ends in "ok".
	[ "$(grep -cE '^ *[0-9]+ +127\.0\.0\.1[1-6]:[0-9]+ .* ok$' <<< "$output")" -eq 12 ]
	assert_contains "$output" "tlv:         0x02 authority, 11 bytes: app.example"
	assert_contains "$output" "tlv:         0x05 unique-id"
	grep -qE '^    pp_balance_server_up\{server="127\.0\.0\.1:[0-9]+" \(s[123]\)\} 0$' <<< "$output"
	# Nothing left behind: no temporary directory, no process.
	run ls "$BATS_TEST_TMPDIR"
	assert_not_contains "$output" proxyhdr-demo
}

@test "the demo stops everything it started when interrupted" {
	local pid i
	TMPDIR=$BATS_TEST_TMPDIR sh "$PP_TOP/examples/demo.sh" "$PP_BIN" \
		> "$BATS_TEST_TMPDIR/demo.out" 2>&1 &
	pid=$!
	PP_PIDS+=("$pid")
	# Interrupt it once its daemons are up.
	wait_for 20 grep -q "servers up" "$BATS_TEST_TMPDIR/demo.out"
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	run wait "$pid"
	[ "$status" -eq 130 ]
	assert_contains "$(cat "$BATS_TEST_TMPDIR/demo.out")" "demo: interrupted"
	# Its temporary directory (the daemons' logs) is gone, and so are
	# the processes that wrote there.
	run ls "$BATS_TEST_TMPDIR"
	assert_not_contains "$output" proxyhdr-demo
	run pgrep -f "$BATS_TEST_TMPDIR/proxyhdr-demo"
	assert_empty "$output"
}
