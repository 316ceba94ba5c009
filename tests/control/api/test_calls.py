"""Calls (SPEC §2.3) and XML (SPEC §5) over the API: retrieve, list, hang up, execute XML."""

from __future__ import annotations

import pytest

from tests.control.api.helpers import assert_error, base, start, wait_for

XML = {"Content-Type": "application/xml"}


def test_retrieve_list_and_hang_up(client, live, account):
    call = live.open_call(account)
    got = client.get(f"{base(account)}/Call/{call}/", headers=account.headers)
    assert got.status_code == 200
    assert got.json()["call_uuid"] == call and got.json()["from"] == "+15550001"
    listed = client.get(f"{base(account)}/Call/?limit=20", headers=account.headers).json()
    assert call in [c["call_uuid"] for c in listed["objects"]]
    assert listed["meta"]["total_count"] >= 1
    stream = start(client, account, call, live.ws_url + "/hangup")
    response = client.delete(f"{base(account, alias=True)}/Call/{call}", headers=account.headers)
    assert response.status_code == 204
    ended = wait_for(lambda: (s := client.get(f"{base(account)}/Call/{call}/Stream/{stream}/",
                                              headers=account.headers).json())["status"]
                     == "stopped" and s, what="the stream to end")
    assert ended["stop_reason"] == "call_hangup"
    assert_error(client.get(f"{base(account)}/Call/{call}/", headers=account.headers), 404)
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             json={"service_url": live.ws_url}), 404, call)


def test_execute_xml_starts_the_streams_in_order(client, live, account):
    call = live.open_call(account)
    document = (f'<?xml version="1.0" encoding="UTF-8"?><Response>'
                f'<Stream bidirectional="true" keepCallAlive="true" '
                f'contentType="audio/x-l16;rate=16000" extraHeaders="k=v">{live.ws_url}/a'
                f'</Stream><Stream audioTrack="both" maxRetries="2">{live.ws_url}/b</Stream>'
                f'</Response>')
    response = client.post(f"{base(account)}/Call/{call}/Xml/", content=document, headers={
        **account.headers, **XML})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["message"] == "XML executed" and len(body["stream_ids"]) == 2
    first, second = (client.get(f"{base(account)}/Call/{call}/Stream/{s}/",
                                headers=account.headers).json() for s in body["stream_ids"])
    assert first["service_url"] == f"{live.ws_url}/a" and first["bidirectional"] is True
    assert first["content_type"] == "audio/x-l16;rate=16000" and first["extra_headers"] == "k=v"
    assert second["audio_track"] == "both"


@pytest.mark.parametrize("document, words", [
    ('<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><Response><Stream>&b;'
     '</Stream></Response>', "DOCTYPE"),
    ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><Stream>&x;</Stream>'
     '</Response>', "external"),
    ("<Response><Speak>hello</Speak></Response>", "<Speak>"),
    ("<Response><Stream>", "well-formed"),
    ('<Response><Stream bidirectional="maybe">wss://x.example/</Stream></Response>',
     "bidirectional"),
    ('<Response><Stream audioTrack="both">wss://x.example/a</Stream>'
     '<Stream>ws-bad</Stream></Response>', "service_url"),
])
def test_bad_xml_is_400_and_starts_nothing(h1, live, account, document, words):
    call = live.open_call(account)
    response = h1.post(f"{base(account)}/Call/{call}/Xml/", content=document,
                       headers={**account.headers, **XML})
    assert_error(response, 400, words)
    assert h1.get(f"{base(account)}/Call/{call}/Stream/", headers=account.headers
                  ).json()["meta"]["total_count"] == 0


def test_xml_errors(client, live, account):
    call = live.open_call(account)
    assert_error(client.post(f"{base(account)}/Call/{call}/Xml/", headers=account.headers,
                             json={"xml": "<Response/>"}), 400, "XML")
    assert_error(client.post(f"{base(account)}/Call/{call}/Xml/?call_uuid=other",
                             headers={**account.headers, **XML}, content="<Response/>"),
                 400, "call_uuid")
    assert_error(client.post(f"{base(account)}/Call/nope/Xml/", headers={
        **account.headers, **XML}, content="<Response/>"), 404)
    response = client.post(f"{base(account)}/Call/{call}/Xml", content="<Response/>",
                           headers={**account.headers, **XML})
    assert response.status_code == 202 and response.json()["stream_ids"] == []


def test_register_call_rejects_unknown_fields(client, account):
    assert_error(client.post(f"{base(account)}/Call/", headers=account.headers,
                             json={"ingress": "rtp", "colour": "red"}), 400,
                 "Unknown field 'colour'")
