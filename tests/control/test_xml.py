"""SPEC §5: <Response><Stream> XML to REST fields, safely."""

from __future__ import annotations

import pytest
import trio

from control.xml import XmlError, fetch_answer_xml, parse_response


def test_attributes_map_to_rest_fields_in_order():
    streams = parse_response(
        '<?xml version="1.0"?><Response>'
        '<Stream bidirectional="true" audioTrack="inbound" streamTimeout="120" '
        'statusCallbackUrl="https://cb.example/s" statusCallbackMethod="GET" '
        'contentType="audio/x-l16;rate=16000" extraHeaders="a=1,b=2" keepCallAlive="true" '
        'protocol="plivo" maxRetries="3">  wss://agent.example/ws  </Stream>'
        '<Stream>wss://second.example/</Stream></Response>')
    assert streams == [
        {"bidirectional": "true", "audio_track": "inbound", "stream_timeout": "120",
         "status_callback_url": "https://cb.example/s", "status_callback_method": "GET",
         "content_type": "audio/x-l16;rate=16000", "extra_headers": "a=1,b=2",
         "protocol": "plivo", "max_retries": "3", "service_url": "wss://agent.example/ws"},
        {"service_url": "wss://second.example/"}]


def test_empty_response_starts_nothing():
    assert parse_response("<Response/>") == []


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
                  '<Response><Stream>wss://a/&lol2;</Stream></Response>')
EXTERNAL = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<Response><Stream>&x;</Stream></Response>')
EXTERNAL_DTD = '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd"><Response/>'


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL, EXTERNAL_DTD])
@pytest.mark.parametrize("strict", [True, False])
def test_entities_and_dtds_are_refused(document, strict):
    with pytest.raises(XmlError, match="DOCTYPE.*refused"):
        parse_response(document, strict=strict)


@pytest.mark.parametrize("document, words", [
    ("<Response><Speak>hi</Speak></Response>", "<Speak>"),
    ('<Response><Stream foo="1">wss://a</Stream></Response>', "foo"),
    ("<Response><Stream><Url>wss://a</Url></Stream></Response>", "<Url>"),
    ("<Response><Stream>  </Stream></Response>", "URL"),
    ("<Stream>wss://a</Stream>", "<Response>"),
    ("<Response><Stream>wss://a</Stream>", "well-formed"),
    ("not xml", "well-formed"),
    ('<Response><Stream keepCallAlive="maybe">wss://a</Stream></Response>', "keepCallAlive"),
])
def test_bad_documents_name_the_problem(document, words):
    with pytest.raises(XmlError, match=words.replace("<", "<").replace("(", r"\(")):
        parse_response(document)


def test_lenient_mode_skips_unknown_elements_with_a_warning(caplog):
    streams = parse_response('<Response><Speak>hi</Speak><Stream foo="1" audioTrack="both">'
                             'wss://a/</Stream><Stream><X/></Stream></Response>', strict=False)
    assert streams == [{"audio_track": "both", "service_url": "wss://a/"}]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "<Speak>" in messages and "foo" in messages and "<X>" in messages


def test_namespaced_elements_are_read_by_local_name():
    assert parse_response('<Response xmlns="http://www.plivo.com/xml"><Stream>wss://a/'
                          '</Stream></Response>') == [{"service_url": "wss://a/"}]


async def _answer_server(body: bytes, status: int, task_status=trio.TASK_STATUS_IGNORED):
    """A real HTTP server for answer_url (Hypercorn, plain ASGI app)."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    seen = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        request = await receive()
        seen.append((scope["method"], request.get("body", b"")))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/xml")]})
        await send({"type": "http.response.body", "body": body})

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        task_status.started((binds[0], seen))


def test_fetch_answer_xml_over_http():
    async def main():
        async with trio.open_nursery() as nursery:
            url, seen = await nursery.start(_answer_server, b'<Response><Wait/><Stream '
                                            b'bidirectional="true">wss://a/</Stream></Response>',
                                            200)
            streams = await fetch_answer_xml(url + "/answer", call_fields={"CallUUID": "c1"})
            assert streams == [{"bidirectional": "true", "service_url": "wss://a/"}]
            assert seen == [("POST", b"CallUUID=c1")]
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_fetch_answer_xml_reports_http_errors():
    async def main():
        async with trio.open_nursery() as nursery:
            url, _ = await nursery.start(_answer_server, b"nope", 500)
            with pytest.raises(XmlError, match="HTTP 500"):
                await fetch_answer_xml(url + "/answer")
            nursery.cancel_scope.cancel()
        with pytest.raises(XmlError, match="could not be fetched"):
            await fetch_answer_xml("http://127.0.0.1:9/answer", timeout_s=2)

    trio.run(main)
