"""A live daemon for the API tests: `control.daemon.run` in a Trio thread with a real SQLite
file, Hypercorn on real sockets (plain HTTP/1.1 + h2c on one port, TLS with ALPN on another,
certificates from trustme) and a TLS WebSocket server (trio-websocket) for streams to reach.

Tests are plain functions using httpx's sync clients: `client` runs each test over HTTP/1.1,
h2c (prior knowledge) and HTTP/2 over TLS.
"""

from __future__ import annotations

import dataclasses
import ssl
import threading

import httpx
import pytest
import trio

from control import daemon
from control.config import Settings
from tests.engine.servers import Recorder, TlsCerts, start_server

LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclasses.dataclass
class Credentials:
    auth_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-ID": self.auth_id, "X-Auth-Token": self.token}


class LiveDaemon:
    """The daemon and a WebSocket recorder in one Trio run on a background thread."""

    def __init__(self, settings: Settings, certs: TlsCerts) -> None:
        self.settings = settings
        self.certs = certs
        self.recorder = Recorder()
        self.running: daemon.Running | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._thread_main, daemon=True)

    def start(self) -> LiveDaemon:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        assert self.running is not None, "the daemon did not start in 30 s"
        return self

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()
            import traceback
            traceback.print_exc()

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self.shutdown = trio.Event()
        async with trio.open_nursery() as nursery:
            await start_server(nursery, self.recorder, self.certs.server)
            async with trio.open_nursery() as daemon_nursery:
                self.running = await daemon_nursery.start(lambda task_status: daemon.run(
                    self.settings, shutdown=self.shutdown, task_status=task_status))
                self._ready.set()
            # daemon.run has returned (shutdown, drain); now the WebSocket server goes
            nursery.cancel_scope.cancel()

    def run(self, fn, *args):
        """Run async `fn(*args)` in the daemon's Trio thread."""
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    def run_sync(self, fn, *args):
        return trio.from_thread.run_sync(fn, *args, trio_token=self.token)

    def stop(self) -> None:
        if self.running is not None:
            self.run_sync(self.shutdown.set)
        self._thread.join(30)

    @property
    def http_url(self) -> str:
        return self.running.url("http")

    @property
    def https_url(self) -> str:
        return self.running.url("https")

    @property
    def ws_url(self) -> str:
        return f"wss://127.0.0.1:{self.recorder.port}"

    def account(self) -> Credentials:
        account, token = self.run(self.running.plane.create_account)
        return Credentials(account.auth_id, token)

    def open_call(self, credentials: Credentials, fmt: str = "audio/x-mulaw;rate=8000") -> str:
        """A call opened on the engine by the embedding application and attached to the
        account (what a call registered over the API amounts to, without the ingress)."""
        plane = self.running.plane

        async def open_and_attach() -> str:
            info = self.running.engine.open_call(format=fmt, call_from="+15550001",
                                                 call_to="+15550002")
            account = await plane.authenticate(credentials.auth_id, credentials.token)
            await plane.attach_call(account, info.call_id)
            return info.call_id

        return self.run(open_and_attach)


def settings_for(tmp_path, certs: TlsCerts, **changes) -> Settings:
    key_cert = tmp_path / "server.pem"
    certs.ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(key_cert))
    ca = tmp_path / "ca.pem"
    certs.ca.cert_pem.write_to_path(str(ca))
    values = dict(host="127.0.0.1", port=0, tls_cert=str(key_cert), tls_key=str(key_cert),
                  plain_port=0, data_dir=str(tmp_path / "data"), allowed_networks=LOOPBACK,
                  allow_plain_ws=True, ca_file=str(ca), rate_limit_per_s=1000.0,
                  rate_limit_burst=1000, checkpoint_interval_s=1.0)
    values.update(changes)
    return Settings(**values)


@pytest.fixture(scope="session")
def certs() -> TlsCerts:
    return TlsCerts()


@pytest.fixture(scope="session")
def live(tmp_path_factory, certs):
    server = LiveDaemon(settings_for(tmp_path_factory.mktemp("live"), certs), certs).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def account(live) -> Credentials:
    return live.account()


@pytest.fixture(scope="session")
def other_account(live) -> Credentials:
    return live.account()


def client_for(live: LiveDaemon, kind: str) -> httpx.Client:
    if kind == "h1":
        return httpx.Client(base_url=live.http_url, timeout=10)
    if kind == "h2c":
        return httpx.Client(base_url=live.http_url, http1=False, http2=True, timeout=10)
    if kind == "h2-tls":
        context = ssl.create_default_context()
        live.certs.ca.configure_trust(context)
        return httpx.Client(base_url=live.https_url, http2=True, verify=context, timeout=10)
    raise ValueError(kind)


EXPECTED_VERSION = {"h1": "HTTP/1.1", "h2c": "HTTP/2", "h2-tls": "HTTP/2"}


@pytest.fixture(params=["h1", "h2c", "h2-tls"])
def client(request, live):
    """Each test that takes it runs over HTTP/1.1, h2c and HTTP/2 over TLS."""
    with client_for(live, request.param) as c:
        c.kind = request.param
        yield c


@pytest.fixture(scope="session")
def h1(live):
    """HTTP/1.1 only: for long tables of inputs whose answer does not depend on the HTTP
    version (every status is also checked over all three by a test taking `client`)."""
    with client_for(live, "h1") as c:
        c.kind = "h1"
        yield c
