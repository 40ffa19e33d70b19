/*
 * relay_stats.c - the counters shared by the workers and their Prometheus
 * text exposition (served at /metrics by --stats).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "relay.h"

void
relay_stats_lock(struct relay_shared *sh)
{
	while (__atomic_exchange_n(&sh->lock, 1, __ATOMIC_ACQUIRE))
		;
}

void
relay_stats_unlock(struct relay_shared *sh)
{
	__atomic_store_n(&sh->lock, 0, __ATOMIC_RELEASE);
}

/*
 * The slot of a server, by key, shared by every worker: the same server
 * keeps its counters across reloads.  Call with the lock held.  NULL when
 * the table is full.
 */
struct relay_sstat *
relay_stats_slot(struct relay_shared *sh, const char *key)
{
	struct relay_sstat *st, *fr = NULL;
	int i;

	for (i = 0; i < RELAY_MAXSRV; i++) {
		st = &sh->srv[i];
		if (strcmp(st->key, key) == 0)
			return st;
		if (fr == NULL && st->key[0] == '\0')
			fr = st;
	}
	if (fr != NULL) {
		memset(fr, 0, sizeof(*fr));
		strlcpy(fr->key, key, sizeof(fr->key));
		fr->up = 1;
	}
	return fr;
}

static const char *const end_names[RELAY_END_MAX] = {
	"done", "bad-header", "untrusted", "denied", "header-timeout",
	"limit", "no-server", "idle-timeout", "reset", "drain",
	"client-gone", "error"
};

static size_t
add(char *buf, size_t cap, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
add(char *buf, size_t cap, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= cap)
		return off;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, cap - off, fmt, ap);
	va_end(ap);
	return n < 0 ? off : off + (size_t)n;
}

#define LD(p)	__atomic_load_n(&(p), __ATOMIC_RELAXED)

/* Prometheus text format 0.0.4; returns the length (may exceed cap). */
size_t
relay_stats_text(const struct relay_shared *sh, const char *prog, char *buf,
    size_t cap)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
		{ "server_up", "gauge", "1 when the server passes its checks",
		    offsetof(struct relay_sstat, up) },
		{ "server_active_connections", "gauge",
		    "connections open to the server",
		    offsetof(struct relay_sstat, active) },
		{ "server_connections_total", "counter",
		    "connections made to the server",
		    offsetof(struct relay_sstat, total) },
		{ "server_bytes_in_total", "counter",
		    "bytes from clients to the server",
		    offsetof(struct relay_sstat, bytes_in) },
		{ "server_bytes_out_total", "counter",
		    "bytes from the server to clients",
		    offsetof(struct relay_sstat, bytes_out) },
		{ "server_check_failures_total", "counter",
		    "failed health checks",
		    offsetof(struct relay_sstat, check_fail) },
		{ "server_connect_failures_total", "counter",
		    "failed connection attempts",
		    offsetof(struct relay_sstat, connect_fail) },
	};
	char pfx[32];
	size_t off = 0, k;
	int i;

	snprintf(pfx, sizeof(pfx), "%s", prog);
	for (k = 0; pfx[k] != '\0'; k++)
		if (pfx[k] == '-')
			pfx[k] = '_';
	off = add(buf, cap, off, "# HELP %s_connections_active open client "
	    "connections\n# TYPE %s_connections_active gauge\n"
	    "%s_connections_active %llu\n", pfx, pfx, pfx,
	    (unsigned long long)LD(sh->active));
	off = add(buf, cap, off, "# HELP %s_connections_total accepted client "
	    "connections\n# TYPE %s_connections_total counter\n"
	    "%s_connections_total %llu\n", pfx, pfx, pfx,
	    (unsigned long long)LD(sh->total));
	off = add(buf, cap, off, "# HELP %s_connections_ended_total client "
	    "connections ended, by reason\n# TYPE %s_connections_ended_total "
	    "counter\n", pfx, pfx);
	for (i = 0; i < RELAY_END_MAX; i++)
		off = add(buf, cap, off,
		    "%s_connections_ended_total{reason=\"%s\"} %llu\n", pfx,
		    end_names[i], (unsigned long long)LD(sh->ended[i]));
	for (k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		off = add(buf, cap, off, "# HELP %s_%s %s\n# TYPE %s_%s %s\n",
		    pfx, m[k].name, m[k].help, pfx, m[k].name, m[k].type);
		for (i = 0; i < RELAY_MAXSRV; i++) {
			const struct relay_sstat *st = &sh->srv[i];
			const char *p = (const char *)st + m[k].off;
			unsigned long long v;

			if (st->key[0] == '\0' || st->gone)
				continue;
			if (m[k].off == offsetof(struct relay_sstat, up))
				v = __atomic_load_n((const uint32_t *)
				    (const void *)p, __ATOMIC_RELAXED);
			else
				v = __atomic_load_n((const uint64_t *)
				    (const void *)p, __ATOMIC_RELAXED);
			off = add(buf, cap, off, "%s_%s{server=\"%s\"} %llu\n",
			    pfx, m[k].name, st->name, v);
		}
	}
	return off;
}

const char *
relay_end_name(int why)
{
	return why >= 0 && why < RELAY_END_MAX ? end_names[why] : "?";
}
