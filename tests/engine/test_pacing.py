"""The paced tick's schedule (mediacore/engine/pacing.py): when ticks are paced, at what
spacing per writer, and when that spacing changes."""

from __future__ import annotations

import pytest

from mediacore.engine.pacing import (LOWER_AT, MAX_SHARE, MIN_SPREAD_S, QUANTILE, RAISE_AT,
                                     RECOMPUTE_TICKS, WINDOW_TICKS, Pacer)

PERIOD = 0.020


def feed(pacer: Pacer, per_writer_s: float, writers: int, ticks: int = RECOMPUTE_TICKS):
    for _ in range(ticks):
        pacer.took(per_writer_s * writers, writers)


def test_small_ticks_are_not_paced():
    pacer = Pacer(PERIOD)
    feed(pacer, 5e-6, 500)  # 2.5 ms of work a tick
    assert 5e-6 * 500 < MIN_SPREAD_S
    assert pacer.spacing_s == 0.0


def test_the_spacing_is_a_high_quantile_of_the_recent_per_writer_cost():
    pacer = Pacer(PERIOD)
    # a window of per-writer costs 5.00, 5.01, ... µs, in shuffled order, from ticks too
    # small to pace until the last one (so the window's first spacing is the one read)
    costs = [(5 + i / 100) * 1e-6 for i in range(WINDOW_TICKS)]
    shuffled = costs[::2] + costs[1::2]
    for cost in shuffled[:-1]:
        pacer.took(cost * 10, 10)
        assert pacer.spacing_s == 0.0
    pacer.took(shuffled[-1] * 1500, 1500)
    assert pacer.spacing_s == pytest.approx(sorted(costs)[int(QUANTILE * (WINDOW_TICKS - 1))])


def test_the_spacing_waits_for_the_next_recompute_and_holds_through_small_changes():
    pacer = Pacer(PERIOD)
    feed(pacer, 6e-6, 2000, RECOMPUTE_TICKS - 1)
    assert pacer.spacing_s == 0.0  # nothing taken before RECOMPUTE_TICKS ticks
    feed(pacer, 6e-6, 2000, 1)
    assert pacer.spacing_s == pytest.approx(6e-6)
    # the cost creeps up by less than RAISE_AT: every fork keeps its place
    feed(pacer, 6e-6 * (1 + RAISE_AT / 2), 2000, WINDOW_TICKS)
    assert pacer.spacing_s == pytest.approx(6e-6)
    # more than that is followed as soon as it is the quantile (a tenth of the window)
    feed(pacer, 7e-6, 2000, 2 * RECOMPUTE_TICKS)
    assert pacer.spacing_s == pytest.approx(7e-6)


def test_the_spacing_falls_only_when_the_cost_falls_well_below_it():
    pacer = Pacer(PERIOD)
    feed(pacer, 8e-6, 1500, WINDOW_TICKS)  # e.g. the ticks while streams connect
    assert pacer.spacing_s == pytest.approx(8e-6)
    feed(pacer, 8e-6 * (1 - LOWER_AT / 2), 1500, WINDOW_TICKS)
    assert pacer.spacing_s == pytest.approx(8e-6)  # only idle time is lost meanwhile
    feed(pacer, 5e-6, 1500, WINDOW_TICKS)
    assert pacer.spacing_s == pytest.approx(5e-6)


def test_fewer_writers_never_leave_a_spacing_above_the_cap():
    pacer = Pacer(PERIOD)
    feed(pacer, 8e-6, 2000, WINDOW_TICKS)
    feed(pacer, 8e-6, 2200)  # more forks at the same cost: 17.6 ms, above the cap
    assert pacer.spacing_s == pytest.approx(MAX_SHARE * PERIOD / 2200)


def test_paced_writes_end_by_the_max_share_of_the_period():
    pacer = Pacer(PERIOD)
    feed(pacer, 9e-6, 2000)  # 18 ms of work a tick
    assert pacer.spacing_s == pytest.approx(MAX_SHARE * PERIOD / 2000)


def test_pacing_stops_when_the_work_falls_below_the_threshold():
    pacer = Pacer(PERIOD)
    feed(pacer, 6e-6, 2000, WINDOW_TICKS)
    assert pacer.spacing_s > 0
    feed(pacer, 6e-6, 200, WINDOW_TICKS)  # most streams ended: 1.2 ms a tick
    assert pacer.spacing_s == 0.0
    feed(pacer, 6e-6, 0, RECOMPUTE_TICKS)  # no writers at all
    assert pacer.spacing_s == 0.0


def test_the_spread_is_the_spacing_over_the_last_ticks_writers():
    pacer = Pacer(PERIOD)
    assert pacer.spread_s == 0.0
    feed(pacer, 6e-6, 2000)
    assert pacer.spread_s == pytest.approx(0.012)
