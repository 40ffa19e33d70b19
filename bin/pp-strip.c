/*
 * pp-strip - consume a PROXY protocol header, hand the rest on.
 *
 * Reads exactly the header from fd 0, so that the program it execs reads
 * the first payload byte first, and gives that program the client's
 * address in the UCSPI environment.  Without a program, the rest of stdin
 * goes to stdout.  See pp-strip(1).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"


static const struct option longopts[] = {
	{ "accept-proxy",	optional_argument,	NULL, 'a' },
	{ "env-file",		required_argument,	NULL, 'e' },
	{ "header-timeout",	required_argument,	NULL, 'T' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "max-header",		required_argument,	NULL, 'm' },
	{ "optional",		no_argument,		NULL, 'o' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "timeout",		required_argument,	NULL, 'T' },
	{ "trust",		required_argument,	NULL, 't' },
	{ "version",		no_argument,		NULL, 'V' },
	{ NULL,			0,			NULL, 0 }
};

static const char synopsis[] =
    "usage: pp-strip [-oq] [-a[v1|v2|any]] [-e file] [-m bytes] "
    "[-T seconds]\n"
    "                [-t cidr] ... [--] [prog [arg ...]]\n";

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
	    "Read exactly one PROXY protocol header from fd 0, then exec\n"
	    "PROG with the client's address in its environment (PROTO,\n"
	    "TCPREMOTEIP, TCPREMOTEPORT, TCPLOCALIP, TCPLOCALPORT, PROXY_*),\n"
	    "fds 0 and 1 untouched.  Without PROG, copy stdin to stdout.\n"
	    "\n"
	    "  -a, --accept-proxy[=v1|v2|any]\n"
	    "                         versions accepted (default any);\n"
	    "                         -a v1 works too: a PROG named v1, v2\n"
	    "                         or any then needs -- before it\n"
	    "  -e, --env-file FILE    also write the environment to FILE as\n"
	    "                         shell-sourceable KEY='value' lines\n"
	    "  -m, --max-header BYTES refuse longer headers (16 to 65551;\n"
	    "                         default 4096)\n"
	    "  -o, --optional         no header is fine: pass the bytes on\n"
	    "  -q, --quiet            no warnings, fatal errors only\n"
	    "  -T, --header-timeout, --timeout SECONDS\n"
	    "                         wait this long for the header\n"
	    "                         (default 5; 0: no limit; 500ms, 2s,\n"
	    "                         1m, 1h)\n"
	    "  -t, --trust CIDR       only a peer in CIDR may send a header\n"
	    "                         (repeatable; IPv4 or IPv6)\n"
	    "  -h, --help             this text;  -V, --version\n", stdout);
	exit(0);
}

/* The environment as lines for -e, grown as needed. */
struct envfile {
	char	*buf;
	size_t	len, cap;
};

static void
ef_add(struct envfile *ef, const char *s, size_t n)
{
	if (ef->len + n + 1 > ef->cap) {
		size_t cap = ef->cap ? ef->cap : 1024;
		char *nb;

		while (ef->len + n + 1 > cap)
			cap *= 2;
		if ((nb = realloc(ef->buf, cap)) == NULL)
			err(1, "realloc");
		ef->buf = nb;
		ef->cap = cap;
	}
	memcpy(ef->buf + ef->len, s, n);
	ef->len += n;
	ef->buf[ef->len] = '\0';
}

/* KEY='value', with ' written as '\'' so any shell reads it back. */
static void
emit_file(const char *key, const char *value, void *arg)
{
	struct envfile *ef = arg;
	const char *p;

	ef_add(ef, key, strlen(key));
	ef_add(ef, "='", 2);
	for (p = value; *p != '\0'; p++) {
		if (*p == '\'')
			ef_add(ef, "'\\''", 4);
		else
			ef_add(ef, p, 1);
	}
	ef_add(ef, "'\n", 2);
}

static void
emit_setenv(const char *key, const char *value, void *arg)
{
	(void)arg;
	if (setenv(key, value, 1) != 0)
		err(1, "setenv %s", key);
}

static void
write_envfile(const char *path, const struct pp_header *h,
    const struct sockaddr_storage *peer, const struct sockaddr_storage *local)
{
	struct envfile ef = { NULL, 0, 0 };
	int fd;

	ef_add(&ef, "", 0);
	cli_env(h, peer, local, emit_file, &ef);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		err(1, "%s", path);
	if (cli_write_all(fd, ef.buf, ef.len) != 0 || close(fd) != 0)
		err(1, "%s", path);
	free(ef.buf);
}

/*
 * --optional on a pipe: the bytes read while looking for a header cannot
 * be put back, so PROG gets a pipe fed by a helper with those bytes, then
 * the rest of stdin.  The helper is a grandchild, reparented to init, so
 * PROG never sees a child it did not start.
 */
static void
feed_prefix(const uint8_t *pre, size_t n)
{
	int p[2], status;
	pid_t pid;

	if (pipe(p) == -1)
		err(1, "pipe");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(p[0]);
		if ((pid = fork()) == -1)
			_exit(1);
		if (pid != 0)
			_exit(0);
		if (dup2(p[1], STDOUT_FILENO) == -1)
			_exit(1);
		close(p[1]);
		if (cli_write_all(STDOUT_FILENO, pre, n) != 0)
			_exit(1);
		cli_copy(STDIN_FILENO, STDOUT_FILENO);
		_exit(0);
	}
	close(p[1]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (dup2(p[0], STDIN_FILENO) == -1)
		err(1, "dup2");
	close(p[0]);
}

int
main(int argc, char *argv[])
{
	struct cli_recv rc;
	struct cli_ends ends;
	struct pp_header h, *hp = NULL;
	const char *envpath = NULL;
	char who[NET_ADDRSTRLEN], text[32];
	uint8_t *buf;
	size_t ntrust = 0, prefix = 0;
	int ch, accept, optional, quiet = 0, timeout_ms;
	int maxhdr, have_peer, flags, r;

	cli_init(argc, argv);
	/* '+': the first operand is PROG; its own flags are its own. */
	cli_recv_init(&rc);
	while ((ch = getopt_long(argc, argv, "+" CLI_OPTS_RECV "e:hqV",
	    longopts, NULL)) != -1) {
		if (cli_recv_opt(ch, optarg, argv, &rc))
			continue;
		switch (ch) {
		case 'e':
			envpath = optarg;
			break;
		case 'h':
			help();
		case 'q':
			quiet = 1;
			break;
		case 'V':
			printf("pp-strip %s\n", PP_VERSION_STRING);
			exit(0);
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	accept = rc.accept > 0 ? rc.accept : 0;
	optional = rc.optional;
	ntrust = (size_t)rc.ntrust;
	maxhdr = rc.max_header;
	timeout_ms = rc.hdr_ms;

	if (optional && ntrust == 0 && !quiet)
		warnx("--optional without --trust: anyone who can reach this "
		    "port can claim any address");
	if ((buf = malloc((size_t)maxhdr)) == NULL)
		err(1, "malloc");

	/*
	 * Who connected: the socket, or socat's variables for its socket
	 * pair; never TCPREMOTEIP, which an earlier pp-strip may have set
	 * from a header, so anyone could write it.
	 */
	have_peer = cli_endpoints(STDIN_FILENO, &ends, 0);
	if (have_peer)
		net_addr_format(&ends.src, who, sizeof(who));
	else
		snprintf(who, sizeof(who), "stdin");

	memset(&h, 0, sizeof(h));
	if (ntrust > 0 && !(have_peer && net_cidr_match(rc.trust, ntrust,
	    &ends.src))) {
		/* spec 2: only trusted peers may speak for the client. */
		if (!optional)
			errx(EX_DATAERR, "%s: not in --trust: refused", who);
		r = -PP_ENOHDR;
	} else {
		flags = optional ? PP_READ_OPTIONAL : 0;
		r = pp_read_fd(STDIN_FILENO, buf, (size_t)maxhdr, &h,
		    timeout_ms > 0 ? timeout_ms : -1, flags);
	}

	if (r > 0) {
		if (accept != 0 && h.version != accept)
			errx(EX_DATAERR, "%s: refused a v%d header: "
			    "--accept-proxy=v%d", who, h.version, accept);
		hp = &h;
	} else if (r == -PP_ENOHDR) {
		prefix = h.hdr_len;
	} else if (r == -PP_ETIMEDOUT) {
		errx(EX_TEMPFAIL, "%s: no complete header within %s", who,
		    cli_duration_text(timeout_ms, text, sizeof(text)));
	} else if (r == -PP_ETRUNC) {
		errx(EX_DATAERR, "%s: input ended inside the header", who);
	} else if (r == -PP_ETOOBIG) {
		errx(EX_DATAERR, "%s: header longer than %d bytes "
		    "(--max-header)", who, maxhdr);
	} else if (r == -PP_ESYS) {
		err(1, "%s", who);
	} else {
		errx(EX_DATAERR, "%s: refused header: %s at byte %u", who,
		    pp_strerror(r), h.err_off);
	}

	if (envpath != NULL)
		write_envfile(envpath, hp, have_peer ? &ends.src : NULL,
		    have_peer ? &ends.dst : NULL);

	if (argc == 0) {
		if (prefix > 0 && cli_write_all(STDOUT_FILENO, buf, prefix) != 0)
			err(1, "stdout");
		free(buf);
		cli_copy(STDIN_FILENO, STDOUT_FILENO);
		return 0;
	}

	cli_env_clear();
	cli_env(hp, have_peer ? &ends.src : NULL, have_peer ? &ends.dst : NULL,
	    emit_setenv, NULL);
	if (prefix > 0)
		feed_prefix(buf, prefix);
	free(buf);
	/* cli_init ignored SIGPIPE; PROG gets the default back. */
	(void)signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	err(1, "%s", argv[0]);
}
