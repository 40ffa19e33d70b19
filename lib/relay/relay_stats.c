/*
 * relay_stats.c - the counters shared by the workers (slots, lock), their
 * Prometheus text exposition, and the /metrics responder of --stats:
 * non-blocking clients served by worker 0 from their own buffers.  Must
 * not count anything itself: the data path and the checks count.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"

/*
 * The lock guards the slot table (which address owns which slot).  A
 * worker can be killed while it holds it, so it is a robust mutex: the
 * next taker gets EOWNERDEAD and goes on.  What the dead holder may have
 * left half done is one slot's key or name being copied, for a slot that
 * no live worker holds yet (its srv_refs are still 0), so the table stays
 * usable: at worst that slot is taken again under a torn name, which the
 * next taker overwrites.
 */
int
relay_stats_init(struct relay_shared *sh)
{
	pthread_mutexattr_t a;
	int r;

	if (pthread_mutexattr_init(&a) != 0)
		return -1;
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) ||
	    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) ||
	    pthread_mutex_init(&sh->lock, &a);
	pthread_mutexattr_destroy(&a);
	return r ? -1 : 0;
}

void
relay_stats_lock(struct relay_shared *sh)
{
	if (pthread_mutex_lock(&sh->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&sh->lock);
}

void
relay_stats_unlock(struct relay_shared *sh)
{
	pthread_mutex_unlock(&sh->lock);
}

/* How many servers, in all workers, hold slot i. */
static unsigned
slot_refs(const struct relay_shared *sh, int i)
{
	unsigned n = 0;
	int k;

	for (k = 0; k < RELAY_MAXWORKERS; k++)
		n += __atomic_load_n(&sh->w[k].srv_refs[i], __ATOMIC_RELAXED);
	return n;
}

/*
 * The slot of a server, by name, shared by every worker: the same address
 * keeps its counters across reloads and option changes.  A slot nobody
 * holds is free; one with this name is preferred, so a server that comes
 * back finds its counters.  Takes the lock.  NULL when all are held.
 */
struct relay_sstat *
relay_stats_slot(struct relay_shared *sh, struct relay_wstat *ws,
    const char *name)
{
	struct relay_sstat *st = NULL;
	int i, fr = -1;

	relay_stats_lock(sh);
	for (i = 0; i < RELAY_MAXSRV; i++) {
		if (strcmp(sh->srv[i].key, name) == 0) {
			st = &sh->srv[i];
			/* Back in the list after it left: the list's state. */
			if (slot_refs(sh, i) == 0)
				st->admin = st->wset = st->hoff = 0;
			break;
		}
		if (fr == -1 && slot_refs(sh, i) == 0)
			fr = i;
	}
	if (st == NULL && fr != -1) {
		st = &sh->srv[fr];
		memset(st, 0, sizeof(*st));
		strlcpy(st->key, name, sizeof(st->key));
		strlcpy(st->name, name, sizeof(st->name));
		st->up = 1;
	}
	if (st != NULL)
		__atomic_add_fetch(&ws->srv_refs[st - sh->srv], 1,
		    __ATOMIC_RELAXED);
	relay_stats_unlock(sh);
	return st;
}

void
relay_stats_release(struct relay_shared *sh, struct relay_wstat *ws,
    const struct relay_sstat *st)
{
	if (st != NULL)
		__atomic_sub_fetch(&ws->srv_refs[st - sh->srv], 1,
		    __ATOMIC_RELAXED);
}

static const char *const end_names[RELAY_END_MAX] = {
	"done", "bad-header", "untrusted", "denied", "header-timeout",
	"limit", "no-server", "idle-timeout", "reset", "drain",
	"client-gone", "error"
};

static size_t
vadd(char *buf, size_t cap, size_t off, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static size_t
vadd(char *buf, size_t cap, size_t off, const char *fmt, va_list ap)
{
	int n;

	if (off >= cap)
		return off;
	n = vsnprintf(buf + off, cap - off, fmt, ap);
	return n < 0 ? off : off + (size_t)n;
}

static size_t
add(char *buf, size_t cap, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
add(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	off = vadd(buf, cap, off, fmt, ap);
	va_end(ap);
	return off;
}

/* The same, for the UDP metrics in relay_udp.c. */
size_t
relay_stats_add(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	off = vadd(buf, cap, off, fmt, ap);
	va_end(ap);
	return off;
}

#define LD(p)	__atomic_load_n(&(p), __ATOMIC_RELAXED)
#define ACTIVE	((size_t)-1)	/* the gauge summed over the workers */
#define WEIGHT	((size_t)-2)	/* the one in use: run time's, or the list's */

/*
 * A label value as the text format wants it: backslash, double quote and
 * line feed escaped as \\, \" and \n.  A unix:PATH server may hold any
 * of them.  Writes at most cap bytes, always NUL-terminated.
 */
static void
label_esc(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 <= cap; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : *s;
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
}

/* Prometheus text format 0.0.4; returns the length (may exceed cap). */
size_t
relay_stats_text(const struct relay_shared *sh, const char *prog, char *buf,
    size_t cap)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
		{ "server_up", "gauge", "1 when the server passes its checks",
		    offsetof(struct relay_sstat, up) },
		{ "server_active_connections", "gauge",
		    "connections open to the server",
		    ACTIVE },
		{ "server_connections_total", "counter",
		    "connections made to the server",
		    offsetof(struct relay_sstat, total) },
		{ "server_bytes_in_total", "counter",
		    "bytes from clients to the server",
		    offsetof(struct relay_sstat, bytes_in) },
		{ "server_bytes_out_total", "counter",
		    "bytes from the server to clients",
		    offsetof(struct relay_sstat, bytes_out) },
		{ "server_check_failures_total", "counter",
		    "failed health checks",
		    offsetof(struct relay_sstat, check_fail) },
		{ "server_connect_failures_total", "counter",
		    "failed connection attempts",
		    offsetof(struct relay_sstat, connect_fail) },
		{ "server_weight", "gauge", "the weight in use", WEIGHT },
		{ "server_admin_state", "gauge",
		    "0 ready, 1 drain, 2 maint (set on the control socket)",
		    offsetof(struct relay_sstat, admin) },
		{ "server_health_disabled", "gauge",
		    "1 when its health checks are disabled",
		    offsetof(struct relay_sstat, hoff) },
	};
	uint64_t act[RELAY_MAXSRV], active = 0;
	uint8_t inuse[RELAY_MAXSRV];
	char pfx[32], lab[2 * sizeof(sh->srv[0].name) + 1];
	size_t off = 0, k;
	int i, w;

	memset(act, 0, sizeof(act));
	memset(inuse, 0, sizeof(inuse));
	for (w = 0; w < RELAY_MAXWORKERS; w++) {
		active += LD(sh->w[w].active);
		for (i = 0; i < RELAY_MAXSRV; i++) {
			act[i] += LD(sh->w[w].srv_active[i]);
			inuse[i] |= LD(sh->w[w].srv_refs[i]) != 0;
		}
	}

	snprintf(pfx, sizeof(pfx), "%s", prog);
	for (k = 0; pfx[k] != '\0'; k++)
		if (pfx[k] == '-')
			pfx[k] = '_';
	off = add(buf, cap, off, "# HELP %s_connections_active open client "
	    "connections\n# TYPE %s_connections_active gauge\n"
	    "%s_connections_active %llu\n", pfx, pfx, pfx,
	    (unsigned long long)active);
	off = add(buf, cap, off, "# HELP %s_connections_total accepted client "
	    "connections\n# TYPE %s_connections_total counter\n"
	    "%s_connections_total %llu\n", pfx, pfx, pfx,
	    (unsigned long long)LD(sh->total));
	off = add(buf, cap, off, "# HELP %s_connections_ended_total client "
	    "connections ended, by reason\n# TYPE %s_connections_ended_total "
	    "counter\n", pfx, pfx);
	for (i = 0; i < RELAY_END_MAX; i++)
		off = add(buf, cap, off,
		    "%s_connections_ended_total{reason=\"%s\"} %llu\n", pfx,
		    end_names[i], (unsigned long long)LD(sh->ended[i]));
	for (k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		off = add(buf, cap, off, "# HELP %s_%s %s\n# TYPE %s_%s %s\n",
		    pfx, m[k].name, m[k].help, pfx, m[k].name, m[k].type);
		for (i = 0; i < RELAY_MAXSRV; i++) {
			const struct relay_sstat *st = &sh->srv[i];
			const char *p = (const char *)st +
			    (m[k].off >= WEIGHT ? 0 : m[k].off);
			unsigned long long v;

			if (!inuse[i])
				continue;
			if (m[k].off == ACTIVE)
				v = act[i];
			else if (m[k].off == WEIGHT)
				v = LD(st->wset) != 0 ? LD(st->wset) :
				    LD(st->wfile);
			else if (m[k].off == offsetof(struct relay_sstat, up) ||
			    m[k].off == offsetof(struct relay_sstat, admin) ||
			    m[k].off == offsetof(struct relay_sstat, hoff))
				v = __atomic_load_n((const uint32_t *)
				    (const void *)p, __ATOMIC_RELAXED);
			else
				v = __atomic_load_n((const uint64_t *)
				    (const void *)p, __ATOMIC_RELAXED);
			label_esc(st->name, lab, sizeof(lab));
			off = add(buf, cap, off, "%s_%s{server=\"%s\"} %llu\n",
			    pfx, m[k].name, lab, v);
		}
	}
	if (sh->udp)
		off = relay_udp_stats_text(sh, pfx, buf, cap, off);
	return off;
}

const char *
relay_end_name(int why)
{
	return why >= 0 && why < RELAY_END_MAX ? end_names[why] : "?";
}

static void
stats_free(struct statcl *sc)
{
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		W.sc_head = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	else
		W.sc_tail = sc->prev;
	close(sc->o.fd);
	free(sc->resp);
	free(sc);
	W.nstatcl--;
}

/* The request is in: build the answer.  -1 when out of memory. */
static int
stats_answer(struct statcl *sc)
{
	const char *p = NULL;
	char hdr[256];
	size_t len = 0;
	int ok, head, hlen;

	head = strncmp(sc->req, "HEAD ", 5) == 0;
	if (head)
		p = sc->req + 5;
	else if (strncmp(sc->req, "GET ", 4) == 0)
		p = sc->req + 4;
	ok = p != NULL && strncmp(p, "/metrics", 8) == 0 &&
	    (p[8] == ' ' || p[8] == '?');
	if (ok) {
		len = relay_stats_text(W.sh, W.conf->prog, W.page, W.pagecap);
		if (len > W.pagecap)
			len = W.pagecap;
	}
	/* HEAD: the headers GET would get, Content-Length included. */
	hlen = snprintf(hdr, sizeof(hdr), "HTTP/1.0 %s\r\nContent-Type: "
	    "text/plain; version=0.0.4\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", ok ? "200 OK" : "404 Not Found",
	    len);
	if (hlen < 0 || (size_t)hlen >= sizeof(hdr))
		return -1;
	sc->rtot = (size_t)hlen + (head ? 0 : len);
	if ((sc->resp = malloc(sc->rtot)) == NULL)
		return -1;
	memcpy(sc->resp, hdr, (size_t)hlen);
	if (!head)
		memcpy(sc->resp + hlen, W.page, len);
	sc->roff = 0;
	return 0;
}

/*
 * A stats client is ready.  Never blocks: a scraper that reads slowly or
 * not at all costs its own buffers and a slot, not the worker's time.
 */
void
stats_io(struct statcl *sc)
{
	struct epoll_event ev;
	ssize_t n;

	if (sc->resp == NULL) {
		n = recv(sc->o.fd, sc->req + sc->rlen, sizeof(sc->req) - 1 -
		    sc->rlen, MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			stats_free(sc);
			return;
		}
		sc->rlen += (size_t)n;
		sc->req[sc->rlen] = '\0';
		/* The request may come in pieces: wait for its blank line. */
		if (strstr(sc->req, "\r\n\r\n") == NULL &&
		    strstr(sc->req, "\n\n") == NULL) {
			if (sc->rlen == sizeof(sc->req) - 1)
				stats_free(sc);	/* too long to be ours */
			return;
		}
		if (stats_answer(sc) == -1) {
			stats_free(sc);
			return;
		}
		ev.events = EPOLLOUT;
		ev.data.u64 = (uint64_t)(uintptr_t)&sc->o | TAG_OBJ;
		if (epoll_ctl(W.epfd, EPOLL_CTL_MOD, sc->o.fd, &ev) == -1) {
			stats_free(sc);
			return;
		}
	}
	while (sc->roff < sc->rtot) {
		n = send(sc->o.fd, sc->resp + sc->roff, sc->rtot - sc->roff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;		/* the next EPOLLOUT goes on */
		if (n <= 0)
			break;
		sc->roff += (size_t)n;
	}
	stats_free(sc);
}

/* Stats clients past their time (the list is sorted by construction). */
void
stats_expire(void)
{
	while (W.sc_head != NULL && W.sc_head->deadline <= W.now)
		stats_free(W.sc_head);
}

void
stats_accept(void)
{
	struct epoll_event ev;
	struct statcl *sc;
	int i, fd;

	for (i = 0; i < ACCEPT_BURST; i++) {
		fd = accept4(W.stats.fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == ECONNABORTED || errno == EINTR)
				continue;
			if ((errno != EMFILE && errno != ENFILE) ||
			    W.spare == -1)
				return;
			/* As on_accept does: accept and close, no spin. */
			fds_exhausted();
			close(W.spare);
			if ((fd = accept(W.stats.fd, NULL, NULL)) != -1) {
				rst(fd);
				close(fd);
			}
			W.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
			continue;
		}
		/* Beyond the cap, or out of memory: accepted and closed. */
		if (W.nstatcl >= STATS_MAXCL ||
		    (sc = calloc(1, sizeof(*sc))) == NULL) {
			rst(fd);
			close(fd);
			continue;
		}
		sc->o.type = O_STATCL;
		sc->o.fd = fd;
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.u64 = (uint64_t)(uintptr_t)&sc->o | TAG_OBJ;
		if (epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(sc);
			continue;
		}
		sc->deadline = W.now + STATS_MS;
		sc->prev = W.sc_tail;
		if (W.sc_tail != NULL)
			W.sc_tail->next = sc;
		else
			W.sc_head = sc;
		W.sc_tail = sc;
		W.nstatcl++;
	}
}
