#!/usr/bin/env bats
# pp-inspect: decoding, validation, explanations, --listen, exit codes.

bats_require_minimum_version 1.5.0
load helpers

# The hex bytes of one conformance vector.
vector_hex() {
	awk -F'\t' -v id="$1" '$1 == id { print $4 }' "$FIXTURES/vectors.tsv"
}

# The port from pp-inspect's "listening on HOST:PORT" line in FILE.
ready_port() {
	wait_for 5 grep -q 'listening on' "$1" || return 1
	sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$1" | head -n 1
}

# The bytes column of a -v dump, as one hex string.
dump_bytes() {
	awk '/^[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]  / { print substr($0, 8, 48) }' | tr -d ' \n'
}

# A v2 PROXY header, INET 192.0.2.1:56324 -> 198.51.100.7:443, with TLVs.
V2_HEAD=0d0a0d0a000d0a515549540a2111
V2_ADDR=c0000201c6336407dc0401bb
V2_ALPN=${V2_HEAD}0011${V2_ADDR}0100026832
V2_GCP=${V2_HEAD}0017${V2_ADDR}e00008ffffffffffffffff
V1_TCP4='PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n'

# Default output.

@test "pp-inspect prints every field of a v1 TCP4 line from stdin, one a line" {
	run -0 --separate-stderr sh -c "printf '${V1_TCP4}GET / HTTP/1.1\r\n' | pp-inspect"
	assert_empty "$stderr"
	expected="version:     1
command:     PROXY
family:      INET (TCP4)
transport:   STREAM
src:         192.0.2.1 port 56324
dst:         198.51.100.7 port 443
header_len:  45
tlvs:        none
crc32c:      absent
payload:     16 bytes at offset 45"
	assert_eq "$output" "$expected"
}

@test "pp-inspect decodes a v1 TCP6 line with an IPv4-mapped address" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP6 ::ffff:192.0.2.1 2001:db8::7 1 2\r\n' | pp-inspect"
	assert_contains "$output" "family:      INET6 (TCP6)"
	assert_contains "$output" "src:         ::ffff:192.0.2.1 port 1"
	assert_contains "$output" "dst:         2001:db8::7 port 2"
}

@test "pp-inspect says a v1 UNKNOWN line has no addresses" {
	run -0 --separate-stderr sh -c "printf 'PROXY UNKNOWN\r\n' | pp-inspect"
	assert_contains "$output" "family:      UNSPEC (UNKNOWN)"
	assert_contains "$output" "src:         none (UNKNOWN: the receiver uses the real endpoints)"
	assert_contains "$output" "header_len:  15"
}

@test "pp-inspect decodes a v2 header given with -x, TLVs included" {
	run -0 --separate-stderr pp-inspect -x "$V2_ALPN"
	assert_empty "$stderr"
	expected="version:     2
command:     PROXY
family:      INET
transport:   STREAM
src:         192.0.2.1 port 56324
dst:         198.51.100.7 port 443
header_len:  33
tlv:         0x01 alpn, 2 bytes: h2
crc32c:      absent
payload:     0 bytes at offset 33"
	assert_eq "$output" "$expected"
}

@test "pp-inspect decodes CRC32C, AWS and NOOP TLVs and says the CRC32C is ok" {
	run -0 --separate-stderr pp-inspect -x "$(vector_hex v2-007)"
	assert_contains "$output" "tlv:         0x03 crc32c, 4 bytes: b9286fa6 (ok)"
	assert_contains "$output" "tlv:         0xea aws, 23 bytes: subtype 0x01 (vpce id): vpce-00eafc458ec97b833"
	assert_contains "$output" "tlv:         0x04 noop, 36 bytes (padding)"
	assert_contains "$output" "crc32c:      ok"
}

@test "pp-inspect decodes the SSL TLV and each of its sub-TLVs" {
	run -0 --separate-stderr pp-inspect -x "$(vector_hex v2-009)"
	assert_contains "$output" "tlv:         0x20 ssl, 78 bytes: client 0x07 (ssl, cert-conn, cert-sess), verify 0 (client certificate verified)"
	assert_contains "$output" "ssl:         0x21 version: TLSv1.2"
	assert_contains "$output" "ssl:         0x22 cn: example.com"
	assert_contains "$output" "ssl:         0x23 cipher: ECDHE-RSA-AES128-GCM-SHA256"
	assert_contains "$output" "ssl:         0x24 sig_alg: SHA256"
	assert_contains "$output" "ssl:         0x25 key_alg: RSA2048"
}

@test "pp-inspect decodes Azure's LinkID little-endian and GCP's id big-endian" {
	run -0 --separate-stderr pp-inspect -x "$(vector_hex v2-057)"
	assert_contains "$output" "0xee azure, 5 bytes: subtype 0x01 (link id): 1234"
	run -0 --separate-stderr pp-inspect -x "$V2_GCP"
	assert_contains "$output" "0xe0 gcp, 8 bytes: psc connection id 18446744073709551615"
}

@test "pp-inspect shows a UNIX header's paths, abstract and unnamed" {
	run -0 --separate-stderr pp-inspect -x "$(vector_hex v2-043)"
	assert_contains "$output" "family:      UNIX"
	assert_contains "$output" "src:         (unnamed)"
	assert_contains "$output" "dst:         @abstract"
}

@test "pp-inspect says a LOCAL header uses the real endpoints" {
	run -0 --separate-stderr pp-inspect -x 0d0a0d0a000d0a515549540a20000000
	assert_contains "$output" "command:     LOCAL"
	assert_contains "$output" "src:         none (LOCAL: the receiver uses the real endpoints)"
	assert_empty "$stderr"
}

# -v: the annotated hex dump.

@test "pp-inspect -v labels every byte range of a v2 header" {
	run -0 --separate-stderr pp-inspect -v -x "$(vector_hex v2-007)"
	for label in "signature" "version 2, command PROXY" \
	    "family INET, transport STREAM" "length 84 (header 100 bytes)" \
	    "src addr 192.168.44.10" "dst addr 192.168.44.7" \
	    "src port 52286" "dst port 9243" "tlv type 0x03 (crc32c)" \
	    "tlv length 4" "value b9286fa6 (ok)" "tlv type 0xea (aws)" \
	    "value vpce-00eafc458ec97b833" "tlv type 0x04 (noop)"; do
		assert_contains "$output" "$label"
	done
	# The dump shows every byte once, in order.
	assert_eq "$(printf '%s\n' "$output" | dump_bytes)" "$(vector_hex v2-007)"
}

@test "pp-inspect -v labels the SSL TLV's client, verify and sub-TLVs" {
	run -0 --separate-stderr pp-inspect -v -x "$(vector_hex v2-009)"
	assert_contains "$output" "ssl client 0x07"
	assert_contains "$output" "ssl verify 0"
	assert_contains "$output" "ssl sub type 0x22 (cn)"
	assert_contains "$output" "ssl sub value example.com"
	assert_eq "$(printf '%s\n' "$output" | dump_bytes)" "$(vector_hex v2-009)"
}

@test "pp-inspect -v labels each field of a v1 line and the payload" {
	run -0 --separate-stderr sh -c "printf '${V1_TCP4}hello' | pp-inspect -v"
	for label in 'keyword "PROXY"' 'protocol "TCP4"' 'src addr "192.0.2.1"' \
	    'dst addr "198.51.100.7"' 'src port "56324"' 'dst port "443"' \
	    'end of line (CRLF)' 'payload, 5 bytes'; do
		assert_contains "$output" "$label"
	done
	assert_eq "$(printf '%s\n' "$output" | dump_bytes)" \
	    "$(printf "${V1_TCP4}hello" | hex)"
}

@test "pp-inspect -v marks the offending byte of an invalid header" {
	run -65 --separate-stderr pp-inspect -v -x "$(vector_hex v2-003)"
	assert_contains "$output" "tlv type 0x02 (authority)  <-- offending byte (offset 28)"
	assert_contains "$output" "runs past the header end"
	assert_contains "$stderr" "offset 28: v2: a TLV runs past the end of the header"
	assert_not_contains "$output" "pp-inspect:"
}

@test "pp-inspect -v labels the addresses of a UNIX header" {
	run -0 --separate-stderr pp-inspect -v -x "$(vector_hex v2-043)"
	assert_contains "$output" 'src path "" (unnamed)'
	assert_contains "$output" 'dst path "@abstract"'
}

# -j: one JSON object per header.

@test "pp-inspect -j prints the object of the contract for a valid header" {
	run -0 --separate-stderr pp-inspect -j -x "$V2_ALPN"
	assert_empty "$stderr"
	assert_eq "$output" '{"valid":true,"version":2,"command":"proxy","family":"inet","transport":"stream","src":{"addr":"192.0.2.1","port":56324},"dst":{"addr":"198.51.100.7","port":443},"header_len":33,"tlvs":[{"type":1,"name":"alpn","len":2,"value":"h2","hex":"6832"}],"crc32c":"absent","payload_offset":33,"payload_len":0}'
}

@test "pp-inspect -j prints an invalid header's object on stdout and the error on stderr" {
	run -65 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 0443\r\n' | pp-inspect -j"
	assert_eq "$output" '{"valid":false,"error":"v1: destination port must be 0-65535 in plain decimal","offset":40,"need":0,"reason":"v1_bad_dst_port"}'
	assert_eq "$stderr" "pp-inspect: offset 40: v1: destination port must be 0-65535 in plain decimal"
}

@test "pp-inspect -j says how many more bytes an incomplete header needs" {
	run -65 --separate-stderr pp-inspect -j -x 0d0a0d0a000d0a515549540a2111000c
	assert_eq "$(json_get "$output" .valid)" false
	assert_eq "$(json_get "$output" .need)" 12
	assert_eq "$(json_get "$output" .offset)" 16
	assert_eq "$stderr" "pp-inspect: need 12 more bytes: the header is incomplete (16 bytes, at least 28 needed)"
}

@test "pp-inspect -j gives null addresses for LOCAL, UNKNOWN and UNSPEC" {
	run -0 --separate-stderr pp-inspect -j -x 0d0a0d0a000d0a515549540a20000000
	assert_eq "$(json_get "$output" .command)" local
	assert_eq "$(json_get "$output" .src)" null
	assert_eq "$(json_get "$output" .dst)" null
	run -0 --separate-stderr sh -c "printf 'PROXY UNKNOWN\r\n' | pp-inspect -j"
	assert_eq "$(json_get "$output" .family)" unspec
	assert_eq "$(json_get "$output" .src)" null
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-033)"
	assert_eq "$(json_get "$output" .command)" proxy
	assert_eq "$(json_get "$output" .src)" null
}

@test "pp-inspect -j writes a UNIX address as its path, without a port" {
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-043)"
	assert_eq "$(json_get "$output" .src)" '{"addr":""}'
	assert_eq "$(json_get "$output" .dst)" '{"addr":"@abstract"}'
}

@test "pp-inspect -j decodes the SSL TLV into client, verify and sub" {
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-009)"
	assert_eq "$(json_get "$output" .tlvs[0].name)" ssl
	assert_eq "$(json_get "$output" .tlvs[0].client)" 7
	assert_eq "$(json_get "$output" .tlvs[0].verify)" 0
	assert_eq "$(json_get "$output" .tlvs[0].sub[0])" '{"type":33,"name":"version","value":"TLSv1.2","hex":"544c5376312e32"}'
	assert_eq "$(json_get "$output" .tlvs[0].sub[4].name)" key_alg
	assert_eq "$(json_get "$output" .tlvs[1].name)" noop
}

@test "pp-inspect -j gives vendor TLVs their subtype and ids as decimal strings" {
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-057)"
	assert_eq "$(json_get "$output" .tlvs[0])" '{"type":238,"name":"azure","len":5,"value":1234,"hex":"01d2040000","subtype":1}'
	run -0 --separate-stderr pp-inspect -j -x "$V2_GCP"
	assert_eq "$(json_get "$output" .tlvs[0])" '{"type":224,"name":"gcp","len":8,"value":"18446744073709551615","hex":"ffffffffffffffff","subtype":null}'
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-007)"
	assert_eq "$(json_get "$output" .tlvs[1].value)" vpce-00eafc458ec97b833
	assert_eq "$(json_get "$output" .tlvs[1].subtype)" 1
	assert_eq "$(json_get "$output" .crc32c)" ok
}

@test "pp-inspect -j names unknown TLVs null" {
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-055)"
	assert_eq "$(json_get "$output" .tlvs)" '[{"type":225,"name":null,"len":3,"value":null,"hex":"666f6f"},{"type":226,"name":null,"len":0,"value":null,"hex":""}]'
}

@test "pp-inspect -j escapes quotes, backslashes and control bytes in TLV text" {
	# ALPN 22 5c 01: a quote, a backslash and a control byte.
	run -0 --separate-stderr pp-inspect -j -x "${V2_HEAD}0012${V2_ADDR}010003225c01"
	assert_contains "$output" '"value":"\"\\\u0001"'
	assert_eq "$(json_get "$output" .tlvs[0].hex)" 225c01
}

@test "pp-inspect -j says crc32c bad when the checksum does not match" {
	run -65 --separate-stderr pp-inspect -j -x "$(vector_hex v2-049)"
	assert_eq "$(json_get "$output" .crc32c)" bad
	assert_eq "$(json_get "$output" .reason)" crc32c_mismatch
	assert_contains "$stderr" "offset 28: v2: CRC32C does not match the header"
}

# Inputs: -x, files, stdin, --all.

@test "pp-inspect -x skips spaces and takes an empty string as empty input" {
	run -0 --separate-stderr pp-inspect -j -x "0d0a 0d0a 000d 0a51 5549 540a 2000 0000"
	assert_eq "$(json_get "$output" .command)" local
	run -65 --separate-stderr pp-inspect -j -x ''
	assert_eq "$(json_get "$output" .need)" 8
	assert_contains "$stderr" "need 8 more bytes"
}

@test "pp-inspect reads each file given and names it" {
	printf "$V1_TCP4" > "$BATS_TEST_TMPDIR/a"
	unhex "$V2_ALPN" > "$BATS_TEST_TMPDIR/b"
	run -0 --separate-stderr pp-inspect -j "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	assert_eq "$(printf '%s\n' "$output" | wc -l)" 2
	first=$(printf '%s\n' "$output" | sed -n 1p)
	second=$(printf '%s\n' "$output" | sed -n 2p)
	assert_eq "$(json_get "$first" .version)" 1
	assert_eq "$(json_get "$first" .input)" "$BATS_TEST_TMPDIR/a"
	assert_eq "$(json_get "$second" .version)" 2
	run -0 --separate-stderr pp-inspect "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	assert_contains "$output" "input:       $BATS_TEST_TMPDIR/a"
	assert_contains "$output" "input:       $BATS_TEST_TMPDIR/b"
}

@test "pp-inspect reads stdin when the file is -" {
	run -0 --separate-stderr sh -c "printf '$V1_TCP4' | pp-inspect -j -"
	assert_eq "$(json_get "$output" .src.addr)" 192.0.2.1
}

@test "pp-inspect exits 66 for a missing file and still reports the others" {
	printf "$V1_TCP4" > "$BATS_TEST_TMPDIR/a"
	run -66 --separate-stderr pp-inspect -j "$BATS_TEST_TMPDIR/missing" "$BATS_TEST_TMPDIR/a"
	assert_eq "$(json_get "$output" .valid)" true
	assert_contains "$stderr" "pp-inspect: $BATS_TEST_TMPDIR/missing: No such file or directory"
}

@test "pp-inspect names the file in its error and exits 65 when a file is invalid" {
	printf 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n' > "$BATS_TEST_TMPDIR/bad"
	printf "$V1_TCP4" > "$BATS_TEST_TMPDIR/good"
	run -65 --separate-stderr pp-inspect "$BATS_TEST_TMPDIR/good" "$BATS_TEST_TMPDIR/bad"
	assert_contains "$stderr" "pp-inspect: $BATS_TEST_TMPDIR/bad: offset 30: v1: LF without CR"
	assert_contains "$output" "input:       $BATS_TEST_TMPDIR/good"
	assert_not_contains "$output" "bad"
}

@test "pp-inspect --all decodes headers in a row and reports the payload left" {
	printf "${V1_TCP4}" > "$BATS_TEST_TMPDIR/in"
	unhex "$V2_ALPN" >> "$BATS_TEST_TMPDIR/in"
	printf 'hello' >> "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr pp-inspect --all -j "$BATS_TEST_TMPDIR/in"
	assert_empty "$stderr"
	assert_eq "$(printf '%s\n' "$output" | wc -l)" 2
	first=$(printf '%s\n' "$output" | sed -n 1p)
	second=$(printf '%s\n' "$output" | sed -n 2p)
	assert_eq "$(json_get "$first" .version)" 1
	assert_eq "$(json_get "$first" .header_offset)" 0
	assert_eq "$(json_get "$second" .version)" 2
	assert_eq "$(json_get "$second" .header_offset)" 45
	assert_eq "$(json_get "$second" .payload_offset)" 78
	assert_eq "$(json_get "$second" .payload_len)" 5
	run -0 --separate-stderr pp-inspect --all "$BATS_TEST_TMPDIR/in"
	assert_contains "$output" "header:      1 at offset 0"
	assert_contains "$output" "header:      2 at offset 45"
	assert_contains "$output" "payload:     5 bytes at offset 78"
}

@test "pp-inspect --all reports an invalid second header at its offset in the input" {
	run -65 --separate-stderr sh -c "printf '${V1_TCP4}PROXY TCP4 1.2.3.4 5.6.7.8 1 02\r\n' | pp-inspect --all -j"
	assert_eq "$(printf '%s\n' "$output" | wc -l)" 2
	second=$(printf '%s\n' "$output" | sed -n 2p)
	assert_eq "$(json_get "$second" .valid)" false
	assert_eq "$(json_get "$second" .offset)" 74
	assert_contains "$stderr" "offset 74: v1: destination port"
}

@test "pp-inspect without --all decodes only the first header" {
	run -0 --separate-stderr sh -c "printf '${V1_TCP4}${V1_TCP4}' | pp-inspect -j"
	assert_eq "$(printf '%s\n' "$output" | wc -l)" 1
	assert_eq "$(json_get "$output" .payload_len)" 45
}

# Hints: the known sender mistakes.

@test "pp-inspect explains a CRC32C stored little-endian" {
	hex=$(vector_hex v2-007)
	# Swap the CRC32C value b9286fa6 to a66f28b9.
	swapped=${hex/030004b9286fa6/030004a66f28b9}
	run -65 --separate-stderr pp-inspect -x "$swapped"
	assert_contains "$stderr" "offset 28: v2: CRC32C does not match the header"
	assert_contains "$stderr" "pp-inspect: hint: the CRC32C matches when read little-endian"
	assert_empty "$output"
	run -65 --separate-stderr pp-inspect -j -x "$swapped"
	assert_contains "$(json_get "$output" .hint)" "matches when read little-endian"
}

@test "pp-inspect does not blame byte order for a CRC32C that is simply wrong" {
	run -65 --separate-stderr pp-inspect -x "$(vector_hex v2-049)"
	assert_not_contains "$stderr" "hint:"
}

@test "pp-inspect explains a v1 line ended with a bare LF" {
	run -65 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n' | pp-inspect"
	assert_contains "$stderr" "offset 43: v1: LF without CR before it"
	assert_contains "$stderr" "pp-inspect: hint: the sender ends lines with LF only; the spec requires CRLF"
	assert_empty "$output"
}

@test "pp-inspect explains IPv6 text on a TCP4 line" {
	run -65 --separate-stderr pp-inspect -x "$(vector_hex v1-055)"
	assert_contains "$stderr" "v1: address of the wrong family for the protocol"
	assert_contains "$stderr" "hint: IPv6 address text (::ffff:127.0.0.1) on a TCP4 line"
}

@test "pp-inspect explains IPv4 text on a TCP6 line as nginx's mixed families" {
	run -65 --separate-stderr sh -c "printf 'PROXY TCP6 2001:db8::1 192.0.2.1 51512 22\r\n' | pp-inspect -j"
	assert_contains "$stderr" "hint: IPv4 address text (192.0.2.1) on a TCP6 line"
	assert_contains "$stderr" "nginx"
	assert_contains "$(json_get "$output" .hint)" "IPv4 address text (192.0.2.1) on a TCP6 line"
}

@test "pp-inspect warns that the payload starts with another PROXY header" {
	run -0 --separate-stderr sh -c "printf '${V1_TCP4}PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n' | pp-inspect"
	assert_eq "$stderr" "pp-inspect: hint: the payload starts with another PROXY header: a proxy in front sent one too"
	run -0 --separate-stderr sh -c "{ printf '$V1_TCP4'; printf '%s' '$V2_ALPN' | xxd -r -p; } | pp-inspect -j"
	assert_eq "$(json_get "$output" .hint)" "the payload starts with another PROXY header: a proxy in front sent one too"
}

@test "pp-inspect explains an HTTP request where a header was expected" {
	run -65 --separate-stderr sh -c "printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | pp-inspect"
	assert_contains "$stderr" "offset 0: not a PROXY protocol header"
	assert_contains "$stderr" "hint: this looks like an HTTP request: the sender does not speak PROXY"
	run -65 --separate-stderr sh -c "printf 'POST /x HTTP/1.1\r\n\r\n' | pp-inspect"
	assert_contains "$stderr" "hint: this looks like an HTTP request"
}

@test "pp-inspect explains a TLS ClientHello where a header was expected" {
	run -65 --separate-stderr pp-inspect -j -x 160301020001000200fc0303
	assert_contains "$stderr" "hint: this looks like a TLS ClientHello: the sender does not speak PROXY"
	assert_eq "$(json_get "$output" .reason)" not_proxy_protocol
	assert_contains "$(json_get "$output" .hint)" "TLS ClientHello"
}

@test "pp-inspect explains a lower-case keyword" {
	run -65 --separate-stderr sh -c "printf 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n' | pp-inspect"
	assert_contains "$stderr" "hint: the keyword \"proxy\" is not in upper case"
	run -65 --separate-stderr sh -c "printf 'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n' | pp-inspect"
	assert_contains "$stderr" "hint: the protocol \"tcp4\" is not in upper case"
}

@test "pp-inspect warns about a v2 LOCAL header that carries addresses" {
	run -0 --separate-stderr pp-inspect -x "$(vector_hex v2-035)"
	assert_contains "$stderr" "hint: a LOCAL header carries addresses (10.0.0.1:1000 -> 10.0.0.2:80)"
	assert_contains "$output" "command:     LOCAL"
	run -0 --separate-stderr pp-inspect -x 0d0a0d0a000d0a515549540a20000000
	assert_empty "$stderr"
}

# Exit codes and where messages go.

@test "pp-inspect exits 0 for a valid header and writes nothing on stderr" {
	run -0 --separate-stderr sh -c "printf '$V1_TCP4' | pp-inspect"
	assert_empty "$stderr"
}

@test "pp-inspect writes errors only on stderr, never on stdout" {
	run -65 --separate-stderr sh -c "printf 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n' | pp-inspect"
	assert_empty "$output"
	assert_eq "$stderr" "pp-inspect: offset 27: v1: source port must be 0-65535 in plain decimal"
	run -65 --separate-stderr sh -c "printf 'PROXY TCP4 1.2.3' | pp-inspect"
	assert_empty "$output"
	assert_contains "$stderr" "need 1 more byte"
}

@test "pp-inspect exits 64 with the usage on stderr for a bad option" {
	run -64 --separate-stderr pp-inspect --bogus
	assert_empty "$output"
	assert_contains "$stderr" "usage: pp-inspect [-hjVv] [--all] [-x hex] [file ...]"
}

@test "pp-inspect refuses conflicting options by name" {
	run -64 --separate-stderr pp-inspect -j -v -x 00
	assert_contains "$stderr" "-j and -v conflict"
	run -64 --separate-stderr pp-inspect -x 00 somefile
	assert_contains "$stderr" "-x and file operands conflict"
	run -64 --separate-stderr pp-inspect --once -x 00
	assert_contains "$stderr" "--once needs --listen"
	run -64 --separate-stderr pp-inspect -T 3 -x 00
	assert_contains "$stderr" "-T needs --listen"
	run -64 --separate-stderr pp-inspect --all --listen 127.0.0.1:0
	assert_contains "$stderr" "--listen and --all conflict"
	run -64 --separate-stderr pp-inspect -l 127.0.0.1:0 somefile
	assert_contains "$stderr" "--listen and file operands conflict"
	assert_empty "$output"
}

@test "pp-inspect names the flag of a bad number or bad hex" {
	run -64 --separate-stderr pp-inspect -T 99999999 -l 127.0.0.1:0
	assert_contains "$stderr" "-T 99999999: too large"
	run -64 --separate-stderr pp-inspect -T soon -l 127.0.0.1:0
	assert_contains "$stderr" "-T soon: invalid"
	run -64 --separate-stderr pp-inspect -x 0g
	assert_contains "$stderr" "-x: expected hex digits in pairs"
	run -64 --separate-stderr pp-inspect -x 0d0
	assert_contains "$stderr" "-x: expected hex digits in pairs"
	run -64 --separate-stderr pp-inspect -l nonsense
	assert_contains "$stderr" "--listen nonsense"
}

@test "pp-inspect --help prints the usage on stdout and exits 0" {
	run -0 --separate-stderr pp-inspect --help
	assert_contains "$output" "usage: pp-inspect"
	assert_empty "$stderr"
	run -0 --separate-stderr pp-inspect -h
	assert_contains "$output" "-l address"
}

@test "pp-inspect --version prints its version" {
	run -0 --separate-stderr pp-inspect --version
	assert_eq "$output" "pp-inspect 0.1.0"
	run -0 --separate-stderr pp-inspect -V
	assert_eq "$output" "pp-inspect 0.1.0"
}

@test "pp-inspect --help matches the SYNOPSIS of its man page" {
	run -0 --separate-stderr pp-inspect --help
	usage=$(printf '%s\n' "$output" | sed -n '1,/^$/p' | sed -e '/^$/d' \
	    -e 's/^usage: //' -e 's/^ *//')
	synopsis=$(awk '/^# SYNOPSIS/ { on = 1; next } /^# / { on = 0 } on && NF' \
	    "$PP_TOP/man/pp-inspect.1.scd" | tr -d '*_\\')
	assert_eq "$usage" "$synopsis"
}

@test "pp-inspect's man page renders with scdoc" {
	need_cmd scdoc
	run -0 --separate-stderr sh -c "scdoc < '$PP_TOP/man/pp-inspect.1.scd'"
	assert_contains "$output" ".SH EXIT STATUS"
	assert_empty "$stderr"
}

# --listen

@test "pp-inspect --listen --once reports a connection's header and its real peer" {
	need_cmd socat
	start_bg insp pp-inspect -j --listen 127.0.0.1:0 --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	printf "${V1_TCP4}hello" |
		timeout 5 socat - "TCP:127.0.0.1:$port,bind=127.0.0.23"
	wait_for 5 gone "$insp_pid"
	rc=0
	wait "$insp_pid" || rc=$?
	assert_eq "$rc" 0
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	assert_eq "$(json_get "$out" .src.addr)" 192.0.2.1
	assert_eq "$(json_get "$out" .peer.addr)" 127.0.0.23
	assert_eq "$(json_get "$out" .local.addr)" 127.0.0.1
	assert_eq "$(json_get "$out" .local.port)" "$port"
	assert_eq "$(json_get "$out" .payload_offset)" 45
	assert_eq "$(json_get "$out" .payload_len)" ""
	assert_eq "$(cat "$BATS_TEST_TMPDIR/insp.err")" "pp-inspect: listening on 127.0.0.1:$port"
}

@test "pp-inspect --listen reads a v2 header sent through bash /dev/tcp" {
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	(exec 3<>"/dev/tcp/127.0.0.1/$port" && unhex "$V2_ALPN" >&3)
	wait_for 5 gone "$insp_pid"
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	assert_contains "$out" "peer:        127.0.0.1 port"
	assert_contains "$out" "local:       127.0.0.1 port $port"
	assert_contains "$out" "tlv:         0x01 alpn, 2 bytes: h2"
	assert_contains "$out" "payload:     from offset 33"
}

@test "pp-inspect --listen keeps serving after a silent, a bad and a cut connection" {
	need_cmd socat
	start_bg insp pp-inspect -j --listen 127.0.0.1:0 -T 1
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	# Silent for longer than -T: a timeout.
	sleep 2 | timeout 5 socat -u - "TCP:127.0.0.1:$port,bind=127.0.0.21"
	printf 'GET / HTTP/1.1\r\n\r\n' |
		timeout 5 socat - "TCP:127.0.0.1:$port,bind=127.0.0.22"
	printf 'PROXY TCP4 1.2' |
		timeout 5 socat - "TCP:127.0.0.1:$port,bind=127.0.0.23"
	printf "$V1_TCP4" |
		timeout 5 socat - "TCP:127.0.0.1:$port,bind=127.0.0.24"
	wait_for 5 test "$(wc -l < "$BATS_TEST_TMPDIR/insp.out")" -ge 4
	kill -0 "$insp_pid"
	mapfile -t lines < "$BATS_TEST_TMPDIR/insp.out"
	assert_eq "$(json_get "${lines[0]}" .reason)" timeout
	assert_eq "$(json_get "${lines[0]}" .peer.addr)" 127.0.0.21
	assert_eq "$(json_get "${lines[1]}" .reason)" not_proxy_protocol
	assert_contains "$(json_get "${lines[1]}" .hint)" "HTTP request"
	assert_eq "$(json_get "${lines[2]}" .reason)" truncated
	assert_eq "$(json_get "${lines[2]}" .need)" 1
	assert_eq "$(json_get "${lines[3]}" .valid)" true
	assert_eq "$(json_get "${lines[3]}" .peer.addr)" 127.0.0.24
	err=$(cat "$BATS_TEST_TMPDIR/insp.err")
	assert_contains "$err" "pp-inspect: 127.0.0.21:"
	assert_contains "$err" "no complete header within 1 s: got 0 bytes, need 8 more"
	assert_contains "$err" "hint: the peer sent nothing"
	assert_contains "$err" "offset 0: not a PROXY protocol header"
	assert_contains "$err" "the connection closed inside the header: got 14 bytes, need 1 more"
}

@test "pp-inspect --listen --once exits 75 when the peer sends nothing in time" {
	need_cmd socat
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once -T 1
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	sleep 2 | timeout 5 socat -u - "TCP:127.0.0.1:$port"
	wait_for 5 gone "$insp_pid"
	rc=0
	wait "$insp_pid" || rc=$?
	assert_eq "$rc" 75
	assert_empty "$(cat "$BATS_TEST_TMPDIR/insp.out")"
}

@test "pp-inspect --header-timeout is -T: exit 75 when the peer sends nothing in time" {
	need_cmd socat
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once --header-timeout 1
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	sleep 2 | timeout 5 socat -u - "TCP:127.0.0.1:$port"
	wait_for 5 gone "$insp_pid"
	rc=0
	wait "$insp_pid" || rc=$?
	assert_eq "$rc" 75
}

@test "pp-inspect --listen --once exits 65 for a bad header" {
	need_cmd socat
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	printf 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n' |
		timeout 5 socat - "TCP:127.0.0.1:$port,bind=127.0.0.23"
	wait_for 5 gone "$insp_pid"
	rc=0
	wait "$insp_pid" || rc=$?
	assert_eq "$rc" 65
	err=$(cat "$BATS_TEST_TMPDIR/insp.err")
	assert_contains "$err" "pp-inspect: 127.0.0.23:"
	assert_contains "$err" "offset 30: v1: LF without CR"
	assert_contains "$err" "hint: the sender ends lines with LF only"
	assert_empty "$(cat "$BATS_TEST_TMPDIR/insp.out")"
}

@test "pp-inspect --listen accepts on a unix socket and removes it when done" {
	need_cmd socat
	sock=$BATS_TEST_TMPDIR/insp.sock
	start_bg insp pp-inspect -j --listen "unix:$sock" --once
	wait_for 5 grep -q 'listening on' "$BATS_TEST_TMPDIR/insp.err"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/insp.err")" "listening on unix:$sock"
	unhex "$(vector_hex v2-043)" | timeout 5 socat - "UNIX-CONNECT:$sock"
	wait_for 5 gone "$insp_pid"
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	assert_eq "$(json_get "$out" .family)" unix
	assert_eq "$(json_get "$out" .peer)" '{"addr":""}'
	assert_eq "$(json_get "$out" .local)" "{\"addr\":\"$sock\"}"
	[ ! -e "$sock" ]
}

@test "pp-inspect --listen takes over a stale unix socket file" {
	need_cmd socat python3
	sock=$BATS_TEST_TMPDIR/stale.sock
	edgepeer dead-unix "$sock"
	[ -S "$sock" ]
	start_bg insp pp-inspect --listen "unix:$sock" --once
	wait_for 5 grep -q 'listening on' "$BATS_TEST_TMPDIR/insp.err"
	printf "$V1_TCP4" | timeout 5 socat - "UNIX-CONNECT:$sock"
	wait_for 5 gone "$insp_pid"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/insp.out")" "src:         192.0.2.1 port 56324"
}

@test "pp-inspect --listen works on IPv6 loopback" {
	python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' \
	    2>/dev/null || strict_skip "no IPv6 loopback"
	start_bg insp pp-inspect -j --listen '[::1]:0' --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	assert_contains "$(cat "$BATS_TEST_TMPDIR/insp.err")" "listening on [::1]:$port"
	(exec 3<>"/dev/tcp/::1/$port" && printf "$V1_TCP4" >&3)
	wait_for 5 gone "$insp_pid"
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	assert_eq "$(json_get "$out" .peer.addr)" ::1
}

# The man page's examples.

# start_haproxy SERVER_PORT SERVER_OPTS: haproxy (as start_bg hap) in
# front of 127.0.0.1:SERVER_PORT, its frontend port in $fport.  Waits
# without connecting: pp-inspect --once would take the probe.
start_haproxy() {
	cat > "$BATS_TEST_TMPDIR/haproxy.tmpl" <<-EOF
	global
	    maxconn 16
	defaults
	    mode tcp
	    timeout connect 2s
	    timeout client 5s
	    timeout server 5s
	    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp
	frontend fe
	    bind 127.0.0.1:@PORT@
	    default_backend be
	backend be
	    server app 127.0.0.1:$1 $2
	EOF
	start_on_port --listen --file "$BATS_TEST_TMPDIR/haproxy.tmpl" \
		"$BATS_TEST_TMPDIR/haproxy.cfg" fport hap \
		haproxy -db -f "$BATS_TEST_TMPDIR/haproxy.cfg"
}

@test "pp-inspect --listen decodes HAProxy's send-proxy-v2 with CRC32C and UNIQUE_ID (man page example)" {
	need_cmd haproxy socat ss
	start_bg insp pp-inspect -j --listen 127.0.0.1:0 --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	start_haproxy "$port" "send-proxy-v2 proxy-v2-options crc32c,unique-id"
	printf 'hello' | timeout 5 socat - "TCP:127.0.0.1:$fport,bind=127.0.0.23"
	wait_for 5 gone "$insp_pid"
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	json_expect "$out" .valid true .version 2 .command proxy \
	    .family inet .src.addr 127.0.0.23 .dst.addr 127.0.0.1 \
	    .dst.port "$fport" .crc32c ok .peer.addr 127.0.0.1
	assert_contains "$out" '"name":"unique-id"'
	assert_contains "$out" '"name":"crc32c"'
}

@test "pp-inspect --listen decodes HAProxy's v1 send-proxy line" {
	need_cmd haproxy socat ss
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	start_haproxy "$port" send-proxy
	printf 'hello' | timeout 5 socat - "TCP:127.0.0.1:$fport,bind=127.0.0.23"
	wait_for 5 gone "$insp_pid"
	out=$(cat "$BATS_TEST_TMPDIR/insp.out")
	assert_contains "$out" "family:      INET (TCP4)"
	assert_contains "$out" "src:         127.0.0.23 port"
	assert_contains "$out" "dst:         127.0.0.1 port $fport"
}


@test "pp-inspect decodes what pp-send writes (man page example)" {
	run -0 --separate-stderr sh -c 'pp-send -2 -n -s 192.0.2.1:56324 -d 198.51.100.7:443 --tlv alpn=h2 | pp-inspect -j'
	assert_eq "$output" '{"valid":true,"version":2,"command":"proxy","family":"inet","transport":"stream","src":{"addr":"192.0.2.1","port":56324},"dst":{"addr":"198.51.100.7","port":443},"header_len":33,"tlvs":[{"type":1,"name":"alpn","len":2,"value":"h2","hex":"6832"}],"crc32c":"absent","payload_offset":33,"payload_len":0}'
}

@test "pp-inspect inspects a header captured with socat (man page example)" {
	need_cmd socat
	start_on_port --listen port cap socat -u \
	    "TCP-LISTEN:@PORT@,reuseaddr,bind=127.0.0.1" \
	    "OPEN:$BATS_TEST_TMPDIR/hdr.bin,creat,trunc"
	unhex "$V2_ALPN" | timeout 5 socat -u - "TCP:127.0.0.1:$port"
	wait_for 5 gone "$cap_pid"
	run -0 --separate-stderr pp-inspect -v "$BATS_TEST_TMPDIR/hdr.bin"
	assert_contains "$output" "tlv:         0x01 alpn, 2 bytes: h2"
	assert_contains "$output" "tlv type 0x01 (alpn)"
}

@test "pp-inspect answers each client with its decode under socat EXEC (man page example)" {
	need_cmd socat
	start_on_port --listen port refl socat \
	    "TCP-LISTEN:@PORT@,reuseaddr,fork,bind=127.0.0.1" "EXEC:pp-inspect -j"
	run -0 --separate-stderr sh -c "printf '$V1_TCP4' | timeout 5 socat - TCP:127.0.0.1:$port"
	assert_eq "$(json_get "$output" .src.addr)" 192.0.2.1
	assert_eq "$(json_get "$output" .dst.port)" 443
}

@test "pp-inspect --listen unix:PATH refuses a regular file there and leaves it alone" {
	f=$BATS_TEST_TMPDIR/precious
	echo keep > "$f"
	run -64 --separate-stderr timeout 5 pp-inspect --listen "unix:$f" --once
	assert_contains "$stderr" "pp-inspect: --listen unix:$f: $f exists and is not a socket"
	assert_eq "$(cat "$f")" keep
}

@test "pp-inspect --listen unix:PATH refuses a socket a server listens on" {
	need_cmd socat
	sock=$BATS_TEST_TMPDIR/busy.sock
	start_bg busy socat "UNIX-LISTEN:$sock,fork" EXEC:cat
	wait_for 5 test -S "$sock"
	run -1 --separate-stderr timeout 5 pp-inspect --listen "unix:$sock" --once
	assert_contains "$stderr" "pp-inspect: --listen unix:$sock: a server listens there"
	[ -S "$sock" ]
}

@test "pp-inspect --listen -T 500ms gives up on a silent peer after half a second" {
	start_bg insp pp-inspect --listen 127.0.0.1:0 --once -T 500ms
	port=$(ready_port "$BATS_TEST_TMPDIR/insp.err")
	run -0 silent_client 127.0.0.1 "$port"
	less_than "$output" 2.0
	wait_for 5 gone "$insp_pid"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/insp.err")" "no complete header within 500 ms"
}

@test "pp-inspect --help lists every option the man page documents" {
	run -0 pp-inspect --help
	for o in --all --json --listen --once --timeout --verbose --hex --help --version; do
		assert_contains "$output" "$o"
	done
	options_match_man pp-inspect
}

@test "pp-inspect keeps UTF-8 text TLVs as the same characters, JSON and human" {
	pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --tlv 'authority=exämple.org' \
		--tlv 'unique-id=0x61ff62' -n > "$BATS_TEST_TMPDIR/in"
	run -0 --separate-stderr pp-inspect -j "$BATS_TEST_TMPDIR/in"
	run -0 python3 -c '
import json, sys
d = json.loads(sys.argv[1])
t = d["tlvs"]
assert t[0]["value"] == "ex\u00e4mple.org", t[0]["value"]
assert t[0]["hex"] == "exämple.org".encode().hex()
assert t[1]["value"] == "a\ufffdb", t[1]["value"]
assert t[1]["hex"] == "61ff62"
' "$output"
	run -0 --separate-stderr pp-inspect "$BATS_TEST_TMPDIR/in"
	assert_contains "$output" "authority, 12 bytes: exämple.org"
	assert_contains "$output" 'a\xffb'
}

@test "pp-inspect -j gives Azure's LinkID as a number and GCP's id as a string" {
	run -0 --separate-stderr pp-inspect -j -x "$(vector_hex v2-057)"
	python3 -c 'import json, sys; v = json.loads(sys.argv[1])["tlvs"][0]["value"]; assert type(v) is int and v == 1234' "$output"
	run -0 --separate-stderr pp-inspect -j -x "$V2_GCP"
	python3 -c 'import json, sys; v = json.loads(sys.argv[1])["tlvs"][0]["value"]; assert v == "18446744073709551615"' "$output"
}
