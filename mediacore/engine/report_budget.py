"""How many checkpoints played and clears one stream may report (SPEC §4 PlayedStream,
ClearedAudio).

Why: each is an engine event and, through the control plane, a durable outbox row and a
request to the customer's status callback URL. A server can send clearAudio (or checkpoints
with no audio between them) as fast as it can write, tens of thousands a second; their
events would pile up faster than any store writes them, in the one event feed, ahead of every
other stream's start, stop and billing. A token bucket bounds them per stream: BURST at once,
then RATE a second. An agent that sends a mark after every 20 ms of audio has at most 50 a
second reached, and barge-in clears come a few a minute, so only a runaway server meets it.

Beyond the budget the WebSocket protocol is unchanged (the server still gets its playedStream
or clearedAudio: they are replies, bounded on their own by the fork's MAX_QUEUED_REPLIES), the
event is not emitted, and the server gets an error message saying so, at most once a second.
"""

from __future__ import annotations

RATE = 100.0    # reports a second, sustained
BURST = 1_000   # reports at once
WARN_EVERY_S = 1.0


class ReportBudget:
    __slots__ = ("_tokens", "_at", "_warned_at", "suppressed")

    def __init__(self, now: float) -> None:
        self._tokens = float(BURST)
        self._at = now
        self._warned_at: float | None = None
        self.suppressed = 0  # reports not made, over the stream's life

    def take(self, now: float) -> bool:
        """One report at `now` (Trio's clock): True if it is within the budget."""
        self._tokens = min(float(BURST), self._tokens + (now - self._at) * RATE)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        self.suppressed += 1
        return False

    def warn_now(self, now: float) -> bool:
        """Whether to tell the server about a report not made (at most once a second)."""
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_S:
            return False
        self._warned_at = now
        return True

    @staticmethod
    def message(suppressed: int) -> str:
        return (f"too many checkpoints played and clears: at most {BURST} at once and "
                f"{RATE:.0f} a second are reported as status callbacks, and this stream's are "
                f"over that ({suppressed} not reported so far; the playedStream and "
                f"clearedAudio replies are still sent)")
