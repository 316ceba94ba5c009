"""Hostile and broken WebSocket servers (SPEC §3, §3.4): whatever a server does, the engine
neither crashes nor hangs, the offending stream ends (or keeps running) with an error that
names the problem, and a healthy twin stream on the same call keeps flowing in order."""

import base64
import json
import socket as stdsocket
import threading

import pytest
import trio
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from mediacore.engine.events import StreamDegraded
from mediacore.engine.fork import Fork
from mediacore.engine.lifecycle import StopReason, StreamStatus
from tests.engine.conftest import run_mock
from tests.engine.servers import (RawServer, Received, hostile, lasted, open_sockets, reset,
                                  tcp_ports_of, tcp_socket)


async def start_then(stream, ws, received, n=1):
    """Read the engine's first `n` messages (start, media...)."""
    count = 0

    def enough(_):
        nonlocal count
        count += 1
        return count >= n
    await received.read(stream, ws, until=enough)


def sends_then_keeps_running(certs, send, *, seconds: float = 1.0, **params):
    """A server that reads the engine's start, sends `send` (wsproto events or raw bytes, one
    write each; or `async send(stream, ws)`) and keeps reading: the stream is still in
    progress `seconds` later and ends only at the engine's shutdown. Returns what the server
    read (Received) and the scene."""
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        if callable(send):
            await send(stream, ws)
        else:
            for item in send:
                await stream.send_all(item if isinstance(item, bytes) else ws.send(item))
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script, **params) as scene:
            await trio.sleep(seconds)
            assert scene.get().status is StreamStatus.IN_PROGRESS
        return scene

    scene = run_mock(main)
    assert scene.final.stop_reason is StopReason.SHUTDOWN
    return got, scene


# -- frames ------------------------------------------------------------------------------------

def test_binary_frames_get_an_error_and_the_stream_keeps_running(certs):
    got, scene = sends_then_keeps_running(certs, [BytesMessage(b"\x00\x01binary")])
    (error,) = got.events("error")
    assert "binary" in error["error"]
    assert len(got.media) >= 45
    assert scene.final.stop_reason is StopReason.SHUTDOWN


def test_a_text_frame_with_invalid_utf8_fails_the_connection_with_1007(certs):
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        # FIN, text, unmasked, 3 bytes: not UTF-8
        await stream.send_all(b"\x81\x03\xff\xfe\xfd")
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 0.1
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.CONNECTION_ERROR
        assert final.error.startswith("the server sent a text message that is not valid "
                                      "UTF-8 ('utf-8' codec can't decode byte 0xff")
        assert final.error.endswith("; closed with 1007")
        assert got.close_code == 1007
    run_mock(main)


def test_a_20_mb_text_message_closes_with_1009_without_buffering_it(certs):
    got = Received()
    sent = {"all": True}

    async def script(stream, ws):
        await start_then(stream, ws, got)
        big = ws.send(TextMessage('{"event":"checkpoint","name":"' + "x" * (20 << 20) + '"}'))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(got.read, stream, ws)
            async with got.send_lock:
                try:
                    await stream.send_all(big)
                except trio.BrokenResourceError:
                    sent["all"] = False

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
        assert final.status is StreamStatus.FAILED
        assert "1 MiB" in final.error and "1009" in final.error
        assert got.close_code == 1009
        assert not sent["all"]  # the engine hung up long before the end of the message
    run_mock(main)


BAD_CLOSE_FRAMES = {
    "code 1005": (b"\x88\x02" + (1005).to_bytes(2, "big"), "remote CLOSE with local-only reason"),
    "code 999": (b"\x88\x02" + (999).to_bytes(2, "big"), "CLOSE with invalid code"),
    "code 5000": (b"\x88\x02" + (5000).to_bytes(2, "big"), "CLOSE with invalid code"),
    "code 1004": (b"\x88\x02" + (1004).to_bytes(2, "big"), "CLOSE with unknown reserved code"),
    "a 200-byte reason": (b"\x88\x7e\x00\xca" + (1000).to_bytes(2, "big") + b"r" * 200,
                          "Control frame with payload len > 125"),
}


@pytest.mark.parametrize("frame", list(BAD_CLOSE_FRAMES))
def test_a_close_frame_with_an_invalid_code_or_reason_is_a_protocol_error(certs, frame):
    """Not the server's close code: the engine fails the connection with 1002 and says
    what was wrong (before the fix: "the server closed the connection with code 1002")."""
    data, expected = BAD_CLOSE_FRAMES[frame]
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(data)
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
        assert final.status is StreamStatus.FAILED
        assert final.error == (f"the server broke the WebSocket protocol ({expected}); "
                               f"closed with 1002")
        assert got.close_code == 1002
    run_mock(main)


def test_the_servers_close_reason_is_reported(certs):
    async def script(stream, ws):
        await stream.send_all(ws.send(CloseConnection(code=1011, reason="db\r\ndown")))
        await trio.sleep(1)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
        assert final.error == "the server closed the connection with code 1011 ('db\\r\\ndown')"
    run_mock(main)


def test_close_then_more_frames_ends_the_stream_as_remote_close(certs):
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(ws.send(CloseConnection(code=1000, reason="bye")))
        for _ in range(100):
            await stream.send_all(b"\x81\x0f" + b'{"event":"x"}  ')
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
        assert final.status is StreamStatus.STOPPED
        assert final.stop_reason is StopReason.REMOTE_CLOSE
    run_mock(main)


def test_a_close_frame_without_a_code_ends_the_stream_as_remote_close(certs):
    """An empty close frame (Node's `ws.close()`) is a deliberate close, not a failure to
    reconnect from."""
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(b"\x88\x00")
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script, max_retries=2) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 0.1
        assert final.status is StreamStatus.STOPPED
        assert final.stop_reason is StopReason.REMOTE_CLOSE and final.reconnects == 0
        assert got.close_code == 1005  # the engine's reply: an empty close frame too
    run_mock(main)


@pytest.mark.parametrize("max_retries", [0, 2])
def test_tcp_rst_mid_frame(certs, max_retries):
    got = Received()
    connections = []

    async def script(stream, ws):
        connections.append(stream)
        if len(connections) == 1:
            await start_then(stream, ws, got, n=5)
            await stream.send_all(b"\x81\x7e\x01\x00" + b"{" * 10)  # 10 of 256 bytes
            reset(stream)
        else:
            await got.read(stream, ws)

    async def main():
        async with hostile(certs, script, max_retries=max_retries) as scene:
            await trio.sleep(3)
        return scene

    scene = run_mock(main)
    chunks = [m["media"]["chunk"] for m in got.media]
    assert scene.final.frames_dropped == 0
    if max_retries:
        # the frames after the reset arrive on the new connection: none lost, none reordered
        assert scene.final.status is StreamStatus.STOPPED and scene.final.reconnects == 1
        assert sorted(set(chunks)) == list(range(1, max(chunks) + 1)) and chunks == sorted(chunks)
        assert scene.final.frames_sent == max(chunks)
    else:
        assert scene.final.status is StreamStatus.FAILED
        assert scene.final.stop_reason is StopReason.CONNECTION_ERROR
        assert scene.final.error.startswith("network error: "), scene.final.error
        assert "reset" in scene.final.error or "Broken pipe" in scene.final.error


def test_audio_queued_while_the_close_frame_waits_goes_to_the_next_connection(certs):
    """A protocol error from a server that is not reading: the engine's close frame waits
    behind the backlog, and the ticks of that wait are not written after it (where the
    server drops them) but sent on the reconnect: no chunk is lost."""
    first, second = Received(), Received()

    async def script(stream, ws):
        if first.messages:
            await second.read(stream, ws)
            return
        await start_then(stream, ws, first)
        await trio.sleep(3)  # not reading: the engine's backlog grows
        await stream.send_all(b"\x81\x03\xff\xfe\xfd")  # not UTF-8: close 1007
        await trio.sleep(0.5)  # the close frame waits behind the backlog
        await first.read(stream, ws)  # up to the close frame; a server drops what follows

    async def main():
        server = RawServer(script, ssl_context=certs.server, recv_buffer=4096)
        async with hostile(certs, None, server=server, max_retries=1,
                           content_type="audio/x-l16;rate=16000") as scene:
            await trio.sleep(6)
        return scene

    scene = run_mock(main)
    assert first.close_code == 1007 and scene.final.reconnects == 1
    chunks = [m["media"]["chunk"] for m in first.media + second.media]
    assert sorted(set(chunks)) == list(range(1, max(chunks) + 1))
    assert chunks == sorted(chunks) and len(chunks) >= 6 * 50 - 30


def test_half_a_frame_then_silence_fails_on_the_missing_pong(certs):
    async def script(stream, ws):
        await stream.send_all(b"\x81\x7e\x01\x00" + b"{" * 10)
        while await stream.receive_some(65536):
            pass

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
            assert lasted(final) == pytest.approx(40.0, abs=1e-5)
        assert final.status is StreamStatus.FAILED and "no pong within 20 s" in final.error
    run_mock(main)


@pytest.mark.parametrize("tls", [True, False], ids=["wss", "ws"])
def test_half_close_by_the_server_is_an_abnormal_close(certs, tls):
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        tcp_socket(stream).shutdown(stdsocket.SHUT_WR)  # no close_notify, no close frame
        await got.read(stream, ws)

    async def main():
        server = RawServer(script, ssl_context=certs.server if tls else None)
        url = ("wss" if tls else "ws") + "://127.0.0.1:{port}/"
        async with hostile(certs, None, server=server, service_url=url) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 0.1
        assert final.status is StreamStatus.FAILED
        assert final.error == ("network error: TLS error while receiving: recv: EOF occurred in "
                               "violation of protocol" if tls else
                               "the server closed the connection without a close frame")
    run_mock(main)


def test_fragmented_message_with_a_ping_between_the_fragments(certs):
    text = '{"event":"sendDTMF","dtmf":"9x"}'
    got, _ = sends_then_keeps_running(certs, [
        TextMessage(text[:10], message_finished=False), Ping(b"between"),
        TextMessage(text[10:20], message_finished=False), Ping(b"again"),
        TextMessage(text[20:], message_finished=True)], bidirectional=True)
    (error,) = got.events("error")
    assert "'x'" in error["error"]
    assert got.pongs == [b"between", b"again"]


def test_unsolicited_pong_is_ignored(certs):
    got, _ = sends_then_keeps_running(certs, [Pong(b"hi")])
    assert got.events("error") == []


class EventsPerStep(trio.abc.Instrument):
    """The most server events (messages, pings, ...) a fork handled in one task step: while a
    step runs, no tick and no other fork can. Counted, not timed, so a loaded machine cannot
    fail it (before the fix the reader handled a whole 10,000-message burst in one step)."""

    def __init__(self, monkeypatch) -> None:
        self.most = 0
        self._now = 0
        self._task = None
        handle = Fork._on_ws_event

        here = threading.get_ident()

        def counted(fork, event):
            # this test's engine only: the API tests' session daemon runs forks of its own
            # on another thread for the whole session
            if threading.get_ident() == here:
                self._now += 1
            return handle(fork, event)
        monkeypatch.setattr(Fork, "_on_ws_event", counted)

    def before_task_step(self, task) -> None:
        self._now = 0
        self._task = task

    def after_task_step(self, task) -> None:
        # only whole steps: the step that installed this instrument began before it counted
        if self._task is task:
            self.most = max(self.most, self._now)


PLAY_20_MS = json.dumps({"event": "playAudio", "media": {
    "contentType": "audio/x-mulaw", "sampleRate": 8000,
    "payload": base64.b64encode(b"\xff" * 160).decode()}})


@pytest.mark.parametrize("kind", ["errors", "ignored", "pings", "playAudio"])
def test_a_flood_of_10000_messages_does_not_hold_the_event_loop(certs, kind, monkeypatch):
    """10,000 small messages in one burst (about 150 KB, several reads): the engine answers
    every one, and between them the ticker and the other forks run (before the fix the
    reader handled the whole burst in one step: 250 ms without a tick)."""
    steps = EventsPerStep(monkeypatch)
    one = {"errors": TextMessage("{bad"), "ignored": TextMessage('{"event":"nope"}'),
           "pings": Ping(b"p"), "playAudio": TextMessage(PLAY_20_MS)}[kind]

    async def burst(stream, ws):
        data = b"".join(ws.send(one) for _ in range(10_000))
        trio.lowlevel.add_instrument(steps)
        await stream.send_all(data)

    got, scene = sends_then_keeps_running(certs, burst, seconds=2,
                                          bidirectional=kind == "playAudio")
    assert steps.most == 1
    if kind == "errors":
        errors = got.events("error")
        assert len(errors) == 10_000 and errors[0]["error"].startswith("invalid JSON")
    if kind == "playAudio":  # 200 s of audio: what is over 60 s is refused
        errors = got.events("error")
        assert {e["error"] for e in errors} == {"playback buffer full"}
        # (a tick that plays a frame while the burst is read makes room for one more)
        assert 10_000 - 3_000 - 100 <= len(errors) <= 10_000 - 3_000
    assert scene.final.frames_sent == len(got.media)
    assert [m["media"]["chunk"] for m in got.media] == list(range(1, len(got.media) + 1))


def test_replies_waiting_for_a_server_that_reads_later_are_no_audio_backlog(certs):
    """5,000 bad messages, then 2 s without reading: the 5,000 error replies wait (the
    socket takes a few hundred), but they are not 40 s of audio: the stream keeps running
    and the server gets every reply once it reads (before the fix: slow_consumer at the
    next tick, "send buffer full (40 s of audio)")."""
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(b"".join(ws.send(TextMessage("{bad")) for _ in range(5_000)))
        await trio.sleep(2)
        await got.read(stream, ws)

    async def main():
        server = RawServer(script, ssl_context=certs.server, recv_buffer=4096)
        async with hostile(certs, None, server=server) as scene:
            await trio.sleep(4)
            assert scene.get().status is StreamStatus.IN_PROGRESS
        return scene

    scene = run_mock(main)
    assert len(got.events("error")) == 5_000
    assert not any(isinstance(e, StreamDegraded) for e in scene.events)
    chunks = [m["media"]["chunk"] for m in got.media]
    assert chunks == list(range(1, len(chunks) + 1)) and len(chunks) >= 4 * 50


def test_a_server_that_never_reads_its_replies_is_a_slow_consumer(certs):
    async def script(stream, ws):
        burst = b"".join(ws.send(TextMessage("{bad")) for _ in range(12_000))
        await stream.send_all(burst)
        await trio.sleep_forever()

    async def main():
        server = RawServer(script, ssl_context=certs.server, recv_buffer=4096)
        async with hostile(certs, None, server=server) as scene:
            final = await scene.wait_ended()
            assert lasted(final) <= 2.0 + 1e-6  # at once, then the stop's grace period
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.SLOW_CONSUMER
        assert final.error == ("the server is not reading: 10000 messages to it are waiting "
                               "(it sent as many without reading the replies)")
    run_mock(main)


# -- the opening handshake ---------------------------------------------------------------------

def accept_key(head: bytes) -> bytes:
    import base64
    import hashlib
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    return base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


def upgrade_reply(head: bytes) -> bytes:
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(head) + b"\r\n\r\n")


BAD = "handshake: invalid handshake response: "
REPLIES = {
    # what the server answers to the upgrade: the engine's error starts with the second item
    "wrong accept": (
        lambda head: upgrade_reply(head).replace(accept_key(head), b"A" * 27 + b"="),
        BAD + "Bad accept token"),
    "301": (
        lambda head: b"HTTP/1.1 301 Moved Permanently\r\nLocation: wss://elsewhere/\r\n"
                     b"Content-Length: 0\r\n\r\n",
        "handshake: HTTP 301 (a redirect to wss://elsewhere/; redirects are not followed"),
    "302": (
        lambda head: b"HTTP/1.1 302 Found\r\nLocation: /other\r\n\r\n",
        "handshake: HTTP 302 (a redirect to /other;"),
    "500 with a body": (
        lambda head: b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 11\r\n\r\n"
                     b"hello world",
        "handshake: HTTP 500"),
    "200": (
        lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "handshake: HTTP 200 (not an upgrade: the server must answer 101"),
    "64 KB header line": (
        lambda head: b"HTTP/1.1 101 Switching Protocols\r\nX-Big: " + b"a" * 65536
                     + b"\r\n\r\n",
        BAD + "Bad HTTP message (Receive buffer too long)"),
    "garbage": (
        lambda head: b"\x00\xffSSH-2.0-OpenSSH_9.6\r\n\r\n",
        BAD + "Bad HTTP message (illegal status line"),
    "101 with an extension not asked for": (
        lambda head: upgrade_reply(head)[:-2]
                     + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        BAD + "unrecognized extension permessage-deflate"),
    "101 with a subprotocol not asked for": (
        lambda head: upgrade_reply(head)[:-2] + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
        BAD + "unrecognized subprotocol chat"),
    "101 without Upgrade": (
        lambda head: upgrade_reply(head).replace(b"Upgrade: websocket\r\n", b""),
        BAD + "Missing header, 'Upgrade: websocket'"),
    "close at once": (
        lambda head: b"",
        "handshake: the server closed the connection during the handshake"),
}


@pytest.mark.parametrize("reply", list(REPLIES))
def test_a_broken_handshake_reply_is_retried_twice_then_fails_naming_it(certs, reply):
    answer, expected = REPLIES[reply]

    async def script(stream, head):
        data = answer(head)
        if data:
            await stream.send_all(data)
            await trio.sleep(5)  # keep the connection open: the engine must not wait for more

    async def main():
        async with hostile(certs, script, upgrade=False) as scene:
            t0 = trio.current_time()
            final = await scene.wait_ended()
            assert lasted(final) == pytest.approx(3.0, abs=1e-5)
        assert [round(t - t0, 6) for t in scene.server.attempts] == [0.0, 1.0, 3.0]
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.CONNECTION_ERROR
        assert final.error.startswith(expected), final.error
        assert final.frames_sent == 0 and final.start_time is None
    run_mock(main)


def test_headers_that_never_finish_time_out_per_attempt(certs):
    async def script(stream, head):
        await stream.send_all(b"HTTP/1.1 101 Switching Protocols\r\n")
        while True:  # one byte a second, never the blank line
            await trio.sleep(1)
            await stream.send_all(b"X")

    async def main():
        async with hostile(certs, script, upgrade=False) as scene:
            final = await scene.wait_ended()
            # three attempts of 10 s, with 1 s and 2 s between them
            assert lasted(final) == pytest.approx(33.0, abs=1e-5)
        assert final.status is StreamStatus.FAILED
        assert final.error == "handshake: no handshake response within 10 s"
    run_mock(main)


def test_a_server_that_accepts_tcp_then_closes_fails_at_tls(certs):
    async def main():
        listener = trio.socket.socket()
        with listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]

            async def close_each():
                while True:
                    sock, _ = await listener.accept()
                    sock.close()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(close_each)
                async with hostile(certs, None, service_url=f"wss://127.0.0.1:{port}/") as scene:
                    final = await scene.wait_ended()
                    assert lasted(final) == pytest.approx(3.0, abs=1e-5)
                nursery.cancel_scope.cancel()
        assert final.status is StreamStatus.FAILED
        assert final.error.startswith("tls: handshake failed"), final.error
    run_mock(main)


def test_frames_in_the_same_packet_as_the_101_are_handled_at_once(certs):
    """A server that sends its first frames with the upgrade reply, then waits: they are
    acted on at once (here a close 1000: the stream ends as remote_close right away, not
    when a ping goes unanswered 40 s later)."""
    async def script(stream, head):
        await stream.send_all(upgrade_reply(head) + b"\x88\x02\x03\xe8")  # close 1000
        await trio.sleep_forever()

    async def main():
        async with hostile(certs, script, upgrade=False) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 1.0
        assert final.status is StreamStatus.STOPPED
        assert final.stop_reason is StopReason.REMOTE_CLOSE
    run_mock(main)


BROKEN_FRAMES = {
    "masked frame": (b"\x81\x85abcd" + bytes(c ^ k for c, k in zip(b"hello", b"abcda")),
                     "client received unexpected masked frame"),
    "RSV1 set": (b"\xc1\x02{}", "Reserved bit set unexpectedly"),
    "reserved opcode": (b"\x83\x00", "Invalid opcode 0x3"),
    "fragmented ping": (b"\x09\x00", "Invalid attempt to fragment control frame"),
    "continuation first": (b"\x80\x02{}", "unexpected CONTINUATION"),
    "64-bit length with the top bit": (b"\x82\x7f\x80" + bytes(7),
                                       "8-byte payload length with non-zero MSB"),
    "close with 1 byte": (b"\x88\x01\x03", "CLOSE with 1 byte payload"),
}


@pytest.mark.parametrize("frame", list(BROKEN_FRAMES))
def test_a_broken_frame_fails_the_connection_with_1002_naming_it(certs, frame):
    data, expected = BROKEN_FRAMES[frame]
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(data)
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 0.1
        assert final.status is StreamStatus.FAILED
        assert final.error == (f"the server broke the WebSocket protocol ({expected}); "
                               f"closed with 1002")
        assert got.close_code == 1002
    run_mock(main)


def test_a_20_mb_binary_message_closes_with_1009_too(certs):
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        big = ws.send(BytesMessage(bytes(20 << 20)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(got.read, stream, ws)
            async with got.send_lock:
                with pytest.raises(trio.BrokenResourceError):
                    await stream.send_all(big)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
        assert final.status is StreamStatus.FAILED and "1 MiB" in final.error
        assert got.close_code == 1009
    run_mock(main)


def test_a_server_that_drops_every_connection_at_once_fails_after_max_retries(certs):
    """Each reconnect completes its handshake, then the server closes 1011 at once: that is
    one outage, not a new one per connection (before the fix: 160 reconnects a minute,
    forever)."""
    async def script(stream, ws):
        await stream.send_all(ws.send(CloseConnection(code=1011)))
        await trio.sleep(1)

    async def main():
        async with hostile(certs, script, max_retries=3) as scene:
            final = await scene.wait_ended(limit_s=60)
        assert final.status is StreamStatus.FAILED
        assert final.stop_reason is StopReason.CONNECTION_ERROR
        assert final.error == ("the server closed the connection with code 1011 "
                               "(gave up after 3 reconnect attempts)")
        assert final.reconnects == 3 and len(scene.server.attempts) == 4
    run_mock(main)


def test_a_connection_that_stayed_up_ends_its_outage(certs):
    """Drops 12 s apart are separate outages: max_retries 1 survives each of them."""
    async def script(stream, ws):
        got = Received()
        if len(scene_server.attempts) <= 3:
            with trio.move_on_after(12):
                await got.read(stream, ws)
            await stream.send_all(ws.send(CloseConnection(code=1011)))
        else:
            await got.read(stream, ws)

    async def main():
        nonlocal scene_server
        scene_server = RawServer(script, ssl_context=certs.server)
        async with hostile(certs, None, server=scene_server, max_retries=1) as scene:
            await trio.sleep(45)
            assert scene.get().status is StreamStatus.IN_PROGRESS
            assert scene.get().reconnects == 3
    scene_server = None
    run_mock(main)


def test_stop_then_close_in_one_write_ends_the_stream_as_remote_close(certs):
    """The server's `stop` and its close frame arrive together: the stream ends as
    remote_close, not with an internal error from closing twice."""
    got = Received()

    async def script(stream, ws):
        await start_then(stream, ws, got)
        await stream.send_all(ws.send(TextMessage('{"event": "stop"}'))
                              + ws.send(CloseConnection(code=1000)))
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script) as scene:
            final = await scene.wait_ended()
            assert lasted(final) < 0.1
        assert final.status is StreamStatus.STOPPED, final.error
        assert final.stop_reason is StopReason.REMOTE_CLOSE and final.error == ""
    run_mock(main)


def test_the_scenes_socket_check_finds_a_tcp_socket_by_its_ports():
    """What `hostile` counts as left open: new TCP sockets with a scene server's port at
    either end (the live daemon of the API tests opens its own meanwhile)."""
    before = open_sockets()
    with stdsocket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with stdsocket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = listener.accept()
            with accepted:
                found = tcp_ports_of(open_sockets() - before)
                assert sorted(map(sorted, found.values())) == sorted(
                    [sorted({port, 0}), sorted({port, client.getsockname()[1]}),
                     sorted({port, client.getsockname()[1]})])
    assert tcp_ports_of(open_sockets() - before) == {}
