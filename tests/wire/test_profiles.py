"""Engine→server messages of both profiles against the documented examples (SPEC §3.1, §3.3;
Plivo's and Twilio's published message shapes), and the numbering rules."""

from __future__ import annotations

import base64
import json

import pytest

from mediacore.codec import Format
from mediacore.wire import PlivoProfile, TwilioProfile, make_profile
from mediacore.wire.profile import parse_extra_headers

from tests.wire.helpers import assert_same_json, load


def run_script(profile, script):
    """Play a documented script against a profile; the messages it produces, in order."""
    out = []
    for step in script:
        op, *args = step
        if op == "connected":
            out.append(profile.connected())
        elif op == "start":
            out.append(profile.start(args[0]))
        elif op == "media":
            track, payload_hex, now_ms = args
            out.append(profile.media(track, bytes.fromhex(payload_hex), now_ms))
        elif op == "media_more":  # frames the documented example leaves out
            for _ in range(args[0]):
                profile.media("inbound", b"\xff" * 160, 1705312200040)
        elif op == "dtmf":
            out.append(profile.dtmf(args[0], args[1]))
        elif op == "played":
            out.append(profile.played(args[0]))
        elif op == "cleared":
            out.extend(profile.cleared())
        elif op == "stop":
            out.append(profile.stop(args[0]))
    return out


@pytest.mark.parametrize("name, cls", [("plivo_engine_to_server.json", PlivoProfile),
                                       ("twilio_engine_to_server.json", TwilioProfile)])
def test_messages_equal_the_documented_examples(name, cls):
    doc = load(name)
    profile = cls(**doc["stream"])
    produced = run_script(profile, doc["script"])
    assert len(produced) == len(doc["messages"])
    for text, expected in zip(produced, doc["messages"]):
        assert_same_json(json.loads(text), expected)
        # one spelling: compact JSON, exactly what json.dumps gives for the documented dict
        assert text == json.dumps(expected, separators=(",", ":"))


def plivo(**kw):
    return PlivoProfile(**{"stream_id": "s-1", "call_id": "c-1", "account_id": "MA1", **kw})


def twilio(**kw):
    return TwilioProfile(**{"stream_id": "MZ1", "call_id": "CA1", "account_id": "AC1", **kw})


def test_plivo_start_never_names_twilio_fields():
    start = json.loads(plivo(extra_headers="a=b").start(0))
    flat = json.dumps(start)
    assert "streamSid" not in flat and "callSid" not in flat
    assert start["start"]["streamId"] == "s-1" and start["start"]["callId"] == "c-1"


@pytest.mark.parametrize("fmt", list(Format))
def test_plivo_start_reports_the_stream_format(fmt):
    media_format = json.loads(plivo(format=fmt).start(0))["start"]["mediaFormat"]
    assert media_format == {"encoding": fmt.encoding, "sampleRate": fmt.sample_rate}


def test_twilio_refuses_formats_other_than_mulaw_8k():
    with pytest.raises(ValueError, match="mulaw;rate=8000 only"):
        twilio(format=Format.L16_16K)


@pytest.mark.parametrize("make", [plivo, twilio])
def test_sequence_numbers_count_every_message_and_survive_a_reconnect(make):
    p = make(tracks=("inbound", "outbound"))
    texts = [p.start(1000), p.media("inbound", b"\x00" * 160, 1020),
             p.media("outbound", b"\x00" * 160, 1020), p.dtmf("#", 1030), p.played("a"),
             *p.cleared(["a"]), p.error("bad"),
             p.start(5000, reconnect=1),  # a new connection: start again, numbering goes on
             p.media("inbound", b"\x00" * 160, 1040), p.stop("remote_close")]
    seqs = [int(json.loads(t)["sequenceNumber"]) for t in texts]
    assert seqs == list(range(1, len(texts) + 1))
    again = json.loads(texts[7])
    assert again["event"] == "start" and again["reconnect"] == 1
    assert "reconnect" not in json.loads(texts[0])
    # chunks count per track from 1 and are not reset by the reconnect either
    media = [json.loads(t)["media"] for t in texts if json.loads(t)["event"] == "media"]
    assert [(m["track"], int(m["chunk"])) for m in media] == [
        ("inbound", 1), ("outbound", 1), ("inbound", 2)]


def test_twilio_connected_takes_no_sequence_number_and_opens_every_connection():
    p = twilio()
    first = [json.loads(t) for t in p.opening(1000)]
    assert [m["event"] for m in first] == ["connected", "start"]
    assert "sequenceNumber" not in first[0] and first[1]["sequenceNumber"] == "1"
    again = [json.loads(t) for t in p.opening(9000, reconnect=2)]
    assert [m["event"] for m in again] == ["connected", "start"]
    assert again[1]["sequenceNumber"] == "2" and again[1]["reconnect"] == 2


def test_plivo_opening_is_just_start_and_plivo_has_no_connected():
    p = plivo()
    assert p.connected() is None
    assert [json.loads(t)["event"] for t in p.opening(0)] == ["start"]


def test_twilio_timestamps_count_from_the_first_start():
    p = twilio()
    p.start(1_700_000_000_000)
    p.start(1_700_000_050_000, reconnect=1)
    m = json.loads(p.media(0, b"\xff", 1_700_000_000_980))
    assert m["media"]["timestamp"] == "980"
    with pytest.raises(ValueError, match="before the stream's origin"):
        p.media(0, b"\xff", 1_699_999_999_999)


def test_plivo_timestamps_are_epoch_milliseconds_as_strings():
    p = plivo()
    p.start(0)
    m = json.loads(p.media("inbound", b"\x01\x02", 1705312200020))
    assert m["media"]["timestamp"] == "1705312200020"
    assert base64.b64decode(m["media"]["payload"]) == b"\x01\x02"
    assert m["extra_headers"] == ""


def test_media_before_start_is_refused_on_both_paths():
    p = plivo()
    with pytest.raises(ValueError, match="start"):
        p.media("inbound", b"", 0)
    with pytest.raises(ValueError, match="no media template"):
        p.media_frame_into(bytearray(100), 0, 0, b"")
    assert p.sequence == 1  # nothing consumed


def test_extra_headers_are_echoed_as_a_string_in_plivo_and_as_custom_parameters_in_twilio():
    p = plivo(extra_headers="k=v,x-y=1.2")
    assert json.loads(p.start(0))["extra_headers"] == "k=v,x-y=1.2"
    assert json.loads(p.dtmf("1", 5))["extra_headers"] == "k=v,x-y=1.2"
    t = twilio(extra_headers="k=v,x-y=1.2")
    assert json.loads(t.start(0))["start"]["customParameters"] == {"k": "v", "x-y": "1.2"}
    assert json.loads(twilio().start(0))["start"]["customParameters"] == {}


def test_extra_headers_parsing():
    assert parse_extra_headers("a=1, b=2,,") == {"a": "1", "b": "2"}
    assert parse_extra_headers(None) == {}
    with pytest.raises(ValueError, match="not key=value"):
        parse_extra_headers("novalue")


def test_twilio_clear_echoes_pending_marks_and_plivo_answers_cleared_audio():
    t = twilio()
    t.start(0)
    echoes = [json.loads(m) for m in t.cleared(["one", "two"])]
    assert [(m["event"], m["mark"]["name"]) for m in echoes] == [("mark", "one"), ("mark", "two")]
    p = plivo()
    p.start(0)
    answers = [json.loads(m) for m in p.cleared(["discarded"])]
    assert [m["event"] for m in answers] == ["clearedAudio"]
    assert "discarded" not in json.dumps(answers)


def test_error_message_shapes():
    p = plivo()
    assert json.loads(p.error("playback buffer full")) == {
        "event": "error", "sequenceNumber": 1, "streamId": "s-1", "error": "playback buffer full"}
    t = twilio()
    assert json.loads(t.error("x"))["sequenceNumber"] == "1"


@pytest.mark.parametrize("make", [plivo, twilio])
@pytest.mark.parametrize("digit", ["", "55", "x", 5, "e"])
def test_bad_dtmf_digits_are_refused_by_the_encoder(make, digit):
    with pytest.raises(ValueError, match="DTMF digit"):
        make().dtmf(digit, 0)


@pytest.mark.parametrize("kw, match", [
    ({"stream_id": ""}, "stream_id"), ({"tracks": ()}, "tracks"),
    ({"tracks": ("inbound", "inbound")}, "tracks"), ({"tracks": ("both",)}, "tracks"),
    ({"format": "audio/wav"}, "unsupported content type"), ({"extra_headers": 5}, "extra_headers"),
    ({"l16_byte_order": "middle"}, "byte order"),
])
def test_bad_stream_parameters_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        plivo(**kw)


def test_tracks_are_reported_inbound_first():
    assert json.loads(plivo(tracks=["outbound", "inbound"]).start(0))["start"]["tracks"] == [
        "inbound", "outbound"]


def test_make_profile():
    assert isinstance(make_profile("twilio", stream_id="a", call_id="b", account_id="c"),
                      TwilioProfile)
    with pytest.raises(ValueError, match="unknown protocol"):
        make_profile("sip", stream_id="a", call_id="b", account_id="c")


def test_non_ascii_ids_are_escaped_the_same_way_everywhere():
    p = plivo(stream_id="strö\"am", extra_headers="k=v")
    p.start(0)
    text = p.media("inbound", b"\x00", 7)
    assert text.isascii()
    assert json.loads(text)["streamId"] == "strö\"am"
