"""The embedding API: calls, limits, validation, packets through the jitter buffer, DTMF,
hang-up and shutdown."""

import base64
import json
import ssl

import numpy as np
import pytest
import trio

from mediacore.codec import Format, ulaw_decode, ulaw_encode
from mediacore.engine.call import CallClosed
from mediacore.engine.engine import Engine, EngineFull, NotFound
from mediacore.engine.events import StreamEnded, StreamStarted
from mediacore.engine.lifecycle import StopReason, StreamStatus
from mediacore.engine.params import InvalidParameter
from tests.engine.conftest import run_mock
from tests.engine.helpers import serving, drain_events, engine_for
from tests.engine.test_faults import wait_ended
from tests.engine.servers import Recorder, receive_all, start_server


def url(server, path=""):
    return f"wss://127.0.0.1:{server.port}/{path}"


def test_calls_and_the_per_call_rules(certs):
    async def main():
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder(), certs.server)
            async with engine_for(certs, max_streams_per_call=3) as engine:
                info = engine.open_call("c", format="audio/x-l16;rate=16000", call_from="a", call_to="b")
                assert info.format is Format.L16_16K and info.active_streams == 0
                with pytest.raises(ValueError, match="already open"):
                    engine.open_call("c")
                with pytest.raises(NotFound, match="call nope does not exist"):
                    await engine.start_stream("nope", {"service_url": url(server)})
                with pytest.raises(InvalidParameter, match="service_url is required"):
                    await engine.start_stream("c", {})
                await engine.start_stream("c", {"service_url": url(server, "1"), "bidirectional": True})
                with pytest.raises(InvalidParameter, match="already has an active stream to this service_url"):
                    await engine.start_stream("c", {"service_url": url(server, "1")})
                with pytest.raises(InvalidParameter, match="already has an active bidirectional stream"):
                    await engine.start_stream("c", {"service_url": url(server, "2"), "bidirectional": True})
                await engine.start_stream("c", {"service_url": url(server, "2")})
                await engine.start_stream("c", {"service_url": url(server, "3")})
                with pytest.raises(InvalidParameter, match="already has 3 active streams"):
                    await engine.start_stream("c", {"service_url": url(server, "4")})
                assert engine.get_call("c").active_streams == 3
                assert [c.call_id for c in engine.list_calls()] == ["c"]
                await trio.sleep(0.5)

                async def reader():
                    with pytest.raises(CallClosed):
                        while True:
                            await engine.read_playback("c")
                nursery.start_soon(reader)
                await trio.sleep(0.1)
                engine.close_call("c")
                with pytest.raises(NotFound):
                    engine.get_call("c")
                await trio.sleep(0.5)
                streams = engine.list("c")
                assert [s.status for s in streams] == [StreamStatus.STOPPED] * 3
                assert {s.stop_reason for s in streams} == {StopReason.CALL_HANGUP}
                with pytest.raises(NotFound, match="stream x does not exist"):
                    engine.get("x")
                # stopping an ended stream is fine and changes nothing
                assert engine.stop_stream(streams[0].stream_id).stop_reason is StopReason.CALL_HANGUP
            nursery.cancel_scope.cancel()
        assert all(c.messages[-1]["stop"]["reason"] == "call_hangup" for c in server.connections)
    run_mock(main)


def test_host_names_resolving_to_refused_addresses_are_400():
    async def main():
        async with Engine() as engine:  # default policy: public addresses only
            engine.open_call("c")
            with pytest.raises(InvalidParameter, match="private, loopback or link-local"):
                await engine.start_stream("c", {"service_url": "wss://localhost:9/x"})
            with pytest.raises(InvalidParameter, match="plain ws:// is not enabled"):
                await engine.start_stream("c", {"service_url": "ws://example.com/x"})
    trio.run(main)


def test_packets_go_through_the_jitter_buffer(certs):
    async def main():
        async with serving(certs) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": url(server),
                                            "content_type": "audio/x-mulaw;rate=8000"})
            # packets 0..59 with one swap (reordering) every 10, 20 ms apart
            order = list(range(60))
            for i in range(0, 60, 10):
                order[i], order[i + 1] = order[i + 1], order[i]
            for n, seq in enumerate(order):
                engine.feed_packet("c", "inbound", seq, seq * 160, bytes([seq + 1]) * 160)
                await trio.sleep(0.020)
            await trio.sleep(0.5)
        payloads = [base64.b64decode(m["media"]["payload"]) for m in server.connections[0].events("media")]
        voiced = [p[0] - 1 for p in payloads if p != b"\xff" * 160 and len(set(p)) == 1 and p[0] <= 60]
        # the reordered packets come out in timestamp order
        assert voiced == sorted(voiced) and len(voiced) >= 55
    run_mock(main)


def test_dtmf_from_the_call_reaches_every_stream(certs):
    async def main():
        async with serving(certs) as (server, engine):
            engine.open_call("c")
            await engine.start_stream("c", {"service_url": url(server, "a")})
            await engine.start_stream("c", {"service_url": url(server, "b"), "protocol": "twilio"})
            await trio.sleep(0.1)
            engine.send_dtmf("c", "5")
            with pytest.raises(ValueError, match="DTMF digit"):
                engine.send_dtmf("c", "55")
            await trio.sleep(0.1)
        plivo, twilio = sorted(server.connections, key=lambda c: c.path)
        (d1,) = plivo.events("dtmf")
        assert d1["dtmf"]["digit"] == "5" and d1["dtmf"]["track"] == "inbound"
        (d2,) = twilio.events("dtmf")
        assert d2["dtmf"] == {"track": "inbound_track", "digit": "5"}
    run_mock(main)


def test_leaving_the_engine_stops_every_stream_with_shutdown(certs):
    async def main():
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder(), certs.server)
            async with engine_for(certs) as engine:
                engine.open_call("c")
                s = await engine.start_stream("c", {"service_url": url(server)})
                await trio.sleep(0.2)
            final = engine.get(s.stream_id)
            events = drain_events(engine)
            await trio.sleep(0.1)
            nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.STOPPED and final.stop_reason is StopReason.SHUTDOWN
        assert server.connections[0].messages[-1]["stop"]["reason"] == "shutdown"
        assert isinstance(events[0], StreamStarted) and isinstance(events[-1], StreamEnded)
    run_mock(main)


def test_shutdown_streams_stops_each_with_shutdown_and_refuses_new_ones(certs):
    async def main():
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder(), certs.server)
            async with engine_for(certs) as engine:
                engine.open_call("c")
                s = await engine.start_stream("c", {"service_url": url(server)})
                await trio.sleep(0.2)
                engine.shutdown_streams()
                with pytest.raises(EngineFull, match="shutting down"):
                    await engine.start_stream("c", {"service_url": url(server) + "x"})
                final = await wait_ended(engine, s.stream_id)
            nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.STOPPED and final.stop_reason is StopReason.SHUTDOWN
        assert server.connections[0].messages[-1]["stop"]["reason"] == "shutdown"
    run_mock(main)


def test_outbound_track_mixes_fed_audio_with_playback(certs):
    tone = (4000 * np.sin(np.arange(1600) / 5)).astype(np.int16)

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(json.dumps({"event": "playAudio", "media": {
            "contentType": "audio/x-mulaw", "sampleRate": 8000,
            "payload": base64.b64encode(ulaw_encode(tone)).decode()}}))
        await receive_all(conn, ws)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            engine.open_call("c", format=Format.MULAW_8K)
            await engine.start_stream("c", {"service_url": url(server, "bidi"), "bidirectional": True})
            await engine.start_stream("c", {"service_url": url(server, "both"), "audio_track": "both",
                                            "content_type": "audio/x-mulaw;rate=8000"})
            await trio.sleep(0.1)
            for _ in range(20):
                engine.feed("c", "outbound", ulaw_encode(np.full(160, 1000, np.int16)))
            await trio.sleep(0.6)
        both = next(c for c in server.connections if c.path == "/both")
        out = [np.frombuffer(ulaw_decode(base64.b64decode(m["media"]["payload"])), np.int16)
               for m in both.events("media") if m["media"]["track"] == "outbound"]
        # frames where both sources were present carry their sum (within μ-law steps)
        mixed = [f for f in out if f.std() > 100 and abs(f.mean() - 1000) < 300]
        assert len(mixed) >= 5
    run_mock(main)


def test_concurrent_starts_cannot_both_pass_the_per_call_rules(certs):
    """Host names are resolved between the checks and the registration; two starts racing
    through that await must not both get a bidirectional stream (real clock: DNS runs in a
    thread)."""
    async def main():
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder(), certs.server)
            async with engine_for(certs) as engine:
                engine.open_call("c")
                outcomes = []

                async def start(path):
                    try:
                        await engine.start_stream("c", {"service_url": f"wss://localhost:{server.port}/{path}",
                                                        "bidirectional": True})
                        outcomes.append("started")
                    except InvalidParameter as exc:
                        outcomes.append(str(exc))

                async with trio.open_nursery() as starts:
                    starts.start_soon(start, "a")
                    starts.start_soon(start, "b")
                assert sorted(outcomes)[1] == "started"
                assert "already has an active bidirectional stream" in sorted(outcomes)[0]
            nursery.cancel_scope.cancel()
    trio.run(main)


def test_tls_is_native_unless_the_application_brings_its_own_ssl_context(certs, monkeypatch):
    from mediacore.engine import transport

    ssl_context = certs.client
    assert Engine(ssl_context=ssl_context).ssl_context is ssl_context
    native = Engine(ca_file=certs.ca_file).ssl_context
    if transport.native_tls is not None:
        assert isinstance(native, transport.native_tls.ClientContext)
        assert native.ca_file == certs.ca_file
    # a core built without OpenSSL headers: the stdlib with the same trust
    monkeypatch.setattr(transport, "native_tls", None)
    stdlib = Engine(ca_file=certs.ca_file).ssl_context
    assert isinstance(stdlib, ssl.SSLContext) and stdlib.verify_mode == ssl.CERT_REQUIRED
    assert stdlib.check_hostname
    trusted = stdlib.get_ca_certs()  # the test CA only, not the system store
    assert len(trusted) == 1 and trusted[0] in ssl_context.get_ca_certs()
    with pytest.raises(FileNotFoundError):
        Engine(ca_file=certs.ca_file + ".missing")
