/*
 * cli.h - what every tool shares: options, numbers, addresses, TLV flags,
 * logging, and the environment given to a child.
 */
#ifndef CLI_H
#define CLI_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "proxyhdr.h"
#include "net.h"

/*
 * Call first in main().  When stderr is the journal's stream (JOURNAL_STREAM
 * names it), diagnostics from err(3)/warn(3) stay on stderr with an "<3>"
 * priority prefix; when stderr is another socket (inetd gives the client's
 * socket as fds 0, 1 and 2), they go to syslog(3) LOG_DAEMON instead,
 * never to the client.
 */
void	cli_init(int argc, char *argv[]);

/*
 * Change the program name in messages, syslog's ident included; name is
 * copied.  Call before setproctitle(3), which reuses argv's memory.
 */
void	cli_setname(const char *name);

/*
 * One log line at syslog(3) priority pri (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG): "prog: line" on stderr, "<pri>prog: line" when stderr is
 * the journal's (JOURNAL_STREAM), syslog(3) when stderr is another socket.
 */
void	cli_logline(int pri, const char *line);

/*
 * The same for a structured record (logfmt, json): the line alone, with
 * no "prog: " before it, so a reader takes each line as one record.
 */
void	cli_logrecord(int pri, const char *line);

/* A number for a flag within [min, max]; exits 64 naming the flag. */
long long cli_number(const char *flag, const char *s, long long min,
	    long long max);

/*
 * The receiving options every tool that reads a header shares, parsed
 * one way: -a/--accept-proxy[=v1|v2|any] (bare: any; "-a v1" as two
 * words too), -o/--optional, -t/--trust CIDR, -m/--max-header BYTES,
 * -T/--header-timeout/--timeout DURATION.
 */
#define CLI_MAXTRUST	64
#define CLI_HDR_MIN	16
#define CLI_OPTS_RECV	"a::m:ot:T:"

struct cli_recv {
	int		accept;		/* -1 not given, 0 any, 1, 2 */
	int		optional;
	struct net_cidr	trust[CLI_MAXTRUST];
	int		ntrust;
	int		max_header;	/* CLI_HDR_MIN to PP_HDR_MAX */
	int		hdr_ms;		/* 0: no limit */
};

/* The defaults: no -a, 4096 bytes, 5 s. */
void	cli_recv_init(struct cli_recv *r);

/*
 * One option from getopt_long: returns 1 when ch is a receiving option
 * (and takes it, exiting 64 on a bad value), 0 otherwise.  argv is
 * getopt's, for the version of a bare -a given as the next word.
 */
int	cli_recv_opt(int ch, const char *optarg, char **argv,
	    struct cli_recv *r);

/* cli_duration flags. */
#define CLI_DUR_ZERO	0x01	/* "0" is allowed: it means off */
#define CLI_DUR_MS	0x02	/* a plain number is milliseconds */

/*
 * A duration for a flag, in milliseconds: a number (fractions allowed:
 * "0.5") of seconds, or of milliseconds with CLI_DUR_MS, or a number with
 * a unit: "500ms", "2s", "1m", "1h".  Zero is accepted only with
 * CLI_DUR_ZERO and only when written as zero; anything else below min_ms
 * (at least 1) or above max_ms exits 64, naming the flag and the range,
 * never rounding to off.  Fractions of a millisecond round to nearest.
 */
int	cli_duration(const char *flag, const char *s, int flags, int min_ms,
	    int max_ms);

/* A duration as text for messages: "300 ms", "5 s", "1.5 s". */
const char *cli_duration_text(int ms, char *buf, size_t cap);

/*
 * A version argument: "v1" -> 1, "v2" -> 2, "any" -> 0; NULL gives dflt.
 * Exits 64 naming the flag on anything else.
 */
int	cli_version(const char *flag, const char *arg, int dflt);

/* net_addr_parse that exits 64 naming the flag on failure. */
void	cli_addr(const char *flag, const char *s, struct sockaddr_storage *sa);

/* net_cidr_parse that exits 64 naming the flag on failure. */
void	cli_cidr(const char *flag, const char *s, struct net_cidr *c);

/*
 * A --tlv TYPE=VALUE argument: TYPE a number (decimal or 0x..) or a name
 * (alpn, authority, unique-id, netns, noop, aws, azure, gcp); VALUE text,
 * or hex after "0x".  For aws the value is the VPC endpoint id text (the
 * subtype byte is added), for azure a decimal LinkID, for gcp a decimal
 * PSC id.  The value bytes are stored in store (cap bytes, which must
 * outlive t).  Exits 64 on error.  Returns the bytes of store used.
 */
size_t	cli_tlv(const char *flag, const char *arg, struct pp_tlv *t,
	    uint8_t *store, size_t cap);

/*
 * The readable value of a TLV for output and the environment: text TLVs
 * as text (non-printable bytes escaped), numbers in decimal, anything
 * else as lower-case hex.  Returns buf.
 */
const char *cli_tlv_text(const struct pp_tlv *t, char *buf, size_t cap);

/*
 * The same for a person reading a terminal: valid UTF-8 in text TLVs is
 * kept as it is, except control characters (C0, DEL, C1), escaped as \xNN
 * like bytes that are not valid UTF-8.  Returns buf.
 */
const char *cli_tlv_show(const struct pp_tlv *t, char *buf, size_t cap);

/*
 * The length (1-4) of the valid UTF-8 character (RFC 3629: no overlong
 * form, no surrogate, at most U+10FFFF) at the start of p[0..n), with its
 * code point in *cp; 0 when the bytes there are not one.
 */
size_t	cli_utf8(const uint8_t *p, size_t n, uint32_t *cp);

/*
 * The environment of pp-environ(7) for a child: emit(key, value, arg) is
 * called for each variable that is known (unknown ones are never emitted).
 * h may be NULL (no header: --optional); peer and local are the real
 * socket's endpoints, or NULL when fd 0 is not a socket.
 */
void	cli_env(const struct pp_header *h, const struct sockaddr_storage *peer,
	    const struct sockaddr_storage *local,
	    void (*emit)(const char *key, const char *value, void *arg),
	    void *arg);

/* Every variable cli_env may set, NULL-terminated, to clear stale ones. */
extern const char *const cli_env_names[];

/*
 * Unset every variable cli_env may set, any PROXY_TLV_0x.. and the UCSPI
 * names cli_env never sets but a parent server may have (TCPREMOTEHOST,
 * TCPREMOTEINFO, TCPLOCALHOST): a child must not see a stale value that
 * describes the previous hop.
 */
void	cli_env_clear(void);

/*
 * Who is at the other end of the connection on fd, first found wins: the
 * socket itself (getpeername/getsockname: inetd, tcpserver, systemd); a
 * socketpair without names (socat's EXEC) does not count; then socat's
 * SOCAT_PEERADDR, SOCAT_PEERPORT, SOCAT_SOCKADDR, SOCAT_SOCKPORT; then,
 * only when ucspi is set, UCSPI's PROTO=TCP with TCPREMOTEIP... or
 * PROTO=IPC with IPC*PATH.  A receiver must not pass ucspi: those names
 * are what an earlier pp-strip set from a header, so a sender's claim.
 * Returns 1 with *e filled (src is the remote end, dst the local one),
 * or 0 when none says.  A variable that is set but not an address exits
 * 1 naming it.
 */
struct cli_ends {
	struct sockaddr_storage	src;
	struct sockaddr_storage	dst;
	int			transport;	/* PP_V2_TRANS_* */
	const char		*from;		/* where it was learned */
};
int	cli_endpoints(int fd, struct cli_ends *e, int ucspi);

/* cli_listen flags. */
#define CLI_LISTEN_NONBLOCK	0x01	/* SOCK_NONBLOCK */
#define CLI_LISTEN_REUSEPORT	0x02	/* SO_REUSEPORT: one per worker */
#define CLI_LISTEN_DGRAM	0x04	/* a bound UDP socket, not listening */

/*
 * A listening stream socket on arg (an address as -l takes it), for the
 * option flag; with CLI_LISTEN_DGRAM a bound UDP socket (backlog unused;
 * a unix address exits 64).  IPv6 sockets take IPv4 too; TCP ones set
 * SO_REUSEADDR (UDP ones do not: two servers on one port would split
 * the datagrams between them).
 * A unix path is taken over only when it is a stale socket (a socket
 * file that refuses connections): anything else there is refused, never
 * removed.  Exits 64 on a bad address or a path that is not a socket, 1
 * when a server listens there or a system call fails.  Returns the fd.
 */
int	cli_listen(const char *flag, const char *arg, int flags, int backlog);

/* write(2) all of buf, retrying short writes: 0, or -1 with errno set. */
int	cli_write_all(int fd, const void *buf, size_t len);

/* Copy in to out until end of input; exits 1 on a read or write error. */
void	cli_copy(int in, int out);

/* Hex text to bytes: returns the byte count or -1; spaces are skipped. */
long	cli_unhex(const char *hex, uint8_t *out, size_t cap);

#endif /* CLI_H */
