#include "CMachine.h"
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

__attribute__((target("avx2,fma"))) static double peak256(long iterations) {
    __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
#define INIT(i) __m256 a##i = _mm256_set1_ps(1.0f + 0.001f * i); // distinct, so chains cannot be merged
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm256_add_ps(s, a##i);
    CHAINS(INIT)
    double start = now();
    for (long n = 0; n < iterations; n++) { CHAINS(STEP) }
    double seconds = now() - start;
    __m256 s = _mm256_setzero_ps();
    CHAINS(SUM)
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return 12.0 * 8 * 2 * iterations / seconds / 1e9;
#undef INIT
#undef STEP
#undef SUM
}

__attribute__((target("avx512f"))) static double peak512(long iterations) {
    __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
#define INIT(i) __m512 a##i = _mm512_set1_ps(1.0f + 0.001f * i);
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
#define SUM(i) s = _mm512_add_ps(s, a##i);
    CHAINS(INIT)
    double start = now();
    for (long n = 0; n < iterations; n++) { CHAINS(STEP) }
    double seconds = now() - start;
    __m512 s = _mm512_setzero_ps();
    CHAINS(SUM)
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return 12.0 * 16 * 2 * iterations / seconds / 1e9;
}

double ddpm_fma_peak_gflops(long iterations) {
    __builtin_cpu_init();
    double best = __builtin_cpu_supports("fma") ? peak256(iterations) : 0;
    if (__builtin_cpu_supports("avx512f")) {
        double wide = peak512(iterations / 2);
        if (wide > best) best = wide;
    }
    return best;
}
#else
double ddpm_fma_peak_gflops(long iterations) { (void)iterations; return 0; }
#endif
