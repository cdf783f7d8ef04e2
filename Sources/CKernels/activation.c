#include "dispatch.h"
#include "vector_math.h"

// Elementwise maps with the polynomial exp: scalar loops the compiler vectorises per variant.

DDPM_INLINE void ddpm_exp_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = ddpm_fast_exp(x[i]);
}

DDPM_INLINE void ddpm_sigmoid_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = ddpm_fast_sigmoid(x[i]);
}

DDPM_INLINE void ddpm_silu_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = x[i] * ddpm_fast_sigmoid(x[i]);
}

DDPM_INLINE void ddpm_silu_backward_body(const float *g, const float *x, float *dx, long count) {
    for (long i = 0; i < count; i++) {
        float s = ddpm_fast_sigmoid(x[i]);
        dx[i] = g[i] * s * (1 + x[i] * (1 - s));
    }
}

DDPM_DISPATCH_VOID(ddpm_exp, (const float *x, float *y, long count), (x, y, count))
DDPM_DISPATCH_VOID(ddpm_sigmoid, (const float *x, float *y, long count), (x, y, count))
DDPM_DISPATCH_VOID(ddpm_silu, (const float *x, float *y, long count), (x, y, count))
DDPM_DISPATCH_VOID(ddpm_silu_backward, (const float *g, const float *x, float *dx, long count), (g, x, dx, count))
