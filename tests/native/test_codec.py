"""G.711 μ-law and L16 byte order: bit-exact against audioop, every buffer type, every error."""

import array

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediacore.codec import (
    l16_swap,
    l16_swap_into,
    ulaw_decode,
    ulaw_decode_into,
    ulaw_encode,
    ulaw_encode_into,
)
from tests.native.oracles import audioop

ALL_PCM = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
pcm_bytes = st.binary(max_size=2000).map(lambda b: b[: len(b) & ~1])


def test_encode_is_bit_exact_with_g711_for_all_65536_inputs():
    assert ulaw_encode(ALL_PCM) == audioop.lin2ulaw(ALL_PCM.tobytes(), 2)


def test_decode_is_bit_exact_with_g711_for_all_256_codes():
    assert ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_known_code_points():
    # silence, both full scales, the smallest steps (G.711 table values)
    assert ulaw_encode(np.array([0, 32767, -32768, 8, -8], dtype=np.int16)) == bytes(
        [0xFF, 0x80, 0x00, 0xFE, 0x7E])
    assert np.frombuffer(ulaw_decode(bytes([0xFF, 0x7F, 0x80, 0x00])), np.int16).tolist() == [
        0, 0, 32124, -32124]


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "array", "numpy", "numpy-bytes"])
def test_every_buffer_type_is_accepted(kind):
    samples = np.ascontiguousarray(ALL_PCM[::97])
    raw = samples.tobytes()
    src = {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "memoryview": memoryview(raw),
        "array": array.array("h", raw),
        "numpy": samples,
        "numpy-bytes": np.frombuffer(raw, np.uint8),
    }[kind]
    assert ulaw_encode(src) == audioop.lin2ulaw(raw, 2)
    dst = np.zeros(len(samples), np.uint8)
    assert ulaw_encode_into(src, dst) == len(samples)
    assert dst.tobytes() == audioop.lin2ulaw(raw, 2)


def test_into_variants_write_only_what_they_report():
    dst = bytearray(b"\xaa" * 400)
    assert ulaw_encode_into(ALL_PCM[:160], dst) == 160
    assert dst[:160] == ulaw_encode(ALL_PCM[:160]) and dst[160:] == b"\xaa" * 240
    out = np.full(200, 7, np.int16)
    assert ulaw_decode_into(ALL_CODES[:160], out) == 320
    assert out[:160].tobytes() == ulaw_decode(ALL_CODES[:160]) and (out[160:] == 7).all()


def test_empty_input_gives_empty_output():
    assert ulaw_encode(b"") == b"" and ulaw_decode(b"") == b"" and l16_swap(b"") == b""
    assert ulaw_encode_into(b"", bytearray()) == 0


@pytest.mark.parametrize("fn", [ulaw_encode, l16_swap])
def test_odd_length_l16_is_refused(fn):
    with pytest.raises(ValueError, match=r"odd number of bytes \(321\)"):
        fn(bytes(321))


def test_odd_length_l16_is_refused_by_into_variants():
    with pytest.raises(ValueError, match="odd number of bytes"):
        ulaw_encode_into(bytes(3), bytearray(10))
    with pytest.raises(ValueError, match="odd number of bytes"):
        l16_swap_into(bytes(3), bytearray(10))


@pytest.mark.parametrize("call, need", [
    (lambda d: ulaw_encode_into(bytes(320), d), 160),
    (lambda d: ulaw_decode_into(bytes(160), d), 320),
    (lambda d: l16_swap_into(bytes(320), d), 320),
])
def test_too_small_destination_is_refused_and_untouched(call, need):
    dst = bytearray(b"\x11" * (need - 1))
    with pytest.raises(ValueError, match=rf"destination buffer too small: {need - 1} bytes, {need} needed"):
        call(dst)
    assert dst == b"\x11" * (need - 1)


def test_read_only_destination_is_refused():
    with pytest.raises(TypeError, match="writable buffer"):
        ulaw_encode_into(bytes(320), bytes(160))
    with pytest.raises(TypeError, match="writable buffer"):
        ulaw_decode_into(bytes(160), memoryview(bytes(320)))


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.int32, ">i2"])
def test_pcm_of_another_sample_type_is_refused_with_its_format(dtype):
    with pytest.raises(ValueError, match="int16 samples in host byte order"):
        ulaw_encode(np.zeros(8, dtype))


@pytest.mark.parametrize("src", [np.zeros(8, np.int16)[::2], memoryview(bytes(8))[::2]])
def test_non_contiguous_input_is_refused(src):
    with pytest.raises(ValueError, match="contiguous"):
        ulaw_encode(src)
    with pytest.raises(ValueError, match="contiguous"):
        ulaw_decode(src)


def test_non_buffer_input_is_a_type_error():
    with pytest.raises(TypeError):
        ulaw_encode("not audio")
    with pytest.raises(TypeError):
        ulaw_decode(None)


def test_l16_swap_matches_numpy_byteswap_and_works_in_place():
    samples = np.ascontiguousarray(ALL_PCM[::13])
    assert l16_swap(samples) == samples.byteswap().tobytes()
    buf = bytearray(samples.tobytes())
    assert l16_swap_into(buf, buf) == len(buf)
    assert bytes(buf) == samples.byteswap().tobytes()


@given(pcm_bytes)
def test_l16_swap_twice_is_identity(data):
    assert l16_swap(l16_swap(data)) == data


@given(st.binary(max_size=600))
def test_encode_of_decode_returns_the_code_except_negative_zero(codes):
    # 0x7F and 0xFF both decode to 0, which encodes as 0xFF
    assert ulaw_encode(ulaw_decode(codes)) == codes.replace(b"\x7f", b"\xff")


def test_decode_of_encode_stays_within_half_a_quantisation_step():
    x = ALL_PCM.astype(np.int32)
    err = np.abs(np.frombuffer(ulaw_decode(ulaw_encode(ALL_PCM)), np.int16) - x)
    # 4 mantissa bits: half a step is at most 1/32 of the magnitude (+ the bias step near 0);
    # beyond the largest code (32124) the error is the clipping distance
    inside = np.abs(x) <= 32124
    assert (err[inside] <= np.abs(x[inside]) // 32 + 8).all()
    assert (err[~inside] <= np.abs(x[~inside]) - 32124 + 8).all()


@given(pcm_bytes, st.integers(0, 1000))
def test_chunking_does_not_change_encoding(data, cut):
    cut = min(cut, len(data)) & ~1
    assert ulaw_encode(data[:cut]) + ulaw_encode(data[cut:]) == ulaw_encode(data)


@given(pcm_bytes)
def test_encode_agrees_with_audioop_on_random_input(data):
    assert ulaw_encode(data) == audioop.lin2ulaw(data, 2)


@given(st.binary(max_size=700), st.integers(0, 800),
       st.sampled_from(["encode", "decode", "swap"]))
def test_into_either_writes_exactly_or_refuses_and_leaves_dst_alone(src, room, op):
    fn, per_byte, needs_even = {
        "encode": (ulaw_encode_into, 0.5, True),
        "decode": (ulaw_decode_into, 2, False),
        "swap": (l16_swap_into, 1, True),
    }[op]
    dst = bytearray(b"\x5a" * room)
    need = int(len(src) * per_byte)
    if needs_even and len(src) % 2:
        with pytest.raises(ValueError, match="odd number of bytes"):
            fn(src, dst)
        assert dst == b"\x5a" * room
    elif room < need:
        with pytest.raises(ValueError, match="destination buffer too small"):
            fn(src, dst)
        assert dst == b"\x5a" * room
    else:
        assert fn(src, dst) == need
        assert dst[need:] == b"\x5a" * (room - need)


def test_mix_saturates_and_matches_numpy():
    from mediacore.codec import l16_mix_into

    rng = np.random.default_rng(3)
    a = rng.integers(-32768, 32768, 500).astype(np.int16)
    b = rng.integers(-32768, 32768, 500).astype(np.int16)
    dst = bytearray(1000)
    assert l16_mix_into(a, b, dst) == 1000
    expected = np.clip(a.astype(np.int32) + b, -32768, 32767).astype(np.int16)
    assert bytes(dst) == expected.tobytes()
    in_place = bytearray(a.tobytes())
    l16_mix_into(in_place, b, in_place)
    assert bytes(in_place) == expected.tobytes()
    with pytest.raises(ValueError, match="differ in length: 1000 and 998 bytes"):
        l16_mix_into(a, b[:-1], dst)
    with pytest.raises(ValueError, match="destination buffer too small"):
        l16_mix_into(a, b, bytearray(10))
