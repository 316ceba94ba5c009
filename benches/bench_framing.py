"""Framing: push a chunk, pop whole 20 ms frames, against the usual pure-Python bytearray
framer, in the same run. Chunks of 100 bytes into 160-byte frames (frames straddle chunks)."""

import pytest

from benches.conftest import compare
from mediacore.framing import Framer

CHUNK = bytes(range(100))
CHUNKS = 160  # -> 100 frames per call
FRAME = 160


def mediacore_framer():
    framer = Framer(FRAME)
    for _ in range(CHUNKS):
        framer.push(CHUNK)
        while (frame := framer.pop()) is not None:
            del frame


def bytearray_framer():
    buf = bytearray()
    for _ in range(CHUNKS):
        buf += CHUNK
        while len(buf) >= FRAME:
            frame = bytes(buf[:FRAME])
            del buf[:FRAME]
            del frame


CASES = {"mediacore Framer push/pop": mediacore_framer,
         "bytearray += / slice / del": bytearray_framer}


@pytest.mark.parametrize("impl", list(CASES))
def test_framing(benchmark, impl):
    compare(benchmark, "framing 100 B chunks -> 160 B frames", impl, CASES[impl],
            units=CHUNKS * len(CHUNK) // FRAME)
