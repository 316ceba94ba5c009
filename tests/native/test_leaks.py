"""Leak check over a million native calls, and 30,000 of the native TLS client's (error
paths included).

Under valgrind (installed by .ci/run): a short run and a 1,000,000-call run of
tests/native/leakcheck.py must both end with nothing definitely or indirectly lost, and the
long run may not report more memory errors than the short one (CPython itself reports a fixed
number of uninitialised-value warnings at start-up and exit; none may come per call).
Without valgrind the same driver runs natively and its peak RSS may not grow with the calls.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.native.leakcheck import TLS_CALLS_PER_ROUND, TLS_EVERY, ClientContext, write_pki

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MILLION = 1_000_000


def run_driver(calls, pki, prefix=()):
    env = dict(os.environ, PYTHONMALLOC="malloc")
    proc = subprocess.run([*prefix, sys.executable, "-m", "tests.native.leakcheck", str(calls),
                           pki],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tls_calls = 0 if ClientContext is None else max(1, calls // TLS_EVERY) * TLS_CALLS_PER_ROUND
    assert f"calls={calls} tls_calls={tls_calls}" in proc.stdout
    return proc.stderr


def valgrind_summary(report):
    def number(pattern):
        m = re.search(pattern, report)
        assert m, f"valgrind report lacks {pattern!r}:\n{report[-2000:]}"
        return int(m.group(1).replace(",", ""))
    return {
        "definitely": number(r"definitely lost: ([\d,]+) bytes"),
        "indirectly": number(r"indirectly lost: ([\d,]+) bytes"),
        "errors": number(r"ERROR SUMMARY: ([\d,]+) errors"),
        "invalid": len(re.findall(r"Invalid (?:read|write|free)", report)),
    }


@pytest.mark.slow
def test_a_million_native_calls_leak_nothing(tmp_path):
    if ClientContext is None and os.environ.get("CI"):  # CI builds it (libssl-dev)
        pytest.fail("the native TLS client was not built")
    pki = str(tmp_path)
    write_pki(pki)
    valgrind = shutil.which("valgrind")
    if valgrind:
        prefix = (valgrind, "--leak-check=full")
        short = valgrind_summary(run_driver(2_000, pki, prefix))
        long = valgrind_summary(run_driver(MILLION, pki, prefix))
        assert long["definitely"] == 0 and long["indirectly"] == 0, long
        assert long["invalid"] == 0, long
        assert long["errors"] <= short["errors"], (short, long)
    else:
        # fallback when valgrind is missing: peak RSS must not grow with the number of calls
        code = ("import resource, sys; from tests.native.leakcheck import main;"
                "main(int(sys.argv[1]), sys.argv[2]);"
                "print('rss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
        rss = []
        for calls in (20_000, MILLION):
            proc = subprocess.run([sys.executable, "-c", code, str(calls), pki], cwd=ROOT,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, proc.stderr
            rss.append(int(proc.stderr.split()[-1]))
        assert rss[1] - rss[0] < 4096, f"peak RSS grew by {rss[1] - rss[0]} KiB"  # 4 MiB
