#!/usr/bin/env bats
# Every configuration in examples/ runs here as a user would run it: the
# file is copied with this build's paths and free ports (sed), the real
# peer (socat, tcpserver, inetd, xinetd, systemd-socket-activate, haproxy,
# nginx) starts in the foreground, and a client with its own 127.x source
# address checks that the program at the end was told that address.

bats_require_minimum_version 1.5.0
load helpers

EX=$PP_TOP/examples

# ex_copy FILE OUT [OLDPORT=NEWPORT ...]: an example with this build's
# paths (the tools in PP_BIN, examples/whoami as the program), the user
# that runs the test in place of nobody, and the ports replaced.
ex_copy() {
	local src=$1 out=$2 m
	local args=(-e "s|/usr/local/bin/|$PP_BIN/|g"
		-e "s|/usr/local/libexec/whoami|$EX/whoami|g"
		-e "s/\\bnobody\\b/$(id -un)/g")
	shift 2
	for m in "$@"; do
		args+=(-e "s/\\b${m%%=*}\\b/${m#*=}/g")
	done
	sed "${args[@]}" "$src" > "$out"
}

# ask PORT SRC [REQUEST]: one request line from the source address SRC
# and the port $cport (set it first with src_port); the answer on stdout.
ask() {
	printf '%s\n' "${3:-hi}" |
		timeout 10 socat -t 5 -T 8 - "TCP:127.0.0.1:$1,bind=$2:$cport"
}

# src_port ADDR: a free port on ADDR for the client, in $cport.
src_port() {
	cport=$(free_port)
}

# The socat server of socat-server.sh on a free port, in $srv_port.
start_socat_server() {
	srv_port=$(free_port)
	ex_copy "$EX/socat-server.sh" "$BATS_TEST_TMPDIR/server.sh" \
		2525="$srv_port"
	start_bg server sh "$BATS_TEST_TMPDIR/server.sh"
	wait_port 127.0.0.1 "$srv_port"
}

# The socat sender of socat-client.sh on a free port ($fwd_port), sending
# to UPSTREAM_PORT.
start_socat_client() {
	fwd_port=$(free_port)
	ex_copy "$EX/socat-client.sh" "$BATS_TEST_TMPDIR/client.sh" \
		8080="$fwd_port" 2525="$1"
	start_bg client sh "$BATS_TEST_TMPDIR/client.sh"
	wait_port 127.0.0.1 "$fwd_port"
}

@test "examples/whoami answers with the environment pp-strip gives it" {
	run --separate-stderr env -i TCPREMOTEIP=198.18.7.7 TCPREMOTEPORT=4000 \
		PROXY_VERSION=2 PROXY_PEERIP=127.0.0.1 PROXY_PEERPORT=5 \
		PROXY_TLV_UNIQUE_ID=abc sh "$EX/whoami" s1 <<< "hello"
	[ "$status" -eq 0 ]
	assert_eq "$output" \
		"s1: you are 198.18.7.7:4000 (header v2 from 127.0.0.1:5 unique-id=abc) said: hello"
	assert_empty "$stderr"
}

@test "socat-server.sh: pp-strip under socat hands the header's address to the program" {
	need_cmd socat
	start_socat_server
	# A v1 header written by pp-send in filter mode, then the request.
	run --separate-stderr bash -c "{ timeout 5 pp-send -n \
		-s 198.18.7.7:4000 -d 127.0.0.1:$srv_port; printf 'hi\n'; } |
		timeout 10 socat -t 5 - TCP:127.0.0.1:$srv_port,bind=127.0.0.20"
	[ "$status" -eq 0 ]
	assert_eq "$output" \
		"whoami: you are 198.18.7.7:4000 (header v1 from 127.0.0.20:${output##*127.0.0.20:}"
	assert_contains "$output" "said: hi"
}

@test "socat-client.sh to socat-server.sh: the program sees the client's own address and the AUTHORITY TLV" {
	need_cmd socat
	start_socat_server
	start_socat_client "$srv_port"
	src_port 127.0.0.21
	run --separate-stderr ask "$fwd_port" 127.0.0.21 hello
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.21:$cport (header v2 from 127.0.0.1:"
	assert_contains "$output" "authority=app.example) said: hello"
}

@test "tcpserver.sh: pp-strip under tcpserver replaces TCPREMOTEIP with the client's" {
	need_cmd socat tcpserver
	local port
	port=$(free_port)
	ex_copy "$EX/tcpserver.sh" "$BATS_TEST_TMPDIR/tcpserver.sh" 2526="$port"
	start_bg tcpserver sh "$BATS_TEST_TMPDIR/tcpserver.sh"
	wait_port 127.0.0.1 "$port"
	start_socat_client "$port"
	src_port 127.0.0.22
	run --separate-stderr ask "$fwd_port" 127.0.0.22
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.22:$cport (header v2 from 127.0.0.1:"
}

@test "inetd.conf: openbsd-inetd runs pp-send -c in front of pp-strip" {
	need_cmd socat inetd
	local p1 p2 p3
	p1=$(free_port) p2=$(free_port) p3=$(free_port)
	ex_copy "$EX/inetd.conf" "$BATS_TEST_TMPDIR/inetd.conf" \
		2527="$p1" 8081="$p2" 8082="$p3"
	start_bg inetd inetd -d "$BATS_TEST_TMPDIR/inetd.conf"
	wait_port 127.0.0.1 "$p1"
	wait_port 127.0.0.1 "$p2"
	# Client -> inetd:p2 (pp-send -2 -c) -> inetd:p1 (pp-strip) -> whoami.
	src_port 127.0.0.23
	run --separate-stderr ask "$p2" 127.0.0.23
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.23:$cport (header v2 from 127.0.0.1:"
	assert_contains "$output" "said: hi"
}

@test "inetd.conf: pp-relay -l - takes the listening socket from inetd (wait) and serves every connection" {
	need_cmd socat inetd
	need_tool pp-relay
	local p1 p2 p3 n
	p1=$(free_port) p2=$(free_port) p3=$(free_port)
	ex_copy "$EX/inetd.conf" "$BATS_TEST_TMPDIR/inetd.conf" \
		2527="$p1" 8081="$p2" 8082="$p3"
	grep -q "	wait	.*pp-relay -l - " "$BATS_TEST_TMPDIR/inetd.conf"
	start_bg inetd inetd -d "$BATS_TEST_TMPDIR/inetd.conf"
	wait_port 127.0.0.1 "$p3"
	# Client -> pp-relay (inetd's socket) -> inetd:p1 (pp-strip) -> whoami,
	# three times: one pp-relay, started once, serves them all.
	for n in 31 32 33; do
		src_port 127.0.0.$n
		run --separate-stderr ask "$p3" "127.0.0.$n"
		[ "$status" -eq 0 ]
		assert_contains "$output" "whoami: you are 127.0.0.$n:$cport (header v2 from 127.0.0.1:"
	done
	[ "$(grep -c "execv .*pp-relay" "$BATS_TEST_TMPDIR/inetd.err")" -eq 1 ]
}

@test "xinetd.conf: xinetd runs pp-strip behind a sender" {
	need_cmd socat
	local xinetd port
	# Not installable beside openbsd-inetd: fetched and unpacked instead.
	xinetd=$(sh "$PP_TOP/tests/tools/fetch-xinetd.sh" "$PP_BIN/../cache") ||
		strict_skip "no xinetd binary (see the message above)"
	port=$(free_port)
	ex_copy "$EX/xinetd.conf" "$BATS_TEST_TMPDIR/xinetd.conf" 2528="$port"
	start_bg xinetd "$xinetd" -dontfork -f "$BATS_TEST_TMPDIR/xinetd.conf" \
		-pidfile "$BATS_TEST_TMPDIR/xinetd.pid"
	wait_port 127.0.0.1 "$port"
	start_socat_client "$port"
	src_port 127.0.0.24
	run --separate-stderr ask "$fwd_port" 127.0.0.24
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.24:$cport (header v2 from 127.0.0.1:"
}

@test "systemd pp-whoami.socket (Accept=yes): pp-strip started per connection by socket activation" {
	need_cmd socat systemd-socket-activate
	local port cmd
	port=$(free_port)
	ex_copy "$EX/systemd/pp-whoami.socket" "$BATS_TEST_TMPDIR/s.socket" \
		2529="$port"
	ex_copy "$EX/systemd/pp-whoami@.service" "$BATS_TEST_TMPDIR/s.service"
	grep -qx 'Accept=yes' "$BATS_TEST_TMPDIR/s.socket"
	cmd=$(sed -n 's/^ExecStart=//p' "$BATS_TEST_TMPDIR/s.service")
	port=$(sed -n 's/^ListenStream=//p' "$BATS_TEST_TMPDIR/s.socket")
	# --inetd -a: accept, then the connection as stdin/stdout, as
	# Accept=yes with StandardInput=socket does.
	# shellcheck disable=SC2086
	start_bg activate systemd-socket-activate -l "$port" --inetd -a $cmd
	wait_port 127.0.0.1 "${port##*:}"
	start_socat_client "${port##*:}"
	src_port 127.0.0.25
	run --separate-stderr ask "$fwd_port" 127.0.0.25
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.25:$cport (header v2 from 127.0.0.1:"
}

@test "systemd pp-relay.socket (Accept=no): pp-relay takes its socket from LISTEN_FDS" {
	need_cmd socat systemd-socket-activate
	need_tool pp-relay
	local port cmd
	start_socat_server
	port=$(free_port)
	ex_copy "$EX/systemd/pp-relay.socket" "$BATS_TEST_TMPDIR/r.socket" \
		8443="$port"
	ex_copy "$EX/systemd/pp-relay.service" "$BATS_TEST_TMPDIR/r.service" \
		2525="$srv_port"
	grep -qx 'Accept=no' "$BATS_TEST_TMPDIR/r.socket"
	cmd=$(sed -n 's/^ExecStart=//p' "$BATS_TEST_TMPDIR/r.service")
	assert_not_contains "$cmd" " -l "
	port=$(sed -n 's/^ListenStream=//p' "$BATS_TEST_TMPDIR/r.socket")
	# shellcheck disable=SC2086
	start_bg activate systemd-socket-activate -l "$port" $cmd
	wait_port 127.0.0.1 "${port##*:}"
	src_port 127.0.0.28
	run --separate-stderr ask "${port##*:}" 127.0.0.28
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.28:$cport (header v2 from 127.0.0.1:"
	assert_contains "$output" "authority=app.example"
	# The same process serves the next one.
	src_port 127.0.0.29
	run --separate-stderr ask "${port##*:}" 127.0.0.29
	assert_contains "$output" "whoami: you are 127.0.0.29:$cport (header v2"
	kill -0 "$activate_pid"
}

@test "haproxy.cfg: HAProxy send-proxy-v2 with crc32c and unique-id to pp-strip" {
	need_cmd socat haproxy
	local port
	start_socat_server
	port=$(free_port)
	ex_copy "$EX/haproxy.cfg" "$BATS_TEST_TMPDIR/haproxy.cfg" \
		8000="$port" 2525="$srv_port"
	start_bg haproxy haproxy -db -f "$BATS_TEST_TMPDIR/haproxy.cfg"
	wait_port 127.0.0.1 "$port"
	src_port 127.0.0.26
	src_port 127.0.0.26
	run --separate-stderr ask "$port" 127.0.0.26
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.26:$cport (header v2 from 127.0.0.1:"
	# The unique id HAProxy built from its unique-id-format (hex client
	# address first: 7F00001A is 127.0.0.26).
	assert_contains "$output" "unique-id=7F00001A:"
	assert_contains "$output" "said: hi"
}

@test "nginx.conf: nginx stream proxy_protocol on to pp-strip" {
	need_cmd socat nginx
	local port dir=$BATS_TEST_TMPDIR/nginx
	[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] ||
		strict_skip "nginx's stream module is not installed (libnginx-mod-stream)"
	start_socat_server
	port=$(free_port)
	mkdir -p "$dir"
	ex_copy "$EX/nginx.conf" "$dir/nginx.conf" 8001="$port" 2525="$srv_port"
	start_bg nginx nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" \
		-g "daemon off; pid $dir/nginx.pid;"
	wait_port 127.0.0.1 "$port"
	src_port 127.0.0.27
	src_port 127.0.0.27
	run --separate-stderr ask "$port" 127.0.0.27
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.27:$cport (header v1 from 127.0.0.1:"
}

@test "haproxy.cfg towards pp-balance --accept-proxy: HAProxy -> pp-balance -> pp-strip keeps the client's address" {
	need_cmd socat haproxy
	need_tool pp-balance
	local port bport
	start_socat_server
	bport=$(free_port) port=$(free_port)
	# The same server line, now aimed at a balancer that trusts HAProxy
	# and passes the address on to its servers with a v1 header.
	start_bg balance pp-balance -l "127.0.0.1:$bport" --accept-proxy=v2 \
		--trust 127.0.0.1/32 --balance source \
		-s "127.0.0.1:$srv_port,send-proxy"
	wait_port 127.0.0.1 "$bport"
	ex_copy "$EX/haproxy.cfg" "$BATS_TEST_TMPDIR/haproxy.cfg" \
		8000="$port" 2525="$bport"
	start_bg haproxy haproxy -db -f "$BATS_TEST_TMPDIR/haproxy.cfg"
	wait_port 127.0.0.1 "$port"
	src_port 127.0.0.30
	run --separate-stderr ask "$port" 127.0.0.30
	[ "$status" -eq 0 ]
	assert_contains "$output" "whoami: you are 127.0.0.30:$cport (header v1 from 127.0.0.1:"
}
