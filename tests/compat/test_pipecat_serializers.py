"""Pipecat (pipecat-ai 1.14) against mediacore's wire profiles, unchanged: the engine's
messages (made by `make_profile` exactly as the engine makes them) go through Pipecat's
runner detection and its Plivo and Twilio serializers' `deserialize`; what the serializers'
`serialize` sends goes through mediacore's parser. End to end, a Pipecat agent on a
`websockets` server gets a real engine stream's audio and DTMF, and the audio it plays (with
a checkpoint / mark and an interruption) comes out of the call's playback."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import types

import httpx
import pytest
import trio
from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (InputAudioRawFrame, InputDTMFFrame, InterruptionFrame,
                                   OutputAudioRawFrame, OutputTransportMessageUrgentFrame)
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

from mediacore.codec import Format, ulaw_decode, ulaw_encode
from mediacore.wire import Checkpoint, Clear, ClearAudio, Mark, PlayAudio, make_profile
from tests.control.api.helpers import base, wait_for

STREAM, CALL, ACCOUNT = "5b0c1c52-3a2f-4d7e-9a53-2f8f3f1d0c11", "call-7", "MA0123456789ABCDEFGH"
NOW = 1_705_312_200_000


def tone_pcm(ms: int, rate: int = 8000, hz: float = 440.0) -> bytes:
    n = rate * ms // 1000
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * hz * i / rate))
                                   for i in range(n)))


def ulaw_frames(count: int) -> list[bytes]:
    """Distinct 20 ms μ-law frames (a rising tone), so order and content can be checked."""
    pcm = tone_pcm(20 * count, hz=300.0)
    return [ulaw_encode(pcm[i * 320:(i + 1) * 320]) for i in range(count)]


def no_hang_up(cls, rate: int = 8000):
    return cls.InputParams(auto_hang_up=False, sample_rate=rate)


async def setup(serializer, rate: int = 8000):
    await serializer.setup(types.SimpleNamespace(audio_in_sample_rate=rate))
    return serializer


class Messages:
    """What parse_telephony_websocket reads: a websocket with iter_text()."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    async def iter_text(self):
        for message in self.messages:
            yield message


# -- wire level ------------------------------------------------------------------------------

def test_plivo_messages_through_pipecats_runner_and_serializer():
    async def main():
        profile = make_profile("plivo", stream_id=STREAM, call_id=CALL, account_id=ACCOUNT,
                               format=Format.MULAW_8K, extra_headers="lang=en")
        frames = ulaw_frames(3)
        messages = [profile.start(NOW)] + [profile.media("inbound", f, NOW + 20 * i)
                                          for i, f in enumerate(frames)]
        kind, call_data = await parse_telephony_websocket(Messages(messages[:2]))
        assert kind == "plivo"
        assert (call_data.stream_id, call_data.call_id) == (STREAM, CALL)

        serializer = await setup(PlivoFrameSerializer(
            call_data.stream_id, call_data.call_id, params=no_hang_up(PlivoFrameSerializer)))
        for message, frame in zip(messages[1:], frames):
            got = await serializer.deserialize(message)
            assert isinstance(got, InputAudioRawFrame)
            assert (got.sample_rate, got.num_channels) == (8000, 1)
            assert got.audio == ulaw_decode(frame)
        for digit in "0123456789*#":
            got = await serializer.deserialize(profile.dtmf(digit, NOW))
            assert isinstance(got, InputDTMFFrame) and got.button is KeypadEntry(digit)
        assert await serializer.deserialize(profile.played("cp")) is None
        assert await serializer.deserialize(profile.stop("api_request")) is None

        # and back: what Pipecat sends, as mediacore's parser reads it
        pcm = tone_pcm(100)
        play = profile.parse(await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)))
        assert isinstance(play, PlayAudio) and play.format is Format.MULAW_8K
        assert ulaw_decode(play.payload) == ulaw_decode(ulaw_encode(pcm))
        assert play.duration_ms == 100
        # 16 kHz pipeline audio: Pipecat resamples to 8 kHz μ-law (its resampler may hold
        # back the first chunk)
        wideband = [m for m in [await serializer.serialize(OutputAudioRawFrame(
            tone_pcm(100, 16000), 16000, 1)) for _ in range(3)] if m is not None]
        assert wideband
        for message in wideband:
            audio = profile.parse(message)
            assert audio.format is Format.MULAW_8K and 0 < audio.duration_ms <= 200
        assert profile.parse(await serializer.serialize(InterruptionFrame())) == \
            ClearAudio(STREAM)
        checkpoint = await serializer.serialize(OutputTransportMessageUrgentFrame(
            {"event": "checkpoint", "streamId": STREAM, "name": "greeting"}))
        assert profile.parse(checkpoint) == Checkpoint("greeting", STREAM)
    asyncio.run(main())


def test_twilio_messages_through_pipecats_runner_and_serializer():
    async def main():
        profile = make_profile("twilio", stream_id=STREAM, call_id=CALL, account_id=ACCOUNT,
                               extra_headers="from_number=+15550001,lang=en")
        frames = ulaw_frames(3)
        messages = profile.opening(NOW) + [profile.media("inbound", f, NOW + 20 * i)
                                           for i, f in enumerate(frames)]
        kind, call_data = await parse_telephony_websocket(Messages(messages[:2]))
        assert kind == "twilio"
        assert (call_data.stream_id, call_data.call_id) == (STREAM, CALL)
        assert call_data.body == {"from_number": "+15550001", "lang": "en"}

        serializer = await setup(TwilioFrameSerializer(
            call_data.stream_id, call_data.call_id, params=no_hang_up(TwilioFrameSerializer)))
        for message, frame in zip(messages[2:], frames):
            got = await serializer.deserialize(message)
            assert isinstance(got, InputAudioRawFrame) and got.sample_rate == 8000
            assert got.audio == ulaw_decode(frame)
        got = await serializer.deserialize(profile.dtmf("7", NOW))
        assert isinstance(got, InputDTMFFrame) and got.button is KeypadEntry.SEVEN

        pcm = tone_pcm(60)
        play = profile.parse(await serializer.serialize(OutputAudioRawFrame(pcm, 8000, 1)))
        assert isinstance(play, PlayAudio) and play.format is Format.MULAW_8K
        assert play.duration_ms == 60
        assert profile.parse(await serializer.serialize(InterruptionFrame())) == Clear()
        mark = await serializer.serialize(OutputTransportMessageUrgentFrame(
            {"event": "mark", "streamSid": STREAM, "mark": {"name": "m1"}}))
        assert profile.parse(mark) == Mark("m1")
    asyncio.run(main())


# -- end to end ------------------------------------------------------------------------------

class PipecatAgent:
    """A Pipecat-serializer agent on a `websockets` server, as a voice agent runs it: the
    first message tells the provider and ids (Pipecat's runner), media and DTMF go through
    `deserialize`; after `listen` audio frames it plays `reply` and a checkpoint (plivo) or
    mark (twilio), then, once that is reported played, more audio and an interruption."""

    def __init__(self, protocol: str, reply: bytes, listen: int = 10) -> None:
        self.protocol, self.reply, self.listen = protocol, reply, listen
        self.audio: list[InputAudioRawFrame] = []
        self.dtmf: list[str] = []
        self.received: list[dict] = []
        self.sent: list[dict] = []
        self.kind = None

    async def handler(self, ws) -> None:
        first = [await ws.recv() for _ in range(2)]
        self.kind, data = await parse_telephony_websocket(Messages(first))
        cls = PlivoFrameSerializer if self.kind == "plivo" else TwilioFrameSerializer
        serializer = await setup(cls(data.stream_id, data.call_id, params=no_hang_up(cls)))
        mark = ({"event": "checkpoint", "streamId": data.stream_id, "name": "reply-done"}
                if self.kind == "plivo" else
                {"event": "mark", "streamSid": data.stream_id, "mark": {"name": "reply-done"}})

        async def send(frame):
            message = await serializer.serialize(frame)
            self.sent.append(json.loads(message))
            await ws.send(message)

        await self.on_message(first[-1], serializer, send, mark)
        async for message in ws:
            await self.on_message(message, serializer, send, mark)

    async def on_message(self, message, serializer, send, mark) -> None:
        self.received.append(json.loads(message))
        frame = await serializer.deserialize(message)
        if isinstance(frame, InputAudioRawFrame):
            self.audio.append(frame)
            if len(self.audio) == self.listen:
                await send(OutputAudioRawFrame(self.reply, 8000, 1))
                await send(OutputTransportMessageUrgentFrame(mark))
        elif isinstance(frame, InputDTMFFrame):
            self.dtmf.append(frame.button.value)
        if self.received[-1]["event"] in ("playedStream", "mark"):
            await send(OutputAudioRawFrame(tone_pcm(2000, hz=1000.0), 8000, 1))
            await send(InterruptionFrame())


async def read_playback_until(engine, call: str, wanted: bytes, limit_s: float = 10.0):
    """The call's playback from now until it contains `wanted` (or the time limit)."""
    played = bytearray()
    with trio.move_on_after(limit_s):
        while wanted not in played:
            played += await engine.read_playback(call)
    return bytes(played)


@pytest.mark.parametrize("protocol", ["plivo", "twilio"])
def test_a_pipecat_agent_on_a_real_bidirectional_stream(live, account, asyncio_servers,
                                                        protocol):
    reply = tone_pcm(400, hz=600.0)
    agent = PipecatAgent(protocol, reply)
    port = asyncio_servers.serve(agent.handler)
    call = live.open_call(account, "audio/x-mulaw;rate=8000")
    with httpx.Client(base_url=live.http_url, timeout=10) as http:
        started = http.post(f"{base(account)}/Call/{call}/Stream/", headers=account.headers,
                            json={"service_url": f"wss://127.0.0.1:{port}/pipecat",
                                  "bidirectional": True, "protocol": protocol,
                                  "content_type": "audio/x-mulaw;rate=8000"})
        assert started.status_code == 202, started.text
        stream_id = started.json()["stream_id"]
        wait_for(lambda: agent.kind, what="the agent to see the stream")
        frames = ulaw_frames(25)
        heard_before_feed = len(agent.audio)
        live.run_sync(live.running.engine.feed, call, "inbound", b"".join(frames))
        live.run_sync(live.running.engine.send_dtmf, call, "5")

        # what Pipecat played comes out of the call, byte for byte (μ-law in, μ-law call)
        wait_for(lambda: agent.sent, what="the agent's reply")
        payload = base64.b64decode(agent.sent[0]["media"]["payload"])
        assert len(payload) == 3200
        played = live.run(read_playback_until, live.running.engine, call, payload)
        assert payload in played
        # the checkpoint / mark is reported once played; the interruption clears the rest
        wait_for(lambda: any(m["event"] == ("clearedAudio" if protocol == "plivo" else "mark")
                             and m is not agent.received[0] for m in agent.received[-3:])
                 and len(agent.sent) == 4, what="the checkpoint and the interruption")
        wait_for(lambda: agent.dtmf, what="the DTMF digit")
        # hang up only once the fed audio had time to reach the agent (a loaded machine ticks
        # late: the 25 frames take 25 ticks after the feed, whenever those run)
        wait_for(lambda: len(agent.audio) >= heard_before_feed + len(frames) + 2,
                 what="the fed audio to reach the agent")
        http.delete(f"{base(account)}/Call/{call}/", headers=account.headers)

    assert agent.kind == protocol
    assert agent.dtmf == ["5"]
    assert all(f.sample_rate == 8000 and len(f.audio) == 320 for f in agent.audio)
    # every fed frame reached the agent, whole and in order (checked frame by frame, so a
    # failure names the frames; once in a full-suite run the contiguous check failed and
    # could not be reproduced: this tells loss from anything else)
    received = [bytes(f.audio) for f in agent.audio]
    fed = [ulaw_decode(f) for f in frames]
    at, missing = 0, []
    for n, frame in enumerate(fed):
        try:
            at = received.index(frame, at) + 1
        except ValueError:
            missing.append(n)
    assert not missing, (f"fed frames {missing} of {len(fed)} did not reach the agent in "
                         f"order; {len(received)} frames received")
    events = [m["event"] for m in agent.received]
    if protocol == "plivo":
        assert [m["name"] for m in agent.received if m["event"] == "playedStream"] == \
            ["reply-done"]
        assert "clearedAudio" in events
    else:
        assert [m["mark"]["name"] for m in agent.received if m["event"] == "mark"] == \
            ["reply-done"]
    assert [m["event"] for m in agent.sent] == (
        ["playAudio", "checkpoint", "playAudio", "clearAudio"] if protocol == "plivo" else
        ["media", "mark", "media", "clear"])
