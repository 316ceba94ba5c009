"""Shared pieces of the engine tests."""

from __future__ import annotations

import contextlib

import trio

from mediacore.engine.engine import Engine
from mediacore.engine.params import UrlPolicy

LOOPBACK = UrlPolicy.allowing("127.0.0.0/8", "::1/128", plain_ws=True)


@contextlib.asynccontextmanager
async def engine_for(certs, *, stdlib_tls: bool = False, **kwargs):
    """An engine trusting the test CA: native TLS as configured by `ca_file`, or with
    `stdlib_tls` the stdlib path (an application's own ssl.SSLContext)."""
    tls = {"ssl_context": certs.client} if stdlib_tls else {"ca_file": certs.ca_file}
    async with Engine(policy=LOOPBACK, **tls, **kwargs) as engine:
        yield engine


def drain_events(engine) -> list:
    events = []
    while True:
        try:
            events.append(engine.events.receive_nowait())
        except trio.WouldBlock:
            return events


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def tone_frame(i: int, size: int = 160) -> bytes:
    """A frame whose bytes say which frame it is."""
    return bytes([i % 256]) * size


@contextlib.asynccontextmanager
async def serving(certs, behaviour=None, *, recorder=None, tls: bool = True, **engine_kwargs):
    """A recording server (trio-websocket; TLS unless `tls=False`; `recorder` or a Recorder
    acting out `behaviour`) and an engine that trusts it; on exit the engine shuts down first,
    then the server."""
    from tests.engine.servers import Recorder, start_server

    recorder = recorder if recorder is not None else Recorder(behaviour)
    async with trio.open_nursery() as nursery:
        server = await start_server(nursery, recorder, certs.server if tls else None)
        async with engine_for(certs, **engine_kwargs) as engine:
            yield server, engine
        nursery.cancel_scope.cancel()
