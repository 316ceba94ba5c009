"""Framer: exact frames from any chunking, lent views that never change, padding, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.framing import Framer


def drain(framer):
    frames = []
    while (frame := framer.pop()) is not None:
        frames.append(bytes(frame))
    return frames


@given(st.integers(1, 700), st.lists(st.binary(max_size=900), max_size=25))
def test_frames_are_the_stream_cut_evenly_whatever_the_chunks(frame_bytes, chunks):
    framer = Framer(frame_bytes)
    out = []
    for chunk in chunks:
        framer.push(chunk)
        out += drain(framer)
    stream = b"".join(chunks)
    whole = len(stream) // frame_bytes * frame_bytes
    assert all(len(f) == frame_bytes for f in out)
    assert b"".join(out) == stream[:whole]
    assert framer.pending_bytes == len(stream) - whole
    tail = framer.flush(b"\x7f")
    if framer.pending_bytes == 0 and whole == len(stream):
        assert tail is None
    else:
        assert bytes(tail) == stream[whole:] + b"\x7f" * (frame_bytes - (len(stream) - whole))


def test_a_held_frame_never_changes_while_the_framer_keeps_working():
    framer = Framer(160)
    framer.push(bytes([1]) * 160 + bytes([2]) * 100)
    held = framer.pop()
    for i in range(50):  # forces compaction and growth while the view is alive
        framer.push(bytes([i]) * 333)
        drain(framer)
    assert bytes(held) == bytes([1]) * 160
    framer.clear()
    framer.push(bytes(160))
    assert bytes(held) == bytes([1]) * 160


def test_popped_frames_are_read_only_memoryviews():
    framer = Framer(4)
    framer.push(b"abcdefgh")
    frame = framer.pop()
    assert isinstance(frame, memoryview) and frame.readonly and frame.nbytes == 4
    with pytest.raises(TypeError):
        frame[0] = 0
    assert np.frombuffer(frame, np.uint8).tolist() == list(b"abcd")


def test_pending_counts_and_flush():
    framer = Framer(320)
    assert framer.pop() is None and framer.flush() is None
    framer.push(bytearray(700))
    assert framer.pending_bytes == 700 and framer.pending_frames == 2
    assert framer.flush() is not None  # whole frames first
    assert framer.pending_bytes == 380
    drain(framer)
    last = framer.flush()
    assert bytes(last) == bytes(320) and framer.pending_bytes == 0


def test_steady_state_reuses_one_buffer():
    """pop, consume, drop, push: the frames keep coming from the same buffer (no allocation
    per frame), and they are the stream in order."""
    framer = Framer(160)
    stream = bytearray()
    owners = set()
    for i in range(2000):
        chunk = bytes([i % 251]) * 161
        stream += chunk
        framer.push(chunk)
        frame = framer.pop()
        assert bytes(frame) == stream[i * 160:(i + 1) * 160]
        owners.add(id(frame.obj))
        del frame
    assert len(owners) == 1
    assert framer.pending_bytes == 2000


def test_any_buffer_can_be_pushed():
    framer = Framer(4)
    framer.push(memoryview(b"ab"))
    framer.push(np.array([0x6463], np.int16))  # bytes 'cd' on little-endian hosts
    framer.push(bytearray(b"ef"))
    assert framer.pending_bytes == 6 and framer.pop().nbytes == 4


def test_clear_drops_pending_bytes():
    framer = Framer(10)
    framer.push(bytes(25))
    framer.clear()
    assert framer.pending_bytes == 0 and framer.pop() is None


@pytest.mark.parametrize("size", [0, -160])
def test_frame_size_must_be_positive(size):
    with pytest.raises(ValueError, match="frame_bytes must be positive"):
        Framer(size)


@pytest.mark.parametrize("pad", [b"", b"\x00\x00", "x", 0])
def test_pad_must_be_one_byte(pad):
    framer = Framer(4)
    framer.push(b"a")
    with pytest.raises(ValueError, match="pad must be a single byte"):
        framer.flush(pad)
    assert framer.pending_bytes == 1


def test_push_of_a_non_buffer_is_a_type_error():
    with pytest.raises(TypeError):
        Framer(4).push("text")
