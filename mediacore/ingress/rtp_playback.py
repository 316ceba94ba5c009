"""The playback RTP stream of one call, sans-IO: 20 ms frames and DTMF digits in, RTP
packets out.

The caller gives each frame with its tick, the index of its 20 ms slot on the media clock.
The RTP timestamp is derived from the tick (first timestamp + tick * samples per frame), so
it stays the sampling instant even across gaps; the sequence number counts packets sent.
One SSRC for the life of the call. Marker bit (RFC 3551 §4.1, RFC 4733 §2.5.1.1): on the
first packet, on the first audio packet after a gap in the ticks (the stream paused, e.g. no
bidirectional stream played for a while), and on the first packet of each DTMF event; the
first audio packet after an event starts a new talkspurt and is marked too.

L16 frames come in the call's byte order (little-endian) and leave in network byte order.
"""

from __future__ import annotations

from mediacore.codec import l16_swap
from mediacore.ingress.rtp import build
from mediacore.ingress.telephone_event import DtmfSchedule

__all__ = ["RtpPlayback"]


class RtpPlayback:
    def __init__(self, *, payload_type: int, clock_rate: int, l16: bool, ssrc: int,
                 first_sequence: int, first_timestamp: int,
                 dtmf_payload_type: int | None = 101) -> None:
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.l16 = l16
        self.ssrc = ssrc
        self.frame_samples = clock_rate // 50
        self._seq = first_sequence & 0xFFFF
        self._ts0 = first_timestamp & 0xFFFFFFFF
        self._last_tick: int | None = None
        self._mark_next = True
        self.dtmf = DtmfSchedule(clock_rate)
        self.audio_packets = 0
        self.event_packets = 0

    def timestamp(self, tick: int) -> int:
        return (self._ts0 + tick * self.frame_samples) & 0xFFFFFFFF

    def add_digits(self, digits: str) -> None:
        """Queue DTMF digits (0-9*#A-D; anything else raises ValueError, nothing queued)."""
        if self.dtmf_payload_type is None:
            raise ValueError("this call has no telephone-event payload type")
        self.dtmf.add(digits)

    def tick(self, tick: int, frame) -> list[bytes]:
        """The packets of one 20 ms slot: `frame` is its audio (call format) or None when
        there is none (the slot is then only ticked for DTMF). Ticks must increase."""
        if self._last_tick is not None:
            if tick <= self._last_tick:
                raise ValueError(f"tick {tick} does not follow tick {self._last_tick}")
            if tick > self._last_tick + 1:
                self._mark_next = True
        self._last_tick = tick
        packets = []
        event, muted = self.dtmf.tick(tick) if self.dtmf.busy else (None, False)
        if event is not None:
            packets.append(build(self.dtmf_payload_type, self._next_seq(),
                                 self.timestamp(event.start_tick), self.ssrc, event.payload,
                                 marker=event.marker))
            self.event_packets += 1
        if muted or frame is None:
            self._mark_next = True  # a slot without audio: what follows is a new talkspurt
        else:
            payload = l16_swap(frame) if self.l16 else frame
            packets.append(build(self.payload_type, self._next_seq(), self.timestamp(tick),
                                 self.ssrc, payload, marker=self._mark_next))
            self._mark_next = False
            self.audio_packets += 1
        return packets

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) & 0xFFFF
        return seq
