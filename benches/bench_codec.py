"""G.711 μ-law encode and decode, one 20 ms frame (160 samples) per call, against audioop
(audioop-lts on Python >= 3.13) and a numpy table lookup, in the same run."""

import numpy as np
import pytest

from benches.conftest import compare
from benches.frames import FRAMES, pcm_frames, ulaw_frames
from mediacore.codec import ulaw_decode, ulaw_decode_into, ulaw_encode, ulaw_encode_into
from tests.native.oracles import audioop

PCM = pcm_frames(8000)
ULAW = ulaw_frames()
PCM_NP = [np.frombuffer(f, np.int16) for f in PCM]
ULAW_NP = [np.frombuffer(f, np.uint8) for f in ULAW]
ENCODE_TABLE = np.frombuffer(ulaw_encode(np.arange(-32768, 32768, dtype=np.int16)), np.uint8)
ENCODE_TABLE = np.roll(ENCODE_TABLE, -32768)  # index by the sample's uint16 bit pattern
DECODE_TABLE = np.frombuffer(ulaw_decode(bytes(range(256))), np.int16)


def encode_cases():
    dst, dst_np = bytearray(160), np.empty(160, np.uint8)

    def mediacore_into():
        for f in PCM:
            ulaw_encode_into(f, dst)

    def mediacore_bytes():
        for f in PCM:
            ulaw_encode(f)

    def audioop_lin2ulaw():
        for f in PCM:
            audioop.lin2ulaw(f, 2)

    def numpy_table():
        for f in PCM_NP:
            np.take(ENCODE_TABLE, f.view(np.uint16), out=dst_np)

    return {"mediacore ulaw_encode_into": mediacore_into, "mediacore ulaw_encode": mediacore_bytes,
            "audioop.lin2ulaw": audioop_lin2ulaw, "numpy table lookup (take)": numpy_table}


def decode_cases():
    dst, dst_np = bytearray(320), np.empty(160, np.int16)

    def mediacore_into():
        for f in ULAW:
            ulaw_decode_into(f, dst)

    def mediacore_bytes():
        for f in ULAW:
            ulaw_decode(f)

    def audioop_ulaw2lin():
        for f in ULAW:
            audioop.ulaw2lin(f, 2)

    def numpy_table():
        for f in ULAW_NP:
            np.take(DECODE_TABLE, f, out=dst_np)

    return {"mediacore ulaw_decode_into": mediacore_into, "mediacore ulaw_decode": mediacore_bytes,
            "audioop.ulaw2lin": audioop_ulaw2lin, "numpy table lookup (take)": numpy_table}


def test_the_peers_compute_the_same_codes():
    assert ENCODE_TABLE[np.uint16(1234)] == ulaw_encode(np.int16(1234).tobytes())[0]
    assert all(ulaw_encode(f) == audioop.lin2ulaw(f, 2) for f in PCM[:5])


@pytest.mark.parametrize("impl", list(encode_cases()))
def test_ulaw_encode(benchmark, impl):
    compare(benchmark, "ulaw encode, 20 ms frame", impl, encode_cases()[impl], units=FRAMES)


@pytest.mark.parametrize("impl", list(decode_cases()))
def test_ulaw_decode(benchmark, impl):
    compare(benchmark, "ulaw decode, 20 ms frame", impl, decode_cases()[impl], units=FRAMES)
