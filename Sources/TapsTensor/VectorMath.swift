// TapsTensor: vectorised exp and erf for the elementwise kernels (GELU, softmax), eight lanes at a time in place of
// scalar libm calls (ViT-tiny spent ~8% of a step in scalar `erff` and ~2% in `expf`, issue 11).
//
// Each function gives the same value for the same input whatever lane or position it is computed in (the tail of
// an array goes through the same vector code, padded), so results never depend on how a loop is split over workers.
// The coefficients are least-squares fits on Chebyshev nodes against 40-digit references (mpmath), relative error:
// exp's polynomial 1.0e-8 on [-ln2/2, ln2/2]; erf's 3.4e-11 on |x| <= 1 (as erf(x)/x in x²) and 4.4e-8 on
// 1 <= a <= 4 (as erfc(a)·exp(a²)·a in a variable mapping 1/a² onto [-1, 1]). Measured against libm on dense grids
// (VectorMathTests): exp within 1 ulp of `expf` on [-87, 88], erf within 1 ulp (6e-8 absolute) of `erff` on [-6, 6].
import Foundation

/// Eight-lane float `exp` and `erf` (no libm calls), with array forms that apply them to a whole buffer.
///
/// ```swift
/// let e = VectorMath.exp(SIMD8<Float>(repeating: 1))     // ≈ 2.7182817 in every lane
/// VectorMath.erf(input, output, count: n)                  // output[i] = erf(input[i])
/// ```
/// Special values: `exp` gives 0 below -87.33 (instead of a subnormal), +inf above 88.72 and NaN for NaN; `erf`
/// gives ±1 beyond |x| = 3.92 (where float `erff` rounds to ±1 too) and NaN for NaN.
public enum VectorMath {
    /// Lanes per vector.
    public static let lanes = 8

    /// `e^x` per lane: `x = n·ln2 + r`, `|r| <= ln2/2` (Cody-Waite with a two-part ln2), `e^r` by a degree-6
    /// polynomial, scaled by `2^n` through the exponent bits.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lo = SIMD8<Float>(repeating: -87.33654), hi = SIMD8<Float>(repeating: 88.72283)
        let xc = x.replacing(with: lo, where: x .< lo).replacing(with: hi, where: x .> hi)
        // n = round(x·log2 e) by adding 1.5·2^23 (the sum's low mantissa bits are n, rounded to nearest even); the
        // stdlib's generic `rounded` and Float→Int32 conversions run lane by lane, ~20x slower.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = xc * 1.442695041 + magic
        let n = shifted - magic
        let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let r = (xc - n * 0.693145752) - n * 1.42860677e-6
        var q = SIMD8<Float>(repeating: 1.393364352e-03)
        q = q * r + 8.363175565e-03
        q = q * r + 4.166646498e-02
        q = q * r + 1.666657700e-01
        q = q * r + 5.000000013e-01
        let p = 1 + r + (r * r) * q
        // 2^n for n in -126...128: n = 128 (x near 88.72) is built as 2^127 · 2.
        let big = n .> 127   // a float comparison: the stdlib's SIMD8<Int32> comparisons run lane by lane
        let e = (ni.replacing(with: ni &- 1, where: big) &+ 127) &<< 23
        var y = p * unsafeBitCast(e, to: SIMD8<Float>.self)
        y.replace(with: y * 2, where: big)
        y.replace(with: SIMD8<Float>(), where: x .< lo)
        y.replace(with: SIMD8<Float>(repeating: .infinity), where: x .> hi)
        y.replace(with: x, where: x .!= x)   // NaN stays NaN
        return y
    }

    /// `erf(x)` per lane: `x + x·Q(x²)` for `|x| <= 1` (`Q(t) ≈ erf(√t)/√t - 1`, the small correction added last so
    /// its rounding error is scaled down), else `sign(x)·(1 - e^{-a²}·H(w)/a)` with `a = |x|` clamped to 4,
    /// `H ≈ a·erfc(a)·e^{a²}` in `w = (1/a² - 0.53125)/0.46875 ∈ [-1, 1]` (small, decaying coefficients, so float Horner
    /// does not cancel).
    @inline(__always)
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let a = x.replacing(with: -x, where: x .< 0)
        // Small: erf(x) = x + x · Q(x²).
        let t = x * x
        var q = SIMD8<Float>(repeating: -9.6349914722e-06)
        q = q * t + 1.1254640851e-04
        q = q * t - 8.4825077530e-04
        q = q * t + 5.2209232170e-03
        q = q * t - 2.6865392125e-02
        q = q * t + 1.1283781839e-01
        q = q * t - 3.7612638426e-01
        q = q * t + 1.2837916710e-01
        let small = x + x * q
        // Large: erfc(a) = e^{-a²} · H(w) · (a·u), u = 1/a² (1/a = a·u).
        let one = SIMD8<Float>(repeating: 1), four = SIMD8<Float>(repeating: 4)
        let al = a.replacing(with: one, where: a .< one).replacing(with: four, where: a .> four)
        let a2 = al * al
        let u = 1 / a2
        let w = (u - 0.53125) * (1 / Float(0.46875))
        var h = SIMD8<Float>(repeating: -6.0421645681e-05)
        h = h * w + 8.2601416729e-05
        h = h * w + 3.6990409254e-05
        h = h * w + 4.5177540280e-06
        h = h * w - 2.3503522563e-04
        h = h * w + 4.0251238342e-04
        h = h * w - 7.4340581014e-04
        h = h * w + 1.7697630681e-03
        h = h * w - 4.5907903564e-03
        h = h * w + 1.3770614744e-02
        h = h * w - 5.4614465182e-02
        h = h * w + 4.7176067602e-01
        let erfc = exp(-a2) * h * (al * u)
        var large = 1 - erfc
        large.replace(with: 1, where: a .> 3.92)
        large.replace(with: -large, where: x .< 0)
        var y = small.replacing(with: large, where: a .> 1)
        y.replace(with: x, where: x .!= x)   // NaN stays NaN
        return y
    }

    /// Applies an eight-lane function to `count` floats from `input` into `output` (which may be `input`): full
    /// vectors, then the tail padded with zeros, so every element goes through the same vector code.
    @inline(__always)
    public static func map(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int,
                           _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(input + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(output + i).storeBytes(of: f(v), as: SIMD8<Float>.self)
            i += 8
        }
        if i < count {
            var v = SIMD8<Float>()
            for l in 0..<(count - i) { v[l] = input[i + l] }
            let y = f(v)
            for l in 0..<(count - i) { output[i + l] = y[l] }
        }
    }

    /// `output[i] = e^{input[i]}` for `i < count` (`output` may be `input`).
    public static func exp(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        map(input, output, count: count) { exp($0) }
    }

    /// `output[i] = erf(input[i])` for `i < count` (`output` may be `input`).
    public static func erf(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        map(input, output, count: count) { erf($0) }
    }
}
