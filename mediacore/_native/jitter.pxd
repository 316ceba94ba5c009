from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "mc_jitter.h" nogil:
    enum:
        MC_JB_EINVAL
        MC_JB_MODE_ADAPTIVE
        MC_JB_MODE_FIXED

    ctypedef struct mc_jb_config:
        uint32_t clock_rate
        uint32_t frame_samples
        uint32_t sample_bytes
        int mode
        double min_delay_ms
        double max_delay_ms
        double initial_delay_ms

    ctypedef struct mc_jb_stats:
        double delay_ms_current
        double delay_ms_min
        double delay_ms_max
        double delay_ms_sum
        double target_delay_ms
        uint64_t frames_normal, frames_concealed, frames_inserted, frames_prefetch, frames_empty
        uint64_t frames_late, frames_duplicate, frames_discarded
        uint64_t underruns, resets, packets
        uint32_t frames_buffered

    ctypedef struct mc_jb:
        pass

    mc_jb *mc_jb_new(const mc_jb_config *cfg)
    void mc_jb_free(mc_jb *jb)
    void mc_jb_reset(mc_jb *jb)
    size_t mc_jb_frame_bytes(const mc_jb *jb)
    size_t mc_jb_granule_bytes(const mc_jb *jb)
    size_t mc_jb_max_granules(const mc_jb *jb)
    int mc_jb_put(mc_jb *jb, uint16_t seq, uint32_t timestamp, const uint8_t *payload,
                  size_t len, double arrival_ms, int has_ssrc, uint32_t ssrc)
    int mc_jb_get(mc_jb *jb, double now_ms, uint8_t *out)
    void mc_jb_get_stats(const mc_jb *jb, mc_jb_stats *st)

cdef class JitterBuffer:
    cdef mc_jb *_jb
    cdef bytearray _out
    cdef uint8_t *_outp
    cdef tuple _results
    cdef tuple _frames
    cdef Py_ssize_t _granule_bytes
    cdef Py_ssize_t _max_granules
    cdef readonly int clock_rate
    cdef readonly int frame_samples
    cdef readonly Py_ssize_t frame_bytes
    cdef readonly object mode
    cdef readonly object codec
    cdef readonly double min_delay_ms
    cdef readonly double max_delay_ms
    cdef readonly double initial_delay_ms
    cdef str _payload_error(self, Py_ssize_t n)
    cdef int _put(self, long long seq, long long timestamp, const uint8_t* data, Py_ssize_t n,
                  double arrival_ms, int has_ssrc, uint32_t ssrc) except -2
