"""The summary table (markdown, so it pastes into benches/README.md) and its ratios.

Ratios are taken per transport: "x trio-ws" is how many times the trio-websocket baseline's
figure this client reaches (forks per core in a ramp; CPU per frame otherwise, baseline /
this, so higher is better both ways); "x floor" is this client's CPU per frame over the C
floor's (1.0 is the floor; the engine's target is <= 1.2). "CPU-bound forks/core" is 20 ms
over the CPU per frame: the forks a core could carry if only CPU counted (lateness aside). "sink CPU" is the sink's share of
its core while media flowed (near 100 %: it may lag); "other load" is the share of the
client's core taken by anything else during the steady window (a shared machine).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys

from benches.fanout.clients import BASELINE, FLOOR
from benches.fanout.stats import TICK_S, RunSummary


@dataclasses.dataclass(frozen=True)
class Row:
    client: str
    transport: str
    run: RunSummary | None       # the run shown (a ramp: the largest passing one)
    sustained: int | None = None  # ramp only: forks per core with p99 <= 5 ms, no loss
    note: str = ""               # e.g. why a client is not available


def _num(x: float, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}x"


def table(rows: list[Row], ramp: bool) -> str:
    head = ["client", "transport", "forks", "frames", "loss", "order errors", "p50 ms",
            "p99 ms", "max ms", "CPU µs/frame", "CPU-bound forks/core"]
    head += ["forks/core", "x trio-ws (forks)"] if ramp else ["x trio-ws (CPU)"]
    head += ["x floor (CPU)", "sink CPU", "other load", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_key = {(r.client, r.transport): r for r in rows}
    for r in rows:
        base, floor = by_key.get((BASELINE, r.transport)), by_key.get((FLOOR, r.transport))
        s = r.run
        if s is None:
            cells = [r.client, r.transport] + ["-"] * (len(head) - 3) + [r.note]
            lines.append("| " + " | ".join(cells) + " |")
            continue
        cpu = s.cpu_us_per_frame
        cells = [r.client, r.transport, f"{s.forks:,}", f"{s.frames_written:,}", f"{s.loss:,}",
                 str(s.order_errors), _num(s.p50_ms, ".2f"), _num(s.p99_ms, ".2f"),
                 _num(s.max_ms, ".2f"), _num(cpu, ".1f"), _num(TICK_S * 1e6 / cpu, ",.0f")]
        if ramp:
            cells += [f"{r.sustained:,}" if r.sustained is not None else "-",
                      _ratio(r.sustained, base.sustained if base else None)]
        else:
            cells += [_ratio(base.run.cpu_us_per_frame if base and base.run else None, cpu)]
        cells += [_ratio(cpu, floor.run.cpu_us_per_frame if floor and floor.run else None),
                  _num(s.sink_cpu_share * 100, ".0f") + " %",
                  _num(s.other_load * 100, ".0f") + " %", r.note or s.status]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rows_from_json(runs: list[dict]) -> tuple[list[Row], bool]:
    """Rows again from a `--json` file: a client with several runs was ramped, and its row is
    its largest passing run (what the ramp reported)."""
    fields = {f.name for f in dataclasses.fields(RunSummary)}
    by_key: dict[tuple[str, str], list[RunSummary]] = {}
    for run in runs:
        summary = RunSummary(**{k: v for k, v in run.items() if k in fields})
        by_key.setdefault((summary.client, summary.transport), []).append(summary)
    ramp = any(len(v) > 1 for v in by_key.values())
    rows = []
    for (client, transport), summaries in by_key.items():
        passing = [s for s in summaries if s.ok]
        if not ramp:
            rows.append(Row(client, transport, summaries[-1]))
        elif passing:
            best = max(passing, key=lambda s: s.forks)
            rows.append(Row(client, transport, best, sustained=best.forks))
        else:
            rows.append(Row(client, transport, None, sustained=0,
                            note="fails even at the smallest N"))
    return rows, ramp


if __name__ == "__main__":  # python -m benches.fanout.report RUNS.json: the table again
    with open(sys.argv[1]) as f:
        print(table(*rows_from_json(json.load(f))))
