"""Independent WebSocket server-side decoders for the frames mediacore writes: wsproto and
the `websockets` package, each after a real opening handshake, so they apply every check a
server applies to a client (masking required, RSV bits, opcodes, lengths)."""

from __future__ import annotations

from websockets.frames import Opcode
from websockets.server import ServerProtocol
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

HANDSHAKE = (b"GET /stream HTTP/1.1\r\nHost: agent.example\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\nUser-Agent: mediacore-test\r\n\r\n")


def wsproto_messages(data: bytes) -> list[str]:
    """Text messages a wsproto server receives from these bytes (after the handshake)."""
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(HANDSHAKE)
    request = [e for e in server.events() if isinstance(e, Request)]
    assert request, "wsproto did not accept the test handshake"
    server.send(AcceptConnection())
    server.receive_data(data)
    messages, parts = [], []
    for event in server.events():
        assert isinstance(event, TextMessage), f"wsproto saw {event!r}"
        parts.append(event.data)
        if event.message_finished:
            messages.append("".join(parts))
            parts = []
    assert not parts, "a message was left unfinished"
    return messages


def websockets_messages(data: bytes) -> list[str]:
    """Text messages a `websockets` server protocol receives from these bytes."""
    server = ServerProtocol(max_size=None)
    server.receive_data(HANDSHAKE)
    (request,) = server.events_received()
    server.send_response(server.accept(request))
    server.receive_data(data)
    messages = []
    for frame in server.events_received():
        assert frame.opcode is Opcode.TEXT and frame.fin, f"websockets saw {frame!r}"
        messages.append(frame.data.decode("utf-8"))
    assert server.parser_exc is None, server.parser_exc
    return messages


def frame_layout(data: bytes) -> tuple[int, int, bytes]:
    """(length field form: 7, 16 or 64 bits; payload length; mask key) of the first frame,
    read by hand from RFC 6455 §5.2."""
    assert data[0] == 0x81, "FIN + text opcode"
    assert data[1] & 0x80, "the MASK bit must be set on client frames"
    n7 = data[1] & 0x7F
    if n7 < 126:
        return 7, n7, data[2:6]
    if n7 == 126:
        return 16, int.from_bytes(data[2:4], "big"), data[4:8]
    return 64, int.from_bytes(data[2:10], "big"), data[10:14]
