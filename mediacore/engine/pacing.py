"""Paced ticks: each fork's frame leaves at the same place in every tick.

Theory of operation. One ticker writes every fork's frame in a fixed order, so fork k's frame
leaves about k writes after the tick is due. What a write costs is not steady: on the shared
machines this runs on, the same 2,000 plain forks took 11 ms of one tick and 15 ms of the
next for seconds at a time (the kernel's share of each send varies with what else the host
does). Fork k's cadence then shifts with it: the last forks' frames came up to 6 ms later in
slow stretches than in fast ones, while the engine used only 60-80 % of its core. A server
sees that as jitter, and the fan-out benchmark counts it as lateness (a frame's lateness is
measured from its fork's earliest place in the grid).

So when a tick's work is large, the ticker keeps a schedule: the writers after the first k
are not started before `due + k * spacing_s`. A tick that runs ahead of it pauses between
two calls (mediacore/_native/calltick.pyx, `tick_calls`; without the GIL, and only when at
least 1 ms ahead, since every pause costs a wake-up); a tick that runs behind goes straight
on, as before. `spacing_s` is a high quantile (QUANTILE) of the recent per-writer cost, so
most ticks run at or ahead of the schedule and the places stay where they were. Every change
of the spacing moves every fork's place (the frames on one side of the move then look late
against the other), so it changes rarely: up as soon as the quantile is more than RAISE_AT
above it (ticks behind the schedule make late frames themselves), down only when the
quantile is more than LOWER_AT below it (a spacing too large costs only idle time, and
one taken while streams connect, when ticks also run the connecting forks' Python, can be).
Paced writes end by MAX_SHARE of the period whatever the cost, so the rest stays idle time
for TLS handshakes and the readers: at 85 %, in one of two runs some of 1,750 wss forks found
no idle time to connect in within a minute while the others streamed.

Pacing is off while a tick's work is small (below MIN_SPREAD_S): a few milliseconds of work
cannot stray by much, and pauses would only cost wake-ups. It runs on Trio's default clock
only (the pause is real time, in C): under MockClock the engine never paces, so virtual time
in tests is what it was.
"""

from __future__ import annotations

import collections

WINDOW_TICKS = 250       # the per-writer costs the spacing is taken from (5 s of ticks)
RECOMPUTE_TICKS = 25     # how often the spacing is taken again
QUANTILE = 0.9
RAISE_AT = 0.05          # the spacing rises when the quantile is this much (relative) above
LOWER_AT = 0.20          # and falls when it is this much below
MIN_SPREAD_S = 0.004     # a tick's work below this is not paced
MAX_SHARE = 0.75         # paced writes end by this share of the period


class Pacer:
    """Feed it every tick's work with `took(work_s, writers)`; `spacing_s` is the per-writer
    spacing of the schedule, 0.0 when ticks are not paced."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.spacing_s = 0.0
        self._costs: collections.deque[float] = collections.deque(maxlen=WINDOW_TICKS)
        self._writers = 0
        self._ticks = 0

    @property
    def spread_s(self) -> float:
        """How long a paced tick spreads its writes over now (0.0: ticks are not paced)."""
        return self.spacing_s * self._writers

    def took(self, work_s: float, writers: int) -> None:
        """A tick wrote `writers` writers in `work_s` of work (pauses not counted)."""
        self._writers = writers
        if writers > 0:
            self._costs.append(work_s / writers)
        self._ticks += 1
        if self._ticks % RECOMPUTE_TICKS == 0:
            self._recompute()

    def _recompute(self) -> None:
        if not self._costs or self._writers == 0:
            self.spacing_s = 0.0
            return
        costs = sorted(self._costs)
        cost = costs[int(QUANTILE * (len(costs) - 1))]
        if cost * self._writers < MIN_SPREAD_S:
            self.spacing_s = 0.0
            return
        cap = MAX_SHARE * self.period_s / self._writers
        spacing = self.spacing_s
        if (cost > spacing * (1 + RAISE_AT) or cost < spacing * (1 - LOWER_AT)
                or spacing > cap):
            self.spacing_s = min(cost, cap)
