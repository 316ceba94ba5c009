# distutils: sources = mediacore/_native/mc_g711.c
"""G.711 μ-law and L16 byte-order conversion over buffers (see mediacore.codec)."""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport int16_t, uint8_t

from cpython.list cimport PyList_GET_ITEM

from mediacore._native._buffers cimport (PyBuffer_Release, get_pcm, get_bytes, get_dst,
                                         check_even, check_room)

# Byte counts returned by the *_into functions, as ready-made ints: a 20 ms L16 frame is 320
# or 640 bytes, above CPython's small-int cache, and allocating the int costs as much as a
# sixth of a decode.
cdef list _COUNTS = list(range(4097))


cdef inline object _count(Py_ssize_t n):
    cdef object obj
    if n <= 4096:
        obj = <object>PyList_GET_ITEM(_COUNTS, n)
        return obj
    return n


def ulaw_encode(pcm):
    """μ-law bytes for L16 samples (host byte order); one byte per sample."""
    cdef Py_buffer src
    get_pcm(pcm, &src, "PCM input")
    try:
        check_even(src.len, "PCM input")
        out = PyBytes_FromStringAndSize(NULL, src.len >> 1)
        mc_ulaw_encode(<const int16_t*>src.buf, <uint8_t*>PyBytes_AS_STRING(out), src.len >> 1)
        return out
    finally:
        PyBuffer_Release(&src)


def ulaw_decode(ulaw):
    """L16 samples (host byte order) for μ-law bytes; two bytes per sample."""
    cdef Py_buffer src
    get_bytes(ulaw, &src)
    try:
        out = PyBytes_FromStringAndSize(NULL, src.len * 2)
        mc_ulaw_decode(<const uint8_t*>src.buf, <int16_t*>PyBytes_AS_STRING(out), src.len)
        return out
    finally:
        PyBuffer_Release(&src)


def ulaw_encode_into(src, dst):
    """Encode L16 `src` into the writable buffer `dst`; returns the bytes written."""
    cdef Py_buffer s, d
    get_pcm(src, &s, "PCM input")
    try:
        check_even(s.len, "PCM input")
        get_dst(dst, &d)
        try:
            check_room(d.len, s.len >> 1)
            mc_ulaw_encode(<const int16_t*>s.buf, <uint8_t*>d.buf, s.len >> 1)
            return _count(s.len >> 1)
        finally:
            PyBuffer_Release(&d)
    finally:
        PyBuffer_Release(&s)


def ulaw_decode_into(src, dst):
    """Decode μ-law `src` into the writable buffer `dst`; returns the bytes written."""
    cdef Py_buffer s, d
    get_bytes(src, &s)
    try:
        get_dst(dst, &d)
        try:
            check_room(d.len, s.len * 2)
            mc_ulaw_decode(<const uint8_t*>s.buf, <int16_t*>d.buf, s.len)
            return _count(s.len * 2)
        finally:
            PyBuffer_Release(&d)
    finally:
        PyBuffer_Release(&s)


def l16_swap(pcm):
    """The same L16 samples with each sample's two bytes swapped (LE <-> BE)."""
    cdef Py_buffer src
    get_bytes(pcm, &src)
    try:
        check_even(src.len, "L16 input")
        out = PyBytes_FromStringAndSize(NULL, src.len)
        mc_l16_swap(<const uint8_t*>src.buf, <uint8_t*>PyBytes_AS_STRING(out), src.len >> 1)
        return out
    finally:
        PyBuffer_Release(&src)


def l16_swap_into(src, dst):
    """Byte-swap L16 `src` into `dst` (which may be `src` itself); returns the bytes written."""
    cdef Py_buffer s, d
    get_bytes(src, &s)
    try:
        check_even(s.len, "L16 input")
        get_dst(dst, &d)
        try:
            check_room(d.len, s.len)
            mc_l16_swap(<const uint8_t*>s.buf, <uint8_t*>d.buf, s.len >> 1)
            return _count(s.len)
        finally:
            PyBuffer_Release(&d)
    finally:
        PyBuffer_Release(&s)


def l16_mix_into(a, b, dst):
    """Mix two L16 signals of equal length (host byte order) into `dst`, sample by sample,
    saturating; returns the bytes written. `dst` may be `a` or `b`."""
    cdef Py_buffer sa, sb, d
    get_pcm(a, &sa, "first input")
    try:
        get_pcm(b, &sb, "second input")
        try:
            check_even(sa.len, "first input")
            if sb.len != sa.len:
                raise ValueError(f"inputs to mix differ in length: {sa.len} and {sb.len} bytes")
            get_dst(dst, &d)
            try:
                check_room(d.len, sa.len)
                mc_l16_mix(<const int16_t*>sa.buf, <const int16_t*>sb.buf, <int16_t*>d.buf,
                           sa.len >> 1)
                return _count(sa.len)
            finally:
                PyBuffer_Release(&d)
        finally:
            PyBuffer_Release(&sb)
    finally:
        PyBuffer_Release(&sa)
