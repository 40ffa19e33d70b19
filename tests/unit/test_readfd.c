/*
 * test_readfd.c - pp_read_fd() on a socketpair, a pipe and a TCP loopback
 * connection: exactly the header is consumed and the payload stays intact,
 * headers split across delayed writes, timeouts, EOF, size limits,
 * PP_READ_OPTIONAL and the version flags.  A forked writer plays the peer;
 * every wait is bounded and an alarm ends a stuck run.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxyhdr.h"
#include "t.h"

#define GUARD_S		120	/* the whole run, at most */
#define TMO		300	/* ms, for the timeout cases */
#define MARGIN		250	/* ms a timeout may run over */

enum { CH_SOCKETPAIR, CH_PIPE, CH_TCP, NCH };
static const char *const chname[NCH] = { "socketpair", "pipe", "tcp" };

struct chunk {
	const void	*p;
	size_t		 n;
	int		 delay_ms;	/* before this write */
};

static const char v1hdr[] = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";
static const char payload[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n"
    "PROXY TCP4 6.6.6.6 7.7.7.7 1 2\r\n\0\r\n";
#define PAYLOAD_LEN	(sizeof(payload) - 1)

static uint8_t v2hdr[256];	/* INET + ALPN + AUTHORITY + CRC32C */
static size_t v2len;
static uint8_t bighdr[8192];	/* INET + a 4000-byte NOOP */
static size_t biglen;

static void
alarm_handler(int sig)
{
	static const char msg[] = "Bail out! test_readfd took too long\n";

	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fd[0] is read by the test, fd[1] written by the peer. */
static int
mkchan(int kind, int fd[2])
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int l, c, a;

	switch (kind) {
	case CH_SOCKETPAIR:
		return socketpair(AF_UNIX, SOCK_STREAM, 0, fd);
	case CH_PIPE:
		return pipe(fd);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &sl) == -1 ||
	    (c = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		close(l);
		return -1;
	}
	if (connect(c, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (a = accept(l, NULL, NULL)) == -1) {
		close(c);
		close(l);
		return -1;
	}
	close(l);
	fd[0] = a;
	fd[1] = c;
	return 0;
}

/*
 * Fork a peer that writes the chunks into fd[1], then stays silent for
 * hold_ms with the descriptor open, then closes it.  The parent keeps only
 * fd[0].
 */
static pid_t
peer(int fd[2], const struct chunk *c, size_t n, int hold_ms)
{
	pid_t pid;
	size_t i;

	fflush(stdout);
	pid = fork();
	if (pid == -1) {
		printf("Bail out! fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		close(fd[0]);
		for (i = 0; i < n; i++) {
			if (c[i].delay_ms > 0)
				sleep_ms(c[i].delay_ms);
			if (write_all(fd[1], c[i].p, c[i].n) == -1)
				_exit(1);
		}
		if (hold_ms > 0)
			sleep_ms(hold_ms);
		close(fd[1]);
		_exit(0);
	}
	close(fd[1]);
	return pid;
}

static void
reap(pid_t pid)
{
	int st;

	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
}

/* Everything left on fd until EOF; at most 5 s of waiting. */
static size_t
drain(int fd, uint8_t *buf, size_t cap)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	long end = now_ms() + 5000;
	size_t n = 0;
	ssize_t r;

	while (n < cap) {
		if (poll(&pfd, 1, (int)(end - now_ms())) <= 0)
			break;
		r = read(fd, buf + n, cap - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

static const char *
rname(int r)
{
	static char buf[64];

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%d", r);
	else
		snprintf(buf, sizeof(buf), "-%s", pp_errname(r));
	return buf;
}

static void
init_headers(void)
{
	struct pp_header h;
	struct pp_tlv t[2];
	struct sockaddr_in *s = (struct sockaddr_in *)(void *)&h.src;
	struct sockaddr_in *d = (struct sockaddr_in *)(void *)&h.dst;
	static uint8_t noop[4000];
	int n;

	memset(&h, 0, sizeof(h));
	h.command = PP_V2_CMD_PROXY;
	s->sin_family = d->sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &s->sin_addr);
	inet_pton(AF_INET, "198.51.100.7", &d->sin_addr);
	s->sin_port = htons(56324);
	d->sin_port = htons(443);
	t[0].type = PP_TLV_ALPN, t[0].len = 2, t[0].value =
	    (const uint8_t *)"h2";
	t[1].type = PP_TLV_AUTHORITY, t[1].len = 11, t[1].value =
	    (const uint8_t *)"example.com";
	n = pp_build_v2(v2hdr, sizeof(v2hdr), &h, t, 2, PP_BUILD_CRC32C);
	memset(noop, 'n', sizeof(noop));
	t[0].type = PP_TLV_NOOP, t[0].len = sizeof(noop), t[0].value = noop;
	biglen = (size_t)pp_build_v2(bighdr, sizeof(bighdr), &h, t, 1, 0);
	if (n <= 0 || (int)biglen <= 0) {
		printf("Bail out! pp_build_v2 failed: %d %d\n", n, (int)biglen);
		exit(1);
	}
	v2len = (size_t)n;
}

/*
 * Send the chunks on a fresh channel, read one header with pp_read_fd,
 * check the result, then that the rest of the stream is exactly rest.
 */
static void
expect_header(int kind, const char *name, const struct chunk *c, size_t n,
    int want, const void *rest, size_t restlen, int flags)
{
	static uint8_t buf[PP_HDR_MAX], tail[16384];
	struct pp_header h;
	int fd[2], r;
	size_t got;
	pid_t pid;

	if (mkchan(kind, fd) == -1) {
		ok(0, "%s: %s: channel: %s", chname[kind], name,
		    strerror(errno));
		return;
	}
	pid = peer(fd, c, n, 0);
	memset(&h, 0xa5, sizeof(h));
	r = pp_read_fd(fd[0], buf, sizeof(buf), &h, 5000, flags);
	ok(r == want && h.hdr_len == (uint32_t)want && h.has_addr == 1,
	    "%s: %s: pp_read_fd returns the %d-byte header (%s)",
	    chname[kind], name, want, rname(r));
	got = drain(fd[0], tail, sizeof(tail));
	is_mem(tail, got, rest, restlen, "%s: %s: the payload is intact",
	    chname[kind], name);
	close(fd[0]);
	reap(pid);
}

/* A failing read: the code, and how long it took. */
static int
expect_error(int kind, const char *name, const struct chunk *c, size_t n,
    int hold_ms, size_t cap, int tmo, int flags, int want,
    struct pp_header *h, long *ms)
{
	static uint8_t buf[PP_HDR_MAX];
	int fd[2], r;
	long t0;
	pid_t pid;

	if (mkchan(kind, fd) == -1) {
		ok(0, "%s: %s: channel: %s", chname[kind], name,
		    strerror(errno));
		return -1;
	}
	pid = peer(fd, c, n, hold_ms);
	memset(h, 0xa5, sizeof(*h));
	t0 = now_ms();
	r = pp_read_fd(fd[0], buf, cap, h, tmo, flags);
	*ms = now_ms() - t0;
	ok(r == want, "%s: %s: %s (got %s after %ld ms)", chname[kind], name,
	    rname(want), rname(r), *ms);
	close(fd[0]);
	reap(pid);
	return r;
}

static void
per_channel(int kind)
{
	const uint8_t *v2 = v2hdr;
	struct pp_header h;
	long ms;
	int r;

	/* Header and payload in one write. */
	{
		struct chunk c[] = { { v1hdr, sizeof(v1hdr) - 1, 0 },
		    { payload, PAYLOAD_LEN, 0 } };
		uint8_t all[512];

		memcpy(all, v1hdr, sizeof(v1hdr) - 1);
		memcpy(all + sizeof(v1hdr) - 1, payload, PAYLOAD_LEN);
		c[0].p = all;
		c[0].n = sizeof(v1hdr) - 1 + PAYLOAD_LEN;
		expect_header(kind, "v1 + payload in one write", c, 1,
		    (int)sizeof(v1hdr) - 1, payload, PAYLOAD_LEN, 0);
		memcpy(all, v2, v2len);
		memcpy(all + v2len, payload, PAYLOAD_LEN);
		c[0].n = v2len + PAYLOAD_LEN;
		expect_header(kind, "v2 with TLVs + payload in one write", c,
		    1, (int)v2len, payload, PAYLOAD_LEN, 0);
	}

	/* Split across delayed writes; payload with the last piece. */
	{
		uint8_t last[512];
		struct chunk c[] = {
			{ v2, 1, 0 }, { v2 + 1, 11, 30 }, { v2 + 12, 4, 30 },
			{ v2 + 16, 10, 30 }, { last, 0, 30 },
		};

		memcpy(last, v2 + 26, v2len - 26);
		memcpy(last + v2len - 26, payload, PAYLOAD_LEN);
		c[4].n = v2len - 26 + PAYLOAD_LEN;
		expect_header(kind, "v2 in five delayed writes", c, 5,
		    (int)v2len, payload, PAYLOAD_LEN, 0);
	}
	{
		const char *p = v1hdr;
		size_t l = sizeof(v1hdr) - 1;
		uint8_t last[512];
		struct chunk c[] = {
			{ p, 3, 0 }, { p + 3, 9, 30 }, { p + 12, l - 13, 30 },
			{ last, 0, 30 },
		};

		last[0] = '\n';
		memcpy(last + 1, payload, PAYLOAD_LEN);
		c[3].n = 1 + PAYLOAD_LEN;
		expect_header(kind, "v1 in four delayed writes, LF with the "
		    "payload", c, 4, (int)l, payload, PAYLOAD_LEN, 0);
	}
	{
		struct chunk c[] = { { v1hdr, sizeof(v1hdr) - 1, 0 },
		    { payload, PAYLOAD_LEN, 100 } };

		expect_header(kind, "v1, payload 100 ms later", c, 2,
		    (int)sizeof(v1hdr) - 1, payload, PAYLOAD_LEN, 0);
	}
	{
		struct chunk c[] = { { bighdr, 10, 0 },
		    { bighdr + 10, 2000, 30 }, { bighdr + 2010, biglen - 2010,
		    30 }, { payload, PAYLOAD_LEN, 0 } };

		expect_header(kind, "v2 of 4 KB in three writes", c, 4,
		    (int)biglen, payload, PAYLOAD_LEN, 0);
	}

	/* End of input inside the header. */
	{
		struct chunk c[] = { { v1hdr, 20, 0 } };

		r = expect_error(kind, "EOF after 20 bytes of v1", c, 1, 0,
		    PP_HDR_MAX, 5000, 0, -PP_ETRUNC, &h, &ms);
		if (r == -PP_ETRUNC)
			ok(h.need > 20, "%s: truncated v1: need %u > 20",
			    chname[kind], h.need);
		c[0].p = v2;
		c[0].n = v2len - 1;
		r = expect_error(kind, "EOF one byte before the end of v2", c,
		    1, 0, PP_HDR_MAX, 5000, 0, -PP_ETRUNC, &h, &ms);
		if (r == -PP_ETRUNC)
			ok(h.need == v2len, "%s: truncated v2: need %u",
			    chname[kind], h.need);
		expect_error(kind, "EOF before any byte", c, 0, 0,
		    PP_HDR_MAX, 5000, 0, -PP_ETRUNC, &h, &ms);
	}

	/* Timeouts: silent, partial then silent, a trickle. */
	{
		struct chunk c[40] = { { NULL, 0, 0 } };
		size_t i;

		expect_error(kind, "silent peer", c, 0, TMO + 2000,
		    PP_HDR_MAX, TMO, 0, -PP_ETIMEDOUT, &h, &ms);
		ok(ms >= TMO - 5 && ms <= TMO + MARGIN, "%s: silent peer: "
		    "timed out after %ld ms (%d ms asked)", chname[kind], ms,
		    TMO);
		c[0].p = v2;
		c[0].n = 20;
		c[0].delay_ms = 0;
		expect_error(kind, "20 bytes of v2, then silence", c, 1,
		    TMO + 2000, PP_HDR_MAX, TMO, 0, -PP_ETIMEDOUT, &h, &ms);
		ok(ms >= TMO - 5 && ms <= TMO + MARGIN, "%s: partial header: "
		    "timed out after %ld ms", chname[kind], ms);
		for (i = 0; i < 40; i++) {
			c[i].p = v1hdr + i;
			c[i].n = 1;
			c[i].delay_ms = 40;
		}
		expect_error(kind, "one byte every 40 ms", c, 40, 0,
		    PP_HDR_MAX, TMO, 0, -PP_ETIMEDOUT, &h, &ms);
		ok(ms >= TMO - 5 && ms <= TMO + MARGIN, "%s: trickle: the "
		    "timeout counts in all (%ld ms)", chname[kind], ms);
	}

	/* Size limits. */
	{
		struct chunk c[] = { { bighdr, biglen, 0 } };

		expect_error(kind, "4 KB v2 header into 1 KB", c, 1, 1000,
		    1024, 2000, 0, -PP_ETOOBIG, &h, &ms);
		c[0].p = v1hdr;
		c[0].n = sizeof(v1hdr) - 1;
		expect_error(kind, "45-byte v1 line into 20 bytes", c, 1, 1000,
		    20, 2000, 0, -PP_ETOOBIG, &h, &ms);
	}

	/* Invalid headers. */
	{
		static const char bad[] =
		    "PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\nGET";
		struct chunk c[] = { { bad, sizeof(bad) - 1, 0 } };

		r = expect_error(kind, "v1 with port 080", c, 1, 1000,
		    PP_HDR_MAX, 2000, 0, -PP_EV1_SRC_PORT, &h, &ms);
		if (r == -PP_EV1_SRC_PORT)
			is_int(h.err_off, 27, "%s: port 080: offset 27",
			    chname[kind]);
		c[0].p = payload;
		c[0].n = PAYLOAD_LEN;
		r = expect_error(kind, "HTTP without a header", c, 1, 1000,
		    PP_HDR_MAX, 2000, 0, -PP_ENOT_PP, &h, &ms);
		if (r == -PP_ENOT_PP)
			is_int(h.err_off, 0, "%s: HTTP: offset 0",
			    chname[kind]);
	}

	/* Version flags. */
	{
		struct chunk c[] = { { v2, v2len, 0 } };

		expect_error(kind, "PP_READ_V1 refuses v2", c, 1, 1000,
		    PP_HDR_MAX, 2000, PP_READ_V1, -PP_ENOT_PP, &h, &ms);
		c[0].p = v1hdr;
		c[0].n = sizeof(v1hdr) - 1;
		expect_error(kind, "PP_READ_V2 refuses v1", c, 1, 1000,
		    PP_HDR_MAX, 2000, PP_READ_V2, -PP_ENOT_PP, &h, &ms);
		expect_header(kind, "PP_READ_V1 accepts v1", c, 1,
		    (int)sizeof(v1hdr) - 1, "", 0, PP_READ_V1);
		c[0].p = v2;
		c[0].n = v2len;
		expect_header(kind, "PP_READ_V2 accepts v2", c, 1, (int)v2len,
		    "", 0, PP_READ_V2);
		expect_header(kind, "PP_READ_V1|PP_READ_V2 accepts v2", c, 1,
		    (int)v2len, "", 0, PP_READ_V1 | PP_READ_V2);
		c[0].p = v1hdr;
		c[0].n = sizeof(v1hdr) - 1;
		expect_header(kind, "PP_READ_OPTIONAL with a header", c, 1,
		    (int)sizeof(v1hdr) - 1, "", 0, PP_READ_OPTIONAL);
	}
}

/* PP_READ_OPTIONAL with data that is no header. */
static void
optional(int kind)
{
	static uint8_t buf[PP_HDR_MAX], tail[4096], all[4096];
	struct chunk c[] = { { payload, PAYLOAD_LEN, 0 } };
	struct pp_header h;
	int fd[2], r;
	size_t got;
	pid_t pid;

	if (mkchan(kind, fd) == -1) {
		ok(0, "%s: optional: channel", chname[kind]);
		return;
	}
	pid = peer(fd, c, 1, 0);
	memset(&h, 0xa5, sizeof(h));
	r = pp_read_fd(fd[0], buf, sizeof(buf), &h, 5000, PP_READ_OPTIONAL);
	ok(r == -PP_ENOHDR, "%s: PP_READ_OPTIONAL and HTTP: -PP_ENOHDR (%s)",
	    chname[kind], rname(r));
	got = drain(fd[0], tail, sizeof(tail));
	if (kind == CH_PIPE) {
		/* A pipe cannot unread: buf holds what was taken. */
		size_t taken = r == -PP_ENOHDR && h.hdr_len <= PAYLOAD_LEN ?
		    h.hdr_len : 0;

		memcpy(all, buf, taken);
		memcpy(all + taken, tail, got < sizeof(all) - taken ? got :
		    sizeof(all) - taken);
		is_mem(all, taken + got, payload, PAYLOAD_LEN,
		    "%s: the %u bytes in buf and the rest make the input",
		    chname[kind], h.hdr_len);
	} else
		is_mem(tail, got, payload, PAYLOAD_LEN,
		    "%s: nothing consumed", chname[kind]);
	close(fd[0]);
	reap(pid);
}

static void
misc(void)
{
	static uint8_t buf[PP_HDR_MAX], tail[512];
	struct chunk c[] = { { v1hdr, sizeof(v1hdr) - 1, 100 },
	    { payload, PAYLOAD_LEN, 0 } };
	struct pp_header h;
	int fd[2], r;
	size_t got;
	pid_t pid;

	/* A descriptor that is not open, and -1 (which poll(2) ignores). */
	if (pipe(fd) == 0) {
		close(fd[0]);
		close(fd[1]);
		errno = 0;
		r = pp_read_fd(fd[0], buf, sizeof(buf), &h, 100, 0);
		ok(r == -PP_ESYS && errno == EBADF, "closed fd: -PP_ESYS, "
		    "EBADF (%s)", rname(r));
	}
	errno = 0;
	r = pp_read_fd(-1, buf, sizeof(buf), &h, 100, 0);
	ok(r == -PP_ESYS && errno == EBADF, "fd -1: -PP_ESYS, EBADF (%s)",
	    rname(r));

	/* No time limit: a header 100 ms late still comes in. */
	if (mkchan(CH_SOCKETPAIR, fd) == 0) {
		pid = peer(fd, c, 2, 0);
		r = pp_read_fd(fd[0], buf, sizeof(buf), &h, -1, 0);
		is_int(r, (int)sizeof(v1hdr) - 1, "timeout -1 waits for a late "
		    "header");
		got = drain(fd[0], tail, sizeof(tail));
		is_mem(tail, got, payload, PAYLOAD_LEN,
		    "timeout -1: payload intact");
		close(fd[0]);
		reap(pid);
	}

	/* Timeout 0 with the header already there. */
	if (mkchan(CH_SOCKETPAIR, fd) == 0) {
		c[0].delay_ms = 0;
		pid = peer(fd, c, 2, 0);
		sleep_ms(100);
		r = pp_read_fd(fd[0], buf, sizeof(buf), &h, 0, 0);
		is_int(r, (int)sizeof(v1hdr) - 1, "timeout 0: a header "
		    "already there is read");
		close(fd[0]);
		reap(pid);
	}
}

int
main(void)
{
	int kind;

	signal(SIGALRM, alarm_handler);
	signal(SIGPIPE, SIG_IGN);
	alarm(GUARD_S);
	init_headers();
	for (kind = 0; kind < NCH; kind++) {
		per_channel(kind);
		optional(kind);
	}
	misc();
	return t_done();
}
