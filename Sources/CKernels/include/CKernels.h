// The loops whose speed depends on the vector ISA (FMA, 256/512-bit registers), in C so that one
// portable binary carries an AVX-512, an AVX2+FMA and a baseline build of each, chosen once per
// process from the CPU (dispatch.h). Swift cannot compile one function for several ISAs, and a
// package-wide `-target-cpu` breaks other architectures and CPUs without AVX2.
//
// Threading stays in Swift (TensorKernels): every function here runs on the calling thread.
#ifndef CKERNELS_H
#define CKERNELS_H
#include <stdint.h>

/// The variant every function below runs: 2 = AVX-512F, 1 = AVX2+FMA, 0 = baseline (portable C:
/// SSE2 on x86-64, NEON on arm64). The CPU decides, capped by DDPM_KERNEL_ISA (avx512, avx2,
/// baseline) when set, so tests and benchmarks can run the lower variants on one machine.
int ddpm_kernel_isa(void);

/// Forces the variant on the calling thread only (clamped to what the CPU supports), for tests
/// that compare the variants; -1 restores the process's choice.
void ddpm_kernel_isa_override(int level);

/// Σ x[i] with eight lane accumulators, summed in lane order, then the tail.
float ddpm_sum(const float *x, long count);

/// Σ x[i]·y[i] with eight lane accumulators (fused multiply-add where the variant has FMA).
float ddpm_dot(const float *x, const float *y, long count);

/// Σ over consecutive blocks of `block` floats, each summed by ddpm_sum, added in order.
float ddpm_blocked_sum(const float *x, long count, long block);

/// out[r] = ddpm_blocked_sum(x + r·count, count, block) for r < rows.
void ddpm_blocked_sum_rows(const float *x, float *out, long rows, long count, long block);

/// GroupNorm forward of one (image, group) block: `channels` planes of `spatial` floats at x.
/// gamma and beta point at this group's first channel, or are NULL (1 and 0). With `silu`,
/// y = SiLU(GroupNorm(x)). Writes the block's mean and 1/σ.
void ddpm_group_norm_forward(const float *x, const float *gamma, const float *beta, float *y,
                             long channels, long spatial, float epsilon, int silu,
                             float *mean, float *inverse_std);

/// GroupNorm backward of one (image, group) block (see Normalization.swift for the formulas).
/// `dz` receives dy·SiLU'(z) when `silu` (it may alias dx); `per_channel` receives Σ dz·x̂ and
/// Σ dz for each channel, interleaved. dx may be NULL (parameter gradients only).
void ddpm_group_norm_backward(const float *x, const float *dy, const float *gamma, const float *beta,
                              float mean, float inverse_std, float *dx, float *dz, float *per_channel,
                              long channels, long spatial, int silu);

/// Softmax of one row of n floats, and its pullback dx = y·(dy − Σ dy·y).
void ddpm_softmax_row(const float *x, float *y, long n);
void ddpm_softmax_row_backward(const float *y, const float *dy, float *dx, long n);

/// y[i] = e^x[i], σ(x[i]) or x[i]·σ(x[i]) with the polynomial exp (max relative error ~2e-7).
void ddpm_exp(const float *x, float *y, long count);
void ddpm_sigmoid(const float *x, float *y, long count);
void ddpm_silu(const float *x, float *y, long count);
/// dx[i] = g[i]·σ(x)·(1 + x·(1 − σ(x))), the SiLU pullback.
void ddpm_silu_backward(const float *g, const float *x, float *dx, long count);
/// The operators of ddpm_binary.
enum { DDPM_ADD = 0, DDPM_SUBTRACT = 1, DDPM_MULTIPLY = 2, DDPM_DIVIDE = 3 };

/// y[i] = a[i·stride_a] op b[i·stride_b] for i < count, strides 0 (a scalar operand) or 1.
void ddpm_binary(int op, const float *a, long stride_a, const float *b, long stride_b, float *y, long count);

/// Inverted dropout of `count` floats: y[i] = x[i]·scale when the top 24 bits of SeededGenerator's
/// draw(base, first + i) (SplitMix64) are below `threshold`, else 0.
void ddpm_dropout(const float *x, float *y, long count, uint64_t base, uint64_t first, uint32_t threshold, float scale);

/// Winograd F(m×m, 3×3) tile transforms, m = 2 or 4 (α = m + 2), for stride-1 pad-1 3×3
/// convolutions (Sources/TensorKernels/Winograd.swift has the equations and the GEMMs between
/// them). A plane's tiles are t = ty·⌈W/m⌉ + tx; transformed tiles are stored element-major,
/// element ξ < α² of tile t at v[ξ·xi_stride + t]. `scratch` holds ddpm_winograd_scratch_floats.
long ddpm_winograd_scratch_floats(int m, long height, long width);
/// V = Bᵀ·d·B of every α×α input tile of one H×W plane, zero padding 1.
void ddpm_winograd_input(int m, const float *x, long height, long width, float *v, long xi_stride, float *scratch);
/// A·dY·Aᵀ of every m×m tile of one output-gradient plane (0 beyond its edge): backward weights.
void ddpm_winograd_gradient(int m, const float *dy, long height, long width, float *v, long xi_stride,
                            float *scratch);
/// Floats of one zero-padded plane (ddpm_winograd_pad) and of one thread's block work buffer.
long ddpm_winograd_padded_floats(int m, long height, long width);
long ddpm_winograd_block_floats(int m, long cin, long cout);
/// Panels of 16 tiles per block: 1 up to 64 + 64 channels, 2 up to 256 in all, else 4.
int ddpm_winograd_block_panels(long cin, long cout);
/// Zero-padded copies (padding 1, then up to whole tiles) of planes [p0, p1) of x, each H×W.
void ddpm_winograd_pad(int m, const float *x, long height, long width, long p0, long p1, float *padded);
/// What the Winograd output transform adds to each output: bias[co], image_shift[n·cout + co] and
/// residual (laid out as y), each NULL when absent. Fused there, the additions cost no pass of
/// their own over the activations.
typedef struct ddpm_convolution_epilogue {
    const float *bias;
    const float *image_shift;
    const float *residual;
} ddpm_convolution_epilogue;
/// The forward convolution of blocks [b0, b1) of 16·ddpm_winograd_block_panels tiles (tiles numbered over the batch,
/// total_tiles in all) from the padded input and U [α²][cout][cin], plus the epilogue, into output channels
/// [co0, co1) of y [N, cout, H, W]; `work` holds ddpm_winograd_block_floats (winograd_blocks.c).
void ddpm_winograd_forward_blocks(int m, const float *padded, const float *u, long cin, long cout,
                                  const ddpm_convolution_epilogue *epilogue, long height, long width, long b0, long b1,
                                  long total_tiles, long co0, long co1, float *work, float *y);
/// U = G·g·Gᵀ of the 3×3 kernels of w [cout, cin, 3, 3] into u[ξ·cout·cin + ...]: forward
/// u[ξ][co][ci] for co in [o_begin, o_end); with backward_data the kernel rotated by 180°,
/// u[ξ][ci][co] for ci in [o_begin, o_end) (dx is the forward convolution of dy with it).
void ddpm_winograd_weight(int m, const float *w, long cout, long cin, int backward_data, long o_begin, long o_end,
                          float *u);
/// dw[co][ci] = Gᵀ·dU·G for co in [co_begin, co_end), dU at du[ξ·cout·cin + co·cin + ci].
void ddpm_winograd_weight_gradient(int m, const float *du, long cout, long cin, long co_begin, long co_end,
                                   float *dw);
/// c[m×n] = alpha·op(a)·op(b), plus c when `accumulate`; row-major with leading dimensions (op
/// transposes when asked). Called only through `Kernels.gemm`, which picks it or BLAS (gemm.c).
void ddpm_gemm(int transpose_a, int transpose_b, long m, long n, long k, float alpha, const float *a, long lda,
               const float *b, long ldb, int accumulate, float *c, long ldc);
#endif
