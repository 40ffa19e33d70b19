/*
 * pp-inspect - decode, validate and explain PROXY protocol headers.
 *
 * Reads files, stdin, a hex string, live connections or datagrams, and
 * says what a header holds, whether it is valid, and when it is not,
 * which byte is wrong and what sender mistake usually causes it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define V1_SIG		"PROXY "
#define V1_SIG_LEN	6
#define HINT_MAX	8
#define HINT_LEN	320
#define PEEK_MAX	4096	/* payload bytes looked at after a header */
#define DUMP_PAYLOAD	16	/* payload bytes shown by -v */
#define DUMP_JUNK	64	/* undecodable bytes shown by -v */
#define DGRAM_MAX	65536	/* larger than any UDP payload */
#define UDP_PFX		"udp:"
#define UDP_PFX_LEN	4

struct hints {
	size_t	n;
	char	text[HINT_MAX][HINT_LEN];
};

struct opts {
	int	json;
	int	verbose;
	int	all;
	int	once;
	int	timeout_ms;
	int	ninputs;
	int	dgram;		/* --listen udp:ADDR */
};

/* Where the bytes of a report came from. */
struct source {
	const char			*name;	/* file; NULL otherwise */
	const struct sockaddr_storage	*peer;	/* --listen */
	const struct sockaddr_storage	*local;
	int				 stream; /* payload still arriving */
	int				 dgram;	/* a whole datagram */
	size_t				 dgram_len;
};

static const char usage_text[] =
    "usage: pp-inspect [-hjVv] [--all] [-x hex] [file ...]\n"
    "       pp-inspect [-hjVv] [--once] [-T seconds] -l address\n"
    "       pp-inspect [-hjVv] [--once] -l udp:address\n";

static const char help_text[] =
    "\n"
    "Decode, validate and explain PROXY protocol headers read from FILEs,\n"
    "standard input, -x HEX, each connection to --listen ADDRESS, or each\n"
    "datagram to --listen udp:ADDRESS.\n"
    "\n"
    "  --all                  every header in the input, one after another\n"
    "  -j, --json             one JSON object per header\n"
    "  -v, --verbose          add an annotated hex dump\n"
    "  -x, --hex HEX          decode these bytes, given as hex\n"
    "  -l, --listen ADDRESS   accept connections and report each header\n"
    "                         and peer (HOST:PORT, [IPV6]:PORT, :PORT,\n"
    "                         unix:PATH, unix:@NAME)\n"
    "  -l, --listen udp:ADDRESS\n"
    "                         receive UDP datagrams and report each one's\n"
    "                         header, peer and length (HOST:PORT,\n"
    "                         [IPV6]:PORT, :PORT)\n"
    "  --once                 with --listen: exit after one connection\n"
    "                         or datagram\n"
    "  -T, --header-timeout, --timeout SECONDS\n"
    "                         with a TCP --listen: wait this long for a\n"
    "                         header (default 5; 0: no limit; 500ms, 2s,\n"
    "                         1m, 1h)\n"
    "  -h, --help             this text;  -V, --version  the version\n";

enum {
	OPT_ALL = 256,
	OPT_ONCE,
};

static const struct option longopts[] = {
	{ "all",	no_argument,		NULL,	OPT_ALL },
	{ "header-timeout", required_argument,	NULL,	'T' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "json",	no_argument,		NULL,	'j' },
	{ "listen",	required_argument,	NULL,	'l' },
	{ "once",	no_argument,		NULL,	OPT_ONCE },
	{ "timeout",	required_argument,	NULL,	'T' },
	{ "version",	no_argument,		NULL,	'V' },
	{ "verbose",	no_argument,		NULL,	'v' },
	{ "hex",	required_argument,	NULL,	'x' },
	{ NULL,		0,			NULL,	0 }
};

/* Room for any TLV value as text: every byte escaped as \xNN. */
static char valbuf[4 * 65535 + 16];

/* The unix socket --listen created, removed again on the way out. */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

static int nreports;

static void usage(void) __attribute__((__noreturn__));

static void
usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Family and transport names: lower case in JSON, the spec's upper case
 * in human output and -v.
 */
static const char *
fam_name(int fam, int upper)
{
	static const char *const names[2][4] = {
		{ "unspec", "inet", "inet6", "unix" },
		{ "UNSPEC", "INET", "INET6", "UNIX" }
	};

	return fam >= 0 && fam < 4 ? names[upper][fam] : "unknown";
}

static const char *
trans_name(int trans, int upper)
{
	static const char *const names[2][3] = {
		{ "unspec", "stream", "dgram" },
		{ "UNSPEC", "STREAM", "DGRAM" }
	};

	return trans >= 0 && trans < 3 ? names[upper][trans] : "unknown";
}

/* spec 2.2: the address block of each family. */
static size_t
addr_block(int fam)
{
	static const size_t len[] = { 0, 12, 36, 216 };

	return fam >= 0 && fam < 4 ? len[fam] : 0;
}

static void
hint(struct hints *hs, const char *fmt, ...)
{
	va_list ap;

	if (hs->n == HINT_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(hs->text[hs->n++], HINT_LEN, fmt, ap);
	va_end(ap);
}

/* Bytes as printable text, others as \xNN; at most max bytes of input. */
static const char *
esc(const uint8_t *p, size_t n, size_t max, char *buf, size_t size)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < n && i < max && o + 5 < size; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
			buf[o++] = (char)p[i];
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x",
			    p[i]);
	}
	if (i < n && o + 4 < size)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
	return buf;
}

/* JSON output. */

static void
json_bytes(const uint8_t *s, size_t n)
{
	size_t i;

	uint32_t cp;
	size_t k;

	/*
	 * Valid UTF-8 passes as the same characters; a byte that is not
	 * valid UTF-8 becomes U+FFFD (the exact bytes are in "hex").
	 */
	putchar('"');
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			printf("\\%c", s[i]);
		else if (s[i] < 0x20 || s[i] == 0x7f)
			printf("\\u%04x", s[i]);
		else if (s[i] < 0x80)
			putchar(s[i]);
		else if ((k = cli_utf8(s + i, n - i, &cp)) > 0) {
			fwrite(s + i, 1, k, stdout);
			i += k - 1;
		} else
			printf("\\ufffd");
	}
	putchar('"');
}

static void
json_str(const char *s)
{
	json_bytes((const uint8_t *)s, strlen(s));
}

static void
json_hex(const uint8_t *p, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	putchar('"');
}

static void
json_addr(const char *key, const struct sockaddr_storage *sa)
{
	char text[PP_ADDRSTRLEN];
	int port;

	printf(",\"%s\":", key);
	if (sa == NULL || pp_addr_ntop(sa, text, sizeof(text)) == NULL) {
		printf("null");
		return;
	}
	printf("{\"addr\":");
	json_str(text);
	if ((port = pp_addr_port(sa)) >= 0)
		printf(",\"port\":%d", port);
	putchar('}');
}

static void
json_hints(const struct hints *hs)
{
	const char *s;
	size_t i;

	if (hs->n == 0)
		return;
	/* One string; several hints are joined with "; ". */
	printf(",\"hint\":\"");
	for (i = 0; i < hs->n; i++) {
		if (i > 0)
			printf("; ");
		for (s = hs->text[i]; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				printf("\\%c", *s);
			else if ((unsigned char)*s < 0x20 ||
			    (unsigned char)*s >= 0x7f)
				printf("\\u%04x", (unsigned char)*s);
			else
				putchar(*s);
		}
	}
	putchar('"');
}

static void
json_source(const struct opts *o, const struct source *src)
{
	if (src->peer != NULL)
		json_addr("peer", src->peer);
	if (src->local != NULL)
		json_addr("local", src->local);
	if (src->dgram)
		printf(",\"datagram_len\":%zu", src->dgram_len);
	if (o->ninputs > 1) {
		printf(",\"input\":");
		json_str(src->name != NULL ? src->name : "-");
	}
}

/*
 * The CRC32C TLV of a v2 header: its offset in p (0 when there is none
 * or the TLVs cannot be walked) and the checksum the header should carry.
 */
static size_t
crc_find(const uint8_t *p, size_t n, uint32_t *want)
{
	static const uint8_t zero[4];
	struct pp_tlv t;
	size_t start, end, pos = 0, off;
	int fam;
	uint32_t c;

	if (n < PP_V2_FIXED || memcmp(p, PP_V2_SIG, PP_V2_SIG_LEN) != 0)
		return 0;
	fam = p[13] >> 4;
	end = PP_V2_FIXED + (size_t)rd16(p + 14);
	start = PP_V2_FIXED + addr_block(fam);
	if (end > n || start > end)
		return 0;
	while (pp_tlv_walk(p + start, end - start, &pos, &t) == 1) {
		if (t.type != PP_TLV_CRC32C || t.len != 4)
			continue;
		off = (size_t)(t.value - p);
		/* spec 2.2.3: over the whole header, the CRC field zeroed. */
		c = pp_crc32c(0, p, off);
		c = pp_crc32c(c, zero, 4);
		c = pp_crc32c(c, p + off + 4, end - off - 4);
		*want = c;
		return off;
	}
	return 0;
}

/* "ok", "bad" or "absent" for a header the parser accepted. */
static const char *
crc_status(const uint8_t *p, size_t n, const struct pp_header *h)
{
	uint32_t want;
	size_t off;

	if (h->crc32c == PP_CRC_OK)
		return "ok";
	if (h->version != 2 || (off = crc_find(p, n, &want)) == 0)
		return "absent";
	/* A LOCAL header's TLVs are not judged: say what they hold. */
	return rd32(p + off) == want ? "ok" : "bad";
}

static int
is_ipv4_text(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

static int
is_ipv6_text(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/*
 * Hints for a v1 line the parser refused: the mistakes senders make.
 */
static void
explain_v1(const uint8_t *p, size_t n, struct hints *hs)
{
	char line[PP_V1_MAX + 1], *tok[6], *s, *save = NULL;
	size_t i, len, ntok = 0;

	len = n < PP_V1_MAX + 1 ? n : PP_V1_MAX + 1;
	for (i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i == 0 || p[i - 1] != '\r')
			hint(hs, "the sender ends lines with LF only; the spec "
			    "requires CRLF");
		break;
	}

	len = n < PP_V1_MAX ? n : PP_V1_MAX;
	/* Quoted in hints (and JSON): printable ASCII only. */
	for (i = 0; i < len && p[i] != '\r' && p[i] != '\n'; i++)
		line[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	line[i] = '\0';
	for (s = strtok_r(line, " ", &save); s != NULL && ntok < 6;
	    s = strtok_r(NULL, " ", &save))
		tok[ntok++] = s;
	if (ntok == 0 || strcasecmp(tok[0], "PROXY") != 0)
		return;
	if (strcmp(tok[0], "PROXY") != 0)
		hint(hs, "the keyword \"%s\" is not in upper case; the spec "
		    "requires \"PROXY\"", tok[0]);
	if (ntok < 2)
		return;
	if ((strcasecmp(tok[1], "TCP4") == 0 ||
	    strcasecmp(tok[1], "TCP6") == 0 ||
	    strcasecmp(tok[1], "UNKNOWN") == 0) &&
	    strcmp(tok[1], "TCP4") != 0 && strcmp(tok[1], "TCP6") != 0 &&
	    strcmp(tok[1], "UNKNOWN") != 0)
		hint(hs, "the protocol \"%s\" is not in upper case; the spec "
		    "requires TCP4, TCP6 or UNKNOWN", tok[1]);
	for (i = 2; i < 4 && i < ntok; i++) {
		if (strcasecmp(tok[1], "TCP4") == 0 && is_ipv6_text(tok[i])) {
			hint(hs, "IPv6 address text (%s) on a TCP4 line: the "
			    "sender must write TCP6 for IPv6 addresses",
			    tok[i]);
			break;
		}
		if (strcasecmp(tok[1], "TCP6") == 0 && is_ipv4_text(tok[i])) {
			hint(hs, "IPv4 address text (%s) on a TCP6 line: the "
			    "sender mixes families, as nginx does when it "
			    "re-encodes a v2 header as v1; both addresses must "
			    "be IPv6 (an IPv4 one written ::ffff:%s)",
			    tok[i], tok[i]);
			break;
		}
	}
}

/* Hints for input the parser refused. */
static void
explain_invalid(const uint8_t *p, size_t n, int r, struct hints *hs)
{
	static const char *const methods[] = {
		"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ",
		"OPTIONS ", "TRACE ", "PATCH ", "PRI * HTTP/2"
	};
	uint32_t want, got;
	size_t i, off;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (n >= strlen(methods[i]) &&
		    memcmp(p, methods[i], strlen(methods[i])) == 0) {
			hint(hs, "this looks like an HTTP request: the sender "
			    "does not speak PROXY");
			break;
		}
	/* TLS record: handshake (22), version 3.x, then ClientHello (1). */
	if (n >= 3 && p[0] == 0x16 && p[1] == 0x03 && p[2] <= 0x04 &&
	    (n < 6 || p[5] == 0x01))
		hint(hs, "this looks like a TLS ClientHello: the sender does "
		    "not speak PROXY");
	if (n >= 4 && memcmp(p, "SSH-", 4) == 0)
		hint(hs, "this looks like an SSH banner: the sender does not "
		    "speak PROXY");
	if (n > 0 && (p[0] == 'P' || p[0] == 'p'))
		explain_v1(p, n, hs);

	if (r == -PP_ECRC_BAD && (off = crc_find(p, n, &want)) != 0) {
		got = rd32(p + off);
		if ((got >> 24 | (got >> 8 & 0xff00) | (got << 8 & 0xff0000) |
		    got << 24) == want)
			hint(hs, "the CRC32C matches when read little-endian: "
			    "the sender wrote %08x as %08x, in host byte "
			    "order; the spec requires network (big-endian) "
			    "order", want, got);
	}
}

/* The addresses of a v2 block as text, for a LOCAL header's hint. */
static void
v2_addr_text(const uint8_t *a, int fam, char *buf, size_t size)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	char su[PP_ADDRSTRLEN * 4], du[PP_ADDRSTRLEN * 4];

	switch (fam) {
	case PP_V2_FAM_INET:
		inet_ntop(AF_INET, a, s, sizeof(s));
		inet_ntop(AF_INET, a + 4, d, sizeof(d));
		snprintf(buf, size, "%s:%u -> %s:%u", s, rd16(a + 8), d,
		    rd16(a + 10));
		break;
	case PP_V2_FAM_INET6:
		inet_ntop(AF_INET6, a, s, sizeof(s));
		inet_ntop(AF_INET6, a + 16, d, sizeof(d));
		snprintf(buf, size, "[%s]:%u -> [%s]:%u", s, rd16(a + 32), d,
		    rd16(a + 34));
		break;
	case PP_V2_FAM_UNIX:
		esc(a, strnlen((const char *)a, 108), 40, su, sizeof(su));
		esc(a + 108, strnlen((const char *)a + 108, 108), 40, du,
		    sizeof(du));
		snprintf(buf, size, "unix:%s -> unix:%s", su, du);
		break;
	default:
		buf[0] = '\0';
	}
}

/* A payload that starts a header: "PROXY " or the whole v2 signature. */
static int
header_start(const uint8_t *p, size_t n)
{
	return (n >= V1_SIG_LEN && memcmp(p, V1_SIG, V1_SIG_LEN) == 0) ||
	    (n >= PP_V2_SIG_LEN && memcmp(p, PP_V2_SIG, PP_V2_SIG_LEN) == 0);
}

/* Hints for a header the parser accepted. */
static void
explain_valid(const struct opts *o, const struct source *src,
    const struct pp_header *h, const uint8_t *p, size_t n, size_t hlen,
    struct hints *hs)
{
	char text[1024];
	int fam;

	/* spec 2.2 (2026): a datagram's header says DGRAM, in every one. */
	if (src->dgram && h->version == 1)
		hint(hs, "a v1 line in a datagram: v1 names TCP only; a UDP "
		    "sender should write a v2 header with transport DGRAM");
	else if (src->dgram && h->command == PP_V2_CMD_PROXY &&
	    h->transport != PP_V2_TRANS_DGRAM)
		hint(hs, "transport %s in a datagram: a UDP sender should "
		    "say DGRAM (byte 13: 0x12 for INET, 0x22 for INET6)",
		    trans_name(h->transport, 1));

	if (!o->all && header_start(p + hlen, n - hlen))
		hint(hs, "the payload starts with another PROXY header: a "
		    "proxy in front sent one too");
	if (p[0] == '\r' && (p[12] & 0x0f) == PP_V2_CMD_LOCAL) {
		fam = p[13] >> 4;
		if (addr_block(fam) > 0 &&
		    hlen - PP_V2_FIXED >= addr_block(fam)) {
			v2_addr_text(p + PP_V2_FIXED, fam, text, sizeof(text));
			hint(hs, "a LOCAL header carries addresses (%s): "
			    "receivers ignore them and use the real endpoints; "
			    "a LOCAL sender should send family UNSPEC and no "
			    "address block", text);
		}
	}
}

/* The annotated hex dump of -v. */

struct dump {
	const uint8_t	*p;
	size_t		 n;	/* bytes available */
	size_t		 base;	/* offset of p in the input */
	long long	 mark;	/* offending byte, or -1 */
};

static void
dump_range(const struct dump *d, size_t off, size_t len, const char *fmt, ...)
{
	char label[512];
	va_list ap;
	size_t i, k, j;
	int marked;

	if (off >= d->n || len == 0)
		return;
	if (len > d->n - off)
		len = d->n - off;
	va_start(ap, fmt);
	vsnprintf(label, sizeof(label), fmt, ap);
	va_end(ap);
	for (i = 0; i < len; i += 16) {
		k = len - i < 16 ? len - i : 16;
		marked = d->mark >= 0 && (size_t)d->mark >= off + i &&
		    (size_t)d->mark < off + i + k;
		printf("%06zx ", d->base + off + i);
		for (j = 0; j < k; j++)
			printf(" %02x", d->p[off + i + j]);
		if (i == 0 || marked)
			printf("%*s", (int)(16 - k) * 3 + 2, "");
		if (i == 0)
			printf("%s%s", label, marked ? "  " : "");
		if (marked)
			printf("<-- offending byte (offset %lld)",
			    (long long)(d->base + (size_t)d->mark));
		putchar('\n');
	}
}

/* What is left after the decoded part: payload or undecoded bytes. */
static void
dump_rest(const struct dump *d, size_t off, const char *what)
{
	size_t left, show;

	if (off >= d->n)
		return;
	left = d->n - off;
	show = left < DUMP_JUNK ? left : DUMP_JUNK;
	if (strcmp(what, "payload") == 0 && show > DUMP_PAYLOAD)
		show = DUMP_PAYLOAD;
	if (d->mark >= 0 && (size_t)d->mark >= off + show)
		show = (size_t)d->mark - off + 1;
	dump_range(d, off, show, "%s, %zu byte%s%s", what, left,
	    left == 1 ? "" : "s", show < left ? " (first shown)" : "");
}

static void
dump_v1(const struct dump *d)
{
	static const char *const names[] = {
		"keyword", "protocol", "src addr", "dst addr", "src port",
		"dst port"
	};
	const uint8_t *p = d->p;
	char text[256];
	size_t i = 0, start, field = 0, lim;

	lim = d->n < PP_V1_MAX + 1 ? d->n : PP_V1_MAX + 1;
	while (i < lim) {
		if (p[i] == '\r' && i + 1 < d->n && p[i + 1] == '\n') {
			dump_range(d, i, 2, "end of line (CRLF)");
			i += 2;
			break;
		}
		if (p[i] == '\n') {
			dump_range(d, i, 1, "end of line (LF only; CRLF "
			    "expected)");
			i++;
			break;
		}
		if (p[i] == '\r') {
			dump_range(d, i, 1, "CR without LF");
			i++;
			continue;
		}
		if (p[i] == ' ') {
			dump_range(d, i, 1, "separator");
			i++;
			continue;
		}
		start = i;
		while (i < lim && p[i] != ' ' && p[i] != '\r' && p[i] != '\n')
			i++;
		dump_range(d, start, i - start, "%s \"%s\"",
		    field < 6 ? names[field] : "extra field",
		    esc(p + start, i - start, 48, text, sizeof(text)));
		field++;
	}
	dump_rest(d, i, d->mark >= 0 && (size_t)d->mark >= i ? "not decoded" :
	    "payload");
}

static void
dump_tlv_value(const struct dump *d, size_t off, const struct pp_tlv *t,
    const char *crc)
{
	char text[256];
	struct pp_tlv sub;
	const char *name;
	size_t pos = 0, so, subend;

	if (t->type == PP_TLV_SSL && t->len >= 5) {
		dump_range(d, off, 1, "  ssl client 0x%02x", t->value[0]);
		dump_range(d, off + 1, 4, "  ssl verify %u",
		    rd32(t->value + 1));
		subend = t->len - 5u;
		while (pos < subend) {
			so = off + 5 + pos;
			if (pp_tlv_walk(t->value + 5, subend, &pos,
			    &sub) != 1) {
				dump_range(d, so, off + t->len - so,
				    "  ssl sub-TLVs do not fill the SSL TLV");
				break;
			}
			name = pp_ssl_sub_name(sub.type);
			dump_range(d, so, 1, "  ssl sub type 0x%02x (%s)",
			    sub.type, name != NULL ? name : "unknown");
			dump_range(d, so + 1, 2, "  ssl sub length %u",
			    sub.len);
			dump_range(d, so + 3, sub.len, "  ssl sub value %s",
			    esc(sub.value, sub.len, 48, text, sizeof(text)));
		}
		return;
	}
	if (t->type == PP_TLV_CRC32C && t->len == 4) {
		dump_range(d, off, 4, "value %08x (%s)", rd32(t->value), crc);
		return;
	}
	cli_tlv_text(t, valbuf, sizeof(valbuf));
	if (strlen(valbuf) > 60)
		strcpy(valbuf + 57, "...");
	dump_range(d, off, t->len, "value %s", valbuf);
}

/* A 108-byte AF_UNIX path: "@name" when abstract, "" when unnamed. */
static void
dump_unix(const struct dump *d, size_t pos, const char *side, const char *ign)
{
	const uint8_t *a = d->p + pos;
	char text[400];
	size_t m = d->n > pos ? d->n - pos : 0;

	if (m > 108)
		m = 108;
	if (m > 0 && a[0] == '\0') {
		text[0] = '@';
		esc(a + 1, strnlen((const char *)a + 1, m - 1), 60, text + 1,
		    sizeof(text) - 1);
		if (text[1] == '\0')
			text[0] = '\0';
	} else
		esc(a, strnlen((const char *)a, m), 60, text, sizeof(text));
	dump_range(d, pos, 108, "%s path \"%s\"%s%s", side, text,
	    m > 0 && a[0] == '\0' && text[0] == '\0' ? " (unnamed)" : "", ign);
}

static void
dump_v2(const struct dump *d, const char *crc)
{
	static const char *const side[] = { "src", "dst" };
	const uint8_t *p = d->p;
	char text[PP_ADDRSTRLEN * 4];
	struct pp_tlv t;
	size_t end, avail, pos, tend, k, ab;
	int ver, cmd, fam, trans;

	dump_range(d, 0, PP_V2_SIG_LEN, "signature%s",
	    memcmp(p, PP_V2_SIG, d->n < PP_V2_SIG_LEN ? d->n :
	    PP_V2_SIG_LEN) != 0 ? " (wrong)" : "");
	if (d->n <= 12)
		return;
	ver = p[12] >> 4;
	cmd = p[12] & 0x0f;
	dump_range(d, 12, 1, "version %d, command %s", ver,
	    cmd == 0 ? "LOCAL" : cmd == 1 ? "PROXY" : "unassigned");
	if (d->n <= 13)
		return;
	fam = p[13] >> 4;
	trans = p[13] & 0x0f;
	dump_range(d, 13, 1, "family %s, transport %s", fam_name(fam, 1),
	    trans_name(trans, 1));
	if (d->n < PP_V2_FIXED) {
		dump_rest(d, 14, "length (incomplete)");
		return;
	}
	end = PP_V2_FIXED + (size_t)rd16(p + 14);
	ab = addr_block(fam);
	dump_range(d, 14, 2, "length %u (header %zu bytes)", rd16(p + 14), end);
	avail = d->n < end ? d->n : end;
	pos = PP_V2_FIXED;

	if (ab > 0 && end - PP_V2_FIXED < ab) {
		dump_range(d, pos, avail - pos, "address block: %s needs %zu "
		    "bytes, the length gives %zu", fam_name(fam, 1), ab,
		    end - PP_V2_FIXED);
		pos = end;
	} else if (ab > 0) {
		const char *ign = cmd == PP_V2_CMD_LOCAL ? " (LOCAL: ignored)" :
		    "";

		for (k = 0; k < 2; k++) {
			if (fam == PP_V2_FAM_INET) {
				if (pos + 4 <= d->n)
					inet_ntop(AF_INET, p + pos, text,
					    sizeof(text));
				dump_range(d, pos, 4, "%s addr %s%s", side[k],
				    pos + 4 <= d->n ? text : "(incomplete)",
				    ign);
				pos += 4;
			} else if (fam == PP_V2_FAM_INET6) {
				if (pos + 16 <= d->n)
					inet_ntop(AF_INET6, p + pos, text,
					    sizeof(text));
				dump_range(d, pos, 16, "%s addr %s%s", side[k],
				    pos + 16 <= d->n ? text : "(incomplete)",
				    ign);
				pos += 16;
			} else {
				dump_unix(d, pos, side[k], ign);
				pos += 108;
			}
		}
		if (fam != PP_V2_FAM_UNIX) {
			for (k = 0; k < 2; k++, pos += 2)
				dump_range(d, pos, 2, "%s port %u%s", side[k],
				    pos + 2 <= d->n ? rd16(p + pos) : 0, ign);
		}
	}

	/* TLVs: the type, length and value of each, as far as they go. */
	while (pos < end && pos < d->n) {
		dump_range(d, pos, 1, "tlv type 0x%02x (%s)", p[pos],
		    pp_tlv_name(p[pos]) != NULL ? pp_tlv_name(p[pos]) :
		    "unknown");
		if (pos + 3 > end) {
			dump_range(d, pos + 1, end - pos - 1,
			    "tlv length: runs past the header end");
			pos = end;
			break;
		}
		if (pos + 3 > d->n) {
			dump_range(d, pos + 1, 2, "tlv length (incomplete)");
			pos = d->n;
			break;
		}
		tend = pos + 3 + rd16(p + pos + 1);
		dump_range(d, pos + 1, 2, "tlv length %u%s", rd16(p + pos + 1),
		    tend > end ? ": runs past the header end" : "");
		if (tend > end || tend > d->n) {
			dump_range(d, pos + 3, end - pos - 3, "tlv value "
			    "(%s)", tend > end ? "cut at the header end" :
			    "incomplete");
			pos = tend > end ? end : d->n;
			break;
		}
		t.type = p[pos];
		t.len = rd16(p + pos + 1);
		t.value = p + pos + 3;
		dump_tlv_value(d, pos + 3, &t, crc);
		pos = tend;
	}
	dump_rest(d, pos, d->mark >= 0 && (size_t)d->mark >= pos ?
	    "not decoded" : "payload");
}

static void
dump(const uint8_t *p, size_t n, size_t base, long long mark, const char *crc)
{
	struct dump d = { p, n, base, mark };

	printf("%-6s  %-47s  %s\n", "offset", "bytes", "field");
	if (n == 0)
		printf("(no bytes)\n");
	else if (p[0] == '\r')
		dump_v2(&d, crc);
	else if (p[0] == 'P' || p[0] == 'p')
		dump_v1(&d);
	else
		dump_rest(&d, 0, "not a PROXY header");
}

/* Human output: one field a line. */

static void
field(const char *key, const char *fmt, ...)
{
	va_list ap;
	char k[32];

	snprintf(k, sizeof(k), "%s:", key);
	printf("%-13s", k);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
human_addr(const char *key, const struct pp_header *h,
    const struct sockaddr_storage *sa)
{
	char text[PP_ADDRSTRLEN];
	int port;

	if (!h->has_addr) {
		field(key, "none (%s: the receiver uses the real endpoints)",
		    h->version == 1 ? "UNKNOWN" :
		    h->command == PP_V2_CMD_LOCAL ? "LOCAL" : "UNSPEC");
		return;
	}
	if (pp_addr_ntop(sa, text, sizeof(text)) == NULL) {
		field(key, "(family %d)", sa->ss_family);
		return;
	}
	if ((port = pp_addr_port(sa)) >= 0)
		field(key, "%s port %d", text, port);
	else
		field(key, "%s", text[0] != '\0' ? text : "(unnamed)");
}

static void
human_peer(const char *key, const struct sockaddr_storage *sa)
{
	char text[PP_ADDRSTRLEN];
	int port;

	if (pp_addr_ntop(sa, text, sizeof(text)) == NULL)
		field(key, "(family %d)", sa->ss_family);
	else if ((port = pp_addr_port(sa)) >= 0)
		field(key, "%s port %d", text, port);
	else
		field(key, "unix:%s", text[0] != '\0' ? text : "(unnamed)");
}

static void
human_tlv(const struct pp_tlv *t, const char *crc)
{
	const char *name = pp_tlv_name(t->type), *sname;
	char head[64], text[128];
	struct pp_ssl ssl;
	struct pp_tlv sub;
	size_t pos = 0;
	uint32_t u32;

	snprintf(head, sizeof(head), "0x%02x %s, %u byte%s", t->type,
	    name != NULL ? name : "(unknown)", t->len, t->len == 1 ? "" : "s");
	switch (t->type) {
	case PP_TLV_SSL:
		if (pp_tlv_ssl(t, &ssl) != 0) {
			field("tlv", "%s: malformed: %s", head,
			    cli_tlv_show(t, valbuf, sizeof(valbuf)));
			return;
		}
		field("tlv", "%s: client 0x%02x (%s%s%s%s), verify %u (%s)",
		    head, ssl.client, ssl.client & PP_CLIENT_SSL ? "ssl" :
		    "no ssl", ssl.client & PP_CLIENT_CERT_CONN ? ", cert-conn" :
		    "", ssl.client & PP_CLIENT_CERT_SESS ? ", cert-sess" : "",
		    ssl.client & ~7 ? ", unknown bits" : "", ssl.verify,
		    ssl.verify == 0 ? "client certificate verified" :
		    "not verified");
		while (pp_tlv_walk(ssl.sub, ssl.sub_len, &pos, &sub) == 1) {
			sname = pp_ssl_sub_name(sub.type);
			field("ssl", "0x%02x %s: %s", sub.type,
			    sname != NULL ? sname : "(unknown)",
			    cli_tlv_show(&sub, valbuf, sizeof(valbuf)));
		}
		return;
	case PP_TLV_CRC32C:
		if (pp_tlv_crc32c(t, &u32) == 0) {
			field("tlv", "%s: %08x (%s)", head, u32, crc);
			return;
		}
		break;
	case PP_TLV_NOOP:
		field("tlv", "%s (padding)", head);
		return;
	case PP_TLV_AWS:
	case PP_TLV_AZURE:
		if (t->len > 0) {
			snprintf(text, sizeof(text), "subtype 0x%02x%s",
			    t->value[0], t->value[0] == 1 ? (t->type ==
			    PP_TLV_AWS ? " (vpce id)" : " (link id)") : "");
			field("tlv", "%s: %s: %s", head, text,
			    cli_tlv_show(t, valbuf, sizeof(valbuf)));
			return;
		}
		break;
	case PP_TLV_GCP:
		if (t->len == 8) {
			field("tlv", "%s: psc connection id %s", head,
			    cli_tlv_show(t, valbuf, sizeof(valbuf)));
			return;
		}
		break;
	}
	field("tlv", "%s: %s", head, cli_tlv_show(t, valbuf, sizeof(valbuf)));
}

static void
human_valid(const struct opts *o, const struct source *src,
    const struct pp_header *h, const char *crc, size_t off, size_t len,
    int idx)
{
	static const char *const v1proto[] = { "UNKNOWN", "TCP4", "TCP6" };
	struct pp_tlv t;
	size_t pos = 0, ntlv = 0;
	int r;

	if (nreports++ > 0)
		putchar('\n');
	if (o->ninputs > 1)
		field("input", "%s", src->name != NULL ? src->name : "-");
	if (src->peer != NULL)
		human_peer("peer", src->peer);
	if (src->local != NULL)
		human_peer("local", src->local);
	if (src->dgram)
		field("datagram", "%zu byte%s", src->dgram_len,
		    src->dgram_len == 1 ? "" : "s");
	if (o->all)
		field("header", "%d at offset %zu", idx, off);
	field("version", "%u", h->version);
	field("command", "%s", h->command == PP_V2_CMD_LOCAL ? "LOCAL" :
	    "PROXY");
	if (h->version == 1)
		field("family", "%s (%s)", fam_name(h->family, 1),
		    h->family < 3 ? v1proto[h->family] : "?");
	else
		field("family", "%s", fam_name(h->family, 1));
	field("transport", "%s", trans_name(h->transport, 1));
	human_addr("src", h, &h->src);
	human_addr("dst", h, &h->dst);
	field("header_len", "%u", h->hdr_len);
	while ((r = pp_tlv_next(h, &pos, &t)) == 1) {
		human_tlv(&t, crc);
		ntlv++;
	}
	if (ntlv == 0)
		field("tlvs", "none");
	field("crc32c", "%s", crc);
	if (src->stream)
		field("payload", "from offset %zu", off + h->hdr_len);
	else
		field("payload", "%zu byte%s at offset %zu",
		    len - off - h->hdr_len, len - off - h->hdr_len == 1 ? "" :
		    "s", off + h->hdr_len);
}

static void
json_tlv(const struct pp_tlv *t, const char *crc)
{
	const char *name = pp_tlv_name(t->type), *id, *sname;
	struct pp_ssl ssl;
	struct pp_tlv sub;
	size_t pos = 0, idlen;
	uint32_t u32;
	uint64_t u64;
	int first = 1;

	printf("{\"type\":%u,\"name\":", t->type);
	if (name != NULL)
		json_str(name);
	else
		printf("null");
	printf(",\"len\":%u,\"value\":", t->len);
	switch (t->type) {
	case PP_TLV_ALPN:
	case PP_TLV_AUTHORITY:
	case PP_TLV_UNIQUE_ID:
	case PP_TLV_NETNS:
		json_bytes(t->value, t->len);
		break;
	case PP_TLV_CRC32C:
		if (pp_tlv_crc32c(t, &u32) == 0)
			printf("\"%08x\"", u32);
		else
			printf("null");
		break;
	case PP_TLV_AWS:
		if (pp_tlv_aws_vpce(t, &id, &idlen) == 0)
			json_bytes((const uint8_t *)id, idlen);
		else
			printf("null");
		break;
	case PP_TLV_AZURE:
		/* A number: a uint32 is exact in any JSON reader. */
		if (pp_tlv_azure_linkid(t, &u32) == 0)
			printf("%u", u32);
		else
			printf("null");
		break;
	case PP_TLV_GCP:
		if (pp_tlv_gcp_psc(t, &u64) == 0)
			printf("\"%llu\"", (unsigned long long)u64);
		else
			printf("null");
		break;
	default:
		printf("null");
	}
	printf(",\"hex\":");
	json_hex(t->value, t->len);
	if (t->type == PP_TLV_CRC32C)
		printf(",\"status\":\"%s\"", crc);
	if (t->type == PP_TLV_AWS || t->type == PP_TLV_AZURE) {
		if (t->len > 0)
			printf(",\"subtype\":%u", t->value[0]);
		else
			printf(",\"subtype\":null");
	} else if (t->type == PP_TLV_GCP)
		printf(",\"subtype\":null");	/* GCP's TLV has none */
	if (t->type == PP_TLV_SSL) {
		if (pp_tlv_ssl(t, &ssl) != 0) {
			printf(",\"client\":null,\"verify\":null,\"sub\":[]}");
			return;
		}
		printf(",\"client\":%u,\"verify\":%u,\"sub\":[", ssl.client,
		    ssl.verify);
		while (pp_tlv_walk(ssl.sub, ssl.sub_len, &pos, &sub) == 1) {
			sname = pp_ssl_sub_name(sub.type);
			printf("%s{\"type\":%u,\"name\":", first ? "" : ",",
			    sub.type);
			first = 0;
			if (sname != NULL)
				json_str(sname);
			else
				printf("null");
			printf(",\"value\":");
			if (sname != NULL && sub.type != PP_TLV_SSL_CLIENT_CERT)
				json_bytes(sub.value, sub.len);
			else
				json_hex(sub.value, sub.len);
			printf(",\"hex\":");
			json_hex(sub.value, sub.len);
			putchar('}');
		}
		putchar(']');
	}
	putchar('}');
}

static void
json_valid(const struct opts *o, const struct source *src,
    const struct pp_header *h, const char *crc, const struct hints *hs,
    size_t off, size_t len)
{
	struct pp_tlv t;
	size_t pos = 0;
	int first = 1;

	printf("{\"valid\":true,\"version\":%u,\"command\":\"%s\","
	    "\"family\":\"%s\",\"transport\":\"%s\"", h->version,
	    h->command == PP_V2_CMD_LOCAL ? "local" : "proxy",
	    fam_name(h->family, 0), trans_name(h->transport, 0));
	json_addr("src", h->has_addr ? &h->src : NULL);
	json_addr("dst", h->has_addr ? &h->dst : NULL);
	printf(",\"header_len\":%u,\"tlvs\":[", h->hdr_len);
	while (pp_tlv_next(h, &pos, &t) == 1) {
		if (!first)
			putchar(',');
		first = 0;
		json_tlv(&t, crc);
	}
	printf("],\"crc32c\":\"%s\",\"payload_offset\":%zu", crc,
	    off + h->hdr_len);
	if (!src->stream)
		printf(",\"payload_len\":%zu", len - off - h->hdr_len);
	if (o->all)
		printf(",\"header_offset\":%zu", off);
	json_hints(hs);
	json_source(o, src);
	printf("}\n");
}

static void
json_invalid(const struct opts *o, const struct source *src, int code,
    size_t err_off, size_t need, const struct hints *hs, size_t off)
{
	printf("{\"valid\":false,\"error\":");
	json_str(code == 0 ? "incomplete header" : pp_strerror(code));
	printf(",\"offset\":%zu,\"need\":%zu,\"reason\":", err_off, need);
	json_str(code == 0 ? "incomplete" : pp_errname(code));
	if (code == -PP_ECRC_BAD)
		printf(",\"crc32c\":\"bad\"");
	if (o->all)
		printf(",\"header_offset\":%zu", off);
	json_hints(hs);
	json_source(o, src);
	printf("}\n");
}

static void
flush_out(void)
{
	if (fflush(stdout) != 0 || ferror(stdout))
		err(EXIT_FAILURE, "stdout");
}

static void
print_hints(const char *pfx, const struct hints *hs)
{
	size_t i;

	for (i = 0; i < hs->n; i++)
		warnx("%shint: %s", pfx, hs->text[i]);
}

static const char *
src_prefix(const struct source *src, char *buf, size_t size)
{
	char text[NET_ADDRSTRLEN];

	if (src->peer != NULL)
		snprintf(buf, size, "%s: ", net_addr_format(src->peer, text,
		    sizeof(text)));
	else if (src->name != NULL)
		snprintf(buf, size, "%s: ", src->name);
	else
		buf[0] = '\0';
	return buf;
}

/*
 * Report the header at buf[off .. len).  Returns 0 and sets *next to
 * the payload's offset for a valid header, else EX_DATAERR.
 */
static int
report(const struct opts *o, const struct source *src, const uint8_t *buf,
    size_t len, size_t off, int idx, size_t *next)
{
	const uint8_t *p = buf + off;
	size_t n = len - off, need;
	struct pp_header h;
	struct hints hs;
	const char *crc;
	char pfx[PP_ADDRSTRLEN + 300];
	int r;

	memset(&h, 0, sizeof(h));
	memset(&hs, 0, sizeof(hs));
	src_prefix(src, pfx, sizeof(pfx));
	r = pp_parse(p, n, &h);
	if (r > 0) {
		crc = crc_status(p, n, &h);
		explain_valid(o, src, &h, p, n, (size_t)r, &hs);
		if (o->json)
			json_valid(o, src, &h, crc, &hs, off, len);
		else
			human_valid(o, src, &h, crc, off, len, idx);
		if (o->verbose) {
			putchar('\n');
			dump(p, n, off, -1, crc);
		}
		flush_out();
		print_hints(pfx, &hs);
		*next = off + (size_t)r;
		return 0;
	}

	explain_invalid(p, n, r, &hs);
	need = r == 0 && h.need > n ? h.need - n : 0;
	if (o->json)
		json_invalid(o, src, r, r == 0 ? off + n : off + h.err_off,
		    need, &hs, off);
	else if (o->verbose) {
		if (nreports++ > 0)
			putchar('\n');
		dump(p, n, off, r == 0 ? -1 : (long long)h.err_off,
		    r == -PP_ECRC_BAD ? "bad" : "not checked");
	}
	flush_out();
	if (r == 0 && src->dgram)
		warnx("%sthe datagram ends inside the header: %zu byte%s, "
		    "at least %u needed", pfx, n, n == 1 ? "" : "s", h.need);
	else if (r == 0)
		warnx("%sneed %zu more byte%s: the header is incomplete "
		    "(%zu byte%s, at least %u needed)", pfx, need,
		    need == 1 ? "" : "s", n, n == 1 ? "" : "s", h.need);
	else
		warnx("%soffset %zu: %s", pfx, off + h.err_off,
		    pp_strerror(r));
	print_hints(pfx, &hs);
	return EX_DATAERR;
}

/* Every header of one input, or the first only without --all. */
static int
inspect(const struct opts *o, const struct source *src, const uint8_t *buf,
    size_t len)
{
	size_t off = 0, next = 0;
	int idx, rc;

	/* Each header is at least 8 bytes long: bounded by len / 8 + 1. */
	for (idx = 1;; idx++) {
		if ((rc = report(o, src, buf, len, off, idx, &next)) != 0)
			return rc;
		off = next;
		if (!o->all || !header_start(buf + off, len - off))
			return 0;
	}
}

/* All of fd into a growing buffer. */
static int
slurp(int fd, uint8_t **bufp, size_t *lenp)
{
	uint8_t *buf = NULL, *nb;
	size_t cap = 0, len = 0;
	ssize_t r;

	for (;;) {
		if (len == cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				err(EXIT_FAILURE, "realloc");
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

static int
inspect_file(const struct opts *o, const char *path)
{
	struct source src = { NULL, NULL, NULL, 0, 0, 0 };
	uint8_t *buf;
	size_t len;
	int fd, rc;

	if (path == NULL || strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		src.name = o->ninputs > 1 ? "-" : NULL;
	} else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			warn("%s", path);
			return EX_NOINPUT;
		}
		src.name = path;
	}
	if (slurp(fd, &buf, &len) == -1) {
		warn("%s", src.name != NULL ? src.name : "stdin");
		if (fd != STDIN_FILENO)
			close(fd);
		return errno == EISDIR ? EX_NOINPUT : EXIT_FAILURE;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	rc = inspect(o, &src, buf, len);
	free(buf);
	return rc;
}

/* --listen */

static void
on_signal(int sig)
{
	if (sock_path[0] != '\0')
		(void)unlink(sock_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
listen_on(const char *arg, int flags)
{
	struct sockaddr_storage sa;
	struct sockaddr_un *sun = (struct sockaddr_un *)&sa;
	socklen_t len;
	char text[NET_ADDRSTRLEN];
	int s;

	s = cli_listen("--listen", arg, flags, 64);
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(s, (struct sockaddr *)&sa, &len) == -1)
		err(EXIT_FAILURE, "getsockname");
	if (sa.ss_family == AF_UNIX && sun->sun_path[0] != '\0')
		strlcpy(sock_path, sun->sun_path, sizeof(sock_path));
	/* The readiness line: scripts wait for it to learn the port. */
	warnx("listening on %s%s", flags & CLI_LISTEN_DGRAM ? UDP_PFX : "",
	    net_addr_format(&sa, text, sizeof(text)));
	return s;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
}

/*
 * The address a datagram was sent to, from its IP_PKTINFO or IPV6_PKTINFO
 * (a socket bound to every address has no one local address); the port
 * is the socket's.
 */
static void
dgram_local(struct msghdr *msg, struct sockaddr_storage *local)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)local;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)local;
	const struct in_pktinfo *pi;
	const struct in6_pktinfo *pi6;
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL;
	    cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO && local->ss_family == AF_INET) {
			pi = (const struct in_pktinfo *)CMSG_DATA(cm);
			sin->sin_addr = pi->ipi_addr;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    local->ss_family == AF_INET6) {
			pi6 = (const struct in6_pktinfo *)CMSG_DATA(cm);
			sin6->sin6_addr = pi6->ipi6_addr;
		}
	}
}

/*
 * --listen udp:ADDR: each datagram is one report, its header at byte 0
 * and the rest its payload (spec 2.2, 2026: a header in every datagram).
 * A datagram without a valid header is reported and the loop goes on.
 */
static int
serve_dgram(const struct opts *o, const char *addr)
{
	static uint8_t buf[DGRAM_MAX];
	union {
		struct cmsghdr	hdr;
		uint8_t		space[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
	} cbuf;
	struct sockaddr_storage peer, bound, local;
	struct source src = { NULL, &peer, &local, 0, 1, 0 };
	struct iovec iov;
	struct msghdr msg;
	socklen_t slen = sizeof(bound);
	ssize_t got;
	size_t next;
	int s, one = 1, rc = 0;

	catch_signals();
	s = listen_on(addr, CLI_LISTEN_DGRAM);
	memset(&bound, 0, sizeof(bound));
	if (getsockname(s, (struct sockaddr *)&bound, &slen) == -1)
		err(EXIT_FAILURE, "getsockname");
	if (bound.ss_family == AF_INET)
		(void)setsockopt(s, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else
		(void)setsockopt(s, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one));
	for (;;) {
		memset(&peer, 0, sizeof(peer));
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		msg.msg_name = &peer;
		msg.msg_namelen = sizeof(peer);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.space;
		msg.msg_controllen = sizeof(cbuf.space);
		if ((got = recvmsg(s, &msg, 0)) == -1) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue;
			err(EXIT_FAILURE, "recvmsg");
		}
		local = bound;
		dgram_local(&msg, &local);
		src.dgram_len = (size_t)got;
		rc = report(o, &src, buf, (size_t)got, 0, 1, &next);
		if (o->once)
			break;
	}
	close(s);
	return rc;
}

/*
 * A connection's header could not be read: timeout, or the peer closed.
 * seen[0 .. n) is what it sent.
 */
static int
report_short(const struct opts *o, const struct source *src, int code,
    const uint8_t *seen, size_t n)
{
	struct pp_header h;
	struct hints hs;
	char pfx[PP_ADDRSTRLEN + 32], dur[32];
	size_t need = 0;
	int r;

	memset(&h, 0, sizeof(h));
	memset(&hs, 0, sizeof(hs));
	src_prefix(src, pfx, sizeof(pfx));
	r = pp_parse(seen, n, &h);
	if (r < 0)
		explain_invalid(seen, n, r, &hs);
	if (r == 0)
		need = h.need > n ? h.need - n : 0;
	if (n == 0 && code == -PP_ETIMEDOUT)
		hint(&hs, "the peer sent nothing: is it set to send a PROXY "
		    "header (HAProxy: send-proxy)?");
	if (o->json)
		json_invalid(o, src, code, n, need, &hs, 0);
	else if (o->verbose) {
		if (nreports++ > 0)
			putchar('\n');
		dump(seen, n, 0, -1, "not checked");
	}
	flush_out();
	if (code == -PP_ETIMEDOUT)
		warnx("%sno complete header within %s: got %zu byte%s, need "
		    "%zu more", pfx, cli_duration_text(o->timeout_ms, dur,
		    sizeof(dur)), n, n == 1 ? "" : "s", need);
	else if (n == 0)
		warnx("%sthe connection closed before any byte of a header",
		    pfx);
	else
		warnx("%sthe connection closed inside the header: got %zu "
		    "byte%s, need %zu more", pfx, n, n == 1 ? "" : "s", need);
	print_hints(pfx, &hs);
	return code == -PP_ETIMEDOUT ? EX_TEMPFAIL : EX_DATAERR;
}

static int
serve_conn(const struct opts *o, int fd, const struct sockaddr_storage *peer)
{
	static uint8_t buf[PP_HDR_MAX + PEEK_MAX];
	struct sockaddr_storage local;
	struct source src = { NULL, peer, &local, 1, 0, 0 };
	struct pp_header h;
	socklen_t slen = sizeof(local);
	char text[NET_ADDRSTRLEN];
	ssize_t extra;
	size_t n;
	int r, tmo = o->timeout_ms > 0 ? o->timeout_ms : -1;

	if (getsockname(fd, (struct sockaddr *)&local, &slen) == -1)
		memset(&local, 0, sizeof(local));

	memset(&h, 0, sizeof(h));
	r = pp_read_fd(fd, buf, PP_HDR_MAX, &h, tmo, 0);
	if (r > 0) {
		/* What the payload starts with, left in the queue. */
		extra = recv(fd, buf + r, PEEK_MAX, MSG_PEEK | MSG_DONTWAIT);
		n = (size_t)r + (extra > 0 ? (size_t)extra : 0);
		return report(o, &src, buf, n, 0, 1, &n);
	}
	switch (r) {
	case -PP_ETIMEDOUT:
	case -PP_ETRUNC:
		return report_short(o, &src, r, buf, h.hdr_len);
	case -PP_ESYS:
		warn("%s", net_addr_format(peer, text, sizeof(text)));
		return EXIT_FAILURE;
	case -PP_ETOOBIG:
		warnx("%s: %s", net_addr_format(peer, text, sizeof(text)),
		    pp_strerror(r));
		return EX_DATAERR;
	}
	/* A parse error: every byte taken, the offending one included. */
	return report(o, &src, buf, h.hdr_len, 0, 1, &n);
}

static int
serve(const struct opts *o, const char *addr)
{
	struct sockaddr_storage peer;
	socklen_t plen;
	int s, fd, rc = 0;

	catch_signals();
	s = listen_on(addr, 0);
	for (;;) {
		plen = sizeof(peer);
		memset(&peer, 0, sizeof(peer));
		fd = accept4(s, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE)
				continue;
			err(EXIT_FAILURE, "accept");
		}
		rc = serve_conn(o, fd, &peer);
		close(fd);
		if (o->once)
			break;
	}
	close(s);
	if (sock_path[0] != '\0')
		(void)unlink(sock_path);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	const char *hex = NULL, *laddr = NULL;
	uint8_t *buf;
	long n;
	int ch, i, rc, worst = 0, tflag = 0;

	cli_init(argc, argv);
	memset(&o, 0, sizeof(o));
	o.timeout_ms = 5000;

	while ((ch = getopt_long(argc, argv, "hjl:T:Vvx:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			flush_out();
			return EX_OK;
		case 'j':
			o.json = 1;
			break;
		case 'l':
			laddr = optarg;
			break;
		case 'T':
			o.timeout_ms = cli_duration("-T", optarg, CLI_DUR_ZERO,
			    1, 86400000);
			tflag = 1;
			break;
		case 'V':
			printf("pp-inspect %s\n", PP_VERSION_STRING);
			flush_out();
			return EX_OK;
		case 'v':
			o.verbose = 1;
			break;
		case 'x':
			if (hex != NULL)
				errx(EX_USAGE, "-x: given twice");
			hex = optarg;
			break;
		case OPT_ALL:
			o.all = 1;
			break;
		case OPT_ONCE:
			o.once = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (o.json && o.verbose)
		errx(EX_USAGE, "-j and -v conflict: JSON has no room for a "
		    "hex dump");
	if (hex != NULL && argc > 0)
		errx(EX_USAGE, "-x and file operands conflict");
	if (laddr != NULL) {
		if (argc > 0)
			errx(EX_USAGE, "--listen and file operands conflict");
		if (hex != NULL)
			errx(EX_USAGE, "--listen and -x conflict");
		if (o.all)
			errx(EX_USAGE, "--listen and --all conflict: one "
			    "header per %s", strncmp(laddr, UDP_PFX,
			    UDP_PFX_LEN) == 0 ? "datagram" : "connection");
		if (strncmp(laddr, UDP_PFX, UDP_PFX_LEN) == 0) {
			o.dgram = 1;
			laddr += UDP_PFX_LEN;
		}
		if (o.dgram && tflag)
			errx(EX_USAGE, "-T and --listen udp: conflict: a "
			    "datagram arrives whole, there is no header to "
			    "wait for");
	} else {
		if (o.once)
			errx(EX_USAGE, "--once needs --listen");
		if (tflag)
			errx(EX_USAGE, "-T needs --listen");
	}

	if (laddr != NULL && o.dgram)
		return serve_dgram(&o, laddr);
	if (laddr != NULL)
		return serve(&o, laddr);

	if (hex != NULL) {
		struct source src = { NULL, NULL, NULL, 0, 0, 0 };

		if ((buf = malloc(strlen(hex) / 2 + 1)) == NULL)
			err(EXIT_FAILURE, "malloc");
		if ((n = cli_unhex(hex, buf, strlen(hex) / 2 + 1)) < 0)
			errx(EX_USAGE, "-x: expected hex digits in pairs");
		o.ninputs = 1;
		rc = inspect(&o, &src, buf, (size_t)n);
		free(buf);
		return rc;
	}

	o.ninputs = argc;
	if (argc == 0)
		return inspect_file(&o, NULL);
	/* The worst outcome decides: missing input, then a bad header. */
	for (i = 0; i < argc; i++) {
		rc = inspect_file(&o, argv[i]);
		if (rc == EX_NOINPUT || (rc != 0 && worst != EX_NOINPUT &&
		    (worst == 0 || rc == EX_DATAERR)))
			worst = rc;
	}
	return worst;
}
