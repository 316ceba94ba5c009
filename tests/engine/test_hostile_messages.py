"""Broken server→engine messages on bidirectional streams (SPEC §3.2, §3.3), from a real TLS
server: each gets an `error` message naming the problem and the stream keeps running (or,
over 1 MiB, the connection closes with 1009); the call's playback and a healthy twin stream
on the same call are not disturbed."""

import base64
import json

import pytest
import trio

from mediacore.engine.events import AudioCleared, CheckpointPlayed, DtmfRequested
from mediacore.engine.lifecycle import StreamStatus
from tests.engine.conftest import run_mock
from tests.engine.servers import Received, hostile


def play(payload="AAAA", content_type="audio/x-l16", rate=8000, **media):
    return json.dumps({"event": "playAudio", "media": {"contentType": content_type,
                                                       "sampleRate": rate, "payload": payload,
                                                       **media}})


def sending(messages, got: Received):
    """A script: after `start`, send `messages` (str, or raw frame bytes) and record the rest."""
    async def script(stream, ws):
        from wsproto.events import TextMessage
        await got.read(stream, ws, until=lambda m: m["event"] == "start")
        for message in messages:
            await stream.send_all(ws.send(TextMessage(message)))
        await got.read(stream, ws)
    return script


def run_messages(certs, messages, *, protocol="plivo", seconds=1.0):
    """Send `messages` on a bidirectional stream; returns (errors, Received, scene)."""
    got = Received()

    async def main():
        async with hostile(certs, sending(messages, got), bidirectional=True,
                           protocol=protocol) as scene:
            await trio.sleep(seconds)
            assert scene.get().status is StreamStatus.IN_PROGRESS
            # the call's playback runs at real time throughout
        return scene

    scene = run_mock(main)
    assert scene.final.frames_sent == len(got.media)
    stamps = [int(m["media"]["timestamp"]) for m in got.media]
    assert len(got.media) >= seconds * 50 - 2 and all(b > a for a, b in zip(stamps, stamps[1:]))
    return [m["error"] for m in got.events("error")], got, scene


PLIVO_CASES = {
    "invalid base64": (play("@@@"), "payload is not valid base64"),
    "odd byte count for 16-bit PCM": (
        play(base64.b64encode(b"abc").decode()),
        "odd number of bytes (3)"),
    "unknown contentType": (
        play(content_type="audio/ogg"),
        "unsupported content type 'audio/ogg;rate=8000'"),
    "sampleRate 0": (play(rate=0), "unsupported content type 'audio/x-l16;rate=0'"),
    "sampleRate negative": (play(rate=-8000), "audio/x-l16;rate=-8000"),
    "sampleRate 1e9": (play(rate=1e9), "audio/x-l16;rate=1000000000"),
    "sampleRate a string": (play(rate="fast"), "rate 'fast' is not a number"),
    "sampleRate 1e400": (
        play(rate=1e400).replace("Infinity", "1e400"),
        "rate inf is not a whole number"),
    "sampleRate NaN": (play(rate=float("nan")), "rate nan is not a whole number"),
    "sampleRate null": (
        play(rate=None),
        'field "media.sampleRate" must be a number or a numeric string, not null'),
    "missing payload": (
        json.dumps({"event": "playAudio",
                    "media": {"contentType": "audio/x-l16", "sampleRate": 8000}}),
        'playAudio: missing field "media.payload"'),
    "missing media": ('{"event": "playAudio"}', 'playAudio: missing field "media"'),
    "media as a list": (
        '{"event": "playAudio", "media": [1, 2]}',
        'field "media" must be an object, not an array'),
    "event as a number": ('{"event": 7}', 'field "event" must be a string, not a number'),
    "no event": ('{"media": {}}', 'missing field "event"'),
    "deeply nested JSON": ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
    "checkpoint without a name": ('{"event": "checkpoint"}', 'checkpoint: missing field "name"'),
    "checkpoint name a number": (
        '{"event": "checkpoint", "name": 1e400}',
        'field "name" must be a string, not a number'),
    "sendDTMF with invalid digits": (
        '{"event": "sendDTMF", "dtmf": "12x"}',
        "bad DTMF digit 'x' in '12x'"),
    "sendDTMF empty": ('{"event": "sendDTMF", "dtmf": ""}', 'field "dtmf" is empty'),
    "sendDTMF a list": (
        '{"event": "sendDTMF", "dtmf": ["1"]}',
        'field "dtmf" must be a string, not an array'),
    "not an object": ("[1]", "a message must be a JSON object, not an array"),
}


@pytest.mark.parametrize("case", list(PLIVO_CASES))
def test_a_broken_plivo_message_gets_an_error_naming_it(certs, case):
    message, expected = PLIVO_CASES[case]
    errors, got, _ = run_messages(certs, [message])
    assert len(errors) == 1 and expected in errors[0], errors


def test_empty_payload_and_duplicate_keys_are_accepted(certs):
    dup = ('{"event": "checkpoint", "name": "first", "name": "cp"}')
    errors, got, scene = run_messages(certs, [play(""), dup])
    assert errors == []
    assert [m["name"] for m in got.events("playedStream")] == ["cp"]


TWILIO_CASES = {
    "mark without a name": ('{"event": "mark", "mark": {}}', 'mark: missing field "mark.name"'),
    "mark without mark": ('{"event": "mark"}', 'mark: missing field "mark"'),
    "mark name a list": (
        '{"event": "mark", "mark": {"name": []}}',
        'field "mark.name" must be a string, not an array'),
    "media payload not base64": (
        '{"event": "media", "media": {"payload": "!!"}}',
        "payload is not valid base64"),
    "media as a list": (
        '{"event": "media", "media": ["AAAA"]}',
        'field "media" must be an object, not an array'),
}


@pytest.mark.parametrize("case", list(TWILIO_CASES))
def test_a_broken_twilio_message_gets_an_error_naming_it(certs, case):
    message, expected = TWILIO_CASES[case]
    errors, got, _ = run_messages(certs, [message], protocol="twilio")
    assert len(errors) == 1 and expected in errors[0], errors


def test_a_checkpoint_name_of_1_mib_closes_with_1009(certs):
    got = Received()
    big = json.dumps({"event": "checkpoint", "name": "n" * (1 << 20)})

    async def main():
        async with hostile(certs, sending([big], got), bidirectional=True) as scene:
            final = await scene.wait_ended()
        assert final.status is StreamStatus.FAILED and "1 MiB" in final.error
        assert got.close_code == 1009
    run_mock(main)


@pytest.mark.parametrize("protocol", ["plivo", "twilio"])
def test_a_checkpoint_name_over_1024_characters_is_refused(certs, protocol):
    """A 100,000-character name fits in a message, but 10,000 pending ones would hold 1 GB
    (and every playedStream would echo it)."""
    name = "n" * 100_000
    message = (json.dumps({"event": "checkpoint", "name": name}) if protocol == "plivo"
               else json.dumps({"event": "mark", "mark": {"name": name}}))
    errors, got, _ = run_messages(certs, [message, message.replace(name, "ok" * 512)],
                                  protocol=protocol)
    assert len(errors) == 1 and "name of 100000 characters" in errors[0], errors
    assert "at most 1024" in errors[0]
    played = got.events("playedStream") if protocol == "plivo" else got.events("mark")
    names = [m["name"] if protocol == "plivo" else m["mark"]["name"] for m in played]
    assert names == ["ok" * 512]


def test_send_dtmf_with_a_10_kb_string_is_refused(certs):
    got = Received()
    messages = [json.dumps({"event": "sendDTMF", "dtmf": "1" * 10_240}),
                json.dumps({"event": "sendDTMF", "dtmf": "1" * 128})]

    async def main():
        async with hostile(certs, sending(messages, got), bidirectional=True) as scene:
            await trio.sleep(1)
        return scene

    scene = run_mock(main)
    (error,) = got.events("error")
    assert "10240 digits" in error["error"] and "at most 128" in error["error"]
    assert [e.digits for e in scene.events if isinstance(e, DtmfRequested)] == ["1" * 128]


@pytest.mark.parametrize("protocol", ["plivo", "twilio"])
def test_a_clear_flood_is_answered_in_order_and_playback_continues(certs, protocol):
    clear = '{"event": "clearAudio"}' if protocol == "plivo" else '{"event": "clear"}'
    mark = ('{"event": "checkpoint", "name": "m%d"}' if protocol == "plivo"
            else '{"event": "mark", "mark": {"name": "m%d"}}')
    media = (play(base64.b64encode(bytes(1600)).decode(), "audio/x-mulaw", 8000)
             if protocol == "plivo" else
             json.dumps({"event": "media",
                         "media": {"payload": base64.b64encode(bytes(1600)).decode()}}))
    messages = [media, mark % 0] + [clear] * 2_000 + [media, mark % 1]
    errors, got, scene = run_messages(certs, messages, protocol=protocol, seconds=2.0)
    if protocol == "plivo":
        assert len(got.events("clearedAudio")) == 2_000
        assert [m["name"] for m in got.events("playedStream")] == ["m1"]
    else:  # m0 echoed by the first clear (voided), m1 played
        assert [m["mark"]["name"] for m in got.events("mark")] == ["m0", "m1"]
    # every clear is answered; events (status callbacks) only within the stream's budget:
    # 1,000 at once, then 100 a second (report_budget.py), and the server is told
    cleared = sum(isinstance(e, AudioCleared) for e in scene.events)
    assert 1_000 <= cleared <= 1_000 + 100 * 2.5
    assert 1 <= len(errors) <= 3
    assert all(e.startswith("too many checkpoints played and clears: at most 1000 at once")
               for e in errors)


def test_reports_beyond_the_budget_are_not_emitted_and_the_budget_refills(certs):
    """1,500 clears in one write, then after 10 quiet seconds 300 more, then a checkpoint:
    the first 1,000 (and what the budget regains while the burst is read) are reported, the
    rest not, and the server is told; ten seconds later the budget is full again, so
    the 300 clears and the checkpoint are all reported."""
    got = Received()
    clear = '{"event": "clearAudio"}'

    async def script(stream, ws):
        from wsproto.events import TextMessage
        await got.read(stream, ws, until=lambda m: m["event"] == "start")
        await stream.send_all(b"".join(ws.send(TextMessage(clear)) for _ in range(1_500)))
        await got.read(stream, ws, until=lambda m: len(got.events("clearedAudio")) == 1_500)
        await trio.sleep(10)
        await stream.send_all(b"".join(ws.send(TextMessage(clear)) for _ in range(300)))
        await stream.send_all(ws.send(TextMessage(
            '{"event": "checkpoint", "name": "after"}')))
        await got.read(stream, ws)

    async def main():
        async with hostile(certs, script, bidirectional=True) as scene:
            with trio.fail_after(30):
                while not got.events("playedStream"):
                    await trio.sleep(0.1)
        return scene

    scene = run_mock(main)
    assert len(got.events("clearedAudio")) == 1_800
    assert [m["name"] for m in got.events("playedStream")] == ["after"]
    # told at the first report not made (and again at most once a second while they last:
    # once, unless a loaded machine's reads spread the burst over more than a second)
    errors = [m["error"] for m in got.events("error")]
    assert errors[0] == (
        "too many checkpoints played and clears: at most 1000 at once and 100 a second are "
        "reported as status callbacks, and this stream's are over that (1 not reported so "
        "far; the playedStream and clearedAudio replies are still sent)")
    assert all(e.startswith("too many checkpoints played and clears") for e in errors)
    assert [e.name for e in scene.events if isinstance(e, CheckpointPlayed)] == ["after"]
    cleared = sum(isinstance(e, AudioCleared) for e in scene.events)
    # the burst's: the 1,000 the budget held, and the few it regained while the burst was read
    assert 1_000 <= cleared - 300 < 1_200
