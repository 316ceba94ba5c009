"""The native TLS client (mediacore/_native/tls.pyx) against a real TLS server (the stdlib's,
server side, over a socket pair: no threads, each side stepped in turn): the handshake and
its checks (trust, host name, IP address), data both ways, the end of a connection (clean and
not), a full socket and the retry of the same bytes, and the fan-out kernel writing through
the native connection."""

from __future__ import annotations

import collections
import json
import os
import socket
import ssl

import pytest
import trustme

from mediacore._native.fanout import DONE, FAILED, PARTIAL, DirectWriter, fan_out

try:
    from mediacore._native.tls import ClientContext
except ImportError:  # built without OpenSSL headers (setup.py); CI builds it: fail there
    if os.environ.get("CI"):
        raise
    pytest.skip("the native TLS client was not built (no OpenSSL headers)",
                allow_module_level=True)
from mediacore.wire import make_profile
from tests.wire.decoders import websockets_messages, wsproto_messages

T0 = 1_705_312_200_000
IN = b"\x11" * 160


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    ca_file = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other = tmp_path_factory.mktemp("other") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    return server, str(ca_file), str(other)


class Pair:
    """A native client and a stdlib server connection over a socket pair."""

    def __init__(self, pki, host="localhost", ca="trusted"):
        server_ctx, ca_file, other = pki
        self.a, self.b = socket.socketpair()
        self.a.setblocking(False)
        self.b.setblocking(False)
        ctx = ClientContext(ca_file if ca == "trusted" else other if ca == "other" else None)
        self.client = ctx.connection(self.a, host)
        self.server = server_ctx.wrap_socket(self.b, server_side=True,
                                             do_handshake_on_connect=False)

    def handshake(self):
        done = [False, False]
        for _ in range(50):
            for i, side in enumerate((self.client, self.server)):
                if done[i]:
                    continue
                try:
                    side.do_handshake()
                    done[i] = True
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            if all(done):
                return
        raise AssertionError("the handshake did not finish")

    def server_read(self) -> bytes:
        data = bytearray()
        while True:
            try:
                chunk = self.server.recv(1 << 16)
            except ssl.SSLWantReadError:
                return bytes(data)
            if not chunk:
                return bytes(data)
            data += chunk

    def close(self):
        self.server.close()
        self.a.close()


@pytest.fixture
def pairs(pki):
    made = []

    def make(**kwargs):
        made.append(Pair(pki, **kwargs))
        return made[-1]

    yield make
    for pair in made:
        pair.close()


def test_handshake_then_data_both_ways(pairs):
    p = pairs()
    assert p.client.version() is None
    p.handshake()
    assert p.client.version() in ("TLSv1.2", "TLSv1.3")
    assert p.client.send(b"hello") == 5 and p.server_read() == b"hello"
    p.server.send(b"world")
    assert p.client.recv(100) == b"world"
    with pytest.raises(ssl.SSLWantReadError):
        p.client.recv(100)


def test_an_ip_address_is_checked_against_the_certificate(pairs):
    pairs(host="127.0.0.1").handshake()
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        pairs(host="127.0.0.2").handshake()
    assert info.value.verify_message == "IP address mismatch"


def test_a_certificate_for_another_name_is_refused(pairs):
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        pairs(host="example.com").handshake()
    assert info.value.verify_message == "hostname mismatch"
    assert "hostname mismatch" in str(info.value)


@pytest.mark.parametrize("ca", ["other", "system"])
def test_a_certificate_from_an_untrusted_ca_is_refused(pairs, ca):
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        pairs(ca=ca).handshake()
    assert info.value.verify_message == "unable to get local issuer certificate"


def test_the_stdlib_in_the_same_thread_is_not_confused_by_a_native_failure(pairs, pki):
    """OpenSSL's error queue is per thread: a native failure must leave it empty."""
    with pytest.raises(ssl.SSLCertVerificationError):
        pairs(host="example.com").handshake()
    server_ctx, ca_file, _ = pki
    a, b = socket.socketpair()
    with a, b:
        a.setblocking(False)
        b.setblocking(False)
        client = ssl.create_default_context(cafile=ca_file).wrap_socket(
            a, server_hostname="localhost", do_handshake_on_connect=False)
        server = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
    with client, server:
        done = set()
        for _ in range(50):
            for side in (client, server):
                if side not in done:
                    try:
                        side.do_handshake()
                        done.add(side)
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                        pass
        assert len(done) == 2
        client.send(b"x")
        assert server.recv(1) == b"x"


def test_a_clean_close_reads_as_end_of_stream(pairs):
    p = pairs()
    p.handshake()
    try:
        p.server.unwrap()  # sends close_notify
    except ssl.SSLWantReadError:
        pass
    assert p.client.recv(100) == b""


def test_a_close_without_close_notify_is_an_eof_error(pairs):
    p = pairs()
    p.handshake()
    p.server.close()
    with pytest.raises(ssl.SSLEOFError):
        p.client.recv(100)


def test_a_full_socket_would_block_and_the_same_bytes_go_out_later(pairs):
    p = pairs()
    p.handshake()
    p.a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sent, blocked = bytearray(), None
    for i in range(100_000):
        chunk = bytes([i % 251]) * 1000
        try:
            p.client.send(chunk)
            sent += chunk
        except ssl.SSLWantWriteError:
            blocked = chunk
            break
    assert blocked is not None
    got = bytearray(p.server_read())
    while True:  # offer the same bytes again until they go (the peer reads meanwhile)
        try:
            p.client.send(blocked)
            break
        except ssl.SSLWantWriteError:
            got += p.server_read()
    sent += blocked
    got += p.server_read()
    assert got == sent


def test_a_reset_peer_fails_the_send(pairs):
    p = pairs()
    p.handshake()
    p.server.close()
    with pytest.raises(OSError):  # EPIPE (an SSLError is an OSError too)
        for _ in range(10):
            p.client.send(b"x" * 1000)


def test_bad_arguments_are_refused_with_a_reason(pki, tmp_path):
    _, ca_file, _ = pki
    with pytest.raises(FileNotFoundError, match="CA file not found"):
        ClientContext(str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ssl.SSLError, match="cannot load CA file .*junk.pem"):
        ClientContext(str(junk))
    ctx = ClientContext(ca_file)
    s = socket.socket()
    s.close()
    with pytest.raises(ValueError, match="closed"):
        ctx.connection(s, "localhost")
    with socket.socket() as s:
        with pytest.raises(ValueError, match="host name"):
            ctx.connection(s, "")
        conn = ctx.connection(s, "localhost")
        with pytest.raises(ValueError, match="n must be"):
            conn.recv(0)


# -- the fan-out kernel through a native connection ---------------------------------------------

def kernel_writer(p: Pair):
    profile = make_profile("plivo", stream_id="s-1", call_id="c-1", account_id="A1",
                           tracks=("inbound",), format="audio/x-mulaw;rate=8000")
    profile.start(T0)
    w = DirectWriter(object(), profile.encoder, (0,), collections.deque(), bytearray())
    w.attach(p.a, None, 2048, tls=p.client)
    w.open, w.first_pending = True, False
    return w


def chunks(data: bytes) -> list[int]:
    texts = websockets_messages(data)
    assert texts == wsproto_messages(data)
    return [json.loads(t)["media"]["chunk"] for t in texts]


def test_the_kernel_writes_frames_through_the_native_connection(pairs):
    p = pairs()
    p.handshake()
    w = kernel_writer(p)
    for k in range(1, 6):
        assert fan_out([w], T0 + 20 * k, IN, IN) is None
        assert w.outcome == DONE and w.written == w.encoded > 0
    assert chunks(p.server_read()) == [1, 2, 3, 4, 5]


def test_a_full_socket_hands_the_whole_tick_back_and_it_goes_out_later(pairs):
    p = pairs()
    p.handshake()
    p.a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    w = kernel_writer(p)
    for k in range(1, 100_000):
        if fan_out([w], T0 + 20 * k, IN, IN) is not None:
            break
    assert w.outcome == PARTIAL and w.written == 0 and w.error is None
    pending, got = w.pending(), bytearray(p.server_read())
    assert len(pending) == w.encoded
    while True:  # the fork's writer offers the same bytes again
        try:
            p.client.send(pending)
            break
        except ssl.SSLWantWriteError:
            got += p.server_read()
    got += p.server_read()
    assert chunks(bytes(got)) == list(range(1, k + 1))


def test_a_broken_connection_fails_the_writer_with_the_reason(pairs):
    p = pairs()
    p.handshake()
    p.server.close()
    w = kernel_writer(p)
    for k in range(1, 10):
        if fan_out([w], T0 + 20 * k, IN, IN):
            break
    assert w.outcome == FAILED and isinstance(w.error, OSError)
    assert len(w.pending()) == w.encoded > 0


def test_tls_and_tls_write_together_are_refused(pairs):
    p = pairs()
    w = kernel_writer(p)
    with pytest.raises(ValueError, match="not both"):
        w.attach(p.a, lambda data: len(data), 2048, tls=p.client)
