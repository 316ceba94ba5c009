"""What the plivo and twilio profiles share: the stream's identity, its numbering, framing.

Theory of operation. One `Profile` object per stream encodes every engine→server message.
The numbering lives in one place, the native `MediaFrameEncoder`: `sequence` (from 1, +1 per
message, never reset — not by a reconnect either) and a chunk counter per track (from 1).
Python-encoded messages take their numbers from it, and the native fast path
(`media_frame_into`, `tick_into`) advances the same counters, so the two paths can be mixed
freely. A media message is a template — five JSON literals around the sequence number, chunk,
timestamp and base64 payload — built once per track when `start` is first encoded; the
Python `media()` and the native encoder render the same template, so they produce the same
bytes. Time is always an argument (`now_ms`, Unix epoch milliseconds); nothing here reads a
clock or does I/O. Messages are returned as JSON text (compact, ASCII); `frame()` wraps one
in a masked client text frame.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar, Sequence

from mediacore._native.wsframe import MediaFrameEncoder, text_frame
from mediacore.codec import ByteOrder, Format
from mediacore.wire.events import ServerEvent
from mediacore.wire.parse import DTMF_DIGITS

__all__ = ["TRACKS", "Profile", "check_dtmf_digit", "parse_extra_headers"]

TRACKS = ("inbound", "outbound")  # index = the native encoder's track number


def dumps(obj: Any) -> str:
    """The one JSON spelling of every message: compact, ASCII-only (non-ASCII escaped)."""
    return json.dumps(obj, separators=(",", ":"))


def parse_extra_headers(extra_headers: str | None) -> dict[str, str]:
    """SPEC §2.1 `extra_headers` ("k=v,k=v") as a dict, in order (twilio customParameters)."""
    params: dict[str, str] = {}
    for item in (extra_headers or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"extra_headers item {item!r} is not key=value")
        params[key.strip()] = value.strip()
    return params


def check_dtmf_digit(digit: object) -> str:
    """`digit` if it is one DTMF key (0-9 * # A-D); ValueError naming it otherwise."""
    if not isinstance(digit, str) or len(digit) != 1 or digit not in DTMF_DIGITS:
        raise ValueError(f"DTMF digit must be one of 0-9 * # A-D, not {digit!r}")
    return digit


def track_index(track: int | str) -> int:
    if track in (0, 1):
        return int(track)
    try:
        return TRACKS.index(track)  # type: ignore[arg-type]
    except ValueError:
        raise ValueError(f"track must be 'inbound' or 'outbound', not {track!r}") from None


class Profile:
    """Base of the per-stream message encoders; see PlivoProfile and TwilioProfile.

    The native fast path is exposed as the encoder's own bound methods (no Python frame in
    between); they take the track as 0 (inbound) or 1 (outbound) and `now_ms` as epoch ms:

    - `media_frame_into(dst, track, now_ms, payload, offset=0) -> int`: the next media
      message of `track` as one masked text frame, written into `dst` at `offset`;
    - `tick_into(dst, now_ms, inbound, outbound, offset=0) -> int`: both tracks of one tick,
      inbound first, back to back (one socket write per fork per tick);
    - `frame_size(track, now_ms, payload_bytes)` (exact) and `max_frame_size(payload_bytes)`
      (any numbering) to size `dst`.

    Both raise ValueError, writing nothing and taking no number, when `dst` is too small.
    """

    name: ClassVar[str]
    # names of the three numbers of a media template, in the order they appear: s = sequence
    # number, c = chunk, t = timestamp (mc_wsframe.h)
    _media_order: ClassVar[str]

    def __init__(self, *, stream_id: str, call_id: str, account_id: str,
                 tracks: Sequence[str] = ("inbound",), format: Format | str = Format.MULAW_8K,
                 extra_headers: str | None = None,
                 l16_byte_order: ByteOrder | str = ByteOrder.LE) -> None:
        for what, value in (("stream_id", stream_id), ("call_id", call_id),
                            ("account_id", account_id)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{what} must be a non-empty string, not {value!r}")
        tracks = tuple(tracks)
        if not tracks or len(set(tracks)) != len(tracks) or not set(tracks) <= set(TRACKS):
            raise ValueError(f"tracks must be 'inbound', 'outbound' or both, not {tracks!r}")
        if extra_headers is not None and not isinstance(extra_headers, str):
            raise ValueError(f"extra_headers must be a string, not {extra_headers!r}")
        self.stream_id = stream_id
        self.call_id = call_id
        self.account_id = account_id
        self.tracks = tuple(t for t in TRACKS if t in tracks)  # inbound first, always
        self.format = Format.parse(format)
        self.extra_headers = extra_headers or ""
        self.l16_byte_order = ByteOrder.parse(l16_byte_order)
        self._encoder = MediaFrameEncoder()
        self.encoder = self._encoder  # the engine's fan-out kernel encodes with it directly
        self._templates: list[tuple[tuple[str, ...], str]] = []
        self._started = False

    # The fast path is the native encoder's own methods: no Python frame per call (a hot loop
    # takes the method once). Properties rather than attributes set per stream: six bound
    # methods per stream would be six more objects for the garbage collector to walk.
    media_frame_into = property(lambda self: self._encoder.media_frame_into)
    tick_into = property(lambda self: self._encoder.tick_into)
    frame_size = property(lambda self: self._encoder.frame_size)
    max_frame_size = property(lambda self: self._encoder.max_frame_size)
    # after a reconnect, frames cut off mid-write are encoded again with their chunks
    rewind_chunk = property(lambda self: self._encoder.rewind_chunk)
    # the next chunk of track 0 or 1, natively (chunk() also takes track names)
    next_chunk_of = property(lambda self: self._encoder.chunk)

    # -- numbering ---------------------------------------------------------------------------

    @property
    def sequence(self) -> int:
        """The sequence number the next message will carry."""
        return self._encoder.sequence

    def chunk(self, track: int | str) -> int:
        """The chunk number the next media message of `track` will carry."""
        return self._encoder.chunk(track_index(track))

    @property
    def started(self) -> bool:
        return self._started

    def _next_sequence(self) -> int:
        return self._encoder.next_sequence()

    # -- media -------------------------------------------------------------------------------

    def _media_literals(self, track: str) -> tuple[str, ...]:
        raise NotImplementedError

    def _begin(self, now_ms: int) -> None:
        """First `start`: install the media templates (the native path needs them)."""
        if self._started:
            return
        self._templates = [(self._media_literals(track), self._media_order) for track in TRACKS]
        for index, (literals, order) in enumerate(self._templates):
            self._encoder.set_template(index, tuple(lit.encode("ascii") for lit in literals),
                                       order.encode("ascii"))
        self._started = True

    def media(self, track: int | str, payload: bytes, now_ms: int) -> str:
        """The next media message of `track` carrying `payload` (raw audio in the stream's
        format) captured at `now_ms`. Same bytes as the native `media_frame_into` frame."""
        index = track_index(track)
        if not self._started:
            raise ValueError("media before start: encode start() first")
        stamp = int(now_ms) - self._encoder.timestamp_origin_ms
        if stamp < 0:
            raise ValueError(f"timestamp {now_ms} ms is before the stream's origin "
                             f"{self._encoder.timestamp_origin_ms} ms")
        literals, order = self._templates[index]
        values = {"s": self._next_sequence(), "c": self._encoder.next_chunk(index), "t": stamp}
        return "".join((literals[0], str(values[order[0]]), literals[1], str(values[order[1]]),
                        literals[2], str(values[order[2]]), literals[3],
                        base64.b64encode(payload).decode("ascii"), literals[4]))

    # -- framing and parsing -----------------------------------------------------------------

    @staticmethod
    def frame(message: str | bytes) -> bytes:
        """`message` as one masked client text frame, ready for the socket."""
        return text_frame(message)

    def parse(self, data: str | bytes) -> ServerEvent | None:
        """A server→engine message as an event (None: ignored). Raises WireProtocolError."""
        raise NotImplementedError

    # -- messages every profile has (see the subclasses for their shapes) --------------------

    def opening(self, now_ms: int, *, reconnect: int = 0) -> list[str]:
        """The messages that open a connection: `start` (twilio: `connected`, `start`)."""
        return [self.start(now_ms, reconnect=reconnect)]

    def start(self, now_ms: int, *, reconnect: int = 0) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(stream_id={self.stream_id!r}, "
                f"sequence={self.sequence}, tracks={self.tracks!r})")
