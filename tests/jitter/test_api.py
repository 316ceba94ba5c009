"""JitterBuffer's Python face: arguments, errors, frames lent, concealment, adaptation."""

import array
import dataclasses
import math

import numpy as np
import pytest

from mediacore.codec import ulaw_decode, ulaw_encode
from mediacore.jitter import Codec, FrameKind, JitterBuffer, JitterStats, Mode, PutResult

RATE, FRAME = 8000, 160


def l16(value, samples=FRAME):
    return np.full(samples, value, dtype=np.int16).tobytes()


def samples(frame):
    return np.frombuffer(bytes(frame), dtype=np.int16)


def play(jb, packets, start_ms=0.0, ticks=50, frame_ms=20.0):
    """packets: (seq, ts, payload, arrival_ms); get() every frame_ms; -> [(kind, bytes)]."""
    pending = sorted(packets, key=lambda p: p[3])
    out = []
    for i in range(ticks):
        now = start_ms + i * frame_ms
        while pending and pending[0][3] <= now:
            seq, ts, data, arrival = pending.pop(0)
            jb.put(seq, ts, data, arrival)
        kind, frame = jb.get(now)
        out.append((kind, bytes(frame)))
    return out


def steady(n, value=1000, start_seq=0, start_ts=0, delay_ms=5.0, ptime_frames=1):
    return [((start_seq + i) & 0xFFFF, (start_ts + i * FRAME * ptime_frames) & 0xFFFFFFFF,
             l16(value + i, FRAME * ptime_frames), i * 20.0 * ptime_frames + delay_ms)
            for i in range(n)]


# ---- construction ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(clock_rate=500), "clock_rate"),
    (dict(frame_samples=161), "frame_samples must be even"),
    (dict(frame_samples=0), "frame_samples"),
    (dict(frame_samples=8000), "frames must last"),
    (dict(mode="elastic"), "mode must be"),
    (dict(codec="opus"), "codec must be"),
    (dict(min_delay_ms=-1), "min_delay_ms"),
    (dict(max_delay_ms=math.inf), "max_delay_ms"),
    (dict(min_delay_ms=100, max_delay_ms=50), "above max_delay_ms"),
    (dict(initial_delay_ms=500, max_delay_ms=400), "initial_delay_ms"),
    (dict(initial_delay_ms=math.nan), "initial_delay_ms"),
])
def test_bad_configuration_raises_value_error_naming_it(kwargs, message):
    args = dict(clock_rate=RATE, frame_samples=FRAME)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        JitterBuffer(args.pop("clock_rate"), args.pop("frame_samples"), **args)


def test_configuration_is_visible_and_enums_are_accepted():
    jb = JitterBuffer(16000, 320, mode=Mode.FIXED, codec=Codec.L16, initial_delay_ms=80)
    assert (jb.clock_rate, jb.frame_samples, jb.frame_bytes) == (16000, 320, 640)
    assert jb.initial_delay_ms == 80 and jb.mode == "fixed"
    assert JitterBuffer(RATE, FRAME, codec="mulaw").frame_bytes == 160
    assert "JitterBuffer(16000, 320" in repr(jb)


# ---- put arguments -----------------------------------------------------------------------

@pytest.mark.parametrize("payload, message", [
    (b"", "payload of 0 bytes"),
    (bytes(161), "payload of 161 bytes is not a whole number of 10 ms"),
    (bytes(7 * 160), "payload of 1120 bytes"),          # 70 ms: longer than 60 ms
    (array.array("d", [0.0] * 80), "format 'd'"),        # floats are not audio samples
])
def test_bad_payload_raises_value_error(payload, message):
    jb = JitterBuffer(RATE, FRAME)
    with pytest.raises(ValueError, match=message):
        jb.put(0, 0, payload, 0.0)
    assert jb.stats().packets == 0


@pytest.mark.parametrize("args, message", [
    ((65536, 0, 0.0), "seq must be"), ((-1, 0, 0.0), "seq must be"),
    ((0, 2**32, 0.0), "timestamp must be"), ((0, -5, 0.0), "timestamp must be"),
    ((0, 0, math.nan), "arrival_ms must be finite"), ((0, 0, math.inf), "arrival_ms"),
])
def test_bad_put_arguments_raise_value_error(args, message):
    jb = JitterBuffer(RATE, FRAME)
    seq, ts, arrival = args
    with pytest.raises(ValueError, match=message):
        jb.put(seq, ts, l16(0), arrival)


def test_bad_ssrc_and_now_raise_value_error():
    jb = JitterBuffer(RATE, FRAME)
    with pytest.raises(ValueError, match="ssrc"):
        jb.put(0, 0, l16(0), 0.0, ssrc=2**32)
    with pytest.raises(ValueError, match="now_ms must be finite"):
        jb.get(math.nan)


def test_payload_may_be_any_buffer_of_bytes_or_int16():
    jb = JitterBuffer(RATE, FRAME)
    assert jb.put(0, 0, bytearray(320), 0.0) is PutResult.ACCEPTED
    assert jb.put(1, 160, memoryview(bytes(320)), 20.0) is PutResult.ACCEPTED
    assert jb.put(2, 320, np.zeros(160, dtype=np.int16), 40.0) is PutResult.ACCEPTED


# ---- frames out --------------------------------------------------------------------------

def test_empty_buffer_gives_silence_of_frame_size():
    kind, frame = JitterBuffer(RATE, FRAME).get(0.0)
    assert kind is FrameKind.EMPTY and bytes(frame) == bytes(320)
    kind, frame = JitterBuffer(RATE, FRAME, codec="mulaw").get(0.0)
    assert kind is FrameKind.EMPTY and bytes(frame) == b"\xff" * 160


def test_frame_view_is_read_only_and_overwritten_by_the_next_get():
    jb = JitterBuffer(RATE, FRAME, min_delay_ms=0, initial_delay_ms=0)
    jb.put(0, 0, l16(7), 0.0)
    jb.put(1, 160, l16(9), 0.0)
    kind, frame = jb.get(0.0)
    assert kind is FrameKind.NORMAL and frame.readonly and len(frame) == 320
    with pytest.raises(TypeError):
        frame[0] = 1
    assert samples(frame)[0] == 7
    jb.get(20.0)
    assert samples(frame)[0] == 9


def test_prefetch_then_frames_in_timestamp_order_despite_reordering():
    jb = JitterBuffer(RATE, FRAME, initial_delay_ms=40, min_delay_ms=40)
    packets = steady(20)
    packets[3] = packets[3][:3] + (packets[4][3] + 5,)  # overtaken by the next packet
    packets[0] = packets[0][:3] + (packets[1][3] + 1,)  # even the first one
    out = play(jb, packets, ticks=30)
    kinds = [k for k, _ in out]
    assert kinds[:3] == [FrameKind.EMPTY, FrameKind.EMPTY, FrameKind.PREFETCH]
    normal = [samples(f)[0] for k, f in out if k is FrameKind.NORMAL]
    assert normal == list(range(1000, 1020))


def test_packets_of_10_and_60_ms_come_out_as_exact_20_ms_frames():
    signal = np.arange(6000, dtype=np.int16)
    for ptime in (80, 480):  # samples: 10 ms and 60 ms
        jb = JitterBuffer(RATE, FRAME, min_delay_ms=60, initial_delay_ms=60)
        packets = [(i, i * ptime, signal[i * ptime:(i + 1) * ptime].tobytes(),
                    i * ptime / 8 + 1.0) for i in range(len(signal) // ptime)]
        out = play(jb, packets, ticks=60)
        got = b"".join(f for k, f in out if k is FrameKind.NORMAL)
        assert got == signal[:len(got) // 2].tobytes() and len(got) >= 2 * 4000


def test_duplicate_and_late_packets_are_dropped_and_counted():
    jb = JitterBuffer(RATE, FRAME, mode="fixed", initial_delay_ms=20)
    assert jb.put(0, 0, l16(1), 0.0) is PutResult.ACCEPTED
    assert jb.put(0, 0, l16(1), 1.0) is PutResult.DUPLICATE
    assert jb.put(2, 320, l16(3), 35.0) is PutResult.ACCEPTED
    jb.get(20.0)
    jb.get(40.0)                                # frame 1 is due and missing
    assert jb.put(1, 160, l16(2), 45.0) is PutResult.LATE
    assert jb.put(1, 160, l16(2), 46.0) is PutResult.DUPLICATE
    s = jb.stats()
    assert (s.frames_late, s.frames_duplicate, s.frames_concealed) == (1, 2, 1)


def test_overflow_drops_only_the_oldest_frames():
    jb = JitterBuffer(RATE, FRAME, max_delay_ms=100, min_delay_ms=0, initial_delay_ms=0)
    results = [jb.put(i, i * FRAME, l16(i), 0.0) for i in range(30)]  # nobody calls get()
    assert PutResult.OVERFLOW in results
    s = jb.stats()
    assert s.frames_discarded == 30 - s.buffered_frames
    assert s.buffered_frames >= 100 / 20
    kind, frame = jb.get(0.0)
    assert kind is FrameKind.NORMAL and samples(frame)[0] == 30 - s.buffered_frames


def test_ssrc_change_resets_the_stream():
    jb = JitterBuffer(RATE, FRAME)
    assert jb.put(10, 1000, l16(1), 0.0, ssrc=5) is PutResult.ACCEPTED
    assert jb.put(11, 1160, l16(1), 20.0, ssrc=5) is PutResult.ACCEPTED
    assert jb.put(500, 99999, l16(1), 40.0, ssrc=6) is PutResult.RESET
    assert jb.get(40.0)[0] is FrameKind.PREFETCH
    assert jb.stats().resets == 1


def test_reset_forgets_the_stream_but_keeps_counters():
    jb = JitterBuffer(RATE, FRAME, min_delay_ms=0, initial_delay_ms=0)
    jb.put(0, 0, l16(1), 0.0)
    jb.get(0.0)
    jb.reset()
    assert jb.get(20.0)[0] is FrameKind.EMPTY
    assert jb.stats().frames_normal == 1 and jb.stats().buffered_frames == 0
    assert jb.put(4000, 123, l16(1), 30.0) is PutResult.ACCEPTED


def test_stats_are_a_frozen_dataclass_with_units():
    s = JitterBuffer(RATE, FRAME).stats()
    assert isinstance(s, JitterStats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.frames_late = 3
    names = {f.name for f in dataclasses.fields(s)}
    assert {"current_delay_ms", "min_delay_ms", "max_delay_ms", "mean_delay_ms",
            "frames_normal", "frames_concealed", "frames_late", "frames_duplicate",
            "frames_discarded", "underruns", "resets"} <= names


# ---- concealment -------------------------------------------------------------------------

def conceal_run(codec):
    jb = JitterBuffer(RATE, FRAME, codec=codec, min_delay_ms=0, initial_delay_ms=0)
    tone = (8000 * np.sin(np.arange(FRAME) * 2 * np.pi / 40)).astype(np.int16)
    data = tone.tobytes() if codec == "l16" else ulaw_encode(tone.tobytes())
    jb.put(0, 0, data, 0.0)
    jb.put(9, 9 * FRAME, data, 0.0)  # frames 1..8 are lost; 9 keeps the gap a loss
    out = [(k, bytes(f)) for k, f in (jb.get(20.0 * i) for i in range(6))]
    frames = [(k, np.frombuffer(f if codec == "l16" else ulaw_decode(f), dtype=np.int16))
              for k, f in out]
    return np.abs(tone.astype(int)), frames


@pytest.mark.parametrize("codec", ["l16", "mulaw"])
def test_missing_frames_fade_out_over_60_ms_then_silence(codec):
    tone, frames = conceal_run(codec)
    assert frames[0][0] is FrameKind.NORMAL
    assert all(k is FrameKind.CONCEALED for k, _ in frames[1:])
    energy = [float(np.abs(f.astype(int)).sum()) for _, f in frames]
    assert energy[0] > energy[1] > energy[2] > energy[3] > 0
    assert energy[1] < 0.9 * energy[0] and energy[3] < 0.25 * energy[0]
    assert energy[4] == energy[5] == 0  # after 60 ms: silence
    # the fade never exceeds the repeated frame, sample by sample (μ-law within a step)
    slack = 0 if codec == "l16" else 300
    assert all((np.abs(f.astype(int)) <= tone + slack).all() for _, f in frames[1:4])


# ---- adaptation --------------------------------------------------------------------------

def jittery(n, jitter_of, seed=1):
    rng = np.random.default_rng(seed)
    return [(i & 0xFFFF, i * FRAME, l16(1 + i % 1000), i * 20.0 + 40 + rng.uniform(0, jitter_of(i)))
            for i in range(n)]


def targets_over(packets, ticks):
    """(arrival_ms, jitter above 40 ms transit, target_delay_ms after the put) per packet."""
    jb = JitterBuffer(RATE, FRAME, min_delay_ms=20, initial_delay_ms=20, max_delay_ms=400)
    pending = sorted(packets, key=lambda p: p[3])
    out = []
    for tick in range(ticks):
        now = tick * 20.0
        while pending and pending[0][3] <= now:
            seq, ts, data, arrival = pending.pop(0)
            jb.put(seq, ts, data, arrival)
            out.append((arrival, arrival - seq * 20.0 - 40, jb.stats().target_delay_ms))
        jb.get(now)
    return out


def test_target_rises_at_once_and_decays_slowly():
    # 2 s of 0..100 ms jitter (from 4 s to 6 s) in a calm stream of 0..2 ms
    out = targets_over(jittery(1000, lambda i: 100.0 if 200 <= i < 300 else 2.0), 1000)
    assert max(t for a, _, t in out if a < 4000) < 30
    # at once: after each put the target covers that packet's jitter (2 ms bins)
    assert all(t >= j - 2 for a, j, t in out if 4000 <= a < 6100)
    assert min(t for a, _, t in out if 4500 <= a < 6100) >= 60
    # slowly: still up 3 s after the jitter ended, back down ~10 s later
    assert min(t for a, _, t in out if 6100 <= a < 9000) >= 60
    assert max(t for a, _, t in out if a > 19500) < 30


def test_one_late_packet_raises_the_target_at_once():
    packets = jittery(600, lambda i: 2.0)
    packets[205] = packets[205][:3] + (packets[205][3] + 150.0,)
    out = targets_over(packets, 600)
    late = packets[205][3]
    assert [t for a, _, t in out if a == late][0] >= 150
    assert max(t for a, _, t in out if a < late) < 30


def test_shrinking_discards_frames_spread_over_time():
    jb = JitterBuffer(RATE, FRAME, min_delay_ms=0, initial_delay_ms=300, max_delay_ms=400)
    out = play(jb, steady(300), ticks=300)
    s = jb.stats()
    assert s.frames_discarded >= 10 and s.current_delay_ms <= 25
    normal = [samples(f)[0] for k, f in out if k is FrameKind.NORMAL]
    jumps = [i for i in range(1, len(normal)) if normal[i] != normal[i - 1] + 1]
    assert len(jumps) == s.frames_discarded
    assert all(b - a >= 4 for a, b in zip(jumps, jumps[1:]))  # >= 100 ms apart


@pytest.mark.parametrize("mode", ["adaptive", "fixed"])
@pytest.mark.parametrize("ppm", [-500, 500])
def test_clock_drift_is_followed(mode, ppm):
    """The sender's clock runs 500 ppm fast or slow against the caller's: over 5 minutes that
    is 150 ms. Both modes follow it (fixed mode keeps its delay above the fastest transit),
    so frames neither go late nor pile up."""
    n = 5 * 60 * 50
    rng = np.random.default_rng(2)
    arrival = np.arange(n) * 20.0 * (1 + ppm * 1e-6) + 40 + rng.uniform(0, 10, n)
    jb = JitterBuffer(RATE, FRAME, mode=mode, min_delay_ms=0, initial_delay_ms=60)
    payload, k = l16(1), 0
    for tick in range(int(arrival[-1] // 20) + 10):
        while k < n and arrival[k] <= tick * 20.0:
            jb.put(k & 0xFFFF, (k * FRAME) & 0xFFFFFFFF, payload, float(arrival[k]))
            k += 1
        jb.get(tick * 20.0)
    s = jb.stats()
    assert s.frames_late <= 5 and s.frames_normal >= n - 200
    assert s.current_delay_ms <= 100


def test_fixed_mode_keeps_its_delay():
    jb = JitterBuffer(RATE, FRAME, mode="fixed", initial_delay_ms=100)
    play(jb, steady(200), ticks=200)
    s = jb.stats()
    assert s.frames_discarded == 0 and s.frames_inserted == 0
    assert 95 <= s.min_delay_ms <= s.max_delay_ms <= 115


def test_16_khz_l16_and_mulaw_aliases():
    jb = JitterBuffer(16000, 320, min_delay_ms=0, initial_delay_ms=0)
    assert jb.frame_bytes == 640
    tone = np.arange(320, dtype=np.int16).tobytes()
    assert jb.put(0, 0, tone, 0.0) is PutResult.ACCEPTED
    kind, frame = jb.get(0.0)
    assert kind is FrameKind.NORMAL and bytes(frame) == tone
    for alias in ("mulaw", "ulaw", "pcmu", Codec.MULAW):
        assert JitterBuffer(RATE, FRAME, codec=alias).frame_bytes == FRAME
