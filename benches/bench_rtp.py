"""RTP ingest speed: one datagram parsed and checked (RtpReceiver: RFC 3550 parse, payload
type, source lock, ptime, counters), put into the call's jitter buffer, and one 20 ms frame
taken out, per packet: the work the ingress and the engine do per packet of a call. The
figure is per packet; packets per second per core = 1e9 / ns, and calls = that / 50 (a call
sends 50 packets/s at 20 ms ptime).

Goal (issue 7): >= 50,000 packets/s per core (1,000 calls), i.e. <= 20 us per packet.
The peer in the same run: a plain-Python parse with `struct` (version, CSRCs, extension,
padding) feeding a dict-keyed buffer (benches/bench_jitter.py's DictJitterBuffer). Packets
rotate over CALLS calls so the working set is that of many calls, not one.

    python3 -m pytest benches/bench_rtp.py --benchmark-enable
"""

from __future__ import annotations

import itertools
import struct

from benches.bench_jitter import DictJitterBuffer
from benches.conftest import compare
from mediacore.ingress.rtp import build
from mediacore.ingress.rtp_receiver import RtpReceiver
from mediacore.jitter import JitterBuffer

BATCH = 1000
CALLS = 100
FRAME = 160
SOURCE = ("192.0.2.1", 40000)


def packets(frames: int, *, pt: int = 0) -> list[list[bytes]]:
    """Per call, `frames` consecutive 20 ms PCMU packets (each call its own SSRC)."""
    return [[build(pt, i & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, 0x1000 + c, bytes(FRAME),
                   marker=i == 0) for i in range(frames)] for c in range(CALLS)]


def ingest_loop(receivers, buffers, stream):
    """A closure moving BATCH packets: call c gets packets in turn; time advances 20 ms
    each round of all calls."""
    rounds = itertools.count()
    per_call = BATCH // CALLS
    frames = len(stream[0])

    def run():
        r = next(rounds)
        for k in range(per_call):
            n = (r * per_call + k) % frames
            t = (r * per_call + k) * 20.0
            now_s = t / 1000
            for c in range(CALLS):
                p = receivers[c].receive(stream[c][n], SOURCE, now_s)
                jb = buffers[c]
                jb.put(p.sequence_number, p.timestamp, p.payload, t, ssrc=p.ssrc)
                jb.get(t)
    return run


def test_ingest_mediacore(benchmark):
    receivers = [RtpReceiver(payload_type=0, clock_rate=8000, l16=False) for _ in range(CALLS)]
    buffers = [JitterBuffer(8000, FRAME, codec="mulaw") for _ in range(CALLS)]
    stream = packets(500)
    compare(benchmark, "rtp ingest: parse + jitter put + get", "mediacore",
            ingest_loop(receivers, buffers, stream), units=BATCH, unit="packet")
    assert receivers[0].stats().audio_packets >= BATCH // CALLS
    assert receivers[0].stats().dropped_packets == 0


_HEADER = struct.Struct("!BBHII")


class StructParser:
    """The plain-Python way: struct-unpack the header, skip CSRCs / extension / padding,
    check version and payload type, slice the payload."""

    def __init__(self, payload_type: int) -> None:
        self.payload_type = payload_type

    def receive(self, data, source, now_s):
        if len(data) < 12:
            return None
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 >> 6 != 2 or b1 & 0x7F != self.payload_type:
            return None
        offset = 12 + 4 * (b0 & 0x0F)
        end = len(data)
        if b0 & 0x20:
            end -= data[-1]
        if b0 & 0x10:
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        if offset > end:
            return None
        return _Packet(seq, ts, ssrc, data[offset:end])


class _Packet:
    __slots__ = ("sequence_number", "timestamp", "ssrc", "payload")

    def __init__(self, seq, ts, ssrc, payload):
        self.sequence_number, self.timestamp, self.ssrc, self.payload = seq, ts, ssrc, payload


class _DictBuffer(DictJitterBuffer):
    def put(self, seq, timestamp, payload, arrival_ms, ssrc=None):
        return super().put(seq, timestamp, payload, arrival_ms)


def test_ingest_python_struct_and_dict(benchmark):
    receivers = [StructParser(0) for _ in range(CALLS)]
    buffers = [_DictBuffer(FRAME, FRAME, delay_frames=3) for _ in range(CALLS)]
    stream = packets(500)
    compare(benchmark, "rtp ingest: parse + jitter put + get", "plain Python struct + dict",
            ingest_loop(receivers, buffers, stream), units=BATCH, unit="packet")


def test_parse_only_mediacore(benchmark):
    receivers = [RtpReceiver(payload_type=0, clock_rate=8000, l16=False) for _ in range(CALLS)]
    stream = packets(10)
    data = [stream[c][5] for c in range(CALLS)] * (BATCH // CALLS)
    rxs = receivers * (BATCH // CALLS)

    def run():
        for rx, d in zip(rxs, data):
            rx.receive(d, SOURCE, 0.0)
    compare(benchmark, "rtp receive (parse + checks) only", "mediacore RtpReceiver", run,
            units=BATCH, unit="packet")


def test_parse_only_python_struct(benchmark):
    receivers = [StructParser(0) for _ in range(CALLS)]
    stream = packets(10)
    data = [stream[c][5] for c in range(CALLS)] * (BATCH // CALLS)
    rxs = receivers * (BATCH // CALLS)

    def run():
        for rx, d in zip(rxs, data):
            rx.receive(d, SOURCE, 0.0)
    compare(benchmark, "rtp receive (parse + checks) only", "plain Python struct", run,
            units=BATCH, unit="packet")
