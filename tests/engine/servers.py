"""Real WebSocket servers for engine tests: trio-websocket over TLS (trustme certificates),
recording every message per connection and acting out scripted behaviour."""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import socket as stdsocket
import ssl
import tempfile

import trio
import trustme
import wsproto
from wsproto.events import AcceptConnection, Request
from trio_websocket import ConnectionClosed, serve_websocket


@dataclasses.dataclass
class Connection:
    """One accepted connection: its upgrade request and the messages received."""

    path: str
    headers: dict[str, str]
    messages: list[dict] = dataclasses.field(default_factory=list)
    closed: trio.Event = dataclasses.field(default_factory=trio.Event)
    close_code: int | None = None
    ws: object = None

    def events(self, name: str) -> list[dict]:
        return [m for m in self.messages if m.get("event") == name]


class Recorder:
    """A server whose handler is `behaviour(conn, ws)`: by default it accepts and records
    until the client closes."""

    def __init__(self, behaviour=None, reject_status: int | None = None) -> None:
        self.connections: list[Connection] = []
        self.behaviour = behaviour
        self.reject_status = reject_status
        self.new_connection = trio.Event()
        self.port = 0
        self.attempts: list[float] = []  # Trio time of every upgrade request

    async def handler(self, request) -> None:
        self.attempts.append(trio.current_time())
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        if self.reject_status is not None:
            await request.reject(self.reject_status)
            return
        ws = await request.accept()
        conn = Connection(request.path, headers, ws=ws)
        self.connections.append(conn)
        self.new_connection.set()
        self.new_connection = trio.Event()
        try:
            if self.behaviour is not None:
                await self.behaviour(conn, ws)
            else:
                await receive_all(conn, ws)
        except ConnectionClosed as exc:
            conn.close_code = exc.reason.code
        finally:
            conn.closed.set()

    @property
    def media(self) -> list[dict]:
        return [m for c in self.connections for m in c.events("media")]


async def receive_all(conn: Connection, ws) -> None:
    while True:
        message = await ws.get_message()
        conn.messages.append(json.loads(message))


class TlsCerts:
    """A trustme CA and a server certificate for localhost and 127.0.0.1. Clients trust the
    CA through `ca_file` (what an engine is configured with; native TLS) or `client` (a stdlib
    ssl.SSLContext, for the stdlib TLS path and for other clients)."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.server)
        self.client = ssl.create_default_context()
        self.ca.configure_trust(self.client)
        fd, self.ca_file = tempfile.mkstemp(prefix="mediacore-test-ca-", suffix=".pem")
        os.close(fd)
        self.ca.cert_pem.write_to_path(self.ca_file)
        atexit.register(os.unlink, self.ca_file)


async def start_server(nursery, recorder: Recorder, ssl_context=None) -> Recorder:
    server = await nursery.start(serve_websocket, recorder.handler, "127.0.0.1", 0,
                                 ssl_context)
    recorder.port = server.port
    return recorder


class RawServer:
    """A plain-ws server written on wsproto, for behaviour trio-websocket will not act out:
    it completes the handshake and then does exactly what `script(stream, ws)` does (for
    example never read again, or never answer a ping)."""

    def __init__(self, script, *, recv_buffer: int | None = None) -> None:
        self.script = script
        self.recv_buffer = recv_buffer
        self.port = 0
        self.accepted = 0

    async def serve(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listener = trio.socket.socket()
        with listener:
            if self.recv_buffer:
                listener.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_RCVBUF, self.recv_buffer)
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            self.port = listener.getsockname()[1]
            task_status.started(self)
            async with trio.open_nursery() as nursery:
                while True:
                    sock, _ = await listener.accept()
                    self.accepted += 1
                    nursery.start_soon(self._handle, trio.SocketStream(sock))

    async def _handle(self, stream) -> None:
        async with stream:
            ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
            while True:
                data = await stream.receive_some(4096)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        await stream.send_all(ws.send(AcceptConnection()))
                        await self.script(stream, ws)
                        return


def refused_port() -> int:
    """A loopback port with nothing listening."""
    s = stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
