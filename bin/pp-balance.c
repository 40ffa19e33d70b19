/*
 * pp-balance - load balancer that trusts and passes on the PROXY protocol.
 *
 * The relay engine (lib/relay/) does the work; its command line is
 * shared with pp-relay in bin/relay_cli.c, so this file only chooses the
 * face: several servers, algorithms, health checks.
 */
#include <unistd.h>

#include "relay_cli.h"

int
main(int argc, char *argv[], char *envp[])
{
	setproctitle_init(argc, argv, envp);
	return relay_main(argc, argv, 1);
}
