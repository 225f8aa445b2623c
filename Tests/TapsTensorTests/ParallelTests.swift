import Foundation
import Synchronization
import Testing
import TapsTensor

@Suite("Parallel loops, split GEMMs and the workspace", .serialized)   // one test changes Parallel.threads
struct ParallelTests {
    @Test("forEach runs every item exactly once, and a nested loop runs serially")
    func forEachCoversItems() {
        let counts = Mutex([Int](repeating: 0, count: 1000))
        let nested = Mutex(0)
        Parallel.forEach(1000) { i, worker in
            #expect(worker >= 0 && worker < Parallel.threads)
            counts.withLock { $0[i] += 1 }
            if i == 3 {
                // (A loop on one worker, e.g. under TAPS_THREADS=1, runs inline without marking a region.)
                #expect(Parallel.isInsideParallelRegion || Parallel.threads == 1)
                Parallel.forEach(5) { _, w in nested.withLock { $0 += 1 }; #expect(w == 0) }
            }
        }
        #expect(counts.withLock { $0.allSatisfy { $0 == 1 } })
        #expect(nested.withLock { $0 } == 5)
        #expect(!Parallel.isInsideParallelRegion)
    }

    @Test("with every core busy elsewhere, 20,000 short regions: every item runs exactly once (late workers skip)")
    func regionsWhileOversubscribed() {
        // Busy threads keep the pool's workers off their cores at random moments, so many regions close before a
        // worker enters: such a worker must leave the (possibly newer) job alone. A stale job would run an item of
        // an earlier region twice or write into a region that has ended.
        let stop = Atomic<Bool>(false)
        let hogs = (0..<max(2, ProcessInfo.processInfo.activeProcessorCount)).map { _ in
            let t = Thread { while !stop.load(ordering: .relaxed) {} }
            t.start()
            return t
        }
        // Plain (unlocked) writes, one per item: the pool's hand-over is the only synchronisation, so the thread
        // sanitizer (`swift test --sanitize=thread`) reports a race if a worker's writes are not ordered before the
        // caller's reads, or if an item runs twice.
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 16)
        defer { counts.deallocate() }
        nonisolated(unsafe) let c = counts
        var ok = 0
        for r in 0..<20_000 {
            let n = 2 + r % 11
            c.initialize(repeating: 0, count: n)
            Parallel.forEach(n) { i, _ in c[i] += 1 }
            if (0..<n).allSatisfy({ c[$0] == 1 }) { ok += 1 }
        }
        stop.store(true, ordering: .relaxed)
        _ = hogs
        #expect(ok == 20_000)
    }

    @Test("10,000 short regions in a row, and two threads starting regions at once: every item runs exactly once")
    func manyRegionsAndConcurrentCallers() async {
        // Short regions exercise the spinning pool's hand-over (job, generation, active, closed) many times; two callers
        // at once exercise its busy path (the second runs on Dispatch's threads).
        var total = 0
        for r in 0..<10_000 {
            let sum = Atomic<Int>(0)
            Parallel.forEach(2 + r % 7) { i, _ in sum.wrappingAdd(i + 1, ordering: .relaxed) }
            let n = 2 + r % 7
            if sum.load(ordering: .relaxed) == n * (n + 1) / 2 { total += 1 }
        }
        #expect(total == 10_000)
        let results = await withTaskGroup(of: Bool.self) { group in
            for caller in 0..<2 {
                group.addTask {
                    var ok = true
                    for r in 0..<2_000 {
                        let counts = Mutex([Int](repeating: 0, count: 16))
                        Parallel.forEach(16) { i, _ in counts.withLock { $0[i] += 1 } }
                        ok = ok && counts.withLock { $0.allSatisfy { $0 == 1 } }
                        _ = (caller, r)
                    }
                    return ok
                }
            }
            var all: [Bool] = []
            for await ok in group { all.append(ok) }
            return all
        }
        #expect(results == [true, true])
    }

    @Test("a split GEMM gives the same bits for 1, 2 and 3 threads",
          arguments: [(64, 4096, 576), (4608, 128, 512), (512, 4608, 128), (37, 1000, 300), (1000, 37, 129)])
    func splitGemmIsThreadIndependent(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = SeededRNG(seed: 3)
        let a = Tensor.normal([m * k], rng: &rng), b = Tensor.normal([k * n], rng: &rng)
        let c0 = Tensor.normal([m * n], rng: &rng)
        for ta in [Transpose.none, .transposed] {
            for tb in [Transpose.none, .transposed] {
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    var c = c0
                    Parallel.withThreads(threads) {
                        a.withBuffer { ap in b.withBuffer { bp in c.withMutableBuffer { cp in
                            gemm(ta, tb, m: m, n: n, k: k, ap.baseAddress!, bp.baseAddress!, beta: 1, cp.baseAddress!)
                        } } }
                    }
                    results.append(c.storage)
                }
                for r in results.dropFirst() {
                    let differing = zip(r, results[0]).filter { $0 != $1 }.count
                    #expect(differing == 0, "\(ta) \(tb) \(shape): \(differing) of \(m * n) differ")
                }
            }
        }
    }

    @Test("workspace buffers are reused: repeated borrows of one size allocate nothing")
    func workspaceReuses() {
        Workspace.withScratch(1000) { p in p[999] = 1 }
        let before = Workspace.allocationCount
        for _ in 0..<10 { Workspace.withScratch(800) { p in p[0] = 2 } }
        // Other tests may borrow concurrently and need their own buffers; this test alone needs none.
        #expect(Workspace.allocationCount - before <= 2)
    }
}
