/*
 * relay_health.c - health checks with interval, rise and fall: one
 * check's socket (relay_check_*), and the worker's schedule of checks and
 * what their results change (health_*).  Only worker 0 checks; it
 * publishes up/down in the shared mapping and the other workers follow.
 * Must not touch a client connection.
 *
 * A check is a non-blocking connect.  A server that is sent the PROXY
 * protocol expects a header on every connection, checks included: a v2
 * server gets a LOCAL header, as HAProxy sends; v1 has no LOCAL, so a v1
 * server gets a real TCP4/TCP6 line with the check socket's own endpoints.
 * A UDP check (relay_udp.c) sends the --check-send payload, after a LOCAL
 * header for a v2 server, and passes on any reply.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sys/epoll.h>

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

	s->chk_next = W.now + cf->check_ms;
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
health_run(void)
{
	struct epoll_event ev;
	struct relay_server *s;
	int i, to;

	to = W.conf->check_ms;
	if (W.conf->connect_ms > 0 && W.conf->connect_ms < to)
		to = W.conf->connect_ms;
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
			if (relay_check_start(s, W.now, to) == -1) {
				health_result(s, 0);
				continue;
			}
			/* UDP: a reply (or an ICMP error) makes it readable. */
			ev.events = s->udp ? EPOLLIN : EPOLLOUT;
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
