"""Hostile or malformed input that once got a 500 or a 202 for a stream that could never
connect: each now gets a 400 naming the problem, and nothing is started."""

from __future__ import annotations

import pytest

from tests.control.api.helpers import assert_error, base, register_call


def _streams(client, account, call) -> int:
    return client.get(f"{base(account)}/Call/{call}/Stream/", headers=account.headers
                      ).json()["meta"]["total_count"]


@pytest.mark.parametrize("content, content_type, words", [
    # thousands of nested brackets fit the body limit but not the JSON parser's stack
    (b"[" * 30000 + b"]" * 30000, "application/json", "nests too deeply"),
    (b'{"a":' * 10000 + b"1" + b"}" * 10000, "application/json", "nests too deeply"),
    # json.loads would keep the second value; a form with a repeated name is 400 already
    (b'{"service_url": "wss://a.example/", "service_url": "wss://b.example/"}',
     "application/json", "service_url is given more than once"),
    # %FF is not UTF-8: it used to become U+FFFD silently
    (b"service_url=wss%3A%2F%2Fa.example%2F%FF", "application/x-www-form-urlencoded",
     "UTF-8"),
], ids=["nested-arrays", "nested-objects", "json-duplicate-name", "form-not-utf8"])
def test_bodies_that_crashed_or_were_misread_are_400(h1, live, account, content,
                                                      content_type, words):
    call = live.open_call(account)
    response = h1.post(f"{base(account)}/Call/{call}/Stream/", content=content,
                       headers={**account.headers, "Content-Type": content_type})
    assert_error(response, 400, words)
    assert _streams(h1, account, call) == 0


@pytest.mark.parametrize("offset", ["100000000000000000000000", "1" * 5000],
                         ids=["past-64-bits", "5000-digits"])
def test_an_offset_past_64_bits_is_400_not_500(h1, live, account, offset):
    call = live.open_call(account)
    response = h1.get(f"{base(account)}/Call/{call}/Stream/?offset={offset}",
                      headers=account.headers)
    assert_error(response, 400, "offset must be a whole number from 0 to 9223372036854775807")
    assert len(response.json()["error"]) < 200  # the value shown is cut short
    # the largest offset is a page past the end, as any offset past the last stream is
    response = h1.get(f"{base(account)}/Call/{call}/Stream/?offset={2**63 - 1}",
                      headers=account.headers)
    assert response.status_code == 200, response.text
    assert response.json()["objects"] == []
    assert response.json()["meta"]["offset"] == 2**63 - 1


@pytest.mark.parametrize("fields, words", [
    ({"service_url": "wss://\u2713.example/"}, "service_url may hold only printable ASCII"),
    ({"service_url": "wss://127.0.0.1/a b"}, "' ' (position 18)"),
    ({"service_url": "wss://127.0.0.1/x\u0000y"}, "'\\x00'"),
    ({"service_url": "wss://127.0.0.1/caf\u00e9"}, "percent-encode"),
    ({"service_url": "wss://a..b.example/"}, "service_url has an invalid host name"),
    ({"service_url": "wss://" + "a" * 64 + ".example/"}, "1 to 63 characters"),
    ({"service_url": "wss://127.0.0.1/ws#part"}, "fragment"),
    ({"service_url": "wss://127.0.0.1/ws", "status_callback_url": "http://\u2713.example/"},
     "status_callback_url may hold only printable ASCII"),
    ({"service_url": "wss://127.0.0.1/ws", "status_callback_url": "http://127.0.0.1/\u2713"},
     "status_callback_url"),
    ({"service_url": "wss://127.0.0.1/ws", "status_callback_url": "http://a..b/cb"},
     "status_callback_url has an invalid host name"),
])
def test_urls_that_cannot_be_used_are_400_at_start(h1, live, account, fields, words):
    call = live.open_call(account)
    response = h1.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                       json=fields)
    assert_error(response, 400, words)
    assert _streams(h1, account, call) == 0


def test_xml_stream_urls_follow_the_same_rules(h1, live, account):
    call = live.open_call(account)
    document = "<Response><Stream>wss://127.0.0.1/caf\u00e9</Stream></Response>"
    response = h1.post(f"{base(account)}/Call/{call}/Xml/", content=document.encode(),
                       headers={**account.headers, "Content-Type": "application/xml"})
    assert_error(response, 400, "service_url may hold only printable ASCII")
    assert _streams(h1, account, call) == 0


@pytest.mark.parametrize("fields, words", [
    ({"answer_url": "http://\u2713.example/answer"}, "answer_url may hold only printable"),
    ({"hangup_url": "http://a..b/hangup"}, "hangup_url has an invalid host name"),
    ({"rtp_remote": "\u2713:5000"}, "rtp_remote has an invalid host name"),
])
def test_call_urls_and_hosts_that_cannot_be_used_are_400(h1, account, fields, words):
    before = h1.get(f"{base(account)}/Call/", headers=account.headers).json()["calls"]
    response = h1.post(f"{base(account)}/Call/", headers=account.headers,
                       json={"ingress": "rtp", **fields})
    assert_error(response, 400, words)
    assert h1.get(f"{base(account)}/Call/", headers=account.headers).json()["calls"] == before
    # the rules admit ordinary values
    register_call(h1, account, rtp_remote="localhost:5000")


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"],
                         ids=["before-year-1", "after-year-9999"])
def test_usage_times_outside_the_calendar_in_utc_are_400(h1, account, when):
    for field in ("from", "to"):
        response = h1.get(f"{base(account)}/Usage/Stream/", params={field: when},
                          headers=account.headers)
        assert_error(response, 400, f"{field} must fall within the years 1 to 9999 in UTC")
