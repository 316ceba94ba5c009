"""Shared pieces of the ingress tests: a running hub beside an engine and a recording TLS
WebSocket server, a UDP peer, RTP packets of known audio."""

from __future__ import annotations

import base64
import contextlib
import json

import trio

from mediacore.engine import IngressHub
from mediacore.ingress.rtp import build
from tests.engine.helpers import serving


@contextlib.asynccontextmanager
async def hub_serving(certs, behaviour=None, **hub_kwargs):
    """(server, engine, hub, ended): `ended` lists the on_call_ended calls."""
    ended = []
    hub_kwargs.setdefault("rtp_host", "127.0.0.1")
    hub_kwargs.setdefault("rtp_ports", (42000, 42999))
    async with serving(certs, behaviour) as (server, engine):
        hub = IngressHub(engine, on_call_ended=lambda c, r: ended.append((c, r)), **hub_kwargs)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(hub.run)
                yield server, engine, hub, ended
                nursery.cancel_scope.cancel()
        finally:
            while _peers:
                _peers.pop().close()


_peers: list = []  # the test's UDP peers, closed when its hub_serving block ends


async def udp_peer(host: str = "127.0.0.1"):
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
    await sock.bind((host, 0))
    _peers.append(sock)
    return sock


def media_payloads(conn) -> list[bytes]:
    return [base64.b64decode(m["media"]["payload"]) for m in conn.events("media")]


def play_audio_message(payload: bytes, content_type="audio/x-mulaw", rate=8000) -> str:
    return json.dumps({"event": "playAudio",
                       "media": {"contentType": content_type, "sampleRate": rate,
                                 "payload": base64.b64encode(payload).decode()}})


def pcmu_packets(frames: list[bytes], *, ssrc=0x1234, seq0=100, ts0=5000, pt=0) -> list[bytes]:
    out = []
    ts = ts0
    for i, frame in enumerate(frames):
        out.append(build(pt, (seq0 + i) & 0xFFFF, ts & 0xFFFFFFFF, ssrc, frame, marker=i == 0))
        ts += len(frame)
    return out


def distinct_frames(n: int, size: int = 160) -> list[bytes]:
    """μ-law frames whose constant byte says which frame it is (never the silence codes)."""
    return [bytes([0x10 + i % 0x60]) * size for i in range(n)]
