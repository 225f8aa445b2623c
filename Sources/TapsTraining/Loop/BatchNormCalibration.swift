// TapsTraining: re-estimate BatchNorm running statistics of a task network on its own training images.
import TapsData
import TapsNN
import TapsTensor

/// Every layer of type `T` reachable from `layer` through `children`, in network order (depth first).
func layers<T>(of type: T.Type, in layer: any Layer) -> [T] {
    var found: [T] = []
    func walk(_ l: any Layer) {
        if let match = l as? T { found.append(match) }
        for child in l.children { walk(child) }
    }
    walk(layer)
    return found
}

/// Every `BatchNorm2d` reachable from `layer` through `children`, in network order.
public func batchNormLayers(in layer: any Layer) -> [BatchNorm2d] { layers(of: BatchNorm2d.self, in: layer) }

/// Re-estimates the running mean and variance of every `BatchNorm2d` in `network` from `maxBatches x batchSize`
/// images of `data` (``recalibrationIndices(labels:count:)``: a stratified sample in a shuffled order, the same every
/// time), as a cumulative average (PyTorch `momentum=None`; cf. `torch.optim.swa_utils.update_bn`). Weights and
/// biases are untouched.
///
/// Why a stratified, shuffled sample: an ImageFolder lists its files class by class, so the first 1,024 images of a
/// large folder are all of one class; statistics from them (measured: 50,000 images, EfficientNet-Lite0, training
/// batches at 97-100% accuracy) gave 23% validation accuracy.
///
/// Why: a pretrained base's running statistics describe its own data (ImageNet for EfficientNet-Lite0). With
/// momentum 0.1 they need hundreds of steps to follow a new task's activations, so a short adaptation run
/// evaluates in inference mode with statistics the network never trained with (seen: 97% train vs 49% validation
/// accuracy on ucidigits after 96 steps). Re-estimating before each validation and before the test removes that gap.
/// - Returns: the number of BatchNorm layers recalibrated (0 for networks without BatchNorm: nothing runs).
@discardableResult
/// - Parameter progress: called after each batch with (images done, images the recalibration uses).
public func recalibrateBatchNorm(_ network: any Layer, on data: LabeledImages, normalization: Normalization,
                                 batchSize: Int = 64, maxBatches: Int = 16,
                                 progress: ((Int, Int) -> Void)? = nil) -> Int {
    // In-memory images never fail to make a batch.
    (try? recalibrateBatchNorm(network, on: data as any ImageBatchSource, normalization: normalization,
                               batchSize: batchSize, maxBatches: maxBatches, progress: progress)) ?? 0
}

/// ``recalibrateBatchNorm(_:on:normalization:batchSize:maxBatches:progress:)`` for any source (files are decoded
/// ahead on worker threads).
/// - Throws: the source's error naming a file that fails to decode (the statistics are then partly re-estimated;
///   the run stops anyway).
@discardableResult
public func recalibrateBatchNorm(_ network: any Layer, on data: any ImageBatchSource, normalization: Normalization,
                                 batchSize: Int = 64, maxBatches: Int = 16,
                                 progress: ((Int, Int) -> Void)? = nil) throws -> Int {
    let norms = batchNormLayers(in: network)
    guard !norms.isEmpty, data.count > 0 else { return norms.count }
    // Every process of a data-parallel run recalibrates on the same images by itself: no statistics are exchanged.
    let saved = norms.map(\.momentum), reducers = norms.map(\.statisticsReducer)
    for bn in norms {
        bn.momentum = nil
        bn.statisticsReducer = nil
        bn.runningMean.value.zero()
        bn.runningVar.value = Tensor(repeating: 1, shape: bn.runningVar.value.shape)
        bn.numBatchesTracked.value.zero()
    }
    defer {
        for (bn, m) in zip(norms, saved) { bn.momentum = m }
        for (bn, r) in zip(norms, reducers) { bn.statisticsReducer = r }
    }
    let order = recalibrationIndices(labels: data.labels, count: batchSize * maxBatches)
    let total = order.count
    let batches = stride(from: 0, to: total, by: batchSize).map { Array(order[$0..<min($0 + batchSize, total)]) }
    let stream = BatchStream(source: data, batches: batches, normalization: normalization)
    var done = 0
    while let (x, y) = try stream.next() {
        _ = network.forward(x, mode: .training)
        done += y.count
        progress?(done, total)
    }
    return norms.count
}

/// The images BatchNorm recalibration uses, in the order it uses them: a stratified sample of `count` of the
/// examples with `labels` (every class in proportion, ``stratifiedSubsetIndices(labels:limit:seed:)``) in a shuffled
/// order, both with a fixed seed so every recalibration of a run (and of a resumed run) sees the same batches.
/// - Returns: `min(count, labels.count)` distinct indices.
public func recalibrationIndices(labels: [Int], count: Int) -> [Int] {
    let chosen = stratifiedSubsetIndices(labels: labels, limit: max(0, count), seed: 0x4243_414C)  // "BCAL"
    var rng = SeededRNG(seed: 0x4243_414C)
    return rng.permutation(chosen.count).map { chosen[$0] }
}
