"""Prometheus metrics (`/metrics`), read from the engine and the store at scrape time.

- `mediacore_active_calls`: calls the engine carries now.
- `mediacore_active_streams{status}`: live streams by status (initiated, in-progress).
- `mediacore_frames_sent_total`, `mediacore_frames_dropped_total`: media frames over every
  stream since the daemon started. The engine keeps counters per stream (and keeps the last
  10,000 ended streams), so the collector adds up each stream's growth since the previous
  scrape; a stream that ends and is forgotten between two scrapes (more than 10,000 streams
  ending in one scrape interval) loses only its last increments.
- `mediacore_callback_queue_depth`: status callbacks in the outbox not yet delivered.
- `mediacore_tick_lateness_seconds`: how late the media clock's ticks started, a histogram
  with the engine clock's buckets (0.5 ms to 1 s, and +Inf), its sum and count.
- `mediacore_handshakes_waiting`, `mediacore_idle_headroom_seconds`: connection steps waiting
  for the media clock's idle time, and how long before each tick that idle time ends
  (mediacore/engine/idle_gate.py); handshakes that keep waiting mean an engine too busy to
  admit new streams.
- `mediacore_tick_pace_seconds`: how long each tick spreads its forks' writes over, 0 when
  ticks are not paced (mediacore/engine/pacing.py).
- `mediacore_gc_full_collections_total`, `mediacore_gc_full_collection_longest_seconds`,
  `mediacore_gc_frozen_objects`: full garbage collections (the media clock stops during one)
  and what `gc_freeze` keeps out of them; present when the process installed FullCollections
  (mediacore/engine/collector.py), as `mediacore serve` does.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from mediacore.engine.collector import FullCollections

LIVE_STATUSES = ("initiated", "in-progress")


class EngineCollector:
    def __init__(self, engine, pending_callbacks: Callable[[], Awaitable[int]] | None = None
                 ) -> None:
        self.engine = engine
        self.pending_callbacks = pending_callbacks
        self._seen: dict[str, tuple[int, int]] = {}
        self._sent_total = 0
        self._dropped_total = 0
        self._queue_depth = 0

    async def refresh(self) -> None:
        """Read what needs awaiting (the outbox depth) before a scrape."""
        if self.pending_callbacks is not None:
            self._queue_depth = await self.pending_callbacks()

    def collect(self):
        streams = self.engine.list()
        by_status = dict.fromkeys(LIVE_STATUSES, 0)
        seen = {}
        for stream in streams:
            status = stream.status.value
            if status in by_status:
                by_status[status] += 1
            sent0, dropped0 = self._seen.get(stream.stream_id, (0, 0))
            self._sent_total += max(0, stream.frames_sent - sent0)
            self._dropped_total += max(0, stream.frames_dropped - dropped0)
            seen[stream.stream_id] = (stream.frames_sent, stream.frames_dropped)
        self._seen = seen

        calls = GaugeMetricFamily("mediacore_active_calls", "Calls the engine carries now")
        calls.add_metric([], len(self.engine.list_calls()))
        yield calls
        active = GaugeMetricFamily("mediacore_active_streams", "Live streams by status",
                                   labels=["status"])
        for status, count in by_status.items():
            active.add_metric([status], count)
        yield active
        yield CounterMetricFamily("mediacore_frames_sent", "Media frames sent to WebSocket "
                                  "servers", value=self._sent_total)
        yield CounterMetricFamily("mediacore_frames_dropped", "Media frames dropped (send "
                                  "buffer overflow)", value=self._dropped_total)
        if self.pending_callbacks is not None:
            yield GaugeMetricFamily("mediacore_callback_queue_depth", "Status callbacks not "
                                    "yet delivered", value=self._queue_depth)
        stats = self.engine.clock.stats
        lateness = HistogramMetricFamily("mediacore_tick_lateness_seconds", "How late media "
                                         "clock ticks started")
        lateness.add_metric([], buckets=[("+Inf" if bound == float("inf") else repr(bound), n)
                                         for bound, n in stats.cumulative_buckets()],
                            sum_value=stats.total_lateness_s)
        yield lateness
        gate = self.engine.idle_gate
        yield GaugeMetricFamily("mediacore_handshakes_waiting", "Connection steps waiting for "
                                "the media clock's idle time", value=gate.waiting)
        yield GaugeMetricFamily("mediacore_idle_headroom_seconds", "How long before each tick "
                                "the idle time for handshakes ends", value=gate.headroom_s)
        yield GaugeMetricFamily("mediacore_tick_pace_seconds", "How long each tick spreads its "
                                "forks' writes over (0: not paced)",
                                value=self.engine.pacer.spread_s)
        full = FullCollections.installed()
        if full is not None:
            yield CounterMetricFamily("mediacore_gc_full_collections", "Full garbage "
                                      "collections (no tick runs during one)", value=full.count)
            yield GaugeMetricFamily("mediacore_gc_full_collection_longest_seconds", "The "
                                    "longest full collection so far", value=full.longest_s)
            yield GaugeMetricFamily("mediacore_gc_frozen_objects", "Objects the collector "
                                    "no longer walks (gc_freeze)", value=gc.get_freeze_count())


class Metrics:
    """`await metrics.render()` gives /metrics' body and content type."""

    def __init__(self, engine, pending_callbacks=None) -> None:
        self.registry = CollectorRegistry()
        self.collector = EngineCollector(engine, pending_callbacks)
        self.registry.register(self.collector)

    async def render(self) -> tuple[bytes, str]:
        await self.collector.refresh()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
