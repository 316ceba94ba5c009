"""The native encoder releases every buffer it borrows and keeps no stray references, on
success and on every error path (a bytearray with a live export cannot be resized, and
refcounts would drift)."""

from __future__ import annotations

import sys

import pytest

from mediacore._native.wsframe import text_frame, text_frame_into
from mediacore.wire import PlivoProfile

NOW = 1_705_312_200_020


def profile():
    p = PlivoProfile(stream_id="s", call_id="c", account_id="a", tracks=("inbound", "outbound"))
    p.start(NOW)
    return p


CALLS = [
    ("ok", lambda p, d, s: p.media_frame_into(d, 0, NOW, s)),
    ("ok tick", lambda p, d, s: p.tick_into(d, NOW, s, s)),
    ("ok text", lambda p, d, s: text_frame_into(d, s)),
    ("small", lambda p, d, s: p.media_frame_into(d[:10], 0, NOW, s)),
    ("small tick", lambda p, d, s: p.tick_into(d[:300], NOW, s, s)),
    ("track", lambda p, d, s: p.media_frame_into(d, 7, NOW, s)),
    ("offset", lambda p, d, s: p.tick_into(d, NOW, s, s, offset=-3)),
    ("stamp", lambda p, d, s: p.media_frame_into(d, 0, -1, s)),
    ("overlap", lambda p, d, s: p.media_frame_into(d, 0, NOW, memoryview(d)[:10])),
    ("small text", lambda p, d, s: text_frame_into(d[:3], s)),
]


@pytest.mark.parametrize("name, call", CALLS, ids=[c[0] for c in CALLS])
def test_buffers_are_released_on_every_path(name, call):
    p = profile()
    payload = bytearray(b"\x7f" * 160)
    dst = bytearray(4096)
    view_dst = memoryview(dst)  # slices of a memoryview export `dst` while alive
    refs = (sys.getrefcount(payload), sys.getrefcount(p))
    for _ in range(100):
        try:
            call(p, view_dst, payload)
        except (ValueError, TypeError):
            pass
    view_dst.release()
    dst.extend(b"x")  # raises BufferError if an export leaked
    payload.extend(b"x")
    assert (sys.getrefcount(payload), sys.getrefcount(p)) == refs


def test_text_frame_returns_fresh_bytes_and_keeps_nothing():
    data = bytearray(b"hello")
    before = sys.getrefcount(data)
    frames = {text_frame(data) for _ in range(50)}
    assert len(frames) > 1  # a fresh mask key each time
    data.extend(b"!")
    assert sys.getrefcount(data) == before


FORK_SCRIPT = r"""
import os
from mediacore._native.wsframe import text_frame
text_frame(b"x")  # fill the pool in the parent
r, w = os.pipe()
pid = os.fork()
keys = b"".join(text_frame(b"x")[2:6] for _ in range(8))
if pid == 0:
    os.write(w, keys)
    os._exit(0)
os.waitpid(pid, 0)
child = os.read(r, 64)
print("same" if child == keys else "different")
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_draws_its_own_mask_keys():
    import subprocess
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "different"
