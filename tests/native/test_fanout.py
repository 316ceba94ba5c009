"""The fan-out kernel (mediacore/_native/fanout.pyx) over real sockets: what reaches the peer
is exactly the profile's frames in order, decoded by independent WebSocket servers; a full
socket, a broken peer, an unencodable tick and a would-block TLS write each come back to the
caller with the bytes that did not go out, and never disturb the other writers."""

from __future__ import annotations

import base64
import collections
import json
import socket
import ssl
import time

import numpy as np
import pytest

from mediacore._native.fanout import (DONE, FAILED, FIRST, NOT_READY, PARTIAL, DirectWriter,
                                      WriteLog, fan_out)
from mediacore.wire import make_profile
from tests.wire.decoders import websockets_messages, wsproto_messages

T0 = 1_705_312_200_000
IN, OUT = b"\x11" * 160, b"\x22" * 160


class Fork:
    """What a writer points back at (the engine's Fork); the kernel only stores it."""


SOCKETS: list[socket.socket] = []


@pytest.fixture(autouse=True)
def close_sockets():
    yield
    while SOCKETS:
        SOCKETS.pop().close()


def socketpair():
    a, b = socket.socketpair()
    SOCKETS.extend((a, b))
    return a, b


def writer(tracks=("inbound",), *, log=None, log_id=-1, start=True, stream_id="s-1"):
    profile = make_profile("plivo", stream_id=stream_id, call_id="c-1", account_id="A1",
                           tracks=tracks, format="audio/x-mulaw;rate=8000")
    if start:
        profile.start(T0)
    index = tuple(0 if t == "inbound" else 1 for t in profile.tracks)
    w = DirectWriter(Fork(), profile.encoder, index, collections.deque(), bytearray(), log,
                     log_id)
    return w, profile


def plain(w, capacity=2048):
    a, b = socketpair()
    a.setblocking(False)
    w.attach(a, None, capacity)
    w.open = True
    return a, b


def receive_all(sock) -> bytes:
    sock.setblocking(False)
    data = bytearray()
    while True:
        try:
            chunk = sock.recv(1 << 16)
        except BlockingIOError:
            return bytes(data)
        if not chunk:
            return bytes(data)
        data += chunk


def media(data: bytes) -> list[dict]:
    texts = websockets_messages(data)
    assert texts == wsproto_messages(data)
    return [json.loads(t) for t in texts]


def test_ready_writers_send_every_tick_in_full_and_only_the_first_comes_back():
    writers = [writer(stream_id=f"s-{i}")[0] for i in range(3)]
    socks = [plain(w) for w in writers]
    first = fan_out(writers, T0 + 20, IN, OUT)
    assert first == writers and {w.outcome for w in first} == {FIRST}
    for w in writers:
        w.first_pending = False  # the fork reports the first frame, then clears this
    for k in range(2, 6):
        assert fan_out(writers, T0 + 20 * k, IN, OUT) is None
    for w, (_a, b) in zip(writers, socks):
        assert w.outcome == DONE and w.frames_sent == 5 and w.encoded == w.written > 0
        got = media(receive_all(b))
        assert [m["media"]["chunk"] for m in got] == [1, 2, 3, 4, 5]
        assert [m["sequenceNumber"] for m in got] == [2, 3, 4, 5, 6]  # start was 1
        assert [int(m["media"]["timestamp"]) for m in got] == [T0 + 20 * k for k in range(1, 6)]
        assert all(base64.b64decode(m["media"]["payload"]) == IN for m in got)


def test_both_tracks_go_out_inbound_first_in_one_write():
    w, _ = writer(("inbound", "outbound"))
    _a, b = plain(w)
    fan_out([w], T0 + 20, IN, OUT)
    got = media(receive_all(b))
    assert [(m["media"]["track"], m["media"]["chunk"]) for m in got] == [("inbound", 1),
                                                                      ("outbound", 1)]
    assert [base64.b64decode(m["media"]["payload"]) for m in got] == [IN, OUT]
    assert w.frames_sent == 2


def test_outbound_only_writer_sends_the_outbound_frame():
    w, _ = writer(("outbound",))
    _a, b = plain(w)
    fan_out([w], T0 + 20, IN, OUT)
    (m,) = media(receive_all(b))
    assert m["media"]["track"] == "outbound" and base64.b64decode(m["media"]["payload"]) == OUT


@pytest.mark.parametrize("why", ["closed", "queued", "unwritten"])
def test_a_writer_that_is_not_ready_gets_the_tick_back_unencoded(why):
    w, profile = writer()
    a, b = plain(w)
    queue = collections.deque()
    out = bytearray()
    w = DirectWriter(Fork(), profile.encoder, (0,), queue, out)
    w.attach(a, None, 2048)
    w.open = why != "closed"
    if why == "queued":
        queue.append("something earlier")
    elif why == "unwritten":
        out += b"earlier bytes"
    assert fan_out([w], T0 + 20, IN, OUT) == [w]
    assert w.outcome == NOT_READY and w.frames_sent == 0
    assert profile.chunk("inbound") == 1  # nothing was encoded
    assert receive_all(b) == b""


def test_a_full_socket_returns_the_rest_of_the_tick():
    w, _ = writer()
    a, b = plain(w)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    w.first_pending = False
    sent = bytearray()
    for k in range(1, 10_000):
        if fan_out([w], T0 + 20 * k, IN, OUT) is not None:
            break
        sent += b"x" * w.written
    assert w.outcome == PARTIAL and w.written < w.encoded and w.error is None
    assert len(w.pending()) == w.encoded - w.written
    # what went out plus what is pending is whole frames, in order
    data = receive_all(b)
    got = media(data + w.pending())
    assert [m["media"]["chunk"] for m in got] == list(range(1, k + 1))


def test_what_a_full_socket_left_survives_the_writers_after_it():
    """Every writer encodes into one shared buffer: the bytes a full socket did not take are
    the writer's own, whatever the writers after it encode in the same call."""
    stalled, _ = writer(stream_id="s-stalled")
    a, b = plain(stalled)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    others = [writer(stream_id=f"s-{i}")[0] for i in range(5)]
    peers = [plain(w)[1] for w in others]
    for w in (stalled, *others):
        w.first_pending = False
    for k in range(1, 10_000):
        slow = fan_out([stalled, *others], T0 + 20 * k, IN, OUT)
        if slow is not None:
            break
        # drain the others' peers so that only the stalled socket fills
        for peer in peers:
            receive_all(peer)
    assert slow == [stalled] and stalled.outcome == PARTIAL
    assert all(w.outcome == DONE for w in others)
    got = media(receive_all(b) + stalled.pending())
    assert [m["media"]["chunk"] for m in got] == list(range(1, k + 1))
    assert {m["streamId"] for m in got} == {"s-stalled"}
    # the writers after it wrote their own frames of the last tick
    for i, peer in enumerate(peers):
        last = media(receive_all(peer))
        assert [(m["streamId"], m["media"]["chunk"]) for m in last] == [(f"s-{i}", k)]


def test_a_broken_peer_fails_the_writer_without_a_signal():
    w, _ = writer()
    a, b = plain(w)
    b.close()
    w.first_pending = False
    outcomes = []
    for k in range(1, 4):
        slow = fan_out([w], T0 + 20 * k, IN, OUT)
        outcomes.append(w.outcome)
        if slow:
            break
    assert w.outcome == FAILED and isinstance(w.error, OSError)
    assert w.written == 0 and len(w.pending()) == w.encoded > 0


def test_an_unencodable_tick_fails_only_that_writer():
    broken, _ = writer(start=False, stream_id="no-template")  # never started: no templates
    good, _ = writer(stream_id="good")
    good.first_pending = False
    plain(broken)
    _a, b = plain(good)
    assert fan_out([broken, good], T0 + 20, IN, OUT) == [broken]
    assert broken.outcome == FAILED and broken.encoded == 0 and broken.frames_sent == 0
    assert "template" in str(broken.error)
    assert good.outcome == DONE and len(media(receive_all(b))) == 1


def test_too_small_a_capacity_is_an_encode_failure_not_an_overflow():
    w, _ = writer()
    plain(w, capacity=64)
    fan_out([w], T0 + 20, IN, OUT)
    assert w.outcome == FAILED and w.encoded == 0 and w.frames_sent == 0
    assert "too small" in str(w.error)


def test_tls_writes_go_through_the_write_callable():
    w, _ = writer()
    w.first_pending = False
    written, mode = [], ["ok"]

    def tls_write(data):
        if mode[0] == "block":
            raise ssl.SSLWantWriteError()
        if mode[0] == "reset":
            raise ConnectionResetError("peer reset")
        written.append(bytes(data))
        return len(data)

    a, _b = socketpair()
    w.attach(a, tls_write, 2048)
    w.open = True
    assert fan_out([w], T0 + 20, IN, OUT) is None and len(written) == 1
    mode[0] = "block"
    assert fan_out([w], T0 + 40, IN, OUT) == [w]
    assert w.outcome == PARTIAL and w.written == 0 and w.error is None
    blocked = w.pending()
    mode[0] = "reset"
    fan_out([w], T0 + 60, IN, OUT)
    assert w.outcome == FAILED and isinstance(w.error, ConnectionResetError)
    got = media(written[0] + blocked + w.pending())
    assert [m["media"]["chunk"] for m in got] == [1, 2, 3]


def test_detach_stops_writes():
    w, _ = writer()
    a, b = plain(w)
    w.detach()
    assert not w.open
    w.open = True  # even if the fork marked it open again, nothing is written to the old fd
    fan_out([w], T0 + 20, IN, OUT)
    assert w.outcome == FAILED and "not attached" in str(w.error)
    assert receive_all(b) == b""


def test_write_log_records_each_forks_frames_from_go():
    times = np.full(2 * 3, np.nan)
    edges = []
    log = WriteLog(times, {"s-0": 0, "s-1": 1}, 3, (0, 2), lambda i, n: edges.append((i, n)))
    writers = [writer(stream_id=f"s-{i}", log=log, log_id=log.index(f"s-{i}"))[0]
               for i in range(2)]
    for w in writers:
        plain(w)
        w.first_pending = False
    fan_out(writers, T0 + 20, IN, OUT)  # before go: not logged
    assert log.written == 0 and np.isnan(times).all()
    log.go()
    before = time.monotonic()
    for k in range(2, 7):
        fan_out(writers, T0 + 20 * k, IN, OUT)
    after = time.monotonic()
    assert log.written == 6  # 3 frames per fork, later ones past the window
    grid = times.reshape(3, 2)
    assert ((grid >= before) & (grid <= after)).all()
    assert (np.diff(grid, axis=0) >= 0).all()
    assert edges == [(0, 0), (1, 0), (0, 2), (1, 2)]
    assert log.index("unknown") == -1


@pytest.mark.parametrize("make, message", [
    (lambda: WriteLog(bytearray(48), {"a": 0}, 1), "float64"),
    (lambda: WriteLog(np.zeros(3), {"a": 0, "b": 1}, 2), "fewer than"),
    (lambda: WriteLog(np.zeros(3), {"a": 5}, 1), "outside"),
    (lambda: WriteLog(np.zeros(3), {"a": 0}, 1, (1, 2, 3, 4, 5)), "at most 4"),
    (lambda: WriteLog(np.zeros(3), {"a": 0}, 1).note(3, 1), "outside"),
    (lambda: writer(("inbound",))[0].attach(socketpair()[0], None, 0), "capacity"),
    (lambda: DirectWriter(None, writer()[1].encoder, (2,), collections.deque(), bytearray()),
     "tracks"),
    (lambda: DirectWriter(None, writer()[1].encoder, (0,), collections.deque(), bytearray(),
                          WriteLog(np.zeros(1), {"a": 0}, 1), 3), "outside"),
])
def test_bad_arguments_are_refused_with_a_reason(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fan_out_checks_its_list():
    with pytest.raises(TypeError):
        fan_out([object()], T0, IN, OUT)
    with pytest.raises(TypeError):
        fan_out(None, T0, IN, OUT)
    assert fan_out([], T0, IN, OUT) is None


def test_a_read_only_times_buffer_is_refused():
    with pytest.raises((BufferError, TypeError)):
        WriteLog(bytes(8), {"a": 0}, 1)
