from libc.stdint cimport int16_t, uint32_t

cdef extern from "mc_resampler.h" nogil:
    ctypedef struct mc_resampler:
        uint32_t parity
    int mc_rs_init(mc_resampler *rs, int in_rate, int out_rate)
    void mc_rs_reset(mc_resampler *rs)
    size_t mc_rs_out_len(const mc_resampler *rs, size_t n_in)
    int mc_rs_delay(const mc_resampler *rs)
    size_t mc_rs_process(mc_resampler *rs, const int16_t *inp, size_t n_in, int16_t *out)

cdef class Resampler:
    cdef mc_resampler _rs
    cdef readonly int in_rate
    cdef readonly int out_rate
