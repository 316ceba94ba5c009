"""Streaming 8 kHz <-> 16 kHz resampling of L16 audio (host byte order).

`Resampler(in_rate, out_rate)` keeps the filter history across calls, so a stream fed in
chunks of any size comes out sample for sample as if fed whole. Methods: `process(pcm) ->
bytes`, `process_into(src, dst) -> int` (bytes written; `dst` must hold
`output_bytes(len(src))` and must not overlap `src`), `reset()`, and the attribute
`delay_samples` (group delay in output samples).

Quality (measured in tests/native/test_resample_quality.py): passband ripple under 0.05 dB
from 100 Hz to 3,400 Hz, images (8 -> 16 kHz) and aliases (16 -> 8 kHz) of that band at least
60 dB down, group delay 1.375 ms in both directions. The filter is a 45-tap linear-phase FIR in
integer arithmetic, so output is bit-for-bit reproducible on every platform.
"""

from mediacore._native.resample import Resampler

__all__ = ["Resampler"]
