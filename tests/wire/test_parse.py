"""Server→engine parsing (SPEC §3.2, §3.3): documented messages become events; every broken
message raises WireProtocolError naming the problem."""

from __future__ import annotations

import base64
import json

import pytest

from mediacore.codec import ByteOrder, Format
from mediacore.wire import (CLOSE_MESSAGE_TOO_BIG, MAX_MESSAGE_BYTES, Checkpoint, Clear,
                            ClearAudio, Mark, PlayAudio, PlivoProfile, SendDtmf, Stop,
                            TwilioProfile, WireProtocolError, events, parse_plivo,
                            parse_twilio)

from tests.wire.helpers import load

DOC = load("server_to_engine.json")


def expected_event(spec, byte_order=ByteOrder.LE):
    if spec is None:
        return None
    kind = getattr(events, spec.pop("type"))
    if kind is PlayAudio:
        return PlayAudio(bytes.fromhex(spec["payload_hex"]), Format(spec["format"]), byte_order)
    return kind(**spec)


@pytest.mark.parametrize("message, spec", DOC["plivo"], ids=lambda x: str(x)[:40])
def test_plivo_documented_messages(message, spec):
    assert parse_plivo(json.dumps(message)) == expected_event(dict(spec) if spec else None)
    # bytes in, pretty-printed in: the same event
    assert parse_plivo(json.dumps(message, indent=2).encode()) == \
        expected_event(dict(spec) if spec else None)


@pytest.mark.parametrize("message, spec", DOC["twilio"], ids=lambda x: str(x)[:40])
def test_twilio_documented_messages(message, spec):
    assert parse_twilio(json.dumps(message)) == expected_event(dict(spec) if spec else None)


def test_profiles_parse_with_the_stream_byte_order():
    p = PlivoProfile(stream_id="s", call_id="c", account_id="a", l16_byte_order="be")
    msg = {"event": "playAudio", "media": {"contentType": "audio/x-l16", "sampleRate": 8000,
                                           "payload": base64.b64encode(b"\x00\x01").decode()}}
    event = p.parse(json.dumps(msg))
    assert event == PlayAudio(b"\x00\x01", Format.L16_8K, ByteOrder.BE)
    assert event.samples == 1 and event.duration_ms == 0.125
    t = TwilioProfile(stream_id="s", call_id="c", account_id="a")
    assert t.parse('{"event":"clear","streamSid":"s"}') == Clear()


@pytest.mark.parametrize("rate", [8000, "8000", 8000.0, " 8000 "])
def test_sample_rate_may_be_a_number_or_a_numeric_string(rate):
    msg = {"event": "playAudio", "media": {"contentType": "audio/x-l16", "sampleRate": rate,
                                           "payload": "AAA="}}
    assert parse_plivo(json.dumps(msg)).format is Format.L16_8K


def test_content_type_with_rate_parameter_and_spaces():
    msg = {"event": "playAudio", "media": {"contentType": "audio/x-l16; rate=16000",
                                           "payload": "AAA="}}
    assert parse_plivo(json.dumps(msg)).format is Format.L16_16K


def play(content_type="audio/x-mulaw", rate=8000, payload="/w=="):
    media = {"contentType": content_type, "sampleRate": rate, "payload": payload}
    return json.dumps({"event": "playAudio", "media": media})


WAV = base64.b64encode(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24).decode()

BROKEN = [
    ("{not json", "invalid JSON"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("[1, 2]", "must be a JSON object, not an array"),
    ('"playAudio"', "must be a JSON object, not a string"),
    ("{}", 'missing field "event"'),
    ('{"event": 5}', 'field "event" must be a string'),
    ('{"event": "playAudio"}', 'playAudio: missing field "media"'),
    ('{"event": "playAudio", "media": "x"}', 'field "media" must be an object'),
    ('{"event": "playAudio", "media": {"sampleRate": 8000, "payload": ""}}',
     'missing field "media.contentType"'),
    ('{"event": "playAudio", "media": {"contentType": "audio/x-mulaw", "payload": ""}}',
     'missing field "media.sampleRate"'),
    ('{"event": "playAudio", "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000}}',
     'missing field "media.payload"'),
    (play("audio/wav"), "unsupported content type"),
    (play("audio/x-mulaw", 16000), "unsupported content type"),
    (play("audio/x-l16", 44100), "unsupported content type"),
    (play("audio/x-l16", "fast"), "not a number"),
    (play("audio/x-l16", 8000.5), "not a whole number"),
    (play("audio/x-l16", True), "must be a number or a numeric string"),
    (play("audio/x-l16;rate=8000", 16000), "contradicts"),
    (play(payload="not base64!"), "not valid base64"),
    (play(payload="AAA"), "not valid base64"),
    (play(payload="é"), "not valid base64"),
    (play(payload=5), 'field "media.payload" must be a string'),
    (play("audio/x-l16", payload="AAAA"), "odd number of bytes (3)"),
    (play("audio/x-mulaw", payload=WAV), "WAV file (RIFF header)"),
    (play("audio/x-l16", 16000, payload=WAV), "WAV file (RIFF header)"),
    ('{"event": "checkpoint"}', 'checkpoint: missing field "name"'),
    ('{"event": "checkpoint", "name": 3}', 'field "name" must be a string'),
    ('{"event": "sendDTMF"}', 'sendDTMF: missing field "dtmf"'),
    ('{"event": "sendDTMF", "dtmf": "12x"}', "bad DTMF digit 'x'"),
    ('{"event": "sendDTMF", "dtmf": ""}', "empty"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"event": "x", "n": ' + "1" * 5000 + "}", "invalid JSON"),
]


@pytest.mark.parametrize("data, reason", BROKEN, ids=lambda x: str(x)[:30])
def test_broken_plivo_messages_name_the_problem(data, reason):
    with pytest.raises(WireProtocolError) as info:
        parse_plivo(data)
    assert reason in info.value.reason
    assert not info.value.closes_connection
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("data, reason", [
    ('{"event": "media"}', 'media: missing field "media"'),
    ('{"event": "media", "media": {}}', 'missing field "media.payload"'),
    ('{"event": "media", "media": {"payload": "%%"}}', "not valid base64"),
    ('{"event": "mark", "mark": {}}', 'missing field "mark.name"'),
    ('{"event": "mark"}', 'missing field "mark"'),
])
def test_broken_twilio_messages_name_the_problem(data, reason):
    with pytest.raises(WireProtocolError, match=".") as info:
        parse_twilio(data)
    assert reason in info.value.reason


@pytest.mark.parametrize("parse", [parse_plivo, parse_twilio])
@pytest.mark.parametrize("kind", [str, bytes])
def test_a_message_over_1_mib_closes_with_1009(parse, kind):
    filler = "A" * (MAX_MESSAGE_BYTES - 60)
    fits = json.dumps({"event": "none", "x": filler})
    assert parse(kind(fits) if kind is str else fits.encode()) is None
    big = json.dumps({"event": "none", "x": filler + "A" * 100})
    with pytest.raises(WireProtocolError) as info:
        parse(big if kind is str else big.encode())
    assert info.value.closes_connection and info.value.close_code == CLOSE_MESSAGE_TOO_BIG == 1009
    assert "over the limit" in info.value.reason


def test_multibyte_characters_count_as_bytes_toward_the_limit():
    text = json.dumps({"event": "none", "x": "é" * (MAX_MESSAGE_BYTES // 2)}, ensure_ascii=False)
    assert len(text) < MAX_MESSAGE_BYTES < len(text.encode())
    with pytest.raises(WireProtocolError, match="over the limit"):
        parse_plivo(text)


def test_unknown_events_and_extra_keys_are_ignored():
    assert parse_plivo('{"event": "media", "media": {"payload": "%%"}}') is None
    assert parse_twilio('{"event": "playAudio"}') is None
    assert parse_plivo('{"event": "clearAudio", "streamId": 5, "extra": [1]}') == ClearAudio(None)
    assert parse_plivo('{"event": "stop"}') == Stop(None)
    assert parse_plivo('{"event": "checkpoint", "name": "n", "x": {}}') == Checkpoint("n", None)
    assert parse_twilio('{"event":"mark","mark":{"name":"m","x":1}}') == Mark("m")


def test_lowercase_dtmf_letters_are_accepted_as_upper_case():
    assert parse_plivo('{"event": "sendDTMF", "dtmf": "a*#9"}') == SendDtmf("A*#9")


def test_non_text_input_is_a_protocol_error():
    with pytest.raises(WireProtocolError, match="must be text"):
        parse_plivo(5)  # type: ignore[arg-type]
