"""RTP ingress through the hub, on MockClock with real UDP sockets on loopback and a real
TLS WebSocket server: audio and key presses reach the stream, bad packets are counted and
change nothing, playback and sendDTMF leave as correct RTP, silence ends the call."""

import json

import pytest
import trio

from mediacore.engine import DtmfRequested, EngineFull
from mediacore.ingress.rtp import build, parse
from mediacore.ingress.telephone_event import encode_event, parse_event
from tests.engine.conftest import run_mock
from tests.engine.servers import receive_all
from tests.ingress.helpers import (distinct_frames, hub_serving, media_payloads,
                                   pcmu_packets, play_audio_message, udp_peer)

MULAW_STREAM = {"content_type": "audio/x-mulaw;rate=8000"}


def assert_delivered_in_order(got: list[bytes], source: list[bytes], *, discarded: int = 2):
    """The source frames come out in order, each at most once; the adaptive jitter buffer
    may discard a frame or two while it brings its delay down on a clean stream."""
    index = {frame: i for i, frame in enumerate(source)}
    seen = [index[f] for f in got if f in index]
    assert seen == sorted(set(seen)), seen
    assert seen[0] == 0 and seen[-1] == len(source) - 1
    assert len(seen) >= len(source) - discarded, seen


async def send_paced(sock, packets, port, *, interval=0.020):
    start = trio.current_time()
    for i, packet in enumerate(packets):
        await trio.sleep_until(start + i * interval)
        await sock.sendto(packet, ("127.0.0.1", port))


def test_audio_reaches_the_stream_in_order_and_silence_ends_the_call(certs):
    frames = distinct_frames(50)

    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c1", codec="PCMU", sample_rate=8000)
            assert info["rtp_host"] == "127.0.0.1"
            assert 42000 <= info["inbound_port"] <= 42999 and info["inbound_port"] % 2 == 0
            await engine.start_stream("c1", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                             **MULAW_STREAM})
            peer = await udp_peer()
            await trio.sleep(0.1)
            await send_paced(peer, pcmu_packets(frames), info["inbound_port"])
            last_packet = trio.current_time()
            while not ended:
                await trio.sleep(0.5)
            ended_at = trio.current_time()
            await trio.sleep(0.5)
            got = media_payloads(server.connections[0])
            assert ended == [("c1", "rtp_timeout")]
            assert ended_at - last_packet == pytest.approx(30.0, abs=0.5)
            assert engine.calls == {}                           # the engine call is closed
            stop = server.connections[0].events("stop")
            assert stop[0]["stop"]["reason"] == "call_hangup"
            stats_error = None
            try:
                hub.rtp_stats("c1")
            except KeyError as exc:
                stats_error = exc
            assert stats_error is not None
        assert_delivered_in_order(got, frames)
    run_mock(main)


@pytest.mark.parametrize("ptime_ms", [10, 30, 60])
def test_any_ptime_from_10_to_60_ms_comes_out_as_20_ms_frames(certs, ptime_ms):
    frames = distinct_frames(30)
    audio = b"".join(frames)
    size = 8 * ptime_ms

    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c2", codec="PCMU", sample_rate=8000)
            await engine.start_stream("c2", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                             **MULAW_STREAM})
            peer = await udp_peer()
            await trio.sleep(0.1)
            chunks = [audio[i:i + size] for i in range(0, len(audio), size)]
            await send_paced(peer, pcmu_packets(chunks), info["inbound_port"],
                             interval=ptime_ms / 1000)
            await trio.sleep(0.5)
            got = media_payloads(server.connections[0])
            assert hub.rtp_stats("c2").inbound.audio_packets == len(chunks)
        assert_delivered_in_order(got, frames)
    run_mock(main)


def test_l16_16k_arrives_big_endian_and_reaches_the_stream_little_endian(certs):
    import numpy as np
    samples = (np.arange(320 * 20) % 2000 - 1000).astype("<i2")  # 400 ms ramp, 16 kHz

    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c3", codec="L16", sample_rate=16000, payload_type=112)
            await engine.start_stream("c3", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                             "content_type": "audio/x-l16;rate=16000"})
            peer = await udp_peer()
            await trio.sleep(0.1)
            be = samples.astype(">i2").tobytes()
            packets = [build(112, i, i * 320, 9, be[i * 640:(i + 1) * 640]) for i in range(20)]
            await send_paced(peer, packets, info["inbound_port"])
            await trio.sleep(0.5)
            got = media_payloads(server.connections[0])
        source = [samples[i * 320:(i + 1) * 320].tobytes() for i in range(20)]
        assert_delivered_in_order(got, source)
    run_mock(main)


def key_press(digit_event: int, ts: int, seq0: int, ssrc=0x1234) -> list[bytes]:
    return [build(101, seq0 + k, ts, ssrc,
                  encode_event(digit_event, end=k >= 4, duration=160 * min(k + 1, 5)),
                  marker=k == 0) for k in range(7)]


def test_key_presses_become_one_dtmf_message_each_and_junk_is_counted(certs):
    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c4", codec="PCMU", sample_rate=8000)
            await engine.start_stream("c4", {"service_url": f"wss://127.0.0.1:{server.port}/"})
            peer, intruder = await udp_peer(), await udp_peer()
            port = info["inbound_port"]
            await trio.sleep(0.1)
            packets = (pcmu_packets(distinct_frames(5)) + key_press(5, 6000, 200)
                       + key_press(5, 7000, 207) + key_press(11, 8000, 214))
            junk = [b"\x80\x00", b"\x40" + bytes(171), build(8, 1, 1, 1, bytes(160)),
                    build(0, 1, 1, 1, bytes(100)), bytes([0x80, 200]) + bytes(26)]
            for packet in packets[:3]:
                await peer.sendto(packet, ("127.0.0.1", port))
                await trio.sleep(0.02)
            for j in junk:
                await peer.sendto(j, ("127.0.0.1", port))
            await intruder.sendto(key_press(1, 9000, 1)[0], ("127.0.0.1", port))
            await send_paced(peer, packets[3:], port)
            await trio.sleep(0.3)
            digits = [m["dtmf"]["digit"] for m in server.connections[0].events("dtmf")]
            s = hub.rtp_stats("c4").inbound
        assert digits == ["5", "5", "#"]
        assert (s.audio_packets, s.telephone_event_packets, s.dtmf_digits) == (5, 21, 3)
        assert (s.dropped_truncated_packets, s.dropped_wrong_version_packets,
                s.dropped_unknown_payload_type_packets, s.dropped_bad_payload_size_packets,
                s.dropped_rtcp_packets, s.dropped_foreign_source_packets) == (1, 1, 1, 1, 1, 1)
    run_mock(main)


def test_playback_and_send_dtmf_leave_as_rtp_to_the_learned_source(certs):
    tone = bytes([0x20 + i % 64 for i in range(160 * 10)])  # 200 ms to play

    async def behaviour(conn, ws):
        conn.messages.append(json.loads(await ws.get_message()))  # start
        await ws.send_message(play_audio_message(tone))
        await ws.send_message(json.dumps({"event": "sendDTMF", "dtmf": "9"}))
        await receive_all(conn, ws)

    async def main():
        async with hub_serving(certs, behaviour) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c5", codec="PCMU", sample_rate=8000)
            peer = await udp_peer()
            await peer.sendto(pcmu_packets([b"\x7e" * 160])[0], ("127.0.0.1", info["inbound_port"]))
            await engine.start_stream("c5", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                             "bidirectional": True})
            received = []
            with trio.move_on_after(1.0):
                while True:
                    event = await engine.events.receive()
                    if isinstance(event, DtmfRequested):  # what the control plane does
                        hub.play_dtmf(event.stream.call_id, event.digits)
                        break
            with trio.move_on_after(1.0):
                while True:
                    data = await peer.recv(2048)
                    received.append((trio.current_time(), parse(data)))
            stats = hub.rtp_stats("c5")
            peer_address = peer.getsockname()
        audio = [(t, p) for t, p in received if p.payload_type == 0]
        events = [(t, p) for t, p in received if p.payload_type == 101]
        packets = [p for _, p in received]
        assert len({p.ssrc for p in packets}) == 1
        assert all((b.sequence_number - a.sequence_number) % 65536 == 1
                   for a, b in zip(packets, packets[1:]))
        assert audio[0][1].marker
        # audio ticks are 20 ms apart and timestamps follow the clock (160 per tick)
        for (ta, a), (tb, b) in zip(audio, audio[1:]):
            assert (b.timestamp - a.timestamp) % 2**32 == round((tb - ta) / 0.020) * 160
        played = b"".join(p.payload for _, p in audio if p.payload != b"\xff" * 160)
        assert tone in played or played in tone  # the event muted part of the tone or not
        ev = [parse_event(p.payload) for _, p in events]
        assert [e.event for e in ev] == [9] * 7
        assert [e.duration for e in ev] == [160, 320, 480, 640, 800, 800, 800]
        assert [e.end for e in ev] == [False] * 4 + [True] * 3
        assert [p.marker for _, p in events] == [True] + [False] * 6
        assert len({p.timestamp for _, p in events}) == 1
        assert [round(t - events[0][0], 3) for t, _ in events] == [0, .02, .04, .06, .08, .1, .12]
        assert stats.playback_digits == 1 and stats.remote == peer_address
    run_mock(main)


def test_send_dtmf_without_playback_runs_on_its_own_20_ms_grid_to_rtp_remote(certs):
    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            peer = await udp_peer()
            await hub.open_rtp_call("c6", codec="PCMU", sample_rate=8000,
                                    rtp_remote=peer.getsockname())
            await trio.sleep(0.5)
            t0 = trio.current_time()
            hub.play_dtmf("c6", "1*")
            received = []
            with trio.move_on_after(1.0):
                while True:
                    data = await peer.recv(2048)
                    received.append((trio.current_time() - t0, parse(data)))
        ev = [(round(t, 3), p.timestamp, parse_event(p.payload)) for t, p in received]
        assert [e.event for _, _, e in ev] == [1] * 7 + [10] * 7
        slots = (0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 15, 16)
        # on a 20 ms grid of its own (each sent at most 1 ms after its slot: a playback
        # frame due at the same instant would go first)
        assert all(0 <= t - 0.02 * k <= 0.0011 for (t, _, _), k in zip(ev, slots)), ev
        assert (ev[7][1] - ev[0][1]) % 2**32 == 10 * 160  # the second event 200 ms later
    run_mock(main)


def test_ports_come_from_the_range_and_run_out_with_engine_full(certs):
    async def main():
        async with hub_serving(certs, rtp_ports=(42100, 42107)) as (server, engine, hub, ended):
            a = await hub.open_rtp_call("a", codec="PCMU", sample_rate=8000)
            b = await hub.open_rtp_call("b", codec="L16", sample_rate=8000)
            ports = {a["inbound_port"], a["outbound_port"], b["inbound_port"], b["outbound_port"]}
            assert ports == {42100, 42102, 42104, 42106}
            with pytest.raises(EngineFull, match="no two free RTP ports in 42100-42106"):
                await hub.open_rtp_call("c", codec="PCMU", sample_rate=8000)
            assert "c" not in engine.calls
            hub.close_call("a")                      # hang-up from the API
            assert "a" not in engine.calls and hub.calls() == {"b": "rtp"}
            await trio.sleep(0.1)
            c = await hub.open_rtp_call("c", codec="PCMU", sample_rate=8000)
            assert {c["inbound_port"], c["outbound_port"]} == {a["inbound_port"], a["outbound_port"]}
            engine.close_call("b")                   # closed directly: the hub notices
            await trio.sleep(0.1)
            assert hub.calls() == {"c": "rtp"}
            assert ended == []                       # neither was ended by the ingress
    run_mock(main)


@pytest.mark.parametrize("kwargs, message", [
    (dict(codec="G729", sample_rate=8000), "codec must be PCMU or L16"),
    (dict(codec="PCMU", sample_rate=16000), "PCMU is 8000 Hz"),
    (dict(codec="L16", sample_rate=44100), "sample_rate must be 8000 or 16000"),
    (dict(codec="PCMU", sample_rate=8000, payload_type=8), "PCMU is payload type 0"),
    (dict(codec="L16", sample_rate=8000, payload_type=11), "dynamic payload type"),
    (dict(codec="L16", sample_rate=8000, payload_type=101), "both 101"),
    (dict(codec="PCMU", sample_rate=8000, rtp_remote=("127.0.0.1", 0)), "port must be"),
])
def test_bad_call_parameters_are_refused_by_name(certs, kwargs, message):
    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            with pytest.raises(ValueError, match=message):
                await hub.open_rtp_call("bad", **kwargs)
            assert engine.calls == {} and hub.calls() == {}
    run_mock(main)


def test_the_outbound_port_feeds_the_outbound_track(certs):
    frames = distinct_frames(10)

    async def main():
        async with hub_serving(certs) as (server, engine, hub, ended):
            info = await hub.open_rtp_call("c7", codec="PCMU", sample_rate=8000)
            await engine.start_stream("c7", {"service_url": f"wss://127.0.0.1:{server.port}/",
                                             "audio_track": "outbound", **MULAW_STREAM})
            peer = await udp_peer()
            await trio.sleep(0.1)
            await send_paced(peer, pcmu_packets(frames), info["outbound_port"])
            await trio.sleep(0.3)
            msgs = server.connections[0].events("media")
            assert hub.rtp_stats("c7").outbound.audio_packets == 10
        assert {m["media"]["track"] for m in msgs} == {"outbound"}
        assert_delivered_in_order(media_payloads(server.connections[0]), frames)
    run_mock(main)


def test_stopping_the_hub_frees_ports_and_leaves_engine_calls_to_the_engine(certs):
    from mediacore.engine import IngressHub
    from tests.engine.helpers import engine_for

    async def main():
        async with engine_for(certs) as engine:
            ended = []
            hub = IngressHub(engine, rtp_host="127.0.0.1", rtp_ports=(42200, 42203),
                             on_call_ended=lambda c, r: ended.append((c, r)))
            async with trio.open_nursery() as nursery:
                await nursery.start(hub.run)
                info = await hub.open_rtp_call("s1", codec="PCMU", sample_rate=8000)
                nursery.cancel_scope.cancel()
            assert "s1" in engine.calls and ended == []   # its streams end with `shutdown`
            with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as sock:
                await sock.bind(("127.0.0.1", info["inbound_port"]))  # the port is free
            with pytest.raises(RuntimeError, match="not running"):
                await hub.open_rtp_call("s2", codec="PCMU", sample_rate=8000)
    run_mock(main)
