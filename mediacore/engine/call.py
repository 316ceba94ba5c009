"""A live call as the engine sees it: audio in per track, playback out, its forks.

Audio comes in per track either as a byte stream of the call's format (`feed`: any chunk
sizes, cut into 20 ms frames) or as RTP-like packets through a jitter buffer
(`feed_packet`); a track uses one or the other. Each tick the engine takes one frame per
track (silence when nothing is there: forks always get real-time audio), mixes the playback
of the bidirectional stream into the outbound track, and hands every fork its tracks in the
fork's format, transcoding once per (track, format) for all forks that share it.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt

import trio

from mediacore._native.calltick import CallBase, TrackInputBase
from mediacore.codec import ByteOrder, Format, Transcoder, l16_mix_into, ulaw_decode, ulaw_encode
from mediacore.framing import Framer
from mediacore.jitter import JitterBuffer
from mediacore.engine.playout import Playout

TRACKS = ("inbound", "outbound")
MAX_INPUT_S = 10          # fed audio beyond this (fed faster than real time) drops the oldest
PLAYBACK_FRAMES_KEPT = 50  # playback frames kept for a reader that falls behind (1 s)


class CallClosed(KeyError):
    """The call has ended (or never existed): what `read_playback` raises then. The engine's
    NotFound is a KeyError too, so `except KeyError` catches both."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class CallInfo:
    call_id: str
    format: Format
    call_from: str
    call_to: str
    started_at: dt.datetime
    active_streams: int


class _TrackInput(TrackInputBase):
    """One track's incoming audio: a framer (fed bytes) or a jitter buffer (packets). The
    engine's tick (mediacore/_native/calltick.pyx) reads `framer` and `jitter` in C."""

    # slots, here and in Call: no __dict__, so a call's state is a few adjacent cache lines
    __slots__ = ("format", "dropped_frames")

    def __init__(self, fmt: Format) -> None:
        self.format = fmt
        self.framer: Framer | None = None
        self.jitter: JitterBuffer | None = None
        self.dropped_frames = 0

    def feed(self, data) -> None:
        if self.jitter is not None:
            raise ValueError("this track is fed packets; use feed_packet for it")
        if self.framer is None:
            self.framer = Framer(self.format.frame_bytes)
        self.framer.push(data)
        limit = self.format.bytes_for_ms(MAX_INPUT_S * 1000)
        while self.framer.pending_bytes > limit:
            self.framer.pop()
            self.dropped_frames += 1

    def feed_packet(self, seq: int, timestamp: int, payload, arrival_ms: float,
                    ssrc: int | None) -> object:
        if self.framer is not None:
            raise ValueError("this track is fed audio bytes; use feed for it")
        if self.jitter is None:
            self.jitter = JitterBuffer(self.format.sample_rate, self.format.sample_rate // 50,
                                       codec="mulaw" if self.format is Format.MULAW_8K else "l16")
        if ssrc is None:
            return self.jitter.put(seq, timestamp, payload, arrival_ms)
        return self.jitter.put(seq, timestamp, payload, arrival_ms, ssrc=ssrc)


class Call(CallBase):
    """A call's tick runs in C (calltick.tick_calls), on the fields of CallBase: `inputs`,
    `silence`, `native_key`, `groups` and `playout`; this class keeps them right."""

    __slots__ = ("call_id", "format", "call_from", "call_to", "started_at", "forks",
                 "bidirectional_fork", "playback", "playback_ready",
                 "_transcoders", "ended")

    def __init__(self, call_id: str, fmt: Format, *, call_from: str = "", call_to: str = "",
                 started_at: dt.datetime) -> None:
        self.call_id = call_id
        self.format = fmt
        self.call_from = call_from
        self.call_to = call_to
        self.started_at = started_at
        self.inputs = (_TrackInput(fmt), _TrackInput(fmt))
        self.silence = fmt.silence * fmt.frame_bytes
        self.native_key = (fmt, ByteOrder.LE)  # forks in the call's own format need no transcoding
        self.forks: list = []          # live forks, in start order
        self.groups: dict = {}         # (Format, ByteOrder) -> the forks' DirectWriters
        self.playout: Playout | None = None
        self.bidirectional_fork = None
        self.playback: collections.deque = collections.deque(maxlen=PLAYBACK_FRAMES_KEPT)
        self.playback_ready = trio.Event()
        self._transcoders: dict = {}
        self.ended = False

    # -- forks --------------------------------------------------------------------------------

    def add_fork(self, fork) -> None:
        self.forks.append(fork)
        key = (fork.params.content_type, fork.params.l16_byte_order)
        self.groups.setdefault(key, []).append(fork.w)
        if fork.params.bidirectional:
            self.bidirectional_fork = fork
            self.playout = Playout(self.format)

    def remove_fork(self, fork) -> None:
        if fork in self.forks:
            self.forks.remove(fork)
        key = (fork.params.content_type, fork.params.l16_byte_order)
        group = self.groups.get(key)
        if group and fork.w in group:
            group.remove(fork.w)
            if not group:
                del self.groups[key]
                for track in (0, 1):
                    self._transcoders.pop((track, key), None)
        if self.bidirectional_fork is fork:
            self.bidirectional_fork = None
            self.playout = None

    # -- what the tick calls (calltick.pyx) --------------------------------------------------

    def _convert(self, track: int, key, frame: bytes) -> bytes:
        tc = self._transcoders.get((track, key))
        if tc is None:
            fmt, order = key
            tc = self._transcoders[(track, key)] = Transcoder(self.format, fmt,
                                                              dst_byte_order=order)
        return tc.process(frame)

    def _mix(self, a: bytes, b: bytes) -> bytes:
        """Two frames of the call's format summed (saturating), e.g. fed outbound audio and
        the bidirectional stream's playback."""
        if self.format is Format.MULAW_8K:
            mixed = bytearray(2 * len(a))
            l16_mix_into(ulaw_decode(a), ulaw_decode(b), mixed)
            return ulaw_encode(mixed)
        mixed = bytearray(len(a))
        l16_mix_into(a, b, mixed)
        return bytes(mixed)

    def _play(self, frame) -> None:
        self.playback.append(frame if frame is not None else self.silence)
        self.playback_ready.set()

    # -- the application's side ---------------------------------------------------------------

    def info(self) -> CallInfo:
        return CallInfo(self.call_id, self.format, self.call_from, self.call_to,
                        self.started_at, len(self.forks))
