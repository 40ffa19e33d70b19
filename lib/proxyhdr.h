/*
 * proxyhdr.h - the PROXY protocol (v1 text, v2 binary) as a C library.
 *
 * The only public header of libproxyhdr.  Every function is reentrant,
 * keeps no global state, never allocates and never reads past the length
 * it is given.  See proxyhdr(3) for the full contract and
 * proxy-protocol(7) for the protocol itself.
 */
#ifndef PROXYHDR_H
#define PROXYHDR_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PP_VERSION_STRING	"0.1.0"

/* Limits: callers size their buffers with these. */
#define PP_V1_MAX	107		/* spec 2.1: whole line, CRLF included */
#define PP_V2_FIXED	16		/* spec 2.2: signature, ver/cmd, fam, len */
#define PP_V2_MAX	(PP_V2_FIXED + 65535)
#define PP_HDR_MAX	PP_V2_MAX	/* the longest header of either version */
#define PP_V2_SIG	"\r\n\r\n\0\r\nQUIT\n"
#define PP_V2_SIG_LEN	12
#define PP_UNIQUE_ID_MAX 128		/* spec 2.2.5 */
#define PP_ADDRSTRLEN	112		/* text of any address: "@" + 108 + NUL */

/* Commands (v2 low nibble of byte 12).  v1 lines are PROXY commands. */
#define PP_V2_CMD_LOCAL		0x0
#define PP_V2_CMD_PROXY		0x1

/* Address families (v2 high nibble of byte 13). */
#define PP_V2_FAM_UNSPEC	0x0
#define PP_V2_FAM_INET		0x1
#define PP_V2_FAM_INET6		0x2
#define PP_V2_FAM_UNIX		0x3

/* Transports (v2 low nibble of byte 13). */
#define PP_V2_TRANS_UNSPEC	0x0
#define PP_V2_TRANS_STREAM	0x1
#define PP_V2_TRANS_DGRAM	0x2

/* TLV types (spec 2.2.1 - 2.2.8 and the vendor registrations). */
#define PP_TLV_ALPN		0x01
#define PP_TLV_AUTHORITY	0x02
#define PP_TLV_CRC32C		0x03
#define PP_TLV_NOOP		0x04
#define PP_TLV_UNIQUE_ID	0x05
#define PP_TLV_SSL		0x20
#define PP_TLV_SSL_VERSION	0x21
#define PP_TLV_SSL_CN		0x22
#define PP_TLV_SSL_CIPHER	0x23
#define PP_TLV_SSL_SIG_ALG	0x24
#define PP_TLV_SSL_KEY_ALG	0x25
#define PP_TLV_SSL_GROUP	0x26
#define PP_TLV_SSL_SIG_SCHEME	0x27
#define PP_TLV_SSL_CLIENT_CERT	0x28
#define PP_TLV_NETNS		0x30
#define PP_TLV_GCP		0xE0	/* PSC connection id, uint64 BE */
#define PP_TLV_AWS		0xEA	/* subtype 0x01: VPC endpoint id */
#define PP_TLV_AZURE		0xEE	/* subtype 0x01: LinkID, uint32 LE */

#define PP_AWS_VPCE_ID		0x01
#define PP_AZURE_LINKID		0x01

/* Bits of the SSL TLV's client field. */
#define PP_CLIENT_SSL		0x01
#define PP_CLIENT_CERT_CONN	0x02
#define PP_CLIENT_CERT_SESS	0x04

/* CRC32C status of a parsed header. */
#define PP_CRC_ABSENT		0
#define PP_CRC_OK		1

/*
 * Error codes.  Functions return them negated (-PP_EV1_LONG); pp_strerror()
 * and pp_errname() take either sign.
 */
enum pp_error {
	PP_OK = 0,
	PP_ENOT_PP,		/* neither signature */
	PP_EV1_SIG,		/* "PROXY" not followed by a space */
	PP_EV1_LONG,		/* no CRLF within 107 bytes */
	PP_EV1_BARE_LF,		/* LF not preceded by CR */
	PP_EV1_BARE_CR,		/* CR not followed by LF */
	PP_EV1_PROTO,		/* not TCP4, TCP6 or UNKNOWN */
	PP_EV1_SRC_ADDR,
	PP_EV1_DST_ADDR,
	PP_EV1_SRC_PORT,
	PP_EV1_DST_PORT,
	PP_EV1_FAMILY,		/* address text of the other family */
	PP_EV1_TRAILING,	/* anything but CRLF after the last port */
	PP_EV2_VERSION,		/* version nibble not 2 */
	PP_EV2_COMMAND,		/* command not LOCAL or PROXY */
	PP_EV2_FAMILY,		/* family nibble above 3 */
	PP_EV2_TRANSPORT,	/* transport nibble above 2 */
	PP_EV2_SHORT,		/* length below the address block */
	PP_ETLV_OVERRUN,	/* a TLV runs past the header */
	PP_ECRC_LEN,		/* CRC32C TLV not 4 bytes */
	PP_ECRC_BAD,		/* CRC32C does not match */
	PP_EUNIQUE_ID,		/* UNIQUE_ID over 128 bytes */
	PP_ESSL,		/* SSL TLV under 5 bytes or bad sub-TLVs */
	PP_ENOSPACE,		/* builder: buffer too small */
	PP_EINVAL,		/* bad argument (builder, accessor) */
	PP_ETOOBIG,		/* reader: header longer than the buffer */
	PP_ETRUNC,		/* reader: end of input inside the header */
	PP_ETIMEDOUT,		/* reader: no complete header in time */
	PP_ESYS,		/* reader: system call failed, see errno */
	PP_ENOHDR,		/* reader: PP_READ_OPTIONAL and no header */
	PP_ERROR_MAX
};

/* A parsed header, or the input of a builder. */
struct pp_header {
	uint8_t		version;	/* 1 or 2 */
	uint8_t		command;	/* PP_V2_CMD_LOCAL or PP_V2_CMD_PROXY */
	uint8_t		family;		/* PP_V2_FAM_*; v1 UNKNOWN is UNSPEC */
	uint8_t		transport;	/* PP_V2_TRANS_*; v1 UNKNOWN is UNSPEC */
	uint8_t		crc32c;		/* PP_CRC_ABSENT or PP_CRC_OK */
	uint8_t		has_addr;	/* 0 for LOCAL, UNKNOWN and UNSPEC */
	uint32_t	hdr_len;	/* header length in bytes */
	uint32_t	need;		/* incomplete: total bytes needed, at least */
	uint32_t	err_off;	/* invalid: offset of the offending byte */
	struct sockaddr_storage src;	/* valid when has_addr */
	struct sockaddr_storage dst;
	const uint8_t	*tlv;		/* TLV area inside the caller's buffer */
	uint32_t	tlv_len;
};

/* One TLV: a view into a buffer, never a copy. */
struct pp_tlv {
	uint8_t		type;
	uint16_t	len;
	const uint8_t	*value;
};

/* The SSL TLV's fixed part; sub points at its sub-TLVs. */
struct pp_ssl {
	uint8_t		client;
	uint32_t	verify;
	const uint8_t	*sub;
	uint32_t	sub_len;
};

/*
 * pp_parse: decode the header at the start of buf[0..len).
 * Returns the header length (> 0) when a complete valid header is there;
 * 0 when the bytes so far are a valid prefix: h->need is then the total
 * number of bytes needed at least; a negative -PP_E* code when the input
 * cannot become a valid header: h->err_off is the offset of the first
 * offending byte.  Decides "invalid" as soon as the bytes allow, and gives
 * the same answer for any prefix of a longer input that it can answer for.
 * Reads nothing past buf[len - 1]; whatever follows the header is payload.
 */
int	pp_parse(const void *buf, size_t len, struct pp_header *h);

/*
 * Same, restricted to one version (1 or 2); 0 means either.  Any other
 * version gives -PP_EINVAL.
 */
int	pp_parse_version(const void *buf, size_t len, int version,
	    struct pp_header *h);

/*
 * TLV iteration.  pp_tlv_walk steps through a raw TLV area (a header's or
 * an SSL TLV's sub-TLVs): *pos starts at 0.  Returns 1 and fills t, 0 at
 * the end of the area, -PP_ETLV_OVERRUN when a TLV runs past it.
 * pp_tlv_next does the same over h's TLV area.
 */
int	pp_tlv_walk(const uint8_t *area, size_t len, size_t *pos,
	    struct pp_tlv *t);
int	pp_tlv_next(const struct pp_header *h, size_t *pos, struct pp_tlv *t);

/* The first TLV of a type: 1 and t filled, or 0 when there is none. */
int	pp_tlv_find(const struct pp_header *h, uint8_t type, struct pp_tlv *t);

/*
 * Typed accessors over one TLV.  Each returns 0 and fills its output, or
 * -PP_EINVAL when t is not of that type or its value has the wrong shape.
 */
int	pp_tlv_ssl(const struct pp_tlv *t, struct pp_ssl *ssl);
int	pp_tlv_aws_vpce(const struct pp_tlv *t, const char **id, size_t *len);
int	pp_tlv_azure_linkid(const struct pp_tlv *t, uint32_t *linkid);
int	pp_tlv_gcp_psc(const struct pp_tlv *t, uint64_t *id);
int	pp_tlv_crc32c(const struct pp_tlv *t, uint32_t *crc);

/* The name of a TLV type ("alpn", "ssl", ...) or NULL when unknown. */
const char *pp_tlv_name(uint8_t type);
/* The name of an SSL sub-TLV type ("version", "cn", ...) or NULL. */
const char *pp_ssl_sub_name(uint8_t type);
/* A TLV type from its name, case-insensitive: >= 0, or -1. */
int	pp_tlv_type(const char *name);

/*
 * CRC32C (Castagnoli) of data, continuing from crc (0 to start).  Uses the
 * CPU's instruction when it has one; pp_crc32c_sw is the portable table
 * version, pp_crc32c_hw_available tells which one pp_crc32c uses.
 */
uint32_t pp_crc32c(uint32_t crc, const void *data, size_t len);
uint32_t pp_crc32c_sw(uint32_t crc, const void *data, size_t len);
int	pp_crc32c_hw_available(void);

/*
 * Builders.  The addresses come from h->src and h->dst (AF_INET, AF_INET6,
 * AF_UNIX or AF_UNSPEC), the command from h->command and the transport
 * from h->transport (0 means STREAM).  Two IPv4 or IPv4-mapped addresses
 * give TCP4/INET; a mixed pair gives TCP6/INET6 with the IPv4 side mapped.
 * Return the number of bytes written, -PP_ENOSPACE when cap is too small
 * (nothing useful is written then) or -PP_EINVAL for what the version
 * cannot carry (v1: UNIX or DGRAM) and for TLVs pp_parse would refuse
 * (UNIQUE_ID over 128 bytes, a malformed SSL TLV, a CRC32C TLV that is not
 * 4 bytes or comes with PP_BUILD_CRC32C).  Never allocate.  A LOCAL
 * header is written with family and transport UNSPEC and no addresses.
 *
 * pp_build_v1 writes "PROXY UNKNOWN\r\n" for a LOCAL command or AF_UNSPEC
 * addresses.  pp_build_v2 appends the n TLVs in order, then a CRC32C TLV
 * when flags has PP_BUILD_CRC32C, computed over the final header.
 */
#define PP_BUILD_CRC32C	0x01
int	pp_build_v1(void *buf, size_t cap, const struct pp_header *h);
int	pp_build_v2(void *buf, size_t cap, const struct pp_header *h,
	    const struct pp_tlv *tlvs, size_t n, int flags);

/*
 * pp_read_fd: read exactly one header from fd and not a byte more, so
 * whoever reads fd next gets the first payload byte.  On a socket it peeks
 * and then consumes the header's bytes; on a pipe or file it reads no more
 * than the parser says is still part of the header.  Waits at most
 * timeout_ms in all (-1: no limit).  buf (cap bytes) receives the header;
 * h points into it.  Returns the header length, or -PP_ETIMEDOUT,
 * -PP_ETRUNC (end of input inside a header; h->need as in pp_parse),
 * -PP_ETOOBIG (the header needs more than cap bytes), -PP_ESYS (errno
 * set) or a parse error (h->err_off set; the bytes read are in buf).
 * On every error h->hdr_len is the number of bytes taken from fd; they
 * are in buf.  With PP_READ_OPTIONAL, input that cannot be a header
 * returns -PP_ENOHDR: on a socket nothing is consumed; on a pipe the bytes
 * already read are gone from it (a pipe cannot unread them).
 * flags may also give PP_READ_V1 or PP_READ_V2 to accept one version.
 */
#define PP_READ_OPTIONAL	0x01
#define PP_READ_V1		0x02
#define PP_READ_V2		0x04
int	pp_read_fd(int fd, void *buf, size_t cap, struct pp_header *h,
	    int timeout_ms, int flags);

/*
 * Address helpers.  pp_addr_ntop writes the canonical text of sa into
 * dst (PP_ADDRSTRLEN bytes suffice): inet_ntop for IP, the path for
 * AF_UNIX with "@" for an abstract name and "" for an unnamed socket.
 * Returns dst, or NULL for another family.  pp_addr_port gives the port
 * in host order, or -1 for a family without ports.
 */
char	*pp_addr_ntop(const struct sockaddr_storage *sa, char *dst, size_t size);
int	pp_addr_port(const struct sockaddr_storage *sa);

/* Text of an error code, never NULL; and its short stable name. */
const char *pp_strerror(int code);
const char *pp_errname(int code);

#ifdef __cplusplus
}
#endif

#endif /* PROXYHDR_H */
