#!/usr/bin/env bats
# pp-send and pp-strip against real peers: HAProxy, nginx, socat,
# tcpserver, openbsd-inetd, stunnel and tshark, all on loopback.  Every
# client binds its own 127.x.y.z source and the test checks that this
# exact address and port arrive.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	# The program behind pp-strip: keeps its environment, answers with
	# the first line it read.
	cat > "$T/child" <<-EOF
	#!/bin/sh
	IFS= read -r line
	env | grep -E '^(PROTO|TCP|IPC|PROXY_)' | sort > "$T/env.part"
	mv "$T/env.part" "$T/env"
	echo "got \$line"
	EOF
	chmod +x "$T/child"
	SRC=$(lo_addr)
}

# client PORT [PAYLOAD]: connect from $SRC, send PAYLOAD (default a line),
# half-close; sets ME_PORT (the client's own port) and REPLY.
client() {
	local port=$1 payload=${2:-$'hello\n'}
	run -0 --separate-stderr ppclient -c "127.0.0.1:$port" -b "$SRC" -P "$payload" -s -t 10
	ME_PORT=${stderr#* }
	assert_eq "${stderr% *}" "$SRC"
	REPLY=$output
}

# haproxy NAME PORT SECTIONS: run haproxy with these sections after a
# global and defaults section; waits for PORT.
haproxy_run() {
	need_cmd haproxy
	local name=$1 port=$2
	{
		printf 'global\n\tmaxconn 100\n'
		printf 'defaults\n\ttimeout connect 5s\n\ttimeout client 10s\n\ttimeout server 10s\n'
		cat
	} > "$T/$name.cfg"
	start_bg "$name" haproxy -db -f "$T/$name.cfg"
	wait_listen "$port" 10 || { cat "$T/$name.err" >&2; return 1; }
}

nginx_run() {
	need_cmd nginx
	local port=$1 d=$T/nginx
	mkdir -p "$d"
	cat > "$d/nginx.conf" <<-EOF
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log;
	events { worker_connections 64; }
	http {
		access_log off;
		client_body_temp_path $d/body;
		proxy_temp_path $d/proxy;
		fastcgi_temp_path $d/fastcgi;
		uwsgi_temp_path $d/uwsgi;
		scgi_temp_path $d/scgi;
		server {
			listen 127.0.0.1:$port proxy_protocol;
			location / {
				default_type text/plain;
				return 200 "\$proxy_protocol_addr:\$proxy_protocol_port";
			}
		}
	}
	EOF
	start_bg nginx nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
	wait_listen "$port" 10 || { cat "$T/nginx.err" "$d/error.log" >&2; return 1; }
}

# under WRAPPER PORT PROG ARGS: a per-connection server on 127.0.0.1:PORT
# running PROG (socat EXEC or tcpserver).
under() {
	local wrapper=$1 port=$2 cmd
	shift 2
	case $wrapper in
	socat)
		need_cmd socat
		# inside EXEC a ':' must be written '\:'
		cmd=$(printf '%s ' "$@" | sed 's/:/\\:/g')
		start_bg "$wrapper" socat \
			"TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,backlog=64" \
			"EXEC:${cmd% }" ;;
	tcpserver)
		need_cmd tcpserver
		start_bg "$wrapper" tcpserver -q -RHl0 127.0.0.1 "$port" "$@" ;;
	esac
	wait_listen "$port" 10 || { cat "$T/$wrapper.err" >&2; return 1; }
}

# ---- tshark decodes what pp-send sent --------------------------------

# capture ARGS: pp-send -c ARGS to a listener that records every byte;
# then the text2pcap route into tshark; prints the named fields.
tshark_fields() {
	need_cmd socat tshark text2pcap
	local port fields=$1
	shift
	port=$(free_port)
	start_bg cap socat -u "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr" \
		"OPEN:$T/cap,creat,trunc"
	wait_listen "$port"
	printf 'payload' | timeout 10 pp-send -c "127.0.0.1:$port" "$@"
	wait_for 5 test -s "$T/cap"
	od -Ax -tx1 -v "$T/cap" > "$T/cap.txt"
	text2pcap -q -T "40000,$port" "$T/cap.txt" "$T/cap.pcap" 2>/dev/null
	local args=() f
	for f in $fields; do
		args+=(-e "$f")
	done
	tshark -r "$T/cap.pcap" -Y proxy -T fields -E separator=' ' "${args[@]}" 2>/dev/null
}

@test "tshark decodes a pp-send v1 TCP4 connection to the same addresses and ports" {
	run -0 tshark_fields "proxy.src.ipv4 proxy.srcport proxy.dst.ipv4 proxy.dstport" \
		-1 -s 192.0.2.1:56324 -d 198.51.100.7:8443
	assert_eq "$output" "192.0.2.1 56324 198.51.100.7 8443"
}

@test "tshark decodes a pp-send v1 TCP6 connection to the same addresses and ports" {
	run -0 tshark_fields "proxy.src.ipv6 proxy.srcport proxy.dst.ipv6 proxy.dstport" \
		-1 -s [2001:db8::1]:40001 -d [2001:db8::7]:8080
	assert_eq "$output" "2001:db8::1 40001 2001:db8::7 8080"
}

@test "tshark decodes a pp-send v2 INET connection with TLVs" {
	# tshark 4.0's dissector leaves out the TLVs in the last 12 bytes of
	# an INET header (the size of the address block); a trailing NOOP of
	# that size lets it show the two TLVs checked here.
	run -0 tshark_fields "proxy.v2.version proxy.v2.cmd proxy.src.ipv4 proxy.srcport proxy.dst.ipv4 proxy.dstport proxy.v2.tlv.type proxy.v2.tlv.value" \
		-2 -s 192.0.2.1:56324 -d 198.51.100.7:8443 --alpn h2 --authority example.com \
		--tlv noop=0x000000000000000000
	assert_eq "$output" "2 1 192.0.2.1 56324 198.51.100.7 8443 0x01,0x02 6832,6578616d706c652e636f6d"
}

@test "tshark decodes a pp-send v2 INET6 connection" {
	run -0 tshark_fields "proxy.v2.version proxy.src.ipv6 proxy.srcport proxy.dst.ipv6 proxy.dstport" \
		-2 -s [2001:db8::1]:1 -d [2001:db8::7]:65535 --crc32c
	assert_eq "$output" "2 2001:db8::1 1 2001:db8::7 65535"
}

# ---- HAProxy sends, pp-strip receives --------------------------------

# haproxy_to_strip WRAPPER SERVER_OPTIONS [ssl]
haproxy_to_strip() {
	local wrapper=$1 opts=$2 tls=${3:-} fe sp bind
	fe=$(free_port)
	sp=$(free_port)
	under "$wrapper" "$sp" "$PP_BIN/pp-strip" --trust 127.0.0.1 -- "$T/child"
	bind="bind 127.0.0.1:$fe"
	if [ -n "$tls" ]; then
		need_cmd openssl
		openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost \
			-days 1 -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
		cat "$T/cert.pem" "$T/key.pem" > "$T/both.pem"
		bind="$bind ssl crt $T/both.pem"
	fi
	haproxy_run hap "$fe" <<-EOF
	frontend fe
		mode tcp
		$bind
		unique-id-format ID-%ci-%cp
		default_backend be
	backend be
		mode tcp
		server s1 127.0.0.1:$sp $opts
	EOF
	if [ -n "$tls" ]; then
		ME_PORT=$((40000 + RANDOM % 20000))
		run -0 --separate-stderr sh -c "echo hello | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$fe -servername svc.example -bind $SRC:$ME_PORT"
		REPLY=$output
	else
		client "$fe"
	fi
	assert_eq "$REPLY" "got hello"
	assert_eq "$(env_of TCPREMOTEIP)" "$SRC"
	assert_eq "$(env_of TCPREMOTEPORT)" "$ME_PORT"
	assert_eq "$(env_of TCPLOCALIP)" "127.0.0.1"
	assert_eq "$(env_of TCPLOCALPORT)" "$fe"
	assert_eq "$(env_of PROXY_PEERIP)" "127.0.0.1"
}

@test "haproxy send-proxy -> pp-strip under socat" {
	haproxy_to_strip socat send-proxy
	assert_eq "$(env_of PROXY_VERSION)" 1
}

@test "haproxy send-proxy -> pp-strip under tcpserver" {
	haproxy_to_strip tcpserver send-proxy
	assert_eq "$(env_of PROXY_VERSION)" 1
}

@test "haproxy send-proxy-v2 -> pp-strip under socat" {
	haproxy_to_strip socat send-proxy-v2
	assert_eq "$(env_of PROXY_VERSION)" 2
	assert_eq "$(env_of PROXY_FAMILY)" inet
}

@test "haproxy send-proxy-v2 -> pp-strip under tcpserver" {
	haproxy_to_strip tcpserver send-proxy-v2
	assert_eq "$(env_of PROXY_VERSION)" 2
}

@test "haproxy send-proxy-v2 authority,crc32c,unique-id -> pp-strip under socat" {
	haproxy_to_strip socat \
		"send-proxy-v2 proxy-v2-options authority,crc32c,unique-id" ssl
	assert_eq "$(env_of PROXY_VERSION)" 2
	assert_eq "$(env_of PROXY_TLV_AUTHORITY)" svc.example
	assert_eq "$(env_of PROXY_TLV_UNIQUE_ID)" "ID-$SRC-$ME_PORT"
	[[ "$(env_of PROXY_TLV_0x03)" =~ ^[0-9a-f]{8}$ ]]
}

@test "haproxy send-proxy-v2 authority,crc32c,unique-id -> pp-strip under tcpserver" {
	haproxy_to_strip tcpserver \
		"send-proxy-v2 proxy-v2-options authority,crc32c,unique-id" ssl
	assert_eq "$(env_of PROXY_TLV_AUTHORITY)" svc.example
	assert_eq "$(env_of PROXY_TLV_UNIQUE_ID)" "ID-$SRC-$ME_PORT"
	[[ "$(env_of PROXY_TLV_0x03)" =~ ^[0-9a-f]{8}$ ]]
}

# ---- pp-send sends, HAProxy and nginx receive ------------------------

# send_to_haproxy WRAPPER PP_SEND_ARGS...: the answer is HAProxy's view.
send_to_haproxy() {
	local wrapper=$1 hp wp
	shift
	hp=$(free_port)
	wp=$(free_port)
	haproxy_run hap "$hp" <<-EOF
	frontend fe
		mode http
		bind 127.0.0.1:$hp accept-proxy
		http-request return status 200 content-type text/plain lf-string "%ci:%cp %[fc_pp_authority] %[fc_pp_unique_id]"
	EOF
	under "$wrapper" "$wp" "$PP_BIN/pp-send" "$@" -c "127.0.0.1:$hp"
	client "$wp" $'GET / HTTP/1.0\r\n\r\n'
	assert_contains "$REPLY" "200"
	BODY=${REPLY##*$'\r\n\r\n'}
}

@test "pp-send -c under socat -> haproxy accept-proxy (v1)" {
	send_to_haproxy socat -1
	assert_eq "$BODY" "$SRC:$ME_PORT  "
}

@test "pp-send -c under tcpserver -> haproxy accept-proxy (v1)" {
	send_to_haproxy tcpserver -1
	assert_eq "$BODY" "$SRC:$ME_PORT  "
}

@test "pp-send -c under socat -> haproxy accept-proxy (v2, authority, unique-id, crc32c)" {
	send_to_haproxy socat -2 --authority svc.example --unique-id u-42 --crc32c
	assert_eq "$BODY" "$SRC:$ME_PORT svc.example u-42"
}

@test "pp-send -c under tcpserver -> haproxy accept-proxy (v2, authority, unique-id, crc32c)" {
	send_to_haproxy tcpserver -2 --authority svc.example --unique-id u-42 --crc32c
	assert_eq "$BODY" "$SRC:$ME_PORT svc.example u-42"
}

@test "haproxy accept-proxy refuses a pp-send header with a corrupted CRC32C" {
	# The control for the test above: HAProxy does check the checksum.
	local hp
	hp=$(free_port)
	haproxy_run hap "$hp" <<-EOF
	frontend fe
		mode http
		bind 127.0.0.1:$hp accept-proxy
		http-request return status 200 content-type text/plain lf-string "%ci:%cp"
	EOF
	pp-send -2 --crc32c -s 192.0.2.1:1 -d 192.0.2.2:2 -n > "$T/h"
	local good bad
	good=$(hex < "$T/h")
	bad=${good:0:32}ff${good:34}
	run -0 --separate-stderr ppclient -c "127.0.0.1:$hp" -x "$good" -P $'GET / HTTP/1.0\r\n\r\n'
	assert_contains "$output" "192.0.2.1:1"
	run -0 --separate-stderr ppclient -c "127.0.0.1:$hp" -x "$bad" -P $'GET / HTTP/1.0\r\n\r\n'
	assert_not_contains "$output" "200"
}

send_to_nginx() {
	local wrapper=$1 np wp
	shift
	np=$(free_port)
	wp=$(free_port)
	nginx_run "$np"
	under "$wrapper" "$wp" "$PP_BIN/pp-send" "$@" -c "127.0.0.1:$np"
	client "$wp" $'GET / HTTP/1.0\r\nHost: x\r\n\r\n'
	assert_contains "$REPLY" "200"
	BODY=${REPLY##*$'\r\n\r\n'}
}

@test "pp-send -c under socat -> nginx proxy_protocol (v1)" {
	send_to_nginx socat -1
	assert_eq "$BODY" "$SRC:$ME_PORT"
}

@test "pp-send -c under tcpserver -> nginx proxy_protocol (v1)" {
	send_to_nginx tcpserver -1
	assert_eq "$BODY" "$SRC:$ME_PORT"
}

@test "pp-send -c under socat -> nginx proxy_protocol (v2 with TLVs)" {
	send_to_nginx socat -2 --alpn http/1.1 --crc32c
	assert_eq "$BODY" "$SRC:$ME_PORT"
}

@test "pp-send -c under tcpserver -> nginx proxy_protocol (v2 with TLVs)" {
	send_to_nginx tcpserver -2 --authority x --crc32c
	assert_eq "$BODY" "$SRC:$ME_PORT"
}

# ---- a real inetd ----------------------------------------------------

inetd_run() {
	need_cmd inetd
	cat > "$T/inetd.conf"
	start_bg inetd inetd -d "$T/inetd.conf"
	wait_listen "$1" 10 || { cat "$T/inetd.err" >&2; return 1; }
}

@test "openbsd-inetd runs pp-strip: the program gets the header's client" {
	local ip
	ip=$(free_port)
	inetd_run "$ip" <<-EOF
	127.0.0.1:$ip stream tcp nowait root $PP_BIN/pp-strip pp-strip --trust 127.0.0.0/8 -- $T/child
	EOF
	# The header is the real client's, as a proxy in front would send it.
	run -0 --separate-stderr ppclient -c "127.0.0.1:$ip" -b "$SRC" \
		-x "$(pp-send -2 --alpn h2 -s "$SRC:4567" -d 127.0.0.1:"$ip" -n | hex)" \
		-P $'hello\n'
	assert_eq "$output" "got hello"
	assert_eq "$(env_of TCPREMOTEIP)" "$SRC"
	assert_eq "$(env_of TCPREMOTEPORT)" 4567
	assert_eq "$(env_of PROXY_TLV_ALPN)" h2
	assert_eq "$(env_of PROXY_PEERIP)" "$SRC"
}

@test "openbsd-inetd runs pp-strip: a refusal never reaches the client's socket" {
	local ip
	ip=$(free_port)
	inetd_run "$ip" <<-EOF
	127.0.0.1:$ip stream tcp nowait root $PP_BIN/pp-strip pp-strip -- $T/child
	EOF
	# stderr is the client's socket under inetd: the reason goes to
	# syslog, and the client gets nothing at all.
	run -0 --separate-stderr ppclient -c "127.0.0.1:$ip" -b "$SRC" \
		-P $'GET / HTTP/1.0\r\n\r\n'
	assert_empty "$output"
	[ ! -e "$T/env" ]
}

@test "openbsd-inetd runs pp-send -c: haproxy accept-proxy sees the client" {
	local ip hp
	ip=$(free_port)
	hp=$(free_port)
	haproxy_run hap "$hp" <<-EOF
	frontend fe
		mode http
		bind 127.0.0.1:$hp accept-proxy
		http-request return status 200 content-type text/plain lf-string "%ci:%cp %[fc_pp_unique_id]"
	EOF
	inetd_run "$ip" <<-EOF
	127.0.0.1:$ip stream tcp nowait root $PP_BIN/pp-send pp-send -2 --unique-id inetd -c 127.0.0.1:$hp
	EOF
	client "$ip" $'GET / HTTP/1.0\r\n\r\n'
	assert_eq "${REPLY##*$'\r\n\r\n'}" "$SRC:$ME_PORT inetd"
}

@test "openbsd-inetd runs pp-send -c: pp-strip behind it sees the client" {
	local ip sp
	ip=$(free_port)
	sp=$(free_port)
	under tcpserver "$sp" "$PP_BIN/pp-strip" --trust 127.0.0.1 -- "$T/child"
	inetd_run "$ip" <<-EOF
	127.0.0.1:$ip stream tcp nowait root $PP_BIN/pp-send pp-send -c 127.0.0.1:$sp
	EOF
	client "$ip"
	assert_eq "$REPLY" "got hello"
	assert_eq "$(env_of TCPREMOTEIP)" "$SRC"
	assert_eq "$(env_of TCPREMOTEPORT)" "$ME_PORT"
	assert_eq "$(env_of TCPLOCALPORT)" "$ip"
	assert_eq "$(env_of PROXY_VERSION)" 1
}

# ---- stunnel terminates TLS in front of pp-strip ---------------------

stunnel_to_strip() {
	need_cmd stunnel4 openssl
	local wrapper=$1 tp sp
	tp=$(free_port)
	sp=$(free_port)
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
		-keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
	under "$wrapper" "$sp" "$PP_BIN/pp-strip" --accept-proxy=v1 \
		--trust 127.0.0.1 -- "$T/child"
	cat > "$T/stunnel.conf" <<-EOF
	foreground = yes
	pid =
	[svc]
	accept = 127.0.0.1:$tp
	connect = 127.0.0.1:$sp
	cert = $T/cert.pem
	key = $T/key.pem
	protocol = proxy
	EOF
	start_bg stunnel stunnel4 "$T/stunnel.conf"
	wait_listen "$tp" 10 || { cat "$T/stunnel.err" >&2; return 1; }
	ME_PORT=$((40000 + RANDOM % 20000))
	run -0 --separate-stderr sh -c "echo hello | timeout 10 openssl s_client -quiet -connect 127.0.0.1:$tp -bind $SRC:$ME_PORT"
	assert_eq "$output" "got hello"
	assert_eq "$(env_of TCPREMOTEIP)" "$SRC"
	assert_eq "$(env_of TCPREMOTEPORT)" "$ME_PORT"
	assert_eq "$(env_of TCPLOCALPORT)" "$tp"
	assert_eq "$(env_of PROXY_VERSION)" 1
}

@test "stunnel protocol=proxy -> pp-strip under socat: the child sees the TLS client" {
	stunnel_to_strip socat
}

@test "stunnel protocol=proxy -> pp-strip under tcpserver: the child sees the TLS client" {
	stunnel_to_strip tcpserver
}

# ---- the whole chain -------------------------------------------------

@test "client -> pp-send (socat) -> haproxy accept-proxy, send-proxy-v2 -> pp-strip (tcpserver)" {
	local wp hp sp
	wp=$(free_port)
	hp=$(free_port)
	sp=$(free_port)
	under tcpserver "$sp" "$PP_BIN/pp-strip" --accept-proxy=v2 --trust 127.0.0.1 -- "$T/child"
	haproxy_run hap "$hp" <<-EOF
	frontend fe
		mode tcp
		bind 127.0.0.1:$hp accept-proxy
		default_backend be
	backend be
		mode tcp
		server s1 127.0.0.1:$sp send-proxy-v2 proxy-v2-options crc32c
	EOF
	under socat "$wp" "$PP_BIN/pp-send" -1 -c "127.0.0.1:$hp"
	client "$wp"
	assert_eq "$REPLY" "got hello"
	assert_eq "$(env_of TCPREMOTEIP)" "$SRC"
	assert_eq "$(env_of TCPREMOTEPORT)" "$ME_PORT"
	assert_eq "$(env_of TCPLOCALPORT)" "$wp"
	assert_eq "$(env_of PROXY_VERSION)" 2
}
