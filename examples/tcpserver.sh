#!/bin/sh
# pp-strip under tcpserver (ucspi-tcp).  tcpserver accepts, forks and runs
# pp-strip with the connection on fds 0 and 1; pp-strip reads the PROXY
# header and replaces tcpserver's TCPREMOTEIP/TCPREMOTEPORT (the previous
# hop) with the client's, so a UCSPI program written for tcpserver works
# unchanged behind a proxy.
#
# -RHl0 skips the DNS and ident look-ups; -c is the connection limit.

exec tcpserver -q -RHl0 -c 200 127.0.0.1 2526 \
	/usr/local/bin/pp-strip -T 5 --trust 127.0.0.0/8 -- \
	/usr/local/libexec/whoami
