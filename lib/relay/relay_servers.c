/*
 * relay_servers.c - the server list: parsing a server spec and the
 * servers file (-s, --servers), and applying a new list in a worker
 * (start, SIGHUP) so that a server whose spec is unchanged keeps its
 * state and open connections while one gone from the list retires when
 * its last connection ends.  Must not choose servers: that is
 * relay_lb.c's.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "worker.h"

/*
 * A server spec: ADDR[,weight=N][,send-proxy|send-proxy-v2|no-send-proxy]
 * [,check][,backup][,maxconn=N][,check-send=S][,check-expect=S]
 * [,check-http=PATH][,check-status=N] (relay_health.c takes check-*).
 * dflt_proxy applies when the spec names
 * no send-proxy option.  The key (the spec, canonical) tells servers
 * apart across reloads.  Returns 0, or -1 with *why set.
 */
int
relay_server_parse(const char *spec, struct relay_server *s, int dflt_proxy,
    const char **why)
{
	char buf[512], *p, *opt, *end;
	socklen_t len;
	long v;
	int proxy = -1, r;

	memset(s, 0, sizeof(*s));
	s->weight = 1;
	s->chk_fd = -1;
	if (strlcpy(buf, spec, sizeof(buf)) >= sizeof(buf))
		return *why = "server spec too long", -1;
	p = buf;
	/* The address ends at the first comma outside brackets. */
	opt = p[0] == '[' ? strchr(p, ']') : p;
	if (opt == NULL)
		return *why = "missing ']' in server address", -1;
	if ((opt = strchr(opt, ',')) != NULL)
		*opt++ = '\0';
	if (net_addr_parse(p, &s->addr, &len, why) == -1)
		return -1;
	while (opt != NULL && *opt != '\0') {
		char *next = strchr(opt, ',');

		if (next != NULL)
			*next++ = '\0';
		if (strncmp(opt, "weight=", 7) == 0 ||
		    strncmp(opt, "maxconn=", 8) == 0) {
			char *num = strchr(opt, '=') + 1;

			errno = 0;
			v = strtol(num, &end, 10);
			if (*num == '\0' || *end != '\0' || v < 0 ||
			    v > (opt[0] == 'w' ? 1000 : 1000000) ||
			    (opt[0] == 'w' && v < 1))
				return *why = opt[0] == 'w' ?
				    "weight must be 1 to 1000" :
				    "maxconn must be 0 to 1000000", -1;
			if (opt[0] == 'w')
				s->weight = (int)v;
			else
				s->maxconn = (int)v;
		} else if (strcmp(opt, "send-proxy") == 0)
			proxy = 1;
		else if (strcmp(opt, "send-proxy-v2") == 0)
			proxy = 2;
		else if (strcmp(opt, "no-send-proxy") == 0)
			proxy = 0;
		else if (strcmp(opt, "check") == 0)
			s->check = 1;
		else if (strcmp(opt, "backup") == 0)
			s->backup = 1;
		else if ((r = relay_check_option(opt, s, why)) == -1)
			return -1;
		else if (r == 0)
			return *why = "unknown server option (weight=N, "
			    "send-proxy, send-proxy-v2, check, backup, "
			    "maxconn=N, check-send=, check-expect=, "
			    "check-http=, check-status=)", -1;
		opt = next;
	}
	if (relay_check_valid(s, why) == -1)
		return -1;
	s->send_proxy = proxy >= 0 ? proxy : dflt_proxy;
	net_addr_format(&s->addr, s->name, sizeof(s->name));
	/* The check's bytes can be long: a hash of them tells them apart. */
	snprintf(s->key, sizeof(s->key), "%s w%d p%d c%d b%d m%d k%016llx",
	    s->name, s->weight, s->send_proxy, s->check, s->backup,
	    s->maxconn, (unsigned long long)relay_hash_bytes(
	    (const uint8_t *)&s->chk, sizeof(s->chk), 0));
	s->up = 1;
	return 0;
}

/*
 * With --udp every server takes datagrams: version 1 cannot say so, a
 * unix path is no UDP address, and a check needs something to send.
 */
static int
server_udp(const struct relay_conf *cf, struct relay_server *s,
    const char **why)
{
	if (!cf->udp)
		return 0;
	if (s->send_proxy == 1)
		return *why = "send-proxy (v1) cannot carry UDP: use "
		    "send-proxy-v2", -1;
	if (s->addr.ss_family == AF_UNIX)
		return *why = "a UDP server needs HOST:PORT or [IPV6]:PORT", -1;
	if (s->check && (s->chk.send_len == 0 || s->chk.http))
		return *why = "check on a UDP server needs check-send=BYTES "
		    "(check-http is for TCP)", -1;
	s->udp = 1;
	return 0;
}

/*
 * The server list: -s specs, then the servers file, one spec a line
 * ('#' starts a comment).  Each server is malloc'ed; on error nothing
 * is left allocated and *why says where.
 */
int
relay_servers_load(const struct relay_conf *cf, struct relay_server **out,
    int *nout, const char **why)
{
	static char errbuf[256];
	struct relay_server tmp;
	char line[1024], *p;
	FILE *fp;
	int i, n = 0, lineno = 0;

	for (i = 0; i < cf->nspec; i++) {
		if (n == RELAY_MAXSRV) {
			*why = "too many servers";
			goto fail;
		}
		if (relay_server_parse(cf->srv_spec[i], &tmp, cf->send_proxy,
		    why) == -1 || server_udp(cf, &tmp, why) == -1)
			goto fail;
		if ((out[n] = malloc(sizeof(tmp))) == NULL) {
			*why = "out of memory";
			goto fail;
		}
		*out[n++] = tmp;
	}
	if (cf->servers_file != NULL) {
		if ((fp = fopen(cf->servers_file, "re")) == NULL) {
			snprintf(errbuf, sizeof(errbuf), "%s: %s",
			    cf->servers_file, strerror(errno));
			*why = errbuf;
			goto fail;
		}
		while (fgets(line, sizeof(line), fp) != NULL) {
			lineno++;
			line[strcspn(line, "#\r\n")] = '\0';
			for (p = line; *p == ' ' || *p == '\t'; p++)
				;
			for (i = (int)strlen(p); i > 0 && (p[i - 1] == ' ' ||
			    p[i - 1] == '\t'); i--)
				p[i - 1] = '\0';
			if (*p == '\0')
				continue;
			/* "ADDR check" must not quietly lose its "check". */
			if (strpbrk(p, " \t") != NULL)
				*why = "a blank inside the server spec "
				    "(options go after commas: ADDR,check)";
			else if (n == RELAY_MAXSRV)
				*why = "too many servers";
			else if (relay_server_parse(p, &tmp, cf->send_proxy,
			    why) == 0 && server_udp(cf, &tmp, why) == 0) {
				if ((out[n] = malloc(sizeof(tmp))) != NULL) {
					*out[n++] = tmp;
					continue;
				}
				*why = "out of memory";
			}
			snprintf(errbuf, sizeof(errbuf), "%s:%d: %s",
			    cf->servers_file, lineno, *why);
			*why = errbuf;
			fclose(fp);
			goto fail;
		}
		fclose(fp);
		/* An empty file is most often one being written: refuse it. */
		if (n == 0) {
			snprintf(errbuf, sizeof(errbuf), "%s: no server",
			    cf->servers_file);
			*why = errbuf;
			goto fail;
		}
	}
	*nout = n;
	return 0;
fail:
	relay_servers_free(out, n);
	return -1;
}

void
relay_servers_free(struct relay_server **srv, int n)
{
	while (n > 0)
		free(srv[--n]);
}

int
relay_servers_dup(struct relay_server *const *srv, int n,
    struct relay_server **out)
{
	int i;

	for (i = 0; i < n; i++) {
		if ((out[i] = malloc(sizeof(*out[i]))) == NULL) {
			relay_servers_free(out, i);
			return -1;
		}
		*out[i] = *srv[i];
	}
	return 0;
}

/* Retired servers are freed between batches, once unused. */
void
servers_reap(void)
{
	struct relay_server **pp, *s;

	for (pp = &W.retired; (s = *pp) != NULL;) {
		if (s->refs == 0) {
			*pp = s->next_ret;
			relay_stats_release(W.sh, W.ws, s->st);
			free(s);
		} else
			pp = &s->next_ret;
	}
}

/*
 * Make nw[0..n) the server list.  A server whose spec is unchanged keeps
 * its state (and its open connections); the others are new, and those
 * gone from the list retire once their connections end.
 */
void
servers_use(struct relay_server **nw, int n)
{
	struct relay_server *s;
	int i, j, keep[RELAY_MAXSRV];

	memset(keep, 0, sizeof(keep));
	for (i = 0; i < n; i++) {
		for (j = 0; j < W.lb.n; j++)
			if (!keep[j] && strcmp(W.lb.srv[j]->key,
			    nw[i]->key) == 0)
				break;
		if (j < W.lb.n) {
			keep[j] = 1;
			free(nw[i]);
			nw[i] = W.lb.srv[j];
			continue;
		}
		s = nw[i];
		s->chk_fd = -1;
		s->chk_next = W.now;
		s->st = relay_stats_slot(W.sh, W.ws, s->name);
		s->up = 1;
		if (s->st != NULL && s->check)
			s->up = (int)__atomic_load_n(&s->st->up,
			    __ATOMIC_RELAXED);
		else if (s->st != NULL)
			__atomic_store_n(&s->st->up, 1, __ATOMIC_RELAXED);
		relay_ctl_attach(s);	/* a state set at run time stays */
	}
	for (j = 0; j < W.lb.n; j++) {
		if (keep[j])
			continue;
		s = W.lb.srv[j];
		relay_check_abort(s);
		s->retired = 1;
		s->next_ret = W.retired;
		W.retired = s;
	}
	for (i = 0; i < n; i++)
		W.lb.srv[i] = nw[i];
	W.lb.n = n;
	W.lb.dirty = 1;
}

/* Read the servers again (start, SIGHUP); a list that fails changes nothing. */
int
servers_apply(void)
{
	struct relay_server *nw[RELAY_MAXSRV];
	const char *why = NULL;
	int n;

	if (relay_servers_load(W.conf, nw, &n, &why) == -1) {
		wlog(0, "servers not changed: %s", why);
		return -1;
	}
	servers_use(nw, n);
	return 0;
}
