"""AudioSocket ingress with a real TCP client speaking Asterisk's framing, on MockClock:
audio and digits reach the stream, playback comes back at real time, hang-up both ways,
and a bad connection ends only itself, with a log line."""

import json
import logging
import uuid

import numpy as np
import pytest
import trio

from mediacore.ingress.audiosocket import HANGUP, FrameReader, Kind, encode, encode_uuid
from tests.engine.conftest import run_mock
from tests.engine.servers import receive_all
from tests.ingress.helpers import hub_serving, media_payloads, play_audio_message

CALL_A = "6d1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
CALL_B = "0f9e8d7c-6b5a-4948-b7c6-d5e4f3a2b1c0"


def ramp_frames(n: int, size: int = 320) -> list[bytes]:
    return [(np.arange(size // 2, dtype="<i2") + 100 * i + 1).tobytes() for i in range(n)]


async def connect(hub, call_id: str | None):
    stream = await trio.open_tcp_stream("127.0.0.1", hub.audiosocket_port)
    if call_id is not None:
        await stream.send_all(encode_uuid(call_id))
    return stream


async def read_frames(stream, seconds: float):
    """(arrival time, frame) until the peer closes or `seconds` pass; and whether it closed."""
    reader, frames, closed = FrameReader(), [], False
    with trio.move_on_after(seconds):
        while True:
            data = await stream.receive_some(65536)
            if not data:
                closed = True
                break
            frames += [(trio.current_time(), f) for f in reader.feed(data)]
    return frames, closed


def test_audio_in_playback_out_dtmf_and_the_callers_hang_up(certs):
    frames_in = ramp_frames(25)
    played = np.arange(8000 // 5, dtype="<i2").tobytes()  # 200 ms of L16 8 kHz

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))  # start
        await ws.send_message(play_audio_message(played, "audio/x-l16", 8000))
        await receive_all(conn, ws)

    async def main():
        async with hub_serving(certs, behaviour, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            hub.expect_audiosocket_call(CALL_A, call_from="+1555", call_to="+1666")
            assert engine.get_call(CALL_A).call_from == "+1555"
            await engine.start_stream(CALL_A, {"service_url": f"wss://127.0.0.1:{server.port}/",
                                               "bidirectional": True})
            client = await connect(hub, CALL_A)
            out = []

            async def read_all():
                out.extend((await read_frames(client, 10))[0])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_all)
                start = trio.current_time()
                for i, frame in enumerate(frames_in):
                    await trio.sleep_until(start + 0.02 * i)
                    await client.send_all(encode(Kind.AUDIO, frame))
                await client.send_all(encode(Kind.DTMF, b"7"))
                await trio.sleep(0.3)
                await client.send_all(HANGUP)
            await trio.sleep(0.1)
            conn = server.connections[0]
            got = media_payloads(conn)
            digits = [m["dtmf"]["digit"] for m in conn.events("dtmf")]
            stop = conn.events("stop")
            await client.aclose()
        assert ended == [(CALL_A, "audiosocket_hangup")]
        assert stop[0]["stop"]["reason"] == "call_hangup"
        assert digits == ["7"]
        joined = b"".join(got)
        assert b"".join(frames_in) in joined  # every sample, in order
        audio_out = [(t, f) for t, f in out if f.kind is Kind.AUDIO]
        assert audio_out and all(len(f.payload) == 320 for _, f in audio_out)
        times = [t for t, _ in audio_out]
        assert all(b - a == pytest.approx(0.020, abs=1e-6) for a, b in zip(times, times[1:]))
        assert played in b"".join(f.payload for _, f in audio_out)
    run_mock(main)


def test_a_hang_up_from_the_api_sends_the_hang_up_frame_and_closes(certs):
    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            hub.expect_audiosocket_call(CALL_A)
            client = await connect(hub, CALL_A)
            await client.send_all(encode(Kind.AUDIO, bytes(320)))
            await trio.sleep(0.1)
            hub.close_call(CALL_A)
            frames, closed = await read_frames(client, 1.0)
            await client.aclose()
            assert CALL_A not in engine.calls and hub.calls() == {}
        assert [f.kind for _, f in frames] == [Kind.HANGUP] and closed
        assert ended == []
    run_mock(main)


def test_a_bad_frame_ends_only_its_connection_with_a_log_line(certs, caplog):
    caplog.set_level(logging.INFO, logger="mediacore.ingress")

    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            hub.expect_audiosocket_call(CALL_A)
            hub.expect_audiosocket_call(CALL_B)
            a, b = await connect(hub, CALL_A), await connect(hub, CALL_B)
            await a.send_all(encode(Kind.AUDIO, bytes(320)) + b"\x10\x00\x03abc")
            frames, closed = await read_frames(a, 1.0)
            await b.send_all(encode(Kind.AUDIO, bytes(320)))
            await trio.sleep(0.1)
            assert hub.calls() == {CALL_B: "audiosocket"} and CALL_B in engine.calls
            await a.aclose()
            await b.aclose()
            await trio.sleep(0.1)
        assert [f.kind for _, f in frames] == [Kind.HANGUP] and closed
        assert ended == [(CALL_A, "audiosocket_error"), (CALL_B, "audiosocket_closed")]
        assert any("bad frame" in r.getMessage() and "whole 16-bit samples" in r.getMessage()
                   for r in caplog.records)
    run_mock(main)


@pytest.mark.parametrize("first, message", [
    (encode_uuid(str(uuid.UUID(int=7))), "names unknown call"),
    (encode(Kind.AUDIO, bytes(320)), "not the call's UUID"),
    (b"\x7a\x00\x00", "unknown frame kind 0x7a"),
    (b"", "sent no UUID frame within 5 s"),
])
def test_a_connection_that_names_no_waiting_call_is_closed(certs, caplog, first, message):
    caplog.set_level(logging.INFO, logger="mediacore.ingress")

    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            hub.expect_audiosocket_call(CALL_A)
            client = await connect(hub, None)
            await client.send_all(first)
            _, closed = await read_frames(client, 6.0)
            await client.aclose()
            assert closed and hub.calls() == {CALL_A: "audiosocket"}
            good = await connect(hub, CALL_A)  # the waiting call is still there to take
            await trio.sleep(0.1)
            await good.aclose()
            await trio.sleep(0.1)
        assert ended == [(CALL_A, "audiosocket_closed")]
        assert any(message in r.getMessage() for r in caplog.records)
    run_mock(main)


def test_a_call_nobody_connects_to_or_that_falls_silent_ends_after_the_timeout(certs):
    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1", audiosocket_port=0,
                               inactivity_timeout_s=5.0) as (server, engine, hub, ended):
            t0 = trio.current_time()
            hub.expect_audiosocket_call(CALL_A)
            hub.expect_audiosocket_call(CALL_B)
            b = await connect(hub, CALL_B)
            await trio.sleep(1.0)
            await b.send_all(encode(Kind.AUDIO, bytes(320)))
            when = []
            while len(ended) < 2:
                await trio.sleep(0.01)
                if len(ended) > len(when):
                    when.append(trio.current_time() - t0)
            first_at, second_at = when
            frames, closed = await read_frames(b, 1.0)
            await b.aclose()
            assert engine.calls == {}
        assert ended == [(CALL_A, "audiosocket_timeout"), (CALL_B, "audiosocket_timeout")]
        assert first_at == pytest.approx(5.0, abs=0.02)
        assert second_at == pytest.approx(1.0 + 5.0, abs=0.02)  # 5 s after its last frame
        assert [f.kind for _, f in frames] == [Kind.HANGUP] and closed
    run_mock(main)


def test_16_khz_calls_use_asterisk_slin16_frames_and_dtmf_plays_in_band(certs):
    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            hub.expect_audiosocket_call(CALL_A, sample_rate=16000)
            await engine.start_stream(CALL_A, {"service_url": f"wss://127.0.0.1:{server.port}/",
                                               "content_type": "audio/x-l16;rate=16000"})
            client = await connect(hub, CALL_A)
            frames16 = ramp_frames(5, 640)
            for frame in frames16:
                await client.send_all(encode(Kind.AUDIO_SLIN16, frame))
                await trio.sleep(0.02)
            hub.play_dtmf(CALL_A, "3")
            out, _ = await read_frames(client, 0.3)
            await client.send_all(encode(Kind.AUDIO, bytes(320)))  # 8 kHz audio: wrong kind
            rest, closed = await read_frames(client, 1.0)
            await client.aclose()
            got = b"".join(media_payloads(server.connections[0]))
        assert b"".join(frames16) in got
        tone = b"".join(f.payload for _, f in out)
        assert {f.kind for _, f in out} == {Kind.AUDIO_SLIN16} and len(tone) == 5 * 640
        samples = np.frombuffer(tone, dtype="<i2").astype(float)
        spectrum = np.abs(np.fft.rfft(samples))
        peaks = sorted(np.fft.rfftfreq(len(samples), 1 / 16000)[np.argsort(spectrum)[-2:]])
        assert peaks[0] == pytest.approx(697, abs=10) and peaks[1] == pytest.approx(1477, abs=10)
        assert closed and ended == [(CALL_A, "audiosocket_error")]
    run_mock(main)


def test_expecting_a_call_checks_its_id_and_needs_a_listener(certs):
    async def main():
        async with hub_serving(certs, audiosocket_host="127.0.0.1",
                               audiosocket_port=0) as (server, engine, hub, ended):
            with pytest.raises(ValueError, match="is a UUID"):
                hub.expect_audiosocket_call("call-1")
            with pytest.raises(ValueError, match="sample_rate must be 8000 or 16000"):
                hub.expect_audiosocket_call(CALL_A, sample_rate=44100)
            with pytest.raises(ValueError, match="not '5x'"):
                hub.play_dtmf(CALL_A, "5x")
        async with hub_serving(certs) as (server, engine, hub, ended):
            assert hub.audiosocket_port is None
            with pytest.raises(ValueError, match="no AudioSocket listener"):
                hub.expect_audiosocket_call(CALL_A)
    run_mock(main)
