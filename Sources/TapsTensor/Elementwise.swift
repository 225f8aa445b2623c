// TapsTensor: vectorisable elementwise and reduction kernels over contiguous storage.
// Loops run over UnsafeBufferPointers so the optimiser can vectorise them; no per-element bounds checks.

extension Tensor {
    /// Applies `body` to the storage as a mutable raw buffer (fast path for kernels).
    @inlinable
    public mutating func withMutableBuffer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer { try body($0) }
    }

    /// Applies `body` to the storage as a read-only raw buffer.
    @inlinable
    public func withBuffer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { try body($0) }
    }

    /// Sets every element to zero, keeping the shape.
    public mutating func zero() {
        withMutableBuffer { y in
            nonisolated(unsafe) let yp = y.baseAddress
            Parallel.forRanges(y.count, grain: 4 * Parallel.elementwiseGrain) { r in
                (yp! + r.lowerBound).update(repeating: 0, count: r.count)
            }
        }
    }

    /// `self += alpha * other` (BLAS `axpy` semantics); shapes must have equal element counts.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let n = count
        withMutableBuffer { y in
            other.withBuffer { x in
                nonisolated(unsafe) let yp = y.baseAddress, xp = x.baseAddress
                Parallel.forRanges(n, grain: Parallel.elementwiseGrain) { r in
                    let y = yp!, x = xp!
                    for i in r { y[i] += alpha * x[i] }
                }
            }
        }
    }

    /// `self *= alpha`.
    public mutating func scale(by alpha: Float) {
        withMutableBuffer { y in
            nonisolated(unsafe) let yp = y.baseAddress
            Parallel.forRanges(y.count, grain: Parallel.elementwiseGrain) { r in
                let y = yp!
                for i in r { y[i] *= alpha }
            }
        }
    }

    /// Elementwise sum of two tensors of equal shape (one pass into a fresh tensor; no copy of `lhs` first).
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.count == rhs.count, "+: \(lhs.shape) vs \(rhs.shape)")
        return lhs.withBuffer { a in rhs.withBuffer { b in
            Tensor(shape: lhs.shape) { r in for i in 0..<r.count { r[i] = a[i] + b[i] } }
        } }
    }

    /// Elementwise difference of two tensors of equal shape.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        precondition(lhs.count == rhs.count, "-: \(lhs.shape) vs \(rhs.shape)")
        return lhs.withBuffer { a in rhs.withBuffer { b in
            Tensor(shape: lhs.shape) { r in for i in 0..<r.count { r[i] = a[i] - b[i] } }
        } }
    }

    /// Scalar multiple.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor {
        var r = rhs; r.scale(by: lhs); return r
    }

    /// Sum of all elements, accumulated in Double.
    public func sum() -> Double {
        withBuffer { x in
            var s = 0.0
            for v in x { s += Double(v) }
            return s
        }
    }

    /// Dot product of two tensors with equal element counts, accumulated in Double.
    public func dot(_ other: Tensor) -> Double {
        precondition(count == other.count, "dot: \(shape) vs \(other.shape)")
        return withBuffer { a in
            other.withBuffer { b in
                // Eight-lane Float partial sums per block of 1024 (vectorised), blocks summed in Double.
                var total = 0.0
                var i = 0
                let n = a.count
                let ap = a.baseAddress, bp = b.baseAddress
                while i < n {
                    let end = Swift.min(i + 1024, n)
                    var acc = SIMD8<Float>()
                    while i + 8 <= end {
                        acc += UnsafeRawPointer(ap! + i).loadUnaligned(as: SIMD8<Float>.self)
                             * UnsafeRawPointer(bp! + i).loadUnaligned(as: SIMD8<Float>.self)
                        i += 8
                    }
                    var tail: Float = 0
                    while i < end { tail += a[i] * b[i]; i += 1 }
                    total += Double(acc.sum() + tail)
                }
                return total
            }
        }
    }

    /// Euclidean norm `sqrt(sum x^2)`.
    public func norm() -> Double { dot(self).squareRoot() }

    /// Largest absolute element (0 for an empty tensor).
    public func maxAbs() -> Float {
        withBuffer { x in x.reduce(0) { Swift.max($0, abs($1)) } }
    }

    /// Whether some element is non-zero (NaN does not count, as in `maxAbs() != 0`). Stops at the first
    /// block of 64 that holds one, so a trained delta answers after a few elements.
    public var hasNonZero: Bool {
        withBuffer { x in
            var i = 0
            let n = x.count
            while i < n {
                let end = Swift.min(i + 64, n)
                var found: UInt32 = 0
                for j in i..<end {
                    // |v| in (0, inf]  <=>  (bits & 0x7FFFFFFF) - 1 < 0x7F800000 (unsigned)
                    let a = x[j].bitPattern & 0x7FFF_FFFF
                    found |= (a &- 1) < 0x7F80_0000 ? 1 : 0
                }
                if found != 0 { return true }
                i = end
            }
            return false
        }
    }

    /// Whether every element is finite (no NaN or ±Inf).
    public var isFinite: Bool {
        withBuffer { x in
            for v in x where !v.isFinite { return false }
            return true
        }
    }

    /// The elements, as a Double array (for tests and gradient checks).
    public var doubles: [Double] { storage.map(Double.init) }
}
