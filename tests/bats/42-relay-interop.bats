#!/usr/bin/env bats
# pp-relay and pp-balance with real peers: HAProxy in front of pp-balance
# and behind pp-relay, nginx as a pp-balance server.

bats_require_minimum_version 1.5.0
load helpers

setup() {
	need_cmd socat python3 curl
}

@test "HAProxy send-proxy-v2 with TLVs in front of pp-balance: the client and TLVs reach the server" {
	need_cmd haproxy
	capture_server
	balance b --accept-proxy=v2 --trust 127.0.0.1 --pass-tlvs \
		-s "127.0.0.1:$SPORT,send-proxy-v2"
	settled b
	cat > "$BATS_TEST_TMPDIR/h.tmpl" <<-EOF
	global
	    maxconn 200
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 10s
	    timeout server 10s
	frontend fe
	    bind 127.0.0.1:@PORT@
	    unique-id-format id-%ci-%cp
	    default_backend be
	backend be
	    server b1 127.0.0.1:$BPORT send-proxy-v2 proxy-v2-options crc32c,unique-id
	EOF
	start_on_port --file "$BATS_TEST_TMPDIR/h.tmpl" "$BATS_TEST_TMPDIR/h.conf" \
		HPORT h haproxy -db -f "$BATS_TEST_TMPDIR/h.conf"
	# HAProxy may or may not pass the port probe on: let it settle.
	wait_for 2 grep -q 'end=done' "$BATS_TEST_TMPDIR/b.err" || true
	: > "$BATS_TEST_TMPDIR/cap"
	printf 'hello' | socat -t 2 - "TCP:127.0.0.1:$HPORT,bind=127.0.0.81"
	wait_for 5 grep -q hello "$BATS_TEST_TMPDIR/cap"
	run -0 pp-inspect -j "$BATS_TEST_TMPDIR/cap"
	assert_eq "$(json_get "$output" .version)" "2"
	assert_eq "$(json_get "$output" .src.addr)" "127.0.0.81"
	assert_eq "$(json_get "$output" .crc32c)" "ok"
	assert_contains "$output" '"name":"unique-id"'
	assert_contains "$output" '"value":"id-127.0.0.81-'
	grep -q 'client=127.0.0.81:[0-9]* peer=127.0.0.1:' "$BATS_TEST_TMPDIR/b.err"
}

# haproxy_says_client FORMAT: HAProxy on $HPORT, accept-proxy, answering
# every HTTP request with FORMAT (its log-format, e.g. %ci for the client).
haproxy_says_client() {
	need_cmd haproxy
	cat > "$BATS_TEST_TMPDIR/h.tmpl" <<-EOF
	global
	    maxconn 200
	defaults
	    mode http
	    timeout connect 5s
	    timeout client 10s
	    timeout server 10s
	frontend fe
	    bind 127.0.0.1:@PORT@ accept-proxy
	    http-request return status 200 content-type text/plain lf-string "$1\\n"
	EOF
	start_on_port --file "$BATS_TEST_TMPDIR/h.tmpl" "$BATS_TEST_TMPDIR/h.conf" \
		HPORT h haproxy -db -f "$BATS_TEST_TMPDIR/h.conf"
}

@test "HAProxy accept-proxy behind pp-relay sees the client (v1 and v2)" {
	haproxy_says_client '%ci:%cp'
	local v
	for v in v1 v2; do
		start_on_port RPORT "r$v" pp-relay -l "127.0.0.1:@PORT@" \
			-c "127.0.0.1:$HPORT" "--send-proxy=$v"
		run -0 curl -fsS --interface 127.0.0.82 "http://127.0.0.1:$RPORT/"
		[[ "$output" =~ ^127\.0\.0\.82:[0-9]+$ ]]
		grep -q "client=127.0.0.82:${output#*:} " \
			"$BATS_TEST_TMPDIR/r$v.err" ||
			wait_for 5 grep -q "client=127.0.0.82:${output#*:} " \
			"$BATS_TEST_TMPDIR/r$v.err"
	done
}

@test "HAProxy behind the whole chain: pp-relay -> pp-balance -> HAProxy" {
	haproxy_says_client '%ci'
	balance b --accept-proxy --balance source -s "127.0.0.1:$HPORT,send-proxy"
	start_on_port RPORT r pp-relay -l "127.0.0.1:@PORT@" \
		-c "127.0.0.1:$BPORT" --send-proxy=v2
	run -0 curl -fsS --interface 127.0.0.83 "http://127.0.0.1:$RPORT/"
	assert_eq "$output" "127.0.0.83"
}

@test "nginx with proxy_protocol as a pp-balance server (v1 and v2)" {
	need_cmd nginx
	[ "$(id -u)" -eq 0 ] || skip "nginx writes its pid and logs as root"
	cat > "$BATS_TEST_TMPDIR/n.tmpl" <<-'EOF'
	worker_processes 1;
	pid @DIR@/nginx.pid;
	error_log @DIR@/nginx-error.log;
	events { worker_connections 64; }
	http {
	    access_log @DIR@/nginx-access.log;
	    client_body_temp_path @DIR@/t1;
	    proxy_temp_path @DIR@/t2;
	    fastcgi_temp_path @DIR@/t3;
	    uwsgi_temp_path @DIR@/t4;
	    scgi_temp_path @DIR@/t5;
	    server {
	        listen 127.0.0.1:@PORT@ proxy_protocol;
	        return 200 "$proxy_protocol_addr\n";
	    }
	}
	EOF
	start_on_port --file "$BATS_TEST_TMPDIR/n.tmpl" "$BATS_TEST_TMPDIR/n.conf" \
		NPORT n nginx -p "$BATS_TEST_TMPDIR" -c "$BATS_TEST_TMPDIR/n.conf" \
		-g 'daemon off;'
	start_on_port B1 b1 pp-balance -l "127.0.0.1:@PORT@" \
		-s "127.0.0.1:$NPORT,send-proxy"
	start_on_port B2 b2 pp-balance -l "127.0.0.1:@PORT@" \
		-s "127.0.0.1:$NPORT,send-proxy-v2"
	run -0 curl -fsS --interface 127.0.0.84 "http://127.0.0.1:$B1/"
	assert_eq "$output" "127.0.0.84"
	run -0 curl -fsS --interface 127.0.0.85 "http://127.0.0.1:$B2/"
	assert_eq "$output" "127.0.0.85"
}
