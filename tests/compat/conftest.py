"""Third-party SDKs against mediacore: a live daemon (`control.daemon.run` in a Trio thread, a
real SQLite file, Hypercorn on real sockets), TLS WebSocket servers and HTTP callback
receivers started in the daemon's Trio run, and Plivo's Python SDK pointed at the daemon.

Plivo's SDK has no base-URL option: `plivo.rest.client` reads module constants for the API
root (`API_VOICE_BASE_URI` for voice requests, with two fallbacks, and `PLIVO_API_BASE_URI`).
Pointing them at the daemon is what a user of a Plivo-compatible carrier does.
"""

from __future__ import annotations

import asyncio
import pathlib
import threading

import plivo
import plivo.rest.client
import pytest
import trio

from websockets.asyncio.server import serve

from tests.control.api.conftest import Credentials, LiveDaemon, settings_for
from tests.control.data.receiver import Receiver
from tests.engine.servers import Recorder, TlsCerts, start_server

PLIVO_BASE_CONSTANTS = ("PLIVO_API_BASE_URI", "API_VOICE_BASE_URI",
                        "API_VOICE_BASE_URI_FALLBACK_1", "API_VOICE_BASE_URI_FALLBACK_2")


class CompatDaemon(LiveDaemon):
    """The API tests' live daemon, plus servers started on demand in its Trio run."""

    async def _main(self) -> None:
        async with trio.open_nursery() as servers:
            self.servers = servers
            await super()._main()
            servers.cancel_scope.cancel()

    def ws_server(self, behaviour=None) -> Recorder:
        """A new TLS WebSocket server; `behaviour(conn, ws)` acts out each connection."""
        recorder = Recorder(behaviour)
        return self.run(start_server, self.servers, recorder, self.certs.server)

    def receiver(self) -> Receiver:
        """A new HTTP/1.1 callback receiver (h11 on real sockets) answering 200."""
        receiver = Receiver()
        return self.run(self.servers.start, receiver.serve)

    def wss(self, recorder: Recorder, path: str = "/agent") -> str:
        return f"wss://127.0.0.1:{recorder.port}{path}"


class AsyncioServers:
    """`websockets` (asyncio) TLS servers on an event loop in a thread: the stack most Python
    voice agents (Pipecat's runner, Plivo's stream SDK) run on."""

    def __init__(self, certs: TlsCerts) -> None:
        self.certs = certs
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._servers = []

    def serve(self, handler, process_request=None) -> int:
        """Serve `handler(ws)` (and `process_request(ws, request)` before the upgrade);
        returns the port."""
        async def start():
            server = await serve(handler, "127.0.0.1", 0, ssl=self.certs.server,
                                 process_request=process_request)
            self._servers.append(server)
            return server.sockets[0].getsockname()[1]
        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        async def stop():
            for server in self._servers:
                server.close()
                await server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="session")
def asyncio_servers(certs):
    servers = AsyncioServers(certs)
    yield servers
    servers.close()


@pytest.fixture(scope="session")
def certs() -> TlsCerts:
    return TlsCerts()


@pytest.fixture(scope="session")
def live(tmp_path_factory, certs):
    tmp: pathlib.Path = tmp_path_factory.mktemp("compat")
    server = CompatDaemon(settings_for(tmp, certs), certs).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def account(live) -> Credentials:
    return live.account()


@pytest.fixture
def plivo_client(live, account, monkeypatch):
    """Plivo's REST client (plivo 4.63) aimed at the live daemon's plain HTTP port."""
    for name in PLIVO_BASE_CONSTANTS:
        monkeypatch.setattr(plivo.rest.client, name, f"{live.http_url}/v1/Account")
    with plivo.RestClient(account.auth_id, account.token, timeout=10) as client:
        yield client
