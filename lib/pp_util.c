/*
 * Addresses as text, and error codes as text: the public pp_addr_ntop,
 * pp_addr_port, pp_strerror and pp_errname.  The tools' own text form of
 * an endpoint ("HOST:PORT", "unix:PATH") is lib/net/'s, not the library's.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyhdr.h"

char *
pp_addr_ntop(const struct sockaddr_storage *sa, char *dst, size_t size)
{
	const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
	size_t n;

	switch (sa->ss_family) {
	case AF_INET:
		return inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)sa)->sin_addr, dst,
		    (socklen_t)size) ? dst : NULL;
	case AF_INET6:
		return inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, dst,
		    (socklen_t)size) ? dst : NULL;
	case AF_UNIX:
		if (size == 0)
			return NULL;
		/*
		 * An abstract name starts with a NUL byte; it is written
		 * "@name", up to its first NUL after that.
		 */
		if (su->sun_path[0] == '\0') {
			n = strnlen(su->sun_path + 1, sizeof(su->sun_path) - 1);
			if (n == 0) {
				dst[0] = '\0';	/* unnamed */
				return dst;
			}
			if (n + 2 > size)
				return NULL;
			dst[0] = '@';
			memcpy(dst + 1, su->sun_path + 1, n);
			dst[n + 1] = '\0';
			return dst;
		}
		n = strnlen(su->sun_path, sizeof(su->sun_path));
		if (n + 1 > size)
			return NULL;
		memcpy(dst, su->sun_path, n);
		dst[n] = '\0';
		return dst;
	}
	return NULL;
}

int
pp_addr_port(const struct sockaddr_storage *sa)
{
	switch (sa->ss_family) {
	case AF_INET:
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	case AF_INET6:
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
	return -1;
}

static const struct {
	const char	*name;
	const char	*text;
} errors[PP_ERROR_MAX] = {
	[PP_OK] = { "ok", "no error" },
	[PP_ENOT_PP] = { "not_proxy_protocol",
	    "not a PROXY protocol header (neither the v1 nor the v2 signature)" },
	[PP_EV1_SIG] = { "v1_bad_signature",
	    "v1: \"PROXY\" must be followed by one space" },
	[PP_EV1_LONG] = { "v1_too_long",
	    "v1: no CRLF within the first 107 bytes" },
	[PP_EV1_BARE_LF] = { "v1_bare_lf",
	    "v1: LF without CR before it; lines end with CRLF" },
	[PP_EV1_BARE_CR] = { "v1_cr_not_followed_by_lf",
	    "v1: CR not followed by LF" },
	[PP_EV1_PROTO] = { "v1_bad_proto",
	    "v1: protocol must be TCP4, TCP6 or UNKNOWN" },
	[PP_EV1_SRC_ADDR] = { "v1_bad_src_addr",
	    "v1: bad or missing source address" },
	[PP_EV1_DST_ADDR] = { "v1_bad_dst_addr",
	    "v1: bad or missing destination address" },
	[PP_EV1_SRC_PORT] = { "v1_bad_src_port",
	    "v1: source port must be 0-65535 in plain decimal" },
	[PP_EV1_DST_PORT] = { "v1_bad_dst_port",
	    "v1: destination port must be 0-65535 in plain decimal" },
	[PP_EV1_FAMILY] = { "v1_family_mismatch",
	    "v1: address of the wrong family for the protocol" },
	[PP_EV1_TRAILING] = { "v1_trailing_space",
	    "v1: CRLF expected after the destination port" },
	[PP_EV2_VERSION] = { "bad_version",
	    "v2: version must be 2" },
	[PP_EV2_COMMAND] = { "bad_command",
	    "v2: command must be LOCAL or PROXY" },
	[PP_EV2_FAMILY] = { "bad_family",
	    "v2: address family must be UNSPEC, INET, INET6 or UNIX" },
	[PP_EV2_TRANSPORT] = { "bad_transport",
	    "v2: transport must be UNSPEC, STREAM or DGRAM" },
	[PP_EV2_SHORT] = { "length_shorter_than_address_block",
	    "v2: length is shorter than the address block" },
	[PP_ETLV_OVERRUN] = { "tlv_overruns_header",
	    "v2: a TLV runs past the end of the header" },
	[PP_ECRC_LEN] = { "crc32c_bad_length",
	    "v2: CRC32C TLV must be 4 bytes" },
	[PP_ECRC_BAD] = { "crc32c_mismatch",
	    "v2: CRC32C does not match the header" },
	[PP_EUNIQUE_ID] = { "unique_id_too_long",
	    "v2: UNIQUE_ID TLV longer than 128 bytes" },
	[PP_ESSL] = { "ssl_tlv_malformed",
	    "v2: SSL TLV under 5 bytes or its sub-TLVs do not fill it" },
	[PP_ENOSPACE] = { "no_space", "buffer too small for the header" },
	[PP_EINVAL] = { "invalid_argument",
	    "invalid argument, or more than the version can carry" },
	[PP_ETOOBIG] = { "header_too_big",
	    "header longer than the allowed maximum" },
	[PP_ETRUNC] = { "truncated",
	    "connection closed inside the header" },
	[PP_ETIMEDOUT] = { "timeout", "timed out waiting for the header" },
	[PP_ESYS] = { "system_error", "system call failed" },
	[PP_ENOHDR] = { "no_header", "no PROXY header" },
};

static int
index_of(int code)
{
	/* Either sign; INT_MIN cannot be negated, so compare first. */
	if (code < 0 && code > -PP_ERROR_MAX)
		return -code;
	return code >= 0 && code < PP_ERROR_MAX ? code : -1;
}

const char *
pp_strerror(int code)
{
	int i = index_of(code);

	return i < 0 ? "unknown error" : errors[i].text;
}

const char *
pp_errname(int code)
{
	int i = index_of(code);

	return i < 0 ? "unknown" : errors[i].name;
}
