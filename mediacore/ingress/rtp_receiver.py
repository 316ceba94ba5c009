"""What one RTP port of a call accepts, sans-IO: datagrams in, audio packets or digits out,
every drop counted by its reason.

`RtpReceiver.receive(data, source, now_s)` returns
- an `RtpPacket` whose payload is ready for the engine's jitter buffer (L16 converted from
  network byte order to the call's little-endian order),
- a DTMF digit (str) for the first packet of a key press (telephone-events, RFC 4733),
- or None: the datagram was dropped (counted) or was another packet of a known key press.

Source locking: the first accepted packet locks the port to its source address; datagrams
from any other address are foreign and dropped. When the locked source has sent nothing
accepted for `relatch_after_s`, the next valid packet from a new address takes over (a
phone that changed its NAT mapping or a re-INVITE to another media address).

Payload sizes: 10..60 ms in whole 10 ms steps (what the jitter buffer takes); anything else
is dropped as BAD_PAYLOAD_SIZE. A change of SSRC is counted; the jitter buffer restarts on it.
"""

from __future__ import annotations

import dataclasses

from mediacore.codec import l16_swap
from mediacore.ingress.rtp import DropReason, RtpError, RtpPacket, parse
from mediacore.ingress.rtp import _HEADER
from mediacore.ingress.telephone_event import KeyPressDetector, parse_event

__all__ = ["RtpPortStats", "RtpReceiver"]

RELATCH_AFTER_S = 2.0
_new_packet = tuple.__new__  # an RtpPacket without its Python-level __new__ (hot path)


@dataclasses.dataclass(frozen=True, slots=True)
class RtpPortStats:
    """Counters of one RTP port since the call opened (packets are datagrams)."""

    received_packets: int             # every datagram, accepted or not
    audio_packets: int                # handed to the jitter buffer
    audio_payload_bytes: int
    telephone_event_packets: int      # valid RFC 4733 packets (all of them, repeats included)
    dtmf_digits: int                  # key presses reported
    ssrc_changes: int
    source_relatches: int             # the locked source moved after being silent
    dropped_truncated_packets: int
    dropped_wrong_version_packets: int
    dropped_rtcp_packets: int
    dropped_unknown_payload_type_packets: int
    dropped_foreign_source_packets: int
    dropped_bad_payload_size_packets: int
    dropped_bad_telephone_event_packets: int

    @property
    def dropped_packets(self) -> int:
        return (self.dropped_truncated_packets + self.dropped_wrong_version_packets
                + self.dropped_rtcp_packets + self.dropped_unknown_payload_type_packets
                + self.dropped_foreign_source_packets + self.dropped_bad_payload_size_packets
                + self.dropped_bad_telephone_event_packets)


class RtpReceiver:
    def __init__(self, *, payload_type: int, clock_rate: int, l16: bool,
                 dtmf_payload_type: int | None = 101,
                 relatch_after_s: float = RELATCH_AFTER_S) -> None:
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.l16 = l16
        self.relatch_after_s = relatch_after_s
        step = clock_rate // 100 * (2 if l16 else 1)  # bytes in 10 ms
        self._sizes = frozenset(step * k for k in range(1, 7))
        self.source: tuple | None = None      # the locked source address
        self.last_accepted_s: float | None = None
        self.ssrc: int | None = None
        self.keys = KeyPressDetector()
        self.drops = dict.fromkeys(DropReason, 0)
        self.received = 0
        self.audio = 0
        self.audio_bytes = 0
        self.events = 0
        self.digits = 0
        self.ssrc_changes = 0
        self.relatches = 0

    def receive(self, data, source, now_s: float) -> RtpPacket | str | None:
        self.received += 1
        n = len(data)
        if n >= 12:  # the common case inline: a plain header, audio, from the locked source
            b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
            if (b0 == 0x80 and b1 & 0x7F == self.payload_type and source == self.source
                    and n - 12 in self._sizes and ssrc == self.ssrc):
                self.last_accepted_s = now_s
                self.audio += 1
                self.audio_bytes += n - 12
                payload = bytes(data[12:])
                if self.l16:
                    payload = l16_swap(payload)
                return _new_packet(RtpPacket, (b1 > 0x7F, b1 & 0x7F, seq, ts, ssrc, payload,
                                               (), None, 0))
        try:
            packet = parse(data)
            return self._accept(packet, source, now_s)
        except RtpError as exc:
            self.drops[exc.reason] += 1
            return None

    def _accept(self, packet: RtpPacket, source, now_s: float) -> RtpPacket | str | None:
        pt = packet.payload_type
        if pt == self.payload_type:
            if len(packet.payload) not in self._sizes:
                raise RtpError(DropReason.BAD_PAYLOAD_SIZE,
                               f"{len(packet.payload)} payload bytes is not 10..60 ms")
            event = None
        elif pt == self.dtmf_payload_type and pt is not None:
            event = parse_event(packet.payload)
        else:
            raise RtpError(DropReason.UNKNOWN_PAYLOAD_TYPE, f"payload type {pt} is not "
                                                            f"configured for this call")
        if source != self.source:
            if self.source is not None and now_s - self.last_accepted_s < self.relatch_after_s:
                raise RtpError(DropReason.FOREIGN_SOURCE, f"{source} is not the call's source "
                                                          f"{self.source}")
            if self.source is not None:
                self.relatches += 1
            self.source = source
        self.last_accepted_s = now_s
        if packet.ssrc != self.ssrc:
            if self.ssrc is not None:
                self.ssrc_changes += 1
            self.ssrc = packet.ssrc
        if event is not None:
            self.events += 1
            digit = self.keys.packet(packet.ssrc, packet.timestamp, event)
            if digit is not None:
                self.digits += 1
            return digit
        self.audio += 1
        self.audio_bytes += len(packet.payload)
        if self.l16:
            return packet._replace(payload=l16_swap(packet.payload))
        return packet

    def stats(self) -> RtpPortStats:
        d = self.drops
        return RtpPortStats(
            received_packets=self.received, audio_packets=self.audio,
            audio_payload_bytes=self.audio_bytes, telephone_event_packets=self.events,
            dtmf_digits=self.digits, ssrc_changes=self.ssrc_changes,
            source_relatches=self.relatches,
            dropped_truncated_packets=d[DropReason.TRUNCATED],
            dropped_wrong_version_packets=d[DropReason.WRONG_VERSION],
            dropped_rtcp_packets=d[DropReason.RTCP],
            dropped_unknown_payload_type_packets=d[DropReason.UNKNOWN_PAYLOAD_TYPE],
            dropped_foreign_source_packets=d[DropReason.FOREIGN_SOURCE],
            dropped_bad_payload_size_packets=d[DropReason.BAD_PAYLOAD_SIZE],
            dropped_bad_telephone_event_packets=d[DropReason.BAD_TELEPHONE_EVENT])
