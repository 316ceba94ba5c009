"""Protocol errors, named by who is at fault (as h11 does).

`WireProtocolError` — the *server* broke the protocol: a message the engine cannot accept.
The stream answers with an `error` message and keeps running, unless `closes_connection`
(a message over 1 MiB: close with 1009). The parser raises nothing else.

Misuse by the engine itself (a bad argument to an encoder) raises the ordinary `ValueError`
or `TypeError` naming the argument; those are bugs, never the server's fault.
"""

from __future__ import annotations

__all__ = ["CLOSE_MESSAGE_TOO_BIG", "WireProtocolError"]

CLOSE_MESSAGE_TOO_BIG = 1009  # RFC 6455 §7.4.1


class WireProtocolError(ValueError):
    """A server→engine message broke the protocol; `reason` says how, in words that can be
    sent back to the server as is."""

    def __init__(self, reason: str, *, close_code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.close_code = close_code

    @property
    def closes_connection(self) -> bool:
        """True when the engine must close the WebSocket (with `close_code`) rather than
        answer with an `error` message."""
        return self.close_code is not None

    def __repr__(self) -> str:
        extra = f", close_code={self.close_code}" if self.close_code is not None else ""
        return f"WireProtocolError({self.reason!r}{extra})"
