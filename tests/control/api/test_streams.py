"""The six stream operations of SPEC §2.1 over real sockets (HTTP/1.1, h2c, HTTP/2 over TLS),
against the daemon with a real WebSocket server behind the streams."""

from __future__ import annotations

import uuid

import pytest

from tests.control.api.conftest import EXPECTED_VERSION
from tests.control.api.helpers import assert_error, base, start, wait_for


def test_start_retrieve_list_stop(client, live, account):
    call = live.open_call(account)
    response = client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                           json={"service_url": live.ws_url, "audio_track": "both",
                                 "content_type": "audio/x-mulaw;rate=8000",
                                 "extra_headers": "a=1,b=2"})
    assert response.http_version == EXPECTED_VERSION[client.kind]
    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "audio streaming started"
    stream_id = body["stream_id"]
    uuid.UUID(body["api_id"])

    got = client.get(f"{base(account)}/Call/{call}/Stream/{stream_id}/", headers=account.headers)
    assert got.status_code == 200
    stream = got.json()
    assert stream["stream_id"] == stream_id and stream["call_uuid"] == call
    assert stream["audio_track"] == "both" and stream["extra_headers"] == "a=1,b=2"
    assert stream["content_type"] == "audio/x-mulaw;rate=8000"
    assert stream["status"] in ("initiated", "in-progress")
    assert stream["api_id"] != body["api_id"]

    # the stream really reaches the WebSocket server
    wait_for(lambda: any(c.messages and c.messages[0]["start"]["streamId"] == stream_id
                         for c in live.recorder.connections), what="the start message")

    listed = client.get(f"{base(account)}/Call/{call}/Stream/", headers=account.headers)
    assert listed.status_code == 200
    page = listed.json()
    assert page["meta"] == {"limit": 20, "offset": 0, "total_count": 1, "next": None,
                            "previous": None}
    assert [s["stream_id"] for s in page["objects"]] == [stream_id]

    stopped = client.delete(f"{base(account)}/Call/{call}/Stream/{stream_id}/",
                            headers=account.headers)
    assert stopped.status_code == 204 and stopped.content == b""
    ended = wait_for(lambda: (s := client.get(f"{base(account)}/Call/{call}/Stream/{stream_id}",
                                              headers=account.headers).json())["status"]
                     == "stopped" and s, what="the stream to end")
    assert ended["stop_reason"] == "api_request"
    conn = next(c for c in live.recorder.connections
                if c.messages and c.messages[0]["start"]["streamId"] == stream_id)
    wait_for(conn.closed.is_set, what="the WebSocket close")
    assert conn.messages[-1]["event"] == "stop" and conn.close_code == 1000
    # stopping an ended stream is still 204
    again = client.delete(f"{base(account)}/Call/{call}/Stream/{stream_id}",
                          headers=account.headers)
    assert again.status_code == 204


def test_stop_all_and_both_bases_with_and_without_slash(client, live, account):
    call = live.open_call(account)
    first = start(client, account, call, live.ws_url + "/one")
    second = start(client, account, call, live.ws_url + "/two", bidirectional=True)
    for path in (f"/v1/Account/{account.auth_id}/Call/{call}/Stream/{first}/",
                 f"/v1/Account/{account.auth_id}/Call/{call}/Stream/{first}",
                 f"/api/v1/Account/{account.auth_id}/Call/{call}/Stream/{first}/",
                 f"/api/v1/Account/{account.auth_id}/Call/{call}/Stream/{first}"):
        response = client.get(path, headers=account.headers)
        assert response.status_code == 200, path  # never a redirect
        assert response.json()["stream_id"] == first
    response = client.delete(f"{base(account, alias=True)}/Call/{call}/Stream",
                             headers=account.headers)
    assert response.status_code == 204
    wait_for(lambda: all(s["status"] == "stopped" for s in client.get(
        f"{base(account)}/Call/{call}/Stream", headers=account.headers).json()["objects"]),
        what="both streams to stop")
    # none active: still 204
    assert client.delete(f"{base(account)}/Call/{call}/Stream/",
                         headers=account.headers).status_code == 204
    objects = client.get(f"{base(account)}/Call/{call}/Stream/", headers=account.headers
                         ).json()["objects"]
    assert {s["stream_id"] for s in objects} == {first, second}
    assert {s["stop_reason"] for s in objects} == {"api_request"}


def test_form_body_and_string_booleans(client, live, account):
    call = live.open_call(account)
    response = client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                           data={"service_url": live.ws_url, "bidirectional": "true",
                                 "stream_timeout": "60", "max_retries": "2"})
    assert response.status_code == 202, response.text
    stream = client.get(f"{base(account)}/Call/{call}/Stream/{response.json()['stream_id']}/",
                        headers=account.headers).json()
    assert stream["bidirectional"] is True and stream["stream_timeout"] == 60
    # JSON "true" (a string) is the same as true
    other = start(client, account, call, live.ws_url + "/x", bidirectional="false")
    assert client.get(f"{base(account)}/Call/{call}/Stream/{other}/",
                      headers=account.headers).json()["bidirectional"] is False


def test_list_pagination_and_status_filter(client, live, account):
    call = live.open_call(account)
    ids = [start(client, account, call, f"{live.ws_url}/p{i}") for i in range(3)]
    client.delete(f"{base(account)}/Call/{call}/Stream/{ids[0]}/", headers=account.headers)
    first = client.get(f"{base(account, alias=True)}/Call/{call}/Stream/?limit=2&offset=0",
                       headers=account.headers).json()
    assert first["meta"]["total_count"] == 3 and len(first["objects"]) == 2
    assert first["meta"]["next"] == (f"/api/v1/Account/{account.auth_id}/Call/{call}/Stream/"
                                     f"?limit=2&offset=2")
    assert first["meta"]["previous"] is None
    second = client.get(first["meta"]["next"], headers=account.headers).json()
    assert len(second["objects"]) == 1 and second["meta"]["next"] is None
    assert second["meta"]["previous"].endswith("?limit=2&offset=0")
    assert [s["stream_id"] for s in first["objects"] + second["objects"]] == ids
    wait_for(lambda: client.get(f"{base(account)}/Call/{call}/Stream/?status=stopped",
                                headers=account.headers).json()["meta"]["total_count"] == 1,
             what="the stopped stream")
    stopped = client.get(f"{base(account)}/Call/{call}/Stream/?status=stopped&limit=1",
                         headers=account.headers).json()
    assert [s["stream_id"] for s in stopped["objects"]] == [ids[0]]
    everything = client.get(f"{base(account)}/Call/{call}/Stream/?status=",
                            headers=account.headers).json()
    assert everything["meta"]["total_count"] == 3


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("limit=21", "limit"),
                                          ("limit=x", "limit"), ("offset=-1", "offset"),
                                          ("status=running", "status"), ("foo=1", "foo"),
                                          ("limit=1&limit=2", "limit")])
def test_list_rejects_bad_query(h1, live, account, query, field):
    client = h1
    call = live.open_call(account)
    response = client.get(f"{base(account)}/Call/{call}/Stream/?{query}", headers=account.headers)
    assert_error(response, 400, field)
