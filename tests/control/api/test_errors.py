"""Every error of SPEC §2 over real sockets: the shape {"api_id","error"}, the status, and a
sentence that names the problem (never a framework's default body)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from tests.control.api.helpers import assert_error, base, start, wait_for


def test_basic_auth_works_like_the_headers(client, live, account):
    call = live.open_call(account)
    token = base64.b64encode(f"{account.auth_id}:{account.token}".encode()).decode()
    response = client.get(f"{base(account)}/Call/{call}/Stream/",
                          headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize("headers, words", [
    ({}, "Authentication required"),
    ({"X-Auth-ID": "MAUNKNOWN000000000000", "X-Auth-Token": "x"}, "Wrong auth id"),
    ({"X-Auth-ID": "only-the-id"}, "both"),
    ({"Authorization": "Bearer abc"}, "Basic"),
    ({"Authorization": "Basic !!!"}, "base64"),
    ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "auth_id:auth_token"),
])
def test_missing_or_wrong_credentials_are_401(h1, live, account, headers, words):
    client = h1
    call = live.open_call(account)
    for method, path in [("GET", f"Call/{call}/Stream/"), ("POST", f"Call/{call}/Stream/"),
                         ("DELETE", f"Call/{call}/Stream/"), ("GET", "Usage/Stream/")]:
        response = client.request(method, f"{base(account)}/{path}", headers=headers)
        assert_error(response, 401, words)
        assert response.headers["www-authenticate"].startswith("Basic")


def test_wrong_token_and_no_credentials_are_401(client, live, account):
    response = client.get(f"{base(account)}/Usage/Stream/",
                          headers={"X-Auth-ID": account.auth_id, "X-Auth-Token": "wrong"})
    assert_error(response, 401, "Wrong")
    call = live.open_call(account)
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/",
                             json={"service_url": live.ws_url}), 401, "Authentication required")


def test_invalid_start_fields_are_400(client, live, account):
    call = live.open_call(account)
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             json={"service_url": live.ws_url, "audio_track": "sideways"}),
                 400, "audio_track")
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             data={"service_url": live.ws_url, "volume": "3"}),
                 400, "Unknown field 'volume'")


def test_another_accounts_path_is_404_for_every_resource(client, live, account, other_account):
    call = live.open_call(account)
    stream = start(client, account, call, live.ws_url + "/mine")
    other_call = live.open_call(other_account)
    # valid credentials of `other_account` on `account`'s path: 404, never 401/403
    for method, path in [("GET", f"Call/{call}/Stream/"), ("POST", f"Call/{call}/Stream/"),
                         ("DELETE", f"Call/{call}/Stream/"),
                         ("GET", f"Call/{call}/Stream/{stream}/"),
                         ("DELETE", f"Call/{call}/Stream/{stream}/"), ("GET", "Usage/Stream/"),
                         ("GET", "Call/"), ("POST", "Call/"), ("GET", f"Call/{call}/"),
                         ("DELETE", f"Call/{call}/"), ("POST", f"Call/{call}/Xml/")]:
        response = client.request(method, f"{base(account)}/{path}",
                                  headers=other_account.headers)
        text = assert_error(response, 404)
        assert account.auth_id not in text
    # on its own path, the other account does not see the first account's call either
    response = client.get(f"{base(other_account)}/Call/{call}/Stream/{stream}/",
                          headers=other_account.headers)
    assert_error(response, 404)
    response = client.post(f"{base(other_account)}/Call/{call}/Stream/",
                           headers=other_account.headers, json={"service_url": live.ws_url})
    assert_error(response, 404)
    assert client.get(f"{base(account)}/Call/{call}/Stream/{stream}/",
                      headers=account.headers).json()["status"] != "stopped"
    assert other_call


def test_unknown_call_and_stream_are_404(client, live, account):
    call = live.open_call(account)
    assert_error(client.post(f"{base(account)}/Call/no-such-call/Stream/",
                             headers=account.headers, json={"service_url": live.ws_url}),
                 404, "no-such-call")
    assert_error(client.get(f"{base(account)}/Call/{call}/Stream/no-such-stream/",
                            headers=account.headers), 404, "no-such-stream")
    assert_error(client.delete(f"{base(account)}/Call/{call}/Stream/no-such-stream/",
                               headers=account.headers), 404)


def test_unknown_paths_are_404_and_wrong_methods_405(client, account):
    for path in ("/v1/Nothing", f"{base(account)}/Call/x/Stream/y/z/", "/", "/v2/Account/a/"):
        assert_error(client.get(path, headers=account.headers), 404, "No such resource")
    response = client.put(f"{base(account)}/Call/x/Stream/", headers=account.headers)
    assert_error(response, 405, "PUT", "GET", "POST", "DELETE")
    assert response.headers["allow"] == "DELETE, GET, HEAD, POST"
    response = client.patch(f"{base(account, alias=True)}/Call/x/Stream/y", headers=account.headers)
    assert_error(response, 405)
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    response = client.get(f"{base(account)}/Call/x/Xml/", headers=account.headers)
    assert_error(response, 405)
    assert response.headers["allow"] == "POST"


def test_head_answers_like_get_without_a_body(client, live, account):
    """RFC 9110: HEAD wherever GET is (load balancers and monitors probe with it)."""
    call = live.open_call(account)
    stream = start(client, account, call, live.ws_url + "/head")
    for path in (f"{base(account)}/Call/{call}/Stream/{stream}/", f"{base(account)}/Call/",
                 f"{base(account, alias=True)}/Call/{call}/Stream", f"{base(account)}/Call/{call}",
                 f"{base(account)}/Usage/Stream/"):
        get = client.get(path, headers=account.headers)
        head = client.head(path, headers=account.headers)
        assert (head.status_code, get.status_code) == (200, 200), (path, head.text)
        assert head.content == b""
        assert head.headers["content-type"] == "application/json"
    assert client.head(f"{base(account)}/Call/{call}/Stream/nope/",
                       headers=account.headers).status_code == 404
    assert client.head(f"{base(account)}/Call/").status_code == 401
    assert client.head("/healthz").status_code == 200


@pytest.mark.parametrize("body, words", [
    ({"service_url": "ws-not-a-url"}, "service_url"),
    ({}, "service_url is required"),
    ({"service_url": "wss://x.example/", "audio_track": "sideways"}, "audio_track"),
    ({"service_url": "wss://x.example/", "bidirectional": "yes"}, "bidirectional"),
    ({"service_url": "wss://x.example/", "bidirectional": True, "audio_track": "both"},
     "audio_track"),
    ({"service_url": "wss://x.example/", "stream_timeout": 0}, "stream_timeout"),
    ({"service_url": "wss://x.example/", "content_type": "audio/ogg"}, "content_type"),
    ({"service_url": "wss://x.example/", "extra_headers": "a b=c"}, "extra_headers"),
    ({"service_url": "wss://x.example/", "max_retries": 11}, "max_retries"),
    ({"service_url": "wss://x.example/", "status_callback_method": "PUT"},
     "status_callback_method"),
    ({"service_url": "wss://u:p@x.example/"}, "credentials"),
    ({"service_url": "wss://10.1.2.3/"}, "private"),
    ({"service_url": "wss://x.example/", "volume": 3}, "Unknown field 'volume'"),
    ({"service_url": "wss://x.example/", "noise_cancellation": True}, "noise_cancellation is "
                                                                      "not supported"),
    ({"service_url": "wss://x.example/", "cx_bot": "true"}, "cx_bot is not supported"),
    ({"service_url": "wss://x.example/", "call_uuid": "another"}, "call_uuid"),
])
def test_start_rejects_bad_fields_naming_them(h1, live, account, body, words):
    client = h1
    call = live.open_call(account)
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             json=body), 400, words)
    assert client.get(f"{base(account)}/Call/{call}/Stream/", headers=account.headers
                      ).json()["meta"]["total_count"] == 0


def test_path_echo_and_inert_plivo_options_are_accepted(client, live, account):
    call = live.open_call(account)
    stream = start(client, account, call, live.ws_url, call_uuid=call, noise_cancellation=False,
                   noise_cancellation_level="", cx_bot=None)
    # a body on GET and DELETE, repeating the path's values
    echo = {"call_uuid": call, "stream_id": stream}
    response = client.request("GET", f"{base(account)}/Call/{call}/Stream/{stream}/",
                              headers=account.headers, json=echo)
    assert response.status_code == 200
    response = client.request("GET", f"{base(account)}/Call/{call}/Stream/{stream}/"
                                     f"?call_uuid={call}", headers=account.headers)
    assert response.status_code == 200
    response = client.request("GET", f"{base(account)}/Call/{call}/Stream/{stream}/",
                              headers=account.headers, json={"stream_id": "other"})
    assert_error(response, 400, "stream_id", "does not match")
    response = client.request("DELETE", f"{base(account)}/Call/{call}/Stream/{stream}/",
                              headers=account.headers, data={"stream_id": "nope"})
    assert_error(response, 400, "stream_id")
    response = client.request("DELETE", f"{base(account)}/Call/{call}/Stream/{stream}/",
                              headers=account.headers, data=echo)
    assert response.status_code == 204
    response = client.request("DELETE", f"{base(account)}/Call/{call}/Stream/",
                              headers=account.headers, json={"call_uuid": call, "x": 1})
    assert_error(response, 400, "Unknown field 'x'")


@pytest.mark.parametrize("content, content_type, words", [
    (b"{not json", "application/json", "not valid JSON"),
    (b"[1, 2]", "application/json", "JSON object"),
    (b"service_url=wss://a&service_url=wss://b", "application/x-www-form-urlencoded",
     "more than once"),
    (b"<x/>", "application/xml", "Content-Type"),
    (b"\xff\xfe", "application/x-www-form-urlencoded", "UTF-8"),
])
def test_malformed_bodies_are_400(h1, live, account, content, content_type, words):
    client = h1
    call = live.open_call(account)
    response = client.post(f"{base(account)}/Call/{call}/Stream/", content=content,
                           headers={**account.headers, "Content-Type": content_type})
    assert_error(response, 400, words)


def test_a_body_over_the_limit_is_413(client, live, account):
    call = live.open_call(account)
    limit = live.settings.body_limit_bytes
    big = json.dumps({"service_url": live.ws_url, "extra_headers": "a=" + "b" * limit})
    response = client.post(f"{base(account)}/Call/{call}/Stream/", content=big,
                           headers={**account.headers, "Content-Type": "application/json"})
    assert_error(response, 413, str(limit))

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(limit // 1000 + 2):
            yield b" " * 1000

    response = client.post(f"{base(account)}/Call/{call}/Stream/", content=chunks(),
                           headers={**account.headers, "Content-Type": "application/json"})
    assert_error(response, 413)


def test_second_stream_to_the_same_url_and_second_bidirectional_are_400(client, live, account):
    call = live.open_call(account)
    start(client, account, call, live.ws_url + "/same", bidirectional=True)
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             json={"service_url": live.ws_url + "/same"}), 400, "service_url")
    assert_error(client.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                             json={"service_url": live.ws_url + "/other",
                                   "bidirectional": True}), 400, "bidirectional")


def test_usage(client, live, account):
    response = client.get(f"{base(account)}/Usage/Stream/?from=2020-01-01&to=2100-01-01T00:00Z",
                          headers=account.headers)
    assert response.status_code == 200
    usage = response.json()
    assert {"api_id", "streams", "bill_duration", "rounded_bill_duration",
            "billed_amount"} <= set(usage)
    assert_error(client.get(f"{base(account)}/Usage/Stream/?from=yesterday",
                            headers=account.headers), 400, "from")
    assert_error(client.get(f"{base(account)}/Usage/Stream/?from=2030-01-01&to=2020-01-01",
                            headers=account.headers), 400, "from")
    assert_error(client.get(f"{base(account)}/Usage/Stream/?since=2020-01-01",
                            headers=account.headers), 400, "since")


def test_health_needs_no_credentials(client, live):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    wait_for(lambda: True)


def test_body_still_arriving_after_an_early_answer_does_not_stop_the_server(client, live):
    """Hypercorn's h2 bug (control/api/h2_fix.py): DATA for a stream already answered."""

    def slow_body():
        yield b'{"service_url": '
        time.sleep(0.2)  # the 401 is sent meanwhile (real sockets: no clock to mock)
        yield b'"wss://x.example/"}'

    for _ in range(2):
        response = client.post("/v1/Account/MA1/Call/c/Stream/", content=slow_body(),
                               headers={"Content-Type": "application/json"})
        assert_error(response, 401)
    assert client.get("/healthz").status_code == 200
