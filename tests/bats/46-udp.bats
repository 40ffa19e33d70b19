#!/usr/bin/env bats
# pp-relay --udp and pp-balance --udp: a v2 DGRAM header on every
# datagram, sessions per client, and the real DNS peers that speak the
# protocol over UDP: unbound (proxy-protocol-port) behind the relays, and
# dnsdist (useProxyProtocol, LOCAL health checks) in front of them.
# unbound answers who.example. per client address (access-control-view),
# so every answer proves which client address reached it.

bats_require_minimum_version 1.5.0
load helpers

UDPPEER=$TEST_TOOLS/udppeer.py

setup() {
	need_cmd python3 curl
	T=$BATS_TEST_TMPDIR
}

# Built with ASan and UBSan, a report in a relay's stderr fails the test.
teardown() {
	local f bad=0
	stop_all || :
	if [ -n "${NS_UP:-}" ]; then
		sh "$PP_TOP/examples/transparent-setup.sh" down "$NS"
	fi
	for f in relay bal bal1 bal2 bal3 balance; do
		f=$BATS_TEST_TMPDIR/$f.err
		[ -f "$f" ] || continue
		if grep -E 'Sanitizer|runtime error|^==[0-9]+==' "$f" >&2; then
			echo "sanitizer report in $f" >&2
			bad=1
		fi
	done
	return "$bad"
}

# uport: a port free for both UDP and TCP (a stats listener may follow).
uport() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$(free_port) || return 1
		if [ -z "$(ss -Huan "sport = :$p" 2>/dev/null)" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_udp PORT: until a UDP socket is bound on PORT.
wait_udp() {
	wait_for 5 sh -c "ss -Huan 'sport = :$1' | grep -q ."
}

metrics() {
	curl -fsS "http://127.0.0.1:$1/metrics"
}

# metric PORT NAME: the value of one sample (NAME with its labels).
metric() {
	metrics "$1" | awk -v n="$2" '$1 == n { print $2 }'
}

# serve PORT NAME: the plain UDP peer (answers "NAME CLIENT PEER LEN").
serve() {
	start_bg "$2" python3 "$UDPPEER" serve 127.0.0.1 "$1" --name "$2"
	wait_file "$T/$2.out"
}

send() {
	timeout 20 python3 "$UDPPEER" send "$@"
}

# unbound_conf DIR PORT TAG: unbound on 127.0.0.1:PORT, PROXY v2 on every
# datagram; who.example. is 10.TAG.0.21 for client 127.0.0.21, 10.TAG.0.22
# for 127.0.0.22, 10.TAG.0.1 for anyone else; health.example. answers all.
unbound_conf() {
	mkdir -p "$1"
	cat > "$1/unbound.conf" <<-EOF
	server:
		verbosity: 1
		interface: 127.0.0.1@$2
		port: $2
		proxy-protocol-port: $2
		do-daemonize: no
		use-syslog: no
		logfile: ""
		username: ""
		chroot: ""
		directory: "$1"
		pidfile: ""
		do-ip6: no
		do-tcp: no
		num-threads: 1
		auto-trust-anchor-file: ""
		module-config: "iterator"
		access-control: 127.0.0.0/8 allow
		access-control-view: 127.0.0.21/32 v21
		access-control-view: 127.0.0.22/32 v22
		local-zone: "example." static
		local-data: "who.example. A 10.$3.0.1"
		local-data: "health.example. A 10.$3.0.99"
	view:
		name: "v21"
		local-zone: "example." static
		local-data: "who.example. A 10.$3.0.21"
	view:
		name: "v22"
		local-zone: "example." static
		local-data: "who.example. A 10.$3.0.22"
	EOF
}

# start_unbound NAME PORT TAG
start_unbound() {
	unbound_conf "$T/$1" "$2" "$3"
	unbound-checkconf "$T/$1/unbound.conf" >/dev/null
	start_bg "$1" unbound -d -c "$T/$1/unbound.conf"
	wait_udp "$2"
}

# ask SRC PORT: who.example. from SRC through 127.0.0.1:PORT.
ask() {
	timeout 10 dig @127.0.0.1 -p "$2" -b "$1" +short +tries=2 +time=2 \
		who.example A
}

@test "pp-relay --udp refuses --send-proxy=v1, --accept-proxy=v1 and UDP-only flags without --udp" {
	run -64 --separate-stderr pp-relay --udp -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--send-proxy=v1
	assert_contains "$stderr" "--send-proxy=v1 cannot carry UDP"
	run -64 --separate-stderr pp-relay --udp -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--send-proxy
	assert_contains "$stderr" "cannot carry UDP"
	run -64 --separate-stderr pp-relay --udp -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--accept-proxy=v1
	assert_contains "$stderr" "--accept-proxy=v1 cannot carry UDP"
	run -64 --separate-stderr pp-relay -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--session-timeout 5
	assert_contains "$stderr" "need --udp"
	run -64 --separate-stderr pp-balance --udp -l 127.0.0.1:1 \
		-s 127.0.0.1:2,send-proxy
	assert_contains "$stderr" "send-proxy (v1) cannot carry UDP"
	run -64 --separate-stderr pp-balance --udp -l 127.0.0.1:1 \
		-s 127.0.0.1:2,check
	assert_contains "$stderr" "needs check-send=BYTES"
	run -64 --separate-stderr pp-balance --udp -l 127.0.0.1:1 \
		-s 127.0.0.1:2,check-http=/health
	assert_contains "$stderr" "check-http is for TCP"
	run -64 --separate-stderr pp-relay --udp -l unix:/nonexistent/x \
		-c 127.0.0.1:2
	assert_contains "$stderr" "UDP needs"
	run -64 --separate-stderr pp-relay --udp -l 127.0.0.1:1 -c 127.0.0.1:2 \
		--max-conns 5
	assert_contains "$stderr" "--max-sessions"
	run -0 pp-relay --help
	assert_contains "$output" "--udp"
	assert_contains "$output" "a listener is one or the"
	run -0 pp-balance --help
	assert_contains "$output" "check-send=STR"
}

@test "pp-relay --udp --send-proxy=v2: each datagram carries a DGRAM header with the client, replies come back plain" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--send-proxy=v2 -S "127.0.0.1:$st"
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.21 --count 3 --data abc
	[ "$(nlines "$output")" -eq 3 ]
	# One session: the same client port each time, the header's source.
	assert_eq "$(printf '%s\n' "$output" | awk '{ print $1, $4 }' | sort -u)" \
		"s1 3"
	assert_eq "$(printf '%s\n' "$output" | cut -d' ' -f2 | cut -d: -f1 | sort -u)" \
		"127.0.0.21"
	assert_eq "$(printf '%s\n' "$output" | cut -d' ' -f2 | sort -u | wc -l)" 1
	assert_eq "$(metric "$st" pp_relay_udp_datagrams_in_total)" 3
	assert_eq "$(metric "$st" pp_relay_udp_datagrams_out_total)" 3
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 1
	assert_eq "$(metric "$st" pp_relay_udp_sessions_total)" 1
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.22
	assert_contains "$output" "s1 127.0.0.22:"
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 2
}

@test "pp-relay --udp --send-proxy=v2 --tlv --crc32c: the header of each datagram is UDP4 with the TLVs and a good checksum" {
	local sp lp
	sp=$(uport) lp=$(uport)
	mkdir "$T/dump"
	start_bg s1 python3 "$UDPPEER" serve 127.0.0.1 "$sp" --name s1 \
		--dump "$T/dump"
	wait_file "$T/s1.out"
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--send-proxy=v2 --tlv authority=dns.example --crc32c
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.21 --count 2 --data payload
	[ "$(nlines "$output")" -eq 2 ]
	run -0 pp-inspect -j "$T/dump/2"
	json_expect "$output" .valid true .transport dgram .family inet \
		.src.addr 127.0.0.21 .dst.addr 127.0.0.1 .dst.port "$lp" \
		.tlvs[0].name authority .tlvs[0].value dns.example .crc32c ok
	assert_eq "$(tail -c 7 "$T/dump/2")" "payload"
}

@test "pp-relay --udp on every address: replies leave from the address the client sent to, IPv4 and IPv6" {
	local sp lp
	sp=$(uport) lp=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l ":$lp" -c "127.0.0.1:$sp" \
		--send-proxy=v2
	wait_udp "$lp"
	run -0 send 127.0.0.5 "$lp" --src 127.0.0.21 --from
	assert_contains "$output" "from 127.0.0.5:$lp s1 127.0.0.21:"
	run -0 send 127.0.0.6 "$lp" --src 127.0.0.21 --from
	assert_contains "$output" "from 127.0.0.6:$lp s1 127.0.0.21:"
	run -0 send ::1 "$lp" --src ::1 --from
	assert_contains "$output" "from ::1:$lp s1 [::1]:"
}

@test "unbound behind pp-relay --udp --send-proxy=v2 answers per client address" {
	need_cmd unbound unbound-checkconf dig
	local up lp
	up=$(uport) lp=$(uport)
	start_unbound ub "$up" 1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$up" \
		--send-proxy=v2
	wait_udp "$lp"
	run -0 ask 127.0.0.21 "$lp"
	assert_eq "$output" "10.1.0.21"
	run -0 ask 127.0.0.22 "$lp"
	assert_eq "$output" "10.1.0.22"
	run -0 ask 127.0.0.23 "$lp"
	assert_eq "$output" "10.1.0.1"
	# Without a header unbound's PROXY port answers nothing.
	run ask 127.0.0.21 "$up"
	assert_not_contains "$output" "10.1.0.21"
}

@test "unbound behind pp-balance --udp: source and maglev keep each client on one server, and two balancers agree" {
	need_cmd unbound unbound-checkconf dig
	local u1 u2 b1 b2 b3 c out1 out2 out3 i
	u1=$(uport) u2=$(uport) b1=$(uport) b2=$(uport) b3=$(uport)
	start_unbound ub1 "$u1" 1
	start_unbound ub2 "$u2" 2
	start_bg bal1 pp-balance --udp -l "127.0.0.1:$b1" --balance maglev \
		-s "127.0.0.1:$u1,send-proxy-v2" -s "127.0.0.1:$u2,send-proxy-v2"
	start_bg bal2 pp-balance --udp -l "127.0.0.1:$b2" --balance maglev \
		-s "127.0.0.1:$u1,send-proxy-v2" -s "127.0.0.1:$u2,send-proxy-v2"
	start_bg bal3 pp-balance --udp -l "127.0.0.1:$b3" --balance source \
		-s "127.0.0.1:$u1,send-proxy-v2" -s "127.0.0.1:$u2,send-proxy-v2"
	wait_udp "$b1"
	wait_udp "$b2"
	wait_udp "$b3"
	for c in 21 22; do
		out1=$(ask "127.0.0.$c" "$b1")
		out2=$(ask "127.0.0.$c" "$b2")
		out3=$(ask "127.0.0.$c" "$b3")
		# 10.S.0.C: server S saw client 127.0.0.C.
		[[ $out1 =~ ^10\.[12]\.0\.$c$ ]]
		[[ $out3 =~ ^10\.[12]\.0\.$c$ ]]
		assert_eq "$out2" "$out1"
		for ((i = 0; i < 3; i++)); do
			assert_eq "$(ask "127.0.0.$c" "$b1")" "$out1"
			assert_eq "$(ask "127.0.0.$c" "$b3")" "$out3"
		done
	done
}

@test "dnsdist with useProxyProtocol in front of pp-relay --udp --accept-proxy=v2: LOCAL health checks pass, answers show the real client" {
	need_cmd unbound unbound-checkconf dig dnsdist
	local up rp dp st
	up=$(uport) rp=$(uport) dp=$(uport) st=$(uport)
	start_unbound ub "$up" 1
	start_bg relay pp-relay --udp -l "127.0.0.1:$rp" -c "127.0.0.1:$up" \
		--accept-proxy=v2 --trust 127.0.0.0/8 --send-proxy=v2 -v \
		--session-timeout 500ms -S "127.0.0.1:$st"
	wait_udp "$rp"
	cat > "$T/dnsdist.conf" <<-EOF
	setLocal("127.0.0.1:$dp")
	setSecurityPollSuffix("")
	newServer{address="127.0.0.1:$rp", useProxyProtocol=true,
	    checkName="health.example.", checkInterval=1, name="relay"}
	EOF
	dnsdist --check-config -C "$T/dnsdist.conf" >/dev/null
	start_bg dnsdist dnsdist --supervised --disable-syslog -C "$T/dnsdist.conf"
	wait_udp "$dp"
	# dnsdist's checks carry a LOCAL header: served as the peer itself.
	wait_for 10 grep -q "as 'up'" "$T/dnsdist.out"
	wait_for 5 grep -Eq 'client=127\.0\.0\.1:([0-9]+) peer=127\.0\.0\.1:\1 ' \
		"$T/relay.err"
	run -0 ask 127.0.0.21 "$dp"
	assert_eq "$output" "10.1.0.21"
	run -0 ask 127.0.0.22 "$dp"
	assert_eq "$output" "10.1.0.22"
	assert_eq "$(metric "$st" 'pp_relay_udp_datagrams_dropped_total{reason="bad-header"}')" 0
	# Two clients behind one dnsdist socket are two sessions.
	wait_for 5 grep -q 'client=127\.0\.0\.22:.* peer=127\.0\.0\.1:' \
		"$T/relay.err"
	grep -q 'client=127\.0\.0\.21:.* peer=127\.0\.0\.1:' "$T/relay.err"
}

@test "pp-relay --udp --accept-proxy=v2: an untrusted datagram is dropped, counted and never answered" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--accept-proxy=v2 --trust 127.0.0.5/32 -S "127.0.0.1:$st"
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.6 --hdr 192.0.2.1:4000 \
		--wait 0.5
	assert_eq "$output" "timeout"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.5 --hdr 192.0.2.1:4000
	assert_contains "$output" "s1 none 127.0.0.1:"
	assert_eq "$(metric "$st" 'pp_relay_udp_datagrams_dropped_total{reason="untrusted"}')" 1
	assert_eq "$(metric "$st" pp_relay_udp_datagrams_in_total)" 1
	assert_eq "$(wc -l < "$T/s1.out")" 2
}

@test "pp-relay --udp --accept-proxy=v2: a bad header drops that datagram only, the session goes on" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--accept-proxy=v2 --send-proxy=v2 -S "127.0.0.1:$st"
	wait_udp "$lp"
	# From one socket: good, no header, a broken header, good again.
	cat > "$T/seq.py" <<-EOF
	import socket, sys
	sys.path.insert(0, "$TEST_TOOLS")
	import udppeer
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 0))
	s.settimeout(0.7)
	good = udppeer.header(("198.51.100.7", 5353), ("127.0.0.1", $lp), False)
	for d in (good + b"one", b"plain", udppeer.SIG + b"\x21\x12\x00\x40x",
	          good + b"two"):
	    s.sendto(d, ("127.0.0.1", $lp))
	    try:
	        print(s.recvfrom(1000)[0].decode().strip())
	    except socket.timeout:
	        print("timeout")
	EOF
	run -0 timeout 20 python3 "$T/seq.py"
	assert_eq "$(printf '%s\n' "$output" | cut -d' ' -f1,2)" "s1 198.51.100.7:5353
timeout
timeout
s1 198.51.100.7:5353"
	assert_eq "$(metric "$st" 'pp_relay_udp_datagrams_dropped_total{reason="bad-header"}')" 2
	assert_eq "$(metric "$st" pp_relay_udp_sessions_total)" 1
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 1
}

@test "pp-relay --udp --accept-proxy=v2: a LOCAL header is served with the peer's own address" {
	local sp lp
	sp=$(uport) lp=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--accept-proxy=v2 --send-proxy=v2
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.9 --local --data check
	assert_contains "$output" "s1 127.0.0.9:"
	assert_contains "$output" " 5"
}

@test "pp-relay --udp: a session ends after --session-timeout, and the log and /metrics say so" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--session-timeout 300ms -S "127.0.0.1:$st"
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.21
	assert_contains "$output" "s1 none"
	wait_for 5 grep -q 'client=127.0.0.21:.* end=timeout' "$T/relay.err"
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 0
	assert_eq "$(metric "$st" 'pp_relay_udp_sessions_ended_total{reason="timeout"}')" 1
	run -0 grep -c 'datagrams=1/1 end=timeout' "$T/relay.err"
}

@test "pp-relay --udp --log-format json: a session's line is an object jq reads" {
	local sp lp
	sp=$(uport) lp=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--session-timeout 300ms --log-format json
	wait_udp "$lp"
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.23
	wait_for 5 grep -q '"end":"timeout"' "$T/relay.err"
	run -0 jq -r 'select(.datagrams_up != null) |
		"\(.client|split(":")[0]) \(.server) \(.datagrams_up) \(.datagrams_down) \(.end)"' \
		< <(grep '^{' "$T/relay.err")
	assert_eq "$output" "127.0.0.23 127.0.0.1:$sp 1 1 timeout"
}

@test "pp-relay --udp --max-sessions: the oldest idle session is evicted, in the log and /metrics" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--max-sessions 2 -S "127.0.0.1:$st"
	wait_udp "$lp"
	send 127.0.0.1 "$lp" --src 127.0.0.31 >/dev/null
	send 127.0.0.1 "$lp" --src 127.0.0.32 >/dev/null
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.33
	assert_contains "$output" "s1 none 127.0.0.1:"
	wait_for 5 grep -q "session table full" "$T/relay.err"
	grep -q 'client=127.0.0.31:.* end=evicted' "$T/relay.err"
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 2
	assert_eq "$(metric "$st" 'pp_relay_udp_sessions_ended_total{reason="evicted"}')" 1
}

@test "pp-relay --udp: a flood of new sources stays within --max-sessions" {
	local sp lp st i
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -q -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--max-sessions 50 -S "127.0.0.1:$st"
	wait_udp "$lp"
	timeout 30 python3 - "$lp" <<-'EOF'
	import socket, sys
	for i in range(400):
	    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	    s.bind(("127.0.%d.%d" % (1 + i // 250, 1 + i % 250), 0))
	    s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
	    s.close()
	EOF
	wait_for 10 sh -c "curl -fsS http://127.0.0.1:$st/metrics |
		grep -q '^pp_relay_udp_sessions_total 400'"
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 50
	assert_eq "$(metric "$st" 'pp_relay_udp_sessions_ended_total{reason="evicted"}')" 350
	# Sessions hold descriptors: 50 of them, not 400.
	[ "$(ls "/proc/$relay_pid/fd" | wc -l)" -lt 80 ]
}

@test "pp-relay --udp --send-proxy=v2: a datagram that would exceed 65507 bytes with its header is counted, not cut" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "127.0.0.1:$lp" -c "127.0.0.1:$sp" \
		--send-proxy=v2 -S "127.0.0.1:$st"
	wait_udp "$lp"
	# The IPv4 header is 28 bytes: 65479 + 28 = 65507 fits, one more not.
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.21 --size 65480 --wait 1
	assert_eq "$output" "timeout"
	assert_eq "$(metric "$st" 'pp_relay_udp_datagrams_dropped_total{reason="oversize"}')" 1
	run -0 send 127.0.0.1 "$lp" --src 127.0.0.21 --size 65479
	assert_contains "$output" " 65479"
	assert_eq "$(metric "$st" pp_relay_udp_datagrams_in_total)" 1
}

@test "pp-relay --udp --send-proxy=v2: an IPv6 client's header is 52 bytes, and the limit counts it" {
	local sp lp st
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -l "[::1]:$lp" -c "127.0.0.1:$sp" \
		--send-proxy=v2 -S "127.0.0.1:$st"
	wait_udp "$lp"
	# To an IPv4 server: 65507 bytes at most, 52 of them the header.
	run -0 send ::1 "$lp" --size 65456 --wait 1
	assert_eq "$output" "timeout"
	run -0 send ::1 "$lp" --size 65455
	assert_contains "$output" "s1 [::1]:"
	assert_contains "$output" " 65455"
	assert_eq "$(metric "$st" 'pp_relay_udp_datagrams_dropped_total{reason="oversize"}')" 1
}

@test "pp-balance --udp: a check sends check-send=; silence or a wrong reply is down" {
	local s1 s2 s3 lp st i
	s1=$(uport) s2=$(uport) s3=$(uport) lp=$(uport) st=$(uport)
	serve "$s1" s1
	serve "$s3" s3
	# s1 answers "s1 ...": up; s2 is silent and s3 answers "s3 ...",
	# not the expected "s1": both down.
	start_bg bal pp-balance --udp -l "127.0.0.1:$lp" \
		-i 200 --rise 1 --fall 1 \
		-s "127.0.0.1:$s1,check-send=ping,check-expect=s1" \
		-s "127.0.0.1:$s2,check-send=ping" \
		-s "127.0.0.1:$s3,check-send=ping,check-expect=s1" \
		-S "127.0.0.1:$st"
	wait_udp "$lp"
	wait_for 10 sh -c "curl -fsS http://127.0.0.1:$st/metrics |
		grep -q 'server_up{server=\"127.0.0.1:$s2\"} 0'"
	wait_for 10 sh -c "curl -fsS http://127.0.0.1:$st/metrics |
		grep -q 'server_up{server=\"127.0.0.1:$s3\"} 0'"
	assert_eq "$(metric "$st" "pp_balance_server_up{server=\"127.0.0.1:$s1\"}")" 1
	grep -q 'server 127.0.0.1:.* is down' "$T/bal.err"
	grep -q "s1 none 127.0.0.1:[0-9]* 4" "$T/s1.out"
	# (No "run" in these loops: bats's run sets a global i.)
	for ((i = 21; i < 25; i++)); do
		assert_contains "$(send 127.0.0.1 "$lp" --src "127.0.0.$i")" \
			"s1 none"
	done
}

@test "pp-relay --udp -w 2: each worker's sessions get their replies" {
	local sp lp st i
	sp=$(uport) lp=$(uport) st=$(uport)
	serve "$sp" s1
	start_bg relay pp-relay --udp -w 2 -l "127.0.0.1:$lp" \
		-c "127.0.0.1:$sp" --send-proxy=v2 -S "127.0.0.1:$st"
	wait_for 5 sh -c "[ \$(ss -Huan 'sport = :$lp' | wc -l) -eq 2 ]"
	for ((i = 40; i < 56; i++)); do
		assert_eq "$(send 127.0.0.1 "$lp" --src "127.0.0.$i" --count 2 |
			grep -c "s1 127.0.0.$i:")" 2
	done
	assert_eq "$(metric "$st" pp_relay_udp_sessions_active)" 16
}

@test "pp-relay --udp --usesrc clientip: a UDP server without PROXY support sees the client's own address (namespaces)" {
	need_root "network namespaces and IP_TRANSPARENT"
	need_cmd ip
	local sp lp out
	# client 198.18.0.2 -- 198.18.0.1 relay 198.18.1.1 -- 198.18.1.2 server
	NS=u$$n$BATS_TEST_NUMBER
	sh "$PP_TOP/examples/transparent-setup.sh" up "$NS"
	NS_UP=1
	sp=$(uport) lp=$(uport)
	start_bg server ip netns exec "${NS}s" python3 "$UDPPEER" serve \
		198.18.1.2 "$sp" --name plain
	wait_file "$T/server.out"
	start_bg relay ip netns exec "${NS}b" pp-relay --udp -v \
		-l "198.18.0.1:$lp" -c "198.18.1.2:$sp" --usesrc clientip
	wait_for 5 sh -c "ip netns exec ${NS}b ss -Huan 'sport = :$lp' | grep -q ."
	out=$(ip netns exec "${NS}c" timeout 20 python3 "$UDPPEER" send \
		198.18.0.1 "$lp" --src 198.18.0.2 --count 2)
	# No header, and the peer is the client itself, port and all.
	assert_eq "$(printf '%s\n' "$out" | cut -d' ' -f1,2 | sort -u)" "plain none"
	assert_eq "$(printf '%s\n' "$out" | cut -d' ' -f3 | cut -d: -f1 | sort -u)" \
		"198.18.0.2"
	out=$(ip netns exec "${NS}c" timeout 20 python3 "$UDPPEER" send \
		198.18.0.1 "$lp" --src 198.18.0.3)
	assert_contains "$out" "plain none 198.18.0.3:"
	kill -0 "$relay_pid"
}

@test "two hops over UDP: pp-relay --send-proxy=v2, then pp-balance --accept-proxy=v2 --usesrc clientip (namespaces)" {
	need_root "network namespaces and IP_TRANSPARENT"
	need_cmd ip
	local sp bp rp out
	NS=u$$n$BATS_TEST_NUMBER
	sh "$PP_TOP/examples/transparent-setup.sh" up "$NS"
	NS_UP=1
	sp=$(uport) bp=$(uport) rp=$(uport)
	start_bg server ip netns exec "${NS}s" python3 "$UDPPEER" serve \
		198.18.1.2 "$sp" --name plain
	wait_file "$T/server.out"
	start_bg balance ip netns exec "${NS}b" pp-balance --udp \
		-l "198.18.0.1:$bp" --accept-proxy=v2 --trust 198.18.0.2/32 \
		--balance source -s "198.18.1.2:$sp" --usesrc clientip
	# The DMZ relay stands at 198.18.0.2; the client is 198.18.0.3.
	start_bg relay ip netns exec "${NS}c" pp-relay --udp \
		-l "198.18.0.2:$rp" -c "198.18.0.1:$bp" --send-proxy=v2
	wait_for 5 sh -c "ip netns exec ${NS}b ss -Huan 'sport = :$bp' | grep -q ."
	wait_for 5 sh -c "ip netns exec ${NS}c ss -Huan 'sport = :$rp' | grep -q ."
	out=$(ip netns exec "${NS}c" timeout 20 python3 "$UDPPEER" send \
		198.18.0.2 "$rp" --src 198.18.0.3 --count 2)
	assert_eq "$(printf '%s\n' "$out" | cut -d' ' -f1,2 | sort -u)" "plain none"
	assert_eq "$(printf '%s\n' "$out" | cut -d' ' -f3 | cut -d: -f1 | sort -u)" \
		"198.18.0.3"
}

@test "pp-balance --udp --servers-file: after SIGHUP a client's session moves to the new server" {
	local s1 s2 lp
	s1=$(uport) s2=$(uport) lp=$(uport)
	serve "$s1" s1
	serve "$s2" s2
	echo "127.0.0.1:$s1" > "$T/servers"
	start_bg bal pp-balance --udp -l "127.0.0.1:$lp" -f "$T/servers"
	wait_udp "$lp"
	# One client socket all along: the first datagram, then SIGHUP, then
	# the second one (the signal is sent by the client itself, between).
	run -0 timeout 20 python3 - "$lp" "$bal_pid" "$T/servers" "$s2" <<-'EOF2'
	import os, signal, socket, sys, time
	lp, pid, path, s2 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.21", 0))
	s.settimeout(2)
	s.sendto(b"one", ("127.0.0.1", lp))
	print(s.recvfrom(100)[0].decode().split()[0])
	with open(path + ".new", "w") as f:
	    f.write("127.0.0.1:%s\n" % s2)
	os.rename(path + ".new", path)
	os.kill(pid, signal.SIGHUP)
	for _ in range(40):
	    time.sleep(0.1)
	    s.sendto(b"two", ("127.0.0.1", lp))
	    try:
	        r = s.recvfrom(100)[0].decode().split()[0]
	    except socket.timeout:
	        continue
	    if r == "s2":
	        break
	print(r)
	EOF2
	assert_eq "$output" "s1
s2"
	wait_for 5 grep -q 'client=127.0.0.21:.* end=server-down' "$T/bal.err"
}
