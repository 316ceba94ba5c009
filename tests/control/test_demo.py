"""`mediacore demo` as a newcomer runs it: a subprocess, its exit status and its summary."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_demo_streams_echoes_and_reports():
    result = subprocess.run([sys.executable, "-m", "control.cli", "demo", "--seconds", "2"],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "-> 202 stream" in out and "-> 204" in out
    summary = dict(line.strip().split("  ", 1) for line in out.split("Summary\n", 1)[1]
                   .splitlines() if line.strip())
    summary = {k.strip(): v.strip() for k, v in summary.items()}
    assert summary["result"] == "OK"
    assert summary["status / stop reason"] == "stopped / api_request"
    assert int(summary["frames sent to the agent"]) >= 50        # 2 s is 100 frames
    assert int(summary["echoed frames played into the call"]) > 0
    assert int(summary["checkpoints played"]) >= 1
    assert summary["agent saw stop / close code"] == "api_request / 1000"
    assert "StartStream 1" in summary["callbacks received"]
    assert "StopStream 1" in summary["callbacks received"]
    # logs are JSON lines on stderr (the demo logs warnings and above)
    for line in result.stderr.splitlines():
        assert line.startswith("{"), line
