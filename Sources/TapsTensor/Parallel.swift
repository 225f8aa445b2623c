// TapsTensor: the engine's one thread pool policy. Every kernel that splits work (GEMM row/column blocks,
// im2col over images, BatchNorm over channels, elementwise ranges, the optimizer) goes through `Parallel`,
// and OpenBLAS itself runs single-threaded, so the two never oversubscribe the cores or spin against
// each other (an OpenBLAS worker waiting for the next GEMM used to spend half its time in `sched_yield`
// while our serial code ran between GEMMs).
//
// Determinism: work is split into items whose boundaries do not depend on the thread count (or, for GEMM
// pieces, whose per-element arithmetic does not depend on where the boundaries are), and every reduction
// sums its partials in a fixed order, so results are identical for any thread count.
import CBLAS
import Dispatch
import Foundation
import Synchronization

/// Worker-count policy and parallel loops over disjoint work items.
///
/// ```swift
/// Parallel.threads = 2
/// Parallel.forEach(images) { n in im2col(image(n), geometry, columns(n)) }   // each n exactly once
/// ```
/// Bodies run concurrently and must write disjoint memory. A loop started inside another parallel loop's
/// body runs serially on the calling worker (no nested oversubscription).
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads =
        ProcessInfo.processInfo.environment["TAPS_THREADS"].flatMap(Int.init).map { max(1, $0) }
        ?? ProcessInfo.processInfo.activeProcessorCount
    /// Makes OpenBLAS single-threaded once, before the first GEMM (our workers call it concurrently), and
    /// keeps tensor-sized allocations in the heap: by default glibc serves blocks above its mmap threshold
    /// with fresh mappings, so every layer output of every step page-faulted its memory in again (1-2% of
    /// a ResNet-18 step in the kernel's fault handler).
    private static let blasSingleThreaded: Bool = {
        openblas_set_num_threads(1)
        #if os(Linux)
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)   // glibc's maximum
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
        #endif
        return true
    }()
    /// Per-thread nesting depth (a pthread key): > 0 inside a parallel loop's body.
    private static let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Per-thread override of the worker count (a pthread key; 0: none), set by ``withThreads(_:_:)``.
    private static let overrideKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The worker count for loops the calling thread starts: its ``withThreads(_:_:)`` override, else the process's.
    private static var currentThreads: Int {
        let override = Int(bitPattern: pthread_getspecific(overrideKey))
        return override > 0 ? override : configuredThreads
    }

    /// Worker threads for parallel loops and GEMMs (≥ 1; default: `TAPS_THREADS` from the environment, else the
    /// machine's active cores). Reading it inside ``withThreads(_:_:)`` gives that call's count.
    /// Set it before training starts, not from inside a parallel loop, and not while other threads run loops (a loop
    /// sizes per-worker scratch from ``workers(for:)`` before it starts): use ``withThreads(_:_:)`` for that.
    public static var threads: Int {
        get { currentThreads }
        set { configuredThreads = max(1, newValue); prepareBLAS() }
    }

    /// Runs `body` with `threads` workers (≥ 1) for every parallel loop and GEMM the calling thread starts; other
    /// threads keep theirs. For tests and measurements that compare thread counts while other work runs in the same
    /// process (changing ``threads`` then would change the count under a loop that has already sized its scratch).
    public static func withThreads<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        prepareBLAS()
        let saved = pthread_getspecific(overrideKey)
        pthread_setspecific(overrideKey, UnsafeRawPointer(bitPattern: max(1, threads)))
        defer { pthread_setspecific(overrideKey, saved) }
        return try body()
    }

    /// Puts OpenBLAS in single-threaded mode (idempotent; called by ``gemm(_:_:m:n:k:alpha:_:lda:_:ldb:beta:_:ldc:)``).
    @inline(__always)
    public static func prepareBLAS() {
        // A used Bool (not `_ = voidGlobal`, whose access the optimiser may drop with its one-time initialiser).
        if !blasSingleThreaded { fatalError("unreachable") }
    }

    /// The OpenBLAS kernel family in use (e.g. `Cooperlake`, `Haswell`). OpenBLAS picks it at load time from
    /// CPUID, or from `OPENBLAS_CORETYPE` when set: on this AVX-512 machine it picks Cooperlake, whose SGEMM runs
    /// 1.4-2x faster than the Haswell (AVX2) kernels a `OPENBLAS_CORETYPE=Haswell` environment forces.
    public static var blasCore: String {
        prepareBLAS()
        return openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// Worker threads that wait for the next region by spinning briefly (``WorkerPool``), one fewer than the cores
    /// (the caller is the first worker); nil with `TAPS_POOL=dispatch` or on one core.
    private static let pool: WorkerPool? = {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard cores > 1, ProcessInfo.processInfo.environment["TAPS_POOL"] != "dispatch" else { return nil }
        return WorkerPool(threads: cores - 1)
    }()

    /// Starts the worker threads now (they start on the first parallel loop otherwise). A new thread inherits its
    /// creator's scheduling priority, so a caller about to lower its own (the dashboard's UI thread) calls this
    /// first.
    public static func startWorkers() {
        _ = pool
    }

    /// Whether the calling thread is inside a parallel loop body.
    public static var isInsideParallelRegion: Bool {
        Int(bitPattern: pthread_getspecific(depthKey)) > 0
    }

    /// Workers a loop over `items` work items would use now (1 inside a parallel region).
    public static func workers(for items: Int) -> Int {
        isInsideParallelRegion ? 1 : max(1, min(currentThreads, items))
    }

    /// Runs `body(item, worker)` for every `item` in `0..<items`, each exactly once, on up to ``threads``
    /// workers; `worker` in `0..<workers(for: items)` identifies the executing worker (for per-worker
    /// scratch). Items are handed out dynamically (an atomic counter), so a worker slowed by other load
    /// does not hold the rest back; results must not depend on which worker runs an item.
    public static func forEach(_ items: Int, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let t = workers(for: items)
        if t <= 1 {
            for i in 0..<items { body(i, 0) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            let region: (Int) -> Void = { worker in
                let depth = pthread_getspecific(depthKey)
                pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: Int(bitPattern: depth) + 1))
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= items { break }
                    body(i, worker)
                }
                pthread_setspecific(depthKey, depth)
            }
            // The spinning pool when it is free and large enough; else (another thread's region holds it, more
            // threads than cores, or TAPS_POOL=dispatch) Dispatch's.
            if let pool, pool.run(workers: t, region) { return }
            nonisolated(unsafe) let work = region
            DispatchQueue.concurrentPerform(iterations: t) { worker in work(worker) }
        }
    }

    /// Runs `body(item)` for every item in `0..<items` (see ``forEach(_:_:)-(_,(Int,Int)->Void)``).
    public static func forEach(_ items: Int, _ body: (_ item: Int) -> Void) {
        forEach(items) { i, _ in body(i) }
    }

    /// Splits `0..<count` into consecutive ranges of `grain` elements (the last may be shorter) and runs
    /// `body(range)` for each; serial when the whole range is at most one grain. The ranges depend only on
    /// `count` and `grain`, never on the thread count.
    public static func forRanges(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        if count <= grain || currentThreads == 1 || isInsideParallelRegion {
            if count > 0 { body(0..<count) }
            return
        }
        let pieces = (count + grain - 1) / grain
        forEach(pieces) { p, _ in body((p * grain)..<min(count, (p + 1) * grain)) }
    }

    /// Default grain for memory-bound elementwise loops: 64 Ki elements (256 KiB of Float), large enough
    /// that scheduling costs nothing measurable, small enough to balance two cores on 1 MiB tensors.
    public static let elementwiseGrain = 1 << 16
}

/// Reusable scratch memory for kernels: buffers are borrowed for the duration of a closure and returned
/// to a small pool, so a steady-state training step allocates nothing (the largest request of a step is
/// served by the same buffer every time). Safe to use from several threads: concurrent borrowers get
/// different buffers.
public enum Workspace {
    private final class Buffer: @unchecked Sendable {
        var pointer: UnsafeMutablePointer<Float>
        var capacity: Int
        init(capacity: Int) {
            self.capacity = capacity
            pointer = .allocate(capacity: max(capacity, 1))
        }
        func grow(to count: Int) {
            pointer.deallocate()
            capacity = count
            pointer = .allocate(capacity: max(count, 1))
            Workspace.allocations.add(1, ordering: .relaxed)
        }
    }
    private static let pool = Mutex<[Buffer]>([])
    private static let allocations = Atomic<Int>(0)

    /// How many times a workspace buffer was allocated or grown since the process started (a steady-state
    /// step must leave this unchanged; `taps bench` prints the count of the timed steps).
    public static var allocationCount: Int { allocations.load(ordering: .relaxed) }

    /// Borrows uninitialised scratch of at least `count` floats for the duration of `body`.
    public static func withScratch<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        // Take the largest free buffer (keeps one big buffer serving every layer of a network).
        let buffer: Buffer = pool.withLock { free in
            if let i = free.indices.max(by: { free[$0].capacity < free[$1].capacity }) { return free.remove(at: i) }
            allocations.add(1, ordering: .relaxed)
            return Buffer(capacity: count)
        }
        if buffer.capacity < count { buffer.grow(to: count) }
        defer { pool.withLock { $0.append(buffer) } }
        return try body(buffer.pointer)
    }
}
