# Buffer-protocol helpers shared by the native modules (inline; no module of its own).
#
# Inputs: any C-contiguous buffer (bytes, bytearray, memoryview, array.array, numpy arrays).
# PCM inputs must be raw bytes (itemsize 1) or int16 samples in host byte order; anything else
# (float arrays, uint16, big-endian arrays) is refused with a ValueError naming the format.
# Destinations must be writable. Every acquired view is released by the caller in `finally`.

from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE,
                             PyBUF_FORMAT, PyBUF_WRITABLE, PyBUF_C_CONTIGUOUS)
from cpython.bytearray cimport PyByteArray_CheckExact, PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE

# Fast paths: bytes and bytearray (the common cases, ~20 ns per call cheaper) are read
# directly. The view gets obj = NULL, which makes PyBuffer_Release a no-op; the memory stays
# valid because the caller's argument holds a reference and no Python code runs in between.

cdef extern from "mc_pybuffer.h":
    void _direct "mc_buffer_direct" (Py_buffer* view, char* buf, Py_ssize_t n) noexcept

cdef inline bint _is_int16_format(const char* fmt) noexcept:
    if fmt[0] == b'@' or fmt[0] == b'=' or fmt[0] == b'<':
        fmt += 1
    return fmt[0] == b'h' and fmt[1] == 0

cdef inline int get_pcm(object obj, Py_buffer* view, str what) except -1:
    """Acquire a PCM input: bytes-like, or int16 samples."""
    if PyBytes_CheckExact(obj):
        _direct(view, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))
        return 0
    try:
        PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    except BufferError as exc:
        raise ValueError(f"{what} must be a contiguous buffer ({exc})") from None
    if view.itemsize == 1 or (view.itemsize == 2 and view.format != NULL
                              and _is_int16_format(view.format)):
        return 0
    fmt = view.format.decode("ascii", "replace") if view.format != NULL else "?"
    PyBuffer_Release(view)
    raise ValueError(f"{what} must be bytes-like or int16 samples in host byte order, "
                     f"not a buffer of format {fmt!r}")

cdef inline int get_bytes(object obj, Py_buffer* view) except -1:
    """Acquire any contiguous buffer as raw bytes."""
    if PyBytes_CheckExact(obj):
        _direct(view, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))
        return 0
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE)
    except BufferError as exc:
        raise ValueError(f"input must be a contiguous buffer ({exc})") from None
    return 0

cdef inline int get_dst(object obj, Py_buffer* view) except -1:
    """Acquire a writable destination."""
    if PyByteArray_CheckExact(obj):
        _direct(view, PyByteArray_AS_STRING(obj), PyByteArray_GET_SIZE(obj))
        return 0
    try:
        PyObject_GetBuffer(obj, view, PyBUF_SIMPLE | PyBUF_WRITABLE)
    except BufferError:
        raise TypeError(f"destination must be a writable buffer (bytearray, memoryview, "
                        f"numpy array), not {type(obj).__name__}") from None
    return 0

cdef inline int check_even(Py_ssize_t n, str what) except -1:
    if n & 1:
        raise ValueError(f"{what} has an odd number of bytes ({n}); "
                         f"L16 samples are 2 bytes each")
    return 0

cdef inline int check_room(Py_ssize_t have, Py_ssize_t need) except -1:
    if have < need:
        raise ValueError(f"destination buffer too small: {have} bytes, {need} needed")
    return 0

cdef inline int check_disjoint(Py_buffer* s, Py_buffer* d) except -1:
    cdef size_t s0 = <size_t>s.buf, d0 = <size_t>d.buf
    if s.len and d.len and s0 < d0 + <size_t>d.len and d0 < s0 + <size_t>s.len:
        raise ValueError("destination buffer overlaps the input")
    return 0
