"""Shared pieces of the engine tests."""

from __future__ import annotations

import contextlib
import gc
import math
import types

import trio

from mediacore.engine.engine import Engine
from mediacore.engine.params import UrlPolicy

LOOPBACK = UrlPolicy.allowing("127.0.0.0/8", "::1/128", plain_ws=True)


@contextlib.asynccontextmanager
async def engine_for(certs, *, stdlib_tls: bool = False, **kwargs):
    """An engine trusting the test CA: native TLS as configured by `ca_file`, or with
    `stdlib_tls` the stdlib path (an application's own ssl.SSLContext)."""
    tls = {"ssl_context": certs.client} if stdlib_tls else {"ca_file": certs.ca_file}
    gc.collect()  # what earlier tests left is not this engine's
    async with Engine(policy=LOOPBACK, **tls, **kwargs) as engine:
        yield engine
    cycles = stream_cycles()
    assert not cycles, f"an ended stream left reference cycles through {cycles}"


# A stream's long-lived objects: none may lie on a reference cycle when the stream ends. The
# daemon freezes what survives each full collection (mediacore/engine/collector.py), and a
# cycle through a frozen object is never freed (nor what it holds: a fork, its buffers).
# Short cycles of an exception and the frames it was raised through (h11 makes some) are
# harmless: their members are new, so an ordinary collection frees them.
STREAM_TYPES = frozenset({"Fork", "DirectWriter", "_Closed", "MediaFrameEncoder", "Connection",
                          "TLSConnection", "PlivoProfile", "TwilioProfile", "StreamParams"})


def _long_lived(o) -> bool:
    if isinstance(o, types.FrameType):  # the engine's coroutines live as long as the stream
        return "/mediacore/" in o.f_code.co_filename
    kind = type(o)
    return kind.__module__.startswith("mediacore") and kind.__qualname__ in STREAM_TYPES


def stream_cycles() -> list[str]:
    """Collect; name the stream objects and engine frames that were on a cycle among the
    garbage it found."""
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what it finds in gc.garbage, to look at
    try:
        gc.collect()
        garbage = {id(o) for o in gc.garbage}
        found = []
        for o in gc.garbage:
            if not _long_lived(o):
                continue
            seen, pending = set(), list(gc.get_referents(o))
            while pending:  # is `o` reachable from itself, through garbage only?
                r = pending.pop()
                if r is o:
                    name = (f"frame of {o.f_code.co_name}" if isinstance(o, types.FrameType)
                            else type(o).__qualname__)
                    found.append(name)
                    break
                if id(r) in garbage and id(r) not in seen:
                    seen.add(id(r))
                    pending.extend(gc.get_referents(r))
        return found
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


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


def hold_gate_closed(engine, until: float) -> None:
    """The engine has no idle time for handshake steps until Trio time `until` (its ticks'
    work takes the whole period): the gate stays shut (idle_gate.py)."""
    gate = engine.idle_gate
    real_open = gate.open

    def open_(until_next: float) -> None:
        if trio.current_time() < until:
            gate.open_until = -math.inf
        else:
            real_open(until_next)
    gate.open = open_
    gate.open_until = -math.inf
