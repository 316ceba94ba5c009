"""What the engine reports: stream snapshots and the event feed (SPEC §2.2, §4).

Every lifecycle transition and every played / cleared / degraded moment is one event on the
engine's feed, carrying a `Stream` snapshot with what status callbacks and metering need
(ids, parameters, status, stop reason, times, counters). Times are UTC datetimes derived from
the engine's clock, so they follow `MockClock` in tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from mediacore.engine.lifecycle import StopReason, StreamStatus
from mediacore.engine.params import StreamParams


@dataclasses.dataclass(frozen=True)
class Stream:
    stream_id: str
    call_id: str
    account_id: str
    params: StreamParams
    status: StreamStatus
    stop_reason: StopReason | None
    error: str                       # why it failed ("" when it did not)
    created_at: dt.datetime
    start_time: dt.datetime | None   # first media frame sent
    end_time: dt.datetime | None
    frames_sent: int                 # media messages written, over all tracks
    frames_dropped: int              # media messages lost (buffer overflow)
    reconnects: int
    call_from: str = ""
    call_to: str = ""

    @property
    def forked_ms(self) -> int:
        """Audio time forked so far: first media frame to end (or to now for live streams
        the caller measures itself); 0 before the first frame."""
        if self.start_time is None:
            return 0
        end = self.end_time or self.start_time
        return max(0, int((end - self.start_time).total_seconds() * 1000))


@dataclasses.dataclass(frozen=True)
class StreamEvent:
    """Base: `stream` is the snapshot at the moment of the event."""

    stream: Stream


@dataclasses.dataclass(frozen=True)
class StreamStarted(StreamEvent):
    """The first media frame was sent (status in-progress): StartStream."""


@dataclasses.dataclass(frozen=True)
class StreamEnded(StreamEvent):
    """The stream ended: StopStream, StreamTimeout or FailedStream by `stream.status`."""


@dataclasses.dataclass(frozen=True)
class StreamDegraded(StreamEvent):
    """The send buffer crossed 30, 60 or 90 % of its 40 s: DegradedStream."""

    buffer_percent: int


@dataclasses.dataclass(frozen=True)
class StreamReconnecting(StreamEvent):
    """An abnormal close; reconnect attempt `attempt` follows after `delay_s`."""

    attempt: int
    delay_s: float
    reason: str


@dataclasses.dataclass(frozen=True)
class CheckpointPlayed(StreamEvent):
    """The playback clock passed checkpoint (plivo) or mark (twilio) `name`: PlayedStream."""

    name: str


@dataclasses.dataclass(frozen=True)
class AudioCleared(StreamEvent):
    """clearAudio (or twilio clear) done: ClearedAudio."""


@dataclasses.dataclass(frozen=True)
class DtmfRequested(StreamEvent):
    """The server asked to play `digits` into the call (sendDTMF); the embedding application
    (or the RTP ingress) plays them."""

    digits: str
