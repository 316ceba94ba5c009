"""The media clock's wait for a tick on an OS timer, when Trio runs on its default clock.

`trio.sleep_until` wakes a task by cancelling it at the deadline; the engine's ticker pays
that path (a `Cancelled` raised with its traceback, a cancel scope unwound) every 20 ms, cold
in the caches after the kernel's sends for hundreds of forks. Waiting for a timerfd to become
readable (mediacore/_native/timer.pyx) is one epoll event and a reschedule. Measured on this
machine, a bare 20 ms wait loop: ~520 µs of CPU per tick with `trio.sleep_until`, ~350 µs on
a timerfd, ~125 µs for `time.sleep` (the cost of waking at all in this VM).

Only Trio's default clock runs on CLOCK_MONOTONIC (perf_counter() plus a fixed `offset`);
under any other clock (MockClock in tests, or an application's own) the media clock keeps
`trio.sleep_until`, so virtual time works as before. timerfd is Linux only: elsewhere the
timer's constructor raises OSError and the media clock keeps `trio.sleep_until` as well.
"""

from __future__ import annotations

from time import perf_counter

import trio

from mediacore._native.timer import TickTimer


def _offset_of_system_clock(clock) -> float | None:
    """Trio's default clock's offset (its time minus CLOCK_MONOTONIC), None for any other."""
    cls = type(clock)
    if cls.__name__ != "SystemClock" or not cls.__module__.startswith("trio."):
        return None  # the class is not public: recognised by name, and by its offset below
    offset = getattr(clock, "offset", None)
    return offset if isinstance(offset, float) else None


class OsTimerWait:
    def __init__(self, timer, offset: float) -> None:
        self._timer = timer
        self._offset = offset

    @classmethod
    def for_current_clock(cls) -> OsTimerWait | None:
        """A waiter for the running Trio clock, or None (not the default clock, no timerfd)."""
        offset = _offset_of_system_clock(trio.lowlevel.current_clock())
        if offset is None:
            return None
        try:
            return cls(TickTimer(), offset)
        except OSError:  # not Linux, or out of file descriptors: sleep_until still works
            return None

    async def sleep_until(self, deadline: float) -> float:
        """`trio.sleep_until(deadline)`, woken by the timer: a checkpoint, and returns once
        `trio.current_time() >= deadline`, with that time."""
        # Trio's SystemClock.current_time() is `offset + perf_counter()`: computed here in one
        # C call instead of three Python frames, each cold when the tick begins
        offset, timer = self._offset, self._timer
        now = offset + perf_counter()
        if now >= deadline:
            await trio.lowlevel.checkpoint()
            return offset + perf_counter()
        while now < deadline:
            timer.arm_at(deadline - offset)
            await trio.lowlevel.wait_readable(timer)
            timer.consume()
            now = offset + perf_counter()
        return now

    def close(self) -> None:
        if not self._timer.closed:
            trio.lowlevel.notify_closing(self._timer)
            self._timer.close()
