"""The C sink (sink.c) against the Python sink (sink.py): one script of connections and frames,
played over real sockets (ws, and wss with trustme certificates) to each sink as the harness
starts it, gives the same report and the same bytes back (101 responses, pongs, closes).
The script covers what a client can get wrong: gaps, a late start, unmasked and fragmented
frames, bad upgrade requests, and JSON that mediacore never sends (key order, escapes,
duplicate keys, floats, booleans, huge integers, invalid UTF-8), whose gap texts carry
Python's repr."""

import json
import os
import re
import socket
import ssl
import sys

import pytest

from benches.fanout import run as run_mod
from benches.fanout import sink_c
from benches.fanout.certs import make
from benches.fanout.run import start_sink, stop_sink
from tests.fanout.test_continuity import media, start
from tests.fanout.test_frames_in import masked

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
SYNC = object()  # a ping, and wait for its pong: the sink has handled what came before


@pytest.fixture(scope="module")
def c_sink():
    reason = sink_c.unavailable()
    if reason:
        if os.environ.get("CI"):  # CI installs cc and libssl-dev: not building is a failure
            pytest.fail(f"the C sink does not build: {reason}")
        pytest.skip(f"the C sink does not build here: {reason}")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make(str(tmp_path_factory.mktemp("certs")))


def upgrade(path, key_line="Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", method="GET"):
    return (f"{method} {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\n{key_line}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def texts(*messages):
    return b"".join(masked(TEXT, m if isinstance(m, bytes) else m.encode()) for m in messages)


def msg(event, seq, **fields):
    """A message's JSON with `event` and `sequenceNumber` given as JSON text."""
    return "{" + ",".join([f'"event":{event}', f'"sequenceNumber":{seq}']
                          + [f'"{k}":{v}' for k, v in fields.items()]) + "}"


START = start()


def med(seq, chunk, track='"inbound"', payload='""'):
    """A media message with its fields given as JSON text."""
    return (f'{{"event":"media","sequenceNumber":{seq},'
            f'"media":{{"track":{track},"chunk":{chunk},"payload":{payload}}}}}')


def fork(i, *steps):
    return (upgrade(f"/fork/{i}"), list(steps))


SEQUENCES = ["1e16", "1.5", "0.00001", "18446744073709551615", "18446744073709551616", "-0",
             "null", '[1,"a",{"k":null},[]]', '{"a":[true,false],"b":{}}', '"1"', "1e-7",
             "123.456e5", "-9223372036854775809", "5e-324", '"it\'s \\"quoted\\""', "false",
             "0.0001", '{"x":1,"y":2,"x":{"x":[],"x":3}}']
NOT_JSON = [b'{"event":"start","sequenceNumber":1,}', b'{"event":"start","sequenceNumber":1,'
            b'"x":"\xff"}', b'{"event":"start","sequenceNumber":1,"x":"\\ud800"}', b"[1]",
            b'"start"', b'{"event":"start","sequenceNumber":NaN}', b'{"event":"start",'
            b'"sequenceNumber":01}', b'\xef\xbb\xbf' + START.encode(), b"",
            b'{"event":"start","sequenceNumber":1e400}', b'{"event":"start"}',
            b'{"event":"start","sequenceNumber":1} x', b'{"event":"start","sequenceNumber":1,'
            b'"x":"tab\there"}', b'{"event":"start","sequenceNumber":1,"x":"\\x"}']


def script():
    """(request head, steps) per connection, played in order; a step is bytes to send, SYNC,
    or ("recv", n): read n bytes."""
    conns = [
        fork(0, *(texts(m) for m in [START] + [media(n + 2, n + 1) for n in range(200)])),
        fork(1, texts(START, media(2, 1), media(3, 3))),
        fork(2, texts(media(1, 1))),
        # key order, escapes, the last of duplicate keys: no gap
        fork(3, texts('{"sequenceNumber":1,"event":"st\\u0061rt"}',
                      '{"media":{"payload":"","chunk":1,"track":"\\u0069nbound"},'
                      '"event":"media","sequenceNumber":2}',
                      ' {"event":"stop", "event" : "media","sequenceNumber":3,'
                      '"media":{"track":"inbound","chunk":5,"chunk":2}}\n')),
        fork(4, texts(msg("5", 1))),
        fork(5, texts(msg('"it\'s"', 1))),
        fork(6, texts(msg('"caf\\u00e9\\n\\u00a0\\t\\\\\\u2028\\ud83d\\ude00 \\u0001"', 1))),
        fork(7, texts(msg('"start"', "1.0"), msg('"media"', 2))),
        fork(8, texts(msg('"start"', "true"), med(2, "true"), med(3, "2.0"), med(4, 3))),
        fork(9, texts(START, med(2, 1, track="1"), med(3, 2, track="1.0"),
                      med(4, 3, track="true"), med(5, 1, track='"1"'), med(6, 5, track="null"))),
        fork(10, texts(START, med(2, 1), med(3, '"2"'))),
        fork(11, texts(START, med(2, 2, track="1.5"))),
        fork(12, texts(START, msg('"media"', 2))),
        fork(13, texts(START, msg('"media"', 2, media="[1]"))),
        fork(14, texts(START, msg('"media"', 2, media='"inbound"'))),
        fork(15, texts(START, msg('"media"', 2, media='{"track":"inbound"}'))),
        # binary, pong and a reserved opcode are ignored
        fork(16, masked(BINARY, b"\x00\x01"), masked(PONG, b"p"), masked(0x3, b"?"),
             texts(START, media(2, 1))),
        # frames split anywhere, 16- and 64-bit lengths
        fork(17, *(bytes([b]) for b in texts(START, media(2, 1)))),
        fork(18, texts(START, med(2, 1, payload=f'"{"x" * 300}"'),
                       med(3, 2, payload=f'"{"y" * 70000}"'))),
        # a deep but valid field is only validated (500 levels: orjson before 3.9 takes any
        # depth, later versions refuse more than 1024, and the sinks must agree with both)
        fork(19, texts(START, msg('"media"', 2, media='{"track":"inbound","chunk":1}',
                                  deep="[" * 500 + "]" * 500))),
        # frames the reader refuses, after what it accepted
        fork(20, texts(START), SYNC, b"\x81\x02hi"),
        fork(21, texts(START), SYNC, masked(TEXT, b"part", fin=False)),
        fork(22, texts(START), masked(CLOSE, b"\x03\xe8"), ("recv", 4)),
        # one fork over two connections, its index written two ways
        (upgrade("/fork/0023"), [texts(START, media(2, 1)), SYNC]),
        (upgrade("/stream/x/fork/23"), [texts(media(3, 2))]),
        fork(123456789012345678901234567890, texts(START)),
        # upgrade requests the sink refuses, or reads with care
        (upgrade("/other"), []),
        (upgrade("/a'b/\"/fork/1x"), []),
        (upgrade("/fork/24").replace(b"/fork/24", b"/fork/\xff24"), []),
        (upgrade("/fork/25", key_line="X-Key: none"), []),
        (upgrade("/fork/26", key_line="Sec-WebSocket-Key: a b"), []),
        (upgrade("/fork/27", method="POST"), []),
        (upgrade("/fork/28", key_line="sec-websocket-KEY:\t x3JJHMbDL1EzLkh9GBhXDw== \t"),
         [texts(START)]),
        (b"GET /fork/29 HTTP/1.1\r\nX: " + b"a" * 17000, []),
    ]
    conns += [fork(100 + i, texts(msg('"start"', seq))) for i, seq in enumerate(SEQUENCES)]
    conns += [fork(200 + i, texts(START, m)) for i, m in enumerate(NOT_JSON)]
    return conns


def connect(port, certs):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if certs is not None:
        sock = ssl.create_default_context(cafile=certs.ca_file).wrap_socket(
            sock, server_hostname="127.0.0.1")
    return sock


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_head(sock):
    """The response head, or what came before the sink closed the connection."""
    head = b""
    while b"\r\n\r\n" not in head:
        try:
            chunk = sock.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        head += chunk
    return head


def play(kind, transport, certs):
    """The report and every connection's received bytes, for the script played to `kind`."""
    tls = certs if transport == "tls" else None
    seen = []
    with open(os.devnull, "w") as log:
        sink, port = start_sink(transport, certs, log, kind=kind)
        try:
            for head, steps in script():
                sock = connect(port, tls)
                sock.sendall(head)
                # an unfinished head: wait for the sink to refuse it and close. Closing first
                # would race the sink's read: over TLS 1.3 the client has the session tickets
                # unread, so its close sends a reset, which can discard the head in the sink's
                # buffer before the sink reads it (one sink then reports it, the other not)
                got = [recv_head(sock)]
                for step in steps:
                    if step is SYNC:
                        sock.sendall(masked(PING, b"sync"))
                        got.append(recv_exactly(sock, 6))
                    elif isinstance(step, tuple):
                        got.append(recv_exactly(sock, step[1]))
                    else:
                        sock.sendall(step)
                seen.append(got)
                sock.close()
            if tls:  # TLS refused: plain HTTP to the wss sink, and a connection closed at once
                for data in (upgrade("/fork/30"), b""):
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    if data:
                        sock.sendall(data)
                        seen.append([recv_head(sock)])
                    sock.close()
            report = stop_sink(sink)
        finally:
            sink.kill()
            sink.wait()
    return report, seen


def comparable(report):
    """The report without its CPU share, errors as a sorted list with Python's _ssl.c
    locations taken out (the order of errors in one round is the kernel's)."""
    out = dict(report)
    assert isinstance(out.pop("cpu_share"), float)
    out["errors"] = sorted(re.sub(r" \(_ssl\.c:\d+\)", "", e) for e in out["errors"])
    return out


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_the_c_sink_reports_what_the_python_sink_reports(transport, certs, c_sink):
    python_report, python_seen = play("python", transport, certs)
    c_report, c_seen = play("c", transport, certs)
    assert comparable(c_report) == comparable(python_report)
    assert c_seen == python_seen
    # and what both said is what the script did
    forks = {f["fork"]: f for f in c_report["forks"]}
    assert forks[0] == {"fork": 0, "media": 200, "messages": 201, "started": True, "gap": None}
    assert forks[1]["gap"] == "message 3: inbound chunk 3, expected 2"
    assert forks[2]["gap"] == "message 1: first message is 'media', not 'start'"
    for i in (3, 16, 17, 18, 19, 28):
        assert forks[i]["gap"] is None, forks[i]
    assert forks[3]["media"] == 2 and forks[18]["media"] == 2
    assert forks[5]["gap"] == "message 1: first message is \"it's\", not 'start'"
    assert forks[6]["gap"] == ("message 1: first message is 'café\\n\\xa0\\t\\\\\\u2028😀 "
                               "\\x01', not 'start'")
    assert forks[7]["gap"] == "message 2: sequenceNumber 2, expected 1"
    assert forks[8]["gap"] == "message 4: inbound chunk 3, expected 2"
    assert forks[9]["gap"] == "message 6: None chunk 5, expected 1"
    assert forks[10]["gap"] == "message 3: inbound chunk '2', expected 2"
    assert forks[11]["gap"] == "message 2: 1.5 chunk 2, expected 1"
    assert forks[23] == {"fork": 23, "media": 2, "messages": 3, "started": True, "gap": None}
    assert forks[123456789012345678901234567890]["started"]
    assert [forks[100 + i]["gap"].split(": ", 1)[1] for i in range(4)] == [
        "sequenceNumber 1e+16, expected 1", "sequenceNumber 1.5, expected 1",
        "sequenceNumber 1e-05, expected 1", "sequenceNumber 18446744073709551615, expected 1"]
    assert forks[107]["gap"] == "message 1: sequenceNumber [1, 'a', {'k': None}, []], expected 1"
    assert forks[117]["gap"] == "message 1: sequenceNumber {'x': {'x': 3}, 'y': 2}, expected 1"
    assert all(forks[200 + i]["gap"] == "message 2: not a JSON object with event and "
               "sequenceNumber" for i in range(len(NOT_JSON)))
    errors = comparable(c_report)["errors"]
    assert "fork 20: unmasked client frame" in errors
    assert "fork 21: fragmented message (FIN not set)" in errors
    assert "path b'/other' is not /fork/<index>" in errors
    assert "path b'/a\\'b/\"/fork/1x' is not /fork/<index>" in errors
    assert errors.count("not a WebSocket upgrade request") == 3
    assert "request head too long" in errors
    if transport == "tls":
        assert any(e.startswith("TLS handshake: [SSL: HTTP_REQUEST]") for e in errors)
    assert c_report["open_at_end"] == 0
    assert c_seen[22] == [c_seen[22][0], b"\x88\x02\x03\xe8"]  # close answered with 1000
    assert c_seen[20][1] == b"\x8a\x04sync"  # pong
    assert c_seen[0][0].startswith(b"HTTP/1.1 101 ")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in c_seen[0][0]


def test_what_only_the_c_sink_refuses(certs, c_sink):
    """Frames sink.py has no rule for: over 1 MiB (sink.py would buffer without limit), a ping
    over 125 bytes (sink.py would send a malformed pong)."""
    with open(os.devnull, "w") as log:
        sink, port = start_sink("plain", certs, log, kind="c")
        try:
            for i, frame in ((1, b"\x81\xff" + (2 << 20).to_bytes(8, "big") + b"mask"),
                             (2, masked(PING, b"p" * 126))):
                sock = connect(port, None)
                sock.sendall(upgrade(f"/fork/{i}"))
                recv_head(sock)
                sock.sendall(texts(START))
                sock.sendall(frame)
                assert sock.recv(10) == b""  # closed by the sink
                sock.close()
            report = stop_sink(sink)
        finally:
            sink.kill()
            sink.wait()
    assert sorted(report["errors"]) == [
        "fork 1: frame of 2097152 bytes (the limit is 1048576)",
        "fork 2: ping of 126 bytes (a control frame carries at most 125)"]
    assert [f["messages"] for f in report["forks"]] == [1, 1]


def test_without_the_c_sink_the_python_one_runs_and_says_why(certs, monkeypatch, tmp_path):
    monkeypatch.setattr(sink_c, "unavailable", lambda: "no C compiler (cc) on PATH")
    assert run_mod.sink_kind("c") == (
        "python", "C sink not available (no C compiler (cc) on PATH): the Python sink runs "
        "instead")
    with open(tmp_path / "log", "w+") as log:
        sink, _ = start_sink("plain", certs, log)
        try:
            assert sink.args[:3] == [sys.executable, "-m", "benches.fanout.sink"]
            report = stop_sink(sink)
        finally:
            sink.kill()
            sink.wait()
        log.seek(0)
        assert "C sink not available (no C compiler (cc) on PATH)" in log.read()
    assert report["accepted"] == 0
    with pytest.raises(ValueError, match="unknown sink 'rust'"):
        run_mod.sink_kind("rust")


def test_the_c_sink_command_line(c_sink):
    """sink.py's options, argparse's errors."""
    import subprocess
    exe = sink_c.build()
    assert subprocess.run([exe, "--help"], capture_output=True, text=True).stdout.startswith(
        "usage: sink")
    bad = subprocess.run([exe, "--core", "x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "argument --core: invalid int value: 'x'" in bad.stderr
    bad = subprocess.run([exe, "--bogus", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unrecognized arguments: --bogus" in bad.stderr
    # an abbreviation, as argparse takes it; --max-s ends a run nobody stops
    done = subprocess.run([exe, "--batch=5", "--max-s=0.2"], stdin=subprocess.PIPE,
                          capture_output=True, text=True, timeout=10)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and lines[0].startswith("READY ")
    assert json.loads(lines[1]) == {"forks": [], "total_media": 0, "accepted": 0,
                                    "open_at_end": 0, "errors": [], "error_count": 0,
                                    "cpu_share": None}
