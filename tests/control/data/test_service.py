"""ControlPlane end to end on MockClock: a real engine forking to a real TLS WebSocket server
(trustme certificates), a real HTTP callback receiver, a real SQLite file."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal

import pytest
import trio
import trio.testing

from control.service import ControlPlane
from control.store import open_store
from mediacore.engine import InvalidParameter, NotFound, UrlPolicy
from tests.control.data.receiver import Receiver
from tests.control.data.test_callbacks import plivo_v3_valid
from tests.engine.helpers import LOOPBACK, serving
from tests.engine.servers import receive_all

CALLBACKS_LOOPBACK = UrlPolicy.allowing("127.0.0.0/8")


def run(fn):
    trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


@contextlib.asynccontextmanager
async def control_plane(certs, db_path, receiver, *, behaviour=None, **kwargs):
    """(control, ws server, engine): control running, receiver serving; the WebSocket server
    records what it gets, or acts out `behaviour(conn, ws)`."""
    store = open_store(f"sqlite:///{db_path}", threads=0)
    async with trio.open_nursery() as outer:
        await outer.start(receiver.serve)
        async with serving(certs, behaviour) as (ws_server, engine):
            control = ControlPlane(engine, store, callback_policy=CALLBACKS_LOOPBACK,
                                   checkpoint_interval_s=10.0, **kwargs)
            async with trio.open_nursery() as nursery:
                await nursery.start(control.run)
                yield control, ws_server, engine
                nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()
    await store.close()


async def stream_fields(ws_server, receiver, **extra) -> dict:
    return {"service_url": f"wss://localhost:{ws_server.port}/agent",
            "status_callback_url": receiver.url(), **extra}


def test_a_stream_is_persisted_reported_and_billed(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with control_plane(certs, tmp_path / "m.db", receiver) as (control, ws, engine):
            account, token = await control.create_account(rate_per_minute=Decimal("0.006"))
            assert await control.authenticate(account.auth_id, token) == account
            assert await control.authenticate(account.auth_id, token[:-1] + "x") is None
            engine.open_call("call-1", format="audio/x-mulaw;rate=8000", call_from="+1555",
                             call_to="+1666")
            await control.attach_call(account, "call-1")
            started = await control.start_stream(account, "call-1",
                                                 await stream_fields(ws, receiver))
            stream_id = started["stream_id"]
            assert started["status"] == "initiated" and started["rate"] == "0.00600"
            [start_cb] = await receiver.wait_for(1)
            assert start_cb.fields["Event"] == "StartStream"
            assert start_cb.fields["Status"] == "connected"
            assert start_cb.fields["From"] == "+1555" and start_cb.fields["To"] == "+1666"
            assert start_cb.fields["ParentAuthID"] == account.auth_id
            t_start = trio.current_time()

            # checkpoints: the stored forked time never lags the truth by more than 10 s
            for _ in range(7):
                await trio.sleep(9.5)
                row = await control.store.get_stream(stream_id)
                truth_ms = (trio.current_time() - t_start) * 1000
                assert 0 <= truth_ms - row["forked_ms"] <= 10_000 + 100
            live = await control.get_stream(account, "call-1", stream_id)
            assert live["status"] == "in-progress" and live["frames_sent"] > 3000
            assert live["bill_duration"] >= 66

            await control.stop_stream(account, "call-1", stream_id)
            await receiver.wait_for(2)
            stop_cb = receiver.requests[1]
            ended = await control.get_stream(account, "call-1", stream_id)
            assert stop_cb.fields["Event"] == "StopStream"
            assert stop_cb.fields["StopReason"] == "api_request"
            # 66.5 s forked: 67 s billed, 2 minutes at 0.006
            assert (ended["bill_duration"], ended["rounded_bill_duration"],
                    ended["billed_amount"]) == (67, 120, "0.01200")
            assert stop_cb.fields["BillDuration"] == "67"
            assert stop_cb.fields["BilledAmount"] == "0.01200"
            assert ended["status"] == "stopped" and ended["stop_reason"] == "api_request"
            assert ended["end_time"].endswith("+00:00")
            for request in receiver.requests:
                assert plivo_v3_valid_for(token, request, receiver)
            assert ws.connections[0].events("stop")

            usage = await control.usage(account, None, None)
            assert usage == {"streams": 1, "bill_duration": 67, "rounded_bill_duration": 120,
                             "billed_amount": "0.01200", "from": None, "to": None}
            page, total = await control.list_streams(account, "call-1", status="stopped",
                                                     limit=20, offset=0)
            assert total == 1 and page[0] == ended

    run(main)


def test_a_clear_flood_gets_callbacks_within_the_budget_and_delays_no_other_stream(
        certs, tmp_path):
    """A bidirectional stream's server sends 3,000 clearAudio at once: every one is answered,
    but ClearedAudio callbacks only within the stream's budget (1,000 at once, 100 a second:
    mediacore/engine/report_budget.py; there were 3,000 before it), and the other stream's
    StopStream callback still comes at once."""
    receiver = Receiver()

    async def behaviour(conn, ws):
        if conn.path == "/flood":
            conn.messages.append(json.loads(await ws.get_message()))  # start
            for _ in range(3_000):
                await ws.send_message('{"event": "clearAudio"}')
        await receive_all(conn, ws)

    async def main():
        async with control_plane(certs, tmp_path / "m.db", receiver,
                                 behaviour=behaviour) as (control, ws, engine):
            account, _ = await control.create_account()
            engine.open_call("call-1", format="audio/x-mulaw;rate=8000")
            await control.attach_call(account, "call-1")
            fields = await stream_fields(ws, receiver)
            flood = (await control.start_stream(account, "call-1", {
                **fields, "service_url": fields["service_url"].replace("/agent", "/flood"),
                "bidirectional": "true"}))["stream_id"]
            other = (await control.start_stream(account, "call-1", fields))["stream_id"]
            began = trio.current_time()
            with trio.fail_after(30):
                while sum(len(c.events("clearedAudio")) for c in ws.connections) < 3_000:
                    await trio.sleep(0.1)
            await control.stop_stream(account, "call-1", other)
            stopped_at = trio.current_time()

            def events(stream_id, name):
                return [r for r in receiver.requests
                        if r.fields["StreamID"] == stream_id and r.fields["Event"] == name]

            with trio.fail_after(30):
                while not events(other, "StopStream"):
                    await receiver.wait_for(len(receiver.requests) + 1)
            assert trio.current_time() - stopped_at < 5.0  # (the fork's stop grace is 2 s)
            cleared = len(events(flood, "ClearedAudio"))
            assert 1_000 <= cleared <= 1_000 + 100 * (trio.current_time() - began) + 1
            flood_conn = next(c for c in ws.connections if c.path == "/flood")
            assert [e["error"] for e in flood_conn.events("error")][0].startswith(
                "too many checkpoints played and clears")
            rows = await control.store.get_stream(flood)
            assert rows["status"] == "in-progress"

    run(main)


def plivo_v3_valid_for(token, request, receiver) -> bool:
    import tests.control.data.test_callbacks as tc
    saved, tc.TOKEN = tc.TOKEN, token
    try:
        uri = f"http://127.0.0.1:{receiver.port}{request.target}"
        return plivo_v3_valid(request.method, uri, request.headers["x-signature-v3-nonce"],
                              request.headers["x-signature-v3"],
                              {} if request.method == "GET" else request.fields)
    finally:
        tc.TOKEN = saved


def test_another_accounts_calls_and_streams_are_not_found(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with control_plane(certs, tmp_path / "m.db", receiver) as (control, ws, engine):
            owner, _ = await control.create_account()
            other, _ = await control.create_account()
            engine.open_call("call-1")
            await control.attach_call(owner, "call-1")
            started = await control.start_stream(owner, "call-1",
                                                 await stream_fields(ws, receiver))
            sid = started["stream_id"]
            await receiver.wait_for(1)  # connected: StartStream
            for attempt in (control.get_stream(other, "call-1", sid),
                            control.stop_stream(other, "call-1", sid),
                            control.stop_all(other, "call-1"),
                            control.list_streams(other, "call-1", status=None, limit=20,
                                                 offset=0),
                            control.start_stream(other, "call-1",
                                                 await stream_fields(ws, receiver)),
                            control.get_call(other, "call-1"),
                            control.get_stream(owner, "call-2", sid)):
                with pytest.raises(NotFound):
                    await attempt
            assert await control.list_calls(other) == []
            assert [c["call_uuid"] for c in await control.list_calls(owner)] == ["call-1"]
            assert (await control.get_stream(owner, "call-1", sid))["status"] == "in-progress"

            with pytest.raises(InvalidParameter) as refused:
                await control.start_stream(owner, "call-1", {
                    "service_url": f"wss://localhost:{ws.port}/b",
                    "status_callback_url": "http://10.1.2.3/cb"})
            assert refused.value.field == "status_callback_url"
            with pytest.raises(InvalidParameter) as unknown:
                await control.start_stream(owner, "call-1", {
                    "service_url": f"wss://localhost:{ws.port}/b", "colour": "red"})
            assert unknown.value.field == "colour"
            with pytest.raises(InvalidParameter):
                await control.register_call(owner, {"ingress": "rtp"})

            await control.stop_all(owner, "call-1")
            with trio.fail_after(60):
                await receiver.wait_for(2)
            assert [r.fields["Event"] for r in receiver.requests] == ["StartStream",
                                                                      "StopStream"]

    run(main)


def test_streams_left_open_by_a_crash_are_closed_at_the_last_checkpoint(certs, tmp_path):
    receiver = Receiver()
    db = tmp_path / "m.db"

    async def main():
        # first life: a stream runs 25 s, then the control plane dies without a word
        async with control_plane(certs, db, receiver) as (control, ws, engine):
            account, _ = await control.create_account(rate_per_minute=Decimal("0.01"))
            engine.open_call("call-1")
            await control.attach_call(account, "call-1")
            sid = (await control.start_stream(account, "call-1",
                                              await stream_fields(ws, receiver)))["stream_id"]
            await receiver.wait_for(1)
            t_start = trio.current_time()
            await trio.sleep(25)
            row = await control.store.get_stream(sid)
            assert row["status"] == "in-progress"
            checkpoint_ms = row["forked_ms"]
            assert 15_000 <= checkpoint_ms <= 25_000
        # leaving the block cancels the control plane first, then shuts the engine down:
        # the engine's last events are never consumed, as when the process is killed

        # second life: recovery on start
        async with control_plane(certs, db, receiver) as (control, ws, engine):
            await receiver.wait_for(2)
            stop_cb = receiver.requests[1]
            assert stop_cb.fields["Event"] == "StopStream"
            assert stop_cb.fields["StopReason"] == "shutdown"
            assert stop_cb.fields["BillDuration"] == str(-(-checkpoint_ms // 1000))
            ended = await control.get_stream(account, "call-1", sid)
            assert ended["status"] == "stopped" and ended["stop_reason"] == "shutdown"
            assert ended["bill_duration"] == -(-checkpoint_ms // 1000)
            assert ended["billed_amount"] == "0.01000"
            assert trio.current_time() - t_start > 25

    run(main)


def test_drain_stops_every_stream_as_shutdown_and_bills_it(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with control_plane(certs, tmp_path / "m.db", receiver) as (control, ws, engine):
            account, _ = await control.create_account()
            engine.open_call("call-1")
            await control.attach_call(account, "call-1")
            sid = (await control.start_stream(account, "call-1",
                                              await stream_fields(ws, receiver)))["stream_id"]
            await receiver.wait_for(1)
            await trio.sleep(30)
            t_drain = trio.current_time()
            await control.drain()
            assert trio.current_time() - t_drain < 5
            row = await control.store.get_stream(sid)
            assert (row["status"], row["stop_reason"]) == ("stopped", "shutdown")
            assert row["bill_duration"] == 30 or row["bill_duration"] == 31
            [stop] = [c for c in await control.store.callbacks() if
                      c["fields"]["Event"] == "StopStream"]
            assert stop["fields"]["StopReason"] == "shutdown"
            [stop_message] = ws.connections[0].events("stop")
            assert stop_message["stop"]["reason"] == "shutdown"  # on the wire too
            with pytest.raises(Exception) as refused:
                await control.start_stream(account, "call-1", await stream_fields(ws, receiver))
            assert "shutting down" in str(refused.value)
            await receiver.wait_for(2)  # StopStream delivered before the test ends
            assert receiver.requests[1].fields["StopReason"] == "shutdown"

    run(main)


def test_a_rate_from_the_config_overrides_the_accounts_own(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with control_plane(certs, tmp_path / "m.db", receiver) as (control, ws, engine):
            account, token = await control.create_account(rate_per_minute=Decimal("0.006"))
            control.account_rates[account.auth_id] = Decimal("0.01000")  # as the config sets it
            account = await control.authenticate(account.auth_id, token)
            assert account.rate_per_minute == Decimal("0.01000")
            engine.open_call("call-1")
            await control.attach_call(account, "call-1")
            started = await control.start_stream(account, "call-1",
                                                 await stream_fields(ws, receiver))
            assert started["rate"] == "0.01000"
            await receiver.wait_for(1)
            await trio.sleep(61)
            await control.stop_stream(account, "call-1", started["stream_id"])
            await receiver.wait_for(2)
            stop = receiver.requests[1].fields
            assert stop["BillDuration"] == "61" and stop["BilledAmount"] == "0.02000"

    run(main)
