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
        withMutableBuffer { $0.update(repeating: 0) }
    }

    /// `self += alpha * other` (BLAS `axpy` semantics); shapes must have equal element counts.
    public mutating func add(_ other: Tensor, scaledBy alpha: Float = 1) {
        precondition(count == other.count, "add: \(shape) vs \(other.shape)")
        let n = count
        withMutableBuffer { y in
            other.withBuffer { x in
                for i in 0..<n { y[i] += alpha * x[i] }
            }
        }
    }

    /// `self *= alpha`.
    public mutating func scale(by alpha: Float) {
        withMutableBuffer { y in for i in 0..<y.count { y[i] *= alpha } }
    }

    /// Elementwise sum of two tensors of equal shape.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        var r = lhs; r.add(rhs); return r
    }

    /// Elementwise difference of two tensors of equal shape.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        var r = lhs; r.add(rhs, scaledBy: -1); return r
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
                // Blocked Float partial sums vectorise; Double keeps long sums accurate.
                var total = 0.0
                var i = 0
                let n = a.count
                while i < n {
                    let end = Swift.min(i + 1024, n)
                    var partial: Float = 0
                    for j in i..<end { partial += a[j] * b[j] }
                    total += Double(partial)
                    i = end
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
