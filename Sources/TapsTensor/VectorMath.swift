// TapsTensor: vectorised exp, erf, GELU and row softmax over float buffers, in place of scalar libm calls (ViT-tiny
// spent ~8% of a step in scalar `erff` and ~2% in `expf`, issue 11). The kernels are C (CTapsKernels), compiled for
// AVX2+FMA and for the x86-64 baseline from one body and chosen at run time; the coefficients and their fits are in
// Sources/CTapsKernels/vectormath.c.
//
// An element's value depends only on its input and the CPU variant, never on its position (the tail of an array goes
// through the same vector code, padded), so results do not depend on how a loop is split over workers.
import CTapsKernels

/// Vectorised float `exp` and `erf` and the GELU and softmax kernels built on them.
///
/// ```swift
/// VectorMath.erf(input, output, count: n)     // output[i] = erf(input[i]), within 1 ulp of libm erff
/// ```
/// Accuracy, measured against libm on dense grids (VectorMathTests), for both variants: `exp` within 1 ulp of `expf`
/// on [-87.33654, 88.72283] (0 below, where libm gives subnormals; +inf above); `erf` within 1 ulp (6e-8 absolute) of
/// `erff` on [-6, 6] (±1 beyond 3.92). NaN stays NaN. Outputs may alias inputs where noted; counts may be 0.
public enum VectorMath {
    /// Which compilation runs: `"avx2+fma"` or `"baseline"` (SSE2), chosen from CPUID at the first call, or
    /// `"baseline"` with `TAPS_KERNELS=baseline` in the environment. Shown by `taps bench`.
    public static var variant: String { taps_kernels_variant() == 2 ? "avx2+fma" : "baseline" }

    /// The two compilations of the kernels.
    public enum Variant: Int32, Sendable, CaseIterable {
        /// The target's baseline (SSE2 on x86-64; the only one on other CPUs).
        case baseline = 1
        /// AVX2 with fused multiply-adds (x86 CPUs that have both).
        case avx2FMA = 2
    }

    /// ``exp(_:_:count:)`` with the compilation given (``Variant/avx2FMA`` runs the baseline on a CPU without AVX2 and
    /// FMA), for tests that check both.
    public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, variant: Variant) {
        taps_exp_f32_variant(variant.rawValue, input, output, count)
    }

    /// ``erf(_:_:count:)`` with the compilation given (see ``exp(_:_:count:variant:)``).
    public static func erf(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int, variant: Variant) {
        taps_erf_f32_variant(variant.rawValue, input, output, count)
    }

    /// `output[i] = e^{input[i]}` for `i < count` (`output` may be `input`).
    public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        taps_exp_f32(input, output, count)
    }

    /// `output[i] = erf(input[i])` for `i < count` (`output` may be `input`).
    public static func erf(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        taps_erf_f32(input, output, count)
    }

    /// GELU forward, exact erf form (PyTorch `nn.GELU()`): `erf[i] = erf(x[i]/√2)` when `erf` is given (kept for the
    /// backward) and `y[i] = 0.5·x[i]·(1 + erf(x[i]/√2))`, `i < count` (`y` or `erf` may be `x`).
    public static func geluForward(_ x: UnsafePointer<Float>, erf: UnsafeMutablePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                                   count: Int) {
        taps_gelu_forward_f32(x, erf, y, count)
    }

    /// GELU backward: `dx[i] = dy[i]·(Φ(x[i]) + x[i]·φ(x[i]))` with `Φ = 0.5·(1 + erf)` from the forward and
    /// `φ(x) = e^{-x²/2}/√(2π)`, `i < count` (`dx` may be `dy`).
    public static func geluBackward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, erf: UnsafePointer<Float>,
                                    _ dx: UnsafeMutablePointer<Float>, count: Int) {
        taps_gelu_backward_f32(dy, x, erf, dx, count)
    }

    /// Numerically stable softmax of each row of a row-major `[rows, columns]` matrix, in place (the row sum in a
    /// fixed order: eight lane partials, the lanes in order, then the tail).
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        taps_softmax_rows_f32(p, rows, columns)
    }
}
