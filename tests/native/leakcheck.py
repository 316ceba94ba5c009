"""Exercise every native entry point `calls` times, error paths included (leak-check driver).

Run under valgrind by tests/native/test_leaks.py: `python -m tests.native.leakcheck CALLS`.
Each round makes 20 calls; the total is printed so the test can check it.
"""

import collections
import socket
import sys

from mediacore._native.fanout import DirectWriter, WriteLog, fan_out
from mediacore.codec import (Format, Transcoder, l16_swap, l16_swap_into, ulaw_decode,
                             ulaw_decode_into, ulaw_encode, ulaw_encode_into)
from mediacore.framing import Framer
from mediacore.resample import Resampler
from mediacore.wire import make_profile

CALLS_PER_ROUND = 25


def writer(started: bool, log: WriteLog, sock: socket.socket) -> DirectWriter:
    profile = make_profile("plivo", stream_id="s", call_id="c", account_id="A",
                           tracks=("inbound", "outbound"))
    if started:
        profile.start(0)
    w = DirectWriter(None, profile.encoder, (0, 1), collections.deque(), bytearray(), log, 0)
    w.attach(sock, None, 4096)
    w.open = True
    return w


def main(calls: int) -> None:
    pcm, codes = bytes(range(256)) * 2 + bytes(128), bytes(range(160))
    pcm_view, dst = memoryview(bytearray(pcm)), bytearray(1280)
    up, down = Resampler(8000, 16000), Resampler(16000, 8000)
    tc = Transcoder(Format.MULAW_8K, Format.L16_16K, dst_byte_order="be")
    framer = Framer(160)
    times = bytearray(8 * 4)
    log = WriteLog(memoryview(times).cast("d"), {"s": 0}, 4, (1,), lambda i, n: None)
    log.go()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    good, broken = writer(True, log, a), writer(False, log, a)  # broken: no templates
    made, ts = 0, 0
    for _ in range(calls // CALLS_PER_ROUND):
        ulaw_encode(pcm)
        ulaw_decode(codes)
        ulaw_encode_into(pcm_view, dst)
        ulaw_decode_into(codes, dst)
        l16_swap(pcm)
        l16_swap_into(pcm_view, dst)
        up.process(pcm[:320])
        up.process_into(pcm_view[:320], dst)
        down.process(pcm)
        tc.process(codes)
        tc.process_into(codes, dst)
        framer.push(codes[:100])
        frame = framer.pop()
        del frame
        Framer(640)
        Resampler(16000, 8000)
        ts += 20
        fan_out([good, broken], ts, codes, codes)  # one frame out, one encode failure
        broken.pending()
        good.note_write(1)
        b.recv(1 << 16)
        for bad in (lambda: ulaw_encode(pcm[:3]),            # odd length
                    lambda: ulaw_decode_into(codes, dst[:0]),  # too small (bytearray copy)
                    lambda: up.process_into(pcm_view, pcm),  # read-only destination
                    lambda: Resampler(8000, 44100),           # unsupported
                    lambda: framer.flush(b"xx"),              # bad pad
                    lambda: WriteLog(bytearray(8), {"s": 0}, 2),  # too small
                    lambda: fan_out([None], 0, codes, codes)):  # not a writer
            try:
                bad()
            except (ValueError, TypeError):
                pass
        made += CALLS_PER_ROUND
    print(f"calls={made}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
