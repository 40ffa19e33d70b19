#!/usr/bin/env bats
# The relays once under valgrind: a chain of verified transfers and a
# burst of junk through pp-relay and pp-balance, then SIGTERM; memcheck
# must report no error and no leak.  ASan builds cannot run under
# valgrind, so the sanitized pass of make check skips this file (and says
# why); the normal pass runs it.

bats_require_minimum_version 1.5.0
load helpers

# Memcheck is slow: the test's own bounds (two loads of 120 s, waits of
# 30 s) add up to about six minutes.
test_timeout 420

setup_file() {
	build_test_tools
}

setup() {
	if grep -q __asan_init "$PP_BIN/pp-relay" 2>/dev/null; then
		skip "an ASan build cannot run under valgrind (the normal pass runs this)"
	fi
	need_cmd valgrind
	ulimit -n 4096 2>/dev/null || true
}

# vg NAME CMD ARGS...: start CMD under memcheck in the background.
vg() {
	local name=$1
	shift
	start_bg "$name" valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect \
		--suppressions="$PP_TOP/tests/tools/valgrind.supp" \
		--log-file="$BATS_TEST_TMPDIR/$name.vg" "$@"
}

# vg_stop NAME: SIGTERM it; memcheck's exit status and report must be clean.
vg_stop() {
	local pid rc=0
	pid=${1}_pid
	pid=${!pid}
	kill -TERM "$pid"
	timeout 30 tail --pid="$pid" -f /dev/null || true
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ] || [ -s "$BATS_TEST_TMPDIR/$1.vg" ]; then
		echo "$1: exit $rc under valgrind" >&2
		cat "$BATS_TEST_TMPDIR/$1.vg" >&2
		return 1
	fi
}

@test "pp-relay and pp-balance under valgrind: 300 verified transfers and 200 junk connections, no error, no leak" {
	local e1 e2 bport rport out
	e1=$(free_port) e2=$(free_port)
	start_bg e1 "$TOOLS/pp-echo" -l "127.0.0.1:$e1" -n e1 -p
	start_bg e2 "$TOOLS/pp-echo" -l "127.0.0.1:$e2" -n e2 -p
	wait_file "$BATS_TEST_TMPDIR/e1.out"
	wait_file "$BATS_TEST_TMPDIR/e2.out"
	bport=$(free_port) rport=$(free_port)
	vg balance "$PP_BIN/pp-balance" --grace 1 -q -l "127.0.0.1:$bport" \
		--accept-proxy --trust 127.0.0.0/8 --header-timeout 2 \
		--balance maglev --check-interval 200 \
		-s "127.0.0.1:$e1,send-proxy,check" -s "127.0.0.1:$e2,send-proxy,check"
	vg relay "$PP_BIN/pp-relay" --grace 1 -q -l "127.0.0.1:$rport" \
		-c "127.0.0.1:$bport" --send-proxy=v2 --crc32c --tlv authority=vg.test
	wait_port 127.0.0.1 "$bport" 30
	wait_port 127.0.0.1 "$rport" 30

	run --separate-stderr timeout 120 "$TOOLS/pp-load" chain \
		-c "127.0.0.1:$rport" -n 300 -b 65536 -S 127.2.0.0 -v -t 110
	echo "$output" | tail -n 1 >&3
	[ "$status" -eq 0 ]
	assert_contains "$output" "ok=300"

	run --separate-stderr timeout 120 "$TOOLS/pp-load" junk \
		-c "127.0.0.1:$bport" -n 200 -j 50 -x 20000 -p -P 127.0.0.2 -s 11 -t 110
	echo "$output" | tail -n 1 >&3
	[ "$status" -eq 0 ]
	assert_contains "$output" "cut=200 "
	assert_contains "$output" "bytes_from_peer=0 "
	assert_contains "$output" "probe_failures=0"

	vg_stop relay
	vg_stop balance
}
