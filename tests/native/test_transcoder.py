"""Transcoder: every format pair and byte order, equal to the composition of the primitives
(each checked against its own oracle), streaming, errors."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.codec import ByteOrder, Format, Transcoder, l16_swap, ulaw_decode, ulaw_encode
from mediacore.resample import Resampler

ORDERS = [ByteOrder.LE, ByteOrder.BE]
PAIRS = list(itertools.product(Format, Format))


def signal(fmt, order, seconds=0.25, seed=0):
    rng = np.random.default_rng(seed)
    n = int(fmt.sample_rate * seconds)
    pcm = np.clip(rng.normal(0, 8000, n), -32768, 32767).astype(np.int16)
    if fmt is Format.MULAW_8K:
        return ulaw_encode(pcm)
    return l16_swap(pcm) if order is ByteOrder.BE else pcm.tobytes()


def composed(src, dst, src_order, dst_order, data):
    """decode -> resample -> encode with the separately tested primitives."""
    if src is Format.MULAW_8K:
        pcm = ulaw_decode(data)
    else:
        pcm = l16_swap(data) if src_order is ByteOrder.BE else bytes(data)
    pcm = Resampler(src.sample_rate, dst.sample_rate).process(pcm)
    if dst is Format.MULAW_8K:
        return ulaw_encode(pcm)
    return l16_swap(pcm) if dst_order is ByteOrder.BE else pcm


@pytest.mark.parametrize("src, dst", PAIRS, ids=lambda f: f.name)
@pytest.mark.parametrize("src_order, dst_order", list(itertools.product(ORDERS, ORDERS)),
                         ids=lambda o: o.value)
def test_every_pair_equals_the_composed_primitives(src, dst, src_order, dst_order):
    data = signal(src, src_order)
    tc = Transcoder(src, dst, src_byte_order=src_order, dst_byte_order=dst_order)
    assert tc.process(data) == composed(src, dst, src_order, dst_order, data)


def test_mulaw_to_mulaw_is_an_exact_copy():
    codes = bytes(range(256)) * 2
    assert Transcoder(Format.MULAW_8K, Format.MULAW_8K).process(codes) == codes


def test_one_frame_sizes():
    tc = Transcoder("audio/x-mulaw;rate=8000", "audio/x-l16;rate=16000")
    assert len(tc.process(bytes(160))) == 640
    assert tc.output_bytes(160) == 640
    assert Transcoder(Format.L16_16K, Format.MULAW_8K).output_bytes(640) == 160


@pytest.mark.parametrize("src, dst", PAIRS, ids=lambda f: f.name)
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=20))
def test_any_chunking_gives_the_whole_call_output(src, dst, sizes):
    step = src.bytes_per_sample
    data = signal(src, ByteOrder.BE, seconds=1)[: sum(sizes) * step]
    whole = Transcoder(src, dst, src_byte_order="be", dst_byte_order="be").process(data)
    tc = Transcoder(src, dst, src_byte_order="be", dst_byte_order="be")
    out, pos = bytearray(), 0
    for n in sizes:
        chunk = data[pos:pos + n * step]
        dst_buf = bytearray(tc.output_bytes(len(chunk)))
        assert tc.process_into(chunk, dst_buf) == len(dst_buf)
        out += dst_buf
        pos += n * step
    assert bytes(out) == whole


def test_reset_clears_resampler_state():
    data = signal(Format.L16_8K, ByteOrder.LE)
    tc = Transcoder(Format.L16_8K, Format.L16_16K)
    first = tc.process(data)
    tc.process(signal(Format.L16_8K, ByteOrder.LE, seed=4))
    tc.reset()
    assert tc.process(data) == first


def test_errors_name_the_problem():
    tc = Transcoder(Format.L16_8K, Format.MULAW_8K)
    with pytest.raises(ValueError, match=r"L16 input has an odd number of bytes \(321\)"):
        tc.process(bytes(321))
    with pytest.raises(ValueError, match="destination buffer too small: 100 bytes, 160 needed"):
        tc.process_into(bytes(320), bytearray(100))
    with pytest.raises(TypeError, match="writable"):
        tc.process_into(bytes(320), b"x" * 160)
    with pytest.raises(ValueError, match="unsupported content type 'audio/opus'"):
        Transcoder("audio/opus", Format.L16_8K)
    with pytest.raises(ValueError, match="unknown byte order"):
        Transcoder(Format.L16_8K, Format.L16_8K, dst_byte_order="network")
    buf = bytearray(1000)
    with pytest.raises(ValueError, match="overlaps"):
        tc.process_into(memoryview(buf)[:320], memoryview(buf)[100:400])


def test_odd_length_mulaw_is_fine():
    assert len(Transcoder(Format.MULAW_8K, Format.L16_8K).process(bytes(3))) == 6


def test_numpy_input_is_read_as_its_bytes():
    pcm = np.arange(-800, 800, 5, dtype=np.int16)
    tc = Transcoder(Format.L16_8K, Format.MULAW_8K)
    assert tc.process(pcm) == ulaw_encode(pcm)


def test_repr_names_the_formats():
    assert "audio/x-l16;rate=16000" in repr(Transcoder(Format.MULAW_8K, Format.L16_16K))
