"""The idle gate (idle_gate.py) on MockClock: heavy steps start only between the end of a
tick's work and HEADROOM_S before the next tick; the engine's ticker opens it every tick."""

from __future__ import annotations

import pytest
import trio

from mediacore.engine.idle_gate import HEADROOM_S, IdleGate
from tests.engine.conftest import run_mock
from tests.engine.helpers import engine_for


def test_steps_wait_for_the_next_idle_window():
    async def main():
        gate = IdleGate()
        await gate.turn()  # no clock yet: open
        t0 = trio.current_time()
        gate.open(t0 + 0.010)
        await gate.turn()  # inside the window: at once
        assert trio.current_time() == t0
        await trio.sleep(0.012)  # past the window
        started = []

        async def step():
            await gate.turn()
            started.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(step)
            await trio.sleep(0.008)
            assert started == []             # closed: waits
            gate.open(trio.current_time() + 0.015)
        assert started == [pytest.approx(t0 + 0.020)]
    run_mock(main)


def test_the_engine_opens_the_gate_after_each_tick_until_headroom_before_the_next(certs):
    async def main():
        async with engine_for(certs) as engine:
            await trio.sleep(0.101)  # between two ticks
            gate = engine.idle_gate
            start = engine.clock.start
            # the window ends HEADROOM_S before a tick on the 20 ms grid
            assert (gate.open_until + HEADROOM_S - start) / 0.020 == pytest.approx(
                round((gate.open_until + HEADROOM_S - start) / 0.020))
            assert 0 < gate.open_until - trio.current_time() <= 0.020 - HEADROOM_S
            await trio.sleep(gate.open_until - trio.current_time())  # the window closes
            before = gate.open_until
            await gate.turn()  # waits for the next tick's work, then goes
            assert gate.open_until == pytest.approx(before + 0.020)
            assert trio.current_time() < gate.open_until
    run_mock(main)
