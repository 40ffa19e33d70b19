/*
 * test_shared.c - what the workers share: the robust lock survives a
 * holder that dies, and server slots are reused once nobody holds them.
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t.h"
#include "relay.h"

static struct relay_shared *
shared_new(void)
{
	struct relay_shared *sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return NULL;
	if (relay_stats_init(sh) == -1) {
		munmap(sh, sizeof(*sh));
		return NULL;
	}
	return sh;
}

/* The child takes the lock and dies holding it; the parent gets it. */
static void
test_dead_holder(void)
{
	struct relay_shared *sh = shared_new();
	struct timespec t0, t1;
	pid_t pid;
	int st;

	ok(sh != NULL, "shared mapping with a robust lock");
	if (sh == NULL)
		return;
	if ((pid = fork()) == 0) {
		relay_stats_lock(sh);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == 0) {
		alarm(2);	/* a lock that never comes ends the child */
		relay_stats_lock(sh);
		relay_stats_unlock(sh);
		_exit(0);
	}
	waitpid(pid, &st, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "the lock is taken again after its holder died");
	ok(t1.tv_sec - t0.tv_sec < 2, "without waiting for the holder");
	relay_stats_lock(sh);
	relay_stats_unlock(sh);
	ok(1, "and again by this process");
	munmap(sh, sizeof(*sh));
}

/* Slots go by name, and one nobody holds goes to the next name. */
static void
test_slots(void)
{
	struct relay_shared *sh = shared_new();
	struct relay_sstat *a, *b, *c, *d;
	char name[32];
	int i, got = 0;

	if (sh == NULL)
		return;
	a = relay_stats_slot(sh, &sh->w[0], "10.0.0.1:80");
	b = relay_stats_slot(sh, &sh->w[1], "10.0.0.1:80");
	ok(a != NULL && a == b, "one slot per name across workers");
	relay_stats_release(sh, &sh->w[0], a);
	c = relay_stats_slot(sh, &sh->w[0], "10.0.0.2:80");
	ok(c != NULL && c != a, "a slot still held elsewhere is not reused");
	relay_stats_release(sh, &sh->w[1], b);
	relay_stats_release(sh, &sh->w[0], c);
	/* Far more names than slots, each let go: every one gets a slot. */
	for (i = 0; i < 4 * RELAY_MAXSRV; i++) {
		snprintf(name, sizeof(name), "10.1.%d.%d:80", i / 256, i % 256);
		if ((d = relay_stats_slot(sh, &sh->w[2], name)) != NULL) {
			got++;
			relay_stats_release(sh, &sh->w[2], d);
		}
	}
	is_int(got, 4 * RELAY_MAXSRV, "released slots are reused");
	/* A dead worker's row zeroed by the master frees its slots too. */
	for (i = 0; i < RELAY_MAXSRV; i++) {
		snprintf(name, sizeof(name), "10.2.0.%d:80", i);
		relay_stats_slot(sh, &sh->w[3], name);
	}
	ok(relay_stats_slot(sh, &sh->w[4], "10.3.0.1:80") == NULL,
	    "all slots held: none left");
	memset(&sh->w[3], 0, sizeof(sh->w[3]));
	ok(relay_stats_slot(sh, &sh->w[4], "10.3.0.1:80") != NULL,
	    "a settled worker's slots are free again");
	munmap(sh, sizeof(*sh));
}

int
main(void)
{
	test_dead_holder();
	test_slots();
	return t_done();
}
