"""Baseline: `websockets` (asyncio implementation), one asyncio task per fork, each pacing
itself on the shared grid (sleep until t0 + n * 20 ms on the loop's monotonic clock) and
awaiting `send` per frame (message text from the plivo profile's Python encoder)."""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import connect

from benches.fanout import record as rec
from benches.fanout.clients.base import (CONNECT_CONCURRENCY, TICK_S, Plan, abandon,
                                         client_context, epoch_ms, payloads, profile)

PROGRESS_S = 0.25


def available(transport: str) -> str | None:
    return None


class Grid:
    def __init__(self, forks: int) -> None:
        self.forks, self.connected, self.running = forks, 0, forks
        self.ready = asyncio.Event()
        self.t0 = self.epoch0 = 0
        self.written = 0
        self.overloaded = False


def run(plan: Plan, record: rec.Record) -> None:
    record.prefault()
    asyncio.run(main(plan, record))


async def main(plan: Plan, record: rec.Record) -> None:
    grid = Grid(plan.forks)
    ctx = client_context(plan.ca_file) if plan.tls else None
    limiter = asyncio.Semaphore(CONNECT_CONCURRENCY)
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(monitor(plan, record, grid))
        for i in range(plan.forks):
            tasks.create_task(fork(plan, record, grid, i, ctx, limiter))
    if record.header[rec.STATUS] == rec.RUNNING:
        record.set(rec.STATUS, rec.OVERLOADED if grid.overloaded else rec.DONE)


async def fork(plan, record, grid: Grid, i: int, ctx, limiter) -> None:
    prof, audio, times, forks = profile(i), payloads(), record.times, plan.forks
    loop = asyncio.get_running_loop()
    async with limiter:
        ws = await connect(plan.url(i), ssl=ctx, compression=None, ping_interval=None,
                           open_timeout=60, close_timeout=10, max_queue=None)
    await ws.send(prof.start(epoch_ms()))
    grid.connected += 1
    record.set(rec.CONNECTED, grid.connected)
    if grid.connected == forks:
        grid.t0, grid.epoch0 = loop.time() + 0.1, epoch_ms()
        grid.ready.set()
    await grid.ready.wait()
    for n in range(plan.frames):
        due = grid.t0 + n * TICK_S
        await asyncio.sleep(due - loop.time())
        if abandon(due, loop.time()):
            grid.overloaded = True
            break
        await ws.send(prof.media(0, audio[n % len(audio)], grid.epoch0 + 20 * n))
        times[n * forks + i] = time.monotonic()
        grid.written += 1
    grid.running -= 1
    if grid.running == 0:
        record.mark(start=False)
    await ws.close()


async def monitor(plan: Plan, record: rec.Record, grid: Grid) -> None:
    await grid.ready.wait()
    record.set(rec.STATUS, rec.RUNNING)
    await asyncio.sleep(grid.t0 + plan.warmup * TICK_S - asyncio.get_running_loop().time())
    record.mark(start=True)
    while grid.running:
        record.set(rec.WRITTEN, grid.written)
        await asyncio.sleep(PROGRESS_S)
    record.set(rec.WRITTEN, grid.written)
