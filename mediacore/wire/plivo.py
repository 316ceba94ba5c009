"""Profile `plivo` (SPEC §3.1, §3.2): Plivo audio streaming messages.

Types matter to existing servers: `sequenceNumber` and `chunk` are JSON numbers, `timestamp`
is a string of Unix epoch milliseconds. `extra_headers` is echoed as a string in start, media
and dtmf ("" when the stream has none). `start` never carries streamSid/callSid (servers that
auto-detect the provider, such as Pipecat's runner, would take it for Twilio).
"""

from __future__ import annotations

from typing import Sequence

from mediacore.wire.events import ServerEvent
from mediacore.wire.parse import parse_plivo
from mediacore.wire.profile import TRACKS, Profile, check_dtmf_digit, dumps, track_index

__all__ = ["PlivoProfile"]


class PlivoProfile(Profile):
    """Encode one plivo stream's engine→server messages; parse what its server sends."""

    name = "plivo"
    _media_order = "stc"

    def _media_literals(self, track: str) -> tuple[str, ...]:
        return ('{"event":"media","sequenceNumber":',
                f',"streamId":{dumps(self.stream_id)},"media":{{"track":{dumps(track)},'
                '"timestamp":"',
                '","chunk":',
                ',"payload":"',
                f'"}},"extra_headers":{dumps(self.extra_headers)}}}')

    def start(self, now_ms: int, *, reconnect: int = 0) -> str:
        """`start`: always the first message of a connection; after a reconnect it carries
        `"reconnect": attempt` and the numbering continues."""
        self._begin(now_ms)
        message = {"event": "start", "sequenceNumber": self._next_sequence(),
                   "start": {"callId": self.call_id, "streamId": self.stream_id,
                             "accountId": self.account_id, "tracks": list(self.tracks),
                             "mediaFormat": {"encoding": self.format.encoding,
                                             "sampleRate": self.format.sample_rate}},
                   "extra_headers": self.extra_headers}
        if reconnect:
            message["reconnect"] = int(reconnect)
        return dumps(message)

    def dtmf(self, digit: str, now_ms: int, *, track: str = "inbound") -> str:
        """A digit the caller pressed (0-9 * # A-D) at `now_ms`."""
        check_dtmf_digit(digit)
        track = TRACKS[track_index(track)]
        return dumps({"event": "dtmf", "sequenceNumber": self._next_sequence(),
                      "streamId": self.stream_id,
                      "dtmf": {"track": track, "digit": digit, "timestamp": str(int(now_ms))},
                      "extra_headers": self.extra_headers})

    def played(self, name: str) -> str:
        """`playedStream`: the checkpoint `name` was reached by the playback clock."""
        return dumps({"event": "playedStream", "sequenceNumber": self._next_sequence(),
                      "streamId": self.stream_id, "name": name})

    def cleared(self, pending: Sequence[str] = ()) -> list[str]:
        """Answer to clearAudio: `clearedAudio`. Pending checkpoints are discarded, never
        reported as played."""
        return [dumps({"event": "clearedAudio", "sequenceNumber": self._next_sequence(),
                       "streamId": self.stream_id})]

    def stop(self, reason: str) -> str:
        """`stop`, the last message; `reason` is the stream's stop_reason."""
        return dumps({"event": "stop", "sequenceNumber": self._next_sequence(),
                      "streamId": self.stream_id,
                      "stop": {"callId": self.call_id, "reason": reason}})

    def error(self, reason: str) -> str:
        """`error` naming what was wrong with a server's message (the stream keeps running)."""
        return dumps({"event": "error", "sequenceNumber": self._next_sequence(),
                      "streamId": self.stream_id, "error": reason})

    def connected(self) -> None:
        """Plivo has no `connected` message; present so both profiles answer the same calls."""
        return None

    def parse(self, data: str | bytes) -> ServerEvent | None:
        return parse_plivo(data, byte_order=self.l16_byte_order)
