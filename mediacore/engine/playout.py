"""Playback of a bidirectional stream into its call (SPEC §3.2): a queue of 20 ms frames in
the call's format, with checkpoints in line with the audio.

playAudio of any format, rate, byte order and length is converted once on arrival (one
streaming `Transcoder` per source format, so resampler state runs on across messages) and
cut into frames by a `Framer`. The media clock takes one frame per tick (`tick()`); a trailing
partial frame is played padded with silence rather than held back, so a checkpoint after it
is reached. Positions are counted in bytes of call-format audio: a checkpoint added when
`queued_bytes` was P is reached once `played_bytes >= P`. `clear()` drops everything at once,
resets the converters and voids pending checkpoints.
"""

from __future__ import annotations

from collections import deque

from mediacore.codec import ByteOrder, Format, Transcoder
from mediacore.framing import Framer

MAX_PLAYBACK_S = 60
MAX_PENDING_MARKS = 10_000  # checkpoints waiting to be reached; more is a misbehaving server


class PlaybackFull(Exception):
    """The queue already holds 60 s of audio (SPEC §3.2 "playback buffer full")."""


class Playout:
    def __init__(self, call_format: Format) -> None:
        self.format = call_format
        self._framer = Framer(call_format.frame_bytes)
        self._silence = call_format.silence
        self._converters: dict[tuple[Format, ByteOrder], Transcoder] = {}
        self._marks: deque[tuple[int, str]] = deque()
        self.max_bytes = call_format.bytes_for_ms(MAX_PLAYBACK_S * 1000)
        self.queued_bytes = 0   # total call-format bytes ever queued
        self.played_bytes = 0   # total bytes ever played (padding not counted)

    @property
    def pending_bytes(self) -> int:
        return self.queued_bytes - self.played_bytes

    @property
    def pending_ms(self) -> float:
        return self.pending_bytes * 1000 / self.format.bytes_for_ms(1000)

    @property
    def pending_marks(self) -> list[str]:
        return [name for _, name in self._marks]

    def add_audio(self, payload: bytes, fmt: Format, byte_order: ByteOrder) -> None:
        """Queue audio; raises PlaybackFull (queueing nothing) beyond 60 s."""
        key = (fmt, byte_order)
        converter = self._converters.get(key)
        if converter is None:
            converter = self._converters[key] = Transcoder(
                fmt, self.format, src_byte_order=byte_order)
        if self.pending_bytes + converter.output_bytes(len(payload)) > self.max_bytes:
            raise PlaybackFull("playback buffer full")
        audio = converter.process(payload)
        self._framer.push(audio)
        self.queued_bytes += len(audio)

    def add_mark(self, name: str) -> None:
        """Queue a checkpoint; raises PlaybackFull beyond MAX_PENDING_MARKS pending."""
        if len(self._marks) >= MAX_PENDING_MARKS:
            raise PlaybackFull(f"too many pending checkpoints (at most {MAX_PENDING_MARKS})")
        self._marks.append((self.queued_bytes, name))

    def clear(self) -> list[str]:
        """Drop all queued audio and pending checkpoints; returns the voided names."""
        voided = self.pending_marks
        self._marks.clear()
        self._framer.clear()
        for converter in self._converters.values():
            converter.reset()
        self.played_bytes = self.queued_bytes
        return voided

    def tick(self):
        """One frame for this tick, or None on underrun, and the checkpoints it reached."""
        frame = self._framer.pop()
        if frame is not None:
            self.played_bytes += len(frame)
        elif self._framer.pending_bytes:
            self.played_bytes += self._framer.pending_bytes
            frame = self._framer.flush(self._silence)
        reached = []
        marks = self._marks
        while marks and marks[0][0] <= self.played_bytes:
            reached.append(marks.popleft()[1])
        return frame, reached
