#!/usr/bin/env bats
# Transparent source (--usesrc clientip) end to end in network namespaces
# made by examples/transparent-setup.sh: a client namespace, a balancer
# namespace and a server namespace joined by veth links, with the policy
# routing the mode needs.  The server is plain socat with no PROXY
# support: it answers with the peer address the kernel gave it, which must
# be the client's own namespace address, not the balancer's.
#
#   client 198.18.0.2, 198.18.0.3 -- 198.18.0.1 balancer 198.18.1.1 -- 198.18.1.2 server

bats_require_minimum_version 1.5.0
load helpers

SETUP=$PP_TOP/examples/transparent-setup.sh

setup() {
	need_root "network namespaces and IP_TRANSPARENT"
	need_cmd ip socat
	# Named after this test's process, so parallel runs never collide.
	NS=t$$n$BATS_TEST_NUMBER
	NS_UP=
	run --separate-stderr sh "$SETUP" up "$NS"
	if [ "$status" -ne 0 ]; then
		sh "$SETUP" down "$NS"
		echo "transparent-setup.sh up failed: $stderr" >&2
		return 1
	fi
	NS_UP=1
	SPORT=$(free_port) BPORT=$(free_port) RPORT=$(free_port)
}

teardown() {
	stop_all || :
	if [ -n "${NS_UP:-}" ]; then
		sh "$SETUP" down "$NS"
	fi
}

# ns_wait NS HOST PORT: until something listens there, inside NS.
ns_wait() {
	local i
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null &&
			return 0
		sleep 0.05
	done
	echo "ns_wait: nothing listens on $2:$3 in $1 after 5s" >&2
	return 1
}

# The plain server: it tells each client the peer address it sees.
start_plain_server() {
	start_bg server ip netns exec "${NS}s" socat \
		"TCP-LISTEN:$SPORT,bind=198.18.1.2,reuseaddr,fork" \
		SYSTEM:'read -r line; echo "peer $SOCAT_PEERADDR said $line"'
	ns_wait "${NS}s" 198.18.1.2 "$SPORT"
}

# ask SRC HOST PORT: one line from the client namespace, bound to SRC.
ask() {
	echo hello | ip netns exec "${NS}c" timeout 10 \
		socat -t 5 -T 8 - "TCP:$2:$3,bind=$1"
}

@test "transparent-setup.sh up makes the three namespaces, down removes them" {
	run ip netns list
	assert_contains "$output" "${NS}c"
	assert_contains "$output" "${NS}b"
	assert_contains "$output" "${NS}s"
	run ip -n "${NS}b" rule show
	assert_contains "$output" "from 198.18.1.0/24 iif ${NS}bs lookup 100"
	run ip -n "${NS}b" route show table 100
	assert_contains "$output" "local default dev lo"
	run ip -n "${NS}s" route show default
	assert_contains "$output" "default via 198.18.1.1"
	run ip netns exec "${NS}b" sysctl -n net.ipv4.ip_forward
	assert_eq "$output" 1
	# Both links carry TCP to the balancer.
	start_bg listener ip netns exec "${NS}b" socat \
		"TCP-LISTEN:$BPORT,reuseaddr,fork" \
		SYSTEM:'read -r line; echo "balancer sees $SOCAT_PEERADDR"'
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	run --separate-stderr ask 198.18.0.2 198.18.0.1 "$BPORT"
	assert_eq "$output" "balancer sees 198.18.0.2"
	run --separate-stderr bash -c "echo hi | ip netns exec ${NS}s \
		timeout 10 socat -t 5 - TCP:198.18.1.1:$BPORT"
	assert_eq "$output" "balancer sees 198.18.1.2"
	stop_all || :
	sh "$SETUP" down "$NS"
	NS_UP=
	run ip netns list
	assert_not_contains "$output" "${NS}b"
}

@test "the namespaces carry HAProxy's source 0.0.0.0 usesrc clientip (reference)" {
	need_cmd haproxy
	start_plain_server
	cat > "$BATS_TEST_TMPDIR/haproxy.cfg" <<-EOF
	defaults
		mode tcp
		timeout connect 3s
		timeout client 10s
		timeout server 10s
	frontend f
		bind 198.18.0.1:$BPORT
		default_backend b
	backend b
		source 0.0.0.0 usesrc clientip
		server s1 198.18.1.2:$SPORT
	EOF
	start_bg haproxy ip netns exec "${NS}b" haproxy -db \
		-f "$BATS_TEST_TMPDIR/haproxy.cfg"
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	run --separate-stderr ask 198.18.0.3 198.18.0.1 "$BPORT"
	assert_eq "$output" "peer 198.18.0.3 said hello"
}

@test "pp-balance --usesrc clientip: a server without PROXY support sees the client's address" {
	need_tool pp-balance
	start_plain_server
	start_bg balance ip netns exec "${NS}b" pp-balance \
		-l "198.18.0.1:$BPORT" -s "198.18.1.2:$SPORT" --usesrc clientip
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	run --separate-stderr ask 198.18.0.2 198.18.0.1 "$BPORT"
	[ "$status" -eq 0 ]
	assert_eq "$output" "peer 198.18.0.2 said hello"
	run --separate-stderr ask 198.18.0.3 198.18.0.1 "$BPORT"
	assert_eq "$output" "peer 198.18.0.3 said hello"
	kill -0 "$balance_pid"
}

@test "pp-balance --usesrc clientip -u nobody keeps only CAP_NET_ADMIN and CAP_NET_RAW" {
	need_tool pp-balance
	start_plain_server
	start_bg balance ip netns exec "${NS}b" pp-balance \
		-l "198.18.0.1:$BPORT" -s "198.18.1.2:$SPORT" --usesrc clientip \
		-u nobody
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	run --separate-stderr ask 198.18.0.2 198.18.0.1 "$BPORT"
	assert_eq "$output" "peer 198.18.0.2 said hello"
	# ip netns exec runs pp-balance in its own process (exec), same pid.
	run -0 awk '/^Uid:/ { print $2 } /^CapEff:/ { print $2 }' \
		"/proc/$balance_pid/status"
	assert_eq "$output" "$(id -u nobody)
0000000000003000"
}

@test "pp-relay --usesrc clientip: a server without PROXY support sees the client's address" {
	need_tool pp-relay
	start_plain_server
	start_bg relay ip netns exec "${NS}b" pp-relay \
		-l "198.18.0.1:$BPORT" -c "198.18.1.2:$SPORT" --usesrc clientip
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	run --separate-stderr ask 198.18.0.3 198.18.0.1 "$BPORT"
	[ "$status" -eq 0 ]
	assert_eq "$output" "peer 198.18.0.3 said hello"
}

@test "two hops: pp-relay --send-proxy=v2 then pp-balance --accept-proxy --usesrc clientip; the server sees the client, not the relay" {
	need_tool pp-relay
	need_tool pp-balance
	start_plain_server
	# The balancer trusts the relay's header and binds the address in it.
	start_bg balance ip netns exec "${NS}b" pp-balance \
		-l "198.18.0.1:$BPORT" --accept-proxy=v2 --trust 198.18.0.2/32 \
		--balance source -s "198.18.1.2:$SPORT,check" --usesrc clientip
	ns_wait "${NS}b" 198.18.0.1 "$BPORT"
	# The DMZ relay stands on the client network at 198.18.0.2 (its
	# upstream connection leaves from that address); the client is
	# 198.18.0.3.
	start_bg relay ip netns exec "${NS}c" pp-relay \
		-l "198.18.0.2:$RPORT" -c "198.18.0.1:$BPORT" --send-proxy=v2
	ns_wait "${NS}c" 198.18.0.2 "$RPORT"
	run --separate-stderr ask 198.18.0.3 198.18.0.2 "$RPORT"
	[ "$status" -eq 0 ]
	assert_eq "$output" "peer 198.18.0.3 said hello"
	# A header from a sender outside --trust gets nothing through.
	run --separate-stderr bash -c "{ timeout 5 pp-send -2 -n \
		-s 198.18.0.3:4000 -d 198.18.0.1:$BPORT; echo hello; } |
		ip netns exec ${NS}c timeout 10 socat -t 3 - \
		TCP:198.18.0.1:$BPORT,bind=198.18.0.3"
	assert_not_contains "$output" "peer"
}
