"""The idle gate (idle_gate.py) on MockClock: heavy steps start only between the end of a
tick's work and the gate's headroom before the next tick (HEADROOM_S until a step has been
timed, then room for the steps it has timed); the engine's ticker opens it every tick."""

from __future__ import annotations

import pytest
import trio

from mediacore.engine.idle_gate import HEADROOM_S, MIN_HEADROOM_S, STEP_DECAY, IdleGate
from tests.engine.conftest import run_mock
from tests.engine.helpers import engine_for, serving


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


class StepsOf(trio.abc.Instrument):
    """Task steps of the tasks running `name` (a task is woken for each step after its first)."""

    def __init__(self, name: str) -> None:
        self.name, self.count = name, 0

    def before_task_step(self, task) -> None:
        if task.name.endswith("." + self.name) or task.name.endswith("<locals>." + self.name):
            self.count += 1


def test_waiters_go_one_at_a_time_in_order_while_the_idle_time_lasts():
    """Ten heavy steps of 4 ms each wait at a closed gate: each 10 ms window lets through
    the next three in arrival order (0, 4 and 8 ms into it; the fourth finds it closed and
    waits for the next window), and only the steps let through are woken at all."""
    async def main():
        clock = trio.lowlevel.current_clock()
        gate = IdleGate()
        gate.open(trio.current_time())  # closed
        passed = []
        steps = StepsOf("step")
        trio.lowlevel.add_instrument(steps)

        async def step(i):
            await gate.turn()
            passed.append((i, round(trio.current_time() * 1000)))
            clock.jump(0.004)  # the step's CPU time

        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(step, i)
                await trio.sleep(0)  # arrival order
            t0 = trio.current_time()
            for window in range(4):
                await trio.sleep_until(t0 + 0.020 * window + 0.001)
                gate.open(trio.current_time() + 0.010)
        t0_ms = round(t0 * 1000)
        assert [i for i, _ in passed] == list(range(10))
        assert [at - t0_ms for _, at in passed] == [1, 5, 9, 21, 25, 29, 41, 45, 49, 61]
        # each task's first step parks it; then woken: the ten that went, and the three that
        # found the window closed (waking every waiter at each window would be 10 + 9 + ...)
        assert steps.count == 10 + 10 + 3
    run_mock(main)


def test_a_waiter_that_gives_up_leaves_the_line_and_the_others_still_go():
    async def main():
        gate = IdleGate()
        gate.open(trio.current_time())  # closed
        passed = []

        async def step(i, patience):
            with trio.move_on_after(patience):
                await gate.turn()
                passed.append(i)

        async with trio.open_nursery() as nursery:
            for i, patience in enumerate((1.0, 0.005, 1.0, 0.005, 1.0)):
                nursery.start_soon(step, i, patience)
                await trio.sleep(0)
            await trio.sleep(0.010)  # 1 and 3 gave up
            gate.open(trio.current_time() + 0.010)
        assert passed == [0, 2, 4]
        assert not gate._waiters
    run_mock(main)


def test_time_waiting_at_the_gate_does_not_run_a_timeout():
    """A step given a 10 ms timeout waits 50 ms at the closed gate: the timeout's deadline
    moves on by those 50 ms, so it still has its 10 ms after the gate."""
    async def main():
        gate = IdleGate()
        gate.open(trio.current_time())  # closed
        t0 = trio.current_time()
        reached = False

        async def opener():
            await trio.sleep(0.050)
            gate.open(trio.current_time() + 0.010)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(opener)
            with trio.CancelScope(deadline=t0 + 0.010) as timeout:
                await gate.turn(timeout)
                assert trio.current_time() == pytest.approx(t0 + 0.050)
                assert timeout.deadline == pytest.approx(t0 + 0.060)
                await trio.sleep(0.009)
                reached = True
                await trio.sleep(0.002)
        assert reached and timeout.cancelled_caught
        assert trio.current_time() == pytest.approx(t0 + 0.060)
    run_mock(main)


def test_a_step_cancelled_while_waiting_leaves_its_timeout_as_it_was_plus_the_wait():
    async def main():
        gate = IdleGate()
        gate.open(trio.current_time())  # closed
        t0 = trio.current_time()
        timeout = trio.CancelScope(deadline=t0 + 10)
        with trio.move_on_after(0.030):  # an outer limit ends the wait
            await gate.turn(timeout)
        assert timeout.deadline == pytest.approx(t0 + 10.030)
        assert not gate._waiters
    run_mock(main)


def test_the_headroom_is_room_for_twice_the_longest_recent_step():
    gate = IdleGate()
    assert gate.headroom_s == HEADROOM_S            # nothing timed yet
    gate.took(0.0004)
    assert gate.headroom_s == MIN_HEADROOM_S        # 0.8 ms: the least
    gate.took(0.002)
    assert gate.headroom_s == pytest.approx(0.004)
    gate.took(0.0001)                               # a short step: the longest one still counts
    assert gate.headroom_s == pytest.approx(0.004 * STEP_DECAY)
    gate.took(0.010)
    assert gate.headroom_s == HEADROOM_S            # the most
    # a slow step counts for less and less: after enough quick ones, the least again
    steps = 0
    while gate.headroom_s > MIN_HEADROOM_S:
        gate.took(0.0)
        steps += 1
    assert steps == 99                              # 0.010 * 0.97**99 < 0.0005 <= .. **98


@pytest.mark.parametrize("tls", [True, False], ids=["wss", "ws"])
def test_a_loaded_engine_still_admits_handshakes_once_it_has_timed_them(certs, tls):
    """The engine times its connection steps (the TCP connect, each TLS handshake step; zero
    on MockClock): after the first connection, the window ends MIN_HEADROOM_S before the next
    tick instead of HEADROOM_S, so an engine whose ticks take 16 of every 20 ms still has idle
    time for them."""
    async def main():
        async with serving(certs, tls=tls) as (server, engine):
            gate = engine.idle_gate
            assert gate.headroom_s == HEADROOM_S
            engine.open_call("call-1")
            s = await engine.start_stream("call-1", {
                "service_url": f"{'wss' if tls else 'ws'}://127.0.0.1:{server.port}/"})
            while engine.get(s.stream_id).frames_sent == 0:
                await trio.sleep(0.001)
            assert gate.step_s == 0.0 and gate.headroom_s == MIN_HEADROOM_S
            await trio.sleep(0.0205)  # past the next tick
            start = engine.clock.start
            ticks = (gate.open_until + MIN_HEADROOM_S - start) / 0.020
            assert ticks == pytest.approx(round(ticks))
            engine.stop_stream(s.stream_id)
    run_mock(main)
