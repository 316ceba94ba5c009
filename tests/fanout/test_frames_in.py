"""The sink's frame reader against frames built by mediacore's encoder and crafted ones."""

import os

import pytest

from benches.fanout.frames_in import CLOSE, TEXT, FrameError, FrameReader
from mediacore._native.wsframe import text_frame


def masked(opcode, payload, fin=True):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


MESSAGES = [b"x" * 10, b"y" * 125, b"z" * 126, b"w" * 300, b"v" * 70000, b""]


def test_whole_frames_in_one_read():
    data = b"".join(text_frame(m) for m in MESSAGES)
    assert FrameReader().feed(data) == [(TEXT, m) for m in MESSAGES]


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64, 1000])
def test_frames_split_at_any_byte(step):
    data = b"".join(text_frame(m) for m in MESSAGES) + masked(CLOSE, b"\x03\xe8")
    reader, out = FrameReader(), []
    for i in range(0, len(data), step):
        out += reader.feed(memoryview(data)[i:i + step])
    assert out == [(TEXT, m) for m in MESSAGES] + [(CLOSE, b"\x03\xe8")]


def test_eight_byte_lengths_are_read():
    assert FrameReader().feed(masked(TEXT, b"a" * 70000)) == [(TEXT, b"a" * 70000)]


def test_an_unmasked_frame_is_refused():
    with pytest.raises(FrameError, match="unmasked"):
        FrameReader().feed(b"\x81\x02hi")


def test_a_fragment_is_refused():
    with pytest.raises(FrameError, match="fragmented"):
        FrameReader().feed(masked(TEXT, b"part", fin=False))
