"""`ControlPlane`: the control plane's one service object, between the HTTP API and the engine.

It owns the engine's event feed and turns it into durable state: a stream row at start
(status initiated), updated on every event; the status callbacks of SPEC §4 written to the
outbox in the same transaction as the state they report, then delivered by the sender
(callbacks/sender.py: order per stream, retries, signatures); metering checkpoints.

Decisions (the SPEC is silent on these; the store's are in control/store/__init__.py):

- Ownership: a call belongs to the account that registered it (`register_call`, or
  `attach_call` for a call the embedding application opened on the engine); streams belong
  to the account that started them. Anything of another account is NotFound, never 403.
- Billing (control/metering.py) runs from the first media frame to the end; for a stop
  asked by the API or a drain, the end is the moment of the request (frames stop at once;
  the close handshake that follows is not billed).
- Checkpoints: every `checkpoint_interval_s` (10 s) each live stream's forked time, counters
  and the checkpoint time are written in one transaction.
- Recovery (`run`, before anything else): streams this node (`node_id`) left open are
  closed: status stopped, stop_reason shutdown, end_time = their last checkpoint, billed up to
  it, with their StopStream callback; calls left live are marked ended. Then the sender
  resumes every pending callback. Several daemons sharing PostgreSQL need distinct, stable
  node ids: each recovers only its own streams and callbacks.
- Callback URLs follow the callback policy (`callback_policy`, a UrlPolicy): checked when the
  stream starts (literal addresses, and every address the host resolves to; a host that does
  not resolve is accepted then and retried at delivery, as the engine does for service_url)
  and again before every delivery attempt.
- Usage: totals over the account's streams that ended in [from, to) (a stream's bill is
  final when it ends). `from`/`to` are optional.
- Live values: get/list of a live stream merge the engine's counters and the bill so far.

CHANGES (additions to the interface of the brief, nothing changed):
- `ControlPlane(..., node_id="local", rng=None, drain_timeout_s=5.0)`.
- `attach_call(account, call_uuid)`: record that an engine call opened by the embedding
  application (or the demo) belongs to `account`.
- `checkpoint_now()`, `sender` (its `delivered` / `failed` counters), `callback_queue_depth()`
  for metrics.
- `on_call_ended(call_uuid, reason)`: the ingress hub's hook (a call it ended by itself).
- `account_rates` ({auth_id: rate}): the config's per-account per-minute rates; they win over
  the rate stored with the account from the next request on (a stream keeps the rate it
  started with).

Calls (`register_call`, control/call_fields.py for the fields and defaults): the ingress hub
opens the call (RTP ports, or an AudioSocket connection awaited by UUID); a call id in use is
400. `answer_url` (same address rules as callbacks) is fetched once in the background, POST
with CallUUID/From/To/Direction/CallStatus/Event=StartApp/ParentAuthID, and the <Stream>s of
its <Response> start as `Xml/` would start them (unknown elements skipped with a warning; a
failure is logged, the call goes on). `hangup_url` gets a form POST (Event=Hangup,
HangupCause = why the call ended) through the callback outbox when the call ends for any
reason: durable, signed and retried like status callbacks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import json
import logging
import random
import re
import socket
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import trio

from control import accounts, call_fields, metering
from control.accounts import Account
from control.callbacks import fields as cb_fields
from control.callbacks.sender import CallbackSender
from control.store import records
from control.xml import XmlError, fetch_answer_xml
from mediacore.engine import (AudioCleared, CheckpointPlayed, DtmfRequested, Engine,
                              EngineFull, InvalidParameter, NotFound, StreamDegraded,
                              StreamEnded, StreamParams, StreamReconnecting, StreamStarted,
                              UrlPolicy)

__all__ = ["Account", "ControlPlane", "EngineFull", "InvalidParameter", "NotFound"]

log = logging.getLogger("control.service")

RESOLVE_TIMEOUT_S = 2.0
_CALL_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ControlPlane:
    def __init__(self, engine: Engine, store, *, callback_policy: UrlPolicy,
                 default_rate_per_minute: Decimal = Decimal("0.00300"),
                 checkpoint_interval_s: float = 10.0, callback_retry_max_s: float = 3600.0,
                 ingress=None, http2: bool = True, node_id: str = "local",
                 rng: random.Random | None = None, drain_timeout_s: float = 5.0,
                 account_rates: Mapping[str, Decimal] | None = None) -> None:
        self.engine = engine
        self.store = store
        self.callback_policy = callback_policy
        self.default_rate_per_minute = accounts.rate(default_rate_per_minute)
        # the config's per-account rates win over the rate stored with the account
        self.account_rates = {k: accounts.rate(v) for k, v in (account_rates or {}).items()}
        self.checkpoint_interval_s = checkpoint_interval_s
        self.ingress = ingress
        self.node_id = node_id
        self.drain_timeout_s = drain_timeout_s
        self.sender = CallbackSender(store, node_id=node_id, policy=callback_policy,
                                     token_for=self._token_for, now_us=self._now_us,
                                     retry_max_s=callback_retry_max_s, http2=http2, rng=rng)
        self._tokens: dict[str, str] = {}           # auth_id -> plaintext token (cache)
        self._live: dict[str, dict] = {}            # stream_id -> its row, while it runs
        self._inserting: dict[str, trio.Event] = {}  # started on the engine, row not yet in
        self._stop_requested: dict[str, int] = {}   # stream_id -> when the API stopped it
        self._all_ended = trio.Event()
        self._draining = False
        self._nursery: trio.Nursery | None = None  # run()'s: answer_url fetches, call ends

    def _now_us(self) -> int:
        return self.engine.now_ms() * 1000

    # -- running ------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Recovery first, then task_status.started(), then consume engine.events,
        checkpoint metering and send callbacks until cancelled."""
        await self._recover()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.sender.run)
            nursery.start_soon(self._consume)
            nursery.start_soon(self._checkpoints)
            task_status.started()

    async def _recover(self) -> None:
        for row in await self.store.open_streams(self.node_id):
            if _engine_has(self.engine, row["stream_id"]):
                continue  # a live stream of this very engine (run() started again)
            end_us = row["checkpoint_us"] or row["created_at_us"]
            forked = row["forked_ms"] if row["start_time_us"] is not None else 0
            row.update(status="stopped", stop_reason="shutdown", error="", end_time_us=end_us,
                       **metering.bill(forked, Decimal(row["rate"])).columns())
            values = {k: row[k] for k in ("status", "stop_reason", "error", "end_time_us",
                                          "bill_duration", "rounded_bill_duration",
                                          "billed_amount")}
            await self.store.update_stream(row["stream_id"], values,
                                           self._callbacks(row, cb_fields.ended(row)))
            log.warning("stream %s was left open by the previous process: closed at its last "
                        "checkpoint (%s), billed %s s", row["stream_id"],
                        records.iso(end_us), row["bill_duration"])
        for call in await self.store.list_calls_of_node(self.node_id):
            if call["call_uuid"] not in self.engine.calls:
                await self.store.update_call(call["call_uuid"], {
                    "status": "ended", "ended_at_us": self._now_us(), "end_reason": "shutdown"})

    async def drain(self) -> None:
        """SIGTERM: stop every active stream (stop_reason shutdown), wait (bounded) until
        they have ended, persist final metering; every callback is in the outbox by then."""
        self._draining = True
        now = self._now_us()
        for stream_id in list(self._live):
            self._stop_requested.setdefault(stream_id, now)
        self.engine.shutdown_streams()  # `stop` with reason shutdown on every WebSocket
        with trio.move_on_after(self.drain_timeout_s):
            while self._live:
                self._all_ended = trio.Event()
                await self._all_ended.wait()
        if self._live:  # the engine did not end them in time: close them at the request
            for stream_id in list(self._live):
                await self._close_row(stream_id, "stopped", "shutdown",
                                      "the daemon shut down", self._stop_requested[stream_id])

    async def checkpoint_now(self) -> None:
        now = self._now_us()
        updates = []
        for stream_id, row in list(self._live.items()):
            try:
                snapshot = self.engine.get(stream_id)
            except NotFound:
                continue
            values = {"checkpoint_us": now, "frames_sent": snapshot.frames_sent,
                      "frames_dropped": snapshot.frames_dropped,
                      "reconnects": snapshot.reconnects}
            if row["start_time_us"] is not None:
                values["forked_ms"] = metering.forked_ms(row["start_time_us"], now)
            row.update(values)
            updates.append((stream_id, values))
        await self.store.checkpoint(updates)

    async def _checkpoints(self) -> None:
        while True:
            await trio.sleep(self.checkpoint_interval_s)
            try:
                await self.checkpoint_now()
            except Exception:  # a failed checkpoint is retried at the next one
                log.exception("metering checkpoint failed")

    async def callback_queue_depth(self) -> int:
        return await self.store.pending_callbacks(self.node_id)

    # -- the engine's events ------------------------------------------------------------------

    async def _consume(self) -> None:
        async for event in self.engine.events:
            try:
                await self._handle(event)
            except Exception:  # one event's failure never stops the feed
                log.exception("handling %s of stream %s failed", type(event).__name__,
                              event.stream.stream_id)

    async def _handle(self, event) -> None:
        stream = event.stream
        stream_id = stream.stream_id
        if isinstance(event, DtmfRequested):
            if self.ingress is not None:
                self.ingress.play_dtmf(stream.call_id, event.digits)
            else:
                log.info("stream %s asked to play DTMF %r; no ingress to play it",
                         stream_id, event.digits)
            return
        inserting = self._inserting.get(stream_id)
        if inserting is not None:
            await inserting.wait()
        row = self._live.get(stream_id)
        if row is None:
            return  # not started through the control plane (an embedder's own stream)
        if isinstance(event, StreamStarted):
            start_us = records.us(stream.start_time)
            values = {"status": "in-progress", "start_time_us": start_us,
                      "checkpoint_us": start_us, "forked_ms": 0}
            row.update(values)
            await self._write(row, values, cb_fields.started(row, start_us))
        elif isinstance(event, StreamEnded):
            end_us = records.us(stream.end_time)
            row.update(frames_sent=stream.frames_sent, frames_dropped=stream.frames_dropped,
                       reconnects=stream.reconnects)
            await self._close_row(stream_id, stream.status.value, stream.stop_reason.value,
                                  stream.error, end_us)
        elif isinstance(event, StreamReconnecting):
            row["reconnects"] = stream.reconnects
            await self._write(row, {"reconnects": stream.reconnects}, None)
        elif isinstance(event, StreamDegraded):
            await self._write(row, {}, cb_fields.degraded(row, self._now_us(),
                                                          event.buffer_percent))
        elif isinstance(event, CheckpointPlayed):
            await self._write(row, {}, cb_fields.played(row, self._now_us(), event.name))
        elif isinstance(event, AudioCleared):
            await self._write(row, {}, cb_fields.cleared(row, self._now_us()))

    async def _close_row(self, stream_id: str, status: str, stop_reason: str, error: str,
                         end_us: int) -> None:
        row = self._live[stream_id]
        if self._draining and stop_reason == "api_request" and stream_id in self._stop_requested:
            stop_reason = "shutdown"  # stopped one by one by drain (engine without shutdown)
        billed_until = min(end_us, self._stop_requested.pop(stream_id, end_us))
        forked = metering.forked_ms(row["start_time_us"], billed_until)
        values = {"status": status, "stop_reason": stop_reason, "error": error,
                  "end_time_us": end_us, "checkpoint_us": end_us, "forked_ms": forked,
                  "frames_sent": row["frames_sent"], "frames_dropped": row["frames_dropped"],
                  "reconnects": row["reconnects"],
                  **metering.bill(forked, Decimal(row["rate"])).columns()}
        row.update(values)
        await self._write(row, values, cb_fields.ended(row))
        del self._live[stream_id]
        if not self._live:
            self._all_ended.set()

    def _callbacks(self, row: dict, fields: dict | None) -> list[dict]:
        if fields is None or not row["status_callback_url"]:
            return []
        return [dict(callback_id=str(uuid.uuid4()), stream_id=row["stream_id"],
                     account_id=row["account_id"], node_id=self.node_id,
                     url=row["status_callback_url"], method=row["status_callback_method"],
                     fields=fields, created_at_us=self._now_us())]

    async def _write(self, row: dict, values: dict, fields: dict | None) -> None:
        callbacks = self._callbacks(row, fields)
        await self.store.update_stream(row["stream_id"], values, callbacks)
        if callbacks:
            self.sender.notify(row["stream_id"])

    # -- accounts -----------------------------------------------------------------------------

    async def create_account(self, *, rate_per_minute: Decimal | None = None
                             ) -> tuple[Account, str]:
        """A new account and its plaintext auth token (shown once; stored hashed)."""
        rate = (accounts.rate(rate_per_minute) if rate_per_minute is not None
                else self.default_rate_per_minute)
        token = accounts.new_token()
        created = dt.datetime.now(dt.timezone.utc)
        account = Account(accounts.new_auth_id(), rate, created)
        await self.store.add_account({
            "auth_id": account.auth_id, "token_hash": accounts.hash_token(token),
            "token_sealed": self.store.tokens.seal(token), "rate_per_minute": str(rate),
            "created_at_us": records.us(created)})
        self._tokens[account.auth_id] = token
        return account, token

    async def authenticate(self, auth_id: str, auth_token: str) -> Account | None:
        """Constant-time check; None when the id is unknown or the token wrong."""
        if not isinstance(auth_id, str) or not isinstance(auth_token, str):
            return None
        row = await self.store.get_account(auth_id) if accounts.looks_like_auth_id(auth_id) \
            else None
        # hash and compare even for an unknown id, so timing does not tell ids apart
        stored = row["token_hash"] if row is not None else b"\0" * 32
        if not accounts.token_matches(auth_token, stored) or row is None:
            return None
        account = _account(row)
        rate = self.account_rates.get(account.auth_id)
        return account if rate is None else dataclasses.replace(account, rate_per_minute=rate)

    async def _token_for(self, auth_id: str) -> str | None:
        token = self._tokens.get(auth_id)
        if token is None:
            row = await self.store.get_account(auth_id)
            if row is None:
                return None
            token = self._tokens[auth_id] = self.store.tokens.open(row["token_sealed"])
        return token

    # -- streams ------------------------------------------------------------------------------

    async def start_stream(self, account: Account, call_uuid: str,
                           fields: Mapping[str, Any]) -> dict:
        await self._owned_call(account, call_uuid, live=True)
        params = self._parse(fields, call_uuid)
        if params.status_callback_url:
            await self._check_callback_host(params.status_callback_url)
        if self._draining:
            raise EngineFull("the server is shutting down")
        token = await self._token_for(account.auth_id)
        stream_id = str(uuid.uuid4())
        self._inserting[stream_id] = inserted = trio.Event()
        try:
            stream = await self.engine.start_stream(call_uuid, params,
                                                    account_id=account.auth_id,
                                                    auth_token=token, stream_id=stream_id)
            row = records.new_row(stream, node_id=self.node_id, rate=account.rate_per_minute)
            try:
                await self.store.add_stream(row)
            except BaseException:
                # never run a stream the store does not know: it could not be billed
                self._stop_in_engine(stream_id)
                raise
            self._live[stream_id] = row
            self._all_ended = trio.Event()
        finally:
            del self._inserting[stream_id]
            inserted.set()
        return self._object(row)

    def _parse(self, fields: Mapping[str, Any], call_uuid: str) -> StreamParams:
        """SPEC §2.1 rules; the callback URL under the callback policy, the rest under the
        engine's."""
        callback_url = fields.get("status_callback_url")
        rest = {k: v for k, v in fields.items() if k != "status_callback_url"}
        params = StreamParams.parse(rest, policy=self.engine.policy,
                                    path={"call_uuid": call_uuid})
        if callback_url is None or callback_url == "":
            return params
        checked = StreamParams.parse({"service_url": "wss://callback.check/",
                                      "status_callback_url": callback_url},
                                     policy=self.callback_policy)
        return dataclasses.replace(params, status_callback_url=checked.status_callback_url)

    async def _check_callback_host(self, url: str, field: str = "status_callback_url") -> None:
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host.split("%")[0])
            return  # a literal address: checked by _parse
        except ValueError:
            pass
        infos = []
        with trio.move_on_after(RESOLVE_TIMEOUT_S):
            try:
                infos = await trio.socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)
            except socket.gaierror:
                return  # retried at delivery, which checks the addresses again
        for info in infos:
            self.callback_policy.check_address(field, info[4][0])

    async def get_stream(self, account: Account, call_uuid: str, stream_id: str) -> dict:
        return self._object(await self._owned_stream(account, call_uuid, stream_id))

    async def list_streams(self, account: Account, call_uuid: str, *, status: str | None,
                           limit: int, offset: int) -> tuple[list[dict], int]:
        await self._owned_call(account, call_uuid, live=False)
        rows, total = await self.store.list_streams(account.auth_id, call_uuid, status=status,
                                                    limit=limit, offset=offset)
        return [self._object(r) for r in rows], total

    async def stop_stream(self, account: Account, call_uuid: str, stream_id: str) -> None:
        await self._owned_stream(account, call_uuid, stream_id)
        if stream_id in self._live:
            self._stop_requested.setdefault(stream_id, self._now_us())
            self._stop_in_engine(stream_id)

    async def stop_all(self, account: Account, call_uuid: str) -> None:
        call = await self.store.get_call(call_uuid)
        live = [sid for sid, row in self._live.items()
                if row["call_uuid"] == call_uuid and row["account_id"] == account.auth_id]
        if (call is None or call["account_id"] != account.auth_id) and not live:
            raise NotFound(f"call {call_uuid} does not exist")
        now = self._now_us()
        for stream_id in live:
            self._stop_requested.setdefault(stream_id, now)
            self._stop_in_engine(stream_id)

    def _stop_in_engine(self, stream_id: str) -> None:
        try:
            self.engine.stop_stream(stream_id)
        except NotFound:
            pass

    async def _owned_stream(self, account: Account, call_uuid: str, stream_id: str) -> dict:
        row = self._live.get(stream_id) or await self.store.get_stream(stream_id)
        if row is None or row["account_id"] != account.auth_id or row["call_uuid"] != call_uuid:
            raise NotFound(f"stream {stream_id} of call {call_uuid} does not exist")
        return row

    def _object(self, row: dict) -> dict:
        """The Stream object; for a live stream, the engine's counters and the bill so far."""
        row = dict(row)
        if row["stream_id"] in self._live:
            try:
                snapshot = self.engine.get(row["stream_id"])
            except NotFound:
                snapshot = None
            if snapshot is not None and not snapshot.status.ended:
                row.update(status=snapshot.status.value, frames_sent=snapshot.frames_sent,
                           frames_dropped=snapshot.frames_dropped,
                           reconnects=snapshot.reconnects,
                           start_time_us=records.us(snapshot.start_time))
                forked = metering.forked_ms(row["start_time_us"],
                                            self._stop_requested.get(row["stream_id"],
                                                                     self._now_us()))
                row.update(metering.bill(forked, Decimal(row["rate"])).columns())
        return records.stream_object(row)

    async def usage(self, account: Account, start: dt.datetime | None,
                    end: dt.datetime | None) -> dict:
        rows = await self.store.ended_streams(account.auth_id, records.us(start),
                                              records.us(end))
        totals = metering.total(rows)
        totals["from"] = records.iso(records.us(start))
        totals["to"] = records.iso(records.us(end))
        return totals

    # -- calls --------------------------------------------------------------------------------

    async def attach_call(self, account: Account, call_uuid: str) -> dict:
        """Record that a call the application opened on the engine belongs to `account`."""
        info = self.engine.get_call(call_uuid)
        existing = await self.store.get_call(call_uuid)
        if existing is not None:
            if existing["account_id"] != account.auth_id:
                raise NotFound(f"call {call_uuid} does not exist or has ended")
            return self._call_object(existing)
        row = dict(call_uuid=call_uuid, account_id=account.auth_id, node_id=self.node_id,
                   call_from=info.call_from, call_to=info.call_to, ingress="embedded",
                   codec="PCMU" if info.format.value.startswith("audio/x-mulaw") else "L16",
                   sample_rate=info.format.sample_rate, status="live", details="{}",
                   created_at_us=records.us(info.started_at))
        await self.store.add_call(row)
        return self._call_object(row)

    async def register_call(self, account: Account, fields: Mapping[str, Any]) -> dict:
        """SPEC §2.3: open a call on the ingress (RTP ports, or an awaited AudioSocket
        connection), record it for `account`, and fetch its answer_url in the background."""
        if self.ingress is None:
            raise InvalidParameter("ingress", "this server runs without call ingress (RTP or "
                                              "AudioSocket), so calls cannot be registered.")
        spec = call_fields.parse(fields)
        for field in ("answer_url", "hangup_url"):
            if spec[field]:
                self._parse_http_url(field, spec[field])
                await self._check_callback_host(spec[field], field)
        if self._draining:
            raise EngineFull("the server is shutting down")
        call_uuid = spec["call_uuid"] or str(uuid.uuid4())
        if call_uuid in self.engine.calls or await self.store.get_call(call_uuid) is not None:
            raise InvalidParameter("call_uuid", f"call_uuid {call_uuid} is already in use; "
                                                f"leave it out to get a new one.")
        details: dict[str, Any] = {"answer_url": spec["answer_url"],
                                   "hangup_url": spec["hangup_url"]}
        try:
            if spec["ingress"] == "rtp":
                details.update(await self.ingress.open_rtp_call(
                    call_uuid, codec=spec["codec"], sample_rate=spec["sample_rate"],
                    rtp_remote=spec["rtp_remote"], call_from=spec["from"],
                    call_to=spec["to"]))
            else:
                self.ingress.expect_audiosocket_call(call_uuid,
                                                     sample_rate=spec["sample_rate"],
                                                     call_from=spec["from"],
                                                     call_to=spec["to"])
        except ValueError as exc:  # the hub names the parameter in its message
            raise InvalidParameter(call_fields.field_of(str(exc)), _sentence(exc)) from None
        row = dict(call_uuid=call_uuid, account_id=account.auth_id, node_id=self.node_id,
                   call_from=spec["from"], call_to=spec["to"], ingress=spec["ingress"],
                   codec=spec["codec"], sample_rate=spec["sample_rate"], status="live",
                   details=json.dumps(details), created_at_us=self._now_us())
        try:
            await self.store.add_call(row)
        except BaseException:
            self.ingress.close_call(call_uuid)  # never run a call the store does not know
            raise
        if spec["answer_url"] and self._nursery is not None:
            self._nursery.start_soon(self._answer, account, row, spec["answer_url"])
        return self._call_object(row)

    def _parse_http_url(self, field: str, url: str) -> None:
        """An http(s) URL under the callback policy (the rules of status_callback_url)."""
        try:
            StreamParams.parse({"service_url": "wss://callback.check/",
                                "status_callback_url": url}, policy=self.callback_policy)
        except InvalidParameter as exc:
            raise InvalidParameter(field, str(exc).replace("status_callback_url", field)) \
                from None

    async def _answer(self, account: Account, row: dict, url: str) -> None:
        """Fetch the answer_url once and start the <Stream>s of its <Response> (unknown
        elements are skipped with a warning by the lenient parser)."""
        call_uuid = row["call_uuid"]
        try:
            streams = await fetch_answer_xml(url, call_fields={
                "CallUUID": call_uuid, "From": row["call_from"], "To": row["call_to"],
                "Direction": "inbound", "CallStatus": "in-progress", "Event": "StartApp",
                "ParentAuthID": account.auth_id})
            await self.execute_xml(account, call_uuid, streams)
        except (XmlError, InvalidParameter, NotFound, EngineFull) as exc:
            log.warning("call %s: answer_url %s: %s", call_uuid, url, exc)

    def on_call_ended(self, call_uuid: str, reason: str) -> None:
        """The ingress ended a call by itself (RTP silence, AudioSocket hang-up or close)."""
        if self._nursery is not None:
            self._nursery.start_soon(self._call_ended, call_uuid, reason)

    async def _call_ended(self, call_uuid: str, reason: str) -> None:
        """Mark the call ended and queue its hangup_url notification (durable, signed, in
        the callback outbox under the call's id)."""
        row = await self.store.get_call(call_uuid)
        if row is None or row["status"] != "live":
            return
        now = self._now_us()
        await self.store.update_call(call_uuid, {"status": "ended", "end_reason": reason,
                                                 "ended_at_us": now})
        hangup_url = json.loads(row["details"] or "{}").get("hangup_url")
        if not hangup_url:
            return
        await self.store.add_callbacks([dict(
            callback_id=str(uuid.uuid4()), stream_id=call_uuid, account_id=row["account_id"],
            node_id=self.node_id, url=hangup_url, method="POST",
            fields=call_fields.hangup(row, now, reason), created_at_us=now)])
        self.sender.notify(call_uuid)

    async def get_call(self, account: Account, call_uuid: str) -> dict:
        return self._call_object(await self._owned_call(account, call_uuid, live=True))

    async def list_calls(self, account: Account) -> list[dict]:
        rows = await self.store.list_calls(account.auth_id, status="live")
        return [self._call_object(r) for r in rows if r["call_uuid"] in self.engine.calls]

    async def hangup_call(self, account: Account, call_uuid: str) -> None:
        row = await self._owned_call(account, call_uuid, live=True)
        if self.ingress is not None and row["ingress"] in ("rtp", "audiosocket"):
            self.ingress.close_call(call_uuid)
        else:
            self.engine.close_call(call_uuid)
        await self._call_ended(call_uuid, "api_request")

    async def execute_xml(self, account: Account, call_uuid: str,
                          streams: list[Mapping[str, Any]]) -> list[dict]:
        """Start the streams of a <Response> in order. Every one is validated before any
        starts, so invalid XML starts nothing."""
        await self._owned_call(account, call_uuid, live=True)
        for fields in streams:
            self._parse(fields, call_uuid)
        return [await self.start_stream(account, call_uuid, fields) for fields in streams]

    async def _owned_call(self, account: Account, call_uuid: str, *, live: bool) -> dict:
        row = await self.store.get_call(call_uuid) if _CALL_ID.fullmatch(call_uuid) else None
        if (row is None or row["account_id"] != account.auth_id
                or (live and call_uuid not in self.engine.calls)):
            raise NotFound(f"call {call_uuid} does not exist or has ended")
        return row

    def _call_object(self, row: dict) -> dict:
        live = self.engine.calls.get(row["call_uuid"]) is not None
        obj = {"call_uuid": row["call_uuid"], "from": row["call_from"], "to": row["call_to"],
               "ingress": row["ingress"], "codec": row["codec"],
               "sample_rate": row["sample_rate"],
               "status": "live" if live and row["status"] == "live" else "ended",
               "created_at": records.iso(row["created_at_us"]),
               "active_streams": sum(1 for r in self._live.values()
                                     if r["call_uuid"] == row["call_uuid"])}
        details = json.loads(row.get("details") or "{}")
        for key in ("rtp_host", "inbound_port", "outbound_port"):
            if key in details:
                obj[key] = details[key]
        if row["ingress"] == "audiosocket" and self.ingress is not None:
            obj["audiosocket_port"] = self.ingress.audiosocket_port
        return obj


def _sentence(exc: Exception) -> str:
    text = str(exc).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _account(row: dict) -> Account:
    created = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        microseconds=row["created_at_us"])
    return Account(row["auth_id"], Decimal(row["rate_per_minute"]), created)


def _engine_has(engine: Engine, stream_id: str) -> bool:
    try:
        return not engine.get(stream_id).status.ended
    except NotFound:
        return False
