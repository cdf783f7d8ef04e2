#include <stdlib.h>

#include "gemm_kernel.h"

// C = α·op(A)·op(B) (+ C), row-major: the kernel behind `Kernels.gemm` for the small products
// that fill a U-Net step (Winograd's α² products per chunk, 64×64×64; 1×1 convolutions and
// attention per image). Why not only BLAS: OpenBLAS packs both operands and makes a separate
// beta pass over C on every call, which on the small U-Net was a third of its GEMM time; here
// only a K×16 panel of B is packed (unit stride, zero-padded past n) and A is read in place.
// A 6×16 register block (12 accumulators) runs over the whole K in one pass, A broadcast one
// scalar at a time; `Kernels.gemm` sends large K to OpenBLAS, whose cache blocking wins there.

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
