/*
 * net.h - addresses as the tools and the relay engine write and read
 * them: parsing the common address forms, the one text form they print,
 * and the CIDR lists of --trust, --allow and --deny.
 *
 * Private: never installed and not part of libproxyhdr (built into its
 * own archive, linked into the tools).  Must not grow protocol logic;
 * that is the codec's (lib/pp_*.c).
 */
#ifndef NET_H
#define NET_H

#include <sys/socket.h>
#include <stdint.h>

#include "proxyhdr.h"

/* An IPv4 or IPv6 prefix; IPv4 is kept as IPv4-mapped IPv6. */
struct net_cidr {
	uint8_t		addr[16];
	uint8_t		bits;		/* 0..128, counted on the mapped form */
};

/*
 * Parse "ADDR[/BITS]" (IPv4 or IPv6; no BITS means a single host).
 * Returns 0, or -1 when s is not a prefix.
 */
int	net_cidr_parse(const char *s, struct net_cidr *c);

/*
 * 1 when sa (AF_INET or AF_INET6; IPv4-mapped peers are unmapped first,
 * so 127.0.0.0/8 matches ::ffff:127.0.0.1) falls in one of the n
 * prefixes, else 0.  AF_UNIX and others never match.
 */
int	net_cidr_match(const struct net_cidr *c, size_t n,
		    const struct sockaddr_storage *sa);

/*
 * Parse an address of the common conventions: HOST:PORT, [IPV6]:PORT,
 * :PORT (all addresses, IPv6 wildcard accepting IPv4 too) or unix:PATH
 * (unix:@NAME for an abstract socket).  HOST may be a name; it is
 * resolved here, once.  Returns 0, or -1 with *why set to a message.
 */
int	net_addr_parse(const char *s, struct sockaddr_storage *sa,
		    socklen_t *salen, const char **why);

/* The length to pass to bind/connect for sa. */
socklen_t net_addr_len(const struct sockaddr_storage *sa);

/* An IPv4-mapped IPv6 address turned into plain IPv4, in place. */
void	net_addr_unmap(struct sockaddr_storage *sa);

/*
 * The one text form of an endpoint in logs, labels and messages:
 * "HOST:PORT", "[V6]:PORT", "unix:PATH", "unix:@NAME" (abstract),
 * "unix:(unnamed)", "-" for AF_UNSPEC (no address known) and
 * "(family N)" for anything else.  cap >= NET_ADDRSTRLEN always
 * suffices.  Returns buf.
 */
#define NET_ADDRSTRLEN	(PP_ADDRSTRLEN + 16)
char	*net_addr_format(const struct sockaddr_storage *sa, char *buf,
	    size_t cap);

#endif /* NET_H */
