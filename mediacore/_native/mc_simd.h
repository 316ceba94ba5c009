/* Compiler helpers shared by the native core.
 *
 * MC_HOT marks a bulk loop that GCC compiles twice (AVX2 and baseline) and dispatches once at
 * load time through an ifunc, so one portable build still uses the wide vectors of the machine
 * it runs on. Other compilers and platforms get the baseline build only. */
#ifndef MC_SIMD_H
#define MC_SIMD_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && !defined(MC_NO_CLONES) && !defined(__SANITIZE_ADDRESS__)
#define MC_HOT __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define MC_HOT
#endif

/* Hand-written AVX2 and AVX-512 kernels, chosen at run time: GCC and clang on x86-64.
 * MEDIACORE_SIMD=baseline|avx2 in the environment caps the choice (tests use it to check that
 * every kernel computes the same samples). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(MC_NO_AVX2)
#define MC_HAVE_AVX2 1
#include <stdlib.h>
#include <string.h>

/* 0 baseline, 1 AVX2, 2 AVX-512 (F + BW) */
static inline int mc_simd_level(void)
{
    static int cached = -1;  /* a benign race: every thread computes the same value */
    if (cached < 0) {
        int level = 0;
        if (__builtin_cpu_supports("avx2"))
            level = 1;
        if (level && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
            level = 2;
        const char *cap = getenv("MEDIACORE_SIMD");
        if (cap && strcmp(cap, "baseline") == 0)
            level = 0;
        else if (cap && strcmp(cap, "avx2") == 0 && level > 1)
            level = 1;
        cached = level;
    }
    return cached;
}
static inline int mc_cpu_avx2(void) { return mc_simd_level() >= 1; }
static inline int mc_cpu_avx512(void) { return mc_simd_level() >= 2; }
#else
#define MC_HAVE_AVX2 0
#endif

#endif
