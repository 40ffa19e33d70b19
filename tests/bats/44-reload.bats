#!/usr/bin/env bats
# pp-balance --servers-file: what a reload (SIGHUP) accepts and refuses,
# and the shared per-server slots across many reloads.

bats_require_minimum_version 1.5.0
load helpers

# put LINES...: replace the servers file by rename, as the man page says.
put() {
	printf '%s\n' "$@" > "$BATS_TEST_TMPDIR/servers.new"
	mv "$BATS_TEST_TMPDIR/servers.new" "$BATS_TEST_TMPDIR/servers"
}

# reloads LOG N: until LOG has N "reloading servers" lines, bounded.
reloads() {
	local i
	for ((i = 0; i < 500; i++)); do
		[ "$(grep -c 'reloading servers' "$1")" -ge "$2" ] && return 0
		sleep 0.01
	done
	echo "reloads: fewer than $2 in $1" >&2
	return 1
}

setup() {
	need_cmd socat python3 curl
}

@test "a reload that reads an empty servers file keeps the running servers" {
	reply_servers 2
	put "127.0.0.1:$P1" "127.0.0.1:$P2"
	balance b --servers-file "$BATS_TEST_TMPDIR/servers"
	# An editor saving in place: the file is empty for a moment.
	: > "$BATS_TEST_TMPDIR/servers"
	kill -HUP "$b_pid"
	wait_for 5 grep -q "servers not changed: $BATS_TEST_TMPDIR/servers: no server" \
		"$BATS_TEST_TMPDIR/b.err"
	sleep 0.2
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=10 s2=10 "
	# Comments and blank lines only: still no server.
	printf '# none\n\n   \n' > "$BATS_TEST_TMPDIR/servers"
	kill -HUP "$b_pid"
	wait_for 5 sh -c "[ \$(grep -c 'servers not changed' $BATS_TEST_TMPDIR/b.err) -eq 2 ]"
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=10 s2=10 "
}

@test "pp-balance refuses to start on a servers file with no server" {
	printf '# nothing yet\n\n' > "$BATS_TEST_TMPDIR/servers"
	run -64 --separate-stderr timeout 5 pp-balance -l 127.0.0.1:1 \
		--servers-file "$BATS_TEST_TMPDIR/servers"
	assert_contains "$stderr" "$BATS_TEST_TMPDIR/servers: no server"
}

@test "pp-balance refuses a blank inside a server spec at start: FILE:LINE, exit 64" {
	printf '# two\n127.0.0.1:2,check\n127.0.0.1:3 check\n' \
		> "$BATS_TEST_TMPDIR/servers"
	run -64 --separate-stderr timeout 5 pp-balance -l 127.0.0.1:1 \
		--servers-file "$BATS_TEST_TMPDIR/servers"
	assert_contains "$stderr" "$BATS_TEST_TMPDIR/servers:3: "
	assert_contains "$stderr" "blank"
	# Blanks around a spec, comments and blank lines are fine.
	reply_servers 1
	printf '\n  127.0.0.1:%s,check  \t# first\n\t\n# 127.0.0.1:4 x\n' "$P1" \
		> "$BATS_TEST_TMPDIR/servers"
	balance b --servers-file "$BATS_TEST_TMPDIR/servers"
	run -0 pp_py clients "127.0.0.1:$BPORT" 2
	assert_eq "$(grep -c ' s1 ' <<< "$output")" 2
}

@test "a reload refuses a blank inside a server spec and keeps the running servers" {
	reply_servers 2
	SPORT_STATS=$(free_port)
	put "  127.0.0.1:$P1  # one" "" "127.0.0.1:$P2"
	balance b --servers-file "$BATS_TEST_TMPDIR/servers" \
		--stats "127.0.0.1:$SPORT_STATS"
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=10 s2=10 "
	put "127.0.0.1:$P1" "127.0.0.1:$P2 check"
	kill -HUP "$b_pid"
	wait_for 5 grep -q "servers not changed: $BATS_TEST_TMPDIR/servers:2: .*blank" \
		"$BATS_TEST_TMPDIR/b.err"
	pp_py clients "127.0.0.1:$BPORT" 20 > "$BATS_TEST_TMPDIR/out"
	assert_eq "$(counts "$BATS_TEST_TMPDIR/out")" "s1=10 s2=10 "
	run -0 metrics
	assert_contains "$output" "server_up{server=\"127.0.0.1:$P2\"} 1"
}

# many_reloads [OPT]: 2 servers, -w 2, 400 reloads that each change s1's
# weight (OPT added to both specs), then /metrics and traffic.
many_reloads() {
	local opt=${1:-} i
	reply_servers 2
	SPORT_STATS=$(free_port)
	put "127.0.0.1:$P1$opt" "127.0.0.1:$P2$opt"
	balance b -w 2 --check-interval 100 --servers-file \
		"$BATS_TEST_TMPDIR/servers" --stats "127.0.0.1:$SPORT_STATS"
	for ((i = 1; i <= 400; i++)); do
		put "127.0.0.1:$P1,weight=$i$opt" "127.0.0.1:$P2$opt"
		kill -HUP "$b_pid"
		# Both workers took this one before the next is written.
		reloads "$BATS_TEST_TMPDIR/b.err" $((2 * i))
	done
	# A spec never seen before: the old table kept every spec's slot.
	put "127.0.0.1:$P1,maxconn=1000$opt" "127.0.0.1:$P2$opt"
	kill -HUP "$b_pid"
	reloads "$BATS_TEST_TMPDIR/b.err" 802
	assert_eq "$(grep -c 'servers not changed' "$BATS_TEST_TMPDIR/b.err" || true)" 0
	if [ -n "$opt" ]; then
		wait_for 5 sh -c "curl -fsS http://127.0.0.1:$SPORT_STATS/metrics | grep -q 'server_up{server=\"127.0.0.1:$P1\"} 1'"
	fi
	run -0 metrics
	assert_eq "$(grep -c '^pp_balance_server_up{' <<< "$output")" 2
	assert_eq "$(grep -c "^pp_balance_server_up{server=\"127.0.0.1:$P1\"} 1" <<< "$output")" 1
	assert_eq "$(grep -c "^pp_balance_server_up{server=\"127.0.0.1:$P2\"} 1" <<< "$output")" 1
	assert_eq "$(grep -c '^pp_balance_server_connections_total{' <<< "$output")" 2
	pp_py clients "127.0.0.1:$BPORT" 100 --parallel 4 > "$BATS_TEST_TMPDIR/out"
	run -0 grep -c '^127[.0-9]* s[12] ' "$BATS_TEST_TMPDIR/out"
	assert_eq "$output" "100"
	assert_eq "$(awk '{ print $2 }' "$BATS_TEST_TMPDIR/out" | sort -u | tr '\n' ' ')" "s1 s2 "
}

@test "400 reloads changing a server's weight keep both servers in /metrics and serving (-w 2)" {
	many_reloads
}

@test "400 reloads changing a checked server's weight keep both servers up (-w 2)" {
	many_reloads ",check"
}
