"""The shared record (client writes, harness reads) and the summary table's ratios."""

import math

import numpy as np

from benches.fanout import record as rec
from benches.fanout.report import Row, rows_from_json, table
from benches.fanout.stats import RunSummary


def test_a_record_written_by_a_client_reads_back(tmp_path):
    path = str(tmp_path / "r.rec")
    rec.create(path, forks=3, frames=4, warmup=1, core=0)
    r = rec.Record(path)
    assert (r.forks, r.frames, r.warmup) == (3, 4, 1)
    r.times[2 * 3 + 1] = 12.5  # frame 2 of fork 1
    r.set(rec.STATUS, rec.DONE)
    r.close()
    header, times = rec.read(path)
    assert header[rec.STATUS] == rec.DONE and rec.peek(path)[rec.FORKS] == 3
    assert times[2, 1] == 12.5
    assert np.count_nonzero(np.isnan(times)) == 11


def run(client, cpu, forks=100):
    return RunSummary(client=client, transport="plain", forks=forks, frames_planned=5000,
                      frames_written=5000, frames_received=5000, order_errors=0, p50_ms=0.1,
                      p99_ms=1.0, max_ms=2.0, cpu_us_per_frame=cpu, stalls=0, status="done",
                      sink_cpu_share=0.25, other_load=0.05)


def cells(text, client):
    line = next(l for l in text.splitlines() if l.startswith(f"| {client} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_ratios_against_the_baseline_and_the_floor():
    rows = [Row("trio-websocket", "plain", run("trio-websocket", 40.0)),
            Row("floor", "plain", run("floor", 4.0)),
            Row("python-nonblocking", "plain", run("python-nonblocking", 5.0)),
            Row("mediacore", "plain", None, note="not available: no engine")]
    text = table(rows, ramp=False)
    ours = cells(text, "python-nonblocking")
    assert ours[9:13] == ["5.0", "4,000", "8.00x", "1.25x"]
    assert ours[13:15] == ["25 %", "5 %"]
    assert cells(text, "mediacore")[-1] == "not available: no engine"


def test_ramp_ratios_compare_forks_per_core():
    rows = [Row("trio-websocket", "plain", run("trio-websocket", 40.0, 500), sustained=500),
            Row("floor", "plain", run("floor", 4.0, 4400), sustained=4400)]
    assert cells(table(rows, ramp=True), "floor")[10:14] == ["5,000", "4,400", "8.80x", "1.00x"]


def test_missing_numbers_print_as_dashes():
    rows = [Row("floor", "plain", run("floor", math.nan))]
    assert cells(table(rows, ramp=False), "floor")[9:13] == ["-", "-", "-", "-"]


def test_rows_come_back_from_the_json_of_a_ramp():
    runs = [dict(vars(run("floor", 4.0, n)), ok=n <= 4000) for n in (1000, 2000, 4000)]
    runs.append(dict(vars(run("floor", 4.0, 8000)), status="overloaded"))
    rows, ramp = rows_from_json(runs)
    assert ramp and len(rows) == 1
    assert (rows[0].sustained, rows[0].run.forks) == (4000, 4000)
