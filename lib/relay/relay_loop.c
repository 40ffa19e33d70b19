/*
 * relay_loop.c - the event loop of one worker and its data path: accept,
 * read the PROXY header, pick a server, connect, move bytes both ways,
 * close.  Choosing the server, checking servers, reading the server list
 * and serving /metrics are other files' (see relay.h); this one only
 * calls them, so the path of a connection reads top to bottom here.
 *
 * Memory: a connection is one object from a free list.  Bytes are read
 * into one scratch buffer per worker and written straight on, so an idle
 * connection holds no buffer; only a short write parks the rest in a
 * pooled buffer until the peer drains it.  A read that fills the scratch
 * buffer marks the direction as bulk, and from then on it moves by
 * splice(2) through a pooled pipe (socket -> pipe -> socket, never
 * copied to user space), as HAProxy's splice-auto does.
 *
 * Events: edge-triggered epoll.  Each socket is added once, when it is
 * made, and never modified (but for the client's EPOLLOUT, added the
 * first time a write to it blocks); close() takes it out.  An edge sets
 * a readiness bit in the connection and a read or write that comes up
 * short clears it, so the loop only calls what can make progress.  A
 * direction that stops at PUMP_ROUNDS with bytes maybe left goes on the
 * ready list and runs again after the batch, without waiting for an edge
 * that would never come.  The next hop's header leaves with the
 * client's first bytes when they are there.
 *
 * Timers: every timeout of a kind has the same length, so appending to a
 * per-kind list keeps it sorted: arming, touching and expiring are O(1).
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#define PUMP_ROUNDS	16		/* reads per direction and wake-up */
#define PIPE_CAP	262144		/* bytes a pipe holds (F_SETPIPE_SZ) */
#define TLV_AREA	8192		/* where received TLVs wait, in up.buf */
#define CONN_CHUNK	256

/* Readiness of a socket, as its edges told it (see the top of the file). */
#define R_IN		1	/* bytes or an end may be waiting */
#define R_OUT		2	/* may take bytes */
#define R_HUP		4	/* the end is queued: read until 0 */
#define SIDE_CLIENT	0
#define SIDE_SERVER	1
#define EV_BASE		(EPOLLIN | EPOLLRDHUP | EPOLLET)

enum { C_HDR, C_CONN, C_RELAY };

struct dir {
	int		pipe[2];	/* -1 when none */
	uint32_t	plen;		/* bytes in the pipe */
	uint8_t		*buf;		/* parked bytes, or NULL */
	uint32_t	boff, blen;
	uint8_t		eof;		/* the source has finished */
	uint8_t		shut;		/* passed on with shutdown() */
	uint8_t		bulk;		/* moves by splice */
	uint64_t	bytes;		/* payload read from the source */
};

struct conn {
	int		cfd, sfd;
	uint8_t		state;
	uint8_t		tkind;		/* timer list, or T_NKIND */
	uint8_t		hashdr;		/* relay_log_hdr(), 0: none */
	uint8_t		tries;
	uint8_t		ready[2];	/* R_* of the client and server side */
	uint8_t		queued;		/* on the worker's ready list */
	uint8_t		cout;		/* client registered for EPOLLOUT */
	struct dir	up, dn;		/* client -> server, server -> client */
	struct sockaddr_storage peer, client, dst;
	uint32_t	tlv_len;	/* received TLVs kept for --pass-tlvs */
	uint16_t	tlvs;		/* relay_log_tlvs(), for the log */
	struct relay_server *srv;
	struct relay_tried tried;
	struct relay_ipent *ip;
	int64_t		t0, tstamp;
	struct conn	*tprev, *tnext;
	struct conn	*next;		/* free list */
	struct conn	*rnext;		/* ready list */
};

struct worker W;

static void	conn_close(struct conn *, int, int);
static void	conn_connect(struct conn *);



/* Pools: buffers and pipes are reused, never freed while busy. */

static uint8_t *
buf_get(void)
{
	if (W.nbufs > 0)
		return W.bufs[--W.nbufs];
	return malloc(RELAY_BUFSZ);
}

static void
buf_put(uint8_t *b)
{
	if (b == NULL)
		return;
	if (W.nbufs < POOL_BUFS)
		W.bufs[W.nbufs++] = b;
	else
		free(b);
}

static int
pipe_get(struct dir *d)
{
	if (W.npipes > 0) {
		W.npipes--;
		d->pipe[0] = W.pipes[W.npipes][0];
		d->pipe[1] = W.pipes[W.npipes][1];
		return 0;
	}
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/*
	 * 256 KB rather than the default 64 KB: one stream through the
	 * relay measured 9-11 Gbit/s instead of 8-9, at 0.6-0.8x the CPU
	 * per byte.  The kernel charges a pipe's size to the user's pipe
	 * budget, idle or not, so the pool keeps 64 of them, not 256.  If
	 * the size is refused, the default one does.
	 */
	fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_CAP);
	return 0;
}

/* An empty pipe goes back to the pool; one with bytes in it is closed. */
static void
pipe_put(struct dir *d)
{
	if (d->pipe[0] == -1)
		return;
	if (d->plen == 0 && W.npipes < POOL_PIPES) {
		W.pipes[W.npipes][0] = d->pipe[0];
		W.pipes[W.npipes][1] = d->pipe[1];
		W.npipes++;
	} else {
		close(d->pipe[0]);
		close(d->pipe[1]);
	}
	d->pipe[0] = d->pipe[1] = -1;
	d->plen = 0;
}

/* Timers. */

static void
timer_stop(struct conn *c)
{
	struct tlist *l;

	if (c->tkind == T_NKIND)
		return;
	l = &W.tl[c->tkind];
	if (c->tprev != NULL)
		c->tprev->tnext = c->tnext;
	else
		l->head = c->tnext;
	if (c->tnext != NULL)
		c->tnext->tprev = c->tprev;
	else
		l->tail = c->tprev;
	c->tprev = c->tnext = NULL;
	c->tkind = T_NKIND;
}

static void
timer_set(struct conn *c, int kind)
{
	struct tlist *l = &W.tl[kind];

	timer_stop(c);
	if (l->ms <= 0)
		return;
	c->tkind = (uint8_t)kind;
	c->tstamp = W.now;
	c->tprev = l->tail;
	c->tnext = NULL;
	if (l->tail != NULL)
		l->tail->tnext = c;
	else
		l->head = c;
	l->tail = c;
}

/* Connections. */

static struct conn *
conn_new(void)
{
	struct conn *c, *chunk;
	void **nc;
	int i;

	if (W.free == NULL) {
		if ((chunk = calloc(CONN_CHUNK, sizeof(*chunk))) == NULL)
			return NULL;
		nc = reallocarray(W.chunks, W.nchunks + 1, sizeof(*nc));
		if (nc == NULL) {
			free(chunk);
			return NULL;
		}
		W.chunks = nc;
		W.chunks[W.nchunks++] = chunk;
		for (i = 0; i < CONN_CHUNK; i++) {
			chunk[i].cfd = -1;
			chunk[i].next = W.free;
			W.free = &chunk[i];
		}
	}
	c = W.free;
	W.free = c->next;
	memset(c, 0, offsetof(struct conn, peer));
	c->cfd = c->sfd = -1;
	c->up.pipe[0] = c->up.pipe[1] = -1;
	c->dn.pipe[0] = c->dn.pipe[1] = -1;
	c->tkind = T_NKIND;
	c->srv = NULL;
	c->ip = NULL;
	c->tlv_len = 0;
	c->tlvs = 0;
	memset(&c->tried, 0, sizeof(c->tried));
	c->tprev = c->tnext = NULL;
	c->t0 = W.now;
	return c;
}

static int
ep_ctl(int op, int fd, uint32_t events, struct conn *c, int tag)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.u64 = (uint64_t)(uintptr_t)c | (uint64_t)tag;
	return epoll_ctl(W.epfd, op, fd, &ev);
}

/*
 * The client's socket is watched for EPOLLOUT only once a write to it
 * blocked: most connections never need it, and an edge for a socket that
 * is writable from the start would wake the worker for nothing.
 */
static void
blocked(struct conn *c, int side)
{
	c->ready[side] &= ~R_OUT;
	if (side == SIDE_CLIENT && !c->cout) {
		c->cout = 1;
		ep_ctl(EPOLL_CTL_MOD, c->cfd, EV_BASE | EPOLLOUT, c,
		    TAG_CLIENT);
	}
}

/* A direction stopped with work left: run it again after this batch. */
static void
requeue(struct conn *c)
{
	if (!c->queued) {
		c->queued = 1;
		c->rnext = W.ready;
		W.ready = c;
	}
}

static void
listeners_watch(int on)
{
	struct epoll_event ev;
	int i;

	if (W.paused == !on)
		return;
	W.paused = !on;
	for (i = 0; i < W.nlisten; i++) {
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u64 = (uint64_t)(uintptr_t)&W.lobj[i] | TAG_OBJ;
		epoll_ctl(W.epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    W.lobj[i].fd, &ev);
	}
}

/* Leave the connection to s: counters, reference. */
static void
conn_unserve(struct conn *c)
{
	struct relay_server *s = c->srv;

	if (s == NULL)
		return;
	s->active--;
	if (s->st != NULL) {
		__atomic_sub_fetch(&W.ws->srv_active[s->st - W.sh->srv], 1,
		    __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->st->bytes_in, c->up.bytes,
		    __ATOMIC_RELAXED);
		__atomic_add_fetch(&s->st->bytes_out, c->dn.bytes,
		    __ATOMIC_RELAXED);
	}
	c->srv = NULL;
	s->refs--;
}

/* Said once per spell of exhaustion; a served connection ends the spell. */
void
fds_exhausted(void)
{
	if (!W.emfile_logged++)
		wlog(0, "out of file descriptors: refusing connections");
}

void
rst(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

/*
 * The end of a connection: one log line, sockets closed (abortively for
 * refusals and timeouts), pipes and buffers back to their pools.
 */
static void
conn_close(struct conn *c, int why, int abortive)
{
	if (W.conf->verbose >= 1 && W.conf->log != NULL) {
		struct relay_logrec r = {
			.client = &c->client, .peer = &c->peer,
			.server = c->srv != NULL ? c->srv->name : NULL,
			.up = c->up.bytes, .down = c->dn.bytes,
			.ms = W.now - c->t0, .end = why, .hdr = c->hashdr,
			.tlvs = c->tlvs,
		};
		char line[1024];

		relay_log_line(W.conf->log_format, &r, line, sizeof(line));
		W.conf->log(1, line);
	}
	if (abortive) {
		rst(c->cfd);
		if (c->sfd != -1)
			rst(c->sfd);
	}
	close(c->cfd);
	if (c->sfd != -1)
		close(c->sfd);
	c->cfd = c->sfd = -1;
	pipe_put(&c->up);
	pipe_put(&c->dn);
	buf_put(c->up.buf);
	buf_put(c->dn.buf);
	c->up.buf = c->dn.buf = NULL;
	conn_unserve(c);
	if (c->ip != NULL)
		relay_limit_release(W.limit, c->ip);
	timer_stop(c);
	W.nconns--;
	__atomic_sub_fetch(&W.ws->active, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&W.sh->ended[why], 1, __ATOMIC_RELAXED);
	/* Events for it may follow in this batch: freed after the batch. */
	c->next = W.dead;
	W.dead = c;
	if (W.paused && !W.draining && (W.conf->max_conns == 0 ||
	    W.nconns < W.conf->max_conns))
		listeners_watch(1);
}

/* The source of d finished and all its bytes are out: pass the end on. */
static void
pass_eof(struct conn *c, struct dir *d, int dst)
{
	/*
	 * When the other way is over too, close() is about to send this
	 * FIN: no shutdown() for it.  (That socket's receive queue was read
	 * to the end, so close() sends a FIN, not a reset.)
	 */
	if (!d->shut && !(d == &c->up ? c->dn.shut : c->up.shut))
		shutdown(dst, SHUT_WR);
	d->shut = 1;
}

/*
 * Move bytes for direction d, from side `from' to side `to', as far as the
 * sockets' readiness allows.  Returns 0, or -1 when the connection must
 * end.
 */
static int
pump(struct conn *c, struct dir *d, int from, int to)
{
	int src = from == SIDE_CLIENT ? c->cfd : c->sfd;
	int dst = to == SIDE_CLIENT ? c->cfd : c->sfd;
	ssize_t n, m;
	int round;

	for (round = 0; round < PUMP_ROUNDS; round++) {
		/* Parked bytes first: order is kept. */
		if (d->blen > 0) {
			if (!(c->ready[to] & R_OUT))
				return 0;
			m = send(dst, d->buf + d->boff, d->blen,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (m == -1) {
				if (errno != EAGAIN)
					return -1;
				m = 0;
			}
			d->boff += (uint32_t)m;
			d->blen -= (uint32_t)m;
			if (d->blen > 0) {
				blocked(c, to);
				return 0;
			}
			buf_put(d->buf);
			d->buf = NULL;
			d->boff = 0;
		}
		if (d->plen > 0) {
			if (!(c->ready[to] & R_OUT))
				return 0;
			m = splice(d->pipe[0], NULL, dst, NULL, d->plen,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (m == -1) {
				if (errno != EAGAIN)
					return -1;
				m = 0;
			}
			d->plen -= (uint32_t)m;
			if (d->plen > 0) {
				blocked(c, to);
				return 0;
			}
		}
		if (d->eof) {
			pass_eof(c, d, dst);
			return 0;
		}
		if (!(c->ready[from] & R_IN))
			return 0;
		if (d->bulk && d->pipe[0] == -1 && pipe_get(d) == -1)
			d->bulk = 0;	/* no pipe: copy instead */
		if (d->bulk) {
			n = splice(src, NULL, d->pipe[1], NULL, PIPE_CAP,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == 0) {
				d->eof = 1;
				continue;
			}
			if (n == -1) {
				if (errno == EAGAIN) {
					/* Idle: the pipe is empty, give it back. */
					c->ready[from] &= ~R_IN;
					pipe_put(d);
					return 0;
				}
				return -1;
			}
			d->bytes += (uint64_t)n;
			d->plen += (uint32_t)n;
			timer_set(c, T_IDLE);
			continue;
		}
		n = recv(src, W.scratch, RELAY_BUFSZ, MSG_DONTWAIT);
		if (n == 0) {
			d->eof = 1;
			continue;
		}
		if (n == -1) {
			if (errno != EAGAIN)
				return -1;
			c->ready[from] &= ~R_IN;
			return 0;
		}
		d->bytes += (uint64_t)n;
		timer_set(c, T_IDLE);
		if (n == RELAY_BUFSZ)
			d->bulk = 1;
		/*
		 * A short read emptied the socket: the next bytes bring an
		 * edge.  An end already announced brings none, so then the
		 * next read must see it.
		 */
		else if (!(c->ready[from] & R_HUP))
			c->ready[from] &= ~R_IN;
		m = 0;
		if (c->ready[to] & R_OUT) {
			m = send(dst, W.scratch, (size_t)n,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (m == -1) {
				if (errno != EAGAIN)
					return -1;
				m = 0;
			}
		}
		if (m < n) {
			if ((d->buf = buf_get()) == NULL)
				return -1;
			memcpy(d->buf, W.scratch + m, (size_t)(n - m));
			d->boff = 0;
			d->blen = (uint32_t)(n - m);
			blocked(c, to);
			return 0;
		}
		if (!(c->ready[from] & R_IN))
			return 0;
	}
	/*
	 * Out of rounds: there may be more, and no edge will say so.  Just
	 * after the source ended, the end must be passed on now.
	 */
	if (d->eof && d->blen == 0 && d->plen == 0)
		pass_eof(c, d, dst);
	else
		requeue(c);
	return 0;
}

/* Both directions finished and passed on: an orderly end. */
static int
conn_done(const struct conn *c)
{
	return c->up.shut && c->dn.shut;
}

static void
conn_refuse(struct conn *c, int why)
{
	conn_close(c, why, 1);
}

/*
 * The header of the next hop, into c->up.buf (parked, sent first).  With
 * --pass-tlvs the received TLVs go on, all of them (a TLV takes 3 bytes at
 * least, so TLV_AREA / 3 bounds them), but for a type given with --tlv:
 * the configured value replaces every received one of that type.
 */
static int
build_header(struct conn *c, int version)
{
	static struct pp_tlv tlv[TLV_AREA / 3 + RELAY_MAXTLV];
	uint8_t mine[256];
	struct pp_header h;
	struct pp_tlv t;
	size_t pos = 0, n = 0;
	socklen_t len;
	int r, i, crc = W.conf->crc32c;

	if (c->dst.ss_family == AF_UNSPEC) {
		len = sizeof(c->dst);
		if (getsockname(c->cfd, (struct sockaddr *)&c->dst, &len) == -1)
			return -1;
	}
	memset(&h, 0, sizeof(h));
	h.command = PP_V2_CMD_PROXY;
	h.transport = PP_V2_TRANS_STREAM;
	h.src = c->client;
	h.dst = c->dst;
	if (c->up.buf == NULL && (c->up.buf = buf_get()) == NULL)
		return -1;
	if (version == 1) {
		r = pp_build_v1(c->up.buf, TLV_AREA, &h);
		if (r == -PP_EINVAL) {
			/* Not TCP (a UNIX client): say so, as v1 can. */
			h.src.ss_family = h.dst.ss_family = AF_UNSPEC;
			r = pp_build_v1(c->up.buf, TLV_AREA, &h);
		}
	} else {
		memset(mine, 0, sizeof(mine));
		for (i = 0; i < W.conf->ntlv; i++)
			mine[W.conf->tlv[i].type] = 1;
		while (c->tlv_len > 0 && pp_tlv_walk(c->up.buf + TLV_AREA,
		    c->tlv_len, &pos, &t) == 1) {
			if (t.type == PP_TLV_CRC32C) {
				crc = 1;	/* recomputed, never copied */
				continue;
			}
			if (!W.conf->drop_tlv[t.type] && !mine[t.type])
				tlv[n++] = t;
		}
		for (i = 0; i < W.conf->ntlv; i++)
			tlv[n++] = W.conf->tlv[i];
		r = pp_build_v2(c->up.buf, TLV_AREA, &h, tlv, n,
		    crc ? PP_BUILD_CRC32C : 0);
	}
	if (r < 0)
		return -1;
	c->up.boff = 0;
	c->up.blen = (uint32_t)r;
	return 0;
}

static void
tried_set(struct relay_tried *t, int i)
{
	t->bits[i / 64] |= 1ULL << (i % 64);
}

/* A connect failed: count it, try the next server. */
static void
conn_retry(struct conn *c)
{
	struct relay_server *s = c->srv;

	if (s != NULL && s->st != NULL)
		__atomic_add_fetch(&s->st->connect_fail, 1, __ATOMIC_RELAXED);
	wlog(2, "connect to %s failed: %s", s != NULL ? s->name : "-",
	    strerror(errno));
	conn_unserve(c);
	if (c->sfd != -1) {
		close(c->sfd);
		c->sfd = -1;
	}
	c->ready[SIDE_SERVER] = 0;
	if (++c->tries > W.conf->retries) {
		conn_refuse(c, RELAY_END_NOSERVER);
		return;
	}
	conn_connect(c);
}

static int
set_source(int fd, const struct conn *c, const struct relay_server *s)
{
	struct sockaddr_storage src = c->client;
	int one = 1;

	net_addr_unmap(&src);
	if (src.ss_family != s->addr.ss_family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (src.ss_family == AF_INET) {
		((struct sockaddr_in *)&src)->sin_port = 0;
		if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one,
		    sizeof(one)) == -1)
			return -1;
	} else {
		((struct sockaddr_in6 *)&src)->sin6_port = 0;
		if (setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one,
		    sizeof(one)) == -1)
			return -1;
	}
	/* The port is picked at connect time: many flows share the address. */
	setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&src, net_addr_len(&src));
}

static void
conn_connect(struct conn *c)
{
	struct relay_server *s;
	int i, fd, one = 1;

	if ((i = relay_lb_pick(&W.lb, &c->client, &c->tried)) == -1) {
		conn_refuse(c, RELAY_END_NOSERVER);
		return;
	}
	tried_set(&c->tried, i);
	s = W.lb.srv[i];
	c->srv = s;
	s->refs++;
	s->active++;
	if (s->st != NULL)
		__atomic_add_fetch(&W.ws->srv_active[s->st - W.sh->srv], 1,
		    __ATOMIC_RELAXED);
	c->up.blen = 0;
	if (s->send_proxy != 0 && build_header(c, s->send_proxy) == -1) {
		wlog(0, "no header for %s: the TLVs do not fit in %d bytes",
		    s->name, TLV_AREA);
		conn_close(c, RELAY_END_ERROR, 1);
		return;
	}
	fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Not the server's fault, and no other would do. */
			fds_exhausted();
			conn_refuse(c, RELAY_END_ERROR);
		} else
			conn_retry(c);
		return;
	}
	c->sfd = fd;
	if (s->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (W.conf->usesrc && set_source(fd, c, s) == -1) {
		conn_retry(c);
		return;
	}
	if (connect(fd, (struct sockaddr *)&s->addr, net_addr_len(&s->addr))
	    == -1 && errno != EINPROGRESS) {
		conn_retry(c);
		return;
	}
	/* Edges from before the connect completes are only EPOLLOUT. */
	if (ep_ctl(EPOLL_CTL_ADD, fd, EV_BASE | EPOLLOUT, c, TAG_SERVER)
	    == -1) {
		conn_close(c, RELAY_END_ERROR, 1);
		return;
	}
	c->state = C_CONN;
	timer_set(c, T_CONN);
}

/*
 * The next hop's header is parked in up.buf: put the client's first bytes
 * behind it when they are there, so both leave in one segment.
 */
static int
header_join(struct conn *c)
{
	struct dir *d = &c->up;
	size_t room = RELAY_BUFSZ - d->boff - d->blen;
	ssize_t n;

	if (!(c->ready[SIDE_CLIENT] & R_IN) || d->eof)
		return 0;
	n = recv(c->cfd, d->buf + d->boff + d->blen, room, MSG_DONTWAIT);
	if (n == 0)
		d->eof = 1;
	else if (n == -1) {
		if (errno != EAGAIN)
			return -1;
		c->ready[SIDE_CLIENT] &= ~R_IN;
	} else {
		d->blen += (uint32_t)n;
		d->bytes += (uint64_t)n;
		if ((size_t)n < room && !(c->ready[SIDE_CLIENT] & R_HUP))
			c->ready[SIDE_CLIENT] &= ~R_IN;
	}
	return 0;
}

/* Move what the sockets' readiness allows, both ways; end when done. */
static void
conn_run(struct conn *c)
{
	/*
	 * A read or write error is a reset (or a peer gone without a FIN):
	 * the other side is reset too, so that it sees an abort and not a
	 * clean end after a truncated stream.
	 */
	if (pump(c, &c->up, SIDE_CLIENT, SIDE_SERVER) == -1 ||
	    pump(c, &c->dn, SIDE_SERVER, SIDE_CLIENT) == -1)
		conn_close(c, RELAY_END_RESET, 1);
	else if (conn_done(c))
		conn_close(c, RELAY_END_DONE, 0);
}

/* The upstream connection is up: start relaying. */
static void
conn_connected(struct conn *c)
{
	c->state = C_RELAY;
	if (c->up.blen == 0 && c->up.buf != NULL) {
		/* Received TLVs for a server that gets no header. */
		buf_put(c->up.buf);
		c->up.buf = NULL;
	}
	c->tlv_len = 0;
	if (c->srv->st != NULL)
		__atomic_add_fetch(&c->srv->st->total, 1, __ATOMIC_RELAXED);
	timer_set(c, T_IDLE);
	c->ready[SIDE_SERVER] |= R_OUT;
	if (c->up.blen > 0 && header_join(c) == -1) {
		conn_close(c, RELAY_END_RESET, 1);
		return;
	}
	/* The client has most likely spoken already: no wait for an event. */
	conn_run(c);
}

/* The real client is known: judge it, then connect. */
static void
conn_ready(struct conn *c)
{
	const struct relay_conf *cf = W.conf;

	if ((cf->ndeny > 0 && net_cidr_match(cf->deny, cf->ndeny, &c->client))
	    || (cf->nallow > 0 && !net_cidr_match(cf->allow, cf->nallow,
	    &c->client))) {
		conn_refuse(c, RELAY_END_DENIED);
		return;
	}
	if (W.limit != NULL &&
	    (c->ip = relay_limit_take(W.limit, &c->client, W.now)) == NULL) {
		if (relay_limit_full(W.limit) && !W.limit_logged++)
			wlog(0, "per-address table full (%d addresses): "
			    "refusing new ones", RELAY_LIMIT_CAP);
		conn_refuse(c, RELAY_END_LIMIT);
		return;
	}
	if (W.limit != NULL)
		W.limit_logged = 0;	/* the table had room: a spell ends */
	conn_connect(c);
}

/*
 * Header phase: peek, parse, and consume exactly the header once it is
 * whole.  Nothing is forwarded before that.  Returns when the connection
 * went on (or ended), or when more bytes are needed.
 */
static void
conn_header(struct conn *c, int hup)
{
	const struct relay_conf *cf = W.conf;
	struct pp_header h;
	ssize_t n;
	int r;

	n = recv(c->cfd, W.scratch, cf->max_header, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN && !hup)
			return;
		conn_close(c, RELAY_END_CLIENTGONE, 1);
		return;
	}
	if (n == 0) {
		conn_close(c, RELAY_END_CLIENTGONE, 1);
		return;
	}
	r = pp_parse_version(W.scratch, (size_t)n,
	    cf->accept_proxy > 0 ? cf->accept_proxy : 0, &h);
	if (r < 0 && cf->optional && r == -PP_ENOT_PP) {
		/* --optional: not a header at all, so it is all payload. */
		c->client = c->peer;
		timer_stop(c);
		c->state = C_CONN;
		conn_ready(c);
		return;
	}
	if (r < 0 || (r == 0 && ((size_t)n >= (size_t)cf->max_header ||
	    h.need > (uint32_t)cf->max_header || hup))) {
		wlog(2, "refused header: %s at byte %u",
		    r < 0 ? pp_strerror(r) : "incomplete or too long",
		    r < 0 ? h.err_off : (unsigned)n);
		conn_refuse(c, RELAY_END_BADHDR);
		return;
	}
	if (r == 0)
		return;		/* wait for the rest (edge-triggered) */
	if (recv(c->cfd, W.scratch, (size_t)r, MSG_DONTWAIT) != r) {
		conn_refuse(c, RELAY_END_BADHDR);
		return;
	}
	c->hashdr = relay_log_hdr(&h);
	c->tlvs = h.tlv_len > 0 ? relay_log_tlvs(&h) : 0;
	timer_stop(c);
	if (h.command == PP_V2_CMD_PROXY && h.has_addr) {
		c->client = h.src;
		c->dst = h.dst;
	} else
		c->client = c->peer;
	if (cf->pass_tlvs && h.tlv_len > TLV_AREA &&
	    h.command == PP_V2_CMD_PROXY) {
		/* Passing only some of them would be a lie: none at all. */
		wlog(0, "refused: %u bytes of TLVs to pass on, at most %d",
		    (unsigned)h.tlv_len, TLV_AREA);
		conn_refuse(c, RELAY_END_ERROR);
		return;
	}
	if (cf->pass_tlvs && h.tlv_len > 0 && h.command == PP_V2_CMD_PROXY) {
		if ((c->up.buf = buf_get()) == NULL) {
			conn_close(c, RELAY_END_ERROR, 1);
			return;
		}
		memcpy(c->up.buf + TLV_AREA, h.tlv, h.tlv_len);
		c->tlv_len = h.tlv_len;
	}
	/* Payload may have come with the header: no edge will tell. */
	c->ready[SIDE_CLIENT] |= R_IN;
	c->state = C_CONN;
	conn_ready(c);
}

static void
on_accept(struct obj *o)
{
	const struct relay_conf *cf = W.conf;
	struct sockaddr_storage peer;
	struct conn *c;
	socklen_t len;
	int i, fd;

	for (i = 0; i < ACCEPT_BURST; i++) {
		if (cf->max_conns > 0 && W.nconns >= cf->max_conns) {
			listeners_watch(0);
			return;
		}
		len = sizeof(peer);
		fd = accept4(o->fd, (struct sockaddr *)&peer, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/*
				 * Out of descriptors: the listener stays
				 * readable.  Accept with the spare one and
				 * close at once, so the loop cannot spin.
				 */
				fds_exhausted();
				if (W.spare != -1) {
					close(W.spare);
					fd = accept(o->fd, NULL, NULL);
					if (fd != -1) {
						rst(fd);
						close(fd);
					}
					W.spare = open("/dev/null",
					    O_RDONLY | O_CLOEXEC);
				} else
					listeners_watch(0);
				continue;
			}
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			return;
		}
		/*
		 * The lowest free descriptor was the last one: its server
		 * socket cannot be had, so shed it now rather than after a
		 * failed connect.
		 */
		if (W.fd_limit > 0 && fd >= W.fd_limit - 1) {
			fds_exhausted();
			rst(fd);
			close(fd);
			continue;
		}
		W.emfile_logged = 0;
		if ((c = conn_new()) == NULL) {
			rst(fd);
			close(fd);
			return;
		}
		W.nconns++;
		__atomic_add_fetch(&W.ws->active, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&W.sh->total, 1, __ATOMIC_RELAXED);
		c->cfd = fd;
		c->peer = peer;
		if (len == 0 || peer.ss_family == AF_UNIX)
			c->peer.ss_family = AF_UNIX;
		c->client.ss_family = AF_UNSPEC;
		c->dst.ss_family = AF_UNSPEC;
		/* TCP_NODELAY comes from the listening socket (relay_cli.c). */
		if (cf->accept_proxy >= 0 && cf->ntrust > 0 && !cf->optional &&
		    !net_cidr_match(cf->trust, cf->ntrust, &c->peer)) {
			c->client = c->peer;
			conn_refuse(c, RELAY_END_UNTRUSTED);
			continue;
		}
		/* Assumed readable: a client most often speaks first. */
		c->ready[SIDE_CLIENT] = R_IN | R_OUT;
		if (ep_ctl(EPOLL_CTL_ADD, fd, EV_BASE, c, TAG_CLIENT) == -1) {
			conn_refuse(c, RELAY_END_ERROR);
			continue;
		}
		if (cf->accept_proxy < 0 || (cf->ntrust > 0 && cf->optional &&
		    !net_cidr_match(cf->trust, cf->ntrust, &c->peer))) {
			c->client = c->peer;
			c->state = C_CONN;
			conn_ready(c);
			continue;
		}
		c->state = C_HDR;
		timer_set(c, T_HDR);
		conn_header(c, 0);
	}
}

static void
on_conn(struct conn *c, int tag, uint32_t ev)
{
	int side = tag == TAG_CLIENT ? SIDE_CLIENT : SIDE_SERVER;

	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->ready[side] |= R_IN;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->ready[side] |= R_HUP;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->ready[side] |= R_OUT;
	if (c->state == C_HDR) {
		conn_header(c, (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
		return;
	}
	if (c->state == C_CONN) {
		if (side == SIDE_CLIENT)
			return;	/* kept in ready[] for when it is up */
		if (ev & (EPOLLERR | EPOLLHUP)) {
			int e = 0;
			socklen_t len = sizeof(e);

			getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &e, &len);
			errno = e;
			conn_retry(c);
			return;
		}
		conn_connected(c);
		return;
	}
	/*
	 * An error (a reset, most often): what came before it is still
	 * passed on, then both sides are reset.
	 */
	conn_run(c);
	if ((ev & EPOLLERR) && c->cfd != -1)
		conn_close(c, RELAY_END_RESET, 1);
}

/* Timeouts of the three kinds; the lists are sorted by construction. */
static void
expire(void)
{
	static const int why[T_NKIND] = {
		RELAY_END_HDRTIMEOUT, RELAY_END_NOSERVER, RELAY_END_IDLE
	};
	struct tlist *l;
	struct conn *c;
	int k;

	for (k = 0; k < T_NKIND; k++) {
		l = &W.tl[k];
		while ((c = l->head) != NULL && c->tstamp + l->ms <= W.now) {
			if (k == T_CONN) {
				errno = ETIMEDOUT;
				conn_retry(c);
			} else
				conn_close(c, why[k], 1);
		}
	}
}

static int
next_timeout(void)
{
	int64_t t = W.now + 1000, d;
	int k, i;

	for (k = 0; k < T_NKIND; k++)
		if (W.tl[k].head != NULL) {
			d = W.tl[k].head->tstamp + W.tl[k].ms;
			if (d < t)
				t = d;
		}
	if (W.sc_head != NULL && W.sc_head->deadline < t)
		t = W.sc_head->deadline;
	if ((d = relay_notify_due(W.conf, W.now)) < t - W.now)
		t = W.now + d;
	if (W.udp != NULL && W.udp_next >= 0 && W.now + W.udp_next < t)
		t = W.now + W.udp_next;
	if (W.id == 0)
		for (i = 0; i < W.lb.n; i++) {
			struct relay_server *s = W.lb.srv[i];

			if (!s->check || relay_ctl_nocheck(s))
				continue;
			d = s->chk_fd == -1 ? s->chk_next : s->chk_deadline;
			if (d < t)
				t = d;
		}
	return t <= W.now ? 0 : (int)(t - W.now);
}

/* What the control socket set, in the shared slots (relay_ctl.c). */
static void
ctl_sync(void)
{
	uint32_t g;
	int i;

	g = __atomic_load_n(&W.sh->ctl_gen, __ATOMIC_ACQUIRE);
	if (g == W.ctl_gen)
		return;
	W.ctl_gen = g;
	for (i = 0; i < W.lb.n; i++)
		relay_ctl_pull(W.lb.srv[i]);
	W.lb.dirty = 1;
}

static void
drain_start(void)
{
	int i;

	if (W.draining)
		return;
	W.draining = 1;
	W.drain_end = W.now + W.conf->grace_ms;
	relay_notify(W.conf, "STOPPING=1");
	listeners_watch(0);
	for (i = 0; i < W.nlisten; i++)
		close(W.lobj[i].fd);
	W.nlisten = 0;
	if (W.udp != NULL)
		relay_udp_drain(W.udp);
	wlog(0, "draining %d connection%s", W.nconns, W.nconns == 1 ? "" :
	    "s");
}

/* The grace period is over: whatever is still open is cut. */
static void
drain_end(void)
{
	struct conn *c;
	int k, i;

	for (k = 0; k < W.nchunks; k++) {
		c = W.chunks[k];
		for (i = 0; i < CONN_CHUNK; i++)
			if (c[i].cfd != -1)
				conn_close(&c[i], RELAY_END_DRAIN, 1);
	}
}

/* SIGUSR1: one line of what this worker is doing. */
static void
status_log(void)
{
	int i, up = 0;

	for (i = 0; i < W.lb.n; i++)
		up += W.lb.srv[i]->up;
	if (W.udp != NULL)
		wlog(0, "status: worker %d: %d UDP sessions, %d/%d servers up%s",
		    W.id, relay_udp_sessions(W.udp), up, W.lb.n,
		    W.draining ? ", draining" : "");
	else
		wlog(0, "status: worker %d: %d connections open, %d/%d servers "
		    "up%s", W.id, W.nconns, up, W.lb.n, W.draining ?
		    ", draining" : "");
}

static void
on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(W.sig.fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			/* A reload after the stop began would be lost work. */
			if (W.draining)
				break;
			wlog(0, "reloading servers");
			relay_notify_reloading(W.conf);
			servers_apply();
			relay_notify(W.conf, "READY=1");
			break;
		case SIGUSR1:
			status_log();
			break;
		default:	/* SIGTERM, SIGINT, SIGQUIT */
			drain_start();
		}
	}
}

/* Directions that stopped at PUMP_ROUNDS with bytes maybe left. */
static void
run_ready(void)
{
	struct conn *c, *q = W.ready;

	W.ready = NULL;
	while ((c = q) != NULL) {
		q = c->rnext;
		c->queued = 0;
		if (c->cfd != -1 && c->state == C_RELAY)
			conn_run(c);
	}
}

/*
 * Connections closed in this batch go back to the free list, except one
 * still on the ready list: run_ready skips it next time, then it goes.
 */
static void
free_dead(void)
{
	struct conn *c, **pc = &W.dead;

	while ((c = *pc) != NULL) {
		if (c->queued) {
			pc = &c->next;
			continue;
		}
		*pc = c->next;
		c->next = W.free;
		W.free = c;
	}
}

static void
title(void)
{
	int i, up = 0;

	for (i = 0; i < W.lb.n; i++)
		up += W.lb.srv[i]->up;
	if (W.conf->workers > 1)
		setproctitle("worker %d: %d conn%s, %d/%d up%s", W.id,
		    W.nconns, W.nconns == 1 ? "" : "s", up, W.lb.n,
		    W.draining ? ", draining" : "");
	else
		setproctitle("%d conn%s, %d/%d up%s", W.nconns,
		    W.nconns == 1 ? "" : "s", up, W.lb.n,
		    W.draining ? ", draining" : "");
}

/* An object of the worker's (signals, stats, UDP, control) in its epoll. */
static void
obj_watch(struct obj *o, int type, int fd)
{
	struct epoll_event ev;

	o->type = type;
	o->fd = fd;
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)(uintptr_t)o | TAG_OBJ;
	epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
relay_worker_run(struct relay_conf *cf, struct relay_shared *sh, int id)
{
	struct epoll_event evs[256];
	struct rlimit rl;
	sigset_t mask;
	uint64_t seed;
	int i, n, last_conns = -1, ufd[RELAY_MAXLISTEN], nufd = 0;

	memset(&W, 0, sizeof(W));
	W.conf = cf;
	W.sh = sh;
	W.ws = &sh->w[id];
	W.id = id;
	W.now = relay_now_ms();
	W.ws->beat = W.now;
	if ((W.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return 1;
	/* The header is peeked into it whole: --max-header may be larger. */
	W.scratch = malloc(cf->max_header > RELAY_BUFSZ ? (size_t)cf->max_header :
	    RELAY_BUFSZ);
	W.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < INT_MAX)
		W.fd_limit = (int)rl.rlim_cur;
	if (id == 0 && cf->stats_fd != -1) {
		W.pagecap = 256 * 1024;
		W.page = malloc(W.pagecap);
	}
	if (W.scratch == NULL || (id == 0 && cf->stats_fd != -1 &&
	    W.page == NULL))
		return 1;
	W.tl[T_HDR].ms = cf->accept_proxy >= 0 ? cf->hdr_ms : 0;
	W.tl[T_CONN].ms = cf->connect_ms;
	W.tl[T_IDLE].ms = cf->idle_ms;
	arc4random_buf(&seed, sizeof(seed));
	relay_lb_init(&W.lb, cf->algo, seed);
	/*
	 * Start from the last list that loaded (at start, or at the master's
	 * last SIGHUP), not from the file: a worker started again after the
	 * file went bad, or changed, serves what its siblings serve.
	 */
	if (cf->ngood > 0) {
		struct relay_server *nw[RELAY_MAXSRV];

		if (relay_servers_dup(cf->good, cf->ngood, nw) == -1)
			return 1;
		servers_use(nw, cf->ngood);
	} else if (servers_apply() == -1)
		return 1;
	if (cf->max_per_ip > 0 || cf->rate_n > 0)
		if ((W.limit = relay_limit_new(cf->max_per_ip, cf->rate_n,
		    cf->rate_secs, RELAY_LIMIT_CAP)) == NULL)
			return 1;
	W.health_gen = (uint32_t)-1;
	health_sync();

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	obj_watch(&W.sig, O_SIGNAL, signalfd(-1, &mask, SFD_NONBLOCK |
	    SFD_CLOEXEC));

	/* Listeners: one per worker with SO_REUSEPORT, else all shared. */
	for (i = 0; i < cf->nlfd; i++) {
		if ((cf->reuseport && i != id) || (cf->udp && !cf->reuseport &&
		    id != 0)) {
			/* Shared UDP sockets: one reader, or sessions split. */
			close(cf->lfd[i]);
			continue;
		}
		if (cf->udp) {
			ufd[nufd++] = cf->lfd[i];
			continue;
		}
		W.lobj[W.nlisten].type = O_LISTEN;
		W.lobj[W.nlisten++].fd = cf->lfd[i];
	}
	W.udp_next = -1;
	if (cf->udp) {
		W.udp = relay_udp_new(cf, sh, id, &W.lb, W.limit, ufd, nufd,
		    W.fd_limit);
		if (W.udp == NULL)
			return 1;
		obj_watch(&W.udpo, O_UDP, relay_udp_fd(W.udp));
	}
	W.paused = 1;
	listeners_watch(1);
	if (id == 0 && cf->stats_fd != -1)
		obj_watch(&W.stats, O_STATS, cf->stats_fd);
	else if (cf->stats_fd != -1)
		close(cf->stats_fd);
	/* Without a master, the worker serves the control socket. */
	if (cf->ctl_fd != -1) {
		if ((W.ctl = relay_ctl_new(cf, sh)) == NULL)
			return 1;
		obj_watch(&W.ctlo, O_CTL, relay_ctl_fd(W.ctl));
	}
	title();
	relay_notify(cf, "READY=1");

	for (;;) {
		n = epoll_wait(W.epfd, evs, 256, W.ready != NULL ? 0 :
		    next_timeout());
		W.now = relay_now_ms();
		__atomic_store_n(&W.ws->beat, W.now, __ATOMIC_RELAXED);
		for (i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			void *p = (void *)(uintptr_t)(d & ~(uint64_t)TAG_MASK);
			int tag = (int)(d & TAG_MASK);
			struct obj *o = p;

			if (tag == TAG_CLIENT || tag == TAG_SERVER) {
				if (((struct conn *)p)->cfd != -1)
					on_conn(p, tag, evs[i].events);
			} else if (tag == TAG_CHECK) {
				struct relay_server *s = p;

				if (s->chk_fd != -1)
					health_event(s);
			} else if (o->type == O_LISTEN)
				on_accept(o);
			else if (o->type == O_STATS)
				stats_accept();
			else if (o->type == O_STATCL)
				stats_io((struct statcl *)(void *)o);
			else if (o->type == O_UDP)
				relay_udp_run(W.udp, W.now);
			else if (o->type == O_SIGNAL)
				on_signal();
			else if (o->type == O_CTL)
				relay_ctl_run(W.ctl, W.lb.srv, W.lb.n);
		}
		run_ready();
		expire();
		if (W.udp != NULL)
			W.udp_next = relay_udp_expire(W.udp, W.now);
		stats_expire();
		free_dead();
		if (W.retired != NULL)
			servers_reap();
		ctl_sync();
		if (id == 0)
			health_run();
		else
			health_sync();
		if (W.now >= W.tick) {
			W.tick = W.now + 1000;
			if (W.ctl != NULL)	/* its clients' timeouts */
				relay_ctl_run(W.ctl, W.lb.srv, W.lb.n);
			if (W.limit != NULL)
				relay_limit_sweep(W.limit, W.now);
			if (W.nconns != last_conns) {
				last_conns = W.nconns;
				title();
			}
		}
		relay_notify_tick(cf, sh, W.now, 1, W.draining);
		if (W.draining) {
			if (W.now >= W.drain_end)
				drain_end();
			if (W.nconns == 0 || W.now >= W.drain_end) {
				wlog(0, "drained, exiting");
				return 0;
			}
		}
	}
}

