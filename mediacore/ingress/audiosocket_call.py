"""One AudioSocket call under Trio: waiting for Asterisk to connect, then one connection.

Theory of operation. `IngressHub.expect_audiosocket_call` opens the engine call at once (so
streams can start before Asterisk connects) and starts `wait_for_connection`: if no
connection names the call's UUID within the inactivity timeout, the call ends
("audiosocket_timeout"). The listener (hub.py) reads a connection's first frame; when it
is the UUID of a waiting call, the connection's task runs `serve`:

- the reader (this task): audio frames go to the engine's inbound track (`engine.feed`,
  any frame size: the engine cuts 20 ms frames), DTMF frames to `engine.send_dtmf`, a
  hang-up frame or the socket closing end the call, an error frame or broken framing ends
  it with a log line ("audiosocket_error");
- the writer: playback frames at real time from `PlaybackPacer` as audio frames (320
  bytes at 8 kHz, kind 0x10; 640 bytes at 16 kHz, kind 0x12); digits from `play_dtmf`
  replace the playback by in-band tones (Asterisk takes only audio and hang-up frames);
- the watchdog: no frame for the inactivity timeout ends the call ("audiosocket_timeout").

When the call ends from our side (API hang-up, timeout, bad framing) Asterisk gets a
hang-up frame before the socket closes. Only this connection is affected by its errors.
"""

from __future__ import annotations

import collections
import logging
import uuid

import trio

from mediacore.ingress.audiosocket import (AUDIO_KIND_FOR_RATE, HANGUP, AudioSocketError, Kind,
                                           encode)
from mediacore.ingress.pacing import PlaybackPacer
from mediacore.ingress.telephone_event import DIGITS, GAP_MS, dtmf_tone

log = logging.getLogger("mediacore.ingress")

RECEIVE_BYTES = 65536
HANGUP_SEND_TIMEOUT_S = 1.0


class AudioSocketCall:
    kind = "audiosocket"

    def __init__(self, hub, call_id: str, *, sample_rate: int) -> None:
        self.hub = hub
        self.engine = hub.engine
        self.call_id = call_id
        self.uuid = str(uuid.UUID(call_id))
        self.sample_rate = sample_rate
        self.audio_kind = AUDIO_KIND_FOR_RATE[sample_rate]
        self.frame_bytes = sample_rate // 50 * 2
        self.connected = False
        self.scope = trio.CancelScope()
        self._waiting = trio.CancelScope()
        self.reason: str | None = None
        self.peer = None
        self.last_frame_s = trio.current_time()
        self._tones: collections.deque = collections.deque()  # frames, None = play playback
        self.pacer = PlaybackPacer(self.engine, call_id, lambda: bool(self._tones))
        self.frames_in = 0
        self.frames_out = 0

    def finish(self, reason: str | None) -> None:
        if self.reason is None:
            self.reason = reason
        self.scope.cancel()
        self._waiting.cancel()

    def play_dtmf(self, digits: str) -> None:
        for d in digits:
            if d not in DIGITS:
                raise ValueError(f"{d!r} is not a DTMF digit (0-9, *, #, A-D)")
        for d in digits:
            tone = dtmf_tone(d, self.sample_rate)
            self._tones.extend(tone[i:i + self.frame_bytes]
                               for i in range(0, len(tone), self.frame_bytes))
            self._tones.extend([None] * (GAP_MS // 20))
        self.pacer.wake()

    async def wait_for_connection(self) -> None:
        """Runs in the hub's nursery until a connection takes the call over (or it ends)."""
        with self._waiting:
            await trio.sleep(self.hub.inactivity_timeout_s)
            if not self.connected:
                log.info("call %s: no AudioSocket connection within %g s, ending it",
                         self.call_id, self.hub.inactivity_timeout_s)
                self.reason = self.reason or "audiosocket_timeout"
        if not self.connected:
            self.hub._ended(self, self.reason)

    async def serve(self, stream, reader, frames, peer) -> None:
        """Run the connection (the listener's task for it) until the call ends."""
        self.connected = True
        self.peer = peer
        self._waiting.cancel()
        self.last_frame_s = trio.current_time()
        try:
            with self.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write, stream)
                    nursery.start_soon(self._watchdog)
                    reason = self._handle(frames)
                    if reason is None:
                        reason = await self._read(stream, reader)
                    self.finish(reason)
            if self.reason not in ("audiosocket_hangup", "audiosocket_closed"):
                with trio.move_on_after(HANGUP_SEND_TIMEOUT_S) as scope:
                    scope.shield = True
                    try:
                        await stream.send_all(HANGUP)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        pass
        finally:  # cancelled from outside (shutdown): the engine call is the engine's
            self.hub._ended(self, self.reason, close_engine_call=self.scope.cancel_called)

    async def _read(self, stream, reader) -> str | None:
        while True:
            try:
                data = await stream.receive_some(RECEIVE_BYTES)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                if reader.pending_bytes:
                    log.warning("call %s: AudioSocket %s closed in the middle of a frame",
                                self.call_id, self.peer)
                return "audiosocket_closed"
            try:
                frames = reader.feed(data)
            except AudioSocketError as exc:
                log.warning("call %s: AudioSocket %s sent a bad frame (%s); closing the "
                            "connection", self.call_id, self.peer, exc)
                return "audiosocket_error"
            if frames:
                self.last_frame_s = trio.current_time()
                reason = self._handle(frames)
                if reason is not None:
                    return reason

    def _handle(self, frames) -> str | None:
        engine, call_id = self.engine, self.call_id
        try:
            for frame in frames:
                kind = frame.kind
                if kind is self.audio_kind:
                    self.frames_in += 1
                    engine.feed(call_id, "inbound", frame.payload)
                elif kind is Kind.DTMF:
                    engine.send_dtmf(call_id, frame.digit)
                elif kind is Kind.HANGUP:
                    log.info("call %s: AudioSocket hang-up", call_id)
                    return "audiosocket_hangup"
                elif kind is Kind.ERROR:
                    log.warning("call %s: AudioSocket %s reported %s", call_id, self.peer,
                                frame.describe_error())
                    return "audiosocket_error"
                elif kind is Kind.UUID:
                    if frame.call_id != self.uuid:
                        log.warning("call %s: AudioSocket %s sent a second UUID %s; closing "
                                    "the connection", call_id, self.peer, frame.call_id)
                        return "audiosocket_error"
                else:  # audio at the other rate
                    log.warning("call %s: AudioSocket %s sent audio of kind 0x%02x to a "
                                "%d Hz call; closing the connection", call_id, self.peer,
                                kind, self.sample_rate)
                    return "audiosocket_error"
        except KeyError:  # the engine call has ended
            self.finish(None)
        return None

    async def _write(self, stream) -> None:
        while True:
            try:
                _tick, frame = await self.pacer.next()
            except KeyError:  # the engine call has ended
                self.finish(None)
                return
            if self._tones:
                tone = self._tones.popleft()
                frame = tone if tone is not None else frame
            if frame is None:
                continue
            try:
                await stream.send_all(encode(self.audio_kind, bytes(frame)))
                self.frames_out += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.finish("audiosocket_closed")
                return

    async def _watchdog(self) -> None:
        timeout = self.hub.inactivity_timeout_s
        while True:
            deadline = self.last_frame_s + timeout
            if trio.current_time() >= deadline:
                log.info("call %s: no AudioSocket frame for %g s, ending it", self.call_id,
                         timeout)
                self.finish("audiosocket_timeout")
                return
            await trio.sleep_until(deadline)
