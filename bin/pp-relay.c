/*
 * pp-relay - L4 relay for one upstream, with the PROXY protocol on either side.
 *
 * The relay engine (lib/relay/) does the work; its command line is
 * shared with pp-balance in bin/relay_cli.c, so this file only chooses the
 * face: one upstream (-c), the one-server case of pp-balance.
 */
#include <unistd.h>

#include "relay_cli.h"

int
main(int argc, char *argv[], char *envp[])
{
	setproctitle_init(argc, argv, envp);
	return relay_main(argc, argv, 0);
}
