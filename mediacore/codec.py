"""Audio formats and conversions: G.711 μ-law, L16 byte order, and any-to-any transcoding.

All functions take any buffer-protocol object (bytes, bytearray, memoryview, array.array,
numpy arrays). L16 means signed 16-bit samples; the plain functions work in host byte order
(little-endian on every platform mediacore supports), the `Transcoder` handles either order on
either side. `*_into(src, dst)` write into a caller-provided buffer and return the number of
bytes written; they raise `ValueError` when `dst` is too small and `TypeError` when it is not
writable. Malformed input (L16 of odd length, an unknown format) raises `ValueError` with a
message naming the problem.

μ-law is bit-exact with ITU-T G.711 (checked in tests against audioop for every input).
"""

from __future__ import annotations

import enum

from mediacore._native.codec import (
    l16_mix_into,
    l16_swap,
    l16_swap_into,
    ulaw_decode,
    ulaw_decode_into,
    ulaw_encode,
    ulaw_encode_into,
)
from mediacore._native.transcode import NativeTranscoder

__all__ = [
    "ByteOrder",
    "Format",
    "Transcoder",
    "l16_mix_into",
    "l16_swap",
    "l16_swap_into",
    "ulaw_decode",
    "ulaw_decode_into",
    "ulaw_encode",
    "ulaw_encode_into",
]

FRAME_MS = 20

MULAW = "audio/x-mulaw"
L16 = "audio/x-l16"


class ByteOrder(str, enum.Enum):
    """Byte order of L16 samples on the wire (SPEC §2.1 `l16_byte_order`)."""

    LE = "le"
    BE = "be"

    @classmethod
    def parse(cls, value: str | ByteOrder) -> ByteOrder:
        try:
            return cls(value.lower() if isinstance(value, str) else value)
        except ValueError:
            raise ValueError(f"unknown byte order {value!r}: expected 'le' or 'be'") from None


class Format(str, enum.Enum):
    """The three stream formats; the value is the canonical content-type string."""

    MULAW_8K = "audio/x-mulaw;rate=8000"
    L16_8K = "audio/x-l16;rate=8000"
    L16_16K = "audio/x-l16;rate=16000"

    @property
    def encoding(self) -> str:
        """The media type without parameters: "audio/x-mulaw" or "audio/x-l16"."""
        return self.value.partition(";")[0]

    @property
    def sample_rate(self) -> int:
        return int(self.value.rpartition("=")[2])

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self is Format.MULAW_8K else 2

    @property
    def frame_bytes(self) -> int:
        """Bytes in one 20 ms frame: 160, 320 or 640."""
        return self.sample_rate * FRAME_MS // 1000 * self.bytes_per_sample

    @property
    def silence(self) -> bytes:
        """One byte value of silence, to pad with (0xFF for μ-law, 0x00 for L16)."""
        return b"\xff" if self is Format.MULAW_8K else b"\x00"

    def bytes_for_ms(self, ms: int) -> int:
        return self.sample_rate * ms // 1000 * self.bytes_per_sample

    @classmethod
    def parse(cls, content_type: str | Format) -> Format:
        """A format from a content-type string such as "audio/x-l16; rate=16000".

        The media type is case-insensitive, spaces around ';' and '=' are allowed, and the
        `rate` parameter is required (SPEC §2.1 accepts exactly the three formats).
        """
        if isinstance(content_type, Format):
            return content_type
        if not isinstance(content_type, str):
            raise ValueError(f"content type must be a string, not {type(content_type).__name__}")
        media, *params = (part.strip() for part in content_type.split(";"))
        rate = None
        for param in params:
            key, sep, value = (s.strip() for s in param.partition("="))
            if not sep or key.lower() != "rate" or rate is not None:
                raise ValueError(_unsupported(content_type))
            rate = value
        if rate is None:
            raise ValueError(_unsupported(content_type, "the rate parameter is missing"))
        return cls.from_parts(media, rate, _original=content_type)

    @classmethod
    def from_parts(cls, encoding: str, sample_rate: int | str, *, _original: str | None = None) -> Format:
        """A format from a media type and a rate given apart (as in a playAudio message, where
        `sampleRate` may be a number or a numeric string)."""
        original = _original if _original is not None else f"{encoding};rate={sample_rate}"
        rate = sample_rate
        if isinstance(rate, str):
            if not rate.strip().isdigit():
                raise ValueError(_unsupported(original, f"rate {_shown(sample_rate)} is not a number"))
            rate = int(rate)
        if isinstance(rate, bool) or not isinstance(rate, int):
            if isinstance(rate, float) and rate.is_integer():
                rate = int(rate)
            else:
                raise ValueError(_unsupported(original, f"rate {_shown(sample_rate)} is not a whole number"))
        try:
            return cls(f"{str(encoding).strip().lower()};rate={rate}")
        except ValueError:
            raise ValueError(_unsupported(original)) from None


def _unsupported(content_type: object, why: str = "") -> str:
    accepted = ", ".join(f.value for f in Format)
    reason = f" ({why})" if why else ""
    return f"unsupported content type {_shown(content_type)}{reason}: expected one of {accepted}"


def _shown(value: object) -> str:
    """`repr(value)`, cut short: a server's playAudio may carry a content type of up to a
    megabyte, and the error message goes back to it and into logs and callbacks."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Transcoder(NativeTranscoder):
    """Convert a stream from one format to another in one native pass per chunk.

    Decodes (μ-law, or L16 in `src_byte_order`), resamples 8 <-> 16 kHz with state kept across
    calls (so chunking never clicks), and encodes (μ-law, or L16 in `dst_byte_order`).
    Equal formats and byte orders copy. Methods (native): `process(data) -> bytes`,
    `process_into(src, dst) -> int`, `output_bytes(n) -> int`, `reset()`.
    """

    __slots__ = ("src", "dst", "src_byte_order", "dst_byte_order")

    def __init__(self, src: Format | str, dst: Format | str, *,
                 src_byte_order: ByteOrder | str = ByteOrder.LE,
                 dst_byte_order: ByteOrder | str = ByteOrder.LE) -> None:
        self.src = Format.parse(src)
        self.dst = Format.parse(dst)
        self.src_byte_order = ByteOrder.parse(src_byte_order)
        self.dst_byte_order = ByteOrder.parse(dst_byte_order)
        self._configure(self.src is Format.MULAW_8K, self.src.sample_rate,
                        self.src_byte_order is ByteOrder.BE,
                        self.dst is Format.MULAW_8K, self.dst.sample_rate,
                        self.dst_byte_order is ByteOrder.BE)

    def __repr__(self) -> str:
        return (f"Transcoder({self.src.value!r}, {self.dst.value!r}, "
                f"src_byte_order={self.src_byte_order.value!r}, "
                f"dst_byte_order={self.dst_byte_order.value!r})")
