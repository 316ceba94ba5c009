"""Open one fork with blocking calls: TCP (+ TLS), the upgrade handshake by wsproto, `start`.
The clients that write frames themselves use it before their tick grid starts."""

from __future__ import annotations

import socket
import ssl

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, RejectConnection, RejectData, Request

from benches.fanout.clients.base import Plan, epoch_ms, profile

HANDSHAKE_TIMEOUT_S = 30.0


def open_fork(plan: Plan, fork: int, ctx: ssl.SSLContext | None):
    """(socket or SSLSocket, its started Profile), the socket left non-blocking."""
    host, port = plan.host_port
    sock = socket.create_connection((host, port), timeout=HANDSHAKE_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is not None:
        sock = ctx.wrap_socket(sock, server_hostname=host)
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"{host}:{port}", target=f"/fork/{fork}")))
    for _ in range(100):  # a 101 head arrives in one or two reads
        data = sock.recv(4096)
        if not data:
            raise ConnectionError(f"fork {fork}: closed during the handshake")
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                prof = profile(fork)
                sock.sendall(prof.frame(prof.start(epoch_ms())))
                sock.setblocking(False)
                return sock, prof
            if isinstance(event, (RejectConnection, RejectData)):
                raise ConnectionError(f"fork {fork}: handshake rejected: {event}")
    raise ConnectionError(f"fork {fork}: no handshake response")
