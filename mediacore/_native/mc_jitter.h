/* Adaptive jitter buffer for RTP audio (the theory of operation is in mc_jitter.c).
 *
 * The caller owns the clock: every time is an argument in milliseconds (double), nothing here
 * reads a clock. Arguments are validated by the Cython layer (jitter.pyx); the C functions
 * still refuse what would be unsafe (MC_JB_EINVAL) rather than trusting their caller. */
#ifndef MC_JITTER_H
#define MC_JITTER_H

#include <stddef.h>
#include <stdint.h>

/* put() results; the values are those of mediacore.jitter.PutResult. */
enum {
    MC_JB_ACCEPTED = 0,   /* stored (or partly: see frames_late / frames_duplicate) */
    MC_JB_LATE = 1,       /* every frame of it was due before it arrived: dropped */
    MC_JB_DUPLICATE = 2,  /* every frame of it was already held or played: dropped */
    MC_JB_RESET = 3,      /* the stream restarted (SSRC, timestamp jump): buffer flushed, this
                           * packet stored as the first of the new stream */
    MC_JB_OVERFLOW = 4,   /* stored, after dropping the oldest frames to make room */
    MC_JB_EINVAL = -1     /* refused: bad payload length (the Cython layer raises first) */
};

/* get() results; the values are those of mediacore.jitter.FrameKind. */
enum {
    MC_JB_NORMAL = 0,     /* a frame that arrived in time */
    MC_JB_CONCEALED = 1,  /* a frame that was due and is missing (lost, late, partial, or
                           * inserted to grow the delay): faded repeat, silence after 60 ms */
    MC_JB_PREFETCH = 2,   /* filling up before playout starts: silence */
    MC_JB_EMPTY = 3       /* nothing to play (no stream yet, or ran dry: DTX, stall): silence */
};

enum { MC_JB_MODE_ADAPTIVE = 0, MC_JB_MODE_FIXED = 1 };

typedef struct {
    uint32_t clock_rate;      /* Hz */
    uint32_t frame_samples;   /* samples per frame; even (frames are split in two granules) */
    uint32_t sample_bytes;    /* 1: mu-law, 2: L16 in host byte order */
    int mode;                 /* MC_JB_MODE_* */
    double min_delay_ms;
    double max_delay_ms;
    double initial_delay_ms;  /* fixed mode: the delay; adaptive: the delay until measured */
} mc_jb_config;

typedef struct {
    double delay_ms_current;  /* playout time - arrival time of the last normal frame */
    double delay_ms_min;
    double delay_ms_max;
    double delay_ms_sum;      /* over delay_frames normal frames (mean = sum / frames) */
    double target_delay_ms;   /* the delay the buffer aims for now */
    uint64_t frames_normal, frames_concealed, frames_inserted, frames_prefetch, frames_empty;
    uint64_t frames_late, frames_duplicate, frames_discarded;
    uint64_t underruns, resets, packets;
    uint32_t frames_buffered;
} mc_jb_stats;

typedef struct mc_jb mc_jb;

/* NULL on a bad configuration or out of memory. */
mc_jb *mc_jb_new(const mc_jb_config *cfg);
void mc_jb_free(mc_jb *jb);
/* Forget the stream (as after an SSRC change) but keep the statistics and configuration. */
void mc_jb_reset(mc_jb *jb);
size_t mc_jb_frame_bytes(const mc_jb *jb);
/* Payload byte counts accepted by put: granule_bytes * k for 1 <= k <= max_granules. */
size_t mc_jb_granule_bytes(const mc_jb *jb);
size_t mc_jb_max_granules(const mc_jb *jb);

int mc_jb_put(mc_jb *jb, uint16_t seq, uint32_t timestamp, const uint8_t *payload, size_t len,
              double arrival_ms, int has_ssrc, uint32_t ssrc);
/* Writes exactly one frame (frame_bytes) into out; returns the kind. */
int mc_jb_get(mc_jb *jb, double now_ms, uint8_t *out);
void mc_jb_get_stats(const mc_jb *jb, mc_jb_stats *st);

#endif
