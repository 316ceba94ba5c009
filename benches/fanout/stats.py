"""The maths of a run: lateness per frame, percentiles, CPU per frame, pass/fail.

Lateness of frame n of a fork = write time of n - (the fork's first frame time + n * 20 ms),
the fork's own start as reference, so connection order does not count as lateness. The
start is taken as min over k of (write time of k - k * 20 ms): no frame can be written
before it is due, so this is frame 0's time when frame 0 was on time (the issue's formula),
and stays right when frame 0 itself was late. Measured from a late frame 0, every later
frame would look early (negative lateness) and a client that started late and caught up
would pass with a "p99" hundreds of ms below zero; this way lateness is never negative.
Percentiles are nearest-rank (the smallest value with at least p % of the values at or below
it), so p99 of 100 values is the 99th smallest and a single outlier in 100 does not hide.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

TICK_S = 0.020
P99_LIMIT_MS = 5.0


def lateness_ms(times: np.ndarray, warmup: int) -> np.ndarray:
    """Lateness in ms of every written steady-state frame (ticks >= warmup) of
    `times[frames, forks]`; frames never written (NaN) are left out (they count as loss)."""
    ticks = np.arange(times.shape[0], dtype=np.float64)[:, None]
    on_grid = times - ticks * TICK_S
    with np.errstate(invalid="ignore"):
        start = np.fmin.reduce(on_grid, axis=0)  # NaN-skipping min over each fork's frames
    late = on_grid - start
    steady = late[warmup:].ravel()
    return steady[~np.isnan(steady)] * 1e3


def nearest_rank(values: np.ndarray, percent: float) -> float:
    if values.size == 0:
        return math.nan
    rank = max(1, math.ceil(percent / 100 * values.size))
    return float(np.partition(values, rank - 1)[rank - 1])


@dataclasses.dataclass(frozen=True)
class RunSummary:
    client: str
    transport: str
    forks: int
    frames_planned: int     # forks * frames per fork
    frames_written: int     # send calls that returned (client side)
    frames_received: int    # media messages the sink counted, at most `frames` per fork
    order_errors: int       # forks whose numbering broke (sink's first gap)
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_us_per_frame: float  # client process CPU over the steady window / frames in it
    stalls: int             # sends that did not complete at once (socket buffer full)
    status: str             # the client's last status (done, overloaded, failed, ...)
    sink_cpu_share: float   # sink CPU / wall while the client ran: near 1 = sink-bound
    first_gap: str | None = None
    other_load: float = math.nan  # share of the client's core busy with anything but it

    @property
    def loss(self) -> int:
        return self.frames_planned - self.frames_received

    @property
    def ok(self) -> bool:
        return (self.status == "done" and self.loss == 0 and self.order_errors == 0
                and self.p99_ms <= P99_LIMIT_MS)


def cpu_us_per_frame(cpu_start: float, cpu_end: float, times: np.ndarray, warmup: int) -> float:
    """Client CPU seconds over the steady window per frame written in it, in µs."""
    frames = int(np.count_nonzero(~np.isnan(times[warmup:])))
    if frames == 0 or not cpu_end > cpu_start:
        return math.nan
    return (cpu_end - cpu_start) / frames * 1e6


def other_load(cpu_s: float, core_busy_s: float, wall_s: float) -> float:
    """Share of the client core's time over the steady window spent on anything but the
    client (other processes, interrupts charged to no one): a shared machine shows here."""
    if not wall_s > 0:
        return math.nan
    return max(0.0, (core_busy_s - cpu_s) / wall_s)


def received(per_fork_media: list[int], frames: int) -> int:
    """Frames the sink got that were planned (a fork cannot make up for another's loss)."""
    return sum(min(count, frames) for count in per_fork_media)
