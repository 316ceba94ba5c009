"""Hypothesis: any sequence of puts and gets (valid or not) never crashes the buffer, and
what comes out keeps its invariants."""

import struct
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.jitter import FrameKind, JitterBuffer, PutResult

FRAME = 160

put_op = st.tuples(
    st.just("put"),
    st.integers(0, 0xFFFF),                        # seq
    st.integers(0, 0xFFFFFFFF),                    # timestamp
    st.integers(-2, 8),                            # payload: half frames (<= 0: bad length)
    st.floats(-1e4, 1e6, allow_nan=False),         # arrival_ms
    st.one_of(st.none(), st.integers(0, 3)),       # ssrc
)
get_op = st.tuples(st.just("get"), st.floats(0, 200))  # ms since the previous get
ops = st.lists(st.one_of(put_op, get_op), max_size=120)
configs = st.fixed_dictionaries({
    "mode": st.sampled_from(["adaptive", "fixed"]),
    "codec": st.sampled_from(["l16", "mulaw"]),
    "min_delay_ms": st.sampled_from([0.0, 20.0]),
    "max_delay_ms": st.sampled_from([40.0, 200.0, 1000.0]),
})


def payload(codec, halves):
    """halves * 10 ms of audio at 8 kHz."""
    return bytes(80 * halves * (2 if codec == "l16" else 1))


@given(configs, ops)
def test_random_operations_never_crash_and_counts_add_up(config, sequence):
    jb = JitterBuffer(8000, FRAME, initial_delay_ms=config["min_delay_ms"], **config)
    now, gets, puts = 0.0, [], 0
    for op in sequence:
        if op[0] == "put":
            _, seq, ts, halves, arrival, ssrc = op
            if halves <= 0 or halves > 6:  # 3 bytes, or 70..80 ms: refused, nothing stored
                with pytest.raises(ValueError, match="payload of"):
                    jb.put(seq, ts, b"x" * 3 if halves <= 0 else payload(config["codec"],
                                                                          halves), arrival)
                continue
            data = payload(config["codec"], halves)
            assert jb.put(seq, ts, data, arrival, ssrc=ssrc) in set(PutResult)
            puts += 1
        else:
            now += op[1]
            kind, frame = jb.get(now)
            assert kind in set(FrameKind)
            assert len(frame) == jb.frame_bytes
            gets.append(kind)
        s = jb.stats()
        assert s.buffered_frames >= 0 and s.buffered_frames <= 1000 // 20 + 8
    s = jb.stats()
    assert s.packets == puts
    assert s.frames_normal + s.frames_concealed + s.frames_prefetch + s.frames_empty == len(gets)
    assert s.frames_normal == gets.count(FrameKind.NORMAL)
    assert s.frames_inserted <= s.frames_concealed + s.frames_empty
    if s.frames_normal:
        assert s.min_delay_ms <= s.mean_delay_ms <= s.max_delay_ms


stream = st.lists(
    st.tuples(st.integers(0, 60),                   # frame index the packet starts at
              st.integers(1, 3),                    # frames in it
              st.floats(0, 400),                    # network delay, ms
              st.booleans()),                       # also send a copy
    min_size=1, max_size=80)


@given(stream, st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF),
       st.sampled_from(["adaptive", "fixed"]))
def test_normal_frames_come_out_once_in_timestamp_order(packets, seq0, ts0, mode):
    """One sender (timestamps near a random origin, wrapping anywhere): whatever the delays,
    reordering and copies, each NORMAL frame is a frame that was sent, in increasing
    timestamp order, never twice."""
    jb = JitterBuffer(8000, FRAME, mode=mode, max_delay_ms=1000, min_delay_ms=0,
                      initial_delay_ms=40)
    events = []
    for index, (start, frames, delay, copy) in enumerate(packets):
        data = b"".join(struct.pack("=h", (start + k) % 30000) * FRAME for k in range(frames))
        seq = (seq0 + start) & 0xFFFF
        ts = (ts0 + start * FRAME) & 0xFFFFFFFF
        arrival = start * 20.0 + delay
        events.append((arrival, 0, seq, ts, data))
        if copy:
            events.append((arrival + delay / 2, 0, seq, ts, data))
    end = max(e[0] for e in events) + 1200
    events += [(t * 20.0, 1, 0, 0, b"") for t in range(int(end // 20))]
    out = []
    for arrival, kind, seq, ts, data in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == 0:
            jb.put(seq, ts, data, arrival)
        else:
            k, frame = jb.get(arrival)
            if k is FrameKind.NORMAL:
                out.append(struct.unpack_from("=h", frame)[0])
    sent = {(s + k) % 30000 for s, n, _, _ in packets for k in range(n)}
    assert set(out) <= sent
    assert out == sorted(set(out))


def test_the_buffer_never_reads_a_clock(monkeypatch):
    """Time is an argument: with every clock in `time` broken, the buffer still works."""
    def broken(*args):
        raise AssertionError("the jitter buffer read a clock")
    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns",
                 "perf_counter_ns"):
        monkeypatch.setattr(time, name, broken)
    jb = JitterBuffer(8000, FRAME)
    for i in range(20):
        jb.put(i, i * FRAME, bytes(320), i * 20.0)
        jb.get(i * 20.0)
    assert jb.stats().frames_normal > 0
