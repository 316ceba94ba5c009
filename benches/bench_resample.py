"""Streaming resampling, one 20 ms chunk per call, against soxr's ResampleStream (QQ and HQ,
int16) and audioop.ratecv (audioop-lts on Python >= 3.13), in the same run."""

import numpy as np
import pytest
import soxr

from benches.conftest import compare
from benches.frames import FRAMES, pcm_frames
from mediacore.resample import Resampler
from tests.native.oracles import audioop

DIRECTIONS = {"8k->16k": (8000, 16000), "16k->8k": (16000, 8000)}


def cases(in_rate, out_rate):
    frames = pcm_frames(in_rate)
    frames_np = [np.frombuffer(f, np.int16) for f in frames]
    dst = bytearray(len(frames[0]) * 2)

    def mediacore_into():
        rs = Resampler(in_rate, out_rate)
        for f in frames:
            rs.process_into(f, dst)

    def mediacore_bytes():
        rs = Resampler(in_rate, out_rate)
        for f in frames:
            rs.process(f)

    def soxr_stream(quality):
        def run():
            rs = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
            for f in frames_np:
                rs.resample_chunk(f)
        return run

    def audioop_ratecv():
        state = None
        for f in frames:
            _, state = audioop.ratecv(f, 2, 1, in_rate, out_rate, state)

    return {"mediacore Resampler.process_into": mediacore_into,
            "mediacore Resampler.process": mediacore_bytes,
            "soxr ResampleStream QQ": soxr_stream("QQ"),
            "soxr ResampleStream HQ": soxr_stream("HQ"),
            "audioop.ratecv": audioop_ratecv}


@pytest.mark.parametrize("direction", list(DIRECTIONS))
@pytest.mark.parametrize("impl", list(cases(8000, 16000)))
def test_resample(benchmark, direction, impl):
    # each call streams FRAMES chunks through a fresh resampler (its construction is included
    # for every implementation alike, and is small next to 100 chunks)
    compare(benchmark, f"resample {direction}, 20 ms chunk", impl,
            cases(*DIRECTIONS[direction])[impl], units=FRAMES, unit="chunk")
