"""Jitter buffer speed: one put() + one get() per 20 ms frame (the engine's per-call work per
tick), mediacore's native buffer beside a minimal pure-Python buffer (dict keyed by
timestamp, fixed delay, no adaptation or concealment) in the same run.

Goal (issue 3): put + get <= 150 ns per frame. Each call of the benchmarked closure moves
BATCH frames so the loop is part of the cost for all; the figure is per frame. The "loop
only" rows run the same loop computing the same arguments and calling nothing: subtract
them for the cost of put + get alone. Two streams: a clean one (every packet on time), and a
jittery one (|N(0, 20 ms)| jitter with reordering, 1 % loss).

    pytest benches/bench_jitter.py --benchmark-enable
"""

from __future__ import annotations

import itertools

import numpy as np

from benches.conftest import compare
from mediacore.jitter import JitterBuffer

BATCH = 500
FRAME = 160


class DictJitterBuffer:
    """The simplest correct-in-order buffer: frames by timestamp, played after a fixed
    delay; a missing frame is silence. The peer that shows what the native core buys."""

    def __init__(self, frame_samples: int, frame_bytes: int, delay_frames: int):
        self.frames: dict[int, bytes] = {}
        self.step = frame_samples
        self.next_ts: int | None = None
        self.delay = delay_frames
        self.silence = bytes(frame_bytes)

    def put(self, seq, timestamp, payload, arrival_ms):
        if self.next_ts is None:
            self.next_ts = timestamp - self.delay * self.step
        if timestamp >= self.next_ts and timestamp not in self.frames:
            self.frames[timestamp] = payload
            return 0
        return 1

    def get(self, now_ms):
        if self.next_ts is None:
            return 3, self.silence
        frame = self.frames.pop(self.next_ts, None)
        self.next_ts += self.step
        return (0, frame) if frame is not None else (1, self.silence)


def steady_loop(jb, frames_per_packet=1):
    """A closure that feeds BATCH frames of a clean stream and gets each one (no inner loop
    for one frame per packet: it would cost as much as the buffer)."""
    payload = bytes(2 * FRAME * frames_per_packet)
    counter = itertools.count()
    put, get = jb.put, jb.get

    def one_frame_packets():
        base = next(counter) * BATCH
        for i in range(base, base + BATCH):
            t = i * 20.0
            put(i & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, payload, t)
            get(t)

    def three_frame_packets():
        base = next(counter) * BATCH
        for i in range(base, base + BATCH, 3):
            t = i * 20.0
            put((i // 3) & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, payload, t)
            get(t)
            get(t + 20.0)
            get(t + 40.0)

    assert frames_per_packet in (1, 3)
    return one_frame_packets if frames_per_packet == 1 else three_frame_packets


def jittery_loop(jb, call=True):
    """BATCH frames through a network with |N(0, 20 ms)| jitter (packets overtake each
    other) and 1 % loss, puts and gets in time order; the same pattern every batch."""
    rng = np.random.default_rng(7)
    arrival = np.arange(BATCH) * 20.0 + 40 + np.abs(rng.normal(0, 20, BATCH))
    kept = rng.random(BATCH) >= 0.01
    events = sorted([(float(arrival[i]), 0, i) for i in range(BATCH) if kept[i]]
                    + [(i * 20.0, 1, i) for i in range(BATCH)])
    payload = bytes(2 * FRAME)
    counter = itertools.count()
    put, get = (jb.put, jb.get) if call else (None, None)

    def run():
        base = next(counter) * BATCH
        base_ms = base * 20.0
        for t, kind, i in events:
            if kind:
                get(base_ms + t)
            else:
                put((base + i) & 0xFFFF, ((base + i) * FRAME) & 0xFFFFFFFF, payload, base_ms + t)

    def bare():
        base = next(counter) * BATCH
        base_ms = base * 20.0
        for t, kind, i in events:
            if kind:
                (base_ms + t)
            else:
                ((base + i) & 0xFFFF, ((base + i) * FRAME) & 0xFFFFFFFF, payload, base_ms + t)
    return run if call else bare


def test_jittery_mediacore_adaptive(benchmark):
    jb = JitterBuffer(8000, FRAME, min_delay_ms=0, initial_delay_ms=0)
    compare(benchmark, "jitter put+get (20 ms jitter, 1 % loss)", "mediacore adaptive",
            jittery_loop(jb), units=BATCH)
    assert jb.stats().frames_normal >= BATCH * 0.9


def test_jittery_python_dict(benchmark):
    jb = DictJitterBuffer(FRAME, 2 * FRAME, delay_frames=4)
    compare(benchmark, "jitter put+get (20 ms jitter, 1 % loss)", "pure Python dict buffer",
            jittery_loop(jb), units=BATCH)


def test_jittery_loop_without_calls(benchmark):
    compare(benchmark, "jitter put+get (20 ms jitter, 1 % loss)", "loop only, no calls",
            jittery_loop(None, call=False), units=BATCH)


def test_put_get_mediacore_adaptive(benchmark):
    jb = JitterBuffer(8000, FRAME, min_delay_ms=0, initial_delay_ms=0)
    compare(benchmark, "jitter put+get (20 ms packets)", "mediacore adaptive",
            steady_loop(jb), units=BATCH)
    assert jb.stats().frames_normal >= BATCH - 1


def test_put_get_mediacore_fixed(benchmark):
    jb = JitterBuffer(8000, FRAME, mode="fixed", min_delay_ms=0, initial_delay_ms=0)
    compare(benchmark, "jitter put+get (20 ms packets)", "mediacore fixed",
            steady_loop(jb), units=BATCH)


def test_put_get_python_dict(benchmark):
    jb = DictJitterBuffer(FRAME, 2 * FRAME, delay_frames=0)
    compare(benchmark, "jitter put+get (20 ms packets)", "pure Python dict buffer",
            steady_loop(jb), units=BATCH)


def test_put_get_mediacore_60ms_packets(benchmark):
    jb = JitterBuffer(8000, FRAME, min_delay_ms=0, initial_delay_ms=0)
    compare(benchmark, "jitter put+3 gets (60 ms packets)", "mediacore adaptive",
            steady_loop(jb, 3), units=BATCH)
    assert jb.stats().frames_normal >= BATCH - 3


def test_loop_only(benchmark):
    """The same loop calling no-op methods: Python's own share of the per-frame cost."""
    class Nothing:
        def put(self, seq, timestamp, payload, arrival_ms):
            return 0

        def get(self, now_ms):
            return 0
    compare(benchmark, "jitter put+get (20 ms packets)", "loop with no-op put/get",
            steady_loop(Nothing()), units=BATCH)


def test_loop_without_calls(benchmark):
    """The same loop computing the same arguments and calling nothing: subtract this from
    a row above for the cost of put + get themselves (call overhead included)."""
    payload = bytes(2 * FRAME)
    counter = itertools.count()

    def run():
        base = next(counter) * BATCH
        for i in range(base, base + BATCH):
            t = i * 20.0
            (i & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, payload, t)
            (t)
    compare(benchmark, "jitter put+get (20 ms packets)", "loop only, no calls", run,
            units=BATCH)
