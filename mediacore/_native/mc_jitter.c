/* Adaptive jitter buffer for RTP audio.
 *
 * Theory of operation (model: pjmedia's jbuf.c; time is always an argument, in ms).
 *
 * Indexing. Frames are indexed by RTP timestamp, never by sequence number. The first packet of
 * a stream fixes the origin: its 32-bit timestamp is unwrapped onto a 64-bit line (each new
 * timestamp is taken as the nearest value to the highest seen, so wrap-around at 2^32 is
 * seamless; sequence numbers are unwrapped the same way at 2^16). A frame is frame_samples
 * samples and is made of two granules of half a frame (10 ms for 20 ms frames), so packets of
 * 10..60 ms split exactly into granules; a timestamp off the granule grid is rounded to the
 * nearest granule. Frame f starts f * frame_ms after the origin.
 *
 * Storage. A ring of cap slots (a power of two) holds frame f in slot f & (cap - 1), with a
 * bit per granule present. Invariants:
 *   - every held, unplayed frame lies in [head, head + limit), limit <= cap, where head is the
 *     next frame to play; so two held frames never share a slot;
 *   - `stored` counts those frames;
 *   - a played (or skipped, or discarded) slot keeps its frame index with MC_PLAYED set, so a
 *     copy arriving afterwards is recognised as a duplicate rather than late.
 * Copies are recognised first by sequence number (a bitmap of the last MC_SEQ_SEEN numbers),
 * then by the granule bits of the frames still in the ring.
 * A packet for a frame >= head + limit makes room by dropping the oldest frames (overflow).
 *
 * Timing. For a packet whose first granule is in frame f, arriving at a_ms, the playout offset
 * it needs is r = a_ms - f * frame_ms (its transit time plus an unknown constant). A get() at
 * now_ms plays frame head with the offset O = now_ms - head * frame_ms; a frame is in time iff
 * r <= O. So the buffer steers O towards a target O*:
 *   - fixed mode: O* = min_r + initial_delay_ms (min_r: below), r(first packet) +
 *     initial_delay_ms until then. It moves only as the fastest transit does, which follows
 *     clock drift between sender and caller (100 ppm is 6 ms a minute: a delay counted
 *     from the first packet alone would see every packet late, or pile up, within minutes);
 *   - adaptive: O* = min_r + max(peak, quantile), clamped to [min_delay, max_delay] above
 *     min_r, where min_r is the fastest transit (sliding min of r over MC_WIN packets), peak
 *     is the largest jitter r - min_r over the last MC_PEAK_WIN packets (~0.6 s), and
 *     quantile is the MC_QUANT (99.5 %) point of a histogram of jitter with exponential
 *     forgetting (memory ~MC_FORGET: 100 packets, 2 s). A larger jitter raises O* at once
 *     (peak); a lasting one stays in the histogram, whose quantile falls slowly once the
 *     jitter is gone (after 2 s of 0..100 ms jitter: held ~3 s, back down after ~9 s); a
 *     lone outlier is forgotten with the peak. A packet with r > min_r + max_delay, or
 *     arriving within half a frame after one (a stall and its burst, not jitter), is left
 *     out of all three. Before MC_WARM packets, initial_delay_ms is the floor instead of
 *     min_delay.
 * O moves only in whole frames (fixed mode waits only when O is half a frame below O*, and
 * never while dry, so it moves only to follow O*):
 *   - prefetch: PREFETCH until O >= O*;
 *   - wait (O grows): the head frame is missing and O < O* (it is probably late), or,
 *     adaptive only, nothing at all is held and O < min_r + max_delay (a delay spike, whose
 *     packets then come in a burst and play; or DTX silence, which waiting costs nothing but
 *     silence): conceal without advancing;
 *   - skip (O shrinks, no audio lost): the head frame is missing, a later one is held (since
 *     a frame time at least) and O - frame_ms >= O*: missing frames are passed over (a frame
 *     of the gap that could still be in time would have arrived by now);
 *   - discard (O shrinks): O - 1.5 frame_ms >= O* and the head frame and the next are complete:
 *     drop the head frame, at most once per MC_SHRINK_GAP_MS of playout (half that when O is
 *     five frames or more above O*), so shrinking is spread over time.
 *
 * Stream changes. A new SSRC, a packet far earlier than any transit seen (forward timestamp
 * jump), a newer sequence number with a timestamp far in the past (backward jump), or a run
 * of packets far too late whose timestamps advance with their arrival times (a jump that the
 * first two rules missed; a burst after a stall has timestamps racing ahead of arrival times
 * instead) restart the stream: everything held is flushed and the packet starts a new one.
 *
 * Concealment. A frame that is due and missing is the last normal frame faded linearly over
 * 60 ms (mu-law through linear and re-encoded), then silence; no audio is invented beyond
 * that. A frame with only one granule present is played with the other half silent.
 *
 * No function reads a clock, allocates after mc_jb_new, or reads or writes outside the buffers
 * whose sizes it checks. */
#include "mc_jitter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mc_g711.h"

#ifndef MC_WIN
#define MC_WIN 128              /* packets in the min_r window (~2.6 s of 20 ms packets) */
#endif
#ifndef MC_PEAK_WIN
#define MC_PEAK_WIN 32          /* packets in the peak window (~0.6 s) */
#endif
#ifndef MC_QUANT
#define MC_QUANT 0.995          /* the share of packets the target delay covers */
#endif
#ifndef MC_FORGET
#define MC_FORGET 0.99          /* per packet: the histogram's memory is ~100 packets (2 s) */
#endif
#define MC_BIN_MS 2.0           /* histogram bin */
#define MC_WARM 50              /* packets before min_delay replaces initial_delay as floor */
#define MC_SHRINK_GAP_MS 200.0  /* playout time between two discarded frames */
#define MC_SHRINK_HYST 1.5      /* frames above target before discarding (fewer discards for
                                 * ~5 ms more mean delay than 1.0 on the quality benchmark) */
#define MC_FADE_MS 60.0         /* concealment fades to silence over this long */
#define MC_MAX_PACKET_MS 60.0   /* longest payload accepted */
#define MC_EARLY_RESET_MS 200.0 /* earlier than the fastest transit by more: timestamp jump */
#define MC_SEQ_SEEN 1024        /* sequence numbers remembered for duplicate detection */
#define MC_PLAYED 0x80u
#define MC_FULL 0x03u

typedef struct {
    double r;
    uint64_t n;
} mc_sample;

/* Monotonic deque over the last MC_WIN samples: front is the max (or min) of the window. */
typedef struct {
    mc_sample s[MC_WIN];
    uint32_t first, len;
} mc_deque;

typedef struct {
    int64_t frame;      /* the frame this slot holds or held; INT64_MIN if never used */
    double arrival_ms;  /* latest arrival among its granules */
    uint32_t mask;      /* granule bits (MC_FULL when complete) | MC_PLAYED once consumed */
} mc_slot;

struct mc_jb {
    mc_jb_config cfg;
    size_t frame_bytes, granule_bytes, max_granules;
    uint32_t granule_samples;
    double frame_ms;
    uint32_t cap, limit;       /* ring slots (power of two); frames held at most */
    int conceal_frames;        /* faded frames before silence */
    int shrink_gap;            /* frames between discards */
    double early_reset_ms, back_reset_samples;
    mc_slot *slots;
    uint8_t *data;             /* cap * frame_bytes */
    int16_t *lin;              /* frame_samples: the last normal frame as linear samples */
    /* stream */
    int active, playing, have_ssrc;
    uint32_t ssrc;
    int64_t hi_ext, origin_ext, hi_seq;
    int64_t head, top;         /* next frame to play; one past the highest frame held */
    uint32_t stored;
    double fixed_off;
    uint64_t seen[MC_SEQ_SEEN / 64]; /* bit per sequence number in (hi_seq - MC_SEQ_SEEN, hi_seq] */
    /* estimator */
    mc_deque dmax, dmin;
    uint64_t npk;
    double *hist;              /* nbins: weight of jitter r - min_r per MC_BIN_MS bin */
    uint32_t nbins, q_bin;     /* bins; the quantile's bin */
    double hist_w, hist_total; /* weight of the next sample (grows: forgetting); sum */
    double hist_above;         /* weight in bins above q_bin */
    int streak;
    double streak_a0, streak_f0;
    double burst_arrival;      /* arrival of the last outlier packet (a stall's burst) */
    /* playout */
    int64_t last_normal;       /* frame index of the last normal frame, INT64_MIN if none */
    int conceal_run;           /* frames since the last normal frame */
    int since_discard;
    int dry;
    mc_jb_stats st;
};

/* ---- small helpers ---------------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The value with these low bits nearest to ref. */
static int64_t unwrap(int64_t ref, uint32_t v, int bits)
{
    uint64_t span = (uint64_t)1 << bits;
    uint64_t d = ((uint64_t)v - (uint64_t)ref) & (span - 1);
    return ref + (d >= span / 2 ? (int64_t)d - (int64_t)span : (int64_t)d);
}

static void dq_clear(mc_deque *q) { q->first = q->len = 0; }

static mc_sample *dq_at(mc_deque *q, uint32_t i) { return &q->s[(q->first + i) % MC_WIN]; }

static double dq_front(const mc_deque *q, double fallback)
{
    return q->len ? q->s[q->first].r : fallback;
}

/* sign = +1 keeps the max at the front, -1 the min. */
static void dq_push(mc_deque *q, double r, uint64_t n, double sign, uint32_t win)
{
    while (q->len && dq_at(q, 0)->n + win <= n) {
        q->first = (q->first + 1) % MC_WIN;
        q->len--;
    }
    while (q->len && sign * dq_at(q, q->len - 1)->r <= sign * r)
        q->len--;
    mc_sample *s = dq_at(q, q->len);
    s->r = r;
    s->n = n;
    q->len++;
}

static uint8_t *slot_data(mc_jb *jb, int64_t f)
{
    return jb->data + (size_t)((uint64_t)f & (jb->cap - 1)) * jb->frame_bytes;
}

static mc_slot *slot_of(mc_jb *jb, int64_t f) { return &jb->slots[(uint64_t)f & (jb->cap - 1)]; }

static int held(const mc_slot *s, int64_t f)
{
    return s->frame == f && s->mask != 0 && !(s->mask & MC_PLAYED);
}

static void fill_silence(mc_jb *jb, uint8_t *p, size_t n)
{
    memset(p, jb->cfg.sample_bytes == 1 ? 0xFF : 0x00, n);
}

/* ---- configuration -------------------------------------------------------------------- */

static void clear_stream(mc_jb *jb)
{
    for (uint32_t i = 0; i < jb->cap; i++) {
        jb->slots[i].frame = INT64_MIN; /* matches no frame index */
        jb->slots[i].mask = 0;
    }
    jb->active = jb->playing = jb->have_ssrc = 0;
    jb->stored = 0;
    jb->head = jb->top = 0;
    dq_clear(&jb->dmax);
    dq_clear(&jb->dmin);
    jb->npk = 0;
    memset(jb->hist, 0, jb->nbins * sizeof *jb->hist);
    jb->hist_w = 1.0;
    jb->hist_total = 0.0;
    jb->q_bin = 0;
    jb->hist_above = 0.0;
    jb->streak = 0;
    jb->burst_arrival = -INFINITY;
    memset(jb->seen, 0, sizeof jb->seen);
    jb->last_normal = INT64_MIN;
    jb->conceal_run = 0;
    jb->since_discard = 0;
    jb->dry = 0;
}

mc_jb *mc_jb_new(const mc_jb_config *c)
{
    if (c->clock_rate < 1000 || c->clock_rate > 192000 || c->frame_samples < 2
        || c->frame_samples % 2 || (c->sample_bytes != 1 && c->sample_bytes != 2)
        || (c->mode != MC_JB_MODE_ADAPTIVE && c->mode != MC_JB_MODE_FIXED)
        || !(c->min_delay_ms >= 0.0) || !(c->max_delay_ms <= 10000.0)
        || !(c->min_delay_ms <= c->initial_delay_ms) || !(c->initial_delay_ms <= c->max_delay_ms))
        return NULL;
    double frame_ms = 1000.0 * c->frame_samples / c->clock_rate;
    if (frame_ms < 2.0 || frame_ms > 120.0)
        return NULL;
    mc_jb *jb = calloc(1, sizeof *jb);
    if (!jb)
        return NULL;
    jb->cfg = *c;
    jb->frame_ms = frame_ms;
    jb->granule_samples = c->frame_samples / 2;
    jb->frame_bytes = (size_t)c->frame_samples * c->sample_bytes;
    jb->granule_bytes = jb->frame_bytes / 2;
    size_t g = (size_t)(MC_MAX_PACKET_MS / (frame_ms / 2) + 1e-9);
    jb->max_granules = g < 2 ? 2 : g;
    size_t packet_frames = (jb->max_granules + 1) / 2 + 1;
    jb->limit = (uint32_t)(ceil(c->max_delay_ms / frame_ms) + packet_frames + 2);
    jb->cap = 8;
    while (jb->cap < jb->limit)
        jb->cap *= 2;
    int cf = (int)lround(MC_FADE_MS / frame_ms);
    jb->conceal_frames = cf < 1 ? 1 : cf;
    int sg = (int)lround(MC_SHRINK_GAP_MS / frame_ms);
    jb->shrink_gap = sg < 1 ? 1 : sg;
    jb->early_reset_ms = c->max_delay_ms > MC_EARLY_RESET_MS ? c->max_delay_ms : MC_EARLY_RESET_MS;
    double back_ms = 2 * c->max_delay_ms > 1000.0 ? 2 * c->max_delay_ms : 1000.0;
    jb->back_reset_samples = back_ms * c->clock_rate / 1000.0;
    jb->slots = malloc(jb->cap * sizeof *jb->slots);
    jb->data = malloc(jb->cap * jb->frame_bytes);
    jb->lin = malloc(c->frame_samples * sizeof *jb->lin);
    jb->nbins = (uint32_t)(c->max_delay_ms / MC_BIN_MS) + 2;
    jb->hist = malloc(jb->nbins * sizeof *jb->hist);
    if (!jb->slots || !jb->data || !jb->lin || !jb->hist) {
        mc_jb_free(jb);
        return NULL;
    }
    clear_stream(jb);
    jb->st.delay_ms_min = INFINITY;
    return jb;
}

void mc_jb_free(mc_jb *jb)
{
    if (!jb)
        return;
    free(jb->slots);
    free(jb->data);
    free(jb->lin);
    free(jb->hist);
    free(jb);
}

void mc_jb_reset(mc_jb *jb) { clear_stream(jb); }

size_t mc_jb_frame_bytes(const mc_jb *jb) { return jb->frame_bytes; }
size_t mc_jb_granule_bytes(const mc_jb *jb) { return jb->granule_bytes; }
size_t mc_jb_max_granules(const mc_jb *jb) { return jb->max_granules; }

/* ---- put ------------------------------------------------------------------------------ */

/* Remember sequence number sx (unwrapped); returns 1 if it was seen before. Numbers more than
 * MC_SEQ_SEEN behind the highest are forgotten (then a copy is judged by its timestamp). */
static int seq_seen(mc_jb *jb, int64_t sx)
{
    if (sx > jb->hi_seq) {
        int64_t clear_from = sx - jb->hi_seq >= MC_SEQ_SEEN ? sx - MC_SEQ_SEEN + 1 : jb->hi_seq + 1;
        for (int64_t q = clear_from; q <= sx; q++)
            jb->seen[(q % MC_SEQ_SEEN) / 64] &= ~((uint64_t)1 << (q % 64));
    } else if (jb->hi_seq - sx >= MC_SEQ_SEEN) {
        return 0;
    }
    uint64_t *word = &jb->seen[(sx % MC_SEQ_SEEN) / 64], bit = (uint64_t)1 << (sx % 64);
    int was = (*word & bit) != 0;
    *word |= bit;
    return was;
}

static void start_stream(mc_jb *jb, uint16_t seq, uint32_t ts, double arrival_ms, int has_ssrc,
                         uint32_t ssrc)
{
    clear_stream(jb);
    jb->active = 1;
    jb->have_ssrc = has_ssrc;
    jb->ssrc = ssrc;
    jb->hi_ext = jb->origin_ext = ((int64_t)1 << 40) + ts;
    jb->hi_seq = ((int64_t)1 << 20) + seq;
    jb->head = jb->top = 0;
    jb->fixed_off = arrival_ms + jb->cfg.initial_delay_ms;
}

/* One jitter sample into the histogram. Forgetting without touching every bin: each sample
 * weighs 1/MC_FORGET more than the one before, so stored weights never change and `above`
 * (the weight in bins above q_bin) stays exact as q_bin moves one bin at a time; all weights
 * are scaled down together before they could overflow. */
static void hist_add(mc_jb *jb, double j)
{
    uint32_t b = j <= 0 ? 0 : j >= (jb->nbins - 1) * MC_BIN_MS ? jb->nbins - 1
                                                                : (uint32_t)(j / MC_BIN_MS);
    double *h = jb->hist;
    h[b] += jb->hist_w;
    jb->hist_total += jb->hist_w;
    if (b > jb->q_bin)
        jb->hist_above += jb->hist_w;
    jb->hist_w /= MC_FORGET;
    if (jb->hist_w > 1e100) {
        jb->hist_above = 0.0;
        for (uint32_t i = 0; i < jb->nbins; i++) {
            h[i] *= 1e-100;
            if (i > jb->q_bin)
                jb->hist_above += h[i];
        }
        jb->hist_total *= 1e-100;
        jb->hist_w *= 1e-100;
    }
    double allowed = (1.0 - MC_QUANT) * jb->hist_total;
    while (jb->hist_above > allowed && jb->q_bin + 1 < jb->nbins)
        jb->hist_above -= h[++jb->q_bin];
    while (jb->q_bin > 0 && jb->hist_above + h[jb->q_bin] <= allowed)
        jb->hist_above += h[jb->q_bin--];
    if (jb->hist_above < 0.0) /* rounding */
        jb->hist_above = 0.0;
}

/* The adaptive target offset O* (see the top of the file). */
static double target_off(const mc_jb *jb)
{
    double hi = dq_front(&jb->dmax, 0.0), lo = dq_front(&jb->dmin, 0.0);
    if (jb->cfg.mode == MC_JB_MODE_FIXED)
        return jb->dmin.len ? lo + jb->cfg.initial_delay_ms : jb->fixed_off;
    double floor_ms = jb->cfg.min_delay_ms;
    if (jb->npk < MC_WARM)
        floor_ms = jb->cfg.initial_delay_ms;
    double t = hi, quant = lo + jb->q_bin * MC_BIN_MS;
    if (quant > t)
        t = quant;
    if (t < lo + floor_ms)
        t = lo + floor_ms;
    if (t > lo + jb->cfg.max_delay_ms)
        t = lo + jb->cfg.max_delay_ms;
    return t;
}

/* The highest offset the buffer may wait up to: max_delay above the fastest transit. */
static double target_cap(const mc_jb *jb, double target)
{
    if (jb->cfg.mode == MC_JB_MODE_FIXED)
        return target;
    return dq_front(&jb->dmin, target) + jb->cfg.max_delay_ms;
}

/* Consume (discard) every held frame below new_head and move head there. */
static void drop_below(mc_jb *jb, int64_t new_head)
{
    if (new_head <= jb->head)
        return;
    if ((uint64_t)(new_head - jb->head) >= jb->cap) {
        for (uint32_t i = 0; i < jb->cap; i++) {
            mc_slot *s = &jb->slots[i];
            if (s->mask && !(s->mask & MC_PLAYED) && s->frame < new_head) {
                s->mask |= MC_PLAYED;
                jb->stored--;
                jb->st.frames_discarded++;
            }
        }
    } else {
        for (int64_t f = jb->head; f < new_head; f++) {
            mc_slot *s = slot_of(jb, f);
            if (held(s, f)) {
                s->mask |= MC_PLAYED;
                jb->stored--;
                jb->st.frames_discarded++;
            }
        }
    }
    jb->head = new_head;
    if (jb->top < new_head)
        jb->top = new_head;
}

/* Whether this packet says the stream jumped (see the top of the file). */
static int is_jump(mc_jb *jb, int newer_seq, int64_t ext, double r, double arrival_ms,
                   double f_ms, int *outlier)
{
    double lo = dq_front(&jb->dmin, r);
    /* a stall's burst: far too late, or arriving right behind a packet that was */
    *outlier = r > lo + jb->cfg.max_delay_ms || arrival_ms - jb->burst_arrival < jb->frame_ms / 2;
    if (*outlier)
        jb->burst_arrival = arrival_ms;
    if (r < lo - jb->early_reset_ms)
        return 1;
    if (newer_seq && (double)(jb->hi_ext - ext) > jb->back_reset_samples)
        return 1;
    if (!*outlier) {
        jb->streak = 0;
        return 0;
    }
    if (jb->streak++ == 0) {
        jb->streak_a0 = arrival_ms;
        jb->streak_f0 = f_ms;
    }
    double span = arrival_ms - jb->streak_a0;
    return jb->streak >= 5 && span >= 4 * jb->frame_ms
           && f_ms - jb->streak_f0 <= 2 * span + 2 * jb->frame_ms;
}

/* Where a packet goes: its first granule g, the frame f holding it, and its offset r. */
static void locate(mc_jb *jb, uint32_t timestamp, double arrival_ms, int64_t *ext, int64_t *g,
                   int64_t *f, double *r)
{
    int64_t G = jb->granule_samples;
    *ext = unwrap(jb->hi_ext, timestamp, 32);
    *g = floor_div(*ext - jb->origin_ext + G / 2, G);
    *f = floor_div(*g, 2);
    *r = arrival_ms - (double)*f * jb->frame_ms;
}

static void count_frame(uint64_t *counter, int64_t fk, int64_t *last)
{
    if (fk != *last)
        (*counter)++;
    *last = fk;
}

int mc_jb_put(mc_jb *jb, uint16_t seq, uint32_t timestamp, const uint8_t *payload, size_t len,
              double arrival_ms, int has_ssrc, uint32_t ssrc)
{
    if (len == 0 || len % jb->granule_bytes || len / jb->granule_bytes > jb->max_granules
        || !isfinite(arrival_ms))
        return MC_JB_EINVAL;
    jb->st.packets++;
    int reset = 0, overflow = 0, outlier = 0;
    int64_t ext, g, f;
    double r;
    if (!jb->active) {
        start_stream(jb, seq, timestamp, arrival_ms, has_ssrc, ssrc);
        locate(jb, timestamp, arrival_ms, &ext, &g, &f, &r);
        seq_seen(jb, jb->hi_seq);
    } else {
        if (has_ssrc && jb->have_ssrc && ssrc != jb->ssrc) {
            reset = 1;
        } else if (has_ssrc && !jb->have_ssrc) {
            jb->have_ssrc = 1;
            jb->ssrc = ssrc;
        }
        locate(jb, timestamp, arrival_ms, &ext, &g, &f, &r);
        int64_t sx = unwrap(jb->hi_seq, seq, 16);
        if (!reset)
            reset = is_jump(jb, sx > jb->hi_seq, ext, r, arrival_ms, (double)f * jb->frame_ms,
                            &outlier);
        if (reset) {
            jb->st.resets++;
            start_stream(jb, seq, timestamp, arrival_ms, has_ssrc, ssrc);
            locate(jb, timestamp, arrival_ms, &ext, &g, &f, &r);
            seq_seen(jb, jb->hi_seq);
            outlier = 0;
        } else {
            if (seq_seen(jb, sx)) { /* a copy, however late: count the frames it carries */
                jb->st.frames_duplicate +=
                    (uint64_t)(floor_div(g + (int64_t)(len / jb->granule_bytes) - 1, 2) - f + 1);
                return MC_JB_DUPLICATE;
            }
            if (ext > jb->hi_ext)
                jb->hi_ext = ext;
            if (sx > jb->hi_seq)
                jb->hi_seq = sx;
        }
    }

    size_t n = len / jb->granule_bytes;
    size_t stored_g = 0, late_g = 0;
    int64_t last_late = INT64_MIN, last_dup = INT64_MIN;
    for (size_t k = 0; k < n; k++) {
        int64_t gk = g + (int64_t)k, fk = floor_div(gk, 2);
        uint32_t bit = 1u << (uint32_t)(gk - 2 * fk);
        const uint8_t *src = payload + k * jb->granule_bytes;
        if (fk < jb->head && !jb->playing && jb->top - fk <= (int64_t)jb->limit)
            jb->head = fk; /* reordered before the first packet while prefetching */
        if (fk < jb->head) {
            mc_slot *s = slot_of(jb, fk);
            if (s->frame == fk && (s->mask & bit)) {
                count_frame(&jb->st.frames_duplicate, fk, &last_dup);
            } else {
                late_g++;
                count_frame(&jb->st.frames_late, fk, &last_late);
            }
            continue;
        }
        if (fk >= jb->head + (int64_t)jb->limit) {
            drop_below(jb, fk - (int64_t)jb->limit + 1);
            overflow = 1;
        }
        mc_slot *s = slot_of(jb, fk);
        uint8_t *dst = slot_data(jb, fk);
        if (s->frame != fk || (s->mask & MC_PLAYED)) {
            /* the slot's previous frame is below head, so it was consumed (invariant) */
            s->frame = fk;
            s->mask = 0;
            s->arrival_ms = arrival_ms;
            if (!(bit == 1u && k + 1 < n))
                fill_silence(jb, dst, jb->frame_bytes); /* this packet does not cover it all */
            jb->stored++;
            if (fk + 1 > jb->top)
                jb->top = fk + 1;
        }
        if (s->mask & bit) {
            count_frame(&jb->st.frames_duplicate, fk, &last_dup);
            continue;
        }
        memcpy(dst + (bit == 1u ? 0 : jb->granule_bytes), src, jb->granule_bytes);
        s->mask |= bit;
        if (arrival_ms > s->arrival_ms)
            s->arrival_ms = arrival_ms;
        stored_g++;
    }
    /* late packets are the very signal that the delay is too short; copies say nothing new */
    if ((stored_g || late_g) && !outlier) {
        dq_push(&jb->dmax, r, jb->npk, 1.0, MC_PEAK_WIN);
        dq_push(&jb->dmin, r, jb->npk, -1.0, MC_WIN);
        hist_add(jb, r - dq_front(&jb->dmin, r));
        jb->npk++;
    }
    if (reset)
        return MC_JB_RESET;
    if (stored_g == 0)
        return late_g ? MC_JB_LATE : MC_JB_DUPLICATE;
    return overflow ? MC_JB_OVERFLOW : MC_JB_ACCEPTED;
}

/* ---- get ------------------------------------------------------------------------------ */

/* The last normal frame as linear samples into jb->lin, at the start of a concealment run. Its
 * slot still holds it unless a frame cap later reused the slot (then: silence). */
static void load_last(mc_jb *jb)
{
    uint32_t N = jb->cfg.frame_samples;
    mc_slot *s = jb->last_normal != INT64_MIN ? slot_of(jb, jb->last_normal) : NULL;
    if (s && s->frame == jb->last_normal) {
        const uint8_t *src = slot_data(jb, jb->last_normal);
        if (jb->cfg.sample_bytes == 1)
            mc_ulaw_decode(src, jb->lin, N);
        else
            memcpy(jb->lin, src, N * sizeof *jb->lin);
    } else {
        memset(jb->lin, 0, N * sizeof *jb->lin);
    }
}

/* One concealment frame into out: the last normal frame faded over conceal_frames, then
 * silence. The fade is linear per sample so that consecutive frames join without a step. */
static void conceal(mc_jb *jb, uint8_t *out)
{
    uint32_t N = jb->cfg.frame_samples;
    int C = jb->conceal_frames, k = jb->conceal_run;
    if (k == 0)
        load_last(jb);
    jb->conceal_run++;
    if (k >= C) {
        fill_silence(jb, out, jb->frame_bytes);
        return;
    }
    int32_t den = (int32_t)N * C, num0 = (int32_t)N * (C - k);
    for (uint32_t i = 0; i < N; i++) {
        int16_t v = (int16_t)((int32_t)jb->lin[i] * (num0 - (int32_t)i) / den);
        if (jb->cfg.sample_bytes == 1)
            out[i] = mc_ulaw_from_linear(v);
        else
            memcpy(out + 2 * i, &v, 2);
    }
}

/* A missing frame: fading concealment, or silence once faded when nothing is held. */
static int emit_missing(mc_jb *jb, uint8_t *out, int dry)
{
    if (dry && jb->conceal_run >= jb->conceal_frames) {
        fill_silence(jb, out, jb->frame_bytes);
        jb->st.frames_empty++;
        return MC_JB_EMPTY;
    }
    conceal(jb, out);
    jb->st.frames_concealed++;
    return MC_JB_CONCEALED;
}

/* Whether the gap before the next held frame may be skipped: that frame arrived at least a
 * frame time ago, so frames of the gap still in flight (a burst out of order after a stall)
 * had their chance to arrive first. Requires stored > 0. */
static int settled_gap(mc_jb *jb, double now_ms)
{
    for (int64_t f = jb->head; f < jb->head + (int64_t)jb->limit; f++) {
        mc_slot *s = slot_of(jb, f);
        if (held(s, f))
            return now_ms - s->arrival_ms >= jb->frame_ms;
    }
    return 0;
}

static void consume(mc_jb *jb, mc_slot *s)
{
    s->mask |= MC_PLAYED;
    jb->stored--;
}

int mc_jb_get(mc_jb *jb, double now_ms, uint8_t *out)
{
    if (!jb->active) {
        fill_silence(jb, out, jb->frame_bytes);
        jb->st.frames_empty++;
        return MC_JB_EMPTY;
    }
    double target = target_off(jb);
    double off = now_ms - (double)jb->head * jb->frame_ms;
    if (!jb->playing) {
        if (off < target) {
            fill_silence(jb, out, jb->frame_bytes);
            jb->st.frames_prefetch++;
            return MC_JB_PREFETCH;
        }
        jb->playing = 1;
        jb->since_discard = 0;
    }
    int adaptive = jb->cfg.mode == MC_JB_MODE_ADAPTIVE;
    /* fixed mode moves O only to follow clock drift: with half a frame of slack */
    double wait_below = adaptive ? target : target - jb->frame_ms / 2;
    /* Above target with the head frame missing and audio held further on (a loss after a
     * wait, audio resuming after DTX): skip missing frames rather than conceal them. Any
     * frame of the gap that could still come in time would have arrived by now, and the
     * concealment already played while waiting stood in for it. */
    if (jb->stored && off - jb->frame_ms >= target && settled_gap(jb, now_ms)) {
        while (off - jb->frame_ms >= target && !held(slot_of(jb, jb->head), jb->head)) {
            jb->head++;
            off -= jb->frame_ms;
        }
    }
    mc_slot *s = slot_of(jb, jb->head);
    if (held(s, jb->head) && (s->mask & MC_FULL) == MC_FULL) {
        /* far above target: discard twice as often (still spread, one frame at a time) */
        int gap = off - target >= 5 * jb->frame_ms ? jb->shrink_gap / 2 : jb->shrink_gap;
        if (jb->since_discard >= gap && off - MC_SHRINK_HYST * jb->frame_ms >= target) {
            mc_slot *next = slot_of(jb, jb->head + 1);
            if (held(next, jb->head + 1) && (next->mask & MC_FULL) == MC_FULL) {
                consume(jb, s);
                jb->st.frames_discarded++;
                jb->head++;
                jb->since_discard = 0;
                s = next;
            }
        }
        memcpy(out, slot_data(jb, jb->head), jb->frame_bytes);
        consume(jb, s);
        jb->last_normal = jb->head;
        jb->head++;
        jb->since_discard++;
        jb->conceal_run = 0;
        jb->dry = 0;
        double d = now_ms - s->arrival_ms;
        jb->st.delay_ms_current = d;
        jb->st.delay_ms_sum += d;
        if (d < jb->st.delay_ms_min)
            jb->st.delay_ms_min = d;
        if (d > jb->st.delay_ms_max)
            jb->st.delay_ms_max = d;
        jb->st.frames_normal++;
        return MC_JB_NORMAL;
    }
    /* The head frame is missing or partial. */
    int dry = jb->stored == 0;
    if (dry && !jb->dry)
        jb->st.underruns++;
    jb->dry = dry;
    if (off < wait_below || (adaptive && dry && off + jb->frame_ms <= target_cap(jb, target))) {
        /* Wait for it. Below target it is probably late. With nothing held at all the
         * network probably stalls (a delay spike: its packets come in a burst, and waiting
         * saves them) or the sender is silent (DTX: waiting costs only silence, and the
         * skip below takes the wait back when audio resumes). */
        jb->st.frames_inserted++;
        return emit_missing(jb, out, dry);
    }
    jb->since_discard++;
    if (held(s, jb->head)) { /* partial: what arrived, the rest silent */
        memcpy(out, slot_data(jb, jb->head), jb->frame_bytes);
        consume(jb, s);
        if (jb->conceal_run == 0)
            load_last(jb);
        jb->conceal_run++;
        jb->head++;
        jb->st.frames_concealed++;
        return MC_JB_CONCEALED;
    }
    jb->head++;
    /* Audio held further on and the delay above target: skip the rest of the gap rather
     * than conceal it (nothing that arrived is lost, and any frame of the gap that could
     * still come in time would have arrived by now). */
    if (!dry && off - jb->frame_ms >= target && settled_gap(jb, now_ms)) {
        while (off - jb->frame_ms >= target && !held(slot_of(jb, jb->head), jb->head)) {
            jb->head++;
            off -= jb->frame_ms;
        }
    }
    return emit_missing(jb, out, dry);
}

void mc_jb_get_stats(const mc_jb *jb, mc_jb_stats *st)
{
    *st = jb->st;
    if (jb->st.frames_normal == 0)
        st->delay_ms_min = 0.0;
    st->frames_buffered = jb->stored;
    st->target_delay_ms = jb->cfg.initial_delay_ms;
    if (jb->active && jb->cfg.mode == MC_JB_MODE_ADAPTIVE && jb->dmin.len)
        st->target_delay_ms = target_off(jb) - dq_front(&jb->dmin, 0.0);
}
