"""Jitter-buffer traces: a tiny text script of network events, and the runner that plays one
through a JitterBuffer (in the spirit of pjmedia's Jbtest.dat).

Format (files under tests/data/jitter/*.trace; one event per line; `#` starts a comment;
times in milliseconds). The sender keeps a sequence number and a timestamp; each packet is
`ptime_ms` of audio and advances both.

    config key=value ...      JitterBuffer arguments (clock_rate, frame_samples, codec, mode,
                              min_delay_ms, max_delay_ms, initial_delay_ms) and the sender's
                              ptime_ms, first seq, first ts, ssrc (optional)
    send <arrival_ms>         the next packet is sent and arrives at arrival_ms; arrival times
                              out of send order are reordering
    lose                      the next packet is sent and never arrives
    dup <arrival_ms>          a copy of the last packet sent arrives (again) at arrival_ms
    jump <ts_delta> [<seq_delta>]   the sender's timestamp (and sequence) jump
    dtx <ms>                  the sender is silent: the timestamp advances by ms, seq does not
    ssrc <value>              the sender's SSRC changes
    get <from_ms> <to_ms>     the receiver calls get() every frame time in [from_ms, to_ms)
    expect <stat> <op> <num>  after the run, a JitterStats field (or `late_pct`, `lost_pct`,
                              `concealed_pct`) compared with <, <=, ==, >=, >

Events run in time order (a put and a get at the same time: the put first). Each packet's
payload carries a counter per half frame (L16 sample value; μ-law the code of it), so the
runner can tell which audio a NORMAL frame holds.
"""

from __future__ import annotations

import dataclasses
import operator
import pathlib

import numpy as np

from mediacore.codec import ulaw_encode
from mediacore.jitter import FrameKind, JitterBuffer, PutResult

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "jitter"
OPS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, ">=": operator.ge,
       ">": operator.gt}
JB_KEYS = {"clock_rate": int, "frame_samples": int, "codec": str, "mode": str,
           "min_delay_ms": float, "max_delay_ms": float, "initial_delay_ms": float}


@dataclasses.dataclass
class Packet:
    seq: int
    timestamp: int
    arrival_ms: float
    chunk: int          # counter of the first half frame it carries (sender-side, unwrapped)
    ssrc: int | None


@dataclasses.dataclass
class Trace:
    config: dict
    ptime_ms: float
    packets: list[Packet]
    gets: list[float]
    expects: list[tuple[str, str, float, int]]   # stat, op, value, line number
    sent: int           # packets the sender sent (lost ones included)


@dataclasses.dataclass
class Outcome:
    trace: Trace
    stats: object
    results: list[PutResult]
    frames: list[tuple[float, FrameKind, int]]  # now_ms, kind, first counter (-1 if silent)

    def value(self, name: str) -> float:
        normal = sum(1 for _, k, _ in self.frames if k is FrameKind.NORMAL)
        expected = self.trace.sent * self.trace.ptime_ms / self.stats_frame_ms
        if name == "late_pct":
            return 100.0 * self.stats.frames_late / max(expected, 1)
        if name == "lost_pct":  # audio sent that never played as a normal frame
            return 100.0 * (1 - normal / max(expected, 1))
        if name == "concealed_pct":
            return 100.0 * self.stats.frames_concealed / max(len(self.frames), 1)
        return getattr(self.stats, name)

    @property
    def stats_frame_ms(self) -> float:
        c = self.trace.config
        return 1000.0 * c["frame_samples"] / c["clock_rate"]

    def failed_expectations(self) -> list[str]:
        bad = []
        for stat, op, value, line in self.trace.expects:
            got = self.value(stat)
            if not OPS[op](got, value):
                bad.append(f"line {line}: expected {stat} {op} {value}, got {got:g}")
        return bad


def parse(text: str) -> Trace:
    config = {"clock_rate": 8000, "frame_samples": 160}
    ptime_ms, seq, ts, ssrc = 20.0, 0, 0, None
    packets, gets, expects = [], [], []
    chunk = sent = 0
    last = None
    for number, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        cmd, args = words[0], words[1:]
        try:
            if cmd == "config":
                for item in args:
                    key, _, value = item.partition("=")
                    if key in JB_KEYS:
                        config[key] = JB_KEYS[key](value)
                    elif key == "ptime_ms":
                        ptime_ms = float(value)
                    elif key == "seq":
                        seq = int(value)
                    elif key == "ts":
                        ts = int(value)
                    elif key == "ssrc":
                        ssrc = int(value)
                    else:
                        raise ValueError(f"unknown config key {key!r}")
                continue
            rate = config["clock_rate"]
            samples = round(ptime_ms * rate / 1000)
            half = config["frame_samples"] // 2
            if cmd in ("send", "lose"):
                last = Packet(seq, ts, float(args[0]) if args else 0.0, chunk, ssrc)
                if cmd == "send":
                    packets.append(last)
                seq = (seq + 1) & 0xFFFF
                ts = (ts + samples) & 0xFFFFFFFF
                chunk += samples // half
                sent += 1
            elif cmd == "dup":
                packets.append(dataclasses.replace(last, arrival_ms=float(args[0])))
            elif cmd == "jump":
                ts = (ts + int(args[0])) & 0xFFFFFFFF
                if len(args) > 1:
                    seq = (seq + int(args[1])) & 0xFFFF
            elif cmd == "dtx":
                skipped = round(float(args[0]) * rate / 1000)
                ts = (ts + skipped) & 0xFFFFFFFF
                chunk += skipped // half
            elif cmd == "ssrc":
                ssrc = int(args[0])
            elif cmd == "get":
                start, stop = float(args[0]), float(args[1])
                step = 1000.0 * config["frame_samples"] / rate
                n = int(round((stop - start) / step))
                gets.extend(start + i * step for i in range(n))
            elif cmd == "expect":
                expects.append((args[0], args[1], float(args[2]), number))
            else:
                raise ValueError(f"unknown event {cmd!r}")
        except (IndexError, ValueError) as exc:
            raise ValueError(f"trace line {number}: {raw.strip()!r}: {exc}") from None
    return Trace(config, ptime_ms, packets, gets, expects, sent)


def payload(config: dict, ptime_ms: float, chunk: int) -> bytes:
    """ptime_ms of audio whose half frames hold the counters chunk, chunk + 1, ..."""
    half = config["frame_samples"] // 2
    n = round(ptime_ms * config["clock_rate"] / 1000) // half
    values = ((np.arange(chunk, chunk + n) % 8000) + 1) * 4
    pcm = np.repeat(values.astype(np.int16), half)
    if config.get("codec", "l16") == "l16":
        return pcm.tobytes()
    return ulaw_encode(pcm.tobytes())


def first_counter(config: dict, frame) -> int:
    """The counter a NORMAL frame starts with (L16 only: μ-law does not keep it exact)."""
    if config.get("codec", "l16") != "l16":
        return -1
    value = int(np.frombuffer(frame, dtype=np.int16)[0])
    return value // 4 - 1 if value > 0 else -1


def run(trace: Trace) -> Outcome:
    jb = JitterBuffer(**trace.config)
    events = sorted([(p.arrival_ms, 0, i) for i, p in enumerate(trace.packets)]
                    + [(t, 1, i) for i, t in enumerate(trace.gets)])
    results, frames = [], []
    for when, kind, i in events:
        if kind == 0:
            p = trace.packets[i]
            data = payload(trace.config, trace.ptime_ms, p.chunk)
            results.append(jb.put(p.seq, p.timestamp, data, when, ssrc=p.ssrc))
        else:
            k, frame = jb.get(when)
            counter = first_counter(trace.config, frame) if k is FrameKind.NORMAL else -1
            frames.append((when, k, counter))
    return Outcome(trace, jb.stats(), results, frames)


def load(name: str) -> Trace:
    return parse((DATA / name).read_text())
