// TapsTraining: mixed mini-batches for joint training — every batch draws from every task (docs/method.md "Several tasks").
import TapsTensor

/// Seeded mixed batches over several tasks: each batch holds a sub-batch of every task.
///
/// A batch of `batchSize` images is split as evenly as possible over the T tasks (the first
/// `batchSize % T` tasks get one more; every task gets at least one, so with `batchSize < T` a batch has
/// T images). Each task has its own endless stream of shuffled passes over its examples (a new seeded
/// permutation each pass), so small tasks are oversampled and every task is seen at the same rate.
/// One epoch is `ceil(sum of task sizes / batchSize)` batches: on average one pass over the union.
///
/// ```swift
/// var sampler = MixedBatchSampler(counts: [2700, 135], batchSize: 32, seed: 0)
/// let batch = sampler.next()   // [(task: 0, indices: [16 indices]), (task: 1, indices: [16 indices])]
/// ```
public struct MixedBatchSampler: Sendable {
    /// Examples per task.
    public let counts: [Int]
    /// Images of each task in one batch.
    public let perTask: [Int]
    public let seed: UInt64
    private var cursors: [Int]
    private var passes: [Int]
    private var orders: [[Int]]

    /// - Precondition: at least one task, every count ≥ 1, `batchSize` ≥ 1.
    public init(counts: [Int], batchSize: Int, seed: UInt64) {
        precondition(!counts.isEmpty && counts.allSatisfy { $0 >= 1 } && batchSize >= 1,
                     "MixedBatchSampler: counts \(counts), batch size \(batchSize)")
        self.counts = counts
        self.seed = seed
        let t = counts.count
        perTask = (0..<t).map { max(1, batchSize / t + ($0 < batchSize % t ? 1 : 0)) }
        cursors = Array(repeating: 0, count: t)
        passes = Array(repeating: 0, count: t)
        orders = (0..<t).map { Self.order(task: $0, pass: 0, count: counts[$0], seed: seed) }
    }

    /// Batches in one epoch: `ceil(sum(counts) / batchSize)`.
    public func stepsPerEpoch(batchSize: Int) -> Int {
        max(1, (counts.reduce(0, +) + batchSize - 1) / batchSize)
    }

    /// The next mixed batch: one `(task, indices)` entry per task, in task order.
    public mutating func next() -> [(task: Int, indices: [Int])] {
        (0..<counts.count).map { t in
            var out: [Int] = []
            out.reserveCapacity(perTask[t])
            while out.count < perTask[t] {
                if cursors[t] == counts[t] {
                    passes[t] += 1
                    cursors[t] = 0
                    orders[t] = Self.order(task: t, pass: passes[t], count: counts[t], seed: seed)
                }
                out.append(orders[t][cursors[t]])
                cursors[t] += 1
            }
            return (t, out)
        }
    }

    /// Where each task's stream stands (for checkpoints): position in the current pass and the pass number.
    public struct State: Codable, Sendable, Equatable {
        public var cursors: [Int]
        public var passes: [Int]
    }

    /// The sampler's position; ``restore(_:)`` continues from it exactly.
    public var state: State { State(cursors: cursors, passes: passes) }

    /// Continues from a saved ``state``.
    /// - Throws: `ConfigError.invalid` when the state does not fit these task sizes.
    public mutating func restore(_ state: State) throws {
        guard state.cursors.count == counts.count, state.passes.count == counts.count,
              zip(state.cursors, counts).allSatisfy({ $0 >= 0 && $0 <= $1 }), state.passes.allSatisfy({ $0 >= 0 }) else {
            throw ConfigError.invalid(option: "--resume", expected: "a sampler state for \(counts.count) tasks of sizes \(counts)",
                                      got: "cursors \(state.cursors), passes \(state.passes)")
        }
        cursors = state.cursors
        passes = state.passes
        orders = (0..<counts.count).map { Self.order(task: $0, pass: passes[$0], count: counts[$0], seed: seed) }
    }

    private static func order(task: Int, pass: Int, count: Int, seed: UInt64) -> [Int] {
        var rng = SeededRNG(seed: seed &+ UInt64(task + 1) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(pass) &* 0xBF58_476D_1CE4_E5B9)
        return rng.permutation(count)
    }
}
