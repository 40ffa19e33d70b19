/*
 * relay_health.c - TCP health checks with interval, rise and fall (UDP
 * ones, a payload and any reply, are in relay_udp.c).
 *
 * A check is a non-blocking connect.  A server that is sent the PROXY
 * protocol expects a header on every connection, checks included: a v2
 * server gets a LOCAL header, as HAProxy sends; v1 has no LOCAL, so a v1
 * server gets a real TCP4/TCP6 line with the check socket's own endpoints.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

/* Start a check: 0 in flight (s->chk_fd set), -1 failed at once. */
int
relay_check_start(struct relay_server *s, int64_t now, int timeout_ms)
{
	int fd;

	if (s->udp)
		return relay_udp_check_start(s, now, timeout_ms);
	fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&s->addr, pp_addr_len(&s->addr))
	    == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	s->chk_fd = fd;
	s->chk_deadline = now + timeout_ms;
	return 0;
}

/* Abortive close: a check leaves no TIME_WAIT behind on either side. */
static void
rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void
relay_check_abort(struct relay_server *s)
{
	if (s->chk_fd != -1)
		rst_close(s->chk_fd);
	s->chk_fd = -1;
}

/* The socket became writable (or failed): 1 the server is up, 0 not. */
int
relay_check_finish(struct relay_server *s)
{
	struct pp_header h;
	uint8_t buf[PP_V1_MAX + 1];
	socklen_t len = sizeof(int);
	int e = 0, n = 0, fd = s->chk_fd;

	if (s->udp)
		return relay_udp_check_finish(s);
	s->chk_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 || e != 0) {
		close(fd);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	h.transport = PP_V2_TRANS_STREAM;
	if (s->send_proxy == 2) {
		h.command = PP_V2_CMD_LOCAL;
		n = pp_build_v2(buf, sizeof(buf), &h, NULL, 0, 0);
	} else if (s->send_proxy == 1) {
		h.command = PP_V2_CMD_PROXY;
		len = sizeof(h.src);
		if (getsockname(fd, (struct sockaddr *)&h.src, &len) == -1)
			n = -1;
		len = sizeof(h.dst);
		if (n == 0 && getpeername(fd, (struct sockaddr *)&h.dst,
		    &len) == -1)
			n = -1;
		if (n == 0)
			n = pp_build_v1(buf, sizeof(buf), &h);
	}
	if (n < 0 || (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)) {
		close(fd);
		return 0;
	}
	if (n > 0)
		close(fd);	/* the header must arrive: an orderly close */
	else
		rst_close(fd);
	return 1;
}
