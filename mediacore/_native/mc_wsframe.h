/* Client-side WebSocket text frames (RFC 6455 §5.2, §5.3) and the one-call media message
 * encoder. See the theory of operation in mc_wsframe.c. */
#ifndef MC_WSFRAME_H
#define MC_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

/* 2 bytes of flags and 7-bit length, up to 8 bytes of extended length, 4 bytes of mask key */
#define MC_WS_MAX_HEADER 14
#define MC_MASK_POOL_BYTES 4096

/* Mask keys drawn from the OS CSPRNG 4 KiB (1024 keys) at a time. pos == MC_MASK_POOL_BYTES
 * means empty: start there so the first key triggers the first draw. */
typedef struct {
    uint8_t bytes[MC_MASK_POOL_BYTES];
    size_t pos;
} mc_mask_pool;

/* Copy the next 4-byte key to key; 0 on success, else an errno value (pool left empty). */
int mc_mask_pool_take(mc_mask_pool *pool, uint8_t key[4]);

/* Frame header bytes, mask key included, for a payload of n bytes (n < 2^63). */
size_t mc_ws_header_len(uint64_t n);
/* Write FIN + opcode 1 (text), MASK bit, length and key; returns mc_ws_header_len(n). */
size_t mc_ws_write_header(uint8_t *dst, uint64_t n, const uint8_t key[4]);
/* XOR buf with the key repeated; buf[0] pairs with key[0]. */
void mc_ws_mask(uint8_t *buf, size_t n, const uint8_t key[4]);
/* A whole masked text frame carrying data[0..n); dst holds mc_ws_header_len(n) + n bytes. */
size_t mc_ws_text_frame_write(uint8_t *dst, const uint8_t *data, size_t n, const uint8_t key[4]);

/* Decimal digits of v, and v written in decimal (no terminator); returns the digit count. */
size_t mc_dec_len(uint64_t v);
size_t mc_dec_write(char *dst, uint64_t v);

/* A media message is lit[0] f0 lit[1] f1 lit[2] f2 lit[3] <base64 payload> lit[4], where the
 * three numbers f0..f2 are the fields named by order[] (sequence number, chunk, timestamp).
 * The literals are JSON text prepared by the Python profile, quotes included, so the same
 * template yields an int field (plivo) or a string field (twilio). The caller owns the
 * memory the literals point to. */
enum { MC_FIELD_SEQ = 0, MC_FIELD_CHUNK = 1, MC_FIELD_TS = 2, MC_FIELDS = 3 };
#define MC_MEDIA_LITERALS 5

typedef struct {
    const uint8_t *lit[MC_MEDIA_LITERALS];
    size_t lit_len[MC_MEDIA_LITERALS];
    uint8_t order[MC_FIELDS];
} mc_media_template;

/* JSON bytes of the message for field values v[MC_FIELD_*] and a payload of n bytes. */
size_t mc_media_json_len(const mc_media_template *t, const uint64_t v[MC_FIELDS], size_t n);
/* The whole masked frame; json_len from mc_media_json_len; dst holds
 * mc_ws_header_len(json_len) + json_len bytes. Returns the bytes written. */
size_t mc_media_frame_write(uint8_t *dst, const mc_media_template *t,
                            const uint64_t v[MC_FIELDS], const uint8_t *payload, size_t n,
                            size_t json_len, const uint8_t key[4]);

#endif
