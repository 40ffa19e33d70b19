/*
 * worker.h - one worker's state, shared by the engine's files that run
 * inside a worker: the data path (relay_loop.c), health checks
 * (relay_health.c), the server list (relay_servers.c) and the /metrics
 * responder (relay_stats.c).
 *
 * Private to lib/relay/.  A worker is one process with one epoll loop and
 * one global W; nothing here is shared between processes (that is
 * struct relay_shared, in relay.h).
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdint.h>

#include "relay.h"

#define POOL_PIPES	64		/* idle pipes kept */
#define POOL_BUFS	1024		/* idle buffers kept */
#define STATS_MAXCL	32		/* stats clients open at once */
#define STATS_MS	10000		/* a stats client's whole exchange */
#define STATS_REQMAX	1024		/* request line and headers */
#define ACCEPT_BURST	64		/* accepts per wake-up and listener */

/* epoll data: a pointer with its kind in the two low bits. */
#define TAG_CLIENT	0
#define TAG_SERVER	1
#define TAG_OBJ		2
#define TAG_CHECK	3
#define TAG_MASK	3

enum { T_HDR, T_CONN, T_IDLE, T_NKIND };
enum { O_LISTEN, O_STATS, O_STATCL, O_SIGNAL, O_CTL, O_UDP };

struct obj {
	int		type;
	int		fd;
};

/*
 * A /metrics client: read until the request's blank line, then write the
 * answer, both without blocking, from its own buffers.
 */
struct statcl {
	struct obj	o;		/* first: the epoll data points here */
	int64_t		deadline;
	struct statcl	*prev, *next;	/* by deadline: all the same length */
	char		*resp;		/* the answer; NULL while reading */
	size_t		rlen, roff, rtot;
	char		req[STATS_REQMAX];
};

struct tlist {
	struct conn	*head, *tail;
	int		ms;
};

/* One worker's world. */
struct worker {
	struct relay_conf *conf;
	struct relay_shared *sh;
	struct relay_wstat *ws;		/* this worker's row in sh */
	int		id;
	int		epfd;
	int		spare;		/* for accept-and-close on EMFILE */
	int		fd_limit;	/* RLIMIT_NOFILE, 0 when unknown */
	int64_t		now;
	struct relay_lb	lb;
	struct relay_limit *limit;
	uint8_t		*scratch;
	struct conn	*free;
	struct conn	*dead;		/* closed during this batch */
	struct conn	*ready;		/* more to move without an event */
	void		**chunks;
	int		nchunks;
	uint8_t		*bufs[POOL_BUFS];
	int		nbufs;
	int		pipes[POOL_PIPES][2];
	int		npipes;
	struct tlist	tl[T_NKIND];
	int		nconns;
	int		paused;		/* listeners out of the interest set */
	int		draining;
	int64_t		drain_end;
	struct obj	lobj[RELAY_MAXLISTEN];
	int		nlisten;
	struct obj	stats, sig, ctlo;
	struct relay_udp *udp;		/* --udp: the datagram path */
	struct obj	udpo;
	int		udp_next;	/* ms to its next timeout, or -1 */
	uint32_t	health_gen;
	uint32_t	ctl_gen;	/* of sh->ctl_gen, as last taken */
	struct relay_ctl *ctl;		/* the control socket, without master */
	struct relay_server *retired;
	int64_t		tick;
	int		emfile_logged;
	int		limit_logged;	/* the table-full spell was said */
	char		*page;		/* /metrics response */
	size_t		pagecap;
	struct statcl	*sc_head, *sc_tail;
	int		nstatcl;
};


extern struct worker W;

/* relay_loop.c */
/* The worker's log: relay_logf with this worker's configuration. */
#define wlog(...)	relay_logf(W.conf, __VA_ARGS__)
void	rst(int fd);		/* the next close() resets */
void	fds_exhausted(void);	/* log the first EMFILE of a spell */

/* relay_health.c: worker 0 runs the checks, the others follow. */
void	health_run(void);
void	health_result(struct relay_server *s, int ok);
/* An event on s's check socket: its result once it has one. */
void	health_event(struct relay_server *s);
void	health_sync(void);

/* relay_servers.c */
void	servers_use(struct relay_server **nw, int n);
int	servers_apply(void);
void	servers_reap(void);

/* relay_stats.c: the /metrics responder. */
void	stats_accept(void);
void	stats_io(struct statcl *sc);
void	stats_expire(void);

#endif /* WORKER_H */
