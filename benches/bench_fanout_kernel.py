"""The fan-out kernel in process: one tick for 100 forks over real loopback TCP (ws) and TLS
(wss) connections, CPU per forked frame, without the harness's sink or lateness criterion.

Peers, in the same run, each writing the same plivo media frame (160 B μ-law) per fork:
- mediacore: `fan_out` (mediacore/_native/fanout.pyx), as the engine calls it per call group;
  over TLS through the native client (mediacore/_native/tls.pyx, one SSL_write_ex);
- mediacore (stdlib ssl), TLS only: the same kernel writing through the stdlib ssl object's
  C `write` (what the engine does with an application's own ssl.SSLContext);
- python-nonblocking: the same native encoder (`media_frame_into` into a preallocated
  buffer) and one non-blocking `socket.send` / stdlib TLS object `write` per fork in a Python
  loop (the design the issue measured at ≈ 4.6 µs plain / 7.5 µs TLS per frame).
The receiving ends are drained every DRAIN_EVERY ticks inside the timed call (the same cost
for both peers), so the kernel's socket buffers never fill.
"""

from __future__ import annotations

import collections
import socket
import ssl

import pytest
import trustme

from benches.conftest import compare
from mediacore._native.fanout import DirectWriter, fan_out
from mediacore._native.tls import ClientContext
from mediacore.wire import make_profile

FORKS = 100
DRAIN_EVERY = 50
T0 = 1_705_312_200_000
FRAME = b"\x55" * 160


class Link:
    """One fork's connection: client end (written) and server end (drained)."""

    def __init__(self, client, server, tls_write=None, tls=None) -> None:
        self.client, self.server, self.tls_write, self.tls = client, server, tls_write, tls

    def drain(self) -> None:
        while True:
            try:
                if not self.server.recv(1 << 16):
                    return
            except (BlockingIOError, ssl.SSLWantReadError):
                return


def _pair(listener, ctx_client, ctx_server):
    """A connected pair; TLS when `ctx_client` is given: a stdlib ssl.SSLContext or a native
    ClientContext."""
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.setblocking(False)
    server.setblocking(False)
    if ctx_client is None:
        return Link(client, server)
    if isinstance(ctx_client, ssl.SSLContext):
        client = tls = ctx_client.wrap_socket(client, server_hostname="localhost",
                                              do_handshake_on_connect=False)
    else:
        tls = ctx_client.connection(client, "localhost")
    server = ctx_server.wrap_socket(server, server_side=True, do_handshake_on_connect=False)
    done = [False, False]
    while not all(done):  # both ends in this thread: step each until the handshake is over
        for i, end in enumerate((tls, server)):
            if not done[i]:
                try:
                    end.do_handshake()
                    done[i] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
    if tls is client:
        return Link(client, server, tls_write=client._sslobj.write)
    return Link(client, server, tls=tls)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """(server context, stdlib client context, native client context) for localhost."""
    ca = trustme.CA()
    ctx_server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(ctx_server)
    ctx_stdlib = ssl.create_default_context()
    ca.configure_trust(ctx_stdlib)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ctx_server, ctx_stdlib, ClientContext(str(ca_file))


def _links(ctx_client, ctx_server):
    listener = socket.create_server(("127.0.0.1", 0), backlog=FORKS)
    made = [_pair(listener, ctx_client, ctx_server) for _ in range(FORKS)]
    listener.close()
    return made


def _close(made):
    for link in made:
        link.client.close()
        link.server.close()


@pytest.fixture(scope="module", params=["plain", "tls"])
def links(request, pki):
    """(transport, links): plain, or TLS through the native client."""
    ctx_server, _, ctx_native = pki
    made = _links(None, None) if request.param == "plain" else _links(ctx_native, ctx_server)
    yield request.param, made
    _close(made)


@pytest.fixture(scope="module")
def stdlib_links(pki):
    """TLS links through the stdlib's ssl objects."""
    ctx_server, ctx_stdlib, _ = pki
    made = _links(ctx_stdlib, ctx_server)
    yield made
    _close(made)


def _profile(i: int):
    profile = make_profile("plivo", stream_id=f"fork-{i}", call_id="call", account_id="MA1",
                           tracks=("inbound",), format="audio/x-mulaw;rate=8000")
    profile.start(T0)
    return profile


def _ticker(links, tick):
    """Wrap one tick as the timed call, draining the receivers every DRAIN_EVERY ticks."""
    state = [0]

    def run():
        state[0] += 1
        if state[0] % DRAIN_EVERY == 0:
            for link in links:
                link.drain()
        tick(T0 + 20 * state[0])
    return run


def _writers(made):
    writers = []
    for i, link in enumerate(made):
        w = DirectWriter(None, _profile(i).encoder, (0,), collections.deque(), bytearray())
        w.attach(link.client, link.tls_write, 2048, tls=link.tls)
        w.open = True
        w.first_pending = False
        writers.append(w)
    return writers


def _kernel_tick(writers):
    def tick(ts_ms):
        slow = fan_out(writers, ts_ms, FRAME, FRAME)
        assert slow is None, [w.outcome for w in slow]
    return tick


def test_fanout_kernel_mediacore(benchmark, links):
    transport, made = links
    compare(benchmark, f"fan-out one tick ({transport}, {FORKS} forks)", "mediacore",
            _ticker(made, _kernel_tick(_writers(made))), units=FORKS)


def test_fanout_kernel_mediacore_stdlib_tls(benchmark, stdlib_links):
    compare(benchmark, f"fan-out one tick (tls, {FORKS} forks)", "mediacore (stdlib ssl)",
            _ticker(stdlib_links, _kernel_tick(_writers(stdlib_links))), units=FORKS)


def test_fanout_kernel_python_nonblocking(benchmark, links, request):
    transport, made = links
    if transport == "tls":  # the loop the issue measured: the stdlib TLS object's write
        made = request.getfixturevalue("stdlib_links")
    buf = bytearray(2048)
    view = memoryview(buf)
    forks = [(_profile(i).media_frame_into,
              link.tls_write if link.tls_write is not None else link.client.send)
             for i, link in enumerate(made)]

    def tick(ts_ms):
        for frame_into, send in forks:
            n = frame_into(buf, 0, ts_ms, FRAME)
            assert send(view[:n]) == n

    compare(benchmark, f"fan-out one tick ({transport}, {FORKS} forks)", "python-nonblocking",
            _ticker(made, tick), units=FORKS)
