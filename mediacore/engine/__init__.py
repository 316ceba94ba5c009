"""The Trio engine: calls, streams (forks), one media clock, bidirectional playback.

Public API: `Engine` (engine.py) and the types it takes and reports: `StreamParams` and
`UrlPolicy` (params.py), `Stream` and the events (events.py), `StreamStatus` and `StopReason`
(lifecycle.py), `CallInfo`, and the errors `InvalidParameter` (400), `NotFound` (404),
`EngineFull` (503), `CallClosed`.
"""

from mediacore.engine.call import CallClosed, CallInfo
from mediacore.engine.clock import MediaClock
from mediacore.engine.engine import Engine, EngineFull, NotFound
from mediacore.engine.events import (AudioCleared, CheckpointPlayed, DtmfRequested, Stream,
                                     StreamDegraded, StreamEnded, StreamEvent,
                                     StreamReconnecting, StreamStarted)
from mediacore.engine.lifecycle import StopReason, StreamInput, StreamStatus
from mediacore.engine.params import (AudioTrack, CallbackMethod, InvalidParameter, Protocol,
                                     StreamParams, UrlPolicy)
from mediacore.ingress.hub import IngressHub  # RTP and AudioSocket call ingress (SPEC §2.3)

__all__ = ["AudioCleared", "AudioTrack", "CallClosed", "CallInfo", "CallbackMethod",
           "CheckpointPlayed", "DtmfRequested", "Engine", "EngineFull", "InvalidParameter",
           "MediaClock", "NotFound", "Protocol", "StopReason", "Stream", "StreamDegraded",
           "StreamEnded", "StreamEvent", "StreamInput", "StreamParams", "StreamReconnecting",
           "StreamStarted", "StreamStatus", "UrlPolicy",
           "IngressHub"]
