"""Connection faults (SPEC §3.4) against real servers, on MockClock with exact times."""

import json
import math

import pytest
import trio

from mediacore.codec import Format
from mediacore.engine.events import StreamDegraded, StreamReconnecting
from mediacore.engine.lifecycle import StopReason, StreamStatus
from tests.engine.conftest import run_mock
from tests.engine.helpers import (serving, drain_events, engine_for, hold_gate_closed, kinds,
                                  tone_frame)
from tests.engine.servers import RawServer, Recorder, TlsCerts, refused_port, start_server


async def wait_ended(engine, stream_id, limit_s=120):
    with trio.fail_after(limit_s):
        while not engine.get(stream_id).status.ended:
            await trio.sleep(0.01)
    return engine.get(stream_id)


def lasted(stream) -> float:
    """Seconds from registration to end (engine times follow the MockClock exactly)."""
    return (stream.end_time - stream.created_at).total_seconds()


def open_call(engine, call_id="call-1"):
    engine.open_call(call_id, format=Format.MULAW_8K)
    return call_id


def test_connection_refused_retries_at_1_and_2_s_then_fails(certs):
    async def main():
        async with engine_for(certs) as engine:
            open_call(engine)
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{refused_port()}/"})
            final = await wait_ended(engine, s.stream_id)
            assert lasted(final) == pytest.approx(3.0, abs=1e-5)
            assert final.status is StreamStatus.FAILED
            assert final.stop_reason is StopReason.CONNECTION_ERROR
            assert final.error.startswith("tcp: cannot connect to 127.0.0.1")
            assert final.start_time is None and final.frames_sent == 0
            assert kinds(drain_events(engine)) == ["StreamEnded"]
    run_mock(main)


def test_handshake_403_is_retried_twice_and_reported(certs):
    async def main():
        async with serving(certs, recorder=Recorder(reject_status=403)) as (server, engine):
            open_call(engine)
            t0 = trio.current_time()
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/"})
            final = await wait_ended(engine, s.stream_id)
            assert lasted(final) == pytest.approx(3.0, abs=1e-5)
        assert [round(t - t0, 6) for t in server.attempts] == [0.0, 1.0, 3.0]
        assert final.status is StreamStatus.FAILED and final.error == "handshake: HTTP 403"
    run_mock(main)


@pytest.mark.parametrize("stdlib_tls", [False, True], ids=["native_tls", "stdlib_tls"])
def test_untrusted_certificate_fails_with_a_tls_reason(certs, stdlib_tls):
    async def main():
        other = TlsCerts()  # a server certificate from a CA the engine does not trust
        async with trio.open_nursery() as nursery:
            server = await start_server(nursery, Recorder(), other.server)
            async with engine_for(certs, stdlib_tls=stdlib_tls) as engine:
                open_call(engine)
                s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/"})
                final = await wait_ended(engine, s.stream_id)
            nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.FAILED
        assert final.error == ("tls: certificate verification failed: "
                               "unable to get local issuer certificate")
        assert server.connections == []
    run_mock(main)


def test_server_stop_ends_the_stream_as_remote_close(certs):
    async def behaviour(conn, ws):
        for _ in range(3):
            conn.messages.append(json.loads(await ws.get_message()))
        await ws.send_message(json.dumps({"event": "stop", "streamId": "x"}))
        while True:
            conn.messages.append(json.loads(await ws.get_message()))

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            open_call(engine)
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/"})
            final = await wait_ended(engine, s.stream_id)
            await trio.sleep(0.1)
        conn = server.connections[0]
        assert final.status is StreamStatus.STOPPED and final.stop_reason is StopReason.REMOTE_CLOSE
        assert conn.messages[-1]["event"] == "stop"
        assert conn.messages[-1]["stop"]["reason"] == "remote_close"
        assert conn.close_code == 1000
    run_mock(main)


def test_garbage_from_the_server_gets_error_messages_and_the_stream_keeps_running(certs):
    garbage = ["{not json", json.dumps([1, 2]),
               json.dumps({"event": "playAudio", "media": {"contentType": "audio/x-l16",
                                                           "sampleRate": 8000, "payload": "@@@"}}),
               json.dumps({"event": "whatever", "x": 1})]

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))
        for text in garbage:
            await ws.send_message(text)
        while True:
            conn.messages.append(json.loads(await ws.get_message()))

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            open_call(engine)
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                                     "bidirectional": True})
            await trio.sleep(1.0)
            assert engine.get(s.stream_id).status is StreamStatus.IN_PROGRESS
        errors = [m["error"] for m in server.connections[0].events("error")]
        assert len(errors) == 3  # the unknown event is ignored
        assert errors[0].startswith("invalid JSON")
        assert "JSON object" in errors[1]
        assert "base64" in errors[2]
        media = server.connections[0].events("media")
        assert len(media) >= 45
    run_mock(main)


def test_abnormal_close_without_retries_fails_the_stream(certs):
    async def behaviour(conn, ws):
        for _ in range(10):
            conn.messages.append(json.loads(await ws.get_message()))
        await ws.aclose(code=1011)

    async def main():
        async with serving(certs, behaviour) as (server, engine):
            open_call(engine)
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/"})
            final = await wait_ended(engine, s.stream_id)
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.CONNECTION_ERROR
        assert "1011" in final.error
        assert len(server.connections) == 1
    run_mock(main)


@pytest.mark.parametrize("how", ["close-1011", "tcp-abort"])
@pytest.mark.parametrize("stdlib_tls", [False, True], ids=["native_tls", "stdlib_tls"])
def test_abnormal_close_with_retries_reconnects_and_loses_nothing(certs, how, stdlib_tls):
    async def first_connection(conn, ws):
        for _ in range(20):
            conn.messages.append(json.loads(await ws.get_message()))
        if how == "close-1011":
            await ws.aclose(code=1011)
        else:
            # the TCP socket under the (TLS) stream, closed at once: an await here (a TLS
            # close_notify) would let ticks go out that this server never reads, which no
            # client can tell from frames it delivered
            stream = ws._stream
            getattr(stream, "transport_stream", stream).socket.close()

    async def behaviour(conn, ws):
        if len(server.connections) == 1:
            await first_connection(conn, ws)
        else:
            while True:
                conn.messages.append(json.loads(await ws.get_message()))

    server = Recorder(behaviour)

    async def main():
        async with trio.open_nursery() as nursery:
            await start_server(nursery, server, certs.server)
            async with engine_for(certs, stdlib_tls=stdlib_tls) as engine:
                open_call(engine)
                s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                                         "max_retries": 3,
                                                         "content_type": "audio/x-mulaw;rate=8000"})
                for i in range(100):
                    engine.feed("call-1", "inbound", tone_frame(i))
                await trio.sleep(3.0)
                engine.stop_stream(s.stream_id)
                final = await wait_ended(engine, s.stream_id)
                events = drain_events(engine)
            nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.STOPPED and final.reconnects == 1
        first, second = server.connections
        assert second.messages[0]["event"] == "start" and second.messages[0]["reconnect"] == 1
        assert second.messages[0]["start"]["streamId"] == first.messages[0]["start"]["streamId"]
        media = first.events("media") + second.events("media")
        chunks = [m["media"]["chunk"] for m in media]
        # every chunk arrives; a frame cut off by the failure may arrive twice, never out of order
        assert sorted(set(chunks)) == list(range(1, max(chunks) + 1))
        assert chunks == sorted(chunks)
        import base64
        by_chunk = {m["media"]["chunk"]: base64.b64decode(m["media"]["payload"]) for m in media}
        assert [by_chunk[c] for c in range(1, 101)] == [tone_frame(i) for i in range(100)]
        stamps = {m["media"]["chunk"]: int(m["media"]["timestamp"]) for m in media}
        assert all(stamps[c + 1] - stamps[c] == 20 for c in range(1, max(chunks)))
        seqs = [m["sequenceNumber"] for m in first.messages + second.messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert any(isinstance(e, StreamReconnecting) for e in events)
    run_mock(main)


def test_a_server_that_stops_reading_degrades_then_fails_as_slow_consumer(certs):
    async def never_read(stream, ws):
        await trio.sleep_forever()

    async def main():
        server = RawServer(never_read, recv_buffer=4096)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            async with engine_for(certs) as engine:
                open_call(engine)
                s = await engine.start_stream("call-1", {"service_url": f"ws://127.0.0.1:{server.port}/",
                                                         "content_type": "audio/x-l16;rate=16000"})
                final = await wait_ended(engine, s.stream_id, limit_s=200)
                events = drain_events(engine)
            nursery.cancel_scope.cancel()
        assert [e.buffer_percent for e in events if isinstance(e, StreamDegraded)] == [30, 60, 90]
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.SLOW_CONSUMER
        assert final.frames_dropped > 0
    run_mock(main)


def test_stream_timeout_stops_the_stream_at_the_exact_time(certs):
    async def main():
        async with serving(certs) as (server, engine):
            open_call(engine)
            s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                                     "stream_timeout": 2})
            final = await wait_ended(engine, s.stream_id)
            assert lasted(final) == pytest.approx(2.0, abs=1e-5)
        assert final.status is StreamStatus.TIMEOUT and final.stop_reason is StopReason.STREAM_TIMEOUT
        conn = server.connections[0]
        assert conn.messages[-1]["stop"]["reason"] == "stream_timeout"
        assert 99 <= len(conn.events("media")) <= 101  # 2 s of ticks, whatever the phase
    run_mock(main)


def test_no_pong_for_20_s_is_an_abnormal_close(certs):
    async def ignore_everything(stream, ws):
        while await stream.receive_some(65536):
            pass  # read (so the engine never blocks) but never answer a ping

    async def main():
        server = RawServer(ignore_everything)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            async with engine_for(certs) as engine:
                open_call(engine)
                s = await engine.start_stream("call-1", {"service_url": f"ws://127.0.0.1:{server.port}/"})
                final = await wait_ended(engine, s.stream_id)
                # ping at 20 s, no pong by 40 s
                assert lasted(final) == pytest.approx(40.0, abs=1e-5)
            nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.FAILED and "no pong within 20 s" in final.error
    run_mock(main)


def test_reconnect_waits_the_jittered_backoff_exactly(certs):
    import random

    async def drop_first(conn, ws):
        if len(server.connections) == 1:
            conn.messages.append(json.loads(await ws.get_message()))
            await ws.aclose(code=1011)
        else:
            while True:
                conn.messages.append(json.loads(await ws.get_message()))

    server = Recorder(drop_first)

    async def main():
        async with trio.open_nursery() as nursery:
            await start_server(nursery, server, certs.server)
            async with engine_for(certs, rng=random.Random(7)) as engine:
                open_call(engine)
                s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                                         "max_retries": 2})
                await trio.sleep(3.0)
                events = drain_events(engine)
                assert engine.get(s.stream_id).reconnects == 1
            nursery.cancel_scope.cancel()
        (reconnecting,) = [e for e in events if isinstance(e, StreamReconnecting)]
        expected = 0.5 * (0.5 + 0.5 * random.Random(7).random())  # first attempt: 0.5 s cap
        assert reconnecting.delay_s == pytest.approx(expected)
        assert "1011" in reconnecting.reason and reconnecting.attempt == 1
        first, second = server.attempts
        assert second - first == pytest.approx(expected, abs=1e-9)
    run_mock(main)


def to_a_server_that_never_speaks_tls(certs, *, gate_closed_s: float = 0.0):
    """A wss stream to a server that accepts TCP (backlog) but never speaks TLS, the engine's
    gate held shut for the first `gate_closed_s`; returns the stream as it ended."""
    async def main():
        listener = trio.socket.socket()
        with listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            async with engine_for(certs) as engine:
                open_call(engine)
                if gate_closed_s:
                    hold_gate_closed(engine, until=trio.current_time() + gate_closed_s)
                s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{port}/"})
                return await wait_ended(engine, s.stream_id)
    return run_mock(main)


def test_a_server_that_never_answers_the_tls_handshake_times_out_per_attempt(certs):
    final = to_a_server_that_never_speaks_tls(certs)
    # three attempts of 10 s, with 1 s and 2 s between them
    assert lasted(final) == pytest.approx(33.0, abs=1e-5)
    assert final.error == "tcp: no connection within 10 s"


def test_time_waiting_for_the_engines_idle_time_is_not_the_servers_connect_timeout(certs):
    """The first attempt's handshake waits 30 s for the engine's idle time, then the server
    never answers: that attempt ends 10 s of network time later (at 40 s, not at 10 s with
    the handshake abandoned before it began), and the retries keep SPEC §3.4's timing."""
    final = to_a_server_that_never_speaks_tls(certs, gate_closed_s=30)
    # 30 s (to the first tick after them) + 10 s, then 1 s, 10 s, 2 s, 10 s
    assert lasted(final) == pytest.approx(63.0, abs=0.021)
    assert final.error == "tcp: no connection within 10 s"


def test_an_engine_too_busy_to_run_a_handshake_gives_up_each_attempt_after_60_s(certs):
    async def main():
        async with serving(certs) as (server, engine):
            open_call(engine)
            hold_gate_closed(engine, until=math.inf)
            s = await engine.start_stream("call-1", {
                "service_url": f"wss://127.0.0.1:{server.port}/"})
            final = await wait_ended(engine, s.stream_id, limit_s=200)
            assert server.connections == []
        assert lasted(final) == pytest.approx(60 + 1 + 60 + 2 + 60, abs=1e-5)
        assert final.status is StreamStatus.FAILED
        assert final.error == ("tcp: no connection within 60 s: the engine was too busy to "
                               "run the handshake")
    run_mock(main)


def test_a_slow_first_connection_starts_with_the_last_2_s_of_audio_only(certs):
    async def main():
        listener = trio.socket.socket()
        with listener:
            await listener.bind(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            async with trio.open_nursery() as nursery:
                server = Recorder()
                async with engine_for(certs) as engine:
                    open_call(engine)
                    # nothing listens for 5 s: attempts at 0 and 1 s are refused, the one at 3 s
                    # finds the server that starts at 2.5 s
                    s = await engine.start_stream("call-1", {"service_url": f"wss://127.0.0.1:{port}/",
                                                             "content_type": "audio/x-mulaw;rate=8000"})
                    listener.close()
                    await trio.sleep(2.5)
                    await nursery.start(serve_on, server, port, certs.server)
                    await trio.sleep(1.0)
                    engine.stop_stream(s.stream_id)
                    final = await wait_ended(engine, s.stream_id)
                nursery.cancel_scope.cancel()
        media = server.connections[0].events("media")
        assert final.status is StreamStatus.STOPPED and final.frames_dropped == 0
        # 2 s kept from before the connection at 3 s, then real time until the stop at 3.5 s
        assert 120 <= len(media) <= 127
        stamps = [int(m["media"]["timestamp"]) for m in media]
        assert all(b - a == 20 for a, b in zip(stamps, stamps[1:]))
    run_mock(main)


async def serve_on(server, port, ssl_context, task_status=trio.TASK_STATUS_IGNORED):
    from trio_websocket import serve_websocket
    server.port = port
    await serve_websocket(server.handler, "127.0.0.1", port, ssl_context, task_status=task_status)
