"""Stream parameters: defaults, every rule of SPEC §2.1, and the message each error shows."""

import pytest

from mediacore.codec import ByteOrder, Format
from mediacore.engine.params import (AudioTrack, CallbackMethod, InvalidParameter, Protocol,
                                     StreamParams, UrlPolicy)

URL = "wss://agent.example.com/stream"
LOOPBACK = UrlPolicy.allowing("127.0.0.0/8", "::1/128", plain_ws=True)


def parse(policy=UrlPolicy(), path=None, **body):
    return StreamParams.parse({"service_url": URL, **body}, policy=policy, path=path)


def refused(field, match, policy=UrlPolicy(), path=None, **body):
    with pytest.raises(InvalidParameter, match=match) as err:
        StreamParams.parse(body, policy=policy, path=path)
    assert err.value.field == field
    message = str(err.value)
    assert field in message, message
    assert message.endswith("."), message
    return message


def test_defaults():
    p = parse()
    assert p == StreamParams(service_url=URL)
    assert (p.bidirectional, p.audio_track, p.stream_timeout, p.content_type, p.protocol,
            p.l16_byte_order, p.max_retries, p.status_callback_method) == (
        False, AudioTrack.INBOUND, 86400, Format.L16_8K, Protocol.PLIVO, ByteOrder.LE, 0,
        CallbackMethod.POST)
    assert p.status_callback_url is None and p.extra_headers is None and p.header_pairs == ()


def test_json_and_form_values_mean_the_same():
    json_body = dict(bidirectional=True, stream_timeout=120, max_retries=3,
                     content_type="audio/x-l16;rate=16000", l16_byte_order="be")
    form_body = dict(bidirectional="true", stream_timeout="120", max_retries="3",
                     content_type="audio/x-l16; rate=16000", l16_byte_order="BE")
    assert parse(**json_body) == parse(**form_body)
    p = parse(**form_body)
    assert p.bidirectional and p.stream_timeout == 120 and p.content_type is Format.L16_16K
    assert p.l16_byte_order is ByteOrder.BE


def test_all_fields():
    p = parse(audio_track="both", status_callback_url="https://cb.example.com/x",
              status_callback_method="get", extra_headers="a=1,b.c=x_y-z", protocol="plivo")
    assert p.audio_track is AudioTrack.BOTH and p.audio_track.tracks == ("inbound", "outbound")
    assert p.status_callback_method is CallbackMethod.GET
    assert p.header_pairs == (("a", "1"), ("b.c", "x_y-z"))
    assert p.service_host == "agent.example.com"


def test_twilio_implies_mulaw():
    assert parse(protocol="twilio").content_type is Format.MULAW_8K
    assert parse(protocol="twilio", content_type="audio/x-mulaw;rate=8000").content_type is Format.MULAW_8K
    refused("content_type", "protocol twilio carries audio/x-mulaw;rate=8000 only",
            service_url=URL, protocol="twilio", content_type="audio/x-l16;rate=8000")


@pytest.mark.parametrize("body, field, match", [
    ({}, "service_url", "service_url is required"),
    ({"service_url": ""}, "service_url", "service_url is required"),
    ({"service_url": 5}, "service_url", "must be a string"),
    ({"service_url": "https://a.example.com"}, "service_url", "must be a wss:// URL"),
    ({"service_url": "ws://a.example.com"}, "service_url", "plain ws:// is not enabled"),
    ({"service_url": "wss://" + "a" * 2050}, "service_url", "at most 2048 characters"),
    ({"service_url": "wss://user:pw@a.example.com/"}, "service_url", "must not contain credentials"),
    ({"service_url": "wss:///path"}, "service_url", "has no host"),
    ({"service_url": "wss://a.example.com:99999/"}, "service_url", "not a valid URL"),
    ({"service_url": "wss://10.1.2.3/"}, "service_url", r"private, loopback or link-local address \(10.1.2.3\)"),
    ({"service_url": "wss://127.0.0.1:8443/"}, "service_url", "private, loopback"),
    ({"service_url": "wss://[::1]/"}, "service_url", "private, loopback"),
    ({"service_url": "wss://[::ffff:192.168.1.1]/"}, "service_url", r"\(192.168.1.1\)"),
    ({"service_url": "wss://169.254.169.254/"}, "service_url", "link-local"),
    ({"service_url": URL, "bidirectional": "yes"}, "bidirectional", "bidirectional must be true or false"),
    ({"service_url": URL, "bidirectional": 1}, "bidirectional", "must be true or false"),
    ({"service_url": URL, "audio_track": "left"}, "audio_track", "audio_track must be one of inbound, outbound, both"),
    ({"service_url": URL, "bidirectional": True, "audio_track": "both"}, "audio_track", "bidirectional streams must use audio_track inbound"),
    ({"service_url": URL, "stream_timeout": 0}, "stream_timeout", "from 1 to 86400"),
    ({"service_url": URL, "stream_timeout": 86401}, "stream_timeout", "from 1 to 86400"),
    ({"service_url": URL, "stream_timeout": "10s"}, "stream_timeout", "whole number of seconds"),
    ({"service_url": URL, "stream_timeout": 1.5}, "stream_timeout", "whole number"),
    ({"service_url": URL, "stream_timeout": True}, "stream_timeout", "whole number"),
    ({"service_url": URL, "status_callback_url": "ftp://x.example.com"}, "status_callback_url", "http:// or https:// URL"),
    ({"service_url": URL, "status_callback_url": "http://192.168.0.9/cb"}, "status_callback_url", "private"),
    ({"service_url": URL, "status_callback_method": "PUT"}, "status_callback_method", "one of GET, POST"),
    ({"service_url": URL, "content_type": "audio/x-l16;rate=44100"}, "content_type", "content_type must be one of"),
    ({"service_url": URL, "content_type": 8000}, "content_type", "content_type must be one of"),
    ({"service_url": URL, "extra_headers": "a=1,b"}, "extra_headers", r"bad pair: 'b'"),
    ({"service_url": URL, "extra_headers": "a b=1"}, "extra_headers", "only letters, digits"),
    ({"service_url": URL, "extra_headers": "a=" + "x" * 600}, "extra_headers", "at most 512 bytes"),
    ({"service_url": URL, "extra_headers": {"a": "1"}}, "extra_headers", "must be a string"),
    ({"service_url": URL, "protocol": "sip"}, "protocol", "protocol must be one of plivo, twilio"),
    ({"service_url": URL, "l16_byte_order": "middle"}, "l16_byte_order", "one of le, be"),
    ({"service_url": URL, "max_retries": 11}, "max_retries", "from 0 to 10"),
    ({"service_url": URL, "max_retries": -1}, "max_retries", "from 0 to 10"),
    ({"service_url": URL, "colour": "red"}, "colour", "Unknown field 'colour'"),
    ({"service_url": URL, "noise_cancellation": "true"}, "noise_cancellation", "noise_cancellation is not supported"),
    ({"service_url": URL, "cx_bot": True}, "cx_bot", "cx_bot is not supported"),
    ({"service_url": URL, "noise_cancellation_level": 3}, "noise_cancellation_level", "is not supported"),
])
def test_each_rule_refuses_with_a_message_naming_the_field(body, field, match):
    refused(field, match, **body)


def test_inert_plivo_options_are_accepted_when_they_ask_for_nothing():
    assert parse(noise_cancellation=False, noise_cancellation_level="", cx_bot="false") == parse()
    assert parse(noise_cancellation=None) == parse()


def test_path_fields_may_repeat_the_path():
    path = {"call_uuid": "c-1"}
    assert parse(path=path, call_uuid="c-1") == parse()
    refused("call_uuid", r"call_uuid in the body \(c-2\) does not match the call_uuid in the path \(c-1\)",
            path=path, service_url=URL, call_uuid="c-2")
    refused("call_uuid", "Unknown field 'call_uuid'", service_url=URL, call_uuid="c-1")


def test_null_optional_fields_mean_absent():
    assert parse(status_callback_url=None, extra_headers=None, max_retries=None) == parse()
    assert parse(status_callback_url="", extra_headers="") == parse()


def test_policy_admits_plain_ws_and_configured_networks():
    p = StreamParams.parse({"service_url": "ws://127.0.0.1:9000/x",
                            "status_callback_url": "http://[::1]:8080/cb"}, policy=LOOPBACK)
    assert p.service_url == "ws://127.0.0.1:9000/x"
    refused("service_url", "private", policy=LOOPBACK, service_url="wss://10.0.0.1/")


def test_host_names_are_left_for_the_engine_to_resolve():
    assert parse(service_url="wss://localhost:8443/x").service_url == "wss://localhost:8443/x"


@pytest.mark.parametrize("field, url, match", [
    ("service_url", "wss://\u2713.example/", "may hold only printable ASCII"),
    ("service_url", "wss://127.0.0.1/a b", r"' ' \(position 18\)"),
    ("service_url", "wss://127.0.0.1/x\u0000y", "printable ASCII"),
    ("service_url", "wss://a..b.example/", "invalid host name 'a..b.example'"),
    ("service_url", "wss://" + "a" * 64 + ".example/", "1 to 63 characters"),
    ("service_url", "wss://127.0.0.1/ws#part", "must not have a fragment"),
    ("status_callback_url", "http://127.0.0.1/caf\u00e9", "percent-encode"),
    ("status_callback_url", "http://a..b/cb", "invalid host name"),
])
def test_urls_no_request_line_or_lookup_can_carry_are_refused_by_the_engine(field, url, match):
    """An application embedding the engine gets the REST API's URL rules and messages."""
    body = {"service_url": "wss://127.0.0.1/ws", field: url}
    refused(field, match, policy=LOOPBACK, **body)


def test_urls_with_a_trailing_root_dot_an_ipv6_host_and_escapes_are_accepted():
    for url in ("wss://agent.example.com./s", "wss://[::1]:8443/s?a=%C3%A9&b=1",
                "wss://xn--bcher-kva.example/s"):
        assert StreamParams.parse({"service_url": url}, policy=LOOPBACK).service_url == url
