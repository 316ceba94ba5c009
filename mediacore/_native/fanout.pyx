# distutils: sources =
"""The fan-out kernel: per call group and tick, encode and write every ready fork's frames in
C, and hand back only the forks that need their Python code.

Theory of operation. A `DirectWriter` is the part of a fork (mediacore/engine/fork.py) that
the media clock touches every tick: the fork's `MediaFrameEncoder` (its wire profile's
counters and templates), the connection's socket — plain: its fd, written
with send(2) and MSG_DONTWAIT; TLS: the native connection's `mc_tls_writer` (tls.pyx: one
SSL_write_ex, no Python), or the stdlib ssl object's `write` — and the fork's `queue`
(deque) and `out` (bytearray), so that "ready" (open, nothing queued, nothing unwritten) is
read here without running Python.

`fan_out(writers, ts_ms, inbound, outbound)` runs once per call group per tick. For each
ready writer it encodes the tick (one masked text frame per track, inbound first) into one
buffer shared by all writers, writes it with one call, counts the frames, and notes the write
time in a `WriteLog` if one is attached.

Cache lines are the cost here, not instructions: between two ticks the kernel's work for
hundreds of sockets evicts every fork's state, so a tick would wait on some twenty cache
misses per fork (its objects, its template literals, its buffer). The shared buffer stays
hot, and `_warm` prefetches the next writers' lines while the kernel sends the current one.
It returns the writers that need the fork's Python code, each with its `outcome`:

    NOT_READY  nothing was encoded: the fork queues the tick (connecting, backlog, stopping)
    FIRST      written in full, and it was the stream's first media: the fork reports it
    PARTIAL    `written` of `encoded` bytes went out (0 when the socket was full): the fork
               keeps `pending()` for its writer task
    FAILED     `error` holds the exception: a broken connection (as PARTIAL otherwise), or,
               with `encoded` 0, a failure to encode (nothing was written or counted)

Invariants: a writer's fd is written only while attached, and the fork detaches before it
closes the socket (fd numbers are reused at once); the socket object is held while attached.
Everything runs with the GIL held, on the Trio thread: nothing here blocks.
"""

from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from cpython.bytearray cimport PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject, PyTypeObject
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.errno cimport errno
from libc.stdint cimport int64_t, uint64_t, uint8_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from mediacore._native._buffers cimport get_bytes
from mediacore._native.wsframe cimport MC_MEDIA_LITERALS, MediaFrameEncoder

import os
import ssl

cdef extern from "<sys/socket.h>" nogil:
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    enum:
        MSG_DONTWAIT
        MSG_NOSIGNAL

cdef extern from *:
    """
    #include <errno.h>
    /* EAGAIN and EWOULDBLOCK may be one value (Linux) or two */
    static inline int mc_would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }
    """
    bint _would_block "mc_would_block" (int err) noexcept nogil

cdef extern from *:
    """
    #include <stdint.h>
    /* Ask for the cache lines [p, p + n) falls in (at most 8: a hint, never a read) */
    static inline void mc_prefetch(const void *p, size_t n) {
        if (n == 0) return;
        if (n > 512) n = 512;
        uintptr_t line = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + n;
        for (; line < end; line += 64) __builtin_prefetch((const void *)line, 0, 3);
    }
    """
    void _prefetch "mc_prefetch" (const void *p, size_t n) noexcept nogil
    PyTypeObject *_type_of "Py_TYPE" (PyObject *o) noexcept nogil

cdef extern from "mc_tls_writer.h" nogil:
    ctypedef struct mc_tls_writer:
        int (*write)(mc_tls_writer *w, const void *buf, size_t n)
    const char *MC_TLS_WRITER_CAPSULE
    enum:
        MC_TLS_WRITTEN
        MC_TLS_WOULD_BLOCK

cdef extern from "mc_pybuffer.h":
    void _direct "mc_buffer_direct" (Py_buffer* view, char* buf, Py_ssize_t n) noexcept

NOT_READY, DONE, FIRST, PARTIAL, FAILED = range(5)
cdef enum:
    _NOT_READY, _DONE, _FIRST, _PARTIAL, _FAILED
    _BOTH = 2

_WOULD_BLOCK = (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError, InterruptedError)

# Every writer encodes into this one buffer: the kernel (or OpenSSL) copies a frame out before
# the next writer encodes, and one buffer stays in cache where one per fork would be cold
# again every tick. The few bytes a write leaves behind are copied out (`pending()`).
# It may be reallocated wherever Python code runs: by a writer attached from Python code that
# a write or a log callback runs, or by another thread's engine while this thread's stdlib TLS
# write has released the GIL. So a tick holds a pointer into it only between reading
# `_scratch` and the first point where Python code can run (DirectWriter._tick).
cdef uint8_t *_scratch = NULL
cdef Py_ssize_t _scratch_cap = 0
cdef Py_ssize_t _scratch_need = 0


cdef int _grow_scratch() except -1:
    global _scratch, _scratch_cap
    cdef uint8_t *buf
    if _scratch_need > _scratch_cap:
        buf = <uint8_t*>PyMem_Realloc(_scratch, _scratch_need)
        if buf == NULL:
            raise MemoryError()
        _scratch, _scratch_cap = buf, _scratch_need
    return 0


cdef inline double _monotonic() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef class WriteLog:
    """When media frames were handed to the socket, for measuring (the fan-out benchmark).

    `times` is a writable float64 buffer of `len(ids) * frames` slots; `ids` maps stream ids
    to fork indexes. After `go()`, fork i's n-th frame (counted from its first frame written
    after go) stores time.monotonic() at `times[n * len(ids) + i]` for n < frames. `on_edge(i,
    n)` is called when fork i writes frame n for n in `edges` (a few values at most).
    """

    cdef Py_buffer _view
    cdef double *_times
    cdef int64_t *_base
    cdef Py_ssize_t _forks, _frames
    cdef dict _ids
    cdef int64_t _edges[4]
    cdef int _n_edges
    cdef object _on_edge
    cdef readonly bint going
    cdef readonly Py_ssize_t written

    def __cinit__(self, times, dict ids not None, Py_ssize_t frames, tuple edges=(),
                  on_edge=None):
        cdef Py_ssize_t i, forks = len(ids)
        if frames < 0:
            raise ValueError(f"frames must not be negative, not {frames}")
        if len(edges) > 4:
            raise ValueError(f"at most 4 edges, not {len(edges)}")
        PyObject_GetBuffer(times, &self._view,
                           PyBUF_WRITABLE | PyBUF_FORMAT | PyBUF_C_CONTIGUOUS)
        fmt = <bytes>self._view.format if self._view.format != NULL else b"B"
        if self._view.itemsize != 8 or fmt not in (b"d", b"@d", b"=d", b"<d"):
            PyBuffer_Release(&self._view)
            raise ValueError(f"times must be a writable buffer of float64 items, not of "
                             f"format {fmt.decode('ascii', 'replace')!r}")
        if self._view.len < forks * frames * 8:
            n = self._view.len // 8
            PyBuffer_Release(&self._view)
            raise ValueError(f"times holds {n} slots, fewer than {forks} forks x {frames} frames")
        for value in ids.values():
            if not 0 <= value < forks:
                PyBuffer_Release(&self._view)
                raise ValueError(f"fork index {value!r} is outside 0..{forks - 1}")
        self._base = <int64_t*>PyMem_Malloc(max(forks, 1) * sizeof(int64_t))
        if self._base == NULL:
            PyBuffer_Release(&self._view)
            raise MemoryError()
        for i in range(forks):
            self._base[i] = -1
        self._times = <double*>self._view.buf
        self._forks, self._frames = forks, frames
        self._ids, self._on_edge = dict(ids), on_edge
        self._n_edges = len(edges)
        for i in range(self._n_edges):
            self._edges[i] = edges[i]

    def __dealloc__(self):
        PyMem_Free(self._base)
        if self._times != NULL:
            PyBuffer_Release(&self._view)

    def go(self):
        """Start counting: each fork's next frame is its frame 0."""
        self.going = True

    def index(self, stream_id) -> int:
        """The fork index of `stream_id`, -1 when it is not logged."""
        return self._ids.get(stream_id, -1)

    def note(self, Py_ssize_t i, uint64_t chunk):
        """Fork i wrote the frame with `chunk` now (for frames written outside fan_out)."""
        if not 0 <= i < self._forks:
            raise ValueError(f"fork index {i} is outside 0..{self._forks - 1}")
        self._note(i, chunk)

    cdef int _note(self, Py_ssize_t i, uint64_t chunk) except -1:
        cdef int64_t n
        cdef int k
        if not self.going:
            return 0
        if self._base[i] < 0:
            self._base[i] = <int64_t>chunk
        n = <int64_t>chunk - self._base[i]
        if 0 <= n < self._frames:
            self._times[n * self._forks + i] = _monotonic()
            self.written += 1
            for k in range(self._n_edges):
                if self._edges[k] == n and self._on_edge is not None:
                    self._on_edge(i, n)
        return 0


cdef class DirectWriter:
    """The tick-side state of one fork (see the module docstring). `open` is the fork's
    "connection open for direct writes" flag; `frames_sent` and `first_pending` are the
    fork's counters, kept here so the kernel updates them without Python."""

    cdef MediaFrameEncoder _enc
    cdef public bint open
    cdef public bint first_pending
    cdef public uint64_t frames_sent
    cdef readonly int outcome
    cdef readonly Py_ssize_t encoded
    cdef readonly Py_ssize_t written
    cdef readonly object error
    cdef readonly object fork
    cdef object _queue
    cdef bytearray _out
    cdef int _track              # 0 or 1 (one track), or _BOTH
    cdef int _frames_per_tick
    cdef int _fd
    cdef object _sock
    cdef object _tls_write
    cdef object _tls                 # the native connection behind _tls_writer
    cdef mc_tls_writer *_tls_writer
    cdef Py_ssize_t _cap             # bound of one tick's encoded bytes
    cdef object _pending             # bytes of the last tick that did not go out, or None
    cdef WriteLog _log
    cdef Py_ssize_t _log_id

    def __cinit__(self, fork, MediaFrameEncoder encoder not None, tuple tracks not None,
                  queue not None, bytearray out not None, WriteLog log=None,
                  Py_ssize_t log_id=-1):
        if tracks == (0,) or tracks == (1,):
            self._track = tracks[0]
            self._frames_per_tick = 1
        elif tracks == (0, 1):
            self._track = _BOTH
            self._frames_per_tick = 2
        else:
            raise ValueError(f"tracks must be (0,), (1,) or (0, 1), not {tracks!r}")
        if log is not None and not -1 <= log_id < log._forks:
            raise ValueError(f"log index {log_id} is outside -1..{log._forks - 1}")
        self.fork, self._enc, self._queue, self._out = fork, encoder, queue, out
        self._log = log if log_id >= 0 else None
        self._log_id = log_id
        self._fd = -1
        self.first_pending = True

    def attach(self, sock, tls_write, Py_ssize_t capacity, tls=None):
        """Write through `sock` from now on: through `tls` (a native TLSConnection of
        tls.pyx) if given, else `tls_write(buffer) -> int` for stdlib TLS (the ssl object's
        write), else its fd with send(2). `capacity` bounds one tick's encoded bytes."""
        global _scratch_need
        cdef mc_tls_writer *writer = NULL
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, not {capacity}")
        if tls is not None:
            if tls_write is not None:
                raise ValueError("give tls or tls_write, not both")
            writer = <mc_tls_writer*>PyCapsule_GetPointer(tls.writer(), MC_TLS_WRITER_CAPSULE)
        if capacity > _scratch_need:
            _scratch_need = capacity
        _grow_scratch()
        self._cap = capacity
        fd = -1
        if tls_write is None and tls is None:
            fd = sock.fileno()
            if fd < 0:
                raise ValueError("the socket is closed")
        self._sock, self._tls_write, self._fd = sock, tls_write, fd
        self._tls, self._tls_writer = tls, writer

    def detach(self):
        """Stop writing (before the socket is closed)."""
        self.open = False
        self._fd = -1
        self._sock = self._tls_write = self._tls = None
        self._tls_writer = NULL

    def release(self):
        """The fork has ended: drop the reference back to it. The fork holds its writer and
        the writer its fork; without this, every ended fork would be cyclic garbage that
        only a collection frees (and that a frozen collector, mediacore/engine/collector.py,
        would never free)."""
        self.detach()
        self.fork = None

    def pending(self) -> bytes:
        """The bytes of the last tick that did not go out (PARTIAL, FAILED)."""
        if (self.outcome != _PARTIAL and self.outcome != _FAILED) or self._pending is None:
            return b""
        return self._pending

    def note_write(self, uint64_t chunk):
        """A frame of the first track with `chunk` went out by the fork's own writer."""
        if self._log is not None:
            self._log._note(self._log_id, chunk)

    cdef inline bint _ready(self):
        return self.open and PyByteArray_GET_SIZE(self._out) == 0 and not self._queue

    cdef int _tick(self, int64_t ts_ms, Py_buffer *si, Py_buffer *so) except -1:
        """Encode and write one tick; sets outcome, encoded, written, error."""
        cdef Py_buffer d
        cdef Py_ssize_t n, r
        cdef ssize_t got
        cdef object frame = None
        cdef int err, status
        cdef uint8_t *buf
        # dropping the last tick's error can free a traceback and run finalizers (Python
        # code): done before the buffer is read (see _scratch)
        if self._pending is not None:
            self._pending = None
        self.error = None
        self.encoded = self.written = 0
        buf = _scratch
        _direct(&d, <char*>buf, min(self._cap, _scratch_cap))
        try:
            if self._track == _BOTH:
                n = self._enc._tick(&d, 0, ts_ms, si, so)
            elif self._track == 0:
                n = self._enc._write(&d, 0, 0, ts_ms, si)
            else:
                n = self._enc._write(&d, 0, 1, ts_ms, so)
        except Exception as exc:  # the fork fails on its own; the other forks go on
            self.error = exc
            self.outcome = _FAILED
            return 0
        self.encoded = n
        r = 0
        if self._fd >= 0:
            got = send(self._fd, buf, <size_t>n, MSG_DONTWAIT | MSG_NOSIGNAL)
            if got >= 0:
                r = got
            else:
                err = errno
                if not _would_block(err):
                    self.error = OSError(err, os.strerror(err))
        elif self._tls_writer != NULL:
            status = self._tls_writer.write(self._tls_writer, buf, <size_t>n)
            if status == MC_TLS_WRITTEN:
                r = n
            elif status != MC_TLS_WOULD_BLOCK:
                # the unsent frame is copied out before take_error runs Python code
                self._pending = PyBytes_FromStringAndSize(<char*>buf, n)
                self.error = self._tls.take_error()
        elif self._tls_write is not None:
            # the stdlib's write releases the GIL: another thread's engine could run fan_out
            # and reuse the shared buffer meanwhile, so this write gets its own copy
            frame = PyBytes_FromStringAndSize(<char*>buf, n)
            try:
                r = self._tls_write(frame)
            except _WOULD_BLOCK:
                r = 0
            except Exception as exc:
                self.error = exc
        else:
            self.error = OSError("the connection is not attached")
        self.written = r
        if r < n and self._pending is None:  # before any Python code runs (the log's
            if frame is not None:               # callback, the fork's code)
                self._pending = frame[r:]
            else:
                self._pending = PyBytes_FromStringAndSize(<char*>buf + r, n - r)
        self.frames_sent += self._frames_per_tick
        if self.error is not None:
            self.outcome = _FAILED
        elif r < n:
            self.outcome = _PARTIAL
        else:
            if self._log is not None:
                self._log._note(self._log_id,
                                self._enc._chunk[1 if self._track == 1 else 0] - 1)
            self.outcome = _FIRST if self.first_pending else _DONE
        return 0


cdef inline void _warm(list writers, Py_ssize_t i) noexcept:
    """Prefetch what the writers after i will touch, in three steps that each read only
    memory an earlier step asked for: i + 3's object; i + 2's encoder, queue and `out`; i + 1's
    template literals. A write costs microseconds of kernel work, so each step's lines have
    arrived by the time they are read; without this every fork's state is cold again each
    tick (the kernel's work for hundreds of sockets evicts it) and the kernel loop waits on
    some twenty cache misses per fork."""
    cdef Py_ssize_t n = PyList_GET_SIZE(writers)
    cdef PyObject *o
    cdef DirectWriter w
    cdef MediaFrameEncoder enc
    cdef int t
    # sizes come from the type objects (hot): reading an instance's own type would wait for
    # the very line being asked for
    if 0 <= i + 3 < n:
        o = <PyObject*>PyList_GET_ITEM(writers, i + 3)
        _prefetch(o, <size_t>(<PyTypeObject*>DirectWriter).tp_basicsize)
    if 0 <= i + 2 < n:
        o = <PyObject*>PyList_GET_ITEM(writers, i + 2)
        if _type_of(o) == <PyTypeObject*>DirectWriter:
            w = <DirectWriter><object>o
            _prefetch(<PyObject*>w._enc, <size_t>(<PyTypeObject*>MediaFrameEncoder).tp_basicsize)
            _prefetch(<PyObject*>w._queue, 64)
            _prefetch(<PyObject*>w._out, 64)
    if 0 <= i + 1 < n:
        o = <PyObject*>PyList_GET_ITEM(writers, i + 1)
        if _type_of(o) == <PyTypeObject*>DirectWriter:
            enc = (<DirectWriter><object>o)._enc
            for t in range(2):
                if enc._ready[t]:  # the literals lie back to back (wsframe.set_template)
                    _prefetch(enc._tpl[t].lit[0],
                              <size_t>(enc._tpl[t].lit[MC_MEDIA_LITERALS - 1]
                                       + enc._tpl[t].lit_len[MC_MEDIA_LITERALS - 1]
                                       - enc._tpl[t].lit[0]))


def fan_out(list writers not None, int64_t ts_ms, inbound, outbound):
    """Encode and write this tick for every ready writer of `writers` (one call group: one
    format, so `inbound` and `outbound` are the tick's frames in that format). Returns the
    writers whose fork must act (see `outcome`), in order, or None when there are none."""
    return fan_out_c(writers, ts_ms, inbound, outbound)


cdef object fan_out_c(list writers, int64_t ts_ms, object inbound, object outbound):
    """`fan_out` for C callers (calltick.pyx): no argument parsing, no module look-up."""
    cdef Py_buffer si, so
    cdef Py_ssize_t i = 0
    cdef DirectWriter w
    cdef list slow = None
    if writers is None:
        raise TypeError("writers must be a list, not None")
    _grow_scratch()
    get_bytes(inbound, &si)
    try:
        get_bytes(outbound, &so)
        try:
            # the first writers' lines, then each step asks for the next ones
            _warm(writers, -3)
            _warm(writers, -2)
            _warm(writers, -1)
            # the size is read every time: a TLS write or a log callback runs Python code
            while i < PyList_GET_SIZE(writers):
                w = <DirectWriter?><object>PyList_GET_ITEM(writers, i)
                _warm(writers, i)
                i += 1
                if not w._ready():
                    w.outcome = _NOT_READY
                else:
                    w._tick(ts_ms, &si, &so)
                    if w.outcome == _DONE:
                        continue
                if slow is None:
                    slow = []
                slow.append(w)
        finally:
            PyBuffer_Release(&so)
    finally:
        PyBuffer_Release(&si)
    return slow
