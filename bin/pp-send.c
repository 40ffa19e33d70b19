/*
 * pp-send - write a PROXY protocol header, then the stream.
 *
 * Filter mode copies stdin to stdout after the header; -c connects to an
 * upstream, sends the header there and relays both ways, which is the
 * form inetd, tcpserver and socat's EXEC run.  See pp-send(1).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAXTLVS		64
#define BUFSZ		(128 * 1024)

enum {
	OPT_ALPN = 256,
	OPT_AUTHORITY,
	OPT_AWS,
	OPT_AZURE,
	OPT_DGRAM,
	OPT_GCP,
	OPT_UNIQUE_ID,
};

static const struct option longopts[] = {
	{ "alpn",		required_argument, NULL, OPT_ALPN },
	{ "authority",		required_argument, NULL, OPT_AUTHORITY },
	{ "aws-vpce-id",	required_argument, NULL, OPT_AWS },
	{ "azure-linkid",	required_argument, NULL, OPT_AZURE },
	{ "connect",		required_argument, NULL, 'c' },
	{ "connect-timeout",	required_argument, NULL, 'E' },
	{ "crc32c",		no_argument,	   NULL, 'C' },
	{ "dgram",		no_argument,	   NULL, OPT_DGRAM },
	{ "dst",		required_argument, NULL, 'd' },
	{ "gcp-psc-id",		required_argument, NULL, OPT_GCP },
	{ "header-only",	no_argument,	   NULL, 'n' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "local",		no_argument,	   NULL, 'L' },
	{ "netns",		required_argument, NULL, 'N' },
	{ "send-proxy",		optional_argument, NULL, 'p' },
	{ "src",		required_argument, NULL, 's' },
	{ "tlv",		required_argument, NULL, 'X' },
	{ "unique-id",		required_argument, NULL, OPT_UNIQUE_ID },
	{ "unknown",		no_argument,	   NULL, 'U' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ NULL,			0,		   NULL, 0 }
};

static const char synopsis[] =
    "usage: pp-send [-12CLnU] [-p[v1|v2]] [-c upstream] [-s src -d dst]\n"
    "               [-E seconds] [-X type=value] [-N netns] [--alpn alpn]\n"
    "               [--authority authority] [--unique-id unique-id]\n"
    "               [--aws-vpce-id id] [--azure-linkid n] [--gcp-psc-id n]\n"
    "               [--dgram]\n";

static void __attribute__((noreturn))
usage(void)
{
	fputs(synopsis, stderr);
	exit(EX_USAGE);
}

static void __attribute__((noreturn))
help(void)
{
	fputs(synopsis, stdout);
	fputs("\n"
	    "Write a PROXY protocol header, then copy stdin to stdout; with\n"
	    "-c, connect to UPSTREAM, send the header and relay both ways.\n"
	    "Addresses come from -s/-d, the socket on fd 0, socat's SOCAT_*\n"
	    "or UCSPI's TCP*/IPC* variables, in that order.\n"
	    "\n"
	    "  -1, -2                 version (default v1, v2 for TLVs)\n"
	    "  -p, --send-proxy[=v1|v2]\n"
	    "                         the same as -1 or -2 (bare: v1)\n"
	    "  -c, --connect ADDR     connect to ADDR and relay both ways\n"
	    "  -s, --src ADDR         the client's address\n"
	    "  -d, --dst ADDR         the address the client connected to\n"
	    "  -L, --local            a LOCAL header (v1: PROXY UNKNOWN)\n"
	    "  -U, --unknown          no addresses (v1 UNKNOWN, v2 UNSPEC)\n"
	    "  --dgram                the client spoke UDP: a v2 DGRAM header\n"
	    "  -n, --header-only      write the header and nothing else\n"
	    "  -E, --connect-timeout SECONDS\n"
	    "                         give up connecting (default 10)\n"
	    "  -X, --tlv TYPE=VALUE   add a TLV (VALUE text, or hex after 0x)\n"
	    "  -N, --netns, --alpn, --authority, --unique-id,\n"
	    "  --aws-vpce-id, --azure-linkid, --gcp-psc-id VALUE\n"
	    "                         add that TLV\n"
	    "  -C, --crc32c           append a CRC32C TLV\n"
	    "  -h, --help             this text;  -V, --version\n"
	    "\n"
	    "ADDR is HOST:PORT, [IPV6]:PORT, :PORT or unix:PATH.\n", stdout);
	exit(0);
}

static int
connect_to(const char *name, const struct sockaddr_storage *sa,
    int timeout_ms)
{
	struct pollfd pfd;
	socklen_t len;
	char text[32];
	int s, rc, soerr;

	if ((s = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		err(EX_UNAVAILABLE, "socket");
	if (connect(s, (const struct sockaddr *)sa, net_addr_len(sa)) == 0)
		goto done;
	if (errno != EINPROGRESS)
		err(EX_UNAVAILABLE, "%s", name);
	pfd.fd = s;
	pfd.events = POLLOUT;
	do {
		rc = poll(&pfd, 1, timeout_ms);
	} while (rc == -1 && errno == EINTR);
	if (rc == -1)
		err(1, "poll");
	if (rc == 0)
		errx(EX_UNAVAILABLE, "%s: no connection within %s", name,
		    cli_duration_text(timeout_ms, text, sizeof(text)));
	len = sizeof(soerr);
	if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		err(1, "getsockopt");
	if (soerr != 0) {
		errno = soerr;
		err(EX_UNAVAILABLE, "%s", name);
	}
done:
	/* The header goes out in blocking mode; the relay sets its own. */
	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) == -1)
		err(1, "fcntl");
	return s;
}

/* The relay of -c: one direction's state. */
struct dir {
	int	in, out;
	char	*buf;
	size_t	off, len;
	int	eof;		/* in has ended (or failed) */
	int	done;		/* and everything was passed on */
};

static int saved_fl[2] = { -1, -1 };

static void
restore_flags(void)
{
	int fd;

	for (fd = 0; fd < 2; fd++)
		if (saved_fl[fd] != -1)
			(void)fcntl(fd, F_SETFL, saved_fl[fd]);
}

static void
nonblock(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		err(1, "fcntl");
	if (fd < 2)
		saved_fl[fd] = fl;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/* Pass the end of a direction on: shutdown for a socket, else close. */
static void
half_close(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if (shutdown(fd, SHUT_WR) == -1 && errno != ENOTCONN)
			warn("shutdown");
	} else if (fd == STDOUT_FILENO) {
		/* Keep fd 1 taken so nothing else lands there. */
		int null = open("/dev/null", O_WRONLY);

		if (null != -1) {
			(void)dup2(null, STDOUT_FILENO);
			close(null);
		} else
			close(fd);
		saved_fl[STDOUT_FILENO] = -1;
	}
}

/* One step of a direction, after poll said that its fd is ready. */
static void
dir_step(struct dir *d, const char *inname, const char *outname)
{
	ssize_t n;

	if (d->len == 0 && !d->eof) {
		n = read(d->in, d->buf, BUFSZ);
		if (n > 0) {
			d->off = 0;
			d->len = (size_t)n;
		} else if (n == 0) {
			d->eof = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			if (errno != ECONNRESET)
				warn("%s", inname);
			d->eof = 1;
		}
	}
	while (d->len > 0) {
		n = write(d->out, d->buf + d->off, d->len);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno != EPIPE && errno != ECONNRESET)
				warn("%s", outname);
			/* Nobody to give the rest to: this way is over. */
			d->len = 0;
			d->eof = 1;
			break;
		}
		d->off += (size_t)n;
		d->len -= (size_t)n;
	}
	if (d->eof && d->len == 0 && !d->done) {
		half_close(d->out);
		d->done = 1;
	}
}

static void
relay(int up)
{
	struct dir down_to_up, up_to_down;
	struct dir *d[2] = { &down_to_up, &up_to_down };
	struct pollfd pfd[2];
	int i, n;

	memset(&down_to_up, 0, sizeof(down_to_up));
	memset(&up_to_down, 0, sizeof(up_to_down));
	down_to_up.in = STDIN_FILENO;
	down_to_up.out = up;
	up_to_down.in = up;
	up_to_down.out = STDOUT_FILENO;
	for (i = 0; i < 2; i++)
		if ((d[i]->buf = malloc(BUFSZ)) == NULL)
			err(1, "malloc");
	atexit(restore_flags);
	nonblock(STDIN_FILENO);
	nonblock(STDOUT_FILENO);
	nonblock(up);

	while (!down_to_up.done || !up_to_down.done) {
		for (i = 0; i < 2; i++) {
			pfd[i].events = 0;
			pfd[i].revents = 0;
			if (d[i]->done) {
				pfd[i].fd = -1;
			} else if (d[i]->len > 0) {
				pfd[i].fd = d[i]->out;
				pfd[i].events = POLLOUT;
			} else {
				pfd[i].fd = d[i]->in;
				pfd[i].events = POLLIN;
			}
		}
		n = poll(pfd, 2, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "poll");
		}
		for (i = 0; i < 2; i++)
			if (pfd[i].revents != 0)
				dir_step(d[i], i == 0 ? "stdin" : "upstream",
				    i == 0 ? "upstream" : "stdout");
	}
	restore_flags();
	free(down_to_up.buf);
	free(up_to_down.buf);
}

/* A named-TLV flag: "--alpn h2" is "--tlv alpn=h2". */
static void
add_named(const char *flag, const char *type, const char *val,
    struct pp_tlv *tlvs, size_t *ntlv, uint8_t *store, size_t *used,
    size_t cap)
{
	char *arg;

	if (*ntlv == MAXTLVS)
		errx(EX_USAGE, "%s: more than %d TLVs", flag, MAXTLVS);
	if (asprintf(&arg, "%s=%s", type, val) == -1)
		err(1, "asprintf");
	*used += cli_tlv(flag, arg, &tlvs[*ntlv], store + *used, cap - *used);
	(*ntlv)++;
	free(arg);
}

int
main(int argc, char *argv[])
{
	struct pp_tlv tlvs[MAXTLVS];
	struct pp_header h;
	struct cli_ends e;
	struct sockaddr_storage upaddr;
	const char *src = NULL, *dst = NULL, *upstream = NULL;
	uint8_t *store, *hdr;
	size_t ntlv = 0, used = 0;
	int ch, version = 0, local = 0, unknown = 0, header_only = 0;
	int crc = 0, dgram = 0, timeout_ms = 10000, len, up;

	cli_init(argc, argv);
	if ((store = malloc(PP_V2_MAX)) == NULL ||
	    (hdr = malloc(PP_V2_MAX)) == NULL)
		err(1, "malloc");

	while ((ch = getopt_long(argc, argv, "12Cc:d:E:hLN:np::s:UVX:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case '1':
		case '2':
			if (version != 0 && version != ch - '0')
				errx(EX_USAGE, "-1 and -2 conflict");
			version = ch - '0';
			break;
		case 'C':
			crc = 1;
			break;
		case OPT_DGRAM:
			dgram = 1;
			break;
		case 'c':
			upstream = optarg;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'E':
			timeout_ms = cli_duration("--connect-timeout", optarg,
			    0, 1, 3600000);
			break;
		case 'h':
			help();
		case 'L':
			local = 1;
			break;
		case 'N':
			add_named("--netns", "netns", optarg, tlvs, &ntlv,
			    store, &used, PP_V2_MAX);
			break;
		case 'n':
			header_only = 1;
			break;
		case 'p': {
			int v = cli_version("--send-proxy", optarg, 1);

			if (v == 0)
				errx(EX_USAGE, "--send-proxy=any: a sender "
				    "picks v1 or v2");
			if (version != 0 && version != v)
				errx(EX_USAGE, "--send-proxy=v%d conflicts "
				    "with -%d", v, version);
			version = v;
			break;
		}
		case 's':
			src = optarg;
			break;
		case 'U':
			unknown = 1;
			break;
		case 'V':
			printf("pp-send %s\n", PP_VERSION_STRING);
			exit(0);
		case 'X':
			if (ntlv == MAXTLVS)
				errx(EX_USAGE, "--tlv: more than %d TLVs",
				    MAXTLVS);
			used += cli_tlv("--tlv", optarg, &tlvs[ntlv++],
			    store + used, PP_V2_MAX - used);
			break;
		case OPT_ALPN:
			add_named("--alpn", "alpn", optarg, tlvs, &ntlv, store,
			    &used, PP_V2_MAX);
			break;
		case OPT_AUTHORITY:
			add_named("--authority", "authority", optarg, tlvs,
			    &ntlv, store, &used, PP_V2_MAX);
			break;
		case OPT_AWS:
			add_named("--aws-vpce-id", "aws", optarg, tlvs, &ntlv,
			    store, &used, PP_V2_MAX);
			break;
		case OPT_AZURE:
			add_named("--azure-linkid", "azure", optarg, tlvs,
			    &ntlv, store, &used, PP_V2_MAX);
			break;
		case OPT_GCP:
			add_named("--gcp-psc-id", "gcp", optarg, tlvs, &ntlv,
			    store, &used, PP_V2_MAX);
			break;
		case OPT_UNIQUE_ID:
			add_named("--unique-id", "unique-id", optarg, tlvs,
			    &ntlv, store, &used, PP_V2_MAX);
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();

	if (dgram && version == 1)
		errx(EX_USAGE, "--dgram needs a v2 header: v1 cannot say UDP");
	if (dgram && upstream != NULL)
		errx(EX_USAGE, "--dgram and -c conflict: -c connects over TCP");
	if (version == 0)
		version = ntlv > 0 || crc || dgram ? 2 : 1;
	if (version == 1 && ntlv > 0)
		errx(EX_USAGE, "TLVs need a v2 header: drop -1 or use -2");
	if (version == 1 && crc)
		errx(EX_USAGE, "--crc32c needs a v2 header: drop -1 or use -2");
	if (local && unknown)
		errx(EX_USAGE, "--local and --unknown conflict");
	if ((local || unknown) && (src != NULL || dst != NULL))
		errx(EX_USAGE, "--%s and -s/-d conflict",
		    local ? "local" : "unknown");
	if ((src == NULL) != (dst == NULL))
		errx(EX_USAGE, "-s and -d go together");
	if (upstream != NULL && header_only)
		errx(EX_USAGE, "-c and -n conflict");
	if (upstream != NULL)
		cli_addr("-c", upstream, &upaddr);

	memset(&e, 0, sizeof(e));
	e.transport = PP_V2_TRANS_STREAM;
	if (local || unknown) {
		e.from = local ? "--local" : "--unknown";
	} else if (src != NULL) {
		cli_addr("-s", src, &e.src);
		cli_addr("-d", dst, &e.dst);
		e.from = "-s and -d";
	} else if (!cli_endpoints(STDIN_FILENO, &e, 1))
		errx(EX_USAGE, "no addresses: give -s and -d, run on a socket "
		    "(inetd, tcpserver), under socat, or use --local or "
		    "--unknown");

	memset(&h, 0, sizeof(h));
	h.version = (uint8_t)version;
	h.command = local ? PP_V2_CMD_LOCAL : PP_V2_CMD_PROXY;
	h.transport = (uint8_t)(dgram ? PP_V2_TRANS_DGRAM : e.transport);
	if (local || unknown) {
		h.family = PP_V2_FAM_UNSPEC;
		h.src.ss_family = AF_UNSPEC;
		h.dst.ss_family = AF_UNSPEC;
	} else {
		h.src = e.src;
		h.dst = e.dst;
		h.has_addr = 1;
		h.family = e.src.ss_family == AF_UNIX ? PP_V2_FAM_UNIX :
		    e.src.ss_family == AF_INET6 ||
		    e.dst.ss_family == AF_INET6 ? PP_V2_FAM_INET6 :
		    PP_V2_FAM_INET;
		if ((e.src.ss_family == AF_UNIX) !=
		    (e.dst.ss_family == AF_UNIX))
			errx(EX_USAGE, "%s: a unix and an IP address cannot "
			    "share a header", e.from);
	}
	if (version == 1)
		len = pp_build_v1(hdr, PP_V2_MAX, &h);
	else
		len = pp_build_v2(hdr, PP_V2_MAX, &h, tlvs, ntlv,
		    crc ? PP_BUILD_CRC32C : 0);
	if (len == -PP_EINVAL && version == 1)
		errx(EX_USAGE, "%s: v1 carries only TCP over IPv4 or IPv6; "
		    "use -2 for %s", e.from, h.family == PP_V2_FAM_UNIX ?
		    "unix sockets" : "datagrams");
	if (len < 0)
		errx(EX_USAGE, "cannot build the header: %s", pp_strerror(len));

	if (upstream == NULL) {
		if (cli_write_all(STDOUT_FILENO, hdr, (size_t)len) != 0)
			err(1, "stdout");
		free(hdr);
		free(store);
		if (!header_only)
			cli_copy(STDIN_FILENO, STDOUT_FILENO);
		return 0;
	}

	up = connect_to(upstream, &upaddr, timeout_ms);
	if (cli_write_all(up, hdr, (size_t)len) != 0)
		err(EX_UNAVAILABLE, "%s", upstream);
	free(hdr);
	free(store);
	relay(up);
	close(up);
	return 0;
}
