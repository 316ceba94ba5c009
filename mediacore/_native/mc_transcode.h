/* Any stream format to any other in one pass: decode (μ-law or L16 in either byte order) ->
 * resample (8 <-> 16 kHz, streaming state) -> encode, in blocks that stay in L1. */
#ifndef MC_TRANSCODE_H
#define MC_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>
#include "mc_resampler.h"

typedef enum { MC_ENC_ULAW = 0, MC_ENC_L16 = 1 } mc_encoding;

typedef struct {
    mc_encoding src_enc, dst_enc;
    int src_swap, dst_swap;       /* L16 bytes are big-endian on that side */
    int passthrough;              /* identical formats and byte orders: a plain copy */
    mc_resampler rs;
} mc_transcoder;

/* -1: unsupported rate pair. */
int mc_tc_init(mc_transcoder *tc, mc_encoding src_enc, int src_rate, int src_swap,
               mc_encoding dst_enc, int dst_rate, int dst_swap);
void mc_tc_reset(mc_transcoder *tc);
/* Bytes of output that in_bytes more input (whole samples) will produce. */
size_t mc_tc_out_bytes(const mc_transcoder *tc, size_t in_bytes);
/* in_bytes must be whole samples; out must hold mc_tc_out_bytes(). Returns bytes written. */
size_t mc_tc_process(mc_transcoder *tc, const uint8_t *in, size_t in_bytes, uint8_t *out);

#endif
