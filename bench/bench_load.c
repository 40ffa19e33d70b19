/*
 * bench_load.c - load generator and servers for the relay benchmark
 * (bench/relay.sh).  One process, one epoll loop, no threads, so that it
 * costs the same whatever sits between client and server.
 *
 *	bench_load server PORT sink|echo|rr:SIZE
 *	    sink: read and discard; echo: send back what comes;
 *	    rr:SIZE: read SIZE bytes, answer SIZE bytes, close first
 *	    (the server keeps the TIME_WAIT, not the client's ports).
 *	bench_load bulk HOST:PORT SECONDS [STREAMS]
 *	    send as fast as possible; prints "gbps G".
 *	bench_load rr HOST:PORT SECONDS CONCURRENCY SIZE
 *	    connect, send SIZE, read SIZE, until EOF, again; prints
 *	    "cps N p50_us P p99_us Q".
 *	bench_load idle HOST:PORT N
 *	    open N connections, one echo exchange on each, print "ready N",
 *	    then hold them until stdin reaches EOF.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	(256 * 1024)

static uint8_t buf[BUFSZ];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
parse_hp(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		errx(64, "%s: expected HOST:PORT", s);
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		errx(64, "%s: expected an IPv4 address", host);
}

static int
nb_connect(const struct sockaddr_in *sin)
{
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		err(1, "socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1 &&
	    errno != EINPROGRESS)
		err(1, "connect");
	return fd;
}

/* Per-connection state of the server, indexed by fd. */
struct sconn {
	uint32_t	got;
	uint32_t	pend;		/* echo bytes not yet sent back */
};

static void
server(int port, const char *mode)
{
	struct epoll_event ev, evs[256];
	struct sockaddr_in sin;
	struct sconn *sc;
	int lfd, ep, n, i, fd, one = 1, echo = 0, rr = 0;
	ssize_t r;

	if (strcmp(mode, "echo") == 0)
		echo = 1;
	else if (strncmp(mode, "rr:", 3) == 0)
		rr = atoi(mode + 3);
	else if (strcmp(mode, "sink") != 0)
		errx(64, "server mode: sink, echo or rr:SIZE");
	if ((sc = calloc(1 << 20, sizeof(*sc))) == NULL)
		err(1, NULL);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 4096) == -1)
		err(1, "bind %d", port);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					if (fd >= (1 << 20)) {
						close(fd);
						continue;
					}
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					sc[fd].got = sc[fd].pend = 0;
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = recv(fd, buf, BUFSZ, 0);
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				close(fd);
				continue;
			}
			if (echo) {
				/* Blocking send is fine: peers read. */
				fcntl(fd, F_SETFL, 0);
				send(fd, buf, (size_t)r, MSG_NOSIGNAL);
				fcntl(fd, F_SETFL, O_NONBLOCK);
			} else if (rr > 0) {
				sc[fd].got += (uint32_t)r;
				if (sc[fd].got >= (uint32_t)rr) {
					memset(buf, 'r', (size_t)rr);
					send(fd, buf, (size_t)rr, MSG_NOSIGNAL);
					close(fd);
				}
			}
		}
	}
}

static void
bulk(const struct sockaddr_in *sin, double secs, int streams)
{
	struct epoll_event ev, evs[64];
	double t0, t;
	uint64_t total = 0;
	int ep, i, n, fd;
	ssize_t r;

	memset(buf, 'b', BUFSZ);
	ep = epoll_create1(0);
	for (i = 0; i < streams; i++) {
		fd = nb_connect(sin);
		ev.events = EPOLLOUT;
		ev.data.fd = fd;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
	t0 = now_s();
	while ((t = now_s()) - t0 < secs) {
		n = epoll_wait(ep, evs, 64, 100);
		for (i = 0; i < n; i++) {
			r = send(evs[i].data.fd, buf, BUFSZ, MSG_NOSIGNAL);
			if (r > 0)
				total += (uint64_t)r;
			else if (r == -1 && errno != EAGAIN)
				err(1, "send");
		}
	}
	printf("gbps %.2f\n", total * 8 / (t - t0) / 1e9);
}

struct rconn {
	int		fd;
	int		sent, got;
	double		t0;
};

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
rr_start(int ep, const struct sockaddr_in *sin, struct rconn *c)
{
	struct epoll_event ev;

	c->fd = nb_connect(sin);
	c->sent = c->got = 0;
	c->t0 = now_s();
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
rr(const struct sockaddr_in *sin, double secs, int conc, int size)
{
	struct epoll_event ev, evs[256];
	struct rconn *cs, *c;
	double t0, *lat, t;
	size_t nlat = 0, cap = 10000000;
	int ep, i, n;
	ssize_t r;

	if ((cs = calloc(conc, sizeof(*cs))) == NULL ||
	    (lat = malloc(cap * sizeof(*lat))) == NULL)
		err(1, NULL);
	memset(buf, 'q', BUFSZ);
	ep = epoll_create1(0);
	t0 = now_s();
	for (i = 0; i < conc; i++)
		rr_start(ep, sin, &cs[i]);
	while ((t = now_s()) - t0 < secs) {
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c->sent < size) {
				r = send(c->fd, buf, size - c->sent,
				    MSG_NOSIGNAL);
				if (r > 0)
					c->sent += (int)r;
				else if (r == -1 && errno != EAGAIN)
					goto again;
				if (c->sent == size) {
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd,
					    &ev);
				}
				continue;
			}
			r = recv(c->fd, buf, BUFSZ, 0);
			if (r == -1 && errno == EAGAIN)
				continue;
			if (r > 0) {
				c->got += (int)r;
				continue;
			}
			if (c->got >= size && nlat < cap)
				lat[nlat++] = now_s() - c->t0;
again:
			close(c->fd);
			rr_start(ep, sin, c);
		}
	}
	qsort(lat, nlat, sizeof(*lat), cmpd);
	printf("cps %.0f p50_us %.0f p99_us %.0f\n", nlat / (t - t0),
	    nlat ? lat[nlat / 2] * 1e6 : 0, nlat ? lat[nlat * 99 / 100] * 1e6 :
	    0);
}

static void
idle(const struct sockaddr_in *sin, int n)
{
	int *fds, i, ok = 0, flags;
	char c = 'x';

	if ((fds = calloc(n, sizeof(int))) == NULL)
		err(1, NULL);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] == -1 || connect(fds[i],
		    (const struct sockaddr *)sin, sizeof(*sin)) == -1)
			err(1, "connect %d", i);
	}
	for (i = 0; i < n; i++)
		send(fds[i], &c, 1, MSG_NOSIGNAL);
	for (i = 0; i < n; i++) {
		flags = 0;
		if (recv(fds[i], &c, 1, flags) == 1)
			ok++;
	}
	printf("ready %d\n", ok);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sin;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && strcmp(argv[1], "server") == 0)
		server(atoi(argv[2]), argv[3]);
	else if (argc >= 4 && strcmp(argv[1], "bulk") == 0) {
		parse_hp(argv[2], &sin);
		bulk(&sin, atof(argv[3]), argc > 4 ? atoi(argv[4]) : 1);
	} else if (argc >= 6 && strcmp(argv[1], "rr") == 0) {
		parse_hp(argv[2], &sin);
		rr(&sin, atof(argv[3]), atoi(argv[4]), atoi(argv[5]));
	} else if (argc >= 4 && strcmp(argv[1], "idle") == 0) {
		parse_hp(argv[2], &sin);
		idle(&sin, atoi(argv[3]));
	} else {
		fprintf(stderr, "usage: bench_load server PORT sink|echo|rr:SIZE"
		    "\n       bench_load bulk HOST:PORT SECONDS [STREAMS]\n"
		    "       bench_load rr HOST:PORT SECONDS CONC SIZE\n"
		    "       bench_load idle HOST:PORT N\n");
		return 64;
	}
	return 0;
}
