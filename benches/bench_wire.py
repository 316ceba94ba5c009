"""Wire encoder: one media message built as a complete masked client WebSocket text frame.

Peers, in the same run: mediacore's native encoder (one call: JSON + base64 + header + mask
into a preallocated buffer); json.dumps + base64 + wsproto client framing (what a Python
server-side library stack does); orjson + pybase64 + wsproto. All build the same plivo media
message (same fields, same numbering) for 160 B (μ-law 8 kHz, 20 ms) and 640 B (L16 16 kHz,
20 ms) payloads. Target (issue 4): at most 400 ns per 160 B message.
"""

from __future__ import annotations

import base64
import itertools
import json
import os

import orjson
import pybase64
import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import TextMessage

from benches.conftest import compare
from mediacore.codec import Format
from mediacore.wire import PlivoProfile

STREAM_ID = "20170ada-f610-433b-8758-c02a2aab3662"
EXTRA = "userId=12345,sessionId=abc-xyz"
NOW_MS = 1705312200020
SIZES = {160: Format.MULAW_8K, 640: Format.L16_16K}


def message(seq: int, chunk: int, b64: str) -> dict:
    return {"event": "media", "sequenceNumber": seq, "streamId": STREAM_ID,
            "media": {"track": "inbound", "timestamp": str(NOW_MS), "chunk": chunk,
                      "payload": b64},
            "extra_headers": EXTRA}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_media_frame_mediacore(benchmark, size):
    profile = PlivoProfile(stream_id=STREAM_ID, call_id="c", account_id="MA1",
                           format=SIZES[size], extra_headers=EXTRA)
    profile.start(NOW_MS)
    payload = os.urandom(size)
    buf = bytearray(profile.max_frame_size(size))
    write = profile.media_frame_into
    n = compare(benchmark, f"wire media frame {size} B", "mediacore (native)",
                lambda: write(buf, 0, NOW_MS, payload), unit="message")
    assert buf[0] == 0x81 and buf[1] & 0x80 and n > size


@pytest.mark.parametrize("size", sorted(SIZES))
def test_media_frame_json_base64_wsproto(benchmark, size):
    conn = Connection(ConnectionType.CLIENT)
    payload = os.urandom(size)
    counter = itertools.count(1)

    def build():
        n = next(counter)
        text = json.dumps(message(n, n, base64.b64encode(payload).decode("ascii")),
                          separators=(",", ":"))
        return conn.send(TextMessage(data=text))

    frame = compare(benchmark, f"wire media frame {size} B", "json + base64 + wsproto", build,
                    unit="message")
    assert frame[0] == 0x81 and frame[1] & 0x80


@pytest.mark.parametrize("size", sorted(SIZES))
def test_media_frame_orjson_pybase64_wsproto(benchmark, size):
    conn = Connection(ConnectionType.CLIENT)
    payload = os.urandom(size)
    counter = itertools.count(1)

    def build():
        n = next(counter)
        text = orjson.dumps(message(n, n, pybase64.b64encode_as_string(payload))).decode()
        return conn.send(TextMessage(data=text))

    frame = compare(benchmark, f"wire media frame {size} B", "orjson + pybase64 + wsproto",
                    build, unit="message")
    assert frame[0] == 0x81 and frame[1] & 0x80


def test_tick_both_tracks_mediacore(benchmark):
    """Both tracks of one 20 ms tick back to back into one buffer (one send per fork)."""
    profile = PlivoProfile(stream_id=STREAM_ID, call_id="c", account_id="MA1",
                           tracks=("inbound", "outbound"), extra_headers=EXTRA)
    profile.start(NOW_MS)
    inbound, outbound = os.urandom(160), os.urandom(160)
    buf = bytearray(2 * profile.max_frame_size(160))
    tick = profile.tick_into
    compare(benchmark, "wire tick, 2 x 160 B", "mediacore (native)",
            lambda: tick(buf, NOW_MS, inbound, outbound), units=2, unit="message")
