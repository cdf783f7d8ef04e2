// Winograd F(m×m, 3×3) constants and the register-level pieces every transform shares (private
// to CKernels; winograd.c and winograd_blocks.c include it).
#ifndef CKERNELS_WINOGRAD_H
#define CKERNELS_WINOGRAD_H
#include "dispatch.h"
#include "vector_math.h"

#define W_ALPHA(m) ((m) + 2)

// F(2×2, 3×3): Bᵀ (4×4), G (4×3), Aᵀ (2×4) and the transposes used for the adjoints.
static const float bt2[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const float g2[12] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
static const float gt2[12] = {1, 0.5f, 0.5f, 0, 0, 0.5f, -0.5f, 0, 0, 0.5f, 0.5f, 1};
static const float at2[8] = {1, 1, 1, 0, 0, 1, -1, -1};
static const float a2[8] = {1, 0, 1, 1, 1, -1, 0, -1};

// F(4×4, 3×3) with the interpolation points 0, ±1, ±2, ∞.
static const float bt4[36] = {4, 0, -5, 0, 1, 0, 0, -4, -4, 1, 1, 0, 0, 4, -4, -1, 1, 0,
                              0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1};
static const float g4[18] = {1.0f / 4, 0, 0, -1.0f / 6, -1.0f / 6, -1.0f / 6, -1.0f / 6, 1.0f / 6, -1.0f / 6,
                             1.0f / 24, 1.0f / 12, 1.0f / 6, 1.0f / 24, -1.0f / 12, 1.0f / 6, 0, 0, 1};
static const float gt4[18] = {1.0f / 4, -1.0f / 6, -1.0f / 6, 1.0f / 24, 1.0f / 24, 0,
                              0, -1.0f / 6, 1.0f / 6, 1.0f / 12, -1.0f / 12, 0,
                              0, -1.0f / 6, -1.0f / 6, 1.0f / 6, 1.0f / 6, 1};
static const float at4[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};
static const float a4[24] = {1, 0, 0, 0, 1, 1, 1, 1, 1, -1, 1, -1, 1, 2, 4, 8, 1, -2, 4, -8, 0, 0, 0, 1};

/// out[r] = Σ_c L[r][c]·in[c·stride] for a constant rows×cols matrix L (unrolled: 0 skipped, ±1 added).
DDPM_INLINE void w_apply(const float *L, int rows, int cols, const ddpm_f8 *in, int in_stride, ddpm_f8 *out,
                         int out_stride) {
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
        ddpm_f8 acc = {0};
        int first = 1;
#pragma clang loop unroll(full)
        for (int c = 0; c < cols; c++) {
            float k = L[r * cols + c];
            ddpm_f8 x = in[c * in_stride];
            if (k == 0) continue;
            if (first) {
                ddpm_f8 kv = {k, k, k, k, k, k, k, k};
                acc = k == 1 ? x : k == -1 ? -x : kv * x;
                first = 0;
            } else if (k == 1) {
                acc += x;
            } else if (k == -1) {
                acc -= x;
            } else {
                ddpm_f8 kv = {k, k, k, k, k, k, k, k};
                DDPM_MULTIPLY_ADD(acc, kv, x);
            }
        }
        out[r * out_stride] = acc;
    }
}

/// out = L·in·Lᵀ: in is cols×cols vectors, out rows×rows (both row-major).
DDPM_INLINE void w_sandwich(const float *L, int rows, int cols, const ddpm_f8 *in, ddpm_f8 *out) {
    ddpm_f8 t[36];  // t[c][r'] = Σ_j in[c][j]·L[r'][j]
#pragma clang loop unroll(full)
    for (int c = 0; c < cols; c++) w_apply(L, rows, cols, in + c * cols, 1, t + c * rows, 1);
#pragma clang loop unroll(full)
    for (int q = 0; q < rows; q++) w_apply(L, rows, cols, t + q, rows, out + q, rows);
}

DDPM_INLINE long w_tiles(long n, int m) { return (n + m - 1) / m; }

/// Stores the first `lanes` lanes of v at p (all eight when lanes ≥ 8).
DDPM_INLINE void w_store(float *p, const ddpm_f8 *v, long lanes) {
    if (lanes >= 8) {
        memcpy(p, v, sizeof *v);
    } else {
        for (long l = 0; l < lanes; l++) p[l] = (*v)[l];
    }
}

#endif
