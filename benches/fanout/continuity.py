"""Per-connection check of SPEC §3.1's numbering, as the sink sees a fork's messages.

Invariants checked: the first message is `start`; `sequenceNumber` starts at 1 and grows by
one per message; `media.chunk` starts at 1 and grows by one per track. Only the first broken
invariant is kept (later ones usually follow from it); media messages are counted regardless,
so loss and disorder are reported separately.
"""

from __future__ import annotations

import orjson


class ForkCheck:
    __slots__ = ("fork", "media", "messages", "started", "next_sequence", "next_chunk", "gap")

    def __init__(self, fork: int) -> None:
        self.fork = fork
        self.media = 0
        self.messages = 0
        self.started = False
        self.next_sequence = 1
        self.next_chunk: dict[str, int] = {}
        self.gap: str | None = None

    def _broken(self, what: str) -> None:
        if self.gap is None:
            self.gap = f"message {self.messages}: {what}"

    def message(self, text: bytes | str) -> None:
        """One text message received on this connection."""
        self.messages += 1
        try:
            msg = orjson.loads(text)
            event = msg["event"]
            sequence = msg["sequenceNumber"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._broken("not a JSON object with event and sequenceNumber")
            return
        if not self.started and event != "start":
            self._broken(f"first message is {event!r}, not 'start'")
        if sequence != self.next_sequence:
            self._broken(f"sequenceNumber {sequence!r}, expected {self.next_sequence}")
        if isinstance(sequence, int):
            self.next_sequence = sequence + 1  # resynchronise: report one gap, not all after
        if event == "start":
            self.started = True
        elif event == "media":
            self.media += 1
            try:
                track, chunk = msg["media"]["track"], msg["media"]["chunk"]
            except (KeyError, TypeError):
                self._broken("media without media.track and media.chunk")
                return
            expected = self.next_chunk.get(track, 1)
            if chunk != expected:
                self._broken(f"{track} chunk {chunk!r}, expected {expected}")
            if isinstance(chunk, int):
                self.next_chunk[track] = chunk + 1

    def summary(self) -> dict:
        return {"fork": self.fork, "media": self.media, "messages": self.messages,
                "started": self.started, "gap": self.gap}
