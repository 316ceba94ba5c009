"""Where `mediacore.Engine` (issue 5) joins the benchmark as one more client.

Until the engine exists this client reports itself unavailable and the harness prints it as
"not available"; it never produces numbers of its own. To plug the engine in, this module's
`run(plan, record)` must, in this process (already pinned to the client core):

- open one `mediacore.Engine` under `trio.run`, open calls (μ-law 8 kHz) and start
  `plan.forks` streams with `service_url = plan.url(i)`, protocol `plivo`, track `inbound`,
  and, for wss, the CA file `plan.ca_file` (the sink's certificate names 127.0.0.1);
- feed each call one 160 B μ-law frame per 20 ms tick from `base.payloads()` for
  `plan.frames` ticks, so each fork sends `start` then `plan.frames` media messages;
- record `time.monotonic()` when each fork's frame n was handed to the socket (the send call
  returned) in `record.times[n * plan.forks + i]`: this needs an engine hook reporting
  (stream, media chunk, write time) per frame, cheap enough to leave on while measuring;
- set `record` slots CONNECTED (forks whose `start` was sent), STATUS (RUNNING when the grid
  starts, DONE at the end, OVERLOADED if a tick starts over 1 s late), WRITTEN (frames so far,
  updated at most a few times a second); call `record.mark(start=True)` when tick
  `plan.warmup` is due and `record.mark(start=False)` after the last frame; then stop the
  streams and exit.

Then `available` returns None once that is in place, and the engine appears in every table
beside the baselines and the floor.
"""

from __future__ import annotations

from benches.fanout import record as rec
from benches.fanout.clients.base import Plan


def available(transport: str) -> str | None:
    try:
        from mediacore import Engine  # noqa: F401
    except ImportError:
        return "mediacore.Engine is not importable yet (issue 5)"
    return "mediacore.Engine exists, but this client's run() has not been written for it"


def run(plan: Plan, record: rec.Record) -> None:
    raise RuntimeError(available("tls" if plan.tls else "plain") or "not available")
