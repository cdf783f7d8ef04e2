#include "dispatch.h"
#include "vector_math.h"

DDPM_DISPATCH(float, ddpm_sum, (const float *x, long count), (x, count))
DDPM_DISPATCH(float, ddpm_dot, (const float *x, const float *y, long count), (x, y, count))
DDPM_DISPATCH(float, ddpm_blocked_sum, (const float *x, long count, long block), (x, count, block))

/// One call for many short rows (a bias gradient sums rows of W floats): a call per row cost
/// more than its sum.
DDPM_INLINE void ddpm_blocked_sum_rows_body(const float *x, float *out, long rows, long count, long block) {
    for (long r = 0; r < rows; r++) out[r] = ddpm_blocked_sum_body(x + r * count, count, block);
}

DDPM_DISPATCH_VOID(ddpm_blocked_sum_rows, (const float *x, float *out, long rows, long count, long block),
                   (x, out, rows, count, block))
