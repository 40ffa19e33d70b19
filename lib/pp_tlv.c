/*
 * TLVs of a v2 header (spec 2.2): iteration, typed accessors and names.
 * The parser has already checked the lengths of a header's TLVs; these
 * functions check again, so they are safe on any area a caller hands in.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "proxyhdr.h"

int
pp_tlv_walk(const uint8_t *area, size_t len, size_t *pos, struct pp_tlv *t)
{
	size_t p = *pos;
	uint16_t tlen;

	if (p >= len)
		return 0;
	if (len - p < 3)
		return -PP_ETLV_OVERRUN;
	tlen = (uint16_t)(area[p + 1] << 8 | area[p + 2]);
	if (len - p - 3 < tlen)
		return -PP_ETLV_OVERRUN;
	t->type = area[p];
	t->len = tlen;
	t->value = area + p + 3;
	*pos = p + 3 + tlen;
	return 1;
}

int
pp_tlv_next(const struct pp_header *h, size_t *pos, struct pp_tlv *t)
{
	if (h->tlv == NULL)
		return 0;
	return pp_tlv_walk(h->tlv, h->tlv_len, pos, t);
}

int
pp_tlv_find(const struct pp_header *h, uint8_t type, struct pp_tlv *t)
{
	size_t pos = 0;

	while (pp_tlv_next(h, &pos, t) == 1)
		if (t->type == type)
			return 1;
	return 0;
}

int
pp_tlv_ssl(const struct pp_tlv *t, struct pp_ssl *ssl)
{
	size_t pos = 0;
	struct pp_tlv sub;
	int r;

	/* spec 2.2.5: client (1 byte), verify (4 bytes), then sub-TLVs. */
	if (t->type != PP_TLV_SSL || t->len < 5)
		return -PP_EINVAL;
	ssl->client = t->value[0];
	ssl->verify = (uint32_t)t->value[1] << 24 |
	    (uint32_t)t->value[2] << 16 | (uint32_t)t->value[3] << 8 |
	    t->value[4];
	ssl->sub = t->value + 5;
	ssl->sub_len = t->len - 5u;
	while ((r = pp_tlv_walk(ssl->sub, ssl->sub_len, &pos, &sub)) == 1)
		;
	return r == 0 ? 0 : -PP_EINVAL;
}

int
pp_tlv_aws_vpce(const struct pp_tlv *t, const char **id, size_t *len)
{
	if (t->type != PP_TLV_AWS || t->len < 1 ||
	    t->value[0] != PP_AWS_VPCE_ID)
		return -PP_EINVAL;
	*id = (const char *)t->value + 1;
	*len = t->len - 1u;
	return 0;
}

int
pp_tlv_azure_linkid(const struct pp_tlv *t, uint32_t *linkid)
{
	/* Azure stores the LinkID little-endian, unlike everything else. */
	if (t->type != PP_TLV_AZURE || t->len != 5 ||
	    t->value[0] != PP_AZURE_LINKID)
		return -PP_EINVAL;
	*linkid = (uint32_t)t->value[1] | (uint32_t)t->value[2] << 8 |
	    (uint32_t)t->value[3] << 16 | (uint32_t)t->value[4] << 24;
	return 0;
}

int
pp_tlv_gcp_psc(const struct pp_tlv *t, uint64_t *id)
{
	int i;

	if (t->type != PP_TLV_GCP || t->len != 8)
		return -PP_EINVAL;
	*id = 0;
	for (i = 0; i < 8; i++)
		*id = *id << 8 | t->value[i];
	return 0;
}

int
pp_tlv_crc32c(const struct pp_tlv *t, uint32_t *crc)
{
	if (t->type != PP_TLV_CRC32C || t->len != 4)
		return -PP_EINVAL;
	*crc = (uint32_t)t->value[0] << 24 | (uint32_t)t->value[1] << 16 |
	    (uint32_t)t->value[2] << 8 | t->value[3];
	return 0;
}

static const struct {
	uint8_t		type;
	const char	*name;
} tlv_names[] = {
	{ PP_TLV_ALPN, "alpn" },
	{ PP_TLV_AUTHORITY, "authority" },
	{ PP_TLV_CRC32C, "crc32c" },
	{ PP_TLV_NOOP, "noop" },
	{ PP_TLV_UNIQUE_ID, "unique-id" },
	{ PP_TLV_SSL, "ssl" },
	{ PP_TLV_NETNS, "netns" },
	{ PP_TLV_AWS, "aws" },
	{ PP_TLV_AZURE, "azure" },
	{ PP_TLV_GCP, "gcp" },
}, ssl_names[] = {
	{ PP_TLV_SSL_VERSION, "version" },
	{ PP_TLV_SSL_CN, "cn" },
	{ PP_TLV_SSL_CIPHER, "cipher" },
	{ PP_TLV_SSL_SIG_ALG, "sig_alg" },
	{ PP_TLV_SSL_KEY_ALG, "key_alg" },
	{ PP_TLV_SSL_GROUP, "group" },
	{ PP_TLV_SSL_SIG_SCHEME, "sig_scheme" },
	{ PP_TLV_SSL_CLIENT_CERT, "client_cert" },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
pp_tlv_name(uint8_t type)
{
	size_t i;

	for (i = 0; i < NELEM(tlv_names); i++)
		if (tlv_names[i].type == type)
			return tlv_names[i].name;
	return NULL;
}

const char *
pp_ssl_sub_name(uint8_t type)
{
	size_t i;

	for (i = 0; i < NELEM(ssl_names); i++)
		if (ssl_names[i].type == type)
			return ssl_names[i].name;
	return NULL;
}

int
pp_tlv_type(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(tlv_names); i++)
		if (strcasecmp(tlv_names[i].name, name) == 0)
			return tlv_names[i].type;
	/* The spelling of HAProxy's proxy-v2-options. */
	if (strcasecmp(name, "unique_id") == 0 ||
	    strcasecmp(name, "uniqueid") == 0)
		return PP_TLV_UNIQUE_ID;
	return -1;
}
