"""The fan-out kernel in process: one tick for 100 forks over real loopback TCP (ws) and TLS
(wss) connections, CPU per forked frame, without the harness's sink or lateness criterion.

Peers, in the same run, each writing the same plivo media frame (160 B μ-law) per fork:
- mediacore: `fan_out` (mediacore/_native/fanout.pyx), as the engine calls it per call group;
- python-nonblocking: the same native encoder (`media_frame_into` into a preallocated
  buffer) and one non-blocking `socket.send` / TLS object `write` per fork in a Python loop
  (the design the issue measured at ≈ 4.6 µs plain / 7.5 µs TLS per frame).
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
from mediacore.wire import make_profile

FORKS = 100
DRAIN_EVERY = 50
T0 = 1_705_312_200_000
FRAME = b"\x55" * 160


class Link:
    """One fork's connection: client end (written) and server end (drained)."""

    def __init__(self, client, server, tls_write) -> None:
        self.client, self.server, self.tls_write = client, server, tls_write

    def drain(self) -> None:
        while True:
            try:
                if not self.server.recv(1 << 16):
                    return
            except (BlockingIOError, ssl.SSLWantReadError):
                return


def _pair(listener, ctx_client, ctx_server):
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx_client is None:
        client.setblocking(False)
        server.setblocking(False)
        return Link(client, server, None)
    client = ctx_client.wrap_socket(client, server_hostname="localhost",
                                    do_handshake_on_connect=False)
    server = ctx_server.wrap_socket(server, server_side=True, do_handshake_on_connect=False)
    client.setblocking(False)
    server.setblocking(False)
    done = [False, False]
    while not all(done):  # both ends in this thread: step each until the handshake is over
        for i, end in enumerate((client, server)):
            if not done[i]:
                try:
                    end.do_handshake()
                    done[i] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
    return Link(client, server, client._sslobj.write)


@pytest.fixture(scope="module", params=["plain", "tls"])
def links(request):
    ctx_client = ctx_server = None
    if request.param == "tls":
        ca = trustme.CA()
        ctx_server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(ctx_server)
        ctx_client = ssl.create_default_context()
        ca.configure_trust(ctx_client)
    listener = socket.create_server(("127.0.0.1", 0), backlog=FORKS)
    made = [_pair(listener, ctx_client, ctx_server) for _ in range(FORKS)]
    listener.close()
    yield request.param, made
    for link in made:
        link.client.close()
        link.server.close()


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


def test_fanout_kernel_mediacore(benchmark, links):
    transport, made = links
    writers = []
    for i, link in enumerate(made):
        w = DirectWriter(None, _profile(i).encoder, (0,), collections.deque(), bytearray())
        w.attach(link.client, link.tls_write, 2048)
        w.open = True
        w.first_pending = False
        writers.append(w)

    def tick(ts_ms):
        slow = fan_out(writers, ts_ms, FRAME, FRAME)
        assert slow is None, [w.outcome for w in slow]

    compare(benchmark, f"fan-out one tick ({transport}, {FORKS} forks)", "mediacore",
            _ticker(made, tick), units=FORKS)


def test_fanout_kernel_python_nonblocking(benchmark, links):
    transport, made = links
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
