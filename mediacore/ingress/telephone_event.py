"""RFC 4733 telephone-events, sans-IO: the 4-byte payload, one digit per key press, and the
packets that play digits into a call.

A key press is one *event*, identified by the RTP timestamp of its start: every packet of
it (start, updates with growing duration, the end packet sent three times) carries that
same timestamp. `KeyPressDetector` therefore reports a digit the first time it sees a
(SSRC, timestamp) pair and never again for it, whichever packets of the event arrive, in
whatever order; two presses of the same key have different timestamps and are two digits.
An event longer than the 16-bit duration field (about 8 s at 8 kHz) is sent in segments
whose timestamps follow on (RFC 4733 §2.5.1.3); a segment that continues an unfinished
event of the same key is not a new press.

`DtmfSchedule` is the sending side: per 20 ms tick it says which event packet to send, if
any. A digit lasts TONE_MS (the first packet has the marker bit; its duration grows by one
frame per tick; the end packet is sent three times on consecutive ticks), then GAP_MS of
audio before the next digit. While a tone plays the tick carries no audio.
"""

from __future__ import annotations

import array
import collections
import dataclasses
import math
import struct
import sys

from mediacore.ingress.rtp import DropReason, RtpError

__all__ = ["DIGITS", "DtmfSchedule", "EventPacket", "KeyPressDetector", "TelephoneEvent",
           "dtmf_tone", "encode_event", "parse_event"]

DIGITS = "0123456789*#ABCD"  # event codes 0..15 (RFC 4733 §3.2)
_EVENT = struct.Struct("!BBH")
TONE_MS = 100
GAP_MS = 100
END_REPEATS = 3
FRAME_MS = 20
VOLUME_DBM0 = 10  # -10 dBm0, a typical key press


@dataclasses.dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int          # 0..63, in -dBm0
    duration: int        # in timestamp units (samples) since the event's timestamp

    @property
    def digit(self) -> str | None:
        """'0'-'9', '*', '#', 'A'-'D', or None for other events (flash, tones...)."""
        return DIGITS[self.event] if self.event < len(DIGITS) else None


def parse_event(payload: bytes) -> TelephoneEvent:
    """The first event of a telephone-event payload. Raises RtpError."""
    if len(payload) < 4 or len(payload) % 4:
        raise RtpError(DropReason.BAD_TELEPHONE_EVENT,
                       f"a telephone-event payload is a multiple of 4 bytes, not {len(payload)}")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def encode_event(event: int, *, end: bool, duration: int, volume: int = VOLUME_DBM0) -> bytes:
    if not 0 <= event <= 255:
        raise ValueError(f"event must be 0..255, not {event}")
    if not 0 <= volume <= 63:
        raise ValueError(f"volume must be 0..63 (-dBm0), not {volume}")
    if not 0 <= duration <= 0xFFFF:
        raise ValueError(f"duration must be 0..65535 timestamp units, not {duration}")
    return _EVENT.pack(event, (0x80 if end else 0) | volume, duration)


class KeyPressDetector:
    """Telephone-event packets in, one digit per key press out (see the module docstring)."""

    def __init__(self, remembered: int = 32) -> None:
        self._seen: collections.deque = collections.deque(maxlen=remembered)
        self._seen_set: set = set()
        self._open: tuple | None = None   # (ssrc, timestamp, event, duration) of an unended one

    def packet(self, ssrc: int, timestamp: int, event: TelephoneEvent) -> str | None:
        """The digit pressed if this packet is the first one seen of a new key press."""
        key = (ssrc, timestamp)
        if key in self._seen_set:
            if self._open is not None and self._open[:2] == key:
                self._open = None if event.end else (ssrc, timestamp, event.event,
                                                     max(self._open[3], event.duration))
            return None
        continues = (self._open is not None and self._open[0] == ssrc
                     and self._open[2] == event.event
                     and (timestamp - self._open[1]) & 0xFFFFFFFF == self._open[3])
        self._remember(key)
        self._open = None if event.end else (ssrc, timestamp, event.event, event.duration)
        if continues:
            return None
        return event.digit

    def _remember(self, key) -> None:
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(key)
        self._seen_set.add(key)


@dataclasses.dataclass(frozen=True, slots=True)
class EventPacket:
    """One telephone-event packet to send this tick: its RTP timestamp is the event's start
    (`start_tick`'s timestamp), its marker bit set on the first packet of the event."""

    start_tick: int
    payload: bytes
    marker: bool


class DtmfSchedule:
    """Digits to play, laid out on the 20 ms tick grid (see the module docstring)."""

    def __init__(self, clock_rate: int, *, tone_ms: int = TONE_MS, gap_ms: int = GAP_MS) -> None:
        self.frame_samples = clock_rate * FRAME_MS // 1000
        self.tone_ticks = max(1, tone_ms // FRAME_MS)
        # the end packet's repeats run into the gap: the next digit waits for them
        self.gap_ticks = max(END_REPEATS - 1, gap_ms // FRAME_MS)
        self.pending: collections.deque[str] = collections.deque()
        self._digit: str | None = None
        self._start = 0
        self._resume_at: int | None = None   # the first tick the next digit may start
        self.digits_sent = 0

    def add(self, digits: str) -> None:
        for d in digits:
            if d not in DIGITS:
                raise ValueError(f"{d!r} is not a DTMF digit (0-9, *, #, A-D)")
        self.pending.extend(digits)

    @property
    def busy(self) -> bool:
        """A digit is playing or waiting: the sender must keep ticking."""
        return self._digit is not None or bool(self.pending)

    def tick(self, tick: int) -> tuple[EventPacket | None, bool]:
        """(the event packet of this tick or None, whether this tick's audio is muted)."""
        if self._digit is None:
            if not self.pending or (self._resume_at is not None and tick < self._resume_at):
                return None, False
            self._digit = self.pending.popleft()
            self._start = tick
        k = tick - self._start
        if k >= self.tone_ticks + END_REPEATS - 1 or k < 0:  # a gap in the ticks: end it
            self._finish(tick)
            return self.tick(tick) if self.pending else (None, False)
        end = k >= self.tone_ticks - 1
        duration = min(k + 1, self.tone_ticks) * self.frame_samples
        payload = encode_event(DIGITS.index(self._digit), end=end, duration=duration)
        packet = EventPacket(self._start, payload, k == 0)
        if k == self.tone_ticks + END_REPEATS - 2:  # the third end packet: done
            self._finish(tick)
            self.digits_sent += 1
        return packet, k < self.tone_ticks

    def _finish(self, tick: int) -> None:
        self._digit = None
        self._resume_at = self._start + self.tone_ticks + self.gap_ticks


_TONES = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
          "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
          "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
          "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633)}


def dtmf_tone(digit: str, sample_rate: int, ms: int = TONE_MS) -> bytes:
    """The in-band tone of a digit (ITU-T Q.23), L16 little-endian, each component at about
    -7 dBm0: for transports that carry no events (AudioSocket)."""
    low, high = _TONES[digit]
    n = sample_rate * ms // 1000
    amp = 0.22 * 32767
    w1, w2 = 2 * math.pi * low / sample_rate, 2 * math.pi * high / sample_rate
    samples = array.array("h", (int(amp * (math.sin(w1 * i) + math.sin(w2 * i)))
                                for i in range(n)))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()
