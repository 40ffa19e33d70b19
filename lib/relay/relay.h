/*
 * relay.h - the relay engine shared by pp-relay and pp-balance.
 *
 * Internal: not installed, not part of libproxyhdr's API.  pp-relay is the
 * one-server case of the same engine: a relay_conf with one server and the
 * "first" algorithm.  One epoll loop per worker process; workers share
 * nothing on the data path (server counters and health state live in a
 * small shared mapping touched once per connection, not per byte).
 *
 * The map, one concern per file:
 *   relay_master.c   the master: forks, restarts and signals the workers
 *   relay_loop.c     one worker's loop and the data path, accept to close
 *   relay_servers.c  server specs, the servers file, applying a new list
 *   relay_lb.c       picking a server: the algorithms and their hashes
 *   relay_health.c   health checks and what their results change
 *   relay_limit.c    per client address limits
 *   relay_stats.c    the shared counters and the /metrics responder
 *   relay_udp.c      --udp: datagram sessions, UDP checks, udp_* metrics
 *   relay_ctl.c      the control socket (--control): show and set servers
 *   relay_log.c      the line a connection or session logs, three formats
 *   relay_notify.c   systemd's notification socket and watchdog
 *   worker.h         the worker state those files share (private)
 * Addresses and CIDR lists are lib/net/'s; headers are libproxyhdr's.
 */
#ifndef RELAY_H
#define RELAY_H

#include <sys/socket.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proxyhdr.h"
#include "net.h"

#define RELAY_MAXSRV	256		/* servers per balancer */
#define RELAY_MAXWORKERS 64		/* -w */
#define RELAY_WEDGED_MS	10000		/* a worker silent this long is replaced */
/* Listening sockets: one per worker under SO_REUSEPORT, or LISTEN_FDS. */
#define RELAY_MAXLISTEN	RELAY_MAXWORKERS
#define RELAY_MAXCIDR	64		/* --trust, --allow, --deny each */
#define RELAY_MAXTLV	32		/* --tlv */
#define RELAY_BUFSZ	16384		/* scratch and pending buffers */
#define RELAY_MAGLEV_M	65537		/* prime, Maglev's lookup table size */
#define RELAY_KEYLEN	192		/* server key: its spec, canonical */
#define RELAY_CHKSEND	256		/* check-send bytes, check-http path */
#define RELAY_CHKEXPECT	128		/* check-expect bytes */
#define RELAY_CHKBUF	1024		/* a check's reply is judged in this */

/* enum relay_end: why a connection ended. */
enum relay_end {
	RELAY_END_DONE, RELAY_END_BADHDR, RELAY_END_UNTRUSTED,
	RELAY_END_DENIED, RELAY_END_HDRTIMEOUT, RELAY_END_LIMIT,
	RELAY_END_NOSERVER, RELAY_END_IDLE, RELAY_END_RESET,
	RELAY_END_DRAIN, RELAY_END_CLIENTGONE, RELAY_END_ERROR,
	RELAY_END_MAX
};

/* Run-time state of a server, set on the control socket (relay_ctl.c). */
enum relay_admin {
	RELAY_READY,		/* takes connections */
	RELAY_DRAIN,		/* keeps its connections, takes no new one */
	RELAY_MAINT		/* drain, and no health checks */
};

enum relay_algo {
	RELAY_RR, RELAY_LEASTCONN, RELAY_SOURCE, RELAY_MAGLEV, RELAY_RANDOM,
	RELAY_FIRST
};

/*
 * Counters of one server, shared by all workers (atomic adds).  A slot
 * belongs to a server address (its name), so a server keeps its counters
 * when its options change; it is in use while some worker holds it (see
 * relay_wstat.srv_refs) and free for another address after that.
 */
struct relay_sstat {
	char		key[RELAY_KEYLEN];	/* the name; "" never used */
	char		name[NET_ADDRSTRLEN];	/* label in /metrics */
	uint32_t	up;
	uint64_t	total;
	uint64_t	bytes_in;	/* client -> server */
	uint64_t	bytes_out;	/* server -> client */
	uint64_t	check_fail;
	uint64_t	connect_fail;
	/* Set at run time on the control socket; kept across reloads. */
	uint32_t	admin;		/* enum relay_admin */
	uint32_t	wset;		/* weight set at run time; 0: the list's */
	uint32_t	hoff;		/* health checks disabled */
	/* Published by the workers for the control socket. */
	uint32_t	wfile;		/* the weight the server list gives */
	uint32_t	chk;		/* last check: 0 none yet, 1 ok, 2 failed */
	int64_t		changed;	/* last change of state, epoch seconds */
};

/*
 * What one worker holds: its gauges and the slots it uses.  Only that
 * worker writes its row; when it dies, the master zeroes the row before
 * starting its replacement, so a killed worker's connections stop being
 * counted and its slots are released.  beat is the worker's clock
 * (CLOCK_MONOTONIC, ms) at its last loop: a worker whose beat stops is
 * wedged, and the master replaces it.
 */
struct relay_wstat {
	int64_t		beat;
	uint64_t	active;			/* client connections open */
	uint64_t	srv_active[RELAY_MAXSRV];	/* by slot */
	uint16_t	srv_refs[RELAY_MAXSRV];	/* servers using the slot */
	uint64_t	udp_active;		/* UDP sessions open */
};

/* Why a UDP datagram from a client was dropped (relay_udp.c). */
enum relay_udrop {
	RELAY_UDROP_UNTRUSTED, RELAY_UDROP_BADHDR, RELAY_UDROP_DENIED,
	RELAY_UDROP_LIMIT, RELAY_UDROP_NOSERVER, RELAY_UDROP_OVERSIZE,
	RELAY_UDROP_ERROR, RELAY_UDROP_MAX
};

/* Why a UDP session ended. */
enum relay_uend {
	RELAY_UEND_TIMEOUT, RELAY_UEND_EVICTED, RELAY_UEND_SRVDOWN,
	RELAY_UEND_DRAIN, RELAY_UEND_MAX
};

/* UDP counters, shared by all workers (atomic adds, once per batch). */
struct relay_ustat {
	uint64_t	sessions;		/* made */
	uint64_t	ended[RELAY_UEND_MAX];
	uint64_t	dg_in, dg_out;		/* forwarded up, sent back */
	uint64_t	bytes_in, bytes_out;	/* payload, headers not counted */
	uint64_t	dropped[RELAY_UDROP_MAX];
	uint64_t	dropped_down;		/* replies that could not be sent */
};

/* Global counters, shared by all workers. */
struct relay_shared {
	pthread_mutex_t	lock;		/* robust: see relay_stats_init */
	uint32_t	health_gen;	/* bumped when any server goes up/down */
	uint32_t	ctl_gen;	/* bumped when run-time state changes */
	uint64_t	total;
	uint64_t	ended[RELAY_END_MAX];	/* by enum relay_end */
	struct relay_sstat srv[RELAY_MAXSRV];
	struct relay_wstat w[RELAY_MAXWORKERS];
	int		udp;		/* --udp: the udp_* metrics too */
	struct relay_ustat udp_st;
};

/*
 * What a health check sends and expects beyond the connect (server options
 * check-send, check-expect, check-http, check-status).  Fixed arrays, so a
 * server stays one plain object that is copied by value.
 */
struct relay_check {
	uint8_t		send[RELAY_CHKSEND];	/* bytes, or the HTTP path */
	uint16_t	send_len;
	uint8_t		expect[RELAY_CHKEXPECT];
	uint16_t	expect_len;
	uint8_t		http;		/* send is a path to GET */
	uint16_t	status;		/* HTTP status wanted; 0: any 2xx */
};

struct relay_server {
	struct sockaddr_storage addr;
	char		name[NET_ADDRSTRLEN];	/* "host:port" */
	char		key[RELAY_KEYLEN];
	int		weight;
	int		send_proxy;	/* 0, 1 or 2 */
	int		check;
	int		backup;
	int		maxconn;	/* for "first"; 0: no limit */
	int		udp;		/* datagrams (--udp) */
	int		wfile;		/* weight from the list (weight: in use) */
	int		admin;		/* enum relay_admin, from the slot */
	int		hoff;		/* health checks disabled, from the slot */
	/* worker-local state */
	int		up;		/* as this worker last saw it */
	int		active;		/* this worker's connections */
	int		refs;		/* connections holding it */
	int		retired;	/* gone from the list after a reload */
	int64_t		cur;		/* smooth weighted round robin */
	int		rise_n, fall_n;
	struct relay_sstat *st;
	struct relay_check chk;
	/* health check in flight */
	int		chk_fd;
	uint8_t		*chk_buf;	/* the reply so far, while reading */
	uint16_t	chk_got;	/* its length */
	int64_t		chk_next;	/* ms */
	int64_t		chk_deadline;
	struct relay_server *next_ret;	/* retired list */
};

/* The balancer: the current server list and the algorithm's state. */
struct relay_lb {
	enum relay_algo	algo;
	int		n;
	struct relay_server *srv[RELAY_MAXSRV];
	uint16_t	*maglev;	/* RELAY_MAGLEV_M entries, or NULL */
	int		maglev_n;	/* servers in the table; 0 = none */
	int		dirty;		/* eligibility changed: rebuild */
	uint64_t	rnd;		/* xorshift state for "random" */
	uint16_t	elig[RELAY_MAXSRV];	/* eligible, by index */
	int		nelig;
};

struct relay_tried {
	uint64_t	bits[RELAY_MAXSRV / 64];
};

struct relay_conf {
	const char	*prog;		/* "pp-relay" or "pp-balance" */
	int		lfd[RELAY_MAXLISTEN];	/* listening sockets */
	int		nlfd;
	int		reuseport;	/* workers each bind their own */
	struct sockaddr_storage laddr;	/* for rebinding per worker */
	int		workers;
	/* receiving */
	int		accept_proxy;	/* -1 no, 0 any, 1 v1, 2 v2 */
	int		optional;
	struct net_cidr	trust[RELAY_MAXCIDR];
	int		ntrust;
	int		max_header;
	/* sending */
	int		send_proxy;	/* default for servers without one */
	struct pp_tlv	tlv[RELAY_MAXTLV];
	int		ntlv;
	int		crc32c;
	int		pass_tlvs;
	uint8_t		drop_tlv[256];
	int		usesrc;		/* bind to the client's address */
	/* access */
	struct net_cidr	allow[RELAY_MAXCIDR], deny[RELAY_MAXCIDR];
	int		nallow, ndeny;
	int		max_per_ip;
	int		rate_n, rate_secs;
	/* timeouts, ms; 0 = none */
	int		hdr_ms, connect_ms, idle_ms, grace_ms;
	int		max_conns;
	int		retries;
	/* balancing */
	enum relay_algo	algo;
	int		check_ms, rise, fall;
	int		check_to_ms;	/* --check-timeout; 0: see relay_health.c */
	const char	*servers_file;
	char		**srv_spec;	/* -s arguments */
	int		nspec;
	/* the last server list that loaded, for a worker started again */
	struct relay_server *good[RELAY_MAXSRV];
	int		ngood;
	int		stats_fd;	/* -1: none */
	int		ctl_fd;		/* --control listener; -1: none */
	struct relay_ctl *ctl;		/* who serves it, in this process */
	int		verbose;	/* 0 quiet, 1 normal, 2 verbose */
	int		log_format;	/* enum relay_logfmt */
	/* systemd's notification socket (NOTIFY_SOCKET), or NULL */
	const char	*notify_path;
	int		watchdog_ms;	/* WATCHDOG_USEC / 1000; 0: none */
	/* UDP (--udp): every listener and server speaks datagrams */
	int		udp;
	int		sess_ms;	/* --session-timeout */
	int		max_sess;	/* --max-sessions, per worker */
	/* a finished line without newline, and warnings */
	void		(*log)(int level, const char *line);
};


/* CLOCK_MONOTONIC in ms: the engine's one clock. */
static inline int64_t
relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* relay_master.c: the whole relay; returns an exit code. */
int	relay_run(struct relay_conf *conf);

/* relay_loop.c: one worker's life; returns its exit code. */
int	relay_worker_run(struct relay_conf *cf, struct relay_shared *sh,
	    int id);

/* relay_lb.c: algorithms over the servers of lb. */
void	relay_lb_init(struct relay_lb *lb, enum relay_algo algo,
	    uint64_t seed);
void	relay_lb_free(struct relay_lb *lb);
/* Recompute eligibility (up, backup) and the Maglev table when dirty. */
void	relay_lb_update(struct relay_lb *lb);
/*
 * Pick a server for a client address (the real one, from the header), not
 * one of those in tried.  Returns the index in lb->srv or -1.
 */
int	relay_lb_pick(struct relay_lb *lb, const struct sockaddr_storage *cl,
	    const struct relay_tried *tried);
uint64_t relay_hash_addr(const struct sockaddr_storage *sa);
uint64_t relay_hash_str(const char *s, uint64_t seed);
uint64_t relay_hash_bytes(const uint8_t *p, size_t n, uint64_t seed);
/* Fill a Maglev table of m entries for n servers named names[]. */
void	relay_maglev_fill(uint16_t *tab, uint32_t m, const char *const *names,
	    const int *weights, int n);
int	relay_algo_parse(const char *s);
const char *relay_algo_name(enum relay_algo a);

/* relay_health.c */
int	relay_check_start(struct relay_server *s, int64_t now_ms,
	    int connect_ms);
/*
 * An event on the check socket: 1 success, 0 failure (both end the
 * check), -1 not decided yet (a reply is still awaited).
 */
int	relay_check_finish(struct relay_server *s);
void	relay_check_abort(struct relay_server *s);
/* How long a check may take: --check-timeout, else the interval. */
int	relay_check_timeout(const struct relay_conf *cf);
/* A server option check-*=VALUE into s->chk: 1 taken, 0 not ours, -1. */
int	relay_check_option(const char *opt, struct relay_server *s,
	    const char **why);
/* A spec's check options are coherent: 0, or -1 with *why. */
int	relay_check_valid(struct relay_server *s, const char **why);

/* relay_log.c: the per-connection line, one list of fields, 3 renderings. */
enum relay_logfmt { RELAY_LOG_TEXT, RELAY_LOG_LOGFMT, RELAY_LOG_JSON };
struct relay_logrec {
	const struct sockaddr_storage *client, *peer;
	const char	*server;	/* NULL: none */
	uint64_t	up, down;	/* bytes client -> server, back */
	int64_t		ms;
	int		end;		/* enum relay_end */
	const char	*end_name;	/* instead of end's name (UDP) */
	uint8_t		hdr;		/* relay_log_hdr() */
	uint16_t	tlvs;		/* relay_log_tlvs() */
	int		udp;		/* a UDP session: the datagram counts */
	uint64_t	dg_up, dg_down;
};
int	relay_log_parse(const char *s);		/* enum relay_logfmt or -1 */
/* What a header was, for the log: 0 none, else version and command. */
uint8_t	relay_log_hdr(const struct pp_header *h);
/* The kinds of TLV a header carried, as a bit set. */
uint16_t relay_log_tlvs(const struct pp_header *h);
/* A message at level 0 (warning), 1 (connection) or 2 (verbose). */
void	relay_logf(const struct relay_conf *cf, int level, const char *fmt,
	    ...) __attribute__((format(printf, 3, 4)));
/* Render r in format fmt: the length (a line, no newline, NUL-ended). */
size_t	relay_log_line(int fmt, const struct relay_logrec *r, char *buf,
	    size_t cap);

/*
 * relay_notify.c: systemd's notification protocol (sd_notify(3)), written
 * out rather than linked from libsystemd.  Each call is a no-op without
 * cf->notify_path.
 */
void	relay_notify(const struct relay_conf *cf, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	relay_notify_reloading(const struct relay_conf *cf);
/*
 * Called often (each loop or tick): WATCHDOG=1 every half interval while
 * alive says the workers beat, and STATUS= when the summary changed.
 */
void	relay_notify_tick(const struct relay_conf *cf,
	    const struct relay_shared *sh, int64_t now_ms, int alive,
	    int draining);
/* How soon relay_notify_tick wants to run again, ms (INT_MAX: never). */
int	relay_notify_due(const struct relay_conf *cf, int64_t now_ms);

/* relay_stats.c */
size_t	relay_stats_text(const struct relay_shared *sh, const char *prog,
	    char *buf, size_t cap);
/* Make the lock of a fresh mapping: 0, or -1 when it cannot be had. */
int	relay_stats_init(struct relay_shared *sh);
void	relay_stats_lock(struct relay_shared *sh);
void	relay_stats_unlock(struct relay_shared *sh);
/* The slot of server name for worker ws, taken (srv_refs) ; or NULL. */
struct relay_sstat *relay_stats_slot(struct relay_shared *sh,
	    struct relay_wstat *ws, const char *name);
/* Give back a slot taken by relay_stats_slot. */
void	relay_stats_release(struct relay_shared *sh, struct relay_wstat *ws,
	    const struct relay_sstat *st);
const char *relay_end_name(int why);

/* relay_udp.c: the datagram path of one worker (see its top comment). */
struct relay_udp;
struct relay_limit;
/*
 * A worker's UDP state over the bound sockets fds[0..n) (taken: closed by
 * relay_udp_free).  Its own epoll descriptor, relay_udp_fd, goes into the
 * worker's set: readable means relay_udp_run has work.  NULL on failure.
 */
struct relay_udp *relay_udp_new(const struct relay_conf *cf,
	    struct relay_shared *sh, int id, struct relay_lb *lb,
	    struct relay_limit *limit, const int *fds, int n, int fd_limit);
int	relay_udp_fd(const struct relay_udp *u);
void	relay_udp_run(struct relay_udp *u, int64_t now_ms);
/* Sessions past --session-timeout end; returns ms to the next, or -1. */
int	relay_udp_expire(struct relay_udp *u, int64_t now_ms);
/* SIGTERM: sessions end (a datagram flow has nothing to finish). */
void	relay_udp_drain(struct relay_udp *u);
int	relay_udp_sessions(const struct relay_udp *u);
void	relay_udp_free(struct relay_udp *u);
/* UDP health checks (relay_health.c calls them for s->udp). */
int	relay_udp_check_start(struct relay_server *s, int64_t now_ms,
	    int timeout_ms);
int	relay_udp_check_finish(struct relay_server *s);
/* The udp_* metrics, appended at off in buf; returns the new length. */
size_t	relay_udp_stats_text(const struct relay_shared *sh, const char *pfx,
	    char *buf, size_t cap, size_t off);

/* relay_stats.c: printf into buf at off, bounded by cap (the new off). */
size_t	relay_stats_add(char *buf, size_t cap, size_t off, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));
/*
 * relay_ctl.c: the control socket.  One process serves it (the master,
 * or the only worker) through one descriptor to watch for input; the
 * workers pick up what it sets from the shared slots (sh->ctl_gen).
 */
struct relay_ctl;
/* Serve cf->ctl_fd (taken over): NULL when out of memory. */
struct relay_ctl *relay_ctl_new(struct relay_conf *cf,
	    struct relay_shared *sh);
/* Readable when relay_ctl_run has work; never blocks. */
int	relay_ctl_fd(const struct relay_ctl *c);
/* Do what is ready and end clients past their time; srv: the list now. */
void	relay_ctl_run(struct relay_ctl *c, struct relay_server *const *srv,
	    int n);
/* Close every descriptor and free (also in a child after fork). */
void	relay_ctl_free(struct relay_ctl *c);
/* A worker's server got its slot: publish its weight, take its state. */
void	relay_ctl_attach(struct relay_server *s);
/* Take the run-time state of s from its slot (sh->ctl_gen moved). */
void	relay_ctl_pull(struct relay_server *s);
/* 1 when s is out of checks (maint, health disabled). */
int	relay_ctl_nocheck(const struct relay_server *s);
/* Worker 0 ran a check of s (ok 1 or 0), or s went up or down. */
void	relay_ctl_checked(struct relay_server *s, int ok);
void	relay_ctl_changed(struct relay_server *s);
const char *relay_admin_name(int admin);

/* relay_limit.c: per client address connections and rate. */
struct relay_limit;
struct relay_ipent;
#define RELAY_LIMIT_CAP	65536		/* addresses per worker's table */
struct relay_limit *relay_limit_new(int max_per_ip, int rate_n,
	    int rate_secs, size_t cap);
/*
 * NULL: refused (over a limit, or a new address with the table full:
 * relay_limit_full then says 1); else an entry to release when the
 * connection ends.
 */
struct relay_ipent *relay_limit_take(struct relay_limit *l,
	    const struct sockaddr_storage *sa, int64_t now_ms);
int	relay_limit_full(const struct relay_limit *l);
void	relay_limit_release(struct relay_limit *l, struct relay_ipent *e);
void	relay_limit_sweep(struct relay_limit *l, int64_t now_ms);
void	relay_limit_free(struct relay_limit *l);


/* relay_servers.c: spec "ADDR[,weight=N][,send-proxy|send-proxy-v2][,check]..." */
int	relay_server_parse(const char *spec, struct relay_server *s,
	    int dflt_proxy, const char **why);
int	relay_servers_load(const struct relay_conf *cf,
	    struct relay_server **out, int *nout, const char **why);
void	relay_servers_free(struct relay_server **srv, int n);
/* Copies of srv[0..n) into out: 0, or -1 (nothing left allocated). */
int	relay_servers_dup(struct relay_server *const *srv, int n,
	    struct relay_server **out);

#endif /* RELAY_H */
