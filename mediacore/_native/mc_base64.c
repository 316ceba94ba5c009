/* Base64 encoder.
 *
 * Theory of operation: the engine encodes every fork's 160-320 byte payload every 20 ms, cold
 * in the caches after the kernel's sends for the forks before it. With AVX2 (chosen at run
 * time, mc_simd.h) 24 input bytes become 32 characters per step in registers: bytes shuffled
 * into 3-byte groups, the four 6-bit indexes of each group moved into place with two
 * multiplies, and indexes turned into characters by adding an offset picked from a 16-entry
 * in-register table (the method of Muła and Lemire, "Faster Base64 Encoding and Decoding
 * using AVX2 Instructions", 2018), so no table in memory is touched. The remainder, and
 * machines without AVX2, use a 4096-entry table that maps each 12-bit half of a group
 * straight to its two output characters (two loads and two 16-bit stores per group). The
 * table is a constant built from the alphabet the first time it is needed; building it twice
 * (a benign race without the GIL) writes the same bytes. Output is byte-identical to Python's
 * base64.b64encode. */
#include <string.h>

#include "mc_base64.h"
#include "mc_simd.h"

#if MC_HAVE_AVX2
#include <immintrin.h>
#endif

static const char alphabet[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char pairs[4096][2];
static int pairs_ready;

static void build_pairs(void)
{
    for (int i = 0; i < 4096; i++) {
        pairs[i][0] = alphabet[i >> 6];
        pairs[i][1] = alphabet[i & 63];
    }
    pairs_ready = 1;
}


#if MC_HAVE_AVX2
static inline __attribute__((target("avx2"))) __m256i b64_indexes(__m256i in)
{
    /* per 32-bit lane, the group's bytes as [b1 b0 b2 b1] */
    in = _mm256_shuffle_epi8(in, _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11,
                                                  10, 1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9,
                                                  11, 10));
    /* indexes a and c: shifted down by the high half of a 16-bit multiply */
    __m256i ac = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
                                    _mm256_set1_epi32(0x04000040));
    /* indexes b and d: shifted up by the low half */
    __m256i bd = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
                                    _mm256_set1_epi32(0x01000010));
    return _mm256_or_si256(ac, bd);
}

/* index (0..63) + the offset of its range: 'A' - 0, 'a' - 26, '0' - 52, '+' - 62, '/' - 63 */
static inline __attribute__((target("avx2"))) __m256i b64_chars(__m256i idx)
{
    const __m256i offsets = _mm256_setr_epi8(65, 71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4,
                                             -19, -16, 0, 0, 65, 71, -4, -4, -4, -4, -4, -4,
                                             -4, -4, -4, -4, -19, -16, 0, 0);
    /* 0..25 -> 0, 26..51 -> 1, 52..61 -> 2..11, 62 -> 12, 63 -> 13 */
    __m256i slot = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    slot = _mm256_sub_epi8(slot, _mm256_cmpgt_epi8(idx, _mm256_set1_epi8(25)));
    return _mm256_add_epi8(idx, _mm256_shuffle_epi8(offsets, slot));
}

/* Encode whole 24-byte steps while 28 bytes are readable (each 16-byte half reads 4 bytes past
 * its 12), then one 12-byte half if 16 are; returns the input bytes consumed (a multiple of
 * 12: whole groups, the rest is left to the table). */
static __attribute__((target("avx2"))) size_t b64_avx2(char *dst, const uint8_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 28 <= n; i += 24) {
        __m256i in = _mm256_loadu2_m128i((const __m128i *)(src + i + 12),
                                         (const __m128i *)(src + i));
        _mm256_storeu_si256((__m256i *)dst, b64_chars(b64_indexes(in)));
        dst += 32;
    }
    if (i + 16 <= n) {  /* one half: 12 bytes, 16 characters (160 bytes leave 16 here) */
        __m256i in = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm_storeu_si128((__m128i *)dst,
                         _mm256_castsi256_si128(b64_chars(b64_indexes(in))));
        i += 12;
    }
    return i;
}
#endif

size_t mc_b64_encode(char *dst, const uint8_t *src, size_t n)
{
    char *out = dst;
    size_t i = 0;
#if MC_HAVE_AVX2
    if (mc_cpu_avx2()) {
        i = b64_avx2(out, src, n);
        out += i / 3 * 4;
    }
#endif
    if (!pairs_ready)
        build_pairs();
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8) | src[i + 2];
        memcpy(out, pairs[v >> 12], 2);
        memcpy(out + 2, pairs[v & 0xfff], 2);
        out += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)src[i] << 16;
        out[0] = alphabet[v >> 18];
        out[1] = alphabet[(v >> 12) & 63];
        out[2] = '=';
        out[3] = '=';
        out += 4;
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)src[i] << 16) | ((uint32_t)src[i + 1] << 8);
        out[0] = alphabet[v >> 18];
        out[1] = alphabet[(v >> 12) & 63];
        out[2] = alphabet[(v >> 6) & 63];
        out[3] = '=';
        out += 4;
    }
    return (size_t)(out - dst);
}
