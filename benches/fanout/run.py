"""One measured point: a fresh sink, one client process, the summary of both.

The harness process waits on the sink's core (it only wakes twice a second for the progress
line), so the client's core runs the client alone. Every wait is bounded; the sink and the
client are killed in `finally` whatever happens.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import select
import shutil
import subprocess
import sys
import time
from typing import Callable

import numpy as np

from benches.fanout import record as rec
from benches.fanout import sink_c, stats
from benches.fanout.certs import Certs
from benches.fanout.clients.base import Plan
from benches.fanout.limits import CLIENT_CORE, SINK_CORE

SINKS = ("c", "python")  # sink.c (the default), sink.py
PROGRESS_S = 0.5
SINK_START_S = 30.0
DRAIN_S = 30.0


@dataclasses.dataclass(frozen=True)
class Point:
    client: str
    transport: str   # "plain" (ws) or "tls" (wss)
    forks: int
    seconds: float   # steady-state window
    warmup_s: float
    nice: int = 0    # priority of the client and the sink (limits.renice)
    sink: str = "c"  # which sink receives: "c" (sink.c) or "python" (sink.py)

    @property
    def warmup(self) -> int:
        return round(self.warmup_s / stats.TICK_S)

    @property
    def frames(self) -> int:
        return self.warmup + round(self.seconds / stats.TICK_S)

    def time_limit_s(self) -> float:
        """Connect (TLS handshakes are the slow part) + the run + slack; then it is killed."""
        connect = 20 + self.forks * (0.004 if self.transport == "tls" else 0.002)
        return connect + self.frames * stats.TICK_S + 30


def sink_kind(kind: str) -> tuple[str, str | None]:
    """The sink that will run for `kind` ("c" or "python"), and a note when the C sink cannot
    be built here and the Python one runs instead."""
    if kind not in SINKS:
        raise ValueError(f"unknown sink {kind!r}: one of {', '.join(SINKS)}")
    reason = sink_c.unavailable() if kind == "c" else None
    if reason:
        return "python", f"C sink not available ({reason}): the Python sink runs instead"
    return kind, None


def start_sink(transport: str, certs: Certs, log, nice: int = 0,
               kind: str = "c") -> tuple[subprocess.Popen, int]:
    """A sink process (sink.c, or sink.py with kind="python" or when sink.c cannot be built:
    the reason goes to `log`) and its port, once it listens."""
    kind, note = sink_kind(kind)
    if note:
        log.write(note + "\n")
        log.flush()
    args = ["--core", str(SINK_CORE), "--drain-s", str(DRAIN_S), "--nice", str(nice)]
    if transport == "tls":
        args += ["--cert", certs.cert_file, "--key", certs.key_file]
    cmd = sink_c.command(args) if kind == "c" else \
        [sys.executable, "-m", "benches.fanout.sink", *args]
    sink = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                            text=True)
    ready, _, _ = select.select([sink.stdout], [], [], SINK_START_S)
    line = sink.stdout.readline() if ready else ""
    if not line.startswith("READY "):
        sink.kill()
        raise RuntimeError(f"sink did not start: {line!r}")
    return sink, int(line.split()[1])


def stop_sink(sink: subprocess.Popen) -> dict:
    out, _ = sink.communicate("stop\n", timeout=DRAIN_S + 30)
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def progress_line(point: Point, path: str) -> str:
    header = rec.peek(path)
    connected, written = int(header[rec.CONNECTED]), int(header[rec.WRITTEN])
    ticks = written // point.forks
    p99 = math.nan
    if ticks > 1:  # the last second of complete ticks (rows), against each fork's first frame
        times = np.memmap(path, dtype=np.float64, mode="r", offset=rec.HEADER_SLOTS * 8,
                          shape=(point.frames, point.forks))
        late = stats.lateness_ms(np.array(times[:ticks, :4000]), max(0, ticks - 50))
        p99 = stats.nearest_rank(late, 99)  # the last second, of the first 4,000 forks
        del times
    return (f"{point.client:>18} {point.transport:<5} forks {connected:>6}/{point.forks} "
            f"frames {written:>9}/{point.forks * point.frames} p99 {p99:7.2f} ms "
            f"[{rec.STATUS_NAMES.get(int(header[rec.STATUS]), '?')}]")


def run_point(point: Point, certs: Certs, workdir: str,
              progress: Callable[[str], None], keep: str | None = None) -> stats.RunSummary:
    """Run `point`; `keep`: a path to copy the run's record to (for lateness_parts.py)."""
    name = f"{point.client}-{point.transport}-{point.forks}"
    path = os.path.join(workdir, name + ".rec")
    rec.create(path, point.forks, point.frames, point.warmup, CLIENT_CORE)
    with open(os.path.join(workdir, name + ".log"), "w+") as log:
        sink, client = None, None
        try:
            sink, port = start_sink(point.transport, certs, log, point.nice, point.sink)
            scheme = "wss" if point.transport == "tls" else "ws"
            plan = Plan(base_url=f"{scheme}://127.0.0.1:{port}", forks=point.forks,
                        frames=point.frames, warmup=point.warmup, record=path,
                        ca_file=certs.ca_file, core=CLIENT_CORE, nice=point.nice)
            client = subprocess.Popen([sys.executable, "-m", "benches.fanout.clients",
                                       point.client, plan.to_json()], stdout=log, stderr=log)
            deadline = time.monotonic() + point.time_limit_s()
            while client.poll() is None and time.monotonic() < deadline:
                time.sleep(PROGRESS_S)
                progress(progress_line(point, path))
            if client.poll() is None:
                client.kill()
                client.wait(10)
            report = stop_sink(sink)
        finally:
            for proc in (client, sink):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
        log.seek(0)
        log_tail = log.read()[-2000:]
    try:
        if keep is not None and os.path.exists(path):
            shutil.copyfile(path, keep)
        return summarize(point, path, report, log_tail)
    finally:  # tens of MB each in a ramp; the log stays for a post-mortem
        for leftover in (path, path + ".messages"):
            if os.path.exists(leftover):
                os.remove(leftover)


def summarize(point: Point, path: str, report: dict, log_tail: str = "") -> stats.RunSummary:
    header, times = rec.read(path)
    late = stats.lateness_ms(times, point.warmup)
    media = {f["fork"]: f["media"] for f in report.get("forks", [])}
    gaps = [f"fork {f['fork']}: {f['gap']}" for f in report.get("forks", []) if f["gap"]]
    gaps += [f"not started: fork {f['fork']}" for f in report.get("forks", [])
             if not f["started"]]
    errors = report.get("errors", [])
    status = rec.STATUS_NAMES.get(int(header[rec.STATUS]), "?")
    first = (gaps or errors or [None])[0]
    if status == "failed" and first is None:
        first = last_error(log_tail)
    return stats.RunSummary(
        client=point.client, transport=point.transport, forks=point.forks,
        frames_planned=point.forks * point.frames,
        frames_written=int(np.count_nonzero(~np.isnan(times))),
        frames_received=stats.received([media.get(i, 0) for i in range(point.forks)],
                                       point.frames),
        order_errors=len(gaps) + report.get("error_count", 0),
        p50_ms=stats.nearest_rank(late, 50), p99_ms=stats.nearest_rank(late, 99),
        max_ms=float(late.max()) if late.size else math.nan,
        cpu_us_per_frame=stats.cpu_us_per_frame(header[rec.CPU_START], header[rec.CPU_END],
                                                times, point.warmup),
        stalls=int(header[rec.STALLS]), status=status,
        sink_cpu_share=report.get("cpu_share") or math.nan, first_gap=first,
        other_load=stats.other_load(header[rec.CPU_END] - header[rec.CPU_START],
                                    header[rec.CORE_END] - header[rec.CORE_START],
                                    header[rec.WALL_END] - header[rec.WALL_START]))


def last_error(log: str) -> str:
    """The last "SomeError: message" line of a client's log (tracebacks, exception groups)."""
    for line in reversed(log.splitlines()):
        text = line.strip(" |")
        head = text.split(":", 1)[0]
        if ":" in text and head.isidentifier() and head.endswith(("Error", "Exception")):
            return text
    return "client failed (see its log)"
