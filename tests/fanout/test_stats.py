"""The maths of a fan-out run: lateness against each fork's own first frame, nearest-rank
percentiles, CPU per frame over the steady window, and when a run passes."""

import math

import numpy as np
import pytest

from benches.fanout import stats


def grid(frames, forks, start=100.0):
    """Write times exactly on each fork's grid, forks starting 1 ms apart."""
    return start + np.arange(frames)[:, None] * 0.020 + np.arange(forks)[None, :] * 0.001


def test_on_time_frames_have_zero_lateness_whatever_the_forks_offset():
    late = stats.lateness_ms(grid(50, 4), warmup=0)
    assert late.shape == (200,)
    assert np.allclose(late, 0, atol=1e-9)


def test_lateness_is_measured_from_the_forks_first_frame_in_ms():
    times = grid(10, 2)
    times[7, 1] += 0.0042  # fork 1, frame 7 written 4.2 ms late
    times[3, 0] += 0.0010  # fork 0, frame 3 written 1 ms late
    late = stats.lateness_ms(times, warmup=0).reshape(10, 2)
    assert late[7, 1] == pytest.approx(4.2)
    assert late[3, 0] == pytest.approx(1.0)
    assert np.count_nonzero(np.abs(late) > 1e-9) == 2


def test_a_late_first_frame_is_late_not_everything_after_it_early():
    times = grid(5, 1)
    times[0, 0] += 0.003
    assert stats.lateness_ms(times, warmup=0) == pytest.approx([3, 0, 0, 0, 0])


def test_a_client_that_starts_late_and_catches_up_shows_its_lateness():
    """Frames 0-2 written back to back 300 ms late, then on the grid again."""
    times = grid(20, 1)
    times[:3, 0] = times[3, 0] + 0.3 - 0.0001 * np.arange(3)[::-1]
    times[3:8, 0] += np.linspace(0.3, 0, 5)
    late = stats.lateness_ms(times, warmup=0)
    assert late.min() == pytest.approx(0, abs=1e-9)
    assert stats.nearest_rank(late, 99) > 200


def test_warmup_ticks_and_unwritten_frames_are_left_out():
    times = grid(10, 3)
    times[1, 0] += 0.5      # in the warm-up: ignored
    times[6, 2] = np.nan    # never written: loss, not lateness
    times[0, 1] = np.nan    # nor does a lost first frame change the reference
    late = stats.lateness_ms(times, warmup=4)
    assert late.size == 6 * 3 - 1
    assert np.allclose(late, 0, atol=1e-9)


@pytest.mark.parametrize("values, percent, expected", [
    (range(1, 101), 99, 99), (range(1, 101), 50, 50), (range(1, 101), 100, 100),
    ([4, 1, 3, 2], 50, 2), ([4, 1, 3, 2], 99, 4), ([7], 99, 7), (range(1, 201), 99, 198),
])
def test_nearest_rank(values, percent, expected):
    assert stats.nearest_rank(np.array(values, dtype=float), percent) == expected


def test_one_outlier_in_a_hundred_is_the_p100_not_hidden_in_the_p99():
    values = np.zeros(100)
    values[17] = 30.0
    assert stats.nearest_rank(values, 99) == 0
    values[18] = 30.0
    assert stats.nearest_rank(values, 99) == 30.0


def test_nearest_rank_of_nothing_is_nan():
    assert math.isnan(stats.nearest_rank(np.array([]), 99))


def test_cpu_per_frame_counts_only_frames_written_in_the_steady_window():
    times = grid(10, 5)
    times[8, 1] = np.nan
    # 6 steady ticks * 5 forks - 1 unwritten = 29 frames for 0.29 ms of CPU -> 10 µs
    assert stats.cpu_us_per_frame(1.0, 1.00029, times, warmup=4) == pytest.approx(10.0)
    assert math.isnan(stats.cpu_us_per_frame(1.0, 1.0, times, warmup=4))


def test_received_caps_each_fork_at_the_planned_frames():
    assert stats.received([50, 52, 49], frames=50) == 149


def summary(**kw):
    base = dict(client="c", transport="plain", forks=2, frames_planned=100,
                frames_written=100, frames_received=100, order_errors=0, p50_ms=0.1,
                p99_ms=4.9, max_ms=9.0, cpu_us_per_frame=5.0, stalls=0, status="done",
                sink_cpu_share=0.2)
    return stats.RunSummary(**{**base, **kw})


@pytest.mark.parametrize("change, ok", [
    ({}, True), ({"p99_ms": 5.0}, True), ({"p99_ms": 5.01}, False),
    ({"frames_received": 99}, False), ({"order_errors": 1}, False),
    ({"status": "overloaded"}, False), ({"p99_ms": math.nan}, False),
])
def test_a_run_passes_only_on_time_complete_and_in_order(change, ok):
    s = summary(**change)
    assert s.ok is ok
    assert s.loss == 100 - s.frames_received


def test_other_load_is_the_cores_busy_time_not_ours():
    assert stats.other_load(cpu_s=1.0, core_busy_s=1.5, wall_s=2.0) == 0.25
    assert stats.other_load(cpu_s=1.0, core_busy_s=0.99, wall_s=2.0) == 0.0  # tick rounding
    assert math.isnan(stats.other_load(1.0, 1.0, 0.0))
