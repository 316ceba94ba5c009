# distutils: sources = mediacore/_native/mc_resampler.c
"""Streaming 8 kHz <-> 16 kHz resampler for L16 audio (see mediacore.resample)."""

from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

from libc.stdint cimport int16_t

from mediacore._native._buffers cimport (PyBuffer_Release, get_pcm, get_dst, check_even,
                                         check_room, check_disjoint)


cdef class Resampler:
    """Resample a stream of L16 samples (host byte order) from `in_rate` to `out_rate`.

    Rates are 8000 or 16000 Hz (equal rates copy). State carries across calls: feeding a
    signal in chunks of any size gives exactly the samples of one whole call.
    """

    def __cinit__(self, int in_rate, int out_rate):
        if mc_rs_init(&self._rs, in_rate, out_rate) < 0:
            raise ValueError(f"unsupported resampling {in_rate} Hz -> {out_rate} Hz: "
                             f"rates must be 8000 or 16000")
        self.in_rate = in_rate
        self.out_rate = out_rate

    @property
    def delay_samples(self):
        """Group delay of the filter, in output samples (22 at 16 kHz, 11 at 8 kHz)."""
        return mc_rs_delay(&self._rs)

    def output_bytes(self, Py_ssize_t input_bytes):
        """Bytes that the next `input_bytes` of input will produce (for sizing `dst`)."""
        if input_bytes < 0:
            raise ValueError("input_bytes must not be negative")
        if input_bytes > PY_SSIZE_T_MAX // 8:  # the output (up to 4x) must fit a Py_ssize_t
            raise ValueError(f"input_bytes {input_bytes} is too large")
        return <Py_ssize_t>mc_rs_out_len(&self._rs, <size_t>(input_bytes >> 1)) * 2

    def reset(self):
        """Forget the stream so far, as if it had been silent."""
        mc_rs_reset(&self._rs)

    def process(self, pcm):
        """Resample the next chunk; returns the output samples as bytes."""
        cdef Py_buffer src
        cdef Py_ssize_t n
        get_pcm(pcm, &src, "PCM input")
        try:
            check_even(src.len, "PCM input")
            n = <Py_ssize_t>mc_rs_out_len(&self._rs, <size_t>(src.len >> 1))
            out = PyBytes_FromStringAndSize(NULL, n * 2)
            mc_rs_process(&self._rs, <const int16_t*>src.buf, <size_t>(src.len >> 1),
                          <int16_t*>PyBytes_AS_STRING(out))
            return out
        finally:
            PyBuffer_Release(&src)

    def process_into(self, src, dst):
        """Resample the next chunk into the writable `dst`; returns the bytes written.

        `dst` must hold `output_bytes(len(src))` bytes; it must not overlap `src`.
        """
        cdef Py_buffer s, d
        cdef Py_ssize_t n
        get_pcm(src, &s, "PCM input")
        try:
            check_even(s.len, "PCM input")
            get_dst(dst, &d)
            try:
                n = <Py_ssize_t>mc_rs_out_len(&self._rs, <size_t>(s.len >> 1)) * 2
                check_room(d.len, n)
                check_disjoint(&s, &d)
                mc_rs_process(&self._rs, <const int16_t*>s.buf, <size_t>(s.len >> 1),
                              <int16_t*>d.buf)
                return n
            finally:
                PyBuffer_Release(&d)
        finally:
            PyBuffer_Release(&s)

    def __repr__(self):
        return f"Resampler({self.in_rate}, {self.out_rate})"
