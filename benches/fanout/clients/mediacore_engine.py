"""mediacore's engine as a fan-out client: `mediacore.Engine` under Trio, calls of 10 forks
each (the default per-call limit), μ-law 8 kHz audio fed per call, plivo streams of the
inbound track to `plan.url(i)`.

Forks connect in the background and start streaming as soon as they are up, so the measured
frames are the `plan.frames` frames each fork writes after every fork is connected: the
engine's native `WriteLog` notes the time of every frame handed to the socket in full, the
first chunk after "go" is that fork's frame 0, and the streams are stopped once every fork
has written its last measured frame (stopping 1,000 streams is work that does not belong in
the window). The sink counts at most `plan.frames` media messages per fork, so the frames
before and after are neither loss nor excess. CPU_START is read when fork 0 has written
frame `plan.warmup - 1`, CPU_END when the last fork writes its last frame; `gc.freeze()`
after start-up keeps the long-lived objects out of the collector, as a deployment would.
`MEDIACORE_BENCH_PACE=0` in the environment runs the engine with `pace=False` (no paced
ticks, mediacore/engine/pacing.py), to compare.
"""

from __future__ import annotations

import gc
import math
import os

import trio

from benches.fanout import record as rec
from benches.fanout.clients.base import ABANDON_LATE_S, Plan, payloads
from mediacore import Engine
from mediacore.codec import Format
from mediacore._native.fanout import WriteLog
from mediacore.engine import UrlPolicy
from mediacore.engine.clock import ClockStats

FORKS_PER_CALL = 10
PROGRESS_S = 0.25
CONNECT_TIMEOUT_S = 120
SETTLE_S = 1.0


def available(transport: str) -> str | None:
    return None


def run(plan: Plan, record: rec.Record) -> None:
    record.prefault()
    trio.run(main, plan, record)


class Meter:
    """Which stream is which fork, and where each fork's measured frames start: the engine's
    native `WriteLog` stores every write time straight into the record (no Python per frame);
    only the window's edges (fork 0's last warm-up frame, each fork's last frame) call back."""

    def __init__(self, plan: Plan, record: rec.Record) -> None:
        self.plan, self.record = plan, record
        self.done = 0
        self.finished = trio.Event()
        ids = {f"fork-{i}": i for i in range(plan.forks)}
        self.log = WriteLog(record.times, ids, plan.frames,
                            (plan.warmup - 1, plan.frames - 1), self._edge)

    @property
    def written(self) -> int:
        return self.log.written

    def _edge(self, i: int, n: int) -> None:
        if n == self.plan.warmup - 1 and i == 0:
            self.record.mark(start=True)
        if n == self.plan.frames - 1:
            self.done += 1
            if self.done == self.plan.forks:
                self.record.mark(start=False)
                self.finished.set()


async def main(plan: Plan, record: rec.Record) -> None:
    meter = Meter(plan, record)
    policy = UrlPolicy.allowing("127.0.0.0/8", "::1/128", plain_ws=True)
    second = b"".join(payloads())
    # configured as a deployment is (a CA file): wss runs on the native TLS client
    async with Engine(policy=policy, ca_file=plan.ca_file if plan.tls else None,
                      write_log=meter.log,
                      max_streams_per_call=FORKS_PER_CALL,
                      pace=os.environ.get("MEDIACORE_BENCH_PACE", "1") != "0") as engine:
        calls = [f"call-{c}" for c in range(math.ceil(plan.forks / FORKS_PER_CALL))]
        for call in calls:
            engine.open_call(call, format=Format.MULAW_8K)
        streams = []
        for i in range(plan.forks):
            s = await engine.start_stream(
                calls[i // FORKS_PER_CALL],
                {"service_url": plan.url(i), "content_type": "audio/x-mulaw;rate=8000"},
                account_id="MAFANOUTBENCH", stream_id=f"fork-{i}")
            streams.append(s.stream_id)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed, engine, calls, second)
            with trio.fail_after(CONNECT_TIMEOUT_S):
                while True:
                    up = sum(engine.get(s).frames_sent > 0 for s in streams)
                    record.set(rec.CONNECTED, up)
                    if up == plan.forks:
                        break
                    failed = [s for s in streams if engine.get(s).status.ended]
                    if failed:
                        raise RuntimeError(f"{len(failed)} forks failed to connect: "
                                           f"{engine.get(failed[0]).error}")
                    await trio.sleep(0.05)
            # frames queued while the last forks connected drain first: go on a settled grid
            await trio.sleep(SETTLE_S)
            # what a deployment does after start-up: long-lived objects (forks, tasks, sockets)
            # leave the collector's generations, so a collection never walks them mid-tick
            gc.freeze()
            record.set(rec.STATUS, rec.RUNNING)
            # the overload rule judges the measured ticks, as the other clients do (a burst
            # of TLS handshakes while the forks connected may have delayed ticks before)
            engine.clock.stats = ClockStats()
            meter.log.go()
            while not meter.finished.is_set():
                with trio.move_on_after(PROGRESS_S):
                    await meter.finished.wait()
                record.set(rec.WRITTEN, meter.written)
                if engine.clock.stats.max_lateness_s > ABANDON_LATE_S:
                    record.set(rec.STATUS, rec.OVERLOADED)
                    break
            record.set(rec.WRITTEN, meter.written)
            # streams stop after the window closed (frames past a fork's last measured one
            # are not counted by the sink)
            for call in calls:
                engine.stop_all(call)
            if record.header[rec.STATUS] == rec.RUNNING:
                record.set(rec.STATUS, rec.DONE)
            nursery.cancel_scope.cancel()


async def feed(engine: Engine, calls: list[str], second: bytes) -> None:
    """One second of audio per call per second: the engine frames it per tick."""
    while True:
        for call in calls:
            engine.feed(call, "inbound", second)
        await trio.sleep(1.0)
