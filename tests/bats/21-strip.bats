#!/usr/bin/env bats
# pp-strip: consume exactly one PROXY header, hand the rest on, and give
# the program the client's address in the UCSPI environment.

bats_require_minimum_version 1.5.0
load helpers

V1=$(printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n' | od -An -v -tx1 | tr -d ' \n')

setup_file() {
	head -c 10485760 /dev/urandom > "$BATS_FILE_TMPDIR/10m"
}

setup() {
	T=$BATS_TEST_TMPDIR
	# The program pp-strip runs: it notes that it ran, keeps the payload
	# and the environment, and answers "ok".
	cat > "$T/child" <<-EOF
	#!/bin/sh
	: > "$T/ran"
	cat > "$T/payload.part"
	env | grep -E '^(PROTO|TCP|IPC|PROXY_)' | sort > "$T/env.part"
	mv "$T/payload.part" "$T/payload"
	mv "$T/env.part" "$T/env"
	echo ok
	EOF
	# pp-strip under a server, with its status and stderr kept.
	cat > "$T/wrap" <<-EOF
	#!/bin/sh
	"$PP_BIN/pp-strip" "\$@" 2>> "$T/strip.err"
	echo \$? > "$T/rc.part" && mv "$T/rc.part" "$T/rc"
	EOF
	chmod +x "$T/child" "$T/wrap"
}

# tcpserver with ARGS on a free port of 127.0.0.1; sets PORT.
serve() {
	need_cmd tcpserver
	PORT=$(free_port)
	start_bg srv tcpserver -q -RHl0 127.0.0.1 "$PORT" "$@"
	wait_listen "$PORT"
}

# refused STATUS: what every refusal must look like over a pipe.
refused_pipe() {
	[ "$status" -eq "$1" ] || { echo "status $status, want $1"; return 1; }
	assert_empty "$output"
	[ "$(nlines "$stderr")" -eq 1 ] || { echo "stderr: $stderr"; return 1; }
	assert_contains "$stderr" "pp-strip: "
	[ ! -e "$T/ran" ] || { echo "the child ran"; return 1; }
}

@test "pp-strip -h prints usage on stdout and exits 0" {
	run -0 --separate-stderr pp-strip -h
	assert_contains "$output" "usage: pp-strip"
	assert_empty "$stderr"
	run -0 --separate-stderr pp-strip --help
	assert_contains "$output" "--trust"
}

@test "pp-strip -V prints the version" {
	run -0 --separate-stderr pp-strip -V
	assert_contains "$output" "pp-strip 0."
}

@test "pp-strip usage errors exit 64 naming the flag" {
	run -64 --separate-stderr pp-strip --bogus
	assert_contains "$stderr" "usage: pp-strip"
	run -64 --separate-stderr pp-strip -T abc
	assert_contains "$stderr" "-T abc"
	run -64 --separate-stderr pp-strip -T 100000
	assert_contains "$stderr" "too large"
	run -64 --separate-stderr pp-strip --accept-proxy=v3
	assert_contains "$stderr" "--accept-proxy=v3"
	run -64 --separate-stderr pp-strip --trust 10.0.0.0/33
	assert_contains "$stderr" "--trust 10.0.0.0/33"
	run -64 --separate-stderr pp-strip --trust 2001:db8::/129
	run -64 --separate-stderr pp-strip --trust example
	run -64 --separate-stderr pp-strip -m 10
	assert_contains "$stderr" "--max-header"
	assert_empty "$output"
}

@test "pp-strip SYNOPSIS in the man page matches usage()" {
	synopsis_matches_usage pp-strip
}

@test "pp-strip in filter mode writes the payload after a v1 header" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET / HTTP/1.0\r\n\r\n' | pp-strip"
	assert_eq "$output" "$(printf 'GET / HTTP/1.0\r\n\r\n')"
	assert_empty "$stderr"
}

@test "pp-strip in filter mode writes the payload after a v2 header with TLVs" {
	pp-send -2 -s 192.0.2.1:56324 -d 198.51.100.7:443 --alpn h2 --crc32c \
		-n > "$T/in"
	printf 'payload\0bytes' >> "$T/in"
	pp-strip < "$T/in" > "$T/out"
	assert_eq "$(hex < "$T/out")" "$(printf 'payload\0bytes' | hex)"
}

@test "pp-strip execs the program with the UCSPI and PROXY_ environment of a v1 header" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nhello' | pp-strip -- '$T/child'"
	assert_eq "$output" "ok"
	assert_eq "$(cat "$T/payload")" "hello"
	assert_eq "$(env_of PROTO)" "TCP"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	assert_eq "$(env_of TCPREMOTEPORT)" "56324"
	assert_eq "$(env_of TCPLOCALIP)" "198.51.100.7"
	assert_eq "$(env_of TCPLOCALPORT)" "443"
	assert_eq "$(env_of PROXY_VERSION)" "1"
	assert_eq "$(env_of PROXY_COMMAND)" "proxy"
	assert_eq "$(env_of PROXY_FAMILY)" "inet"
	assert_eq "$(env_of PROXY_TRANSPORT)" "stream"
	# stdin is a pipe: who connected is not known, so it is unset
	assert_eq "$(env_of PROXY_PEERIP)" "(unset)"
	assert_eq "$(env_of PROXY_PEERPORT)" "(unset)"
}

@test "pp-strip gives TCP6 addresses in canonical form" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::ffff:198.51.100.7 1 65535\r\n' | pp-strip -- '$T/child'"
	assert_eq "$(env_of TCPREMOTEIP)" "2001:db8::1"
	assert_eq "$(env_of TCPLOCALIP)" "::ffff:198.51.100.7"
	assert_eq "$(env_of TCPLOCALPORT)" "65535"
	assert_eq "$(env_of PROXY_FAMILY)" "inet6"
}

@test "pp-strip passes every TLV of a v2 header to the program" {
	local ssl
	# SSL: client 5, verify 0, VERSION TLSv1.3, CN alice, CIPHER, SIG_ALG,
	# KEY_ALG, GROUP, SIG_SCHEME
	ssl=05$(printf '%08x' 0)
	for kv in 21:TLSv1.3 22:alice 23:TLS_AES_128_GCM_SHA256 24:SHA256 \
		25:RSA2048 26:x25519 27:rsa_pss_rsae_sha256; do
		v=${kv#*:}
		ssl=$ssl${kv%%:*}$(printf '%04x' ${#v})$(printf '%s' "$v" | hex)
	done
	pp-send -2 -s [2001:db8::1]:40000 -d [2001:db8::2]:443 --alpn h2 \
		--authority example.com --unique-id 'id-42' --netns blue \
		--aws-vpce-id vpce-00eafc458ec97b833 --azure-linkid 4294967295 \
		--gcp-psc-id 18446744073709551615 --tlv 0xE1=0xdeadbeef \
		--tlv noop= --tlv ssl=0x$ssl --crc32c -n > "$T/in"
	printf 'x' >> "$T/in"
	run -0 --separate-stderr pp-strip -- "$T/child" < "$T/in"
	assert_eq "$(env_of PROXY_VERSION)" "2"
	assert_eq "$(env_of TCPREMOTEIP)" "2001:db8::1"
	assert_eq "$(env_of TCPLOCALIP)" "2001:db8::2"
	assert_eq "$(env_of PROXY_TLV_ALPN)" "h2"
	assert_eq "$(env_of PROXY_TLV_AUTHORITY)" "example.com"
	assert_eq "$(env_of PROXY_TLV_UNIQUE_ID)" "id-42"
	assert_eq "$(env_of PROXY_TLV_NETNS)" "blue"
	assert_eq "$(env_of PROXY_TLV_AWS_VPCE_ID)" "vpce-00eafc458ec97b833"
	assert_eq "$(env_of PROXY_TLV_AZURE_LINKID)" "4294967295"
	assert_eq "$(env_of PROXY_TLV_GCP_PSC_ID)" "18446744073709551615"
	assert_eq "$(env_of PROXY_TLV_0xE1)" "deadbeef"
	assert_eq "$(env_of PROXY_TLV_0x04)" "(unset)"
	assert_eq "$(env_of PROXY_TLV_SSL_CLIENT)" "5"
	assert_eq "$(env_of PROXY_TLV_SSL_VERIFY)" "0"
	assert_eq "$(env_of PROXY_TLV_SSL_VERSION)" "TLSv1.3"
	assert_eq "$(env_of PROXY_TLV_SSL_CN)" "alice"
	assert_eq "$(env_of PROXY_TLV_SSL_CIPHER)" "TLS_AES_128_GCM_SHA256"
	assert_eq "$(env_of PROXY_TLV_SSL_SIG_ALG)" "SHA256"
	assert_eq "$(env_of PROXY_TLV_SSL_KEY_ALG)" "RSA2048"
	assert_eq "$(env_of PROXY_TLV_SSL_GROUP)" "x25519"
	assert_eq "$(env_of PROXY_TLV_SSL_SIG_SCHEME)" "rsa_pss_rsae_sha256"
	[ "$(env_of PROXY_TLV_0x03)" != "(unset)" ]
	assert_eq "$(cat "$T/payload")" "x"
}

@test "pp-strip escapes bytes outside printable ASCII in TLV text" {
	pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 \
		--tlv 'authority=0x610a625c63' -n > "$T/in"
	run -0 --separate-stderr pp-strip -- "$T/child" < "$T/in"
	assert_eq "$(env_of PROXY_TLV_AUTHORITY)" 'a\x0ab\x5cc'
}

@test "pp-strip gives a unix header as PROTO=IPC with both paths" {
	pp-send -2 -s unix:/run/client.sock -d unix:@listener -n > "$T/in"
	run -0 --separate-stderr pp-strip -- "$T/child" < "$T/in"
	assert_eq "$(env_of PROTO)" "IPC"
	assert_eq "$(env_of IPCREMOTEPATH)" "/run/client.sock"
	assert_eq "$(env_of IPCLOCALPATH)" "@listener"
	assert_eq "$(env_of PROXY_FAMILY)" "unix"
	assert_eq "$(env_of TCPREMOTEIP)" "(unset)"
}

@test "pp-strip leaves addresses unset for LOCAL over a pipe" {
	pp-send -2 --local -n > "$T/in"
	run -0 --separate-stderr pp-strip -- "$T/child" < "$T/in"
	assert_eq "$(env_of PROXY_COMMAND)" "local"
	assert_eq "$(env_of PROXY_VERSION)" "2"
	assert_eq "$(env_of PROTO)" "(unset)"
	assert_eq "$(env_of TCPREMOTEIP)" "(unset)"
	assert_eq "$(env_of TCPLOCALIP)" "(unset)"
}

@test "pp-strip clears stale UCSPI and PROXY_ variables" {
	run -0 --separate-stderr env TCPREMOTEHOST=proxy.example \
		TCPREMOTEINFO=ident TCPLOCALHOST=me PROXY_TLV_0xAA=stale \
		PROXY_TLV_ALPN=stale IPCREMOTEPATH=/stale \
		sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n' | pp-strip -- env"
	assert_not_contains "$output" "TCPREMOTEHOST"
	assert_not_contains "$output" "TCPREMOTEINFO"
	assert_not_contains "$output" "TCPLOCALHOST"
	assert_not_contains "$output" "PROXY_TLV_0xAA"
	assert_not_contains "$output" "PROXY_TLV_ALPN"
	assert_not_contains "$output" "IPCREMOTEPATH"
	assert_contains "$output" "TCPREMOTEIP=192.0.2.1"
}

@test "pp-strip -e writes a shell-sourceable environment file" {
	pp-send -2 -s 192.0.2.1:56324 -d 198.51.100.7:443 \
		--authority "it's a \"b\" \$HOME \`x\`" -n > "$T/in"
	printf 'data' >> "$T/in"
	run -0 --separate-stderr pp-strip -e "$T/client.env" < "$T/in"
	assert_eq "$output" "data"
	run -0 sh -c ". '$T/client.env' && printf '%s|%s|%s|%s' \"\$TCPREMOTEIP\" \"\$TCPREMOTEPORT\" \"\$PROXY_VERSION\" \"\$PROXY_TLV_AUTHORITY\""
	assert_eq "$output" "192.0.2.1|56324|2|it's a \"b\" \$HOME \`x\`"
	grep -q "^TCPREMOTEIP='192.0.2.1'\$" "$T/client.env"
}

@test "pp-strip -e works in exec mode too" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n' | pp-strip -e '$T/e' -- '$T/child'"
	grep -q "^TCPREMOTEIP='192.0.2.1'\$" "$T/e"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
}

@test "pp-strip --accept-proxy=v1 refuses a v2 header" {
	pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 -n > "$T/in"
	printf 'payload' >> "$T/in"
	run --separate-stderr pp-strip --accept-proxy=v1 -- "$T/child" < "$T/in"
	refused_pipe 65
	assert_contains "$stderr" "v2"
}

@test "pp-strip --accept-proxy=v2 refuses a v1 header" {
	run --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\npayload' | pp-strip -a v2 -- '$T/child'"
	refused_pipe 65
	assert_contains "$stderr" "--accept-proxy=v2"
}

@test "pp-strip --accept-proxy=any and bare --accept-proxy take both versions" {
	pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 -n > "$T/v2"
	pp-send -1 -s 192.0.2.1:1 -d 192.0.2.2:2 -n > "$T/v1"
	for f in v1 v2; do
		for a in --accept-proxy=any --accept-proxy -aany; do
			run -0 --separate-stderr pp-strip "$a" < "$T/$f"
		done
	done
	run -0 --separate-stderr pp-strip --accept-proxy=v1 < "$T/v1"
	run -0 --separate-stderr pp-strip --accept-proxy=v2 < "$T/v2"
}

@test "pp-strip refuses a table of malformed headers: status 65, one line, nothing passed on" {
	local name hexbytes note n=0
	while IFS=$'\t' read -r name hexbytes note; do
		[ "$name" = name ] && continue
		rm -f "$T/ran"
		{ unhex "$hexbytes"; printf 'PAYLOAD'; } > "$T/in"
		run --separate-stderr timeout 5 pp-strip -T 2 -- "$T/child" < "$T/in"
		refused_pipe 65 || { echo "case $name ($note)"; return 1; }
		# filter mode: nothing on stdout either
		run --separate-stderr timeout 5 pp-strip -T 2 < "$T/in"
		refused_pipe 65 || { echo "case $name ($note), filter"; return 1; }
		n=$((n + 1))
	done < "$FIXTURES/malformed.tsv"
	[ "$n" -ge 20 ]
}

@test "pp-strip refuses every invalid conformance vector" {
	local id src fmt hexbytes verdict expected note n=0
	while IFS=$'\t' read -r id src fmt hexbytes verdict expected note; do
		[ "$verdict" = invalid ] || continue
		rm -f "$T/ran"
		unhex "$hexbytes" > "$T/in"
		run --separate-stderr timeout 5 pp-strip -T 2 -- "$T/child" < "$T/in"
		refused_pipe 65 || { echo "vector $id: $note"; return 1; }
		n=$((n + 1))
	done < "$FIXTURES/vectors.tsv"
	[ "$n" -ge 10 ]
}

@test "pp-strip refuses input that ends inside the header" {
	run --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1' | pp-strip -- '$T/child'"
	refused_pipe 65
	assert_contains "$stderr" "ended inside the header"
	run --separate-stderr sh -c "pp-send -2 -s 1.2.3.4:1 -d 1.2.3.4:2 -n | head -c 20 | pp-strip -- '$T/child'"
	refused_pipe 65
	run --separate-stderr pp-strip -- "$T/child" < /dev/null
	refused_pipe 65
}

@test "pp-strip refuses a header longer than --max-header" {
	local big
	big=$(head -c 5000 /dev/zero | hex)
	pp-send -2 -s 1.2.3.4:1 -d 1.2.3.4:2 --tlv "0xE1=0x$big" -n > "$T/in"
	run --separate-stderr pp-strip -- "$T/child" < "$T/in"
	refused_pipe 65
	assert_contains "$stderr" "4096"
	run -0 --separate-stderr pp-strip -m 8192 -- "$T/child" < "$T/in"
	assert_eq "$(env_of TCPREMOTEIP)" "1.2.3.4"
}

@test "pp-strip gives up on a silent pipe after -T seconds with status 75" {
	local start end
	start=$(date +%s)
	run --separate-stderr timeout 10 pp-strip -T 1 -- "$T/child" < <(sleep 4)
	end=$(date +%s)
	refused_pipe 75
	assert_contains "$stderr" "within 1 s"
	[ $((end - start)) -le 3 ]
}

@test "pp-strip reports a failed exec with status 1" {
	run -1 --separate-stderr sh -c "printf 'PROXY UNKNOWN\r\n' | pp-strip -- '$T/no-such-program'"
	assert_contains "$stderr" "no-such-program"
	assert_empty "$output"
}

@test "pp-strip passes bytes that look like a second header through as payload" {
	run -0 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\nPROXY TCP4 10.0.0.1 10.0.0.2 3 4\r\n' | pp-strip -- '$T/child'"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	assert_eq "$(cat "$T/payload" | hex)" "$(printf 'PROXY TCP4 10.0.0.1 10.0.0.2 3 4\r\n' | hex)"
}

# Exactness over a pipe: the program must read payload byte 0 first,
# however the writer cut the bytes.
@test "pp-strip over a pipe: one write, single bytes, a split header; 10 MB intact" {
	local want hdr2 mode hdr
	want=$(sha "$BATS_FILE_TMPDIR/10m")
	hdr2=$(pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --alpn h2 --crc32c -n | hex)
	for hdr in "$V1" "$hdr2"; do
		for mode in whole bytes split; do
			run -0 --separate-stderr bash -c "'$TEST_TOOLS/ppclient.py' -x $hdr -f '$BATS_FILE_TMPDIR/10m' -m $mode | timeout 20 pp-strip -- sha256sum"
			assert_eq "${output%% *}" "$want" || { echo "mode $mode"; return 1; }
			run -0 --separate-stderr bash -c "'$TEST_TOOLS/ppclient.py' -x $hdr -f '$BATS_FILE_TMPDIR/10m' -m $mode | timeout 20 pp-strip | sha256sum"
			assert_eq "${output%% *}" "$want" || { echo "filter, mode $mode"; return 1; }
		done
	done
}

@test "pp-strip over a pipe leaves the payload in the pipe for the program" {
	# The program reads with head -c: any byte pp-strip over-read would
	# shift what it sees.
	run -0 --separate-stderr sh -c "{ printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n'; sleep 0.2; printf 'ABCDEFG'; } | pp-strip -- head -c 3"
	assert_eq "$output" "ABC"
}

# Exactness over a real TCP socket on fd 0 (tcpserver).
@test "pp-strip over a TCP socket: one segment, single bytes, a split header; 10 MB intact" {
	local want hdr2 mode hdr src
	want=$(sha "$BATS_FILE_TMPDIR/10m")
	hdr2=$(pp-send -2 -s 192.0.2.1:1 -d 192.0.2.2:2 --unique-id u1 --crc32c -n | hex)
	serve "$PP_BIN/pp-strip" -- sha256sum
	for hdr in "$V1" "$hdr2"; do
		for mode in whole bytes split; do
			src=$(lo_addr)
			run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" \
				-x "$hdr" -f "$BATS_FILE_TMPDIR/10m" -m "$mode"
			assert_eq "${output%% *}" "$want" || { echo "mode $mode"; return 1; }
		done
	done
}

@test "pp-strip over a TCP socket gives the program the first payload byte first" {
	serve "$PP_BIN/pp-strip" -- head -c 5
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -x "$V1" -P 'HELLO WORLD' -m bytes
	assert_eq "$output" "HELLO"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -x "$V1" -P 'HELLO WORLD' -m split -k 20
	assert_eq "$output" "HELLO"
}

@test "pp-strip over a TCP socket refuses the malformed table and sends nothing back" {
	local name hexbytes note n=0
	serve "$T/wrap" -T 2 -- "$T/child"
	while IFS=$'\t' read -r name hexbytes note; do
		[ "$name" = name ] && continue
		rm -f "$T/rc" "$T/ran" "$T/strip.err"
		run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$(lo_addr)" \
			-x "$hexbytes" -P PAYLOAD -t 5
		assert_empty "$output" || { echo "case $name"; return 1; }
		wait_file "$T/rc" 5
		assert_eq "$(cat "$T/rc")" 65 || { echo "case $name: $(cat "$T/strip.err")"; return 1; }
		[ "$(wc -l < "$T/strip.err")" -eq 1 ] || { echo "case $name"; return 1; }
		[ ! -e "$T/ran" ] || { echo "case $name: the child ran"; return 1; }
		n=$((n + 1))
	done < "$FIXTURES/malformed.tsv"
	[ "$n" -ge 20 ]
}

@test "pp-strip under tcpserver gives the real peer for a LOCAL header" {
	local src
	src=$(lo_addr)
	serve "$PP_BIN/pp-strip" -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" \
		-x "$(pp-send -2 --local -n | hex)" -P hi
	assert_eq "$output" "ok"
	assert_eq "$(env_of PROXY_COMMAND)" "local"
	assert_eq "$(env_of TCPREMOTEIP)" "$src"
	assert_eq "$(env_of TCPLOCALIP)" "127.0.0.1"
	assert_eq "$(env_of TCPLOCALPORT)" "$PORT"
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
	assert_eq "$(env_of PROXY_PEERPORT)" "$(env_of TCPREMOTEPORT)"
	assert_eq "$(cat "$T/payload")" "hi"
}

@test "pp-strip under tcpserver gives the real peer for a v1 UNKNOWN line" {
	local src
	src=$(lo_addr)
	serve "$PP_BIN/pp-strip" -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" \
		-x "$(printf 'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n' | hex)" -P hi
	assert_eq "$(env_of PROXY_FAMILY)" "unspec"
	assert_eq "$(env_of TCPREMOTEIP)" "$src"
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
}

@test "pp-strip --trust accepts a header from a trusted peer" {
	local src=127.77.$((RANDOM % 250)).$((RANDOM % 250 + 1))
	serve "$T/wrap" --trust 127.77.0.0/16 --trust 2001:db8::/32 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" -x "$V1" -P hi
	assert_eq "$output" "ok"
	wait_file "$T/rc"
	assert_eq "$(cat "$T/rc")" 0
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
}

@test "pp-strip --trust refuses a header from anyone else" {
	local src=127.78.$((RANDOM % 250)).$((RANDOM % 250 + 1))
	serve "$T/wrap" --trust 127.77.0.0/16 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" -x "$V1" -P hi
	assert_empty "$output"
	wait_file "$T/rc"
	assert_eq "$(cat "$T/rc")" 65
	assert_eq "$(wc -l < "$T/strip.err")" 1
	assert_contains "$(cat "$T/strip.err")" "$src"
	assert_contains "$(cat "$T/strip.err")" "--trust"
	[ ! -e "$T/ran" ]
}

@test "pp-strip --trust with an IPv4 prefix matches an IPv4-mapped peer" {
	need_cmd socat
	local src=127.79.$((RANDOM % 250)).$((RANDOM % 250 + 1))
	PORT=$(free_port)
	# A dual-stack socket: the peer is ::ffff:127.79.x.y; nofork gives
	# pp-strip the socket itself on fd 0.
	start_bg srv socat "TCP6-LISTEN:$PORT,bind=[::ffff:127.0.0.1],ipv6only=0,reuseaddr,fork" \
		"EXEC:$T/wrap --trust 127.79.0.0/16 -- $T/child,nofork"
	wait_listen "$PORT"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" -x "$V1" -P hi
	assert_eq "$output" "ok"
	assert_eq "$(cat "$T/rc")" 0
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
}

@test "pp-strip --trust with an IPv6 prefix over IPv6" {
	need_cmd socat
	PORT=$(free_port)
	start_bg srv socat "TCP6-LISTEN:$PORT,bind=[::1],reuseaddr,fork" \
		"EXEC:$T/wrap --trust \\:\\:1/128 -- $T/child,nofork"
	wait_listen "$PORT"
	run -0 --separate-stderr ppclient -c "[::1]:$PORT" -x "$V1" -P hi
	assert_eq "$output" "ok"
	assert_eq "$(env_of PROXY_PEERIP)" "::1"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	stop_all || true
	rm -f "$T/ran" "$T/rc"
	PORT=$(free_port)
	start_bg srv socat "TCP6-LISTEN:$PORT,bind=[::1],reuseaddr,fork" \
		"EXEC:$T/wrap --trust 2001\\:db8\\:\\:/32 -- $T/child,nofork"
	wait_listen "$PORT"
	run -0 --separate-stderr ppclient -c "[::1]:$PORT" -x "$V1" -P hi
	assert_empty "$output"
	wait_file "$T/rc"
	assert_eq "$(cat "$T/rc")" 65
	[ ! -e "$T/ran" ]
}

@test "pp-strip --trust refuses a pipe, which has no peer to trust" {
	run --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n' | pp-strip --trust 127.0.0.0/8 -- '$T/child'"
	refused_pipe 65
}

@test "pp-strip never takes the real peer from TCPREMOTEIP, which a header may have set" {
	run --separate-stderr env PROTO=TCP TCPREMOTEIP=127.0.0.1 TCPREMOTEPORT=1 \
		TCPLOCALIP=127.0.0.1 TCPLOCALPORT=2 \
		sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\n' | pp-strip --trust 127.0.0.0/8 -- '$T/child'"
	refused_pipe 65
	run -0 --separate-stderr env PROTO=TCP TCPREMOTEIP=127.0.0.1 TCPREMOTEPORT=1 \
		TCPLOCALIP=127.0.0.1 TCPLOCALPORT=2 \
		sh -c "printf 'PROXY UNKNOWN\r\n' | pp-strip -- '$T/child'"
	assert_eq "$(env_of PROXY_PEERIP)" "(unset)"
	assert_eq "$(env_of TCPREMOTEIP)" "(unset)"
}

@test "pp-strip gives up on a silent peer after -T seconds with status 75" {
	serve "$T/wrap" -T 1 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$(lo_addr)" -H 3 -t 6
	assert_empty "$output"
	assert_eq "$(cat "$T/rc")" 75
	assert_eq "$(wc -l < "$T/strip.err")" 1
	assert_contains "$(cat "$T/strip.err")" "no complete header within 1 s"
	[ ! -e "$T/ran" ]
}

@test "pp-strip gives up on a peer that stops inside the header after -T seconds" {
	serve "$T/wrap" -T 1 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -x "${V1:0:30}" -A 3 -t 6
	assert_empty "$output"
	assert_eq "$(cat "$T/rc")" 75
	[ ! -e "$T/ran" ]
}

@test "pp-strip --optional passes a plain connection through untouched with the real peer" {
	local src
	src=$(lo_addr)
	serve "$PP_BIN/pp-strip" --optional --trust 127.0.0.0/8 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" \
		-x "$(printf 'GET / HTTP/1.0\r\n\r\n' | hex)" -m bytes -k 3
	assert_eq "$output" "ok"
	assert_eq "$(hex < "$T/payload")" "$(printf 'GET / HTTP/1.0\r\n\r\n' | hex)"
	assert_eq "$(env_of TCPREMOTEIP)" "$src"
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
	assert_eq "$(env_of TCPLOCALPORT)" "$PORT"
	assert_eq "$(env_of PROXY_VERSION)" "(unset)"
	assert_eq "$(env_of PROXY_COMMAND)" "(unset)"
}

@test "pp-strip --optional passes a prefix of the v1 signature through" {
	serve "$PP_BIN/pp-strip" --optional --trust 127.0.0.0/8 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -P 'PROXIMA CENTAURI' -m bytes
	assert_eq "$(cat "$T/payload")" "PROXIMA CENTAURI"
	assert_eq "$(env_of PROXY_VERSION)" "(unset)"
}

@test "pp-strip --optional still reads a header when there is one" {
	serve "$PP_BIN/pp-strip" --optional --trust 127.0.0.0/8 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -x "$V1" -P hi
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	assert_eq "$(env_of PROXY_VERSION)" "1"
	assert_eq "$(cat "$T/payload")" "hi"
}

@test "pp-strip --optional ignores a header from an untrusted peer: it is payload" {
	local src=127.81.$((RANDOM % 250)).$((RANDOM % 250 + 1))
	serve "$PP_BIN/pp-strip" --optional --trust 127.80.0.0/16 -- "$T/child"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" -x "$V1" -P hi
	assert_eq "$(env_of TCPREMOTEIP)" "$src"
	assert_eq "$(env_of PROXY_VERSION)" "(unset)"
	assert_eq "$(hex < "$T/payload")" "${V1}6869"
}

@test "pp-strip --optional over a pipe hands the program every byte" {
	run -0 --separate-stderr sh -c "printf 'PROXIMA CENTAURI' | pp-strip -q --optional -- '$T/child'"
	assert_eq "$output" "ok"
	assert_eq "$(cat "$T/payload")" "PROXIMA CENTAURI"
	assert_eq "$(env_of PROXY_VERSION)" "(unset)"
	assert_eq "$(env_of PROTO)" "(unset)"
	run -0 --separate-stderr sh -c "printf 'hello' | pp-strip -q --optional"
	assert_eq "$output" "hello"
	run -0 --separate-stderr sh -c "printf 'PROXY TCP4 192.0.2.1 198.51.100.7 1 2\r\nhi' | pp-strip -q --optional -- '$T/child'"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
	assert_eq "$(cat "$T/payload")" "hi"
}

@test "pp-strip --optional without --trust warns once; -q silences it" {
	run -0 --separate-stderr sh -c "printf 'x' | pp-strip --optional"
	assert_eq "$output" "x"
	assert_eq "$(nlines "$stderr")" 1
	assert_contains "$stderr" "--trust"
	run -0 --separate-stderr sh -c "printf 'x' | pp-strip --optional -q"
	assert_empty "$stderr"
}

@test "pp-strip under socat EXEC takes the real peer from socat's variables" {
	need_cmd socat
	local src
	src=$(lo_addr)
	PORT=$(free_port)
	start_bg srv socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:$T/wrap --trust $src -- $T/child"
	wait_listen "$PORT"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$PORT" -b "$src" -x "$V1" -P hi
	assert_eq "$output" "ok"
	assert_eq "$(env_of PROXY_PEERIP)" "$src"
	assert_eq "$(env_of TCPREMOTEIP)" "192.0.2.1"
}

@test "pp-strip -T takes fractions and units: 500ms gives up after half a second" {
	local start end
	for t in 0.5 500ms; do
		start=$(date +%s%N)
		run --separate-stderr timeout 10 pp-strip -T "$t" -- "$T/child" < <(sleep 4)
		end=$(date +%s%N)
		refused_pipe 75
		assert_contains "$stderr" "within 500 ms"
		[ $(((end - start) / 1000000)) -lt 2000 ]
	done
}

@test "pp-strip refuses a header timeout below 1 ms" {
	run -64 --separate-stderr pp-strip -T 0.0004 -- "$T/child"
	assert_contains "$stderr" "-T 0.0004: too small"
}

@test "pp-strip takes -a bare, -av1, -a v1, --accept-proxy v1 and --accept-proxy=v1" {
	printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nhi' > "$T/v1"
	run -0 --separate-stderr pp-strip -a -- "$T/child" < "$T/v1"
	assert_eq "$(env_of TCPREMOTEIP)" 192.0.2.1
	for a in -av1 "-a v1" "--accept-proxy v1" --accept-proxy=v1; do
		# shellcheck disable=SC2086
		run -0 --separate-stderr pp-strip $a -- "$T/child" < "$T/v1"
		rm -f "$T/ran"
		# shellcheck disable=SC2086
		run --separate-stderr pp-strip ${a/v1/v2} -- "$T/child" < "$T/v1"
		refused_pipe 65
	done
	# Without --, a PROG named like a version would be taken as one.
	run -0 --separate-stderr pp-strip -a v1 "$T/child" < "$T/v1"
	assert_eq "$output" ok
}

@test "pp-strip takes --header-timeout and --max-header 16 like the relays" {
	run --separate-stderr timeout 10 pp-strip --header-timeout 0.5 -- "$T/child" < <(sleep 4)
	refused_pipe 75
	printf 'PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nhi' > "$T/v1"
	run --separate-stderr pp-strip -m 16 -- "$T/child" < "$T/v1"
	refused_pipe 65
	assert_contains "$stderr" "longer than 16 bytes"
	run -64 --separate-stderr pp-strip -m 65552 -- "$T/child"
	assert_contains "$stderr" "--max-header 65552: too large (16 to 65551)"
}

@test "pp-strip --help and the man page list the same options" {
	options_match_man pp-strip
}

@test "pp-strip -e writes a long binary TLV value complete, never cut" {
	hexval=$(head -c 40000 /dev/zero | tr '\0' '\377' | hex)
	pp-send -2 -s 192.0.2.1:56324 -d 198.51.100.7:443 \
		--tlv "authority=0x$hexval" -n > "$T/in"
	run -0 --separate-stderr pp-strip -m 65551 -e "$T/client.env" < "$T/in"
	run -0 sh -c ". '$T/client.env' && printf '%s' \"\$PROXY_TLV_AUTHORITY\""
	assert_eq "${#output}" 160000
	assert_eq "${output:159996}" '\xff'
}
