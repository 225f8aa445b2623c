// TapsData: seeded mini-batch index sampling.
import TapsTensor

/// Seeded shuffled mini-batches of example indices, reproducible per epoch.
///
/// Each epoch is a permutation of `0..<count` drawn from ``SeededRNG`` seeded with `seed` mixed with the
/// epoch number, cut into batches of `batchSize`. The last partial batch is kept unless `dropLast`.
///
/// ```swift
/// let sampler = BatchSampler(count: 4000, batchSize: 64, seed: 1)
/// for indices in sampler.batches(epoch: 0) { let (x, y) = train.batch(indices, normalization: .digitCNN) }
/// ```
public struct BatchSampler: Sendable, Equatable {
    /// Number of examples to sample from.
    public var count: Int
    /// Examples per batch (≥ 1).
    public var batchSize: Int
    /// Base seed; epoch `e` uses a seed derived from `(seed, e)`.
    public var seed: UInt64
    /// Whether to shuffle; `false` yields `0..<count` in order.
    public var shuffle: Bool
    /// Whether to drop the last batch when it is smaller than `batchSize`.
    public var dropLast: Bool

    /// Creates a sampler. - Precondition: `batchSize >= 1`, `count >= 0`.
    public init(count: Int, batchSize: Int, seed: UInt64, shuffle: Bool = true, dropLast: Bool = false) {
        precondition(batchSize >= 1 && count >= 0, "BatchSampler: batchSize \(batchSize), count \(count)")
        self.count = count
        self.batchSize = batchSize
        self.seed = seed
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// Number of batches per epoch.
    public var batchesPerEpoch: Int { dropLast ? count / batchSize : (count + batchSize - 1) / batchSize }

    /// The batches of epoch `epoch`: each index of `0..<count` appears once (except those in a dropped
    /// last batch).
    public func batches(epoch: Int) -> [[Int]] {
        let order: [Int]
        if shuffle {
            var rng = SeededRNG(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &+ 1) &* 0x9E37_79B9_7F4A_7C15)
            order = rng.permutation(count)
        } else {
            order = Array(0..<count)
        }
        return (0..<batchesPerEpoch).map { b in
            Array(order[(b * batchSize)..<min((b + 1) * batchSize, count)])
        }
    }
}
