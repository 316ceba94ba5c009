"""Adaptive jitter buffer: RTP packets in, one clean 20 ms frame per tick out.

The buffer (native, `mediacore/_native/mc_jitter.c`; its top comment is the theory of
operation) indexes frames by RTP timestamp, never by sequence number, and never reads a
clock: `put(..., arrival_ms)` and `get(now_ms)` take the caller's time in milliseconds.

    jb = JitterBuffer(8000, 160, codec="mulaw")
    jb.put(seq, timestamp, payload, arrival_ms=t)      # -> PutResult
    kind, frame = jb.get(now_ms=t)                     # every 20 ms -> (FrameKind, view)

A payload is 10..60 ms of audio in whole halves of a frame (20 ms frames: 10, 20, ... 60 ms)
of L16 in host byte order (2 bytes per sample) or μ-law (1 byte); it is split into frames
and copied. Anything else, and out-of-range seq / timestamp / ssrc or a non-finite time,
raises ValueError naming the problem. `put(..., ssrc=None)`: pass the packet's SSRC to have
a change of SSRC restart the stream; without it only timestamp jumps do. The frame a get()
returns is a read-only view overwritten by the next get(): copy it to keep it.

Handles reordering, duplicates, loss, sequence (2^16) and timestamp (2^32) wrap-around,
timestamp jumps and SSRC changes (both restart the stream: PutResult.RESET), DTX gaps,
bursts after a stall, late packets (dropped, counted) and overflow (the oldest frames go).

Adaptive mode aims the playout delay at the 99.5th percentile of recent jitter (a histogram
forgetting over ~2 s), or at the largest jitter of the last ~0.6 s if higher. It rises at
once (by waiting when the next frame is missing, or while nothing is held: a delay spike),
decays slowly, and shrinks by skipping gaps where audio is missing anyway or else by
discarding at most one frame per 100..200 ms. Fixed mode keeps `initial_delay_ms` above the
fastest transit of the last ~2.6 s of packets: it moves only to follow clock drift between
the sender and the caller.

Missing frames are concealed: the last frame repeated with a linear fade to silence over
60 ms (μ-law through linear and re-encoded), then silence.
"""

from __future__ import annotations

import dataclasses
import enum

from mediacore._native import jitter as _native

__all__ = ["Codec", "FrameKind", "JitterBuffer", "JitterStats", "Mode", "PutResult"]


class Mode(str, enum.Enum):
    ADAPTIVE = "adaptive"
    FIXED = "fixed"


class Codec(str, enum.Enum):
    """Payload encoding: L16 is 2 bytes per sample in host byte order, μ-law 1 byte."""

    L16 = "l16"
    MULAW = "mulaw"


class PutResult(enum.IntEnum):
    ACCEPTED = 0   # stored (frames of it that were late or copies are counted in the stats)
    LATE = 1       # every frame of it was due before it arrived: dropped, counted
    DUPLICATE = 2  # every frame of it was already held or played: dropped, counted
    RESET = 3      # the stream restarted (new SSRC, timestamp jump): buffer flushed, this
                   # packet starts the new stream
    OVERFLOW = 4   # stored, after dropping the oldest frames to make room


class FrameKind(enum.IntEnum):
    NORMAL = 0     # a frame that arrived in time
    CONCEALED = 1  # due but missing (lost, late, partial, or inserted to grow the delay):
                   # the last frame faded out over 60 ms, then silence
    PREFETCH = 2   # filling up before playout starts (or restarts after RESET): silence
    EMPTY = 3      # nothing to play (no stream yet, DTX pause, stall): silence


@dataclasses.dataclass(frozen=True, slots=True)
class JitterStats:
    """Counters since construction (they survive resets); delays in milliseconds.

    Delay of a frame = now_ms of the get() that played it - arrival_ms of its packet, over
    NORMAL frames only. Frame counts are in frames; a packet partly late counts the frames
    it touched.
    """

    current_delay_ms: float   # of the last normal frame
    min_delay_ms: float
    max_delay_ms: float
    mean_delay_ms: float
    target_delay_ms: float    # the delay the buffer aims for now (above the fastest transit)
    buffered_frames: int      # frames held now
    packets: int              # put() calls accepted as input
    frames_normal: int
    frames_concealed: int     # includes frames_inserted
    frames_inserted: int      # played (concealed or empty) while waiting: the delay grew
    frames_prefetch: int
    frames_empty: int
    frames_late: int          # arrived after their playout time: dropped
    frames_duplicate: int     # copies of frames already held or played: dropped
    frames_discarded: int     # dropped to shrink the delay or on overflow
    underruns: int            # times the buffer ran dry while playing
    resets: int               # stream restarts detected (SSRC change, timestamp jump)


JitterBuffer = _native.JitterBuffer

_native._register(PutResult, FrameKind, JitterStats)
