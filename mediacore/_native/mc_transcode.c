#include "mc_transcode.h"
#include "mc_g711.h"
#include <string.h>

#define BLOCK 512  /* input samples per pass: a whole 20 ms frame at 16 kHz */

static size_t sample_bytes(mc_encoding enc) { return enc == MC_ENC_ULAW ? 1 : 2; }

int mc_tc_init(mc_transcoder *tc, mc_encoding src_enc, int src_rate, int src_swap,
               mc_encoding dst_enc, int dst_rate, int dst_swap)
{
    if (mc_rs_init(&tc->rs, src_rate, dst_rate) < 0)
        return -1;
    tc->src_enc = src_enc;
    tc->dst_enc = dst_enc;
    tc->src_swap = src_enc == MC_ENC_L16 && src_swap;
    tc->dst_swap = dst_enc == MC_ENC_L16 && dst_swap;
    tc->passthrough = src_rate == dst_rate && src_enc == dst_enc && tc->src_swap == tc->dst_swap;
    return 0;
}

void mc_tc_reset(mc_transcoder *tc) { mc_rs_reset(&tc->rs); }

size_t mc_tc_out_bytes(const mc_transcoder *tc, size_t in_bytes)
{
    return mc_rs_out_len(&tc->rs, in_bytes / sample_bytes(tc->src_enc)) * sample_bytes(tc->dst_enc);
}

size_t mc_tc_process(mc_transcoder *tc, const uint8_t *in, size_t in_bytes, uint8_t *out)
{
    if (tc->passthrough) {
        if (in_bytes)
            memmove(out, in, in_bytes);
        return in_bytes;
    }
    size_t in_size = sample_bytes(tc->src_enc), out_size = sample_bytes(tc->dst_enc);
    size_t n_in = in_bytes / in_size, written = 0;
    int16_t lin[BLOCK], res[2 * BLOCK];
    while (n_in) {
        size_t n = n_in < BLOCK ? n_in : BLOCK;
        if (tc->src_enc == MC_ENC_ULAW)
            mc_ulaw_decode(in, lin, n);
        else
            mc_l16_load(in, lin, n, tc->src_swap);
        const int16_t *pcm = lin;
        size_t m = n;
        if (tc->rs.kind != MC_RS_IDENTITY) {
            m = mc_rs_process(&tc->rs, lin, n, res);
            pcm = res;
        }
        if (tc->dst_enc == MC_ENC_ULAW)
            mc_ulaw_encode(pcm, out + written, m);
        else
            mc_l16_store(pcm, out + written, m, tc->dst_swap);
        written += m * out_size;
        in += n * in_size;
        n_in -= n;
    }
    return written;
}
