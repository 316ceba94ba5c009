"""Cut a byte stream into fixed-size frames, lending frames without copying.

Theory of operation. Pushed bytes are copied once into a heap block; the pending bytes are
block[_read:_write]. `pop()` lends block[_read:_read + frame_bytes] as a read-only memoryview
and advances `_read`. The block counts the views it has lent: while any is alive its bytes are
never moved or overwritten (new data only goes past `_write`; when it does not fit, a fresh
block is allocated and the pending bytes move there, and the old block lives on until its last
view is gone). With no view alive the block is compacted and reused in place. So a frame you
hold never changes, and the common loop (pop, encode, drop the view) allocates nothing.
"""

from cpython.buffer cimport PyBuffer_FillInfo, PyBUF_WRITABLE
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from cpython.memoryview cimport PyMemoryView_FromObject
from libc.string cimport memcpy, memmove, memset

from mediacore._native._buffers cimport PyBuffer_Release, get_bytes


cdef class _Block:
    """Heap memory that lends read-only views of one region at a time and counts them."""

    def __cinit__(self, Py_ssize_t capacity):
        self.data = <char*>PyMem_Malloc(capacity)
        if self.data == NULL:
            raise MemoryError()
        self.capacity = capacity

    def __dealloc__(self):
        PyMem_Free(self.data)

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        PyBuffer_FillInfo(buffer, self, self.data + self.view_offset, self.view_length, 1,
                          flags)
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* buffer):
        self.exports -= 1


cdef class Framer:
    """Push chunks of any size; pop exact frames of `frame_bytes` bytes.

    A popped frame is a read-only memoryview that stays valid and unchanged for as long as
    you hold it (holding it only costs the framer a fresh buffer on a later push). Release it
    (`del`, or let it go out of scope) once consumed, so that the framer can reuse its memory.
    """

    def __cinit__(self, Py_ssize_t frame_bytes):
        if frame_bytes <= 0:
            raise ValueError(f"frame_bytes must be positive, not {frame_bytes}")
        self.frame_bytes = frame_bytes
        self._block = _Block(max(4 * frame_bytes, 4096))

    @property
    def pending_bytes(self):
        """Bytes pushed and not yet popped."""
        return self._write - self._read

    @property
    def pending_frames(self):
        """Whole frames ready to pop."""
        return (self._write - self._read) // self.frame_bytes

    cdef int _reserve(self, Py_ssize_t n) except -1:
        """Make room for n more bytes after _write."""
        cdef _Block blk = self._block, fresh
        cdef Py_ssize_t pending = self._write - self._read, need = pending + n, cap
        cdef char* grown
        if self._write + n <= blk.capacity:
            return 0
        if blk.exports == 0 and need <= blk.capacity:
            memmove(blk.data, blk.data + self._read, pending)
        elif blk.exports == 0:
            memmove(blk.data, blk.data + self._read, pending)
            cap = max(need, 2 * blk.capacity)
            grown = <char*>PyMem_Realloc(blk.data, cap)
            if grown == NULL:
                raise MemoryError()
            blk.data = grown
            blk.capacity = cap
        else:
            fresh = _Block(max(need, blk.capacity))
            memcpy(fresh.data, blk.data + self._read, pending)
            self._block = fresh
        self._read = 0
        self._write = pending
        return 0

    def push(self, data):
        """Append a chunk (any buffer) of any length; the bytes are copied."""
        cdef Py_buffer src
        get_bytes(data, &src)
        try:
            if src.len:
                self._reserve(src.len)
                memcpy(self._block.data + self._write, src.buf, src.len)
                self._write += src.len
        finally:
            PyBuffer_Release(&src)

    cdef object _take(self):
        cdef _Block blk = self._block
        blk.view_offset = self._read
        blk.view_length = self.frame_bytes
        self._read += self.frame_bytes
        return PyMemoryView_FromObject(blk)

    def pop(self):
        """The next whole frame as a read-only memoryview, or None if less than a frame is
        pending."""
        if self._write - self._read < self.frame_bytes:
            return None
        return self._take()

    def flush(self, pad=b"\x00"):
        """The pending partial frame completed with `pad` bytes (one byte, repeated; use
        b"\\xff" for μ-law silence), or None if nothing is pending. Whole frames still pending
        are returned first, one per call."""
        cdef Py_ssize_t pending = self._write - self._read
        if not isinstance(pad, (bytes, bytearray)) or len(pad) != 1:
            raise ValueError(f"pad must be a single byte, not {pad!r}")
        if pending == 0:
            return None
        if pending < self.frame_bytes:
            self._reserve(self.frame_bytes - pending)
            memset(self._block.data + self._write, pad[0], self.frame_bytes - pending)
            self._write = self._read + self.frame_bytes
        return self._take()

    def clear(self):
        """Drop everything pending (views already returned stay valid)."""
        self._read = self._write = 0
        if self._block.exports:
            self._block = _Block(self._block.capacity)

    def __repr__(self):
        return f"Framer(frame_bytes={self.frame_bytes}, pending_bytes={self.pending_bytes})"
