#include "gemm_kernel.h"
#include "winograd.h"

// The Winograd forward convolution fused per block of 16–64 tiles: V = Bᵀ·d·B for every input
// channel, the α² products M[ξ] = U[ξ]·V[ξ], and y = Aᵀ·M·A + bias for every output channel,
// before the next block starts. Why: done a chunk at a time, V and M (α²·C·tiles floats, over
// 1 MiB at 64 channels and 64 tiles) left the L2 between the three steps, and the transforms
// spent a quarter of their time stalled on the α² strided streams. A block's V and M, α²·16·
// (Cin + Cout) floats (295 KiB at 64 + 64 channels), stay in L2, and V is written in the K×16
// panel layout the GEMM kernel reads, so it needs no packing.
//
// Tiles are numbered over the whole batch, g = image·tiles + t, so small planes (8×8 has four
// tiles) still fill 16 lanes. Input planes are read from zero-padded copies (ddpm_winograd_pad):
// a tile's α rows are then plain loads at any position.

enum { WB_MAX_TILES = 64 };

long ddpm_winograd_padded_floats(int m, long height, long width) {
    // +8: a tile row is loaded as 8 floats, which may run 2 past the plane's last row.
    return (m * w_tiles(height, m) + 2) * (m * w_tiles(width, m) + 2) + 8;
}

int ddpm_winograd_block_panels(long cin, long cout) {
    // One panel (16 tiles) keeps V and M in L2 up to 64 + 64 channels; past that they spill
    // anyway, and more panels read U (α²·Cout·Cin floats) fewer times.
    long channels = cin + cout;
    return channels <= 128 ? 1 : channels <= 256 ? 2 : 4;
}

/// Floats between the α² planes of a block's V (or M): `panels` panels of `channels` rows of 16,
/// plus one cache line, since 64 rows of 16 floats are 4 KiB and α² such planes would all fall
/// in one L1 set.
DDPM_INLINE long wb_plane(long channels, int panels) { return panels * channels * 16 + 16; }

long ddpm_winograd_block_floats(int m, long cin, long cout) {
    long a = W_ALPHA(m);
    int panels = ddpm_winograd_block_panels(cin, cout);
    return a * a * (wb_plane(cin, panels) + wb_plane(cout, panels));
}

DDPM_INLINE void ddpm_winograd_pad_body(int m, const float *x, long height, long width, long p0, long p1,
                                        float *padded) {
    long pw = m * w_tiles(width, m) + 2, pp = ddpm_winograd_padded_floats(m, height, width);
    for (long p = p0; p < p1; p++) {
        float *dst = padded + p * pp;
        const float *src = x + p * height * width;
        for (long i = 0; i < pw + 1; i++) dst[i] = 0;  // the top row and the first row's left pad
        for (long y = 0; y < height; y++) {
            float *row = dst + (y + 1) * pw + 1;
            for (long i = 0; i < width; i++) row[i] = src[y * width + i];
            // the right pad of this row and the left pad of the next
            for (long i = width; i < pw; i++) row[i] = 0;
        }
        for (long i = (height + 1) * pw + 1; i < pp; i++) dst[i] = 0;  // the bottom rows and the slack
    }
}

/// Where tile g of channel 0 starts: its image's padded plane, row m·ty, column m·tx.
DDPM_INLINE const float *wb_tile(int m, const float *padded, long cin, long pp, long tiles, long tw, long pw, long g) {
    long n = g / tiles, t = g % tiles;
    return padded + n * cin * pp + m * (t / tw) * pw + m * (t % tw);
}

/// M[ξ] = U[ξ]·V[ξ] for output channels [co0, co1) over the block's panels, each 6-row strip of
/// U[ξ] applied to every panel while it is in L1 (with 256 channels U is 9 MiB: reading it once
/// per panel would cost more than the products).
DDPM_INLINE void wb_products(int a2, const float *u, long cin, long cout, long co0, long co1, int panels,
                             const float *v, long vs, float *mt, long ms) {
    for (int e = 0; e < a2; e++) {
        const float *ue = u + e * cout * cin;
        long i = co0;
        for (; i + WP_ROWS <= co1; i += WP_ROWS) {
            wp_matrix U = {ue + i * cin, cin, 1};
            for (int p = 0; p < panels; p++) {
                wp_block(WP_ROWS, 2, cin, U, 1, v + e * vs + p * cin * 16, 16, mt + e * ms + p * cout * 16 + i * 16, 16, 0);
            }
        }
        if (i < co1) {
            wp_matrix U = {ue + i * cin, cin, 1};
            for (int p = 0; p < panels; p++) {
                wp_panel(2, co1 - i, cin, U, 1, v + e * vs + p * cin * 16, 16, mt + e * ms + p * cout * 16 + i * 16, 16, 0);
            }
        }
    }
}

DDPM_INLINE void wb_forward(int m, const float *bt, const float *at, const float *padded, const float *u, long cin,
                            long cout, long co0, long co1, const ddpm_convolution_epilogue *epilogue, long height, long width,
                            long g0, long count, int panels, float *work, float *y) {
    const int a = W_ALPHA(m), a2 = a * a, mm = m * m, groups = 2 * panels;
    long tw = w_tiles(width, m), tiles = w_tiles(height, m) * tw, pw = m * tw + 2;
    long pp = ddpm_winograd_padded_floats(m, height, width), plane = height * width;
    long vs = wb_plane(cin, panels), ms = wb_plane(cout, panels);
    float *v = work, *mt = work + a2 * vs;

    // V: lanes are tiles g0 + l, eight per group, two groups per 16-wide panel; lanes past
    // `count` repeat the first tile (computed, never stored).
    for (int grp8 = 0; grp8 < groups; grp8++) {
        const float *base[8];
        for (int k = 0; k < 8; k++) {
            long l = grp8 * 8 + k;
            base[k] = wb_tile(m, padded, cin, pp, tiles, tw, pw, g0 + (l < count ? l : 0));
        }
        float *vp = v + (grp8 / 2) * cin * 16 + (grp8 % 2) * 8;
        for (long c = 0; c < cin; c++) {
            ddpm_f8 in[36], out[36];
            for (int i = 0; i < a; i++) {
                ddpm_f8 r[8];
#pragma clang loop unroll(full)
                for (int k = 0; k < 8; k++) ddpm_load8(&r[k], base[k] + c * pp + i * pw);
                ddpm_transpose8(r);
                for (int j = 0; j < a; j++) in[i * a + j] = r[j];
            }
            w_sandwich(bt, a, a, in, out);
            for (int e = 0; e < a2; e++) memcpy(vp + e * vs + c * 16, &out[e], sizeof out[e]);
        }
    }
    wb_products(a2, u, cin, cout, co0, co1, panels, v, vs, mt, ms);
    // y = Aᵀ·M·A + bias (+ the image's shift, + the residual), tile by tile into the output
    // planes (clipped at the bottom/right edge).
    long offset[WB_MAX_TILES], rows[WB_MAX_TILES], cols[WB_MAX_TILES], image[WB_MAX_TILES];
    for (long l = 0; l < count; l++) {
        long g = g0 + l, n = g / tiles, t = g % tiles, oy = m * (t / tw), ox = m * (t % tw);
        image[l] = n;
        offset[l] = n * cout * plane + oy * width + ox;
        rows[l] = height - oy < m ? height - oy : m;
        cols[l] = width - ox < m ? width - ox : m;
    }
    const float *bias = epilogue->bias, *shift = epilogue->image_shift, *residual = epilogue->residual;
    for (long co = co0; co < co1; co++) {
        float b = bias ? bias[co] : 0;
        for (int grp8 = 0; grp8 < groups && grp8 * 8 < count; grp8++) {
            ddpm_f8 in[36], out[16] = {{0}}, b8 = {b, b, b, b, b, b, b, b}, s8 = {0};
            // Lanes are tiles, which may belong to different images: each gets its image's shift.
            if (shift) {
                for (int k = 0; k < 8; k++) s8[k] = shift[image[grp8 * 8 + k < count ? grp8 * 8 + k : 0] * cout + co];
            }
            const float *mp = mt + (grp8 / 2) * cout * 16 + co * 16 + (grp8 % 2) * 8;
            for (int e = 0; e < a2; e++) ddpm_load8(&in[e], mp + e * ms);
            w_sandwich(at, m, a, in, out);
            // ((y + bias) + shift) + residual: the order of the separate additions this replaces.
            for (int e = 0; e < mm; e++) out[e] += b8;
            if (shift) {
                for (int e = 0; e < mm; e++) out[e] += s8;
            }
            for (int grp = 0; grp < mm; grp += 8) ddpm_transpose8(out + grp);
            for (int k = 0; k < 8 && grp8 * 8 + k < count; k++) {
                long l = grp8 * 8 + k;
                float *dst = y + offset[l] + co * plane;
                const float *res = residual ? residual + offset[l] + co * plane : 0;
                // Tile k's element e (row e / m, column e % m) is lane e % 8 of out[(e / 8)·8 + k],
                // so each of its rows is m consecutive lanes of one vector: stored straight from
                // the register (staged through scalar writes, the wide reloads stalled).
                if (rows[l] == m && cols[l] == m) {
                    for (int r = 0; r < m; r++) {
                        ddpm_f8 row = out[(r * m / 8) * 8 + k];
                        if (m == 4) {
                            ddpm_f4 part = (r * m) % 8 ? __builtin_shufflevector(row, row, 4, 5, 6, 7)
                                                       : __builtin_shufflevector(row, row, 0, 1, 2, 3);
                            if (res) {
                                ddpm_f4 add;
                                memcpy(&add, res + r * width, sizeof add);
                                part += add;
                            }
                            memcpy(dst + r * width, &part, sizeof part);
                        } else {
                            for (int c = 0; c < m; c++) {
                                dst[r * width + c] = row[(r * m + c) % 8] + (res ? res[r * width + c] : 0);
                            }
                        }
                    }
                } else {
                    for (long r = 0; r < rows[l]; r++) {
                        for (long c = 0; c < cols[l]; c++) {
                            dst[r * width + c] =
                                out[((r * m + c) / 8) * 8 + k][(r * m + c) % 8] + (res ? res[r * width + c] : 0);
                        }
                    }
                }
            }
        }
    }
}

DDPM_INLINE void ddpm_winograd_forward_blocks_body(int m, const float *padded, const float *u, long cin, long cout,
                                                   const ddpm_convolution_epilogue *epilogue, long height, long width, long b0,
                                                   long b1, long total_tiles, long co0, long co1, float *work,
                                                   float *y) {
    int panels = ddpm_winograd_block_panels(cin, cout);
    long per = 16 * panels;
    for (long blk = b0; blk < b1; blk++) {
        long g0 = blk * per, count = total_tiles - g0 < per ? total_tiles - g0 : per;
        int live = (int)((count + 15) / 16);  // a short last block (or batch) computes only its panels
        if (m == 4) wb_forward(4, bt4, at4, padded, u, cin, cout, co0, co1, epilogue, height, width, g0, count, live, work, y);
        else wb_forward(2, bt2, at2, padded, u, cin, cout, co0, co1, epilogue, height, width, g0, count, live, work, y);
    }
}

DDPM_DISPATCH_VOID(ddpm_winograd_pad,
                   (int m, const float *x, long height, long width, long p0, long p1, float *padded),
                   (m, x, height, width, p0, p1, padded))
DDPM_DISPATCH_VOID(ddpm_winograd_forward_blocks,
                   (int m, const float *padded, const float *u, long cin, long cout, const ddpm_convolution_epilogue *epilogue,
                    long height, long width, long b0, long b1, long total_tiles, long co0, long co1, float *work,
                    float *y),
                   (m, padded, u, cin, cout, epilogue, height, width, b0, b1, total_tiles, co0, co1, work, y))
