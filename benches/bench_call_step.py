"""The engine's per-call step of a tick: take each call's frame per track, play out, and call
the fan-out kernel once per format group. mediacore's step in C (calltick.tick_calls)
against the Python it replaced (the engine's loop and Call.tick of 2026-12-01, below), in the
same run, over the engine's own Call objects.

30 calls fed one frame each per round, each with one (empty) group of forks in the call's
format: the per-call overhead alone, without the forks' sends (bench_fanout_kernel.py has
those, and `python -m benches.fanout` the whole engine). Hot caches here; in the engine the
step runs cold after hundreds of sends, where the gap is wider (benches/README.md, "The call
step in C").
"""

from __future__ import annotations

import datetime as dt

import pytest

from benches.conftest import compare
from mediacore._native.calltick import tick_calls
from mediacore._native.fanout import fan_out
from mediacore.codec import Format
from mediacore.engine.call import Call

CALLS = 30
FRAME = b"\x55" * 160
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def make_calls() -> dict:
    calls = {}
    for i in range(CALLS):
        call = Call(f"c-{i}", Format.MULAW_8K, started_at=NOW)
        call.groups = {call.native_key: []}  # one group, its forks not part of this measure
        call.inputs[0].feed(FRAME)
        calls[call.call_id] = call
    return calls


def python_frame(track):
    """_TrackInput.frame as it was in Python."""
    if track.framer is not None:
        frame = track.framer.pop()
        return bytes(frame) if frame is not None else None
    if track.jitter is not None:
        _kind, frame = track.jitter.get(0.0)
        return bytes(frame)
    return None


def python_tick(call, ts_ms):
    """Call.tick as it was in Python (without the playout branch: no call here has one)."""
    inbound = python_frame(call.inputs[0]) or call.silence
    outbound = python_frame(call.inputs[1])
    if outbound is None:
        outbound = call.silence
    for key, writers in call.groups.items():
        if key == call.native_key:
            tin, tout = inbound, outbound
        else:
            tin = call._convert(0, key, inbound)
            tout = call._convert(1, key, outbound)
        slow = fan_out(writers, ts_ms, tin, tout)
        if slow is not None:
            for w in slow:
                w.fork.after_tick(ts_ms, tin, tout)
    return ()


def python_step(calls):
    """The engine's loop over its calls as it was."""
    for call in tuple(calls.values()):
        try:
            reached = python_tick(call, 0)
        except Exception:
            continue
        if reached:
            raise AssertionError("no call here has a playout")


def unexpected(call, arg):
    raise AssertionError(f"call {call.call_id}: {arg!r}")


def native_step(calls):
    tick_calls(calls, 0, 0.0, unexpected, unexpected)


CASES = {"mediacore calltick.tick_calls (C)": native_step,
         "Python loop and Call.tick (before)": python_step}


@pytest.mark.parametrize("impl", list(CASES))
def test_call_step(benchmark, impl):
    calls = make_calls()
    step = CASES[impl]
    inputs = [call.inputs[0] for call in calls.values()]
    pushes = [track.framer.push for track in inputs]  # the feed's core, cheap next to the step

    def one_tick():
        for push in pushes:
            push(FRAME)
        step(calls)

    compare(benchmark, f"call step, {CALLS} calls fed a frame each", impl, one_tick,
            units=CALLS, unit="call")
    # every fed frame was taken: the step ran for every call
    assert all(track.framer.pending_bytes == len(FRAME) for track in inputs)
