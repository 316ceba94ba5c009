"""Test audio for the real-peer tests: a speech-like signal, WAV files, and the SNR of what
came out against what went in, after alignment by cross-correlation."""

from __future__ import annotations

import wave

import numpy as np

FRAME = 160  # samples in 20 ms at 8 kHz
LOUD = 160 * 100.0 ** 2  # frame energy of an RMS of 100 (-50 dBFS)


def speech_like(seconds: float, rate: int = 8000, seed: int = 7) -> np.ndarray:
    """Voiced harmonics on a moving pitch contour, syllable-rate envelope with pauses, a
    little breath noise: int16, peaks near half of full scale."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 130 + 35 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k * (1.5 if 3 <= k <= 6 else 1.0) for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t) + 0.3, 0, None) ** 1.5
    x = (voiced + rng.normal(0, 0.3, len(t))) * envelope
    return (0.5 * 32767 * x / np.abs(x).max()).astype(np.int16)


def write_wav(path, samples: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def read_wav(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def lag_of(received: np.ndarray, source: np.ndarray) -> int:
    """The lag maximising the cross-correlation: received[i] ~ source[i - lag]."""
    n = 1 << (len(received) + len(source)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(received.astype(float), n)
                        * np.conj(np.fft.rfft(source.astype(float), n)), n)
    lag = int(np.argmax(corr))
    return lag - n if lag > n // 2 else lag


def snr_db(signal: np.ndarray, error: np.ndarray) -> float:
    return 10 * np.log10(np.sum(signal.astype(float) ** 2) / max(np.sum(error ** 2), 1e-9))


def aligned_snr(received: np.ndarray, source: np.ndarray) -> float:
    """SNR of a continuous copy of `source` inside `received` (one global alignment)."""
    lag = lag_of(received, source)
    start = max(lag, 0)
    stop = min(len(received), lag + len(source))
    got = received[start:stop].astype(float)
    want = source[start - lag:stop - lag].astype(float)
    assert len(want) >= 0.9 * len(source), "most of the source is missing"
    return snr_db(want, got - want)


def framewise_snr(received: np.ndarray, source: np.ndarray, *, search: int = 3):
    """For audio that went through a jitter buffer (which may drop or insert whole 20 ms
    frames): each received frame is aligned to the source frame it best matches near the
    running alignment. Returns (SNR over matched frames, the indices of the loud source
    frames matched, unmatched received frames inside the source span)."""
    lag = lag_of(received, source)
    n_src = len(source) // FRAME
    shift = lag  # received sample index of source frame 0's first sample, running
    matched, unmatched, sig, err = [], 0, 0.0, 0.0
    frames = len(received) // FRAME
    phase = shift % FRAME
    for i in range(frames):
        r = received[phase + i * FRAME: phase + (i + 1) * FRAME].astype(float)
        if len(r) < FRAME:
            break
        base = (phase + i * FRAME - shift) // FRAME
        best = None
        for k in sorted(range(-search, search + 1), key=abs):  # ties (silence): stay put
            j = base + k
            if 0 <= j < n_src:
                s = source[j * FRAME:(j + 1) * FRAME].astype(float)
                e = float(np.sum((r - s) ** 2))
                if best is None or e < best[0]:
                    best = (e, j, s)
        if best is None:
            continue
        e, j, s = best
        energy = float(np.sum(s ** 2))
        # worse than 30 dB (μ-law alone is ~37 dB): concealment (a faded repeat) or
        # silence, not a copy of this frame
        if e > 0.001 * energy + 1e3:
            if 0 < base < n_src - 1:
                unmatched += 1
            continue
        shift += (base - j) * FRAME
        if energy >= LOUD:  # a near-silent frame matches any other: it proves no order
            matched.append(j)
        sig += energy
        err += e
    return 10 * np.log10(sig / max(err, 1e-9)), matched, unmatched


def loud_frames(source: np.ndarray) -> list[int]:
    """Indices of the source frames framewise_snr can identify (not near-silent)."""
    frames = source[:len(source) // FRAME * FRAME].astype(float).reshape(-1, FRAME)
    return [int(j) for j in np.flatnonzero(np.sum(frames ** 2, axis=1) >= LOUD)]
