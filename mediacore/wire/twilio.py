"""Profile `twilio` (SPEC §3.3): Twilio Media Streams messages.

As Twilio sends them: `sequenceNumber`, `chunk` and `timestamp` are JSON strings; `timestamp`
is milliseconds since the stream started (the first `start`, kept across reconnects);
`connected` carries no sequence number; `extra_headers` become `start.customParameters`; the
format is always μ-law 8 kHz mono. Ids map as streamSid = stream_id, callSid = call_id,
accountSid = account_id.
"""

from __future__ import annotations

from typing import Sequence

from mediacore.codec import Format
from mediacore.wire.events import ServerEvent
from mediacore.wire.parse import parse_twilio
from mediacore.wire.profile import (TRACKS, Profile, check_dtmf_digit, dumps,
                                     parse_extra_headers, track_index)

__all__ = ["TwilioProfile"]


class TwilioProfile(Profile):
    """Encode one twilio stream's engine→server messages; parse what its server sends."""

    name = "twilio"
    _media_order = "sct"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.format is not Format.MULAW_8K:
            raise ValueError(f"the twilio profile carries audio/x-mulaw;rate=8000 only, "
                             f"not {self.format.value}")
        self.custom_parameters = parse_extra_headers(self.extra_headers)

    def _media_literals(self, track: str) -> tuple[str, ...]:
        return ('{"event":"media","sequenceNumber":"',
                f'","media":{{"track":{dumps(track)},"chunk":"',
                '","timestamp":"',
                '","payload":"',
                f'"}},"streamSid":{dumps(self.stream_id)}}}')

    def connected(self) -> str:
        """`connected`: the first message of every connection (no sequence number)."""
        return dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def opening(self, now_ms: int, *, reconnect: int = 0) -> list[str]:
        return [self.connected(), self.start(now_ms, reconnect=reconnect)]

    def start(self, now_ms: int, *, reconnect: int = 0) -> str:
        """`start`; the first one fixes the origin of media timestamps at `now_ms`. After a
        reconnect it carries `"reconnect": attempt` and the numbering continues."""
        if not self.started:
            self._encoder.timestamp_origin_ms = int(now_ms)
        self._begin(now_ms)
        message = {"event": "start", "sequenceNumber": str(self._next_sequence()),
                   "start": {"accountSid": self.account_id, "streamSid": self.stream_id,
                             "callSid": self.call_id, "tracks": list(self.tracks),
                             "customParameters": dict(self.custom_parameters),
                             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                             "channels": 1}},
                   "streamSid": self.stream_id}
        if reconnect:
            message["reconnect"] = int(reconnect)
        return dumps(message)

    def dtmf(self, digit: str, now_ms: int, *, track: str = "inbound") -> str:
        """A digit the caller pressed (Twilio names the track "inbound_track")."""
        check_dtmf_digit(digit)
        track = TRACKS[track_index(track)]
        return dumps({"event": "dtmf", "streamSid": self.stream_id,
                      "sequenceNumber": str(self._next_sequence()),
                      "dtmf": {"track": f"{track}_track", "digit": digit}})

    def played(self, name: str) -> str:
        """`mark` echo: the audio before the server's mark `name` has played."""
        return dumps({"event": "mark", "sequenceNumber": str(self._next_sequence()),
                      "streamSid": self.stream_id, "mark": {"name": name}})

    def cleared(self, pending: Sequence[str] = ()) -> list[str]:
        """Answer to `clear`: every pending mark is echoed back, in order (Twilio has no
        clearedAudio)."""
        return [self.played(name) for name in pending]

    def stop(self, reason: str) -> str:
        """`stop`, the last message (Twilio's stop carries no reason)."""
        return dumps({"event": "stop", "sequenceNumber": str(self._next_sequence()),
                      "stop": {"accountSid": self.account_id, "callSid": self.call_id},
                      "streamSid": self.stream_id})

    def error(self, reason: str) -> str:
        """`error` naming what was wrong with a server's message (a mediacore extension:
        Twilio does not report errors in-band)."""
        return dumps({"event": "error", "sequenceNumber": str(self._next_sequence()),
                      "streamSid": self.stream_id, "error": reason})

    def parse(self, data: str | bytes) -> ServerEvent | None:
        return parse_twilio(data)
