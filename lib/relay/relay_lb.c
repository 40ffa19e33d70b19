/*
 * relay_lb.c - server selection: smooth weighted round robin, least
 * connections, source hash, Maglev, random with two choices, first.
 * Pure computation over the list it is given: no I/O, no shared state.
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
 * A draining server (relay_ctl.c) takes no new connection.  The hashes
 * keep it in their table and look past it when a client lands on it, so
 * only its own clients move; the other algorithms leave it out.
 */
static int
hashed(const struct relay_lb *lb)
{
	return lb->algo == RELAY_SOURCE || lb->algo == RELAY_MAGLEV;
}

static int
draining(const struct relay_lb *lb, int i)
{
	return lb->srv[i]->admin == RELAY_DRAIN;
}

/*
 * Eligible servers: those up, ready and not backup; when none is, the
 * backups that are.  Kept in list order (round robin, source, first);
 * Maglev sorts by name so that the order of the list does not matter.
 */
void
relay_lb_update(struct relay_lb *lb)
{
	const char *names[RELAY_MAXSRV];
	int weights[RELAY_MAXSRV];
	uint16_t sorted[RELAY_MAXSRV];
	int i, backup, ready = 0;

	if (!lb->dirty)
		return;
	lb->dirty = 0;
	for (backup = 0; backup < 2 && ready == 0; backup++) {
		lb->nelig = 0;
		for (i = 0; i < lb->n; i++) {
			const struct relay_server *s = lb->srv[i];

			if (!s->up || s->backup != backup ||
			    s->admin == RELAY_MAINT ||
			    (s->admin == RELAY_DRAIN && !hashed(lb)))
				continue;
			lb->elig[lb->nelig++] = (uint16_t)i;
			ready += s->admin == RELAY_READY;
		}
	}
	if (ready == 0)
		lb->nelig = 0;	/* all draining: none takes a client */
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
		if (!tried(t, i) && !draining(lb, i))
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
			if (!tried(t, i) && !draining(lb, i))
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
