/*
 * pp-udp - the UDP peers of the datagram tests and of the UDP benchmark:
 * an echo server, a load client and a junk sender.
 *
 *   pp-udp echo -l HOST:PORT [-m plain|peer|proxy] [-k MARK] [-s STATSFILE]
 *
 *	Replies to each datagram, to its sender, from the same socket.
 *	plain: the datagram as it came.  peer: "W=ADDR:PORT\n" (the sender
 *	it saw), then the datagram.  proxy: the datagram must start with a
 *	PROXY v2 header; the reply is "W=ADDR:PORT\n" with the client address
 *	the header carries (the real sender for LOCAL), then the payload
 *	after the header; a datagram without a valid header gets no reply.
 *	Prints "ready HOST:PORT" once bound.  With -s the counters are
 *	written to STATSFILE (one "key value" a line) a few times a second
 *	when they change, and at SIGTERM: received, replied, bytes_in,
 *	headers, bad_headers, not_dgram (a header whose transport is not
 *	DGRAM), local, marked (datagrams that hold the bytes of -k MARK
 *	anywhere), clients (distinct W= addresses).
 *
 *   pp-udp load -c HOST:PORT [-S ADDR] [-s SOURCES] [-n N | -d MS] [-w W]
 *	[-T MS] [-b BYTES] [-x] [-X ADDR] [-v] [-H MS] [-r FILE] [-t SECONDS]
 *
 *	SOURCES sockets (default 1), socket i bound to ADDR+1+i (-S; else
 *	to any address) and connected to HOST:PORT, send N request datagrams
 *	in all (-n, default 1000) or for MS (-d), in turn, at most W
 *	outstanding (-w, default 64).  Each request carries a unique id and
 *	its socket's number; a reply not in within -T MS (default 2000) is
 *	lost.  A reply whose id is not one its socket sent is counted as
 *	at the wrong socket.  -x puts a v2 DGRAM header in front of each
 *	request, claiming source X+1+i (-X ADDR, default 198.18.0.0) and the
 *	socket's own port; -v checks each reply's "W=" against the client
 *	address the server should have been told (the socket's own, or the
 *	claimed one with -x).  -b pads each request to BYTES.  With -H the
 *	sockets stay open, idle, MS after the last reply (-r FILE is written
 *	then), to weigh a relay's sessions.  Prints key=value figures and a
 *	summary line: sent answered lost wrong_socket wrong_addr late dup
 *	bad rps p50_us p99_us.
 *
 *   pp-udp junk -c HOST:PORT [-S ADDR] [-s SOURCES] -n N [-k MARK] [-u]
 *	[-R RATE] [-t SECONDS]
 *
 *	Sends N datagrams no PROXY receiver may take: random bytes, v1
 *	lines, v2 headers with a bad signature, version, command or length,
 *	cut short, with a wrong CRC32C, empty.  -u adds well-formed v2 DGRAM
 *	headers, refused only because the sender is not trusted.  Each one
 *	long enough holds MARK (default "PPJUNK"), so an echo server behind
 *	the receiver counts what got through.  -R: at most RATE a second.
 *
 * A test peer, not part of proxyhdr: it parses and writes headers itself
 * so that the tests do not check the tools with their own code.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DGRAM_MAX	65536
#define BATCH		64
#define RING		(1u << 20)	/* outstanding requests, by id */
#define MAXLAT		(1u << 22)	/* latency samples kept */
#define HSET		(1u << 20)	/* distinct clients counted */

static const uint8_t sig[12] = "\r\n\r\n\0\r\nQUIT\n";

static volatile sig_atomic_t stop;

static void
on_term(int sig_no)
{
	(void)sig_no;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: pp-udp echo -l HOST:PORT [-m plain|peer|proxy] [-k MARK] "
	    "[-s STATSFILE]\n"
	    "       pp-udp load -c HOST:PORT [-S ADDR] [-s SOURCES] "
	    "[-n N | -d MS] [-w W] [-T MS]\n"
	    "            [-b BYTES] [-x] [-X ADDR] [-v] [-H MS] [-r FILE] "
	    "[-t SECONDS]\n"
	    "       pp-udp junk -c HOST:PORT [-S ADDR] [-s SOURCES] -n N "
	    "[-k MARK] [-u] [-R RATE]\n"
	    "            [-t SECONDS]\n");
	exit(64);
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* HOST:PORT or [V6]:PORT, numeric only. */
static int
parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char host[128];
	const char *colon;
	size_t hl;
	long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 0 || port > 65535)
		return -1;
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	*len = sizeof(*sin);
	return 0;
}

static uint32_t
addr4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		usage();
	return ntohl(a.s_addr);
}

/* "ADDR:PORT" of an IPv4 or IPv6 socket address (v6 without brackets). */
static int
addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		return snprintf(buf, cap, "%s:%u", ip, ntohs(sin->sin_port));
	}
	inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
	return snprintf(buf, cap, "%s:%u", ip, ntohs(sin6->sin6_port));
}

static void
big_rcvbuf(int fd)
{
	int sz = 8 << 20;

	/* As root the limit of rmem_max does not apply. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* echo */

static unsigned long long e_rx, e_tx, e_bytes, e_hdr, e_bad, e_notdgram;
static unsigned long long e_local, e_marked, e_clients;
static uint64_t *hset;
static int e_dirty = 1;

static uint64_t
hash_text(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h | 1;	/* 0 marks a free slot */
}

static void
count_client(const char *w, size_t n)
{
	uint64_t h = hash_text(w, n);
	size_t i;

	if (e_clients >= HSET / 4 * 3)
		return;
	for (i = h & (HSET - 1); hset[i] != 0; i = (i + 1) & (HSET - 1))
		if (hset[i] == h)
			return;
	hset[i] = h;
	e_clients++;
}

static void
write_stats(const char *path)
{
	char tmp[4096];
	FILE *f;

	if (path == NULL || !e_dirty)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "received %llu\nreplied %llu\nbytes_in %llu\nheaders %llu\n"
	    "bad_headers %llu\nnot_dgram %llu\nlocal %llu\nmarked %llu\n"
	    "clients %llu\n", e_rx, e_tx, e_bytes, e_hdr, e_bad, e_notdgram,
	    e_local, e_marked, e_clients);
	fclose(f);
	rename(tmp, path);
	e_dirty = 0;
}

/*
 * The client a v2 header in p[0 .. n) names, as "ADDR:PORT" in w (the
 * real sender, peer, for LOCAL): returns the header length, or -1 when
 * there is no valid header.  Strict on what a relay must get right.
 */
static int
v2_client(const uint8_t *p, size_t n, const char *peer, char *w, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	size_t hl;
	int fam;

	if (n < 16 || memcmp(p, sig, 12) != 0 || (p[12] >> 4) != 2)
		return -1;
	hl = 16 + ((size_t)p[14] << 8 | p[15]);
	if (hl > n)
		return -1;
	fam = p[13] >> 4;
	if ((p[12] & 0xf) == 0) {
		e_local++;
		snprintf(w, cap, "%s", peer);
		return (int)hl;
	}
	if ((p[12] & 0xf) != 1)
		return -1;
	if ((p[13] & 0xf) != 2)
		e_notdgram++;
	if (fam == 1 && hl >= 28) {
		inet_ntop(AF_INET, p + 16, ip, sizeof(ip));
		snprintf(w, cap, "%s:%u", ip, (unsigned)(p[24] << 8 | p[25]));
	} else if (fam == 2 && hl >= 52) {
		inet_ntop(AF_INET6, p + 16, ip, sizeof(ip));
		snprintf(w, cap, "%s:%u", ip, (unsigned)(p[48] << 8 | p[49]));
	} else
		return -1;
	return (int)hl;
}

static int
run_echo(int argc, char *argv[])
{
	static uint8_t in[BATCH][DGRAM_MAX], out[BATCH][DGRAM_MAX + 80];
	struct sockaddr_storage la, from[BATCH];
	struct mmsghdr rm[BATCH], sm[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
	struct pollfd pfd;
	const char *laddr = NULL, *mode = "plain", *mark = NULL;
	const char *stats = NULL;
	char text[128], w[128];
	socklen_t llen;
	size_t marklen = 0, off, wl;
	int64_t last = 0;
	int fd, opt, i, n, k, m, hl;

	while ((opt = getopt(argc, argv, "k:l:m:s:")) != -1) {
		switch (opt) {
		case 'k': mark = optarg; break;
		case 'l': laddr = optarg; break;
		case 'm': mode = optarg; break;
		case 's': stats = optarg; break;
		default: usage();
		}
	}
	if (laddr == NULL || parse_addr(laddr, &la, &llen) != 0 ||
	    (strcmp(mode, "plain") != 0 && strcmp(mode, "peer") != 0 &&
	    strcmp(mode, "proxy") != 0))
		usage();
	if (mark != NULL)
		marklen = strlen(mark);
	if ((hset = calloc(HSET, sizeof(*hset))) == NULL)
		return 1;
	if ((fd = socket(la.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		perror("pp-udp: socket");
		return 1;
	}
	big_rcvbuf(fd);
	if (bind(fd, (struct sockaddr *)&la, llen) == -1) {
		fprintf(stderr, "pp-udp: bind %s: %s\n", laddr, strerror(errno));
		return 1;
	}
	llen = sizeof(la);
	getsockname(fd, (struct sockaddr *)&la, &llen);
	addr_text(&la, text, sizeof(text));
	printf("ready %s\n", text);
	fflush(stdout);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!stop) {
		if (now_us() - last > 100000) {
			write_stats(stats);
			last = now_us();
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		memset(rm, 0, sizeof(rm));
		for (i = 0; i < BATCH; i++) {
			riov[i].iov_base = in[i];
			riov[i].iov_len = DGRAM_MAX;
			rm[i].msg_hdr.msg_iov = &riov[i];
			rm[i].msg_hdr.msg_iovlen = 1;
			rm[i].msg_hdr.msg_name = &from[i];
			rm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		if ((n = recvmmsg(fd, rm, BATCH, MSG_DONTWAIT, NULL)) <= 0)
			continue;
		memset(sm, 0, sizeof(sm));
		for (i = 0, m = 0; i < n; i++) {
			size_t len = rm[i].msg_len;
			uint8_t *p = in[i];

			e_rx++;
			e_bytes += len;
			e_dirty = 1;
			if (marklen > 0 && memmem(p, len, mark, marklen) != NULL)
				e_marked++;
			off = 0;
			wl = 0;
			if (strcmp(mode, "plain") != 0) {
				addr_text(&from[i], text, sizeof(text));
				snprintf(w, sizeof(w), "%s", text);
			}
			if (strcmp(mode, "proxy") == 0) {
				hl = v2_client(p, len, text, w, sizeof(w));
				if (hl < 0) {
					e_bad++;
					continue;
				}
				e_hdr++;
				off = (size_t)hl;
			}
			if (strcmp(mode, "plain") != 0) {
				count_client(w, strlen(w));
				wl = (size_t)snprintf((char *)out[m],
				    sizeof(out[m]), "W=%s\n", w);
			}
			memcpy(out[m] + wl, p + off, len - off);
			siov[m].iov_base = out[m];
			siov[m].iov_len = wl + len - off;
			sm[m].msg_hdr.msg_iov = &siov[m];
			sm[m].msg_hdr.msg_iovlen = 1;
			sm[m].msg_hdr.msg_name = &from[i];
			sm[m].msg_hdr.msg_namelen = rm[i].msg_hdr.msg_namelen;
			m++;
		}
		for (k = 0; k < m; ) {
			int r = sendmmsg(fd, sm + k, (unsigned)(m - k), 0);

			if (r <= 0) {
				if (r < 0 && errno == EINTR)
					continue;
				k++;	/* that peer is gone: skip it */
				continue;
			}
			e_tx += (unsigned)r;
			k += r;
		}
	}
	e_dirty = 1;
	write_stats(stats);
	return 0;
}

/* load */

enum { R_FREE, R_OUT, R_DONE, R_LOST };

struct req {
	uint32_t	id;
	uint32_t	src;
	int64_t		t_us;
	uint8_t		st;
};

struct src {
	int		fd;
	char		want[64];	/* W= the server should say */
	uint32_t	claim;		/* -x: claimed address, host order */
	uint16_t	port;		/* own port, host order */
};

static struct req *ring;
static uint32_t *lat;
static size_t nlat;

static int
cmp32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The v2 DGRAM header of -x: the claimed client, then the target. */
static size_t
claim_header(uint8_t *b, uint32_t claim, uint16_t port,
    const struct sockaddr_in *dst)
{
	uint32_t a = htonl(claim);

	memcpy(b, sig, 12);
	b[12] = 0x21;
	b[13] = 0x12;
	b[14] = 0;
	b[15] = 12;
	memcpy(b + 16, &a, 4);
	memcpy(b + 20, &dst->sin_addr, 4);
	b[24] = (uint8_t)(port >> 8);
	b[25] = (uint8_t)port;
	memcpy(b + 26, &dst->sin_port, 2);
	return 28;
}

/* Open the source sockets, connected to dst; exits 1 on failure. */
static struct src *
open_sources(int nsrc, uint32_t base, uint32_t claim_base,
    const struct sockaddr_in *dst, int ep)
{
	struct sockaddr_in sa;
	struct epoll_event ev;
	struct src *s;
	socklen_t sl;
	char ip[INET_ADDRSTRLEN];
	int i;

	if ((s = calloc((size_t)nsrc, sizeof(*s))) == NULL)
		exit(1);
	for (i = 0; i < nsrc; i++) {
		s[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (s[i].fd == -1) {
			perror("pp-udp: socket");
			exit(1);
		}
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		if (base != 0)
			sa.sin_addr.s_addr = htonl(base + 1 + (uint32_t)i);
		if (bind(s[i].fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    connect(s[i].fd, (const struct sockaddr *)dst,
		    sizeof(*dst)) == -1) {
			perror("pp-udp: bind/connect");
			exit(1);
		}
		sl = sizeof(sa);
		getsockname(s[i].fd, (struct sockaddr *)&sa, &sl);
		s[i].port = ntohs(sa.sin_port);
		s[i].claim = claim_base + 1 + (uint32_t)i;
		if (claim_base != 0)
			sa.sin_addr.s_addr = htonl(s[i].claim);
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		snprintf(s[i].want, sizeof(s[i].want), "%s:%u", ip, s[i].port);
		if (ep >= 0) {
			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLIN;
			ev.data.u32 = (uint32_t)i;
			epoll_ctl(ep, EPOLL_CTL_ADD, s[i].fd, &ev);
		}
	}
	return s;
}

static int
target(const char *s, struct sockaddr_in *dst)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (s == NULL || parse_addr(s, &ss, &len) != 0 ||
	    ss.ss_family != AF_INET)
		return -1;
	memcpy(dst, &ss, sizeof(*dst));
	return 0;
}

static int
run_load(int argc, char *argv[])
{
	static uint8_t buf[DGRAM_MAX];
	struct epoll_event evs[256];
	struct sockaddr_in dst;
	struct src *srcs;
	const char *tgt = NULL, *ready = NULL;
	uint32_t base = 0, claim_base = 0, next_id = 0, oldest = 0, id, idx;
	long long nreq = 1000, dur_ms = 0, win = 64, tmo_ms = 2000;
	long long hold_ms = 0, limit_s = 60, bytes = 0, outstanding = 0;
	unsigned long long sent = 0, answered = 0, lost = 0, wrong = 0;
	unsigned long long wrong_addr = 0, late = 0, dup = 0, bad = 0;
	unsigned long long send_err = 0;
	int64_t t0, t_end_send = 0, t_limit, t_last = 0, t;
	int nsrc = 1, hdr = 0, verify = 0, opt, ep, n, i, next_src = 0;
	size_t hl, len;
	ssize_t got;
	char *p, *q;
	struct req *r;

	while ((opt = getopt(argc, argv, "b:c:d:H:n:r:S:s:T:t:vw:xX:")) != -1) {
		switch (opt) {
		case 'b': bytes = atoll(optarg); break;
		case 'c': tgt = optarg; break;
		case 'd': dur_ms = atoll(optarg); break;
		case 'H': hold_ms = atoll(optarg); break;
		case 'n': nreq = atoll(optarg); break;
		case 'r': ready = optarg; break;
		case 'S': base = addr4(optarg); break;
		case 's': nsrc = atoi(optarg); break;
		case 'T': tmo_ms = atoll(optarg); break;
		case 't': limit_s = atoll(optarg); break;
		case 'v': verify = 1; break;
		case 'w': win = atoll(optarg); break;
		case 'x': hdr = 1; break;
		case 'X': claim_base = addr4(optarg); break;
		default: usage();
		}
	}
	if (target(tgt, &dst) != 0 || nsrc < 1 || nsrc > 200000 || win < 1 ||
	    win > (long long)RING / 4 || nreq < 1 || tmo_ms < 1 ||
	    bytes < 0 || bytes > 60000 || limit_s < 1)
		usage();
	if (hdr && claim_base == 0)
		claim_base = addr4("198.18.0.0");
	if (!hdr)
		claim_base = 0;
	if ((ring = calloc(RING, sizeof(*ring))) == NULL ||
	    (lat = malloc(MAXLAT * sizeof(*lat))) == NULL)
		return 1;
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ep = epoll_create1(EPOLL_CLOEXEC);
	srcs = open_sources(nsrc, base, claim_base, &dst, ep);
	t0 = now_us();
	t_limit = t0 + limit_s * 1000000;
	if (dur_ms > 0)
		t_end_send = t0 + dur_ms * 1000;

	for (;;) {
		t = now_us();
		/* Requests out, within the window. */
		while (outstanding < win && !stop && t < t_limit &&
		    (dur_ms > 0 ? t < t_end_send : (long long)sent < nreq) &&
		    next_id - oldest < RING / 2) {
			struct src *s = &srcs[next_src];

			hl = hdr ? claim_header(buf, s->claim, s->port, &dst) :
			    0;
			len = hl + (size_t)snprintf((char *)buf + hl,
			    sizeof(buf) - hl, "Q%08" PRIx32 " %06d ", next_id,
			    next_src);
			if ((size_t)bytes > len) {
				memset(buf + len, 'x', (size_t)bytes - len);
				len = (size_t)bytes;
			}
			r = &ring[next_id & (RING - 1)];
			r->id = next_id;
			r->src = (uint32_t)next_src;
			r->t_us = t;
			r->st = R_OUT;
			if (send(s->fd, buf, len, 0) == -1) {
				/* Counted lost at its timeout. */
				send_err++;
			}
			next_id++;
			sent++;
			outstanding++;
			next_src = (next_src + 1) % nsrc;
		}
		/* Timeouts: the oldest outstanding request first. */
		while (oldest < next_id) {
			r = &ring[oldest & (RING - 1)];
			if (r->st == R_OUT) {
				if (t - r->t_us < tmo_ms * 1000 && t < t_limit &&
				    !stop)
					break;
				r->st = R_LOST;
				lost++;
				outstanding--;
			}
			oldest++;
		}
		if (outstanding == 0 && (stop || t >= t_limit ||
		    (dur_ms > 0 ? t >= t_end_send : (long long)sent >= nreq)))
			break;
		n = epoll_wait(ep, evs, 256, 5);
		for (i = 0; i < n; i++) {
			idx = evs[i].data.u32;
			for (;;) {
				got = recv(srcs[idx].fd, buf, sizeof(buf) - 1,
				    MSG_DONTWAIT);
				if (got < 0 && errno == EINTR)
					continue;
				if (got < 0)
					break;
				buf[got] = '\0';
				t = now_us();
				t_last = t;
				p = (char *)buf;
				q = NULL;
				if (strncmp(p, "W=", 2) == 0) {
					q = p + 2;
					if ((p = memchr(p, '\n',
					    (size_t)got)) == NULL) {
						bad++;
						continue;
					}
					*p++ = '\0';
				}
				if (*p != 'Q' || sscanf(p + 1, "%8" SCNx32, &id)
				    != 1) {
					bad++;
					continue;
				}
				r = &ring[id & (RING - 1)];
				if (r->id != id || r->st == R_FREE) {
					bad++;
					continue;
				}
				if (r->src != idx ||
				    (uint32_t)atoi(p + 10) != idx) {
					wrong++;
					continue;
				}
				if (r->st == R_DONE) {
					dup++;
					continue;
				}
				if (r->st == R_LOST) {
					late++;
					continue;
				}
				if (verify && (q == NULL ||
				    strcmp(q, srcs[idx].want) != 0)) {
					if (wrong_addr++ < 5)
						fprintf(stderr, "pp-udp: source "
						    "%u is %s but the server "
						    "said %s\n", idx,
						    srcs[idx].want, q != NULL ?
						    q : "nothing");
				}
				r->st = R_DONE;
				answered++;
				outstanding--;
				if (nlat < MAXLAT)
					lat[nlat++] = (uint32_t)(t - r->t_us);
			}
		}
	}
	t = (t_last > t0 ? t_last : now_us()) - t0;
	{
		uint32_t p50 = 0, p99 = 0;

		if (nlat > 0) {
			qsort(lat, nlat, sizeof(*lat), cmp32);
			p50 = lat[nlat / 2];
			p99 = lat[nlat * 99 / 100];
		}
		printf("summary: sources=%d sent=%llu answered=%llu lost=%llu "
		    "wrong_socket=%llu wrong_addr=%llu late=%llu dup=%llu "
		    "bad=%llu send_errors=%llu rps=%.0f p50_us=%" PRIu32
		    " p99_us=%" PRIu32 " elapsed_ms=%" PRId64 "\n", nsrc, sent,
		    answered, lost, wrong, wrong_addr, late, dup, bad, send_err,
		    t > 0 ? (double)answered * 1e6 / (double)t : 0.0, p50, p99,
		    t / 1000);
		fflush(stdout);
	}
	if (hold_ms > 0) {
		FILE *f;

		if (ready != NULL && (f = fopen(ready, "w")) != NULL) {
			fprintf(f, "%d\n", nsrc);
			fclose(f);
		}
		printf("held=%d\n", nsrc);
		fflush(stdout);
		t_limit = now_us() + hold_ms * 1000;
		while (!stop && now_us() < t_limit)
			(void)epoll_wait(ep, evs, 1, 50);
	}
	for (i = 0; i < nsrc; i++)
		close(srcs[i].fd);
	return 0;
}

/* junk */

/* CRC32C is not computed: a random value is wrong but once in 2^32. */
static size_t
make_junk(uint8_t *b, size_t cap, int untrusted, const char *mark,
    const struct sockaddr_in *dst)
{
	size_t n, i, ml = strlen(mark);
	int kind = (int)(rnd() % (untrusted ? 11 : 10));

	n = 32 + rnd() % 200;
	if (n + ml > cap)
		n = cap - ml;
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
	switch (kind) {
	case 0:		/* random, starting like neither signature */
		while (b[0] == 'P' || b[0] == '\r')
			b[0] = (uint8_t)rnd();
		break;
	case 1:		/* a v1 line, which no UDP header may be */
		n = (size_t)snprintf((char *)b, cap, "PROXY TCP4 198.18.0.%d "
		    "127.0.0.1 %d 53\r\n", (int)(rnd() % 250 + 1),
		    (int)(rnd() % 60000 + 1024));
		break;
	case 2:		/* v2, the signature's last byte wrong */
		claim_header(b, 0xc6120009, 4000, dst);
		b[11] = 'X';
		break;
	case 3:		/* v2, version nibble not 2 */
		claim_header(b, 0xc6120009, 4000, dst);
		b[12] = (uint8_t)((rnd() % 2 ? 0x11 : 0x31) + (rnd() % 2) * 0x40);
		break;
	case 4:		/* v2, command neither LOCAL nor PROXY */
		claim_header(b, 0xc6120009, 4000, dst);
		b[12] = (uint8_t)(0x22 + rnd() % 14);
		break;
	case 5:		/* v2 INET, a length short of its 12 address bytes */
		claim_header(b, 0xc6120009, 4000, dst);
		b[15] = (uint8_t)(rnd() % 12);
		break;
	case 6:		/* v2, a length past the end of the datagram */
		claim_header(b, 0xc6120009, 4000, dst);
		b[14] = 0x01;
		b[15] = 0x00;
		n = 28 + ml + rnd() % 100;
		break;
	case 7:		/* v2 with a CRC32C TLV that does not match */
		claim_header(b, 0xc6120009, 4000, dst);
		b[15] = 12 + 7;
		b[28] = 0x03;
		b[29] = 0;
		b[30] = 4;
		n = 35 + rnd() % 100;
		break;
	case 8:		/* the signature cut short, or nothing */
		n = rnd() % 16;
		memcpy(b, sig, n < 12 ? n : 12);
		return n;
	case 9:		/* v2, family undefined */
		claim_header(b, 0xc6120009, 4000, dst);
		b[13] = (uint8_t)(0x42 + (rnd() % 11) * 0x10);
		break;
	default:	/* well-formed: refused only for who sends it */
		claim_header(b, 0xc6120000 + (uint32_t)(rnd() % 65000),
		    (uint16_t)(1024 + rnd() % 60000), dst);
		n = 28 + rnd() % 100;
		break;
	}
	/* The mark after whatever the kind wrote. */
	if (n < 40)
		n = 40;
	memcpy(b + n, mark, ml);
	return n + ml;
}

static int
run_junk(int argc, char *argv[])
{
	static uint8_t buf[2048];
	struct sockaddr_in dst;
	struct src *srcs;
	const char *tgt = NULL, *mark = "PPJUNK";
	uint32_t base = 0;
	long long n = 0, rate = 0, limit_s = 60, sent = 0, errs = 0, k;
	int64_t t0, t_limit, due;
	int nsrc = 1, untrusted = 0, opt;
	size_t len;

	while ((opt = getopt(argc, argv, "c:k:n:R:S:s:t:u")) != -1) {
		switch (opt) {
		case 'c': tgt = optarg; break;
		case 'k': mark = optarg; break;
		case 'n': n = atoll(optarg); break;
		case 'R': rate = atoll(optarg); break;
		case 'S': base = addr4(optarg); break;
		case 's': nsrc = atoi(optarg); break;
		case 't': limit_s = atoll(optarg); break;
		case 'u': untrusted = 1; break;
		default: usage();
		}
	}
	if (target(tgt, &dst) != 0 || n < 1 || nsrc < 1 || nsrc > 200000 ||
	    strlen(mark) > 64 || rate < 0 || limit_s < 1)
		usage();
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	srcs = open_sources(nsrc, base, 0, &dst, -1);
	t0 = now_us();
	t_limit = t0 + limit_s * 1000000;
	for (k = 0; k < n && !stop; k++) {
		if (rate > 0 && (k & 31) == 0) {
			due = t0 + k * 1000000 / rate;
			while (now_us() < due && !stop)
				usleep((useconds_t)(due - now_us() > 2000 ?
				    2000 : due - now_us()));
		}
		if ((k & 1023) == 0 && now_us() >= t_limit)
			break;
		len = make_junk(buf, sizeof(buf), untrusted, mark, &dst);
		/* ECONNREFUSED: an ICMP error of an earlier one. */
		if (send(srcs[k % nsrc].fd, buf, len, 0) == -1 &&
		    send(srcs[k % nsrc].fd, buf, len, 0) == -1)
			errs++;
		else
			sent++;
	}
	printf("summary: junk=%lld sent=%lld send_errors=%lld "
	    "elapsed_ms=%" PRId64 "\n", k, sent, errs,
	    (now_us() - t0) / 1000);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc < 2)
		usage();
	signal(SIGPIPE, SIG_IGN);
	rng_state ^= (uint64_t)getpid() << 17;
	optind = 2;
	if (strcmp(argv[1], "echo") == 0)
		return run_echo(argc, argv);
	if (strcmp(argv[1], "load") == 0)
		return run_load(argc, argv);
	if (strcmp(argv[1], "junk") == 0)
		return run_junk(argc, argv);
	usage();
	return 64;
}
