#include "mc_g711.h"
#include "mc_simd.h"

MC_HOT void mc_ulaw_encode(const int16_t *restrict src, uint8_t *restrict dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = mc_ulaw_from_linear(src[i]);
}

MC_HOT void mc_ulaw_decode(const uint8_t *restrict src, int16_t *restrict dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = mc_linear_from_ulaw(src[i]);
}

MC_HOT void mc_l16_swap(const uint8_t *src, uint8_t *dst, size_t n_samples)
{
    /* byte-wise so it is correct in place and for any alignment */
    for (size_t i = 0; i < n_samples; i++) {
        uint8_t lo = src[2 * i], hi = src[2 * i + 1];
        dst[2 * i] = hi;
        dst[2 * i + 1] = lo;
    }
}

MC_HOT void mc_l16_mix(const int16_t *a, const int16_t *b, int16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v = (int32_t)a[i] + b[i];
        dst[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
}

MC_HOT void mc_l16_load(const uint8_t *restrict src, int16_t *restrict dst, size_t n, int swap)
{
    if (!swap) {
        memcpy(dst, src, n * 2);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = (int16_t)(uint16_t)((uint16_t)src[2 * i] << 8 | src[2 * i + 1]);
}

MC_HOT void mc_l16_store(const int16_t *restrict src, uint8_t *restrict dst, size_t n, int swap)
{
    if (!swap) {
        memcpy(dst, src, n * 2);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)src[i];
        dst[2 * i] = (uint8_t)(v >> 8);
        dst[2 * i + 1] = (uint8_t)v;
    }
}
