// TapsNNTests: the layers whose training forward depends on the whole batch (BatchNorm2d, Dropout) give one
// process's answer when a batch is split over two simulated ranks (threads sharing an in-memory all-reduce).
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

/// An all-reduce among `size` threads: each call blocks until every thread has contributed, then all get the sum.
final class ThreadAllReduce: @unchecked Sendable {
    private let condition = NSCondition()
    private let size: Int
    private var arrived = 0, generation = 0
    private var sum: [Double] = [], result: [Double] = []
    init(size: Int) { self.size = size }

    func reduce(_ values: inout [Double]) {
        condition.lock(); defer { condition.unlock() }
        let mine = generation
        sum = arrived == 0 ? values : zip(sum, values).map(+)
        arrived += 1
        if arrived == size {
            result = sum; arrived = 0; generation += 1; condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        values = result
    }
}

/// One rank's view of a ``ThreadAllReduce``.
final class ThreadRank: BatchStatisticsReducer, @unchecked Sendable {
    let shared: ThreadAllReduce
    init(_ shared: ThreadAllReduce) { self.shared = shared }
    func allReduceSum(_ values: inout [Double]) { shared.reduce(&values) }
}

/// Hands non-Sendable test objects to a thread.
final class Unchecked<T>: @unchecked Sendable { var value: T; init(_ value: T) { self.value = value } }

/// Rows `range` of an `[N, ...]` tensor.
func rows(_ t: Tensor, _ range: Range<Int>) -> Tensor {
    let per = t.count / t.shape[0]
    return Tensor(shape: [range.count] + t.shape.dropFirst(), storage: Array(t.storage[(range.lowerBound * per)..<(range.upperBound * per)]))
}

@Suite("Data-parallel layers: a batch split over ranks gives one process's answer")
struct DataParallelLayerTests {
    /// Runs `body(rank)` on two threads at once and waits for both.
    private func onTwoRanks(_ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchGroup()
        for rank in 0..<2 {
            done.enter()
            Thread { body(rank); done.leave() }.start()
        }
        done.wait()
    }

    @Test("SyncBatchNorm: 2 ranks on parts of a batch = 1 process on the batch (outputs, dx, summed dγ/dβ, running stats)")
    func syncBatchNorm() {
        var rng = SeededRNG(seed: 5)
        let x = Tensor.uniform([6, 3, 2, 2], low: -2, high: 3, rng: &rng)
        let dy = Tensor.uniform([6, 3, 2, 2], low: -1, high: 1, rng: &rng)
        let whole = BatchNorm2d(name: "bn", channels: 3)
        let y = whole.forward(x, mode: .training)
        let dx = whole.backward(dy)

        let shared = ThreadAllReduce(size: 2)
        let parts = [0..<2, 2..<6]   // unequal shards, as an epoch's last batch may give
        let layers = Unchecked((0..<2).map { _ in BatchNorm2d(name: "bn", channels: 3) })
        let outputs = Unchecked([Tensor?](repeating: nil, count: 2)), grads = Unchecked([Tensor?](repeating: nil, count: 2))
        let lock = NSLock()
        onTwoRanks { rank in
            let bn = layers.value[rank]
            bn.statisticsReducer = ThreadRank(shared)
            let out = bn.forward(rows(x, parts[rank]), mode: .training)
            let g = bn.backward(rows(dy, parts[rank]))
            lock.lock(); outputs.value[rank] = out; grads.value[rank] = g; lock.unlock()
        }
        let ySplit = outputs.value.compactMap { $0 }.flatMap(\.storage), dxSplit = grads.value.compactMap { $0 }.flatMap(\.storage)
        #expect(compareClose(ySplit.map(Double.init), y.doubles, rtol: 1e-5, atol: 1e-6).isClose)
        #expect(compareClose(dxSplit.map(Double.init), dx.doubles, rtol: 1e-4, atol: 1e-6).isClose)
        let (a, b) = (layers.value[0], layers.value[1])
        let dGamma = zip(a.weight.grad.storage, b.weight.grad.storage).map { Double($0 + $1) }
        let dBeta = zip(a.bias.grad.storage, b.bias.grad.storage).map { Double($0 + $1) }
        #expect(compareClose(dGamma, whole.weight.grad.doubles, rtol: 1e-5, atol: 1e-6).isClose)
        #expect(compareClose(dBeta, whole.bias.grad.doubles, rtol: 1e-5, atol: 1e-6).isClose)
        for bn in [a, b] {
            #expect(compareClose(bn.runningMean.value, whole.runningMean.value, rtol: 1e-6, atol: 1e-7).isClose)
            #expect(compareClose(bn.runningVar.value, whole.runningVar.value, rtol: 1e-6, atol: 1e-7).isClose)
        }
    }

    @Test("Without the reducer a part normalises by its own statistics (so the test above can fail)")
    func unsynchronisedDiffers() {
        var rng = SeededRNG(seed: 5)
        let x = Tensor.uniform([6, 3, 2, 2], low: -2, high: 3, rng: &rng)
        let y = BatchNorm2d(name: "bn", channels: 3).forward(x, mode: .training)
        let part = BatchNorm2d(name: "bn", channels: 3).forward(rows(x, 0..<2), mode: .training)
        #expect(!compareClose(part, rows(y, 0..<2), rtol: 1e-5, atol: 1e-6).isClose)
    }

    @Test("Dropout with batchShard draws its rows of the global batch's mask, step after step")
    func dropoutShards() {
        let whole = Dropout(p: 0.5, seed: 11), first = Dropout(p: 0.5, seed: 11), second = Dropout(p: 0.5, seed: 11)
        first.batchShard = (0, 5)
        second.batchShard = (3, 5)
        let x = Tensor(repeating: 1, shape: [5, 7])
        for _ in 0..<3 {
            let full = whole.forward(x, mode: .training)
            let top = first.forward(rows(x, 0..<3), mode: .training), bottom = second.forward(rows(x, 3..<5), mode: .training)
            #expect(top.storage + bottom.storage == full.storage)
        }
        // Without batchShard, the second rank would draw from the start of the stream: other rows.
        let reference = Dropout(p: 0.5, seed: 11).forward(x, mode: .training)
        let unsharded = Dropout(p: 0.5, seed: 11).forward(rows(x, 3..<5), mode: .training)
        #expect(unsharded.storage != rows(reference, 3..<5).storage)
    }
}
