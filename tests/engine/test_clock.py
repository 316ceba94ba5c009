"""The media clock on Trio's MockClock: exact tick times, no drift, catch-up after a stall;
and on Trio's own clock, where it waits on an OS timer."""

import sys

import pytest
import trio
import trio.testing

from mediacore import Engine
from mediacore.engine.clock import MediaClock


def run(fn):
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


def test_ticks_fall_exactly_on_the_grid():
    async def main():
        clock = MediaClock()
        seen = []
        async for tick, due in clock:
            seen.append((tick, due, trio.current_time()))
            await trio.sleep(0.0073)  # work inside a tick does not shift the grid
            if tick == 499:
                break
        start = clock.start
        for tick, due, now in seen:
            assert due == pytest.approx(start + tick * 0.020, abs=1e-9)
            assert now == pytest.approx(due, abs=1e-9)
        assert trio.current_time() == pytest.approx(start + 499 * 0.020 + 0.0073, abs=1e-9)
        assert clock.stats.ticks == 500 and clock.stats.late_ticks == 0
    run(main)


def test_a_stall_is_caught_up_without_losing_ticks():
    async def main():
        clock = MediaClock(start=trio.current_time() + 1.0)
        times = []
        async for tick, due in clock:
            times.append(trio.current_time())
            if tick == 2:
                await trio.sleep(0.090)  # a 90 ms stall: ticks 3..6 are overdue
            if tick == 10:
                break
        assert len(times) == 11
        # ticks 3-6 run back to back at the end of the stall, then the grid resumes
        assert times[3] == times[6] == pytest.approx(1.0 + 0.040 + 0.090, abs=1e-9)
        assert times[7] == pytest.approx(1.0 + 7 * 0.020, abs=1e-9)
        # lateness 70, 50, 30, 10 ms: three ticks more than a period late
        assert clock.stats.late_ticks == 3
        assert clock.stats.max_lateness_s == pytest.approx(0.070, abs=1e-9)
        # the lateness histogram (cumulative, as /metrics shows it)
        buckets = dict(clock.stats.cumulative_buckets())
        # (70, 50, 30, 10 ms late: 50 ms sits on a bucket bound, so it is left out here)
        assert (buckets[0.0005], buckets[0.020], buckets[0.100]) == (7, 8, 11)
        assert buckets[0.050] in (9, 10)
        assert buckets[float("inf")] == clock.stats.ticks == 11
    run(main)


def test_period_must_be_positive():
    with pytest.raises(ValueError, match="period_s must be positive"):
        MediaClock(0)


def test_under_mock_clock_the_wait_is_trio_sleep_until():
    async def main():
        clock = MediaClock()
        async for tick, _ in clock:
            assert not clock.uses_os_timer
            break
    run(main)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux only")
def test_on_trios_own_clock_ticks_wait_on_the_os_timer_never_early():
    """Real time, 10 ticks (200 ms): the timer path must keep the grid and never run a tick
    before it is due; close() releases the timer."""
    async def main():
        clock = MediaClock()
        seen = []
        async for tick, due in clock:
            assert clock.uses_os_timer
            seen.append((tick, due, trio.current_time()))
            if tick == 9:
                break
        clock.close()
        assert not clock.uses_os_timer
        assert [t for t, _, _ in seen] == list(range(10))
        for tick, due, now in seen:
            assert due == pytest.approx(clock.start + tick * 0.020, abs=1e-9)
            assert now >= due
        assert clock.stats.ticks == 10
    trio.run(main)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux only")
def test_the_engine_releases_its_clocks_timer_when_it_exits():
    async def main():
        async with Engine() as engine:
            while engine.clock.stats.ticks < 2:
                await trio.sleep(0.01)
            assert engine.clock.uses_os_timer
        assert not engine.clock.uses_os_timer
    trio.run(main)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux only")
def test_the_os_timer_wait_returns_trios_own_time_at_the_wake_up():
    """The wait computes Trio's time itself (SystemClock: offset + perf_counter): what it
    returns is never before the deadline nor after Trio's time read just after, also for a
    deadline already past."""
    from mediacore.engine.os_timer import OsTimerWait

    async def main():
        waiter = OsTimerWait.for_current_clock()
        try:
            for ahead in (0.015, 0.0, -0.5):
                deadline = trio.current_time() + ahead
                woke = await waiter.sleep_until(deadline)
                after = trio.current_time()
                assert deadline <= woke <= after
                # Trio's clock starts at a random offset (1e4..2e5 s): a wrong clock is far off
                assert after - woke < 1.0
        finally:
            waiter.close()
    trio.run(main)
