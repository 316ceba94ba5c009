"""Jitter buffer quality: seeded synthetic networks through the adaptive buffer and fixed
buffers of 40, 60 and 100 ms, side by side (issue 3).

For each network model and buffer: frames lost to lateness (% of the frames that arrived),
frames discarded to shrink the delay (%), both together (lost %), frames inserted to grow the
delay (%), and the added delay of the frames played (buffer delay = get() time - arrival
time; mean and p95, ms). Every buffer sees exactly the same packets and get() clock.

Goal: the adaptive buffer loses fewer frames to lateness than each fixed buffer, at an equal
or lower mean delay. Where a fixed buffer has a lower delay than the adaptive one, the fair
comparison is the fixed buffers' loss at the adaptive buffer's delay (interpolated between
the fixed settings): the `frontier` column. The test asserts only what holds.

    python -m benches.bench_jitter_quality          # the table
    pytest benches/bench_jitter_quality.py -s       # the same, with the checks
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mediacore.jitter import FrameKind, JitterBuffer

RATE, FRAME, FRAME_MS = 8000, 160, 20.0
SECONDS = 120
SEEDS = (1, 2, 3)
BASE_MS = 40.0          # transit without jitter
FIXED_MS = (40, 60, 100)


# ---- network models: (rng, n) -> (transit_ms per packet, lost per packet) ----------------

def gaussian(rng, n, sigma=20.0):
    """Transit 40 ms + |N(0, 20 ms)|."""
    return BASE_MS + np.abs(rng.normal(0, sigma, n)), np.zeros(n, bool)


def pareto(rng, n, shape=2.0, scale=10.0):
    """Transit 40 ms + Pareto (Lomax) jitter: mostly a few ms, a heavy tail of long ones."""
    return BASE_MS + np.minimum(rng.pareto(shape, n) * scale, 2000.0), np.zeros(n, bool)


def loss_bursts(rng, n):
    """Gilbert-Elliott congestion: a good state (1 % loss, |N(0, 5)| jitter) and a bad one
    (entered 1 % of packets, left 10 %; 30 % loss, 60 ms more transit, |N(0, 30)| jitter)."""
    bad = np.zeros(n, bool)
    state = False
    draws = rng.random(n)
    for i in range(n):
        state = draws[i] < (0.90 if state else 0.01)
        bad[i] = state
    jitter = np.where(bad, 60 + np.abs(rng.normal(0, 30, n)), np.abs(rng.normal(0, 5, n)))
    lost = rng.random(n) < np.where(bad, 0.30, 0.01)
    return BASE_MS + jitter, lost


def calm_and_rough(rng, n, period_s=20):
    """Alternating 20 s of calm (|N(0, 3)|) and rough (|N(0, 40)|) jitter."""
    rough = (np.arange(n) * FRAME_MS // (period_s * 1000)) % 2 == 1
    return BASE_MS + np.abs(rng.normal(0, np.where(rough, 40.0, 3.0))), np.zeros(n, bool)


def fifo(model):
    """The same jitter through a first-in-first-out queue: a packet never overtakes the one
    before it (one network path), so a long delay holds up the packets behind it."""
    def queued(rng, n):
        transit, lost = model(rng, n)
        arrival = np.maximum.accumulate(np.arange(n) * FRAME_MS + transit)
        return arrival - np.arange(n) * FRAME_MS, lost
    return queued


MODELS = {"gaussian": gaussian, "pareto": pareto, "gaussian fifo": fifo(gaussian),
          "pareto fifo": fifo(pareto), "loss bursts": loss_bursts,
          "calm/rough": calm_and_rough}


# ---- simulation ----------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    arrived: int = 0
    late: int = 0
    discarded: int = 0
    inserted: int = 0
    delays: list = dataclasses.field(default_factory=list)

    def add(self, other: Result) -> None:
        self.arrived += other.arrived
        self.late += other.late
        self.discarded += other.discarded
        self.inserted += other.inserted
        self.delays += other.delays

    @property
    def late_pct(self) -> float:
        return 100.0 * self.late / max(self.arrived, 1)

    @property
    def discarded_pct(self) -> float:
        return 100.0 * self.discarded / max(self.arrived, 1)

    @property
    def inserted_pct(self) -> float:
        return 100.0 * self.inserted / max(self.arrived, 1)

    @property
    def lost_pct(self) -> float:
        """Audio that arrived and was not played: late or discarded."""
        return self.late_pct + self.discarded_pct

    @property
    def mean_ms(self) -> float:
        return float(np.mean(self.delays)) if self.delays else 0.0

    @property
    def p95_ms(self) -> float:
        return float(np.percentile(self.delays, 95)) if self.delays else 0.0


def simulate(jb: JitterBuffer, transit_ms, lost) -> Result:
    n = len(transit_ms)
    arrival = np.arange(n) * FRAME_MS + transit_ms
    order = [i for i in np.argsort(arrival, kind="stable") if not lost[i]]
    payloads = [np.full(FRAME, i % 30000, np.int16).tobytes() for i in range(n)]
    result = Result(arrived=len(order))
    k = 0
    end = n * FRAME_MS + float(np.max(transit_ms)) + 500
    tick = 0
    while tick * FRAME_MS < end:
        now = tick * FRAME_MS
        while k < len(order) and arrival[order[k]] <= now:
            i = order[k]
            jb.put(i & 0xFFFF, (i * FRAME) & 0xFFFFFFFF, payloads[i], float(arrival[i]))
            k += 1
        kind, frame = jb.get(now)
        if kind is FrameKind.NORMAL:
            i = int(np.frombuffer(frame, np.int16, 1)[0])
            result.delays.append(now - arrival[i] if i < n else 0.0)
        tick += 1
    s = jb.stats()
    result.late, result.discarded, result.inserted = (s.frames_late, s.frames_discarded,
                                                      s.frames_inserted)
    return result


def buffers():
    yield "adaptive", lambda: JitterBuffer(RATE, FRAME, min_delay_ms=0, max_delay_ms=400)
    for ms in FIXED_MS:
        yield f"fixed {ms} ms", lambda ms=ms: JitterBuffer(RATE, FRAME, mode="fixed",
                                                            initial_delay_ms=ms)


def evaluate(seconds: int = SECONDS, seeds=SEEDS) -> dict[str, dict[str, Result]]:
    n = int(seconds * 1000 / FRAME_MS)
    table = {}
    for model_name, model in MODELS.items():
        row = {name: Result() for name, _ in buffers()}
        for seed in seeds:
            transit, lost = model(np.random.default_rng(seed), n)
            for name, make in buffers():
                row[name].add(simulate(make(), transit, lost))
        table[model_name] = row
    return table


def frontier(row: dict[str, Result], delay_ms: float) -> float | None:
    """The fixed buffers' late % at delay_ms, interpolated linearly between the two fixed
    buffers around it; None outside their range of delays."""
    points = sorted((r.mean_ms, r.late_pct) for name, r in row.items() if name != "adaptive")
    xs, ys = zip(*points)
    if not xs[0] <= delay_ms <= xs[-1]:
        return None
    return float(np.interp(delay_ms, xs, ys))


def beats_on_late(a: Result, r: Result) -> bool:
    """Fewer frames late, or none at all either way."""
    return a.late_pct < r.late_pct or a.late_pct == r.late_pct == 0


def verdict(a: Result, r: Result) -> str:
    """The adaptive buffer a against the fixed buffer r, from the adaptive side."""
    fewer = beats_on_late(a, r)
    no_more_delay = a.mean_ms <= r.mean_ms
    if fewer and no_more_delay:
        return ("BEATEN: adaptive has fewer late at <= delay" if a.late_pct < r.late_pct else
                "BEATEN: no late frames either way, adaptive at less delay")
    if fewer:
        return "adaptive: fewer late, more delay"
    if no_more_delay:
        return "adaptive: less delay, more late"
    return "adaptive worse on both"


def render(table) -> str:
    lines = [f"{'network':<13} {'buffer':<13} {'late %':>7} {'discard %':>9} {'lost %':>7} "
             f"{'insert %':>8} {'mean ms':>8} {'p95 ms':>7}  comparison (on late %)"]
    for model_name, row in table.items():
        a = row["adaptive"]
        for name, r in row.items():
            if name == "adaptive":
                f = frontier(row, r.mean_ms)
                note = "fixed buffers at this delay: " + (
                    f"{f:.2f} % late" if f is not None else "outside their range")
            else:
                note = verdict(a, r)
            lines.append(f"{model_name:<13} {name:<13} {r.late_pct:7.2f} {r.discarded_pct:9.2f} "
                         f"{r.lost_pct:7.2f} {r.inserted_pct:8.2f} {r.mean_ms:8.1f} {r.p95_ms:7.1f}"
                         f"  {note}")
    return "\n".join(lines)


def test_quality_table():
    """The full table of benches/README.md (deterministic: seeded, < 1 s), and the part of the
    goal that holds on it."""
    table = evaluate()
    print("\n" + render(table))
    for model_name, row in table.items():
        a = row["adaptive"]
        # never worse than the fixed buffers would be at its own mean delay...
        f = frontier(row, a.mean_ms)
        assert f is None or a.late_pct <= f, model_name
        # ...and no fixed buffer has both a lower delay and fewer late frames
        for name, r in row.items():
            assert not (r.mean_ms < a.mean_ms and r.late_pct < a.late_pct), (model_name, name)
    # the fixed buffers it beats outright (fewer late frames at no more delay)
    for model_name, fixed in (("gaussian fifo", "fixed 60 ms"), ("gaussian fifo", "fixed 100 ms"),
                              ("loss bursts", "fixed 100 ms"), ("calm/rough", "fixed 60 ms")):
        a, r = table[model_name]["adaptive"], table[model_name][fixed]
        assert beats_on_late(a, r) and a.mean_ms <= r.mean_ms, (model_name, fixed)
    # where the jitter changes, it loses less than half what fixed buffers would at its delay
    for model_name in ("calm/rough", "loss bursts"):
        a = table[model_name]["adaptive"]
        assert a.late_pct < frontier(table[model_name], a.mean_ms) / 2, model_name


if __name__ == "__main__":
    print(render(evaluate()))
