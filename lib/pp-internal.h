/*
 * pp-internal.h - helpers shared by the tools and the relay engine.
 * Not installed and not part of the public API: the symbols are hidden
 * from libproxyhdr.so and reachable only through libproxyhdr.a.
 */
#ifndef PP_INTERNAL_H
#define PP_INTERNAL_H

#include <sys/socket.h>
#include <stdint.h>

#include "proxyhdr.h"

#define PP_HIDDEN __attribute__((visibility("hidden")))

/* An IPv4 or IPv6 prefix; IPv4 is kept as IPv4-mapped IPv6. */
struct pp_cidr {
	uint8_t		addr[16];
	uint8_t		bits;		/* 0..128, counted on the mapped form */
};

/*
 * Parse "ADDR[/BITS]" (IPv4 or IPv6; no BITS means a single host).
 * Returns 0, or -1 when s is not a prefix.
 */
PP_HIDDEN int	pp_cidr_parse(const char *s, struct pp_cidr *c);

/*
 * 1 when sa (AF_INET or AF_INET6; IPv4-mapped peers are unmapped first,
 * so 127.0.0.0/8 matches ::ffff:127.0.0.1) falls in one of the n
 * prefixes, else 0.  AF_UNIX and others never match.
 */
PP_HIDDEN int	pp_cidr_match(const struct pp_cidr *c, size_t n,
		    const struct sockaddr_storage *sa);

/*
 * Parse an address of the common conventions: HOST:PORT, [IPV6]:PORT,
 * :PORT (all addresses, IPv6 wildcard accepting IPv4 too) or unix:PATH
 * (unix:@NAME for an abstract socket).  HOST may be a name; it is
 * resolved here, once.  Returns 0, or -1 with *why set to a message.
 */
PP_HIDDEN int	pp_addr_parse(const char *s, struct sockaddr_storage *sa,
		    socklen_t *salen, const char **why);

/* The length to pass to bind/connect for sa. */
PP_HIDDEN socklen_t pp_addr_len(const struct sockaddr_storage *sa);

/* An IPv4-mapped IPv6 address turned into plain IPv4, in place. */
PP_HIDDEN void	pp_addr_unmap(struct sockaddr_storage *sa);

#endif /* PP_INTERNAL_H */
