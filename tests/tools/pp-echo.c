/*
 * pp-echo - an epoll echo server for the reliability tests.
 *
 *   pp-echo -l HOST:PORT [-n NAME] [-p] [-s STATSFILE]
 *
 * Each connection first gets one greeting line, "NAME ADDR:PORT\n" with
 * the client's address from the PROXY header (-p: a v1 or v2 header is
 * required first; "NAME local" for LOCAL/UNKNOWN) or "NAME -\n" without
 * -p; then every byte it sends comes back, half-close passed on.  With -s
 * the counters are written to STATSFILE (one "key value" a line) a few
 * times a second when they change, and at SIGTERM:
 *
 *   accepted, active, peak, bytes_in (payload only, headers excluded),
 *   bytes_out, headers, bad_headers
 *
 * It is a test peer, not part of proxyhdr: it parses the header itself so
 * that the tests do not check the tools with their own code.  Built with
 * plain cc by the bats suites (no Makefile needed).
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ	65536
#define MAXFD	262144

struct conn {
	int		fd;
	int		hdr_done;	/* header read (or none expected) */
	int		eof;		/* client finished sending */
	size_t		hlen;		/* bytes of header buffered */
	uint8_t		hbuf[536];	/* v2 headers here are small */
	size_t		off, len;	/* pending output in buf */
	uint8_t		buf[BUFSZ];
};

static struct conn *conns[MAXFD];
static int ep;
static const char *name = "echo";
static int want_hdr;
static const char *statsfile;
static volatile sig_atomic_t stop;
static unsigned long long n_acc, n_act, n_peak, b_in, b_out, n_hdr, n_bad;
static int dirty = 1;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void
write_stats(void)
{
	char tmp[4096];
	FILE *f;

	if (statsfile == NULL || !dirty)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", statsfile);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "accepted %llu\nactive %llu\npeak %llu\nbytes_in %llu\n"
	    "bytes_out %llu\nheaders %llu\nbad_headers %llu\n", n_acc, n_act,
	    n_peak, b_in, b_out, n_hdr, n_bad);
	fclose(f);
	rename(tmp, statsfile);
	dirty = 0;
}

static void
set_events(struct conn *c)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.data.fd = c->fd;
	if (c->len > c->off)
		ev.events = EPOLLOUT;
	else if (!c->eof)
		ev.events = EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
drop(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c);
	n_act--;
	dirty = 1;
}

/* Queue the greeting line. */
static void
greet(struct conn *c, const char *who)
{
	c->len = (size_t)snprintf((char *)c->buf, BUFSZ, "%s %s\n", name, who);
	c->off = 0;
	c->hdr_done = 1;
}

/*
 * Try to parse the header in c->hbuf: 1 done (greeting queued, payload
 * after the header moved to the output), 0 need more, -1 invalid.
 */
static int
parse_hdr(struct conn *c)
{
	static const uint8_t sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	char who[128], line[128], proto[8], s[64], d[64];
	unsigned sp, dp;
	size_t hl, i;
	uint8_t *h = c->hbuf;

	if (c->hlen >= 1 && h[0] == 'P') {
		for (i = 0; i < c->hlen; i++)
			if (h[i] == '\n')
				break;
		if (i == c->hlen)
			return c->hlen >= 107 ? -1 : 0;
		if (i < 1 || h[i - 1] != '\r' || i >= sizeof(line))
			return -1;
		memcpy(line, h, i - 1);
		line[i - 1] = '\0';
		hl = i + 1;
		if (strncmp(line, "PROXY UNKNOWN", 13) == 0)
			snprintf(who, sizeof(who), "local");
		else if (sscanf(line, "PROXY %7s %63s %63s %u %u", proto, s, d,
		    &sp, &dp) == 5 && (strcmp(proto, "TCP4") == 0 ||
		    strcmp(proto, "TCP6") == 0))
			snprintf(who, sizeof(who), "%s:%u", s, sp);
		else
			return -1;
	} else if (c->hlen >= 1 && h[0] == '\r') {
		if (c->hlen < 16)
			return memcmp(h, sig, c->hlen) == 0 ? 0 : -1;
		if (memcmp(h, sig, 12) != 0 || (h[12] >> 4) != 2)
			return -1;
		hl = 16 + ((size_t)h[14] << 8 | h[15]);
		if (hl > sizeof(c->hbuf))
			return -1;
		if (c->hlen < hl)
			return 0;
		if ((h[12] & 0xf) == 0) {
			snprintf(who, sizeof(who), "local");
		} else if (h[13] >> 4 == 1 && hl >= 28) {
			inet_ntop(AF_INET, h + 16, s, sizeof(s));
			snprintf(who, sizeof(who), "%s:%u", s,
			    (unsigned)(h[24] << 8 | h[25]));
		} else if (h[13] >> 4 == 2 && hl >= 52) {
			inet_ntop(AF_INET6, h + 16, s, sizeof(s));
			snprintf(who, sizeof(who), "%s:%u", s,
			    (unsigned)(h[48] << 8 | h[49]));
		} else if (h[13] >> 4 == 0) {
			snprintf(who, sizeof(who), "local");
		} else
			return -1;
	} else if (c->hlen >= 1)
		return -1;
	else
		return 0;
	n_hdr++;
	greet(c, who);
	/* Whatever followed the header is payload: echo it. */
	if (c->hlen > hl) {
		memcpy(c->buf + c->len, h + hl, c->hlen - hl);
		c->len += c->hlen - hl;
		b_in += c->hlen - hl;
	}
	return 1;
}

static void
on_read(struct conn *c)
{
	ssize_t n;
	int r;

	if (!c->hdr_done) {
		n = read(c->fd, c->hbuf + c->hlen, sizeof(c->hbuf) - c->hlen);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(c);
			return;
		}
		if (n < 0)
			return;
		c->hlen += (size_t)n;
		if ((r = parse_hdr(c)) < 0 ||
		    (r == 0 && c->hlen == sizeof(c->hbuf))) {
			n_bad++;
			dirty = 1;
			drop(c);
			return;
		}
		dirty = 1;
		set_events(c);
		return;
	}
	/* Only when all pending output went: back-pressure. */
	n = read(c->fd, c->buf, BUFSZ);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		drop(c);
		return;
	}
	if (n == 0) {
		/* Everything was echoed already: pass the half-close on. */
		c->eof = 1;
		shutdown(c->fd, SHUT_WR);
		drop(c);
		return;
	}
	b_in += (size_t)n;
	c->off = 0;
	c->len = (size_t)n;
	dirty = 1;
	set_events(c);
}

static void
on_write(struct conn *c)
{
	ssize_t n;

	n = write(c->fd, c->buf + c->off, c->len - c->off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		drop(c);
		return;
	}
	c->off += (size_t)n;
	b_out += (size_t)n;
	dirty = 1;
	if (c->off < c->len)
		return;
	c->off = c->len = 0;
	set_events(c);
}

static void
on_accept(int lfd)
{
	struct epoll_event ev;
	struct conn *c;
	int fd, i, one = 1;

	for (i = 0; i < 64; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (fd >= MAXFD || (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		conns[fd] = c;
		n_acc++;
		if (++n_act > n_peak)
			n_peak = n_act;
		dirty = 1;
		if (!want_hdr)
			greet(c, "-");
		memset(&ev, 0, sizeof(ev));
		ev.data.fd = fd;
		ev.events = c->len ? EPOLLOUT : EPOLLIN;
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sa;
	struct epoll_event ev, evs[256];
	struct sigaction act;
	char host[64], *colon;
	const char *listen_at = NULL;
	int lfd, opt, i, n, one = 1;
	struct conn *c;

	while ((opt = getopt(argc, argv, "l:n:ps:")) != -1) {
		switch (opt) {
		case 'l': listen_at = optarg; break;
		case 'n': name = optarg; break;
		case 'p': want_hdr = 1; break;
		case 's': statsfile = optarg; break;
		default:
			fprintf(stderr, "usage: pp-echo -l HOST:PORT [-n NAME] "
			    "[-p] [-s STATSFILE]\n");
			return 64;
		}
	}
	if (listen_at == NULL || strlen(listen_at) >= sizeof(host) ||
	    (colon = strrchr(listen_at, ':')) == NULL) {
		fprintf(stderr, "pp-echo: -l HOST:PORT needed\n");
		return 64;
	}
	memcpy(host, listen_at, (size_t)(colon - listen_at));
	host[colon - listen_at] = '\0';
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "pp-echo: bad address %s\n", host);
		return 64;
	}
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_term;
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4096) < 0) {
		perror("pp-echo: bind");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	write_stats();
	printf("pp-echo %s listening on %s\n", name, listen_at);
	fflush(stdout);

	while (!stop) {
		n = epoll_wait(ep, evs, 256, 200);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == lfd) {
				on_accept(lfd);
				continue;
			}
			if ((c = conns[evs[i].data.fd]) == NULL)
				continue;
			if (evs[i].events & EPOLLOUT)
				on_write(c);
			else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_read(c);
		}
		write_stats();
	}
	dirty = 1;
	write_stats();
	return 0;
}
