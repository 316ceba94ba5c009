"""The engine's timers task (timers.py) on MockClock: callbacks at their exact deadlines, in
order; cancelled ones never run; a failing callback does not stop the others; the engine runs
every fork's timeout and keepalive on it instead of tasks of their own."""

from __future__ import annotations

import logging

import trio

from mediacore.codec import Format
from mediacore.engine.timers import Timers
from tests.engine.conftest import run_mock
from tests.engine.helpers import serving


def test_callbacks_run_at_their_deadlines_in_order_and_cancelled_ones_never():
    async def main():
        timers = Timers()
        ran = []
        t0 = trio.current_time()

        def note(name):
            return lambda: ran.append((name, round(trio.current_time() - t0, 6)))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            timers.call_at(t0 + 3.0, note("c"))
            timers.call_at(t0 + 1.0, note("a"))
            timers.call_at(t0 + 1.0, note("a2"))  # same deadline: in the order set
            dropped = timers.call_at(t0 + 2.0, note("never"))
            await trio.sleep(0.5)
            timers.call_at(t0 + 0.75, note("sooner"))  # earlier than what the task waits for
            dropped.cancel()
            dropped.cancel()  # twice is harmless
            await trio.sleep(5)
            assert len(timers) == 0
            nursery.cancel_scope.cancel()
        assert ran == [("sooner", 0.75), ("a", 1.0), ("a2", 1.0), ("c", 3.0)]
    run_mock(main)


def test_a_deadline_already_past_runs_at_once_and_a_callback_may_set_the_next():
    async def main():
        timers = Timers()
        ran = []
        t0 = trio.current_time()

        def tick():
            ran.append(round(trio.current_time() - t0, 6))
            if len(ran) < 3:
                timers.call_at(trio.current_time() + 20.0, tick)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            timers.call_at(t0 - 1.0, tick)
            await trio.sleep(100)
            nursery.cancel_scope.cancel()
        assert ran == [0.0, 20.0, 40.0]
    run_mock(main)


def test_a_failing_callback_is_logged_and_the_others_still_run(caplog):
    async def main():
        timers = Timers()
        ran = []

        def boom():
            raise RuntimeError("bug in a timer")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            now = trio.current_time()
            timers.call_at(now + 1, boom)
            timers.call_at(now + 1, lambda: ran.append("after"))
            await trio.sleep(2)
            nursery.cancel_scope.cancel()
        assert ran == ["after"]

    with caplog.at_level(logging.ERROR, logger="mediacore.timers"):
        run_mock(main)
    assert "a timer callback failed" in caplog.text and "bug in a timer" in caplog.text


def test_many_cancelled_long_timers_do_not_pile_up():
    """A day-long stream timeout cancelled when its stream ends soon must not stay queued
    for a day: once most entries are cancelled, they are dropped."""
    async def main():
        timers = Timers()
        ran = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            now = trio.current_time()
            timers.call_at(now + 5, lambda: ran.append("kept"))
            for _ in range(10_000):
                timers.call_at(now + 86_400, lambda: ran.append("never")).cancel()
            assert len(timers._heap) < 200 and len(timers) == 1
            await trio.sleep(10)
            nursery.cancel_scope.cancel()
        assert ran == ["kept"]
    run_mock(main)


def test_streams_have_no_timer_tasks_of_their_own(certs):
    """Per stream, the engine runs a lifecycle task and, while connected, a reader and a
    writer; the stream timeout and the keepalive are entries on the engine's timers."""
    async def main():
        async with serving(certs) as (server, engine):
            engine.open_call("call-1", format=Format.MULAW_8K)
            for i in range(3):
                await engine.start_stream("call-1", {
                    "service_url": f"wss://127.0.0.1:{server.port}/s{i}"})
            await trio.sleep(1.0)
            tasks = []

            def walk(task):
                tasks.append(task.name)
                for nursery in task.child_nurseries:
                    for child in nursery.child_tasks:
                        walk(child)
            walk(trio.lowlevel.current_root_task())
            fork_tasks = sorted(n.rsplit(".", 1)[-1] for n in tasks if ".fork.Fork." in n)
            assert fork_tasks == ["_reader"] * 3 + ["_writer"] * 3 + ["run"] * 3
            assert len(engine.timers) == 3 + 3  # a timeout and a keepalive per stream
    run_mock(main)
