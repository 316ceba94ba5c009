"""Peers side by side: every benchmark names its comparison group, its implementation and how
many units (frames, messages, chunks) one call handles; the summary prints ns per unit and
each implementation's time as a multiple of mediacore's in the same group.

Usage in a bench file::

    def test_encode_mediacore(benchmark):
        compare(benchmark, "ulaw encode", "mediacore", lambda: encode_into(src, dst), units=1)

Smoke runs (`--benchmark-disable`, the default in pyproject) call each function once.
"""

from __future__ import annotations

import collections

MEDIACORE = "mediacore"


def compare(benchmark, group: str, impl: str, fn, *, units: int = 1, unit: str = "frame"):
    """Benchmark `fn` (one call handles `units` units) as implementation `impl` of `group`."""
    benchmark.group = group
    benchmark.extra_info.update(impl=impl, units=units, unit=unit)
    return benchmark(fn)


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or session.disabled or not session.benchmarks:
        return
    groups = collections.defaultdict(list)
    for bench in session.benchmarks:
        info = bench.extra_info
        if "impl" not in info or bench.has_error:
            continue
        per_unit_ns = bench.stats.median / info["units"] * 1e9
        groups[bench.group].append((info["impl"], per_unit_ns, info["unit"]))
    if not groups:
        return
    tr = terminalreporter
    tr.section("mediacore vs peers (median ns per unit; ratio = peer / mediacore)")
    tr.write_line(f"{'group':<44} {'implementation':<34} {'ns/unit':>10} {'ratio':>8}")
    for group, rows in groups.items():
        ours = [ns for impl, ns, _ in rows if impl.startswith(MEDIACORE)]
        base = min(ours) if ours else None
        for impl, ns, unit in sorted(rows, key=lambda r: r[1]):
            ratio = f"{ns / base:7.2f}x" if base else "      -"
            tr.write_line(f"{group:<44} {impl:<34} {ns:10.1f} {ratio:>8}  per {unit}")
