#!/usr/bin/env python3
"""Loopback peers for relay tests: servers that say which client a PROXY
header (or the connection) named, and clients from many source addresses.

    relaypeer.py serve [--echo] NAME:PORT...
        Servers on 127.0.0.1; each reads an optional PROXY header (v1 or
        v2) and answers "NAME CLIENT_IP\n", then closes (or, with --echo,
        echoes the payload after the header).  Prints "ready" once
        listening.
    relaypeer.py clients HOST:PORT N [--base 127.1.0.0] [--hdr v1|v2]
                 [--data S] [--parallel P]
        N connections from (or, with --hdr, claiming in a header) the
        sources base+1 ... base+N; each sends DATA, half-closes and prints
        "SOURCE REPLY" a line ("SOURCE !ERROR" when it failed).
    relaypeer.py integrity HOST:PORT N BYTES [--src 127.3.0.0]
        N concurrent clients each send BYTES of random data and check the
        echo; prints "ok N bad N unfinished N" (bounded by 120 s).
    relaypeer.py hold HOST:PORT N SRC
        Open N connections from SRC and keep them open until killed;
        prints "held K" (K that stayed open after 1 s).
"""
import os, socket, struct, sys, threading, selectors, hashlib, ipaddress, time

def read_header(c):
    b = b""
    while len(b) < 16:
        d = c.recv(16 - len(b))
        if not d:
            return None, b
        b += d
    if b.startswith(b"\r\n\r\n\x00\r\nQUIT\n"):
        ln = struct.unpack("!H", b[14:16])[0]
        rest = b""
        while len(rest) < ln:
            d = c.recv(ln - len(rest))
            if not d:
                return None, b + rest
            rest += d
        if b[12] & 0xF == 0:
            return "local", b""
        fam = b[13] >> 4
        if fam == 1:
            return socket.inet_ntop(socket.AF_INET, rest[0:4]), b""
        if fam == 2:
            return socket.inet_ntop(socket.AF_INET6, rest[0:16]), b""
        return "unspec", b""
    if b.startswith(b"PROXY "):
        while not b.endswith(b"\r\n"):
            d = c.recv(1)
            if not d:
                return None, b
            b += d
        f = b.decode().split()
        return (f[2] if f[1] != "UNKNOWN" else "unknown"), b""
    return "none", b

def serve(args):
    echo = False
    if args and args[0] == "--echo":
        echo = True
        args = args[1:]
    def handle(c, name):
        try:
            cl, rest = read_header(c)
            if echo:
                if rest:
                    c.sendall(rest)
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    c.sendall(d)
            else:
                c.sendall(("%s %s\n" % (name, cl)).encode())
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
        except OSError:
            pass
        c.close()
    def loop(s, name):
        while True:
            c, _ = s.accept()
            threading.Thread(target=handle, args=(c, name), daemon=True).start()
    for a in args:
        name, port = a.rsplit(":", 1)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(port)))
        s.listen(1024)
        threading.Thread(target=loop, args=(s, name), daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)

def hostport(a):
    h, p = a.rsplit(":", 1)
    return h, int(p)

def v1hdr(src):
    return ("PROXY TCP4 %s 127.0.0.1 40000 80\r\n" % src).encode()

def v2hdr(src):
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) +
            struct.pack("!H", 12) + socket.inet_aton(src) +
            socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 80))

def clients(args):
    target = hostport(args[0]); n = int(args[1])
    base, hdr, data, par = "127.1.0.0", None, b"", 1
    i = 2
    while i < len(args):
        if args[i] == "--base": base = args[i + 1]
        elif args[i] == "--hdr": hdr = args[i + 1]
        elif args[i] == "--data": data = args[i + 1].encode()
        elif args[i] == "--parallel": par = int(args[i + 1])
        i += 2
    b = int(ipaddress.IPv4Address(base))
    out = [None] * n
    def one(k):
        src = str(ipaddress.IPv4Address(b + k + 1))
        try:
            c = socket.socket()
            c.settimeout(10)
            if hdr is None:
                c.bind((src, 0))
            c.connect(target)
            pre = v1hdr(src) if hdr == "v1" else v2hdr(src) if hdr == "v2" else b""
            c.sendall(pre + data)
            c.shutdown(socket.SHUT_WR)
            r = b""
            while True:
                d = c.recv(65536)
                if not d: break
                r += d
            c.close()
            out[k] = "%s %s" % (src, r.decode(errors="replace").strip() or "!EMPTY")
        except OSError as e:
            out[k] = "%s !%s" % (src, e.__class__.__name__)
    ks = list(range(n))
    def worker():
        while True:
            try: k = ks.pop()
            except IndexError: return
            one(k)
    ts = [threading.Thread(target=worker) for _ in range(par)]
    for t in ts: t.start()
    for t in ts: t.join()
    print("\n".join(out))

def integrity(args):
    target = hostport(args[0]); n = int(args[1]); size = int(args[2])
    src = args[4] if len(args) > 4 and args[3] == "--src" else "127.3.0.0"
    b = int(ipaddress.IPv4Address(src))
    block = os.urandom(size)
    mv = memoryview(block + block)
    sel = selectors.DefaultSelector()
    st = {}
    for k in range(n):
        c = socket.socket()
        c.bind((str(ipaddress.IPv4Address(b + k + 1)), 0))
        c.connect(target)
        c.setblocking(False)
        off = (k * 7919) % size
        want = hashlib.sha256(mv[off:off + size]).hexdigest()
        st[c] = dict(off=off, sent=0, got=0, h=hashlib.sha256(), want=want)
        sel.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE)
    left = n; bad = 0; deadline = time.time() + 120
    while left and time.time() < deadline:
        for key, ev in sel.select(1):
            c = key.fileobj; s = st[c]
            if ev & selectors.EVENT_WRITE and s["sent"] < size:
                try:
                    m = c.send(mv[s["off"] + s["sent"]:s["off"] + min(size, s["sent"] + 262144)])
                    s["sent"] += m
                except BlockingIOError:
                    pass
                if s["sent"] == size:
                    c.shutdown(socket.SHUT_WR)
                    sel.modify(c, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    d = c.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    d = b""
                if d:
                    s["got"] += len(d); s["h"].update(d)
                    continue
                sel.unregister(c); c.close(); left -= 1
                if s["got"] != size or s["h"].hexdigest() != s["want"]:
                    bad += 1
    print("ok %d bad %d unfinished %d" % (n - bad - left, bad, left))

def hold(args):
    target = hostport(args[0]); n = int(args[1]); src = args[2]
    cs = []
    for _ in range(n):
        # A connect the server refuses or resets, or one that takes over
        # 2 s, is a connection not held: count it so, never stop on it.
        c = socket.socket(); c.bind((src, 0)); c.settimeout(2)
        try:
            c.connect(target)
            cs.append(c)
        except OSError:
            c.close()
    time.sleep(1)
    alive = 0
    for c in cs:
        c.setblocking(False)
        try:
            alive += 1 if c.recv(1) is None else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("held %d" % alive, flush=True)
    while True:
        time.sleep(3600)

{"serve": serve, "clients": clients, "integrity": integrity,
 "hold": hold}[sys.argv[1]](sys.argv[2:])
