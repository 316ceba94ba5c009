"""The media clock's OS timer (mediacore/_native/timer.pyx): a timerfd that becomes readable
at an absolute CLOCK_MONOTONIC time. Real time, in milliseconds: select() says when the fd
became readable, and consume() how often it expired."""

from __future__ import annotations

import math
import os
import select
import sys
import time

import pytest

from mediacore._native import timer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="timerfd is Linux only")


def readable(t, timeout: float) -> bool:
    return bool(select.select([t], [], [], timeout)[0])


def test_it_expires_at_the_time_given_not_before():
    t = timer.TickTimer()
    try:
        due = time.monotonic() + 0.030
        t.arm_at(due)
        assert not readable(t, 0) and t.consume() == 0
        assert readable(t, 1.0)
        assert time.monotonic() >= due
        assert t.consume() == 1
        assert not readable(t, 0) and t.consume() == 0  # one-shot: cleared, not re-armed
    finally:
        t.close()


def test_a_time_already_past_expires_at_once():
    t = timer.TickTimer()
    try:
        for past in (0.0, time.monotonic() - 5.0):
            t.arm_at(past)
            assert readable(t, 0.5) and t.consume() == 1
    finally:
        t.close()


def test_arming_again_replaces_the_setting_and_clears_an_unread_expiry():
    t = timer.TickTimer()
    try:
        t.arm_at(0.0)
        assert readable(t, 0.5)
        t.arm_at(time.monotonic() + 3600)  # the expiry above is no longer pending
        assert not readable(t, 0.02) and t.consume() == 0
    finally:
        t.close()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_a_bad_time_is_refused_by_name(bad):
    t = timer.TickTimer()
    try:
        with pytest.raises(ValueError, match="finite, non-negative time"):
            t.arm_at(bad)
    finally:
        t.close()


def test_close_releases_the_fd_and_a_closed_timer_refuses_use():
    t = timer.TickTimer()
    fd = t.fileno()
    os.fstat(fd)
    assert repr(t) == f"TickTimer(fd={fd})" and not t.closed
    t.close()
    t.close()  # idempotent
    assert t.closed and repr(t) == "TickTimer(closed)"
    with pytest.raises(OSError):
        os.fstat(fd)
    for call in (t.fileno, t.consume, lambda: t.arm_at(1.0)):
        with pytest.raises(ValueError, match="the timer is closed"):
            call()


def test_a_dropped_timer_closes_its_fd():
    t = timer.TickTimer()
    fd = t.fileno()
    del t
    with pytest.raises(OSError):
        os.fstat(fd)
