#!/usr/bin/env bats
# The line each connection logs, --log-format text|logfmt|json: text is
# today's line, byte for byte; json lines parse with jq and carry every
# field; logfmt lines parse, with values quoted and escaped where needed.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	need_cmd socat python3 jq
}

# relay NAME ARGS...: pp-relay on a free port (RPORT) to the reply
# server (SPORT), waited for; the probe connection's line settled.
relay() {
	local name=$1
	shift
	start_on_port RPORT "$name" pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$SPORT" "$@"
	wait_for 5 grep -q 'end' "$BATS_TEST_TMPDIR/$name.err"
}

reply_server() {
	start_on_port SPORT s1 pp_py serve s1:@PORT@
}

# send_v2: one connection from 127.0.0.9 with a v2 header (client
# 192.0.2.7:4242, TLVs alpn, authority, a vendor one, crc32c) and a line.
send_v2() {
	{ pp-send -n -2 -s 192.0.2.7:4242 -d 198.51.100.1:443 --tlv alpn=h2 \
		--tlv authority=app.example --tlv 0xE5=x --crc32c
	  printf 'hello\n'; } |
		timeout 5 socat -t 2 - "TCP:127.0.0.1:$RPORT,bind=127.0.0.9" > /dev/null
}

# logfmt LINE: each key=value of a logfmt line as "key<TAB>value", the
# quoted values unescaped; fails on anything that is not logfmt.
logfmt() {
	python3 -c '
import json, re, sys
line = sys.argv[1]
pos = 0
pat = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(\"(?:[^\"\\]|\\.)*\"|[^ \"=]*)( |$)")
while pos < len(line):
    m = pat.match(line, pos)
    if not m:
        sys.exit("not logfmt at %d: %r" % (pos, line[pos:]))
    v = m.group(2)
    if v.startswith("\""):
        v = json.loads(v)
    print("%s\t%s" % (m.group(1), v))
    pos = m.end()
' "$1"
}

@test "--log-format text (the default) is today's line, unchanged" {
	reply_server
	relay r -a
	send_v2
	wait_for 5 grep -q 'client=192.0.2.7' "$BATS_TEST_TMPDIR/r.err"
	run -0 grep 'client=192.0.2.7' "$BATS_TEST_TMPDIR/r.err"
	[[ "$output" =~ ^pp-relay:\ client=192\.0\.2\.7:4242\ peer=127\.0\.0\.9:[0-9]+\ server=127\.0\.0\.1:$SPORT\ up=6\ down=[0-9]+\ ms=[0-9]+\ end=done$ ]]
	# --log-format text says the same.
	stop_pid "$r_pid"
	relay r2 -a --log-format text
	send_v2
	wait_for 5 grep -q 'client=192.0.2.7' "$BATS_TEST_TMPDIR/r2.err"
	run -0 grep 'client=192.0.2.7' "$BATS_TEST_TMPDIR/r2.err"
	[[ "$output" =~ ^pp-relay:\ client=192\.0\.2\.7:4242\ peer=127\.0\.0\.9:[0-9]+\ server=127\.0\.0\.1:$SPORT\ up=6\ down=[0-9]+\ ms=[0-9]+\ end=done$ ]]
}

@test "--log-format json: one object a line that jq reads, with every field" {
	reply_server
	relay r -a --log-format json
	send_v2
	wait_for 5 grep -q '192.0.2.7' "$BATS_TEST_TMPDIR/r.err"
	# Every connection line is bare JSON; the warnings keep their prefix.
	run -0 jq -c 'select(.client == "192.0.2.7:4242")' < <(grep '^{' "$BATS_TEST_TMPDIR/r.err")
	local j=$output
	run -0 jq -e '(.peer | test("^127\\.0\\.0\\.9:[0-9]+$")) and
	    .server == "127.0.0.1:'"$SPORT"'" and .up == 6 and
	    (.down | type) == "number" and .down > 0 and
	    (.ms | type) == "number" and .end == "done" and .hdr == "v2" and
	    .tlvs == ["alpn", "authority", "crc32c", "other"] and
	    (keys | length) == 9' <<< "$j"
	# A refused header: no server, no header, as nulls.
	printf 'PROXY TCP4 nonsense\r\n' |
		timeout 5 socat -t 2 - "TCP:127.0.0.1:$RPORT" > /dev/null || true
	wait_for 5 grep -q 'bad-header' "$BATS_TEST_TMPDIR/r.err"
	run -0 jq -e 'select(.end == "bad-header") | .server == null and
	    .hdr == null and .tlvs == [] and .up == 0' < <(grep '^{' "$BATS_TEST_TMPDIR/r.err")
	# Nothing else on stderr is taken for a record.
	run -0 jq -e . < <(grep '^{' "$BATS_TEST_TMPDIR/r.err")
}

@test "--log-format logfmt: every field, parsed back; v1 and no-header connections" {
	reply_server
	relay r -a --log-format logfmt
	printf 'PROXY TCP4 192.0.2.8 198.51.100.1 5555 443\r\nhi\n' |
		timeout 5 socat -t 2 - "TCP:127.0.0.1:$RPORT" > /dev/null
	wait_for 5 grep -q 'client=192.0.2.8' "$BATS_TEST_TMPDIR/r.err"
	run -0 logfmt "$(grep 'client=192.0.2.8' "$BATS_TEST_TMPDIR/r.err")"
	assert_contains "$output" "$(printf 'client\t192.0.2.8:5555')"
	assert_contains "$output" "$(printf 'server\t127.0.0.1:%s' "$SPORT")"
	assert_contains "$output" "$(printf 'up\t3')"
	assert_contains "$output" "$(printf 'end\tdone')"
	assert_contains "$output" "$(printf 'hdr\tv1')"
	assert_contains "$output" "$(printf 'tlvs\t\n')"
	assert_eq "$(cut -f1 <<< "$output" | tr '\n' ' ')" \
		"client peer server up down ms end hdr tlvs "
	# The same over pp-balance, without --accept-proxy: no header.
	start_on_port BPORT b pp-balance -l "127.0.0.1:@PORT@" \
		-s "127.0.0.1:$SPORT" --log-format logfmt
	printf 'hi\n' | timeout 5 socat -t 2 - "TCP:127.0.0.1:$BPORT,bind=127.0.0.10" > /dev/null
	wait_for 5 grep -q 'client=127.0.0.10' "$BATS_TEST_TMPDIR/b.err"
	run -0 logfmt "$(grep 'client=127.0.0.10' "$BATS_TEST_TMPDIR/b.err")"
	assert_contains "$output" "$(printf 'hdr\t\n')"
}

# unix_client SOCK BIND: a line to the unix socket SOCK from the path
# BIND, taken as it is (socat would read its quotes and backslashes).
unix_client() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.bind(sys.argv[2])
s.connect(sys.argv[1])
s.sendall(b"hi\n")
s.shutdown(socket.SHUT_WR)
while s.recv(4096):
    pass
' "$1" "$2"
}

@test "logfmt quotes and json escapes a value with blanks, quotes and backslashes" {
	reply_server
	local d=$BATS_TEST_TMPDIR sock cl
	sock="$d/l.sock"
	cl="$d/c \"q\" \\z.sock"
	start_bg r pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT" --log-format logfmt
	wait_for 5 test -S "$sock"
	unix_client "$sock" "$cl"
	wait_for 5 grep -q 'end=done' "$d/r.err"
	run -0 grep 'end=done' "$d/r.err"
	assert_contains "$output" 'peer="unix:'
	run -0 logfmt "$(grep 'end=done' "$d/r.err")"
	assert_contains "$output" "$(printf 'peer\tunix:%s' "$cl")"
	stop_pid "$r_pid"
	rm -f "$sock" "$cl"
	start_bg r2 pp-relay -l "unix:$sock" -c "127.0.0.1:$SPORT" --log-format json
	wait_for 5 test -S "$sock"
	unix_client "$sock" "$cl"
	wait_for 5 grep -q '"end":"done"' "$d/r2.err"
	run -0 jq -r 'select(.end == "done") | .peer' < <(grep '^{' "$d/r2.err")
	assert_eq "$output" "unix:$cl"
}

@test "--log-format refuses what it does not know, on both tools" {
	run -64 --separate-stderr pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 --log-format xml
	assert_contains "$stderr" "--log-format xml: expected text, logfmt or json"
	run -64 --separate-stderr pp-balance -l 127.0.0.1:1 -s 127.0.0.1:2 --log-format JSON
	assert_contains "$stderr" "expected text, logfmt or json"
}
