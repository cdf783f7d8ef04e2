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

// What the convolution path is and why (ConvolutionEngine+Description.swift words it). Each
// string is static, empty when unknown or not applicable, and final once ddpm_dnnl_load returned.
/// 1 when this file was compiled against oneDNN's header; 0 on macOS and with -DDDPM_WITHOUT_ONEDNN.
int ddpm_dnnl_built_with_header(void);
/// Why ddpm_dnnl_load returned 0: dlerror's text, the missing symbol, or the call that failed.
const char *ddpm_dnnl_load_failure(void);
/// The file the dynamic loader found for libdnnl.so.2.
const char *ddpm_dnnl_library_path(void);
/// The loaded library's version from dnnl_version(), such as "2.6.3".
const char *ddpm_dnnl_version_string(void);
/// The instruction set oneDNN's kernels use (dnnl_get_effective_cpu_isa), such as "avx2" or "avx512_core".
const char *ddpm_dnnl_cpu_isa(void);

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
