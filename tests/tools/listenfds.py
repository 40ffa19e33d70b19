#!/usr/bin/env python3
"""Start a program on listening sockets it inherits, as inetd or systemd
socket activation would hand them over.

    listenfds.py --stdin PORT -- CMD ARGS...
        Listen on 127.0.0.1:PORT and run CMD with that socket on fd 0.
    listenfds.py PORT[=NAME]... -- CMD ARGS...
        Listen on 127.0.0.1:PORT for each PORT and run CMD with them on
        fds 3, 4, ... and LISTEN_PID, LISTEN_FDS set (sd_listen_fds(3));
        LISTEN_FDNAMES too when a NAME is given.

CMD replaces this process (exec), so LISTEN_PID is its pid.
"""
import os
import socket
import sys


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(port)))
    s.listen(16)
    return s


def main(argv):
    stdin = argv[:1] == ["--stdin"]
    if stdin:
        argv = argv[1:]
    if "--" not in argv:
        sys.exit("usage: listenfds.py [--stdin] PORT[=NAME]... -- CMD ARGS...")
    cut = argv.index("--")
    specs, cmd = argv[:cut], argv[cut + 1:]
    if not specs or not cmd or (stdin and len(specs) != 1):
        sys.exit("usage: listenfds.py [--stdin] PORT[=NAME]... -- CMD ARGS...")
    ports = [p.partition("=")[0] for p in specs]
    names = [p.partition("=")[2] for p in specs]
    socks = [listener(p) for p in ports]
    if stdin:
        os.dup2(socks[0].fileno(), 0)
    else:
        for i, s in enumerate(socks):
            os.dup2(s.fileno(), 3 + i)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = str(len(socks))
        if any(names):
            os.environ["LISTEN_FDNAMES"] = ":".join(names)
    os.execvp(cmd[0], cmd)


main(sys.argv[1:])
