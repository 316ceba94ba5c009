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

#define BLOCK 512  /* input samples per inner pass (a 20 ms frame at 16 kHz is 320) */

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

/* Portable forms: one output at a time. The AVX2 and AVX-512 forms below compute the same
 * integer sums (so the same samples) 8 or 16 lanes at a time and fall back to the narrower
 * form for the tail of a block. */
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
    /* two accumulators halve the chain of dependent adds (n_pairs is even) */
    __m256i acc0 = _mm256_set1_epi32(1 << (shift - 1)), acc1 = _mm256_setzero_si256();
    for (int t = 0; t < n_pairs; t += 2) {
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(
            _mm256_loadu_si256((const __m256i *)(w + 2 * t)), pairs[t]));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(
            _mm256_loadu_si256((const __m256i *)(w + 2 * t + 2)), pairs[t + 1]));
    }
    return _mm256_srai_epi32(_mm256_add_epi32(acc0, acc1), shift);
}

/* int32 lanes -> saturated int16, stored in lane order */
static inline __attribute__((target("avx2"))) void store8(int16_t *dst, __m256i v)
{
    __m128i packed = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128((__m128i *)dst, packed);
}

/* Two int32 vectors holding the outputs at even and at odd positions (8 each) -> 16 int16 in
 * order: saturate, then put the odd output in the high half of each 32-bit lane. */
static inline __attribute__((target("avx2"))) __m256i zip_even_odd(__m256i even, __m256i odd)
{
    const __m256i lo = _mm256_set1_epi32(-32768), hi = _mm256_set1_epi32(32767);
    even = _mm256_min_epi32(_mm256_max_epi32(even, lo), hi);
    odd = _mm256_min_epi32(_mm256_max_epi32(odd, lo), hi);
    return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi32(0xFFFF)),
                           _mm256_slli_epi32(odd, 16));
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
        /* e: even-phase outputs (y[2j]) for inputs j..j+15, o: odd-phase outputs (y[2j+1]) */
        __m256i e = zip_even_odd(fir8(w + j, pe, UP_TAPS / 2, 14),
                                 fir8(w + j + 1, pe, UP_TAPS / 2, 14));
        __m256i o = zip_even_odd(fir8(w + j, po, UP_TAPS / 2, 14),
                                 fir8(w + j + 1, po, UP_TAPS / 2, 14));
        /* interleave e and o per 16-bit sample; unpack works per 128-bit half, so the
         * halves are put back in order by the two permutes */
        __m256i lo = _mm256_unpacklo_epi16(e, o), hi = _mm256_unpackhi_epi16(e, o);
        _mm256_storeu_si256((__m256i *)(out + 2 * j), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(out + 2 * j + 16), _mm256_permute2x128_si256(lo, hi, 0x31));
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
/* The same kernels 16 lanes wide (AVX-512 F + BW). */
#define MC_AVX512 __attribute__((target("avx512f,avx512bw")))

static inline MC_AVX512 __m512i tap_pair16(const int16_t *c, int t)
{
    return _mm512_set1_epi32((int32_t)(((uint32_t)(uint16_t)c[2 * t + 1] << 16)
                                       | (uint16_t)c[2 * t]));
}

static inline MC_AVX512 __m512i fir16(const int16_t *w, const __m512i *pairs, int n_pairs,
                                      int shift)
{
    __m512i acc0 = _mm512_set1_epi32(1 << (shift - 1)), acc1 = _mm512_setzero_si512();
    for (int t = 0; t < n_pairs; t += 2) {
        acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(_mm512_loadu_si512(w + 2 * t), pairs[t]));
        acc1 = _mm512_add_epi32(acc1,
                                _mm512_madd_epi16(_mm512_loadu_si512(w + 2 * t + 2), pairs[t + 1]));
    }
    return _mm512_srai_epi32(_mm512_add_epi32(acc0, acc1), shift);
}

static inline MC_AVX512 __m512i zip_even_odd16(__m512i even, __m512i odd)
{
    const __m512i lo = _mm512_set1_epi32(-32768), hi = _mm512_set1_epi32(32767);
    even = _mm512_min_epi32(_mm512_max_epi32(even, lo), hi);
    odd = _mm512_min_epi32(_mm512_max_epi32(odd, lo), hi);
    return _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi32(0xFFFF)),
                           _mm512_slli_epi32(odd, 16));
}

static MC_AVX512 void up_avx512(const int16_t *restrict w, size_t n, int16_t *restrict out)
{
    __m512i pe[UP_TAPS / 2], po[UP_TAPS / 2];
    for (int t = 0; t < UP_TAPS / 2; t++) {
        pe[t] = tap_pair16(UP_EVEN, t);
        po[t] = tap_pair16(UP_ODD, t);
    }
    /* unpack interleaves per 128-bit quarter; these qword indices put the quarters in order */
    const __m512i first = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0);
    const __m512i second = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4);
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512i e = zip_even_odd16(fir16(w + j, pe, UP_TAPS / 2, 14),
                                   fir16(w + j + 1, pe, UP_TAPS / 2, 14));
        __m512i o = zip_even_odd16(fir16(w + j, po, UP_TAPS / 2, 14),
                                   fir16(w + j + 1, po, UP_TAPS / 2, 14));
        __m512i lo = _mm512_unpacklo_epi16(e, o), hi = _mm512_unpackhi_epi16(e, o);
        _mm512_storeu_si512(out + 2 * j, _mm512_permutex2var_epi64(lo, first, hi));
        _mm512_storeu_si512(out + 2 * j + 32, _mm512_permutex2var_epi64(lo, second, hi));
    }
    up_avx2(w + j, n - j, out + 2 * j);
}

static MC_AVX512 void down_avx512(const int16_t *restrict w, size_t n_out, int16_t *restrict out)
{
    __m512i pd[MC_RS_TAPS / 2];
    for (int t = 0; t < MC_RS_TAPS / 2; t++)
        pd[t] = tap_pair16(DOWN_TAPS, t);
    size_t m = 0;
    for (; m + 16 <= n_out; m += 16)
        _mm256_storeu_si256((__m256i *)(out + m),
                            _mm512_cvtsepi32_epi16(fir16(w + 2 * m, pd, MC_RS_TAPS / 2, 15)));
    down_avx2(w + 2 * m, n_out - m, out + m);
}
#endif


static void up_block(const int16_t *w, size_t n, int16_t *out)
{
#if MC_HAVE_AVX2
    if (mc_cpu_avx512()) {
        up_avx512(w, n, out);
        return;
    }
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
    if (mc_cpu_avx512()) {
        down_avx512(w, n_out, out);
        return;
    }
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
