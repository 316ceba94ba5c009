"""The server side of the RFC 6455 opening handshake, enough for the sink (sans-IO)."""

from __future__ import annotations

import base64
import hashlib
import re

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_REQUEST_BYTES = 16384
_KEY = re.compile(rb"^sec-websocket-key:[ \t]*(\S+)[ \t]*\r?$", re.I | re.M)
_PATH = re.compile(rb"^GET (\S+) HTTP/1\.1\r\n")
_FORK = re.compile(r"/fork/(\d+)$")


class HandshakeError(Exception):
    pass


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def respond(request: bytes) -> tuple[int, bytes]:
    """(fork index from the path /fork/<i>, the 101 response) for one complete request head."""
    path, key = _PATH.match(request), _KEY.search(request)
    if not path or not key:
        raise HandshakeError("not a WebSocket upgrade request")
    fork = _FORK.search(path.group(1).decode("ascii", "replace"))
    if not fork:
        raise HandshakeError(f"path {path.group(1)!r} is not /fork/<index>")
    return int(fork.group(1)), (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                + accept_key(key.group(1)) + b"\r\n\r\n")
