#include "mc_resampler.h"
#include "mc_simd.h"
#include <string.h>

/* Q15 taps, time-reversed and left-padded with zeros to MC_RS_TAPS, so that
 * y = sum(c[k] * w[k]) over a window w of the last MC_RS_TAPS samples, oldest first. */
static const int16_t DOWN_TAPS[MC_RS_TAPS] = {
    0, 0, 0,
    29, 26, -49, -77, 54, 121, -90, -218, 110, 338, -145, -524, 171, 782, -201, -1181, 223,
    1854, -242, -3334, 253, 10381, 16126, 10381, 253, -3334, -242, 1854, 223, -1181, -201,
    782, 171, -524, -145, 338, 110, -218, -90, 121, 54, -77, -49, 26, 29,
};

/* Up branches over a window of the last 24 input samples (oldest first): even outputs use the
 * even-indexed taps (23), odd outputs the odd-indexed taps (22), both Q14 (= 2 x Q15). */
#define UP_TAPS 24
static const int16_t UP_EVEN[UP_TAPS] = {
    0, 29, -49, 54, -90, 110, -145, 171, -201, 223, -242, 253,
    16126, 253, -242, 223, -201, 171, -145, 110, -90, 54, -49, 29,
};
static const int16_t UP_ODD[UP_TAPS] = {
    0, 0, 26, -77, 121, -218, 338, -524, 782, -1181, 1854, -3334,
    10381, 10381, -3334, 1854, -1181, 782, -524, 338, -218, 121, -77, 26,
};

#define BLOCK 256  /* input samples per inner pass; keeps the work window on the stack */

static inline int16_t sat_round(int32_t acc, int shift)
{
    acc = (acc + (1 << (shift - 1))) >> shift;
    return (int16_t)(acc > 32767 ? 32767 : acc < -32768 ? -32768 : acc);
}

int mc_rs_init(mc_resampler *rs, int in_rate, int out_rate)
{
    if (in_rate == out_rate && (in_rate == 8000 || in_rate == 16000))
        rs->kind = MC_RS_IDENTITY;
    else if (in_rate == 8000 && out_rate == 16000)
        rs->kind = MC_RS_UP;
    else if (in_rate == 16000 && out_rate == 8000)
        rs->kind = MC_RS_DOWN;
    else
        return -1;
    mc_rs_reset(rs);
    return 0;
}

void mc_rs_reset(mc_resampler *rs)
{
    rs->parity = 0;
    memset(rs->hist, 0, sizeof rs->hist);
}

size_t mc_rs_out_len(const mc_resampler *rs, size_t n_in)
{
    switch (rs->kind) {
    case MC_RS_UP: return n_in * 2;
    case MC_RS_DOWN: return rs->parity ? n_in / 2 : (n_in + 1) / 2; /* even indices ahead */
    default: return n_in;
    }
}

int mc_rs_delay(const mc_resampler *rs)
{
    switch (rs->kind) {
    case MC_RS_UP: return 22;
    case MC_RS_DOWN: return 11;
    default: return 0;
    }
}

/* Portable forms: one output at a time. The AVX2 forms below compute the same integer sums
 * (so the same samples) for 16 inputs / 8 outputs at a time and fall back to these for tails. */
static void up_scalar(const int16_t *restrict w, size_t n, int16_t *restrict out)
{
    /* w holds UP_TAPS - 1 history samples, then n new ones */
    for (size_t j = 0; j < n; j++) {
        const int16_t *win = w + j;
        int32_t even = 0, odd = 0;
        for (int k = 0; k < UP_TAPS; k++) {
            even += (int32_t)UP_EVEN[k] * win[k];
            odd += (int32_t)UP_ODD[k] * win[k];
        }
        out[2 * j] = sat_round(even, 14);
        out[2 * j + 1] = sat_round(odd, 14);
    }
}

static void down_scalar(const int16_t *restrict w, size_t n_out, int16_t *restrict out)
{
    /* output m's window is w[2m .. 2m + MC_RS_TAPS - 1] */
    for (size_t m = 0; m < n_out; m++) {
        const int16_t *win = w + 2 * m;
        int32_t acc = 0;
        for (int k = 0; k < MC_RS_TAPS; k++)
            acc += (int32_t)DOWN_TAPS[k] * win[k];
        out[m] = sat_round(acc, 15);
    }
}

#if MC_HAVE_AVX2
#include <immintrin.h>

/* pmaddwd over tap pairs: lane i of madd(loadu(w + b), pair(c[2t], c[2t+1])) is
 * c[2t] * w[b + 2i] + c[2t+1] * w[b + 2i + 1], i.e. one tap pair of the output whose window
 * starts at b + 2i - 2t. Eight outputs two samples apart per instruction, no horizontal sums. */
static inline __attribute__((target("avx2"))) __m256i tap_pair(const int16_t *c, int t)
{
    return _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)c[2 * t + 1] << 16)
                                       | (uint16_t)c[2 * t]));
}

static inline __attribute__((target("avx2"))) __m256i
fir8(const int16_t *w, const __m256i *pairs, int n_pairs, int shift)
{
    __m256i acc = _mm256_set1_epi32(1 << (shift - 1));
    for (int t = 0; t < n_pairs; t++)
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(
            _mm256_loadu_si256((const __m256i *)(w + 2 * t)), pairs[t]));
    return _mm256_srai_epi32(acc, shift);
}

/* int32 lanes -> saturated int16, stored in lane order */
static inline __attribute__((target("avx2"))) void store8(int16_t *dst, __m256i v)
{
    __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)dst, packed);
}

static __attribute__((target("avx2"))) void up_avx2(const int16_t *restrict w, size_t n,
                                                   int16_t *restrict out)
{
    __m256i pe[UP_TAPS / 2], po[UP_TAPS / 2];
    for (int t = 0; t < UP_TAPS / 2; t++) {
        pe[t] = tap_pair(UP_EVEN, t);
        po[t] = tap_pair(UP_ODD, t);
    }
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        int16_t ee[8], eo[8], oe[8], oo[8];  /* phase even/odd x input j even/odd */
        store8(ee, fir8(w + j, pe, UP_TAPS / 2, 14));
        store8(eo, fir8(w + j + 1, pe, UP_TAPS / 2, 14));
        store8(oe, fir8(w + j, po, UP_TAPS / 2, 14));
        store8(oo, fir8(w + j + 1, po, UP_TAPS / 2, 14));
        int16_t *o = out + 2 * j;
        for (int i = 0; i < 8; i++) {
            o[4 * i] = ee[i];
            o[4 * i + 1] = oe[i];
            o[4 * i + 2] = eo[i];
            o[4 * i + 3] = oo[i];
        }
    }
    up_scalar(w + j, n - j, out + 2 * j);
}

static __attribute__((target("avx2"))) void down_avx2(const int16_t *restrict w, size_t n_out,
                                                     int16_t *restrict out)
{
    __m256i pd[MC_RS_TAPS / 2];
    for (int t = 0; t < MC_RS_TAPS / 2; t++)
        pd[t] = tap_pair(DOWN_TAPS, t);
    size_t m = 0;
    for (; m + 8 <= n_out; m += 8)
        store8(out + m, fir8(w + 2 * m, pd, MC_RS_TAPS / 2, 15));
    down_scalar(w + 2 * m, n_out - m, out + m);
}
#endif

static void up_block(const int16_t *w, size_t n, int16_t *out)
{
#if MC_HAVE_AVX2
    if (mc_cpu_avx2()) {
        up_avx2(w, n, out);
        return;
    }
#endif
    up_scalar(w, n, out);
}

static void down_block(const int16_t *w, size_t n_out, int16_t *out)
{
#if MC_HAVE_AVX2
    if (mc_cpu_avx2()) {
        down_avx2(w, n_out, out);
        return;
    }
#endif
    down_scalar(w, n_out, out);
}

size_t mc_rs_process(mc_resampler *rs, const int16_t *in, size_t n_in, int16_t *out)
{
    if (rs->kind == MC_RS_IDENTITY) {
        if (n_in)
            memmove(out, in, n_in * sizeof *in);
        return n_in;
    }
    int16_t w[MC_RS_HIST + BLOCK];
    size_t written = 0;
    while (n_in) {
        size_t n = n_in < BLOCK ? n_in : BLOCK;
        memcpy(w, rs->hist, sizeof rs->hist);
        memcpy(w + MC_RS_HIST, in, n * sizeof *in);
        if (rs->kind == MC_RS_UP) {
            up_block(w + MC_RS_HIST - (UP_TAPS - 1), n, out + written);
            written += 2 * n;
        } else {
            /* input index i of this block is output-producing when (parity + i) is even */
            size_t first = rs->parity ? 1 : 0;
            size_t n_out = n > first ? (n - first + 1) / 2 : 0;
            down_block(w + MC_RS_HIST - (MC_RS_TAPS - 1) + first, n_out, out + written);
            written += n_out;
            rs->parity = (uint32_t)((rs->parity + n) & 1u);
        }
        memcpy(rs->hist, w + n, sizeof rs->hist);
        in += n;
        n_in -= n;
    }
    return written;
}
