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
closed wait for the next tick's idle time. An engine so busy that its ticks leave no idle
time admits no new handshakes (their connect attempts time out), which is the admission
control it needs then.
"""

from __future__ import annotations

import math

import trio

HEADROOM_S = 0.005


class IdleGate:
    def __init__(self) -> None:
        self.open_until = math.inf  # before the clock runs, nothing waits
        self._opened = trio.Event()
        self._waiting = 0

    def open(self, until: float) -> None:
        """The ticker finished a tick's work: heavy steps may start until `until`."""
        self.open_until = until
        if self._waiting:  # most ticks nobody waits: no Event made and set every 20 ms
            opened, self._opened = self._opened, trio.Event()
            opened.set()

    async def turn(self) -> None:
        """Wait until a heavy step may start now."""
        while trio.current_time() >= self.open_until:
            self._waiting += 1
            try:
                await self._opened.wait()
            finally:
                self._waiting -= 1
