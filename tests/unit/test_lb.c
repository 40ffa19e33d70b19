/*
 * test_lb.c - the balancing algorithms, server specs and per-address
 * limits of the relay engine, without sockets.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "relay.h"

static struct relay_server S[RELAY_MAXSRV];

static void
mkaddr(struct sockaddr_storage *ss, uint32_t a)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(a);
}

/* n servers 10.0.0.k:80 with the given weights (NULL: all 1). */
static void
mklb(struct relay_lb *lb, enum relay_algo algo, int n, const int *w,
    int first)
{
	const char *why;
	char spec[64];
	int i;

	relay_lb_init(lb, algo, 12345);
	for (i = 0; i < n; i++) {
		snprintf(spec, sizeof(spec), "10.0.0.%d:80,weight=%d",
		    first + i, w != NULL ? w[i] : 1);
		if (relay_server_parse(spec, &S[first + i], 0, &why) != 0)
			abort();
		lb->srv[i] = &S[first + i];
	}
	lb->n = n;
}

static void
test_rr(void)
{
	static const int w[] = { 1, 2, 3 };
	struct relay_lb lb;
	int count[3] = { 0, 0, 0 }, i, k, prev = -1, run = 0, maxrun = 0;

	mklb(&lb, RELAY_RR, 3, w, 1);
	for (i = 0; i < 600; i++) {
		k = relay_lb_pick(&lb, NULL, NULL);
		count[k]++;
		run = k == prev ? run + 1 : 1;
		if (run > maxrun)
			maxrun = run;
		prev = k;
	}
	is_int(count[0], 100, "roundrobin 1:2:3: weight 1 gets 100 of 600");
	is_int(count[1], 200, "roundrobin 1:2:3: weight 2 gets 200 of 600");
	is_int(count[2], 300, "roundrobin 1:2:3: weight 3 gets 300 of 600");
	ok(maxrun <= 2, "roundrobin is smooth: at most 2 in a row (got %d)",
	    maxrun);
	relay_lb_free(&lb);
}

static void
test_leastconn(void)
{
	static const int w[] = { 1, 1, 2 };
	struct relay_lb lb;
	int k;

	mklb(&lb, RELAY_LEASTCONN, 3, w, 11);
	S[11].active = 3;
	S[12].active = 1;
	S[13].active = 3;	/* weight 2: 1.5 per weight */
	k = relay_lb_pick(&lb, NULL, NULL);
	is_int(k, 1, "leastconn picks the fewest connections per weight");
	S[12].active = 5;
	k = relay_lb_pick(&lb, NULL, NULL);
	is_int(k, 2, "leastconn weighs the connections");
	relay_lb_free(&lb);
}

static void
test_hash_agree(enum relay_algo algo, const char *name)
{
	struct relay_lb a, b;
	struct sockaddr_storage cl;
	int count[4] = { 0, 0, 0, 0 }, i, same = 1, ka, kb;

	mklb(&a, algo, 4, NULL, 21);
	/* The same servers, listed in reverse, in a second balancer. */
	relay_lb_init(&b, algo, 999);
	for (i = 0; i < 4; i++)
		b.srv[i] = a.srv[3 - i];
	b.n = 4;
	for (i = 0; i < 1000; i++) {
		mkaddr(&cl, 0x0a010000 + (uint32_t)i);
		ka = relay_lb_pick(&a, &cl, NULL);
		kb = relay_lb_pick(&b, &cl, NULL);
		count[ka]++;
		if (algo == RELAY_MAGLEV && a.srv[ka] != b.srv[kb])
			same = 0;
		if (relay_lb_pick(&a, &cl, NULL) != ka)
			same = 0;
	}
	ok(same, "%s: one address, one server%s", name,
	    algo == RELAY_MAGLEV ? ", whatever the list order" : "");
	for (i = 0; i < 4; i++)
		ok(count[i] > 180 && count[i] < 320,
		    "%s: server %d gets a fair share of 1000 (%d)", name, i,
		    count[i]);
	relay_lb_free(&a);
	relay_lb_free(&b);
}

static void
test_maglev_disruption(void)
{
	struct relay_lb five, four;
	struct sockaddr_storage cl;
	int i, k5, k4, gone = 0, moved = 0;

	mklb(&five, RELAY_MAGLEV, 5, NULL, 31);
	relay_lb_init(&four, RELAY_MAGLEV, 1);
	four.srv[0] = &S[31];
	four.srv[1] = &S[32];
	four.srv[2] = &S[34];
	four.srv[3] = &S[35];
	four.n = 4;
	for (i = 0; i < 10000; i++) {
		mkaddr(&cl, 0xc0a80000 + (uint32_t)i * 7);
		k5 = relay_lb_pick(&five, &cl, NULL);
		k4 = relay_lb_pick(&four, &cl, NULL);
		if (five.srv[k5] == &S[33])
			gone++;
		else if (five.srv[k5] != four.srv[k4])
			moved++;
	}
	ok(gone > 1500 && gone < 2500, "maglev: the removed server had "
	    "about a fifth of the clients (%d of 10000)", gone);
	ok(moved < 300, "maglev: removing 1 of 5 moves under 3%% of the "
	    "others (%d of %d)", moved, 10000 - gone);
	relay_lb_free(&five);
	relay_lb_free(&four);
}

static void
test_maglev_table(void)
{
	static uint16_t tab[RELAY_MAGLEV_M];
	const char *names[] = { "a", "b", "c" };
	const int w[] = { 1, 1, 2 };
	int count[3] = { 0, 0, 0 }, i, full = 1;

	relay_maglev_fill(tab, RELAY_MAGLEV_M, names, w, 3);
	for (i = 0; i < RELAY_MAGLEV_M; i++) {
		if (tab[i] > 2) {
			full = 0;
			break;
		}
		count[tab[i]]++;
	}
	ok(full, "maglev: every one of the 65537 slots is filled");
	ok(count[2] > 32000 && count[2] < 33600, "maglev: weight 2 owns half "
	    "the table (%d)", count[2]);
	ok(count[0] > 15800 && count[0] < 17000, "maglev: weight 1 owns a "
	    "quarter (%d)", count[0]);
}

static void
test_tried_backup_first(void)
{
	struct relay_lb lb;
	struct relay_tried t;
	struct sockaddr_storage cl;
	enum relay_algo algo;
	int i, k, bad;

	for (algo = RELAY_RR; algo <= RELAY_FIRST; algo++) {
		mklb(&lb, algo, 3, NULL, 41);
		mkaddr(&cl, 0x7f000001);
		memset(&t, 0, sizeof(t));
		bad = 0;
		for (i = 0; i < 3; i++) {
			k = relay_lb_pick(&lb, &cl, &t);
			if (k < 0 || (t.bits[0] >> k & 1))
				bad = 1;
			else
				t.bits[0] |= 1ULL << k;
		}
		if (relay_lb_pick(&lb, &cl, &t) != -1)
			bad = 1;
		ok(!bad, "%s: a retry never picks a server already tried",
		    relay_algo_name(algo));
		relay_lb_free(&lb);
	}

	mklb(&lb, RELAY_RR, 3, NULL, 51);
	S[51].backup = 1;
	for (bad = 0, i = 0; i < 20; i++)
		if (relay_lb_pick(&lb, NULL, NULL) == 0)
			bad = 1;
	ok(!bad, "a backup gets nothing while another server is up");
	S[52].up = S[53].up = 0;
	lb.dirty = 1;
	is_int(relay_lb_pick(&lb, NULL, NULL), 0,
	    "the backup serves when the others are down");
	S[51].up = 0;
	lb.dirty = 1;
	is_int(relay_lb_pick(&lb, NULL, NULL), -1, "nothing up: no server");
	relay_lb_free(&lb);

	mklb(&lb, RELAY_FIRST, 3, NULL, 61);
	S[61].maxconn = 2;
	S[61].active = 2;
	is_int(relay_lb_pick(&lb, NULL, NULL), 1,
	    "first: a full server passes to the next one");
	S[61].active = 1;
	is_int(relay_lb_pick(&lb, NULL, NULL), 0,
	    "first: the first server with room");
	relay_lb_free(&lb);

	mklb(&lb, RELAY_RANDOM, 2, NULL, 71);
	S[71].active = 100;
	for (bad = 0, i = 0; i < 200; i++)
		if (relay_lb_pick(&lb, NULL, NULL) == 0)
			bad++;
	ok(bad < 80, "random: of two choices the lighter wins (%d of 200 "
	    "to the loaded one)", bad);
	relay_lb_free(&lb);
}

static void
test_spec(void)
{
	struct relay_server s;
	const char *why;

	ok(relay_server_parse("127.0.0.1:8080,weight=5,send-proxy-v2,check,"
	    "backup,maxconn=7", &s, 0, &why) == 0, "a full server spec parses");
	is_int(s.weight, 5, "weight");
	is_int(s.send_proxy, 2, "send-proxy-v2");
	ok(s.check && s.backup && s.maxconn == 7, "check, backup, maxconn");
	is_str(s.name, "127.0.0.1:8080", "the server's name");
	ok(relay_server_parse("[::1]:80,send-proxy", &s, 2, &why) == 0 &&
	    s.send_proxy == 1 && strcmp(s.name, "[::1]:80") == 0,
	    "IPv6 in brackets, send-proxy is v1");
	ok(relay_server_parse("127.0.0.1:80", &s, 2, &why) == 0 &&
	    s.send_proxy == 2, "the default send-proxy applies");
	ok(relay_server_parse("127.0.0.1:80,weight=0", &s, 0, &why) == -1,
	    "weight 0 is refused");
	ok(relay_server_parse("127.0.0.1:80,chek", &s, 0, &why) == -1,
	    "an unknown option is refused");
	ok(relay_server_parse("nowhere", &s, 0, &why) == -1,
	    "an address without a port is refused");
	is_int(relay_algo_parse("maglev"), RELAY_MAGLEV, "algorithm names");
	is_int(relay_algo_parse("hash"), -1, "unknown algorithm");
}

static void
test_limit(void)
{
	struct relay_limit *l;
	struct relay_ipent *e[4];
	struct sockaddr_storage a, b;
	struct sockaddr_in6 *m = (struct sockaddr_in6 *)&b;

	l = relay_limit_new(2, 0, 0, RELAY_LIMIT_CAP);
	mkaddr(&a, 0xc0000201);
	e[0] = relay_limit_take(l, &a, 0);
	e[1] = relay_limit_take(l, &a, 0);
	/* The same address, IPv4-mapped: the same client. */
	memset(&b, 0, sizeof(b));
	m->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &m->sin6_addr);
	e[2] = relay_limit_take(l, &b, 0);
	ok(e[0] != NULL && e[1] != NULL && e[2] == NULL,
	    "max-conns-per-ip 2: the third is refused, mapped or not");
	relay_limit_release(l, e[0]);
	ok((e[3] = relay_limit_take(l, &a, 0)) != NULL,
	    "a closed connection frees its place");
	mkaddr(&b, 0xc0000202);
	ok(relay_limit_take(l, &b, 0) != NULL, "another address is served");
	relay_limit_free(l);

	l = relay_limit_new(0, 2, 10, RELAY_LIMIT_CAP);
	ok(relay_limit_take(l, &a, 1000) != NULL &&
	    relay_limit_take(l, &a, 2000) != NULL &&
	    relay_limit_take(l, &a, 3000) == NULL,
	    "rate 2/10s: the third within the window is refused");
	ok(relay_limit_take(l, &a, 11500) != NULL,
	    "a new window lets it in again");
	relay_limit_sweep(l, 100000);
	relay_limit_free(l);
}

/* The table holds cap addresses; a full one refuses new ones only. */
static void
test_limit_cap(void)
{
	struct sockaddr_storage a;
	struct relay_limit *l;
	struct relay_ipent *e[4];
	int i;

	l = relay_limit_new(10, 0, 0, 3);
	for (i = 0; i < 3; i++) {
		mkaddr(&a, 0x0a000001 + (uint32_t)i);
		e[i] = relay_limit_take(l, &a, 0);
	}
	ok(e[0] != NULL && e[1] != NULL && e[2] != NULL, "three fit");
	mkaddr(&a, 0x0a000009);
	ok(relay_limit_take(l, &a, 0) == NULL && relay_limit_full(l),
	    "a fourth address is refused: the table is full");
	mkaddr(&a, 0x0a000001);
	ok((e[3] = relay_limit_take(l, &a, 0)) != NULL && !relay_limit_full(l),
	    "a known address still gets in");
	for (i = 0; i < 4; i++)
		relay_limit_release(l, e[i]);
	for (i = 0; i < 16; i++)	/* a whole sweep of the table */
		relay_limit_sweep(l, 1000);
	mkaddr(&a, 0x0a000009);
	ok(relay_limit_take(l, &a, 1000) != NULL,
	    "idle entries swept: room again");
	relay_limit_free(l);
}

/*
 * A draining server (relay_ctl.c) gets no new client; with source and
 * maglev, only its own clients move, all of them to the others.
 */
static void
test_drain(enum relay_algo algo, const char *name)
{
	struct sockaddr_storage a;
	struct relay_lb lb;
	int before[2000], i, k, moved = 0, bad = 0, onb = 0;

	mklb(&lb, algo, 3, NULL, 1);
	for (i = 0; i < 2000; i++) {
		mkaddr(&a, 0xc0000000u + (uint32_t)i * 7919);
		before[i] = relay_lb_pick(&lb, &a, NULL);
	}
	S[2].admin = RELAY_DRAIN;
	lb.dirty = 1;
	for (i = 0; i < 2000; i++) {
		mkaddr(&a, 0xc0000000u + (uint32_t)i * 7919);
		k = relay_lb_pick(&lb, &a, NULL);
		onb += before[i] == 1;
		if (k == 1)
			bad++;
		else if (k != before[i]) {
			moved++;
			if (before[i] != 1)
				bad++;
		}
	}
	ok(bad == 0 && moved == onb && onb > 0,
	    "%s: drain moves only the drained server's %d clients (%d moved, "
	    "%d wrong)", name, onb, moved, bad);
	S[2].admin = RELAY_READY;
	relay_lb_free(&lb);
}

/* Round robin leaves a draining server out; all draining: none. */
static void
test_drain_rr(void)
{
	struct relay_lb lb;
	int i, hits = 0;

	mklb(&lb, RELAY_RR, 3, NULL, 1);
	S[2].admin = RELAY_DRAIN;
	lb.dirty = 1;
	for (i = 0; i < 30; i++)
		hits += relay_lb_pick(&lb, NULL, NULL) == 1;
	ok(hits == 0, "roundrobin: a draining server gets nothing");
	S[1].admin = S[3].admin = RELAY_MAINT;
	lb.dirty = 1;
	ok(relay_lb_pick(&lb, NULL, NULL) == -1,
	    "roundrobin: draining and maint everywhere: no server");
	S[1].admin = S[2].admin = S[3].admin = RELAY_READY;
	relay_lb_free(&lb);
}

int
main(void)
{
	test_rr();
	test_leastconn();
	test_hash_agree(RELAY_SOURCE, "source");
	test_hash_agree(RELAY_MAGLEV, "maglev");
	test_maglev_disruption();
	test_maglev_table();
	test_tried_backup_first();
	test_spec();
	test_limit();
	test_limit_cap();
	test_drain(RELAY_SOURCE, "source");
	test_drain(RELAY_MAGLEV, "maglev");
	test_drain_rr();
	return t_done();
}
