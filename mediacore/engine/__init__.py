"""The Trio engine (issue 5, in progress): stream parameters, the stream lifecycle table and
the media clock are here; calls, forks and the `Engine` come next."""

from mediacore.engine.clock import MediaClock
from mediacore.engine.lifecycle import StopReason, StreamInput, StreamStatus
from mediacore.engine.params import (AudioTrack, CallbackMethod, InvalidParameter, Protocol,
                                     StreamParams, UrlPolicy)

__all__ = ["AudioTrack", "CallbackMethod", "InvalidParameter", "MediaClock", "Protocol",
           "StopReason", "StreamInput", "StreamParams", "StreamStatus", "UrlPolicy"]
