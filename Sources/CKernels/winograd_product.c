#include <stdlib.h>

#include "dispatch.h"
#include "vector_math.h"

// The products between the Winograd transforms: C = A·B (or C += A·B), row-major, one call per
// tile element ξ. Why not BLAS: these matrices are tiny (M, K = channels 32–512, N = tiles of one
// chunk, usually 64), and OpenBLAS packs both operands and runs a separate beta pass on every
// call; on the small U-Net that overhead (sgemm_beta, *copy) was a third of its GEMM time. Here
// the operands are already in cache in the layout the kernel wants, so it reads them in place:
// a 6×16 register block (12 accumulators), B rows loaded as vectors, A broadcast one scalar at
// a time, the whole K in one pass.

enum { WP_ROWS = 6, WP_VECTORS = 2 };

/// c[r][0 ..< 8·vectors] (+)= Σ_p a[r][p]·b[p][...] for r < rows; all loops unroll on constants.
DDPM_INLINE void wp_block(int rows, int vectors, long k, const float *a, long lda, const float *b, long ldb, float *c,
                          long ldc, int accumulate) {
    ddpm_f8 acc[WP_ROWS][WP_VECTORS];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            if (accumulate) ddpm_load8(&acc[r][v], c + r * ldc + 8 * v);
            else acc[r][v] = (ddpm_f8){0};
        }
    }
#pragma clang loop unroll_count(4)
    for (long p = 0; p < k; p++) {
        ddpm_f8 bv[WP_VECTORS];
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) ddpm_load8(&bv[v], b + p * ldb + 8 * v);
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            float s = a[r * lda + p];
            ddpm_f8 av = {s, s, s, s, s, s, s, s};
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) DDPM_MULTIPLY_ADD(acc[r][v], av, bv[v]);
        }
    }
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) memcpy(c + r * ldc + 8 * v, &acc[r][v], sizeof acc[r][v]);
    }
}

/// One column panel (8·vectors wide) over all rows of C, the last 1–5 rows by a smaller block.
DDPM_INLINE void wp_panel(int vectors, long m, long k, const float *a, long lda, const float *b, long ldb, float *c,
                          long ldc, int accumulate) {
    long i = 0;
    for (; i + WP_ROWS <= m; i += WP_ROWS)
        wp_block(WP_ROWS, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate);
    switch (m - i) {
    case 5: wp_block(5, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 4: wp_block(4, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 3: wp_block(3, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 2: wp_block(2, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    case 1: wp_block(1, vectors, k, a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate); break;
    default: break;
    }
}

DDPM_INLINE void ddpm_winograd_product_body(long m, long n, long k, const float *a, long lda, const float *b,
                                            long ldb, float *c, long ldc, int accumulate) {
    long j = 0;
    for (; j + 16 <= n; j += 16) wp_panel(2, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
    for (; j + 8 <= n; j += 8) wp_panel(1, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate);
    long rest = n - j;
    if (rest == 0 || m == 0) return;
    // The last 1–7 columns: B's and C's copied into zero-padded 8-wide panels, so the kernel never
    // reads or writes past the caller's rows.
    float *bt = malloc(sizeof(float) * 8 * (size_t)k), *ct = malloc(sizeof(float) * 8 * (size_t)m);
    if (!bt || !ct) abort();
    for (long p = 0; p < k; p++) {
        for (long l = 0; l < 8; l++) bt[p * 8 + l] = l < rest ? b[p * ldb + j + l] : 0;
    }
    for (long r = 0; r < m; r++) {
        for (long l = 0; l < 8; l++) ct[r * 8 + l] = accumulate && l < rest ? c[r * ldc + j + l] : 0;
    }
    wp_panel(1, m, k, a, lda, bt, 8, ct, 8, accumulate);
    for (long r = 0; r < m; r++) memcpy(c + r * ldc + j, ct + r * 8, sizeof(float) * (size_t)rest);
    free(bt);
    free(ct);
}

/// B given as its transpose (n×k, row-major): copied once into a k×n buffer, a small cost next
/// to the m·n·k products (the backward-weights product, dU = dY·Vᵀ over the tiles).
DDPM_INLINE void ddpm_winograd_product_transposed_body(long m, long n, long k, const float *a, long lda,
                                                       const float *bt, long ldbt, float *c, long ldc,
                                                       int accumulate) {
    float *b = malloc(sizeof(float) * (size_t)(k * n + 1));
    if (!b) abort();
    for (long q = 0; q < n; q++) {
        for (long p = 0; p < k; p++) b[p * n + q] = bt[q * ldbt + p];
    }
    ddpm_winograd_product_body(m, n, k, a, lda, b, n, c, ldc, accumulate);
    free(b);
}

DDPM_DISPATCH_VOID(ddpm_winograd_product,
                   (long m, long n, long k, const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                    int accumulate),
                   (m, n, k, a, lda, b, ldb, c, ldc, accumulate))
DDPM_DISPATCH_VOID(ddpm_winograd_product_transposed,
                   (long m, long n, long k, const float *a, long lda, const float *bt, long ldbt, float *c,
                    long ldc, int accumulate),
                   (m, n, k, a, lda, bt, ldbt, c, ldc, accumulate))
