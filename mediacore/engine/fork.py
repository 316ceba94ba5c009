"""One fork: one stream's WebSocket connection, from connect to close (SPEC §3, §3.4).

Theory of operation.

Output has two paths. The *direct path* is the native fan-out kernel
(mediacore/_native/fanout.pyx), run by the call once per tick over the fork's `DirectWriter`
(`w`): when the connection is open and nothing is waiting, the tick's frame(s) are encoded
natively (one masked text frame per track, back to back) and written with one non-blocking
send, all in C; no task switch, no Python per frame. The kernel hands the fork back only when
it must act (`after_tick`): the tick could not be written (connecting, backlog, stopping:
it is queued), was written in part or failed, or was the stream's first media. Anything that
cannot go out at once takes the *queued path*: `queue` holds items not yet encoded (media
ticks, control messages), `out` holds encoded bytes not yet written, and the connection's
writer task drains both, waiting for writability only then. Sequence numbers are given at
encoding time, so control messages (playedStream, stop, ...) are queued as items behind
earlier audio, never encoded ahead of it.

Invariants: the direct path runs only when `open` and `queue` and `out` are empty, so bytes
reach the socket in encoding order; the writer is detached before the socket is closed.
`inflight` lists the items whose bytes are in `out` and not yet fully written; after an
abnormal close they go back to the front of `queue` (their chunk numbers rewound) and are
encoded again after the new `start`; bytes already taken by the kernel count as sent.

Buffering: `queue` holds up to 40 s of ticks (2,000; `queued_media` counts them). Crossing
30/60/90 % reports DegradedStream; full ends the stream (slow_consumer while connected,
connection_error while reconnecting). Replies to the server (error, pong, clearedAudio, ...)
are not audio and do not count toward the 40 s: a burst of server messages answered while
the server is not reading yet is no backlog of audio. They are bounded on their own
(MAX_QUEUED_REPLIES): a server that sends that many messages without reading one reply is
a slow consumer too. The kernel send buffer is kept small (64 KiB) so that a server that stops
reading shows up here instead of hiding in the kernel.

Reconnects (SPEC §3.4): `max_retries` bounds the attempts of one outage. An outage ends
once a reconnected connection has stayed up RECONNECT_STABLE_S; a server that completes the
handshake and drops again at once is still in the same outage, so it is not retried forever.

Server faults: a frame wsproto cannot parse (bad close code, invalid UTF-8, masked frame,
...) fails the connection with the close code wsproto names (1002, 1007) and an error that
says what the server did; a message over 1 MiB (text or binary) closes with 1009. The reader
yields to the event loop after every message, so a flooding server never delays a tick.

Error boundary: everything a connection does runs inside `run()`; any failure ends this
stream with a reason and never reaches the ticker, the call or other forks.
"""

from __future__ import annotations

import collections
import logging
import socket
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import trio
import wsproto
from wsproto.connection import Connection as WsConnection, ConnectionState
from wsproto.events import (BytesMessage, CloseConnection, Ping, Pong, TextMessage)

from mediacore._native.fanout import FIRST, NOT_READY, DirectWriter
from mediacore.engine.handshake import (HandshakeFailed, HandshakeRejected, open_websocket,
                                        request_target, upgrade_headers)
from mediacore.engine.lifecycle import StreamInput, ending
from mediacore.engine.params import InvalidParameter, StreamParams
from mediacore.engine.transport import ConnectError, Connection, open_connection
from mediacore.wire import (CLOSE_MESSAGE_TOO_BIG, MAX_MESSAGE_BYTES, WireProtocolError,
                            make_profile)

if TYPE_CHECKING:
    from mediacore.engine.call import Call
    from mediacore.engine.engine import Engine

log = logging.getLogger("mediacore.fork")

TICKS_PER_S = 50
BUFFER_TICKS = 40 * TICKS_PER_S
MAX_QUEUED_REPLIES = 10_000  # control messages waiting to be written (see Buffering)
# audio kept while a stream first connects: what was said just before the server answered
# (a slow first connection does not start the stream with a long backlog)
PRECONNECT_TICKS = 2 * TICKS_PER_S
DEGRADED_PERCENTS = (30, 60, 90)
PING_INTERVAL_S = 20.0
PONG_TIMEOUT_S = 20.0
INITIAL_RETRY_DELAYS_S = (1.0, 2.0)
RECONNECT_BASE_S = 0.5
RECONNECT_CAP_S = 10.0
# a reconnect ends its outage (max_retries counts afresh) once the connection has stayed up
# this long; one that drops sooner counts as another attempt of the same outage
RECONNECT_STABLE_S = 10.0
STOP_GRACE_S = 2.0
CONNECT_TIMEOUT_S = 10.0  # TCP connect and TLS handshake, per attempt, on the network
# the same attempt, with the time its handshake steps waited for the engine's idle time
# (idle_gate.py): an engine too busy to run a handshake ends it here
CONNECT_LIMIT_S = 60.0
CLOSE_WAIT_S = 1.0
SEND_BUFFER_BYTES = 64 * 1024
BATCH_BYTES = 64 * 1024

MEDIA, CONTROL, OPENING, WS = 0, 1, 2, 3  # queue item kinds


class _Closed(Exception):
    """How one connection ended: `clean` (1000/1001 or the server's stop), or abnormal.
    `close_item`: the queued close frame (the reply to the server's, or the engine's own for
    a protocol error), written with what was queued before it before the socket closes."""

    def __init__(self, reason: str, *, clean: bool = False, close_item=None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.clean = clean
        self.close_item = close_item

    def kept(self) -> _Closed:
        """This, fit to be kept after its except clause: without its traceback and context,
        whose frames hold the fork (a cycle that would keep every such fork for the garbage
        collector to find; mediacore/engine/collector.py freezes what survives a collection
        and would not find it)."""
        self.__traceback__ = self.__context__ = self.__cause__ = None
        return self


class Fork:
    # slots: a fork is touched every tick; compact attributes keep thousands of them in cache
    __slots__ = ("_active_scope", "_awaiting_pong", "_binary_bytes", "_closed_by_server",
                 "_conn_error", "_message", "_ping_timer", "_ping_written_at", "_serving_scope",
                 "_stop_error",
                 "_stop_event", "_stop_input", "_wake_writer", "account_id", "auth_token",
                 "both", "call", "conn", "created_ms", "degraded_level", "ended", "engine",
                 "first_tick_ms", "frames_dropped", "inflight", "out", "out_pos", "params",
                 "profile", "queue", "queued_media", "reconnects", "scratch", "stream_id",
                 "streamed", "track", "tracks", "w", "ws")

    def __init__(self, engine: Engine, call: Call, stream_id: str, params: StreamParams,
                 account_id: str, auth_token: str | None) -> None:
        self.engine = engine
        self.created_ms = engine.now_ms()
        self.first_tick_ms: int | None = None  # timestamp of the first tick it was offered
        self.call = call
        self.stream_id = stream_id
        self.params = params
        self.account_id = account_id
        self.auth_token = auth_token
        self.profile = make_profile(
            params.protocol.value, stream_id=stream_id, call_id=call.call_id,
            account_id=account_id, tracks=params.audio_track.tracks,
            format=params.content_type, extra_headers=params.extra_headers,
            l16_byte_order=params.l16_byte_order)
        self.tracks = tuple(0 if t == "inbound" else 1 for t in params.audio_track.tracks)
        self.both = len(self.tracks) == 2
        self.track = self.tracks[0]
        self.scratch = bytearray()  # sized at the first start (templates exist from then on)
        self.conn: Connection | None = None
        self.ws: WsConnection | None = None  # the open connection (handshake.py)
        self.queue: collections.deque = collections.deque()
        self.queued_media = 0  # MEDIA items in `queue`
        self.out = bytearray()  # never rebound: the writer below reads it
        log = engine.write_log
        self.w = DirectWriter(self, self.profile.encoder, self.tracks, self.queue, self.out,
                              log, log.index(stream_id) if log is not None else -1)
        self.out_pos = 0
        self.inflight: collections.deque = collections.deque()  # (end offset in out, item)
        self.ended = False
        self.streamed = False           # a connection has been open at least once
        self.frames_dropped = 0
        self.reconnects = 0
        self.degraded_level = 0
        self._wake_writer = trio.Event()
        self._active_scope: trio.CancelScope | None = None   # connect or serve: stop cancels
        self._serving_scope: trio.CancelScope | None = None  # serve: a broken connection cancels
        self._closed_by_server: _Closed | None = None
        self._conn_error: str | None = None
        self._stop_input: StreamInput | None = None
        self._stop_event = trio.Event()
        self._stop_error = ""
        self._awaiting_pong = False
        self._ping_written_at: float | None = None
        self._ping_timer = None  # while connected: the next keepalive (timers.py)
        self._message = bytearray()
        self._binary_bytes = 0  # of the binary message being received

    # -- the direct path's state, kept in the native writer ------------------------------------

    @property
    def open(self) -> bool:
        """The connection is open for direct writes."""
        return self.w.open

    @open.setter
    def open(self, value: bool) -> None:
        self.w.open = value

    @property
    def frames_sent(self) -> int:
        """Media messages encoded for the wire, over all tracks."""
        return self.w.frames_sent

    @frames_sent.setter
    def frames_sent(self, value: int) -> None:
        self.w.frames_sent = value

    @property
    def first_frame_pending(self) -> bool:
        return self.w.first_pending

    # -- after the kernel (the ticker) ---------------------------------------------------------

    def after_tick(self, ts_ms: int, inbound, outbound) -> None:
        """The fan-out kernel could not finish this tick's frame(s) alone (`w.outcome`)."""
        w = self.w
        outcome = w.outcome
        if outcome == FIRST:
            self._first_frame()
            return
        if outcome == NOT_READY:
            self._queue_tick(ts_ms, inbound, outbound)
            return
        if w.encoded == 0:  # FAILED before anything was encoded: a bug, this fork only
            self.fail_internal(w.error)
            return
        if self.first_frame_pending:
            self._first_frame()
        if w.error is not None:
            self._broken(f"network error: {w.error}")
        # TLS: a write that would block must be offered again with the same bytes first, as
        # the writer task does with `out`
        self.out += w.pending()
        # the tick is encoded again after a reconnect if the rest never gets out
        item = [MEDIA, ts_ms, inbound, outbound, self._chunks_before(), True]
        self.inflight.append((len(self.out), item))
        self._wake()

    def _queue_tick(self, ts_ms: int, inbound, outbound) -> None:
        if self.ended or self._stop_input is not None:
            return  # a stopping stream takes no new audio (billing halts at the stop)
        if self.first_tick_ms is None:
            self.first_tick_ms = ts_ms  # before the first start: see _connect
        queue = self.queue
        if (not self.streamed and self.queued_media >= PRECONNECT_TICKS
                and queue[0][0] == MEDIA):
            queue.popleft()  # before the first connection, keep only the latest audio
            self.queued_media -= 1
        queue.append([MEDIA, ts_ms, inbound, outbound, None, False])
        self.queued_media += 1
        self._check_buffer()

    def _chunks_before(self) -> tuple[int, int]:
        """Chunk numbers the tick just encoded carried (the counters have moved past it)."""
        p = self.profile
        return (p.chunk(0) - (1 if 0 in self.tracks else 0),
                p.chunk(1) - (1 if 1 in self.tracks else 0))

    # -- control messages ----------------------------------------------------------------------

    def send_control(self, make) -> None:
        """Queue the message(s) made by `make()` (a str or a list of str), called when their
        turn comes, so their sequence numbers follow everything queued before them."""
        if self.ended:
            return
        self.queue.append([CONTROL, make])
        self._check_replies()
        self._wake()

    def send_dtmf(self, digit: str, now_ms: int) -> None:
        self.send_control(lambda: self.profile.dtmf(digit, now_ms))

    def _send_ws(self, event) -> list | None:
        """A WebSocket control frame (pong, ping, close) from wsproto, in line; returns its
        queue item."""
        ws = self.ws
        if ws is None:
            return None
        state = ws.state
        if state is not ConnectionState.OPEN and not (
                state is ConnectionState.REMOTE_CLOSING and isinstance(event, CloseConnection)):
            return None  # a close was sent already (ours or our reply): nothing may follow it
        item = [WS, ws.send(event), isinstance(event, Ping)]
        self.queue.append(item)
        self._check_replies()
        self._wake()
        return item

    # -- buffering -----------------------------------------------------------------------------

    def _check_buffer(self) -> None:
        ticks = self.queued_media
        if ticks >= BUFFER_TICKS:
            self._overflow("send buffer full (40 s of audio)")
            return
        percent = ticks * 100 // BUFFER_TICKS
        level = self.degraded_level
        if level < len(DEGRADED_PERCENTS) and percent >= DEGRADED_PERCENTS[level]:
            self.degraded_level = level + 1
            self.engine._degraded(self, DEGRADED_PERCENTS[level])

    def _check_replies(self) -> None:
        replies = len(self.queue) - self.queued_media
        if replies >= MAX_QUEUED_REPLIES and self._stop_input is None:
            self._overflow(f"the server is not reading: {replies} messages to it are waiting "
                           f"(it sent as many without reading the replies)")

    def _overflow(self, error: str) -> None:
        """The send buffer is full: what it holds is lost, the stream ends."""
        self.frames_dropped += self.queued_media * len(self.tracks)
        self.queue.clear()
        self.queued_media = 0
        self._stop(StreamInput.SLOW_CONSUMER if self.open else StreamInput.CONNECTION_LOST,
                   error=error)

    def _first_frame(self) -> None:
        self.w.first_pending = False
        self.engine._first_frame(self)

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self, why: StreamInput) -> None:
        """End the stream for `why` (API stop, hang-up, shutdown, timeout): `stop` message and
        close 1000 when connected, at once otherwise."""
        self._stop(why)

    def _stop(self, why: StreamInput, error: str = "") -> None:
        if self.ended or self._stop_input is not None:
            return
        self._stop_input = why
        self._stop_error = error
        self.open = False  # no more direct-path frames: what is queued goes out, then stop
        self._stop_event.set()
        if self._active_scope is not None:
            self._active_scope.cancel()

    def fail_internal(self, exc: BaseException) -> None:
        """A bug hit this fork on the ticker's side: end this stream only."""
        log.error("stream %s failed in a tick: %r", self.stream_id, exc)
        self._stop(StreamInput.CONNECTION_LOST, error=f"internal error: {exc!r}")

    def _broken(self, reason: str) -> None:
        """The connection failed under the ticker: end it (the fork task decides what next)."""
        self.open = False
        if self._conn_error is None:
            self._conn_error = reason
        if self._serving_scope is not None:
            self._serving_scope.cancel()

    def _wake(self) -> None:
        self._wake_writer.set()

    # -- the fork task -------------------------------------------------------------------------

    async def run(self) -> None:
        """The error boundary: whatever happens, the stream ends with a reason."""
        why, error = StreamInput.CONNECTION_LOST, ""
        # the stream timeout is an engine timer, not a task of its own (timers.py)
        timeout = self.engine.timers.call_at(self.engine._timeout_deadline(self),
                                             self._timed_out)
        try:
            why, error = await self._lifecycle()
        except Exception as exc:  # the boundary: one fork's bug never leaves the fork
            log.exception("stream %s failed", self.stream_id)
            why, error = StreamInput.CONNECTION_LOST, f"internal error: {exc!r}"
        finally:
            timeout.cancel()
            self._drop_connection()
            if not self.ended:
                self.ended = True
                self.queue.clear()
                self.queued_media = 0
                self.engine._ended(self, why, error)
            # no cycle left, so the fork is freed as soon as it is dropped: its writer points
            # back at it, and a queued or half-written control message is a closure over it
            self.w.release()
            self.queue.clear()
            self.inflight.clear()

    def _timed_out(self) -> None:
        self._stop(StreamInput.TIMEOUT)

    async def _lifecycle(self):
        delays = list(INITIAL_RETRY_DELAYS_S)
        outage_attempts = 0
        while True:
            if self._stop_input is not None:
                return self._stop_input, self._stop_error
            try:
                with trio.CancelScope() as self._active_scope:
                    await self._connect(reconnect=self.reconnects + 1 if self.streamed else 0)
                self._active_scope = None
                if self._stop_input is not None:
                    return self._stop_input, self._stop_error
            except (ConnectError, HandshakeRejected, HandshakeFailed, InvalidParameter,
                    OSError) as exc:
                reason = _describe(exc)
                if self._stop_input is not None:
                    return self._stop_input, self._stop_error
                if not self.streamed:
                    if not delays:
                        return StreamInput.CONNECT_FAILED, reason
                    # (no event for it: SPEC §3.4 reports only the final failure)
                    log.info("stream %s: first connection failed (%s); retrying in %g s",
                             self.stream_id, reason, delays[0])
                    await self._pause(delays.pop(0))
                    continue
                if outage_attempts >= self.params.max_retries:
                    return StreamInput.CONNECTION_LOST, _gave_up(reason, outage_attempts)
                outage_attempts += 1
                await self._pause(self._backoff(outage_attempts), attempt=outage_attempts,
                                  reason=reason)
                continue
            opened_at = trio.current_time()
            carried, outage_attempts = outage_attempts, 0
            try:
                await self._serve()
                closed = _Closed("stopped")  # _serve returns only for a local stop
            except _Closed as exc:
                closed = exc.kept()
            finally:
                self._active_scope = None
                self._drop_connection()
            if self._stop_input is not None:
                return self._stop_input, self._stop_error
            if closed.clean:
                return StreamInput.REMOTE_STOP, ""
            if carried and trio.current_time() - opened_at < RECONNECT_STABLE_S:
                # a reconnect that dropped again at once did not end the outage: a server
                # that accepts and drops every connection is not retried forever
                outage_attempts = carried
            if outage_attempts >= self.params.max_retries:
                return StreamInput.CONNECTION_LOST, _gave_up(closed.reason, outage_attempts)
            outage_attempts += 1
            await self._pause(self._backoff(outage_attempts), attempt=outage_attempts,
                              reason=closed.reason)

    async def _pause(self, delay_s: float, *, attempt: int = 0, reason: str = "") -> None:
        if attempt:
            self.engine._reconnecting(self, attempt, delay_s, reason)
        with trio.move_on_after(delay_s):
            await self._stop_event.wait()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(RECONNECT_CAP_S, RECONNECT_BASE_S * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self.engine.random.random())

    async def _connect(self, *, reconnect: int) -> None:
        url = self.params.service_url
        host, _target, port, tls = request_target(url)
        ctx = self.engine.ssl_context if tls else None
        try:
            with trio.fail_after(CONNECT_LIMIT_S):
                with trio.CancelScope(
                        deadline=trio.current_time() + CONNECT_TIMEOUT_S) as network:
                    conn = await open_connection(urlsplit(url).hostname or "", port,
                                                 policy=self.engine.policy, ssl_context=ctx,
                                                 gate=self.engine.idle_gate, timeout=network)
                if network.cancelled_caught:
                    raise ConnectError("tcp", f"no connection within {CONNECT_TIMEOUT_S:g} s")
        except trio.TooSlowError:
            raise ConnectError("tcp", f"no connection within {CONNECT_LIMIT_S:g} s: the engine "
                                      f"was too busy to run the handshake") from None
        try:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            headers = upgrade_headers(url, self.params.header_pairs, self.auth_token)
            self.ws = await open_websocket(conn, url, headers)
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self._conn_error = None
        if reconnect:
            self.reconnects += 1
            self._requeue_inflight()
        # the opening messages go first: start (twilio: connected, start)
        # the first start fixes the origin of twilio timestamps: the stream's registration, or
        # the first tick it took part in if that was earlier (a tick that runs late carries
        # its due time, which can precede the registration), so that no audio is ever
        # "before the stream started"
        if self.profile.started:
            when = self.engine.now_ms()
        elif self.first_tick_ms is not None:
            when = min(self.created_ms, self.first_tick_ms)
        else:
            when = self.created_ms
        for message in self.profile.opening(when, reconnect=reconnect):
            self.out += self.profile.frame(message)
        if not self.scratch:
            frame = self.profile.max_frame_size(self.params.content_type.frame_bytes)
            self.scratch = bytearray(2 * frame)
        if conn.native_tls:  # the kernel writes through OpenSSL itself
            self.w.attach(conn.sock, None, len(self.scratch), tls=conn.tls)
        else:
            # stdlib TLS: the C write of the TLS object itself (ssl.SSLSocket.send is a
            # Python wrapper around it, a third of a µs per frame dearer)
            sslobj = getattr(conn.tls, "_sslobj", None)
            self.w.attach(conn.sock, sslobj.write if sslobj is not None else None,
                          len(self.scratch))
        self.inflight.append((len(self.out), [OPENING]))
        self.streamed = True
        self.open = True
        self._wake()

    def _requeue_inflight(self) -> None:
        """Items cut off by the last connection go back to the front of the queue."""
        items = [item for _, item in self.inflight if item[0] in (MEDIA, CONTROL)]
        self.inflight.clear()
        self.out.clear()
        self.out_pos = 0
        first_media = next((item for item in items if item[0] == MEDIA), None)
        if first_media is not None and first_media[4] is not None:
            for track in self.tracks:
                self.profile.rewind_chunk(track, first_media[4][track])
        self.queue.extendleft(reversed(items))
        self.queued_media += sum(1 for item in items if item[0] == MEDIA)

    def _drop_connection(self) -> None:
        self.w.detach()  # before the close: the fd number may be reused at once
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.ws = None
        self._message.clear()
        self._binary_bytes = 0
        self._awaiting_pong = False
        self._ping_written_at = None

    async def _serve(self) -> None:
        """Run one open connection until it closes (raises _Closed) or a local stop, which is
        carried out here (stop message, close 1000) before returning."""
        self._closed_by_server = None
        with trio.CancelScope() as self._active_scope:
            if self._stop_input is not None:
                self._active_scope.cancel()
            # the keepalive is an engine timer (timers.py), re-armed by each ping
            ping = self.engine.timers.call_at(trio.current_time() + PING_INTERVAL_S,
                                              self._keepalive)
            self._ping_timer = ping
            try:
                async with trio.open_nursery() as nursery:
                    self._serving_scope = nursery.cancel_scope
                    nursery.start_soon(self._reader)
                    nursery.start_soon(self._writer)
            finally:
                self._ping_timer.cancel()
                self._ping_timer = None
        self._serving_scope = None
        if self._stop_input is not None:
            await self._graceful_stop(ending(self._stop_input).stop_reason.value)
            return
        closed = self._closed_by_server
        if closed is not None:
            if closed.close_item is not None and self.conn is not None:
                # the close frame is queued: send it (after what was queued before it) now
                # that the writer task is gone, so one task writes at a time; audio queued
                # after it stays queued (for the next connection, if there is one)
                with trio.move_on_after(CLOSE_WAIT_S):
                    try:
                        await self._drain(through=closed.close_item)
                    except OSError:
                        pass
            raise closed
        raise _Closed(self._conn_error or "the connection ended")

    async def _graceful_stop(self, reason: str) -> None:
        """`stop`, then close 1000, within STOP_GRACE_S; queued audio goes out first."""
        if self.conn is None or self.ws is None:
            return
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + STOP_GRACE_S
            self.queue.append([CONTROL, lambda: self.profile.stop(reason)])
            self._send_ws(CloseConnection(code=1000))
            try:
                await self._drain()
                with trio.move_on_after(CLOSE_WAIT_S):
                    while True:
                        data = await self.conn.receive()
                        if not data:
                            break
                        # receive() returns at once while data is there: a server that
                        # keeps sending would otherwise hold the loop past the deadline
                        await trio.lowlevel.checkpoint()
            except OSError:
                pass

    # -- the connection's tasks ----------------------------------------------------------------

    async def _writer(self) -> None:
        try:
            while True:
                if not self.out and not self.queue:
                    self._wake_writer = trio.Event()
                    await self._wake_writer.wait()
                    continue
                await self._drain()
        except OSError as exc:
            self._broken(f"network error: {exc}")

    async def _drain(self, through: list | None = None) -> None:
        """Write `out` and the queue until both are empty, or (`through`) until that queue
        item is written (if it has left the queue already, it is in `out`)."""
        conn = self.conn
        done = through is not None and all(item is not through for item in self.queue)
        while self.out or self.queue:
            if self.out_pos >= len(self.out):
                self.out.clear()
                self.out_pos = 0
                if done:
                    return
                done = self._encode_batch(through)
                continue
            sent = conn.send(memoryview(self.out)[self.out_pos:])
            if sent == 0:
                await conn.wait_writable()
                continue
            self.out_pos += sent
            inflight = self.inflight
            while inflight and inflight[0][0] <= self.out_pos:
                item = inflight.popleft()[1]
                if item[0] == MEDIA:
                    self.w.note_write(item[4][self.track])
                elif item[0] == WS and item[2]:
                    self._ping_written_at = trio.current_time()
            if self.out_pos >= len(self.out):
                self.out.clear()
                self.out_pos = 0
                if done:
                    return
                if not self.queue:
                    self.degraded_level = 0
                    return

    def _encode_batch(self, through: list | None = None) -> bool:
        """Encode queued items into `out` (up to BATCH_BYTES, or up to the item `through`:
        True once it is encoded)."""
        profile, out, queue = self.profile, self.out, self.queue
        while queue and len(out) < BATCH_BYTES:
            item = queue.popleft()
            kind = item[0]
            if kind == MEDIA:
                self.queued_media -= 1
                _, ts_ms, inbound, outbound, _, counted = item
                item[4] = (profile.chunk(0), profile.chunk(1))
                if self.both:
                    n = profile.tick_into(self.scratch, ts_ms, inbound, outbound)
                else:
                    n = profile.media_frame_into(self.scratch, self.track, ts_ms,
                                                 inbound if self.track == 0 else outbound)
                out += memoryview(self.scratch)[:n]
                if not counted:
                    item[5] = True
                    self.frames_sent += len(self.tracks)
                    if self.first_frame_pending:
                        self._first_frame()
            elif kind == CONTROL:
                messages = item[1]()
                for message in [messages] if isinstance(messages, str) else messages:
                    out += profile.frame(message)
            elif kind == WS:
                out += item[1]
            self.inflight.append((len(out), item))
            if item is through:
                return True
        return False

    async def _reader(self) -> None:
        try:
            while True:
                # first the frames that came in with the 101 (wsproto holds them already),
                # then each read's
                for event in self.ws.events():
                    self._on_ws_event(event)
                    # a server that floods (messages, pings) must not hold the event loop:
                    # the ticker and every other fork run between two of its messages
                    await trio.lowlevel.checkpoint()
                data = await self.conn.receive()
                if not data:
                    raise _Closed("the server closed the connection without a close frame")
                self.ws.receive_data(data)
                await trio.lowlevel.checkpoint()
        except _Closed as exc:
            self._closed_by_server = exc.kept()
            self.open = False
            self._serving_scope.cancel()  # _serve sends a queued close frame (close_item)
        except (OSError, wsproto.utilities.RemoteProtocolError) as exc:
            self._broken(f"network error: {exc}")

    def _on_ws_event(self, event) -> None:
        if isinstance(event, TextMessage):
            self._message += event.data.encode("utf-8", "surrogatepass")
            if len(self._message) > MAX_MESSAGE_BYTES:
                raise _Closed("the server sent a message over 1 MiB (closed with 1009)",
                              close_item=self._send_ws(CloseConnection(
                                  code=CLOSE_MESSAGE_TOO_BIG, reason="message too big")))
            if event.message_finished:
                data = bytes(self._message)
                self._message.clear()
                self._on_message(data)
        elif isinstance(event, BytesMessage):
            # never kept, but counted: over 1 MiB closes as a text message would (SPEC §3.2)
            self._binary_bytes += len(event.data)
            if self._binary_bytes > MAX_MESSAGE_BYTES:
                raise _Closed("the server sent a message over 1 MiB (closed with 1009)",
                              close_item=self._send_ws(CloseConnection(
                                  code=CLOSE_MESSAGE_TOO_BIG, reason="message too big")))
            if event.message_finished:
                self._binary_bytes = 0
                self.send_control(lambda: self.profile.error(
                    "binary messages are not supported; send JSON text messages"))
        elif isinstance(event, Ping):
            self._send_ws(event.response())
        elif isinstance(event, Pong):
            self._awaiting_pong = False
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.OPEN:
                # not the server's close: wsproto could not parse what the server sent and
                # hands over the close the client must send (RFC 6455 §7.1.7: fail the
                # connection; 1002 protocol error, 1007 text that is not UTF-8)
                raise _Closed(_protocol_error(event.code, event.reason),
                              close_item=self._send_ws(event))
            reply = None
            if self.ws.state is ConnectionState.REMOTE_CLOSING:
                reply = self._send_ws(event.response())
            code = event.code
            if code == 1005:
                # a close frame without a status code (what Node's ws.close() sends): the
                # server meant to close, as with 1000
                raise _Closed("the server closed the connection (close frame without a code)",
                              clean=True, close_item=reply)
            clean = code in (1000, 1001)
            # the server's reason (at most 123 bytes) often says what went wrong on its side
            why = f" ({event.reason!r})" if event.reason else ""
            raise _Closed(f"the server closed the connection with code {code}{why}",
                          clean=clean, close_item=reply)

    def _on_message(self, data: bytes) -> None:
        try:
            event = self.profile.parse(data)
        except WireProtocolError as exc:
            self.send_control(lambda reason=exc.reason: self.profile.error(reason))
            return
        if event is None:
            return
        self.engine._server_event(self, event)

    def _keepalive(self) -> None:
        """Every 20 s while connected (an engine timer): ping; 20 s without a pong after the
        ping was written is an abnormal close. (A ping still queued behind a backlog is not
        overdue: a server that stops reading is a slow consumer, reported as such.)"""
        now = trio.current_time()
        written = self._ping_written_at
        if self._awaiting_pong:
            if written is not None and now - written >= PONG_TIMEOUT_S:
                self._broken(f"no pong within {PONG_TIMEOUT_S:g} s")
                return
        else:
            self._awaiting_pong = True
            self._ping_written_at = None
            self._send_ws(Ping(payload=b"mediacore"))
        self._ping_timer = self.engine.timers.call_at(now + PING_INTERVAL_S, self._keepalive)


def _gave_up(reason: str, attempts: int) -> str:
    return f"{reason} (gave up after {attempts} reconnect attempts)" if attempts else reason


def _protocol_error(code: int, detail: str) -> str:
    """Why the engine failed a connection whose server broke RFC 6455."""
    if code == 1007:
        return (f"the server sent a text message that is not valid UTF-8 ({detail}); "
                f"closed with 1007")
    return f"the server broke the WebSocket protocol ({detail}); closed with {code}"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectError):
        return str(exc)
    if isinstance(exc, HandshakeRejected):
        explanation = exc.explanation
        return f"handshake: HTTP {exc.status}" + (f" ({explanation})" if explanation else "")
    if isinstance(exc, HandshakeFailed):
        return f"handshake: {exc}"
    if isinstance(exc, InvalidParameter):
        return f"address: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"tls: {exc}"
    return f"tcp: {exc}"
