/*
 * relay_cli.c - the command line of the two daemons built on the engine.
 *
 * pp-relay and pp-balance are one program with two faces: pp-relay is the
 * one-server case (-c UPSTREAM), pp-balance adds servers, algorithms,
 * health checks and a servers file.  Their options are parsed here, once,
 * so the two can never drift apart; bin/pp-relay.c and bin/pp-balance.c
 * only choose the face, and the engine in lib/relay/ does the work.
 */
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <libutil.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "relay.h"
#include "relay_cli.h"
#include "cli.h"

enum {
	OPT_CONNECT_TIMEOUT = 256,
	OPT_CHECK_TIMEOUT,
	OPT_CONTROL,
	OPT_DENY,
	OPT_LOG_FORMAT,
	OPT_MAX_SESS,
	OPT_PER_IP,
	OPT_SESS_TIMEOUT,
	OPT_UDP,
	OPT_USESRC
};

static const struct option longopts[] = {
	{ "accept-proxy",	optional_argument,	NULL, 'a' },
	{ "allow",		required_argument,	NULL, 'A' },
	{ "balance",		required_argument,	NULL, 'b' },
	{ "connect",		required_argument,	NULL, 'c' },
	{ "control",		required_argument,	NULL, OPT_CONTROL },
	{ "crc32c",		no_argument,		NULL, 'C' },
	{ "deny",		required_argument,	NULL, OPT_DENY },
	{ "drop-tlv",		required_argument,	NULL, 'D' },
	{ "retries",		required_argument,	NULL, 'R' },
	{ "connect-timeout",	required_argument,	NULL, 'E' },
	{ "servers-file",	required_argument,	NULL, 'f' },
	{ "pidfile",		required_argument,	NULL, 'F' },
	{ "grace",		required_argument,	NULL, 'g' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "check-interval",	required_argument,	NULL, 'i' },
	{ "check-timeout",	required_argument,	NULL, OPT_CHECK_TIMEOUT },
	{ "idle-timeout",	required_argument,	NULL, 'I' },
	{ "fall",		required_argument,	NULL, 'k' },
	{ "rise",		required_argument,	NULL, 'K' },
	{ "listen",		required_argument,	NULL, 'l' },
	{ "log-format",		required_argument,	NULL, OPT_LOG_FORMAT },
	{ "max-header",		required_argument,	NULL, 'm' },
	{ "max-conns",		required_argument,	NULL, 'M' },
	{ "max-conns-per-ip",	required_argument,	NULL, OPT_PER_IP },
	{ "max-sessions",	required_argument,	NULL, OPT_MAX_SESS },
	{ "optional",		no_argument,		NULL, 'o' },
	{ "send-proxy",		optional_argument,	NULL, 'p' },
	{ "pass-tlvs",		no_argument,		NULL, 'P' },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "rate-per-ip",	required_argument,	NULL, 'r' },
	{ "server",		required_argument,	NULL, 's' },
	{ "session-timeout",	required_argument,	NULL, OPT_SESS_TIMEOUT },
	{ "stats",		required_argument,	NULL, 'S' },
	{ "trust",		required_argument,	NULL, 't' },
	{ "udp",		no_argument,		NULL, OPT_UDP },
	{ "header-timeout",	required_argument,	NULL, 'T' },
	{ "timeout",		required_argument,	NULL, 'T' },
	{ "user",		required_argument,	NULL, 'u' },
	{ "usesrc",		required_argument,	NULL, OPT_USESRC },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "workers",		required_argument,	NULL, 'w' },
	{ "tlv",		required_argument,	NULL, 'X' },
	{ NULL,			0,			NULL, 0 }
};

static const char relay_usage[] =
"usage: pp-relay -l LISTEN -c UPSTREAM [-CoPqvV] [-a[v1|v2|any]] [-p[v1|v2]]\n"
"\t[-t CIDR]... [-A CIDR]... [--deny CIDR]... [-X TYPE=VALUE]...\n"
"\t[-D TYPE]... [-m BYTES] [-T SECONDS] [-E SECONDS] [-I SECONDS]\n"
"\t[-g SECONDS] [-M N] [--max-conns-per-ip N] [-r N/SECONDS]\n"
"\t[--usesrc clientip] [-S ADDR] [--control unix:PATH] [-w N] [-u USER]\n"
"\t[-F PIDFILE] [--log-format text|logfmt|json]\n"
"\t[--udp [--session-timeout SECONDS] [--max-sessions N]]\n";

static const char balance_usage[] =
"usage: pp-balance -l LISTEN -s SERVER... | -f FILE [-CoPqvV]\n"
"\t[-b roundrobin|leastconn|source|maglev|random|first] [-i MS]\n"
"\t[--check-timeout MS] [-K N] [-k N] [-R N] [-S ADDR] [-a[v1|v2|any]]\n"
"\t[-p[v1|v2]] [-t CIDR]... [-A CIDR]... [--deny CIDR]... [-X TYPE=VALUE]...\n"
"\t[-D TYPE]...\n"
"\t[-m BYTES] [-T SECONDS] [-E SECONDS] [-I SECONDS] [-g SECONDS] [-M N]\n"
"\t[--max-conns-per-ip N] [-r N/SECONDS] [--usesrc clientip]\n"
"\t[--control unix:PATH] [-w N] [-u USER] [-F PIDFILE]\n"
"\t[--log-format text|logfmt|json]\n"
"\t[--udp [--session-timeout SECONDS] [--max-sessions N]]\n"
"SERVER is ADDR[,weight=N][,send-proxy|send-proxy-v2][,check][,backup]\n"
"\t[,maxconn=N][,check-send=STR][,check-expect=STR]\n"
"\t[,check-http=PATH][,check-status=N]\n";

static const char options_help[] =
"  -l, --listen ADDR          listen on ADDR (HOST:PORT, [IPV6]:PORT, :PORT,\n"
"                             unix:PATH); '-' is the socket on fd 0; without\n"
"                             -l, systemd's LISTEN_FDS\n"
"  -a, --accept-proxy[=V]     read a PROXY header first (v1, v2, any)\n"
"  -o, --optional             a connection without a header is fine\n"
"  -t, --trust CIDR           accept headers only from these peers\n"
"  -m, --max-header BYTES     longest header waited for (16 to 65551;\n"
"                             default 4096)\n"
"  -p, --send-proxy[=V]       send a PROXY header upstream (v1, v2; bare: v1)\n"
"  -X, --tlv TYPE=VALUE       add a TLV to v2 headers sent\n"
"  -C, --crc32c               add a CRC32C checksum to v2 headers sent\n"
"  -P, --pass-tlvs            pass the TLVs received on (v2 to v2)\n"
"  -D, --drop-tlv TYPE        ... except this type\n"
"  -A, --allow CIDR           serve only these real client addresses\n"
"  --deny CIDR                refuse these real client addresses\n"
"  --max-conns-per-ip N       open connections per real client address\n"
"  -r, --rate-per-ip N/SECS   new connections per real client address\n"
"  -M, --max-conns N          open connections in all (per worker)\n"
"  -T, --header-timeout SECS  wait for the header (default 5; 0: no limit;\n"
"                             also --timeout; 500ms, 2s, 1m, 1h)\n"
"  -E, --connect-timeout SECS upstream connect (default 5)\n"
"  -I, --idle-timeout SECS    close after this long without traffic (0: never)\n"
"  -g, --grace SECS           drain period on SIGTERM (default 30)\n"
"  --usesrc clientip          connect upstream from the client's address\n"
"  -S, --stats ADDR           Prometheus text at http://ADDR/metrics\n"
"  --control unix:PATH        a control socket (mode 0600): show servers,\n"
"                             set server ADDR state ready|drain|maint ...\n"
"                             (type help on it)\n"
"  -w, --workers N            worker processes sharing the port (1 to 64,\n"
"                             default 1)\n"
"  -u, --user USER            drop privileges to USER after binding\n"
"  -F, --pidfile FILE         write the pid, locked (refuses a second copy)\n"
"  -q, --quiet                log nothing but fatal errors\n"
"  --log-format FMT           the line each connection logs: text (default),\n"
"                             logfmt or json\n"
"  -v, --verbose              log more (checks, connect failures, headers)\n"
"  --udp                      relay UDP datagrams, not TCP: the listener and\n"
"                             every server are UDP (a listener is one or the\n"
"                             other); a v2 header on every datagram\n"
"  --session-timeout SECS     --udp: a client's session ends after this long\n"
"                             without a datagram (default 60)\n"
"  --max-sessions N           --udp: sessions per worker (default 65536, and\n"
"                             no more than descriptors allow); the oldest\n"
"                             idle ones go first\n"
"  -h, --help                 this text;  -V, --version  the version\n";

static const char relay_help[] =
"  -c, --connect ADDR         the upstream server\n";

static const char balance_help[] =
"  -s, --server SPEC          a server (repeatable), see SERVER above\n"
"  -f, --servers-file FILE    one SERVER a line; re-read on SIGHUP\n"
"  -b, --balance ALGO         roundrobin (default), leastconn, source, maglev,\n"
"                             random, first\n"
"  -i, --check-interval MS    health check period (default 2000; a plain\n"
"                             number is ms here; 2s, 500ms also)\n"
"  --check-timeout MS         a check's limit (default: the interval or -E,\n"
"                             the shorter; 500ms, 2s also)\n"
"  -K, --rise N               checks to pass to come up (default 2)\n"
"  -k, --fall N               checks to fail to go down (default 3)\n"
"  -R, --retries N            other servers tried on connect failure (3)\n";

static int balance_mode;

static void __attribute__((noreturn))
usage(void)
{
	fputs(balance_mode ? balance_usage : relay_usage, stderr);
	exit(EX_USAGE);
}

static void
help(void)
{
	fputs(balance_mode ? balance_usage : relay_usage, stdout);
	fputs(balance_mode ? balance_help : relay_help, stdout);
	fputs(options_help, stdout);
	exit(0);
}

#define DAY_MS	86400000

_Static_assert(CLI_MAXTRUST <= RELAY_MAXCIDR, "--trust: cf.trust too small");

static int log_format;

/*
 * The engine's levels: 0 warning, 1 a connection's line, 2 -v detail.
 * A connection's line in logfmt or json goes out bare, without "prog: ",
 * so each line is a record a reader (jq) takes as it is.
 */
static void
logline(int level, const char *line)
{
	if (level == 1 && log_format != RELAY_LOG_TEXT)
		cli_logrecord(LOG_INFO, line);
	else
		cli_logline(level == 0 ? LOG_WARNING : level == 1 ?
		    LOG_INFO : LOG_DEBUG, line);
}

/*
 * systemd's notification socket and watchdog (sd_notify(3)): read here,
 * since the engine reads no environment, and unset, as sd_notify's
 * unset_environment does, so nothing started later inherits them.  The
 * watchdog is ours when WATCHDOG_PID is unset or names us.
 */
static void
notify_env(struct relay_conf *cf)
{
	const char *ns = getenv("NOTIFY_SOCKET");
	const char *wu = getenv("WATCHDOG_USEC");
	const char *wp = getenv("WATCHDOG_PID");
	long long us;
	char *end;

	if (ns != NULL && *ns != '\0' && (cf->notify_path = strdup(ns)) == NULL)
		err(1, NULL);
	if (wu != NULL && (wp == NULL || strtoll(wp, NULL, 10) ==
	    (long long)getpid())) {
		errno = 0;
		us = strtoll(wu, &end, 10);
		if (errno == 0 && *end == '\0' && us >= 1000 &&
		    us <= 86400000000LL)
			cf->watchdog_ms = (int)(us / 1000);
		else if (cf->verbose > 0)
			warnx("WATCHDOG_USEC=%s: not a usable interval, "
			    "no watchdog", wu);
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/*
 * No TCP_DEFER_ACCEPT on the listener, although with --accept-proxy the
 * client speaks first: the kernel counts the defer in SYN-ACK
 * retransmissions (1, 3, 7 ... s), then hands a silent connection over
 * anyway, and only then does the header timer start.  Measured: -T 0.3
 * closed a silent client after 1.32 s, -T 2 after 5.05 s.  The header
 * timeout is measured from the connection, so the kernel must not hold it.
 */
static int
listen_on(const char *flag, const char *arg, int udp)
{
	int fd, sz = 4 << 20;

	fd = cli_listen(flag, arg, CLI_LISTEN_NONBLOCK |
	    CLI_LISTEN_REUSEPORT | (udp ? CLI_LISTEN_DGRAM : 0), 4096);
	/* Bursts wait in the kernel while the worker sends (rmem_max caps). */
	if (udp)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

/*
 * The control socket: mode 0600 from the start (the umask covers the
 * bind, so there is no moment with wider access), owned by the user of
 * -u, who runs the process that serves it.
 */
static int
control_on(const char *arg, const char *user)
{
	struct passwd *pw = NULL;
	mode_t old;
	int fd;

	if (user != NULL && (pw = getpwnam(user)) == NULL)
		errx(EX_USAGE, "-u %s: no such user", user);
	old = umask(0177);
	fd = cli_listen("--control", arg, CLI_LISTEN_NONBLOCK, 64);
	umask(old);
	if (pw != NULL && chown(arg + 5, pw->pw_uid, pw->pw_gid) == -1)
		err(1, "--control %s: chown", arg);
	return fd;
}

/* A listening TCP socket, or with --udp a bound UDP one. */
static int
is_listener(int fd, int udp)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (udp)
		return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0 &&
		    v == SOCK_DGRAM;
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 &&
	    v != 0;
}

/*
 * Become user.  With --usesrc every upstream socket needs IP_TRANSPARENT,
 * which takes CAP_NET_ADMIN (or CAP_NET_RAW): those two are kept across
 * the change of user (PR_SET_KEEPCAPS, then capset), every other
 * capability goes.  Raw capset rather than libcap-ng: two bits do not
 * need a library.
 */
static void
drop_privileges(const char *user, int keep_net)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cap[2];
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL)
		errx(EX_USAGE, "-u %s: no such user", user);
	if (keep_net && prctl(PR_SET_KEEPCAPS, 1) == -1)
		err(1, "-u %s: cannot keep CAP_NET_ADMIN", user);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		err(1, "-u %s: cannot drop privileges", user);
	if (!keep_net)
		return;
	memset(cap, 0, sizeof(cap));
	cap[0].permitted = cap[0].effective = 1u << CAP_NET_ADMIN |
	    1u << CAP_NET_RAW;
	if (syscall(SYS_capset, &hdr, cap) == -1 ||
	    prctl(PR_SET_KEEPCAPS, 0) == -1)
		err(1, "-u %s: cannot keep CAP_NET_ADMIN", user);
}

/*
 * Under -u the pidfile's directory is most often root's, so the process
 * could not remove the file when it ends.  A small child keeps root for
 * that one job: it holds nothing but the pidfile and a pipe, waits until
 * every process of the relay has ended (the pipe's last writer closes),
 * then removes the file.
 */
static void
pidfile_keeper(struct pidfh *pfh)
{
	int p[2], fd, max;
	char c;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		err(1, "--pidfile: pipe");
	if ((pid = fork()) == -1)
		err(1, "--pidfile: fork");
	if (pid > 0) {
		close(p[0]);
		return;		/* p[1] stays open in every process of ours */
	}
	close(p[1]);
	max = getdtablesize();
	for (fd = 3; fd < max && fd < 65536; fd++)
		if (fd != p[0] && fd != pidfile_fileno(pfh))
			close(fd);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	setproctitle("pidfile keeper");
	while (read(p[0], &c, 1) == -1 && errno == EINTR)
		;
	pidfile_remove(pfh);
	_exit(0);
}

int
relay_main(int argc, char *argv[], int balance)
{
	static struct relay_conf cf;
	static uint8_t tlvstore[RELAY_MAXTLV][512];
	struct sockaddr_storage sa;
	struct relay_server probe;
	struct cli_recv rcv;
	const char *listen_arg = NULL, *upstream = NULL, *user = NULL;
	const char *pidpath = NULL, *stats_arg = NULL, *why;
	const char *ctl_arg = NULL;
	struct pidfh *pfh = NULL;
	char *spec1 = NULL, *slash;
	long long v;
	int ch, i, rc, saw_send = 0, saw_idle = 0, saw_udp_opt = 0;
	int saw_conns = 0;
	pid_t other;

	balance_mode = balance;
	cli_init(argc, argv);
	memset(&cf, 0, sizeof(cf));
	cf.prog = balance ? "pp-balance" : "pp-relay";
	/* setproctitle() reuses argv's memory: keep our name elsewhere. */
	cli_setname(cf.prog);
	cf.accept_proxy = -1;
	cf.max_header = 4096;
	cf.hdr_ms = 5000;
	cf.connect_ms = 5000;
	cf.grace_ms = 30000;
	cf.retries = balance ? 3 : 0;
	cf.algo = balance ? RELAY_RR : RELAY_FIRST;
	cf.check_ms = 2000;
	cf.rise = 2;
	cf.fall = 3;
	cf.stats_fd = -1;
	cf.ctl_fd = -1;
	cf.verbose = 1;
	cf.workers = 1;
	cf.sess_ms = 60000;
	cf.max_sess = 65536;
	cf.log = logline;
	if ((cf.srv_spec = calloc(argc + 1, sizeof(char *))) == NULL)
		err(1, NULL);

	cli_recv_init(&rcv);
	while ((ch = getopt_long(argc, argv, CLI_OPTS_RECV
	    "A:b:c:CD:E:f:F:g:hi:I:k:K:l:M:p::PqR:r:s:S:u:vVw:X:",
	    longopts, NULL)) != -1) {
		if (cli_recv_opt(ch, optarg, argv, &rcv))
			continue;
		switch (ch) {
		case 'A':
			if (cf.nallow == RELAY_MAXCIDR)
				errx(EX_USAGE, "--allow: at most %d",
				    RELAY_MAXCIDR);
			cli_cidr("--allow", optarg, &cf.allow[cf.nallow++]);
			break;
		case 'b':
			if (!balance)
				usage();
			if ((rc = relay_algo_parse(optarg)) < 0)
				errx(EX_USAGE, "--balance %s: expected "
				    "roundrobin, leastconn, source, maglev, "
				    "random or first", optarg);
			cf.algo = rc;
			break;
		case 'c':
			if (balance)
				usage();
			upstream = optarg;
			break;
		case 'C':
			cf.crc32c = 1;
			break;
		case 'D':
			if ((rc = pp_tlv_type(optarg)) < 0)
				rc = (int)cli_number("--drop-tlv", optarg, 0,
				    255);
			cf.drop_tlv[rc] = 1;
			break;
		case 'E':
			cf.connect_ms = cli_duration("--connect-timeout", optarg,
			    0, 1, DAY_MS);
			break;
		case 'f':
			if (!balance)
				usage();
			cf.servers_file = optarg;
			break;
		case 'F':
			pidpath = optarg;
			break;
		case 'g':
			cf.grace_ms = cli_duration("--grace", optarg,
			    CLI_DUR_ZERO, 1, DAY_MS);
			break;
		case 'h':
			help();
			break;
		case 'i':
			if (!balance)
				usage();
			/* A plain number is milliseconds here, as pp-balance(1) says. */
			cf.check_ms = cli_duration("--check-interval", optarg,
			    CLI_DUR_MS, 10, 3600000);
			break;
		case 'I':
			cf.idle_ms = cli_duration("--idle-timeout", optarg,
			    CLI_DUR_ZERO, 1, DAY_MS);
			saw_idle = 1;
			break;
		case 'k':
			if (!balance)
				usage();
			cf.fall = (int)cli_number("--fall", optarg, 1, 1000);
			break;
		case 'K':
			if (!balance)
				usage();
			cf.rise = (int)cli_number("--rise", optarg, 1, 1000);
			break;
		case 'l':
			listen_arg = optarg;
			break;
		case 'M':
			cf.max_conns = (int)cli_number("--max-conns", optarg,
			    1, 10000000);
			saw_conns = 1;
			break;
		case 'p':
			cf.send_proxy = cli_version("--send-proxy", optarg, 1);
			if (cf.send_proxy == 0)
				errx(EX_USAGE, "--send-proxy=any: expected v1 "
				    "or v2");
			saw_send = 1;
			break;
		case 'P':
			cf.pass_tlvs = 1;
			break;
		case 'q':
			cf.verbose = 0;
			break;
		case 'R':
			cf.retries = (int)cli_number("--retries", optarg, 0,
			    RELAY_MAXSRV);
			break;
		case 'r':
			if ((slash = strchr(optarg, '/')) == NULL)
				errx(EX_USAGE, "--rate-per-ip %s: expected "
				    "N/SECONDS", optarg);
			*slash = '\0';
			cf.rate_n = (int)cli_number("--rate-per-ip", optarg, 1,
			    10000000);
			cf.rate_secs = (int)cli_number("--rate-per-ip",
			    slash + 1, 1, 86400);
			*slash = '/';
			break;
		case 's':
			if (!balance)
				usage();
			if (relay_server_parse(optarg, &probe, 0, &why) == -1)
				errx(EX_USAGE, "--server %s: %s", optarg, why);
			cf.srv_spec[cf.nspec++] = optarg;
			break;
		case 'S':
			stats_arg = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'v':
			cf.verbose = 2;
			break;
		case 'V':
			printf("%s %s\n", cf.prog, PP_VERSION_STRING);
			exit(0);
		case 'w':
			cf.workers = (int)cli_number("--workers", optarg, 1,
			    RELAY_MAXWORKERS);
			break;
		case 'X':
			if (cf.ntlv == RELAY_MAXTLV)
				errx(EX_USAGE, "--tlv: at most %d",
				    RELAY_MAXTLV);
			cli_tlv("--tlv", optarg, &cf.tlv[cf.ntlv],
			    tlvstore[cf.ntlv], sizeof(tlvstore[0]));
			cf.ntlv++;
			break;
		case OPT_CHECK_TIMEOUT:
			if (!balance)
				usage();
			cf.check_to_ms = cli_duration("--check-timeout",
			    optarg, CLI_DUR_MS, 1, 3600000);
			break;
		case OPT_LOG_FORMAT:
			if ((rc = relay_log_parse(optarg)) < 0)
				errx(EX_USAGE, "--log-format %s: expected text, "
				    "logfmt or json", optarg);
			cf.log_format = log_format = rc;
			break;
		case OPT_MAX_SESS:
			cf.max_sess = (int)cli_number("--max-sessions", optarg,
			    1, 10000000);
			saw_udp_opt = 1;
			break;
		case OPT_SESS_TIMEOUT:
			cf.sess_ms = cli_duration("--session-timeout", optarg,
			    0, 1, DAY_MS);
			saw_udp_opt = 1;
			break;
		case OPT_UDP:
			cf.udp = 1;
			break;
		case OPT_CONTROL:
			if (strncmp(optarg, "unix:", 5) != 0 || optarg[5] == '\0')
				errx(EX_USAGE, "--control %s: expected unix:PATH",
				    optarg);
			/* Anyone may connect to an abstract name: no mode. */
			if (optarg[5] == '@')
				errx(EX_USAGE, "--control %s: an abstract socket "
				    "has no permissions: give a path", optarg);
			ctl_arg = optarg;
			break;
		case OPT_DENY:
			if (cf.ndeny == RELAY_MAXCIDR)
				errx(EX_USAGE, "--deny: at most %d",
				    RELAY_MAXCIDR);
			cli_cidr("--deny", optarg, &cf.deny[cf.ndeny++]);
			break;
		case OPT_PER_IP:
			cf.max_per_ip = (int)cli_number("--max-conns-per-ip",
			    optarg, 1, 10000000);
			break;
		case OPT_USESRC:
			if (strcmp(optarg, "clientip") != 0)
				errx(EX_USAGE, "--usesrc %s: expected clientip",
				    optarg);
			cf.usesrc = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	cf.accept_proxy = rcv.accept;
	cf.optional = rcv.optional;
	memcpy(cf.trust, rcv.trust, sizeof(rcv.trust[0]) * rcv.ntrust);
	cf.ntrust = rcv.ntrust;
	cf.max_header = rcv.max_header;
	cf.hdr_ms = rcv.hdr_ms;

	/* Operands and conflicts, by name. */
	if (!balance) {
		if (upstream == NULL)
			errx(EX_USAGE, "-c UPSTREAM is required");
		if (asprintf(&spec1, "%s,%s", upstream, cf.send_proxy == 2 ?
		    "send-proxy-v2" : cf.send_proxy == 1 ? "send-proxy" :
		    "no-send-proxy") == -1)
			err(1, NULL);
		if (relay_server_parse(spec1, &probe, 0, &why) == -1)
			errx(EX_USAGE, "-c %s: %s", upstream, why);
		cf.srv_spec[cf.nspec++] = spec1;
	} else {
		if (cf.nspec == 0 && cf.servers_file == NULL)
			errx(EX_USAGE, "no server: give -s SERVER or "
			    "--servers-file FILE");
		if (cf.servers_file != NULL && access(cf.servers_file, R_OK)
		    == -1)
			err(EX_NOINPUT, "--servers-file %s", cf.servers_file);
	}
	if (cf.accept_proxy < 0 && (cf.optional || cf.ntrust > 0 ||
	    cf.pass_tlvs))
		errx(EX_USAGE, "%s needs --accept-proxy", cf.optional ?
		    "--optional" : cf.ntrust > 0 ? "--trust" : "--pass-tlvs");
	if ((cf.ntlv > 0 || cf.crc32c) && cf.send_proxy == 1 && !balance)
		errx(EX_USAGE, "--tlv and --crc32c need --send-proxy=v2");
	if (!saw_send && !balance && (cf.ntlv > 0 || cf.crc32c))
		errx(EX_USAGE, "--tlv and --crc32c need --send-proxy=v2");
	if (saw_udp_opt && !cf.udp)
		errx(EX_USAGE, "--session-timeout and --max-sessions "
		    "need --udp");
	if (cf.udp) {
		/* Version 1 has no way to say "datagram" (spec 2.1). */
		if (cf.send_proxy == 1)
			errx(EX_USAGE, "--send-proxy=v1 cannot carry UDP: "
			    "use --send-proxy=v2 with --udp");
		if (cf.accept_proxy == 1)
			errx(EX_USAGE, "--accept-proxy=v1 cannot carry UDP: "
			    "use --accept-proxy=v2 with --udp");
		if (cf.accept_proxy == 0)
			cf.accept_proxy = 2;	/* any: v2 is all there is */
		if (cf.pass_tlvs)
			errx(EX_USAGE, "--pass-tlvs and --udp cannot be "
			    "combined");
		if (saw_conns)
			errx(EX_USAGE, "--max-conns and --udp cannot be "
			    "combined: use --max-sessions");
		if (saw_idle)
			errx(EX_USAGE, "--idle-timeout and --udp cannot be "
			    "combined: use --session-timeout");
	}
	if (cf.optional && cf.ntrust == 0 && cf.verbose > 0)
		warnx("--optional without --trust: anyone who can reach the "
		    "port can claim any client address");

	/* A second copy stops here, before it touches the port. */
	if (pidpath != NULL) {
		if ((pfh = pidfile_open(pidpath, 0644, &other)) == NULL) {
			if (errno == EEXIST)
				errx(1, "--pidfile %s: already running, pid %d",
				    pidpath, (int)other);
			err(1, "--pidfile %s", pidpath);
		}
	}

	/* Listening sockets: -l ADDR, -l - (fd 0), or systemd's. */
	if (listen_arg != NULL && strcmp(listen_arg, "-") == 0) {
		if (!is_listener(0, cf.udp))
			errx(EX_USAGE, "-l -: fd 0 is not a %s socket", cf.udp ?
			    "UDP" : "listening");
		cf.lfd[cf.nlfd++] = dup(0);
		if (cf.lfd[0] == -1)
			err(1, "dup");
	} else if (listen_arg != NULL) {
		cli_addr("-l", listen_arg, &sa);
		cf.nlfd = sa.ss_family == AF_UNIX ? 1 : cf.workers;
		cf.reuseport = cf.nlfd > 1;
		for (i = 0; i < cf.nlfd; i++)
			cf.lfd[i] = listen_on("-l", listen_arg, cf.udp);
	} else {
		const char *lpid = getenv("LISTEN_PID");
		const char *lfds = getenv("LISTEN_FDS");

		if (lpid == NULL || lfds == NULL ||
		    strtoll(lpid, NULL, 10) != (long long)getpid())
			errx(EX_USAGE, "-l LISTEN is required (or systemd "
			    "socket activation)");
		const char *names = getenv("LISTEN_FDNAMES"), *name;
		size_t nlen;

		v = cli_number("LISTEN_FDS", lfds, 1, RELAY_MAXLISTEN + 1);
		for (i = 0; i < v; i++) {
			if (!is_listener(3 + i, cf.udp) && !is_listener(3 + i,
			    0))
				errx(EX_USAGE, "LISTEN_FDS: fd %d is not a "
				    "listening socket", 3 + i);
			/*
			 * LISTEN_FDNAMES (systemd FileDescriptorName=) is
			 * colon-separated, one name per fd: "metrics" or
			 * "stats" is the --stats listener, any other a
			 * data listener.
			 */
			name = names;
			nlen = names != NULL ? strcspn(names, ":") : 0;
			if (names != NULL)
				names = names[nlen] == ':' ? names + nlen + 1 :
				    NULL;
			if (name != NULL && ((nlen == 7 &&
			    strncmp(name, "metrics", 7) == 0) || (nlen == 5 &&
			    strncmp(name, "stats", 5) == 0))) {
				if (stats_arg != NULL || cf.stats_fd != -1)
					errx(EX_USAGE, "LISTEN_FDNAMES: fd %d "
					    "is a second stats listener (%s)",
					    3 + i, stats_arg != NULL ?
					    "--stats given too" : "one only");
				cf.stats_fd = 3 + i;
				continue;
			}
			if (!is_listener(3 + i, cf.udp))
				errx(EX_USAGE, "LISTEN_FDS: fd %d is not a %s "
				    "socket", 3 + i, cf.udp ? "UDP" :
				    "listening");
			if (cf.nlfd == RELAY_MAXLISTEN)
				errx(EX_USAGE, "LISTEN_FDS: at most %d data "
				    "sockets", RELAY_MAXLISTEN);
			cf.lfd[cf.nlfd++] = 3 + i;
		}
		if (cf.nlfd == 0)
			errx(EX_USAGE, "LISTEN_FDNAMES: no data socket, only "
			    "stats");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
	}
	for (i = 0; i < cf.nlfd; i++) {
		int one = 1;

		if (fcntl(cf.lfd[i], F_SETFL, O_NONBLOCK) == -1)
			err(1, "fcntl");
		/* Accepted sockets inherit it: one system call less each. */
		if (!cf.udp)
			setsockopt(cf.lfd[i], IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
	}
	if (cf.stats_fd != -1 && fcntl(cf.stats_fd, F_SETFL, O_NONBLOCK) == -1)
		err(1, "fcntl");
	if (stats_arg != NULL) {
		cf.stats_fd = listen_on("--stats", stats_arg, 0);
	}
	if (ctl_arg != NULL)
		cf.ctl_fd = control_on(ctl_arg, user);
	if (user != NULL && pfh != NULL)
		pidfile_keeper(pfh);
	if (user != NULL)
		drop_privileges(user, cf.usesrc);
	if (pfh != NULL && pidfile_write(pfh) == -1)
		err(1, "--pidfile %s", pidpath);

	/*
	 * Load the servers once here, so that errors stop us at start; the
	 * list is kept as the last good one (see relay_run).
	 */
	if (relay_servers_load(&cf, cf.good, &cf.ngood, &why) == -1)
		errx(EX_USAGE, "%s", why);
	notify_env(&cf);
	setproctitle("starting");
	rc = relay_run(&cf);
	if (ctl_arg != NULL)
		(void)unlink(ctl_arg + 5);	/* best effort: stale is safe */
	if (pfh != NULL && user == NULL)
		pidfile_remove(pfh);	/* under -u, the keeper does */
	return rc;
}
