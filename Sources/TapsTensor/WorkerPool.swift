// TapsTensor: persistent worker threads for `Parallel`. A parallel region hands its job to workers that are
// already running: after a job a worker spins briefly for the next one before it sleeps, so the many short regions
// of a training step (a convolution's im2col, a BatchNorm pass, an optimizer range) start in well under a
// microsecond instead of waking a thread through the kernel each time (`DispatchQueue.concurrentPerform` on Linux
// posts a semaphore per region: ~20% of a DenseNet-small step was spent in wake-ups and futex waits). This is the
// wait policy of OpenMP runtimes (spin, then block), which PyTorch's CPU kernels use.
import Foundation
import Synchronization

/// A fixed set of worker threads that run one job at a time, together with the submitting thread.
///
/// `run(workers:_:)` calls `job(w)` once for every `w` in `0..<workers`: `w == 0` on the calling thread, the others
/// on pool threads, and returns when all have returned. Only one job runs at a time; a second caller that finds the
/// pool busy (another thread's region) gets `false` and should run its work itself.
/// Pool threads spin for the next job for ``spinNanoseconds`` after each job, then sleep on a condition variable.
final class WorkerPool: @unchecked Sendable {
    /// How long an idle worker polls for the next job before it sleeps (50 µs: longer than the gap between the
    /// regions of one layer, far shorter than a step; a sleeping worker costs nothing).
    static let spinNanoseconds: UInt64 = 50_000

    private let threadCount: Int
    private let busy = Atomic<Bool>(false)
    /// Incremented (releasing) for every job; a worker that sees a new value runs the job.
    private let generation = Atomic<Int>(0)
    /// Pool workers still running the current job.
    /// The newest generation whose region is closed to late workers (its items are all claimed).
    private let closed = Atomic<Int>(0)
    /// Workers inside the current region's job.
    private let active = Atomic<Int>(0)
    /// Pool workers (1...) taking part in the current job; the rest skip it.
    private let participants = Atomic<Int>(0)
    /// Workers asleep on `condition` (the submitter signals only when some are).
    private let sleepers = Atomic<Int>(0)
    private let condition = NSCondition()
    /// The current job; written before `generation` is released, read after it is acquired.
    nonisolated(unsafe) private var job: ((Int) -> Void)?

    /// Starts `threads` pool threads (workers 1...threads; the caller of `run` is worker 0).
    init(threads: Int) {
        threadCount = max(0, threads)
        for index in 1...max(1, threadCount) where threadCount > 0 {
            let thread = Thread { [unowned self] in self.workerLoop(index: index) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Pool threads available besides the caller.
    var poolThreads: Int { threadCount }

    /// Runs `job(0)` here and `job(1)`...`job(workers - 1)` on pool threads; returns after all of them.
    /// Returns false without running anything when another thread's job holds the pool, or `workers - 1` exceeds
    /// the pool threads.
    func run(workers: Int, _ body: (Int) -> Void) -> Bool {
        guard workers >= 2, workers - 1 <= threadCount else { return false }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            job = body
            participants.store(workers - 1, ordering: .relaxed)
            // Sequentially consistent with the sleeper's increment-then-check below (a Dekker pair): either the
            // worker sees the new generation or this sees the sleeper, never neither.
            let g = generation.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                condition.lock(); condition.broadcast(); condition.unlock()
            }
            // The caller claims items until none is left, so when it returns every item has been taken. Workers that
            // have not entered by then are not waited for: a worker another program keeps off its core would
            // otherwise hold the region for a time slice only to find nothing to do. Closing is a Dekker pair with
            // the worker's enter-then-check: either this sees the worker in `active` and waits for it, or the worker
            // sees the region closed and leaves without touching the job.
            body(0)
            closed.store(g, ordering: .sequentiallyConsistent)
            var spins = 0
            while active.load(ordering: .sequentiallyConsistent) > 0 {
                spins += 1
                if spins > 2_000 { sched_yield() }
            }
            job = nil
        }
        return true
    }

    private func workerLoop(index: Int) {
        #if os(Linux)
        // Foundation's Thread.name does not reach the kernel here (and pthread_setname_np is not imported into
        // Swift): name the thread for top, perf and /proc through its comm file.
        try? "taps-worker-\(index)".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        #endif
        var seen = 0
        while true {
            var current = generation.load(ordering: .acquiring)
            if current == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var polls = 0
                while current == seen {
                    polls += 1
                    if polls & 63 == 0, DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                        condition.lock()
                        sleepers.wrappingAdd(1, ordering: .sequentiallyConsistent)
                        while generation.load(ordering: .sequentiallyConsistent) == seen { condition.wait() }
                        sleepers.wrappingSubtract(1, ordering: .releasing)
                        condition.unlock()
                    }
                    current = generation.load(ordering: .acquiring)
                }
            }
            seen = current
            guard index <= participants.load(ordering: .relaxed) else { continue }
            active.wrappingAdd(1, ordering: .sequentiallyConsistent)
            // Closed already (the caller took every item while this worker was off its core): leave the job alone,
            // it may belong to a newer region by now.
            if closed.load(ordering: .sequentiallyConsistent) - current >= 0 {
                active.wrappingSubtract(1, ordering: .releasing)
                continue
            }
            job?(index)
            active.wrappingSubtract(1, ordering: .releasing)
        }
    }
}
