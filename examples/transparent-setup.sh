#!/bin/sh
# transparent-setup.sh up|down [PREFIX]: three network namespaces wired for
# transparent mode (--usesrc clientip), as HAProxy's
# "source 0.0.0.0 usesrc clientip" needs them, without iptables.
#
#   PREFIXc (client)  PREFIXb (balancer)              PREFIXs (server)
#   198.18.0.2  ---  198.18.0.1 | 198.18.1.1  ---  198.18.1.2
#   198.18.0.3       PREFIXcb/PREFIXbc  PREFIXbs/PREFIXsb
#   (a second address, e.g. for a DMZ relay in front of the balancer)
#
# pp-balance (or pp-relay) --usesrc clientip in the balancer binds its
# upstream socket to the client's address (IP_TRANSPARENT, which needs
# CAP_NET_ADMIN) and connects to the server, so the server, which knows
# nothing of the PROXY protocol, sees the client as its peer.  Two things
# make the server's replies come back to the balancer's socket:
#
# 1. the server's default route points at the balancer (198.18.1.1), so
#    packets for the client's address go there, not to the client;
# 2. on the balancer, packets from the server network that arrive on the
#    server link are delivered locally, whatever their destination:
#        ip rule add from 198.18.1.0/24 iif PREFIXbs lookup 100
#        ip route add local 0.0.0.0/0 dev lo table 100
#    and the balancer forwards between its links (ip_forward=1).
#
# On real machines the same three steps apply: the servers' gateway is the
# balancer, and the balancer gets the rule and the table (HAProxy's
# documentation adds an iptables TPROXY/socket match instead of the
# "from SERVER_NET" rule; the rule alone is enough when every packet from
# the server network arriving on that link belongs to a proxied
# connection).
#
# Run a command in a namespace with "ip netns exec PREFIXb CMD".  PREFIX
# defaults to "pp" and is at most 12 characters (interface names are
# limited to 15).  Needs root.  "down" removes everything "up" made
# (deleting a namespace deletes its links, rules and routes).
set -eu

usage() {
	echo "usage: transparent-setup.sh up|down [PREFIX]" >&2
	exit 64
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
cmd=$1
p=${2:-pp}
case $p in
*[!A-Za-z0-9_-]* | "") echo "transparent-setup.sh: bad prefix: $p" >&2; exit 64 ;;
esac
[ ${#p} -le 12 ] || { echo "transparent-setup.sh: prefix over 12 characters" >&2; exit 64; }

C=${p}c B=${p}b S=${p}s
CLIENT_NET=198.18.0.0/24 SERVER_NET=198.18.1.0/24
TABLE=100

down() {
	for ns in "$C" "$B" "$S"; do
		ip netns del "$ns" 2>/dev/null || :
	done
}

up() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "transparent-setup.sh: needs root (network namespaces)" >&2
		exit 1
	fi
	for ns in "$C" "$B" "$S"; do
		if ip netns list | grep -qw "^$ns"; then
			echo "transparent-setup.sh: namespace $ns exists" \
				"(run: transparent-setup.sh down $p)" >&2
			exit 1
		fi
	done
	trap 'down' EXIT
	for ns in "$C" "$B" "$S"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done

	# client <-> balancer
	ip link add "${p}cb" netns "$C" type veth peer name "${p}bc" netns "$B"
	ip -n "$C" addr add 198.18.0.2/24 dev "${p}cb"
	ip -n "$C" addr add 198.18.0.3/24 dev "${p}cb"
	ip -n "$B" addr add 198.18.0.1/24 dev "${p}bc"
	ip -n "$C" link set "${p}cb" up
	ip -n "$B" link set "${p}bc" up
	ip -n "$C" route add default via 198.18.0.1

	# balancer <-> server
	ip link add "${p}bs" netns "$B" type veth peer name "${p}sb" netns "$S"
	ip -n "$B" addr add 198.18.1.1/24 dev "${p}bs"
	ip -n "$S" addr add 198.18.1.2/24 dev "${p}sb"
	ip -n "$B" link set "${p}bs" up
	ip -n "$S" link set "${p}sb" up
	# 1. The server answers every address through the balancer.
	ip -n "$S" route add default via 198.18.1.1

	# 2. The balancer takes the server's replies to clients for itself.
	ip -n "$B" rule add from "$SERVER_NET" iif "${p}bs" lookup "$TABLE"
	ip -n "$B" route add local 0.0.0.0/0 dev lo table "$TABLE"
	ip netns exec "$B" sysctl -qw net.ipv4.ip_forward=1
	# Replies arrive with a destination that is not one of the
	# balancer's addresses: no reverse-path filtering on its links.
	ip netns exec "$B" sysctl -qw net.ipv4.conf.all.rp_filter=0
	ip netns exec "$B" sysctl -qw "net.ipv4.conf.${p}bs.rp_filter=0"
	trap - EXIT

	cat <<EOF
namespaces: client $C (198.18.0.2, 198.18.0.3), balancer $B (198.18.0.1, 198.18.1.1), server $S (198.18.1.2)
client net $CLIENT_NET, server net $SERVER_NET, policy table $TABLE
EOF
}

case $cmd in
up) up ;;
down) down ;;
*) usage ;;
esac
