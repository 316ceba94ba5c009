"""Heavy steps on the Trio thread (the CPU part of a TLS handshake) run in the media clock's
idle time.

Theory of operation. `do_handshake()` does up to a few milliseconds of public-key work on the
engine's one thread. When hundreds of streams connect at once, Trio runs one such step of
every one of them in the same scheduler batch, and the next tick waits for all of them: in
the fan-out benchmark a burst of 343 wss forks pushed ticks more than a second late, so every
call's audio was late. The gate lets a heavy step start only while the clock is idle: from
the end of a tick's work until `HEADROOM_S` before the next tick is due (`trio.current_time()`
is read at each step, so a batch stops admitting steps once the idle time is used up). A
tick is then delayed by at most one step, whatever the burst; steps that find the gate
closed wait for the next tick's idle time. Time spent waiting here is the engine's, not the
server's: a connect timeout given to `turn()` moves on by as much (with 1,500 wss forks
streaming and 500 more connecting at once, the last handshakes waited past the 10 s connect
timeout, were abandoned half done and started again, so the work already spent on them was
lost and some streams failed). An engine so busy that its ticks leave no idle time admits no
new handshakes; the fork's overall limit on a connection attempt ends those.

Waiters are woken one at a time, in arrival order: `open()` wakes the first, and each step
that is let through wakes the next before it runs, so the chain goes on for as long as the
idle time lasts and stops with the first waiter that finds the gate closed again (it keeps
its place at the front of the line). Waking
every waiter at each tick instead cost ~1,000 task wake-ups per tick while 1,100 wss forks
connected, a fifth of the engine's CPU, and slowed the handshakes it was pacing to ~100 per
second, so that the last ones passed the 10 s connect timeout.
"""

from __future__ import annotations

import collections
import math

import trio

HEADROOM_S = 0.005


class IdleGate:
    def __init__(self) -> None:
        self.open_until = math.inf  # before the clock runs, nothing waits
        self._waiters: collections.deque[trio.Event] = collections.deque()

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
