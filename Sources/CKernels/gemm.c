#include <stdlib.h>

#include "dispatch.h"
#include "vector_math.h"

// C = α·op(A)·op(B) (+ C), row-major: the kernel behind `Kernels.gemm` for the small products
// that fill a U-Net step (Winograd's α² products per chunk, 64×64×64; 1×1 convolutions and
// attention per image). Why not only BLAS: OpenBLAS packs both operands and makes a separate
// beta pass over C on every call, which on the small U-Net was a third of its GEMM time; here
// only a K×16 panel of B is packed (unit stride, zero-padded past n) and A is read in place.
// A 6×16 register block (12 accumulators) runs over the whole K in one pass, A broadcast one
// scalar at a time; `Kernels.gemm` sends large K to OpenBLAS, whose cache blocking wins there.

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

/// Copies columns [j, j + width) of op(B)'s k rows into a contiguous k×panel buffer, zero beyond
/// width: the kernel then reads B at unit stride (rows of a wide B, e.g. 1024 floats, are 4 KiB
/// apart and would share one L1 set) and never past the caller's columns.
DDPM_INLINE void wp_pack(int transposed, long k, const float *b, long ldb, long j, long width, long panel,
                         float *out) {
    if (transposed) {  // op(B)[p][j + l] = b[(j + l)·ldb + p]
        for (long p = 0; p < k; p++) {
            for (long l = 0; l < panel; l++) out[p * panel + l] = l < width ? b[(j + l) * ldb + p] : 0;
        }
        return;
    }
    for (long p = 0; p < k; p++) {
        const float *src = b + p * ldb + j;
        float *dst = out + p * panel;
        if (width == panel) {
            memcpy(dst, src, sizeof(float) * (size_t)panel);
        } else {
            for (long l = 0; l < panel; l++) dst[l] = l < width ? src[l] : 0;
        }
    }
}

/// The panels of C; inlined twice from ddpm_gemm_body so each A layout gets constant strides.
DDPM_INLINE void wp_run(int transpose_a, int transpose_b, long m, long n, long k, float alpha, const float *a, long lda,
                        const float *b, long ldb, int accumulate, float *c, long ldc) {
    wp_matrix A = {a, transpose_a ? 1 : lda, transpose_a ? lda : 1};
    float *panel = malloc(sizeof(float) * (size_t)(16 * k + 8 * m + 16));
    if (!panel) abort();
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        wp_pack(transpose_b, k, b, ldb, j, 16, 16, panel);
        wp_panel(2, m, k, A, alpha, panel, 16, c + j, ldc, accumulate);
    }
    for (; j < n; j += 8) {
        long width = n - j < 8 ? n - j : 8;
        wp_pack(transpose_b, k, b, ldb, j, width, 8, panel);
        if (width == 8) {
            wp_panel(1, m, k, A, alpha, panel, 8, c + j, ldc, accumulate);
            continue;
        }
        // The last 1–7 columns of C go through an 8-wide copy, so nothing past them is written.
        float *ct = panel + 8 * k;
        for (long r = 0; r < m; r++) {
            for (long l = 0; l < 8; l++) ct[r * 8 + l] = accumulate && l < width ? c[r * ldc + j + l] : 0;
        }
        wp_panel(1, m, k, A, alpha, panel, 8, ct, 8, accumulate);
        for (long r = 0; r < m; r++) memcpy(c + r * ldc + j, ct + r * 8, sizeof(float) * (size_t)width);
    }
    free(panel);
}

DDPM_INLINE void ddpm_gemm_body(int transpose_a, int transpose_b, long m, long n, long k, float alpha, const float *a,
                                 long lda, const float *b, long ldb, int accumulate, float *c, long ldc) {
    if (m == 0 || n == 0) return;
    if (transpose_a) wp_run(1, transpose_b, m, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc);
    else wp_run(0, transpose_b, m, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc);
}

DDPM_DISPATCH_VOID(ddpm_gemm,
                   (int transpose_a, int transpose_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, int accumulate, float *c, long ldc),
                   (transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc))
