"""`python -m benches.fanout.lateness_parts CLIENT TRANSPORT FORKS`: run one fan-out point and
split its frame lateness into the tick's start and each fork's place within the tick.

A frame's lateness (stats.lateness_ms) is its write time against its fork's own best offset
from the 20 ms grid. Per tick, the earliest write tells how late the tick itself began (the
wake-up, and whatever ran before the tick: other tasks, a collection); the rest is where in
the tick each fork's write fell, which moves when the sends before it took longer or shorter
than usual (the kernel's and OpenSSL's work). Found this way (benches/README.md): at 1,750
wss forks the engine's late ticks were slow inside its native step, not late to start.

    python -m benches.fanout.lateness_parts mediacore tls 1750 --seconds 8
    python -m benches.fanout.lateness_parts floor tls 2000 --seconds 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

from benches.fanout import certs as certs_mod
from benches.fanout import record as rec
from benches.fanout import stats
from benches.fanout.limits import SINK_CORE, pin, raise_nofile
from benches.fanout.run import Point, run_point


def parts(times: np.ndarray, warmup: int) -> dict[str, np.ndarray]:
    """Per steady-state tick and fork, in ms: `late` (the frame's lateness), `start` (per tick:
    its earliest write's lateness), `within` (late minus its tick's start), `span` (per tick:
    first to last write)."""
    ticks = np.arange(times.shape[0], dtype=np.float64)[:, None]
    on_grid = times - ticks * stats.TICK_S
    with np.errstate(invalid="ignore"):
        late = (on_grid - np.fmin.reduce(on_grid, axis=0))[warmup:] * 1e3
        start = np.fmin.reduce(late, axis=1)
        span = (np.fmax.reduce(on_grid, axis=1) - np.fmin.reduce(on_grid, axis=1))[warmup:]
    return {"late": late, "start": start, "within": late - start[:, None], "span": span * 1e3}


def pct(values: np.ndarray, *percents: float) -> str:
    v = values[~np.isnan(values)].ravel()
    return " ".join(f"p{p:g} {stats.nearest_rank(v, p):.2f}" for p in percents)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benches.fanout.lateness_parts",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("client")
    ap.add_argument("transport", choices=("plain", "tls"))
    ap.add_argument("forks", type=int)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--warmup-s", type=float, default=2.0)
    ap.add_argument("--nice", type=int, default=-10)
    args = ap.parse_args(argv)
    raise_nofile()
    pin(SINK_CORE)
    point = Point(args.client, args.transport, args.forks, args.seconds, args.warmup_s,
                  args.nice)
    with tempfile.TemporaryDirectory(prefix="fanout-", dir=rec.workdir_parent()) as workdir:
        kept = os.path.join(workdir, "kept.rec")
        summary = run_point(point, certs_mod.make(workdir), workdir, lambda line: None,
                            keep=kept)
        print(f"{summary.client} {summary.transport} {summary.forks} forks: {summary.status}, "
              f"loss {summary.loss}, p99 {summary.p99_ms:.2f} ms, "
              f"CPU {summary.cpu_us_per_frame:.2f} µs/frame")
        if not os.path.exists(kept) or summary.frames_written == 0:
            log = os.path.join(workdir, f"{args.client}-{args.transport}-{args.forks}.log")
            with open(log) as f:
                tail = f.readlines()[-10:]
            print(f"no frames written: nothing to split ({summary.first_gap}); the client's "
                  f"log ends:\n" + "".join(tail), file=sys.stderr)
            return 1
        _, times = rec.read(kept)
    p = parts(times, point.warmup)
    print(f"frame lateness ms        {pct(p['late'], 50, 99)}")
    print(f"tick start lateness ms   {pct(p['start'], 50, 90, 99)} max {np.nanmax(p['start']):.2f}")
    print(f"place within the tick ms {pct(p['within'], 50, 99)}")
    print(f"tick span ms             {pct(p['span'], 50, 99)}")
    worst = np.argsort(-np.nan_to_num(p["start"] + p["span"], nan=-1))[:5]
    print("slowest ticks (steady tick, start ms, span ms): " + ", ".join(
        f"({i}, {p['start'][i]:.2f}, {p['span'][i]:.2f})" for i in worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
