"""The sink's side of the opening handshake."""

import pytest

from benches.fanout.handshake import HandshakeError, accept_key, respond

REQUEST = (b"GET /fork/42 HTTP/1.1\r\nHost: 127.0.0.1:9\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Version: 13\r\n\r\n")


def test_rfc6455_example_key():
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_the_fork_index_comes_from_the_path():
    fork, response = respond(REQUEST)
    assert fork == 42
    assert response.startswith(b"HTTP/1.1 101 ")
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in response
    assert response.endswith(b"\r\n\r\n")


def test_header_names_are_case_insensitive():
    assert respond(REQUEST.replace(b"Sec-WebSocket-Key", b"sec-websocket-key"))[0] == 42


@pytest.mark.parametrize("request_", [
    REQUEST.replace(b"/fork/42", b"/other"),
    REQUEST.replace(b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b""),
    REQUEST.replace(b"GET", b"POST"),
])
def test_other_requests_are_refused(request_):
    with pytest.raises(HandshakeError):
        respond(request_)
