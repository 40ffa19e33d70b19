/*
 * relay_notify.c - telling systemd how the relay is doing: READY=1,
 * RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1 (sd_notify(3)).
 *
 * The protocol is small and documented as stable (systemd's "Interface
 * Portability and Stability" list; sd_notify(3)): one AF_UNIX datagram
 * of newline-separated VAR=VALUE lines to the socket NOTIFY_SOCKET names,
 * a name starting with '@' being in the abstract namespace.  Written here
 * in a few dozen lines rather than linked from libsystemd, so the relays
 * gain no runtime dependency and build where systemd is absent.  Only
 * the process systemd started (the master, or the single worker) sends:
 * worker_fork clears notify_path in the workers it starts.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define STATUS_MS	1000		/* STATUS= at most this often */

static int64_t	wd_last = -1;		/* the last WATCHDOG=1, ms */
static int64_t	st_last = -1;		/* the last look at the summary */
static char	st_text[128];

static void
send_msg(const char *path, const char *msg)
{
	struct sockaddr_un sun;
	size_t n = strlen(path);
	socklen_t len;
	int fd;

	/* "@name" is abstract; other forms (vsock:) are not ours to use. */
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	/* A lost notification is systemd's to time out, not ours to retry. */
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len);
	close(fd);
}

void
relay_notify(const struct relay_conf *cf, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (cf->notify_path == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_msg(cf->notify_path, msg);
}

/* systemd 253 and later want the reload's start time with RELOADING=1. */
void
relay_notify_reloading(const struct relay_conf *cf)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	relay_notify(cf, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
}

int
relay_notify_due(const struct relay_conf *cf, int64_t now)
{
	int64_t d;

	if (cf->notify_path == NULL || cf->watchdog_ms <= 0)
		return INT_MAX;
	d = wd_last < 0 ? 0 : wd_last + cf->watchdog_ms / 2 - now;
	return d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

/* One line for systemctl status: connections and servers up. */
static void
summary(const struct relay_shared *sh, int draining, char *buf, size_t cap)
{
	uint64_t conns = 0;
	unsigned refs;
	int i, k, n = 0, up = 0;

	for (k = 0; k < RELAY_MAXWORKERS; k++)
		conns += __atomic_load_n(&sh->w[k].active, __ATOMIC_RELAXED);
	for (i = 0; i < RELAY_MAXSRV; i++) {
		for (refs = 0, k = 0; k < RELAY_MAXWORKERS && refs == 0; k++)
			refs = __atomic_load_n(&sh->w[k].srv_refs[i],
			    __ATOMIC_RELAXED);
		if (refs == 0)
			continue;
		n++;
		up += __atomic_load_n(&sh->srv[i].up, __ATOMIC_RELAXED) != 0;
	}
	snprintf(buf, cap, "%llu connection%s, %d/%d server%s up%s",
	    (unsigned long long)conns, conns == 1 ? "" : "s", up, n,
	    n == 1 ? "" : "s", draining ? ", draining" : "");
}

void
relay_notify_tick(const struct relay_conf *cf, const struct relay_shared *sh,
    int64_t now, int alive, int draining)
{
	char text[sizeof(st_text)];

	if (cf->notify_path == NULL)
		return;
	/* A master whose workers are wedged must not say all is well. */
	if (alive && cf->watchdog_ms > 0 && relay_notify_due(cf, now) == 0) {
		wd_last = now;
		send_msg(cf->notify_path, "WATCHDOG=1");
	}
	/* Looked at once a second, not on every loop of a busy worker. */
	if (st_last >= 0 && now - st_last < STATUS_MS)
		return;
	st_last = now;
	summary(sh, draining, text, sizeof(text));
	if (strcmp(text, st_text) == 0)
		return;
	strlcpy(st_text, text, sizeof(st_text));
	relay_notify(cf, "STATUS=%s", text);
}
