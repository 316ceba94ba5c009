"""Per-account rate limit: one token bucket per account (SPEC §2: 429 with Retry-After).

A bucket holds up to `burst` tokens and gains `rate_per_s` tokens per second; each request
takes one. Time is passed in (seconds on any monotonic clock), so the arithmetic is tested
without a clock. Buckets exist only for authenticated accounts, so their number is bounded by
the accounts that exist.
"""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be positive, not {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float) -> float:
        """Take one token for `key`: 0.0 when allowed, else the seconds until one is there."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s

    @staticmethod
    def retry_after_header(wait_s: float) -> str:
        """Retry-After in whole seconds, never 0 (a client retrying at once would fail)."""
        return str(max(1, math.ceil(wait_s)))
