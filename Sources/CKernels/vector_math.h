// Vector helpers, the polynomial exp and the two reductions every kernel shares (private to
// CKernels). Everything is always-inline, so each DDPM_DISPATCH variant compiles it for its ISA.
#ifndef CKERNELS_VECTOR_MATH_H
#define CKERNELS_VECTOR_MATH_H
#include <stdint.h>
#include <string.h>

/// Eight floats in one value: one ymm register (AVX2, AVX-512), two xmm (SSE2) or q (NEON).
typedef float ddpm_f8 __attribute__((vector_size(32)));
/// Four floats (one xmm register): half of a ddpm_f8, e.g. one row of a 4×4 tile.
typedef float ddpm_f4 __attribute__((vector_size(16)));
/// Eight 32-bit integers: the lane masks of comparisons between ddpm_f8 values.
typedef int32_t ddpm_i8 __attribute__((vector_size(32)));

DDPM_INLINE void ddpm_load8(ddpm_f8 *v, const float *p) { memcpy(v, p, sizeof *v); }

/// r[j][k] ← r[k][j]: eight rows of eight floats transposed in registers.
DDPM_INLINE void ddpm_transpose8(ddpm_f8 *r) {
    ddpm_f8 t[8], u[8];
#pragma clang loop unroll(full)
    for (int k = 0; k < 8; k += 2) {
        t[k] = __builtin_shufflevector(r[k], r[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[k + 1] = __builtin_shufflevector(r[k], r[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
#pragma clang loop unroll(full)
    for (int k = 0; k < 8; k += 4) {
        u[k] = __builtin_shufflevector(t[k], t[k + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[k + 1] = __builtin_shufflevector(t[k], t[k + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[k + 2] = __builtin_shufflevector(t[k + 1], t[k + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[k + 3] = __builtin_shufflevector(t[k + 1], t[k + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
#pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
        r[j] = __builtin_shufflevector(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[j + 4] = __builtin_shufflevector(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/// acc = a·b + acc with one rounding where the ISA has FMA (Swift's `addProduct`).
#define DDPM_MULTIPLY_ADD(acc, a, b) do { _Pragma("clang fp contract(on)") (acc) = (a) * (b) + (acc); } while (0)

/// The lanes of an ddpm_f8 added in order 0…7 (as Swift's SIMD8.sum()).
#define DDPM_LANE_SUM(v) ((((((((v)[0] + (v)[1]) + (v)[2]) + (v)[3]) + (v)[4]) + (v)[5]) + (v)[6]) + (v)[7])

/// A polynomial e^x that vectorises (libm's expf in a loop is ~5x slower): range reduction x = n·ln2 + r, degree-6 Taylor
/// polynomial, 2^n built in the exponent bits); inputs clamped to [-87, 88]. Scalar code that
/// the compiler vectorises at each ISA's width. NaN stays NaN (Swift's max/min order is kept).
DDPM_INLINE float ddpm_fast_exp(float x) {
    const float magic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer in the low bits
    float xc = -87.0f >= x ? -87.0f : x;
    xc = 88.0f < xc ? 88.0f : xc;
    float t = xc * 1.44269504f + magic;
    float n = t - magic;
    float r = (xc - n * 0.69314575f) - n * 1.4286068e-6f;
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1;
    p = p * r + 1;
    uint32_t tb, mb;
    memcpy(&tb, &t, 4);
    memcpy(&mb, &magic, 4);
    uint32_t eb = (tb - mb + 127u) << 23;
    float scale;
    memcpy(&scale, &eb, 4);
    return p * scale;
}

DDPM_INLINE float ddpm_fast_sigmoid(float x) { return 1 / (1 + ddpm_fast_exp(-x)); }
/// Σ x[i] with eight lane accumulators, lanes added in order, then the tail (Swift's SIMD8 order).
DDPM_INLINE float ddpm_sum_body(const float *x, long count) {
    ddpm_f8 acc = {0}, v;
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        ddpm_load8(&v, x + i);
        acc += v;
    }
    float s = DDPM_LANE_SUM(acc);
    for (; i < count; i++) s += x[i];
    return s;
}

/// Σ x[i]·y[i], the same order, each lane with one rounding per step where the ISA has FMA.
DDPM_INLINE float ddpm_dot_body(const float *x, const float *y, long count) {
    ddpm_f8 acc = {0}, a, b;
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        ddpm_load8(&a, x + i);
        ddpm_load8(&b, y + i);
        DDPM_MULTIPLY_ADD(acc, a, b);
    }
    float s = DDPM_LANE_SUM(acc);
    for (; i < count; i++) s += x[i] * y[i];
    return s;
}

/// A reduction over x[0 ..< count] with four vectors of lane accumulators (chains of 1/32 of the
/// count, combined in a fixed order): with one accumulator the long GroupNorm blocks were bound by
/// the add latency. VECTOR_STEP(acc, p) folds p[0…7] into acc; SCALAR_STEP(s, p) folds p[0]. The
/// steps below read their function's x, and y or shift.
#define DDPM_WIDE_REDUCE(x, count, VECTOR_STEP, SCALAR_STEP, result)     \
    do {                                                                 \
        ddpm_f8 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};          \
        long j = 0;                                                      \
        for (; j + 32 <= (count); j += 32) {                             \
            VECTOR_STEP(acc0, (x) + j);                                  \
            VECTOR_STEP(acc1, (x) + j + 8);                              \
            VECTOR_STEP(acc2, (x) + j + 16);                             \
            VECTOR_STEP(acc3, (x) + j + 24);                             \
        }                                                                \
        for (; j + 8 <= (count); j += 8) VECTOR_STEP(acc0, (x) + j);     \
        ddpm_f8 acc = (acc0 + acc1) + (acc2 + acc3);                     \
        (result) = DDPM_LANE_SUM(acc);                                   \
        for (; j < (count); j++) SCALAR_STEP(result, (x) + j);           \
    } while (0)

#define DDPM_SUM_VECTOR(acc, p)  \
    do {                         \
        ddpm_f8 v;               \
        ddpm_load8(&v, p);       \
        (acc) += v;              \
    } while (0)
#define DDPM_SUM_SCALAR(s, p) ((s) += *(p))

/// Σ x[i] by DDPM_WIDE_REDUCE, in blocks of 4096 floats added in order.
DDPM_INLINE float ddpm_wide_sum_body(const float *x, long count) {
    float total = 0;
    for (long start = 0; start < count; start += 4096) {
        long n = count - start < 4096 ? count - start : 4096;
        float s;
        DDPM_WIDE_REDUCE(x + start, n, DDPM_SUM_VECTOR, DDPM_SUM_SCALAR, s);
        total += s;
    }
    return total;
}

#define DDPM_SQUARE_VECTOR(acc, p)     \
    do {                               \
        ddpm_f8 v;                     \
        ddpm_load8(&v, p);             \
        v -= shift;                    \
        DDPM_MULTIPLY_ADD(acc, v, v);  \
    } while (0)
#define DDPM_SQUARE_SCALAR(s, p) ((s) += (*(p) - shift) * (*(p) - shift))

/// Σ (x[i] − shift)² by DDPM_WIDE_REDUCE (each square fused into its add where the ISA has FMA).
DDPM_INLINE float ddpm_wide_squared_deviation_body(const float *x, long count, float shift) {
    float s;
    DDPM_WIDE_REDUCE(x, count, DDPM_SQUARE_VECTOR, DDPM_SQUARE_SCALAR, s);
    return s;
}

#define DDPM_DOT_VECTOR(acc, p)             \
    do {                                    \
        ddpm_f8 a, b;                       \
        ddpm_load8(&a, p);                  \
        ddpm_load8(&b, y + ((p) - x));      \
        DDPM_MULTIPLY_ADD(acc, a, b);       \
    } while (0)
#define DDPM_DOT_SCALAR(s, p) ((s) += *(p) * y[(p) - x])

/// Σ x[i]·y[i] by DDPM_WIDE_REDUCE (each product fused into its add where the ISA has FMA).
DDPM_INLINE float ddpm_wide_dot_body(const float *x, const float *y, long count) {
    float s;
    DDPM_WIDE_REDUCE(x, count, DDPM_DOT_VECTOR, DDPM_DOT_SCALAR, s);
    return s;
}

/// Σ over consecutive blocks of `block` floats, each summed by ddpm_sum_body, added in order.
DDPM_INLINE float ddpm_blocked_sum_body(const float *x, long count, long block) {
    float s = 0;
    for (long start = 0; start < count; start += block) {
        long n = count - start < block ? count - start : block;
        s += ddpm_sum_body(x + start, n);
    }
    return s;
}
#endif
