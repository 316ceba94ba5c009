/* Base64 encoder.
 *
 * Theory of operation: three input bytes are 24 bits, i.e. two 12-bit halves; a 4096-entry
 * table maps each half straight to its two output characters, so a group costs two loads and
 * two 16-bit stores instead of four table look-ups and shifts. The table is a constant built
 * from the alphabet the first time it is needed; building it twice (a benign race without the
 * GIL) writes the same bytes. Output is byte-identical to Python's base64.b64encode. */
#include <string.h>

#include "mc_base64.h"

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

size_t mc_b64_encode(char *dst, const uint8_t *src, size_t n)
{
    char *out = dst;
    size_t i = 0;
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
