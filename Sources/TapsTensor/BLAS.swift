// TapsTensor: the only file that talks to OpenBLAS.
import CBLAS
import Dispatch
import Foundation
import Synchronization

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
/// Large products are split into ``gemmBlocks`` blocks of rows or columns of `C` computed on ``Parallel/threads``
/// workers (OpenBLAS single-threaded in each); the blocks depend only on the shape, so the result does not
/// depend on the thread count.
/// References: BLAS level 3 `SGEMM`; llm.c `matmul_forward`.
public func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                 alpha: Float = 1, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                 beta: Float = 0, _ c: UnsafeMutablePointer<Float>) {
    gemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a, lda: transA == .none ? k : m,
         b, ldb: transB == .none ? n : k, beta: beta, c, ldc: n)
}

/// ``gemm(_:_:m:n:k:alpha:_:_:beta:_:)`` on sub-matrices with explicit leading dimensions (row strides)
/// `lda`, `ldb`, `ldc` (each at least the stored row length of its matrix).
public func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                 alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                 beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { row.update(repeating: 0, count: n) }
            else if beta != 1 { for j in 0..<n { row[j] *= beta } }
        }
        return
    }
    Parallel.prepareBLAS()
    let timed = !Parallel.isInsideParallelRegion   // time top-level calls only (workers' calls overlap)
    let t0 = timed ? DispatchTime.now().uptimeNanoseconds : 0
    defer { GEMMStatistics.record(flops: 2 * m * n * k, nanoseconds: timed ? DispatchTime.now().uptimeNanoseconds - t0 : 0) }
    if 2 * m * n * k < gemmParallelMinimumFlops {  // (m, n, k > 0 here)
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        return
    }
    // Split the larger side of C into `gemmBlocks` blocks of whole 16-element panels (rows when C is taller:
    // each block then repacks the smaller operand). OpenBLAS's result for an element depends on the block it
    // lies in (edge kernels sum in another order), so the blocks depend on the shape and the machine only,
    // never on the thread count: one worker runs the same calls in turn.
    let splitRows = m >= n
    let side = splitRows ? m : n
    let block = max(64, ((side + gemmBlocks - 1) / gemmBlocks + 15) / 16 * 16)
    let count = (side + block - 1) / block
    nonisolated(unsafe) let (ua, ub, uc) = (a, b, c)
    Parallel.forEach(count) { p, _ in
        let lo = p * block, len = min(block, side - lo)
        if splitRows {
            let ap = transA == .none ? ua + lo * lda : ua + lo
            cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(len), Int32(n), Int32(k),
                        alpha, ap, Int32(lda), ub, Int32(ldb), beta, uc + lo * ldc, Int32(ldc))
        } else {
            let bp = transB == .none ? ub + lo : ub + lo * ldb
            cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(len), Int32(k),
                        alpha, ua, Int32(lda), bp, Int32(ldb), beta, uc + lo, Int32(ldc))
        }
    }
}

/// One `cblas_sgemm` call, never split into blocks: for callers that already run many independent products in
/// parallel (one per image), where splitting would only repack operands. Same contract as
/// ``gemm(_:_:m:n:k:alpha:_:lda:_:ldb:beta:_:ldc:)``; the result depends on the shape only. Counted in
/// ``GEMMStatistics``: inside a parallel region its wall time is added divided by ``Parallel/threads`` (the
/// calls of the region's workers overlap), so the GEMM share `taps bench` prints stays a share of the step.
public func gemmUnsplit(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                        alpha: Float = 1, _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                        beta: Float = 0, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        gemm(transA, transB, m: m, n: n, k: 0, alpha: alpha, a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    Parallel.prepareBLAS()
    let t0 = DispatchTime.now().uptimeNanoseconds
    cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, Int32(m), Int32(n), Int32(k),
                alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    let elapsed = DispatchTime.now().uptimeNanoseconds - t0
    let share = Parallel.isInsideParallelRegion ? elapsed / UInt64(max(1, Parallel.threads)) : elapsed
    GEMMStatistics.record(flops: 2 * m * n * k, nanoseconds: share)
}

/// Blocks a large GEMM is split into: the machine's active cores (at least 2), fixed for the process so
/// results do not depend on ``Parallel/threads``. Each block repacks one operand, so more blocks than cores
/// only cost repacking (one thread runs every block in turn).
public let gemmBlocks = max(2, ProcessInfo.processInfo.activeProcessorCount)

/// Products below this many flops (`2·m·n·k`) run as one call: splitting costs more than it saves.
/// `TAPS_GEMM_SPLIT=0` in the environment never splits (to compare against one-call rounding).
public let gemmParallelMinimumFlops =
    ProcessInfo.processInfo.environment["TAPS_GEMM_SPLIT"] == "0" ? Int.max : 1 << 21

/// Running totals of every GEMM's flops and of the wall time spent in them. Calls made inside a parallel loop
/// (e.g. one per image of a pointwise convolution) overlap with their siblings: their time is not added;
/// the loop that makes them wraps itself in ``timed(_:)`` instead. `taps bench` reads the totals around
/// the timed steps.
public enum GEMMStatistics {
    private static let flopCount = Atomic<Int>(0)
    private static let nanosecondCount = Atomic<Int>(0)
    static func record(flops: Int, nanoseconds: UInt64) {
        flopCount.add(flops, ordering: .relaxed)
        nanosecondCount.add(Int(nanoseconds), ordering: .relaxed)
    }
    /// Runs `body` (a parallel loop of GEMMs) and adds its wall time.
    public static func timed<R>(_ body: () throws -> R) rethrows -> R {
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer { record(flops: 0, nanoseconds: DispatchTime.now().uptimeNanoseconds - t0) }
        return try body()
    }
    /// Floating-point operations (`2·m·n·k` per call) and wall seconds spent in counted GEMMs so far.
    public static var totals: (flops: Double, seconds: Double) {
        (Double(flopCount.load(ordering: .relaxed)), Double(nanosecondCount.load(ordering: .relaxed)) / 1e9)
    }
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

/// Controls the engine's thread count (kept under this name for the CLI's `--threads`): the workers of
/// ``Parallel``, which split GEMMs and every other kernel. OpenBLAS itself always runs single-threaded.
public enum BLASThreads {
    /// Sets the number of worker threads (≥ 1). Default: the machine's cores.
    public static func set(_ count: Int) { Parallel.threads = count }
    /// The number of worker threads in use.
    public static var current: Int { Parallel.threads }
}
