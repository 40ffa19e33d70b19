/*
 * relay_ctl.c - the control socket (--control unix:PATH): a line protocol
 * to look at the servers and to change their run-time state (ready,
 * drain, maint), weight and health checks while the relay runs.
 *
 * One process serves it: the master with -w N (it never touches the data
 * path), the only worker otherwise.  It has its own epoll set, so its host
 * watches one descriptor (nested in the worker's epoll, or ppoll in the
 * master).  Everything is non-blocking, each client has its own buffers,
 * clients, line length and idle time are capped: a client that holds the
 * socket, sends junk or never reads costs its own slot and nothing else.
 *
 * What a command sets goes into the server's shared slot (keyed by its
 * name, so it outlives a reload of the list) and bumps sh->ctl_gen; every
 * worker compares the generation at each turn of its loop (at least once
 * a second) and takes the new state with relay_ctl_pull.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define CTL_MAXCL	16		/* clients at once */
#define CTL_LINEMAX	1024		/* a command line, newline included */
#define CTL_IDLE_MS	30000		/* a client silent this long is closed */
#define CTL_OUTHIGH	65536		/* answers waiting: stop reading */
#define CTL_OUTMAX	(4 << 20)	/* answers waiting: give up on it */
#define CTL_PAGE	(256 * 1024)	/* show stat, as /metrics */

struct ctlcl {
	int		fd;
	int		eof;		/* no more input */
	int		closing;	/* close once the answer is out */
	uint32_t	events;		/* interest set now */
	int64_t		deadline;
	size_t		ilen;
	char		in[CTL_LINEMAX + 1];	/* + the NUL */
	char		*out;
	size_t		olen, ooff, ocap;
};

struct relay_ctl {
	struct relay_conf *cf;
	struct relay_shared *sh;
	int		lfd, ep;
	int		lpaused;	/* listener out of the set (EMFILE) */
	int64_t		lresume;
	int64_t		now;
	time_t		started;
	struct ctlcl	*cl[CTL_MAXCL];
	int		ncl;
	char		*page;
	struct relay_server *const *srv;	/* the list, for this run */
	int		nsrv;
};

static const char *const admin_names[] = { "ready", "drain", "maint" };

const char *
relay_admin_name(int admin)
{
	return admin >= 0 && admin <= RELAY_MAINT ? admin_names[admin] : "?";
}

#define LD(p)		__atomic_load_n(&(p), __ATOMIC_RELAXED)
#define ST(p, v)	__atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

/* Worker side: the slot is the truth, the server a copy of it. */

void
relay_ctl_attach(struct relay_server *s)
{
	s->wfile = s->weight;
	if (s->st == NULL)
		return;
	ST(s->st->wfile, (uint32_t)s->weight);
	/* "Last change" of a server never changed: when it came. */
	if (LD(s->st->changed) == 0)
		ST(s->st->changed, (int64_t)time(NULL));
	relay_ctl_pull(s);
}

void
relay_ctl_pull(struct relay_server *s)
{
	uint32_t w;

	if (s->st == NULL)
		return;
	s->admin = (int)LD(s->st->admin);
	s->hoff = s->check && LD(s->st->hoff);
	w = LD(s->st->wset);
	s->weight = w != 0 ? (int)w : s->wfile;
	/* Round robin starts again from even: the new shares are exact. */
	s->cur = 0;
}

int
relay_ctl_nocheck(const struct relay_server *s)
{
	return s->admin == RELAY_MAINT || s->hoff;
}

void
relay_ctl_checked(struct relay_server *s, int ok)
{
	if (s->st != NULL)
		ST(s->st->chk, ok ? 1u : 2u);
}

void
relay_ctl_changed(struct relay_server *s)
{
	if (s->st != NULL)
		ST(s->st->changed, (int64_t)time(NULL));
}

/* The serving side. */

struct relay_ctl *
relay_ctl_new(struct relay_conf *cf, struct relay_shared *sh)
{
	struct relay_ctl *c;
	struct epoll_event ev;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cf = cf;
	c->sh = sh;
	c->lfd = cf->ctl_fd;
	c->started = time(NULL);
	if ((c->ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(c);
		return NULL;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* NULL: the listener */
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->lfd, &ev) == -1) {
		close(c->ep);
		free(c);
		return NULL;
	}
	return c;
}

int
relay_ctl_fd(const struct relay_ctl *c)
{
	return c->ep;
}

static void
cl_free(struct relay_ctl *c, int i)
{
	struct ctlcl *k = c->cl[i];

	close(k->fd);
	free(k->out);
	free(k);
	c->cl[i] = c->cl[--c->ncl];
	c->cl[c->ncl] = NULL;
	if (c->lpaused)
		c->lresume = 0;		/* a descriptor is free again */
}

void
relay_ctl_free(struct relay_ctl *c)
{
	if (c == NULL)
		return;
	while (c->ncl > 0)
		cl_free(c, c->ncl - 1);
	close(c->ep);
	close(c->lfd);
	free(c->page);
	free(c);
}

/* Append to a client's answer; -1 past CTL_OUTMAX or out of memory. */
static int
put(struct ctlcl *k, const char *p, size_t n)
{
	char *nb;
	size_t cap;

	if (k->olen + n > CTL_OUTMAX)
		return -1;
	if (k->olen + n > k->ocap) {
		for (cap = k->ocap ? k->ocap : 4096; cap < k->olen + n;)
			cap *= 2;
		if ((nb = realloc(k->out, cap)) == NULL)
			return -1;
		k->out = nb;
		k->ocap = cap;
	}
	memcpy(k->out + k->olen, p, n);
	k->olen += n;
	return 0;
}

static int say(struct ctlcl *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
say(struct ctlcl *k, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return put(k, buf, (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1);
}

/* A JSON string; a name may be a unix:PATH holding anything. */
static void
json_str(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s != '\0' && o + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

/* The slot of server name, or NULL.  Keys change under the lock only. */
static struct relay_sstat *
slot_of(struct relay_ctl *c, const char *name)
{
	struct relay_sstat *st = NULL;
	int i;

	relay_stats_lock(c->sh);
	for (i = 0; i < RELAY_MAXSRV && st == NULL; i++)
		if (strcmp(c->sh->srv[i].key, name) == 0)
			st = &c->sh->srv[i];
	relay_stats_unlock(c->sh);
	return st;
}

static uint64_t
slot_active(const struct relay_ctl *c, const struct relay_sstat *st)
{
	uint64_t n = 0;
	long i = st - c->sh->srv;
	int w;

	for (w = 0; w < RELAY_MAXWORKERS; w++)
		n += LD(c->sh->w[w].srv_active[i]);
	return n;
}

static const char *
check_name(const struct relay_server *s, const struct relay_sstat *st)
{
	if (!s->check)
		return "none";
	if (st == NULL)
		return "pending";
	if (LD(st->hoff))
		return "disabled";
	if (LD(st->admin) == RELAY_MAINT)
		return "stopped";
	switch (LD(st->chk)) {
	case 1:
		return "ok";
	case 2:
		return "failed";
	}
	return "pending";
}

static int
show_servers(struct relay_ctl *c, struct ctlcl *k, int json)
{
	char nm[3 * sizeof(c->srv[0]->name)];
	const struct relay_server *s;
	struct relay_sstat *st;
	time_t now = time(NULL);
	long long ago;
	int i, r = 0, w;

	if (json)
		r |= say(k, "{\"servers\":[");
	for (i = 0; i < c->nsrv; i++) {
		s = c->srv[i];
		st = slot_of(c, s->name);
		w = st == NULL ? s->weight : LD(st->wset) != 0 ?
		    (int)LD(st->wset) : LD(st->wfile) != 0 ?
		    (int)LD(st->wfile) : s->weight;
		ago = st == NULL || LD(st->changed) == 0 ? -1 :
		    (long long)(now - LD(st->changed));
		if (json) {
			json_str(s->name, nm, sizeof(nm));
			r |= say(k, "%s{\"addr\":\"%s\",\"state\":\"%s\","
			    "\"health\":\"%s\",\"weight\":%d,"
			    "\"weight_list\":%d,\"active\":%llu,"
			    "\"total\":%llu,\"check\":\"%s\","
			    "\"check_failures\":%llu,\"backup\":%s,"
			    "\"last_change\":%lld}", i ? "," : "", nm,
			    relay_admin_name(st ? (int)LD(st->admin) : 0),
			    st == NULL || LD(st->up) ? "up" : "down", w,
			    st && LD(st->wfile) ? (int)LD(st->wfile) :
			    s->weight,
			    (unsigned long long)(st ? slot_active(c, st) : 0),
			    (unsigned long long)(st ? LD(st->total) : 0),
			    check_name(s, st),
			    (unsigned long long)(st ? LD(st->check_fail) : 0),
			    s->backup ? "true" : "false", ago);
		} else
			r |= say(k, "%s state=%s health=%s weight=%d "
			    "active=%llu total=%llu check=%s last_change=%lld%s\n",
			    s->name,
			    relay_admin_name(st ? (int)LD(st->admin) : 0),
			    st == NULL || LD(st->up) ? "up" : "down", w,
			    (unsigned long long)(st ? slot_active(c, st) : 0),
			    (unsigned long long)(st ? LD(st->total) : 0),
			    check_name(s, st), ago, s->backup ? " backup" : "");
	}
	if (json)
		r |= say(k, "]}\n");
	return r;
}

static int
show_info(struct relay_ctl *c, struct ctlcl *k, int json)
{
	uint64_t active = 0;
	long long up = (long long)(time(NULL) - c->started);
	int w;

	for (w = 0; w < RELAY_MAXWORKERS; w++)
		active += LD(c->sh->w[w].active);
	if (json)
		return say(k, "{\"name\":\"%s\",\"version\":\"%s\","
		    "\"pid\":%d,\"uptime\":%lld,\"workers\":%d,"
		    "\"connections_active\":%llu,\"connections_total\":%llu,"
		    "\"servers\":%d,\"balance\":\"%s\"}\n", c->cf->prog,
		    PP_VERSION_STRING, (int)getpid(), up, c->cf->workers,
		    (unsigned long long)active,
		    (unsigned long long)LD(c->sh->total), c->nsrv,
		    relay_algo_name(c->cf->algo));
	return say(k, "name=%s\nversion=%s\npid=%d\nuptime=%lld\nworkers=%d\n"
	    "connections_active=%llu\nconnections_total=%llu\nservers=%d\n"
	    "balance=%s\n", c->cf->prog, PP_VERSION_STRING, (int)getpid(), up,
	    c->cf->workers, (unsigned long long)active,
	    (unsigned long long)LD(c->sh->total), c->nsrv,
	    relay_algo_name(c->cf->algo));
}

static int
show_stat(struct relay_ctl *c, struct ctlcl *k)
{
	size_t n;

	if (c->page == NULL && (c->page = malloc(CTL_PAGE)) == NULL)
		return say(k, "error: out of memory\n");
	n = relay_stats_text(c->sh, c->cf->prog, c->page, CTL_PAGE);
	return put(k, c->page, n < CTL_PAGE ? n : CTL_PAGE);
}

/* The listed server ADDR names, or NULL with an error said. */
static const struct relay_server *
find_server(struct relay_ctl *c, struct ctlcl *k, const char *addr,
    struct relay_sstat **stp)
{
	struct relay_server probe;
	const char *why;
	int i;

	if (relay_server_parse(addr, &probe, 0, &why) == -1 ||
	    strchr(addr, ',') != NULL) {
		say(k, "error: %s: expected a server address (%s)\n", addr,
		    strchr(addr, ',') != NULL ? "no options" : why);
		return NULL;
	}
	for (i = 0; i < c->nsrv; i++)
		if (strcmp(c->srv[i]->name, probe.name) == 0)
			break;
	if (i == c->nsrv) {
		say(k, "error: %s: no such server\n", probe.name);
		return NULL;
	}
	if ((*stp = slot_of(c, probe.name)) == NULL) {
		say(k, "error: %s: not in use yet, try again\n", probe.name);
		return NULL;
	}
	return c->srv[i];
}

static void
changed(struct relay_ctl *c, struct relay_sstat *st)
{
	ST(st->changed, (int64_t)time(NULL));
	__atomic_add_fetch(&c->sh->ctl_gen, 1, __ATOMIC_RELEASE);
}

static int
set_server(struct relay_ctl *c, struct ctlcl *k, char **av, int ac)
{
	const struct relay_server *s;
	struct relay_sstat *st;
	char *end;
	long v;
	int a, old;

	if (ac != 5 || (strcmp(av[3], "state") != 0 &&
	    strcmp(av[3], "weight") != 0))
		return say(k, "error: expected set server ADDR state "
		    "ready|drain|maint, or set server ADDR weight N|list\n");
	if ((s = find_server(c, k, av[2], &st)) == NULL)
		return 0;
	if (strcmp(av[3], "state") == 0) {
		for (a = 0; a <= RELAY_MAINT; a++)
			if (strcmp(av[4], admin_names[a]) == 0)
				break;
		if (a > RELAY_MAINT)
			return say(k, "error: state %s: expected ready, drain "
			    "or maint\n", av[4]);
		old = (int)LD(st->admin);
		if (old != a) {
			ST(st->admin, (uint32_t)a);
			changed(c, st);
			relay_logf(c->cf, 0,
			    "control: server %s state %s (was %s)",
			    s->name, admin_names[a], admin_names[old]);
		}
		return say(k, "ok\n");
	}
	/* "list": the list's weight again, and at the next reload too. */
	errno = 0;
	v = strcmp(av[4], "list") == 0 ? 0 : strtol(av[4], &end, 10);
	if (v == 0 && strcmp(av[4], "list") != 0)
		v = -1;
	else if (v != 0 && (*av[4] == '\0' || *end != '\0'))
		v = -1;
	if (v < 0 || v > 1000)
		return say(k, "error: weight %s: expected 1 to 1000, or list\n",
		    av[4]);
	old = LD(st->wset) ? (int)LD(st->wset) : (int)LD(st->wfile);
	ST(st->wset, (uint32_t)v);
	changed(c, st);
	relay_logf(c->cf, 0, "control: server %s weight %ld (was %d)", s->name,
	    v != 0 ? v : (long)LD(st->wfile), old);
	return say(k, "ok\n");
}

static int
set_health(struct relay_ctl *c, struct ctlcl *k, char **av, int ac)
{
	const struct relay_server *s;
	struct relay_sstat *st;
	uint32_t off = av[0][0] == 'd';

	if (ac != 3 || strcmp(av[1], "health") != 0)
		return say(k, "error: expected %s health ADDR\n", av[0]);
	if ((s = find_server(c, k, av[2], &st)) == NULL)
		return 0;
	if (!s->check)
		return say(k, "error: %s has no health check\n", s->name);
	if (LD(st->hoff) != off) {
		ST(st->hoff, off);
		changed(c, st);
		relay_logf(c->cf, 0,
		    "control: server %s health checks %s", s->name,
		    off ? "disabled" : "enabled");
	}
	return say(k, "ok\n");
}

static const char help_text[] =
"show info [json]                     the process: version, uptime, workers\n"
"show servers [json]                  one line per server\n"
"show stat                            the counters, as /metrics has them\n"
"set server ADDR state ready|drain|maint\n"
"set server ADDR weight N|list        1 to 1000, or the list's again\n"
"disable health ADDR                  stop checks; the server counts as up\n"
"enable health ADDR                   checks again\n"
"quit                                 close this connection\n";

/*
 * One command line.  Every answer ends with an empty line; an error is
 * one line "error: ..." (then the empty line).  Returns -1 when the
 * client must go (its answers no longer fit).
 */
static int
command(struct relay_ctl *c, struct ctlcl *k, char *line)
{
	char *av[8], *p, *save;
	int ac = 0, r, json;

	for (p = strtok_r(line, " \t\r", &save); p != NULL && ac < 8;
	    p = strtok_r(NULL, " \t\r", &save))
		av[ac++] = p;
	if (ac == 0)
		return 0;		/* an empty line: nothing asked */
	json = ac == 3 && strcmp(av[2], "json") == 0;
	if (strcmp(av[0], "quit") == 0 && ac == 1) {
		k->closing = 1;
		return 0;
	}
	if (strcmp(av[0], "help") == 0 && ac == 1)
		r = put(k, help_text, sizeof(help_text) - 1);
	else if (strcmp(av[0], "show") == 0 && ac >= 2 &&
	    strcmp(av[1], "info") == 0 && (ac == 2 || json))
		r = show_info(c, k, json);
	else if (strcmp(av[0], "show") == 0 && ac >= 2 &&
	    strcmp(av[1], "servers") == 0 && (ac == 2 || json))
		r = show_servers(c, k, json);
	else if (strcmp(av[0], "show") == 0 && ac == 2 &&
	    strcmp(av[1], "stat") == 0)
		r = show_stat(c, k);
	else if (strcmp(av[0], "set") == 0 && ac >= 2 &&
	    strcmp(av[1], "server") == 0)
		r = set_server(c, k, av, ac);
	else if (strcmp(av[0], "disable") == 0 ||
	    strcmp(av[0], "enable") == 0)
		r = set_health(c, k, av, ac);
	else
		r = say(k, "error: unknown command (try help)\n");
	return r | put(k, "\n", 1);
}

static void
interest(struct relay_ctl *c, struct ctlcl *k)
{
	struct epoll_event ev;
	uint32_t want = 0;

	if (!k->eof && !k->closing && k->olen - k->ooff < CTL_OUTHIGH)
		want |= EPOLLIN;
	if (k->olen > k->ooff)
		want |= EPOLLOUT;
	if (want == k->events)
		return;
	k->events = want;
	ev.events = want;
	ev.data.ptr = k;
	epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Run the complete lines in k->in; 0, or -1 when k must go. */
static int
lines(struct relay_ctl *c, struct ctlcl *k)
{
	char *nl;
	size_t n, used;

	while (!k->closing && k->olen - k->ooff < CTL_OUTHIGH) {
		nl = memchr(k->in, '\n', k->ilen);
		if (nl == NULL && k->ilen == CTL_LINEMAX) {
			/* No resync inside a line this long: answer, go. */
			k->closing = 1;
			return say(k, "error: line longer than %d bytes\n\n",
			    CTL_LINEMAX - 1);
		}
		if (nl == NULL && (!k->eof || k->ilen == 0))
			return 0;
		if (nl == NULL)
			nl = k->in + k->ilen;	/* the last line, unended */
		n = (size_t)(nl - k->in);
		*nl = '\0';		/* in[] has a byte more for this */
		if (command(c, k, k->in) == -1)
			return -1;
		used = n < k->ilen ? n + 1 : n;
		memmove(k->in, k->in + used, k->ilen - used);
		k->ilen -= used;
		k->deadline = c->now + CTL_IDLE_MS;
	}
	return 0;
}

/* A client is ready: 0, or -1 when it is done with (freed by the caller). */
static int
cl_io(struct relay_ctl *c, struct ctlcl *k, uint32_t ev)
{
	ssize_t n;

	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !k->eof &&
	    !k->closing && k->ilen < CTL_LINEMAX) {
		n = recv(k->fd, k->in + k->ilen, CTL_LINEMAX - k->ilen,
		    MSG_DONTWAIT);
		if (n == 0)
			k->eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		else if (n > 0)
			k->ilen += (size_t)n;
	}
	for (;;) {
		if (lines(c, k) == -1)
			return -1;
		while (k->olen > k->ooff) {
			n = send(k->fd, k->out + k->ooff, k->olen - k->ooff,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0)
				return -1;
			k->ooff += (size_t)n;
			k->deadline = c->now + CTL_IDLE_MS;
		}
		if (k->olen > k->ooff)
			break;		/* EPOLLOUT goes on */
		k->olen = k->ooff = 0;
		if (k->closing || (k->eof && k->ilen == 0))
			return -1;
		/* Answers were holding lines back: go on with them. */
		if (k->ilen == 0 || (!k->eof &&
		    memchr(k->in, '\n', k->ilen) == NULL &&
		    k->ilen < CTL_LINEMAX))
			break;
	}
	interest(c, k);
	return 0;
}

static void
ctl_accept(struct relay_ctl *c)
{
	static const char busy[] = "error: too many control clients\n\n";
	struct epoll_event ev;
	struct ctlcl *k;
	int i, fd;

	for (i = 0; i < CTL_MAXCL; i++) {
		fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Level-triggered: out of the set for a while. */
				epoll_ctl(c->ep, EPOLL_CTL_DEL, c->lfd, NULL);
				c->lpaused = 1;
				c->lresume = c->now + 1000;
			}
			return;
		}
		if (c->ncl == CTL_MAXCL ||
		    (k = calloc(1, sizeof(*k))) == NULL) {
			(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL |
			    MSG_DONTWAIT);
			close(fd);
			continue;
		}
		k->fd = fd;
		k->events = EPOLLIN;
		k->deadline = c->now + CTL_IDLE_MS;
		ev.events = EPOLLIN;
		ev.data.ptr = k;
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(k);
			continue;
		}
		c->cl[c->ncl++] = k;
	}
}

void
relay_ctl_run(struct relay_ctl *c, struct relay_server *const *srv, int n)
{
	struct epoll_event evs[CTL_MAXCL + 1], ev;
	struct ctlcl *k;
	int i, j, nev;

	c->now = relay_now_ms();
	c->srv = srv;
	c->nsrv = n;
	if (c->lpaused && c->now >= c->lresume) {
		ev.events = EPOLLIN;
		ev.data.ptr = NULL;
		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->lfd, &ev) == 0)
			c->lpaused = 0;
		else
			c->lresume = c->now + 1000;
	}
	nev = epoll_wait(c->ep, evs, CTL_MAXCL + 1, 0);
	for (i = 0; i < nev; i++) {
		if ((k = evs[i].data.ptr) == NULL) {
			ctl_accept(c);
			continue;
		}
		for (j = 0; j < c->ncl && c->cl[j] != k; j++)
			;
		if (j < c->ncl && cl_io(c, k, evs[i].events) == -1)
			cl_free(c, j);
	}
	for (j = c->ncl - 1; j >= 0; j--)
		if (c->cl[j]->deadline <= c->now)
			cl_free(c, j);
}
