"""The sink: a WebSocket server in its own process that receives every fork's frames.

    python -m benches.fanout.sink [--cert CERT --key KEY] [--core 1] [--batch-ms 20]

Prints `READY <port>` on stdout once listening on 127.0.0.1. Reads commands on stdin: `stop`
makes it finish reading (until every connection has closed, or --drain-s), print one JSON line
(per fork: media count, first gap; totals; its own CPU share) and exit. It exits by itself
after --max-s in any case.

Theory of operation. One epoll loop over non-blocking sockets (plain, or ssl.SSLSocket doing
its handshake without blocking); each readable socket is read once per round, frames unmasked
in C and each text message is checked by a `ForkCheck`. To keep up with thousands of forks
the loop reads in batches: after a round of reads it sleeps until --batch-ms have passed, so
the kernel never has to wake the sink per frame (not while connections are being set up:
clients wait on each handshake). 20 ms, one tick, is the default: a real agent reads as data
comes, and the window updates and ACKs a 100 ms batch sends back arrive at the client in
bursts that delay its ticks (at 750 plain forks, p99 lateness 5.3 ms with 100 ms batches,
4.5 ms with 20 ms; the C floor's CPU per frame 11.5 vs 9.2 µs).
The sink's CPU share while media flows is in its report: near 1.0 means it may lag (the
clients are not slowed by that until socket buffers fill, which their stall count shows).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import socket
import ssl
import sys
import time

from benches.fanout.continuity import ForkCheck
from benches.fanout.frames_in import CLOSE, PING, TEXT, FrameError, FrameReader
from benches.fanout.handshake import MAX_REQUEST_BYTES, HandshakeError, respond
from benches.fanout.limits import SINK_CORE, pin, raise_nofile, renice

TLS, HTTP, OPEN = range(3)
READ_BYTES = 1 << 18
SETUP_QUIET_S = 0.5  # batch reads only once no connection has been set up for this long
CLOSE_1000 = b"\x88\x02\x03\xe8"  # unmasked server close frame, code 1000


class Conn:
    __slots__ = ("sock", "state", "head", "reader", "check")

    def __init__(self, sock, state):
        self.sock, self.state, self.head = sock, state, b""
        self.reader, self.check = FrameReader(), None


class Sink:
    def __init__(self, ctx: ssl.SSLContext | None, batch_s: float) -> None:
        self.ctx, self.batch_s = ctx, batch_s
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.ep = select.epoll()
        self.ep.register(self.listener.fileno(), select.EPOLLIN)
        self.ep.register(sys.stdin.fileno(), select.EPOLLIN)
        self.conns: dict[int, Conn] = {}
        self.checks: dict[int, ForkCheck] = {}
        self.errors: list[str] = []
        self.accepted = 0
        self.buf = bytearray(READ_BYTES)
        self.view = memoryview(self.buf)
        self.media_cpu = self.media_wall = None  # (process_time, monotonic) at first media

    # -- connections ------------------------------------------------------------------------

    def accept(self) -> None:
        for _ in range(4096):  # bounded: the rest wait for the next round
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            sock.setblocking(False)
            # TLS sends the 101 after its own records: without this, Nagle holds it for the
            # client's delayed ACK (40 ms per connection)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            state = HTTP
            if self.ctx is not None:
                sock = self.ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
                state = TLS
            self.accepted += 1
            self.conns[sock.fileno()] = Conn(sock, state)
            self.ep.register(sock.fileno(), select.EPOLLIN)

    def close(self, conn: Conn, why: str | None = None) -> None:
        if why:
            self.errors.append(why)
        fd = conn.sock.fileno()
        self.ep.unregister(fd)
        del self.conns[fd]
        conn.sock.close()

    def service(self, conn: Conn) -> None:
        if conn.state == TLS:
            try:
                conn.sock.do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (ssl.SSLError, OSError) as exc:
                return self.close(conn, f"TLS handshake: {exc}")
            conn.state = HTTP
        sock, view = conn.sock, self.view
        # Plain: one read per round empties the socket (epoll is level-triggered: what a full
        # buffer left behind is read next round). An SSLSocket returns one TLS record (here one
        # frame) per read, and pending() does not see records still in the kernel: read until
        # it would block, bounded so that one fork cannot starve the others.
        for _ in range(256):
            try:
                n = sock.recv_into(view)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            except (ssl.SSLError, OSError) as exc:  # reset, or TLS EOF without close_notify
                return self.close(conn, None if _is_eof(exc) else f"recv: {exc}")
            if n == 0:
                return self.close(conn)
            if not self.received(conn, view[:n]):
                return
            if self.ctx is None and n < READ_BYTES:
                return

    def received(self, conn: Conn, data) -> bool:
        """Handle bytes from `conn`; False when the connection was closed."""
        if conn.state == HTTP:
            conn.head += bytes(data)
            end = conn.head.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.head) > MAX_REQUEST_BYTES:
                    self.close(conn, "request head too long")
                    return False
                return True
            try:
                fork, response = respond(conn.head[:end + 4])
            except HandshakeError as exc:
                self.close(conn, str(exc))
                return False
            conn.sock.sendall(response)  # small, and the socket buffer is empty
            conn.check = self.checks.setdefault(fork, ForkCheck(fork))
            conn.state, data, conn.head = OPEN, conn.head[end + 4:], b""
            if not data:
                return True
        try:
            frames = conn.reader.feed(data)
        except FrameError as exc:
            self.close(conn, f"fork {conn.check.fork}: {exc}")
            return False
        if self.media_cpu is None and frames:
            self.media_cpu, self.media_wall = time.process_time(), time.monotonic()
        message = conn.check.message
        for opcode, payload in frames:
            if opcode == TEXT:
                message(payload)
            elif opcode == CLOSE:
                _send_quietly(conn.sock, CLOSE_1000)
                self.close(conn)
                return False
            elif opcode == PING:
                _send_quietly(conn.sock, b"\x8a" + bytes([len(payload)]) + payload)
        return True

    # -- the loop ---------------------------------------------------------------------------

    def run(self, drain_s: float, max_s: float) -> dict:
        deadline = time.monotonic() + max_s
        stopping, last_setup = None, time.monotonic()
        while time.monotonic() < deadline:
            started, setting_up = time.monotonic(), False
            for fd, _ in self.ep.poll(1.0, len(self.conns) + 2):
                if fd == self.listener.fileno():
                    self.accept()
                    setting_up = True
                elif fd == sys.stdin.fileno():
                    line = sys.stdin.readline()
                    if line.strip() == "stop" or not line:
                        stopping = time.monotonic()
                        self.ep.unregister(fd)
                else:
                    conn = self.conns.get(fd)
                    if conn is not None:
                        setting_up |= conn.state != OPEN
                        self.service(conn)
            if stopping is not None and (not self.conns
                                         or time.monotonic() > stopping + drain_s):
                break
            now = time.monotonic()
            if setting_up:
                last_setup = now
            rest = self.batch_s - (now - started)
            if rest > 0 and now - last_setup > SETUP_QUIET_S:  # clients wait on handshakes
                time.sleep(rest)
        return self.report()

    def report(self) -> dict:
        share = None
        if self.media_cpu is not None:
            wall = time.monotonic() - self.media_wall
            share = (time.process_time() - self.media_cpu) / wall if wall > 0 else None
        forks = [self.checks[i].summary() for i in sorted(self.checks)]
        return {"forks": forks, "total_media": sum(f["media"] for f in forks),
                "accepted": self.accepted, "open_at_end": len(self.conns),
                "errors": self.errors[:20], "error_count": len(self.errors),
                "cpu_share": share}


def _is_eof(exc: BaseException) -> bool:
    return isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError)) or \
        getattr(exc, "errno", None) in (errno.ECONNRESET, errno.EPIPE)


def _send_quietly(sock, data: bytes) -> None:
    try:
        sock.send(data)
    except (OSError, ssl.SSLError):
        pass  # the client is going away; its count is already final


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benches.fanout.sink")
    parser.add_argument("--cert", help="PEM certificate chain: serve wss")
    parser.add_argument("--key", help="PEM private key for --cert")
    parser.add_argument("--core", type=int, default=SINK_CORE)
    parser.add_argument("--batch-ms", type=float, default=20.0)
    parser.add_argument("--drain-s", type=float, default=20.0)
    parser.add_argument("--max-s", type=float, default=900.0)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args(argv)
    raise_nofile()
    pin(args.core)
    renice(args.nice)
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    sink = Sink(ctx, args.batch_ms / 1e3)
    print(f"READY {sink.port}", flush=True)
    report = sink.run(args.drain_s, args.max_s)
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    os._exit(0)  # thousands of sockets: let the kernel close them


if __name__ == "__main__":
    main()
