#include "dispatch.h"
#include "vector_math.h"

DDPM_DISPATCH(float, ddpm_sum, (const float *x, long count), (x, count))
DDPM_DISPATCH(float, ddpm_dot, (const float *x, const float *y, long count), (x, y, count))
DDPM_DISPATCH(float, ddpm_blocked_sum, (const float *x, long count, long block), (x, count, block))

/// Eight rows of `count` ≤ 4096 floats at once, each in ddpm_sum_body's order: eight lane
/// accumulators per row, their lanes added 0…7, then the tail. After a transpose, lane r of
/// Σ_l column l is row r's lane sum in that order, so eight rows share each add.
DDPM_INLINE void ddpm_sum_eight_rows(const float *x, float *out, long count) {
    ddpm_f8 acc[8] = {{0}}, v;
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        for (int r = 0; r < 8; r++) {
            ddpm_load8(&v, x + r * count + i);
            acc[r] += v;
        }
    }
    ddpm_transpose8(acc);  // acc[l] is now column l: lane r holds row r's lane l
    ddpm_f8 s = acc[0];
    for (int l = 1; l < 8; l++) s += acc[l];
    for (; i < count; i++) {
        for (int r = 0; r < 8; r++) s[r] += x[r * count + i];
    }
    memcpy(out, &s, sizeof s);
}

/// One call for many short rows (a bias gradient sums rows of W floats): a call per row cost
/// more than its sum.
DDPM_INLINE void ddpm_blocked_sum_rows_body(const float *x, float *out, long rows, long count, long block) {
    long r = 0;
    if (count <= block && count <= 4096) {
        for (; r + 8 <= rows; r += 8) ddpm_sum_eight_rows(x + r * count, out + r, count);
    }
    for (; r < rows; r++) out[r] = ddpm_blocked_sum_body(x + r * count, count, block);
}

DDPM_DISPATCH_VOID(ddpm_blocked_sum_rows, (const float *x, float *out, long rows, long count, long block),
                   (x, out, rows, count, block))
