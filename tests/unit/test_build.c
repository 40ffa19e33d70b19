/*
 * test_build.c - pp_build_v1/pp_build_v2 round trips through pp_parse over
 * every family, transport, command and TLV set, with and without CRC32C;
 * exact wire bytes; -PP_ENOSPACE for every short buffer; the TLV walker,
 * the typed accessors, the names and the error strings.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyhdr.h"
#include "t.h"

#define CANARY	0xee
#define SLACK	32

static uint8_t out[PP_V2_MAX + 4096];
static uint8_t out2[PP_V2_MAX + 4096];

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
mk4(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
		abort();
}

static void
mk6(struct sockaddr_storage *ss, const char *ip, int port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
		abort();
}

/* A path, "@name" for an abstract name, "" for an unnamed socket. */
static void
mkun(struct sockaddr_storage *ss, const char *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	sun->sun_family = AF_UNIX;
	if (path[0] == '@')
		memcpy(sun->sun_path + 1, path + 1, strlen(path + 1));
	else
		memcpy(sun->sun_path, path, strlen(path));
}

static void
mkunspec(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	ss->ss_family = AF_UNSPEC;
}

/* Same endpoint: family, address and port (or the whole AF_UNIX path). */
static int
same_sa(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a;
	const struct sockaddr_in6 *b6 = (const void *)b;
	const struct sockaddr_un *au = (const void *)a, *bu = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	switch (a->ss_family) {
	case AF_INET:
		return a4->sin_port == b4->sin_port &&
		    memcmp(&a4->sin_addr, &b4->sin_addr, 4) == 0;
	case AF_INET6:
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
	case AF_UNIX:
		return memcmp(au->sun_path, bu->sun_path,
		    sizeof(au->sun_path)) == 0;
	}
	return 1;
}

static const char *
sa_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char a[PP_ADDRSTRLEN];

	if (pp_addr_ntop(ss, a, sizeof(a)) == NULL)
		snprintf(buf, cap, "(family %d)", ss->ss_family);
	else
		snprintf(buf, cap, "%s port %d", a, pp_addr_port(ss));
	return buf;
}

/* TLV sets used by the round trips. */
#define MAXT	16
struct tset {
	const char	*name;
	size_t		 n;
	struct pp_tlv	 t[MAXT];
};

static uint8_t uid[128], noop16[16], sslv[256], sslbare[5];
static uint8_t aws[] = "\x01vpce-00eafc458ec97b833";
static const uint8_t azure[] = { 0x01, 0xd2, 0x04, 0x00, 0x00 };
static const uint8_t gcp[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08 };
static struct tset sets[16];
static size_t nsets;
static size_t sslv_len;

static void
addsub(uint8_t type, const void *v, size_t len)
{
	sslv[sslv_len++] = type;
	sslv[sslv_len++] = (uint8_t)(len >> 8);
	sslv[sslv_len++] = (uint8_t)len;
	memcpy(sslv + sslv_len, v, len);
	sslv_len += len;
}

static struct pp_tlv
tlv(uint8_t type, const void *v, size_t len)
{
	struct pp_tlv t;

	t.type = type;
	t.len = (uint16_t)len;
	t.value = v;
	return t;
}

#define S(str)	(str), (sizeof(str) - 1)

static void
init_sets(void)
{
	struct tset *all;
	size_t i;

	for (i = 0; i < sizeof(uid); i++)
		uid[i] = (uint8_t)('A' + i % 26);
	sslv[0] = PP_CLIENT_SSL | PP_CLIENT_CERT_CONN | PP_CLIENT_CERT_SESS;
	sslv[1] = 0, sslv[2] = 0, sslv[3] = 0x01, sslv[4] = 0x02;
	sslv_len = 5;
	addsub(PP_TLV_SSL_VERSION, S("TLSv1.3"));
	addsub(PP_TLV_SSL_CN, S("client.example.com"));
	addsub(PP_TLV_SSL_CIPHER, S("TLS_AES_128_GCM_SHA256"));
	addsub(PP_TLV_SSL_SIG_ALG, S("SHA256"));
	addsub(PP_TLV_SSL_KEY_ALG, S("EC256"));
	addsub(PP_TLV_SSL_GROUP, S("X25519"));
	addsub(PP_TLV_SSL_SIG_SCHEME, S("ecdsa_secp256r1_sha256"));
	addsub(PP_TLV_SSL_CLIENT_CERT, S("\x30\x82\x01\x0a\x02\x82"));
	sslbare[0] = PP_CLIENT_SSL;

	nsets = 0;
	sets[nsets++] = (struct tset){ "no TLV", 0, { { 0, 0, NULL } } };
	sets[nsets++] = (struct tset){ "ALPN", 1,
	    { tlv(PP_TLV_ALPN, S("h2")) } };
	sets[nsets++] = (struct tset){ "AUTHORITY", 1,
	    { tlv(PP_TLV_AUTHORITY, S("example.com")) } };
	sets[nsets++] = (struct tset){ "ALPN+AUTHORITY", 2,
	    { tlv(PP_TLV_ALPN, S("http/1.1")),
	    tlv(PP_TLV_AUTHORITY, S("www.example.org")) } };
	sets[nsets++] = (struct tset){ "NOOP", 2,
	    { tlv(PP_TLV_NOOP, NULL, 0), tlv(PP_TLV_NOOP, noop16, 16) } };
	sets[nsets++] = (struct tset){ "UNIQUE_ID", 1,
	    { tlv(PP_TLV_UNIQUE_ID, uid, sizeof(uid)) } };
	sets[nsets++] = (struct tset){ "SSL", 1,
	    { tlv(PP_TLV_SSL, sslv, sslv_len) } };
	sets[nsets++] = (struct tset){ "SSL bare", 1,
	    { tlv(PP_TLV_SSL, sslbare, sizeof(sslbare)) } };
	sets[nsets++] = (struct tset){ "NETNS", 1,
	    { tlv(PP_TLV_NETNS, S("blue")) } };
	sets[nsets++] = (struct tset){ "AWS", 1,
	    { tlv(PP_TLV_AWS, aws, sizeof(aws) - 1) } };
	sets[nsets++] = (struct tset){ "Azure", 1,
	    { tlv(PP_TLV_AZURE, azure, sizeof(azure)) } };
	sets[nsets++] = (struct tset){ "GCP", 1,
	    { tlv(PP_TLV_GCP, gcp, sizeof(gcp)) } };
	sets[nsets++] = (struct tset){ "custom", 2,
	    { tlv(0xe1, S("foo")), tlv(0xe2, NULL, 0) } };
	all = &sets[nsets++];
	all->name = "everything";
	all->n = 0;
	for (i = 1; i < nsets - 1; i++) {
		size_t k;

		for (k = 0; k < sets[i].n; k++)
			all->t[all->n++] = sets[i].t[k];
	}
}

/* Family cases: what is given and what must come back. */
struct fcase {
	const char	*name;
	struct sockaddr_storage src, dst;	/* given */
	struct sockaddr_storage esrc, edst;	/* expected back */
	int		 fam;			/* PP_V2_FAM_* expected */
	const char	*v1;			/* expected v1 line, or NULL */
};

static struct fcase fams[10];
static size_t nfams;

static void
init_fams(void)
{
	struct fcase *f;

	nfams = 0;
	f = &fams[nfams++];
	f->name = "INET";
	mk4(&f->src, "192.0.2.1", 56324);
	mk4(&f->dst, "198.51.100.7", 443);
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_INET;
	f->v1 = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n";

	f = &fams[nfams++];
	f->name = "INET6";
	mk6(&f->src, "2001:db8::1", 1);
	mk6(&f->dst, "2001:db8:0:0:1::2", 65535);
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_INET6;
	f->v1 = "PROXY TCP6 2001:db8::1 2001:db8::1:0:0:2 1 65535\r\n";

	f = &fams[nfams++];
	f->name = "INET zero";
	mk4(&f->src, "0.0.0.0", 0);
	mk4(&f->dst, "255.255.255.255", 65535);
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_INET;
	f->v1 = "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n";

	f = &fams[nfams++];
	f->name = "mapped pair";
	mk6(&f->src, "::ffff:192.0.2.1", 1000);
	mk6(&f->dst, "::ffff:10.0.0.1", 80);
	mk4(&f->esrc, "192.0.2.1", 1000);
	mk4(&f->edst, "10.0.0.1", 80);
	f->fam = PP_V2_FAM_INET;
	f->v1 = "PROXY TCP4 192.0.2.1 10.0.0.1 1000 80\r\n";

	f = &fams[nfams++];
	f->name = "IPv4 and mapped";
	mk4(&f->src, "192.0.2.1", 1000);
	mk6(&f->dst, "::ffff:10.0.0.1", 80);
	mk4(&f->esrc, "192.0.2.1", 1000);
	mk4(&f->edst, "10.0.0.1", 80);
	f->fam = PP_V2_FAM_INET;
	f->v1 = "PROXY TCP4 192.0.2.1 10.0.0.1 1000 80\r\n";

	f = &fams[nfams++];
	f->name = "IPv4 and IPv6";
	mk4(&f->src, "192.0.2.1", 1000);
	mk6(&f->dst, "2001:db8::2", 443);
	mk6(&f->esrc, "::ffff:192.0.2.1", 1000);
	f->edst = f->dst;
	f->fam = PP_V2_FAM_INET6;
	f->v1 = "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1000 443\r\n";

	f = &fams[nfams++];
	f->name = "IPv6 and mapped";
	mk6(&f->src, "2001:db8::1", 1000);
	mk6(&f->dst, "::ffff:10.0.0.1", 443);
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_INET6;
	f->v1 = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1000 443\r\n";

	f = &fams[nfams++];
	f->name = "UNIX paths";
	mkun(&f->src, "/run/client.sock");
	mkun(&f->dst, "@abstract-server");
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_UNIX;
	f->v1 = NULL;

	f = &fams[nfams++];
	f->name = "UNIX unnamed";
	mkun(&f->src, "");
	mkun(&f->dst, "/tmp/s");
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_UNIX;
	f->v1 = NULL;

	f = &fams[nfams++];
	f->name = "UNSPEC";
	mkunspec(&f->src);
	mkunspec(&f->dst);
	f->esrc = f->src, f->edst = f->dst;
	f->fam = PP_V2_FAM_UNSPEC;
	f->v1 = "PROXY UNKNOWN\r\n";
}

static const unsigned int blklen[4] = { 0, 12, 36, 216 };

/*
 * Read a built v2 header with our own code: byte 12, byte 13, length, and
 * a CRC32C TLV if there is one (checked against a bitwise CRC32C).
 * Returns -1 on a malformed header, else the number of CRC32C TLVs.
 */
static int
wire_check(const uint8_t *b, size_t len, int *crcok)
{
	size_t off, end;
	unsigned int fam;
	int ncrc = 0;

	*crcok = 0;
	if (len < 16 || memcmp(b, PP_V2_SIG, PP_V2_SIG_LEN) != 0 ||
	    (b[12] >> 4) != 2 || (b[12] & 0xf) > 1)
		return -1;
	fam = b[13] >> 4;
	if (fam > 3 || (b[13] & 0xf) > 2)
		return -1;
	end = 16 + ((size_t)b[14] << 8 | b[15]);
	if (end != len)
		return -1;
	off = 16 + (len - 16 >= blklen[fam] ? blklen[fam] : 0);
	while (off < end) {
		size_t tl;

		if (off + 3 > end)
			return -1;
		tl = (size_t)b[off + 1] << 8 | b[off + 2];
		if (off + 3 + tl > end)
			return -1;
		if (b[off] == PP_TLV_CRC32C && tl == 4) {
			uint8_t copy[PP_V2_MAX];
			uint32_t c, got;

			memcpy(copy, b, len);
			memset(copy + off + 3, 0, 4);
			c = ref_crc32c(copy, len);
			got = (uint32_t)b[off + 3] << 24 |
			    (uint32_t)b[off + 4] << 16 |
			    (uint32_t)b[off + 5] << 8 | b[off + 6];
			*crcok = c == got;
			ncrc++;
		}
		off += 3 + tl;
	}
	return ncrc;
}

/* Build v2, parse it back, compare everything.  0 when all is well. */
static int
v2_trip(struct t_group *g, const char *what, const struct fcase *f,
    int cmd, int tr, const struct tset *s, int flags)
{
	struct pp_header in, h;
	struct pp_tlv t;
	size_t pos = 0, k = 0, cap;
	char a[160], b[160];
	int n, r, ncrc, crcok, fails = g->fails;
	int etr = tr == 0 ? PP_V2_TRANS_STREAM : tr;

	memset(&in, 0, sizeof(in));
	in.version = 2;
	in.command = (uint8_t)cmd;
	in.transport = (uint8_t)tr;
	in.src = f->src;
	in.dst = f->dst;
	n = pp_build_v2(out, sizeof(out), &in, s->t, s->n, flags);
	if (!check(g, n >= 16, "%s: pp_build_v2 gives %d", what, n))
		return 1;
	ncrc = wire_check(out, (size_t)n, &crcok);
	check(g, ncrc >= 0, "%s: malformed v2 header on the wire", what);
	if (flags & PP_BUILD_CRC32C)
		check(g, ncrc == 1 && crcok, "%s: CRC32C TLV (%d) wrong",
		    what, ncrc);
	else
		check(g, ncrc == 0, "%s: CRC32C TLV without the flag", what);
	check(g, out[12] == (cmd == PP_V2_CMD_LOCAL ? 0x20 : 0x21),
	    "%s: byte 12 is %02x", what, out[12]);

	/* Payload after the header must not change anything. */
	memcpy(out + n, "\r\n\r\n\0\r\nQUIT\nPAYLOAD", 19);
	memset(&h, 0xa5, sizeof(h));
	r = pp_parse(out, (size_t)n + 19, &h);
	if (!check(g, r == n && h.hdr_len == (uint32_t)n && h.version == 2,
	    "%s: parse gives %d for %d built bytes", what, r, n))
		return 1;
	check(g, h.command == cmd, "%s: command %d", what, h.command);
	if (cmd == PP_V2_CMD_PROXY) {
		check(g, h.family == f->fam, "%s: family %d, expected %d",
		    what, h.family, f->fam);
		if (f->fam != PP_V2_FAM_UNSPEC) {
			check(g, h.has_addr == 1 && h.transport == etr,
			    "%s: has_addr %d transport %d", what, h.has_addr,
			    h.transport);
			check(g, same_sa(&h.src, &f->esrc), "%s: src %s, "
			    "expected %s", what, sa_text(&h.src, a, sizeof(a)),
			    sa_text(&f->esrc, b, sizeof(b)));
			check(g, same_sa(&h.dst, &f->edst), "%s: dst %s, "
			    "expected %s", what, sa_text(&h.dst, a, sizeof(a)),
			    sa_text(&f->edst, b, sizeof(b)));
			check(g, out[13] == (f->fam << 4 | etr),
			    "%s: byte 13 is %02x", what, out[13]);
		} else
			check(g, h.has_addr == 0, "%s: UNSPEC with address",
			    what);
		check(g, h.crc32c == ((flags & PP_BUILD_CRC32C) ?
		    PP_CRC_OK : PP_CRC_ABSENT), "%s: crc32c status %d", what,
		    h.crc32c);
	} else
		check(g, h.has_addr == 0, "%s: LOCAL with address", what);

	/* The TLVs come back in order, then the CRC32C one. */
	while ((r = pp_tlv_next(&h, &pos, &t)) == 1) {
		if (k < s->n) {
			const struct pp_tlv *w = &s->t[k];

			check(g, t.type == w->type && t.len == w->len &&
			    (t.len == 0 || memcmp(t.value, w->value,
			    t.len) == 0), "%s: TLV %zu is %02x/%u, expected "
			    "%02x/%u", what, k, t.type, t.len, w->type,
			    w->len);
		} else if (k == s->n && (flags & PP_BUILD_CRC32C)) {
			uint32_t c;

			check(g, t.type == PP_TLV_CRC32C && t.len == 4 &&
			    pp_tlv_crc32c(&t, &c) == 0, "%s: last TLV is "
			    "%02x, expected CRC32C", what, t.type);
		} else
			check(g, 0, "%s: extra TLV %02x", what, t.type);
		k++;
	}
	check(g, r == 0 && k == s->n + ((flags & PP_BUILD_CRC32C) ? 1 : 0),
	    "%s: %zu TLVs back (walk %d), %zu given", what, k, r, s->n);

	/* Every smaller buffer: -PP_ENOSPACE, nothing written past cap. */
	for (cap = 0; cap < (size_t)n; cap++) {
		size_t i;

		memset(out2, CANARY, (size_t)n + SLACK);
		r = pp_build_v2(out2, cap, &in, s->t, s->n, flags);
		if (!check(g, r == -PP_ENOSPACE, "%s: cap %zu of %d gives %d",
		    what, cap, n, r))
			break;
		for (i = cap; i < (size_t)n + SLACK; i++)
			if (out2[i] != CANARY)
				break;
		if (!check(g, i == (size_t)n + SLACK, "%s: cap %zu: byte %zu "
		    "written", what, cap, i))
			break;
	}
	memset(out2, CANARY, (size_t)n + SLACK);
	r = pp_build_v2(out2, (size_t)n, &in, s->t, s->n, flags);
	check(g, r == n && out2[n] == CANARY &&
	    (flags & PP_BUILD_CRC32C || memcmp(out, out2, (size_t)n) == 0),
	    "%s: exact cap gives %d", what, r);
	return g->fails != fails;
}

static void
v2_round_trips(void)
{
	static const int trs[] = { 0, PP_V2_TRANS_STREAM, PP_V2_TRANS_DGRAM };
	static const char *const trn[] = { "default", "STREAM", "DGRAM" };
	size_t fi, si;
	int cmd, ti, flags;
	char what[160];

	for (fi = 0; fi < nfams; fi++)
		for (cmd = PP_V2_CMD_LOCAL; cmd <= PP_V2_CMD_PROXY; cmd++)
			for (ti = 0; ti < 3; ti++) {
				struct t_group g = T_GROUP;

				for (si = 0; si < nsets; si++)
					for (flags = 0; flags <= 1; flags++) {
						snprintf(what, sizeof(what),
						    "%s %s %s %s%s",
						    fams[fi].name, cmd ?
						    "PROXY" : "LOCAL",
						    trn[ti], sets[si].name,
						    flags ? " +CRC32C" : "");
						v2_trip(&g, what, &fams[fi],
						    cmd, trs[ti], &sets[si],
						    flags ? PP_BUILD_CRC32C :
						    0);
					}
				group_ok(&g, "v2 round trips: %s, %s, %s "
				    "transport, every TLV set, with and "
				    "without CRC32C", fams[fi].name,
				    cmd ? "PROXY" : "LOCAL", trn[ti]);
			}
}

/* Exact bytes of a few v2 headers. */
static void
v2_wire(void)
{
	static const uint8_t inet[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"
	    "\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbb";
	static const uint8_t alpn[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x18"
	    "\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbb"
	    "\x01\x00\x02h2\x03\x00\x04\0\0\0\0";
	struct pp_header in;
	struct pp_tlv t = tlv(PP_TLV_ALPN, "h2", 2);
	uint8_t want[64];
	uint32_t c;
	int n;

	memset(&in, 0, sizeof(in));
	in.command = PP_V2_CMD_PROXY;
	in.src = fams[0].src;
	in.dst = fams[0].dst;
	n = pp_build_v2(out, sizeof(out), &in, NULL, 0, 0);
	is_mem(out, n > 0 ? (size_t)n : 0, inet, sizeof(inet) - 1,
	    "v2 INET bytes: signature, 0x21, 0x11, length 12, addresses, "
	    "ports, network order");

	memcpy(want, alpn, sizeof(alpn) - 1);
	c = ref_crc32c(want, sizeof(alpn) - 1);
	want[36] = (uint8_t)(c >> 24), want[37] = (uint8_t)(c >> 16);
	want[38] = (uint8_t)(c >> 8), want[39] = (uint8_t)c;
	n = pp_build_v2(out, sizeof(out), &in, &t, 1, PP_BUILD_CRC32C);
	is_mem(out, n > 0 ? (size_t)n : 0, want, sizeof(alpn) - 1,
	    "v2 INET + ALPN + CRC32C bytes (CRC32C big-endian, computed "
	    "over the whole header)");

	in.command = PP_V2_CMD_LOCAL;
	n = pp_build_v2(out, sizeof(out), &in, NULL, 0, 0);
	ok(n >= 16 && memcmp(out, PP_V2_SIG, 12) == 0 && out[12] == 0x20,
	    "v2 LOCAL: byte 12 is 0x20 (%d bytes)", n);
}

/* The 65535-byte limit of the length field. */
static void
v2_limits(void)
{
	static uint8_t big[65536];
	struct pp_header in, h;
	struct pp_tlv t;
	int n;

	memset(&in, 0, sizeof(in));
	in.command = PP_V2_CMD_PROXY;
	in.src = fams[0].src;
	in.dst = fams[0].dst;
	t = tlv(PP_TLV_NOOP, big, 65535 - 12 - 3);
	n = pp_build_v2(out, sizeof(out), &in, &t, 1, 0);
	ok(n == PP_V2_MAX && pp_parse(out, (size_t)n, &h) == n,
	    "v2 of length 65535 builds and parses (%d)", n);
	t.len++;
	n = pp_build_v2(out, sizeof(out), &in, &t, 1, 0);
	ok(n < 0, "v2 of length 65536 is refused (%d)", n);
	if (n < 0 && n != -PP_EINVAL)
		diag("note: refused with %s", pp_errname(n));
	t.len = 65535 - 12 - 3 - 7;
	n = pp_build_v2(out, sizeof(out), &in, &t, 1, PP_BUILD_CRC32C);
	ok(n == PP_V2_MAX && pp_parse(out, (size_t)n, &h) == n &&
	    h.crc32c == PP_CRC_OK, "v2 of length 65535 with CRC32C (%d)", n);
	t.len++;
	n = pp_build_v2(out, sizeof(out), &in, &t, 1, PP_BUILD_CRC32C);
	ok(n < 0, "v2 of length 65536 with CRC32C is refused (%d)", n);

	in.dst = fams[1].dst;
	n = pp_build_v2(out, sizeof(out), &in, NULL, 0, 0);
	ok(n < 0 || (pp_parse(out, (size_t)n, &h) == n && h.has_addr &&
	    h.family == PP_V2_FAM_INET6), "v2 mixed pair: INET6 or refused "
	    "(%d)", n);
	mkun(&in.dst, "/x");
	n = pp_build_v2(out, sizeof(out), &in, NULL, 0, 0);
	ok(n == -PP_EINVAL, "v2 INET source with UNIX destination: "
	    "-PP_EINVAL (%d)", n);
}

/* v1: exact lines, round trips, refusals. */
static void
v1_build(void)
{
	struct pp_header in, h;
	char a[160], b[160];
	size_t fi, cap, i;
	int n, r;

	for (fi = 0; fi < nfams; fi++) {
		const struct fcase *f = &fams[fi];
		struct t_group g = T_GROUP;

		memset(&in, 0, sizeof(in));
		in.version = 1;
		in.command = PP_V2_CMD_PROXY;
		in.src = f->src;
		in.dst = f->dst;
		n = pp_build_v1(out, sizeof(out), &in);
		if (f->v1 == NULL) {
			is_int(n, -PP_EINVAL, "v1 %s: -PP_EINVAL", f->name);
			continue;
		}
		is_mem(out, n > 0 ? (size_t)n : 0, f->v1, strlen(f->v1),
		    "v1 %s: exact line", f->name);
		if (n <= 0)
			continue;
		memset(&h, 0xa5, sizeof(h));
		r = pp_parse(out, (size_t)n, &h);
		check(&g, r == n && h.version == 1 &&
		    h.command == PP_V2_CMD_PROXY, "v1 %s: parse gives %d",
		    f->name, r);
		if (f->fam == PP_V2_FAM_UNSPEC)
			check(&g, h.has_addr == 0 &&
			    h.family == PP_V2_FAM_UNSPEC, "v1 UNKNOWN back");
		else {
			check(&g, h.family == f->fam, "family %d", h.family);
			check(&g, same_sa(&h.src, &f->esrc), "src %s, "
			    "expected %s", sa_text(&h.src, a, sizeof(a)),
			    sa_text(&f->esrc, b, sizeof(b)));
			check(&g, same_sa(&h.dst, &f->edst), "dst %s, "
			    "expected %s", sa_text(&h.dst, a, sizeof(a)),
			    sa_text(&f->edst, b, sizeof(b)));
		}
		for (cap = 0; cap < (size_t)n; cap++) {
			memset(out2, CANARY, (size_t)n + SLACK);
			r = pp_build_v1(out2, cap, &in);
			if (!check(&g, r == -PP_ENOSPACE, "cap %zu of %d "
			    "gives %d", cap, n, r))
				break;
			for (i = cap; i < (size_t)n + SLACK; i++)
				if (out2[i] != CANARY)
					break;
			if (!check(&g, i == (size_t)n + SLACK, "cap %zu: "
			    "byte %zu written", cap, i))
				break;
		}
		memset(out2, CANARY, (size_t)n + SLACK);
		r = pp_build_v1(out2, (size_t)n, &in);
		check(&g, r == n && memcmp(out, out2, (size_t)n) == 0 &&
		    out2[n] == CANARY, "exact cap %d gives %d", n, r);
		group_ok(&g, "v1 %s: parses back the same; -PP_ENOSPACE for "
		    "caps 0..%d, nothing written past cap", f->name, n - 1);

		/* LOCAL is UNKNOWN in v1. */
		in.command = PP_V2_CMD_LOCAL;
		n = pp_build_v1(out, sizeof(out), &in);
		is_mem(out, n > 0 ? (size_t)n : 0, "PROXY UNKNOWN\r\n", 15,
		    "v1 %s LOCAL: PROXY UNKNOWN", f->name);
	}

	/* DGRAM cannot be carried by v1. */
	memset(&in, 0, sizeof(in));
	in.command = PP_V2_CMD_PROXY;
	in.transport = PP_V2_TRANS_DGRAM;
	in.src = fams[0].src;
	in.dst = fams[0].dst;
	is_int(pp_build_v1(out, sizeof(out), &in), -PP_EINVAL,
	    "v1 INET DGRAM: -PP_EINVAL");
	in.src = fams[1].src;
	in.dst = fams[1].dst;
	is_int(pp_build_v1(out, sizeof(out), &in), -PP_EINVAL,
	    "v1 INET6 DGRAM: -PP_EINVAL");
	in.transport = PP_V2_TRANS_STREAM;
	in.src = fams[7].src;
	in.dst = fams[7].dst;
	is_int(pp_build_v1(out, sizeof(out), &in), -PP_EINVAL,
	    "v1 UNIX STREAM: -PP_EINVAL");
	is_int(pp_build_v1(out, 0, &in), -PP_EINVAL,
	    "v1 UNIX into a zero buffer: -PP_EINVAL");
	in.src = fams[0].src;
	n = pp_build_v1(out, sizeof(out), &in);
	ok(n == -PP_EINVAL, "v1 INET source with UNIX destination: "
	    "-PP_EINVAL (%d)", n);
}

/* pp_tlv_walk over raw areas. */
static void
walker(void)
{
	struct pp_tlv t;
	size_t pos;
	int r;

	pos = 0;
	ok(pp_tlv_walk((const uint8_t *)"", 0, &pos, &t) == 0 && pos == 0,
	    "pp_tlv_walk: empty area ends at once");
	pos = 0;
	r = pp_tlv_walk((const uint8_t *)"\x01\x00\x00", 3, &pos, &t);
	ok(r == 1 && t.type == 1 && t.len == 0 && pos == 3,
	    "pp_tlv_walk: empty TLV, pos 3");
	ok(pp_tlv_walk((const uint8_t *)"\x01\x00\x00", 3, &pos, &t) == 0 &&
	    pp_tlv_walk((const uint8_t *)"\x01\x00\x00", 3, &pos, &t) == 0,
	    "pp_tlv_walk: stays at the end");
	pos = 0;
	r = pp_tlv_walk((const uint8_t *)"\x02\x00\x02hi\x04\x00\x01z", 9,
	    &pos, &t);
	ok(r == 1 && t.type == 2 && t.len == 2 && memcmp(t.value, "hi",
	    2) == 0 && pos == 5, "pp_tlv_walk: first of two");
	r = pp_tlv_walk((const uint8_t *)"\x02\x00\x02hi\x04\x00\x01z", 9,
	    &pos, &t);
	ok(r == 1 && t.type == 4 && t.len == 1 && t.value[0] == 'z' &&
	    pos == 9, "pp_tlv_walk: second of two");
	pos = 0;
	is_int(pp_tlv_walk((const uint8_t *)"\x01", 1, &pos, &t),
	    -PP_ETLV_OVERRUN, "pp_tlv_walk: one stray byte");
	pos = 0;
	is_int(pp_tlv_walk((const uint8_t *)"\x01\x00", 2, &pos, &t),
	    -PP_ETLV_OVERRUN, "pp_tlv_walk: two stray bytes");
	pos = 0;
	is_int(pp_tlv_walk((const uint8_t *)"\x01\x00\x05zz", 5, &pos, &t),
	    -PP_ETLV_OVERRUN, "pp_tlv_walk: value past the area");
	pos = 0;
	is_int(pp_tlv_walk((const uint8_t *)"\x01\xff\xff", 3, &pos, &t),
	    -PP_ETLV_OVERRUN, "pp_tlv_walk: length 65535 past the area");
	pos = 7;
	ok(pp_tlv_walk((const uint8_t *)"\x01\x00\x00", 3, &pos, &t) <= 0,
	    "pp_tlv_walk: pos beyond the area does not read");
}

static void
accessors(void)
{
	struct pp_tlv t;
	struct pp_ssl ssl;
	const char *id;
	size_t idlen;
	uint32_t u32;
	uint64_t u64;

	t = tlv(PP_TLV_SSL, sslv, sslv_len);
	ok(pp_tlv_ssl(&t, &ssl) == 0 && ssl.client == 0x07 &&
	    ssl.verify == 0x0102 && ssl.sub == sslv + 5 &&
	    ssl.sub_len == sslv_len - 5,
	    "pp_tlv_ssl: client, verify (big-endian), sub-TLVs");
	t = tlv(PP_TLV_SSL, sslbare, 5);
	ok(pp_tlv_ssl(&t, &ssl) == 0 && ssl.client == PP_CLIENT_SSL &&
	    ssl.verify == 0 && ssl.sub_len == 0, "pp_tlv_ssl: 5 bytes");
	t = tlv(PP_TLV_SSL, sslbare, 4);
	is_int(pp_tlv_ssl(&t, &ssl), -PP_EINVAL, "pp_tlv_ssl: 4 bytes");
	t = tlv(PP_TLV_ALPN, sslv, sslv_len);
	is_int(pp_tlv_ssl(&t, &ssl), -PP_EINVAL, "pp_tlv_ssl: wrong type");

	t = tlv(PP_TLV_AWS, aws, sizeof(aws) - 1);
	ok(pp_tlv_aws_vpce(&t, &id, &idlen) == 0 && idlen == 22 &&
	    memcmp(id, "vpce-00eafc458ec97b833", 22) == 0,
	    "pp_tlv_aws_vpce: the id after subtype 0x01");
	t = tlv(PP_TLV_AWS, "\x02vpce-1", 7);
	is_int(pp_tlv_aws_vpce(&t, &id, &idlen), -PP_EINVAL,
	    "pp_tlv_aws_vpce: subtype 0x02");
	t = tlv(PP_TLV_AWS, NULL, 0);
	is_int(pp_tlv_aws_vpce(&t, &id, &idlen), -PP_EINVAL,
	    "pp_tlv_aws_vpce: empty");
	t = tlv(PP_TLV_AZURE, aws, sizeof(aws) - 1);
	is_int(pp_tlv_aws_vpce(&t, &id, &idlen), -PP_EINVAL,
	    "pp_tlv_aws_vpce: wrong type");

	t = tlv(PP_TLV_AZURE, azure, sizeof(azure));
	ok(pp_tlv_azure_linkid(&t, &u32) == 0 && u32 == 1234,
	    "pp_tlv_azure_linkid: d2 04 00 00 is 1234 (little-endian)");
	t = tlv(PP_TLV_AZURE, "\x01\x78\x56\x34\x12", 5);
	ok(pp_tlv_azure_linkid(&t, &u32) == 0 && u32 == 0x12345678,
	    "pp_tlv_azure_linkid: 0x12345678");
	t = tlv(PP_TLV_AZURE, "\x01\x78\x56\x34", 4);
	is_int(pp_tlv_azure_linkid(&t, &u32), -PP_EINVAL,
	    "pp_tlv_azure_linkid: 4 bytes");
	t = tlv(PP_TLV_AZURE, "\x01\x78\x56\x34\x12\x00", 6);
	is_int(pp_tlv_azure_linkid(&t, &u32), -PP_EINVAL,
	    "pp_tlv_azure_linkid: 6 bytes");
	t = tlv(PP_TLV_AZURE, "\x02\x78\x56\x34\x12", 5);
	is_int(pp_tlv_azure_linkid(&t, &u32), -PP_EINVAL,
	    "pp_tlv_azure_linkid: subtype 0x02");
	t = tlv(PP_TLV_AWS, azure, sizeof(azure));
	is_int(pp_tlv_azure_linkid(&t, &u32), -PP_EINVAL,
	    "pp_tlv_azure_linkid: wrong type");

	t = tlv(PP_TLV_GCP, gcp, sizeof(gcp));
	ok(pp_tlv_gcp_psc(&t, &u64) == 0 && u64 == 0x0102030405060708ULL,
	    "pp_tlv_gcp_psc: uint64 big-endian");
	t = tlv(PP_TLV_GCP, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8);
	ok(pp_tlv_gcp_psc(&t, &u64) == 0 && u64 == 0xfffffffffffffffeULL,
	    "pp_tlv_gcp_psc: top bit set");
	t = tlv(PP_TLV_GCP, gcp, 7);
	is_int(pp_tlv_gcp_psc(&t, &u64), -PP_EINVAL, "pp_tlv_gcp_psc: 7 bytes");
	t = tlv(PP_TLV_GCP, "123456789", 9);
	is_int(pp_tlv_gcp_psc(&t, &u64), -PP_EINVAL, "pp_tlv_gcp_psc: 9 bytes");
	t = tlv(PP_TLV_NOOP, gcp, 8);
	is_int(pp_tlv_gcp_psc(&t, &u64), -PP_EINVAL,
	    "pp_tlv_gcp_psc: wrong type");

	t = tlv(PP_TLV_CRC32C, "\xb9\x28\x6f\xa6", 4);
	ok(pp_tlv_crc32c(&t, &u32) == 0 && u32 == 0xb9286fa6,
	    "pp_tlv_crc32c: big-endian");
	t = tlv(PP_TLV_CRC32C, "\xb9\x28\x6f", 3);
	is_int(pp_tlv_crc32c(&t, &u32), -PP_EINVAL, "pp_tlv_crc32c: 3 bytes");
	t = tlv(PP_TLV_CRC32C, "\xb9\x28\x6f\xa6\x00", 5);
	is_int(pp_tlv_crc32c(&t, &u32), -PP_EINVAL, "pp_tlv_crc32c: 5 bytes");
	t = tlv(PP_TLV_NOOP, "\xb9\x28\x6f\xa6", 4);
	is_int(pp_tlv_crc32c(&t, &u32), -PP_EINVAL,
	    "pp_tlv_crc32c: wrong type");
}

static void
names(void)
{
	static const struct {
		int type;
		const char *name;
	} tn[] = {
		{ PP_TLV_ALPN, "alpn" }, { PP_TLV_AUTHORITY, "authority" },
		{ PP_TLV_CRC32C, "crc32c" }, { PP_TLV_NOOP, "noop" },
		{ PP_TLV_UNIQUE_ID, "unique-id" }, { PP_TLV_SSL, "ssl" },
		{ PP_TLV_NETNS, "netns" }, { PP_TLV_AWS, "aws" },
		{ PP_TLV_AZURE, "azure" }, { PP_TLV_GCP, "gcp" },
	}, sn[] = {
		{ PP_TLV_SSL_VERSION, "version" }, { PP_TLV_SSL_CN, "cn" },
		{ PP_TLV_SSL_CIPHER, "cipher" },
		{ PP_TLV_SSL_SIG_ALG, "sig_alg" },
		{ PP_TLV_SSL_KEY_ALG, "key_alg" },
		{ PP_TLV_SSL_GROUP, "group" },
		{ PP_TLV_SSL_SIG_SCHEME, "sig_scheme" },
		{ PP_TLV_SSL_CLIENT_CERT, "client_cert" },
	};
	struct t_group g1 = T_GROUP, g2 = T_GROUP, g3 = T_GROUP;
	char upper[32];
	size_t i, k;
	int type;

	for (i = 0; i < sizeof(tn) / sizeof(tn[0]); i++) {
		is_str(pp_tlv_name((uint8_t)tn[i].type), tn[i].name,
		    "pp_tlv_name(0x%02x) is %s", tn[i].type, tn[i].name);
		is_int(pp_tlv_type(tn[i].name), tn[i].type,
		    "pp_tlv_type(\"%s\") is 0x%02x", tn[i].name, tn[i].type);
		for (k = 0; tn[i].name[k] != '\0' && k < sizeof(upper) - 1;
		    k++)
			upper[k] = (char)(k % 2 ? tn[i].name[k] :
			    toupper((unsigned char)tn[i].name[k]));
		upper[k] = '\0';
		check(&g3, pp_tlv_type(upper) == tn[i].type,
		    "pp_tlv_type(\"%s\")", upper);
	}
	group_ok(&g3, "pp_tlv_type ignores case");
	for (type = 0; type < 256; type++) {
		for (i = 0; i < sizeof(tn) / sizeof(tn[0]); i++)
			if (tn[i].type == type)
				break;
		if (i == sizeof(tn) / sizeof(tn[0]))
			check(&g1, pp_tlv_name((uint8_t)type) == NULL,
			    "pp_tlv_name(0x%02x) is \"%s\"", type,
			    pp_tlv_name((uint8_t)type));
		for (i = 0; i < sizeof(sn) / sizeof(sn[0]); i++)
			if (sn[i].type == type)
				break;
		if (i == sizeof(sn) / sizeof(sn[0]))
			check(&g2, pp_ssl_sub_name((uint8_t)type) == NULL,
			    "pp_ssl_sub_name(0x%02x) is \"%s\"", type,
			    pp_ssl_sub_name((uint8_t)type));
	}
	group_ok(&g1, "pp_tlv_name is NULL for every other type");
	group_ok(&g2, "pp_ssl_sub_name is NULL for every other type");
	for (i = 0; i < sizeof(sn) / sizeof(sn[0]); i++)
		is_str(pp_ssl_sub_name((uint8_t)sn[i].type), sn[i].name,
		    "pp_ssl_sub_name(0x%02x) is %s", sn[i].type, sn[i].name);
	is_int(pp_tlv_type("nope"), -1, "pp_tlv_type(\"nope\") is -1");
	is_int(pp_tlv_type(""), -1, "pp_tlv_type(\"\") is -1");
	is_int(pp_tlv_type("alp"), -1, "pp_tlv_type(\"alp\") is -1");
	is_int(pp_tlv_type("alpnx"), -1, "pp_tlv_type(\"alpnx\") is -1");
}

static void
errors(void)
{
	static const int odd[] = { PP_ERROR_MAX, -PP_ERROR_MAX, 1000, -1000,
	    INT_MAX, INT_MIN, INT_MIN + 1 };
	struct t_group g = T_GROUP, gd = T_GROUP, go = T_GROUP;
	const char *s, *n, *s2, *n2;
	int c, d;

	for (c = 0; c < PP_ERROR_MAX; c++) {
		s = pp_strerror(c);
		n = pp_errname(c);
		s2 = pp_strerror(-c);
		n2 = pp_errname(-c);
		check(&g, s != NULL && n != NULL && *s != '\0' && *n != '\0',
		    "code %d: strerror \"%s\", errname \"%s\"", c,
		    s ? s : "(null)", n ? n : "(null)");
		check(&g, s2 != NULL && n2 != NULL && s != NULL && n != NULL &&
		    strcmp(s, s2) == 0 && strcmp(n, n2) == 0,
		    "code %d: either sign gives the same text", c);
		for (d = 0; d < c && n != NULL; d++) {
			const char *m = pp_errname(d);

			check(&gd, m != NULL && strcmp(m, n) != 0,
			    "codes %d and %d share the name \"%s\"", d, c, n);
		}
	}
	group_ok(&g, "pp_strerror and pp_errname: text for every code, "
	    "either sign");
	group_ok(&gd, "pp_errname: names are distinct");
	/* Out of range, in a child each: a crash must not end the test. */
	for (c = 0; c < (int)(sizeof(odd) / sizeof(odd[0])); c++) {
		pid_t pid;
		int st = 0;

		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			s = pp_strerror(odd[c]);
			n = pp_errname(odd[c]);
			_exit(s != NULL && n != NULL && *s != '\0' &&
			    *n != '\0' ? 0 : 1);
		}
		if (pid == -1 || waitpid(pid, &st, 0) != pid)
			st = -1;
		check(&go, WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "code %d: %s %d", odd[c], WIFSIGNALED(st) ?
		    "killed by signal" : "NULL, empty, or child exit status",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
	group_ok(&go, "pp_strerror and pp_errname: text out of range too "
	    "(INT_MIN included)");
	diag("e.g. %s: %s; %s: %s", pp_errname(-PP_EV1_LONG),
	    pp_strerror(-PP_EV1_LONG), pp_errname(PP_ECRC_BAD),
	    pp_strerror(PP_ECRC_BAD));
}

static void
addr_helpers(void)
{
	struct sockaddr_storage ss;
	char buf[PP_ADDRSTRLEN];

	mk4(&ss, "192.0.2.1", 8080);
	ok(pp_addr_ntop(&ss, buf, sizeof(buf)) == buf &&
	    strcmp(buf, "192.0.2.1") == 0 && pp_addr_port(&ss) == 8080,
	    "pp_addr_ntop/pp_addr_port: IPv4");
	mk6(&ss, "2001:DB8:0:0::1", 443);
	ok(pp_addr_ntop(&ss, buf, sizeof(buf)) == buf &&
	    strcmp(buf, "2001:db8::1") == 0 && pp_addr_port(&ss) == 443,
	    "pp_addr_ntop/pp_addr_port: IPv6, canonical");
	mk6(&ss, "::ffff:10.1.2.3", 1);
	ok(pp_addr_ntop(&ss, buf, sizeof(buf)) == buf &&
	    strcmp(buf, "::ffff:10.1.2.3") == 0,
	    "pp_addr_ntop: a mapped address stays IPv6 text");
	mkun(&ss, "@name");
	ok(pp_addr_ntop(&ss, buf, sizeof(buf)) == buf &&
	    strcmp(buf, "@name") == 0 && pp_addr_port(&ss) == -1,
	    "pp_addr_ntop: abstract name with @, no port");
	mkunspec(&ss);
	ok(pp_addr_ntop(&ss, buf, sizeof(buf)) == NULL &&
	    pp_addr_port(&ss) == -1, "pp_addr_ntop: AF_UNSPEC is NULL, -1");
}

int
main(void)
{
	init_sets();
	init_fams();
	v2_wire();
	v2_round_trips();
	v2_limits();
	v1_build();
	walker();
	accessors();
	names();
	errors();
	addr_helpers();
	return t_done();
}
