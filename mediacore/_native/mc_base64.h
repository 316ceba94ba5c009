/* Standard base64 (RFC 4648 §4, with '=' padding), encode only: the media payloads the engine
 * sends. Decoding of what servers send stays in Python (binascii), off the hot path. */
#ifndef MC_BASE64_H
#define MC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters written for n input bytes: 4 * ceil(n / 3). Callers check n < SIZE_MAX / 2. */
static inline size_t mc_b64_len(size_t n) { return (n + 2) / 3 * 4; }

/* Write mc_b64_len(n) characters to dst (no terminator); returns that count. */
size_t mc_b64_encode(char *dst, const uint8_t *src, size_t n);

#endif
