/*
 * pp-load - load clients for the reliability tests, one epoll loop.
 *
 *   pp-load MODE -c HOST:PORT [options]
 *
 * Every connection talks to pp-echo (tests/tools/pp-echo.c) at the end of
 * the chain: it reads the greeting line "NAME WHO" (WHO is the client
 * address the server was told, or "-") and then checks that every byte it
 * sends comes back, in order, from a stream that is its own (generated
 * from the connection's number), so data lost, cut or mixed up between
 * connections is seen.  Modes:
 *
 *   chain   -n N -b BYTES: N connections held open at once (each one's
 *           round trip done before any starts its bulk transfer), then
 *           BYTES each, verified, half-closed, EOF expected.  With -H MS
 *           they all stay idle MS first, and -r FILE is written when
 *           that starts (to measure memory per idle connection).
 *   stream  -n N -d MS: N connections sending 1 KB every 10 ms for MS,
 *           verified; reports per connection which server it had and how
 *           and when (epoch ms) it ended.  -r FILE is written once every
 *           connection has its greeting.
 *   hold    -n N -H MS -A MS: N connections at once, each asking one
 *           question (answer within -A MS, else "unanswered"); everything
 *           is held open MS more, then closed.  -W PID: the CPU time that
 *           process used during the hold.
 *   slow    -n N -i MS -x MS: N connections each trickling a PROXY header
 *           a byte every -i MS; reports when the peer cut each one.
 *           Probes (below) run before (baseline) and during.
 *   junk    -n N -j CONC -x MS: N connections of random bytes and
 *           malformed headers, CONC at a time, each waiting for the peer
 *           to close it (within -x MS).  Probes run before and during.
 *   probe   -n N: N normal requests one after the other.
 *
 * Options: -p the client writes a v1 header with its own address first
 * (for a relay with --accept-proxy); -v the greeting's WHO must be this
 * connection's own address and port; -S ADDR the first source address
 * (connection i binds ADDR+i), -P ADDR the probes' source; -t SECONDS the
 * whole run's limit; -s SEED.
 *
 * Output: "key=value" lines on stdout, ending with one summary line.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { M_CHAIN, M_STREAM, M_HOLD, M_SLOW, M_JUNK, M_PROBE };
enum st {
	S_IDLE, S_CONNECTING, S_HELLO, S_HELD, S_BULK, S_STREAM, S_DRAIN,
	S_TRICKLE, S_WAITCUT, S_DONE, S_FAILED
};

struct conn {
	int		fd;
	int		id;
	int		probe;		/* a probe, not a load connection */
	enum st		st;
	int64_t		t0, t_conn, t_end, next_ms, deadline;
	int64_t		end_epoch;
	uint32_t	src;		/* source address, host order; 0 any */
	char		lname[64];	/* own "addr:port" */
	uint8_t		pre[512];	/* header and hello, or junk */
	size_t		prelen, preoff;
	char		hello[64];
	size_t		hello_len;
	uint64_t	total;		/* bulk bytes to send after pre */
	uint64_t	sent;		/* bulk bytes sent */
	uint64_t	echoed;		/* echo stream bytes verified */
	char		greet[160];
	size_t		glen;
	int		greeted;
	int		answered;	/* hello echoed */
	uint64_t	got;		/* bytes from a peer that should say nothing */
	char		server[40];
	const char	*err;
};

static enum mode mode;
static struct sockaddr_in dst;
static int nconn = 1, conc = 256, send_hdr, verify;
static uint64_t bytes = 65536;
static int64_t dur_ms = 3000, hold_ms = 2000, answer_ms = 3000;
static int64_t tick_ms = 1000, cut_ms = 10000, limit_s = 60;
static uint32_t src_base, probe_src;
static uint64_t seed = 1;
static int watch_pid, hold_set;
static const char *ready_file;
static int ep;
static struct conn *conns;
static int nprobe_done, nprobe_fail, probes_max = 1000000;
static int64_t lat[100000];
static int nlat;
static int64_t worst_lat = -1, worst_at = -1, phase_t0;	/* slowest probe */
static uint8_t scratch[1 << 16];
static uint8_t expbuf[1 << 16];

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
epoch_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The bulk stream of connection id, bytes [off, off + len). */
static void
gen_fill(int id, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t blk, w;
	size_t i = 0;

	while (i < len) {
		blk = (off + i) >> 3;
		w = mix(seed ^ ((uint64_t)id << 40) ^ blk);
		for (; i < len && ((off + i) >> 3) == blk; i++)
			buf[i] = (uint8_t)(w >> (((off + i) & 7) * 8));
	}
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

static void
fail(struct conn *c, const char *why)
{
	if (c->st == S_DONE || c->st == S_FAILED)
		return;
	c->err = why;
	c->st = S_FAILED;
	c->t_end = now_ms();
	c->end_epoch = epoch_ms();
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
finish(struct conn *c)
{
	c->st = S_DONE;
	c->t_end = now_ms();
	c->end_epoch = epoch_ms();
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void
want(struct conn *c, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
start(struct conn *c)
{
	struct sockaddr_in sa;
	struct epoll_event ev;
	int one = 1;

	c->t0 = now_ms();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, "socket");
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->src) {
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(c->src);
		if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fail(c, "bind");
			return;
		}
	}
	c->st = S_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 &&
	    errno != EINPROGRESS) {
		fail(c, "connect");
		return;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/*
 * Junk that no correct PROXY parser can take for a header: random bytes,
 * malformed headers (refused at once) and headers cut short (refused at
 * the header timeout).
 */
static size_t
make_junk(uint8_t *b, size_t cap)
{
	static const uint8_t sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	static const char *v1 = "PROXY TCP4 198.18.0.9 198.18.0.1 40000 80\r\n";
	size_t n = 1 + rnd() % (cap - 1), i;
	int kind = (int)(rnd() % 8);

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
	switch (kind) {
	case 0:		/* random, not starting like either signature */
		while (b[0] == 'P' || b[0] == '\r')
			b[0] = (uint8_t)rnd();
		break;
	case 1:		/* a v1 start, then no CRLF within 107 bytes */
		n = 120 + rnd() % 100;
		memcpy(b, "PROXY ", 6);
		for (i = 6; i < n; i++)
			b[i] = (uint8_t)('a' + rnd() % 26);
		break;
	case 2:		/* v1 with letters where the addresses go */
		n = (size_t)snprintf((char *)b, cap, "PROXY TCP4 %c%c%c %c%c "
		    "1 2\r\nhello", 'a' + (int)(rnd() % 26),
		    'a' + (int)(rnd() % 26), 'a' + (int)(rnd() % 26),
		    'a' + (int)(rnd() % 26), 'a' + (int)(rnd() % 26));
		break;
	case 3:		/* v2, command nibble neither LOCAL nor PROXY */
		n = 16 + 12 + rnd() % 64;
		memcpy(b, sig, 12);
		b[12] = (uint8_t)(0x22 + rnd() % 14);
		b[13] = 0x11;
		b[14] = 0;
		b[15] = 12;
		break;
	case 4:		/* v2, version nibble not 2 */
		n = 16 + 12 + rnd() % 64;
		memcpy(b, sig, 12);
		b[12] = (uint8_t)((rnd() % 2 ? 0x11 : 0x31) + (rnd() % 2) * 0x40);
		b[13] = 0x11;
		b[14] = 0;
		b[15] = 12;
		break;
	case 6:		/* a v1 header cut short: the header timeout's job */
		n = 1 + rnd() % (strlen(v1) - 2);
		memcpy(b, v1, n);
		break;
	case 7:		/* a v2 header cut short */
		memcpy(b, sig, 12);
		b[12] = 0x21;
		b[13] = 0x11;
		b[14] = 0;
		b[15] = 12;
		n = 1 + rnd() % 27;
		break;
	default:	/* v2 PROXY INET with a length short of 12 bytes */
		n = 16 + 8 + rnd() % 64;
		memcpy(b, sig, 12);
		b[12] = 0x21;
		b[13] = 0x11;
		b[14] = 0;
		b[15] = (uint8_t)(rnd() % 12);
		break;
	}
	return n;
}

/* The connect finished: what to send. */
static void
connected(struct conn *c)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char ip[INET_ADDRSTRLEN], dip[INET_ADDRSTRLEN];
	int err = 0, n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err) {
		fail(c, err == ECONNREFUSED ? "connect refused" :
		    err == ETIMEDOUT ? "connect timeout" : "connect error");
		return;
	}
	c->t_conn = now_ms();
	sl = sizeof(sa);
	getsockname(c->fd, (struct sockaddr *)&sa, &sl);
	inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
	inet_ntop(AF_INET, &dst.sin_addr, dip, sizeof(dip));
	snprintf(c->lname, sizeof(c->lname), "%s:%u", ip, ntohs(sa.sin_port));
	c->prelen = c->preoff = 0;
	if (!c->probe && mode == M_JUNK) {
		c->prelen = make_junk(c->pre, 300);
		c->st = S_WAITCUT;
		want(c, EPOLLIN | EPOLLOUT);
		return;
	}
	if (!c->probe && mode == M_SLOW) {
		n = snprintf((char *)c->pre, sizeof(c->pre),
		    "PROXY TCP4 198.18.%d.%d 198.18.0.1 %d 80\r\n",
		    c->id / 250 % 250, c->id % 250 + 1, 10000 + c->id);
		c->prelen = (size_t)n;
		c->st = S_TRICKLE;
		c->next_ms = now_ms();
		want(c, EPOLLIN);
		return;
	}
	if (send_hdr || (c->probe && send_hdr))
		c->prelen = (size_t)snprintf((char *)c->pre, sizeof(c->pre),
		    "PROXY TCP4 %s %s %u %u\r\n", ip, dip, ntohs(sa.sin_port),
		    ntohs(dst.sin_port));
	c->hello_len = (size_t)snprintf(c->hello, sizeof(c->hello),
	    "%s %d\n", c->probe ? "PING" : "HELLO", c->id);
	memcpy(c->pre + c->prelen, c->hello, c->hello_len);
	c->prelen += c->hello_len;
	c->st = S_HELLO;
	want(c, EPOLLIN | EPOLLOUT);
}

/* Check received echo bytes against the connection's own stream. */
static int
verify_echo(struct conn *c, const uint8_t *b, size_t n)
{
	size_t i = 0, k;

	while (i < n && c->echoed < c->hello_len) {
		if (b[i] != (uint8_t)c->hello[c->echoed])
			return -1;
		i++;
		c->echoed++;
	}
	if (i == n)
		return 0;
	k = n - i;
	if (c->echoed - c->hello_len + k > c->sent)
		return -1;	/* more than was sent: someone else's */
	gen_fill(c->id, c->echoed - c->hello_len, expbuf, k);
	if (memcmp(b + i, expbuf, k) != 0)
		return -1;
	c->echoed += k;
	return 0;
}

static void
on_greeting(struct conn *c)
{
	char *sp, *nl;

	nl = memchr(c->greet, '\n', c->glen);
	*nl = '\0';
	sp = strchr(c->greet, ' ');
	if (sp == NULL) {
		fail(c, "bad greeting");
		return;
	}
	*sp = '\0';
	snprintf(c->server, sizeof(c->server), "%.39s", c->greet);
	if (verify && strcmp(sp + 1, c->lname) != 0) {
		fprintf(stderr, "pp-load: conn %d is %s but the server was "
		    "told %s\n", c->id, c->lname, sp + 1);
		fail(c, "wrong address at the server");
		return;
	}
	c->greeted = 1;
}

static void
on_read(struct conn *c)
{
	ssize_t n;
	size_t used, take;
	uint8_t *p;

	n = read(c->fd, scratch, sizeof(scratch));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (c->st == S_WAITCUT || c->st == S_TRICKLE) {
		if (n > 0) {
			c->got += (uint64_t)n;
			return;
		}
		finish(c);	/* the peer cut it: what we wait for */
		return;
	}
	if (n <= 0) {
		if (n == 0 && c->st == S_DRAIN &&
		    c->echoed == c->hello_len + c->total) {
			finish(c);
			return;
		}
		fail(c, n == 0 ? "closed early" : "reset");
		return;
	}
	p = scratch;
	used = (size_t)n;
	if (!c->greeted) {
		take = 0;
		while (take < used && c->glen < sizeof(c->greet) - 1) {
			c->greet[c->glen++] = p[take++];
			if (p[take - 1] == '\n')
				break;
		}
		if (c->greet[c->glen - 1] != '\n') {
			if (c->glen >= sizeof(c->greet) - 1)
				fail(c, "bad greeting");
			return;
		}
		on_greeting(c);
		if (c->st == S_FAILED)
			return;
		p += take;
		used -= take;
	}
	if (verify_echo(c, p, used) < 0) {
		fail(c, "data mismatch");
		return;
	}
	if (c->st == S_HELLO && c->echoed == c->hello_len) {
		if (c->probe) {
			if (nlat < (int)(sizeof(lat) / sizeof(lat[0])))
				lat[nlat++] = now_ms() - c->t0;
			if (now_ms() - c->t0 >= worst_lat) {
				worst_lat = now_ms() - c->t0;
				worst_at = c->t0 - phase_t0;
			}
			finish(c);
			return;
		}
		c->answered = 1;
		c->st = S_HELD;
		want(c, EPOLLIN);
	}
}

static void
on_write(struct conn *c)
{
	ssize_t n;
	size_t k;

	if (c->preoff < c->prelen && c->st != S_TRICKLE) {
		n = write(c->fd, c->pre + c->preoff, c->prelen - c->preoff);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			if (c->st == S_WAITCUT)
				finish(c);	/* cut while we wrote */
			else
				fail(c, "write error");
			return;
		}
		c->preoff += (size_t)n;
		if (c->preoff < c->prelen)
			return;
	}
	switch (c->st) {
	case S_BULK:
		while (c->sent < c->total) {
			k = c->total - c->sent;
			if (k > 16384)
				k = 16384;
			gen_fill(c->id, c->sent, scratch, k);
			n = write(c->fd, scratch, k);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n < 0) {
				fail(c, "write error");
				return;
			}
			c->sent += (uint64_t)n;
		}
		shutdown(c->fd, SHUT_WR);
		c->st = S_DRAIN;
		want(c, EPOLLIN);
		return;
	case S_STREAM:
		/* One chunk a tick; the tick re-arms EPOLLOUT. */
		want(c, EPOLLIN);
		return;
	default:
		want(c, EPOLLIN);
		return;
	}
}

/* Stream mode: a chunk every 10 ms while the window allows. */
static void
stream_tick(struct conn *c, int64_t t)
{
	uint8_t buf[1024];
	ssize_t n;

	if (c->st != S_STREAM || t < c->next_ms)
		return;
	c->next_ms = t + 10;
	if (t >= c->deadline) {
		c->total = c->sent;
		shutdown(c->fd, SHUT_WR);
		c->st = S_DRAIN;
		if (c->echoed == c->hello_len + c->total)
			want(c, EPOLLIN);
		return;
	}
	if (c->sent - (c->echoed - c->hello_len) > 65536)
		return;
	gen_fill(c->id, c->sent, buf, sizeof(buf));
	n = write(c->fd, buf, sizeof(buf));
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		fail(c, errno == EPIPE ? "closed early" : "reset");
		return;
	}
	if (n > 0)
		c->sent += (uint64_t)n;
}

static void
trickle_tick(struct conn *c, int64_t t)
{
	ssize_t n;

	if (c->st != S_TRICKLE || t < c->next_ms)
		return;
	c->next_ms += tick_ms;
	if (c->preoff >= c->prelen)
		return;
	n = write(c->fd, c->pre + c->preoff, 1);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		finish(c);	/* cut: EPIPE or ECONNRESET */
		return;
	}
	if (n > 0)
		c->preoff++;
}

static void
dispatch(struct epoll_event *e)
{
	struct conn *c = e->data.ptr;

	if (c->fd < 0)
		return;
	if (c->st == S_CONNECTING) {
		if (e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			connected(c);
		return;
	}
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))
		on_read(c);
	if (c->fd >= 0 && (e->events & EPOLLOUT))
		on_write(c);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* CPU time (ms) a process has used, from /proc. */
static int64_t
cpu_ms(int pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* fields 14 and 15 after "pid (comm)", counting state as field 3 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return -1;
	return (int64_t)(ut + st) * 1000 / sysconf(_SC_CLK_TCK);
}

static struct conn probe;
static int probe_id = 100000;

/* Probes: one at a time, one every probe_ms; a slow one fails at 2 s. */
static void
probe_tick(int64_t t, int64_t *next, int64_t every)
{
	if (probe.st == S_CONNECTING || probe.st == S_HELLO) {
		if (t - probe.t0 > 2000) {
			fail(&probe, "probe timeout");
			nprobe_fail++;
			fprintf(stderr, "pp-load: probe %d: no answer in 2 s\n",
			    probe.id);
		}
		return;
	}
	if (probe.st == S_FAILED && probe.err != NULL) {
		nprobe_fail++;
		fprintf(stderr, "pp-load: probe %d failed: %s\n", probe.id,
		    probe.err);
		probe.err = NULL;
	}
	if (probe.st == S_DONE && probe.t_end) {
		nprobe_done++;
		probe.t_end = 0;
	}
	if (t < *next || nprobe_done + nprobe_fail >= probes_max)
		return;
	*next = t + every;
	memset(&probe, 0, sizeof(probe));
	probe.fd = -1;
	probe.probe = 1;
	probe.id = probe_id++;
	probe.src = probe_src;
	start(&probe);
}

static void
usage(void)
{
	fprintf(stderr, "usage: pp-load chain|stream|hold|slow|junk|probe "
	    "-c HOST:PORT [-pv] [-n N] [-b BYTES] [-d MS] [-H MS] [-A MS]\n"
	    "       [-i MS] [-x MS] [-j CONC] [-S ADDR] [-P ADDR] [-r FILE] "
	    "[-W PID] [-t SECONDS] [-s SEED]\n");
	exit(64);
}

static uint32_t
addr4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		usage();
	return ntohl(a.s_addr);
}

static void
lat_report(const char *label)
{
	int64_t p50 = -1, mx = -1;

	if (nlat > 0) {
		qsort(lat, (size_t)nlat, sizeof(lat[0]), cmp64);
		p50 = lat[nlat / 2];
		mx = lat[nlat - 1];
	}
	printf("%s_probes=%d %s_probe_failures=%d %s_p50_ms=%" PRId64
	    " %s_max_ms=%" PRId64 " %s_slowest_at_ms=%" PRId64 "\n", label,
	    nlat, label, nprobe_fail, label, p50, label, mx, label, worst_at);
	worst_lat = worst_at = -1;
	phase_t0 = now_ms();
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[512];
	char host[64], *colon;
	const char *target = NULL;
	int opt, i, n, active, pending, ok, failed, peak = 0, held;
	int64_t t, t_start, t_limit, next_probe, cpu0 = -1, cpu1 = -1;
	int64_t hold_until = 0;
	uint64_t verified = 0;
	int nprobe_base = 0, trickling = 0;
	struct conn *c;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "chain") == 0)
		mode = M_CHAIN;
	else if (strcmp(argv[1], "stream") == 0)
		mode = M_STREAM;
	else if (strcmp(argv[1], "hold") == 0)
		mode = M_HOLD;
	else if (strcmp(argv[1], "slow") == 0)
		mode = M_SLOW;
	else if (strcmp(argv[1], "junk") == 0)
		mode = M_JUNK;
	else if (strcmp(argv[1], "probe") == 0)
		mode = M_PROBE;
	else
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "A:b:c:d:H:i:j:n:pP:r:s:S:t:vW:x:"))
	    != -1) {
		switch (opt) {
		case 'A': answer_ms = atoll(optarg); break;
		case 'b': bytes = strtoull(optarg, NULL, 10); break;
		case 'c': target = optarg; break;
		case 'd': dur_ms = atoll(optarg); break;
		case 'H': hold_ms = atoll(optarg); hold_set = 1; break;
		case 'i': tick_ms = atoll(optarg); break;
		case 'j': conc = atoi(optarg); break;
		case 'n': nconn = atoi(optarg); break;
		case 'p': send_hdr = 1; break;
		case 'P': probe_src = addr4(optarg); break;
		case 'r': ready_file = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'S': src_base = addr4(optarg); break;
		case 't': limit_s = atoll(optarg); break;
		case 'v': verify = 1; break;
		case 'W': watch_pid = atoi(optarg); break;
		case 'x': cut_ms = atoll(optarg); break;
		default: usage();
		}
	}
	if (target == NULL || nconn < 1 || nconn > 100000 || conc < 1 ||
	    strlen(target) >= sizeof(host) ||
	    (colon = strrchr(target, ':')) == NULL)
		usage();
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	dst.sin_addr.s_addr = htonl(addr4(host));
	rng_state ^= mix(seed);
	signal(SIGPIPE, SIG_IGN);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if ((conns = calloc((size_t)nconn, sizeof(*conns))) == NULL)
		return 1;
	for (i = 0; i < nconn; i++) {
		conns[i].fd = -1;
		conns[i].id = i;
		conns[i].src = src_base ? src_base + 1 + (uint32_t)i : 0;
		conns[i].total = mode == M_CHAIN ? bytes : 0;
	}
	probe.fd = -1;
	t_start = phase_t0 = now_ms();
	t_limit = t_start + limit_s * 1000;

	/* Probes alone first: the baseline (and all of "probe" mode). */
	if (mode == M_SLOW || mode == M_JUNK || mode == M_PROBE) {
		probes_max = mode == M_PROBE ? nconn : 10;
		next_probe = now_ms();
		while (nprobe_done + nprobe_fail < probes_max &&
		    now_ms() < t_limit) {
			n = epoll_wait(ep, evs, 512, 5);
			for (i = 0; i < n; i++)
				dispatch(&evs[i]);
			probe_tick(now_ms(), &next_probe, 0);
		}
		lat_report(mode == M_PROBE ? "probe" : "baseline");
		if (mode == M_PROBE) {
			printf("summary: probes=%d ok=%d failed=%d\n",
			    nprobe_done + nprobe_fail, nprobe_done, nprobe_fail);
			return nprobe_fail || nprobe_done < nconn;
		}
		nprobe_base = nprobe_done;
		nlat = 0;
		nprobe_done = nprobe_fail = 0;
		probes_max = 1000000;
	}

	next_probe = now_ms();
	for (;;) {
		t = now_ms();
		active = pending = ok = failed = held = 0;
		for (i = 0; i < nconn; i++) {
			c = &conns[i];
			switch (c->st) {
			case S_CONNECTING: case S_HELLO:
				pending++;
				active++;
				/* hold: an answer is due within -A */
				if (mode == M_HOLD && t - c->t0 > answer_ms) {
					c->err = "unanswered";
					c->st = S_HELD;
					pending--;
					held++;
				} else if (mode != M_HOLD &&
				    t - c->t0 > 10000) {
					fail(c, "no answer in 10 s");
				}
				break;
			case S_HELD:
				held++;
				active++;
				break;
			case S_DONE:
				ok++;
				break;
			case S_FAILED:
				failed++;
				break;
			case S_IDLE:
				break;
			case S_STREAM: case S_DRAIN: case S_BULK:
				active++;
				stream_tick(c, t);
				break;
			case S_TRICKLE: case S_WAITCUT:
				active++;
				if (c->st == S_TRICKLE)
					trickle_tick(c, t);
				if (c->fd >= 0 && t - c->t_conn > cut_ms) {
					c->err = "not cut";
					c->st = S_FAILED;
					close(c->fd);
					c->fd = -1;
				}
				break;
			}
		}
		if (active > peak)
			peak = active;
		/* Open more, within the concurrency limit. */
		for (i = 0; i < nconn && pending < conc; i++) {
			if (conns[i].st != S_IDLE)
				continue;
			if (mode == M_JUNK && active >= conc)
				break;
			start(&conns[i]);
			pending++;
			active++;
		}
		/*
		 * Probes during the load; for slow senders once they are all
		 * in and trickling, so that what is measured is their effect,
		 * not the burst of 500 handshakes (nor this loop's own work
		 * on them).
		 */
		if (mode == M_JUNK || (mode == M_SLOW && (trickling ||
		    pending == 0)))
			probe_tick(t, &next_probe, 100);
		if (mode == M_SLOW && pending == 0 && !trickling) {
			trickling = 1;
			printf("all_in_ms=%" PRId64 "\n", t - t_start);
		}

		/* chain: everyone is in (or out); start the transfers. */
		if (mode == M_CHAIN && pending == 0 && held > 0 &&
		    ok + failed + held == nconn && hold_until == 0) {
			/* -H: everyone stays idle that long first (-r says so). */
			hold_until = t + (hold_set ? hold_ms : 0);
			printf("held_at_once=%d\n", held);
			fflush(stdout);
			if (ready_file != NULL) {
				FILE *f = fopen(ready_file, "w");
				if (f != NULL) {
					fprintf(f, "%d\n", held);
					fclose(f);
				}
			}
		}
		if (mode == M_CHAIN && hold_until && t >= hold_until &&
		    held > 0 && pending == 0) {
			peak = held;
			for (i = 0; i < nconn; i++)
				if (conns[i].st == S_HELD) {
					conns[i].st = S_BULK;
					want(&conns[i], EPOLLIN | EPOLLOUT);
				}
		}
		/* stream: everyone greeted; start the clock. */
		if (mode == M_STREAM && pending == 0 && held > 0 &&
		    ok + failed + held == nconn) {
			for (i = 0; i < nconn; i++)
				if (conns[i].st == S_HELD) {
					conns[i].st = S_STREAM;
					conns[i].deadline = t + dur_ms;
					conns[i].next_ms = t;
				}
			if (ready_file != NULL) {
				FILE *f = fopen(ready_file, "w");
				if (f != NULL) {
					fprintf(f, "%d\n", held);
					fclose(f);
				}
			}
		}
		/* hold: everyone answered, shed or timed out: hold on. */
		if (mode == M_HOLD && pending == 0 && hold_until == 0 &&
		    ok + failed + held == nconn) {
			hold_until = t + hold_ms;
			if (watch_pid)
				cpu0 = cpu_ms(watch_pid);
		}
		if (mode == M_HOLD && hold_until && t >= hold_until) {
			if (watch_pid)
				cpu1 = cpu_ms(watch_pid);
			break;
		}
		if (ok + failed == nconn && mode != M_HOLD &&
		    (probe.st != S_CONNECTING && probe.st != S_HELLO))
			break;
		if (t >= t_limit)
			break;
		n = epoll_wait(ep, evs, 512, 5);
		for (i = 0; i < n; i++)
			dispatch(&evs[i]);
	}

	/* Report. */
	{
		int served = 0, shed = 0, unanswered = 0, cut = 0, notcut = 0;
		int timeout = 0, errs = 0, nerr[16] = { 0 }, k;
		const char *ename[16] = { 0 };
		int64_t cmin = -1, cmax = -1, d;
		uint64_t got = 0;

		for (i = 0; i < nconn; i++) {
			c = &conns[i];
			verified += c->echoed;
			got += c->got;
			if (mode == M_STREAM) {
				char why[40], *q;

				snprintf(why, sizeof(why), "%s", c->st == S_DONE ?
				    "done" : c->st == S_FAILED ? c->err :
				    "timeout");
				for (q = why; *q; q++)
					if (*q == ' ')
						*q = '_';
				printf("conn %d server %s status %s bytes %" PRIu64
				    " end_epoch_ms %" PRId64 "\n", c->id,
				    c->server[0] ? c->server : "-", why,
				    c->echoed > c->hello_len ?
				    c->echoed - c->hello_len : 0, c->end_epoch);
			}
			if (mode == M_HOLD) {
				if (c->answered)
					served++;
				else if (c->st == S_FAILED)
					shed++;
				else
					unanswered++;
				continue;
			}
			if (mode == M_SLOW || mode == M_JUNK) {
				if (c->st == S_DONE) {
					cut++;
					d = c->t_end - c->t_conn;
					if (cmin < 0 || d < cmin)
						cmin = d;
					if (d > cmax)
						cmax = d;
				} else
					notcut++;
				if (c->st == S_FAILED && c->err && c->fd < 0 &&
				    strncmp(c->err, "connect", 7) == 0)
					errs++;
				continue;
			}
			if (c->st == S_DONE)
				continue;
			if (c->st != S_FAILED)
				timeout++;
			errs++;
			for (k = 0; k < 16; k++) {
				const char *e = c->st == S_FAILED ? c->err :
				    "timeout";
				if (ename[k] == NULL || strcmp(ename[k], e) == 0) {
					ename[k] = e;
					nerr[k]++;
					break;
				}
			}
		}
		for (k = 0; k < 16 && ename[k]; k++)
			printf("error %s: %d\n", ename[k], nerr[k]);
		for (i = 0; i < nconn; i++) {
			c = &conns[i];
			if (c->fd >= 0)
				close(c->fd);
		}
		switch (mode) {
		case M_CHAIN:
		case M_STREAM:
			printf("summary: connections=%d ok=%d errors=%d "
			    "timeouts=%d bytes_verified=%" PRIu64 " peak=%d "
			    "elapsed_ms=%" PRId64 "\n", nconn, nconn - errs, errs,
			    timeout, verified, peak, now_ms() - t_start);
			break;
		case M_HOLD:
			printf("summary: attempts=%d served=%d shed=%d "
			    "unanswered=%d daemon_cpu_ms=%" PRId64
			    " hold_ms=%" PRId64 " elapsed_ms=%" PRId64 "\n",
			    nconn, served, shed, unanswered,
			    cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1, hold_ms,
			    now_ms() - t_start);
			break;
		case M_SLOW:
		case M_JUNK:
			lat_report("during");
			printf("summary: connections=%d cut=%d not_cut=%d "
			    "connect_errors=%d cut_min_ms=%" PRId64
			    " cut_max_ms=%" PRId64 " bytes_from_peer=%" PRIu64
			    " baseline_probes=%d probes=%d probe_failures=%d "
			    "elapsed_ms=%" PRId64 "\n", nconn, cut, notcut, errs,
			    cmin, cmax, got, nprobe_base, nlat, nprobe_fail,
			    now_ms() - t_start);
			break;
		case M_PROBE:
			break;
		}
	}
	return 0;
}
