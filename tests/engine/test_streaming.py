"""Streams end to end against a real TLS WebSocket server (trio-websocket, trustme
certificates), on MockClock so every time is exact."""

import base64

import pytest
import trio

from mediacore.codec import Format
from mediacore.engine.handshake import plivo_signature, signature
from mediacore.engine.lifecycle import StopReason, StreamStatus
from tests.engine.conftest import run_mock
from tests.engine.helpers import serving, drain_events, kinds, tone_frame


def wss(recorder, path="/stream"):
    return f"wss://127.0.0.1:{recorder.port}{path}"


@pytest.mark.parametrize("stdlib_tls", [False, True], ids=["native_tls", "stdlib_tls"])
def test_a_stream_sends_start_then_one_frame_per_tick_then_stop(certs, stdlib_tls):
    async def main():
        async with serving(certs, stdlib_tls=stdlib_tls) as (server, engine):
            engine.open_call("call-1", format=Format.MULAW_8K, call_from="+1555", call_to="+1666")
            stream = await engine.start_stream(
                "call-1", {"service_url": wss(server), "content_type": "audio/x-mulaw;rate=8000",
                           "extra_headers": "team=blue,id=7"},
                account_id="MA42", auth_token="s3cret")
            assert stream.status is StreamStatus.INITIATED
            for i in range(40):
                engine.feed("call-1", "inbound", tone_frame(i))
            await trio.sleep(1.0)
            engine.stop_stream(stream.stream_id)
            await trio.sleep(0.5)
            final = engine.get(stream.stream_id)
            events = drain_events(engine)
        conn = server.connections[0]
        messages = conn.messages
        assert [m["event"] for m in messages[:2]] == ["start", "media"]
        assert messages[-1]["event"] == "stop" and messages[-1]["stop"] == {
            "callId": "call-1", "reason": "api_request"}
        assert conn.close_code == 1000
        assert [m["sequenceNumber"] for m in messages] == list(range(1, len(messages) + 1))
        media = conn.events("media")
        assert [m["media"]["chunk"] for m in media] == list(range(1, len(media) + 1))
        # the fed frames, in order, then silence (μ-law 0xFF)
        payloads = [base64.b64decode(m["media"]["payload"]) for m in media]
        assert payloads[:40] == [tone_frame(i) for i in range(40)]
        assert set(payloads[40:]) == {b"\xff" * 160}
        # one frame per 20 ms tick, timestamps exactly 20 ms apart
        stamps = [int(m["media"]["timestamp"]) for m in media]
        assert all(b - a == 20 for a, b in zip(stamps, stamps[1:]))
        assert len(media) == final.frames_sent
        assert 49 <= len(media) <= 51  # 1 s of streaming
        start = messages[0]
        assert start["start"] == {"callId": "call-1", "streamId": stream.stream_id,
                                  "accountId": "MA42", "tracks": ["inbound"],
                                  "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}
        assert start["extra_headers"] == "team=blue,id=7"
        # handshake headers and signature (SPEC §3)
        h = conn.headers
        assert h["user-agent"].startswith("mediacore/")
        assert h["x-team"] == "blue" and h["x-id"] == "7"
        nonce = h["x-signature-v3-nonce"]
        assert h["x-signature-v3"] == signature("s3cret", wss(server), nonce)
        # Plivo's header carries Plivo's V3 signature of the https:// form (its SDKs' check)
        assert h["x-plivo-signature-v3"] == plivo_signature("s3cret", wss(server), nonce)
        assert h["x-plivo-signature-v3-nonce"] == nonce
        assert kinds(events) == ["StreamStarted", "StreamEnded"]
        assert final.status is StreamStatus.STOPPED and final.stop_reason is StopReason.API_REQUEST
        assert final.call_from == "+1555" and final.start_time is not None
        assert (final.end_time - final.start_time).total_seconds() == pytest.approx(1.0, abs=0.03)
    run_mock(main)


def test_a_twilio_stream_started_while_the_clock_runs_late_starts_at_timestamp_zero(certs):
    """A tick that runs late carries its due time, which can precede the stream's
    registration: the twilio timestamp origin is then that first tick, never an error."""
    async def main():
        async with serving(certs) as (server, engine):
            engine.open_call("call-1", format=Format.MULAW_8K)
            await trio.sleep(0.2)
            trio.lowlevel.current_clock().jump(0.1)  # the clock is now 100 ms behind
            stream = await engine.start_stream(
                "call-1", {"service_url": wss(server), "protocol": "twilio"})
            await trio.sleep(1.0)
            engine.stop_stream(stream.stream_id)
            await trio.sleep(0.5)
            final = engine.get(stream.stream_id)
        assert final.status is StreamStatus.STOPPED and final.stop_reason is StopReason.API_REQUEST
        media = server.connections[0].events("media")
        stamps = [int(m["media"]["timestamp"]) for m in media]
        assert stamps[0] == 0 and all(b - a == 20 for a, b in zip(stamps, stamps[1:]))
        assert len(media) >= 50
    run_mock(main)


@pytest.mark.parametrize("tls, stdlib_tls", [(False, False), (True, False), (True, True)],
                         ids=["ws", "native_tls", "stdlib_tls"])
def test_an_idle_connection_keeps_no_exception_alive(certs, tls, stdlib_tls):
    """A stream waiting for its server's next message holds no "would block" exception (and
    with it a traceback and its frames): one per connection was what the garbage collector
    walked for every idle stream, and what a later error was chained to."""
    import gc
    import ssl

    async def main():
        async with serving(certs, tls=tls, stdlib_tls=stdlib_tls) as (server, engine):
            engine.open_call("call-1", format=Format.MULAW_8K)
            url = wss(server).replace("wss://", "wss://" if tls else "ws://")
            stream = await engine.start_stream("call-1", {"service_url": url})
            await trio.sleep(1.0)
            assert engine.get(stream.stream_id).status is StreamStatus.IN_PROGRESS
            alive = [type(o).__name__ for o in gc.get_objects()
                     if isinstance(o, (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                                       BlockingIOError))]
            assert alive == []
    run_mock(main)
