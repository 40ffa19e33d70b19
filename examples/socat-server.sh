#!/bin/sh
# A PROXY protocol server made of socat and pp-strip.
#
# socat accepts each connection and runs pp-strip on it; pp-strip reads
# exactly the PROXY header (v1 or v2) that the hop in front wrote (HAProxy
# with send-proxy, pp-balance, nginx with proxy_protocol on, pp-send -c),
# puts the client's address in the environment (TCPREMOTEIP,
# TCPREMOTEPORT, PROXY_*) and execs the program, which reads the client's
# first byte first.  The program here is examples/whoami; put yours there.
#
# Inside socat's EXEC:"..." a ':' or ',' in an argument is written '\:'
# and '\,' (socat reads them otherwise).  Only the hop in front may send a
# header: --trust names it, everyone else is refused.

exec socat TCP-LISTEN:2525,bind=127.0.0.1,reuseaddr,fork,backlog=128 \
	EXEC:'/usr/local/bin/pp-strip -T 5 --trust 127.0.0.0/8 -- /usr/local/libexec/whoami'
