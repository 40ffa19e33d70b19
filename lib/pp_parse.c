/*
 * The PROXY header parser, v1 and v2 (HAProxy's doc/proxy-protocol.txt).
 *
 * One left-to-right pass.  Every decision depends only on the bytes up to
 * the one being looked at (plus the one after a CR), so an invalid input
 * is refused at the first byte that makes it so, and a prefix of any input
 * gives either "incomplete" or the same answer as the whole.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyhdr.h"

#define V1_SIG		"PROXY "
#define V1_SIG_LEN	6
#define V1_MIN_NEED	8	/* spec 2.2: 8 bytes tell v1 and v2 apart */
#define V1_ADDR_MAX	45	/* INET6_ADDRSTRLEN - 1 */
#define V1_PORT_MAX	5

static int
fail(struct pp_header *h, int code, size_t off)
{
	h->err_off = (uint32_t)off;
	h->need = 0;
	return -code;
}

static int
more(struct pp_header *h, size_t need)
{
	h->need = (uint32_t)need;
	h->err_off = 0;
	return 0;
}

/* v1 needs at least one byte more than it has, and 8 to start with. */
static int
v1_more(struct pp_header *h, size_t len)
{
	return more(h, len + 1 < V1_MIN_NEED ? V1_MIN_NEED : len + 1);
}

/* Strict dotted quad: four decimal octets, no leading zeros, <= 255. */
static int
v1_inet4(const uint8_t *s, size_t n, uint8_t out[4])
{
	size_t i = 0, k, digits;
	unsigned v;

	for (k = 0; k < 4; k++) {
		if (k > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		v = 0;
		digits = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return 0;
		if (digits > 1 && s[i - digits] == '0')
			return 0;	/* "01" could be read as octal */
		out[k] = (uint8_t)v;
	}
	return i == n;
}

static int
v1_inet6(const uint8_t *s, size_t n, struct in6_addr *out)
{
	char text[V1_ADDR_MAX + 1];

	if (n > V1_ADDR_MAX)
		return 0;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, out) == 1;
}

static int
v1_has_colon(const uint8_t *s, size_t n)
{
	return memchr(s, ':', n) != NULL;
}

/*
 * Check an address token of a TCP4 (fam == AF_INET) or TCP6 line and store
 * it.  Returns 0, or the error code: the address of the other family is a
 * family mismatch, anything else a bad address.
 */
static int
v1_addr(const uint8_t *s, size_t n, int fam, struct sockaddr_storage *ss,
    int bad)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	uint8_t a4[4];
	struct in6_addr a6;

	if (fam == AF_INET) {
		if (v1_has_colon(s, n))
			return v1_inet6(s, n, &a6) ? PP_EV1_FAMILY : bad;
		if (!v1_inet4(s, n, a4))
			return bad;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a4, 4);
		memset(sin->sin_zero, 0, sizeof(sin->sin_zero));
		return 0;
	}
	if (!v1_has_colon(s, n))
		return v1_inet4(s, n, a4) ? PP_EV1_FAMILY : bad;
	if (!v1_inet6(s, n, &a6))
		return bad;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_flowinfo = 0;
	sin6->sin6_addr = a6;
	sin6->sin6_scope_id = 0;
	return 0;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int
is_addr_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/*
 * The fast path for a complete, valid TCP4 line, the most common header
 * there is.  It accepts a subset of what the general code below accepts
 * and says nothing about anything else: on any doubt it returns 0 and the
 * general code decides, with the precise error.  The line's CR is found
 * first, so the digit loops need no bounds check: the CR stops them.
 */
/* A port: 1 to 5 digits, no leading zero, at most 65535, then delim. */
static inline const uint8_t *
fast_port(const uint8_t *q, unsigned *v, uint8_t delim)
{
	const uint8_t *first = q;
	unsigned d;

	*v = 0;
	while ((d = (unsigned)(*q - '0')) <= 9 && q - first < 5) {
		*v = *v * 10 + d;
		q++;
	}
	if (*v > 65535 || q == first || (q - first > 1 && *first == '0') ||
	    *q != delim)
		return NULL;
	return q + 1;
}

/*
 * An octet: 1 to 3 digits, no leading zero, at most 255, then delim.
 * Each byte is read only after a digit, so never past the CR.
 */
static inline const uint8_t *
fast_octet(const uint8_t *q, uint8_t *out, uint8_t delim)
{
	unsigned d0 = (unsigned)(q[0] - '0'), d1, d2, v;

	if (d0 > 9)
		return NULL;
	if ((d1 = (unsigned)(q[1] - '0')) > 9) {
		v = d0;
		q += 1;
	} else if (d0 == 0) {
		return NULL;
	} else if ((d2 = (unsigned)(q[2] - '0')) > 9) {
		v = d0 * 10 + d1;
		q += 2;
	} else {
		v = d0 * 100 + d1 * 10 + d2;
		q += 3;
	}
	if (v > 255 || *q != delim)
		return NULL;
	*out = (uint8_t)v;
	return q + 1;
}

static inline const uint8_t *
fast_inet4(const uint8_t *q, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	uint8_t a[4];

	if ((q = fast_octet(q, &a[0], '.')) == NULL ||
	    (q = fast_octet(q, &a[1], '.')) == NULL ||
	    (q = fast_octet(q, &a[2], '.')) == NULL ||
	    (q = fast_octet(q, &a[3], ' ')) == NULL)
		return NULL;
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, a, 4);
	memset(sin->sin_zero, 0, sizeof(sin->sin_zero));
	return q;
}

static int
fast_tcp4(const uint8_t *p, size_t len, struct pp_header *h)
{
	const uint8_t *q = p + 11, *cr;	/* after "PROXY TCP4 " */
	unsigned sport, dport;
	size_t n = len < PP_V1_MAX ? len : PP_V1_MAX;

	if ((cr = memchr(q, '\r', n - 11)) == NULL || cr + 1 >= p + n ||
	    cr[1] != '\n')
		return 0;
	if ((q = fast_inet4(q, &h->src)) == NULL ||
	    (q = fast_inet4(q, &h->dst)) == NULL ||
	    (q = fast_port(q, &sport, ' ')) == NULL ||
	    (q = fast_port(q, &dport, '\r')) == NULL || q != cr + 1)
		return 0;
	((struct sockaddr_in *)&h->src)->sin_port = htons((uint16_t)sport);
	((struct sockaddr_in *)&h->dst)->sin_port = htons((uint16_t)dport);
	h->version = 1;
	h->command = PP_V2_CMD_PROXY;
	h->family = PP_V2_FAM_INET;
	h->transport = PP_V2_TRANS_STREAM;
	h->crc32c = PP_CRC_ABSENT;
	h->has_addr = 1;
	h->tlv = NULL;
	h->tlv_len = 0;
	h->need = h->err_off = 0;
	h->hdr_len = (uint32_t)(cr + 2 - p);
	return (int)h->hdr_len;
}

/* The fields of a TCP4/TCP6 line after the protocol, in order. */
enum v1_field { F_SRC, F_DST, F_SPORT, F_DPORT, F_NFIELDS };

static const int v1_field_err[F_NFIELDS] = {
	PP_EV1_SRC_ADDR, PP_EV1_DST_ADDR, PP_EV1_SRC_PORT, PP_EV1_DST_PORT
};

/*
 * The end of a line at p[i] == '\r': 1 when p[i + 1] is LF, 0 when it is
 * not there yet, -1 when it is something else.
 */
static int
v1_crlf(const uint8_t *p, size_t len, size_t i)
{
	if (i + 1 >= len)
		return 0;
	return p[i + 1] == '\n' ? 1 : -1;
}

/* The rest of a "PROXY UNKNOWN" line: anything up to CRLF, ignored. */
static int
v1_unknown_tail(const uint8_t *p, size_t len, size_t i, struct pp_header *h)
{
	for (; i < len; i++) {
		if (p[i] == '\n')
			return fail(h, PP_EV1_BARE_LF, i);
		if (i >= PP_V1_MAX - 1)
			return fail(h, PP_EV1_LONG, i);
		if (p[i] == '\r') {
			switch (v1_crlf(p, len, i)) {
			case 0:
				return v1_more(h, len);
			case -1:
				return fail(h, PP_EV1_BARE_CR, i);
			}
			h->hdr_len = (uint32_t)(i + 2);
			return (int)(i + 2);
		}
	}
	return v1_more(h, len);
}

static int
v1_parse(const uint8_t *p, size_t len, struct pp_header *h)
{
	static const char *const protos[] = { "TCP4", "TCP6", "UNKNOWN" };
	size_t i, start, n, k;
	int proto, fam, err, f, c, r;
	unsigned port[2] = { 0, 0 };

	if (len > 11 && memcmp(p, "PROXY TCP4 ", 11) == 0 &&
	    (r = fast_tcp4(p, len, h)) > 0)
		return r;

	/* Signature: "PROXY" then exactly one space (spec 2.1). */
	for (i = 0; i < V1_SIG_LEN; i++) {
		if (i >= len)
			return v1_more(h, len);
		if (p[i] != (uint8_t)V1_SIG[i])
			return fail(h, i < V1_SIG_LEN - 1 ? PP_ENOT_PP :
			    PP_EV1_SIG, i);
	}

	/* Protocol: a prefix of one keyword at every byte, upper case only. */
	start = i;
	if (len - i > 4 && memcmp(p + i, "TCP", 3) == 0 &&
	    (p[i + 3] == '4' || p[i + 3] == '6') && p[i + 4] == ' ')
		i += 4;		/* the common case, decided at once */
	for (; i < len && p[i] != ' ' && p[i] != '\r' && p[i] != '\n'; i++) {
		n = i - start + 1;
		for (k = 0; k < 3; k++)
			if (n <= strlen(protos[k]) &&
			    memcmp(p + start, protos[k], n) == 0)
				break;
		if (k == 3)
			return fail(h, PP_EV1_PROTO, start);
	}
	if (i >= len)
		return v1_more(h, len);
	if (p[i] == '\n')
		return fail(h, PP_EV1_BARE_LF, i);
	n = i - start;
	for (proto = 0; proto < 3; proto++)
		if (n == strlen(protos[proto]) &&
		    memcmp(p + start, protos[proto], n) == 0)
			break;
	if (proto == 3)
		return fail(h, PP_EV1_PROTO, start);

	h->version = 1;
	h->command = PP_V2_CMD_PROXY;
	h->crc32c = PP_CRC_ABSENT;
	h->tlv = NULL;
	h->tlv_len = 0;
	if (proto == 2) {
		/* spec 2.1: "UNKNOWN" then anything up to CRLF is ignored. */
		h->family = PP_V2_FAM_UNSPEC;
		h->transport = PP_V2_TRANS_UNSPEC;
		h->has_addr = 0;
		if (p[i] == ' ')
			i++;
		return v1_unknown_tail(p, len, i, h);
	}
	if (p[i] == '\r')
		return fail(h, PP_EV1_SRC_ADDR, i);
	i++;
	fam = proto == 0 ? AF_INET : AF_INET6;

	for (f = F_SRC; f < F_NFIELDS; f++) {
		err = v1_field_err[f];
		start = i;
		for (; i < len && p[i] != ' ' && p[i] != '\r' && p[i] != '\n';
		    i++) {
			/* spec 2.1: the LF is at offset 106 at the latest. */
			if (i >= PP_V1_MAX - 1)
				return fail(h, PP_EV1_LONG, i);
			n = i - start;
			if (f <= F_DST) {
				if (!is_addr_char(p[i]) || n >= V1_ADDR_MAX)
					return fail(h, err, start);
				continue;
			}
			/* Ports: plain decimal, no sign, no leading zero. */
			if (p[i] < '0' || p[i] > '9' || n >= V1_PORT_MAX ||
			    (n == 1 && p[start] == '0'))
				return fail(h, err, start);
			port[f - F_SPORT] = port[f - F_SPORT] * 10 +
			    (unsigned)(p[i] - '0');
			if (port[f - F_SPORT] > 65535)
				return fail(h, err, start);
		}
		if (i >= len)
			return v1_more(h, len);
		if (p[i] == '\n')
			return fail(h, PP_EV1_BARE_LF, i);
		if (i >= PP_V1_MAX - 1)
			return fail(h, PP_EV1_LONG, i);
		n = i - start;
		if (n == 0)
			return fail(h, err, start);
		if (f <= F_DST) {
			c = v1_addr(p + start, n, fam, f == F_SRC ? &h->src :
			    &h->dst, err);
			if (c != 0)
				return fail(h, c, start);
		}
		if (f < F_DPORT) {
			/* Another field must follow, after one space. */
			if (p[i] == '\r')
				return fail(h, v1_field_err[f + 1], i);
			i++;
			continue;
		}
		if (p[i] == ' ')
			return fail(h, PP_EV1_TRAILING, i);
		switch (v1_crlf(p, len, i)) {
		case 0:
			return v1_more(h, len);
		case -1:
			return fail(h, PP_EV1_BARE_CR, i);
		}
	}
	set_port(&h->src, (uint16_t)port[0]);
	set_port(&h->dst, (uint16_t)port[1]);
	h->family = proto == 0 ? PP_V2_FAM_INET : PP_V2_FAM_INET6;
	h->transport = PP_V2_TRANS_STREAM;
	h->has_addr = 1;
	h->hdr_len = (uint32_t)(i + 2);
	return (int)(i + 2);
}

/* Address block sizes by family (spec 2.2). */
static const uint16_t v2_addr_len[4] = { 0, 12, 36, 216 };

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
 * Judge the TLVs in p[start .. end), of which p[start .. avail) has
 * arrived.  Each check runs as soon as the bytes it needs are there.
 * Returns 0 or an error code with *off set; *crc_off gets the offset of
 * the first CRC32C TLV (0 if none).
 */
static int
v2_check_tlvs(const uint8_t *p, size_t start, size_t end, size_t avail,
    size_t *off, size_t *crc_off)
{
	size_t pos = start, vend, sub, sub_end;
	uint16_t tlen;

	*crc_off = 0;
	while (pos < end) {
		*off = pos;
		/* A TLV is judged once its first byte has arrived. */
		if (pos >= avail)
			return 0;
		if (pos + 3 > end)
			return PP_ETLV_OVERRUN;
		if (pos + 3 > avail)
			return 0;
		tlen = rd16(p + pos + 1);
		vend = pos + 3 + tlen;
		if (vend > end)
			return PP_ETLV_OVERRUN;
		switch (p[pos]) {
		case PP_TLV_CRC32C:
			/* spec 2.2.3: a 32-bit number. */
			if (tlen != 4)
				return PP_ECRC_LEN;
			if (*crc_off == 0)
				*crc_off = pos;
			break;
		case PP_TLV_UNIQUE_ID:
			if (tlen > PP_UNIQUE_ID_MAX)
				return PP_EUNIQUE_ID;
			break;
		case PP_TLV_SSL:
			/* client (1) and verify (4), then sub-TLVs exactly. */
			if (tlen < 5)
				return PP_ESSL;
			if (vend > avail)
				return 0;
			sub_end = vend;
			for (sub = pos + 8; sub < sub_end;) {
				*off = sub;
				if (sub + 3 > sub_end ||
				    sub + 3 + rd16(p + sub + 1) > sub_end)
					return PP_ESSL;
				sub += 3 + rd16(p + sub + 1);
			}
			break;
		}
		pos = vend;
	}
	return 0;
}

static void
v2_inet(const uint8_t *a, struct pp_header *h)
{
	struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
	struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;

	s->sin_family = AF_INET;
	d->sin_family = AF_INET;
	memcpy(&s->sin_addr, a, 4);
	memcpy(&d->sin_addr, a + 4, 4);
	memcpy(&s->sin_port, a + 8, 2);
	memcpy(&d->sin_port, a + 10, 2);
	memset(s->sin_zero, 0, sizeof(s->sin_zero));
	memset(d->sin_zero, 0, sizeof(d->sin_zero));
}

static void
v2_inet6(const uint8_t *a, struct pp_header *h)
{
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
	struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;

	s->sin6_family = AF_INET6;
	d->sin6_family = AF_INET6;
	s->sin6_flowinfo = d->sin6_flowinfo = 0;
	s->sin6_scope_id = d->sin6_scope_id = 0;
	memcpy(&s->sin6_addr, a, 16);
	memcpy(&d->sin6_addr, a + 16, 16);
	memcpy(&s->sin6_port, a + 32, 2);
	memcpy(&d->sin6_port, a + 34, 2);
}

static void
v2_unix(const uint8_t *a, struct pp_header *h)
{
	struct sockaddr_un *s = (struct sockaddr_un *)&h->src;
	struct sockaddr_un *d = (struct sockaddr_un *)&h->dst;

	s->sun_family = AF_UNIX;
	d->sun_family = AF_UNIX;
	memcpy(s->sun_path, a, 108);
	memcpy(d->sun_path, a + 108, 108);
}

static int
v2_parse(const uint8_t *p, size_t len, struct pp_header *h)
{
	size_t i, total, addr_len, off, crc_off;
	uint8_t ver, cmd, fam, trans;
	uint32_t want, got;
	int err;

	/* The common case first: the whole fixed part is there. */
	if (len >= PP_V2_FIXED && memcmp(p, PP_V2_SIG, PP_V2_SIG_LEN) == 0) {
		;
	} else {
		for (i = 0; i < PP_V2_SIG_LEN && i < len; i++)
			if (p[i] != (uint8_t)PP_V2_SIG[i])
				return fail(h, PP_ENOT_PP, i);
	}
	if (len <= 12)
		return more(h, PP_V2_FIXED);
	ver = p[12] >> 4;
	cmd = p[12] & 0x0f;
	if (ver != 2)
		return fail(h, PP_EV2_VERSION, 12);
	if (cmd > PP_V2_CMD_PROXY)
		return fail(h, PP_EV2_COMMAND, 12);
	if (len <= 13)
		return more(h, PP_V2_FIXED);
	fam = p[13] >> 4;
	trans = p[13] & 0x0f;
	if (fam > PP_V2_FAM_UNIX)
		return fail(h, PP_EV2_FAMILY, 13);
	if (trans > PP_V2_TRANS_DGRAM)
		return fail(h, PP_EV2_TRANSPORT, 13);
	/*
	 * spec 2.2: only 0x00, 0x11, 0x12, 0x21, 0x22, 0x31 and 0x32 exist;
	 * receivers must refuse the other pairs.  LOCAL does not look.
	 */
	if (cmd == PP_V2_CMD_PROXY && (fam == PP_V2_FAM_UNSPEC) !=
	    (trans == PP_V2_TRANS_UNSPEC))
		return fail(h, fam == PP_V2_FAM_UNSPEC ? PP_EV2_FAMILY :
		    PP_EV2_TRANSPORT, 13);
	if (len < PP_V2_FIXED)
		return more(h, PP_V2_FIXED);

	total = PP_V2_FIXED + rd16(p + 14);
	addr_len = v2_addr_len[fam];
	h->version = 2;
	h->command = cmd;
	h->family = fam;
	h->transport = trans;
	h->crc32c = PP_CRC_ABSENT;

	if (cmd == PP_V2_CMD_LOCAL) {
		/*
		 * The receiver uses the real endpoints and does not judge the
		 * rest; TLVs are shown when they are well formed.
		 */
		if (len < total)
			return more(h, total);
		h->has_addr = 0;
		h->tlv = NULL;
		h->tlv_len = 0;
		if (total - PP_V2_FIXED >= addr_len &&
		    v2_check_tlvs(p, PP_V2_FIXED + addr_len, total, total,
		    &off, &crc_off) == 0) {
			h->tlv = p + PP_V2_FIXED + addr_len;
			h->tlv_len = (uint32_t)(total - PP_V2_FIXED - addr_len);
		}
		h->hdr_len = (uint32_t)total;
		h->err_off = h->need = 0;
		return (int)total;
	}

	/* spec 2.2: the length covers at least the address block. */
	if (total - PP_V2_FIXED < addr_len)
		return fail(h, PP_EV2_SHORT, 14);
	err = v2_check_tlvs(p, PP_V2_FIXED + addr_len, total,
	    len < total ? len : total, &off, &crc_off);
	if (err != 0)
		return fail(h, err, off);
	if (len < total)
		return more(h, total);

	if (crc_off != 0) {
		/* spec 2.2.3: over the whole header, the CRC field zeroed. */
		static const uint8_t zero[4];

		want = rd32(p + crc_off + 3);
		got = pp_crc32c(0, p, crc_off + 3);
		got = pp_crc32c(got, zero, 4);
		got = pp_crc32c(got, p + crc_off + 7, total - crc_off - 7);
		if (got != want)
			return fail(h, PP_ECRC_BAD, crc_off);
		h->crc32c = PP_CRC_OK;
	}

	switch (fam) {
	case PP_V2_FAM_INET:
		v2_inet(p + PP_V2_FIXED, h);
		break;
	case PP_V2_FAM_INET6:
		v2_inet6(p + PP_V2_FIXED, h);
		break;
	case PP_V2_FAM_UNIX:
		v2_unix(p + PP_V2_FIXED, h);
		break;
	}
	h->has_addr = fam != PP_V2_FAM_UNSPEC;
	h->tlv = p + PP_V2_FIXED + addr_len;
	h->tlv_len = (uint32_t)(total - PP_V2_FIXED - addr_len);
	h->hdr_len = (uint32_t)total;
	h->err_off = h->need = 0;
	return (int)total;
}

int
pp_parse_version(const void *buf, size_t len, int version,
    struct pp_header *h)
{
	const uint8_t *p = buf;

	if (version < 0 || version > 2)
		return fail(h, PP_EINVAL, 0);
	/*
	 * The most common header of all, v2 PROXY TCP over IPv4 without
	 * TLVs (HAProxy's send-proxy-v2), is 16 known bytes and an address
	 * block: one comparison decides it.  Every caller comes here (the
	 * relay, pp_read_fd, pp_parse), so every caller has it.
	 */
	if (version != 1 && len >= PP_V2_FIXED + 12 &&
	    memcmp(p, PP_V2_SIG "\x21\x11\x00\x0c", PP_V2_FIXED) == 0) {
		v2_inet(p + PP_V2_FIXED, h);
		h->version = 2;
		h->command = PP_V2_CMD_PROXY;
		h->family = PP_V2_FAM_INET;
		h->transport = PP_V2_TRANS_STREAM;
		h->crc32c = PP_CRC_ABSENT;
		h->has_addr = 1;
		h->tlv = p + PP_V2_FIXED + 12;
		h->tlv_len = 0;
		h->hdr_len = PP_V2_FIXED + 12;
		h->err_off = h->need = 0;
		return PP_V2_FIXED + 12;
	}
	if (len == 0)
		return more(h, version == 2 ? PP_V2_FIXED : V1_MIN_NEED);
	if (p[0] == '\r' && version != 1)
		return v2_parse(p, len, h);
	if (p[0] == 'P' && version != 2)
		return v1_parse(p, len, h);
	return fail(h, PP_ENOT_PP, 0);
}

int
pp_parse(const void *buf, size_t len, struct pp_header *h)
{
	return pp_parse_version(buf, len, 0, h);
}
