"""Find the largest fork count that passes: double from `start` while it passes, then bisect
between the last pass and the first failure. Every point is one real run, so the number of
runs is bounded: log2(limit / start) doublings plus log2(1 / resolution) bisections."""

from __future__ import annotations

from typing import Callable


def largest_passing(passes: Callable[[int], bool], *, start: int, limit: int,
                    resolution: float = 0.05, floor: int = 10) -> int:
    """The largest n in [floor, limit] found passing (0 if even `floor` fails), within
    `resolution` (relative) of the true edge, assuming passing is monotonic in n."""
    if not 0 < floor <= start <= limit:
        raise ValueError(f"need 0 < floor <= start <= limit, got {floor}, {start}, {limit}")
    lo, hi = 0, None
    n = start
    while True:                                   # doubling: at most log2(limit/start) + 1 runs
        if passes(n):
            lo = n
            if n >= limit:
                return n
            n = min(limit, n * 2)
        else:
            hi = n
            break
    if lo == 0:                                   # even `start` fails: look below it
        lo_try = floor
        if not passes(lo_try):
            return 0
        lo = lo_try
    while hi - lo > max(1, int(lo * resolution)):  # bisection: halves the gap each run
        mid = (lo + hi) // 2
        if passes(mid):
            lo = mid
        else:
            hi = mid
    return lo
