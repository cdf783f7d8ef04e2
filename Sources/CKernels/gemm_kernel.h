// The GEMM register block (private to CKernels): gemm.c's panels and the fused Winograd blocks
// (winograd_blocks.c) run the same 6×16 kernel.
#ifndef CKERNELS_GEMM_KERNEL_H
#define CKERNELS_GEMM_KERNEL_H
#include "dispatch.h"
#include "vector_math.h"

enum { WP_ROWS = 6, WP_VECTORS = 2 };

/// The operand A as strides: element (r, p) at a[r·row + p·column] (op(A) = A or Aᵀ).
typedef struct {
    const float *a;
    long row, column;
} wp_matrix;

/// c[r][0 ..< 8·vectors] = α·Σ_p A[r][p]·b[p][...] (+ c) for r < rows; loops unroll on constants.
DDPM_INLINE void wp_block(int rows, int vectors, long k, wp_matrix A, float alpha, const float *b, long ldb, float *c,
                          long ldc, int accumulate) {
    ddpm_f8 acc[WP_ROWS][WP_VECTORS];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            acc[r][v] = (ddpm_f8){0};
        }
    }
#pragma clang loop unroll_count(4)
    for (long p = 0; p < k; p++) {
        ddpm_f8 bv[WP_VECTORS];
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) ddpm_load8(&bv[v], b + p * ldb + 8 * v);
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            float s = A.a[r * A.row + p * A.column];
            ddpm_f8 av = {s, s, s, s, s, s, s, s};
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) DDPM_MULTIPLY_ADD(acc[r][v], av, bv[v]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            ddpm_f8 out = acc[r][v], old;
            if (alpha != 1) out *= (ddpm_f8){alpha, alpha, alpha, alpha, alpha, alpha, alpha, alpha};
            if (accumulate) {
                ddpm_load8(&old, c + r * ldc + 8 * v);
                out += old;
            }
            memcpy(c + r * ldc + 8 * v, &out, sizeof out);
        }
    }
}

/// One column panel (8·vectors wide) over all rows of C, the last 1–5 rows by a smaller block.
DDPM_INLINE void wp_panel(int vectors, long m, long k, wp_matrix A, float alpha, const float *b, long ldb, float *c,
                          long ldc, int accumulate) {
    long i = 0;
    for (; i + WP_ROWS <= m; i += WP_ROWS) {
        wp_matrix rows = {A.a + i * A.row, A.row, A.column};
        wp_block(WP_ROWS, vectors, k, rows, alpha, b, ldb, c + i * ldc, ldc, accumulate);
    }
    A.a += i * A.row;
    switch (m - i) {
    case 5: wp_block(5, vectors, k, A, alpha, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 4: wp_block(4, vectors, k, A, alpha, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 3: wp_block(3, vectors, k, A, alpha, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 2: wp_block(2, vectors, k, A, alpha, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 1: wp_block(1, vectors, k, A, alpha, b, ldb, c + i * ldc, ldc, accumulate); break;
    default: break;
    }
}

#endif
