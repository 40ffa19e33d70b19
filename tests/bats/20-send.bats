#!/usr/bin/env bats
# pp-send: write a PROXY header, then the stream; -c connects and relays.

bats_require_minimum_version 1.5.0
load helpers

SIG=0d0a0d0a000d0a515549540a

setup() {
	T=$BATS_TEST_TMPDIR
	# Upstream program behind pp-strip: what arrived, after the stream ends.
	cat > "$T/up" <<-'EOF'
	#!/bin/sh
	n=$(wc -c | tr -d ' ')
	echo "${TCPREMOTEIP-none} ${TCPREMOTEPORT-none} ${TCPLOCALIP-none} ${TCPLOCALPORT-none} $n ${PROXY_VERSION-none} ${PROXY_TLV_ALPN-none}"
	EOF
	chmod +x "$T/up"
}

# An upstream on a free port of 127.0.0.1 that strips the header and
# answers with what came; sets UP.
upstream() {
	need_cmd socat
	UP=$(free_port)
	start_bg up socat "TCP-LISTEN:$UP,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:$PP_BIN/pp-strip -- ${1:-$T/up}"
	wait_listen "$UP"
}

# js PATH: a field of the JSON in $output.
js() {
	json_get "$output" "$1"
}

# inspect ARGS...: pp-send ARGS -n | pp-inspect -j, into $output.
inspect() {
	pp-send "$@" -n > "$T/hdr"
	run -0 --separate-stderr pp-inspect -j "$T/hdr"
	assert_eq "$(js .valid)" true
	assert_eq "$(js .header_len)" "$(wc -c < "$T/hdr")"
}

@test "pp-send -h prints usage on stdout and exits 0" {
	run -0 --separate-stderr pp-send -h
	assert_contains "$output" "usage: pp-send"
	assert_contains "$output" "--connect"
	assert_empty "$stderr"
}

@test "pp-send -V prints the version" {
	run -0 --separate-stderr pp-send --version
	assert_contains "$output" "pp-send 0."
}

@test "pp-send SYNOPSIS in the man page matches usage()" {
	synopsis_matches_usage pp-send
}

@test "pp-send usage errors exit 64 with one line and nothing on stdout" {
	local args
	while IFS= read -r args; do
		run --separate-stderr pp-send $args -n < /dev/null
		[ "$status" -eq 64 ] || { echo "pp-send $args: status $status"; return 1; }
		assert_empty "$output"
		[ "$(nlines "$stderr")" -eq 1 ] || assert_contains "$stderr" "usage: pp-send" ||
			{ echo "pp-send $args"; return 1; }
	done <<-'EOF'
	--bogus
	-s 192.0.2.1:1
	-d 192.0.2.1:1
	--local --unknown
	--local -s 192.0.2.1:1 -d 192.0.2.2:2
	-1 --alpn h2 -s 192.0.2.1:1 -d 192.0.2.2:2
	-1 --crc32c -s 192.0.2.1:1 -d 192.0.2.2:2
	-1 -2 --local
	--send-proxy=v3 --local
	--send-proxy=any --local
	--send-proxy=v1 -2 --local
	-s unix:/a -d unix:/b
	-2 -s unix:/a -d 192.0.2.1:1
	-s 192.0.2.1 -d 192.0.2.2:2
	-s 192.0.2.1:65536 -d 192.0.2.2:2
	-s 2001:db8::1:1 -d 192.0.2.2:2
	-s [192.0.2.1]:1 -d 192.0.2.2:2
	-s 192.0.2.1:01 -d 192.0.2.2:2
	--local --tlv bogus=1
	--local --tlv 256=x
	--local --tlv alpn
	--local --tlv 0xE1=0xabc
	--local --azure-linkid 4294967296
	--local --gcp-psc-id -1
	--local --unique-id xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
	--local --connect-timeout 0
	--local -c 127.0.0.1:1
	--local operand
	EOF
}

@test "pp-send with no addresses anywhere refuses to guess" {
	run -64 --separate-stderr env -u SOCAT_PEERADDR -u PROTO pp-send < /dev/null
	assert_contains "$stderr" "no addresses"
	assert_empty "$output"
}

@test "pp-send writes a v1 TCP4 line, then stdin" {
	printf 'GET / HTTP/1.0\r\n\r\n' | pp-send -s 192.0.2.1:56324 -d 198.51.100.7:443 > "$T/out"
	assert_eq "$(hex < "$T/out")" \
		"$(printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.0\r\n\r\n' | hex)"
}

@test "pp-send writes v1 TCP6, mapped pairs as TCP4 and mixed pairs as TCP6" {
	run -0 pp-send -n -s [2001:db8::1]:1 -d [2001:DB8:0::2]:65535
	assert_eq "$output" "$(printf 'PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r')"
	run -0 pp-send -n -s [::ffff:192.0.2.1]:1 -d [::ffff:192.0.2.2]:2
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r')"
	run -0 pp-send -n -s 192.0.2.1:1 -d [2001:db8::2]:2
	assert_eq "$output" "$(printf 'PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1 2\r')"
}

@test "pp-send writes v1 UNKNOWN for --unknown and --local" {
	run -0 pp-send -n --unknown
	assert_eq "$(printf '%s\n' "$output" | hex)" "$(printf 'PROXY UNKNOWN\r\n' | hex)"
	run -0 pp-send -n --local -1
	assert_eq "$(printf '%s\n' "$output" | hex)" "$(printf 'PROXY UNKNOWN\r\n' | hex)"
}

@test "pp-send writes the exact v2 bytes" {
	pp-send -2 -n -s 192.0.2.1:56324 -d 198.51.100.7:443 > "$T/h"
	assert_eq "$(hex < "$T/h")" "${SIG}2111000cc0000201c6336407dc0401bb"
	pp-send -2 -n --local > "$T/h"
	assert_eq "$(hex < "$T/h")" "${SIG}20000000"
	pp-send -2 -n --unknown > "$T/h"
	assert_eq "$(hex < "$T/h")" "${SIG}21000000"
	pp-send -n --send-proxy=v2 -s 192.0.2.1:56324 -d 198.51.100.7:443 > "$T/h2"
	pp-send -n -2 -s 192.0.2.1:56324 -d 198.51.100.7:443 > "$T/h"
	cmp "$T/h" "$T/h2"
}

@test "pp-send --dgram writes a v2 DGRAM header, and refuses v1 and -c" {
	# UDP over IPv4 is 0x12, over IPv6 0x22; --dgram implies v2.
	pp-send --dgram -n -s 192.0.2.1:5300 -d 198.51.100.7:53 > "$T/h"
	assert_eq "$(hex < "$T/h")" "${SIG}2112000cc0000201c633640714b40035"
	pp-send --dgram -n -s '[2001:db8::1]:5300' -d '[2001:db8::2]:53' > "$T/h"
	assert_eq "$(head -c 14 "$T/h" | hex)" "${SIG}2122"
	run -0 pp-inspect -j "$T/h"
	assert_eq "$(js .transport)" dgram
	run -64 --separate-stderr pp-send --dgram -1 -n -s 192.0.2.1:1 -d 192.0.2.2:2
	assert_contains "$stderr" "v1 cannot say UDP"
	run -64 --separate-stderr pp-send --dgram -c 127.0.0.1:1 -s 192.0.2.1:1 -d 192.0.2.2:2
	assert_contains "$stderr" "-c connects over TCP"
}

@test "pp-send --send-proxy alone means v1, like HAProxy's send-proxy" {
	run -0 pp-send -n --send-proxy -s 192.0.2.1:1 -d 192.0.2.2:2
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r')"
	run -0 pp-send -n --send-proxy=v1 -s 192.0.2.1:1 -d 192.0.2.2:2
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r')"
}

@test "pp-send picks v2 by itself when TLVs are asked for" {
	pp-send -n --alpn h2 -s 192.0.2.1:1 -d 192.0.2.2:2 > "$T/h"
	assert_eq "$(head -c 12 "$T/h" | hex)" "$SIG"
}

@test "pp-send | pp-inspect: v1 TCP4 round trip" {
	inspect -1 -s 192.0.2.1:56324 -d 198.51.100.7:443
	assert_eq "$(js .version)" 1
	assert_eq "$(js .command)" proxy
	assert_eq "$(js .family)" inet
	assert_eq "$(js .src.addr)" 192.0.2.1
	assert_eq "$(js .src.port)" 56324
	assert_eq "$(js .dst.addr)" 198.51.100.7
	assert_eq "$(js .dst.port)" 443
}

@test "pp-send | pp-inspect: v1 TCP6 round trip" {
	inspect -1 -s [2001:db8::1]:1 -d [2001:db8::2]:65535
	assert_eq "$(js .version)" 1
	assert_eq "$(js .family)" inet6
	assert_eq "$(js .src.addr)" 2001:db8::1
	assert_eq "$(js .dst.port)" 65535
}

@test "pp-send | pp-inspect: v2 INET and INET6 round trips" {
	inspect -2 -s 192.0.2.1:56324 -d 198.51.100.7:443
	assert_eq "$(js .version)" 2
	assert_eq "$(js .family)" inet
	assert_eq "$(js .transport)" stream
	assert_eq "$(js .src.addr)" 192.0.2.1
	assert_eq "$(js .dst.port)" 443
	inspect -2 -s [2001:db8::1]:0 -d [::1]:80
	assert_eq "$(js .family)" inet6
	assert_eq "$(js .src.addr)" 2001:db8::1
	assert_eq "$(js .src.port)" 0
	assert_eq "$(js .dst.addr)" ::1
	inspect -2 -s 192.0.2.1:1 -d [2001:db8::2]:2
	assert_eq "$(js .family)" inet6
	assert_eq "$(js .src.addr)" ::ffff:192.0.2.1
}

@test "pp-send | pp-inspect: v2 UNIX round trips, path and abstract" {
	inspect -2 -s unix:/run/client.sock -d unix:/run/server.sock
	assert_eq "$(js .family)" unix
	assert_eq "$(js .src.addr)" /run/client.sock
	assert_eq "$(js .dst.addr)" /run/server.sock
	assert_eq "$(js .src.port)" ""
	assert_eq "$(js .header_len)" 232
	inspect -2 -s unix:@abstract -d unix:/run/server.sock
	assert_eq "$(js .src.addr)" @abstract
}

@test "pp-send | pp-inspect: LOCAL and UNKNOWN round trips" {
	inspect -2 --local
	assert_eq "$(js .command)" local
	assert_eq "$(js .src)" null
	assert_eq "$(js .dst)" null
	inspect -2 --unknown
	assert_eq "$(js .command)" proxy
	assert_eq "$(js .family)" unspec
	assert_eq "$(js .src)" null
	inspect -1 --unknown
	assert_eq "$(js .version)" 1
	assert_eq "$(js .src)" null
	inspect -1 --local
	assert_eq "$(js .src)" null
}

@test "pp-send | pp-inspect: every named TLV round trips, in order" {
	inspect -s 192.0.2.1:1 -d 192.0.2.2:2 --alpn h2 --authority example.com \
		--unique-id 'id-42' --netns blue --aws-vpce-id vpce-00eafc458ec97b833 \
		--azure-linkid 305419896 --gcp-psc-id 1311768467463790320 \
		--tlv noop= --tlv 0xE1=0xdeadbeef --tlv 200=text
	assert_eq "$(js .version)" 2
	assert_eq "$(js .tlvs[0].name)" alpn
	assert_eq "$(js .tlvs[0].value)" h2
	assert_eq "$(js .tlvs[1].name)" authority
	assert_eq "$(js .tlvs[1].value)" example.com
	assert_eq "$(js .tlvs[2].name)" unique-id
	assert_eq "$(js .tlvs[2].value)" id-42
	assert_eq "$(js .tlvs[3].name)" netns
	assert_eq "$(js .tlvs[3].value)" blue
	assert_eq "$(js .tlvs[4].name)" aws
	assert_eq "$(js .tlvs[4].subtype)" 1
	assert_eq "$(js .tlvs[4].value)" vpce-00eafc458ec97b833
	assert_eq "$(js .tlvs[5].name)" azure
	assert_eq "$(js .tlvs[5].hex)" 0178563412
	assert_eq "$(js .tlvs[5].value)" 305419896
	assert_eq "$(js .tlvs[6].name)" gcp
	assert_eq "$(js .tlvs[6].hex)" 123456789abcdef0
	assert_eq "$(js .tlvs[6].value)" 1311768467463790320
	assert_eq "$(js .tlvs[7].name)" noop
	assert_eq "$(js .tlvs[7].len)" 0
	assert_eq "$(js .tlvs[8].type)" 225
	assert_eq "$(js .tlvs[8].name)" null
	assert_eq "$(js .tlvs[8].hex)" deadbeef
	assert_eq "$(js .tlvs[9].type)" 200
	assert_eq "$(js .tlvs[9].hex)" 74657874
	assert_eq "$(js .crc32c)" absent
}

@test "pp-send | pp-inspect: --tlv names and numbers give the same TLVs" {
	pp-send -2 -n -s 192.0.2.1:1 -d 192.0.2.2:2 --tlv alpn=h2 --tlv authority=a \
		--tlv unique-id=u --tlv netns=n --tlv aws=v --tlv azure=7 --tlv gcp=9 > "$T/a"
	pp-send -2 -n -s 192.0.2.1:1 -d 192.0.2.2:2 --tlv 1=h2 --tlv 0x02=a \
		--tlv 5=u --tlv 0x30=n --tlv 0xEA=0x0176 --tlv 238=0x0107000000 \
		--tlv 0xe0=0x0000000000000009 > "$T/b"
	cmp "$T/a" "$T/b"
}

@test "pp-send | pp-inspect: --crc32c is verified, and covers the whole header" {
	inspect -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --alpn h2 --unique-id x --crc32c
	assert_eq "$(js .crc32c)" ok
	assert_eq "$(js .tlvs[2].name)" crc32c
	# change one address byte: the checksum no longer matches
	{ head -c 16 "$T/hdr"; printf '\001'; tail -c +18 "$T/hdr"; } > "$T/bad"
	run -65 --separate-stderr pp-inspect -j "$T/bad"
	assert_eq "$(js .valid)" false
	inspect -2 --local --crc32c
	assert_eq "$(js .crc32c)" ok
}

@test "pp-send copies stdin after the header byte for byte" {
	head -c 1048576 /dev/urandom > "$T/data"
	pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 < "$T/data" > "$T/out"
	assert_eq "$(tail -c +29 "$T/out" | sha)" "$(sha "$T/data")"
	assert_eq "$(wc -c < "$T/out")" $((1048576 + 28))
}

@test "pp-send -n writes the header only and leaves stdin unread" {
	run -0 sh -c "printf 'data' | { pp-send -n -s 192.0.2.1:1 -d 192.0.2.2:2; cat; }"
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\ndata')"
}

@test "pp-send takes the addresses from socat's variables" {
	run -0 env SOCAT_PEERADDR=192.0.2.1 SOCAT_PEERPORT=56324 \
		SOCAT_SOCKADDR=198.51.100.7 SOCAT_SOCKPORT=443 pp-send -n
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r')"
	# socat writes IPv6 in brackets, every group in full
	run -0 env SOCAT_PEERADDR='[2001:0db8:0000:0000:0000:0000:0000:0001]' \
		SOCAT_PEERPORT=1 SOCAT_SOCKADDR='[0000:0000:0000:0000:0000:0000:0000:0001]' \
		SOCAT_SOCKPORT=2 pp-send -n
	assert_eq "$output" "$(printf 'PROXY TCP6 2001:db8::1 ::1 1 2\r')"
}

@test "pp-send takes a unix connection from socat's variables (v2)" {
	env SOCAT_PEERADDR='<anon>' SOCAT_SOCKADDR=/run/app.sock pp-send -2 -n > "$T/h"
	run -0 --separate-stderr pp-inspect -j "$T/h"
	assert_eq "$(js .family)" unix
	assert_eq "$(js .src.addr)" ""
	assert_eq "$(js .dst.addr)" /run/app.sock
	run -64 --separate-stderr env SOCAT_PEERADDR='<anon>' \
		SOCAT_SOCKADDR=/run/app.sock pp-send -n
	assert_contains "$stderr" "use -2"
}

@test "pp-send takes the addresses from UCSPI's variables" {
	run -0 env PROTO=TCP TCPREMOTEIP=192.0.2.1 TCPREMOTEPORT=56324 \
		TCPLOCALIP=198.51.100.7 TCPLOCALPORT=443 pp-send -n
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r')"
	env PROTO=IPC IPCREMOTEPATH=/run/c.sock IPCLOCALPATH=/run/s.sock pp-send -2 -n > "$T/h"
	run -0 --separate-stderr pp-inspect -j "$T/h"
	assert_eq "$(js .src.addr)" /run/c.sock
	assert_eq "$(js .dst.addr)" /run/s.sock
}

@test "pp-send: -s/-d win over socat's variables, which win over UCSPI's" {
	run -0 env SOCAT_PEERADDR=192.0.2.1 SOCAT_PEERPORT=1 SOCAT_SOCKADDR=192.0.2.2 \
		SOCAT_SOCKPORT=2 PROTO=TCP TCPREMOTEIP=192.0.2.3 TCPREMOTEPORT=3 \
		TCPLOCALIP=192.0.2.4 TCPLOCALPORT=4 pp-send -n
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r')"
	run -0 env SOCAT_PEERADDR=192.0.2.1 SOCAT_PEERPORT=1 SOCAT_SOCKADDR=192.0.2.2 \
		SOCAT_SOCKPORT=2 pp-send -n -s 192.0.2.5:5 -d 192.0.2.6:6
	assert_eq "$output" "$(printf 'PROXY TCP4 192.0.2.5 192.0.2.6 5 6\r')"
}

@test "pp-send: the socket on fd 0 wins over socat's and UCSPI's variables" {
	need_cmd tcpserver
	local port src
	port=$(free_port)
	src=$(lo_addr)
	start_bg srv env SOCAT_PEERADDR=192.0.2.1 SOCAT_PEERPORT=1 \
		SOCAT_SOCKADDR=192.0.2.2 SOCAT_SOCKPORT=2 \
		tcpserver -q -RHl0 127.0.0.1 "$port" pp-send -n
	wait_listen "$port"
	run -0 ppclient -c "127.0.0.1:$port" -b "$src" -s
	# ppclient prints its own address on stderr, bats merges it first
	local me=${lines[0]} hdr=${lines[1]}
	assert_eq "$hdr" "$(printf 'PROXY TCP4 %s 127.0.0.1 %s %s\r' "${me% *}" "${me#* }" "$port")"
	assert_eq "${me% *}" "$src"
}

@test "pp-send on a unix socket on fd 0 sends a v2 UNIX header" {
	need_cmd socat
	start_bg srv socat "UNIX-LISTEN:$T/in.sock,fork" "EXEC:$PP_BIN/pp-send -2 -n,nofork"
	wait_for 5 test -S "$T/in.sock"
	timeout 5 socat -u "UNIX-CONNECT:$T/in.sock" - > "$T/h" < /dev/null
	run -0 --separate-stderr pp-inspect -j "$T/h"
	assert_eq "$(js .family)" unix
	assert_eq "$(js .src.addr)" ""
	assert_eq "$(js .dst.addr)" "$T/in.sock"
}

@test "pp-send on a unix socket refuses v1, which cannot carry it" {
	need_cmd socat
	start_bg srv socat "UNIX-LISTEN:$T/in.sock,fork" "EXEC:$T/wrap1,nofork"
	cat > "$T/wrap1" <<-EOF
	#!/bin/sh
	"$PP_BIN/pp-send" -n 2> "$T/err"
	echo \$? > "$T/rc"
	EOF
	chmod +x "$T/wrap1"
	wait_for 5 test -S "$T/in.sock"
	run -0 timeout 5 socat -u "UNIX-CONNECT:$T/in.sock" - < /dev/null
	assert_empty "$output"
	wait_file "$T/rc"
	assert_eq "$(cat "$T/rc")" 64
	assert_contains "$(cat "$T/err")" "use -2"
}

@test "pp-send refuses variables that are not addresses" {
	run -1 --separate-stderr env SOCAT_PEERADDR=nonsense SOCAT_PEERPORT=1 \
		SOCAT_SOCKADDR=192.0.2.2 SOCAT_SOCKPORT=2 pp-send -n
	assert_contains "$stderr" "SOCAT_PEERADDR"
	assert_empty "$output"
	run -1 --separate-stderr env PROTO=TCP TCPREMOTEIP=192.0.2.1 pp-send -n
	assert_contains "$stderr" "TCPREMOTEPORT"
}

@test "pp-send -c sends the header and stdin, half-closes, and relays the answer" {
	upstream
	run -0 --separate-stderr sh -c "printf 'hello' | timeout 10 pp-send -c 127.0.0.1:$UP -s 192.0.2.1:4000 -d 198.51.100.7:80"
	assert_eq "$output" "192.0.2.1 4000 198.51.100.7 80 5 1 none"
	run -0 --separate-stderr sh -c "printf 'hello' | timeout 10 pp-send -2 --alpn h2 --crc32c -c localhost:$UP -s [2001:db8::1]:4000 -d [2001:db8::2]:80"
	assert_eq "$output" "2001:db8::1 4000 2001:db8::2 80 5 2 h2"
}

@test "pp-send -c relays 10 MB up and 10 MB down intact" {
	head -c 10485760 /dev/urandom > "$T/data"
	cat > "$T/big" <<-EOF
	#!/bin/sh
	sha256sum | cut -d' ' -f1 > "$T/up.sha"
	cat "$T/data"
	EOF
	chmod +x "$T/big"
	upstream "$T/big"
	timeout 20 pp-send -c "127.0.0.1:$UP" -s 192.0.2.1:1 -d 192.0.2.2:2 < "$T/data" > "$T/down"
	assert_eq "$(cat "$T/up.sha")" "$(sha "$T/data")"
	assert_eq "$(sha "$T/down")" "$(sha "$T/data")"
}

@test "pp-send -c passes the upstream's half-close on and keeps sending" {
	# The upstream answers at once and closes its side; the client keeps
	# sending, and all of it still arrives.
	cat > "$T/early" <<-EOF
	#!/bin/sh
	echo early
	exec 1>&-
	wc -c | tr -d ' ' > "$T/count"
	EOF
	chmod +x "$T/early"
	upstream "$T/early"
	run -0 --separate-stderr sh -c "{ sleep 0.5; head -c 100000 /dev/zero; } | timeout 10 pp-send -c 127.0.0.1:$UP -s 192.0.2.1:1 -d 192.0.2.2:2"
	assert_eq "$output" "early"
	wait_file "$T/count"
	assert_eq "$(cat "$T/count")" 100000
}

@test "pp-send -c to an IPv6 upstream" {
	need_cmd socat
	UP=$(free_port)
	start_bg up socat "TCP6-LISTEN:$UP,bind=[::1],reuseaddr,fork" \
		"EXEC:$PP_BIN/pp-strip -- $T/up"
	wait_listen "$UP"
	run -0 --separate-stderr sh -c "printf 'abcd' | timeout 10 pp-send -2 --alpn x -c '[::1]:$UP' -s [2001:db8::1]:1 -d 192.0.2.2:2"
	assert_eq "$output" "2001:db8::1 1 ::ffff:192.0.2.2 2 4 2 x"
}

@test "pp-send -c to a unix socket" {
	need_cmd socat
	start_bg up socat "UNIX-LISTEN:$T/up.sock,fork" "EXEC:$PP_BIN/pp-strip -- $T/up"
	wait_file "$T/up.sock" 2 || wait_for 5 test -S "$T/up.sock"
	run -0 --separate-stderr sh -c "printf 'abc' | timeout 10 pp-send -c 'unix:$T/up.sock' -s 192.0.2.1:1 -d 192.0.2.2:2"
	assert_eq "$output" "192.0.2.1 1 192.0.2.2 2 3 1 none"
}

@test "pp-send -c to a port nobody listens on exits 69" {
	local port
	port=$(free_port)
	run -69 --separate-stderr sh -c "printf x | timeout 10 pp-send -c 127.0.0.1:$port -s 192.0.2.1:1 -d 192.0.2.2:2"
	assert_empty "$output"
	assert_eq "$(nlines "$stderr")" 1
	assert_contains "$stderr" "127.0.0.1:$port"
	assert_contains "$stderr" "refused"
}

@test "pp-send -c under tcpserver sends the real client's address" {
	need_cmd tcpserver
	local port src
	upstream
	port=$(free_port)
	src=$(lo_addr)
	start_bg srv tcpserver -q -RHl0 127.0.0.1 "$port" pp-send -2 -c "127.0.0.1:$UP"
	wait_listen "$port"
	run -0 ppclient -c "127.0.0.1:$port" -b "$src" -P 'hello' -s
	local me=${lines[0]}
	assert_eq "${lines[1]}" "$src ${me#* } 127.0.0.1 $port 5 2 none"
}

@test "pp-send -c under socat EXEC sends the real client's address" {
	need_cmd socat
	local port src
	upstream
	port=$(free_port)
	src=$(lo_addr)
	start_bg srv socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:$PP_BIN/pp-send -c 127.0.0.1\\:$UP"
	wait_listen "$port"
	run -0 ppclient -c "127.0.0.1:$port" -b "$src" -P 'hello' -s
	local me=${lines[0]}
	assert_eq "${lines[1]}" "$src ${me#* } 127.0.0.1 $port 5 1 none"
}

@test "pp-send -E takes a duration with a unit and refuses one below 1 ms" {
	need_cmd socat
	start_on_port PORT srv socat -u "TCP-LISTEN:@PORT@,bind=127.0.0.1,reuseaddr,fork" \
		"OPEN:$BATS_TEST_TMPDIR/got,creat"
	run -0 --separate-stderr timeout 5 pp-send -E 1500ms -c "127.0.0.1:$PORT" \
		-s 192.0.2.1:1 -d 192.0.2.2:2 < /dev/null
	run -64 --separate-stderr pp-send -E 0.0004 -c "127.0.0.1:$PORT" \
		-s 192.0.2.1:1 -d 192.0.2.2:2
	assert_contains "$stderr" "--connect-timeout 0.0004: too small"
}

@test "pp-send --help and the man page list the same options" {
	options_match_man pp-send
}

@test "pp-send -p is --send-proxy: bare v1, -pv2 version 2" {
	local a="-n -s 192.0.2.1:1 -d 192.0.2.2:2"
	assert_eq "$(pp-send -p $a | hex)" "$(pp-send -1 $a | hex)"
	assert_eq "$(pp-send -pv2 $a | hex)" "$(pp-send -2 $a | hex)"
	assert_eq "$(pp-send --send-proxy=v2 $a | hex)" "$(pp-send -2 $a | hex)"
	run -64 --separate-stderr pp-send -2 -pv1 $a
	assert_contains "$stderr" "--send-proxy=v1 conflicts with -2"
}
