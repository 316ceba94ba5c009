"""Resampler behaviour: streaming state, chunking, reference arithmetic, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.resample import Resampler

# The designed filter (45 taps, Q15), written out here as the oracle's own copy.
TAPS = np.array([
    29, 26, -49, -77, 54, 121, -90, -218, 110, 338, -145, -524, 171, 782, -201, -1181, 223,
    1854, -242, -3334, 253, 10381, 16126, 10381, 253, -3334, -242, 1854, 223, -1181, -201,
    782, 171, -524, -145, 338, 110, -218, -90, 121, 54, -77, -49, 26, 29], dtype=np.int64)


def sat_round(acc, shift):
    return np.clip((acc + (1 << (shift - 1))) >> shift, -32768, 32767).astype(np.int16)


def reference_up(x):
    """Zero-stuff by 2, filter with 2 x taps (Q15 -> Q14), from silence."""
    u = np.zeros(2 * len(x), np.int64)
    u[0::2] = x
    return sat_round(np.convolve(u, TAPS)[: len(u)], 14)


def reference_down(x):
    return sat_round(np.convolve(x.astype(np.int64), TAPS)[: len(x)][0::2], 15)


def noise(n, seed=0, scale=12000):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0, scale, n), -32768, 32767).astype(np.int16)


def test_upsampling_matches_the_reference_arithmetic():
    x = noise(5003)
    out = np.frombuffer(Resampler(8000, 16000).process(x), np.int16)
    assert np.array_equal(out, reference_up(x))


def test_downsampling_matches_the_reference_arithmetic():
    x = noise(5003, seed=1)
    out = np.frombuffer(Resampler(16000, 8000).process(x), np.int16)
    assert np.array_equal(out, reference_down(x))


def test_full_scale_input_saturates_instead_of_wrapping():
    x = np.tile(np.array([32767] * 12 + [-32768] * 12, np.int16), 40)
    for rs, ref in ((Resampler(8000, 16000), reference_up), (Resampler(16000, 8000), reference_down)):
        out = np.frombuffer(rs.process(x), np.int16)
        assert np.array_equal(out, ref(x))
        assert out.max() == 32767 and out.min() == -32768


@pytest.mark.parametrize("rate", [8000, 16000])
def test_equal_rates_copy(rate):
    x = noise(321)
    rs = Resampler(rate, rate)
    assert rs.process(x) == x.tobytes() and rs.delay_samples == 0


@pytest.mark.parametrize("rates, delay", [((8000, 16000), 22), ((16000, 8000), 11)])
def test_delay_samples(rates, delay):
    assert Resampler(*rates).delay_samples == delay


chunk_plan = st.lists(st.integers(0, 700), min_size=1, max_size=30)


@pytest.mark.parametrize("rates", [(8000, 16000), (16000, 8000), (8000, 8000)])
@given(sizes=chunk_plan)
def test_any_chunking_gives_exactly_the_whole_call_output(rates, sizes):
    x = noise(sum(sizes), seed=len(sizes))
    whole = Resampler(*rates).process(x)
    rs, pos, parts = Resampler(*rates), 0, []
    for n in sizes:
        assert rs.output_bytes(2 * n) >= 0
        expected = rs.output_bytes(2 * n)
        part = rs.process(x[pos:pos + n])
        assert len(part) == expected
        parts.append(part)
        pos += n
    assert b"".join(parts) == whole


@given(sizes=chunk_plan)
def test_process_into_matches_process(sizes):
    x = noise(sum(sizes), seed=3)
    a, b = Resampler(16000, 8000), Resampler(16000, 8000)
    pos = 0
    for n in sizes:
        dst = bytearray(b.output_bytes(2 * n) + 7)
        written = b.process_into(x[pos:pos + n], dst)
        assert bytes(dst[:written]) == a.process(x[pos:pos + n])
        pos += n


def test_reset_forgets_the_history():
    x = noise(800)
    rs = Resampler(8000, 16000)
    first = rs.process(x)
    rs.process(noise(333, seed=9))
    rs.reset()
    assert rs.process(x) == first


def test_reset_restores_downsampling_phase():
    rs = Resampler(16000, 8000)
    rs.process(noise(3))
    rs.reset()
    assert rs.output_bytes(2) == 2


@pytest.mark.parametrize("rates", [(8000, 44100), (48000, 16000), (0, 8000), (-8000, 16000)])
def test_unsupported_rates_are_refused(rates):
    with pytest.raises(ValueError, match="unsupported resampling"):
        Resampler(*rates)


def test_bad_input_errors():
    rs = Resampler(8000, 16000)
    with pytest.raises(ValueError, match=r"odd number of bytes \(3\)"):
        rs.process(b"abc")
    with pytest.raises(ValueError, match="destination buffer too small: 10 bytes, 640 needed"):
        rs.process_into(bytes(320), bytearray(10))
    with pytest.raises(TypeError, match="writable"):
        rs.process_into(bytes(320), bytes(640))
    with pytest.raises(ValueError, match="int16 samples"):
        rs.process(np.zeros(4, np.float64))
    with pytest.raises(ValueError, match="must not be negative"):
        rs.output_bytes(-2)


def test_overlapping_destination_is_refused():
    buf = bytearray(2000)
    with pytest.raises(ValueError, match="overlaps"):
        Resampler(8000, 16000).process_into(memoryview(buf)[:320], memoryview(buf)[100:800])


def test_a_refused_call_leaves_the_state_untouched():
    x = noise(400)
    a, b = Resampler(8000, 16000), Resampler(8000, 16000)
    with pytest.raises(ValueError):
        b.process_into(x, bytearray(1))
    assert a.process(x) == b.process(x)


@pytest.mark.parametrize("level", ["baseline", "avx2"])
def test_every_simd_kernel_computes_the_same_samples(level):
    """The portable, AVX2 and AVX-512 kernels (whichever this CPU has) agree bit for bit."""
    import os
    import subprocess
    import sys

    code = ("import sys, numpy as np; from mediacore.codec import Format, Transcoder;"
            "from mediacore.resample import Resampler;"
            "x = np.random.default_rng(5).integers(-32768, 32768, 9001).astype(np.int16);"
            "out = Resampler(8000, 16000).process(x) + Resampler(16000, 8000).process(x)"
            " + Transcoder(Format.MULAW_8K, Format.L16_16K).process(x.tobytes());"
            "sys.stdout.buffer.write(out)")
    run = lambda env: subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                     check=True).stdout
    default = run(dict(os.environ))
    capped = run(dict(os.environ, MEDIACORE_SIMD=level))
    assert len(default) == 2 * 18002 + 2 * 4501 + 4 * 18002
    assert capped == default


def test_output_bytes_refuses_sizes_whose_output_would_not_fit():
    from mediacore.codec import Format, Transcoder

    for obj in (Resampler(8000, 16000), Transcoder(Format.MULAW_8K, Format.L16_16K)):
        with pytest.raises(ValueError, match="too large"):
            obj.output_bytes(2**62)
        with pytest.raises(OverflowError):
            obj.output_bytes(2**64)
