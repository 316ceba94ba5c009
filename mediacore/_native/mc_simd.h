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

/* Hand-written AVX2 kernels, chosen at run time: GCC and clang on x86-64. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && !defined(MC_NO_AVX2)
#define MC_HAVE_AVX2 1
static inline int mc_cpu_avx2(void)
{
    static int cached = -1;  /* a benign race: every thread computes the same value */
    if (cached < 0)
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    return cached;
}
#else
#define MC_HAVE_AVX2 0
#endif

#endif
