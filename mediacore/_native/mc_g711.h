/* G.711 μ-law and L16 helpers: the per-sample definitions and the bulk loops.
 *
 * Bit-exact with ITU-T G.711 as implemented by the reference code that CPython's audioop
 * carries (Sun's g711.c): the 16-bit sample is reduced to 14 bits with an arithmetic shift,
 * the magnitude clipped to 8159, biased by 33, and coded as 3 segment bits + 4 mantissa bits,
 * all bits inverted. Both directions are written without branches or tables so the compiler
 * vectorises the bulk loops. */
#ifndef MC_G711_H
#define MC_G711_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* One μ-law code from one linear sample. The segment and mantissa come from the float
 * representation of the biased magnitude (exact below 2^24): exponent - 5 is the segment,
 * the four bits after the leading one are the mantissa. Magnitude 8192 (segment 8) clamps
 * to code 0x7F, as the reference does. */
static inline uint8_t mc_ulaw_from_linear(int16_t pcm)
{
    int32_t x = (int32_t)pcm >> 2;
    int32_t neg = x >> 31;                       /* 0 or -1 */
    int32_t mag = (x ^ neg) - neg;               /* |x|, at most 8192 */
    mag = (mag > 8159 ? 8159 : mag) + 33;
    float f = (float)mag;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    int32_t code = (int32_t)(((bits >> 23) - 132u) << 4 | ((bits >> 19) & 0x0Fu));
    code = code > 0x7F ? 0x7F : code;
    /* positive: invert all bits (mask 0xFF); negative: invert all but the sign (mask 0x7F) */
    return (uint8_t)(code ^ (0xFF ^ (neg & 0x80)));
}

/* One linear sample from one μ-law code: ((mantissa << 3) + 0x84) << segment, minus the bias,
 * negated for the negative half. The shift is a multiplication by 2^segment built from float
 * exponent bits (exact: every value is below 2^24), so the bulk loop vectorises without the
 * per-lane variable shifts that baseline x86-64 lacks. */
static inline int16_t mc_linear_from_ulaw(uint8_t code)
{
    uint32_t u = (uint8_t)~code;
    uint32_t scale_bits = (((u >> 4) & 0x07u) + 127u) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    int32_t t = (int32_t)((float)(int32_t)(((u & 0x0Fu) << 3) + 0x84u) * scale) - 0x84;
    int32_t neg = -(int32_t)(u >> 7);            /* 0 or -1 */
    return (int16_t)((t ^ neg) - neg);
}

/* Bulk loops: n samples; src and dst must not overlap (L16 swap may work in place). */
void mc_ulaw_encode(const int16_t *src, uint8_t *dst, size_t n);
void mc_ulaw_decode(const uint8_t *src, int16_t *dst, size_t n);
void mc_l16_swap(const uint8_t *src, uint8_t *dst, size_t n_samples);
/* dst = a + b per sample, saturated to int16 (mixing two signals). */
void mc_l16_mix(const int16_t *a, const int16_t *b, int16_t *dst, size_t n);
/* Unaligned / byte-order-aware forms used by the transcoder. */
void mc_l16_load(const uint8_t *src, int16_t *dst, size_t n, int swap);
void mc_l16_store(const int16_t *src, uint8_t *dst, size_t n, int swap);

#endif
