#include "dispatch.h"
#include "vector_math.h"

// GroupNorm (+ SiLU) of one (image, group) block and softmax of one row; the formulas and the
// threading are in Sources/TensorKernels/Normalization.swift. Every sum has a fixed order (the
// GroupNorm statistics DDPM_WIDE_REDUCE's, the rest ddpm_sum/ddpm_dot's), so results do not
// depend on the thread count.

DDPM_INLINE void ddpm_group_norm_forward_body(const float *x, const float *gamma, const float *beta, float *y,
                                              long channels, long spatial, float epsilon, int silu,
                                              float *mean, float *inverse_std) {
    long size = channels * spatial;
    float mu = ddpm_wide_sum_body(x, size) / (float)size;
    float ss = ddpm_wide_squared_deviation_body(x, size, mu);
    float rstd = 1 / __builtin_sqrtf(ss / (float)size + epsilon);
    *mean = mu;
    *inverse_std = rstd;
    for (long c = 0; c < channels; c++) {
        float scale = rstd * (gamma ? gamma[c] : 1), shift = (beta ? beta[c] : 0) - mu * scale;
        const float *src = x + c * spatial;
        float *dst = y + c * spatial;
        if (silu) {
            for (long s = 0; s < spatial; s++) {
                float z = src[s] * scale + shift;
                dst[s] = z * ddpm_fast_sigmoid(z);
            }
        } else {
            for (long s = 0; s < spatial; s++) dst[s] = src[s] * scale + shift;
        }
    }
}

DDPM_INLINE void ddpm_group_norm_backward_body(const float *x, const float *dy, const float *gamma, const float *beta,
                                               float mu, float rstd, float *dx, float *dz, float *per_channel,
                                               long channels, long spatial, int silu) {
    float sum_d = 0, sum_dx = 0;
    for (long c = 0; c < channels; c++) {
        long offset = c * spatial;
        const float *xs = x + offset, *gs = dy + offset;
        float w = gamma ? gamma[c] : 1;
        if (silu) {  // dz = dy·SiLU'(z), z recomputed from x
            float *out = dz + offset;
            float scale = rstd * w, shift = (beta ? beta[c] : 0) - mu * scale;
            for (long s = 0; s < spatial; s++) {
                float z = xs[s] * scale + shift, sg = ddpm_fast_sigmoid(z);
                out[s] = gs[s] * sg * (1 + z * (1 - sg));
            }
            gs = out;
        }
        float sg = ddpm_wide_sum_body(gs, spatial);
        float sgx = (ddpm_wide_dot_body(gs, xs, spatial) - mu * sg) * rstd;  // Σ dz·x̂
        per_channel[2 * c] = sgx;
        per_channel[2 * c + 1] = sg;
        sum_d += w * sg;
        sum_dx += w * sgx;
    }
    if (!dx) return;
    float count = (float)(channels * spatial);
    float mean_d = sum_d / count, mean_dx = sum_dx / count;
    for (long c = 0; c < channels; c++) {
        float w = gamma ? gamma[c] : 1;
        long offset = c * spatial;
        const float *xs = x + offset;
        float *out = dx + offset;
        const float *gs = silu ? dz + offset : dy + offset;
        // dx = rstd·(w·dz − mean_d − (x − μ)·rstd·mean_dx)
        float a = rstd * w, b = rstd * rstd * mean_dx, cst = -rstd * mean_d + mu * b;
        // Explicit vectors: out may be gs (dz in place), and the compiler's overlap check then
        // fell back to its scalar loop. Each vector is loaded before it is stored.
        ddpm_f8 g8, x8;
        long s = 0;
        for (; s + 8 <= spatial; s += 8) {
            ddpm_load8(&g8, gs + s);
            ddpm_load8(&x8, xs + s);
            ddpm_f8 r = a * g8 - b * x8 + cst;
            memcpy(out + s, &r, sizeof r);
        }
        for (; s < spatial; s++) out[s] = a * gs[s] - b * xs[s] + cst;
    }
}

/// max x[i], NaNs skipped, in eight lanes (a select chain is not vectorised: it could reorder
/// NaNs). Any order gives the same value up to the sign of a zero, which exp(x − max) ignores.
DDPM_INLINE float ddpm_row_max(const float *x, long n) {
    ddpm_f8 m8, v;
    ddpm_i8 mi, vi;
    float m = -__builtin_inff();
    for (int l = 0; l < 8; l++) m8[l] = m;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        ddpm_load8(&v, x + i);
        ddpm_i8 take = v >= m8;
        memcpy(&vi, &v, sizeof v);
        memcpy(&mi, &m8, sizeof m8);
        mi = (take & vi) | (~take & mi);
        memcpy(&m8, &mi, sizeof mi);
    }
    for (int l = 0; l < 8; l++) m = m8[l] >= m ? m8[l] : m;
    for (; i < n; i++) m = x[i] >= m ? x[i] : m;
    return m;
}

DDPM_INLINE void ddpm_softmax_row_body(const float *x, float *y, long n) {
    float m = ddpm_row_max(x, n);
    for (long i = 0; i < n; i++) y[i] = ddpm_fast_exp(x[i] - m);
    float inv = 1 / ddpm_sum_body(y, n);
    for (long i = 0; i < n; i++) y[i] *= inv;
}

DDPM_INLINE void ddpm_softmax_row_backward_body(const float *y, const float *dy, float *dx, long n) {
    float s = ddpm_dot_body(y, dy, n);
    for (long i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - s);
}

DDPM_DISPATCH_VOID(ddpm_group_norm_forward,
                   (const float *x, const float *gamma, const float *beta, float *y, long channels, long spatial,
                    float epsilon, int silu, float *mean, float *inverse_std),
                   (x, gamma, beta, y, channels, spatial, epsilon, silu, mean, inverse_std))
DDPM_DISPATCH_VOID(ddpm_group_norm_backward,
                   (const float *x, const float *dy, const float *gamma, const float *beta, float mean,
                    float inverse_std, float *dx, float *dz, float *per_channel, long channels, long spatial, int silu),
                   (x, dy, gamma, beta, mean, inverse_std, dx, dz, per_channel, channels, spatial, silu))
DDPM_DISPATCH_VOID(ddpm_softmax_row, (const float *x, float *y, long n), (x, y, n))
DDPM_DISPATCH_VOID(ddpm_softmax_row_backward, (const float *y, const float *dy, float *dx, long n), (y, dy, dx, n))
