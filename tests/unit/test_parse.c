/*
 * test_parse.c - every accept and reject rule of pp_parse(), the
 * incomplete-input rule, and the conformance corpus (vectors.inc, generated
 * from tests/fixtures/vectors.tsv by gen-vectors.sh).
 *
 * Inputs are parsed from the end of a buffer followed by an inaccessible
 * page, so a read past len faults even without a sanitizer.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyhdr.h"
#include "t.h"

struct vector {
	const char	*id;
	const char	*format;
	const char	*verdict;
	const char	*bytes;
	size_t		 len;
	const char	*expected;
};

static const struct vector vectors[] = {
#include "vectors.inc"
};
#define NVECTORS	(sizeof(vectors) / sizeof(vectors[0]))

#define SIG	"0d0a0d0a000d0a515549540a"
/* 192.0.2.1:12345 -> 198.51.100.1:443 */
#define A4	"c0000201c6336401303901bb"
/* [2001:db8::1]:1 -> [2001:db8::2]:2 */
#define A6	"20010db8000000000000000000000001" \
		"20010db8000000000000000000000002" "00010002"

#define BIG	(PP_V2_MAX + 4096)

static uint8_t *arena;		/* ends right before a PROT_NONE page */
static size_t arena_size;

static const char *const codes[] = {
	"PP_OK", "PP_ENOT_PP", "PP_EV1_SIG", "PP_EV1_LONG", "PP_EV1_BARE_LF",
	"PP_EV1_BARE_CR", "PP_EV1_PROTO", "PP_EV1_SRC_ADDR", "PP_EV1_DST_ADDR",
	"PP_EV1_SRC_PORT", "PP_EV1_DST_PORT", "PP_EV1_FAMILY",
	"PP_EV1_TRAILING", "PP_EV2_VERSION", "PP_EV2_COMMAND",
	"PP_EV2_FAMILY", "PP_EV2_TRANSPORT", "PP_EV2_SHORT",
	"PP_ETLV_OVERRUN", "PP_ECRC_LEN", "PP_ECRC_BAD", "PP_EUNIQUE_ID",
	"PP_ESSL", "PP_ENOSPACE", "PP_EINVAL", "PP_ETOOBIG", "PP_ETRUNC",
	"PP_ETIMEDOUT", "PP_ESYS", "PP_ENOHDR",
};

/* A printable form of a pp_parse() result, for diagnostics. */
static const char *
res(int r, const struct pp_header *h, char *buf, size_t cap)
{
	if (r > 0)
		snprintf(buf, cap, "valid, %d bytes", r);
	else if (r == 0)
		snprintf(buf, cap, "incomplete, need %u", h->need);
	else if (-r < (int)(sizeof(codes) / sizeof(codes[0])))
		snprintf(buf, cap, "-%s at %u", codes[-r], h->err_off);
	else
		snprintf(buf, cap, "error %d at %u", r, h->err_off);
	return buf;
}

static void
arena_init(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *p;

	arena_size = ((size_t)BIG + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	p = mmap(NULL, arena_size + (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + arena_size, (size_t)pg,
	    PROT_NONE) == -1) {
		printf("Bail out! cannot map the guarded arena\n");
		exit(1);
	}
	arena = p;
}

/* pp_parse over a copy of buf[0..len) that ends at the guard page. */
static int
parse_g(const void *buf, size_t len, struct pp_header *h)
{
	uint8_t *p = arena + arena_size - len;

	if (len > arena_size)
		abort();
	if (len > 0)
		memmove(p, buf, len);
	/* Garbage in h: the parser must set what it reports. */
	memset(h, 0xa5, sizeof(*h));
	return pp_parse(p, len, h);
}

static int
parse_gv(const void *buf, size_t len, int version, struct pp_header *h)
{
	uint8_t *p = arena + arena_size - len;

	if (len > 0)
		memmove(p, buf, len);
	memset(h, 0xa5, sizeof(*h));
	return pp_parse_version(p, len, version, h);
}

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned int v;

	while (*hex != '\0') {
		if (isspace((unsigned char)*hex)) {
			hex++;
			continue;
		}
		if (n >= cap || sscanf(hex, "%2x", &v) != 1 ||
		    !isxdigit((unsigned char)hex[1])) {
			printf("Bail out! bad hex in test: %s\n", hex);
			exit(1);
		}
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

/* Bitwise CRC32C, independent of the library. */
static uint32_t
ref_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	int k;

	while (n-- > 0) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78 & (0 - (c & 1)));
	}
	return ~c;
}

static void
be16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Fill in the CRC32C TLV whose type byte is at off, over hdr[0..len). */
static void
put_crc(uint8_t *hdr, size_t len, size_t off)
{
	uint32_t c;

	memset(hdr + off + 3, 0, 4);
	c = ref_crc32c(hdr, len);
	hdr[off + 3] = (uint8_t)(c >> 24);
	hdr[off + 4] = (uint8_t)(c >> 16);
	hdr[off + 5] = (uint8_t)(c >> 8);
	hdr[off + 6] = (uint8_t)c;
}

/*
 * The incomplete-input rule over every prefix of buf: each proper prefix
 * is incomplete (need > its length, need never shrinking, need no more
 * than a valid header's length) or gives exactly the final answer; once
 * decided it stays decided.  Very long inputs are sampled.
 */
static void
prefixes(struct t_group *g, const char *name, const uint8_t *buf, size_t len)
{
	struct pp_header hf, h;
	char a[64], b[64];
	uint32_t lastneed = 0;
	int final, r, decided = 0;
	size_t p;

	final = parse_g(buf, len, &hf);
	for (p = 0; p < len; p++) {
		if (len > 2048 && p > 300 && p < len - 300 && p % 251 != 0 &&
		    p != hf.need && p + 1 != hf.need)
			continue;
		r = parse_g(buf, p, &h);
		if (r == 0) {
			check(g, !decided, "%s: prefix %zu incomplete after "
			    "a verdict", name, p);
			check(g, h.need > p, "%s: prefix %zu: need %u is not "
			    "more than what is there", name, p, h.need);
			check(g, h.need >= lastneed, "%s: prefix %zu: need "
			    "went down from %u to %u", name, p, lastneed,
			    h.need);
			check(g, final <= 0 || h.need <= (uint32_t)final,
			    "%s: prefix %zu: need %u beyond the header (%d)",
			    name, p, h.need, final);
			lastneed = h.need;
			continue;
		}
		decided = 1;
		check(g, r == final && (r > 0 || h.err_off == hf.err_off),
		    "%s: prefix %zu gives %s, whole input %s", name, p,
		    res(r, &h, a, sizeof(a)), res(final, &hf, b, sizeof(b)));
		check(g, r > 0 || h.err_off < p, "%s: prefix %zu: error "
		    "offset %u outside the input", name, p, h.err_off);
	}
	if (final == 0)
		check(g, hf.need > len && hf.need >= lastneed, "%s: whole "
		    "input incomplete with need %u", name, hf.need);
	if (final < 0)
		check(g, hf.err_off < len, "%s: error offset %u outside "
		    "the input", name, hf.err_off);
	check(g, final <= 0 || (size_t)final <= len, "%s: header longer "
	    "than the input", name);
}

/* One expected result: >0 header length, 0 incomplete, <0 error. */
struct pcase {
	const char	*name;
	int		 hex;		/* in is hex, else text */
	const char	*in;
	int		 ret;
	uint32_t	 aux;		/* need, or err_off */
};

#define AUTO	1000000		/* text: header ends at the first CRLF */
#define VT(n, s)		{ n, 0, s, AUTO, 0 }
#define ET(n, s, e, off)	{ n, 0, s, -(e), off }
#define IT(n, s, need)		{ n, 0, s, 0, need }
#define VX(n, s, hl)		{ n, 1, s, hl, 0 }
#define EX(n, s, e, off)	{ n, 1, s, -(e), off }
#define IX(n, s, need)		{ n, 1, s, 0, need }

static const struct pcase cases[] = {
	/* Detection: decided on the first byte that fits no signature. */
	IT("empty input", "", 8),
	IT("v1: P", "P", 8),
	IT("v1: PROX", "PROX", 8),
	IT("v1: PROXY", "PROXY", 8),
	IT("v1: PROXY+space", "PROXY ", 8),
	IT("v1: 7 bytes", "PROXY T", 8),
	IT("v1: 8 bytes", "PROXY TC", 9),
	IX("v2: first byte", "0d", 16),
	IX("v2: 5 bytes", "0d0a0d0a00", 16),
	IX("v2: signature", SIG, 16),
	IX("v2: 13 bytes", SIG "21", 16),
	IX("v2: 15 bytes", SIG "211100", 16),
	ET("byte 0 starts no signature", "X", PP_ENOT_PP, 0),
	ET("HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", PP_ENOT_PP, 0),
	ET("lower-case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_ENOT_PP, 0),
	ET("leading space", " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_ENOT_PP, 0),
	ET("PRXY", "PRXY TCP4", PP_ENOT_PP, 2),
	ET("PROXZ", "PROXZ TCP4", PP_ENOT_PP, 4),
	EX("NUL byte", "00", PP_ENOT_PP, 0),
	EX("CR then P", "0d50", PP_ENOT_PP, 1),
	EX("v2 signature byte 4", "0d0a0d0a01", PP_ENOT_PP, 4),
	EX("v2 signature byte 6", "0d0a0d0a000d0b515549540a2111000c" A4,
	    PP_ENOT_PP, 6),
	ET("PROXY then X", "PROXYX", PP_EV1_SIG, 5),
	ET("PROXY then TAB", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_EV1_SIG, 5),
	ET("PROXY glued to TCP4", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_EV1_SIG, 5),

	/* v1: valid lines. */
	VT("v1 TCP4", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n"),
	VT("v1 TCP4 then payload",
	    "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\nGET / HTTP/1.0\r\n\r\n"),
	VT("v1 TCP4 then CRLF payload",
	    "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n\r\n"),
	VT("v1 lone zeros", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n"),
	VT("v1 TCP4 maxima",
	    "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
	VT("v1 TCP4 inner zeros",
	    "PROXY TCP4 100.20.3.40 9.99.109.250 1000 10000\r\n"),
	VT("v1 TCP6 loopback", "PROXY TCP6 ::1 ::1 1 2\r\n"),
	VT("v1 TCP6 all zero", "PROXY TCP6 :: :: 0 0\r\n"),
	VT("v1 TCP6 upper case",
	    "PROXY TCP6 2001:DB8::A 2001:db8:0:0:0:0:0:b 65535 1\r\n"),
	VT("v1 TCP6 eight groups",
	    "PROXY TCP6 1:2:3:4:5:6:7:8 8:7:6:5:4:3:2:1 1 2\r\n"),
	VT("v1 TCP6 link-local", "PROXY TCP6 fe80::1 ff02::1 1 2\r\n"),
	VT("v1 TCP6 v4-mapped", "PROXY TCP6 ::ffff:1.2.3.4 ::ffff:5.6.7.8 1 2\r\n"),
	VT("v1 TCP6 v4-mapped upper case",
	    "PROXY TCP6 ::FFFF:1.2.3.4 ::ffff:255.255.255.255 1 2\r\n"),
	VT("v1 TCP6 v4-mapped full form",
	    "PROXY TCP6 0:0:0:0:0:ffff:10.0.0.1 ::1 1 2\r\n"),
	VT("v1 UNKNOWN bare", "PROXY UNKNOWN\r\n"),
	VT("v1 UNKNOWN with addresses", "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n"),
	VT("v1 UNKNOWN with junk", "PROXY UNKNOWN any \"junk\"\t, here!\r\n"),
	VT("v1 UNKNOWN with bad addresses",
	    "PROXY UNKNOWN 01.2.3.4 ::1 080 -1\r\n"),
	VT("v1 then a second header (payload)",
	    "PROXY UNKNOWN\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),

	/* v1: incomplete. */
	IT("v1 no CR yet", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443", 34),
	IT("v1 CR, no LF yet", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r", 35),
	IT("v1 UNKNOWN, no CRLF", "PROXY UNKNOWN", 14),
	IT("v1 UNKNOWN CR", "PROXY UNKNOWN\r", 15),

	/* v1: line ends. */
	ET("v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\n",
	    PP_EV1_BARE_LF, 33),
	ET("v1 CR then X", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\rX",
	    PP_EV1_BARE_CR, 33),
	ET("v1 CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\r\n",
	    PP_EV1_BARE_CR, 33),
	ET("v1 UNKNOWN bare LF", "PROXY UNKNOWN\n", PP_EV1_BARE_LF, 13),
	ET("v1 UNKNOWN LF inside", "PROXY UNKNOWN a\nb\r\n", PP_EV1_BARE_LF, 15),
	ET("v1 UNKNOWN CR inside", "PROXY UNKNOWN a\rb\r\n", PP_EV1_BARE_CR, 15),
	ET("v1 UNKNOWN CR CR LF", "PROXY UNKNOWN\r\r\n", PP_EV1_BARE_CR, 13),
	ET("v1 LF right after the space", "PROXY \n", PP_EV1_BARE_LF, 6),

	/* v1: the protocol keyword. */
	ET("v1 two spaces before proto", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_EV1_PROTO, 6),
	ET("v1 TCP", "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", PP_EV1_PROTO, 6),
	ET("v1 TCP44", "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", PP_EV1_PROTO, 6),
	ET("v1 UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", PP_EV1_PROTO, 6),
	ET("v1 tcp4", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PP_EV1_PROTO, 6),
	ET("v1 Tcp6", "PROXY Tcp6 ::1 ::1 1 2\r\n", PP_EV1_PROTO, 6),
	ET("v1 unknown", "PROXY unknown\r\n", PP_EV1_PROTO, 6),
	ET("v1 UNKNOWNX", "PROXY UNKNOWNX\r\n", PP_EV1_PROTO, 6),
	ET("v1 UNKNOW", "PROXY UNKNOW\r\n", PP_EV1_PROTO, 6),
	ET("v1 empty proto", "PROXY \r\n", PP_EV1_PROTO, 6),

	/* v1: fields missing, or more than one space. */
	ET("v1 TCP4 then CRLF", "PROXY TCP4\r\n", PP_EV1_SRC_ADDR, 10),
	ET("v1 TCP4 space CRLF", "PROXY TCP4 \r\n", PP_EV1_SRC_ADDR, 11),
	ET("v1 no destination", "PROXY TCP4 1.2.3.4\r\n", PP_EV1_DST_ADDR, 18),
	ET("v1 no ports", "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", PP_EV1_SRC_PORT,
	    26),
	ET("v1 no destination port", "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n",
	    PP_EV1_DST_PORT, 29),
	ET("v1 empty destination port", "PROXY TCP4 1.2.3.4 5.6.7.8 80 \r\n",
	    PP_EV1_DST_PORT, 30),
	ET("v1 two spaces before src", "PROXY TCP4  1.2.3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 two spaces before dst", "PROXY TCP4 1.2.3.4  5.6.7.8 80 443\r\n",
	    PP_EV1_DST_ADDR, 19),
	ET("v1 two spaces before sport",
	    "PROXY TCP4 1.2.3.4 5.6.7.8  80 443\r\n", PP_EV1_SRC_PORT, 27),
	ET("v1 two spaces before dport",
	    "PROXY TCP4 1.2.3.4 5.6.7.8 80  443\r\n", PP_EV1_DST_PORT, 30),
	ET("v1 space before CRLF", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 \r\n",
	    PP_EV1_TRAILING, 33),
	ET("v1 fifth field", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443 1\r\n",
	    PP_EV1_TRAILING, 33),
	ET("v1 TCP6 space before CRLF", "PROXY TCP6 ::1 ::2 1 2 \r\n",
	    PP_EV1_TRAILING, 22),

	/* v1: IPv4 text. */
	ET("v1 octet 01", "PROXY TCP4 01.2.3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 octet 02 inside", "PROXY TCP4 1.02.3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 octet 00", "PROXY TCP4 1.2.3.00 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 octet 256", "PROXY TCP4 1.2.3.256 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 octet 1000", "PROXY TCP4 1.2.3.1000 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 five octets", "PROXY TCP4 1.2.3.4.5 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 three octets", "PROXY TCP4 1.2.3 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 empty octet", "PROXY TCP4 1..3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 trailing dot", "PROXY TCP4 1.2.3.4. 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 signed octet", "PROXY TCP4 +1.2.3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 hex octet", "PROXY TCP4 0x1.2.3.4 5.6.7.8 80 443\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 dst octet 08", "PROXY TCP4 1.2.3.4 5.6.7.08 80 443\r\n",
	    PP_EV1_DST_ADDR, 19),
	ET("v1 dst octet 888", "PROXY TCP4 1.2.3.4 5.6.7.888 80 443\r\n",
	    PP_EV1_DST_ADDR, 19),
	ET("v1 dst name", "PROXY TCP4 1.2.3.4 localhost 80 443\r\n",
	    PP_EV1_DST_ADDR, 19),

	/* v1: IPv6 text and families. */
	ET("v1 zone id", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 brackets", "PROXY TCP6 [::1] ::1 1 2\r\n", PP_EV1_SRC_ADDR, 11),
	ET("v1 nine groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 five hex digits", "PROXY TCP6 12345::1 ::1 1 2\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 triple colon", "PROXY TCP6 :::1 ::1 1 2\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 dst not hex", "PROXY TCP6 ::1 ::g 1 2\r\n", PP_EV1_DST_ADDR, 15),
	ET("v1 mapped octet 01", "PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n",
	    PP_EV1_SRC_ADDR, 11),
	ET("v1 TCP4 with IPv6 src", "PROXY TCP4 ::1 1.2.3.4 80 443\r\n",
	    PP_EV1_FAMILY, 11),
	ET("v1 TCP4 with IPv6 dst", "PROXY TCP4 1.2.3.4 ::1 80 443\r\n",
	    PP_EV1_FAMILY, 19),
	ET("v1 TCP4 with mapped src", "PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n",
	    PP_EV1_FAMILY, 11),
	ET("v1 TCP6 with IPv4 src", "PROXY TCP6 1.2.3.4 ::1 80 443\r\n",
	    PP_EV1_FAMILY, 11),
	ET("v1 TCP6 with IPv4 dst", "PROXY TCP6 ::1 1.2.3.4 80 443\r\n",
	    PP_EV1_FAMILY, 15),

	/* v1: ports. */
	ET("v1 port 080", "PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 00 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port +80", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port -1", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 100000", "PROXY TCP4 1.2.3.4 5.6.7.8 100000 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 4294967376", "PROXY TCP4 1.2.3.4 5.6.7.8 4294967376 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 8a", "PROXY TCP4 1.2.3.4 5.6.7.8 8a 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 port 0x50", "PROXY TCP4 1.2.3.4 5.6.7.8 0x50 443\r\n",
	    PP_EV1_SRC_PORT, 27),
	ET("v1 dst port 0443", "PROXY TCP4 1.2.3.4 5.6.7.8 80 0443\r\n",
	    PP_EV1_DST_PORT, 30),
	ET("v1 dst port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n",
	    PP_EV1_DST_PORT, 30),
	ET("v1 dst port -443", "PROXY TCP4 1.2.3.4 5.6.7.8 80 -443\r\n",
	    PP_EV1_DST_PORT, 30),
	ET("v1 dst port 443a", "PROXY TCP4 1.2.3.4 5.6.7.8 80 443a\r\n",
	    PP_EV1_DST_PORT, 30),

	/* v2: valid headers. */
	VX("v2 INET stream", SIG "2111000c" A4, 28),
	VX("v2 INET dgram", SIG "2112000c" A4, 28),
	VX("v2 INET then payload", SIG "2111000c" A4 "474554202f", 28),
	VX("v2 then a v1 line (payload)",
	    SIG "2111000c" A4 "50524f585920554e4b4e4f574e0d0a", 28),
	VX("v2 INET6 stream", SIG "21210024" A6, 52),
	VX("v2 INET6 dgram", SIG "21220024" A6, 52),
	VX("v2 UNSPEC PROXY", SIG "21000000", 16),
	VX("v2 UNSPEC PROXY with NOOP", SIG "21000003" "040000", 19),
	VX("v2 LOCAL", SIG "20000000", 16),
	VX("v2 LOCAL INET length 0", SIG "20110000", 16),
	VX("v2 LOCAL INET short block", SIG "20110004" "01020304", 20),
	VX("v2 LOCAL INET6 with addresses", SIG "20210024" A6, 52),
	VX("v2 LOCAL with an overrunning TLV", SIG "20000003" "010005", 19),
	VX("v2 LOCAL with a bad CRC32C",
	    SIG "20000007" "03000400000000", 23),
	VX("v2 LOCAL with a 3-byte CRC32C", SIG "20000006" "030003000000", 22),
	VX("v2 LOCAL with a short SSL TLV", SIG "20000005" "2000020000", 21),
	VX("v2 INET + empty NOOP", SIG "2111000f" A4 "040000", 31),
	VX("v2 INET + NOOP with data", SIG "21110014" A4 "040005deadbeef00", 36),
	VX("v2 INET + empty ALPN", SIG "2111000f" A4 "010000", 31),
	VX("v2 INET + empty UNIQUE_ID", SIG "2111000f" A4 "050000", 31),
	VX("v2 INET + unknown and reserved types",
	    SIG "21110032" A4 "000000" "060001ff" "100000" "210000"
	    "e10003666f6f" "ef0000" "f00000" "ff0000" "310001aa" "0f0000"
	    "eb0000", 66),
	VX("v2 INET + SSL, no sub-TLVs", SIG "21110014" A4 "2000050100000001",
	    36),
	VX("v2 INET + SSL with VERSION",
	    SIG "2111001e" A4 "20000f0700000000" "210007544c5376312e33", 46),
	VX("v2 INET + SSL with an empty sub-TLV",
	    SIG "21110017" A4 "2000080100000000" "220000", 39),
	VX("v2 INET + SSL with 2026 and unknown sub-TLVs",
	    SIG "2111002c" A4 "20001d0100000000" "260006583235353139"
	    "27000461626364" "2800023082" "290000", 60),
	VX("v2 INET + Azure TLV of the wrong length",
	    SIG "21110011" A4 "ee00020102", 33),
	VX("v2 INET + AWS TLV with another subtype",
	    SIG "21110011" A4 "ea00020261", 33),
	VX("v2 INET + GCP TLV of 3 bytes", SIG "21110012" A4 "e00003010203",
	    34),
	VX("v2 INET + NOOP then SSL",
	    SIG "21110017" A4 "040000" "2000050100000000", 39),

	/* v2: incomplete. */
	IX("v2 fixed part, no address", SIG "2111000c", 28),
	IX("v2 address part", SIG "2111000c" "c0000201c63364", 28),
	IX("v2 11 of 12 address bytes", SIG "2111000c" "c0000201c6336401303901",
	    28),
	IX("v2 length 65535", SIG "2111ffff", PP_V2_MAX),
	IX("v2 TLV not in yet", SIG "21110014" A4 "02", 36),
	IX("v2 LOCAL with length", SIG "20000010" "0000", 32),

	/* v2: version, command, family, transport, length. */
	EX("v2 version 1", SIG "1111000c" A4, PP_EV2_VERSION, 12),
	EX("v2 version 3", SIG "3111000c" A4, PP_EV2_VERSION, 12),
	EX("v2 version 0, LOCAL", SIG "0000000c" A4, PP_EV2_VERSION, 12),
	EX("v2 command 2", SIG "2211000c" A4, PP_EV2_COMMAND, 12),
	EX("v2 command 15", SIG "2f11000c" A4, PP_EV2_COMMAND, 12),
	EX("v2 family 4", SIG "2141000c" A4, PP_EV2_FAMILY, 13),
	EX("v2 family 15", SIG "21f1000c" A4, PP_EV2_FAMILY, 13),
	EX("v2 transport 3", SIG "2113000c" A4, PP_EV2_TRANSPORT, 13),
	EX("v2 transport 15", SIG "211f000c" A4, PP_EV2_TRANSPORT, 13),
	EX("v2 LOCAL family 4", SIG "20410000", PP_EV2_FAMILY, 13),
	EX("v2 LOCAL transport 3", SIG "20130000", PP_EV2_TRANSPORT, 13),
	EX("v2 INET length 0", SIG "21110000", PP_EV2_SHORT, 14),
	EX("v2 INET length 11", SIG "2111000b" "c0000201c6336401303901",
	    PP_EV2_SHORT, 14),
	EX("v2 INET dgram length 8", SIG "21120008" "c0000201c6336401",
	    PP_EV2_SHORT, 14),
	EX("v2 INET6 length 12", SIG "2121000c" A4, PP_EV2_SHORT, 14),
	EX("v2 INET6 length 35", SIG "21210023"
	    "20010db8000000000000000000000001"
	    "20010db8000000000000000000000002" "000100", PP_EV2_SHORT, 14),

	/* v2: TLVs. */
	EX("v2 one stray byte", SIG "2111000d" A4 "01", PP_ETLV_OVERRUN, 28),
	EX("v2 two stray bytes", SIG "2111000e" A4 "0100", PP_ETLV_OVERRUN, 28),
	EX("v2 TLV one byte past", SIG "2111000f" A4 "010001",
	    PP_ETLV_OVERRUN, 28),
	EX("v2 second TLV past", SIG "21110013" A4 "040000" "010005aa",
	    PP_ETLV_OVERRUN, 31),
	EX("v2 UNSPEC PROXY stray byte", SIG "21000001" "01",
	    PP_ETLV_OVERRUN, 16),
	EX("v2 UNSPEC PROXY bad CRC32C", SIG "21000007" "03000400000000",
	    PP_ECRC_BAD, 16),
	EX("v2 SSL TLV past the header", SIG "21110014" A4 "2000100100000000",
	    PP_ETLV_OVERRUN, 28),
	EX("v2 SSL of 4 bytes", SIG "21110013" A4 "20000401000000",
	    PP_ESSL, 28),
	EX("v2 SSL of 0 bytes", SIG "2111000f" A4 "200000", PP_ESSL, 28),
	/*
	 * A bad sub-TLV is reported at its own type byte (28 + 3 + 5), the
	 * first offending byte; a bad SSL TLV itself at its type byte.
	 */
	EX("v2 SSL sub-TLV past the SSL TLV",
	    SIG "2111001a" A4 "20000b0100000000" "210005544c53", PP_ESSL, 36),
	EX("v2 SSL stray sub byte", SIG "21110015" A4 "200006010000000021",
	    PP_ESSL, 36),
	EX("v2 SSL two stray sub bytes",
	    SIG "21110016" A4 "20000701000000002100", PP_ESSL, 36),
	EX("v2 SSL second sub-TLV past",
	    SIG "2111001c" A4 "20000d0100000000" "220000" "210003544c",
	    PP_ESSL, 39),
	EX("v2 SSL short after NOOP",
	    SIG "21110016" A4 "040000" "20000401000000", PP_ESSL, 31),
	EX("v2 CRC32C of 3 bytes", SIG "21110012" A4 "030003000000",
	    PP_ECRC_LEN, 28),
	EX("v2 CRC32C of 5 bytes", SIG "21110014" A4 "0300050000000000",
	    PP_ECRC_LEN, 28),
	EX("v2 CRC32C of 0 bytes", SIG "2111000f" A4 "030000",
	    PP_ECRC_LEN, 28),
	EX("v2 CRC32C zero, wrong", SIG "21110013" A4 "03000400000000",
	    PP_ECRC_BAD, 28),
};
#define NCASES	(sizeof(cases) / sizeof(cases[0]))

static void
run_cases(void)
{
	static uint8_t buf[4096];
	struct pp_header h;
	char a[64], b[64];
	size_t i, len;
	int r, want;

	for (i = 0; i < NCASES; i++) {
		const struct pcase *c = &cases[i];
		struct t_group g = T_GROUP;
		struct pp_header wh;

		if (c->hex)
			len = unhex(c->in, buf, sizeof(buf));
		else {
			len = strlen(c->in);
			memcpy(buf, c->in, len);
		}
		want = c->ret;
		if (want == AUTO)
			want = (int)(strstr(c->in, "\r\n") - c->in) + 2;
		memset(&wh, 0, sizeof(wh));
		wh.need = c->aux;
		wh.err_off = c->aux;
		r = parse_g(buf, len, &h);
		if (want > 0)
			ok(r == want && h.hdr_len == (uint32_t)want,
			    "%s: %s", c->name, res(want, &wh, a, sizeof(a)));
		else if (want == 0)
			ok(r == 0 && h.need == c->aux, "%s: %s", c->name,
			    res(want, &wh, a, sizeof(a)));
		else
			ok(r == want && h.err_off == c->aux, "%s: %s",
			    c->name, res(want, &wh, a, sizeof(a)));
		if (r != want || (want == 0 && h.need != c->aux) ||
		    (want < 0 && h.err_off != c->aux))
			diag("got %s", res(r, &h, b, sizeof(b)));
		prefixes(&g, c->name, buf, len);
		group_ok(&g, "%s: every prefix agrees", c->name);
	}
}

/* v1 limits: 107 bytes in all, CRLF included. */
static void
v1_length(void)
{
	uint8_t line[200];
	struct pp_header h;
	struct t_group g = T_GROUP, g2 = T_GROUP, g3 = T_GROUP;
	size_t n;
	int r;

	/* "PROXY UNKNOWN " and padding up to a CRLF ending at byte 106. */
	memcpy(line, "PROXY UNKNOWN ", 14);
	memset(line + 14, 'a', sizeof(line) - 14);
	line[105] = '\r';
	line[106] = '\n';
	r = parse_g(line, 107, &h);
	is_int(r, 107, "v1 UNKNOWN of exactly 107 bytes is valid");
	prefixes(&g, "107 bytes", line, 107);
	group_ok(&g, "v1 107 bytes: every prefix agrees");

	/* The 107th byte is not the end of the line. */
	line[105] = 'a';
	line[106] = '\r';
	line[107] = '\n';
	r = parse_g(line, 108, &h);
	ok(r == -PP_EV1_LONG && h.err_off == 106,
	    "v1 CRLF at 106-107 is too long, at 106");
	prefixes(&g2, "108 bytes", line, 108);
	line[106] = 'a';
	r = parse_g(line, 150, &h);
	ok(r == -PP_EV1_LONG && h.err_off == 106,
	    "v1 no CRLF within 107 bytes: too long, at 106");
	r = parse_g(line, 107, &h);
	ok(r == -PP_EV1_LONG && h.err_off == 106,
	    "v1 107 bytes without CRLF: too long once byte 106 is in");
	r = parse_g(line, 106, &h);
	ok(r == 0 && h.need == 107, "v1 106 bytes without CRLF: need 107");
	prefixes(&g2, "150 bytes", line, 150);
	group_ok(&g2, "v1 too long: every prefix agrees");

	/* The CR at 105 must be followed by the LF at 106. */
	line[105] = '\r';
	line[106] = 'a';
	r = parse_g(line, 108, &h);
	ok(r == -PP_EV1_BARE_CR && h.err_off == 105,
	    "v1 CR at 105 then a non-LF: bare CR at 105");

	/* UNKNOWN lines of every length up to the limit. */
	for (n = 15; n <= PP_V1_MAX; n++) {
		memset(line + 14, 'b', n - 14);
		line[13] = n > 15 ? ' ' : '\r';
		line[n - 2] = '\r';
		line[n - 1] = '\n';
		r = parse_g(line, n, &h);
		check(&g3, r == (int)n, "UNKNOWN of %zu bytes gives %d", n, r);
	}
	group_ok(&g3, "v1 UNKNOWN lines of 15..107 bytes are valid");
}

static int
same_ep(const struct sockaddr_storage *ss, int family, const char *text,
    int port, const char *name)
{
	char got[PP_ADDRSTRLEN];
	uint8_t a[16];
	int pass = 1;

	if (ss->ss_family != family) {
		diag("%s: family %d, expected %d", name, ss->ss_family, family);
		return 0;
	}
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		inet_pton(AF_INET, text, a);
		pass = memcmp(&sin->sin_addr, a, 4) == 0 &&
		    ntohs(sin->sin_port) == port;
	} else if (family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		inet_pton(AF_INET6, text, a);
		pass = memcmp(&sin6->sin6_addr, a, 16) == 0 &&
		    ntohs(sin6->sin6_port) == port;
	}
	if (pp_addr_ntop(ss, got, sizeof(got)) == NULL ||
	    strcmp(got, text) != 0 || pp_addr_port(ss) != port)
		pass = 0;
	if (!pass)
		diag("%s: got %s port %d, expected %s port %d", name,
		    pp_addr_ntop(ss, got, sizeof(got)) ? got : "(null)",
		    pp_addr_port(ss), text, port);
	return pass;
}

static int
hparse(const char *hex, uint8_t *buf, size_t cap, struct pp_header *h)
{
	size_t n = unhex(hex, buf, cap);

	memset(h, 0xa5, sizeof(*h));
	return pp_parse(buf, n, h);
}

static void
fields(void)
{
	static uint8_t buf[1024];
	struct pp_header h;
	struct pp_tlv t;
	size_t pos;
	const char *s;
	int r, n;

	s = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET";
	r = pp_parse(s, strlen(s), &h);
	ok(r == 45 && h.hdr_len == 45 && h.version == 1 &&
	    h.command == PP_V2_CMD_PROXY && h.family == PP_V2_FAM_INET &&
	    h.transport == PP_V2_TRANS_STREAM && h.has_addr == 1 &&
	    h.tlv_len == 0 && h.crc32c == PP_CRC_ABSENT,
	    "v1 TCP4: version, command, family, transport, no TLVs");
	ok(same_ep(&h.src, AF_INET, "192.0.2.1", 56324, "src") &&
	    same_ep(&h.dst, AF_INET, "198.51.100.7", 443, "dst"),
	    "v1 TCP4: addresses and ports");

	s = "PROXY TCP6 2001:DB8:0::1 2001:db8::2 65535 0\r\n";
	r = pp_parse(s, strlen(s), &h);
	ok(r > 0 && h.version == 1 && h.family == PP_V2_FAM_INET6 &&
	    h.transport == PP_V2_TRANS_STREAM && h.has_addr == 1,
	    "v1 TCP6: family INET6, STREAM");
	ok(same_ep(&h.src, AF_INET6, "2001:db8::1", 65535, "src") &&
	    same_ep(&h.dst, AF_INET6, "2001:db8::2", 0, "dst"),
	    "v1 TCP6: addresses, canonical text");

	s = "PROXY TCP6 ::ffff:192.0.2.1 ::ffff:10.0.0.1 1 2\r\n";
	r = pp_parse(s, strlen(s), &h);
	ok(r > 0 && h.family == PP_V2_FAM_INET6 &&
	    same_ep(&h.src, AF_INET6, "::ffff:192.0.2.1", 1, "src") &&
	    same_ep(&h.dst, AF_INET6, "::ffff:10.0.0.1", 2, "dst"),
	    "v1 TCP6 v4-mapped stays IPv6");

	s = "PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n";
	r = pp_parse(s, strlen(s), &h);
	ok(r == (int)strlen(s) && h.version == 1 &&
	    h.command == PP_V2_CMD_PROXY && h.family == PP_V2_FAM_UNSPEC &&
	    h.has_addr == 0, "v1 UNKNOWN: no address, bytes kept");

	r = hparse(SIG "2111000c" A4 "ffff", buf, sizeof(buf), &h);
	ok(r == 28 && h.hdr_len == 28 && h.version == 2 &&
	    h.command == PP_V2_CMD_PROXY && h.family == PP_V2_FAM_INET &&
	    h.transport == PP_V2_TRANS_STREAM && h.has_addr == 1 &&
	    h.tlv_len == 0 && h.crc32c == PP_CRC_ABSENT,
	    "v2 INET: version, command, family, transport");
	ok(same_ep(&h.src, AF_INET, "192.0.2.1", 12345, "src") &&
	    same_ep(&h.dst, AF_INET, "198.51.100.1", 443, "dst"),
	    "v2 INET: addresses and ports");

	r = hparse(SIG "21220024" A6, buf, sizeof(buf), &h);
	ok(r == 52 && h.family == PP_V2_FAM_INET6 &&
	    h.transport == PP_V2_TRANS_DGRAM &&
	    same_ep(&h.src, AF_INET6, "2001:db8::1", 1, "src") &&
	    same_ep(&h.dst, AF_INET6, "2001:db8::2", 2, "dst"),
	    "v2 INET6 DGRAM: fields");

	r = hparse(SIG "21000000", buf, sizeof(buf), &h);
	ok(r == 16 && h.command == PP_V2_CMD_PROXY &&
	    h.family == PP_V2_FAM_UNSPEC && h.has_addr == 0 &&
	    h.tlv_len == 0, "v2 PROXY UNSPEC: accepted, no address");

	r = hparse(SIG "2011000c" A4, buf, sizeof(buf), &h);
	ok(r == 28 && h.command == PP_V2_CMD_LOCAL && h.has_addr == 0,
	    "v2 LOCAL INET: addresses ignored");

	/* TLV area: where it is, walked in order, found by type. */
	r = hparse(SIG "2111001f" A4 "010002683202000b6578616d706c652e636f6d",
	    buf, sizeof(buf), &h);
	ok(r == 47 && h.tlv == buf + 28 && h.tlv_len == 19,
	    "v2 TLV area points into the caller's buffer");
	pos = 0;
	n = 0;
	while (pp_tlv_next(&h, &pos, &t) == 1) {
		if (n == 0)
			ok(t.type == PP_TLV_ALPN && t.len == 2 &&
			    t.value == buf + 31 && memcmp(t.value, "h2", 2) == 0,
			    "v2 first TLV: ALPN h2");
		else if (n == 1)
			ok(t.type == PP_TLV_AUTHORITY && t.len == 11 &&
			    memcmp(t.value, "example.com", 11) == 0,
			    "v2 second TLV: AUTHORITY example.com");
		n++;
	}
	is_int(n, 2, "v2 TLV walk ends after two TLVs");
	ok(pp_tlv_find(&h, PP_TLV_AUTHORITY, &t) == 1 && t.len == 11 &&
	    pp_tlv_find(&h, PP_TLV_CRC32C, &t) == 0,
	    "pp_tlv_find finds AUTHORITY, not CRC32C");

	r = hparse(SIG "21110013" A4 "0400000400010a", buf, sizeof(buf), &h);
	ok(r == 35 && pp_tlv_find(&h, PP_TLV_NOOP, &t) == 1 && t.len == 0,
	    "pp_tlv_find returns the first of two");
}

/* AF_UNIX blocks: 108-byte paths, abstract names, unnamed sockets. */
static void
unix_paths(void)
{
	static uint8_t buf[300];
	struct pp_header h;
	char text[PP_ADDRSTRLEN];
	const struct sockaddr_un *sun;
	struct t_group g = T_GROUP;
	int r;

	memset(buf, 0, sizeof(buf));
	unhex(SIG "213100d8", buf, 16);
	memcpy(buf + 16, "/run/app.sock", 13);
	memcpy(buf + 16 + 109, "abstract", 8);	/* dst: "\0abstract" */
	r = parse_g(buf, 232, &h);
	is_int(r, 232, "v2 UNIX stream: 232 bytes");
	r = pp_parse(buf, 232, &h);
	sun = (const void *)&h.src;
	ok(r == 232 && h.family == PP_V2_FAM_UNIX && h.has_addr == 1 &&
	    h.src.ss_family == AF_UNIX && h.dst.ss_family == AF_UNIX &&
	    strcmp(sun->sun_path, "/run/app.sock") == 0,
	    "v2 UNIX: family and source path");
	ok(pp_addr_ntop(&h.src, text, sizeof(text)) != NULL &&
	    strcmp(text, "/run/app.sock") == 0, "pp_addr_ntop of a path");
	ok(pp_addr_ntop(&h.dst, text, sizeof(text)) != NULL &&
	    strcmp(text, "@abstract") == 0, "pp_addr_ntop of an abstract name");
	is_int(pp_addr_port(&h.src), -1, "pp_addr_port of AF_UNIX is -1");

	memset(buf + 16, 0, 216);
	r = pp_parse(buf, 232, &h);
	ok(r == 232 && pp_addr_ntop(&h.src, text, sizeof(text)) != NULL &&
	    strcmp(text, "") == 0, "pp_addr_ntop of an unnamed socket is \"\"");

	/* A path that fills all 108 bytes, with no NUL. */
	memset(buf + 16, 'p', 108);
	r = pp_parse(buf, 232, &h);
	ok(r == 232 && pp_addr_ntop(&h.src, text, sizeof(text)) != NULL &&
	    strlen(text) == 108 && text[107] == 'p',
	    "a 108-byte path without NUL is bounded");

	buf[13] = 0x32;
	r = pp_parse(buf, 232, &h);
	ok(r == 232 && h.transport == PP_V2_TRANS_DGRAM, "v2 UNIX dgram");

	buf[15] = 0xd7;
	r = parse_g(buf, 231, &h);
	ok(r == -PP_EV2_SHORT && h.err_off == 14, "v2 UNIX length 215: short");
	prefixes(&g, "UNIX 215", buf, 231);
	buf[15] = 0xd8;
	prefixes(&g, "UNIX 216", buf, 232);
	group_ok(&g, "v2 UNIX: every prefix agrees");
}

/* Byte 12 (version, command) and byte 13 (family, transport). */
static void
v2_nibbles(void)
{
	static const unsigned int blk[4] = { 0, 12, 36, 216 };
	static uint8_t buf[512];
	struct t_group g12 = T_GROUP, g13 = T_GROUP, gl = T_GROUP;
	struct t_group gp = T_GROUP;
	struct pp_header h;
	char name[64], a[64];
	unsigned int b, fam, tr, len;
	int r;

	for (b = 0; b < 256; b++) {
		memset(buf, 0, sizeof(buf));
		unhex(SIG "0011000c" A4, buf, sizeof(buf));
		buf[12] = (uint8_t)b;
		r = parse_g(buf, 28, &h);
		if (b == 0x20 || b == 0x21)
			check(&g12, r == 28, "byte 12 = %02x: %s", b,
			    res(r, &h, a, sizeof(a)));
		else if ((b >> 4) != 2)
			check(&g12, r == -PP_EV2_VERSION && h.err_off == 12,
			    "byte 12 = %02x: %s, expected version error at 12",
			    b, res(r, &h, a, sizeof(a)));
		else
			check(&g12, r == -PP_EV2_COMMAND && h.err_off == 12,
			    "byte 12 = %02x: %s, expected command error at 12",
			    b, res(r, &h, a, sizeof(a)));
		snprintf(name, sizeof(name), "byte 12 = %02x", b);
		prefixes(&gp, name, buf, 28);
	}
	group_ok(&g12, "v2 byte 12: only 0x20 and 0x21 are valid; version "
	    "then command errors at 12");

	for (b = 0; b < 512; b++) {
		int local = b >= 256;

		fam = (b & 0xff) >> 4;
		tr = b & 0x0f;
		len = fam <= 3 ? blk[fam] : 12;
		memset(buf, 0, sizeof(buf));
		unhex(SIG, buf, sizeof(buf));
		buf[12] = local ? 0x20 : 0x21;
		buf[13] = (uint8_t)b;
		be16(buf + 14, len);
		r = parse_g(buf, 16 + len, &h);
		snprintf(name, sizeof(name), "%s byte 13 = %02x",
		    local ? "LOCAL" : "PROXY", b & 0xff);
		prefixes(&gp, name, buf, 16 + len);
		if (fam > 3 && tr > 2)
			check(&g13, (r == -PP_EV2_FAMILY ||
			    r == -PP_EV2_TRANSPORT) && h.err_off == 13,
			    "%s: %s", name, res(r, &h, a, sizeof(a)));
		else if (fam > 3)
			check(&g13, r == -PP_EV2_FAMILY && h.err_off == 13,
			    "%s: %s, expected family error at 13", name,
			    res(r, &h, a, sizeof(a)));
		else if (tr > 2)
			check(&g13, r == -PP_EV2_TRANSPORT && h.err_off == 13,
			    "%s: %s, expected transport error at 13", name,
			    res(r, &h, a, sizeof(a)));
		else if ((fam == 0) != (tr == 0) && !local)
			/*
			 * Defined nibbles in a pair the spec does not list
			 * (INET over UNSPEC transport, UNSPEC over STREAM):
			 * spec 2.2 has receivers refuse them.
			 */
			check(&g13, r == -(fam == 0 ? PP_EV2_FAMILY :
			    PP_EV2_TRANSPORT) && h.err_off == 13,
			    "%s: %s, expected an unlisted pair refused at 13",
			    name, res(r, &h, a, sizeof(a)));
		else
			check(&g13, r == (int)(16 + len), "%s: %s, expected "
			    "valid", name, res(r, &h, a, sizeof(a)));

		/* One byte short of the address block. */
		if (fam >= 1 && fam <= 3 && tr <= 2 && !local && tr != 0) {
			be16(buf + 14, len - 1);
			r = parse_g(buf, 16 + len - 1, &h);
			check(&gl, r == -PP_EV2_SHORT && h.err_off == 14,
			    "%s length %u: %s", name, len - 1,
			    res(r, &h, a, sizeof(a)));
			prefixes(&gp, name, buf, 16 + len - 1);
		}
	}
	group_ok(&g13, "v2 byte 13: family above 3 and transport above 2 "
	    "are errors at 13, under PROXY and LOCAL");
	group_ok(&gl, "v2 length below the address block: short, at 14");
	group_ok(&gp, "v2 byte 12 and 13 variants: every prefix agrees");
}

/* The v2 signature, one byte wrong at a time. */
static void
v2_signature(void)
{
	uint8_t buf[64];
	struct pp_header h;
	struct t_group g = T_GROUP;
	char a[64];
	size_t n, i;
	int r;

	n = unhex(SIG "2111000c" A4, buf, sizeof(buf));
	for (i = 0; i < PP_V2_SIG_LEN; i++) {
		buf[i] ^= 0x80;
		r = parse_g(buf, n, &h);
		check(&g, r == -PP_ENOT_PP && h.err_off == i,
		    "signature byte %zu flipped: %s", i,
		    res(r, &h, a, sizeof(a)));
		prefixes(&g, "flipped signature", buf, n);
		buf[i] ^= 0x80;
	}
	group_ok(&g, "v2 signature: a wrong byte is not PROXY protocol, "
	    "at that byte");
}

/* CRC32C, UNIQUE_ID size and the largest header. */
static void
v2_computed(void)
{
	static uint8_t buf[BIG];
	struct pp_header h;
	struct t_group g = T_GROUP;
	char a[64];
	size_t n, i;
	int r;

	n = unhex(SIG "21110013" A4 "03000400000000", buf, sizeof(buf));
	put_crc(buf, n, 28);
	r = parse_g(buf, n, &h);
	ok(r == 35 && h.crc32c == PP_CRC_OK, "v2 INET + CRC32C: valid, ok");
	prefixes(&g, "CRC32C", buf, n);
	for (i = 16; i < 28; i++) {
		buf[i] ^= 0x01;
		r = parse_g(buf, n, &h);
		check(&g, r == -PP_ECRC_BAD && h.err_off == 28,
		    "bit 0 of byte %zu flipped: %s", i,
		    res(r, &h, a, sizeof(a)));
		buf[i] ^= 0x01;
	}
	for (i = 31; i < 35; i++) {
		buf[i] ^= 0x10;
		r = parse_g(buf, n, &h);
		check(&g, r == -PP_ECRC_BAD && h.err_off == 28,
		    "CRC byte %zu flipped: %s", i, res(r, &h, a, sizeof(a)));
		buf[i] ^= 0x10;
	}
	group_ok(&g, "v2 CRC32C: any flipped bit is a mismatch at the TLV");

	/* CRC32C after other TLVs, payload not covered. */
	n = unhex(SIG "21110018" A4 "010002683203000400000000" "5041594c4f4144",
	    buf, sizeof(buf));
	put_crc(buf, 40, 33);
	r = parse_g(buf, n, &h);
	ok(r == 40 && h.crc32c == PP_CRC_OK,
	    "v2 CRC32C after ALPN; payload is not covered");
	buf[42] ^= 0xff;
	r = parse_g(buf, n, &h);
	ok(r == 40 && h.crc32c == PP_CRC_OK, "v2 CRC32C: payload changes "
	    "nothing");
	buf[31] ^= 0x01;
	r = parse_g(buf, n, &h);
	ok(r == -PP_ECRC_BAD && h.err_off == 33,
	    "v2 CRC32C after ALPN: mismatch at the CRC TLV (33)");

	/* PROXY UNSPEC: TLVs are judged. */
	n = unhex(SIG "21000007" "03000400000000", buf, sizeof(buf));
	put_crc(buf, n, 16);
	r = parse_g(buf, n, &h);
	ok(r == 23 && h.crc32c == PP_CRC_OK && h.has_addr == 0,
	    "v2 PROXY UNSPEC + CRC32C: valid, ok");

	/* UNIQUE_ID: 128 bytes fine, 129 not. */
	memset(buf, 0x55, sizeof(buf));
	n = unhex(SIG "2111008f" A4 "050080", buf, sizeof(buf));
	r = parse_g(buf, 16 + 0x8f, &h);
	ok(r == 16 + 0x8f, "v2 UNIQUE_ID of 128 bytes is valid");
	prefixes(&g, "UNIQUE_ID 128", buf, 16 + 0x8f);
	n = unhex(SIG "21110090" A4 "050081", buf, sizeof(buf));
	r = parse_g(buf, 16 + 0x90, &h);
	ok(r == -PP_EUNIQUE_ID && h.err_off == 28,
	    "v2 UNIQUE_ID of 129 bytes: error at 28");
	prefixes(&g, "UNIQUE_ID 129", buf, 16 + 0x90);

	/* The longest header: length 65535, one big NOOP. */
	memset(buf, 0, sizeof(buf));
	n = unhex(SIG "2111ffff" A4 "04fff0", buf, sizeof(buf));
	r = parse_g(buf, PP_V2_MAX, &h);
	ok(r == PP_V2_MAX && h.hdr_len == PP_V2_MAX && h.tlv_len == 65523,
	    "v2 length 65535 (65551 bytes) is valid");
	r = parse_g(buf, PP_V2_MAX - 1, &h);
	ok(r == 0 && h.need == PP_V2_MAX, "v2 65550 of 65551 bytes: need "
	    "65551");
	memcpy(buf + PP_V2_MAX, "PAYLOAD", 7);
	r = parse_g(buf, PP_V2_MAX + 7, &h);
	is_int(r, PP_V2_MAX, "v2 longest header then payload");
	prefixes(&g, "longest", buf, PP_V2_MAX + 7);
	group_ok(&g, "v2 computed cases: every prefix agrees");
}

static void
versions(void)
{
	static uint8_t buf[64];
	const char *v1 = "PROXY TCP4 1.2.3.4 5.6.7.8 80 443\r\n";
	struct pp_header h;
	size_t n;
	int r;

	n = unhex(SIG "2111000c" A4, buf, sizeof(buf));
	ok(parse_gv(v1, strlen(v1), 1, &h) == 35, "pp_parse_version 1 "
	    "accepts v1");
	ok(parse_gv(buf, n, 2, &h) == 28, "pp_parse_version 2 accepts v2");
	ok(parse_gv(v1, strlen(v1), 0, &h) == 35 &&
	    parse_gv(buf, n, 0, &h) == 28, "pp_parse_version 0 accepts both");
	r = parse_gv(v1, strlen(v1), 2, &h);
	ok(r == -PP_ENOT_PP && h.err_off == 0,
	    "pp_parse_version 2 refuses v1 at 0");
	r = parse_gv(buf, n, 1, &h);
	ok(r == -PP_ENOT_PP && h.err_off == 0,
	    "pp_parse_version 1 refuses v2 at 0");
	r = parse_gv("P", 1, 2, &h);
	ok(r == -PP_ENOT_PP && h.err_off == 0,
	    "pp_parse_version 2 refuses \"P\" at once");
	r = parse_gv("\r", 1, 1, &h);
	ok(r == -PP_ENOT_PP && h.err_off == 0,
	    "pp_parse_version 1 refuses CR at once");
	r = parse_gv("", 0, 1, &h);
	ok(r == 0 && h.need == 8, "pp_parse_version 1, empty: need 8");
	r = parse_gv("", 0, 2, &h);
	ok(r == 0 && h.need == 16, "pp_parse_version 2, empty: need 16");
	r = parse_gv(buf, n, 3, &h);
	ok(r == -PP_EINVAL, "pp_parse_version 3: invalid argument");
}

/* Conformance corpus: expected key=value pairs. */
static int
kv(const char *exp, const char *key, char *val, size_t cap)
{
	size_t kl = strlen(key), vl;
	const char *p = exp, *e;

	while (*p != '\0') {
		e = strchr(p, ';');
		if (e == NULL)
			e = p + strlen(p);
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			vl = (size_t)(e - p) - kl - 1;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(val, p + kl + 1, vl);
			val[vl] = '\0';
			return 1;
		}
		p = *e == ';' ? e + 1 : e;
	}
	return 0;
}

static const struct {
	const char	*reason;
	int		 code;
} reasons[] = {
	{ "not_proxy_protocol", PP_ENOT_PP },
	{ "v1_bad_signature", PP_EV1_SIG },
	{ "v1_too_long", PP_EV1_LONG },
	{ "v1_bare_lf", PP_EV1_BARE_LF },
	{ "v1_cr_not_followed_by_lf", PP_EV1_BARE_CR },
	{ "v1_bad_proto", PP_EV1_PROTO },
	{ "v1_bad_src_addr", PP_EV1_SRC_ADDR },
	{ "v1_bad_dst_addr", PP_EV1_DST_ADDR },
	{ "v1_bad_src_port", PP_EV1_SRC_PORT },
	{ "v1_bad_dst_port", PP_EV1_DST_PORT },
	{ "v1_family_mismatch", PP_EV1_FAMILY },
	{ "v1_trailing_space", PP_EV1_TRAILING },
	{ "bad_version", PP_EV2_VERSION },
	{ "bad_command", PP_EV2_COMMAND },
	{ "bad_family", PP_EV2_FAMILY },
	{ "bad_transport", PP_EV2_TRANSPORT },
	{ "length_shorter_than_address_block", PP_EV2_SHORT },
	{ "tlv_overruns_header", PP_ETLV_OVERRUN },
	{ "crc32c_bad_length", PP_ECRC_LEN },
	{ "crc32c_mismatch", PP_ECRC_BAD },
	{ "unique_id_too_long", PP_EUNIQUE_ID },
	{ "ssl_tlv_shorter_than_5", PP_ESSL },
};

/*
 * Where each invalid vector goes wrong.  code, when not 0, is the error
 * we give where it differs from the vector's reason on purpose: v2-017
 * pairs INET with transport UNSPEC (0x10), which spec 2.2 tells
 * receivers to refuse before its length is looked at.
 */
static const struct {
	const char	*id;
	uint32_t	 off;
	int		 code;
} offsets[] = {
	{ "v1-007", 106, 0 }, { "v1-011", 6, 0 }, { "v1-013", 39, 0 }, { "v1-015", 11, 0 },
	{ "v1-017", 11, 0 }, { "v1-019", 27, 0 }, { "v1-021", 29, 0 }, { "v1-023", 35, 0 },
	{ "v1-025", 30, 0 }, { "v1-027", 11, 0 }, { "v1-029", 54, 0 }, { "v1-031", 6, 0 },
	{ "v1-033", 6, 0 }, { "v1-035", 6, 0 }, { "v1-037", 5, 0 }, { "v1-041", 6, 0 },
	{ "v1-045", 0, 0 }, { "v1-049", 11, 0 }, { "v1-051", 11, 0 }, { "v1-055", 11, 0 },
	{ "v1-057", 23, 0 }, { "v1-059", 11, 0 },
	{ "v2-003", 28, 0 }, { "v2-011", 28, 0 }, { "v2-013", 12, 0 }, { "v2-015", 13, 0 },
	{ "v2-017", 13, PP_EV2_TRANSPORT }, { "v2-031", 13, 0 }, { "v2-047", 14, 0 }, { "v2-049", 28, 0 },
	{ "v2-051", 28, 0 }, { "v2-053", 28, 0 }, { "v2-065", 12, 0 }, { "v2-067", 12, 0 },
	{ "v2-069", 13, 0 }, { "v2-075", 11, 0 },
};

static int
hexeq(const uint8_t *p, size_t n, const char *hex)
{
	uint8_t b[1024];
	size_t m = unhex(hex, b, sizeof(b));

	return m == n && memcmp(p, b, n) == 0;
}

/* The value of SSL sub-TLV type, as text, into out. */
static int
ssl_sub(const struct pp_header *h, uint8_t type, char *out, size_t cap)
{
	struct pp_tlv t, s;
	struct pp_ssl ssl;
	size_t pos = 0;

	if (pp_tlv_find(h, PP_TLV_SSL, &t) != 1 || pp_tlv_ssl(&t, &ssl) != 0)
		return 0;
	while (pp_tlv_walk(ssl.sub, ssl.sub_len, &pos, &s) == 1)
		if (s.type == type && s.len < cap) {
			memcpy(out, s.value, s.len);
			out[s.len] = '\0';
			return 1;
		}
	return 0;
}

static int
text_tlv(const struct pp_header *h, uint8_t type, const char *want)
{
	struct pp_tlv t;

	return pp_tlv_find(h, type, &t) == 1 && t.len == strlen(want) &&
	    memcmp(t.value, want, t.len) == 0;
}

static void
vector_fields(struct t_group *g, const struct vector *v,
    const struct pp_header *h)
{
	static const char *const fams[] = { "UNSPEC", "INET", "INET6", "UNIX" };
	static const char *const protos[] = { "UNSPEC", "STREAM", "DGRAM" };
	char key[64], val[1200], text[PP_ADDRSTRLEN], sub[256];
	const char *p = v->expected, *e, *eq;
	struct pp_tlv t;
	struct pp_ssl ssl;
	int wantver = strcmp(v->format, "v1") == 0 ? 1 : 2;
	int noaddr = 0;

	check(g, h->version == wantver, "%s: version %d", v->id, h->version);
	/*
	 * v1 TCP4/TCP6 are STREAM.  UNKNOWN may be any transport: UNSPEC is
	 * accepted there too (proxyhdr.h says "v1 is STREAM").
	 */
	if (wantver == 1)
		check(g, (h->transport == PP_V2_TRANS_STREAM ||
		    (h->family == PP_V2_FAM_UNSPEC &&
		    h->transport == PP_V2_TRANS_UNSPEC)) && h->tlv_len == 0,
		    "%s: v1 is STREAM without TLVs (transport %d)", v->id,
		    h->transport);
	for (; *p != '\0'; p = *e == ';' ? e + 1 : e) {
		e = strchr(p, ';');
		if (e == NULL)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		if (eq == NULL || (size_t)(eq - p) >= sizeof(key)) {
			check(g, 0, "%s: bad expected field", v->id);
			continue;
		}
		memcpy(key, p, (size_t)(eq - p));
		key[eq - p] = '\0';
		kv(v->expected, key, val, sizeof(val));

		if (strcmp(key, "ver") == 0)
			check(g, h->version == atoi(val), "%s: ver", v->id);
		else if (strcmp(key, "cmd") == 0)
			check(g, h->command == (strcmp(val, "LOCAL") == 0 ?
			    PP_V2_CMD_LOCAL : PP_V2_CMD_PROXY),
			    "%s: cmd %d, expected %s", v->id, h->command, val);
		else if (strcmp(key, "fam") == 0) {
			const char *f = strcmp(val, "TCP4") == 0 ? "INET" :
			    strcmp(val, "TCP6") == 0 ? "INET6" :
			    strcmp(val, "UNKNOWN") == 0 ? "UNSPEC" : val;

			check(g, h->family < 4 && strcmp(fams[h->family],
			    f) == 0, "%s: family %d, expected %s", v->id,
			    h->family, val);
		} else if (strcmp(key, "proto") == 0)
			check(g, h->transport < 3 &&
			    strcmp(protos[h->transport], val) == 0,
			    "%s: transport %d, expected %s", v->id,
			    h->transport, val);
		else if (strcmp(key, "src") == 0 || strcmp(key, "dst") == 0) {
			const struct sockaddr_storage *ss =
			    key[0] == 's' ? &h->src : &h->dst;
			const struct sockaddr_in *sin = (const void *)ss;
			const struct sockaddr_in6 *sin6 = (const void *)ss;
			uint8_t a[16];
			int ok1 = 1;

			/* The raw address agrees with the text. */
			if (ss->ss_family == AF_INET)
				ok1 = inet_pton(AF_INET, val, a) == 1 &&
				    memcmp(a, &sin->sin_addr, 4) == 0;
			else if (ss->ss_family == AF_INET6)
				ok1 = inet_pton(AF_INET6, val, a) == 1 &&
				    memcmp(a, &sin6->sin6_addr, 16) == 0;
			check(g, h->has_addr && ok1 &&
			    pp_addr_ntop(ss, text, sizeof(text)) != NULL &&
			    strcmp(text, val) == 0, "%s: %s is \"%s\", "
			    "expected \"%s\"", v->id, key,
			    pp_addr_ntop(ss, text, sizeof(text)) ? text :
			    "(null)", val);
		} else if (strcmp(key, "sport") == 0)
			check(g, pp_addr_port(&h->src) == atoi(val),
			    "%s: sport %d", v->id, pp_addr_port(&h->src));
		else if (strcmp(key, "dport") == 0)
			check(g, pp_addr_port(&h->dst) == atoi(val),
			    "%s: dport %d", v->id, pp_addr_port(&h->dst));
		else if (strcmp(key, "hdrlen") == 0)
			check(g, h->hdr_len == (uint32_t)atoi(val),
			    "%s: hdr_len %u", v->id, h->hdr_len);
		else if (strcmp(key, "policy") == 0) {
			noaddr = 1;
			check(g, strcmp(val, "use_real_endpoints") == 0 &&
			    h->has_addr == 0, "%s: has_addr %d", v->id,
			    h->has_addr);
		} else if (strcmp(key, "tlvs") == 0) {
			char *q = val, *item;
			size_t pos = 0;
			int n = 0;

			while ((item = strsep(&q, ",")) != NULL) {
				unsigned int type, blen;
				char *colon = strchr(item, ':');

				n++;
				if (colon == NULL || sscanf(item, "%x",
				    &type) != 1 || pp_tlv_next(h, &pos,
				    &t) != 1) {
					check(g, 0, "%s: TLV %d missing",
					    v->id, n);
					break;
				}
				colon++;
				if (sscanf(colon, "(%u bytes)", &blen) == 1)
					check(g, t.type == type &&
					    t.len == blen, "%s: TLV %d: "
					    "type %02x len %u", v->id, n,
					    t.type, t.len);
				else
					check(g, t.type == type &&
					    hexeq(t.value, t.len, colon),
					    "%s: TLV %d: type %02x len %u",
					    v->id, n, t.type, t.len);
			}
			check(g, pp_tlv_next(h, &pos, &t) == 0,
			    "%s: more TLVs than the %d expected", v->id, n);
		} else if (strcmp(key, "crc32c") == 0) {
			uint32_t c, want;

			check(g, h->crc32c == PP_CRC_OK, "%s: crc32c status "
			    "%d", v->id, h->crc32c);
			if (sscanf(val, "%8x(ok)", &want) == 1)
				check(g, pp_tlv_find(h, PP_TLV_CRC32C,
				    &t) == 1 && pp_tlv_crc32c(&t, &c) == 0 &&
				    c == want, "%s: crc32c value", v->id);
		} else if (strcmp(key, "aws_vpce_id") == 0) {
			const char *id = NULL;
			size_t il = 0;

			check(g, pp_tlv_find(h, PP_TLV_AWS, &t) == 1 &&
			    pp_tlv_aws_vpce(&t, &id, &il) == 0 &&
			    il == strlen(val) && memcmp(id, val, il) == 0,
			    "%s: aws_vpce_id", v->id);
		} else if (strcmp(key, "azure_linkid") == 0) {
			uint32_t id = 0;

			check(g, pp_tlv_find(h, PP_TLV_AZURE, &t) == 1 &&
			    pp_tlv_azure_linkid(&t, &id) == 0 &&
			    id == strtoul(val, NULL, 0), "%s: azure_linkid "
			    "%u", v->id, id);
		} else if (strcmp(key, "gcp_psc_conn_id") == 0) {
			uint64_t id = 0;

			check(g, pp_tlv_find(h, PP_TLV_GCP, &t) == 1 &&
			    pp_tlv_gcp_psc(&t, &id) == 0 &&
			    id == strtoull(val, NULL, 0), "%s: gcp", v->id);
		} else if (strcmp(key, "netns") == 0)
			check(g, text_tlv(h, PP_TLV_NETNS, val), "%s: netns",
			    v->id);
		else if (strcmp(key, "alpn") == 0)
			check(g, text_tlv(h, PP_TLV_ALPN, val), "%s: alpn",
			    v->id);
		else if (strcmp(key, "authority") == 0)
			check(g, text_tlv(h, PP_TLV_AUTHORITY, val),
			    "%s: authority", v->id);
		else if (strcmp(key, "authority_len") == 0)
			check(g, pp_tlv_find(h, PP_TLV_AUTHORITY, &t) == 1 &&
			    t.len == atoi(val), "%s: authority_len", v->id);
		else if (strcmp(key, "ssl_client") == 0 ||
		    strcmp(key, "ssl_verify") == 0) {
			int r = pp_tlv_find(h, PP_TLV_SSL, &t) == 1 ?
			    pp_tlv_ssl(&t, &ssl) : -1;

			check(g, r == 0 && (key[4] == 'c' ?
			    ssl.client == strtoul(val, NULL, 0) :
			    ssl.verify == strtoul(val, NULL, 0)),
			    "%s: %s", v->id, key);
		} else if (strncmp(key, "ssl_", 4) == 0) {
			static const struct {
				const char *k;
				uint8_t type;
			} subs[] = {
				{ "ssl_version", PP_TLV_SSL_VERSION },
				{ "ssl_cn", PP_TLV_SSL_CN },
				{ "ssl_cipher", PP_TLV_SSL_CIPHER },
				{ "ssl_sig_alg", PP_TLV_SSL_SIG_ALG },
				{ "ssl_key_alg", PP_TLV_SSL_KEY_ALG },
				{ "ssl_group", PP_TLV_SSL_GROUP },
				{ "ssl_sig_scheme", PP_TLV_SSL_SIG_SCHEME },
			};
			size_t i;
			int found = 0;

			for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
				if (strcmp(subs[i].k, key) == 0)
					found = ssl_sub(h, subs[i].type, sub,
					    sizeof(sub)) && strcmp(sub,
					    val) == 0;
			check(g, found, "%s: %s", v->id, key);
		} else if (strcmp(key, "need") != 0 &&
		    strcmp(key, "need_at_least") != 0 &&
		    strcmp(key, "reason") != 0)
			check(g, 0, "%s: unknown expected key %s", v->id, key);
	}
	if (!noaddr)
		check(g, h->has_addr == 1, "%s: has_addr %d", v->id,
		    h->has_addr);
}

static void
corpus(void)
{
	struct pp_header h;
	char a[64], val[64];
	size_t i, j;
	int r, code;

	ok(NVECTORS >= 70, "conformance corpus has %zu cases", NVECTORS);
	for (i = 0; i < NVECTORS; i++) {
		const struct vector *v = &vectors[i];
		struct t_group g = T_GROUP;
		int ver = strcmp(v->format, "v1") == 0 ? 1 : 2;

		r = parse_g(v->bytes, v->len, &h);
		if (strcmp(v->verdict, "valid") == 0) {
			if (ok(r > 0, "%s: valid (%s)", v->id,
			    res(r, &h, a, sizeof(a)))) {
				/* Fields from a parse of the plain bytes. */
				r = pp_parse(v->bytes, v->len, &h);
				vector_fields(&g, v, &h);
				group_ok(&g, "%s: fields", v->id);
			}
			r = parse_gv(v->bytes, v->len, ver, &h);
			ok(r > 0, "%s: valid for pp_parse_version(%d)", v->id,
			    ver);
			r = parse_gv(v->bytes, v->len, 3 - ver, &h);
			ok(r < 0, "%s: refused by pp_parse_version(%d)", v->id,
			    3 - ver);
		} else if (strcmp(v->verdict, "incomplete") == 0) {
			unsigned long need = 0;

			if (kv(v->expected, "need", val, sizeof(val)) ||
			    kv(v->expected, "need_at_least", val, sizeof(val)))
				need = strtoul(val, NULL, 10);
			ok(r == 0 && h.need == need, "%s: incomplete, need %lu "
			    "(%s)", v->id, need, res(r, &h, a, sizeof(a)));
		} else {
			code = -1;
			if (kv(v->expected, "reason", val, sizeof(val)))
				for (j = 0; j < sizeof(reasons) /
				    sizeof(reasons[0]); j++)
					if (strcmp(reasons[j].reason, val) == 0)
						code = reasons[j].code;
			for (j = 0; j < sizeof(offsets) / sizeof(offsets[0]);
			    j++)
				if (strcmp(offsets[j].id, v->id) == 0)
					break;
			if (!ok(code > 0 && j < sizeof(offsets) /
			    sizeof(offsets[0]), "%s: reason %s is known",
			    v->id, val))
				continue;
			if (offsets[j].code != 0)
				code = offsets[j].code;
			ok(r == -code && h.err_off == offsets[j].off,
			    "%s: invalid: %s at %u (%s)", v->id, codes[code],
			    offsets[j].off, res(r, &h, a, sizeof(a)));
		}
		g = (struct t_group)T_GROUP;
		prefixes(&g, v->id, (const uint8_t *)v->bytes, v->len);
		group_ok(&g, "%s: every prefix agrees", v->id);
	}
}

/*
 * Inputs found by the fuzzer (tests/fuzz/crashes/) that once broke an
 * invariant; each must give the answer noted here, and every prefix must
 * agree with it.
 */
static const struct pcase regressions[] = {
	/* Not from the fuzzer: keeps the table non-empty. */
	VX("sanity: v2 INET", SIG "2111000c" A4, 28),
};

static void
fuzz_regressions(void)
{
	static uint8_t buf[PP_V1_MAX * 40];
	struct pp_header h;
	char a[64];
	size_t i, len;
	int r;

	for (i = 0; i < sizeof(regressions) / sizeof(regressions[0]); i++) {
		const struct pcase *c = &regressions[i];
		struct t_group g = T_GROUP;

		len = unhex(c->in, buf, sizeof(buf));
		r = parse_g(buf, len, &h);
		ok(r == c->ret && (r >= 0 || h.err_off == c->aux) &&
		    (r != 0 || h.need == c->aux), "fuzz regression %s (%s)",
		    c->name, res(r, &h, a, sizeof(a)));
		prefixes(&g, c->name, buf, len);
		group_ok(&g, "fuzz regression %s: every prefix agrees",
		    c->name);
	}
}

int
main(void)
{
	arena_init();
	run_cases();
	v1_length();
	fields();
	unix_paths();
	v2_nibbles();
	v2_signature();
	v2_computed();
	versions();
	corpus();
	fuzz_regressions();
	return t_done();
}
