/*
 * relay_limit.c - per client address limits: connections open at once
 * and new connections per window, judged on the real client address (the
 * one from the header).  One table per worker; entries are recycled from a
 * free list and dropped by a sweep once idle.  The table holds at most
 * `cap' addresses, so a flood of sources costs bounded memory, and its
 * hash is seeded per table, so nobody can aim many addresses at one
 * bucket.  A client without an IP address (a unix socket) has the key of
 * all zeros: such clients count as one address.
 */
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "relay.h"

#define LIMIT_BUCKETS	4096

struct relay_ipent {
	uint8_t		addr[16];
	int		conns;
	int		count;		/* connections in the current window */
	int64_t		window;		/* start of the window, ms */
	struct relay_ipent *next;
};

struct relay_limit {
	int		max_per_ip;
	int		rate_n;
	int64_t		rate_ms;
	struct relay_ipent *bucket[LIMIT_BUCKETS];
	struct relay_ipent *free;
	unsigned	sweep_pos;
	size_t		n, cap;		/* entries in the table, at most */
	uint64_t	seed;
	int		full;		/* the last refusal was for room */
};

struct relay_limit *
relay_limit_new(int max_per_ip, int rate_n, int rate_secs, size_t cap)
{
	struct relay_limit *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->cap = cap;
	arc4random_buf(&l->seed, sizeof(l->seed));
	l->max_per_ip = max_per_ip;
	l->rate_n = rate_n;
	l->rate_ms = (int64_t)rate_secs * 1000;
	return l;
}

/* The address as 16 bytes, IPv4 mapped, so both spellings are one key. */
static void
addr_key(const struct sockaddr_storage *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12,
		    &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6)
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

struct relay_ipent *
relay_limit_take(struct relay_limit *l, const struct sockaddr_storage *sa,
    int64_t now)
{
	struct relay_ipent *e;
	uint8_t key[16];
	unsigned b;

	addr_key(sa, key);
	b = (unsigned)(relay_hash_bytes(key, 16, l->seed) % LIMIT_BUCKETS);
	l->full = 0;
	for (e = l->bucket[b]; e != NULL; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			break;
	if (e == NULL) {
		if (l->n >= l->cap) {
			l->full = 1;
			return NULL;
		}
		if ((e = l->free) != NULL)
			l->free = e->next;
		else if ((e = malloc(sizeof(*e))) == NULL)
			return NULL;
		memcpy(e->addr, key, 16);
		e->conns = e->count = 0;
		e->window = now;
		e->next = l->bucket[b];
		l->bucket[b] = e;
		l->n++;
	}
	if (l->rate_n > 0 && now - e->window >= l->rate_ms) {
		e->window = now;
		e->count = 0;
	}
	if (l->max_per_ip > 0 && e->conns >= l->max_per_ip)
		return NULL;
	if (l->rate_n > 0 && e->count >= l->rate_n)
		return NULL;
	e->conns++;
	e->count++;
	return e;
}

int
relay_limit_full(const struct relay_limit *l)
{
	return l->full;
}

void
relay_limit_release(struct relay_limit *l, struct relay_ipent *e)
{
	(void)l;
	if (e != NULL && e->conns > 0)
		e->conns--;
}

/* Drop idle entries from a slice of the table; call about once a second. */
void
relay_limit_sweep(struct relay_limit *l, int64_t now)
{
	struct relay_ipent **pp, *e;
	unsigned i;

	for (i = 0; i < LIMIT_BUCKETS / 16; i++) {
		pp = &l->bucket[l->sweep_pos++ % LIMIT_BUCKETS];
		while ((e = *pp) != NULL) {
			if (e->conns == 0 && (l->rate_n == 0 ||
			    now - e->window >= l->rate_ms)) {
				*pp = e->next;
				e->next = l->free;
				l->free = e;
				l->n--;
			} else
				pp = &e->next;
		}
	}
}

void
relay_limit_free(struct relay_limit *l)
{
	struct relay_ipent *e;
	unsigned i;

	if (l == NULL)
		return;
	for (i = 0; i < LIMIT_BUCKETS; i++)
		while ((e = l->bucket[i]) != NULL) {
			l->bucket[i] = e->next;
			free(e);
		}
	while ((e = l->free) != NULL) {
		l->free = e->next;
		free(e);
	}
	free(l);
}
