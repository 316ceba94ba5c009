"""Playback at real time for an ingress: the engine's playback frames, each on its tick,
plus ticks of our own when something must go out while no playback flows.

Theory of operation. `engine.read_playback(call_id)` hands out one 20 ms frame per media
clock tick, but only while a bidirectional stream plays into the call; between such streams
it blocks. The ingress still has to send DTMF then (sendDTMF may come from any stream) and
must give every packet the right tick (RTP timestamps are sampling instants). So:

- a frame's tick is the previous tick + 1 while frames flow (the engine hands out every
  tick's frame, late ticks included: counting is exact, the wall clock is not); after a
  pause longer than 3 ticks the tick comes from the time elapsed since tick 0, so the RTP
  timestamp jumps by the pause, as RFC 3550 wants;
- while `busy()` (DTMF pending) and no frame arrives within a tick + GRACE_S of the last
  one, the pacer makes the tick itself on the same 20 ms grid (frame None), and keeps
  making them every 20 ms on that grid until a frame comes again or nothing is pending;
- `wake()` (DTMF just queued) interrupts the wait, which starts again with a deadline: the
  first event packet goes out with the next playback frame if one is due, else at once.

All time is `trio.current_time()`: tests run on MockClock. Cancelling a wait in
`read_playback` loses no frame (the frame stays queued in the engine).
"""

from __future__ import annotations

import math

import trio

TICK_S = 0.020
GRACE_S = 0.010
SLACK_S = 0.001
PAUSE_TICKS = 3


class PlaybackPacer:
    def __init__(self, engine, call_id: str, busy) -> None:
        self.engine = engine
        self.call_id = call_id
        self.busy = busy
        self._t0: float | None = None
        self._last_tick = -1
        self._last_s: float | None = None
        self._own_tick = False
        self._wait: trio.CancelScope | None = None

    def wake(self) -> None:
        if self._wait is not None:
            self._wait.cancel()

    def _tick_at(self, t: float) -> int:
        if self._t0 is None:
            self._t0 = t
        grid = round((t - self._t0) / TICK_S)
        tick = grid if grid > self._last_tick + PAUSE_TICKS else self._last_tick + 1
        self._last_tick = tick
        self._last_s = t
        return tick

    async def next(self) -> tuple[int, bytes | None]:
        """The next (tick, frame); frame None for a tick of our own. Raises the engine's
        CallClosed (a KeyError) when the call has ended."""
        while True:
            busy = self.busy()
            if not busy:
                deadline = math.inf
            elif self._last_s is None:
                deadline = -math.inf
            elif self._own_tick:
                # we keep the grid (no playback is flowing); a frame due at the same instant
                # still goes first
                deadline = self._last_s + TICK_S + SLACK_S
            else:
                deadline = self._last_s + TICK_S + GRACE_S  # give the engine's frame a chance
            with trio.move_on_at(deadline) as scope:
                self._wait = scope
                try:
                    frame = await self.engine.read_playback(self.call_id)
                finally:
                    self._wait = None
                self._own_tick = False
                return self._tick_at(trio.current_time()), frame
            now = trio.current_time()
            if self.busy() and now >= deadline:  # woken early: wait again, on the new terms
                on_grid = self._last_s is not None and now - self._last_s < 2 * TICK_S
                self._own_tick = True
                return self._tick_at(self._last_s + TICK_S if on_grid else now), None
