// TapsTensor: vectorised reductions over raw buffers (SIMD8 partial sums; a plain `s += p[i]` loop over
// Float cannot vectorise, since the compiler may not reassociate). Used by normalisation layers.
// Each has a scalar reference (`...Naive`, sequential Double) that tests compare with on odd lengths.

/// `Σ p[i]` for `i < count`: eight-lane Float partials per block of 1024 elements, blocks summed in Double.
@inlinable
public func vectorSum(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
    var total = 0.0, i = 0
    while i < count {
        let end = min(i + 1024, count)
        var acc = SIMD8<Float>()
        while i + 8 <= end { acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self); i += 8 }
        var tail: Float = 0
        while i < end { tail += p[i]; i += 1 }
        total += Double(acc.sum() + tail)
    }
    return total
}

/// `Σ (p[i] - mean)²` for `i < count` (blocks of 1024 as ``vectorSum(_:_:)``).
@inlinable
public func vectorSumSquaredDeviations(_ p: UnsafePointer<Float>, _ count: Int, mean: Float) -> Double {
    var total = 0.0, i = 0
    let m = SIMD8<Float>(repeating: mean)
    while i < count {
        let end = min(i + 1024, count)
        var acc = SIMD8<Float>()
        while i + 8 <= end {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m
            acc += d * d; i += 8
        }
        var tail: Float = 0
        while i < end { let d = p[i] - mean; tail += d * d; i += 1 }
        total += Double(acc.sum() + tail)
    }
    return total
}

/// `(Σ g[i], Σ g[i]·(x[i] - mean)·scale)` for `i < count` (blocks of 1024 as ``vectorSum(_:_:)``; each term
/// rounded as `g·(x - mean)·scale` left to right, so a block shorter than 8 sums exactly as a scalar loop).
@inlinable
public func vectorSumAndCenteredDot(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                                    mean: Float, scale: Float = 1) -> (Double, Double) {
    var s = 0.0, sx = 0.0, i = 0
    let m = SIMD8<Float>(repeating: mean), r = SIMD8<Float>(repeating: scale)
    while i < count {
        let end = min(i + 1024, count)
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        while i + 8 <= end {
            let gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            a += gv; b += gv * (xv - m) * r; i += 8
        }
        var ta: Float = 0, tb: Float = 0
        while i < end { ta += g[i]; tb += g[i] * (x[i] - mean) * scale; i += 1 }
        s += Double(a.sum() + ta); sx += Double(b.sum() + tb)
    }
    return (s, sx)
}

/// Reference for the three reductions above: sequential Double sums
/// `(Σ p[i], Σ (p[i] - mean)², Σ g[i], Σ g[i]·(p[i] - mean))`.
public func reductionsNaive(_ p: UnsafePointer<Float>, _ g: UnsafePointer<Float>, _ count: Int,
                            mean: Float) -> (sum: Double, squares: Double, gradSum: Double, centeredDot: Double) {
    var s = 0.0, q = 0.0, gs = 0.0, gd = 0.0
    for i in 0..<count {
        let d = Double(p[i]) - Double(mean)
        s += Double(p[i]); q += d * d; gs += Double(g[i]); gd += Double(g[i]) * d
    }
    return (s, q, gs, gd)
}
