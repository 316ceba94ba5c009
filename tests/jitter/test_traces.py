"""Scenario traces (tests/data/jitter/*.trace, written by make_traces.py): each is played
through a JitterBuffer and its statistics checked against the tolerances in the file."""

import pytest

from mediacore.jitter import FrameKind, PutResult
from tests.jitter.trace import DATA, load, parse, run

TRACES = sorted(p.name for p in DATA.glob("*.trace"))
SCENARIOS = {"clean", "jitter20", "jitter50", "jitter100", "loss1", "loss5", "reorder10",
             "duplicates", "wraparound", "stall", "jump_forward", "jump_backward", "dtx",
             "ssrc_change", "ptime10", "ptime60", "mulaw_loss", "fixed60"}


def test_every_scenario_of_the_issue_has_a_trace():
    assert SCENARIOS <= {name.removesuffix(".trace") for name in TRACES}


@pytest.mark.parametrize("name", TRACES)
def test_trace_meets_its_expectations(name):
    outcome = run(load(name))
    assert outcome.trace.expects, "a trace without expectations checks nothing"
    assert outcome.failed_expectations() == []


@pytest.mark.parametrize("name", TRACES)
def test_normal_frames_come_out_in_timestamp_order_and_counts_add_up(name):
    outcome = run(load(name))
    counters = [c for _, k, c in outcome.frames if k is FrameKind.NORMAL]
    if outcome.trace.config.get("codec", "l16") == "l16":
        assert counters == sorted(set(counters))
    s = outcome.stats
    kinds = [k for _, k, _ in outcome.frames]
    assert s.frames_normal == kinds.count(FrameKind.NORMAL)
    assert s.frames_concealed == kinds.count(FrameKind.CONCEALED)
    assert s.frames_prefetch == kinds.count(FrameKind.PREFETCH)
    assert s.frames_empty == kinds.count(FrameKind.EMPTY)
    assert s.packets == len(outcome.results)
    assert s.resets == outcome.results.count(PutResult.RESET)


def test_the_stall_burst_plays_what_is_in_time_and_the_delay_comes_back():
    """During a 3 s stall the buffer waits up to max_delay_ms (400 ms), so the end of the
    burst still plays; the rest is dropped as late; the delay then shrinks back, and every
    frame sent after the stall plays."""
    outcome = run(load("stall.trace"))
    s = outcome.stats
    assert 100 <= s.frames_late <= 140
    assert 200 <= s.max_delay_ms <= 400 + 20  # waited, but never beyond max_delay_ms
    assert s.current_delay_ms <= 60
    sent_after = set(range(800, 1300, 2))  # counters of the frames sent after the stall
    played = {c for _, k, c in outcome.frames if k is FrameKind.NORMAL}
    assert len(sent_after - played) <= 25  # at most the discards that shrink the delay


def test_a_trace_that_misses_its_expectation_is_reported():
    trace = parse("send 40\nsend 60\nget 0 200\nexpect frames_normal == 5\n"
                  "expect frames_late == 0\n")
    failed = run(trace).failed_expectations()
    assert len(failed) == 1 and "line 4" in failed[0] and "frames_normal" in failed[0]


def test_a_malformed_trace_names_its_line():
    with pytest.raises(ValueError, match="trace line 2"):
        parse("send 40\nteleport 3\n")
