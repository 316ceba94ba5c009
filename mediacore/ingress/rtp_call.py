"""One RTP call under Trio: two UDP ports, the playback sender, the inactivity watchdog.

Theory of operation. The call owns two bound UDP sockets: `inbound` (the caller's audio in,
playback out from the same port: symmetric RTP, so NATs let it through) and `outbound` (a
receive-only copy of what the telephony stack sends to the caller). Each port has a sans-IO
`RtpReceiver` (rtp_receiver.py) that parses, filters and counts; accepted audio goes to the
engine's jitter buffer for that track (`engine.feed_packet`), the first packet of each key
press on the inbound port becomes `engine.send_dtmf`. Four tasks run in one nursery under
the call's cancel scope:

- two receivers (recvfrom_into one reusable buffer; no Python work beyond the parse),
- the sender: `PlaybackPacer` gives each playback frame its tick, `RtpPlayback` turns it
  (and queued DTMF) into packets, sent to `rtp_remote` or else to the inbound port's locked
  source (nothing is sent before one is known; those packets are counted as unsent),
- the watchdog: the call ends ("rtp_timeout") when no packet was accepted on either port
  for `inactivity_timeout_s`, counted from the call's opening.

The call ends by the watchdog (reason given to the hub, which closes the engine call and
tells `on_call_ended`), by `IngressHub.close_call`, or when the engine call has gone (the
control plane hung up: no reason). Socket errors on send are counted, never fatal.
"""

from __future__ import annotations

import dataclasses
import logging

import trio

from mediacore.ingress.pacing import PlaybackPacer
from mediacore.ingress.rtp_playback import RtpPlayback
from mediacore.ingress.rtp_receiver import RtpPortStats, RtpReceiver

log = logging.getLogger("mediacore.ingress")

RECV_BUFFER_BYTES = 65536
TRACKS = ("inbound", "outbound")


@dataclasses.dataclass(frozen=True, slots=True)
class RtpCallStats:
    """An RTP call's counters: per port, and the playback sent to the caller."""

    inbound: RtpPortStats
    outbound: RtpPortStats
    playback_audio_packets: int        # built for the caller (sent or not)
    playback_event_packets: int        # RFC 4733 packets built (repeats included)
    playback_digits: int               # digits played completely
    sent_packets: int
    unsent_packets: int                # built while no destination was known yet
    send_error_packets: int
    remote: tuple[str, int] | None     # where playback goes now


class RtpCall:
    kind = "rtp"

    def __init__(self, hub, call_id: str, *, sockets, ports, payload_type: int,
                 dtmf_payload_type: int, clock_rate: int, l16: bool,
                 rtp_remote: tuple[str, int] | None, ssrc: int, first_sequence: int,
                 first_timestamp: int) -> None:
        self.hub = hub
        self.engine = hub.engine
        self.call_id = call_id
        self.sockets = sockets
        self.ports = ports
        self.rtp_remote = rtp_remote
        self.receivers = (
            RtpReceiver(payload_type=payload_type, clock_rate=clock_rate, l16=l16,
                        dtmf_payload_type=dtmf_payload_type),
            RtpReceiver(payload_type=payload_type, clock_rate=clock_rate, l16=l16,
                        dtmf_payload_type=dtmf_payload_type))
        self.playback = RtpPlayback(payload_type=payload_type, clock_rate=clock_rate, l16=l16,
                                    ssrc=ssrc, first_sequence=first_sequence,
                                    first_timestamp=first_timestamp,
                                    dtmf_payload_type=dtmf_payload_type)
        self.pacer = PlaybackPacer(self.engine, call_id, lambda: self.playback.dtmf.busy)
        self.scope = trio.CancelScope()
        self.reason: str | None = None
        self.last_packet_s = trio.current_time()
        self.sent = 0
        self.unsent = 0
        self.send_errors = 0

    def finish(self, reason: str | None) -> None:
        """End the call (reason None: ended from outside, nobody to tell)."""
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()

    def play_dtmf(self, digits: str) -> None:
        self.playback.add_digits(digits)
        self.pacer.wake()

    def stats(self) -> RtpCallStats:
        return RtpCallStats(
            inbound=self.receivers[0].stats(), outbound=self.receivers[1].stats(),
            playback_audio_packets=self.playback.audio_packets,
            playback_event_packets=self.playback.event_packets,
            playback_digits=self.playback.dtmf.digits_sent,
            sent_packets=self.sent, unsent_packets=self.unsent,
            send_error_packets=self.send_errors, remote=self.remote)

    @property
    def remote(self):
        return self.rtp_remote or self.receivers[0].source

    async def run(self) -> None:
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._receive, 0)
                    nursery.start_soon(self._receive, 1)
                    nursery.start_soon(self._send)
                    nursery.start_soon(self._watchdog)
        finally:
            self.hub._free(self.sockets, self.ports)  # only now: no task uses them any more
            # cancelled from outside (the hub shuts down): the engine call is left to the
            # engine's own shutdown, whose streams end with `shutdown`, not `call_hangup`
            self.hub._ended(self, self.reason, close_engine_call=self.scope.cancel_called)

    async def _watchdog(self) -> None:
        timeout = self.hub.inactivity_timeout_s
        while True:
            deadline = self.last_packet_s + timeout
            if trio.current_time() >= deadline:
                log.info("call %s: no RTP for %g s, ending it", self.call_id, timeout)
                self.finish("rtp_timeout")
                return
            await trio.sleep_until(deadline)

    async def _receive(self, index: int) -> None:
        sock = self.sockets[index]
        receiver = self.receivers[index]
        track = TRACKS[index]
        engine, call_id = self.engine, self.call_id
        buf = bytearray(RECV_BUFFER_BYTES)
        view = memoryview(buf)
        while True:
            try:
                n, source = await sock.recvfrom_into(buf)
            except OSError as exc:  # e.g. ICMP port unreachable reported on a later call
                log.debug("call %s: %s port: %s", call_id, track, exc)
                continue
            now = trio.current_time()
            result = receiver.receive(view[:n], source[:2], now)
            if result is None:
                continue
            self.last_packet_s = now
            try:
                if type(result) is str:
                    if index == 0:  # the caller's key presses; the outbound copy's are not
                        engine.send_dtmf(call_id, result)
                else:
                    engine.feed_packet(call_id, track, result.sequence_number,
                                       result.timestamp, result.payload, ssrc=result.ssrc)
            except KeyError:  # the engine call has ended
                self.finish(None)
                return

    async def _send(self) -> None:
        sock = self.sockets[0]
        while True:
            try:
                tick, frame = await self.pacer.next()
            except KeyError:  # the engine call has ended
                self.finish(None)
                return
            packets = self.playback.tick(tick, frame)
            remote = self.remote
            if remote is None:
                self.unsent += len(packets)
                continue
            for packet in packets:
                try:
                    await sock.sendto(packet, remote)
                    self.sent += 1
                except OSError as exc:
                    self.send_errors += 1
                    log.debug("call %s: playback to %s: %s", self.call_id, remote, exc)
