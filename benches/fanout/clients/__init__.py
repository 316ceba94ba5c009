"""The clients under test. Each is a module with

    available() -> str | None      # None, or why it cannot run here (shown, never faked)
    run(plan: Plan, record: Record) -> None

`run` is called in a fresh process pinned to the client core (`python -m
benches.fanout.clients NAME PLAN_JSON`). It must: connect `plan.forks` forks to
`plan.url(i)` (wss with `plan.ca_file`), send `start` on each, then on one 20 ms grid
(tick n at t0 + n * 20 ms, monotonic clock) send one plivo media message (160 B μ-law) per
fork per tick for `plan.frames` ticks; store `time.monotonic()` after each send returned in
`record.times[n * forks + i]`; keep `record` slots CONNECTED / WRITTEN / STATUS up to date for
the progress line; and call `record.mark(start=True)` when tick `plan.warmup` is due and
`record.mark(start=False)` after the last frame (the steady window's CPU, core and wall times). See `base.Pacer` for the overload rule.
"""

from __future__ import annotations

import importlib

# the order of the summary table; "trio-websocket" is the baseline, "floor" the floor
CLIENTS = {
    "trio-websocket": "benches.fanout.clients.trio_ws",
    "websockets": "benches.fanout.clients.websockets_asyncio",
    "python-nonblocking": "benches.fanout.clients.nonblocking",
    "floor": "benches.fanout.clients.floor",
    "mediacore": "benches.fanout.clients.mediacore_engine",
}
BASELINE, FLOOR = "trio-websocket", "floor"


def load(name: str):
    try:
        return importlib.import_module(CLIENTS[name])
    except KeyError:
        raise ValueError(f"unknown client {name!r}: one of {', '.join(CLIENTS)}") from None


def unavailable(name: str, transport: str) -> str | None:
    """None when `name` can run over `transport` here, else the reason."""
    try:
        module = load(name)
    except ImportError as exc:
        return f"cannot import: {exc}"
    return module.available(transport)
