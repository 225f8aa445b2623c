// TapsData: the data pipeline for datasets larger than memory: a lazy ImageFolder source with a memory-bounded
// cache of decoded images, and a prefetcher that prepares an epoch's batches on worker threads, in order, a bounded
// number ahead of the training step.
import Dispatch
import Foundation
import TapsTensor

/// Anything the training loop takes labelled batches from: in-memory ``LabeledImages`` or a lazy
/// ``ImageFolderSource``.
public protocol ImageBatchSource: Sendable {
    /// Number of examples.
    var count: Int { get }
    /// Class index of each example.
    var labels: [Int] { get }
    /// Number of classes.
    var classes: Int { get }
    /// Shape of one example `[C, H, W]`.
    var imageShape: [Int] { get }
    /// The examples at `indices` (in that order), augmented with the seed `(seed, epoch, index)` of each image and
    /// normalised: `images` `[B, C, H, W]`, `labels` `[B]`. Deterministic: independent of threads and timing.
    /// - Throws: ``DatasetError`` naming a file that fails to decode (lazy sources without `skipBad`).
    func batch(_ indices: [Int], normalization: Normalization, augmentation: Augmentation, epoch: Int,
               seed: UInt64) throws -> (images: Tensor, labels: [Int])
    /// Whether making a batch decodes files (worth doing ahead on worker threads, ``BatchStream``); false for
    /// images in memory, whose batches cost a copy.
    var decodesOnDemand: Bool { get }
}

extension ImageBatchSource {
    public var decodesOnDemand: Bool { false }
}

extension LabeledImages: ImageBatchSource {}

/// An ImageFolder split decoded on demand with an ``ImageRecipe``, keeping decoded images (at training resolution)
/// in a cache of at most `cacheBytes`; images beyond the budget are decoded again each time they are used, so memory
/// stays bounded however large the dataset. Thread-safe: batches may be made on several threads at once.
///
/// The cache holds the first images decoded until the budget is full and never evicts (an epoch visits every image
/// once, so any eviction policy would miss as often); which images are cached depends on timing, their pixels do not.
public final class ImageFolderSource: ImageBatchSource, @unchecked Sendable {
    /// The files and labels.
    public let list: ImageList
    /// How a file becomes an image.
    public let recipe: ImageRecipe
    /// Cache budget in bytes.
    public let cacheBytes: Int
    /// Replace an undecodable file by the next decodable file of the same class (and count it) instead of throwing.
    public let skipBad: Bool

    private let lock = NSLock()
    private var cache: [[UInt8]?]
    private var cached = 0
    private var bad: [Int: String] = [:]

    /// Creates a source; nothing is decoded yet.
    /// - Parameter cacheMB: the cache budget in MB (0: no cache).
    public init(list: ImageList, recipe: ImageRecipe, cacheMB: Int, skipBad: Bool = false) {
        self.list = list
        self.recipe = recipe
        self.cacheBytes = max(0, cacheMB) << 20
        self.skipBad = skipBad
        cache = [[UInt8]?](repeating: nil, count: list.count)
    }

    public var count: Int { list.count }
    public var labels: [Int] { list.labels }
    public var classes: Int { list.classes }
    public var imageShape: [Int] { [recipe.channels, recipe.size, recipe.size] }
    public var decodesOnDemand: Bool { true }

    /// Bytes of decoded images held in the cache now.
    public var cachedBytes: Int { lock.lock(); defer { lock.unlock() }; return cached * recipe.imageSize }

    /// Files that failed to decode so far (with `skipBad`), with their messages, by index.
    public var badFiles: [Int: String] { lock.lock(); defer { lock.unlock() }; return bad }

    /// Pixels `[C, size, size]` of example `index`, from the cache or decoded (and cached while the budget allows).
    /// - Throws: ``DatasetError`` naming the file, unless `skipBad` (then the next decodable image of the class).
    public func pixels(of index: Int) throws -> [UInt8] {
        lock.lock()
        if let hit = cache[index] { lock.unlock(); return hit }
        lock.unlock()
        let pixels: [UInt8]
        do {
            pixels = try recipe.load(list.files[index]).pixels
        } catch {
            guard skipBad else { throw error }
            lock.lock(); bad[index] = "\(error)"; lock.unlock()
            return try substitute(for: index)
        }
        lock.lock()
        if cache[index] == nil && (cached + 1) * recipe.imageSize <= cacheBytes {
            cache[index] = pixels; cached += 1
        }
        lock.unlock()
        return pixels
    }

    /// The next decodable image of the same class after `index` (cyclically); deterministic, since whether a file
    /// decodes depends on its bytes only.
    private func substitute(for index: Int) throws -> [UInt8] {
        let label = list.labels[index]
        var j = (index + 1) % count
        while j != index {
            if list.labels[j] == label, let p = try? recipe.load(list.files[j]).pixels { return p }
            j = (j + 1) % count
        }
        throw DatasetError.malformed(file: list.files[index], field: "class \(label)", expected: "at least one decodable image",
                                     found: "none (--skip-bad)")
    }

    public func batch(_ indices: [Int], normalization: Normalization, augmentation: Augmentation, epoch: Int,
                      seed: UInt64) throws -> (images: Tensor, labels: [Int]) {
        var out = [UInt8]()
        out.reserveCapacity(indices.count * recipe.imageSize)
        for i in indices {
            let image = DecodedImage(pixels: try pixels(of: i), channels: recipe.channels, height: recipe.size, width: recipe.size)
            out += augmentation.apply(image, seed: Augmentation.seed(runSeed: seed, epoch: epoch, index: i)).pixels
        }
        let view = LabeledImages(unchecked: out, labels: indices.map { list.labels[$0] }, channels: recipe.channels,
                                 height: recipe.size, width: recipe.size, classes: list.classes)
        return view.batch(Array(0..<indices.count), normalization: normalization)
    }
}

/// Makes an epoch's batches on `workers` background threads, in order, at most `depth` batches ahead of the consumer,
/// so decoding overlaps with the training step and memory stays bounded (`depth` batches of pixels).
///
/// ```swift
/// let batches = BatchSampler(count: source.count, batchSize: 32, seed: seed).batches(epoch: e)
/// let prefetcher = BatchPrefetcher(source: source, batches: batches, normalization: n, augmentation: .cropFlip,
///                                  epoch: e, seed: seed)
/// while let (x, y) = try prefetcher.next() { step(x, y) }      // same tensors as source.batch(batches[k], ...)
/// ```
/// The batches are identical to calling `source.batch` on each index list in order (augmentation is seeded per image
/// and epoch). The workers end by themselves after the last batch; a consumer that stops early must call ``cancel()``
/// (the workers hold the prefetcher until then).
public final class BatchPrefetcher: @unchecked Sendable {
    private let source: any ImageBatchSource
    private let batches: [[Int]]
    private let normalization: Normalization
    private let augmentation: Augmentation
    private let epoch: Int
    private let seed: UInt64
    private let depth: Int
    private let condition = NSCondition()
    private var results: [Int: Result<(images: Tensor, labels: [Int]), any Error>] = [:]
    private var claimed = 0
    private var consumed = 0
    private var cancelled = false
    private var running = 0

    /// Starts `workers` threads preparing `batches`.
    /// - Parameters:
    ///   - workers: decoding threads (≥ 1).
    ///   - depth: batches prepared ahead of ``next()`` at most (≥ 1).
    public init(source: any ImageBatchSource, batches: [[Int]], normalization: Normalization, augmentation: Augmentation,
                epoch: Int, seed: UInt64, workers: Int = 2, depth: Int = 4) {
        self.source = source
        self.batches = batches
        self.normalization = normalization
        self.augmentation = augmentation
        self.epoch = epoch
        self.seed = seed
        self.depth = max(1, depth)
        let n = max(1, workers)
        running = n
        for w in 0..<n {
            let thread = Thread { [self] in work() }
            thread.name = "taps.prefetch.\(w)"
            thread.start()
        }
    }

    /// Batches prepared and not yet taken (at most `depth`).
    public var ready: Int { condition.lock(); defer { condition.unlock() }; return results.count }

    /// The next batch in order, waiting for it if needed; nil after the last one.
    /// - Throws: the error that making this batch threw (e.g. a ``DatasetError`` naming a bad file).
    public func next() throws -> (images: Tensor, labels: [Int])? {
        condition.lock()
        defer { condition.unlock() }
        guard consumed < batches.count, !cancelled else { return nil }
        while results[consumed] == nil { condition.wait() }
        let result = results.removeValue(forKey: consumed)!
        consumed += 1
        condition.broadcast()
        return try result.get()
    }

    /// Stops the workers (after the batch each is making) and discards prepared batches.
    public func cancel() {
        condition.lock()
        cancelled = true
        results.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while !cancelled && claimed < batches.count && claimed >= consumed + depth { condition.wait() }
            guard !cancelled, claimed < batches.count else {
                running -= 1
                condition.unlock()
                return
            }
            let k = claimed
            claimed += 1
            condition.unlock()
            let result = Result { try source.batch(batches[k], normalization: normalization, augmentation: augmentation,
                                                   epoch: epoch, seed: seed) }
            condition.lock()
            if !cancelled { results[k] = result }
            condition.broadcast()
            condition.unlock()
        }
    }
}

/// The batches of one pass over a source, in order: made on the caller's thread when the source holds its images
/// in memory, ahead on worker threads by a ``BatchPrefetcher`` when it decodes files (``ImageBatchSource/decodesOnDemand``).
/// Either way the tensors are those of `source.batch(batches[k], ...)`, so the choice never changes a result.
/// Dropping the stream stops its workers.
public final class BatchStream {
    private let source: any ImageBatchSource
    private let batches: [[Int]]
    private let normalization: Normalization
    private let augmentation: Augmentation
    private let epoch: Int
    private let seed: UInt64
    private let prefetcher: BatchPrefetcher?
    private var position = 0

    /// - Parameters:
    ///   - batches: the index lists, in the order ``next()`` returns them.
    ///   - workers, depth: as ``BatchPrefetcher``'s (used only for sources that decode on demand).
    public init(source: any ImageBatchSource, batches: [[Int]], normalization: Normalization,
                augmentation: Augmentation = .none, epoch: Int = 0, seed: UInt64 = 0, workers: Int = 2, depth: Int = 4) {
        self.source = source; self.batches = batches; self.normalization = normalization
        self.augmentation = augmentation; self.epoch = epoch; self.seed = seed
        prefetcher = source.decodesOnDemand && !batches.isEmpty
            ? BatchPrefetcher(source: source, batches: batches, normalization: normalization, augmentation: augmentation,
                              epoch: epoch, seed: seed, workers: workers, depth: depth)
            : nil
    }

    deinit { prefetcher?.cancel() }

    /// The next batch (`images` `[B, C, H, W]`, `labels` `[B]`), nil after the last.
    /// - Throws: the source's error for this batch (a ``DatasetError`` naming a file that fails to decode).
    public func next() throws -> (images: Tensor, labels: [Int])? {
        if let prefetcher { return try prefetcher.next() }
        guard position < batches.count else { return nil }
        defer { position += 1 }
        return try source.batch(batches[position], normalization: normalization, augmentation: augmentation,
                                epoch: epoch, seed: seed)
    }
}
