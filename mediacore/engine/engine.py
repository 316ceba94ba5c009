"""`Engine`: calls, streams and the one media clock, as an async context manager under Trio.

    async with Engine(policy=UrlPolicy.allowing("127.0.0.0/8")) as engine:
        engine.open_call("call-1", format=Format.MULAW_8K)
        stream = await engine.start_stream("call-1", {"service_url": "wss://..."},
                                           account_id="MA123", auth_token="secret")
        engine.feed("call-1", "inbound", audio)            # or feed_packet(...)
        frame = await engine.read_playback("call-1")       # what bidirectional streams play
        async for event in engine.events: ...              # lifecycle, played, cleared, ...

One ticker task runs the media clock (`MediaClock`, 20 ms, drift-free from
`trio.current_time()`); each tick every call yields one frame per track and every fork gets
its frame(s) through its direct path (fork.py), at the fork's place in the tick's schedule
when the tick's work is large (pacing.py). Each fork runs in its own task as an error
boundary. Status transitions follow the lifecycle table (lifecycle.py); the event feed
carries one event per transition and per played / cleared / degraded / reconnect.
"""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import logging
import math
import random as random_module
import ssl
import time
import uuid
from collections.abc import Mapping
from typing import Any

import trio

from mediacore._native.calltick import tick_calls
from mediacore._native.fanout import WriteLog
from mediacore.codec import Format
from mediacore.engine.call import TRACKS, Call, CallClosed, CallInfo
from mediacore.engine.clock import MediaClock
from mediacore.engine.events import (AudioCleared, CheckpointPlayed, DtmfRequested, Stream,
                                     StreamDegraded, StreamEnded, StreamReconnecting,
                                     StreamStarted)
from mediacore.engine.fork import STOP_GRACE_S, Fork
from mediacore.engine.idle_gate import IdleGate
from mediacore.engine.pacing import Pacer
from mediacore.engine.timers import Timers
from mediacore.engine.lifecycle import StreamInput, StreamStatus, next_state
from mediacore.engine.params import InvalidParameter, StreamParams, UrlPolicy
from mediacore.engine.playout import PlaybackFull
from mediacore.engine.report_budget import ReportBudget
from mediacore.engine.transport import ConnectError, client_tls_context, resolve
from mediacore.wire import Checkpoint, Clear, ClearAudio, Mark, PlayAudio, SendDtmf, Stop
from mediacore.wire.profile import check_dtmf_digit

log = logging.getLogger("mediacore.engine")

DEFAULT_MAX_STREAMS_PER_CALL = 10
ENDED_STREAMS_KEPT = 10_000
RESOLVE_TIMEOUT_S = 2.0


class NotFound(KeyError):
    """No such call or stream (HTTP 404)."""

    def __str__(self) -> str:
        return str(self.args[0])


class EngineFull(Exception):
    """The engine carries as many streams as it is configured for (HTTP 503)."""


class _Record:
    """What the engine keeps about one stream (the fork holds the live counters)."""

    __slots__ = ("stream_id", "call", "account_id", "params", "status", "stop_reason",
                 "error", "created_at", "start_time", "end_time", "fork", "final_counts",
                 "reports")

    def __init__(self, stream_id, call, account_id, params, created_at):
        self.stream_id = stream_id
        self.call = call
        self.account_id = account_id
        self.params = params
        self.status = StreamStatus.INITIATED
        self.stop_reason = None
        self.error = ""
        self.created_at = created_at
        self.start_time = None
        self.end_time = None
        self.fork: Fork | None = None
        self.final_counts = (0, 0, 0)
        self.reports: ReportBudget | None = None  # from its first played or cleared report


class Engine:
    def __init__(self, *, policy: UrlPolicy = UrlPolicy(), ca_file: str | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 max_streams_per_call: int = DEFAULT_MAX_STREAMS_PER_CALL,
                 max_streams: int | None = None, wall_clock=time.time,
                 rng: random_module.Random | None = None,
                 write_log: WriteLog | None = None, pace: bool = True) -> None:
        """`write_log`, if given, notes when each media frame of the streams it names was
        handed to the socket in full (natively, on the hot path); the fan-out benchmark
        measures lateness with it. `pace=False` turns off paced ticks (pacing.py): every
        tick then writes its forks back to back, as fast as it can."""
        self.policy = policy
        # an application's own ssl.SSLContext is used as given (stdlib TLS); otherwise the
        # native TLS client with the same checks (transport.py)
        self.ssl_context = ssl_context or client_tls_context(ca_file)
        self.max_streams_per_call = max_streams_per_call
        self.max_streams = max_streams
        self.random = rng or random_module.Random()
        self.write_log = write_log
        self._wall_clock = wall_clock
        self._epoch_offset = 0.0
        self.clock = MediaClock()
        self.idle_gate = IdleGate()  # TLS handshake steps run between ticks (idle_gate.py)
        self.pace = pace
        self.pacer = Pacer(self.clock.period_s)  # each fork's place in the tick (pacing.py)
        self.timers = Timers()  # every fork's timeout and keepalive, on one task (timers.py)
        self.calls: dict[str, Call] = {}
        self._streams: dict[str, _Record] = {}
        self._ended_streams: collections.OrderedDict[str, _Record] = collections.OrderedDict()
        self._stream_created: dict[str, float] = {}  # Trio time a stream was registered
        self._events_in, self.events = trio.open_memory_channel(math.inf)
        self._nursery: trio.Nursery | None = None
        self._forks_nursery: trio.Nursery | None = None
        self._closing = False

    # -- context ------------------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        self._epoch_offset = self._wall_clock() - trio.current_time()
        self._cm = trio.open_nursery()
        self._nursery = await self._cm.__aenter__()
        self._nursery.start_soon(self._ticker)
        self._nursery.start_soon(self.timers.run)
        self._forks_cm = trio.open_nursery()
        self._forks_nursery = await self._nursery.start(self._run_forks)
        return self

    async def _run_forks(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started(nursery)
            await trio.sleep_forever()

    async def __aexit__(self, *exc_info) -> bool | None:
        """Shutdown: every live stream gets `stop` (reason shutdown) and closes; then the
        clock stops."""
        try:
            self.shutdown_streams()
            with trio.move_on_after(STOP_GRACE_S + 1.5):
                while self._streams:
                    await trio.sleep(0.01)
        finally:
            self._nursery.cancel_scope.cancel()
            suppress = await self._cm.__aexit__(*exc_info)
        return suppress

    def shutdown_streams(self) -> None:
        """Drain (SIGTERM): refuse new streams (EngineFull) and stop every live one with
        reason `shutdown` (`stop` message, close 1000); the events report each end."""
        self._closing = True
        for record in list(self._streams.values()):
            if record.fork is not None:
                record.fork.request_stop(StreamInput.SHUTDOWN)

    # -- time ---------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Wall-clock Unix time in ms, following the Trio clock."""
        return int((trio.current_time() + self._epoch_offset) * 1000)

    def _utc(self, trio_time: float | None = None) -> dt.datetime:
        t = trio.current_time() if trio_time is None else trio_time
        return dt.datetime.fromtimestamp(t + self._epoch_offset, dt.timezone.utc)

    def _timeout_deadline(self, fork: Fork) -> float:
        return self._stream_created[fork.stream_id] + fork.params.stream_timeout

    # -- calls --------------------------------------------------------------------------------

    def open_call(self, call_id: str | None = None, *, format: Format | str = Format.L16_8K,
                  call_from: str = "", call_to: str = "") -> CallInfo:
        """Register a live call whose audio will be fed in `format` (its sample rate too)."""
        call_id = call_id or str(uuid.uuid4())
        if call_id in self.calls:
            raise ValueError(f"call {call_id} is already open")
        call = Call(call_id, Format.parse(format), call_from=call_from, call_to=call_to,
                    started_at=self._utc())
        self.calls[call_id] = call
        return call.info()

    def close_call(self, call_id: str) -> None:
        """Hang up: every stream of the call ends with call_hangup."""
        call = self._call(call_id)
        call.ended = True
        for fork in list(call.forks):
            fork.request_stop(StreamInput.CALL_HANGUP)
        del self.calls[call_id]
        call.playback_ready.set()

    def get_call(self, call_id: str) -> CallInfo:
        return self._call(call_id).info()

    def list_calls(self) -> list[CallInfo]:
        return [call.info() for call in self.calls.values()]

    def _call(self, call_id: str) -> Call:
        call = self.calls.get(call_id)
        if call is None:
            raise NotFound(f"call {call_id} does not exist or has ended")
        return call

    def feed(self, call_id: str, track: str, data) -> None:
        """Audio of `track` ("inbound" or "outbound") in the call's format, any length."""
        self._call(call_id).inputs[_track(track)].feed(data)

    def feed_packet(self, call_id: str, track: str, seq: int, timestamp: int, payload, *,
                    arrival_ms: float | None = None, ssrc: int | None = None):
        """An RTP-like packet of `track` (call format), through the track's jitter buffer."""
        now = trio.current_time() * 1000 if arrival_ms is None else arrival_ms
        return self._call(call_id).inputs[_track(track)].feed_packet(seq, timestamp, payload,
                                                                     now, ssrc)

    async def read_playback(self, call_id: str) -> bytes:
        """The next 20 ms of audio that bidirectional streams play into the call (call format;
        silence on underrun), at real time. Raises CallClosed when the call ends."""
        call = self.calls.get(call_id)
        if call is None:
            raise CallClosed(f"call {call_id} has ended or does not exist")
        while not call.playback:
            if call.ended:
                raise CallClosed(f"call {call_id} has ended")
            call.playback_ready = trio.Event()
            await call.playback_ready.wait()
        return call.playback.popleft()

    def send_dtmf(self, call_id: str, digit: str, *, track: str = "inbound") -> None:
        """A digit pressed in the call: every stream of the call gets a `dtmf` message."""
        call = self._call(call_id)
        _track(track)
        check_dtmf_digit(digit)
        now_ms = self.now_ms()
        for fork in call.forks:  # DTMF belongs to the call: every stream reports it
            fork.send_control(lambda f=fork: f.profile.dtmf(digit, now_ms, track=track))

    # -- streams ------------------------------------------------------------------------------

    async def start_stream(self, call_id: str, params: StreamParams | Mapping[str, Any], *,
                           account_id: str = "default", auth_token: str | None = None,
                           stream_id: str | None = None) -> Stream:
        """Validate and register a stream; it connects in the background. Raises
        InvalidParameter (400), NotFound (404) or EngineFull (503)."""
        # a checkpoint first (as every Trio async function has): an application that starts
        # a thousand streams in one loop then lets the media clock tick between them, and a
        # cancelled call has started nothing
        await trio.lowlevel.checkpoint()
        call = self._call(call_id)
        if not isinstance(params, StreamParams):
            params = StreamParams.parse(params, policy=self.policy)
        if self._closing:
            raise EngineFull("the engine is shutting down")
        if self.max_streams is not None and len(self._streams) >= self.max_streams:
            raise EngineFull(f"the engine carries {self.max_streams} streams, its limit")
        self._check_call_rules(call, params)
        await self._check_host(params)
        # the call may have ended, or gained streams, while the host was resolved
        call = self._call(call_id)
        self._check_call_rules(call, params)
        stream_id = stream_id or str(uuid.uuid4())
        if stream_id in self._streams or stream_id in self._ended_streams:
            raise ValueError(f"stream {stream_id} exists already")
        record = _Record(stream_id, call, account_id, params, self._utc())
        fork = Fork(self, call, stream_id, params, account_id, auth_token)
        record.fork = fork
        self._streams[stream_id] = record
        self._stream_created[stream_id] = trio.current_time()
        call.add_fork(fork)
        self._forks_nursery.start_soon(fork.run)
        return self._snapshot(record)

    def _check_call_rules(self, call: Call, params: StreamParams) -> None:
        """The per-call rules of SPEC §2.1 (stream limit, one stream per URL, one
        bidirectional stream)."""
        call_id = call.call_id
        if len(call.forks) >= self.max_streams_per_call:
            raise InvalidParameter("call_uuid", f"call {call_id} already has "
                                   f"{self.max_streams_per_call} active streams, the most a "
                                   f"call may have.")
        if any(f.params.service_url == params.service_url for f in call.forks):
            raise InvalidParameter("service_url", f"call {call_id} already has an active "
                                                  f"stream to this service_url.")
        if params.bidirectional and call.bidirectional_fork is not None:
            raise InvalidParameter("bidirectional", f"call {call_id} already has an active "
                                                    f"bidirectional stream; stop it first.")

    async def _check_host(self, params: StreamParams) -> None:
        """Refuse a host name that resolves only to refused addresses (DNS failures are left
        to the connection, which reports them)."""
        host = params.service_host
        try:
            ipaddress.ip_address(host.split("%")[0])
            return  # literal addresses were checked by StreamParams
        except ValueError:
            pass
        with trio.move_on_after(RESOLVE_TIMEOUT_S):
            try:
                await resolve(host, 443, self.policy)
            except ConnectError:
                pass

    def stop_stream(self, stream_id: str) -> Stream:
        """Stop one stream (api_request); a stream that has ended already is left as is."""
        record = self._record(stream_id)
        if record.fork is not None and not record.fork.ended:
            record.fork.request_stop(StreamInput.API_STOP)
        return self._snapshot(record)

    def stop_all(self, call_id: str) -> list[Stream]:
        """Stop every active stream of a call (api_request)."""
        call = self._call(call_id)
        for fork in list(call.forks):
            fork.request_stop(StreamInput.API_STOP)
        return self.list(call_id)

    def get(self, stream_id: str) -> Stream:
        return self._snapshot(self._record(stream_id))

    def list(self, call_id: str | None = None) -> list[Stream]:
        """Live and ended streams (of one call), oldest first."""
        records = [*self._ended_streams.values(), *self._streams.values()]
        if call_id is not None:
            records = [r for r in records if r.call.call_id == call_id]
        records.sort(key=lambda r: r.created_at)
        return [self._snapshot(r) for r in records]

    def _record(self, stream_id: str) -> _Record:
        record = self._streams.get(stream_id) or self._ended_streams.get(stream_id)
        if record is None:
            raise NotFound(f"stream {stream_id} does not exist")
        return record

    def _snapshot(self, r: _Record) -> Stream:
        fork = r.fork
        sent, dropped, reconnects = ((fork.frames_sent, fork.frames_dropped, fork.reconnects)
                                     if fork is not None else r.final_counts)
        return Stream(stream_id=r.stream_id, call_id=r.call.call_id, account_id=r.account_id,
                      params=r.params, status=r.status, stop_reason=r.stop_reason,
                      error=r.error, created_at=r.created_at, start_time=r.start_time,
                      end_time=r.end_time, frames_sent=sent, frames_dropped=dropped,
                      reconnects=reconnects, call_from=r.call.call_from,
                      call_to=r.call.call_to)

    def _emit(self, event) -> None:
        self._events_in.send_nowait(event)

    # -- the media clock ----------------------------------------------------------------------

    async def _ticker(self) -> None:
        try:
            await self._tick_forever()
        finally:
            self.clock.close()

    async def _tick_forever(self) -> None:
        pacer = self.pacer
        async for tick, due in self.clock:
            ts_ms = int((due + self._epoch_offset) * 1000)
            # paced on real time only: under MockClock virtual time stays exact (pacing.py)
            spacing = pacer.spacing_s if self.clock.uses_os_timer and self.pace else 0.0
            # every call's frames to its forks, in C; Python runs where it must (calltick.pyx)
            writers, work_s, _ = tick_calls(self.calls, ts_ms, due * 1000, self._checkpoints,
                                            self._call_failed, spacing,
                                            trio.current_time() - due)
            pacer.took(work_s, writers)
            # the tick's work is done: until just before the next tick, heavy steps may run
            self.idle_gate.open(self.clock.due(tick + 1) - self.idle_gate.headroom_s)

    def _call_failed(self, call: Call, exc: Exception) -> None:
        log.error("call %s failed in a tick", call.call_id, exc_info=exc)

    def _checkpoints(self, call: Call, names) -> None:
        fork = call.bidirectional_fork
        if fork is None:
            return
        record = self._streams.get(fork.stream_id)
        for name in names:
            fork.send_control(lambda n=name: fork.profile.played(n))
            if record is not None and self._may_report(fork, record):
                self._emit(CheckpointPlayed(self._snapshot(record), name))

    def _may_report(self, fork: Fork, record: _Record) -> bool:
        """Whether a checkpoint played or a clear is within the stream's budget of events
        (report_budget.py); when it is not, the server is told, at most once a second."""
        now = trio.current_time()
        if record.reports is None:
            record.reports = ReportBudget(now)
        budget = record.reports
        if budget.take(now):
            return True
        if budget.warn_now(now):
            log.warning("stream %s: %d checkpoints played and clears not reported (over "
                        "the budget)", record.stream_id, budget.suppressed)
            fork.send_control(lambda n=budget.suppressed: fork.profile.error(
                ReportBudget.message(n)))
        return False

    # -- what forks report --------------------------------------------------------------------

    def _transition(self, record: _Record, event: StreamInput, error: str = "") -> bool:
        transition = next_state(record.status, event)
        if transition is None:
            return False
        record.status = transition.status
        if transition.stop_reason is not None:
            record.stop_reason = transition.stop_reason
            record.error = error
        return True

    def _first_frame(self, fork: Fork) -> None:
        record = self._streams[fork.stream_id]
        record.start_time = self._utc()
        if self._transition(record, StreamInput.FIRST_FRAME_SENT):
            self._emit(StreamStarted(self._snapshot(record)))

    def _ended(self, fork: Fork, why: StreamInput, error: str) -> None:
        record = self._streams.pop(fork.stream_id)
        self._stream_created.pop(fork.stream_id, None)
        record.end_time = self._utc()
        record.final_counts = (fork.frames_sent, fork.frames_dropped, fork.reconnects)
        fork.call.remove_fork(fork)
        self._transition(record, why, error)
        record.fork = None
        self._ended_streams[record.stream_id] = record
        while len(self._ended_streams) > ENDED_STREAMS_KEPT:
            self._ended_streams.popitem(last=False)
        self._emit(StreamEnded(self._snapshot(record)))

    def _degraded(self, fork: Fork, percent: int) -> None:
        self._emit(StreamDegraded(self.get(fork.stream_id), percent))

    def _reconnecting(self, fork: Fork, attempt: int, delay_s: float, reason: str) -> None:
        self._emit(StreamReconnecting(self.get(fork.stream_id), attempt, delay_s, reason))

    def _server_event(self, fork: Fork, event) -> None:
        """A message from a stream's server (SPEC §3.2, §3.3)."""
        if isinstance(event, Stop):
            fork._stop(StreamInput.REMOTE_STOP)
            return
        if isinstance(event, SendDtmf):
            self._emit(DtmfRequested(self.get(fork.stream_id), event.digits))
            return
        playout = fork.call.playout if fork.params.bidirectional else None
        if playout is None:
            fork.send_control(lambda: fork.profile.error(
                "this stream is not bidirectional: audio and checkpoints are not accepted"))
            return
        if isinstance(event, PlayAudio):
            try:
                playout.add_audio(event.payload, event.format, event.byte_order)
            except PlaybackFull:
                fork.send_control(lambda: fork.profile.error("playback buffer full"))
        elif isinstance(event, (Checkpoint, Mark)):
            try:
                playout.add_mark(event.name)
            except PlaybackFull as exc:
                fork.send_control(lambda reason=str(exc): fork.profile.error(reason))
        elif isinstance(event, (ClearAudio, Clear)):
            voided = playout.clear()
            fork.send_control(lambda: fork.profile.cleared(voided))
            record = self._streams.get(fork.stream_id)
            if record is not None and self._may_report(fork, record):
                self._emit(AudioCleared(self._snapshot(record)))


def _track(track: str) -> int:
    try:
        return TRACKS.index(track)
    except ValueError:
        raise ValueError(f"track must be 'inbound' or 'outbound', not {track!r}") from None
