"""The engine's media clock: one tick every 20 ms, without drift.

Tick n is due at `start + n * period` (never "sleep 20 ms", which drifts by every wake-up's
delay). All time comes from `trio.current_time()`, so tests run it on `MockClock` with exact
times. On Trio's default clock the wait is an OS timer (os_timer.py: cheaper to wake from than
`trio.sleep_until`), under any other clock `trio.sleep_until`; `close()` releases the timer.

A tick that runs late is still run, at once: every tick carries 20 ms of every call's audio,
so skipping one would lose audio; the lateness is recorded instead (for the tick lateness
histogram) and the clock catches up by running overdue ticks back to back.
"""

from __future__ import annotations

import bisect
import dataclasses

import trio

from mediacore.engine.os_timer import OsTimerWait

TICK_S = 0.020


# upper bounds of the lateness histogram's buckets (Prometheus-style: cumulative, le)
LATENESS_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.010, 0.020, 0.050, 0.100, 0.250, 1.0)


@dataclasses.dataclass
class ClockStats:
    ticks: int = 0
    late_ticks: int = 0          # ticks that started more than one period after they were due
    max_lateness_s: float = 0.0
    total_lateness_s: float = 0.0
    # ticks per lateness bucket (not cumulative): [i] counts lateness <= LATENESS_BUCKETS_S[i]
    # and above the bucket before; the last slot counts the rest (above one second)
    bucket_ticks: list[int] = dataclasses.field(
        default_factory=lambda: [0] * (len(LATENESS_BUCKETS_S) + 1))

    def record(self, lateness_s: float, period_s: float) -> None:
        self.ticks += 1
        self.total_lateness_s += lateness_s
        if lateness_s > self.max_lateness_s:
            self.max_lateness_s = lateness_s
        if lateness_s > period_s:
            self.late_ticks += 1
        # the first bound >= lateness (the last slot when above them all)
        self.bucket_ticks[bisect.bisect_left(LATENESS_BUCKETS_S, lateness_s)] += 1

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound s, ticks at most that late), ending with (inf, all ticks)."""
        out, running = [], 0
        for bound, count in zip((*LATENESS_BUCKETS_S, float("inf")), self.bucket_ticks):
            running += count
            out.append((bound, running))
        return out

    @property
    def mean_lateness_s(self) -> float:
        return self.total_lateness_s / self.ticks if self.ticks else 0.0


class MediaClock:
    """Iterate with `async for tick, due in clock:`; tick counts from 0, due is the tick's
    scheduled time on the Trio clock."""

    def __init__(self, period_s: float = TICK_S, *, start: float | None = None) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be positive, not {period_s}")
        self.period_s = period_s
        self._start = start
        self._next = 0
        self._waiter: OsTimerWait | None = None
        self._waiter_checked = False
        self.stats = ClockStats()

    @property
    def start(self) -> float | None:
        """Trio time of tick 0 (set when iteration begins unless given)."""
        return self._start

    def due(self, tick: int) -> float:
        assert self._start is not None
        return self._start + tick * self.period_s

    def __aiter__(self) -> MediaClock:
        # a plain async iterator, not an async generator: breaking out of the loop needs no
        # aclosing() and leaves nothing for the garbage collector to finalise
        if self._start is None:
            self._start = trio.current_time()
        if not self._waiter_checked:
            self._waiter_checked = True
            self._waiter = OsTimerWait.for_current_clock()
        return self

    @property
    def uses_os_timer(self) -> bool:
        return self._waiter is not None

    def close(self) -> None:
        """Release the OS timer (idempotent); iterating again afterwards uses sleep_until."""
        if self._waiter is not None:
            self._waiter.close()
            self._waiter = None

    async def __anext__(self) -> tuple[int, float]:
        tick = self._next
        due = self.due(tick)
        if self._waiter is not None:
            now = await self._waiter.sleep_until(due)
        else:
            await trio.sleep_until(due)
            now = trio.current_time()
        self.stats.record(now - due, self.period_s)
        self._next = tick + 1
        return tick, due
