/*
 * cli.c - what every tool shares: options, numbers, addresses, TLV flags,
 * logging, and the environment given to a child.  See cli.h.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <getopt.h>
#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "cli.h"

const char *const cli_env_names[] = {
	"PROTO",
	"TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT",
	"IPCREMOTEPATH", "IPCLOCALPATH",
	"PROXY_VERSION", "PROXY_COMMAND", "PROXY_FAMILY", "PROXY_TRANSPORT",
	"PROXY_PEERIP", "PROXY_PEERPORT",
	"PROXY_TLV_ALPN", "PROXY_TLV_AUTHORITY", "PROXY_TLV_UNIQUE_ID",
	"PROXY_TLV_NETNS",
	"PROXY_TLV_SSL_CLIENT", "PROXY_TLV_SSL_VERIFY", "PROXY_TLV_SSL_VERSION",
	"PROXY_TLV_SSL_CN", "PROXY_TLV_SSL_CIPHER", "PROXY_TLV_SSL_SIG_ALG",
	"PROXY_TLV_SSL_KEY_ALG", "PROXY_TLV_SSL_GROUP",
	"PROXY_TLV_SSL_SIG_SCHEME", "PROXY_TLV_SSL_CLIENT_CERT",
	"PROXY_TLV_AWS_VPCE_ID", "PROXY_TLV_AZURE_LINKID",
	"PROXY_TLV_GCP_PSC_ID",
	NULL
};

/*
 * Where diagnostics go.  On a terminal or a file: stderr as is.  Under
 * systemd, when JOURNAL_STREAM names the stderr we have: stderr still, one
 * line a message with sd-daemon(3)'s "<N>" priority in front, so journald
 * keeps the level.  Otherwise, when stderr is a socket (inetd gives the
 * client's socket as fds 0, 1 and 2): syslog(3), never the client.
 * glibc's err(3) writes "prog: ", the message and "\n" in several pieces,
 * so a cookie collects a line and hands it on whole at the newline.
 */
enum { CLI_TO_STDERR, CLI_TO_JOURNAL, CLI_TO_SYSLOG };

struct cli_log {
	char	line[1024];
	size_t	len;
};

static struct cli_log cli_logbuf;
static int cli_to = CLI_TO_STDERR;

/*
 * Our own copy of the program name: openlog(3) keeps the pointer it is
 * given, and setproctitle(3) later writes over argv[0].
 */
static char cli_name[64];

static void
cli_emit(int pri, const char *msg, int bare)
{
	char buf[1200];
	int n;

	if (cli_to == CLI_TO_SYSLOG) {
		syslog(pri, "%s", msg);
		return;
	}
	n = snprintf(buf, sizeof(buf), "<%d>%s%s%s\n", pri, bare ? "" :
	    getprogname(), bare ? "" : ": ", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* One write a line: journald then never sees half a message. */
	(void)write(STDERR_FILENO, buf, (size_t)n);
}

/* err(3) and warn(3) are what the tool itself says: LOG_ERR. */
static void
cli_log_flush(struct cli_log *lg)
{
	const char *msg = lg->line;
	const char *prog = getprogname();
	size_t plen = strlen(prog);

	if (lg->len == 0)
		return;
	lg->line[lg->len] = '\0';
	if (strncmp(msg, prog, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
		msg += plen + 2;
	cli_emit(LOG_ERR, msg, 0);
	lg->len = 0;
}

static ssize_t
cli_log_write(void *cookie, const char *buf, size_t size)
{
	struct cli_log *lg = cookie;
	size_t i;

	for (i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			cli_log_flush(lg);
			continue;
		}
		if (lg->len == sizeof(lg->line) - 1)
			cli_log_flush(lg);
		lg->line[lg->len++] = buf[i];
	}
	return size;
}

static int
cli_log_close(void *cookie)
{
	cli_log_flush(cookie);
	return 0;
}

/* Is fd 2 the stream JOURNAL_STREAM ("DEV:INODE") names? */
static int
cli_journal(const struct stat *st)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char extra;

	if (js == NULL ||
	    sscanf(js, "%llu:%llu%c", &dev, &ino, &extra) != 2)
		return 0;
	return dev == (unsigned long long)st->st_dev &&
	    ino == (unsigned long long)st->st_ino;
}

void
cli_setname(const char *name)
{
	strlcpy(cli_name, name, sizeof(cli_name));
	setprogname(cli_name);
	program_invocation_short_name = cli_name;
	if (cli_to == CLI_TO_SYSLOG) {
		closelog();
		openlog(cli_name, LOG_PID, LOG_DAEMON);
	}
}

void
cli_logline(int pri, const char *line)
{
	if (cli_to == CLI_TO_STDERR)
		fprintf(stderr, "%s: %s\n", getprogname(), line);
	else
		cli_emit(pri, line, 0);
}

void
cli_logrecord(int pri, const char *line)
{
	if (cli_to == CLI_TO_STDERR)
		fprintf(stderr, "%s\n", line);
	else
		cli_emit(pri, line, 1);
}

void
cli_init(int argc, char *argv[])
{
	static const cookie_io_functions_t fns = {
		.write = cli_log_write,
		.close = cli_log_close,
	};
	struct stat st;
	FILE *fp;

	(void)argc;
	if (argv != NULL && argv[0] != NULL) {
		char *slash = strrchr(argv[0], '/');

		cli_setname(slash != NULL ? slash + 1 : argv[0]);
	}
	(void)signal(SIGPIPE, SIG_IGN);

	if (fstat(STDERR_FILENO, &st) != 0)
		return;
	if (cli_journal(&st))
		cli_to = CLI_TO_JOURNAL;
	else if (S_ISSOCK(st.st_mode)) {
		/* Under inetd fd 2 is the client's socket: never write there. */
		cli_to = CLI_TO_SYSLOG;
		openlog(getprogname(), LOG_PID, LOG_DAEMON);
	} else
		return;
	fp = fopencookie(&cli_logbuf, "w", fns);
	if (fp != NULL) {
		setvbuf(fp, NULL, _IOLBF, 0);
		stderr = fp;
	}
}

long long
cli_number(const char *flag, const char *s, long long min, long long max)
{
	const char *errstr;
	long long n;

	n = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		errx(EX_USAGE, "%s %s: %s (%lld to %lld)", flag, s, errstr,
		    min, max);
	return n;
}

/* "1ms", "2s", "3m" or "4h": the largest unit that divides ms exactly. */
static const char *
cli_dur_unit(long long ms, char *buf, size_t cap)
{
	if (ms >= 3600000 && ms % 3600000 == 0)
		snprintf(buf, cap, "%lldh", ms / 3600000);
	else if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, cap, "%lldm", ms / 60000);
	else if (ms >= 1000 && ms % 1000 == 0)
		snprintf(buf, cap, "%llds", ms / 1000);
	else
		snprintf(buf, cap, "%lldms", ms);
	return buf;
}

int
cli_duration(const char *flag, const char *s, int flags, int min_ms,
    int max_ms)
{
	const char *p = s, *why = NULL;
	char lo[32], hi[32];
	double v = 0, scale = 1, mult;
	int digits = 0, nonzero = 0;

	if (min_ms < 1)
		min_ms = 1;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		v = v * 10 + (*p - '0');
		nonzero |= *p != '0';
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			scale /= 10;
			v += (*p - '0') * scale;
			nonzero |= *p != '0';
		}
	mult = flags & CLI_DUR_MS ? 1 : 1000;
	if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "m") == 0)
		mult = 60000;
	else if (strcmp(p, "h") == 0)
		mult = 3600000;
	else if (*p != '\0')
		digits = 0;
	if (digits == 0 || digits > 15)
		why = "invalid";
	else if (!nonzero && (flags & CLI_DUR_ZERO))
		return 0;
	else if (v * mult < min_ms)
		why = "too small";
	else if (v * mult > max_ms)
		why = "too large";
	if (why != NULL)
		errx(EX_USAGE, "%s %s: %s: expected %s to %s (%s, or a number "
		    "with ms, s, m or h)%s", flag, s, why,
		    cli_dur_unit(min_ms, lo, sizeof(lo)),
		    cli_dur_unit(max_ms, hi, sizeof(hi)),
		    flags & CLI_DUR_MS ? "milliseconds" : "seconds",
		    flags & CLI_DUR_ZERO ? ", or 0 for none" : "");
	return (int)(v * mult + 0.5);
}

const char *
cli_duration_text(int ms, char *buf, size_t cap)
{
	if (ms < 1000)
		snprintf(buf, cap, "%d ms", ms);
	else if (ms % 1000 == 0)
		snprintf(buf, cap, "%d s", ms / 1000);
	else if (ms % 100 == 0)
		snprintf(buf, cap, "%d.%d s", ms / 1000, ms % 1000 / 100);
	else if (ms % 10 == 0)
		snprintf(buf, cap, "%d.%02d s", ms / 1000, ms % 1000 / 10);
	else
		snprintf(buf, cap, "%d.%03d s", ms / 1000, ms % 1000);
	return buf;
}

void
cli_recv_init(struct cli_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->accept = -1;
	r->max_header = 4096;
	r->hdr_ms = 5000;
}

int
cli_recv_opt(int ch, const char *arg, char **argv, struct cli_recv *r)
{
	switch (ch) {
	case 'a':
		/* "-a v1": getopt gives no argument to an optional one. */
		if (arg == NULL && argv[optind] != NULL &&
		    (strcmp(argv[optind], "v1") == 0 ||
		    strcmp(argv[optind], "v2") == 0 ||
		    strcmp(argv[optind], "any") == 0))
			arg = argv[optind++];
		r->accept = cli_version("--accept-proxy", arg, 0);
		return 1;
	case 'm':
		r->max_header = (int)cli_number("--max-header", arg,
		    CLI_HDR_MIN, PP_HDR_MAX);
		return 1;
	case 'o':
		r->optional = 1;
		return 1;
	case 't':
		if (r->ntrust == CLI_MAXTRUST)
			errx(EX_USAGE, "--trust: at most %d", CLI_MAXTRUST);
		cli_cidr("--trust", arg, &r->trust[r->ntrust++]);
		return 1;
	case 'T':
		r->hdr_ms = cli_duration("-T", arg, CLI_DUR_ZERO, 1, 86400000);
		return 1;
	}
	return 0;
}

int
cli_version(const char *flag, const char *arg, int dflt)
{
	if (arg == NULL)
		return dflt;
	if (strcmp(arg, "v1") == 0 || strcmp(arg, "1") == 0)
		return 1;
	if (strcmp(arg, "v2") == 0 || strcmp(arg, "2") == 0)
		return 2;
	if (strcmp(arg, "any") == 0)
		return 0;
	errx(EX_USAGE, "%s=%s: expected v1, v2 or any", flag, arg);
}

void
cli_addr(const char *flag, const char *s, struct sockaddr_storage *sa)
{
	const char *why = NULL;
	socklen_t len;

	if (net_addr_parse(s, sa, &len, &why) != 0)
		errx(EX_USAGE, "%s %s: %s", flag, s,
		    why != NULL ? why : "bad address");
}

void
cli_cidr(const char *flag, const char *s, struct net_cidr *c)
{
	if (net_cidr_parse(s, c) != 0)
		errx(EX_USAGE, "%s %s: expected ADDR or ADDR/BITS "
		    "(IPv4 or IPv6)", flag, s);
}

long
cli_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *hex != '\0'; hex++) {
		if (isspace((unsigned char)*hex))
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else if (*hex >= 'A' && *hex <= 'F')
			v = *hex - 'A' + 10;
		else
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		return -1;
	return (long)n;
}

size_t
cli_tlv(const char *flag, const char *arg, struct pp_tlv *t, uint8_t *store,
    size_t cap)
{
	const char *eq, *val, *errstr;
	char tbuf[16];
	size_t tlen, n = 0;
	long long num;
	long hn;
	int type;

	if ((eq = strchr(arg, '=')) == NULL || eq == arg)
		errx(EX_USAGE, "%s %s: expected TYPE=VALUE", flag, arg);
	tlen = (size_t)(eq - arg);
	val = eq + 1;
	if (tlen >= sizeof(tbuf))
		errx(EX_USAGE, "%s %s: unknown TLV type", flag, arg);
	memcpy(tbuf, arg, tlen);
	tbuf[tlen] = '\0';
	if ((type = pp_tlv_type(tbuf)) < 0) {
		if (tlen > 2 && tbuf[0] == '0' &&
		    (tbuf[1] == 'x' || tbuf[1] == 'X')) {
			uint8_t b;

			if (tlen != 4 || cli_unhex(tbuf + 2, &b, 1) != 1)
				errx(EX_USAGE, "%s %s: TLV type out of range",
				    flag, arg);
			type = b;
		} else {
			num = strtonum(tbuf, 0, 255, &errstr);
			if (errstr != NULL)
				errx(EX_USAGE, "%s %s: TLV type is a "
				    "name (alpn, authority, unique-id, netns, "
				    "noop, aws, azure, gcp) or a number 0-255",
				    flag, arg);
			type = (int)num;
		}
	}

	if (val[0] == '0' && (val[1] == 'x' || val[1] == 'X')) {
		/* Hex: the raw value, whatever the type. */
		if ((hn = cli_unhex(val + 2, store, cap)) < 0)
			errx(EX_USAGE, "%s %s: bad hex value", flag, arg);
		n = (size_t)hn;
	} else if (type == PP_TLV_AWS) {
		if (strlen(val) + 1 > cap)
			errx(EX_USAGE, "%s: value too long", flag);
		store[0] = PP_AWS_VPCE_ID;
		memcpy(store + 1, val, strlen(val));
		n = strlen(val) + 1;
	} else if (type == PP_TLV_AZURE) {
		num = strtonum(val, 0, UINT32_MAX, &errstr);
		if (errstr != NULL)
			errx(EX_USAGE, "%s %s: LinkID is a number 0-%u: %s",
			    flag, arg, UINT32_MAX, errstr);
		if (cap < 5)
			errx(EX_USAGE, "%s: value too long", flag);
		store[0] = PP_AZURE_LINKID;
		store[1] = (uint8_t)num;		/* little-endian */
		store[2] = (uint8_t)(num >> 8);
		store[3] = (uint8_t)(num >> 16);
		store[4] = (uint8_t)(num >> 24);
		n = 5;
	} else if (type == PP_TLV_GCP) {
		unsigned long long id;
		char *end;
		int i;

		errno = 0;
		id = strtoull(val, &end, 10);
		if (!isdigit((unsigned char)val[0]) || *end != '\0' ||
		    errno != 0)
			errx(EX_USAGE, "%s %s: PSC id is a number 0-%llu",
			    flag, arg, (unsigned long long)UINT64_MAX);
		if (cap < 8)
			errx(EX_USAGE, "%s: value too long", flag);
		for (i = 0; i < 8; i++)		/* big-endian */
			store[i] = (uint8_t)(id >> (56 - 8 * i));
		n = 8;
	} else {
		n = strlen(val);
		if (n > cap)
			errx(EX_USAGE, "%s: value too long", flag);
		memcpy(store, val, n);
	}
	if (n > UINT16_MAX)
		errx(EX_USAGE, "%s: value over 65535 bytes", flag);
	if (type == PP_TLV_UNIQUE_ID && n > PP_UNIQUE_ID_MAX)
		errx(EX_USAGE, "%s: unique-id over %d bytes", flag,
		    PP_UNIQUE_ID_MAX);
	t->type = (uint8_t)type;
	t->len = (uint16_t)n;
	t->value = store;
	return n;
}

/* Append s to buf (cap bytes) at *off, always NUL-terminated. */
static void
cli_put(char *buf, size_t cap, size_t *off, const char *s, size_t n)
{
	if (cap == 0)
		return;
	while (n > 0 && *off + 1 < cap) {
		buf[(*off)++] = *s++;
		n--;
	}
	buf[*off < cap ? *off : cap - 1] = '\0';
}

static void
cli_hex(const uint8_t *p, size_t n, char *buf, size_t cap, size_t *off)
{
	static const char digits[] = "0123456789abcdef";
	char two[2];
	size_t i;

	for (i = 0; i < n; i++) {
		two[0] = digits[p[i] >> 4];
		two[1] = digits[p[i] & 15];
		cli_put(buf, cap, off, two, 2);
	}
}

size_t
cli_utf8(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	/* RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

/*
 * Text with bytes outside printable ASCII, and '\\', escaped as \xNN;
 * with utf8, valid UTF-8 characters that are not controls pass as they are.
 */
static void
cli_text(const uint8_t *p, size_t n, char *buf, size_t cap, size_t *off,
    int utf8)
{
	char esc[5];
	uint32_t cp;
	size_t i, k;

	for (i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
			cli_put(buf, cap, off, (const char *)p + i, 1);
			continue;
		}
		if (utf8 && p[i] >= 0x80 &&
		    (k = cli_utf8(p + i, n - i, &cp)) > 0 && cp >= 0xa0) {
			cli_put(buf, cap, off, (const char *)p + i, k);
			i += k - 1;
			continue;
		}
		snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
		cli_put(buf, cap, off, esc, 4);
	}
}

static int
cli_is_text(uint8_t type)
{
	switch (type) {
	case PP_TLV_ALPN:
	case PP_TLV_AUTHORITY:
	case PP_TLV_UNIQUE_ID:
	case PP_TLV_NETNS:
	case PP_TLV_SSL_VERSION:
	case PP_TLV_SSL_CN:
	case PP_TLV_SSL_CIPHER:
	case PP_TLV_SSL_SIG_ALG:
	case PP_TLV_SSL_KEY_ALG:
	case PP_TLV_SSL_GROUP:
	case PP_TLV_SSL_SIG_SCHEME:
		return 1;
	}
	return 0;
}

static const char *
cli_tlv_fmt(const struct pp_tlv *t, char *buf, size_t cap, int utf8)
{
	size_t off = 0;
	char num[32];
	const char *id;
	size_t idlen;
	uint64_t gcp;
	uint32_t u32;

	if (cap == 0)
		return buf;
	buf[0] = '\0';
	if (cli_is_text(t->type)) {
		cli_text(t->value, t->len, buf, cap, &off, utf8);
		return buf;
	}
	switch (t->type) {
	case PP_TLV_AWS:
		if (pp_tlv_aws_vpce(t, &id, &idlen) == 0) {
			cli_text((const uint8_t *)id, idlen, buf, cap, &off,
			    utf8);
			return buf;
		}
		break;
	case PP_TLV_AZURE:
		if (pp_tlv_azure_linkid(t, &u32) == 0) {
			snprintf(num, sizeof(num), "%u", u32);
			cli_put(buf, cap, &off, num, strlen(num));
			return buf;
		}
		break;
	case PP_TLV_GCP:
		if (pp_tlv_gcp_psc(t, &gcp) == 0) {
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)gcp);
			cli_put(buf, cap, &off, num, strlen(num));
			return buf;
		}
		break;
	}
	cli_hex(t->value, t->len, buf, cap, &off);
	return buf;
}

const char *
cli_tlv_text(const struct pp_tlv *t, char *buf, size_t cap)
{
	return cli_tlv_fmt(t, buf, cap, 0);
}

const char *
cli_tlv_show(const struct pp_tlv *t, char *buf, size_t cap)
{
	return cli_tlv_fmt(t, buf, cap, 1);
}

/*
 * cli_env helpers.  A TLV value can be up to 64 KiB; text TLVs escape a
 * byte as \xNN (4 characters), hex takes 2: the buffer is sized for the
 * worst case, so no value is ever cut.
 */
#define CLI_VALMAX	(4 * 65535 + 1)

struct cli_emitter {
	void	(*emit)(const char *, const char *, void *);
	void	*arg;
	char	*val;
};

static void
cli_emit_addr(struct cli_emitter *e, const char *ipkey, const char *portkey,
    const struct sockaddr_storage *sa)
{
	char text[PP_ADDRSTRLEN], num[16];
	int port;

	if (pp_addr_ntop(sa, text, sizeof(text)) == NULL || text[0] == '\0')
		return;
	e->emit(ipkey, text, e->arg);
	if (portkey != NULL && (port = pp_addr_port(sa)) >= 0) {
		snprintf(num, sizeof(num), "%d", port);
		e->emit(portkey, num, e->arg);
	}
}

/* PROTO and the UCSPI names for one pair of endpoints. */
static void
cli_emit_ucspi(struct cli_emitter *e, const struct sockaddr_storage *remote,
    const struct sockaddr_storage *local)
{
	int fam = remote != NULL ? remote->ss_family :
	    local != NULL ? local->ss_family : AF_UNSPEC;

	if (fam == AF_INET || fam == AF_INET6) {
		e->emit("PROTO", "TCP", e->arg);
		if (remote != NULL)
			cli_emit_addr(e, "TCPREMOTEIP", "TCPREMOTEPORT",
			    remote);
		if (local != NULL)
			cli_emit_addr(e, "TCPLOCALIP", "TCPLOCALPORT", local);
	} else if (fam == AF_UNIX) {
		e->emit("PROTO", "IPC", e->arg);
		if (remote != NULL)
			cli_emit_addr(e, "IPCREMOTEPATH", NULL, remote);
		if (local != NULL)
			cli_emit_addr(e, "IPCLOCALPATH", NULL, local);
	}
}

static void
cli_emit_ssl(struct cli_emitter *e, const struct pp_tlv *t)
{
	static const char *const names[] = {
		"PROXY_TLV_SSL_VERSION", "PROXY_TLV_SSL_CN",
		"PROXY_TLV_SSL_CIPHER", "PROXY_TLV_SSL_SIG_ALG",
		"PROXY_TLV_SSL_KEY_ALG", "PROXY_TLV_SSL_GROUP",
		"PROXY_TLV_SSL_SIG_SCHEME", "PROXY_TLV_SSL_CLIENT_CERT",
	};
	struct pp_ssl ssl;
	struct pp_tlv sub;
	uint16_t seen = 0;
	size_t pos = 0;
	char num[16];

	if (pp_tlv_ssl(t, &ssl) != 0) {
		cli_tlv_text(t, e->val, CLI_VALMAX);
		e->emit("PROXY_TLV_0x20", e->val, e->arg);
		return;
	}
	snprintf(num, sizeof(num), "%u", ssl.client);
	e->emit("PROXY_TLV_SSL_CLIENT", num, e->arg);
	snprintf(num, sizeof(num), "%u", ssl.verify);
	e->emit("PROXY_TLV_SSL_VERIFY", num, e->arg);
	while (pp_tlv_walk(ssl.sub, ssl.sub_len, &pos, &sub) == 1) {
		if (sub.type < PP_TLV_SSL_VERSION ||
		    sub.type > PP_TLV_SSL_CLIENT_CERT)
			continue;
		if (seen & (1u << (sub.type - PP_TLV_SSL_VERSION)))
			continue;
		seen |= 1u << (sub.type - PP_TLV_SSL_VERSION);
		cli_tlv_text(&sub, e->val, CLI_VALMAX);
		e->emit(names[sub.type - PP_TLV_SSL_VERSION], e->val, e->arg);
	}
}

static void
cli_emit_tlvs(struct cli_emitter *e, const struct pp_header *h)
{
	uint8_t seen[256 / 8];
	struct pp_tlv t;
	size_t pos = 0;
	const char *key;
	char other[sizeof("PROXY_TLV_0xFF")];

	memset(seen, 0, sizeof(seen));
	while (pp_tlv_next(h, &pos, &t) == 1) {
		/* The first TLV of a type wins, as with pp_tlv_find. */
		if (seen[t.type / 8] & (1 << (t.type % 8)))
			continue;
		seen[t.type / 8] |= 1 << (t.type % 8);
		key = NULL;
		switch (t.type) {
		case PP_TLV_NOOP:
			continue;	/* padding, nothing to say */
		case PP_TLV_SSL:
			cli_emit_ssl(e, &t);
			continue;
		case PP_TLV_ALPN:
			key = "PROXY_TLV_ALPN";
			break;
		case PP_TLV_AUTHORITY:
			key = "PROXY_TLV_AUTHORITY";
			break;
		case PP_TLV_UNIQUE_ID:
			key = "PROXY_TLV_UNIQUE_ID";
			break;
		case PP_TLV_NETNS:
			key = "PROXY_TLV_NETNS";
			break;
		case PP_TLV_AWS: {
			const char *id;
			size_t idlen;

			if (pp_tlv_aws_vpce(&t, &id, &idlen) == 0)
				key = "PROXY_TLV_AWS_VPCE_ID";
			break;
		}
		case PP_TLV_AZURE: {
			uint32_t link;

			if (pp_tlv_azure_linkid(&t, &link) == 0)
				key = "PROXY_TLV_AZURE_LINKID";
			break;
		}
		case PP_TLV_GCP: {
			uint64_t id;

			if (pp_tlv_gcp_psc(&t, &id) == 0)
				key = "PROXY_TLV_GCP_PSC_ID";
			break;
		}
		}
		if (key == NULL) {
			snprintf(other, sizeof(other), "PROXY_TLV_0x%02X",
			    t.type);
			key = other;
			e->val[0] = '\0';
			{
				size_t off = 0;

				cli_hex(t.value, t.len, e->val, CLI_VALMAX,
				    &off);
			}
		} else
			cli_tlv_text(&t, e->val, CLI_VALMAX);
		e->emit(key, e->val, e->arg);
	}
}

void
cli_env(const struct pp_header *h, const struct sockaddr_storage *peer,
    const struct sockaddr_storage *local,
    void (*emit)(const char *key, const char *value, void *arg), void *arg)
{
	static const char *const fams[] = { "unspec", "inet", "inet6", "unix" };
	static const char *const trans[] = { "unspec", "stream", "dgram" };
	struct sockaddr_storage rpeer, rlocal;
	struct cli_emitter e;
	char num[16];

	e.emit = emit;
	e.arg = arg;
	if ((e.val = malloc(CLI_VALMAX)) == NULL)
		err(1, "malloc");

	/*
	 * The real endpoints: an IPv4 client on a dual-stack socket is an
	 * IPv4 client, so they are unmapped.  Addresses from a header are
	 * written as the header gave them.
	 */
	if (peer != NULL) {
		rpeer = *peer;
		net_addr_unmap(&rpeer);
		peer = &rpeer;
	}
	if (local != NULL) {
		rlocal = *local;
		net_addr_unmap(&rlocal);
		local = &rlocal;
	}

	if (h != NULL && h->has_addr)
		cli_emit_ucspi(&e, &h->src, &h->dst);
	else
		cli_emit_ucspi(&e, peer, local);

	if (h != NULL) {
		snprintf(num, sizeof(num), "%u", h->version);
		emit("PROXY_VERSION", num, arg);
		emit("PROXY_COMMAND",
		    h->command == PP_V2_CMD_LOCAL ? "local" : "proxy", arg);
		if (h->family < sizeof(fams) / sizeof(fams[0]))
			emit("PROXY_FAMILY", fams[h->family], arg);
		if (h->transport < sizeof(trans) / sizeof(trans[0]))
			emit("PROXY_TRANSPORT", trans[h->transport], arg);
	}
	if (peer != NULL &&
	    (peer->ss_family == AF_INET || peer->ss_family == AF_INET6))
		cli_emit_addr(&e, "PROXY_PEERIP", "PROXY_PEERPORT", peer);

	/* spec 2.2: a LOCAL header's contents are not to be trusted. */
	if (h != NULL && h->command == PP_V2_CMD_PROXY && h->tlv != NULL)
		cli_emit_tlvs(&e, h);
	free(e.val);
}

void
cli_env_clear(void)
{
	static const char *const more[] = {
		"TCPREMOTEHOST", "TCPREMOTEINFO", "TCPLOCALHOST", NULL
	};
	static const char prefix[] = "PROXY_TLV_0x";
	extern char **environ;
	char name[64];
	size_t i, n;

	for (i = 0; cli_env_names[i] != NULL; i++)
		(void)unsetenv(cli_env_names[i]);
	for (i = 0; more[i] != NULL; i++)
		(void)unsetenv(more[i]);
	/* unsetenv reshuffles environ: start over after each removal. */
	for (i = 0; environ != NULL && environ[i] != NULL; i++) {
		if (strncmp(environ[i], prefix, sizeof(prefix) - 1) != 0)
			continue;
		n = strcspn(environ[i], "=");
		if (n >= sizeof(name) || environ[i][n] != '=')
			continue;
		memcpy(name, environ[i], n);
		name[n] = '\0';
		(void)unsetenv(name);
		i = (size_t)-1;
	}
}

/* An IP address and port from text (brackets allowed), or -1. */
static int
ip_port(const char *ip, const char *port, struct sockaddr_storage *sa)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
	char text[INET6_ADDRSTRLEN + 2];
	const char *errstr;
	size_t len;
	long long p;

	if (ip == NULL || port == NULL)
		return -1;
	len = strlen(ip);
	if (len >= sizeof(text))
		return -1;
	if (ip[0] == '[' && len > 2 && ip[len - 1] == ']') {
		memcpy(text, ip + 1, len - 2);
		text[len - 2] = '\0';
	} else
		memcpy(text, ip, len + 1);
	p = strtonum(port, 0, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((in_port_t)p);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((in_port_t)p);
		return 0;
	}
	return -1;
}

/* A unix socket path, or an unnamed one for NULL, "" and "<anon>". */
static int
unix_path(const char *path, struct sockaddr_storage *sa)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)sa;

	memset(sa, 0, sizeof(*sa));
	sun->sun_family = AF_UNIX;
	if (path == NULL || path[0] == '\0' || strcmp(path, "<anon>") == 0)
		return 0;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	if (path[0] == '@')	/* abstract, as pp_addr_ntop writes it */
		memcpy(sun->sun_path + 1, path + 1, strlen(path) - 1);
	else
		memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static int
unix_named(const struct sockaddr_storage *sa)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

	return sun->sun_path[0] != '\0' || sun->sun_path[1] != '\0';
}

/*
 * The socket itself (inetd, tcpserver, systemd).  A socketpair, as
 * socat's EXEC gives, has no addresses and does not count.
 */
static int
ends_from_socket(int fd, struct cli_ends *e)
{
	socklen_t len;
	int type;

	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
		return 0;
	len = sizeof(e->src);
	memset(&e->src, 0, sizeof(e->src));
	if (getpeername(fd, (struct sockaddr *)&e->src, &len) != 0)
		return 0;
	len = sizeof(e->dst);
	memset(&e->dst, 0, sizeof(e->dst));
	if (getsockname(fd, (struct sockaddr *)&e->dst, &len) != 0)
		return 0;
	switch (e->src.ss_family) {
	case AF_INET:
	case AF_INET6:
		break;
	case AF_UNIX:
		if (!unix_named(&e->src) && !unix_named(&e->dst))
			return 0;
		break;
	default:
		return 0;
	}
	e->transport = type == SOCK_DGRAM ? PP_V2_TRANS_DGRAM :
	    PP_V2_TRANS_STREAM;
	e->from = "the socket";
	return 1;
}

/* socat's EXEC and SYSTEM: SOCAT_PEERADDR and friends. */
static int
ends_from_socat(struct cli_ends *e)
{
	const char *pa = getenv("SOCAT_PEERADDR");
	const char *pp = getenv("SOCAT_PEERPORT");
	const char *sa = getenv("SOCAT_SOCKADDR");
	const char *sp = getenv("SOCAT_SOCKPORT");

	if (pa == NULL || sa == NULL)
		return 0;
	e->from = "SOCAT_PEERADDR";
	if (pp != NULL || sp != NULL) {
		if (ip_port(pa, pp, &e->src) != 0)
			errx(1, "SOCAT_PEERADDR=%s SOCAT_PEERPORT=%s: not an "
			    "IP address and port", pa, pp ? pp : "(unset)");
		if (ip_port(sa, sp, &e->dst) != 0)
			errx(1, "SOCAT_SOCKADDR=%s SOCAT_SOCKPORT=%s: not an "
			    "IP address and port", sa, sp ? sp : "(unset)");
	} else if (unix_path(pa, &e->src) != 0 || unix_path(sa, &e->dst) != 0)
		errx(1, "SOCAT_PEERADDR=%s SOCAT_SOCKADDR=%s: not a socket "
		    "path", pa, sa);
	e->transport = PP_V2_TRANS_STREAM;
	return 1;
}

/* UCSPI: tcpserver, s6-tcpserver, s6-ipcserver. */
static int
ends_from_ucspi(struct cli_ends *e)
{
	const char *proto = getenv("PROTO");
	const char *rip, *rport, *lip, *lport;

	if (proto == NULL)
		return 0;
	e->transport = PP_V2_TRANS_STREAM;
	if (strcmp(proto, "TCP") == 0 || strcmp(proto, "TCP6") == 0) {
		rip = getenv("TCPREMOTEIP");
		rport = getenv("TCPREMOTEPORT");
		lip = getenv("TCPLOCALIP");
		lport = getenv("TCPLOCALPORT");
		if (rip == NULL && lip == NULL)
			return 0;
		e->from = "TCPREMOTEIP";
		if (ip_port(rip, rport, &e->src) != 0 ||
		    ip_port(lip, lport, &e->dst) != 0)
			errx(1, "PROTO=%s: TCPREMOTEIP, TCPREMOTEPORT, "
			    "TCPLOCALIP and TCPLOCALPORT must all be set to "
			    "addresses and ports", proto);
		return 1;
	}
	if (strcmp(proto, "IPC") == 0) {
		e->from = "IPCLOCALPATH";
		if (unix_path(getenv("IPCREMOTEPATH"), &e->src) != 0 ||
		    unix_path(getenv("IPCLOCALPATH"), &e->dst) != 0)
			errx(1, "PROTO=IPC: IPCREMOTEPATH or IPCLOCALPATH is "
			    "not a socket path");
		return 1;
	}
	return 0;
}

int
cli_endpoints(int fd, struct cli_ends *e, int ucspi)
{
	memset(e, 0, sizeof(*e));
	e->transport = PP_V2_TRANS_STREAM;
	return ends_from_socket(fd, e) || ends_from_socat(e) ||
	    (ucspi && ends_from_ucspi(e));
}

/*
 * A unix path before bind: nothing there, or a stale socket, which is
 * removed.  A file that is not a socket, or a socket a server listens on,
 * is someone else's: exit naming it.
 */
static void
cli_unix_stale(const char *flag, const char *arg, const struct sockaddr_un *sun)
{
	struct stat st;
	int c, rc, saved;

	if (sun->sun_path[0] == '\0')		/* abstract: no file */
		return;
	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return;
		err(1, "%s %s", flag, arg);
	}
	if (!S_ISSOCK(st.st_mode))
		errx(EX_USAGE, "%s %s: %s exists and is not a socket", flag,
		    arg, sun->sun_path);
	if ((c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "%s %s: socket", flag, arg);
	rc = connect(c, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	close(c);
	if (rc == 0)
		errx(1, "%s %s: a server listens there", flag, arg);
	if (saved != ECONNREFUSED) {
		errno = saved;
		err(1, "%s %s: cannot tell whether %s is in use", flag, arg,
		    sun->sun_path);
	}
	/* A socket file nobody listens on is left over: take it over. */
	if (unlink(sun->sun_path) == -1 && errno != ENOENT)
		err(1, "%s %s: unlink %s", flag, arg, sun->sun_path);
}

int
cli_listen(const char *flag, const char *arg, int flags, int backlog)
{
	struct sockaddr_storage sa;
	int fd, one = 1, zero = 0, type;

	cli_addr(flag, arg, &sa);
	if ((flags & CLI_LISTEN_DGRAM) && sa.ss_family == AF_UNIX)
		errx(EX_USAGE, "%s %s: UDP needs HOST:PORT, [IPV6]:PORT or "
		    ":PORT", flag, arg);
	type = (flags & CLI_LISTEN_DGRAM ? SOCK_DGRAM : SOCK_STREAM) |
	    SOCK_CLOEXEC;
	if (flags & CLI_LISTEN_NONBLOCK)
		type |= SOCK_NONBLOCK;
	if ((fd = socket(sa.ss_family, type, 0)) == -1)
		err(1, "%s %s: socket", flag, arg);
	if (sa.ss_family == AF_UNIX)
		cli_unix_stale(flag, arg, (struct sockaddr_un *)&sa);
	else {
		if (!(flags & CLI_LISTEN_DGRAM))
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			    sizeof(one));
		if (flags & CLI_LISTEN_REUSEPORT)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
			    sizeof(one));
		if (sa.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
	}
	if (bind(fd, (const struct sockaddr *)&sa, net_addr_len(&sa)) == -1)
		err(1, "%s %s: bind", flag, arg);
	if (!(flags & CLI_LISTEN_DGRAM) && listen(fd, backlog) == -1)
		err(1, "%s %s: listen", flag, arg);
	return fd;
}

int
cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void
cli_copy(int in, int out)
{
	static char buf[128 * 1024];
	ssize_t n;

	for (;;) {
		n = read(in, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(1, "stdin");
		if (n == 0)
			break;
		if (cli_write_all(out, buf, (size_t)n) != 0)
			err(1, "stdout");
	}
}
