/*
 * relay_lb.c - server selection: smooth weighted round robin, least
 * connections, source hash, Maglev, random with two choices, first.
 *
 * Everything a hash depends on (the client address, the server's name,
 * the order of the server list) is the same in every process given the
 * same configuration, so independent pp-balance instances agree on where
 * a client goes without talking to each other.
 */
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relay.h"

static const char *const algo_names[] = {
	"roundrobin", "leastconn", "source", "maglev", "random", "first"
};

int
relay_algo_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(algo_names) / sizeof(algo_names[0]); i++)
		if (strcasecmp(s, algo_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
relay_algo_name(enum relay_algo a)
{
	return algo_names[a];
}

/* splitmix64's finaliser: a good avalanche for 64 bits. */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t
relay_hash_bytes(const uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;	/* FNV-1a offset */
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h);
}

uint64_t
relay_hash_str(const char *s, uint64_t seed)
{
	return relay_hash_bytes((const uint8_t *)s, strlen(s), seed);
}

/*
 * The client's address without its port; an IPv4-mapped IPv6 address
 * hashes as the IPv4 address, so both spellings of a client agree.
 */
uint64_t
relay_hash_addr(const struct sockaddr_storage *sa)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->ss_family == AF_INET)
		return relay_hash_bytes((const uint8_t *)&sin->sin_addr, 4, 0);
	if (sa->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return relay_hash_bytes(sin6->sin6_addr.s6_addr + 12, 4, 0);
		return relay_hash_bytes(sin6->sin6_addr.s6_addr, 16, 0);
	}
	return 0;
}

/*
 * Maglev (Eisenbud et al., NSDI 2016, section 3.4): each server walks its
 * own permutation of the m slots (offset + j * skip, m prime) and takes
 * the next free slot in turn, weight slots per round, until the table is
 * full.  Removing a server frees only its slots, and the others' turns
 * barely change, so few clients of the remaining servers move.
 */
void
relay_maglev_fill(uint16_t *tab, uint32_t m, const char *const *names,
    const int *weights, int n)
{
	uint64_t off[RELAY_MAXSRV], skip[RELAY_MAXSRV], next[RELAY_MAXSRV];
	uint32_t filled = 0, i;
	int k, w;

	for (i = 0; i < m; i++)
		tab[i] = 0xffff;
	if (n <= 0)
		return;
	for (k = 0; k < n; k++) {
		off[k] = relay_hash_str(names[k], 0x6d61676c6576ULL) % m;
		skip[k] = relay_hash_str(names[k], 0x736b6970ULL) % (m - 1) + 1;
		next[k] = 0;
	}
	for (;;) {
		for (k = 0; k < n; k++) {
			for (w = 0; w < (weights[k] > 0 ? weights[k] : 1); w++) {
				uint64_t c;

				do {
					c = (off[k] + next[k] * skip[k]) % m;
					next[k]++;
				} while (tab[c] != 0xffff);
				tab[c] = (uint16_t)k;
				if (++filled == m)
					return;
			}
		}
	}
}

void
relay_lb_init(struct relay_lb *lb, enum relay_algo algo, uint64_t seed)
{
	memset(lb, 0, sizeof(*lb));
	lb->algo = algo;
	lb->rnd = seed | 1;
	lb->dirty = 1;
}

void
relay_lb_free(struct relay_lb *lb)
{
	free(lb->maglev);
	lb->maglev = NULL;
}

static int
cmp_name(const void *a, const void *b, void *arg)
{
	const struct relay_lb *lb = arg;
	const uint16_t *x = a, *y = b;

	return strcmp(lb->srv[*x]->name, lb->srv[*y]->name);
}

/*
 * Eligible servers: those up and not backup; when none is, the backups
 * that are up.  Kept in list order (round robin, source, first); Maglev
 * sorts by name so that the order of the list does not matter.
 */
void
relay_lb_update(struct relay_lb *lb)
{
	const char *names[RELAY_MAXSRV];
	int weights[RELAY_MAXSRV];
	uint16_t sorted[RELAY_MAXSRV];
	int i, backup;

	if (!lb->dirty)
		return;
	lb->dirty = 0;
	for (backup = 0; backup < 2; backup++) {
		lb->nelig = 0;
		for (i = 0; i < lb->n; i++)
			if (lb->srv[i]->up && lb->srv[i]->backup == backup)
				lb->elig[lb->nelig++] = (uint16_t)i;
		if (lb->nelig > 0)
			break;
	}
	if (lb->algo != RELAY_MAGLEV)
		return;
	if (lb->maglev == NULL) {
		lb->maglev = malloc(RELAY_MAGLEV_M * sizeof(uint16_t));
		if (lb->maglev == NULL) {
			lb->maglev_n = 0;
			return;
		}
	}
	memcpy(sorted, lb->elig, lb->nelig * sizeof(sorted[0]));
	qsort_r(sorted, lb->nelig, sizeof(sorted[0]), cmp_name, lb);
	for (i = 0; i < lb->nelig; i++) {
		names[i] = lb->srv[sorted[i]]->name;
		weights[i] = lb->srv[sorted[i]]->weight;
	}
	relay_maglev_fill(lb->maglev, RELAY_MAGLEV_M, names, weights,
	    lb->nelig);
	/* Entries name servers by their index in lb->srv. */
	for (i = 0; i < RELAY_MAGLEV_M && lb->nelig > 0; i++)
		lb->maglev[i] = sorted[lb->maglev[i]];
	lb->maglev_n = lb->nelig;
}

static int
tried(const struct relay_tried *t, int i)
{
	return t != NULL && (t->bits[i / 64] >> (i % 64) & 1);
}

static uint64_t
xrand(struct relay_lb *lb)
{
	uint64_t x = lb->rnd;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	lb->rnd = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* a is less loaded than b: active/weight compared without division. */
static int
lighter(const struct relay_server *a, const struct relay_server *b)
{
	return (int64_t)a->active * b->weight < (int64_t)b->active * a->weight;
}

/* The first eligible server at or after position pos, not tried. */
static int
walk(const struct relay_lb *lb, int pos, const struct relay_tried *t)
{
	int k, i;

	for (k = 0; k < lb->nelig; k++) {
		i = lb->elig[(pos + k) % lb->nelig];
		if (!tried(t, i))
			return i;
	}
	return -1;
}

int
relay_lb_pick(struct relay_lb *lb, const struct sockaddr_storage *cl,
    const struct relay_tried *t)
{
	struct relay_server *s, *best = NULL;
	int64_t total = 0;
	uint64_t h;
	int i, k, bi = -1, a, b;

	relay_lb_update(lb);
	if (lb->nelig == 0)
		return -1;
	switch (lb->algo) {
	case RELAY_RR:
		/* nginx's smooth weighted round robin: exact shares, spread. */
		for (k = 0; k < lb->nelig; k++) {
			i = lb->elig[k];
			if (tried(t, i))
				continue;
			s = lb->srv[i];
			s->cur += s->weight;
			total += s->weight;
			if (best == NULL || s->cur > best->cur) {
				best = s;
				bi = i;
			}
		}
		if (best != NULL)
			best->cur -= total;
		return bi;
	case RELAY_LEASTCONN:
		for (k = 0; k < lb->nelig; k++) {
			i = lb->elig[k];
			if (tried(t, i))
				continue;
			s = lb->srv[i];
			if (best == NULL || lighter(s, best) ||
			    (!lighter(best, s) && s->cur > best->cur)) {
				best = s;
				bi = i;
			}
		}
		/* Ties go round: the one waiting longest wins next time. */
		for (k = 0; k < lb->nelig; k++)
			lb->srv[lb->elig[k]]->cur++;
		if (best != NULL)
			best->cur = 0;
		return bi;
	case RELAY_SOURCE:
		/* Like HAProxy's map-based hash: weight slots per server. */
		for (k = 0; k < lb->nelig; k++)
			total += lb->srv[lb->elig[k]]->weight;
		h = relay_hash_addr(cl) % (uint64_t)total;
		for (k = 0; k < lb->nelig; k++) {
			int64_t w = lb->srv[lb->elig[k]]->weight;

			if ((int64_t)h < w)
				break;
			h -= w;
		}
		return walk(lb, k, t);
	case RELAY_MAGLEV:
		if (lb->maglev == NULL || lb->maglev_n == 0)
			return walk(lb, 0, t);
		h = relay_hash_addr(cl) % RELAY_MAGLEV_M;
		for (k = 0; k < RELAY_MAGLEV_M; k++) {
			i = lb->maglev[(h + k) % RELAY_MAGLEV_M];
			if (!tried(t, i))
				return i;
			if (k > 64)	/* all tried most likely */
				break;
		}
		return walk(lb, 0, t);
	case RELAY_RANDOM:
		/* Two random choices, the lighter wins (Mitzenmacher). */
		a = lb->elig[xrand(lb) % lb->nelig];
		b = lb->elig[xrand(lb) % lb->nelig];
		if (tried(t, a))
			a = walk(lb, (int)(xrand(lb) % lb->nelig), t);
		if (tried(t, b))
			b = a;
		if (a < 0)
			return -1;
		return lighter(lb->srv[b], lb->srv[a]) ? b : a;
	case RELAY_FIRST:
		for (k = 0; k < lb->nelig; k++) {
			i = lb->elig[k];
			s = lb->srv[i];
			if (tried(t, i))
				continue;
			if (s->maxconn == 0 || s->active < s->maxconn)
				return i;
		}
		return walk(lb, 0, t);
	}
	return -1;
}

/*
 * A server spec: ADDR[,weight=N][,send-proxy|send-proxy-v2|no-send-proxy]
 * [,check][,backup][,maxconn=N].  dflt_proxy applies when the spec names
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
	int proxy = -1;

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
	if (pp_addr_parse(p, &s->addr, &len, why) == -1)
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
		else
			return *why = "unknown server option (weight=N, "
			    "send-proxy, send-proxy-v2, check, backup, "
			    "maxconn=N)", -1;
		opt = next;
	}
	s->send_proxy = proxy >= 0 ? proxy : dflt_proxy;
	{
		char a[PP_ADDRSTRLEN];
		int port = pp_addr_port(&s->addr);

		if (pp_addr_ntop(&s->addr, a, sizeof(a)) == NULL)
			strlcpy(a, "?", sizeof(a));
		if (port < 0)
			snprintf(s->name, sizeof(s->name), "unix:%s", a);
		else if (strchr(a, ':') != NULL)
			snprintf(s->name, sizeof(s->name), "[%s]:%d", a, port & 0xffff);
		else
			snprintf(s->name, sizeof(s->name), "%s:%d", a, port & 0xffff);
	}
	snprintf(s->key, sizeof(s->key), "%s w%d p%d c%d b%d m%d", s->name,
	    s->weight, s->send_proxy, s->check, s->backup, s->maxconn);
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
	if (s->check && cf->chk_data == NULL)
		return *why = "check on a UDP server needs --check-send DATA",
		    -1;
	s->udp = 1;
	s->chk_data = cf->chk_data;
	s->chk_len = cf->chk_len;
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
