"""Playout on its own: conversion, padding of the last partial frame, checkpoint positions,
clear, and the limits a misbehaving server runs into."""

import pytest

from mediacore.codec import ByteOrder, Format
from mediacore.engine.playout import MAX_PENDING_MARKS, PlaybackFull, Playout


def test_frames_marks_and_padding():
    p = Playout(Format.L16_8K)
    p.add_audio(b"\x01\x00" * 400, Format.L16_8K, ByteOrder.LE)  # 2.5 frames
    p.add_mark("end")
    assert p.pending_ms == 50
    frames = [p.tick() for _ in range(4)]
    assert [f is not None for f, _ in frames] == [True, True, True, False]
    assert bytes(frames[2][0]) == b"\x01\x00" * 80 + bytes(160)  # padded with silence
    assert [names for _, names in frames] == [[], [], ["end"], []]


def test_clear_voids_marks_and_drops_audio():
    p = Playout(Format.MULAW_8K)
    p.add_audio(bytes(3200), Format.L16_16K, ByteOrder.LE)
    p.add_mark("a")
    p.add_mark("b")
    assert p.clear() == ["a", "b"]
    assert p.tick() == (None, [])
    assert p.pending_bytes == 0


def test_limits():
    p = Playout(Format.MULAW_8K)
    with pytest.raises(PlaybackFull, match="playback buffer full"):
        p.add_audio(bytes(8000 * 61), Format.MULAW_8K, ByteOrder.LE)
    assert p.pending_bytes == 0  # a refused message queues nothing
    for i in range(MAX_PENDING_MARKS):
        p.add_mark(str(i))
    with pytest.raises(PlaybackFull, match="too many pending checkpoints"):
        p.add_mark("one more")
