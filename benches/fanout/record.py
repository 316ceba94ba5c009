"""The file a client shares with the harness while it runs (mmap'd by both, and by floor.c).

Layout: HEADER_SLOTS float64 slots, then the write times, float64[frames][forks], tick-major,
seconds on CLOCK_MONOTONIC (time.monotonic()), NaN = never written. All slots are float64 so
the C floor writes them the same way (counts stay exact below 2**53). The harness reads the
file live for the progress line, and at the end for the summary.
"""

from __future__ import annotations

import mmap
import os
import time

import numpy as np

HEADER_SLOTS = 16
# slot indexes (floor.c repeats them: keep in step)
FORKS, FRAMES, WARMUP, CONNECTED, WRITTEN, STATUS, STALLS, CPU_START, CPU_END = range(9)
# the steady window's edges: this process's CPU s (above), the client core's busy s from
# /proc/stat (all tasks, softirq included), monotonic s
CORE_START, CORE_END, WALL_START, WALL_END, CORE = range(9, 14)
# STATUS values
CONNECTING, RUNNING, DONE, OVERLOADED, FAILED = range(5)
STATUS_NAMES = {CONNECTING: "connecting", RUNNING: "running", DONE: "done",
                OVERLOADED: "overloaded", FAILED: "failed"}


def workdir_parent() -> str | None:
    """Where run files go: memory (tmpfs) when there is one, so writes to the mapped record
    never wait for disk writeback during a tick."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def core_busy_s(core: int) -> float:
    """Seconds `core` has not been idle since boot (/proc/stat, in USER_HZ ticks): every task
    and interrupt on it, so a window's difference minus our CPU is what else ran there."""
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                ticks = [int(x) for x in line.split()[1:]]
                return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return float("nan")


def create(path: str, forks: int, frames: int, warmup: int, core: int) -> None:
    """A fresh record: header filled in, every write time NaN."""
    data = np.full(HEADER_SLOTS + forks * frames, np.nan)
    data[:HEADER_SLOTS] = 0
    data[[FORKS, FRAMES, WARMUP, CORE]] = forks, frames, warmup, core
    data.tofile(path)


class Record:
    """A client's view: `times[n * forks + i] = time.monotonic()` and header slots."""

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDWR)
        try:
            self._mm = mmap.mmap(fd, 0)
        finally:
            os.close(fd)
        view = memoryview(self._mm).cast("d")
        self.header = view[:HEADER_SLOTS]
        self.times = view[HEADER_SLOTS:]  # a memoryview: item assignment is ~40 ns
        self.forks = int(self.header[FORKS])
        self.frames = int(self.header[FRAMES])
        self.warmup = int(self.header[WARMUP])

    def prefault(self) -> None:
        """Touch every page of the times for writing now, so the tick loop takes no page
        fault (one per 512 frames otherwise, a few µs each) while it is measured."""
        times = self.times
        for k in range(0, len(times), 512):
            times[k] = times[k]

    def set(self, slot: int, value: float) -> None:
        self.header[slot] = value

    def mark(self, start: bool) -> None:
        """The steady window opens (start) or closes: CPU, core busy and wall times."""
        cpu, core, wall = (CPU_START, CORE_START, WALL_START) if start else \
            (CPU_END, CORE_END, WALL_END)
        self.header[cpu] = time.process_time()
        self.header[core] = core_busy_s(int(self.header[CORE]))
        self.header[wall] = time.monotonic()

    def close(self) -> None:
        self.header.release()
        self.times.release()
        self._mm.close()


def read(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(header, times[frames, forks]) as copies, for the harness."""
    data = np.fromfile(path)
    header = data[:HEADER_SLOTS]
    forks, frames = int(header[FORKS]), int(header[FRAMES])
    return header, data[HEADER_SLOTS:HEADER_SLOTS + forks * frames].reshape(frames, forks)


def peek(path: str) -> np.ndarray:
    """The header only (cheap enough for a progress line twice a second)."""
    return np.fromfile(path, count=HEADER_SLOTS)
