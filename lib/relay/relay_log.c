/*
 * relay_log.c - the line logged when a connection or a UDP session ends,
 * in three formats
 * from one list of fields: text (today's key=value line, kept byte for
 * byte for the scripts that read it), logfmt (every field, values quoted
 * where they need it) and json (one object a line, strings escaped, bytes
 * and milliseconds as numbers, a missing value as null).
 */
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "relay.h"

/* Header kinds for the log (relay_log_hdr); 0 is "no header". */
#define HDR_V1		1
#define HDR_V2		2
#define HDR_LOCAL	0x80	/* v2 LOCAL, v1 UNKNOWN: no address */

/* TLV kinds, one bit each (relay_log_tlvs), in the order they print. */
static const struct {
	uint8_t		type;
	const char	*name;
} tlv_kinds[] = {
	{ PP_TLV_ALPN, "alpn" }, { PP_TLV_AUTHORITY, "authority" },
	{ PP_TLV_CRC32C, "crc32c" }, { PP_TLV_NOOP, "noop" },
	{ PP_TLV_UNIQUE_ID, "unique-id" }, { PP_TLV_SSL, "ssl" },
	{ PP_TLV_NETNS, "netns" }, { PP_TLV_AWS, "aws" },
	{ PP_TLV_AZURE, "azure" }, { PP_TLV_GCP, "gcp" },
	{ 0, "other" }		/* any other type: last */
};
#define NKINDS	(sizeof(tlv_kinds) / sizeof(tlv_kinds[0]))

enum { V_STR, V_NUM, V_LIST };

/*
 * The fields, once: name, kind, the formats that have it (the text line
 * keeps its historic set), and whether only a UDP session has it.
 */
#define IN_TEXT		1
#define IN_STRUCT	2	/* logfmt and json */
#define IN_ALL		(IN_TEXT | IN_STRUCT)
enum { F_CLIENT, F_PEER, F_SERVER, F_UP, F_DOWN, F_MS, F_DGRAMS, F_DGUP,
	F_DGDN, F_END, F_HDR, F_TLVS, F_N };
static const struct {
	const char	*name;
	int		kind;
	int		in;
	int		udp;
} fields[F_N] = {
	[F_CLIENT] = { "client", V_STR, IN_ALL, 0 },
	[F_PEER] = { "peer", V_STR, IN_ALL, 0 },
	[F_SERVER] = { "server", V_STR, IN_ALL, 0 },
	[F_UP] = { "up", V_NUM, IN_ALL, 0 },
	[F_DOWN] = { "down", V_NUM, IN_ALL, 0 },
	[F_MS] = { "ms", V_NUM, IN_ALL, 0 },
	[F_DGRAMS] = { "datagrams", V_STR, IN_TEXT, 1 },	/* "up/down" */
	[F_DGUP] = { "datagrams_up", V_NUM, IN_STRUCT, 1 },
	[F_DGDN] = { "datagrams_down", V_NUM, IN_STRUCT, 1 },
	[F_END] = { "end", V_STR, IN_ALL, 0 },
	[F_HDR] = { "hdr", V_STR, IN_STRUCT, 0 },
	[F_TLVS] = { "tlvs", V_LIST, IN_STRUCT, 0 },
};

int
relay_log_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return RELAY_LOG_TEXT;
	if (strcmp(s, "logfmt") == 0)
		return RELAY_LOG_LOGFMT;
	if (strcmp(s, "json") == 0)
		return RELAY_LOG_JSON;
	return -1;
}

uint8_t
relay_log_hdr(const struct pp_header *h)
{
	uint8_t v = h->version == 1 ? HDR_V1 : HDR_V2;

	if (h->command != PP_V2_CMD_PROXY || !h->has_addr)
		v |= HDR_LOCAL;
	return v;
}

uint16_t
relay_log_tlvs(const struct pp_header *h)
{
	struct pp_tlv t;
	size_t pos = 0, k;
	uint16_t set = 0;

	while (pp_tlv_next(h, &pos, &t) > 0) {
		for (k = 0; k + 1 < NKINDS; k++)
			if (tlv_kinds[k].type == t.type)
				break;
		set |= (uint16_t)(1u << k);
	}
	return set;
}

/* Appending to a line that is cut, never overrun, when it is full. */
struct out {
	char	*p;
	size_t	len, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		n = o->len + 1 < o->cap ? o->cap - o->len - 1 : 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string's body (RFC 8259: quote, backslash, controls escaped). */
static void
put_json(struct out *o, const char *s)
{
	char esc[8];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			puts_(o, esc);
		} else
			put(o, s, 1);
	}
}

/*
 * A logfmt value: bare when it has no blank, '=', quote, backslash or
 * control byte and is not empty; else quoted, with \" \\ \n \r \t and
 * \u00XX for other controls, as logfmt readers (go-logfmt) take them.
 */
static void
put_logfmt(struct out *o, const char *s)
{
	const char *q;
	char esc[8];

	for (q = s; *q != '\0'; q++)
		if ((unsigned char)*q <= ' ' || *q == '=' || *q == '"' ||
		    *q == '\\' || *q == 0x7f)
			break;
	if (*s != '\0' && *q == '\0') {
		puts_(o, s);
		return;
	}
	put(o, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			strlcpy(esc, "\\n", sizeof(esc));
		else if (c == '\r')
			strlcpy(esc, "\\r", sizeof(esc));
		else if (c == '\t')
			strlcpy(esc, "\\t", sizeof(esc));
		else if (c < 0x20 || c == 0x7f)
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		else {
			put(o, s, 1);
			continue;
		}
		puts_(o, esc);
	}
	put(o, "\"", 1);
}

/* Field i's value as text; NULL when it has none. */
static const char *
value(const struct relay_logrec *r, int i, char *buf, size_t cap)
{
	size_t k;

	switch (i) {
	case F_CLIENT:
		return net_addr_format(r->client, buf, cap);
	case F_PEER:
		return net_addr_format(r->peer, buf, cap);
	case F_SERVER:
		return r->server;
	case F_UP:
		snprintf(buf, cap, "%llu", (unsigned long long)r->up);
		return buf;
	case F_DOWN:
		snprintf(buf, cap, "%llu", (unsigned long long)r->down);
		return buf;
	case F_MS:
		snprintf(buf, cap, "%lld", (long long)r->ms);
		return buf;
	case F_DGRAMS:
		snprintf(buf, cap, "%llu/%llu", (unsigned long long)r->dg_up,
		    (unsigned long long)r->dg_down);
		return buf;
	case F_DGUP:
		snprintf(buf, cap, "%llu", (unsigned long long)r->dg_up);
		return buf;
	case F_DGDN:
		snprintf(buf, cap, "%llu", (unsigned long long)r->dg_down);
		return buf;
	case F_END:
		return r->end_name != NULL ? r->end_name :
		    relay_end_name(r->end);
	case F_HDR:
		if (r->hdr == 0)
			return NULL;
		snprintf(buf, cap, "v%d%s", r->hdr & 3, !(r->hdr & HDR_LOCAL) ?
		    "" : (r->hdr & 3) == 1 ? "-unknown" : "-local");
		return buf;
	case F_TLVS:
		/* A comma list; json prints it as an array. */
		buf[0] = '\0';
		for (k = 0; k < NKINDS; k++)
			if (r->tlvs & (1u << k)) {
				if (buf[0] != '\0')
					strlcat(buf, ",", cap);
				strlcat(buf, tlv_kinds[k].name, cap);
			}
		return buf;
	}
	return NULL;
}

size_t
relay_log_line(int fmt, const struct relay_logrec *r, char *buf, size_t cap)
{
	struct out o = { buf, 0, cap };
	char v[NET_ADDRSTRLEN + 128], *p, *comma;
	const char *s;
	int i, n = 0;

	if (cap == 0)
		return 0;
	buf[0] = '\0';
	if (fmt == RELAY_LOG_JSON)
		put(&o, "{", 1);
	for (i = 0; i < F_N; i++) {
		if (!(fields[i].in & (fmt == RELAY_LOG_TEXT ? IN_TEXT :
		    IN_STRUCT)) || (fields[i].udp && !r->udp))
			continue;
		s = value(r, i, v, sizeof(v));
		if (fmt != RELAY_LOG_JSON) {
			if (n++ > 0)
				put(&o, " ", 1);
			puts_(&o, fields[i].name);
			put(&o, "=", 1);
			if (fmt == RELAY_LOG_TEXT)
				puts_(&o, s != NULL ? s : "-");
			else
				put_logfmt(&o, s != NULL ? s : "");
			continue;
		}
		if (n++ > 0)
			put(&o, ",", 1);
		put(&o, "\"", 1);
		puts_(&o, fields[i].name);
		put(&o, "\":", 2);
		if (s == NULL)
			puts_(&o, "null");
		else if (fields[i].kind == V_NUM)
			puts_(&o, s);
		else if (fields[i].kind == V_LIST) {
			put(&o, "[", 1);
			for (p = v; *p != '\0'; p = comma) {
				if ((comma = strchr(p, ',')) != NULL)
					*comma++ = '\0';
				else
					comma = p + strlen(p);
				put(&o, p == v ? "\"" : ",\"", p == v ? 1 : 2);
				put_json(&o, p);
				put(&o, "\"", 1);
			}
			put(&o, "]", 1);
		} else {
			put(&o, "\"", 1);
			put_json(&o, s);
			put(&o, "\"", 1);
		}
	}
	if (fmt == RELAY_LOG_JSON)
		put(&o, "}", 1);
	return o.len;
}

/*
 * Every message of the engine: level 0 a warning (said unless -q), 1 a
 * connection's or session's line (the same), 2 verbose (-v).
 */
void
relay_logf(const struct relay_conf *cf, int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (cf->log == NULL || cf->verbose < (level == 0 ? 1 : level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cf->log(level, line);
}
