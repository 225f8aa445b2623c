// TapsTrainingTests: the metrics history's append-only array: copies keep their elements, appends after a snapshot
// copy nothing, memory is released, and a reader on another thread sees whole elements.
import Foundation
import Testing
import TapsTraining

@Suite("AppendOnlyArray: the metrics history's storage")
struct AppendOnlyArrayTests {
    /// Counts live instances (the storage must release every element it holds, once).
    final class Tracked: @unchecked Sendable {
        static let lock = NSLock()
        nonisolated(unsafe) static var live = 0
        let value: Int
        init(_ value: Int) { self.value = value; Self.lock.lock(); Self.live += 1; Self.lock.unlock() }
        deinit { Self.lock.lock(); Self.live -= 1; Self.lock.unlock() }
    }

    @Test("copies keep their elements while the original and the copies append")
    func copiesAreValues() {
        var a = AppendOnlyArray<Int>()
        var copies: [(AppendOnlyArray<Int>, Int)] = []
        for i in 0..<1000 {
            a.append(i)
            if i % 97 == 0 { copies.append((a, i + 1)) }
        }
        #expect(Array(a) == Array(0..<1000) && a.count == 1000 && a.last == 999)
        for (copy, n) in copies { #expect(Array(copy) == Array(0..<n)) }
        // A copy that appends after the original did moves to storage of its own; the original keeps going.
        var (old, n) = copies[3]
        old.append(-1)
        a.append(1000)
        #expect(Array(old) == Array(0..<n) + [-1] && !old.sharesStorage(with: a))
        #expect(Array(a) == Array(0...1000))
        #expect(a == AppendOnlyArray(0...1000) && a != AppendOnlyArray(0..<1000) && old != a)
        a.withUnsafeBufferPointer { b in #expect(b.count == 1001 && b[500] == 500) }
        // Two copies at the storage's end: the first to append keeps the storage, the second moves.
        var c = a, d = a
        c.append(7)
        d.append(8)
        #expect(c.last == 7 && d.last == 8 && c.count == 1002 && d.count == 1002 && Array(d.prefix(1001)) == Array(a))
        #expect(c.sharesStorage(with: a) && !d.sharesStorage(with: a))
        AppendOnlyArray<Int>().withUnsafeBufferPointer { b in #expect(b.isEmpty) }
    }

    @Test("every element is released once, whichever copy goes last")
    func elementsAreReleased() {
        let before = Tracked.live
        do {
            var a = AppendOnlyArray<Tracked>()
            var copy = a
            for i in 0..<300 {
                a.append(Tracked(i))
                if i == 150 { copy = a }
            }
            var b = copy
            b.append(Tracked(-1))   // moves: the first 151 are retained by two storages
            #expect(Tracked.live - before == 301)
            #expect(a[299].value == 299 && b[151].value == -1 && copy.count == 151)
        }
        #expect(Tracked.live == before)
    }

    @Test("a dashboard snapshot shares the store's history: the trainer's next steps copy nothing")
    func snapshotsShareTheHistory() {
        let store = MetricsStore()
        func step(_ i: Int) -> MetricsEvent {
            .step(StepEvent(step: i, epoch: 1, phase: .sparsify, loss: 1, taskLoss: 1, penalty: 0, lambda: 1, accuracy: 0.5,
                            learningRate: 0.01, scores: [0.2, Double(i)], active: [true, true], samplesPerSecond: 1,
                            elapsed: Double(i)))
        }
        for i in 1...100 { store.append(step(i)) }
        let before = store.snapshot()
        for i in 101...102 { store.append(step(i)) }
        let after = store.snapshot()
        #expect(before.steps.count == 100 && after.steps.count == 102 && after.steps[101].step == 102)
        #expect(after.steps.sharesStorage(with: before.steps))
        #expect(after.scoreSums.sums.sharesStorage(with: before.scoreSums.sums))
        #expect(after.scoreSums.sum(row: 102, layer: 1) == Double((1...102).reduce(0, +)))
        #expect(!store.hasEnded)
        store.append(.end(RunEndEvent(status: .done, step: 102, testAccuracy: nil, bestValidationAccuracy: nil,
                                      activeLayers: [], taskSpecificParameters: 0, seconds: 1, message: nil)))
        #expect(store.hasEnded && store.snapshot().end != nil)
    }

    @Test("a reader on another thread sees whole elements while the writer appends")
    func concurrentReadersSeeWholeElements() {
        /// The store's pattern: the writer appends and the reader copies, each under the store's lock; the reader
        /// then reads its copy without the lock while the writer appends to the storage they share.
        final class Store: @unchecked Sendable { let lock = NSLock(); var history = AppendOnlyArray<[Int]>() }
        let store = Store(), total = 20_000
        let done = DispatchSemaphore(value: 0)
        Thread {
            for i in 0..<total { store.lock.lock(); store.history.append([i, i * 2]); store.lock.unlock() }
            done.signal()
        }.start()
        var bad = 0, seen = 0, copies = 0
        while seen < total {
            store.lock.lock(); let copy = store.history; store.lock.unlock()
            seen = copy.count
            copies += 1
            for i in stride(from: 0, to: copy.count, by: 97) where copy[i] != [i, i * 2] { bad += 1 }
            if let last = copy.last, last != [copy.count - 1, 2 * (copy.count - 1)] { bad += 1 }
        }
        done.wait()
        #expect(bad == 0 && copies >= 1)
    }
}
