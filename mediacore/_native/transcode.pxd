from libc.stdint cimport uint8_t

cdef extern from "mc_transcode.h" nogil:
    ctypedef enum mc_encoding:
        MC_ENC_ULAW
        MC_ENC_L16
    ctypedef struct mc_transcoder:
        pass
    int mc_tc_init(mc_transcoder *tc, mc_encoding src_enc, int src_rate, int src_swap,
                   mc_encoding dst_enc, int dst_rate, int dst_swap)
    void mc_tc_reset(mc_transcoder *tc)
    size_t mc_tc_out_bytes(const mc_transcoder *tc, size_t in_bytes)
    size_t mc_tc_process(mc_transcoder *tc, const uint8_t *inp, size_t in_bytes, uint8_t *out)

cdef class NativeTranscoder:
    cdef mc_transcoder _tc
    cdef bint _ready
    cdef bint _src_l16
    cdef int _check(self, Py_ssize_t n) except -1
