"""Sans-IO reader of client WebSocket frames for the sink: bytes in, (opcode, payload) out.

RFC 6455 §5.2, the subset clients send here: every frame masked (a client must mask), FIN set
(the clients under test never fragment a text message; a fragment is reported, not
reassembled). Unmasking is websockets' C `apply_mask`, so the sink spends its time in C per
frame, not in a Python loop over bytes.
"""

from __future__ import annotations

from websockets.speedups import apply_mask

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


class FrameError(Exception):
    """The client sent something this reader refuses (the connection is reported as bad)."""


class FrameReader:
    __slots__ = ("_rest",)

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data) -> list[tuple[int, bytes]]:
        """Every complete frame in what was received so far; a partial frame is kept."""
        if self._rest:
            data = self._rest + bytes(data)
        out = []
        pos, end = 0, len(data)
        while end - pos >= 2:
            b0, b1 = data[pos], data[pos + 1]
            size, p = b1 & 0x7F, pos + 2
            if size == 126:
                if end - p < 2:
                    break
                size, p = (data[p] << 8) | data[p + 1], p + 2
            elif size == 127:
                if end - p < 8:
                    break
                size, p = int.from_bytes(data[p:p + 8], "big"), p + 8
            if not b1 & 0x80:
                raise FrameError("unmasked client frame")
            if not b0 & 0x80:
                raise FrameError("fragmented message (FIN not set)")
            if end - p < 4 + size:
                break
            out.append((b0 & 0x0F, apply_mask(data[p + 4:p + 4 + size], data[p:p + 4])))
            pos = p + 4 + size
        self._rest = bytes(data[pos:]) if pos < end else b""
        return out
