"""Full garbage collections that do not grow with the number of streams.

Why: CPython's full collection walks every object the collector tracks, holding the GIL, and
no tick runs meanwhile. With 1,100 wss forks the process holds ~150,000 such objects (a fork's
tasks, coroutines, cancel scopes, its WebSocket state): a full collection stops the media
clock for about 100 ms. CPython runs one whenever a quarter more objects have survived since
the last. Streams that end free their objects at once (they leave no cycle), so steady churn
alone brings none; a process that grows, or whose other code (store, HTTP, the embedding
application) keeps objects, does.

How: right after a full collection every tracked object is alive (the younger generations were
merged into the one collected, and the garbage is gone). `gc.freeze()` then moves them all out
of the collector's sight: the next full collection walks only what has survived since, so its
pause follows the churn, not the number of streams. Reference counting still frees a frozen
object the moment its last reference goes: a fork, its tasks and socket are freed when the
stream ends. Only a reference cycle through a frozen object is out of reach; the engine's own
objects form none when a stream ends, on any path (tests/engine/test_collector.py), and the
cycles other code may leave are found by a sweep: every `sweep_s` seconds (default one hour;
None: never) one full collection looks at everything again (`gc.unfreeze()` before it), one
long pause per sweep instead of one every few hundred streams.

The collector is the interpreter's, so this is for whoever owns the process: the daemon
(`mediacore serve`) installs it (settings `gc_freeze`, `gc_sweep_s`); an application that embeds
the engine decides for itself:

    with FullCollections():            # freeze=False: only time the full collections
        trio.run(main)

While installed, `FullCollections.installed()` is the instance: `count`, `sweeps`,
`longest_s` and `last_s` (pause of the full collections) feed the daemon's /metrics.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable

__all__ = ["FullCollections"]

_OLDEST = len(gc.get_threshold()) - 1  # the generation a full collection collects


class FullCollections:
    _current: FullCollections | None = None
    _lock = threading.Lock()

    def __init__(self, *, freeze: bool = True, sweep_s: float | None = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if sweep_s is not None and not sweep_s > 0:
            raise ValueError(f"sweep_s must be positive (None: never), not {sweep_s!r}")
        self.freeze = freeze
        self.sweep_s = sweep_s
        self._clock = clock  # for the sweep interval; tests give their own
        self._last_sweep = 0.0
        self._began = 0.0
        self.count = 0        # full collections seen while installed
        self.sweeps = 0       # of them, the ones that looked at frozen objects too
        self.longest_s = 0.0
        self.last_s = 0.0

    @classmethod
    def installed(cls) -> FullCollections | None:
        return cls._current

    def __enter__(self) -> FullCollections:
        with self._lock:
            if FullCollections._current is not None:
                raise RuntimeError("a FullCollections is installed already (the collector "
                                   "is one per process)")
            FullCollections._current = self
        self._last_sweep = self._clock()
        gc.callbacks.append(self._on_collection)
        if self.freeze:
            gc.collect()  # what is alive now (modules, classes, settings) is frozen at once
        return self

    def __exit__(self, *exc_info) -> None:
        gc.callbacks.remove(self._on_collection)
        if self.freeze:
            gc.unfreeze()  # the collector sees everything again, as before
        with self._lock:
            FullCollections._current = None

    def _on_collection(self, phase: str, info: dict) -> None:
        if info["generation"] != _OLDEST:
            return
        if phase == "start":
            self._began = time.perf_counter()
            if self.freeze and self.sweep_s is not None \
                    and self._clock() - self._last_sweep >= self.sweep_s:
                gc.unfreeze()  # this collection walks everything, cycles through old objects too
                self._last_sweep = self._clock()
                self.sweeps += 1
            return
        if self.freeze:
            gc.freeze()  # every tracked object now survived this collection: out of its sight
        took = time.perf_counter() - self._began
        self.count += 1
        self.last_s = took
        self.longest_s = max(self.longest_s, took)
