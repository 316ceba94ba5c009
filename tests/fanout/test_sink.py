"""The sink as the harness runs it (a subprocess on real sockets, ws and wss), fed crafted
frames: its report counts media per fork and names the first gap."""

import json
import socket
import ssl
import time
import pytest

from benches.fanout.certs import make
from benches.fanout.run import start_sink, stop_sink
from tests.fanout.test_continuity import media, start
from tests.fanout.test_frames_in import masked

TEXT = 0x1


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make(str(tmp_path_factory.mktemp("certs")))


def open_fork(port, fork, certs=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if certs is not None:
        sock = ssl.create_default_context(cafile=certs.ca_file).wrap_socket(
            sock, server_hostname="127.0.0.1")
    sock.sendall(f"GET /fork/{fork} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1024)
    assert head.startswith(b"HTTP/1.1 101")
    return sock


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_the_sink_reports_counts_and_first_gaps(transport, certs):
    with open("/dev/null", "w") as log:
        sink, port = start_sink(transport, certs, log)
        try:
            tls = certs if transport == "tls" else None
            good, gap, late_start = (open_fork(port, i, tls) for i in range(3))
            time.sleep(0.7)  # past SETUP_QUIET_S: the sink now reads in batches, as in a run
            for m in [start()] + [media(n + 2, n + 1) for n in range(200)]:
                good.sendall(masked(TEXT, m.encode()))  # over TLS: one record per frame
            gap.sendall(b"".join(masked(TEXT, m.encode())
                                 for m in (start(), media(2, 1), media(3, 3))))
            late_start.sendall(masked(TEXT, media(1, 1).encode()))
            for sock in (good, gap, late_start):
                sock.close()
            asked = time.monotonic()
            report = stop_sink(sink)
            # drained at once: the sink reads every record waiting, not one per round
            assert time.monotonic() - asked < 3
        finally:
            sink.kill()
            sink.wait()
    assert report["accepted"] == 3 and report["total_media"] == 203
    assert report["open_at_end"] == 0
    assert report["forks"] == [
        {"fork": 0, "media": 200, "messages": 201, "started": True, "gap": None},
        {"fork": 1, "media": 2, "messages": 3, "started": True,
         "gap": "message 3: inbound chunk 3, expected 2"},
        {"fork": 2, "media": 1, "messages": 1, "started": False,
         "gap": "message 1: first message is 'media', not 'start'"},
    ]


def test_the_sink_answers_a_close_and_stops_on_stdin_eof(certs):
    with open("/dev/null", "w") as log:
        sink, port = start_sink("plain", certs, log)
        try:
            sock = open_fork(port, 5)
            sock.sendall(masked(TEXT, start().encode()) + masked(0x8, b"\x03\xe8"))
            assert sock.recv(16) == b"\x88\x02\x03\xe8"
            sock.close()
            sink.stdin.close()
            out = sink.stdout.read()
            sink.stdout.close()
            report = json.loads(out.strip().splitlines()[-1])
            assert sink.wait(30) == 0
        finally:
            sink.kill()
            sink.wait()
    assert report["forks"][0]["messages"] == 1 and report["open_at_end"] == 0
