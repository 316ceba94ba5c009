"""Heavy steps on the Trio thread (the CPU part of a TLS handshake) run in the media clock's
idle time.

Theory of operation. `do_handshake()` does up to a few milliseconds of public-key work on the
engine's one thread. When hundreds of streams connect at once, Trio runs one such step of
every one of them in the same scheduler batch, and the next tick waits for all of them: in
the fan-out benchmark a burst of 343 wss forks pushed ticks more than a second late, so every
call's audio was late. The gate lets a heavy step start only while the clock is idle: from
the end of a tick's work until `headroom_s` before the next tick is due (`trio.current_time()`
is read at each step, so a batch stops admitting steps once the idle time is used up). A
tick is then delayed by at most one step, whatever the burst; steps that find the gate
closed wait for the next tick's idle time.

The headroom is room for one step: twice the longest recent step (transport.py times the
CPU part of each, the TCP connect and every TLS handshake step, with `took()`; the longest
decays by STEP_DECAY a step, so one slow step does not shut the gate for long), at least
MIN_HEADROOM_S, at most HEADROOM_S (which holds until a step has been timed). A fixed 5 ms
shut the gate for good once a tick's work took 15 ms: with 1,650 wss forks streaming on one
core, the last hundred of a burst never got their turn and failed after a minute, although
a handshake step takes well under a millisecond here.

Time spent waiting here is the engine's, not the server's: a connect timeout given to `turn()`
moves on by as much (with 1,500 wss forks streaming and 500 more connecting at once, the last
handshakes waited past the 10 s connect timeout, were abandoned half done and started again, so
the work already spent on them was lost and some streams failed). An engine so busy that its
ticks leave no idle time admits no new handshakes; the fork's overall limit on a connection
attempt ends those.

Waiters are woken one at a time, in arrival order: `open()` wakes the first, and each step that
is let through wakes the next before it runs, so the chain goes on for as long as the idle time
lasts and stops with the first waiter that finds the gate closed again (it keeps its place at
the front of the line). Waking every waiter at each tick instead cost ~1,000 task wake-ups per
tick while 1,100 wss forks connected, a fifth of the engine's CPU, and slowed the handshakes it
was pacing to ~100 per second, so that the last ones passed the 10 s connect timeout.
"""

from __future__ import annotations

import collections
import math

import trio

HEADROOM_S = 0.005      # until a step has been timed, and at most
MIN_HEADROOM_S = 0.001
STEP_DECAY = 0.97       # per step timed: after 100 steps a slow one counts for 5 %


class IdleGate:
    def __init__(self) -> None:
        self.open_until = math.inf  # before the clock runs, nothing waits
        self._waiters: collections.deque[trio.Event] = collections.deque()
        self.step_s: float | None = None  # the longest recent step, decayed

    @property
    def waiting(self) -> int:
        """Steps waiting for idle time (each a connection attempt)."""
        return len(self._waiters)

    @property
    def headroom_s(self) -> float:
        """How long before the next tick the idle window closes (see the module's doc)."""
        if self.step_s is None:
            return HEADROOM_S
        return min(HEADROOM_S, max(MIN_HEADROOM_S, 2 * self.step_s))

    def took(self, seconds: float) -> None:
        """A step let through ran for `seconds` (Trio time: zero on MockClock)."""
        decayed = 0.0 if self.step_s is None else self.step_s * STEP_DECAY
        self.step_s = max(seconds, decayed)

    def open(self, until: float) -> None:
        """The ticker finished a tick's work: heavy steps may start until `until`."""
        self.open_until = until
        self._wake_next()

    def _wake_next(self) -> None:
        if self._waiters:
            self._waiters.popleft().set()

    async def turn(self, timeout: trio.CancelScope | None = None) -> None:
        """Wait until a heavy step may start now. `timeout` (a connect timeout's scope) does
        not run meanwhile: its deadline moves on by the time waited."""
        woken = False
        while trio.current_time() >= self.open_until:
            event = trio.Event()
            if woken:
                self._waiters.appendleft(event)  # woken too late in the window: first next
            else:
                self._waiters.append(event)
            began = trio.current_time()
            if timeout is not None:
                deadline, timeout.deadline = timeout.deadline, math.inf
            try:
                await event.wait()
            except BaseException:  # cancelled (the attempt's overall limit): leave the line
                if event.is_set():
                    self._wake_next()  # it was this one's turn: pass it on
                else:
                    self._waiters.remove(event)
                raise
            finally:
                if timeout is not None:
                    timeout.deadline = deadline + (trio.current_time() - began)
            woken = True
        self._wake_next()  # runs after this step: the chain goes on if time is left then
