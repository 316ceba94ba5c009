"""AudioSocket framing (Asterisk res_audiosocket.c): frames split anywhere across reads,
and every broken rule refused with a message naming it."""

import uuid

import pytest
from hypothesis import given, strategies as st

from mediacore.ingress.audiosocket import (HANGUP, AudioSocketError, Frame, FrameReader, Kind,
                                           encode, encode_uuid)

CALL = "3f2a5c8e-0d1b-4f6a-9c7e-1b2d3e4f5a6b"
STREAM = (encode_uuid(CALL) + encode(Kind.AUDIO, bytes(range(256)) + bytes(64))
          + encode(Kind.DTMF, b"#") + encode(Kind.ERROR, b"\x01") + HANGUP)


def test_the_wire_bytes_are_asteriskss():
    assert HANGUP == b"\x00\x00\x00"
    assert encode_uuid(CALL) == b"\x01\x00\x10" + uuid.UUID(CALL).bytes
    assert encode(Kind.AUDIO, b"\x01\x02")[:3] == b"\x10\x00\x02"


@given(st.lists(st.integers(0, len(STREAM)), max_size=8))
def test_frames_come_out_whole_however_the_bytes_are_split(cuts):
    reader = FrameReader()
    frames = []
    bounds = [0, *sorted(cuts), len(STREAM)]
    for a, b in zip(bounds, bounds[1:]):
        frames += reader.feed(STREAM[a:b])
    assert [f.kind for f in frames] == [Kind.UUID, Kind.AUDIO, Kind.DTMF, Kind.ERROR, Kind.HANGUP]
    assert frames[0].call_id == CALL and frames[2].digit == "#"
    assert frames[1].payload == bytes(range(256)) + bytes(64)
    assert frames[3].describe_error() == "error 0x01 (the caller hung up)"
    assert reader.pending_bytes == 0


@pytest.mark.parametrize("data, message", [
    (b"\x02\x00\x06abcdef", "unknown frame kind 0x02"),
    (b"\x13\x00\x02ab", "24000 Hz"),
    (b"\x01\x00\x0fabc", "16 bytes, not 15"),            # refused before its body arrives
    (b"\x03\x00\x02", "1 byte, not 2"),
    (b"\x03\x00\x01x", "not a digit"),
    (b"\x10\x00\x03abc", "whole 16-bit samples"),
    (b"\x10\x00\x00", "whole 16-bit samples"),
])
def test_broken_frames_are_refused_with_their_problem_named(data, message):
    with pytest.raises(AudioSocketError, match=message):
        FrameReader().feed(data)


def test_a_16_khz_audio_frame_has_its_own_kind():
    (frame,) = FrameReader().feed(encode(Kind.AUDIO_SLIN16, bytes(640)))
    assert frame == Frame(Kind.AUDIO_SLIN16, bytes(640))
