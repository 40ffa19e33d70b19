#!/bin/sh
# The sending side with socat and pp-send -c: a local port that forwards
# each connection to a PROXY-aware server (HAProxy with accept-proxy,
# nginx with proxy_protocol, pp-balance --accept-proxy, socat-server.sh),
# writing a v2 header with the client's address first.
#
# socat runs pp-send -c per connection and tells it the client's address
# in SOCAT_PEERADDR and SOCAT_PEERPORT; pp-send connects upstream, sends
# the header, then relays both ways, passing half-closes on.  Note the
# '\:' in the upstream address: socat would split on a bare ':'.

exec socat TCP-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork,backlog=128 \
	EXEC:'/usr/local/bin/pp-send -2 --authority app.example -c 127.0.0.1\:2525'
