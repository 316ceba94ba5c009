from libc.stdint cimport int16_t, uint8_t

cdef extern from "mc_g711.h" nogil:
    uint8_t mc_ulaw_from_linear(int16_t pcm)
    int16_t mc_linear_from_ulaw(uint8_t code)
    void mc_ulaw_encode(const int16_t *src, uint8_t *dst, size_t n)
    void mc_ulaw_decode(const uint8_t *src, int16_t *dst, size_t n)
    void mc_l16_swap(const uint8_t *src, uint8_t *dst, size_t n_samples)
    void mc_l16_mix(const int16_t *a, const int16_t *b, int16_t *dst, size_t n)
