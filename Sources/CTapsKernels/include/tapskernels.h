// CTapsKernels: vectorised elementwise float kernels (exp, erf, GELU, row softmax) for TapsTensor's `VectorMath`.
// On x86 each kernel is compiled twice from one body, for AVX2+FMA and for the x86-64 baseline (SSE2), and picks one at
// run time from CPUID; on other CPUs (arm64) it is compiled once, for the target's own vectors. An element's value depends only on its input and the variant, never on its position in the array
// (the tail goes through the same vector code, padded), so results do not depend on how a loop is split over threads.
#pragma once

/// y[i] = e^x[i], i < n (y may equal x). 0 below -87.33654 (where libm gives subnormals), +inf above 88.72283, NaN for
/// NaN; within 1 ulp of libm expf on [-87.33654, 88.72283].
void taps_exp_f32(const float *x, float *y, long n);

/// y[i] = erf(x[i]), i < n (y may equal x). ±1 beyond |x| = 3.92, NaN for NaN. Within 1 ulp of libm erff.
void taps_erf_f32(const float *x, float *y, long n);

/// GELU forward, exact erf form: e[i] = erf(x[i]/√2) (when e is not NULL) and y[i] = 0.5·x[i]·(1 + e[i]) (y or e may
/// equal x).
void taps_gelu_forward_f32(const float *x, float *e, float *y, long n);

/// GELU backward: dx[i] = dy[i]·(0.5·(1 + e[i]) + x[i]·e^{-x[i]²/2}/√(2π)), with e from the forward.
void taps_gelu_backward_f32(const float *dy, const float *x, const float *e, float *dx, long n);

/// Softmax of each row of a row-major [rows, columns] matrix, in place: p = e^{x - max} / Σ e^{x - max}, the sum
/// taken in a fixed order (eight lane partials, then the lanes in order, then the tail).
void taps_softmax_rows_f32(float *p, long rows, long columns);

/// The variant in use: 2 = AVX2+FMA (an x86 CPU with both), else 1 = baseline; `TAPS_KERNELS=baseline` in the
/// environment selects the baseline on any CPU.
int taps_kernels_variant(void);

/// taps_exp_f32 and taps_erf_f32 with the variant given (1 baseline, 2 AVX2+FMA; 2 falls back to 1 on a CPU without
/// them), for tests that check both compilations.
void taps_exp_f32_variant(int variant, const float *x, float *y, long n);
void taps_erf_f32_variant(int variant, const float *x, float *y, long n);
