"""How long a full garbage collection stops the engine with N wss forks streaming: connects N
forks (calls of 10) to the fan-out benchmark's C sink at once, feeds audio, and once every
fork is up times `gc.collect()` three times and counts the tracked objects. A full
collection runs on the engine's one thread, so no tick runs while it does.

    python3 -m benches.gc_pause --forks 1100
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forks", type=int, default=1100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, open(f"{workdir}/sink.log", "w+") as log:
        certs = certs_mod.make(workdir)
        sink, port = start_sink("tls", certs, log)
        try:
            trio.run(measure, args.forks, port, certs.ca_file)
        finally:
            stop_sink(sink)


if __name__ == "__main__":
    main()
