/*
 * net.c - addresses and prefixes for the tools and the relay engine:
 * HOST:PORT, [V6]:PORT, :PORT and unix:PATH, their one text form,
 * and the CIDR lists of --trust, --allow and --deny.  Declared in net.h.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

/* The 16-byte form of an IPv4 address: ::ffff:a.b.c.d. */
static void
map4(const struct in_addr *in, uint8_t out[16])
{
	memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	memcpy(out + 12, &in->s_addr, 4);
}

/* Decimal digits only, no sign, no leading zero; -1 when not in [0, max]. */
static long
decimal(const char *s, size_t len, long max)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

int
net_cidr_parse(const char *s, struct net_cidr *c)
{
	char text[INET6_ADDRSTRLEN];
	const char *slash;
	struct in_addr in4;
	size_t alen, i;
	long bits;
	int v4;

	if (s == NULL || c == NULL)
		return -1;
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, s, alen);
	text[alen] = '\0';

	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, text, &in4) == 1) {
		map4(&in4, c->addr);
		v4 = 1;
	} else if (inet_pton(AF_INET6, text, c->addr) == 1)
		v4 = 0;
	else
		return -1;

	if (slash == NULL)
		bits = v4 ? 32 : 128;
	else if ((bits = decimal(slash + 1, strlen(slash + 1),
	    v4 ? 32 : 128)) < 0)
		return -1;
	c->bits = (uint8_t)(v4 ? bits + 96 : bits);

	/* Keep only the network part, so matching is a plain compare. */
	for (i = 0; i < 16; i++) {
		int keep = (int)c->bits - (int)(8 * i);

		if (keep >= 8)
			continue;
		c->addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	return 0;
}

int
net_cidr_match(const struct net_cidr *c, size_t n,
    const struct sockaddr_storage *sa)
{
	uint8_t a[16];
	size_t i, full;
	unsigned int rest;

	if (c == NULL || sa == NULL)
		return 0;
	/* IPv4 and IPv4-mapped IPv6 both compare as ::ffff:a.b.c.d. */
	if (sa->ss_family == AF_INET)
		map4(&((const struct sockaddr_in *)sa)->sin_addr, a);
	else if (sa->ss_family == AF_INET6)
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	else
		return 0;

	for (i = 0; i < n; i++) {
		full = c[i].bits / 8;
		rest = c[i].bits % 8;
		if (memcmp(a, c[i].addr, full) != 0)
			continue;
		if (rest != 0 && ((a[full] ^ c[i].addr[full]) &
		    (uint8_t)(0xff << (8 - rest))) != 0)
			continue;
		return 1;
	}
	return 0;
}

/* HOST (numeric or a name) into sa, keeping port.  0 or -1 with *why. */
static int
host_lookup(const char *host, int numeric, in_port_t port,
    struct sockaddr_storage *sa, socklen_t *salen, const char **why)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = numeric ? AI_NUMERICHOST : 0;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		*why = numeric ? "not an IP address" : gai_strerror(rc);
		return -1;
	}
	if (res->ai_addrlen > sizeof(*sa) || (res->ai_family != AF_INET &&
	    res->ai_family != AF_INET6)) {
		freeaddrinfo(res);
		*why = "unsupported address family";
		return -1;
	}
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, res->ai_addr, res->ai_addrlen);
	*salen = res->ai_addrlen;
	freeaddrinfo(res);
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
	return 0;
}

int
net_addr_parse(const char *s, struct sockaddr_storage *sa, socklen_t *salen,
    const char **why)
{
	char host[256];
	const char *colon, *end;
	struct sockaddr_un *sun;
	struct sockaddr_in6 *sin6;
	socklen_t dummy;
	const char *dummy_why;
	size_t hlen, plen;
	long port;
	int bracket = 0;

	if (salen == NULL)
		salen = &dummy;
	if (why == NULL)
		why = &dummy_why;
	*why = NULL;
	if (s == NULL || sa == NULL) {
		*why = "no address";
		return -1;
	}

	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		plen = strlen(s);
		if (plen == 0 || (s[0] == '@' && plen == 1)) {
			*why = "empty socket path";
			return -1;
		}
		sun = (struct sockaddr_un *)sa;
		memset(sa, 0, sizeof(*sa));
		if (plen >= sizeof(sun->sun_path)) {
			*why = "socket path too long";
			return -1;
		}
		sun->sun_family = AF_UNIX;
		if (s[0] == '@') {
			/* Abstract: a NUL, then the name, no terminator. */
			memcpy(sun->sun_path + 1, s + 1, plen - 1);
			*salen = (socklen_t)(offsetof(struct sockaddr_un,
			    sun_path) + plen);
		} else {
			memcpy(sun->sun_path, s, plen);
			*salen = (socklen_t)(offsetof(struct sockaddr_un,
			    sun_path) + plen + 1);
		}
		return 0;
	}

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -1;
		}
		hlen = (size_t)(end - s - 1);
		colon = end + 1;
		s++;
		bracket = 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "expected HOST:PORT, [IPV6]:PORT, :PORT or "
			    "unix:PATH";
			return -1;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL) {
			*why = "an IPv6 address needs brackets: [IPV6]:PORT";
			return -1;
		}
	}
	if ((port = decimal(colon + 1, strlen(colon + 1), 65535)) < 0) {
		*why = "port must be a number 0-65535";
		return -1;
	}
	if (hlen >= sizeof(host)) {
		*why = "host name too long";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';

	if (hlen == 0 && !bracket) {
		/* :PORT - every address; a v6 socket takes IPv4 too. */
		memset(sa, 0, sizeof(*sa));
		sin6 = (struct sockaddr_in6 *)sa;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((in_port_t)port);
		*salen = sizeof(*sin6);
		return 0;
	}
	if (hlen == 0) {
		*why = "empty address in brackets";
		return -1;
	}
	if (bracket) {
		if (host_lookup(host, 1, (in_port_t)port, sa, salen, why) != 0)
			return -1;
		if (sa->ss_family != AF_INET6) {
			*why = "brackets hold an IPv6 address";
			return -1;
		}
		return 0;
	}
	return host_lookup(host, 0, (in_port_t)port, sa, salen, why);
}

socklen_t
net_addr_len(const struct sockaddr_storage *sa)
{
	const struct sockaddr_un *sun;
	size_t base = offsetof(struct sockaddr_un, sun_path), max;

	switch (sa->ss_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	case AF_UNIX:
		sun = (const struct sockaddr_un *)sa;
		max = sizeof(sun->sun_path);
		if (sun->sun_path[0] != '\0')
			return (socklen_t)(base +
			    strnlen(sun->sun_path, max) + 1);
		/* XXX an abstract name is taken to end at its first NUL. */
		if (sun->sun_path[1] != '\0')
			return (socklen_t)(base + 1 +
			    strnlen(sun->sun_path + 1, max - 1));
		return (socklen_t)base;		/* unnamed */
	}
	return sizeof(*sa);
}

void
net_addr_unmap(struct sockaddr_storage *sa)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
	struct sockaddr_in sin;

	if (sa->ss_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sin6->sin6_port;
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(sa, 0, sizeof(*sa));
	memcpy(sa, &sin, sizeof(sin));
}

char *
net_addr_format(const struct sockaddr_storage *sa, char *buf, size_t cap)
{
	char a[PP_ADDRSTRLEN];
	int port;

	if (sa->ss_family == AF_UNSPEC) {
		snprintf(buf, cap, "-");
		return buf;
	}
	if (pp_addr_ntop(sa, a, sizeof(a)) == NULL) {
		snprintf(buf, cap, "(family %d)", sa->ss_family);
		return buf;
	}
	port = pp_addr_port(sa);
	if (sa->ss_family == AF_UNIX)
		snprintf(buf, cap, "unix:%s", a[0] != '\0' ? a : "(unnamed)");
	else if (sa->ss_family == AF_INET6)
		snprintf(buf, cap, "[%s]:%d", a, port);
	else
		snprintf(buf, cap, "%s:%d", a, port);
	return buf;
}
