"""Realistic input for the benchmarks: a speech-like signal (harmonics with a moving pitch and
syllable envelope, plus a little noise), cut into 20 ms frames."""

import numpy as np

from mediacore.codec import ulaw_encode

FRAMES = 100  # frames per benchmarked call: the per-call cost of the harness is amortised


def speech_like(rate: int, seconds: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3.1 * t)
    x = 6000 * voice * envelope + rng.normal(0, 300, t.size)
    return np.clip(x, -32768, 32767).astype(np.int16)


def pcm_frames(rate: int, count: int = FRAMES) -> list[bytes]:
    """`count` consecutive 20 ms L16 frames (host byte order) as bytes."""
    n = rate // 50
    x = speech_like(rate, count / 50)
    return [x[i * n:(i + 1) * n].tobytes() for i in range(count)]


def ulaw_frames(count: int = FRAMES) -> list[bytes]:
    return [ulaw_encode(f) for f in pcm_frames(8000, count)]
