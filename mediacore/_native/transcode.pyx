# distutils: sources = mediacore/_native/mc_transcode.c mediacore/_native/mc_resampler.c mediacore/_native/mc_g711.c
"""One-pass format conversion; the typed face is mediacore.codec.Transcoder."""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

from libc.stdint cimport uint8_t

from mediacore._native._buffers cimport (PyBuffer_Release, get_bytes, get_dst, check_even,
                                         check_room, check_disjoint)


cdef class NativeTranscoder:
    """Decode -> resample -> encode in one native pass, with streaming resampler state."""

    def _configure(self, bint src_ulaw, int src_rate, bint src_be,
                   bint dst_ulaw, int dst_rate, bint dst_be):
        if mc_tc_init(&self._tc, MC_ENC_ULAW if src_ulaw else MC_ENC_L16, src_rate, src_be,
                      MC_ENC_ULAW if dst_ulaw else MC_ENC_L16, dst_rate, dst_be) < 0:
            raise ValueError(f"unsupported rate conversion {src_rate} Hz -> {dst_rate} Hz")
        self._src_l16 = not src_ulaw
        self._ready = True

    cdef int _check(self, Py_ssize_t n) except -1:
        if not self._ready:
            raise RuntimeError("transcoder is not configured")
        if self._src_l16:
            check_even(n, "L16 input")
        return 0

    def output_bytes(self, Py_ssize_t input_bytes):
        """Bytes that the next `input_bytes` of input will produce (for sizing `dst`)."""
        self._check(0)
        if input_bytes < 0:
            raise ValueError("input_bytes must not be negative")
        if input_bytes > PY_SSIZE_T_MAX // 8:  # the output (up to 4x) must fit a Py_ssize_t
            raise ValueError(f"input_bytes {input_bytes} is too large")
        return <Py_ssize_t>mc_tc_out_bytes(&self._tc, <size_t>input_bytes)

    def reset(self):
        """Forget the resampler history, as after silence (e.g. when playback is cleared)."""
        self._check(0)
        mc_tc_reset(&self._tc)

    def process(self, data):
        """Convert the next chunk; returns the output as bytes."""
        cdef Py_buffer s
        get_bytes(data, &s)
        try:
            self._check(s.len)
            out = PyBytes_FromStringAndSize(NULL, mc_tc_out_bytes(&self._tc, <size_t>s.len))
            mc_tc_process(&self._tc, <const uint8_t*>s.buf, <size_t>s.len,
                          <uint8_t*>PyBytes_AS_STRING(out))
            return out
        finally:
            PyBuffer_Release(&s)

    def process_into(self, src, dst):
        """Convert the next chunk into the writable `dst`; returns the bytes written."""
        cdef Py_buffer s, d
        cdef Py_ssize_t n
        get_bytes(src, &s)
        try:
            self._check(s.len)
            get_dst(dst, &d)
            try:
                n = <Py_ssize_t>mc_tc_out_bytes(&self._tc, <size_t>s.len)
                check_room(d.len, n)
                check_disjoint(&s, &d)
                return <Py_ssize_t>mc_tc_process(&self._tc, <const uint8_t*>s.buf,
                                                 <size_t>s.len, <uint8_t*>d.buf)
            finally:
                PyBuffer_Release(&d)
        finally:
            PyBuffer_Release(&s)
