/*
 * Header builders, v1 and v2, into a caller's buffer.  Nothing is
 * allocated and nothing is written past cap; a header that does not fit
 * is an error, never a truncated header.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyhdr.h"

/* How a pair of addresses goes on the wire. */
enum pair { PAIR_NONE, PAIR_INET, PAIR_INET6, PAIR_UNIX };

static int
is_v4(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	return ss->ss_family == AF_INET || (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr));
}

static int
pair_of(const struct pp_header *h)
{
	int sf = h->src.ss_family, df = h->dst.ss_family;

	if (h->command == PP_V2_CMD_LOCAL ||
	    (sf == AF_UNSPEC && df == AF_UNSPEC))
		return PAIR_NONE;
	if (sf == AF_UNIX && df == AF_UNIX)
		return PAIR_UNIX;
	if ((sf != AF_INET && sf != AF_INET6) ||
	    (df != AF_INET && df != AF_INET6))
		return -PP_EINVAL;
	/* Two IPv4(-mapped) give INET; a mixed pair INET6, mapped: proxyhdr(3). */
	return is_v4(&h->src) && is_v4(&h->dst) ? PAIR_INET : PAIR_INET6;
}

/* The four bytes of an IPv4 or IPv4-mapped address. */
static const uint8_t *
addr4(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr + 12;
}

/* The sixteen bytes of an address, an IPv4 one mapped. */
static void
addr16(const struct sockaddr_storage *ss, uint8_t out[16])
{
	if (ss->ss_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		return;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, addr4(ss), 4);
}

/* The port in network order, as two bytes. */
static const uint8_t *
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_port;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_port;
}

static unsigned
port_num(const struct sockaddr_storage *ss)
{
	const uint8_t *p = port_of(ss);

	return (unsigned)(p[0] << 8 | p[1]);
}

/* Decimal text of v (at most 5 digits); returns the length. */
static size_t
put_dec(char *out, unsigned v)
{
	char tmp[5];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && n < sizeof(tmp));
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

static size_t
put_ipv4(char *out, const uint8_t a[4])
{
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0)
			out[n++] = '.';
		n += put_dec(out + n, a[i]);
	}
	return n;
}

int
pp_build_v1(void *buf, size_t cap, const struct pp_header *h)
{
	/* The longest line is 104 bytes (spec 2.1); compose, then copy. */
	char line[PP_V1_MAX + 1];
	uint8_t a16[16];
	size_t n;
	int pair;

	if ((pair = pair_of(h)) < 0 || pair == PAIR_UNIX ||
	    h->transport == PP_V2_TRANS_DGRAM)
		return -PP_EINVAL;
	memcpy(line, "PROXY ", 6);
	n = 6;
	if (pair == PAIR_NONE) {
		memcpy(line + n, "UNKNOWN", 7);
		n += 7;
	} else if (pair == PAIR_INET) {
		memcpy(line + n, "TCP4 ", 5);
		n += 5;
		n += put_ipv4(line + n, addr4(&h->src));
		line[n++] = ' ';
		n += put_ipv4(line + n, addr4(&h->dst));
	} else {
		memcpy(line + n, "TCP6 ", 5);
		n += 5;
		addr16(&h->src, a16);
		inet_ntop(AF_INET6, a16, line + n, INET6_ADDRSTRLEN);
		n += strlen(line + n);
		line[n++] = ' ';
		addr16(&h->dst, a16);
		inet_ntop(AF_INET6, a16, line + n, INET6_ADDRSTRLEN);
		n += strlen(line + n);
	}
	if (pair != PAIR_NONE) {
		line[n++] = ' ';
		n += put_dec(line + n, port_num(&h->src));
		line[n++] = ' ';
		n += put_dec(line + n, port_num(&h->dst));
	}
	line[n++] = '\r';
	line[n++] = '\n';
	if (n > cap)
		return -PP_ENOSPACE;
	memcpy(buf, line, n);
	return (int)n;
}

static void
wr16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The TLVs pp_parse would refuse are not written either. */
static int
tlvs_ok(const struct pp_tlv *tlvs, size_t n, int flags)
{
	struct pp_ssl ssl;
	size_t i;

	for (i = 0; i < n; i++) {
		switch (tlvs[i].type) {
		case PP_TLV_CRC32C:
			if (tlvs[i].len != 4 || (flags & PP_BUILD_CRC32C))
				return 0;
			break;
		case PP_TLV_UNIQUE_ID:
			if (tlvs[i].len > PP_UNIQUE_ID_MAX)
				return 0;
			break;
		case PP_TLV_SSL:
			if (pp_tlv_ssl(&tlvs[i], &ssl) != 0)
				return 0;
			break;
		}
	}
	return 1;
}

int
pp_build_v2(void *buf, size_t cap, const struct pp_header *h,
    const struct pp_tlv *tlvs, size_t n, int flags)
{
	static const uint8_t fam_of[] = {
		[PAIR_NONE] = PP_V2_FAM_UNSPEC, [PAIR_INET] = PP_V2_FAM_INET,
		[PAIR_INET6] = PP_V2_FAM_INET6, [PAIR_UNIX] = PP_V2_FAM_UNIX
	};
	static const uint16_t addr_len[] = { 0, 12, 36, 216 };
	const struct sockaddr_un *su;
	uint8_t *p = buf, *a;
	size_t total, i;
	uint8_t trans;
	uint32_t crc;
	int pair;

	if ((pair = pair_of(h)) < 0 || h->transport > PP_V2_TRANS_DGRAM ||
	    h->command > PP_V2_CMD_PROXY || !tlvs_ok(tlvs, n, flags))
		return -PP_EINVAL;
	total = PP_V2_FIXED + addr_len[pair];
	for (i = 0; i < n; i++)
		total += 3 + (size_t)tlvs[i].len;
	if (flags & PP_BUILD_CRC32C)
		total += 7;
	if (total > PP_V2_MAX)
		return -PP_EINVAL;
	if (total > cap)
		return -PP_ENOSPACE;

	/* A LOCAL header carries no addresses: family and transport UNSPEC. */
	trans = h->transport == 0 && pair != PAIR_NONE ? PP_V2_TRANS_STREAM :
	    h->transport;
	memcpy(p, PP_V2_SIG, PP_V2_SIG_LEN);
	p[12] = (uint8_t)(0x20 | (h->command == PP_V2_CMD_LOCAL ?
	    PP_V2_CMD_LOCAL : PP_V2_CMD_PROXY));
	p[13] = (uint8_t)(fam_of[pair] << 4 | (pair == PAIR_NONE ? 0 : trans));
	wr16(p + 14, total - PP_V2_FIXED);
	a = p + PP_V2_FIXED;
	switch (pair) {
	case PAIR_INET:
		memcpy(a, addr4(&h->src), 4);
		memcpy(a + 4, addr4(&h->dst), 4);
		memcpy(a + 8, port_of(&h->src), 2);
		memcpy(a + 10, port_of(&h->dst), 2);
		break;
	case PAIR_INET6:
		addr16(&h->src, a);
		addr16(&h->dst, a + 16);
		memcpy(a + 32, port_of(&h->src), 2);
		memcpy(a + 34, port_of(&h->dst), 2);
		break;
	case PAIR_UNIX:
		su = (const struct sockaddr_un *)&h->src;
		memcpy(a, su->sun_path, 108);
		su = (const struct sockaddr_un *)&h->dst;
		memcpy(a + 108, su->sun_path, 108);
		break;
	}
	a += addr_len[pair];
	for (i = 0; i < n; i++) {
		a[0] = tlvs[i].type;
		wr16(a + 1, tlvs[i].len);
		if (tlvs[i].len > 0)
			memcpy(a + 3, tlvs[i].value, tlvs[i].len);
		a += 3 + tlvs[i].len;
	}
	if (flags & PP_BUILD_CRC32C) {
		/* spec 2.2.3: computed with the field zeroed, stored BE. */
		a[0] = PP_TLV_CRC32C;
		wr16(a + 1, 4);
		memset(a + 3, 0, 4);
		crc = pp_crc32c(0, p, total);
		a[3] = (uint8_t)(crc >> 24);
		a[4] = (uint8_t)(crc >> 16);
		a[5] = (uint8_t)(crc >> 8);
		a[6] = (uint8_t)crc;
	}
	return (int)total;
}
