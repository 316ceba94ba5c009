"""/metrics' idle-gate gauges, read from a real engine: connection steps waiting for the media
clock's idle time, and the headroom before each tick."""

import math

import trio

from control.metrics import Metrics
from tests.engine.conftest import run_mock
from tests.engine.helpers import hold_gate_closed, serving


def gauge(body: bytes, name: str) -> float:
    (line,) = [ln for ln in body.decode().splitlines() if ln.startswith(name + " ")]
    return float(line.split()[1])


def test_handshakes_waiting_for_idle_time_and_the_headroom_are_shown(certs):
    async def main():
        async with serving(certs) as (server, engine):
            metrics = Metrics(engine)
            body, _ = await metrics.render()
            assert gauge(body, "mediacore_handshakes_waiting") == 0
            assert gauge(body, "mediacore_idle_headroom_seconds") == 0.005
            assert gauge(body, "mediacore_tick_pace_seconds") == 0.0  # a tick's work is tiny
            engine.open_call("call-1")
            hold_gate_closed(engine, until=math.inf)
            streams = [await engine.start_stream("call-1", {
                "service_url": f"wss://127.0.0.1:{server.port}/{i}"}) for i in range(3)]
            await trio.sleep(0.1)
            body, _ = await metrics.render()
            assert gauge(body, "mediacore_handshakes_waiting") == 3
            for s in streams:
                engine.stop_stream(s.stream_id)
    run_mock(main)
