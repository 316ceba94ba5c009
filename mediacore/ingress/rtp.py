"""RTP packets (RFC 3550), sans-IO: `parse(datagram) -> RtpPacket`, `build(...) -> bytes`.

No sockets, no clock, no Trio: bytes in, values out, and back. `parse` accepts what RFC 3550
§5.1 allows (any CSRC count, a header extension, padding) and refuses everything else with an
`RtpError` whose `reason` says why, so a receiver can count drops by cause:

- fewer than 12 bytes, or a CSRC list / extension / padding running past the end: TRUNCATED
- version other than 2: WRONG_VERSION
- an RTCP packet multiplexed on the RTP port (RFC 5761: second byte 192..223): RTCP

The payload type is returned as is; whether the call knows it is the receiver's business.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

__all__ = ["DropReason", "RtpError", "RtpPacket", "build", "parse"]

_HEADER = struct.Struct("!BBHII")
_EXTENSION = struct.Struct("!HH")
HEADER_BYTES = 12


class DropReason(str, enum.Enum):
    """Why a datagram was not used (the receivers count drops per reason)."""

    TRUNCATED = "truncated"
    WRONG_VERSION = "wrong_version"
    RTCP = "rtcp"
    UNKNOWN_PAYLOAD_TYPE = "unknown_payload_type"
    FOREIGN_SOURCE = "foreign_source"
    BAD_PAYLOAD_SIZE = "bad_payload_size"
    BAD_TELEPHONE_EVENT = "bad_telephone_event"


class RtpError(ValueError):
    """A datagram that is not a usable RTP packet; `reason` is a DropReason."""

    def __init__(self, reason: DropReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RtpPacket(NamedTuple):
    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile-defined 16 bits, data)
    padding_bytes: int = 0


def parse(data: bytes) -> RtpPacket:
    """One RTP packet from a datagram (bytes, bytearray or memoryview). Raises RtpError."""
    n = len(data)
    if n < HEADER_BYTES:
        raise RtpError(DropReason.TRUNCATED, f"an RTP packet has at least 12 bytes, not {n}")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise RtpError(DropReason.WRONG_VERSION, f"RTP version {b0 >> 6}, expected 2")
    if 192 <= b1 <= 223:
        raise RtpError(DropReason.RTCP, f"an RTCP packet (type {b1}) on the RTP port")
    offset = HEADER_BYTES
    end = n
    csrcs: tuple[int, ...] = ()
    cc = b0 & 0x0F
    if cc:
        offset += 4 * cc
        if offset > n:
            raise RtpError(DropReason.TRUNCATED, f"{cc} CSRCs need {offset} bytes, the packet "
                                                 f"has {n}")
        csrcs = struct.unpack_from(f"!{cc}I", data, HEADER_BYTES)
    padding = 0
    if b0 & 0x20:
        padding = data[n - 1]
        if padding == 0 or offset + padding > n:
            raise RtpError(DropReason.TRUNCATED, f"padding of {padding} bytes does not fit a "
                                                 f"{n}-byte packet")
        end = n - padding
    extension = None
    if b0 & 0x10:
        if offset + 4 > end:
            raise RtpError(DropReason.TRUNCATED, "the header extension is cut off")
        profile, words = _EXTENSION.unpack_from(data, offset)
        ext_end = offset + 4 + 4 * words
        if ext_end > end:
            raise RtpError(DropReason.TRUNCATED, f"a header extension of {4 * words} bytes "
                                                 f"runs past the end of the packet")
        extension = (profile, bytes(data[offset + 4:ext_end]))
        offset = ext_end
    return RtpPacket(bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, bytes(data[offset:end]),
                     csrcs, extension, padding)


def build(payload_type: int, sequence_number: int, timestamp: int, ssrc: int, payload,
          *, marker: bool = False, csrcs: tuple[int, ...] = (),
          extension: tuple[int, bytes] | None = None, padding_bytes: int = 0) -> bytes:
    """One RTP packet. Raises ValueError for out-of-range fields (names the field)."""
    _check("payload_type", payload_type, 0x7F)
    _check("sequence_number", sequence_number, 0xFFFF)
    _check("timestamp", timestamp, 0xFFFFFFFF)
    _check("ssrc", ssrc, 0xFFFFFFFF)
    if len(csrcs) > 15:
        raise ValueError(f"at most 15 CSRCs fit a header, not {len(csrcs)}")
    if not 0 <= padding_bytes <= 255:
        raise ValueError(f"padding_bytes must be 0..255, not {padding_bytes}")
    b0 = 0x80 | len(csrcs) | (0x20 if padding_bytes else 0) | (0x10 if extension else 0)
    parts = [_HEADER.pack(b0, (0x80 if marker else 0) | payload_type, sequence_number,
                          timestamp, ssrc)]
    if csrcs:
        parts.append(struct.pack(f"!{len(csrcs)}I", *csrcs))
    if extension is not None:
        profile, ext = extension
        if len(ext) % 4 or len(ext) > 4 * 0xFFFF:
            raise ValueError(f"a header extension is whole 32-bit words (at most 65535), "
                             f"not {len(ext)} bytes")
        parts.append(_EXTENSION.pack(profile, len(ext) // 4))
        parts.append(bytes(ext))
    parts.append(bytes(payload))
    if padding_bytes:
        parts.append(bytes(padding_bytes - 1) + bytes([padding_bytes]))
    return b"".join(parts)


def _check(name: str, value: int, top: int) -> None:
    if not 0 <= value <= top:
        raise ValueError(f"{name} must be 0..{top}, not {value}")
