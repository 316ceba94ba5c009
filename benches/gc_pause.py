"""How long a full garbage collection stops the engine with N wss forks streaming: connects N
forks (calls of 10) to the fan-out benchmark's C sink at once, feeds audio, and once every
fork is up times `gc.collect()` three times and counts the tracked objects. A full
collection runs on the engine's one thread, so no tick runs while it does.

    python3 -m benches.gc_pause --forks 1100

With `--churn-s S`, streams come and go instead, as on a busy daemon: once all N are up, one
stream ends and a new one starts `--churn-rate` times a second for S seconds, and the
collector runs on its own (CPython's thresholds). The same run is made twice, without and
with FullCollections' freezing (mediacore/engine/collector.py), and reports the automatic full
collections (count, longest) and the media clock's lateness over the churn.

    python3 -m benches.gc_pause --forks 800 --churn-s 60 --churn-rate 20
"""

from __future__ import annotations

import argparse
import gc
import math
import tempfile
import time

import trio

from benches.fanout import certs as certs_mod
from benches.fanout.clients.base import payloads
from benches.fanout.run import start_sink, stop_sink
from mediacore import Engine
from mediacore.codec import Format
from mediacore.engine import StreamStarted, UrlPolicy
from mediacore.engine.clock import LATENESS_BUCKETS_S
from mediacore.engine.collector import FullCollections

CONNECT_LIMIT_S = 60


async def measure(forks: int, port: int, ca_file: str) -> None:
    second = b"".join(payloads())
    policy = UrlPolicy.allowing("127.0.0.0/8")
    async with Engine(policy=policy, ca_file=ca_file, max_streams_per_call=10) as engine:
        calls = [f"call-{c}" for c in range(math.ceil(forks / 10))]
        for call in calls:
            engine.open_call(call, format=Format.MULAW_8K)
        t0 = trio.current_time()
        for i in range(forks):
            await engine.start_stream(calls[i // 10], {
                "service_url": f"wss://127.0.0.1:{port}/fork/{i}",
                "content_type": "audio/x-mulaw;rate=8000"}, stream_id=f"fork-{i}")
        up = 0
        async with trio.open_nursery() as nursery:
            async def feed():
                while True:
                    for call in calls:
                        engine.feed(call, "inbound", second)
                    await trio.sleep(1)

            async def count():
                nonlocal up
                async for event in engine.events:
                    up += isinstance(event, StreamStarted)
            nursery.start_soon(feed)
            nursery.start_soon(count)
            while up < forks and trio.current_time() - t0 < CONNECT_LIMIT_S:
                await trio.sleep(0.5)
            print(f"{up} of {forks} forks up after {trio.current_time() - t0:.1f} s")
            await trio.sleep(2)
            for _ in range(3):
                began = time.perf_counter()
                gc.collect()
                took = time.perf_counter() - began
                print(f"full collection {took * 1000:.1f} ms, "
                      f"{len(gc.get_objects())} tracked objects")
                await trio.sleep(1)
            nursery.cancel_scope.cancel()


async def churn(forks: int, port: int, ca_file: str, seconds: float, rate: float) -> dict:
    """Streams come and go (see the module docstring); returns the clock's lateness meanwhile."""
    second = b"".join(payloads())
    policy = UrlPolicy.allowing("127.0.0.0/8")
    serial = 0
    async with Engine(policy=policy, ca_file=ca_file, max_streams_per_call=20) as engine:
        calls = [f"call-{c}" for c in range(math.ceil(forks / 10))]
        for call in calls:
            engine.open_call(call, format=Format.MULAW_8K)

        async def start(slot: int) -> str:
            nonlocal serial
            serial += 1
            stream = await engine.start_stream(calls[slot // 10], {
                "service_url": f"wss://127.0.0.1:{port}/fork/{serial}",
                "content_type": "audio/x-mulaw;rate=8000"}, stream_id=f"fork-{serial}")
            return stream.stream_id

        # a call's streams: 10, and room for the ones still stopping
        slots = [await start(i) for i in range(forks)]
        async with trio.open_nursery() as nursery:
            async def feed():
                while True:
                    for call in calls:
                        engine.feed(call, "inbound", second)
                    await trio.sleep(1)
            nursery.start_soon(feed)
            with trio.fail_after(CONNECT_LIMIT_S):
                while sum(engine.get(s).frames_sent > 0 for s in slots) < forks:
                    await trio.sleep(0.5)
            await trio.sleep(2)
            stats = engine.clock.stats
            ticks0, buckets0 = stats.ticks, list(stats.bucket_ticks)
            full = FullCollections.installed()
            count0 = full.count
            full.longest_s = 0.0
            max_late, began, n = 0.0, trio.current_time(), 0
            while trio.current_time() - began < seconds:
                slot = n % forks
                engine.stop_stream(slots[slot])
                slots[slot] = await start(slot)
                n += 1
                await trio.sleep_until(began + n / rate)
            # read now: the engine's shutdown below is outside the window (no ticks run)
            ticks = stats.ticks - ticks0
            buckets = [b - b0 for b, b0 in zip(stats.bucket_ticks, buckets0)]
            max_late = stats.max_lateness_s  # over the whole run (the connect burst too)
            collections, longest = full.count - count0, full.longest_s
            nursery.cancel_scope.cancel()
    running, p99 = 0, math.inf
    for bound, count in zip((*LATENESS_BUCKETS_S, math.inf), buckets):
        running += count
        if running >= 0.99 * ticks:
            p99 = bound
            break
    late = sum(buckets[LATENESS_BUCKETS_S.index(0.020) + 1:])
    return {"streams started": n, "full collections": collections,
            "longest ms": longest * 1000, "ticks": ticks, "ticks > 20 ms late": late,
            "p99 lateness <= ms": p99 * 1000, "max lateness ms (whole run)": max_late * 1000}


def result_line(label: str, result: dict) -> str:
    """One run's numbers on one line (also benches/daemon_churn.py's)."""
    return f"{label}: " + ", ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in result.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forks", type=int, default=1100)
    parser.add_argument("--churn-s", type=float, default=0.0)
    parser.add_argument("--churn-rate", type=float, default=20.0, help="new streams per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, open(f"{workdir}/sink.log", "w+") as log:
        certs = certs_mod.make(workdir)
        sink, port = start_sink("tls", certs, log)
        try:
            if not args.churn_s:
                trio.run(measure, args.forks, port, certs.ca_file)
                return
            for freeze in (False, True):
                gc.collect()
                with FullCollections(freeze=freeze, sweep_s=None):
                    result = trio.run(churn, args.forks, port, certs.ca_file, args.churn_s,
                                      args.churn_rate)
                print(result_line(f"freeze={freeze}", result), flush=True)
        finally:
            stop_sink(sink)


if __name__ == "__main__":
    main()
