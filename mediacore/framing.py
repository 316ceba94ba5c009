"""Cut a byte stream into exact frames (20 ms of audio: 160, 320 or 640 bytes).

`Framer(frame_bytes)`: `push(chunk)` copies a chunk of any size in; `pop()` returns the next
whole frame as a read-only memoryview lent from the framer's buffer (no copy), or None;
`flush(pad=b"\\x00")` returns the last partial frame padded to full size; `pending_bytes`,
`pending_frames`, `clear()`.

How long a popped frame stays valid: for as long as you hold it. The framer never moves or
overwrites bytes it has lent; while a frame is held, a push that needs room goes to a fresh
buffer instead. Drop frames once consumed and the framer reuses one buffer without allocating.
"""

from mediacore._native.framing import Framer

__all__ = ["Framer"]
