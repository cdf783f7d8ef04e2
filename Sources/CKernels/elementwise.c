#include "dispatch.h"
#include "vector_math.h"

// Broadcasting binary ops and the dropout mask, one contiguous row per call (threads and the
// broadcast plan are in Sources/TensorKernels/Elementwise.swift). Plain IEEE +, −, ×, ÷ with
// contraction off, so every variant gives the bits Swift's scalar operators give.

/// One loop per (operator, operand pattern): a and b step by 1, or one of them is a scalar.
#define DDPM_BINARY_LOOPS(OP)                                               \
    if (stride_a && stride_b) {                                             \
        for (long i = 0; i < count; i++) y[i] = a[i] OP b[i];              \
    } else if (stride_a) {                                                  \
        float s = b[0];                                                     \
        for (long i = 0; i < count; i++) y[i] = a[i] OP s;                 \
    } else if (stride_b) {                                                  \
        float s = a[0];                                                     \
        for (long i = 0; i < count; i++) y[i] = s OP b[i];                 \
    } else {                                                                \
        float v = a[0] OP b[0];                                             \
        for (long i = 0; i < count; i++) y[i] = v;                          \
    }

DDPM_INLINE void ddpm_binary_body(int op, const float *a, long stride_a, const float *b, long stride_b, float *y,
                                  long count) {
    if (count <= 0) return;  // a scalar operand is read before the loop
    switch (op) {
    case DDPM_ADD: DDPM_BINARY_LOOPS(+) break;
    case DDPM_SUBTRACT: DDPM_BINARY_LOOPS(-) break;
    case DDPM_MULTIPLY: DDPM_BINARY_LOOPS(*) break;
    default: DDPM_BINARY_LOOPS(/) break;
    }
}

/// Eight SplitMix64 counters: two vectors of four 64-bit lanes under AVX2.
typedef uint64_t ddpm_u64x8 __attribute__((vector_size(64)));

/// SeededGenerator.increment (Sources/Tensors/SeededGenerator.swift), the SplitMix64 counter step.
#define DDPM_SPLITMIX_INCREMENT 0x9E3779B97F4A7C15ull

/// z·k mod 2⁶⁴ from 32×32→64-bit products: x86 has no 64-bit vector multiply below AVX-512DQ,
/// and a plain `*` there is split into scalar multiplies. (Macros, not functions: vectors wider
/// than the ISA's registers cannot be passed by value without an ABI warning.)
#define DDPM_MULTIPLY_U64(z, k) \
    (((z) & 0xFFFFFFFFull) * ((k) & 0xFFFFFFFFull) + \
     ((((z) >> 32) * ((k) & 0xFFFFFFFFull) + ((z) & 0xFFFFFFFFull) * ((k) >> 32)) << 32))

/// SeededGenerator.mix, the SplitMix64 finaliser, lane-wise on z in place.
#define DDPM_SPLITMIX_MIX(z)                                       \
    do {                                                           \
        (z) ^= (z) >> 30;                                          \
        (z) = DDPM_MULTIPLY_U64(z, 0xBF58476D1CE4E5B9ull);         \
        (z) ^= (z) >> 27;                                          \
        (z) = DDPM_MULTIPLY_U64(z, 0x94D049BB133111EBull);         \
        (z) ^= (z) >> 31;                                          \
    } while (0)

/// The top 24 bits of mix(counter) in each lane, below `threshold` or not (as 32-bit lanes).
#define DDPM_DROPOUT_KEPT(kept, counter, threshold)                        \
    do {                                                                   \
        ddpm_u64x8 z = (counter);                                          \
        DDPM_SPLITMIX_MIX(z);                                              \
        ddpm_i8 bits = __builtin_convertvector(z >> 40, ddpm_i8);    \
        (kept) = bits < (int32_t)(threshold);                              \
    } while (0)

DDPM_INLINE void ddpm_dropout_body(const float *x, float *y, long count, uint64_t base, uint64_t first,
                                   uint32_t threshold, float scale) {
    // Lane l of step j holds the counter of element 8j + l: base + (first + 8j + l + 1)·increment.
    ddpm_u64x8 counter;
    for (int l = 0; l < 8; l++) counter[l] = base + DDPM_SPLITMIX_INCREMENT * (first + (uint64_t)l + 1);
    const uint64_t step = DDPM_SPLITMIX_INCREMENT * 8;
    long i = 0;
    ddpm_i8 kept;
    for (; i + 8 <= count; i += 8, counter += step) {
        // bits < 2²⁴ and threshold ≤ 2²⁴, so the signed 32-bit compare is exact.
        DDPM_DROPOUT_KEPT(kept, counter, threshold);
        ddpm_f8 v;
        ddpm_i8 scaled;
        ddpm_load8(&v, x + i);
        v *= scale;
        memcpy(&scaled, &v, sizeof v);
        scaled &= kept;  // all-ones lanes keep x·scale, the others become +0
        memcpy(y + i, &scaled, sizeof scaled);
    }
    if (i < count) {  // the tail: one more vector of counters, lanes past count unused
        DDPM_DROPOUT_KEPT(kept, counter, threshold);
        for (long l = 0; i + l < count; l++) y[i + l] = kept[l] ? x[i + l] * scale : 0;
    }
}

DDPM_DISPATCH_VOID(ddpm_binary,
                   (int op, const float *a, long stride_a, const float *b, long stride_b, float *y, long count),
                   (op, a, stride_a, b, stride_b, y, count))
DDPM_DISPATCH_VOID(ddpm_dropout,
                   (const float *x, float *y, long count, uint64_t base, uint64_t first, uint32_t threshold, float scale),
                   (x, y, count, base, first, threshold, scale))
