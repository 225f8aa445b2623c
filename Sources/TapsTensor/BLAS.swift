// TapsTensor: the only file that talks to OpenBLAS.
import CBLAS

/// Whether an operand of ``gemm(_:_:_:_:_:_:_:_:_:_:_:)`` is used as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed
    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Single-precision general matrix multiply through OpenBLAS `cblas_sgemm`:
///
/// ```
/// C[m, n] = alpha * op(A)[m, k] · op(B)[k, n] + beta * C[m, n]
/// ```
///
/// All matrices are row-major and contiguous. `A` is `[m, k]` (or `[k, m]` when transposed), `B` is
/// `[k, n]` (or `[n, k]`), `C` is `[m, n]`. Pointers must hold at least that many elements.
/// References: BLAS level 3 `SGEMM`; llm.c `matmul_forward`.
public func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                 alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                 beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { c.update(repeating: 0, count: m * n) }
        else if beta != 1 { for i in 0..<(m * n) { c[i] *= beta } }
        return
    }
    let lda = transA == .none ? k : m
    let ldb = transB == .none ? n : k
    cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(n))
}

/// Reference triple loop for ``gemm(_:_:_:_:_:_:_:_:_:_:_:)`` with the same contract, accumulating in
/// Double. Used by tests on odd shapes and as the readable statement of what the fast path computes.
public func gemmNaive(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                      alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                      beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = transA == .none ? a[i * k + p] : a[p * m + i]
                let bv = transB == .none ? b[p * n + j] : b[j * k + p]
                sum += Double(av) * Double(bv)
            }
            let prior = beta == 0 ? 0 : beta * c[i * n + j]
            c[i * n + j] = alpha * Float(sum) + prior
        }
    }
}

/// Matrix product of two rank-2 tensors: `[m, k] · [k, n] -> [m, n]` (with optional transposes).
public func matmul(_ a: Tensor, _ b: Tensor, transA: Transpose = .none, transB: Transpose = .none) -> Tensor {
    precondition(a.rank == 2 && b.rank == 2, "matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
    let (m, k) = transA == .none ? (a.shape[0], a.shape[1]) : (a.shape[1], a.shape[0])
    let (k2, n) = transB == .none ? (b.shape[0], b.shape[1]) : (b.shape[1], b.shape[0])
    precondition(k == k2, "matmul inner dimensions differ: \(a.shape) vs \(b.shape)")
    var c = Tensor(zeros: [m, n])
    a.storage.withUnsafeBufferPointer { ap in
        b.storage.withUnsafeBufferPointer { bp in
            c.storage.withUnsafeMutableBufferPointer { cp in
                gemm(transA, transB, m: m, n: n, k: k, ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
            }
        }
    }
    return c
}

/// Controls OpenBLAS's thread pool.
public enum BLASThreads {
    /// Sets the number of OpenBLAS worker threads (≥ 1). Default: the machine's cores.
    public static func set(_ count: Int) { openblas_set_num_threads(Int32(max(1, count))) }
    /// The number of OpenBLAS worker threads in use.
    public static var current: Int { Int(openblas_get_num_threads()) }
}
