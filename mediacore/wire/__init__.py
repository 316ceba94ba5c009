"""Sans-IO WebSocket wire protocols (SPEC §3): the `plivo` and `twilio` stream profiles.

One profile object per stream encodes every engine→server message and owns the stream's
numbering; `parse()` turns server→engine messages into events from `mediacore.wire.events`
or raises `WireProtocolError`. The media fast path writes whole masked frames natively
(`Profile.media_frame_into`, `Profile.tick_into`). No I/O, no clock: time is an argument.
"""

from mediacore.wire.errors import CLOSE_MESSAGE_TOO_BIG, WireProtocolError
from mediacore.wire.events import (Checkpoint, Clear, ClearAudio, Mark, PlayAudio, SendDtmf,
                                   ServerEvent, Stop)
from mediacore.wire.parse import MAX_MESSAGE_BYTES, parse_plivo, parse_twilio
from mediacore.wire.plivo import PlivoProfile
from mediacore.wire.profile import TRACKS, Profile
from mediacore.wire.twilio import TwilioProfile

__all__ = ["CLOSE_MESSAGE_TOO_BIG", "MAX_MESSAGE_BYTES", "PROFILES", "TRACKS", "Checkpoint",
           "Clear", "ClearAudio", "Mark", "PlayAudio", "PlivoProfile", "Profile", "SendDtmf",
           "ServerEvent", "Stop", "TwilioProfile", "WireProtocolError", "make_profile",
           "parse_plivo", "parse_twilio"]

PROFILES: dict[str, type[Profile]] = {"plivo": PlivoProfile, "twilio": TwilioProfile}


def make_profile(protocol: str, **stream) -> Profile:
    """The profile for SPEC §2.1 `protocol` ("plivo" or "twilio"), for one stream."""
    try:
        cls = PROFILES[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}: expected 'plivo' or 'twilio'") from None
    return cls(**stream)
