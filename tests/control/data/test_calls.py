"""Calls through the control plane (SPEC §2.3) with the real ingress hub on MockClock: RTP
registration gives ports and a live call, answer_url's <Response> starts its streams,
hangup_url hears of every end (API hang-up, RTP silence), bad fields are refused by name."""

from __future__ import annotations

import contextlib

import pytest
import trio

from control.service import ControlPlane
from control.store import open_store
from mediacore.engine import IngressHub, InvalidParameter, NotFound
from tests.control.data.receiver import Receiver
from tests.control.data.test_service import CALLBACKS_LOOPBACK, run
from tests.engine.helpers import serving

RTP_PORTS = (47100, 47199)


@contextlib.asynccontextmanager
async def plane_with_ingress(certs, db_path, receiver, **hub_kwargs):
    store = open_store(f"sqlite:///{db_path}", threads=0)
    planes = []
    async with trio.open_nursery() as outer:
        await outer.start(receiver.serve)
        async with serving(certs) as (ws_server, engine):
            hub = IngressHub(engine, rtp_host="127.0.0.1", rtp_ports=RTP_PORTS,
                             on_call_ended=lambda c, r: planes[0].on_call_ended(c, r),
                             **hub_kwargs)
            control = ControlPlane(engine, store, callback_policy=CALLBACKS_LOOPBACK,
                                   ingress=hub)
            planes.append(control)
            async with trio.open_nursery() as nursery:
                await nursery.start(hub.run)
                await nursery.start(control.run)
                yield control, ws_server, engine
                nursery.cancel_scope.cancel()
        outer.cancel_scope.cancel()
    await store.close()


def test_an_rtp_call_is_registered_with_its_ports_and_hung_up_with_a_notice(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver) as (control, ws,
                                                                              engine):
            account, _ = await control.create_account()
            call = await control.register_call(account, {
                "from": "+15550001", "to": "+15550002", "ingress": "rtp", "codec": "PCMU",
                "hangup_url": receiver.url("/hangup")})
            uuid = call["call_uuid"]
            assert call["status"] == "live" and call["ingress"] == "rtp"
            assert RTP_PORTS[0] <= call["inbound_port"] <= RTP_PORTS[1]
            assert call["inbound_port"] != call["outbound_port"]
            assert uuid in engine.calls
            assert (await control.get_call(account, uuid))["inbound_port"] == call["inbound_port"]
            assert [c["call_uuid"] for c in await control.list_calls(account)] == [uuid]
            other, _ = await control.create_account()
            with pytest.raises(NotFound):
                await control.get_call(other, uuid)
            await trio.sleep(3)
            await control.hangup_call(account, uuid)
            assert uuid not in engine.calls
            [notice] = await receiver.wait_for(1)
            assert notice.target == "/hangup" and notice.method == "POST"
            assert notice.fields["Event"] == "Hangup" and notice.fields["CallUUID"] == uuid
            assert notice.fields["HangupCause"] == "api_request"
            assert notice.fields["From"] == "+15550001" and notice.fields["Duration"] == "3"
            assert notice.headers["x-callback-id"]
            with pytest.raises(NotFound):
                await control.get_call(account, uuid)

    run(main)


def test_rtp_silence_ends_the_call_and_tells_hangup_url(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver,
                                      inactivity_timeout_s=30.0) as (control, ws, engine):
            account, _ = await control.create_account()
            call = await control.register_call(account, {
                "call_uuid": "call-silent", "hangup_url": receiver.url("/hangup")})
            t0 = trio.current_time()
            [notice] = await receiver.wait_for(1)
            assert 30 <= trio.current_time() - t0 < 31
            assert notice.fields["HangupCause"] == "rtp_timeout"
            assert call["call_uuid"] not in engine.calls

    run(main)


def test_answer_url_starts_the_streams_of_its_response(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver) as (control, ws,
                                                                              engine):
            xml = (f'<Response><Stream audioTrack="inbound" contentType="audio/x-mulaw;'
                   f'rate=8000">wss://127.0.0.1:{ws.port}/from-answer</Stream>'
                   f'<Speak>ignored, with a warning</Speak></Response>').encode()
            receiver.statuses.append((200, [("content-type", "application/xml")], xml))
            account, _ = await control.create_account()
            call = await control.register_call(account, {
                "call_uuid": "call-answered", "answer_url": receiver.url("/answer"),
                "from": "+1555"})
            [fetch] = await receiver.wait_for(1)
            assert fetch.target == "/answer" and fetch.fields["CallUUID"] == "call-answered"
            assert fetch.fields["From"] == "+1555"
            with trio.fail_after(60):  # MockClock: virtual seconds
                while not ws.connections or not ws.connections[0].events("media"):
                    await trio.sleep(0.1)
            start = ws.connections[0].messages[0]
            assert start["event"] == "start" and start["start"]["callId"] == call["call_uuid"]
            (stream,) = (await control.list_streams(account, "call-answered", status=None,
                                                    limit=20, offset=0))[0]
            assert stream["service_url"].endswith("/from-answer")
            assert stream["content_type"] == "audio/x-mulaw;rate=8000"

    run(main)


@pytest.mark.parametrize("fields, field", [
    ({"ingress": "webrtc"}, "ingress"),
    ({"codec": "G729"}, "codec"),
    ({"codec": "PCMU", "sample_rate": 16000}, "sample_rate"),
    ({"codec": "L16", "sample_rate": "44100"}, "sample_rate"),
    ({"ingress": "audiosocket", "codec": "PCMU"}, "codec"),
    ({"rtp_remote": "no-port"}, "rtp_remote"),
    ({"rtp_remote": "127.0.0.1:70000"}, "rtp_remote"),
    ({"call_uuid": "bad uuid!"}, "call_uuid"),
    ({"from": ["+1"]}, "from"),
    ({"answer_url": "ftp://example.com/x"}, "answer_url"),
    ({"hangup_url": "http://10.1.2.3/h"}, "hangup_url"),
])
def test_bad_call_fields_are_refused_by_name(certs, tmp_path, fields, field):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver) as (control, _ws,
                                                                              engine):
            account, _ = await control.create_account()
            with pytest.raises(InvalidParameter) as refused:
                await control.register_call(account, fields)
            assert refused.value.field == field
            assert not engine.calls  # nothing was opened

    run(main)


def test_a_call_uuid_in_use_is_refused(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver) as (control, _ws,
                                                                              engine):
            account, _ = await control.create_account()
            await control.register_call(account, {"call_uuid": "twice"})
            with pytest.raises(InvalidParameter, match="already in use") as refused:
                await control.register_call(account, {"call_uuid": "twice"})
            assert refused.value.field == "call_uuid"

    run(main)


def test_an_audiosocket_call_waits_for_asterisk_on_the_listener(certs, tmp_path):
    receiver = Receiver()

    async def main():
        async with plane_with_ingress(certs, tmp_path / "c.db", receiver,
                                      audiosocket_host="127.0.0.1",
                                      audiosocket_port=0) as (control, _ws, engine):
            account, _ = await control.create_account()
            call = await control.register_call(account, {"ingress": "audiosocket"})
            assert call["codec"] == "L16" and call["sample_rate"] == 8000
            assert call["audiosocket_port"] and call["audiosocket_port"] > 0
            assert call["call_uuid"] in engine.calls
            with pytest.raises(InvalidParameter) as refused:  # AudioSocket needs a UUID
                await control.register_call(account, {"ingress": "audiosocket",
                                                      "call_uuid": "not-a-uuid"})
            assert refused.value.field == "call_uuid"

    run(main)
