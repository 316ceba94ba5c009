"""Bidirectional streams (SPEC §3.2, §3.3): playAudio of any format into the call at real
time, checkpoints and marks, clearAudio / clear, sendDTMF, the 60 s limit."""

import base64
import json

import numpy as np
import pytest
import trio

from mediacore.codec import Format, Transcoder, ulaw_encode
from mediacore.engine.events import AudioCleared, CheckpointPlayed, DtmfRequested
from tests.engine.conftest import run_mock
from tests.engine.helpers import serving, drain_events
from tests.engine.servers import receive_all


def play(payload: bytes, content_type="audio/x-l16", rate=16000) -> str:
    return json.dumps({"event": "playAudio", "streamId": "ignored-extra-key",
                       "media": {"contentType": content_type, "sampleRate": str(rate),
                                 "payload": base64.b64encode(payload).decode()}})


def wav_bytes() -> bytes:
    import io
    import wave
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(320))
    return buf.getvalue()


def ramp(n: int, rate: int = 16000) -> np.ndarray:
    t = np.arange(n) / rate
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def test_play_audio_is_converted_played_at_real_time_and_checkpoints_are_reported(certs):
    audio = ramp(16000 * 3 // 10)  # 300 ms of L16 16 kHz = 15 frames of μ-law 8 kHz

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))  # start
        await ws.send_message(play(audio.tobytes()))
        await ws.send_message(json.dumps({"event": "checkpoint", "streamId": "s", "name": "greeting-done"}))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                                "bidirectional": True})
            frames, times = [], []
            for _ in range(40):
                frames.append(await engine.read_playback("c"))
                times.append(trio.current_time())
            events = drain_events(engine)
        assert all(b - a == pytest.approx(0.020, abs=1e-9) for a, b in zip(times, times[1:]))
        expected = Transcoder(Format.L16_16K, Format.MULAW_8K).process(audio)
        silence = b"\xff" * 160
        played = b"".join(f for f in frames if f != silence)
        assert played == expected  # every sample, in order, converted once
        first = next(i for i, f in enumerate(frames) if f != silence)
        assert all(f != silence for f in frames[first:first + 15])
        assert all(f == silence for f in frames[first + 15:])
        # playedStream once the clock passed the last frame before the checkpoint
        played_msgs = server.connections[0].events("playedStream")
        assert [m["name"] for m in played_msgs] == ["greeting-done"]
        cp = [e for e in events if isinstance(e, CheckpointPlayed)]
        assert [e.name for e in cp] == ["greeting-done"]
        # the outbound track carries the playback: a both-track stream would see it; here the
        # inbound-only stream's media never contains it
        assert all(base64.b64decode(m["media"]["payload"]) == bytes(320)
                   for m in server.connections[0].events("media"))
    run_mock(main)


def test_checkpoint_is_reported_on_the_tick_that_plays_the_audio_before_it(certs):
    """50 ms of audio (2.5 frames) then a checkpoint: playedStream leaves on the tick that
    plays the third (padded) frame, and the server has it at that same instant."""
    received = {}

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(play(ulaw_encode(ramp(400, 8000)), "audio/x-mulaw", 8000))
        await ws.send_message(json.dumps({"event": "checkpoint", "name": "cp"}))
        while True:
            message = json.loads(await ws.get_message())
            conn.messages.append(message)
            if message["event"] == "playedStream":
                received["at"] = trio.current_time()

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                            "bidirectional": True})
            frames = []
            while len(frames) < 30:
                frame = await engine.read_playback("c")
                frames.append((trio.current_time(), frame))
        audible = [t for t, f in frames if f != b"\xff" * 160]
        assert len(audible) == 3
        assert audible[1] - audible[0] == pytest.approx(0.020, abs=1e-9)
        assert received["at"] == pytest.approx(audible[2], abs=1e-9)
    run_mock(main)


def test_clear_audio_drops_the_queue_and_voids_checkpoints(certs):
    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(play(ramp(16000 * 5).tobytes()))  # 5 s
        await ws.send_message(json.dumps({"event": "checkpoint", "name": "never"}))
        await trio.sleep(0.5)
        await ws.send_message(json.dumps({"event": "clearAudio", "streamId": "s"}))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.L16_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                            "bidirectional": True})
            frames = [await engine.read_playback("c") for _ in range(150)]
            events = drain_events(engine)
        audible = [f for f in frames if f != bytes(320)]
        assert 20 <= len(audible) <= 30  # about 0.5 s played, then nothing
        last = max(i for i, f in enumerate(frames) if f != bytes(320))
        assert all(f == bytes(320) for f in frames[last + 1:])
        conn = server.connections[0]
        assert len(conn.events("clearedAudio")) == 1
        assert conn.events("playedStream") == []
        assert [type(e) for e in events if isinstance(e, (AudioCleared, CheckpointPlayed))] == [AudioCleared]
    run_mock(main)


def test_send_dtmf_and_errors_on_bidirectional_streams(certs):
    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(json.dumps({"event": "sendDTMF", "dtmf": "12#"}))
        await ws.send_message(json.dumps({"event": "sendDTMF", "dtmf": "9x"}))
        await ws.send_message(play(b"\x00\x01\x02", "audio/x-l16", 8000))  # odd length
        await ws.send_message(play(wav_bytes(), "audio/x-l16", 8000))
        await ws.send_message(play(bytes(320), "audio/x-l16", 44100))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                            "bidirectional": True})
            await trio.sleep(0.5)
            events = drain_events(engine)
        assert [e.digits for e in events if isinstance(e, DtmfRequested)] == ["12#"]
        errors = [m["error"] for m in server.connections[0].events("error")]
        assert len(errors) == 4
        assert "9x" in errors[0] or "digit" in errors[0]
        assert "odd" in errors[1]
        assert "WAV" in errors[2] or "RIFF" in errors[2]
        assert "44100" in errors[3]
    run_mock(main)


def test_play_audio_on_a_one_way_stream_is_refused_with_an_error(certs):
    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(play(bytes(640)))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/"})
            await trio.sleep(0.2)
        (error,) = server.connections[0].events("error")
        assert "not bidirectional" in error["error"]
    run_mock(main)


def test_playback_beyond_60_s_is_refused_with_playback_buffer_full(certs):
    chunk = ramp(16000 * 20).tobytes()  # 20 s per message (640 KB)

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        for _ in range(4):
            await ws.send_message(play(chunk))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                            "bidirectional": True})
            await trio.sleep(0.2)
        errors = server.connections[0].events("error")
        assert [e["error"] for e in errors] == ["playback buffer full"]
        assert isinstance(errors[0]["sequenceNumber"], int)
    run_mock(main)


def test_twilio_media_marks_and_clear(certs):
    async def behaviour(conn, ws):
        for _ in range(2):
            conn.messages.append(json.loads(await ws.get_message()))  # connected, start
        sid = conn.messages[1]["streamSid"]
        media = {"event": "media", "streamSid": sid,
                 "media": {"payload": base64.b64encode(ulaw_encode(ramp(1600, 8000))).decode()}}
        await ws.send_message(json.dumps(media))  # 200 ms
        await ws.send_message(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m1"}}))
        await ws.send_message(json.dumps(media))
        await ws.send_message(json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": "m2"}}))
        await trio.sleep(0.3)
        await ws.send_message(json.dumps({"event": "clear", "streamSid": sid}))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                            "bidirectional": True, "protocol": "twilio",
                                            "extra_headers": "agent=7"})
            for _ in range(40):
                await engine.read_playback("c")
        conn = server.connections[0]
        assert conn.messages[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
        start = conn.messages[1]["start"]
        assert start["customParameters"] == {"agent": "7"}
        assert start["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
        marks = [m["mark"]["name"] for m in conn.events("mark")]
        assert marks == ["m1", "m2"]  # m1 played; m2 echoed when the clear voided it
        media = conn.events("media")
        assert all(isinstance(m["sequenceNumber"], str) and isinstance(m["media"]["chunk"], str)
                   for m in media)
        stamps = [int(m["media"]["timestamp"]) for m in media]
        assert 0 <= stamps[0] <= 20  # ms since the stream started
        assert all(b - a == 20 for a, b in zip(stamps, stamps[1:]))
    run_mock(main)
