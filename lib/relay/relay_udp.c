/*
 * relay_udp.c - the datagram path of pp-relay --udp and pp-balance --udp:
 * sessions per client, a v2 header of transport DGRAM on every datagram
 * sent upstream, a header judged on every datagram received, replies sent
 * back as plain datagrams.  Also the UDP health check and the udp_*
 * metrics.
 *
 * A session is a client as the relay knows it: its address and port, or
 * with --accept-proxy the peer that sent the datagram plus the client its
 * header names.  Each has its own connected upstream socket, so the
 * server's replies come back on it and the kernel, not a table, says whose
 * they are.  With -w N each worker reads its own SO_REUSEPORT socket, the
 * kernel hashes a client's datagrams to one of them, and the replies come
 * back to the socket that worker made: a session never crosses workers.
 *
 * Memory: a session is a small struct from a free list plus its socket;
 * nothing is buffered per session.  Datagrams are read in batches
 * (recvmmsg) into the worker's scratch slots, and sent in batches
 * (sendmmsg) with the header and the payload gathered from two iovecs,
 * so the payload is never copied.
 *
 * Sessions are kept in order of last use (touching one moves it to the
 * tail), so the head is both the next to time out and the oldest idle one,
 * which goes first when the table is full or descriptors run out.
 *
 * Events: the sockets live in an epoll set of their own, level-triggered,
 * which the worker's loop watches as one descriptor: the TCP engine needs
 * to know nothing of them.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

#define UDP_BATCH	32		/* datagrams per recvmmsg/sendmmsg */
#define UDP_SLOT	65536		/* the largest datagram, whole */
#define UDP_ROUNDS	8		/* batches per wake-up and socket */
#define UDP_MAX4	65507		/* 65535 - 20 (IPv4) - 8 (UDP) */
#define UDP_MAX6	65527		/* 65535 - 8 (IPv6 counts no header) */
#define SESS_CHUNK	256
#define FD_RESERVE	32		/* fds kept for checks, stats */
#define TAB_MAX		(1u << 20)	/* hash buckets at most */
#define TAG_LISTEN	1

/* An IP endpoint, small: a session holds three. */
union uaddr {
	struct sockaddr		sa;
	struct sockaddr_in	in;
	struct sockaddr_in6	in6;
};

struct usess {
	int		fd;		/* connected to srv; -1: ended */
	uint32_t	hash;
	struct usess	*hnext;		/* hash chain; free, dead lists */
	struct usess	*prev, *next;	/* by last use, oldest first */
	struct relay_server *srv;
	struct relay_ipent *ip;
	union uaddr	peer;		/* who sent the datagrams */
	union uaddr	client;		/* the real one (peer or header) */
	union uaddr	local;		/* sent to: the replies' source */
	int		lsock;		/* listener replies leave by */
	int64_t		t0, last;
	uint64_t	dg_up, dg_dn, by_up, by_dn;
};

struct ulisten {
	int		fd;
	int		wild;		/* bound to any: ask pktinfo */
	union uaddr	bound;
};

union uctl {
	struct cmsghdr	c;
	char		b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			    CMSG_SPACE(sizeof(struct in_pktinfo))];
};

struct relay_udp {
	const struct relay_conf *cf;
	struct relay_shared *sh;
	struct relay_wstat *ws;
	struct relay_lb	*lb;
	struct relay_limit *limit;
	int		epfd;
	struct ulisten	l[RELAY_MAXLISTEN];
	int		nl;
	struct usess	**tab;
	uint32_t	mask;
	struct usess	*head, *tail;	/* live sessions by last use */
	struct usess	*free, *dead;
	void		**chunks;
	int		nchunks;
	int		nsess, cap;
	int		full_logged;	/* the table-full spell said */
	int64_t		now;
	uint64_t	seed;
	struct relay_ustat acc;		/* to sh once per batch */
	/* receiving */
	struct mmsghdr	msg[UDP_BATCH];
	struct iovec	iov[UDP_BATCH];
	union uaddr	name[UDP_BATCH];
	union uctl	ctl[UDP_BATCH];
	uint8_t		*buf;		/* UDP_BATCH x UDP_SLOT */
	/* sending */
	struct mmsghdr	omsg[UDP_BATCH];
	struct iovec	oiov[UDP_BATCH][2];
	union uctl	octl;		/* one source for a batch */
	uint8_t		*hdr;		/* UDP_BATCH x hdrcap */
	size_t		hdrcap;
	struct usess	*pend;		/* whose omsg holds */
	int		npend;
};

static const char *const drop_names[RELAY_UDROP_MAX] = {
	"untrusted", "bad-header", "denied", "limit", "no-server", "oversize",
	"error"
};
static const char *const uend_names[RELAY_UEND_MAX] = {
	"timeout", "evicted", "server-down", "drain"
};

static void
ua_set(union uaddr *a, const struct sockaddr_storage *ss)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET)
		a->in = *(const struct sockaddr_in *)(const void *)ss;
	else if (ss->ss_family == AF_INET6)
		a->in6 = *(const struct sockaddr_in6 *)(const void *)ss;
}

static void
ua_get(struct sockaddr_storage *ss, const union uaddr *a)
{
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, a, sizeof(*a));
}

static int
ua_eq(const union uaddr *a, const union uaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		    a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	    a->in6.sin6_scope_id == b->in6.sin6_scope_id &&
	    memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

static uint64_t
ua_hash(const union uaddr *a, uint64_t seed)
{
	if (a->sa.sa_family == AF_INET)
		return relay_hash_bytes((const uint8_t *)&a->in.sin_port, 6,
		    seed);
	return relay_hash_bytes((const uint8_t *)&a->in6.sin6_addr, 16,
	    seed ^ a->in6.sin6_port);
}

static char *
ua_text(const union uaddr *a, char *buf, size_t cap)
{
	struct sockaddr_storage ss;

	ua_get(&ss, a);
	return net_addr_format(&ss, buf, cap);
}

/* Counters: local to the batch, then one atomic add each. */
static void
acc_flush(struct relay_udp *u)
{
	struct relay_ustat *g = &u->sh->udp_st, *a = &u->acc;
	uint64_t *gp = (uint64_t *)(void *)g, *ap = (uint64_t *)(void *)a;
	size_t i;

	for (i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
		if (ap[i] != 0) {
			__atomic_add_fetch(&gp[i], ap[i], __ATOMIC_RELAXED);
			ap[i] = 0;
		}
}

/* Sessions: the table, the order of use, the end. */

static void
lru_unlink(struct relay_udp *u, struct usess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		u->head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		u->tail = s->prev;
	s->prev = s->next = NULL;
}

static void
lru_append(struct relay_udp *u, struct usess *s)
{
	s->prev = u->tail;
	s->next = NULL;
	if (u->tail != NULL)
		u->tail->next = s;
	else
		u->head = s;
	u->tail = s;
}

static void
touch(struct relay_udp *u, struct usess *s)
{
	s->last = u->now;
	if (u->tail != s) {
		lru_unlink(u, s);
		lru_append(u, s);
	}
}

static uint32_t
sess_hash(const struct relay_udp *u, const union uaddr *peer,
    const union uaddr *client)
{
	return (uint32_t)(ua_hash(peer, u->seed) ^
	    (ua_hash(client, ~u->seed) * 31));
}

static struct usess *
sess_find(struct relay_udp *u, const union uaddr *peer,
    const union uaddr *client, uint32_t h)
{
	struct usess *s;

	for (s = u->tab[h & u->mask]; s != NULL; s = s->hnext)
		if (s->hash == h && ua_eq(&s->peer, peer) &&
		    ua_eq(&s->client, client))
			return s;
	return NULL;
}

static void
sess_end(struct relay_udp *u, struct usess *s, int why)
{
	struct relay_server *srv = s->srv;
	struct usess **pp;
	struct sockaddr_storage cl, pe;
	struct relay_logrec r;
	char line[1024];

	if (u->cf->verbose >= 1 && u->cf->log != NULL) {
		ua_get(&cl, &s->client);
		ua_get(&pe, &s->peer);
		memset(&r, 0, sizeof(r));
		r.client = &cl;
		r.peer = &pe;
		r.server = srv->name;
		r.up = s->by_up;
		r.down = s->by_dn;
		r.ms = u->now - s->t0;
		r.end_name = uend_names[why];
		r.udp = 1;
		r.dg_up = s->dg_up;
		r.dg_down = s->dg_dn;
		relay_log_line(u->cf->log_format, &r, line, sizeof(line));
		u->cf->log(1, line);
	}
	if (u->pend == s)
		u->npend = 0, u->pend = NULL;
	close(s->fd);		/* and out of the epoll set */
	s->fd = -1;
	for (pp = &u->tab[s->hash & u->mask]; *pp != s; pp = &(*pp)->hnext)
		;
	*pp = s->hnext;
	lru_unlink(u, s);
	srv->refs--;
	srv->active--;
	if (srv->st != NULL)
		__atomic_sub_fetch(&u->ws->srv_active[srv->st - u->sh->srv], 1,
		    __ATOMIC_RELAXED);
	if (s->ip != NULL)
		relay_limit_release(u->limit, s->ip);
	u->nsess--;
	__atomic_sub_fetch(&u->ws->udp_active, 1, __ATOMIC_RELAXED);
	u->acc.ended[why]++;
	/* Events for it may follow in this batch: freed after it. */
	s->hnext = u->dead;
	u->dead = s;
}

static void
free_dead(struct relay_udp *u)
{
	struct usess *s;

	while ((s = u->dead) != NULL) {
		u->dead = s->hnext;
		s->hnext = u->free;
		u->free = s;
	}
}

static struct usess *
sess_alloc(struct relay_udp *u)
{
	struct usess *chunk, *s;
	void **nc;
	int i;

	if (u->free == NULL) {
		if ((chunk = calloc(SESS_CHUNK, sizeof(*chunk))) == NULL)
			return NULL;
		nc = reallocarray(u->chunks, u->nchunks + 1, sizeof(*nc));
		if (nc == NULL) {
			free(chunk);
			return NULL;
		}
		u->chunks = nc;
		u->chunks[u->nchunks++] = chunk;
		for (i = 0; i < SESS_CHUNK; i++) {
			chunk[i].hnext = u->free;
			u->free = &chunk[i];
		}
	}
	s = u->free;
	u->free = s->hnext;
	memset(s, 0, sizeof(*s));
	return s;
}

/* The oldest idle session goes, to make room; 0, or -1 when none. */
static int
evict(struct relay_udp *u, const char *what)
{
	if (u->head == NULL)
		return -1;
	if (!u->full_logged++)
		relay_logf(u->cf, 0,
		    "UDP %s (%d sessions): ending the oldest idle "
		    "ones", what, u->nsess);
	sess_end(u, u->head, RELAY_UEND_EVICTED);
	return 0;
}

/*
 * --usesrc clientip: the upstream socket takes the client's own address
 * and port, so a server without the protocol sees it (IP_TRANSPARENT
 * needs CAP_NET_ADMIN; the replies must be routed back to this host).
 */
static int
bind_client(int fd, const struct sockaddr_storage *client,
    const struct relay_server *srv)
{
	struct sockaddr_storage src = *client;
	int one = 1;

	net_addr_unmap(&src);
	if (src.ss_family != srv->addr.ss_family) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (src.ss_family == AF_INET ? setsockopt(fd, SOL_IP, IP_TRANSPARENT,
	    &one, sizeof(one)) : setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT,
	    &one, sizeof(one)))
		return -1;
	return bind(fd, (struct sockaddr *)&src, net_addr_len(&src));
}

/* A socket to srv for client: the descriptor, or -1 (errno set). */
static int
upstream_socket(struct relay_udp *u, const struct relay_server *srv,
    const struct sockaddr_storage *client)
{
	int fd, again;

	for (again = 0; ; again++) {
		fd = socket(srv->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd != -1 || (errno != EMFILE && errno != ENFILE) ||
		    again > 0 || evict(u, "out of descriptors") == -1)
			break;
	}
	if (fd == -1)
		return -1;
	if ((u->cf->usesrc && bind_client(fd, client, srv) == -1) ||
	    connect(fd, (const struct sockaddr *)&srv->addr,
	    net_addr_len(&srv->addr)) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* A new session: the session, or NULL with *why a RELAY_UDROP_*. */
static struct usess *
sess_new(struct relay_udp *u, const union uaddr *peer,
    const union uaddr *client, uint32_t h, int lsock, int *why)
{
	struct sockaddr_storage cl;
	struct relay_tried tried;
	struct relay_server *srv = NULL;
	struct relay_ipent *ip = NULL;
	struct epoll_event ev;
	struct usess *s;
	int i, fd = -1, tries;

	ua_get(&cl, client);
	if (u->limit != NULL &&
	    (ip = relay_limit_take(u->limit, &cl, u->now)) == NULL) {
		*why = RELAY_UDROP_LIMIT;
		return NULL;
	}
	if (u->nsess >= u->cap)
		evict(u, "session table full");
	else
		u->full_logged = 0;	/* there was room: a spell ends */
	memset(&tried, 0, sizeof(tried));
	for (tries = 0; tries <= u->cf->retries; tries++) {
		if ((i = relay_lb_pick(u->lb, &cl, &tried)) == -1)
			break;
		tried.bits[i / 64] |= 1ULL << (i % 64);
		srv = u->lb->srv[i];
		if ((fd = upstream_socket(u, srv, &cl)) != -1)
			break;
		relay_logf(u->cf, 2, "UDP socket to %s failed: %s", srv->name,
		    strerror(errno));
		if (srv->st != NULL)
			__atomic_add_fetch(&srv->st->connect_fail, 1,
			    __ATOMIC_RELAXED);
		if (errno == EMFILE || errno == ENFILE)
			break;	/* no other server would do better */
	}
	if (fd == -1 || (s = sess_alloc(u)) == NULL) {
		if (fd != -1)
			close(fd);
		if (ip != NULL)
			relay_limit_release(u->limit, ip);
		*why = srv == NULL ? RELAY_UDROP_NOSERVER : RELAY_UDROP_ERROR;
		return NULL;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = s;
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		close(fd);
		s->hnext = u->free;
		u->free = s;
		if (ip != NULL)
			relay_limit_release(u->limit, ip);
		*why = RELAY_UDROP_ERROR;
		return NULL;
	}
	s->fd = fd;
	s->hash = h;
	s->peer = *peer;
	s->client = *client;
	s->lsock = lsock;
	s->srv = srv;
	s->ip = ip;
	s->t0 = s->last = u->now;
	s->hnext = u->tab[h & u->mask];
	u->tab[h & u->mask] = s;
	lru_append(u, s);
	srv->refs++;
	srv->active++;
	if (srv->st != NULL) {
		__atomic_add_fetch(&u->ws->srv_active[srv->st - u->sh->srv], 1,
		    __ATOMIC_RELAXED);
		__atomic_add_fetch(&srv->st->total, 1, __ATOMIC_RELAXED);
	}
	u->nsess++;
	__atomic_add_fetch(&u->ws->udp_active, 1, __ATOMIC_RELAXED);
	u->acc.sessions++;
	return s;
}

/* Sending. */

/* The source of a reply: the address its client sent to. */
static socklen_t
put_source(union uctl *ctl, const union uaddr *local)
{
	struct cmsghdr *c = &ctl->c;

	memset(ctl, 0, sizeof(*ctl));
	if (local->sa.sa_family == AF_INET) {
		struct in_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi_spec_dst = local->in.sin_addr;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (local->sa.sa_family == AF_INET6) {
		struct in6_pktinfo pi;

		memset(&pi, 0, sizeof(pi));
		pi.ipi6_addr = local->in6.sin6_addr;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

/*
 * sendmmsg all of msg[0..n) on fd.  A datagram the kernel refuses is
 * dropped and counted, never cut: EMSGSIZE as oversize, anything else as
 * an error; an ICMP error left by an earlier datagram (ECONNREFUSED) is
 * reported once on a send that did not happen, so that one is tried
 * again.  Returns the datagrams sent and adds their payload (iovec pay)
 * to *bytes.
 */
static int
send_all(int fd, struct mmsghdr *msg, int n, uint64_t *oversize,
    uint64_t *failed, uint64_t *bytes, int pay)
{
	int k = 0, r, sent = 0, retried = 0, j;

	while (k < n) {
		r = sendmmsg(fd, msg + k, (unsigned)(n - k), MSG_DONTWAIT);
		if (r > 0) {
			for (j = k; j < k + r; j++)
				*bytes += msg[j].msg_hdr.msg_iov[pay].iov_len;
			k += r;
			sent += r;
			retried = 0;
			continue;
		}
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == ECONNREFUSED || errno == EHOSTUNREACH
		    || errno == ENETUNREACH) && !retried) {
			retried = 1;
			continue;
		}
		if (r == -1 && errno == EMSGSIZE)
			(*oversize)++;
		else
			(*failed)++;
		k++;
		retried = 0;
	}
	return sent;
}

/* The datagrams waiting for u->pend go out. */
static void
flush_up(struct relay_udp *u)
{
	struct usess *s = u->pend;
	uint64_t bytes = 0;
	int sent;

	if (s == NULL || u->npend == 0) {
		u->npend = 0;
		return;
	}
	sent = send_all(s->fd, u->omsg, u->npend,
	    &u->acc.dropped[RELAY_UDROP_OVERSIZE],
	    &u->acc.dropped[RELAY_UDROP_ERROR], &bytes, 1);
	s->dg_up += (uint64_t)sent;
	s->by_up += bytes;
	u->acc.dg_in += (uint64_t)sent;
	u->acc.bytes_in += bytes;
	if (s->srv->st != NULL && bytes > 0)
		__atomic_add_fetch(&s->srv->st->bytes_in, bytes,
		    __ATOMIC_RELAXED);
	u->npend = 0;
	u->pend = NULL;
}

static void
drop(struct relay_udp *u, int why, const union uaddr *peer, const char *what)
{
	char pe[NET_ADDRSTRLEN];

	u->acc.dropped[why]++;
	if (u->cf->verbose >= 2)
		relay_logf(u->cf, 2, "UDP datagram from %s dropped (%s)%s%s",
		    ua_text(peer, pe, sizeof(pe)), drop_names[why],
		    what != NULL ? ": " : "", what != NULL ? what : "");
}

/* Where datagram i was sent: the bound address, or its pktinfo. */
static void
local_of(struct relay_udp *u, const struct ulisten *l, int i,
    union uaddr *local)
{
	struct cmsghdr *c;
	struct msghdr *m = &u->msg[i].msg_hdr;

	*local = l->bound;
	if (!l->wild)
		return;
	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			in_port_t port = l->bound.sa.sa_family == AF_INET ?
			    l->bound.in.sin_port : l->bound.in6.sin6_port;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(local, 0, sizeof(*local));
			local->in.sin_family = AF_INET;
			local->in.sin_addr = pi.ipi_addr;
			local->in.sin_port = port;
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->in6.sin6_addr = pi.ipi6_addr;
			return;
		}
	}
}

/*
 * Datagram i from listener li: judge its header (--accept-proxy), find or
 * make its session, put the next hop's header before it (--send-proxy).
 */
static void
udp_up(struct relay_udp *u, int li, int i)
{
	const struct relay_conf *cf = u->cf;
	const struct ulisten *l = &u->l[li];
	uint8_t *p = u->buf + (size_t)i * UDP_SLOT, *hb;
	size_t len = u->msg[i].msg_len, max;
	struct sockaddr_storage peer_ss, cl_ss, dst_ss;
	union uaddr peer, client, local, dst;
	struct pp_header h;
	struct usess *s;
	struct mmsghdr *om;
	uint32_t hash;
	int r, why, hlen = 0;

	peer = u->name[i];
	ua_get(&peer_ss, &peer);
	local_of(u, l, i, &local);
	if (u->msg[i].msg_hdr.msg_flags & MSG_TRUNC) {
		drop(u, RELAY_UDROP_OVERSIZE, &peer, NULL);
		return;
	}
	client = peer;
	dst = local;
	if (cf->accept_proxy >= 0 && (cf->ntrust == 0 ||
	    net_cidr_match(cf->trust, cf->ntrust, &peer_ss))) {
		r = pp_parse_version(p, len, 2, &h);
		if (r == -PP_ENOT_PP && cf->optional)
			r = 0;	/* --optional: all of it is payload */
		else if (r <= 0 || r > cf->max_header) {
			drop(u, RELAY_UDROP_BADHDR, &peer, r < 0 ?
			    pp_strerror(r) : r == 0 ? "incomplete header" :
			    "header over --max-header");
			return;
		} else if (h.command == PP_V2_CMD_PROXY && h.has_addr &&
		    (h.src.ss_family == AF_INET ||
		    h.src.ss_family == AF_INET6)) {
			ua_set(&client, &h.src);
			ua_set(&dst, &h.dst);
		}
		/* LOCAL (a health check): the peer's own address serves. */
		p += r;
		len -= (size_t)r;
	} else if (cf->accept_proxy >= 0 && !cf->optional) {
		drop(u, RELAY_UDROP_UNTRUSTED, &peer, NULL);
		return;
	}
	ua_get(&cl_ss, &client);
	if ((cf->ndeny > 0 && net_cidr_match(cf->deny, cf->ndeny, &cl_ss)) ||
	    (cf->nallow > 0 && !net_cidr_match(cf->allow, cf->nallow,
	    &cl_ss))) {
		drop(u, RELAY_UDROP_DENIED, &client, NULL);
		return;
	}
	hash = sess_hash(u, &peer, &client);
	s = sess_find(u, &peer, &client, hash);
	/*
	 * A server that left the list, or went down while another may be
	 * up: the client moves (its next session picks again).
	 */
	if (s != NULL && (s->srv->retired || (!s->srv->up && u->lb->n > 1))) {
		if (u->pend == s)
			flush_up(u);
		sess_end(u, s, RELAY_UEND_SRVDOWN);
		s = NULL;
	}
	if (s == NULL || s != u->pend)
		flush_up(u);
	if (s == NULL && (s = sess_new(u, &peer, &client, hash, li,
	    &why)) == NULL) {
		drop(u, why, &client, NULL);
		return;
	}
	s->local = local;
	s->lsock = li;
	touch(u, s);
	hb = u->hdr + (size_t)u->npend * u->hdrcap;
	if (s->srv->send_proxy == 2) {
		memset(&h, 0, sizeof(h));
		h.command = PP_V2_CMD_PROXY;
		h.transport = PP_V2_TRANS_DGRAM;
		ua_get(&h.src, &client);
		ua_get(&dst_ss, &dst);
		h.dst = dst_ss;
		hlen = pp_build_v2(hb, u->hdrcap, &h, cf->tlv,
		    (size_t)cf->ntlv, cf->crc32c ? PP_BUILD_CRC32C : 0);
		if (hlen < 0) {
			drop(u, RELAY_UDROP_ERROR, &client, "no header");
			return;
		}
	}
	/* Never cut: a datagram that cannot go whole does not go. */
	max = s->srv->addr.ss_family == AF_INET6 ? UDP_MAX6 : UDP_MAX4;
	if ((size_t)hlen + len > max) {
		drop(u, RELAY_UDROP_OVERSIZE, &client, "over the UDP limit "
		    "with the header");
		return;
	}
	u->pend = s;
	om = &u->omsg[u->npend];
	memset(&om->msg_hdr, 0, sizeof(om->msg_hdr));
	u->oiov[u->npend][0].iov_base = hb;
	u->oiov[u->npend][0].iov_len = (size_t)hlen;
	u->oiov[u->npend][1].iov_base = p;
	u->oiov[u->npend][1].iov_len = len;
	om->msg_hdr.msg_iov = u->oiov[u->npend];
	om->msg_hdr.msg_iovlen = 2;
	u->npend++;
}

static void
recv_setup(struct relay_udp *u, int with_name)
{
	int i;

	for (i = 0; i < UDP_BATCH; i++) {
		struct msghdr *m = &u->msg[i].msg_hdr;

		u->iov[i].iov_base = u->buf + (size_t)i * UDP_SLOT;
		u->iov[i].iov_len = UDP_SLOT;
		memset(m, 0, sizeof(*m));
		m->msg_iov = &u->iov[i];
		m->msg_iovlen = 1;
		if (with_name) {
			m->msg_name = &u->name[i];
			m->msg_namelen = sizeof(u->name[i]);
			m->msg_control = &u->ctl[i];
			m->msg_controllen = sizeof(u->ctl[i]);
		}
	}
}

static void
read_listener(struct relay_udp *u, int li)
{
	int round, n, i;

	for (round = 0; round < UDP_ROUNDS; round++) {
		recv_setup(u, 1);
		n = recvmmsg(u->l[li].fd, u->msg, UDP_BATCH, MSG_DONTWAIT,
		    NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++)
			udp_up(u, li, i);
		flush_up(u);
		if (n < UDP_BATCH)
			return;
	}
}

/* Replies from the server of s go to its peer, plain, batched. */
static void
read_session(struct relay_udp *u, struct usess *s)
{
	socklen_t clen;
	uint64_t bytes;
	int round, n, i, sent;

	for (round = 0; round < UDP_ROUNDS && s->fd != -1; round++) {
		recv_setup(u, 0);
		n = recvmmsg(s->fd, u->msg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1 && (errno == ECONNREFUSED || errno == EINTR))
			continue;	/* an ICMP error, now cleared */
		if (n <= 0)
			return;
		clen = u->l[s->lsock].wild ? put_source(&u->octl, &s->local) :
		    0;
		for (i = 0; i < n; i++) {
			struct msghdr *m = &u->omsg[i].msg_hdr;

			memset(m, 0, sizeof(*m));
			u->oiov[i][0].iov_base = u->iov[i].iov_base;
			u->oiov[i][0].iov_len = u->msg[i].msg_len;
			m->msg_iov = u->oiov[i];
			m->msg_iovlen = 1;
			m->msg_name = &s->peer;
			m->msg_namelen = s->peer.sa.sa_family == AF_INET ?
			    sizeof(s->peer.in) : sizeof(s->peer.in6);
			m->msg_control = clen > 0 ? &u->octl : NULL;
			m->msg_controllen = clen;
		}
		bytes = 0;
		sent = send_all(u->l[s->lsock].fd, u->omsg, n,
		    &u->acc.dropped_down, &u->acc.dropped_down, &bytes, 0);
		s->dg_dn += (uint64_t)sent;
		s->by_dn += bytes;
		u->acc.dg_out += (uint64_t)sent;
		u->acc.bytes_out += bytes;
		if (s->srv->st != NULL && bytes > 0)
			__atomic_add_fetch(&s->srv->st->bytes_out, bytes,
			    __ATOMIC_RELAXED);
		touch(u, s);
		if (n < UDP_BATCH)
			return;
	}
}

void
relay_udp_run(struct relay_udp *u, int64_t now)
{
	struct epoll_event evs[256];
	int i, n;

	u->now = now;
	n = epoll_wait(u->epfd, evs, 256, 0);
	for (i = 0; i < n; i++) {
		uintptr_t d = (uintptr_t)evs[i].data.ptr;

		if (d & TAG_LISTEN)
			read_listener(u, (int)(d >> 1));
		else if (((struct usess *)evs[i].data.ptr)->fd != -1)
			read_session(u, evs[i].data.ptr);
	}
	free_dead(u);
	acc_flush(u);
}

int
relay_udp_expire(struct relay_udp *u, int64_t now)
{
	int64_t ms = u->cf->sess_ms;

	u->now = now;
	while (u->head != NULL && u->head->last + ms <= now)
		sess_end(u, u->head, RELAY_UEND_TIMEOUT);
	free_dead(u);
	acc_flush(u);
	if (u->head == NULL)
		return -1;
	return (int)(u->head->last + ms - now);
}

void
relay_udp_drain(struct relay_udp *u)
{
	int i;

	while (u->head != NULL)
		sess_end(u, u->head, RELAY_UEND_DRAIN);
	for (i = 0; i < u->nl; i++)
		if (u->l[i].fd != -1) {
			close(u->l[i].fd);
			u->l[i].fd = -1;
		}
	free_dead(u);
	acc_flush(u);
}

int
relay_udp_sessions(const struct relay_udp *u)
{
	return u->nsess;
}

int
relay_udp_fd(const struct relay_udp *u)
{
	return u->epfd;
}

void
relay_udp_free(struct relay_udp *u)
{
	int i;

	if (u == NULL)
		return;
	relay_udp_drain(u);
	for (i = 0; i < u->nchunks; i++)
		free(u->chunks[i]);
	free(u->chunks);
	free(u->tab);
	free(u->buf);
	free(u->hdr);
	if (u->epfd != -1)
		close(u->epfd);
	free(u);
}

/* The largest header this configuration sends: v2 INET6 plus the TLVs. */
static size_t
header_cap(const struct relay_conf *cf)
{
	size_t n = PP_V2_FIXED + 36 + 7;	/* + CRC32C */
	int i;

	for (i = 0; i < cf->ntlv; i++)
		n += 3 + cf->tlv[i].len;
	return (n + 15) & ~(size_t)15;
}

struct relay_udp *
relay_udp_new(const struct relay_conf *cf, struct relay_shared *sh, int id,
    struct relay_lb *lb, struct relay_limit *limit, const int *fds, int n,
    int fd_limit)
{
	struct relay_udp *u;
	struct epoll_event ev;
	socklen_t len;
	uint32_t nb;
	int i, one = 1;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->cf = cf;
	u->sh = sh;
	u->ws = &sh->w[id];
	u->lb = lb;
	u->limit = limit;
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	u->cap = cf->max_sess;
	/* A session is a descriptor: the table never holds more than fit. */
	if (fd_limit > 0 && u->cap > fd_limit - FD_RESERVE - n) {
		u->cap = fd_limit - FD_RESERVE - n;
		if (u->cap < 1)
			u->cap = 1;
		if (id == 0 && cf->max_sess != 65536)
			relay_logf(u->cf, 0,
			    "--max-sessions %d: %d descriptors allow "
			    "%d sessions per worker", cf->max_sess, fd_limit,
			    u->cap);
	}
	for (nb = 64; nb < (uint32_t)u->cap && nb < TAB_MAX; nb <<= 1)
		;
	u->mask = nb - 1;
	u->tab = calloc(nb, sizeof(*u->tab));
	u->buf = malloc((size_t)UDP_BATCH * UDP_SLOT);
	u->hdrcap = header_cap(cf);
	u->hdr = malloc((size_t)UDP_BATCH * u->hdrcap);
	arc4random_buf(&u->seed, sizeof(u->seed));
	if (u->epfd == -1 || u->tab == NULL || u->buf == NULL ||
	    u->hdr == NULL) {
		relay_udp_free(u);
		return NULL;
	}
	for (i = 0; i < n && i < RELAY_MAXLISTEN; i++) {
		struct sockaddr_storage ss;
		struct ulisten *l = &u->l[u->nl];

		l->fd = fds[i];
		len = sizeof(ss);
		memset(&ss, 0, sizeof(ss));
		getsockname(l->fd, (struct sockaddr *)&ss, &len);
		ua_set(&l->bound, &ss);
		if (ss.ss_family == AF_INET)
			l->wild = l->bound.in.sin_addr.s_addr == INADDR_ANY;
		else
			l->wild = memcmp(&l->bound.in6.sin6_addr, &in6addr_any,
			    16) == 0;
		/*
		 * On a socket bound to every address, pktinfo tells where
		 * each datagram went: that is the header's destination and
		 * the reply's source.  A v6 socket tells IPv4 ones as
		 * IPv4-mapped, which the reply's IPV6_PKTINFO takes back.
		 */
		if (l->wild)
			setsockopt(l->fd, ss.ss_family == AF_INET6 ?
			    IPPROTO_IPV6 : IPPROTO_IP, ss.ss_family ==
			    AF_INET6 ? IPV6_RECVPKTINFO : IP_PKTINFO, &one,
			    sizeof(one));
		ev.events = EPOLLIN;
		ev.data.ptr = (void *)(((uintptr_t)u->nl << 1) | TAG_LISTEN);
		if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, l->fd, &ev) == -1) {
			relay_udp_free(u);
			return NULL;
		}
		u->nl++;
	}
	return u;
}

/*
 * UDP health checks: the server's check-send bytes (after a LOCAL header
 * for a v2 server); a reply passes, one whose first 1024 bytes contain
 * check-expect when the server has one, as for TCP.
 */

int
relay_udp_check_start(struct relay_server *s, int64_t now, int timeout_ms)
{
	uint8_t buf[PP_V2_FIXED + RELAY_CHKSEND];
	struct pp_header h;
	int fd, n = 0;

	fd = socket(s->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (s->send_proxy == 2) {
		memset(&h, 0, sizeof(h));
		h.command = PP_V2_CMD_LOCAL;
		n = pp_build_v2(buf, sizeof(buf), &h, NULL, 0, 0);
	}
	if (n >= 0)
		memcpy(buf + n, s->chk.send, s->chk.send_len);
	if (n < 0 || connect(fd, (struct sockaddr *)&s->addr,
	    net_addr_len(&s->addr)) == -1 || send(fd, buf, (size_t)n +
	    s->chk.send_len, MSG_DONTWAIT) == -1) {
		close(fd);
		return -1;
	}
	s->chk_fd = fd;
	s->chk_deadline = now + timeout_ms;
	return 0;
}

/* Readable: a reply (up), or an ICMP error such as port unreachable. */
int
relay_udp_check_finish(struct relay_server *s)
{
	uint8_t b[1024];
	ssize_t n;

	n = recv(s->chk_fd, b, sizeof(b), MSG_DONTWAIT);
	close(s->chk_fd);
	s->chk_fd = -1;
	return n >= 0 && (s->chk.expect_len == 0 || memmem(b, (size_t)n,
	    s->chk.expect, s->chk.expect_len) != NULL);
}

/* Metrics. */

#define LD(p)	\
	((unsigned long long)__atomic_load_n(&(p), __ATOMIC_RELAXED))

size_t
relay_udp_stats_text(const struct relay_shared *sh, const char *pfx,
    char *buf, size_t cap, size_t off)
{
	const struct relay_ustat *st = &sh->udp_st;
	unsigned long long active = 0;
	int i;

	for (i = 0; i < RELAY_MAXWORKERS; i++)
		active += LD(sh->w[i].udp_active);
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_sessions_active "
	    "open UDP sessions\n# TYPE %s_udp_sessions_active gauge\n"
	    "%s_udp_sessions_active %llu\n", pfx, pfx, pfx, active);
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_sessions_total "
	    "UDP sessions made\n# TYPE %s_udp_sessions_total counter\n"
	    "%s_udp_sessions_total %llu\n", pfx, pfx, pfx, LD(st->sessions));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_sessions_ended_"
	    "total UDP sessions ended, by reason\n# TYPE %s_udp_sessions_"
	    "ended_total counter\n", pfx, pfx);
	for (i = 0; i < RELAY_UEND_MAX; i++)
		off = relay_stats_add(buf, cap, off, "%s_udp_sessions_ended_"
		    "total{reason=\"%s\"} %llu\n", pfx, uend_names[i],
		    LD(st->ended[i]));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_datagrams_in_total"
	    " datagrams forwarded from clients to servers\n# TYPE "
	    "%s_udp_datagrams_in_total counter\n%s_udp_datagrams_in_total "
	    "%llu\n", pfx, pfx, pfx, LD(st->dg_in));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_datagrams_out_"
	    "total datagrams sent back from servers to clients\n# TYPE "
	    "%s_udp_datagrams_out_total counter\n%s_udp_datagrams_out_total "
	    "%llu\n", pfx, pfx, pfx, LD(st->dg_out));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_bytes_in_total "
	    "payload bytes from clients to servers\n# TYPE "
	    "%s_udp_bytes_in_total counter\n%s_udp_bytes_in_total %llu\n",
	    pfx, pfx, pfx, LD(st->bytes_in));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_bytes_out_total "
	    "payload bytes from servers to clients\n# TYPE "
	    "%s_udp_bytes_out_total counter\n%s_udp_bytes_out_total %llu\n",
	    pfx, pfx, pfx, LD(st->bytes_out));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_datagrams_dropped_"
	    "total datagrams from clients not forwarded, by reason\n# TYPE "
	    "%s_udp_datagrams_dropped_total counter\n", pfx, pfx);
	for (i = 0; i < RELAY_UDROP_MAX; i++)
		off = relay_stats_add(buf, cap, off, "%s_udp_datagrams_dropped_"
		    "total{reason=\"%s\"} %llu\n", pfx, drop_names[i],
		    LD(st->dropped[i]));
	off = relay_stats_add(buf, cap, off, "# HELP %s_udp_replies_dropped_"
	    "total datagrams from servers that could not be sent back\n"
	    "# TYPE %s_udp_replies_dropped_total counter\n"
	    "%s_udp_replies_dropped_total %llu\n", pfx, pfx, pfx,
	    LD(st->dropped_down));
	return off;
}
