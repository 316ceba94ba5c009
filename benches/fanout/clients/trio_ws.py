"""Baseline: trio-websocket, one Trio task per fork, each pacing itself on the shared grid
with `trio.sleep_until(t0 + n * 20 ms)` and awaiting `send_message` per frame (the message
text from the plivo profile's Python encoder, framed by wsproto inside trio-websocket)."""

from __future__ import annotations

import time

import trio
from trio_websocket import connect_websocket_url

from benches.fanout import record as rec
from benches.fanout.clients.base import (CONNECT_CONCURRENCY, TICK_S, Plan, abandon,
                                         client_context, epoch_ms, payloads, profile)

PROGRESS_S = 0.25
CONNECT_TIMEOUT_S = 60


def available(transport: str) -> str | None:
    return None


class Grid:
    """What the fork tasks share: connection count, start of the grid, frames written."""

    def __init__(self, forks: int) -> None:
        self.forks, self.connected, self.running = forks, 0, forks
        self.ready = trio.Event()
        self.t0 = self.epoch0 = 0
        self.written = 0
        self.overloaded = False


def run(plan: Plan, record: rec.Record) -> None:
    record.prefault()
    trio.run(main, plan, record)


async def main(plan: Plan, record: rec.Record) -> None:
    grid = Grid(plan.forks)
    ctx = client_context(plan.ca_file) if plan.tls else None
    limiter = trio.CapacityLimiter(CONNECT_CONCURRENCY)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(monitor, plan, record, grid)
        for i in range(plan.forks):
            nursery.start_soon(fork, plan, record, grid, i, ctx, limiter)
    if record.header[rec.STATUS] == rec.RUNNING:
        record.set(rec.STATUS, rec.OVERLOADED if grid.overloaded else rec.DONE)


async def fork(plan, record, grid: Grid, i: int, ctx, limiter) -> None:
    prof, audio, times, forks = profile(i), payloads(), record.times, plan.forks
    async with trio.open_nursery() as nursery:  # the connection's reader task lives here
        async with limiter:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                ws = await connect_websocket_url(nursery, plan.url(i), ssl_context=ctx)
        await ws.send_message(prof.start(epoch_ms()))
        grid.connected += 1
        record.set(rec.CONNECTED, grid.connected)
        if grid.connected == forks:
            grid.t0, grid.epoch0 = trio.current_time() + 0.1, epoch_ms()
            grid.ready.set()
        await grid.ready.wait()
        for n in range(plan.frames):
            due = grid.t0 + n * TICK_S
            await trio.sleep_until(due)
            if abandon(due, trio.current_time()):
                grid.overloaded = True
                break
            await ws.send_message(prof.media(0, audio[n % len(audio)], grid.epoch0 + 20 * n))
            times[n * forks + i] = time.monotonic()
            grid.written += 1
        grid.running -= 1
        if grid.running == 0:
            record.mark(start=False)
        with trio.move_on_after(CONNECT_TIMEOUT_S):
            await ws.aclose()


async def monitor(plan: Plan, record: rec.Record, grid: Grid) -> None:
    """Marks the steady window's start and publishes progress (off the per-frame path)."""
    await grid.ready.wait()
    record.set(rec.STATUS, rec.RUNNING)
    await trio.sleep_until(grid.t0 + plan.warmup * TICK_S)
    record.mark(start=True)
    while grid.running:
        record.set(rec.WRITTEN, grid.written)
        await trio.sleep(PROGRESS_S)
    record.set(rec.WRITTEN, grid.written)
