/*
 * relay_master.c - the master process: starts the workers, restarts one
 * that dies or stops beating (with backoff), passes SIGHUP, SIGUSR1 and
 * the stop signals on, and waits for the last worker.  Never on the data
 * path: it holds no client connection and runs no event loop.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

/* The master's signals, one flag each: a later one never hides another. */
static volatile sig_atomic_t sig_hup, sig_stop, sig_chld, sig_usr1, sig_alrm;

static void
on_sig(int sig)
{
	switch (sig) {
	case SIGHUP:
		sig_hup = 1;
		break;
	case SIGCHLD:
		sig_chld = 1;
		break;
	case SIGUSR1:
		sig_usr1 = 1;
		break;
	case SIGALRM:
		sig_alrm = 1;	/* the tick: wakes sigsuspend or ppoll */
		break;
	default:		/* SIGTERM, SIGINT, SIGQUIT */
		sig_stop = 1;
	}
}

/*
 * Start worker i.  It keeps the master's signals blocked until its own
 * signalfd takes them, so a SIGTERM sent right after the fork is not lost
 * to the master's handler, and it is told SIGTERM if the master dies.
 */
static pid_t
worker_fork(struct relay_conf *cf, struct relay_shared *sh, int i)
{
	pid_t pid, master = getpid();

	if ((pid = fork()) != 0)
		return pid;
	signal(SIGCHLD, SIG_DFL);
	cf->notify_path = NULL;		/* only the master speaks to systemd */
	/* The master's control socket and clients are not the worker's. */
	relay_ctl_free(cf->ctl);
	cf->ctl = NULL;
	cf->ctl_fd = -1;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != master)
		_exit(0);
	_exit(relay_worker_run(cf, sh, i));
}

static void
signal_workers(const pid_t *pid, int n, int sig)
{
	int i;

	for (i = 0; i < n; i++)
		if (pid[i] > 0)
			kill(pid[i], sig);
}

/*
 * For the watchdog: some worker runs, and every one that runs has looped
 * within the watchdog interval (or was born within it).
 */
static int
workers_beat(const struct relay_conf *cf, const struct relay_shared *sh,
    const pid_t *pid, const int64_t *born, int64_t now)
{
	int i, n = 0, lim = cf->watchdog_ms > 0 ? cf->watchdog_ms :
	    RELAY_WEDGED_MS;

	for (i = 0; i < cf->workers; i++) {
		if (pid[i] <= 0)
			continue;
		n++;
		if (now - born[i] >= lim && now - __atomic_load_n(
		    &sh->w[i].beat, __ATOMIC_RELAXED) >= lim)
			return 0;
	}
	return n > 0;
}

/* SIGHUP in the master: keep what loads as the last good server list. */
static void
master_reload(struct relay_conf *cf)
{
	struct relay_server *nw[RELAY_MAXSRV];
	const char *why;
	int n;

	if (relay_servers_load(cf, nw, &n, &why) == -1)
		return;		/* each worker says why */
	relay_servers_free(cf->good, cf->ngood);
	memcpy(cf->good, nw, (size_t)n * sizeof(nw[0]));
	cf->ngood = n;
}

/*
 * Run the relay: one worker in this process, or -w N workers forked and
 * watched.  The master passes SIGHUP, SIGUSR1 and the stop signals on,
 * replaces a worker that died (after a pause that doubles while they keep
 * dying) or that stopped beating (wedged), and settles a dead worker's
 * gauges.  Returns the exit code.
 */
int
relay_run(struct relay_conf *cf)
{
	static const int sigs[] = {
		SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGUSR1, SIGALRM
	};
	struct relay_shared *sh;
	struct sigaction sa;
	struct itimerval tick = { { 0, 250000 }, { 0, 250000 } };
	sigset_t mask, old;
	pid_t pid[RELAY_MAXWORKERS], p;
	int64_t born[RELAY_MAXWORKERS], due[RELAY_MAXWORKERS];
	int pause_ms[RELAY_MAXWORKERS], again[RELAY_MAXWORKERS];
	int64_t now, stop_at = 0;
	int i, st, stopping = 0;
	size_t k;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || relay_stats_init(sh) == -1)
		return 1;
	sh->udp = cf->udp;
	signal(SIGPIPE, SIG_IGN);
	/* Stray job-control and user signals neither stop nor kill us. */
	signal(SIGUSR2, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	if (cf->workers <= 1)
		return relay_worker_run(cf, sh, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sigemptyset(&mask);
	for (k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++) {
		sigaction(sigs[k], &sa, NULL);
		sigaddset(&mask, sigs[k]);
	}
	sigprocmask(SIG_BLOCK, &mask, &old);
	if (cf->ctl_fd != -1 && (cf->ctl = relay_ctl_new(cf, sh)) == NULL)
		return 1;
	for (i = 0; i < cf->workers; i++) {
		born[i] = relay_now_ms();
		pause_ms[i] = again[i] = 0;
		if ((pid[i] = worker_fork(cf, sh, i)) == -1)
			return 1;
	}
	setitimer(ITIMER_REAL, &tick, NULL);
	setproctitle("master, %d workers", cf->workers);
	relay_notify(cf, "READY=1");
	for (;;) {
		/* The control socket, or signals (the tick among them). */
		if (cf->ctl != NULL) {
			struct pollfd pfd = { relay_ctl_fd(cf->ctl), POLLIN, 0 };

			if (ppoll(&pfd, 1, NULL, &old) > 0 || sig_alrm)
				relay_ctl_run(cf->ctl, cf->good, cf->ngood);
			sig_alrm = 0;
		} else
			sigsuspend(&old);
		now = relay_now_ms();
		if (sig_stop && !stopping) {
			stopping = 1;
			stop_at = now;
			relay_notify(cf, "STOPPING=1");
			signal_workers(pid, cf->workers, SIGTERM);
		}
		if (sig_hup && !stopping) {
			relay_notify_reloading(cf);
			master_reload(cf);
			signal_workers(pid, cf->workers, SIGHUP);
			relay_notify(cf, "READY=1");
		}
		if (sig_usr1)
			signal_workers(pid, cf->workers, SIGUSR1);
		sig_stop = sig_hup = sig_usr1 = sig_chld = 0;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			for (i = 0; i < cf->workers; i++)
				if (pid[i] == p)
					break;
			if (i == cf->workers)
				continue;
			pid[i] = 0;
			/* What it held is no longer held: settle its row. */
			memset(&sh->w[i], 0, sizeof(sh->w[i]));
			/*
			 * A worker that ended on its own terms (drained after
			 * a SIGTERM of its own, exit 0) stays ended; one that
			 * crashed is replaced, after a pause that doubles from
			 * 100 ms to 10 s while it keeps dying young.
			 */
			if (stopping || (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
			    (WIFSIGNALED(st) && (WTERMSIG(st) == SIGTERM ||
			    WTERMSIG(st) == SIGINT)))
				continue;
			if (now - born[i] >= 10000)
				pause_ms[i] = 0;
			pause_ms[i] = pause_ms[i] == 0 ? 100 :
			    pause_ms[i] >= 5000 ? 10000 : pause_ms[i] * 2;
			due[i] = now + pause_ms[i];
			again[i] = 1;
			relay_logf(cf, 0,
			    "worker %d died (%s %d), restarting it in %d ms",
			    i, WIFSIGNALED(st) ? "signal" : "exit",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			    pause_ms[i]);
		}
		if (stopping) {
			for (i = 0; i < cf->workers; i++)
				if (pid[i] > 0)
					break;
			if (i == cf->workers)
				return 0;
			/* Past the grace period, what is left is cut. */
			if (now > stop_at + cf->grace_ms + 5000)
				signal_workers(pid, cf->workers, SIGKILL);
		}
		relay_notify_tick(cf, sh, now, workers_beat(cf, sh, pid, born,
		    now), stopping);
		for (i = 0; i < cf->workers; i++) {
			if (again[i] && now >= due[i] && !stopping) {
				born[i] = now;
				if ((pid[i] = worker_fork(cf, sh, i)) == -1) {
					pid[i] = 0;	/* try again later */
					due[i] = now + pause_ms[i];
				} else
					again[i] = 0;
				continue;
			}
			/* A worker loops at least once a second when well. */
			if (pid[i] > 0 && now - born[i] > RELAY_WEDGED_MS &&
			    now - __atomic_load_n(&sh->w[i].beat,
			    __ATOMIC_RELAXED) > RELAY_WEDGED_MS) {
				relay_logf(cf, 0,
				    "worker %d silent for %d s: replacing it",
				    i, RELAY_WEDGED_MS / 1000);
				kill(pid[i], SIGKILL);
				born[i] = now;	/* once per silence */
			}
		}
	}
}
