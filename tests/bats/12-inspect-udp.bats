#!/usr/bin/env bats
# pp-inspect --listen udp:ADDR: the header of each datagram, its peer and
# length; a datagram without a valid header is an error for it alone.
# Datagrams are sent with socat (UDP-SENDTO, from a chosen source
# address) or, for what socat cannot send (an empty datagram), python3.

bats_require_minimum_version 1.5.0
load helpers

# v2 headers with transport DGRAM (spec 2.2: 0x12 UDP over IPv4, 0x22
# UDP over IPv6), then payloads.
SIG=0d0a0d0a000d0a515549540a
# PROXY UDP4 192.0.2.1:56324 -> 198.51.100.7:53, then "hello".
V4_DGRAM=${SIG}2112000cc0000201c6336407dc040035
# PROXY UDP6 [2001:db8::1]:5353 -> [2001:db8::2]:53.
V6_DGRAM=${SIG}2122002420010db800000000000000000000000120010db8000000000000000000000002
V6_DGRAM=${V6_DGRAM}14e90035
# LOCAL, family UNSPEC: a health check's datagram.
LOCAL_DGRAM=${SIG}20000000
HELLO=68656c6c6f

setup() {
	need_cmd socat
}

# insp NAME ARGS...: pp-inspect ARGS --listen udp:127.0.0.1:PORT as
# start_bg NAME, its port in $port once bound.
insp() {
	local name=$1
	shift
	start_on_port --udp port "$name" pp-inspect "$@" \
		--listen "udp:127.0.0.1:@PORT@"
	wait_for 5 grep -q 'listening on' "$BATS_TEST_TMPDIR/$name.err"
}

# send_hex HEX PORT [SRC] [HOST]: one datagram of these bytes, from SRC.
send_hex() {
	local host=${4:-127.0.0.1} to
	to=UDP4-SENDTO:$host:$2
	[ "$host" = "[::1]" ] && to=UDP6-SENDTO:$host:$2
	unhex "$1" | timeout 5 socat -u - "$to${3:+,bind=$3}"
}

# ended PID: wait (5 s at most) for PID to end; its exit status in $rc
# ("running" if it did not end).
ended() {
	rc=running
	wait_for 5 gone "$1" || return 0
	rc=0
	wait "$1" || rc=$?
}

@test "pp-inspect --listen udp: --once decodes a v2 DGRAM header, its peer and the lengths, as JSON" {
	insp i -j --once
	assert_eq "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"pp-inspect: listening on udp:127.0.0.1:$port"
	send_hex "$V4_DGRAM$HELLO" "$port" 127.0.0.23
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid true .version 2 .command proxy .family inet \
		.transport dgram .src.addr 192.0.2.1 .src.port 56324 \
		.dst.addr 198.51.100.7 .dst.port 53 .header_len 28 \
		.payload_offset 28 .payload_len 5 .datagram_len 33 \
		.crc32c absent .tlvs '[]' .peer.addr 127.0.0.23 \
		.local.addr 127.0.0.1 .local.port "$port"
	assert_eq "$(nlines "$(cat "$BATS_TEST_TMPDIR/i.out")")" 1
}

@test "pp-inspect --listen udp: prints a datagram's fields one a line" {
	insp i --once
	send_hex "$V4_DGRAM$HELLO" "$port" 127.0.0.24
	ended "$i_pid"
	assert_eq "$rc" 0
	out=$(cat "$BATS_TEST_TMPDIR/i.out")
	assert_contains "$out" "peer:        127.0.0.24 port"
	assert_contains "$out" "local:       127.0.0.1 port $port"
	assert_contains "$out" "datagram:    33 bytes"
	assert_contains "$out" "transport:   DGRAM"
	assert_contains "$out" "src:         192.0.2.1 port 56324"
	assert_contains "$out" "payload:     5 bytes at offset 28"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"pp-inspect: listening on udp:127.0.0.1:$port"
}

@test "pp-inspect --listen udp:[::1] decodes an IPv6 DGRAM header from an IPv6 peer" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' \
	    2>/dev/null || strict_skip "no IPv6 loopback"
	start_on_port --udp port i pp-inspect -j --once --listen "udp:[::1]:@PORT@"
	wait_for 5 grep -q 'listening on' "$BATS_TEST_TMPDIR/i.err"
	assert_eq "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"pp-inspect: listening on udp:[::1]:$port"
	send_hex "$V6_DGRAM$HELLO" "$port" "" "[::1]"
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid true .family inet6 .transport dgram \
		.src.addr 2001:db8::1 .src.port 5353 .dst.addr 2001:db8::2 \
		.dst.port 53 .header_len 52 .payload_len 5 .datagram_len 57 \
		.peer.addr ::1 .local.addr ::1 .local.port "$port"
}

@test "pp-inspect --listen udp::PORT says which address a datagram was sent to" {
	start_on_port --udp port i pp-inspect -j --once --listen "udp::@PORT@"
	send_hex "$V4_DGRAM" "$port" 127.0.0.25 127.0.0.77
	ended "$i_pid"
	assert_eq "$rc" 0
	out=$(cat "$BATS_TEST_TMPDIR/i.out")
	# A socket on every address: IPv4 comes in IPv4-mapped.
	assert_eq "$(json_get "$out" .local.addr)" ::ffff:127.0.0.77
	assert_eq "$(json_get "$out" .peer.addr)" ::ffff:127.0.0.25
	assert_eq "$(json_get "$out" .payload_len)" 0
}

@test "pp-inspect --listen udp: reports a LOCAL datagram with no addresses" {
	insp i -j --once
	send_hex "$LOCAL_DGRAM$HELLO" "$port"
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid true .command local .family unspec .src null \
		.dst null .header_len 16 .payload_len 5 .datagram_len 21
}

@test "pp-inspect --listen udp: decodes TLVs and checks the CRC32C of a datagram's header" {
	# pp-send writes the TLVs and the checksum; the transport byte is
	# then made DGRAM and the checksum computed again over the result.
	hdr=$(pp-send -2 -n -s 192.0.2.1:56324 -d 198.51.100.7:53 \
		--tlv alpn=dns --crc32c | hex)
	run -0 python3 -c '
import sys
b = bytearray.fromhex(sys.argv[1])
b[13] = 0x12
i = 28
while i < len(b):
    t, n = b[i], b[i + 1] << 8 | b[i + 2]
    if t == 3:
        b[i + 3:i + 7] = bytes(4)
        c = 0xFFFFFFFF
        for x in b:
            c ^= x
            for _ in range(8):
                c = c >> 1 ^ (0x82F63B78 if c & 1 else 0)
        b[i + 3:i + 7] = (c ^ 0xFFFFFFFF).to_bytes(4, "big")
    i += 3 + n
print(b.hex())
' "$hdr"
	insp i -j --once
	send_hex "$output$HELLO" "$port"
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid true .transport dgram .crc32c ok \
		.tlvs[0].name alpn .tlvs[0].value dns .tlvs[1].name crc32c \
		.tlvs[1].status ok .payload_len 5
}

@test "pp-inspect --listen udp: --once exits 65 for a datagram of junk, naming its peer" {
	insp i -j --once
	printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 5 socat -u - "UDP4-SENDTO:127.0.0.1:$port,bind=127.0.0.26"
	ended "$i_pid"
	assert_eq "$rc" 65
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid false .reason not_proxy_protocol .offset 0 .need 0 \
		.datagram_len 18 .peer.addr 127.0.0.26 .payload_len ""
	err=$(cat "$BATS_TEST_TMPDIR/i.err")
	assert_contains "$err" "pp-inspect: 127.0.0.26:"
	assert_contains "$err" "offset 0: not a PROXY protocol header"
	assert_contains "$err" "hint: this looks like an HTTP request"
}

@test "pp-inspect --listen udp: --once exits 65 for a header cut short by the datagram's end" {
	insp i --once
	send_hex "${V4_DGRAM:0:48}" "$port" 127.0.0.27
	ended "$i_pid"
	assert_eq "$rc" 65
	assert_empty "$(cat "$BATS_TEST_TMPDIR/i.out")"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"127.0.0.27:"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"the datagram ends inside the header: 24 bytes, at least 28 needed"
}

@test "pp-inspect --listen udp: keeps going after junk, a cut header, an empty datagram and a bad version" {
	insp i -j
	printf 'junk' | timeout 5 socat -u - "UDP4-SENDTO:127.0.0.1:$port"
	send_hex "${V4_DGRAM:0:40}" "$port"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"", ("127.0.0.1", int(sys.argv[1])))
' "$port"
	send_hex "${SIG}1112000cc0000201c6336407dc040035" "$port"
	send_hex "$V4_DGRAM$HELLO" "$port"
	wait_for 5 test "$(wc -l < "$BATS_TEST_TMPDIR/i.out")" -ge 5
	kill -0 "$i_pid"
	run -0 python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join("%s/%s/%d" % (r["valid"], r.get("reason", "-"),
    r["datagram_len"]) for r in rows))
' "$BATS_TEST_TMPDIR/i.out"
	assert_eq "$output" "False/not_proxy_protocol/4 False/incomplete/20 False/incomplete/0 False/bad_version/28 True/-/33"
}

@test "pp-inspect --listen udp: hints at a v1 line or a STREAM header in a datagram" {
	insp i -j
	printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 53\r\nhi' |
		timeout 5 socat -u - "UDP4-SENDTO:127.0.0.1:$port"
	send_hex "${SIG}2111000cc0000201c6336407dc040035" "$port"
	wait_for 5 test "$(wc -l < "$BATS_TEST_TMPDIR/i.out")" -ge 2
	out=$(cat "$BATS_TEST_TMPDIR/i.out")
	assert_contains "$(head -n 1 <<< "$out")" '"valid":true'
	assert_contains "$(head -n 1 <<< "$out")" "a v1 line in a datagram"
	assert_contains "$(tail -n 1 <<< "$out")" "transport STREAM in a datagram"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/i.err")" \
		"hint: a v1 line in a datagram: v1 names TCP only"
}

@test "pp-inspect --listen udp: -v adds the hex dump of the datagram" {
	insp i -v --once
	send_hex "$V4_DGRAM$HELLO" "$port"
	ended "$i_pid"
	assert_eq "$rc" 0
	out=$(cat "$BATS_TEST_TMPDIR/i.out")
	assert_contains "$out" "family INET, transport DGRAM"
	assert_contains "$out" "payload, 5 bytes"
}

@test "pp-inspect --listen udp: refuses -T, --all and a unix address" {
	run -64 --separate-stderr pp-inspect --listen udp:127.0.0.1:0 -T 1
	assert_contains "$stderr" "-T and --listen udp: conflict"
	run -64 --separate-stderr pp-inspect --listen udp:127.0.0.1:0 --all
	assert_contains "$stderr" "--listen and --all conflict: one header per datagram"
	run -64 --separate-stderr pp-inspect --listen udp:unix:/nonexistent/s
	assert_contains "$stderr" "UDP needs HOST:PORT, [IPV6]:PORT or :PORT"
	run -64 --separate-stderr pp-inspect --listen udp:nonsense
	assert_contains "$stderr" "--listen nonsense"
	assert_empty "$output"
}

@test "pp-inspect --listen udp: exits 1 when the port is taken" {
	start_on_port --udp port holder pp-inspect --listen "udp:127.0.0.1:@PORT@"
	run -1 --separate-stderr timeout 5 pp-inspect --listen "udp:127.0.0.1:$port"
	assert_contains "$stderr" "bind"
}

@test "pp-inspect --help and the man page show --listen udp:" {
	run -0 --separate-stderr pp-inspect --help
	assert_contains "$output" "pp-inspect [-hjVv] [--once] -l udp:address"
	assert_contains "$output" "--listen udp:ADDRESS"
	grep -q '^\*pp-inspect\* \[\*-hjVv\*\] \[\*--once\*\] \*-l\* \*udp:\*_address_$' \
		"$PP_TOP/man/pp-inspect.1.scd"
}

@test "pp-inspect --listen udp: decodes a datagram sent by hand with xxd and socat (man page example)" {
	insp i -j --once
	echo 0d0a0d0a000d0a515549540a2112000cc0000201c633640714e900356869 |
		xxd -r -p | timeout 5 socat -u - "UDP-SENDTO:127.0.0.1:$port"
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.src.addr 192.0.2.1 .src.port 5353 .dst.addr 198.51.100.7 \
		.dst.port 53 .transport dgram .payload_len 2
}

@test "pp-inspect --listen udp: shows the header pp-relay --udp --send-proxy=v2 puts on a datagram (man page example)" {
	pp-relay --help | grep -q -- --udp || strict_skip "pp-relay has no --udp"
	insp i -j --once
	start_on_port --udp rport relay pp-relay --udp -q -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$port" --send-proxy=v2
	printf 'query' |
		timeout 5 socat -u - "UDP4-SENDTO:127.0.0.1:$rport,bind=127.0.0.28:4053"
	ended "$i_pid"
	assert_eq "$rc" 0
	json_expect "$(cat "$BATS_TEST_TMPDIR/i.out")" \
		.valid true .version 2 .command proxy .family inet \
		.transport dgram .src.addr 127.0.0.28 .src.port 4053 \
		.dst.addr 127.0.0.1 .dst.port "$rport" .payload_len 5 \
		.peer.addr 127.0.0.1
}
