"""The native media frame encoder against independent decoders (wsproto and websockets as
servers): frames decode to exactly the JSON the Python encoder produces, for random payloads,
sequence numbers, timestamps, ids and extra headers; masks present, fresh and random; length
forms right across the 125/126 and 65535/65536 boundaries."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from mediacore._native.wsframe import (MAX_PAYLOAD_BYTES, MediaFrameEncoder, text_frame,
                                       text_frame_into, text_frame_size)
from mediacore.codec import Format
from mediacore.wire import PlivoProfile, TwilioProfile

from tests.wire.decoders import frame_layout, websockets_messages, wsproto_messages

PROFILES = {"plivo": PlivoProfile, "twilio": TwilioProfile}
HEADER_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"


def pair(kind, **kw):
    """Two identical profiles, started: one for the Python encoder, one for the native."""
    args = {"stream_id": "s-1", "call_id": "c-1", "account_id": "A1", **kw}
    a, b = PROFILES[kind](**args), PROFILES[kind](**args)
    a.start(kw.pop("start_ms", 1_705_312_200_000))
    b.start(1_705_312_200_000)
    return a, b


def native_frame(profile, track, now_ms, payload):
    buf = bytearray(profile.frame_size(track, now_ms, len(payload)))
    n = profile.media_frame_into(buf, track, now_ms, payload)
    assert n == len(buf)
    return bytes(buf)


extra_headers = st.lists(
    st.tuples(st.text(HEADER_CHARS, min_size=1, max_size=12),
              st.text(HEADER_CHARS, max_size=20)), max_size=6,
).map(lambda kv: ",".join(f"{k}={v}" for k, v in kv))


@settings(max_examples=150)
@given(kind=st.sampled_from(sorted(PROFILES)),
       payload=st.binary(max_size=1200),
       track=st.sampled_from(["inbound", "outbound"]),
       skip=st.one_of(st.integers(0, 50), st.integers(0, 10**15)),
       chunks=st.integers(0, 5),
       after_ms=st.integers(0, 2**40),
       stream_id=st.text(min_size=1, max_size=40),
       headers=extra_headers)
def test_native_frames_decode_to_the_python_encoders_json(kind, payload, track, skip, chunks,
                                                          after_ms, stream_id, headers):
    python, native = pair(kind, stream_id=stream_id, extra_headers=headers,
                          tracks=("inbound", "outbound"))
    for p in (python, native):
        p._encoder.advance_sequence(skip)
        for _ in range(chunks):
            p.media(track, b"", 1_705_312_200_000)
    now_ms = 1_705_312_200_000 + after_ms
    expected = python.media(track, payload, now_ms)
    frame = native_frame(native, 0 if track == "inbound" else 1, now_ms, payload)
    assert wsproto_messages(frame) == [expected]
    assert websockets_messages(frame) == [expected]
    # numbering moved the same way on both paths
    assert native.sequence == python.sequence and native.chunk(track) == python.chunk(track)
    message = json.loads(expected)
    assert int(message["sequenceNumber"]) == skip + chunks + 2
    assert int(message["media"]["chunk"]) == chunks + 1


@settings(max_examples=60)
@given(kind=st.sampled_from(sorted(PROFILES)), inbound=st.binary(max_size=700),
       outbound=st.binary(max_size=700), now_ms=st.integers(1_705_312_200_000, 2**50))
def test_a_tick_writes_inbound_then_outbound_back_to_back(kind, inbound, outbound, now_ms):
    python, native = pair(kind, tracks=("inbound", "outbound"))
    expected = [python.media("inbound", inbound, now_ms),
                python.media("outbound", outbound, now_ms)]
    buf = bytearray(5 + 2 * native.max_frame_size(max(len(inbound), len(outbound))) + 7)
    n = native.tick_into(buf, now_ms, inbound, outbound, offset=5)
    data = bytes(buf[5:5 + n])
    assert wsproto_messages(data) == expected
    assert websockets_messages(data) == expected
    assert buf[:5] == bytes(5) and buf[5 + n:] == bytes(len(buf) - 5 - n)


def test_frames_and_control_messages_mix_in_one_numbering():
    python, native = pair("plivo", tracks=("inbound", "outbound"))
    buf = bytearray(4096)
    out = bytearray()
    for step in range(3):
        n = native.media_frame_into(buf, 0, 1_705_312_200_020 + step, b"\xff" * 160)
        out += buf[:n]
        out += native.frame(native.played(f"cp{step}"))
    seqs = [json.loads(m)["sequenceNumber"] for m in wsproto_messages(bytes(out))]
    assert seqs == [2, 3, 4, 5, 6, 7]


def boundary_frame(json_len):
    """A twilio media frame whose JSON is exactly `json_len` bytes (the stream id pads it)."""
    now_ms = 1_705_312_200_020
    probe = pair("twilio", stream_id="x")[0]
    base = len(probe.media(0, b"", now_ms)) - 1  # without the stream id's one character
    n = max(0, (json_len - base - 1) // 4 * 3)  # payload bytes, leaving room for padding
    pad = json_len - base - (n + 2) // 3 * 4
    python, native = pair("twilio", stream_id="s" * pad)
    payload = bytes(range(256)) * (n // 256) + bytes(n % 256)
    expected = python.media(0, payload, now_ms)
    assert len(expected) == json_len
    return native_frame(native, 0, now_ms, payload), expected


@pytest.mark.parametrize("json_len, form", [
    (125, 7), (126, 16), (127, 16), (65535, 16), (65536, 64), (65537, 64)])
def test_length_forms_across_the_boundaries(json_len, form):
    frame, expected = boundary_frame(json_len)
    assert frame_layout(frame)[:2] == (form, json_len)
    assert len(frame) == {7: 2, 16: 4, 64: 10}[form] + 4 + json_len
    assert wsproto_messages(frame) == [expected]
    assert websockets_messages(frame) == [expected]


def test_mask_keys_are_present_fresh_and_random():
    _, native = pair("plivo")
    buf = bytearray(native.max_frame_size(160))
    keys = []
    for i in range(3000):  # crosses at least two 1024-key refills of the pool
        native.media_frame_into(buf, 0, 1_705_312_200_020 + i, b"\xff" * 160)
        keys.append(frame_layout(bytes(buf))[2])
    assert len(set(keys)) >= 2990  # 32-bit random keys: a repeat or two by chance at most
    bits = sum(bin(int.from_bytes(k, "big")).count("1") for k in keys)
    assert 0.45 < bits / (32 * len(keys)) < 0.55
    # the masked bytes differ from the JSON: masking was applied
    assert b'"event"' not in bytes(buf)


def test_control_frames_decode_everywhere():
    p = PlivoProfile(stream_id="s", call_id="c", account_id="a")
    texts = [p.start(0), p.played("é ✓"), p.stop("api_request"), "x" * 70000]
    data = b"".join(p.frame(t) for t in texts)
    assert wsproto_messages(data) == texts
    assert websockets_messages(data) == texts
    assert text_frame_size(0) == 6 and len(text_frame(b"")) == 6
    buf = bytearray(100)
    n = text_frame_into(buf, b"hello", offset=3)
    assert n == 11 and wsproto_messages(bytes(buf[3:3 + n])) == ["hello"]


# -- bounds and bad arguments at the Python boundary ---------------------------------------

def started(**kw):
    return pair("plivo", tracks=("inbound", "outbound"), **kw)[1]


def test_too_small_a_buffer_writes_nothing_and_numbers_nothing():
    p = started()
    need = p.frame_size(0, 1_705_312_200_020, 160)
    buf = bytearray(need - 1)
    with pytest.raises(ValueError, match=f"destination buffer too small: {need - 1} bytes, {need}"):
        p.media_frame_into(buf, 0, 1_705_312_200_020, b"\xff" * 160)
    assert buf == bytearray(need - 1) and p.sequence == 2 and p.chunk(0) == 1
    with pytest.raises(ValueError, match="too small"):
        p.media_frame_into(bytearray(need), 0, 1_705_312_200_020, b"\xff" * 160, offset=1)
    two = p.frame_size(0, 1, 160) + p.frame_size(1, 1, 160)
    with pytest.raises(ValueError, match="too small"):
        p.tick_into(bytearray(two), 1_705_312_200_020, b"\xff" * 160, b"\xff" * 160)
    assert p.sequence == 2 and p.chunk(0) == 1 and p.chunk(1) == 1


@pytest.mark.parametrize("call, error, match", [
    (lambda p, b: p.media_frame_into(b, 2, 0, b""), ValueError, "track must be 0"),
    (lambda p, b: p.media_frame_into(b, -1, 0, b""), ValueError, "track must be 0"),
    (lambda p, b: p.media_frame_into(b, 0, 0, b"", offset=-1), ValueError, "offset -1"),
    (lambda p, b: p.media_frame_into(b, 0, 0, b"", offset=5000), ValueError, "offset 5000"),
    (lambda p, b: p.media_frame_into(bytes(4096), 0, 0, b""), TypeError, "writable"),
    (lambda p, b: p.media_frame_into(b, 0, 0, "text"), TypeError, "bytes-like"),
    (lambda p, b: p.media_frame_into(b, 0, 0, memoryview(b)[:160]), ValueError, "overlaps"),
    (lambda p, b: p.media_frame_into(b, "inbound", 0, b""), TypeError, "integer"),
    (lambda p, b: p.frame_size(0, 0, -1), ValueError, "negative"),
    (lambda p, b: p.max_frame_size(MAX_PAYLOAD_BYTES + 1), ValueError, "over the limit"),
    (lambda p, b: p._encoder.set_template(0, (b"",) * 4, b"sct"), ValueError, "5 literals"),
    (lambda p, b: p._encoder.set_template(0, (b"",) * 5, b"ssc"), ValueError, "order"),
    (lambda p, b: p._encoder.advance_sequence(2**63), ValueError, "cannot advance"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    p = started()
    with pytest.raises(error, match=match):
        call(p, bytearray(4096))
    assert p.sequence == 2


def test_negative_timestamps_after_the_origin_are_refused():
    t = pair("twilio")[1]
    with pytest.raises(ValueError, match="before the stream's origin"):
        t.media_frame_into(bytearray(1000), 0, 1_705_312_199_999, b"")
    assert t.sequence == 2


def test_payloads_can_be_any_buffer():
    import array
    p = started()
    for payload in (bytearray(b"\x01" * 4), memoryview(b"\x01" * 8)[::2].tobytes(),
                    array.array("h", [1, 2])):
        buf = bytearray(200)
        n = p.media_frame_into(buf, 0, 1_705_312_200_020, payload)
        (text,) = wsproto_messages(bytes(buf[:n]))
        assert json.loads(text)["media"]["payload"]
    with pytest.raises((ValueError, BufferError, TypeError)):
        p.media_frame_into(bytearray(200), 0, 1_705_312_200_020, memoryview(b"abcd")[::2])


def test_encoder_repr_and_defaults():
    e = MediaFrameEncoder()
    assert e.sequence == 1 and e.chunk(0) == 1 and e.timestamp_origin_ms == 0
    assert "sequence=1" in repr(e)
    assert e.next_sequence() == 1 and e.next_chunk(1) == 1 and e.chunk(1) == 2


@pytest.mark.parametrize("fmt", list(Format))
def test_each_format_profile_round_trips(fmt):
    python, native = pair("plivo", format=fmt)
    payload = bytes(fmt.frame_bytes)
    expected = python.media(0, payload, 1_705_312_200_020)
    assert websockets_messages(native_frame(native, 0, 1_705_312_200_020, payload)) == [expected]


def test_rewind_chunk_reissues_the_chunk_numbers_of_unsent_frames():
    from mediacore.wire import make_profile

    profile = make_profile("plivo", stream_id="s", call_id="c", account_id="a",
                           tracks=("inbound", "outbound"))
    profile.start(1000)
    buf = bytearray(4096)
    for _ in range(3):
        profile.media_frame_into(buf, 0, 1000, bytes(160))
    assert profile.chunk(0) == 4
    profile.rewind_chunk(0, 2)
    assert profile.chunk(0) == 2 and profile.chunk(1) == 1
    with pytest.raises(ValueError, match="cannot rewind track 0 from chunk 2 to 3"):
        profile.rewind_chunk(0, 3)
    with pytest.raises(ValueError, match="cannot rewind"):
        profile.rewind_chunk(1, 0)


ENCODE_EDGES = """
import base64, json, sys
from mediacore.wire import PlivoProfile
from tests.wire.decoders import wsproto_messages
out = []
for n in list(range(131)) + [159, 160, 161, 320, 640, 4099]:
    payload = bytes((i * 151 + n) % 256 for i in range(n))
    p = PlivoProfile(stream_id="s", call_id="c", account_id="A1")
    p.start(0)
    buf = bytearray(p.frame_size(0, 7, n))
    p.media_frame_into(buf, 0, 7, payload)
    (m,) = wsproto_messages(bytes(buf))
    out.append(json.loads(m)["media"]["payload"] == base64.b64encode(payload).decode())
p = PlivoProfile(stream_id="s", call_id="c", account_id="A1")
p.start(0)
buf = bytearray(p.frame_size(0, 0, 1))
p.media_frame_into(buf, 0, 0, b"x")
out.append(json.loads(wsproto_messages(bytes(buf))[0])["media"]["timestamp"] == "0")
for k in range(19):
    for v in {10**k - 1, 10**k, 10**k + 1}:
        if 2 <= v <= 2**62:
            p = PlivoProfile(stream_id="s", call_id="c", account_id="A1")
            p.start(0)
            p._encoder.advance_sequence(v - p.sequence)
            buf = bytearray(p.frame_size(0, v, 1))
            p.media_frame_into(buf, 0, v, b"x")
            (m,) = wsproto_messages(bytes(buf))
            d = json.loads(m)
            out.append((d["sequenceNumber"], d["media"]["timestamp"]) == (v, str(v)))
print(len(out), all(out))
"""


@pytest.mark.parametrize("level", ["baseline", "avx2", "default"])
def test_every_simd_level_encodes_payloads_and_numbers_exactly(level):
    """The base64 kernels (AVX2 and the table) for every length's remainder, and decimal
    numbers on both sides of every power of ten, on each SIMD level this CPU has."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    if level != "default":
        env["MEDIACORE_SIMD"] = level
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "-c", ENCODE_EDGES], env=env, cwd=root,
                          capture_output=True, text=True, check=True).stdout.split()
    assert done == ["193", "True"]
