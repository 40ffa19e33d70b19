/*
 * relay_health.c - health checks with interval, rise and fall: one
 * check's socket (relay_check_*): a TCP connect, and optionally a request
 * and the reply expected to it (check-send/check-expect, or
 * check-http/check-status); and the worker's schedule of checks and what
 * their results change (health_*).  Only worker 0 checks; it publishes
 * up/down in the shared mapping and the other workers follow.  Must not
 * touch a client connection.
 *
 * A check is a non-blocking connect, then at most one send and a few
 * reads, all driven by the worker's epoll loop (edge-triggered: each edge
 * reads until EAGAIN).  A check that reads a reply holds a small buffer
 * (RELAY_CHKBUF) only while it is in flight.  A server that is sent the
 * PROXY protocol expects a header on every connection, checks included:
 * a v2 server gets a LOCAL header, as HAProxy sends; v1 has no LOCAL, so
 * a v1 server gets a real TCP4/TCP6 line with the check socket's own
 * endpoints.  The header and the request leave in one send.
 * A UDP check (relay_udp.c) sends the --check-send payload, after a LOCAL
 * header for a v2 server, and passes on any reply.
 */
#include <sys/epoll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

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
	if (connect(fd, (struct sockaddr *)&s->addr, net_addr_len(&s->addr))
	    == -1 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	s->chk_fd = fd;
	s->chk_deadline = now + timeout_ms;
	return 0;
}

int
relay_check_timeout(const struct relay_conf *cf)
{
	int to = cf->check_ms;

	if (cf->check_to_ms > 0)
		return cf->check_to_ms;
	if (cf->connect_ms > 0 && cf->connect_ms < to)
		to = cf->connect_ms;
	return to;
}

/* Abortive close: a check leaves no TIME_WAIT behind on either side. */
static void
rst_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* The check is over: socket and reply buffer go. */
static int
check_end(struct relay_server *s, int ok, int orderly)
{
	if (orderly)
		close(s->chk_fd);
	else
		rst_close(s->chk_fd);
	s->chk_fd = -1;
	free(s->chk_buf);
	s->chk_buf = NULL;
	s->chk_got = 0;
	return ok;
}

void
relay_check_abort(struct relay_server *s)
{
	if (s->chk_fd != -1)
		check_end(s, 0, 0);
}

/* The PROXY header a check starts with, into buf: its length, or -1. */
static int
check_header(struct relay_server *s, uint8_t *buf, size_t cap)
{
	struct pp_header h;
	socklen_t len;

	memset(&h, 0, sizeof(h));
	h.transport = PP_V2_TRANS_STREAM;
	if (s->send_proxy == 2) {
		h.command = PP_V2_CMD_LOCAL;
		return pp_build_v2(buf, cap, &h, NULL, 0, 0);
	}
	if (s->send_proxy != 1)
		return 0;
	h.command = PP_V2_CMD_PROXY;
	len = sizeof(h.src);
	if (getsockname(s->chk_fd, (struct sockaddr *)&h.src, &len) == -1)
		return -1;
	len = sizeof(h.dst);
	if (getpeername(s->chk_fd, (struct sockaddr *)&h.dst, &len) == -1)
		return -1;
	return pp_build_v1(buf, cap, &h);
}

/*
 * What the reply so far says: 1 good, 0 bad, -1 not yet.  check-http
 * judges the status line ("HTTP/1.x NNN"), check-expect looks for its
 * bytes anywhere in the first RELAY_CHKBUF of the reply.
 */
static int
check_judge(const struct relay_server *s, int eof)
{
	const struct relay_check *k = &s->chk;
	const uint8_t *b = s->chk_buf;
	int st;

	if (k->http) {
		if (s->chk_got < 12)
			return eof || s->chk_got == RELAY_CHKBUF ? 0 : -1;
		if (memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ' ||
		    b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
		    b[11] < '0' || b[11] > '9')
			return 0;
		st = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
		return k->status != 0 ? st == k->status : st / 100 == 2;
	}
	if (memmem(b, s->chk_got, k->expect, k->expect_len) != NULL)
		return 1;
	return eof || s->chk_got == RELAY_CHKBUF ? 0 : -1;
}

/*
 * An event on the check socket.  Connected: send the header and the
 * request in one go (a fresh socket's buffer takes a few hundred bytes,
 * so a short send is a failure, not a reason to wait), then, when a reply
 * is expected, read it as it comes.
 */
int
relay_check_finish(struct relay_server *s)
{
	const struct relay_check *k = &s->chk;
	uint8_t buf[PP_V1_MAX + 1 + RELAY_CHKSEND + 2 * RELAY_KEYLEN];
	socklen_t len = sizeof(int);
	int e = 0, n, r, fd = s->chk_fd;
	ssize_t got;

	if (s->udp)
		return relay_udp_check_finish(s);
	if (s->chk_buf == NULL) {
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
			return check_end(s, 0, 1);
		if (e == EINPROGRESS || e == EALREADY)
			return -1;
		if (e != 0)
			return check_end(s, 0, 1);
		if ((n = check_header(s, buf, sizeof(buf))) < 0)
			return check_end(s, 0, 1);
		if (k->http)
			n += snprintf((char *)buf + n, sizeof(buf) - (size_t)n,
			    "GET %.*s HTTP/1.0\r\nHost: %s\r\n"
			    "User-Agent: pp-balance\r\n\r\n", (int)k->send_len,
			    (const char *)k->send, s->addr.ss_family == AF_UNIX ?
			    "localhost" : s->name);
		else if (k->send_len > 0) {
			memcpy(buf + n, k->send, k->send_len);
			n += k->send_len;
		}
		if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
			return check_end(s, 0, 1);
		if (!k->http && k->expect_len == 0)
			/* Whatever was sent must arrive: an orderly close. */
			return check_end(s, 1, n > 0);
		if ((s->chk_buf = malloc(RELAY_CHKBUF)) == NULL)
			return check_end(s, 0, 1);
		s->chk_got = 0;
	}
	/* Edge-triggered: read until the verdict, the end, or EAGAIN. */
	for (;;) {
		got = recv(fd, s->chk_buf + s->chk_got, RELAY_CHKBUF -
		    s->chk_got, MSG_DONTWAIT);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && errno == EAGAIN)
			return -1;
		if (got == -1)
			return check_end(s, 0, 0);
		s->chk_got += (uint16_t)got;
		if ((r = check_judge(s, got == 0)) != -1)
			return check_end(s, r, 0);
	}
}

/* Backslash escapes: \r \n \t \\ \xHH.  The length, or -1. */
static int
unescape(const char *in, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v;
	int i;

	for (; *in != '\0'; in++) {
		if (n == cap)
			return -1;
		if (*in != '\\') {
			out[n++] = (uint8_t)*in;
			continue;
		}
		switch (*++in) {
		case 'r': out[n++] = '\r'; break;
		case 'n': out[n++] = '\n'; break;
		case 't': out[n++] = '\t'; break;
		case '\\': out[n++] = '\\'; break;
		case 'x':
			for (v = 0, i = 1; i <= 2; i++) {
				char c = in[i];

				if (c >= '0' && c <= '9')
					v = v * 16 + (unsigned)(c - '0');
				else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
					v = v * 16 + (unsigned)((c | 0x20) -
					    'a' + 10);
				else
					return -1;
			}
			out[n++] = (uint8_t)v;
			in += 2;
			break;
		default:
			return -1;
		}
	}
	return (int)n;
}

int
relay_check_option(const char *opt, struct relay_server *s,
    const char **why)
{
	struct relay_check *k = &s->chk;
	const char *v = strchr(opt, '=');
	int n;

	if (strncmp(opt, "check-", 6) != 0 || v == NULL)
		return 0;
	v++;
	if (strncmp(opt, "check-send=", 11) == 0 ||
	    strncmp(opt, "check-expect=", 13) == 0) {
		int send = opt[6] == 's';

		if (send && k->http)
			return *why = "check-send and check-http: one "
			    "request only", -1;
		n = unescape(v, send ? k->send : k->expect, send ?
		    RELAY_CHKSEND : RELAY_CHKEXPECT);
		if (n <= 0)
			return *why = n == 0 ? "check-send and check-expect "
			    "need a value" : send ? "check-send: bad escape "
			    "(\\r \\n \\t \\\\ \\xHH) or over 256 bytes" :
			    "check-expect: bad escape (\\r \\n \\t \\\\ \\xHH) "
			    "or over 128 bytes", -1;
		if (send)
			k->send_len = (uint16_t)n;
		else
			k->expect_len = (uint16_t)n;
	} else if (strncmp(opt, "check-http=", 11) == 0) {
		n = (int)strlen(v);
		if (k->send_len > 0 && !k->http)
			return *why = "check-send and check-http: one "
			    "request only", -1;
		if (v[0] != '/' || n >= RELAY_CHKSEND ||
		    strpbrk(v, " \t\r\n") != NULL)
			return *why = "check-http: expected a path starting "
			    "with '/', without blanks, under 256 bytes", -1;
		memcpy(k->send, v, (size_t)n);
		k->send_len = (uint16_t)n;
		k->http = 1;
	} else if (strncmp(opt, "check-status=", 13) == 0) {
		char *end;
		long st = strtol(v, &end, 10);

		if (*v == '\0' || *end != '\0' || st < 100 || st > 599)
			return *why = "check-status must be 100 to 599", -1;
		k->status = (uint16_t)st;
	} else
		return 0;
	s->check = 1;
	return 1;
}

int
relay_check_valid(struct relay_server *s, const char **why)
{
	const struct relay_check *k = &s->chk;

	if (k->http && k->expect_len > 0)
		return *why = "check-http goes with check-status, not with "
		    "check-expect", -1;
	if (k->status != 0 && !k->http)
		return *why = "check-status needs check-http", -1;
	return 0;
}

/* Tell every worker that s went up or down. */
static void
publish(struct relay_server *s, int up)
{
	s->up = up;
	W.lb.dirty = 1;
	if (s->st != NULL)
		__atomic_store_n(&s->st->up, (uint32_t)up, __ATOMIC_RELAXED);
	relay_ctl_changed(s);
	W.health_gen = __atomic_add_fetch(&W.sh->health_gen, 1,
	    __ATOMIC_RELEASE);
	wlog(0, "server %s is %s", s->name, up ? "up" : "down");
}

void
health_result(struct relay_server *s, int ok)
{
	const struct relay_conf *cf = W.conf;

	relay_ctl_checked(s, ok);
	wlog(2, "check %s: %s", s->name, ok ? "ok" : "failed");
	if (ok) {
		s->fall_n = 0;
		if (!s->up && ++s->rise_n >= cf->rise)
			publish(s, 1);
		return;
	}
	if (s->st != NULL)
		__atomic_add_fetch(&s->st->check_fail, 1, __ATOMIC_RELAXED);
	s->rise_n = 0;
	if (s->up && ++s->fall_n >= cf->fall)
		publish(s, 0);
}

void
health_event(struct relay_server *s)
{
	int ok;

	if ((ok = relay_check_finish(s)) != -1)
		health_result(s, ok);
}

void
health_run(void)
{
	struct epoll_event ev;
	struct relay_server *s;
	int i, to;

	to = relay_check_timeout(W.conf);
	for (i = 0; i < W.lb.n; i++) {
		s = W.lb.srv[i];
		if (!s->check)
			continue;
		/* maint, or health disabled (the server counts as up). */
		if (relay_ctl_nocheck(s)) {
			relay_check_abort(s);
			s->rise_n = s->fall_n = 0;
			if (s->hoff && !s->up)
				publish(s, 1);
			continue;
		}
		if (s->chk_fd != -1 && W.now >= s->chk_deadline) {
			relay_check_abort(s);
			health_result(s, 0);
		}
		if (s->chk_fd == -1 && W.now >= s->chk_next) {
			/*
			 * Checks start an interval apart, however long each
			 * takes (at most the timeout): a server that stops
			 * answering is down after about fall x interval, not
			 * fall x (interval + timeout).
			 */
			s->chk_next = W.now + W.conf->check_ms;
			if (relay_check_start(s, W.now, to) == -1) {
				health_result(s, 0);
				continue;
			}
			/*
			 * UDP: a reply (or an ICMP error) makes it readable.
			 * TCP, edge-triggered: connected, then each reply's
			 * bytes.
			 */
			ev.events = s->udp ? EPOLLIN : EPOLLIN | EPOLLOUT |
			    EPOLLRDHUP | EPOLLET;
			ev.data.u64 = (uint64_t)(uintptr_t)s | TAG_CHECK;
			epoll_ctl(W.epfd, EPOLL_CTL_ADD, s->chk_fd, &ev);
		}
	}
}

void
health_sync(void)
{
	uint32_t g;
	int i;

	g = __atomic_load_n(&W.sh->health_gen, __ATOMIC_ACQUIRE);
	if (g == W.health_gen)
		return;
	W.health_gen = g;
	for (i = 0; i < W.lb.n; i++)
		if (W.lb.srv[i]->st != NULL)
			W.lb.srv[i]->up = (int)__atomic_load_n(
			    &W.lb.srv[i]->st->up, __ATOMIC_RELAXED);
	W.lb.dirty = 1;
}
