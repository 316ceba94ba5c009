"""Full transcoding of one 20 ms frame, μ-law 8 kHz -> L16 16 kHz (the common fork format
conversion), against audioop (ulaw2lin + ratecv) and numpy table + soxr QQ, in the same run."""

import numpy as np
import pytest
import soxr

from benches.conftest import compare
from benches.frames import FRAMES, ulaw_frames
from mediacore.codec import Format, Transcoder, ulaw_decode
from tests.native.oracles import audioop

ULAW = ulaw_frames()
ULAW_NP = [np.frombuffer(f, np.uint8) for f in ULAW]
DECODE_TABLE = np.frombuffer(ulaw_decode(bytes(range(256))), np.int16)


def cases():
    dst = bytearray(640)

    def mediacore_into():
        tc = Transcoder(Format.MULAW_8K, Format.L16_16K)
        for f in ULAW:
            tc.process_into(f, dst)

    def mediacore_bytes():
        tc = Transcoder(Format.MULAW_8K, Format.L16_16K)
        for f in ULAW:
            tc.process(f)

    def audioop_chain():
        state = None
        for f in ULAW:
            _, state = audioop.ratecv(audioop.ulaw2lin(f, 2), 2, 1, 8000, 16000, state)

    def numpy_soxr():
        rs = soxr.ResampleStream(8000, 16000, 1, dtype="int16", quality="QQ")
        lin = np.empty(160, np.int16)
        for f in ULAW_NP:
            np.take(DECODE_TABLE, f, out=lin)
            rs.resample_chunk(lin)

    return {"mediacore Transcoder.process_into": mediacore_into,
            "mediacore Transcoder.process": mediacore_bytes,
            "audioop ulaw2lin + ratecv": audioop_chain,
            "numpy table + soxr QQ": numpy_soxr}


@pytest.mark.parametrize("impl", list(cases()))
def test_transcode_ulaw8k_to_l16_16k(benchmark, impl):
    compare(benchmark, "transcode ulaw 8k -> L16 16k, 20 ms frame", impl, cases()[impl],
            units=FRAMES)
