"""Plivo's own Python SDK (plivo 4.63) against a live mediacore daemon: the REST client's six
stream operations parse our responses into its objects, our errors surface as its typed
exceptions, XML built with `plivo.plivoxml` starts streams with its settings, and
`plivo.utils.validate_v3_signature` accepts our status callbacks and WebSocket upgrades."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlsplit

import httpx
import plivo
import pytest
from plivo import exceptions, plivoxml
from plivo.utils import validate_v3_signature

from mediacore.engine.handshake import signature as spec_signature
from tests.control.api.helpers import base, register_call, wait_for


@pytest.fixture
def http(live):
    with httpx.Client(base_url=live.http_url, timeout=10) as client:
        yield client


def connection_of(recorder, stream_id):
    return next((c for c in recorder.connections
                 if c.messages and c.messages[0]["start"]["streamId"] == stream_id), None)


def test_sdk_starts_gets_lists_and_stops_streams(live, account, http, plivo_client):
    server = live.ws_server()
    call = register_call(http, account)["call_uuid"]            # POST Call/, RTP ingress
    started = plivo_client.calls.start_stream(
        call, live.wss(server, "/agent"), bidirectional=True, audio_track="inbound",
        stream_timeout=600, content_type="audio/x-mulaw;rate=8000", extra_headers="team=blue",
        status_callback_method="POST")
    assert started.message == "audio streaming started"
    stream_id = started.stream_id
    uuid.UUID(stream_id), uuid.UUID(started.api_id)
    conn = wait_for(lambda: connection_of(server, stream_id), what="the start message")
    assert conn.messages[0]["start"]["callId"] == call

    got = wait_for(lambda: (s := plivo_client.calls.get_details_of_specific_stream(
        call, stream_id)).status == "in-progress" and s, what="in-progress")
    assert isinstance(got, plivo.base.ResponseObject)
    assert (got.stream_id, got.call_uuid, got.account_id) == (stream_id, call, account.auth_id)
    assert got.service_url == live.wss(server, "/agent") and got.bidirectional is True
    assert (got.audio_track, got.stream_timeout, got.content_type, got.extra_headers) == (
        "inbound", 600, "audio/x-mulaw;rate=8000", "team=blue")
    assert got.resource_uri == f"{base(account)}/Call/{call}/Stream/{stream_id}/"

    second = plivo_client.calls.start_stream(call, live.wss(server, "/second"))
    listed = plivo_client.calls.get_all_streams(call)
    assert listed.meta.total_count == 2 and listed.meta.limit == 20 and listed.meta.next is None
    assert sorted(s.stream_id for s in listed.objects) == sorted([stream_id, second.stream_id])

    assert plivo_client.calls.delete_specific_stream(call, stream_id) is None     # 204
    stopped = wait_for(lambda: (s := plivo_client.calls.get_details_of_specific_stream(
        call, stream_id)).status == "stopped" and s, what="the stream to stop")
    assert stopped.stop_reason == "api_request" and stopped.end_time is not None
    wait_for(conn.closed.is_set, what="the close")
    assert conn.messages[-1]["event"] == "stop" and conn.close_code == 1000
    assert plivo_client.calls.delete_specific_stream(call, stream_id) is None     # again: 204

    assert plivo_client.calls.delete_all_streams(call) is None
    wait_for(lambda: plivo_client.calls.get_details_of_specific_stream(
        call, second.stream_id).status == "stopped", what="stop all")
    assert plivo_client.calls.delete_all_streams(call) is None                    # none active
    # the call-level methods Plivo's SDK builds from a Call resource work too
    assert plivo_client.calls.get(call).call_uuid == call
    assert plivo_client.live_calls.get(call).call_uuid == call           # ?status=live
    assert call in plivo_client.live_calls.list_ids().calls              # GET Call/?status=live
    with pytest.raises(exceptions.ValidationError, match="status must be empty or 'live'"):
        plivo_client.request("GET", ("Call", call), {"status": "queued"},
                             is_voice_request=True)
    assert plivo_client.calls.delete(call) is None


def test_sdk_raises_its_typed_exceptions_with_our_messages(live, account, http, plivo_client):
    call = register_call(http, account)["call_uuid"]
    with pytest.raises(exceptions.ValidationError, match="service_url must be a wss://"):
        plivo_client.calls.start_stream(call, "https://agent.example.com/ws")
    with pytest.raises(exceptions.ValidationError, match="audio_track"):
        plivo_client.calls.start_stream(call, live.wss(live.ws_server()), bidirectional=True,
                                        audio_track="both")
    with pytest.raises(exceptions.ValidationError, match="cx_bot"):
        plivo_client.calls.start_stream(call, live.wss(live.ws_server()), cx_bot=True)
    with pytest.raises(exceptions.ResourceNotFoundError, match="does not exist"):
        plivo_client.calls.start_stream(str(uuid.uuid4()), live.wss(live.ws_server()))
    missing = str(uuid.uuid4())
    with pytest.raises(exceptions.ResourceNotFoundError, match=missing):
        plivo_client.calls.get_details_of_specific_stream(call, missing)
    wrong = plivo.RestClient(account.auth_id, "not-the-token")
    with pytest.raises(exceptions.AuthenticationError):
        wrong.calls.get_all_streams(call)
    # an SDK-side false value for Plivo's optional cx_bot asks for nothing: accepted
    assert plivo_client.calls.start_stream(call, live.wss(live.ws_server()),
                                           cx_bot=False).stream_id
    plivo_client.calls.delete(call)


def stream_xml(url: str, **attributes) -> str:
    response = plivoxml.ResponseElement()
    response.add(plivoxml.StreamElement(url, **attributes))
    return response.to_string()


def test_plivoxml_stream_element_starts_a_stream_with_its_settings(live, account, http,
                                                                    plivo_client):
    server, callbacks = live.ws_server(), live.receiver()
    call = register_call(http, account)["call_uuid"]
    xml = stream_xml(live.wss(server, "/xml?agent=7"), bidirectional=True,
                     audioTrack="inbound", streamTimeout=300,
                     contentType="audio/x-l16;rate=16000", extraHeaders="tenant=acme,lang=en",
                     statusCallbackUrl=callbacks.url("/status"), statusCallbackMethod="GET",
                     keepCallAlive=True)
    answer = http.post(f"{base(account)}/Call/{call}/Xml/", headers={
        **account.headers, "Content-Type": "application/xml"}, content=xml)
    assert answer.status_code == 202, answer.text
    [stream_id] = answer.json()["stream_ids"]
    conn = wait_for(lambda: connection_of(server, stream_id), what="the start message")
    stream = plivo_client.calls.get_details_of_specific_stream(call, stream_id)
    assert stream.bidirectional is True and stream.audio_track == "inbound"
    assert stream.stream_timeout == 300 and stream.content_type == "audio/x-l16;rate=16000"
    assert stream.sampling_rate == 16000 and stream.extra_headers == "tenant=acme,lang=en"
    assert stream.status_callback_url == callbacks.url("/status")
    assert stream.status_callback_method == "GET"
    start = conn.messages[0]
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-l16", "sampleRate": 16000}
    assert start["extra_headers"] == "tenant=acme,lang=en"
    assert conn.path == "/xml?agent=7"
    assert conn.headers["x-tenant"] == "acme" and conn.headers["x-lang"] == "en"
    media = wait_for(lambda: conn.events("media"), what="media")
    assert len(media[0]["media"]["payload"]) == 856          # 640 bytes of L16 in base64
    plivo_client.calls.delete(call)


def test_answer_url_returning_plivoxml_starts_the_stream(live, account, http, plivo_client):
    server, answer_server = live.ws_server(), live.receiver()
    answer_server.statuses.append((200, [("content-type", "application/xml")], stream_xml(
        live.wss(server), bidirectional=False, audioTrack="both",
        contentType="audio/x-mulaw;rate=8000").encode()))
    call = register_call(http, account, answer_url=answer_server.url("/answer"))["call_uuid"]
    listed = wait_for(lambda: plivo_client.calls.get_all_streams(call).objects,
                      what="the answer_url's stream")
    assert [s.audio_track for s in listed] == ["both"]
    conn = wait_for(lambda: connection_of(server, listed[0].stream_id), what="its start")
    assert conn.messages[0]["start"]["tracks"] == ["inbound", "outbound"]
    plivo_client.calls.delete(call)


# -- signatures ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("path", ["/status", "/status?tenant=acme&b=2"])
def test_status_callbacks_pass_the_sdks_v3_signature_check(live, account, http, plivo_client,
                                                           method, path):
    server, callbacks = live.ws_server(), live.receiver()
    url = callbacks.url(path)
    call = register_call(http, account)["call_uuid"]
    stream_id = plivo_client.calls.start_stream(
        call, live.wss(server), status_callback_url=url,
        status_callback_method=method).stream_id
    wait_for(lambda: callbacks.requests, what="the StartStream callback")
    plivo_client.calls.delete_specific_stream(call, stream_id)
    wait_for(lambda: len(callbacks.requests) >= 2, what="the StopStream callback")
    for request in callbacks.requests[:2]:
        assert request.method == method
        headers = request.headers
        signature, nonce = headers["x-plivo-signature-v3"], headers["x-plivo-signature-v3-nonce"]
        if method == "POST":
            # as Plivo's docs do it: the configured URL and the form fields received
            params = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
            received_url = url
        else:
            # GET: the URL as requested, fields in its query string, no params
            params = None
            received_url = f"http://127.0.0.1:{callbacks.port}{request.target}"
        assert validate_v3_signature(method, received_url, nonce, account.token, signature,
                                     params)
        assert not validate_v3_signature(method, received_url, nonce, "wrong-token",
                                         signature, params)
        assert headers["x-signature-v3"] == signature
    fields = [r.fields for r in callbacks.requests[:2]]
    assert [f["Event"] for f in fields] == ["StartStream", "StopStream"]
    if "tenant" in path:
        assert "tenant=acme" in callbacks.requests[0].target
    plivo_client.calls.delete(call)


@pytest.mark.parametrize("path", ["/agent", "/agent/v2?tenant=acme&lang=en&a=%20b"])
def test_websocket_upgrade_passes_the_sdks_v3_signature_check(live, account, http,
                                                              plivo_client, asyncio_servers,
                                                              path):
    """A `websockets` stream server that checks every upgrade as Plivo's docs tell it to:
    validate_v3_signature("GET", uri, nonce, auth token, X-Plivo-Signature-V3), uri being the
    full URL it was reached at (Plivo's Node stream SDK builds it as https://<Host><target>;
    the Python SDK takes only http(s) URLs). A bad signature is answered 403."""
    checked = []

    def process_request(ws, request):
        headers = request.headers
        uri = f"https://{headers['Host']}{request.path}"
        nonce, sig = headers["X-Plivo-Signature-V3-Nonce"], headers["X-Plivo-Signature-V3"]
        valid = validate_v3_signature("GET", uri, nonce, account.token, sig)
        checked.append((uri, valid, dict(headers.raw_items())))
        return None if valid else ws.respond(403, "bad signature\n")

    messages = []

    async def handler(ws):
        async for message in ws:
            messages.append(message)

    port = asyncio_servers.serve(handler, process_request)
    service_url = f"wss://127.0.0.1:{port}{path}"
    call = register_call(http, account)["call_uuid"]
    stream_id = plivo_client.calls.start_stream(call, service_url).stream_id
    wait_for(lambda: plivo_client.calls.get_details_of_specific_stream(
        call, stream_id).status == "in-progress", what="the stream to connect")
    [(uri, valid, headers)] = checked
    assert valid and uri == "https" + service_url[len("wss"):]
    nonce = headers["X-Plivo-Signature-V3-Nonce"]
    assert not validate_v3_signature("GET", uri, nonce, "wrong-token",
                                     headers["X-Plivo-Signature-V3"])
    # the SPEC's own header keeps the SPEC's formula, with the same nonce
    assert headers["X-Signature-V3-Nonce"] == nonce
    assert headers["X-Signature-V3"] == spec_signature(account.token, service_url, nonce)
    plivo_client.calls.delete(call)
