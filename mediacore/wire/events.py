"""What a server can ask of the engine (SPEC §3.2, §3.3), as frozen dataclasses.

Both profiles map onto one vocabulary where they mean the same thing: a Twilio `media` from
the server is a `PlayAudio` of μ-law 8 kHz. Plivo's checkpoint and Twilio's mark stay apart,
because the engine answers them with different messages (`playedStream` vs a `mark` echo).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mediacore.codec import ByteOrder, Format

__all__ = ["Checkpoint", "Clear", "ClearAudio", "Mark", "PlayAudio", "SendDtmf",
           "ServerEvent", "Stop"]


@dataclass(frozen=True, slots=True)
class PlayAudio:
    """Audio to queue for playback: raw samples (no header), in `format`; L16 samples are in
    `byte_order`. The payload is whole samples, of any duration."""

    payload: bytes = field(repr=False)
    format: Format
    byte_order: ByteOrder = ByteOrder.LE

    @property
    def samples(self) -> int:
        return len(self.payload) // self.format.bytes_per_sample

    @property
    def duration_ms(self) -> float:
        return self.samples * 1000 / self.format.sample_rate


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Plivo `checkpoint`: report `playedStream` with `name` once the audio queued before it
    has played."""

    name: str
    stream_id: str | None = None


@dataclass(frozen=True, slots=True)
class ClearAudio:
    """Plivo `clearAudio`: drop queued audio and pending checkpoints, answer `clearedAudio`."""

    stream_id: str | None = None


@dataclass(frozen=True, slots=True)
class SendDtmf:
    """Plivo `sendDTMF`: play `digits` (each of 0-9 * # A-D) into the call."""

    digits: str


@dataclass(frozen=True, slots=True)
class Stop:
    """Plivo `stop`: end the stream (stop reason `remote_close`)."""

    stream_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mark:
    """Twilio `mark`: echo a `mark` with `name` once the audio queued before it has played."""

    name: str


@dataclass(frozen=True, slots=True)
class Clear:
    """Twilio `clear`: drop queued audio; pending marks are echoed back."""


ServerEvent = PlayAudio | Checkpoint | ClearAudio | SendDtmf | Stop | Mark | Clear
