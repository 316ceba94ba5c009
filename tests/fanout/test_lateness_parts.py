"""lateness_parts.py splits a frame's lateness into its tick's late start and its place
within the tick."""

import numpy as np
import pytest

from benches.fanout.lateness_parts import parts


def grid(frames, forks, start=100.0):
    """Write times on each fork's grid, forks 1 ms apart within a tick."""
    return start + np.arange(frames)[:, None] * 0.020 + np.arange(forks)[None, :] * 0.001


def test_a_tick_that_starts_late_moves_every_fork_and_not_their_places():
    times = grid(10, 3)
    times[6] += 0.003  # the whole tick 6 begins 3 ms late
    p = parts(times, warmup=2)
    assert p["start"][6 - 2] == pytest.approx(3.0)
    assert np.allclose(p["late"][6 - 2], 3.0)
    assert np.allclose(p["within"], 0.0, atol=1e-9)
    assert np.allclose(p["span"], 2.0)
    assert np.allclose(np.delete(p["start"], 6 - 2), 0.0, atol=1e-9)


def test_a_slow_send_moves_the_forks_after_it_within_the_tick():
    times = grid(10, 3)
    times[5, 1:] += 0.004  # fork 0 on time; the sends after it took 4 ms longer
    p = parts(times, warmup=0)
    assert p["start"][5] == pytest.approx(0.0, abs=1e-9)
    assert p["within"][5].tolist() == pytest.approx([0.0, 4.0, 4.0])
    assert p["span"][5] == pytest.approx(6.0)


def test_frames_never_written_are_left_out():
    times = grid(6, 2)
    times[3, 1] = np.nan
    p = parts(times, warmup=0)
    assert np.isnan(p["late"][3, 1]) and not np.isnan(p["late"][3, 0])
    assert p["start"][3] == pytest.approx(0.0, abs=1e-9)
