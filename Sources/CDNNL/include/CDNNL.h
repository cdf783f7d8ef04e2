// A thin C layer over oneDNN 2.x convolutions, loaded at run time with dlopen.
//
// Why C: the oneDNN 2.x API passes memory-descriptor structs and argument arrays that are
// clumsy from Swift. Why dlopen: libgomp (oneDNN's OpenMP runtime) reads OMP_WAIT_POLICY only
// when it is loaded; loading it ourselves after setting PASSIVE keeps its idle threads from
// spinning against ours (backend.md §2: +43 % time without it), and a machine without oneDNN
// simply falls back to im2col + BLAS.
#ifndef CDNNL_H
#define CDNNL_H
#include <stdint.h>

typedef struct ddpm_dnnl_conv ddpm_dnnl_conv;

/// Loads oneDNN and sets its thread count. Returns 1 when usable, 0 otherwise (never aborts).
int ddpm_dnnl_load(int threads);

/// A convolution plan for one geometry: g = {N, Cin, H, W, Cout, kh, kw, stride, padTop,
/// padBottom, padLeft, padRight}. With `winograd`, stride-1 3x3 plans try Winograd first.
/// NULL if oneDNN cannot build it.
ddpm_dnnl_conv *ddpm_dnnl_conv_create(const int64_t g[12], int with_bias, int winograd);
void ddpm_dnnl_conv_destroy(ddpm_dnnl_conv *plan);

/// NCHW / OIHW in and out; blocked layouts are used inside. Each returns 0 on success.
int ddpm_dnnl_conv_forward(ddpm_dnnl_conv *plan, const float *x, const float *w, const float *bias, float *y);
int ddpm_dnnl_conv_backward_data(ddpm_dnnl_conv *plan, const float *dy, const float *w, float *dx);
int ddpm_dnnl_conv_backward_weights(ddpm_dnnl_conv *plan, const float *x, const float *dy, float *dw);

/// The implementation oneDNN chose for pass 0 (forward), 1 (backward data), 2 (backward weights).
const char *ddpm_dnnl_conv_implementation(ddpm_dnnl_conv *plan, int pass);
#endif
