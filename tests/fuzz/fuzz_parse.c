/*
 * fuzz_parse.c - libFuzzer target for the libproxyhdr codec.
 *
 * For each input: pp_parse on the whole input; the same verdict for every
 * prefix (incomplete, or exactly the final answer) and along the chain of
 * "need" values a reader would follow; pp_parse_version agreeing; every
 * TLV walked and every accessor called; then, for a valid header, a
 * rebuild with pp_build_v1/pp_build_v2 that must parse back to the same
 * endpoints and TLVs.  Any broken invariant aborts, so libFuzzer keeps
 * the input as a crash.
 *
 *	make fuzz FUZZ_SECONDS=600	(see tests/fuzz/run)
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyhdr.h"

#define FULL_PREFIXES	160	/* every prefix up to this length */
#define MAX_TLVS	22000	/* 65535 / 3, rounded up */

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *scratch;	/* prefixes are parsed at its very end */
static size_t scratch_size;
static struct pp_tlv tlvs[MAX_TLVS];
static uint8_t rebuilt[PP_V2_MAX + 64];
static uint8_t rebuilt1[PP_V1_MAX + 64];

static void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz_parse: invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* pp_parse over a copy of data[0..len) that ends at the allocation's end. */
static int
parse_prefix(const uint8_t *data, size_t len, int version,
    struct pp_header *h)
{
	uint8_t *p = scratch + scratch_size - len;

	memmove(p, data, len);
	memset(h, 0xa5, sizeof(*h));
	return version < 0 ? pp_parse(p, len, h) :
	    pp_parse_version(p, len, version, h);
}

static void
check_result(int r, const struct pp_header *h, const uint8_t *buf,
    size_t len)
{
	const char *s = pp_strerror(r), *n = pp_errname(r);

	if (s == NULL || n == NULL || *s == '\0' || *n == '\0')
		fail("no text for %d", r);
	if (r > 0) {
		if ((size_t)r > len || h->hdr_len != (uint32_t)r)
			fail("header %d of %zu bytes, hdr_len %u", r, len,
			    h->hdr_len);
		if (h->version == 1) {
			if (r > PP_V1_MAX || buf[r - 2] != '\r' ||
			    buf[r - 1] != '\n')
				fail("v1 header of %d bytes", r);
		} else if (h->version == 2) {
			if (r < PP_V2_FIXED || (size_t)r != PP_V2_FIXED +
			    ((size_t)buf[14] << 8 | buf[15]))
				fail("v2 header of %d bytes", r);
		} else
			fail("version %d", h->version);
		if (h->command > 1 || h->family > 3 || h->transport > 2 ||
		    h->crc32c > 1 || h->has_addr > 1)
			fail("fields out of range");
		if (h->tlv_len > 0 && (h->tlv < buf ||
		    h->tlv + h->tlv_len > buf + r))
			fail("TLV area outside the header");
		if (h->has_addr && (h->command != PP_V2_CMD_PROXY ||
		    h->family == PP_V2_FAM_UNSPEC))
			fail("address for LOCAL or UNSPEC");
	} else if (r == 0) {
		if (h->need <= len || h->need > PP_HDR_MAX)
			fail("need %u with %zu bytes", h->need, len);
	} else {
		if (-r >= PP_ENOSPACE)
			fail("pp_parse returned %s", pp_errname(r));
		if (h->err_off >= len)
			fail("error offset %u of %zu bytes", h->err_off, len);
	}
}

static int
same_answer(int a, const struct pp_header *ha, int b,
    const struct pp_header *hb)
{
	if (a != b)
		return 0;
	if (a > 0)
		return ha->hdr_len == hb->hdr_len;
	if (a < 0)
		return ha->err_off == hb->err_off;
	return 1;
}

static void
prefixes(const uint8_t *data, size_t size, int r, const struct pp_header *hw)
{
	struct pp_header h;
	uint32_t lastneed = 0;
	size_t p, step;
	int rp, decided = 0;

	/* Every short prefix. */
	for (p = 0; p < size && p <= FULL_PREFIXES; p++) {
		rp = parse_prefix(data, p, -1, &h);
		check_result(rp, &h, scratch + scratch_size - p, p);
		if (rp == 0) {
			if (decided)
				fail("prefix %zu incomplete after a verdict",
				    p);
			if (h.need < lastneed)
				fail("need went down at prefix %zu", p);
			if (r > 0 && h.need > (uint32_t)r)
				fail("need %u beyond the header %d", h.need,
				    r);
			lastneed = h.need;
		} else {
			decided = 1;
			if (!same_answer(rp, &h, r, hw))
				fail("prefix %zu gives %d (%u), whole %d (%u)",
				    p, rp, rp < 0 ? h.err_off : h.hdr_len, r,
				    r < 0 ? hw->err_off : hw->hdr_len);
		}
	}

	/* A reader's path: read exactly "need" bytes, parse again. */
	for (p = 0, step = 0; step < 70000; step++) {
		rp = parse_prefix(data, p, -1, &h);
		if (rp != 0) {
			if (!same_answer(rp, &h, r, hw))
				fail("need chain at %zu gives %d, whole %d",
				    p, rp, r);
			return;
		}
		if (h.need <= p)
			fail("need %u does not move past %zu", h.need, p);
		/*
		 * Past the input: nothing to compare (an error may show
		 * before "need" bytes, so the whole input can be decided).
		 */
		if (h.need > size) {
			if (r > 0)
				fail("need %u past a valid %d-byte header",
				    h.need, r);
			return;
		}
		p = h.need;
	}
	fail("need chain does not end");
}

static void
accessors(const struct pp_tlv *t, int strict)
{
	struct pp_ssl ssl;
	struct pp_tlv s;
	const char *id;
	size_t idlen, pos;
	uint32_t u32;
	uint64_t u64;
	int r, steps;

	(void)pp_tlv_name(t->type);
	r = pp_tlv_ssl(t, &ssl);
	if (r == 0) {
		if (t->type != PP_TLV_SSL || t->len < 5 ||
		    ssl.sub != t->value + 5 || ssl.sub_len != t->len - 5u)
			fail("pp_tlv_ssl accepted a bad TLV");
		pos = 0;
		steps = 0;
		while ((r = pp_tlv_walk(ssl.sub, ssl.sub_len, &pos, &s)) == 1) {
			if (s.value < ssl.sub || s.value + s.len >
			    ssl.sub + ssl.sub_len || ++steps > 30000)
				fail("SSL sub-TLV outside the SSL TLV");
			(void)pp_ssl_sub_name(s.type);
		}
		if (r != 0 && strict)
			fail("SSL sub-TLVs of a valid header overrun");
	} else if (strict && t->type == PP_TLV_SSL)
		fail("pp_tlv_ssl refused an SSL TLV of a valid header");
	if (pp_tlv_aws_vpce(t, &id, &idlen) == 0 && (t->type != PP_TLV_AWS ||
	    id != (const char *)t->value + 1 || idlen != t->len - 1u))
		fail("pp_tlv_aws_vpce");
	if (pp_tlv_azure_linkid(t, &u32) == 0 && (t->type != PP_TLV_AZURE ||
	    t->len != 5))
		fail("pp_tlv_azure_linkid");
	if (pp_tlv_gcp_psc(t, &u64) == 0 && (t->type != PP_TLV_GCP ||
	    t->len != 8))
		fail("pp_tlv_gcp_psc");
	r = pp_tlv_crc32c(t, &u32);
	if (r == 0 && (t->type != PP_TLV_CRC32C || t->len != 4))
		fail("pp_tlv_crc32c");
	if (strict && t->type == PP_TLV_CRC32C && r != 0)
		fail("CRC32C TLV of a valid header refused");
	if (strict && t->type == PP_TLV_UNIQUE_ID &&
	    t->len > PP_UNIQUE_ID_MAX)
		fail("UNIQUE_ID of %u bytes accepted", t->len);
}

/* Walk h's TLVs; returns how many there are, or -1 on an overrun. */
static int
walk(const struct pp_header *h, int strict, int *ncrc)
{
	struct pp_tlv t, f;
	size_t pos = 0;
	int r, n = 0;

	*ncrc = 0;
	while ((r = pp_tlv_next(h, &pos, &t)) == 1) {
		if (t.value < h->tlv || t.value + t.len > h->tlv + h->tlv_len ||
		    n >= MAX_TLVS)
			fail("TLV %d outside the area", n);
		accessors(&t, strict);
		if (pp_tlv_find(h, t.type, &f) != 1)
			fail("pp_tlv_find misses type %02x", t.type);
		if (t.type == PP_TLV_CRC32C)
			(*ncrc)++;
		else
			tlvs[n++] = t;
	}
	if (r != 0) {
		if (strict)
			fail("TLVs of a valid header overrun");
		return -1;
	}
	return n;
}

/* An endpoint with IPv4-mapped IPv6 turned into IPv4. */
static void
unmap(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *s6 = (const void *)in;
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)out;

	*out = *in;
	if (in->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(out, 0, sizeof(*out));
		s4->sin_family = AF_INET;
		s4->sin_port = s6->sin6_port;
		memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	}
}

static int
same_ep(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct sockaddr_storage x, y;
	const struct sockaddr_in *x4 = (const void *)&x, *y4 = (const void *)&y;
	const struct sockaddr_in6 *x6 = (const void *)&x;
	const struct sockaddr_in6 *y6 = (const void *)&y;
	const struct sockaddr_un *xu = (const void *)&x;
	const struct sockaddr_un *yu = (const void *)&y;

	unmap(a, &x);
	unmap(b, &y);
	if (x.ss_family != y.ss_family)
		return 0;
	switch (x.ss_family) {
	case AF_INET:
		return x4->sin_port == y4->sin_port &&
		    memcmp(&x4->sin_addr, &y4->sin_addr, 4) == 0;
	case AF_INET6:
		return x6->sin6_port == y6->sin6_port &&
		    memcmp(&x6->sin6_addr, &y6->sin6_addr, 16) == 0;
	case AF_UNIX:
		return memcmp(xu->sun_path, yu->sun_path,
		    sizeof(xu->sun_path)) == 0;
	}
	return 0;
}

static void
addresses(const struct pp_header *h)
{
	char text[PP_ADDRSTRLEN];
	int port;

	if (!h->has_addr)
		return;
	if (pp_addr_ntop(&h->src, text, sizeof(text)) == NULL ||
	    strlen(text) >= PP_ADDRSTRLEN ||
	    pp_addr_ntop(&h->dst, text, sizeof(text)) == NULL)
		fail("pp_addr_ntop failed on a parsed address");
	port = pp_addr_port(&h->src);
	if ((h->family == PP_V2_FAM_UNIX) != (port == -1) || port > 65535)
		fail("pp_addr_port %d", port);
}

static void
rebuild(const struct pp_header *h, int ntlv, int ncrc)
{
	struct pp_header in, b;
	struct pp_tlv t;
	size_t pos = 0;
	int n, r, k;
	int flags = ncrc > 0 && h->command == PP_V2_CMD_PROXY ?
	    PP_BUILD_CRC32C : 0;

	in = *h;
	if (!h->has_addr) {
		/* No address: UNSPEC both ways, and no transport to carry. */
		memset(&in.src, 0, sizeof(in.src));
		memset(&in.dst, 0, sizeof(in.dst));
		in.transport = 0;
	}
	if (in.transport == PP_V2_TRANS_UNSPEC)
		in.transport = 0;
	if (ntlv < 0)
		ntlv = 0;

	n = pp_build_v2(rebuilt, sizeof(rebuilt), &in, tlvs, (size_t)ntlv,
	    flags);
	if (n < 0)
		fail("pp_build_v2 refused a parsed header: %s",
		    pp_errname(n));
	memset(&b, 0xa5, sizeof(b));
	r = pp_parse(rebuilt, (size_t)n, &b);
	if (r != n)
		fail("rebuilt v2 gives %d (%s) for %d bytes", r,
		    pp_errname(r), n);
	if (b.command != h->command || b.has_addr != h->has_addr)
		fail("rebuilt v2: command or has_addr differ");
	if (h->has_addr && (!same_ep(&b.src, &h->src) ||
	    !same_ep(&b.dst, &h->dst)))
		fail("rebuilt v2: endpoints differ");
	if (h->has_addr && h->transport != PP_V2_TRANS_UNSPEC &&
	    b.transport != h->transport)
		fail("rebuilt v2: transport differs");
	if (flags && b.crc32c != PP_CRC_OK)
		fail("rebuilt v2: CRC32C not ok");
	for (k = 0; (r = pp_tlv_next(&b, &pos, &t)) == 1; k++) {
		if (k < ntlv && (t.type != tlvs[k].type ||
		    t.len != tlvs[k].len || memcmp(t.value, tlvs[k].value,
		    t.len) != 0))
			fail("rebuilt v2: TLV %d differs", k);
	}
	if (r != 0 || k != ntlv + (flags ? 1 : 0))
		fail("rebuilt v2: %d TLVs, %d expected", k, ntlv);

	n = pp_build_v1(rebuilt1, sizeof(rebuilt1), &in);
	if (h->command == PP_V2_CMD_PROXY && (h->family == PP_V2_FAM_UNIX ||
	    (h->has_addr && h->transport == PP_V2_TRANS_DGRAM))) {
		if (n != -PP_EINVAL)
			fail("pp_build_v1 of UNIX or DGRAM gives %d", n);
		return;
	}
	if (n == -PP_EINVAL && h->command == PP_V2_CMD_LOCAL)
		return;
	if (n <= 0)
		fail("pp_build_v1 refused a parsed header: %d", n);
	memset(&b, 0xa5, sizeof(b));
	r = pp_parse(rebuilt1, (size_t)n, &b);
	if (r != n || b.version != 1)
		fail("rebuilt v1 gives %d for %d bytes", r, n);
	if (h->has_addr && (!b.has_addr || !same_ep(&b.src, &h->src) ||
	    !same_ep(&b.dst, &h->dst)))
		fail("rebuilt v1: endpoints differ");
	if (!h->has_addr && b.has_addr)
		fail("rebuilt v1: address from nowhere");
}

/* The raw input as a TLV area and as a single TLV of each typed kind. */
static void
raw_tlvs(const uint8_t *data, size_t size)
{
	static const uint8_t types[] = { PP_TLV_SSL, PP_TLV_AWS, PP_TLV_AZURE,
	    PP_TLV_GCP, PP_TLV_CRC32C, PP_TLV_ALPN };
	struct pp_tlv t;
	size_t pos = 0, i;
	int r, steps = 0;

	while ((r = pp_tlv_walk(data, size, &pos, &t)) == 1) {
		if (t.value < data || t.value + t.len > data + size ||
		    pos > size || ++steps > 70000)
			fail("pp_tlv_walk outside the area");
		accessors(&t, 0);
	}
	if (r != 0 && r != -PP_ETLV_OVERRUN)
		fail("pp_tlv_walk returned %d", r);
	if (size == 0)
		return;
	t.len = size - 1 > 65535 ? 65535 : (uint16_t)(size - 1);
	t.value = data + 1;
	for (i = 0; i < sizeof(types); i++) {
		t.type = types[i];
		accessors(&t, 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pp_header h, hv;
	int r, rv, v, ntlv, ncrc;

	if (size > PP_HDR_MAX + 1024)
		return 0;
	if (scratch == NULL || scratch_size != size + 1) {
		free(scratch);
		scratch_size = size + 1;
		scratch = malloc(scratch_size);
		if (scratch == NULL)
			abort();
	}
	/* The whole input, at the end of an exactly sized copy. */
	r = parse_prefix(data, size, -1, &h);
	check_result(r, &h, scratch + scratch_size - size, size);

	/* pp_parse_version: 0 is pp_parse; 1 and 2 agree on their own. */
	for (v = 0; v <= 2; v++) {
		rv = parse_prefix(data, size, v, &hv);
		if (v == 0 && !same_answer(rv, &hv, r, &h))
			fail("pp_parse_version 0 gives %d, pp_parse %d", rv, r);
		if (r > 0 && h.version == v && !same_answer(rv, &hv, r, &h))
			fail("pp_parse_version %d gives %d, pp_parse %d", v,
			    rv, r);
		if (r > 0 && v != 0 && h.version != v && rv >= 0)
			fail("pp_parse_version %d accepts a v%d header", v,
			    h.version);
	}

	prefixes(data, size, r, &h);

	/* Parse once more from the caller's buffer and use the result. */
	r = parse_prefix(data, size, -1, &h);
	if (r > 0) {
		addresses(&h);
		ntlv = walk(&h, h.command == PP_V2_CMD_PROXY, &ncrc);
		if (h.crc32c == PP_CRC_OK && ncrc == 0)
			fail("crc32c ok without a CRC32C TLV");
		if (h.command == PP_V2_CMD_PROXY && h.version == 2 &&
		    ncrc > 0 && h.crc32c != PP_CRC_OK)
			fail("CRC32C TLV present but status %d", h.crc32c);
		rebuild(&h, ntlv, ncrc);
	}
	raw_tlvs(data, size);
	return 0;
}
