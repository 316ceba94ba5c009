"""The call step in C (mediacore/_native/calltick.pyx) on the engine's own Call, with real
fan-out writers over socket pairs: what each fork receives per tick (fed audio, silence,
jitter-buffered packets, transcoded audio, playback), the forks handed back to their Python,
and the error boundaries (a fork's, a call's)."""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import socket
import time
import types

import pytest

from mediacore._native.calltick import PAUSE_MIN_S, CallBase, pause_s, tick_call, tick_calls
from mediacore._native.fanout import FIRST, NOT_READY, DirectWriter
from mediacore.codec import ByteOrder, Format, Transcoder
from mediacore.engine.call import Call
from mediacore.engine.playout import Playout
from mediacore.wire import make_profile
from tests.wire.decoders import websockets_messages

T0 = 1_705_312_200_000
NOW = dt.datetime(2024, 1, 15, tzinfo=dt.timezone.utc)


class FakeFork:
    """What the tick calls back on a fork the kernel hands back (Fork.after_tick and its
    error boundary), recorded."""

    def __init__(self, fmt: Format, order: ByteOrder = ByteOrder.LE, *, tracks=("inbound",),
                 stream_id="s-1", fail_after_tick=False):
        self.params = types.SimpleNamespace(content_type=fmt, l16_byte_order=order,
                                            bidirectional=False)
        self.stream_id = stream_id
        self.profile = make_profile("plivo", stream_id=stream_id, call_id="c-1",
                                    account_id="A1", tracks=tracks, format=fmt.value)
        self.profile.start(T0)
        index = tuple(0 if t == "inbound" else 1 for t in tracks)
        self.w = DirectWriter(self, self.profile.encoder, index, collections.deque(),
                              bytearray())
        self.after = []       # (outcome, inbound, outbound) per after_tick
        self.failed = []
        self.fail_after_tick = fail_after_tick
        self.sockets = socket.socketpair()
        self.sockets[0].setblocking(False)
        self.w.attach(self.sockets[0], None, 4096)
        self.w.open = True

    def after_tick(self, ts_ms, inbound, outbound):
        self.after.append((self.w.outcome, inbound, outbound))
        if self.w.outcome == FIRST:
            self.w.first_pending = False
        if self.fail_after_tick:
            raise RuntimeError("a bug in the fork")

    def fail_internal(self, exc):
        self.failed.append(exc)

    def received(self) -> list[dict]:
        peer = self.sockets[1]
        peer.setblocking(False)
        data = bytearray()
        while True:
            try:
                data += peer.recv(1 << 16)
            except BlockingIOError:
                break
        return [json.loads(t) for t in websockets_messages(bytes(data))]

    def payloads(self, track="inbound") -> list[bytes]:
        return [base64.b64decode(m["media"]["payload"]) for m in self.received()
                if m["event"] == "media" and m["media"]["track"] == track]

    def close(self):
        self.w.detach()
        for s in self.sockets:
            s.close()


@pytest.fixture
def forks():
    made = []
    yield made
    for f in made:
        f.close()


def call_with(forks, *specs, fmt=Format.MULAW_8K, call_id="c-1"):
    call = Call(call_id, fmt, started_at=NOW)
    for spec in specs:
        fork = FakeFork(*spec[:2], **spec[2]) if len(spec) > 2 else FakeFork(*spec)
        forks.append(fork)
        call.add_fork(fork)
    return call


def test_fed_audio_goes_out_frame_by_frame_then_silence(forks):
    call = call_with(forks, (Format.MULAW_8K, ByteOrder.LE, {"tracks": ("inbound", "outbound")}))
    audio = bytes(range(160)) + bytes(range(255, 95, -1)) + b"\x01" * 80  # 2.5 frames
    call.inputs[0].feed(audio)
    for k in range(1, 4):
        assert tick_call(call, T0 + 20 * k, 20.0 * k) == ()
    fork = forks[0]
    got = fork.received()
    inbound = [base64.b64decode(m["media"]["payload"]) for m in got
               if m["media"]["track"] == "inbound"]
    outbound = [base64.b64decode(m["media"]["payload"]) for m in got
                if m["media"]["track"] == "outbound"]
    assert inbound == [audio[:160], audio[160:320], b"\xff" * 160]  # the half frame waits
    assert outbound == [b"\xff" * 160] * 3                          # μ-law silence
    assert [int(m["media"]["timestamp"]) for m in got[::2]] == [T0 + 20, T0 + 40, T0 + 60]
    assert call.inputs[0].framer.pending_bytes == 80


def test_jitter_buffered_packets_reach_the_forks(forks):
    call = call_with(forks, (Format.MULAW_8K,))
    for seq in range(3):
        call.inputs[0].feed_packet(seq, seq * 160, bytes([seq + 1]) * 160, 0.0, None)
    for k in range(1, 8):
        tick_call(call, T0 + 20 * k, 100.0 + 20 * k)
    got = forks[0].payloads()
    # the packets in order, then the buffer's concealment, then silence: a frame every tick
    assert got[:3] == [b"\x01" * 160, b"\x02" * 160, b"\x03" * 160]
    assert len(got) == 7 and all(len(p) == 160 for p in got) and got[-1] == b"\xff" * 160


def test_each_format_group_gets_its_own_transcoding_once(forks):
    call = call_with(forks, (Format.MULAW_8K,), (Format.L16_16K, ByteOrder.BE),
                     (Format.L16_16K, ByteOrder.BE, {"stream_id": "s-2"}))
    audio = bytes(range(160))
    call.inputs[0].feed(audio)
    tick_call(call, T0 + 20, 20.0)
    expected = Transcoder(Format.MULAW_8K, Format.L16_16K, dst_byte_order="be").process(audio)
    assert forks[0].payloads() == [audio]
    assert forks[1].payloads() == forks[2].payloads() == [bytes(expected)]


def test_playback_mixes_into_outbound_and_reports_checkpoints(forks):
    call = call_with(forks, (Format.L16_8K, ByteOrder.LE, {"tracks": ("outbound",)}),
                     fmt=Format.L16_8K)
    call.playout = Playout(Format.L16_8K)
    call.playout.add_audio(b"\x10\x00" * 160, Format.L16_8K, ByteOrder.LE)  # one frame
    call.playout.add_mark("end")
    call.inputs[1].feed(b"\x01\x00" * 160)
    assert tick_call(call, T0 + 20, 20.0) == ["end"]
    assert tick_call(call, T0 + 40, 40.0) == []
    assert forks[0].payloads("outbound") == [b"\x11\x00" * 160, bytes(320)]
    assert [bytes(f) for f in call.playback] == [b"\x10\x00" * 160, bytes(320)]


def test_forks_the_kernel_hands_back_run_their_python_with_the_ticks_frames(forks):
    call = call_with(forks, (Format.MULAW_8K,), (Format.MULAW_8K, ByteOrder.LE,
                                                 {"stream_id": "s-2"}))
    waiting = forks[1]
    waiting.w.open = False  # connecting: the tick is queued by the fork's Python
    call.inputs[0].feed(b"\x07" * 160)
    tick_call(call, T0 + 20, 20.0)
    assert [o for o, _, _ in forks[0].after] == [FIRST]
    assert waiting.after == [(NOT_READY, b"\x07" * 160, b"\xff" * 160)]
    assert waiting.payloads() == []


def test_a_fork_whose_python_fails_ends_alone(forks):
    call = call_with(forks, (Format.MULAW_8K, ByteOrder.LE, {"fail_after_tick": True}),
                     (Format.MULAW_8K, ByteOrder.LE, {"stream_id": "s-2"}))
    tick_call(call, T0 + 20, 20.0)
    assert [str(e) for e in forks[0].failed] == ["a bug in the fork"]
    assert forks[1].failed == [] and len(forks[1].payloads()) == 1


def test_tick_calls_reports_checkpoints_and_keeps_going_past_a_broken_call(forks):
    good = call_with(forks, (Format.MULAW_8K,), call_id="good")
    good.playout = Playout(Format.MULAW_8K)
    good.playout.add_mark("now")

    class Broken(CallBase):
        call_id = "broken"

    broken = Broken()  # inputs, groups and silence never set
    calls = {"broken": broken, "good": good}
    reached, errors = [], []
    tick_calls(calls, T0 + 20, 20.0, lambda c, names: reached.append((c.call_id, names)),
               lambda c, exc: errors.append((c.call_id, type(exc), str(exc))))
    assert reached == [("good", ["now"])]
    assert errors == [("broken", TypeError, "a call's inputs must be two TrackInputBase, "
                                            "not None")]
    assert len(forks[0].payloads()) == 1


@pytest.mark.parametrize("bad", [None, "not a call"])
def test_tick_calls_names_what_is_not_a_call(bad):
    errors = []
    tick_calls({"x": bad}, T0, 0.0, None, lambda c, exc: errors.append(exc))
    assert len(errors) == 1 and isinstance(errors[0], TypeError)


def test_a_call_whose_inputs_are_not_track_inputs_is_refused_by_name():
    call = Call("c-1", Format.MULAW_8K, started_at=NOW)
    call.inputs = (None, None)
    with pytest.raises(TypeError, match="inputs must be two TrackInputBase"):
        tick_call(call, T0, 0.0)
    call.inputs = ("x", "y")
    with pytest.raises(TypeError, match=r"inputs must be two TrackInputBase, not \('x', 'y'\)"):
        tick_call(call, T0, 0.0)


def test_the_engine_logs_a_broken_call_and_ticks_the_others(caplog):
    import trio
    import trio.testing

    from mediacore import Engine

    def failures():
        return [r for r in caplog.records if r.getMessage() == "call broken failed in a tick"]

    async def main():
        async with Engine() as engine:
            engine.open_call("broken", format=Format.MULAW_8K)
            engine.open_call("fine", format=Format.MULAW_8K)
            engine._call("broken").inputs = None  # a bug's stand-in
            engine.feed("fine", "inbound", bytes(160 * 10))
            first = engine.clock.stats.ticks
            while engine.clock.stats.ticks < first + 5:
                await trio.sleep(0.005)
            # five ticks: five frames taken from the fine call, five failures logged
            assert engine._call("fine").inputs[0].framer.pending_bytes == 160 * 5
            assert len(failures()) == 5
            assert all(r.exc_info[0] is TypeError for r in failures())

    with caplog.at_level("ERROR", logger="mediacore.engine"):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def three_calls_of_two(forks):
    return {f"c-{i}": call_with(forks, (Format.MULAW_8K,), (Format.MULAW_8K, ByteOrder.LE,
                                                            {"stream_id": "s-2"}),
                                call_id=f"c-{i}") for i in range(3)}


def test_tick_calls_counts_the_writers_it_ticked_and_its_work(forks):
    calls = three_calls_of_two(forks)
    started = time.monotonic()
    writers, work_s, paused_s = tick_calls(calls, T0, 0.0, None, None)
    assert writers == 6 and paused_s == 0.0
    assert 0 < work_s <= time.monotonic() - started
    assert all(len(f.payloads()) == 1 for f in forks)


def test_a_paced_tick_starts_no_call_before_its_place_in_the_schedule(forks):
    # 3 calls of 2 writers, 5 ms per writer from now: the second call may start 10 ms in, the
    # third 20 ms in; nothing waits after the last call, and the pauses are not work
    calls = three_calls_of_two(forks)
    started = time.monotonic()
    writers, work_s, paused_s = tick_calls(calls, T0, 0.0, None, None, 0.005)
    elapsed = time.monotonic() - started
    assert writers == 6
    assert elapsed >= 0.020 and paused_s >= 0.019  # a sleep ends at its deadline, not before
    assert work_s + paused_s <= elapsed
    assert all(len(f.payloads()) == 1 for f in forks)


def test_a_late_tick_keeps_the_schedule_of_its_due_time(forks):
    # due 30 ms ago: every place (10 and 20 ms after the due time) has passed, no pause;
    # due 10 ms ago: the third call's place is 10 ms from now
    calls = three_calls_of_two(forks)
    assert tick_calls(calls, T0, 0.0, None, None, 0.005, 0.030)[2] == 0.0
    assert tick_calls(calls, T0 + 20, 20.0, None, None, 0.005, 0.010)[2] >= 0.009


@pytest.mark.parametrize("done, now, expected", [
    (4, 100.000, 0.020),    # 20 ms ahead of the 5th writer's place: pause until it
    (4, 100.0185, 0.0015),  # more than PAUSE_MIN_S ahead pauses
    (4, 100.0195, 0.0),     # less than that goes straight on
    (4, 100.030, 0.0),      # behind the schedule goes straight on
    (0, 99.990, 0.010),
])
def test_the_pause_is_until_the_next_writers_place_when_far_enough_ahead(done, now, expected):
    assert pause_s(done, 100.0, 0.005, now) == pytest.approx(expected, abs=1e-9)
    assert PAUSE_MIN_S == 0.001


def test_an_unpaced_tick_never_pauses():
    assert pause_s(10, 100.0, 0.0, 0.0) == 0.0
