"""The ramp search: doubling then bisection finds the edge within the resolution, in a
bounded number of runs."""

import pytest

from benches.fanout.ramp import largest_passing


def edge(limit):
    calls = []

    def passes(n):
        calls.append(n)
        return n <= limit
    return passes, calls


@pytest.mark.parametrize("true_edge", [10, 37, 249, 250, 251, 550, 999, 3500, 7999, 12000])
def test_finds_the_edge_within_the_resolution(true_edge):
    passes, calls = edge(true_edge)
    found = largest_passing(passes, start=250, limit=12000, resolution=0.05)
    assert found <= true_edge
    assert true_edge - found <= max(1, 0.05 * found) + 1
    assert len(calls) <= 6 + 1 + 12  # doublings + the floor probe + bisections


def test_passing_everywhere_stops_at_the_limit():
    passes, calls = edge(10**9)
    assert largest_passing(passes, start=250, limit=12000) == 12000
    assert calls == [250, 500, 1000, 2000, 4000, 8000, 12000]


def test_failing_everywhere_reports_zero():
    passes, calls = edge(0)
    assert largest_passing(passes, start=250, limit=12000, floor=10) == 0
    assert calls == [250, 10]


def test_every_run_is_a_real_point_never_repeated():
    passes, calls = edge(1234)
    largest_passing(passes, start=250, limit=12000)
    assert len(calls) == len(set(calls))


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError):
        largest_passing(lambda n: True, start=100, limit=50)
