/* Client WebSocket text frames and the media message encoder.
 *
 * Theory of operation. A client must mask every frame it sends (RFC 6455 §5.3) with a fresh,
 * unpredictable 4-byte key, so that a hostile page cannot steer the bytes a proxy sees. Keys
 * come from the OS CSPRNG, but a syscall per frame would cost more than the whole encode, so
 * the pool draws 4 KiB (1024 keys) at once and hands them out in order; a key is never used
 * twice. The pool is not locked: callers hold the GIL.
 *
 * A media message is built in one pass, straight into the caller's buffer: the JSON length
 * is known up front (template literals + decimal digits + 4 * ceil(n / 3) base64 characters),
 * so the header (7-, 16- or 64-bit length) goes first, the JSON is written after it, and the
 * JSON is then masked in place, 8 bytes at a time. Nothing is allocated; no byte is copied
 * twice except by the masking pass.
 *
 * Units: lengths in bytes; the numeric fields are unsigned 64-bit integers printed in
 * decimal without leading zeros. Every function here trusts its caller (the Cython layer) to
 * have checked buffer sizes; none reads or writes outside the ranges documented in the
 * header. */
#include <errno.h>
#include <string.h>

#if defined(__linux__)
#include <sys/random.h>
#else
#include <stdlib.h>  /* arc4random_buf on the BSDs and macOS */
#endif

#include "mc_base64.h"
#include "mc_simd.h"
#include "mc_wsframe.h"

static int fill_random(uint8_t *dst, size_t n)
{
#if defined(__linux__)
    while (n) {
        ssize_t got = getrandom(dst, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        dst += got;
        n -= (size_t)got;
    }
    return 0;
#else
    arc4random_buf(dst, n);
    return 0;
#endif
}

int mc_mask_pool_take(mc_mask_pool *pool, uint8_t key[4])
{
    if (pool->pos > MC_MASK_POOL_BYTES - 4) {
        int err = fill_random(pool->bytes, MC_MASK_POOL_BYTES);
        if (err) {
            pool->pos = MC_MASK_POOL_BYTES;
            return err;
        }
        pool->pos = 0;
    }
    memcpy(key, pool->bytes + pool->pos, 4);
    pool->pos += 4;
    return 0;
}

size_t mc_ws_header_len(uint64_t n)
{
    return (n < 126 ? 2 : n <= 0xffff ? 4 : 10) + 4;
}

size_t mc_ws_write_header(uint8_t *dst, uint64_t n, const uint8_t key[4])
{
    size_t h;
    dst[0] = 0x81;  /* FIN, opcode 1: a whole text message in one frame */
    if (n < 126) {
        dst[1] = (uint8_t)(0x80 | n);
        h = 2;
    } else if (n <= 0xffff) {
        dst[1] = 0x80 | 126;
        dst[2] = (uint8_t)(n >> 8);
        dst[3] = (uint8_t)n;
        h = 4;
    } else {
        dst[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            dst[2 + i] = (uint8_t)(n >> (56 - 8 * i));
        h = 10;
    }
    memcpy(dst + h, key, 4);
    return h + 4;
}

MC_HOT void mc_ws_mask(uint8_t *buf, size_t n, const uint8_t key[4])
{
    /* Both the key and the data are loaded in memory order, so the XOR pairs byte i with
     * key[i % 4] on either endianness; memcpy keeps the loads free of alignment and
     * aliasing UB and compiles to plain moves. */
    uint32_t k32;
    uint64_t k64, w;
    size_t i = 0;
    memcpy(&k32, key, 4);
    k64 = ((uint64_t)k32 << 32) | k32;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, buf + i, 8);
        w ^= k64;
        memcpy(buf + i, &w, 8);
    }
    for (; i < n; i++)
        buf[i] ^= key[i & 3];
}

size_t mc_ws_text_frame_write(uint8_t *dst, const uint8_t *data, size_t n, const uint8_t key[4])
{
    size_t h = mc_ws_write_header(dst, n, key);
    if (n)
        memcpy(dst + h, data, n);
    mc_ws_mask(dst + h, n, key);
    return h + n;
}

size_t mc_dec_len(uint64_t v)
{
    static const uint64_t pow10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};
    if (v < 10)
        return 1;
#if defined(__GNUC__) || defined(__clang__)
    /* bits * log10(2) (1233 / 4096) is the digit count or one more: one compare decides */
    unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
    unsigned t = (bits * 1233) >> 12;
    return (size_t)t + 1 - (v < pow10[t]);
#else
    size_t n = 1;
    while (n < 20 && v >= pow10[n])
        n++;
    return n;
#endif
}

/* "00" "01" ... "99": two digits per division (a frame carries three numbers, the epoch
 * timestamp thirteen digits long) */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

size_t mc_dec_write(char *dst, uint64_t v)
{
    size_t n = mc_dec_len(v);
    char *p = dst + n;
    while (v >= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return n;
}

size_t mc_media_json_len(const mc_media_template *t, const uint64_t v[MC_FIELDS], size_t n)
{
    size_t len = mc_b64_len(n);
    for (int i = 0; i < MC_MEDIA_LITERALS; i++)
        len += t->lit_len[i];
    for (int i = 0; i < MC_FIELDS; i++)
        len += mc_dec_len(v[i]);
    return len;
}

size_t mc_media_frame_write(uint8_t *dst, const mc_media_template *t,
                            const uint64_t v[MC_FIELDS], const uint8_t *payload, size_t n,
                            size_t json_len, const uint8_t key[4])
{
    size_t h = mc_ws_write_header(dst, json_len, key);
    uint8_t *json = dst + h, *p = json;
    for (int i = 0; i < MC_FIELDS; i++) {
        memcpy(p, t->lit[i], t->lit_len[i]);
        p += t->lit_len[i];
        p += mc_dec_write((char *)p, v[t->order[i]]);
    }
    memcpy(p, t->lit[3], t->lit_len[3]);
    p += t->lit_len[3];
    p += mc_b64_encode((char *)p, payload, n);
    memcpy(p, t->lit[4], t->lit_len[4]);
    mc_ws_mask(json, json_len, key);
    return h + json_len;
}
