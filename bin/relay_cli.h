/*
 * relay_cli.h - the shared main of the two daemons on the relay engine:
 * pp-relay (balance 0, one server) and pp-balance (balance 1).  It lives
 * in bin/ with the other command-line code; the engine's own interface is
 * lib/relay/relay.h.
 */
#ifndef RELAY_CLI_H
#define RELAY_CLI_H

/* Parse argv, open the sockets, run the engine; returns the exit code. */
int	relay_main(int argc, char *argv[], int balance);

#endif /* RELAY_CLI_H */
