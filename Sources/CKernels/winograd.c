#include "winograd.h"

// Winograd F(m×m, 3×3) transforms (Lavin & Gray 2016) for m = 2 (α = 4) and m = 4 (α = 6) of the
// backward-weights pass (input and gradient tiles) and of the weights; the forward blocks are in
// winograd_blocks.c, the threading in Sources/TensorKernels/Winograd.swift. Tiles
// of one plane are numbered t = ty·tilesW + tx, and every transform works on eight consecutive
// tiles at once (one lane per tile), so planes of any size vectorise the same way: the tiles'
// elements are first gathered into α² planes of tiles (`scratch`), then transformed as vectors.
//
// Every transform is a sandwich out = L·in·Lᵀ with a constant matrix L; the loops over L unroll
// fully, so zero coefficients cost nothing and ±1 become additions.

/// Copies `count` (4, 6 or 8) floats; 6 are moved as 8 (the two extra land in the next slot,
/// which the caller writes afterwards, or in the buffer's slack).
DDPM_INLINE void w_copy_row(float *dst, const float *src, int count) {
    if (count <= 4) {
        memcpy(dst, src, sizeof(float) * 4);
    } else {
        memcpy(dst, src, sizeof(float) * 8);
    }
}

long ddpm_winograd_scratch_floats(int m, long height, long width) {
    long a = W_ALPHA(m), th = w_tiles(height, m), tw = w_tiles(width, m), t8 = (th * tw + 7) / 8 * 8;
    return (m * th + 2) * (m * tw + 2) + 16 + a * a * t8 + 16;
}

/// Gathers the size×size tiles of a zero-padded copy of `x` tile-major into d[t·size² + i·size + j]
/// = x[m·ty + i − offset][m·tx + j − offset] (0 outside); tiles past the last (up to a multiple of
/// 8) are zero. Returns d.
DDPM_INLINE float *w_gather(int m, int size, int offset, const float *x, long height, long width, float *scratch) {
    long th = w_tiles(height, m), tw = w_tiles(width, m), tiles = th * tw, t8 = (tiles + 7) / 8 * 8;
    long ph = m * th + 2, pw = m * tw + 2;
    float *p = scratch, *d = scratch + ph * pw + 16;
    memset(p, 0, sizeof(float) * (ph * pw + 16));
    for (long y = 0; y < height; y++) memcpy(p + (y + offset) * pw + offset, x + y * width, sizeof(float) * width);
    long e = size * size;
    for (long ty = 0; ty < th; ty++) {
        for (long tx = 0; tx < tw; tx++) {
            float *dst = d + (ty * tw + tx) * e;
            const float *src = p + m * ty * pw + m * tx;
            for (int i = 0; i < size; i++) w_copy_row(dst + i * size, src + i * pw, size);
        }
    }
    memset(d + tiles * e, 0, sizeof(float) * ((t8 - tiles) * e + 8));
    return d;
}

/// in[e] (e < count, rounded up to 8) = element e of tiles t…t+7 of the tile-major d.
DDPM_INLINE void w_load_tiles(const float *d, long t, int count, ddpm_f8 *in) {
#pragma clang loop unroll(full)
    for (int g = 0; g < count; g += 8) {
#pragma clang loop unroll(full)
        for (int k = 0; k < 8; k++) ddpm_load8(&in[g + k], d + (t + k) * count + g);
        ddpm_transpose8(in + g);
    }
}

/// `matrix`·d·`matrix`ᵀ (α×`side`) of every side×side tile of one plane, tiles `overlap`ping by 2
/// with padding 1 (input tiles, V = Bᵀ·d·B) or not (gradient tiles, A·dY·Aᵀ): v[ξ·xi_stride + t].
DDPM_INLINE void w_transform_tiles(int m, int side, int overlap, const float *matrix, const float *plane, long height,
                                   long width, float *v, long xi_stride, float *scratch) {
    int a = W_ALPHA(m);
    long tiles = w_tiles(height, m) * w_tiles(width, m);
    const float *d = w_gather(m, side, overlap, plane, height, width, scratch);
    for (long t = 0; t < tiles; t += 8) {
        ddpm_f8 in[40], out[36];
        w_load_tiles(d, t, side * side, in);
        w_sandwich(matrix, a, side, in, out);
        for (int e = 0; e < a * a; e++) w_store(v + e * xi_stride + t, &out[e], tiles - t);
    }
}

DDPM_INLINE void w_input(int m, const float *bt, const float *x, long height, long width, float *v, long xi_stride,
                         float *scratch) {
    w_transform_tiles(m, W_ALPHA(m), 1, bt, x, height, width, v, xi_stride, scratch);
}

DDPM_INLINE void w_gradient(int m, const float *a_t, const float *dy, long height, long width, float *v,
                            long xi_stride, float *scratch) {
    w_transform_tiles(m, m, 0, a_t, dy, height, width, v, xi_stride, scratch);
}

/// u[ξ·xi_stride + o·o_stride + k] = (G·g·Gᵀ)[ξ] for o in [o_begin, o_end), k < lanes, where g is the
/// 3×3 kernel at w + o·w_o + k·w_k, rotated by 180° when `rotate` (backward data).
DDPM_INLINE void w_weight(int m, const float *g, const float *w, long w_o, long w_k, int rotate, long o_begin,
                          long o_end, long lanes, float *u, long xi_stride, long o_stride) {
    int a = W_ALPHA(m);
    for (long o = o_begin; o < o_end; o++) {
        for (long k = 0; k < lanes; k += 8) {
            long n = lanes - k < 8 ? lanes - k : 8;
            ddpm_f8 in[9], out[36];
            if (n == 8) {  // eight kernels' first eight taps transposed in registers, the ninth gathered
                ddpm_f8 r[8];
                float last[8];
                for (int l = 0; l < 8; l++) {
                    const float *src = w + o * w_o + (k + l) * w_k;
                    ddpm_load8(&r[l], src);
                    last[l] = src[8];
                }
                ddpm_transpose8(r);
                for (int e = 0; e < 8; e++) in[rotate ? 8 - e : e] = r[e];
                in[rotate ? 0 : 8] = (ddpm_f8){last[0], last[1], last[2], last[3], last[4], last[5], last[6], last[7]};
            } else {  // the last 1–7 kernels of a row, through a zeroed buffer
                float buf[9][8] = {{0}};
                for (long l = 0; l < n; l++) {
                    const float *src = w + o * w_o + (k + l) * w_k;
                    for (int e = 0; e < 9; e++) buf[e][l] = src[rotate ? 8 - e : e];
                }
                for (int e = 0; e < 9; e++) ddpm_load8(&in[e], buf[e]);
            }
            w_sandwich(g, a, 3, in, out);
            for (int e = 0; e < a * a; e++) w_store(u + e * xi_stride + o * o_stride + k, &out[e], n);
        }
    }
}

/// dw[co][ci][3×3] = Gᵀ·dU·G for co in [co_begin, co_end), dU[ξ·cout·cin + co·cin + ci].
DDPM_INLINE void w_weight_gradient(int m, const float *gt, const float *du, long cout, long cin, long co_begin,
                                   long co_end, float *dw) {
    int a = W_ALPHA(m);
    for (long co = co_begin; co < co_end; co++) {
        for (long ci = 0; ci < cin; ci += 8) {
            long n = cin - ci < 8 ? cin - ci : 8;
            ddpm_f8 in[36], out[9];
            for (int e = 0; e < a * a; e++) {
                float buf[8] = {0};
                const float *src = du + e * cout * cin + co * cin + ci;
                for (long l = 0; l < n; l++) buf[l] = src[l];
                ddpm_load8(&in[e], buf);
            }
            w_sandwich(gt, 3, a, in, out);
            for (long l = 0; l < n; l++) {
                float *dst = dw + (co * cin + ci + l) * 9;
                for (int e = 0; e < 9; e++) dst[e] = out[e][l];
            }
        }
    }
}

DDPM_INLINE void ddpm_winograd_input_body(int m, const float *x, long height, long width, float *v, long xi_stride,
                                          float *scratch) {
    if (m == 4) w_input(4, bt4, x, height, width, v, xi_stride, scratch);
    else w_input(2, bt2, x, height, width, v, xi_stride, scratch);
}

DDPM_INLINE void ddpm_winograd_gradient_body(int m, const float *dy, long height, long width, float *v,
                                             long xi_stride, float *scratch) {
    if (m == 4) w_gradient(4, a4, dy, height, width, v, xi_stride, scratch);
    else w_gradient(2, a2, dy, height, width, v, xi_stride, scratch);
}

DDPM_INLINE void ddpm_winograd_weight_body(int m, const float *w, long cout, long cin, int backward_data,
                                           long o_begin, long o_end, float *u) {
    // Forward: u[ξ][co][ci], vectors across ci. Backward data: u[ξ][ci][co] of the rotated kernel.
    long w_o = backward_data ? 9 : cin * 9, w_k = backward_data ? cin * 9 : 9, lanes = backward_data ? cout : cin;
    if (m == 4) w_weight(4, g4, w, w_o, w_k, backward_data, o_begin, o_end, lanes, u, cout * cin, lanes);
    else w_weight(2, g2, w, w_o, w_k, backward_data, o_begin, o_end, lanes, u, cout * cin, lanes);
}

DDPM_INLINE void ddpm_winograd_weight_gradient_body(int m, const float *du, long cout, long cin, long co_begin,
                                                    long co_end, float *dw) {
    if (m == 4) w_weight_gradient(4, gt4, du, cout, cin, co_begin, co_end, dw);
    else w_weight_gradient(2, gt2, du, cout, cin, co_begin, co_end, dw);
}

DDPM_DISPATCH_VOID(ddpm_winograd_input,
                   (int m, const float *x, long height, long width, float *v, long xi_stride, float *scratch),
                   (m, x, height, width, v, xi_stride, scratch))
DDPM_DISPATCH_VOID(ddpm_winograd_gradient,
                   (int m, const float *dy, long height, long width, float *v, long xi_stride, float *scratch),
                   (m, dy, height, width, v, xi_stride, scratch))
DDPM_DISPATCH_VOID(ddpm_winograd_weight,
                   (int m, const float *w, long cout, long cin, int backward_data, long o_begin, long o_end,
                    float *u),
                   (m, w, cout, cin, backward_data, o_begin, o_end, u))
DDPM_DISPATCH_VOID(ddpm_winograd_weight_gradient,
                   (int m, const float *du, long cout, long cin, long co_begin, long co_end, float *dw),
                   (m, du, cout, cin, co_begin, co_end, dw))
