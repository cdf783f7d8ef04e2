#include "dispatch.h"
#include "vector_math.h"

DDPM_DISPATCH(float, ddpm_sum, (const float *x, long count), (x, count))
DDPM_DISPATCH(float, ddpm_dot, (const float *x, const float *y, long count), (x, y, count))
DDPM_DISPATCH(float, ddpm_blocked_sum, (const float *x, long count, long block), (x, count, block))
