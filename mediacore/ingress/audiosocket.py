"""Asterisk AudioSocket framing, sans-IO: bytes in, frames out, and back.

A frame is a 1-byte kind, a 2-byte big-endian payload length, then the payload
(Asterisk's res_audiosocket.c and docs; the Go reference CyCoreSystems/audiosocket):

    0x00 hang-up (length 0)           0x10 audio, signed linear 16-bit LE, 8 kHz mono
    0x01 the call's UUID (16 bytes)   0x12 audio at 16 kHz (Asterisk 22+, slin16)
    0x03 a DTMF digit (1 ASCII byte)  0xff an error (optional application error code)

`FrameReader.feed(data)` returns the frames completed by `data` and keeps a partial one for
the next call; a frame that breaks these rules raises `AudioSocketError` naming the problem
(the connection is then unusable: nothing after a bad header can be trusted). Asterisk
itself accepts only audio and hang-up frames, so `encode` is used for those.
"""

from __future__ import annotations

import dataclasses
import enum
import struct
import uuid

from mediacore.ingress.telephone_event import DIGITS

__all__ = ["AudioSocketError", "Frame", "FrameReader", "Kind", "encode", "encode_uuid"]

_HEADER = struct.Struct("!BH")


class Kind(enum.IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10          # 8 kHz
    AUDIO_SLIN16 = 0x12   # 16 kHz
    ERROR = 0xFF


AUDIO_KIND_FOR_RATE = {8000: Kind.AUDIO, 16000: Kind.AUDIO_SLIN16}
_OTHER_RATES = {0x11: 12000, 0x13: 24000, 0x14: 32000, 0x15: 44100, 0x16: 48000,
                0x17: 96000, 0x18: 192000}
# Asterisk error codes carried by 0xff frames
ERROR_CODES = {0x01: "the caller hung up", 0x02: "frame forwarding error",
               0x04: "memory error"}


class AudioSocketError(ValueError):
    """The peer broke the framing rules (a remote protocol error)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    kind: Kind
    payload: bytes

    @property
    def call_id(self) -> str:
        """The UUID of a UUID frame, in its canonical text form."""
        return str(uuid.UUID(bytes=self.payload))

    @property
    def digit(self) -> str:
        return self.payload.decode("ascii")

    def describe_error(self) -> str:
        if not self.payload:
            return "an error (no code)"
        code = self.payload[0]
        return f"error 0x{code:02x} ({ERROR_CODES.get(code, 'application-specific')})"


def encode(kind: Kind, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"an AudioSocket payload is at most 65535 bytes, not {len(payload)}")
    return _HEADER.pack(kind, len(payload)) + payload


def encode_uuid(call_id: str) -> bytes:
    return encode(Kind.UUID, uuid.UUID(call_id).bytes)


HANGUP = encode(Kind.HANGUP)


class FrameReader:
    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)

    def feed(self, data) -> list[Frame]:
        buf = self._buf
        buf += data
        frames = []
        pos = 0
        while len(buf) - pos >= 3:
            kind, length = _HEADER.unpack_from(buf, pos)
            if len(buf) - pos - 3 < length:
                _check_header(kind, length)  # refuse a bad header before waiting for its body
                break
            payload = bytes(buf[pos + 3:pos + 3 + length])
            frames.append(_frame(kind, payload))
            pos += 3 + length
        del buf[:pos]
        return frames


def _check_header(kind: int, length: int) -> Kind:
    try:
        k = Kind(kind)
    except ValueError:
        if kind in _OTHER_RATES:
            raise AudioSocketError(f"audio at {_OTHER_RATES[kind]} Hz (kind 0x{kind:02x}) is "
                                   f"not supported: use 8 or 16 kHz") from None
        raise AudioSocketError(f"unknown frame kind 0x{kind:02x}") from None
    if k is Kind.UUID and length != 16:
        raise AudioSocketError(f"a UUID frame carries 16 bytes, not {length}")
    if k is Kind.DTMF and length != 1:
        raise AudioSocketError(f"a DTMF frame carries 1 byte, not {length}")
    if k in (Kind.AUDIO, Kind.AUDIO_SLIN16) and (length == 0 or length % 2):
        raise AudioSocketError(f"an audio frame carries whole 16-bit samples, not {length} "
                               f"bytes")
    return k


def _frame(kind: int, payload: bytes) -> Frame:
    k = _check_header(kind, len(payload))
    if k is Kind.DTMF and chr(payload[0]) not in DIGITS:
        raise AudioSocketError(f"DTMF frame with {payload!r}, not a digit 0-9*#A-D")
    return Frame(k, payload)
