"""Real WebSocket servers for engine tests: trio-websocket over TLS (trustme certificates),
recording every message per connection and acting out scripted behaviour; and the scene of
the hostile-server tests (`hostile`): a stream to a misbehaving server beside a healthy twin."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import json
import os
import socket as stdsocket
import ssl
import struct
import tempfile

import trio
import trustme
import wsproto
from wsproto.events import (AcceptConnection, CloseConnection, Ping, Pong, Request,
                             TextMessage)
from trio_websocket import ConnectionClosed, serve_websocket

from mediacore.codec import Format
from mediacore.engine.events import StreamEnded
from mediacore.engine.lifecycle import StreamStatus


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
        try:
            ws = await request.accept()
        except ConnectionClosed:  # the client left during the upgrade (an engine shutting down)
            return
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
    """A ws (or, with `ssl_context`, wss) server written on wsproto, for behaviour
    trio-websocket will not act out: it completes the handshake and then does exactly what
    `script(stream, ws)` does (for example never read again, or never answer a ping). With
    `upgrade=False` it does not answer the upgrade itself: `script(stream, request)` gets the
    request head (bytes) and answers whatever it likes (a redirect, garbage, nothing)."""

    def __init__(self, script, *, recv_buffer: int | None = None, ssl_context=None,
                 upgrade: bool = True) -> None:
        self.script = script
        self.recv_buffer = recv_buffer
        self.ssl_context = ssl_context
        self.upgrade = upgrade
        self.port = 0
        self.accepted = 0
        self.attempts: list[float] = []  # Trio time of every upgrade request

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
        try:
            if self.ssl_context is not None:
                stream = trio.SSLStream(stream, self.ssl_context, server_side=True)
                await stream.do_handshake()
            async with stream:
                if not self.upgrade:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        data = await stream.receive_some(4096)
                        if not data:
                            return
                        head += data
                    self.attempts.append(trio.current_time())
                    await self.script(stream, head)
                    return
                ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
                while True:
                    data = await stream.receive_some(4096)
                    if not data:
                        return
                    ws.receive_data(data)
                    for event in ws.events():
                        if isinstance(event, Request):
                            self.attempts.append(trio.current_time())
                            await stream.send_all(ws.send(AcceptConnection()))
                            await self.script(stream, ws)
                            return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the engine hung up: what a script checks, it has recorded


def tcp_socket(stream):
    """The trio socket under a SocketStream, or under an SSLStream over one."""
    while not isinstance(stream, trio.SocketStream):
        stream = stream.transport_stream
    return stream.socket


def reset(stream) -> None:
    """Abort the TCP connection under `stream` with a RST (SO_LINGER 0, then close)."""
    sock = tcp_socket(stream)
    sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Received:
    """What a RawServer script has read from the engine: its messages and its close code."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.pongs: list[bytes] = []
        self.closed = trio.Event()
        self.send_lock = trio.Lock()  # a script that sends while `read` runs takes it too

    def events(self, name: str) -> list[dict]:
        return [m for m in self.messages if m.get("event") == name]

    @property
    def media(self) -> list[dict]:
        return self.events("media")

    async def read(self, stream, ws, *, until=None) -> None:
        """Read and record the engine's messages until it closes (or `until(message)` is
        true), answering pings and the close handshake as a server does."""
        text = []
        while True:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.closed.set()
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    text.append(event.data)
                    if event.message_finished:
                        self.messages.append(json.loads("".join(text)))
                        text.clear()
                        if until is not None and until(self.messages[-1]):
                            return
                elif isinstance(event, Ping):
                    await self._reply(stream, ws.send(event.response()))
                elif isinstance(event, Pong):
                    self.pongs.append(bytes(event.payload))
                elif isinstance(event, CloseConnection):
                    self.close_code, self.close_reason = event.code, event.reason
                    if ws.state is wsproto.connection.ConnectionState.REMOTE_CLOSING:
                        await self._reply(stream, ws.send(event.response()))
                    self.closed.set()
                    return

    async def _reply(self, stream, data: bytes) -> None:
        async with self.send_lock:
            try:
                await stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


def refused_port() -> int:
    """A loopback port with nothing listening."""
    s = stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- hostile servers: the scene -----------------------------------------------------------------

def open_sockets() -> set[str]:
    """The process's open sockets ("fd:socket:[inode]"), after a collection: sockets from
    earlier tests that only the collector frees are gone, and other files (a lazily opened
    random source, a log) do not count."""
    gc.collect()
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (the listing's own fd)
            continue
        if target.startswith("socket:"):
            found.add(f"{fd}:{target}")
    return found


def tcp_ports_of(sockets: set[str]) -> dict[str, set[int]]:
    """For each of `sockets` (as open_sockets gives them) that is a TCP socket, its local and
    remote ports (from /proc/net/tcp and tcp6); other sockets are left out."""
    inodes = {entry.rsplit("[", 1)[1].rstrip("]"): entry for entry in sockets}
    ports: dict[str, set[int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            entry = inodes.get(fields[9])
            if entry is not None:
                ports[entry] = {int(fields[1].rsplit(":", 1)[1], 16),
                                int(fields[2].rsplit(":", 1)[1], 16)}
    return ports


def engine_tasks() -> list[str]:
    """Names of the live tasks that run engine code."""
    names, pending = [], [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task.name.startswith("mediacore."):
            names.append(task.name)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return names


@dataclasses.dataclass
class Scene:
    engine: object
    server: RawServer
    twin_server: Recorder
    stream_id: str = ""
    twin_id: str = ""
    final: object = None
    twin_final: object = None
    events: list = dataclasses.field(default_factory=list)

    def get(self):
        return self.engine.get(self.stream_id)

    async def wait_ended(self, limit_s: float = 200):
        with trio.fail_after(limit_s):
            while not self.engine.get(self.stream_id).status.ended:
                await trio.sleep(0.01)
        return self.engine.get(self.stream_id)


def lasted(stream) -> float:
    """Seconds from registration to end (engine times follow the MockClock exactly)."""
    return (stream.end_time - stream.created_at).total_seconds()


@contextlib.asynccontextmanager
async def hostile(certs, script, *, upgrade: bool = True, call_format=Format.MULAW_8K,
                  server=None, **params):
    """A RawServer over TLS acting out `script` and a healthy twin stream on the same call;
    yields a Scene. On exit (engine shut down, servers gone) it checks that both streams
    ended once on the event feed, that the twin's audio flowed in order at real time the
    whole while, and that no socket was left open."""
    sockets = open_sockets()
    from tests.engine.helpers import drain_events, engine_for  # helpers imports this module
    server = server or RawServer(script, ssl_context=certs.server, upgrade=upgrade)
    twin_server = Recorder()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        await start_server(nursery, twin_server, certs.server)
        async with engine_for(certs) as engine:
            scene = Scene(engine, server, twin_server)
            engine.open_call("c", format=call_format)
            twin = await engine.start_stream(
                "c", {"service_url": f"wss://127.0.0.1:{twin_server.port}/twin"})
            scene.twin_id = twin.stream_id
            url = params.pop("service_url", "wss://127.0.0.1:{port}/").format(port=server.port)
            stream = await engine.start_stream("c", {"service_url": url, **params})
            scene.stream_id = stream.stream_id
            yield scene
            await trio.sleep(0.5)  # the twin keeps running after whatever happened
        assert engine_tasks() == [], "an engine task outlived the engine"
        scene.final = engine.get(scene.stream_id)
        scene.twin_final = engine.get(scene.twin_id)
        scene.events += drain_events(engine)
        nursery.cancel_scope.cancel()
    ended = [e.stream.stream_id for e in scene.events if isinstance(e, StreamEnded)]
    assert sorted(ended) == sorted([scene.stream_id, scene.twin_id])
    assert scene.final.status.ended
    check_twin(scene)
    # only the scene's own TCP sockets: other threads of the test session (the API tests' live
    # daemon, the compat tests' asyncio loop) run meanwhile, and their sockets come and go
    scene_ports = {server.port, twin_server.port}
    left = {entry: ports for entry, ports in tcp_ports_of(open_sockets() - sockets).items()
            if ports & scene_ports}
    assert not left, f"a socket to or from the scene's servers was left open: {left}"


def check_twin(scene: Scene) -> None:
    """The healthy twin streamed from its start to the engine's shutdown: every chunk, in
    order, 20 ms apart, as many as the time it ran."""
    final = scene.twin_final
    assert final.status is StreamStatus.STOPPED, final
    (conn,) = scene.twin_server.connections
    media = conn.events("media")
    chunks = [m["media"]["chunk"] for m in media]
    assert chunks == list(range(1, len(chunks) + 1))
    stamps = [int(m["media"]["timestamp"]) for m in media]
    assert all(b - a == 20 for a, b in zip(stamps, stamps[1:]))
    ran_s = (final.end_time - final.start_time).total_seconds()
    assert abs(len(media) - ran_s / 0.020) <= 2, (len(media), ran_s)
    assert final.frames_sent == len(media) and final.frames_dropped == 0
    assert conn.messages[-1]["event"] == "stop"
