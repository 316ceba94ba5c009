"""Every fork's timers (its stream timeout, its keepalive ping) on one engine task.

Why: a task per timer per fork made five Trio tasks per fork, and each task is a dozen
objects the garbage collector walks (its coroutines, cancel status, context, nursery); with
1,100 forks a full collection walked 220,000 objects and stopped the media clock for
170-190 ms. A timer here is one small heap entry.

    timers = Timers()
    nursery.start_soon(timers.run)
    handle = timers.call_at(deadline, callback)   # callback() runs at `deadline` (Trio time)
    handle.cancel()                               # it will not run

Callbacks run on the timers task, in deadline order (equal deadlines in the order they were
set), at `trio.current_time() >= deadline`, so MockClock tests see exact times. A callback
must not block; one that raises is logged and the others still run. Cancelled entries stay in
the heap until their deadline or until they are the majority (then the heap is rebuilt), so a
long stream timeout cancelled early does not stay for a day.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Callable

import trio

log = logging.getLogger("mediacore.timers")


class TimerHandle:
    __slots__ = ("callback", "cancelled", "_timers")

    def __init__(self, callback: Callable[[], object], timers: Timers) -> None:
        self.callback = callback
        self.cancelled = False
        self._timers = timers

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.callback = None  # drop what it holds (the fork) at once
            self._timers._cancelled_one()


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._order = itertools.count()
        self._cancelled = 0
        self._scope: trio.CancelScope | None = None

    def __len__(self) -> int:
        """Timers set and not yet run or cancelled."""
        return len(self._heap) - self._cancelled

    def call_at(self, deadline: float, callback: Callable[[], object]) -> TimerHandle:
        handle = TimerHandle(callback, self)
        heapq.heappush(self._heap, (deadline, next(self._order), handle))
        scope = self._scope
        if scope is not None and deadline < scope.deadline:
            scope.deadline = deadline  # wake the task sooner
        return handle

    def _cancelled_one(self) -> None:
        self._cancelled += 1
        if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if not entry[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0

    async def run(self) -> None:
        """Run callbacks as they fall due, until cancelled."""
        while True:
            # self._heap is read afresh each time: a cancel may have rebuilt it
            with trio.CancelScope(deadline=self._heap[0][0] if self._heap else math.inf) \
                    as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            now = trio.current_time()
            while self._heap and self._heap[0][0] <= now:
                _, _, handle = heapq.heappop(self._heap)
                if handle.cancelled:
                    self._cancelled -= 1
                    continue
                callback, handle.callback = handle.callback, None
                handle.cancelled = True  # run: cancelling it now changes nothing
                try:
                    callback()
                except Exception:  # one timer's bug never stops the others
                    log.exception("a timer callback failed")
