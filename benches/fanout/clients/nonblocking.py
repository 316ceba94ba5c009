"""The reference for the engine's design: one Trio ticker, and per fork per tick one native
encode (`Profile.media_frame_into` into the fork's preallocated buffer) and one non-blocking
`socket.send()` (plain) or `ssl.SSLSocket.send()` (TLS: encrypt and send in one C call).
No task per fork, no `send_all`, no Python framing. A fork whose socket does not take the
whole frame keeps the rest in a `Backlog`, flushed first on later ticks (a stall)."""

from __future__ import annotations

import collections
import ssl
import time

import trio

from benches.fanout import record as rec
from benches.fanout.clients.base import (TICK_S, Plan, abandon, client_context, epoch_ms,
                                         payloads)
from benches.fanout.clients.blocking_open import open_fork

WOULD_BLOCK = (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError)
FINAL_FLUSH_S = 10.0


def available(transport: str) -> str | None:
    return None


class Backlog:
    """Bytes a socket did not take yet, and where each frame in them ends."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends: collections.deque[list[int]] = collections.deque()  # [end offset, index]

    def push(self, frame, index: int) -> None:
        self.data += frame
        self.ends.append([len(self.data), index])

    def flush(self, send, times) -> None:
        """Send what the socket takes now; frames fully sent get their write time. An
        SSLSocket is retried with the same bytes plus more, as OpenSSL requires."""
        try:
            sent = send(self.data)
        except WOULD_BLOCK:
            return
        now = time.monotonic()
        del self.data[:sent]
        while self.ends and self.ends[0][0] <= sent:
            times[self.ends.popleft()[1]] = now
        for end in self.ends:
            end[0] -= sent


def run(plan: Plan, record: rec.Record) -> None:
    ctx = client_context(plan.ca_file) if plan.tls else None
    socks, profiles = [], []
    for i in range(plan.forks):
        sock, prof = open_fork(plan, i, ctx)
        socks.append(sock)
        profiles.append(prof)
        record.set(rec.CONNECTED, i + 1)
    record.prefault()
    try:
        trio.run(ticker, plan, record, socks, profiles)
    finally:
        for sock in socks:
            sock.close()


async def ticker(plan: Plan, record: rec.Record, socks, profiles) -> None:
    forks, times, audio = plan.forks, record.times, payloads()
    size = profiles[0].max_frame_size(len(audio[0]))
    encode = [p.media_frame_into for p in profiles]
    bufs = [bytearray(size) for _ in range(forks)]
    views = [memoryview(b) for b in bufs]
    sends = [s.send for s in socks]
    backlogs: list[Backlog | None] = [None] * forks
    monotonic, stalls = time.monotonic, 0
    record.set(rec.STATUS, rec.RUNNING)
    t0, epoch0 = trio.current_time() + 0.05, epoch_ms()
    for n in range(plan.frames):
        due = t0 + n * TICK_S
        await trio.sleep_until(due)
        if abandon(due, trio.current_time()):
            record.set(rec.STATUS, rec.OVERLOADED)
            break
        if n == plan.warmup:
            record.mark(start=True)
        now_ms, payload, base = epoch0 + 20 * n, audio[n % len(audio)], n * forks
        for i in range(forks):
            length = encode[i](bufs[i], 0, now_ms, payload)
            if backlogs[i] is None:
                try:
                    sent = sends[i](views[i][:length])
                except WOULD_BLOCK:
                    sent = 0
                if sent == length:
                    times[base + i] = monotonic()
                    continue
                backlogs[i], stalls = Backlog(), stalls + 1
                backlogs[i].push(views[i][sent:length], base + i)
            else:
                backlogs[i].push(views[i][:length], base + i)
                backlogs[i].flush(sends[i], times)
                if not backlogs[i].data:
                    backlogs[i] = None
        record.set(rec.WRITTEN, base + forks)
        record.set(rec.STALLS, stalls)
    record.mark(start=False)
    await final_flush(backlogs, sends, times)
    if record.header[rec.STATUS] == rec.RUNNING:
        record.set(rec.STATUS, rec.DONE)


async def final_flush(backlogs, sends, times) -> None:
    """Whatever stalled forks still hold, within FINAL_FLUSH_S (then it counts as loss)."""
    with trio.move_on_after(FINAL_FLUSH_S):
        while any(b is not None and b.data for b in backlogs):
            for i, backlog in enumerate(backlogs):
                if backlog is not None and backlog.data:
                    backlog.flush(sends[i], times)
            await trio.sleep(0.01)
