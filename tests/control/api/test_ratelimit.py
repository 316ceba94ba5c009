"""The token bucket behind 429 (times are given, so no clock is involved)."""

from control.api.ratelimit import RateLimiter


def test_burst_then_refill_at_the_rate():
    limiter = RateLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.take("a", 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 100.0) == 0.5          # one token needs 0.5 s at 2/s
    assert limiter.take("a", 100.25) == 0.25        # half a token came in
    assert limiter.take("a", 100.5) == 0.0
    assert limiter.take("b", 100.5) == 0.0          # accounts have their own buckets


def test_bucket_never_holds_more_than_the_burst():
    limiter = RateLimiter(rate_per_s=10.0, burst=2)
    limiter.take("a", 0.0)
    assert [limiter.take("a", 1000.0) for _ in range(3)][2] > 0


def test_retry_after_is_whole_seconds_and_never_zero():
    assert RateLimiter.retry_after_header(0.01) == "1"
    assert RateLimiter.retry_after_header(2.2) == "3"
