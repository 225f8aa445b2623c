// TapsTraining: accuracy of a network on a split, the same way for training, `taps eval` and suites.
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// Images per evaluation batch. Fixed, so `taps eval` reproduces training's numbers exactly.
public let evaluationBatchSize = 256

/// Accuracy and mean loss of `network` on `data` in inference mode, in fixed batches of
/// ``evaluationBatchSize`` (the same batching every time, so a reloaded export reproduces training's numbers
/// bit for bit).
/// - Parameters:
///   - network: logits `[N, classes]` from images `[N, C, H, W]`.
///   - progress: called after each batch with (images done, images in all).
/// - Returns: accuracy in 0...1 and mean cross-entropy; `(0, 0)` for an empty split.
public func evaluate(_ network: any Layer, on data: LabeledImages, normalization: Normalization,
                     progress: ((Int, Int) -> Void)? = nil) -> (accuracy: Double, loss: Double) {
    // In-memory images never fail to make a batch.
    (try? evaluate(network, on: data as any ImageBatchSource, normalization: normalization, progress: progress)) ?? (0, 0)
}

/// ``evaluate(_:on:normalization:progress:)`` for a task network (TAPS-gated base + head).
public func evaluate(_ task: TaskNetwork, on data: LabeledImages, normalization: Normalization,
                     progress: ((Int, Int) -> Void)? = nil) -> (accuracy: Double, loss: Double) {
    evaluate(task.network, on: data, normalization: normalization, progress: progress)
}

/// ``evaluate(_:on:normalization:progress:)`` for any source, in the same fixed batches; files are decoded ahead on
/// worker threads (``BatchStream``).
/// - Throws: the source's error naming a file that fails to decode.
public func evaluate(_ network: any Layer, on data: any ImageBatchSource, normalization: Normalization,
                     progress: ((Int, Int) -> Void)? = nil) throws -> (accuracy: Double, loss: Double) {
    guard data.count > 0 else { return (0, 0) }
    let batches = stride(from: 0, to: data.count, by: evaluationBatchSize).map {
        Array($0..<min($0 + evaluationBatchSize, data.count))
    }
    let stream = BatchStream(source: data, batches: batches, normalization: normalization, depth: 2)
    var correct = 0, done = 0
    var lossSum = 0.0
    while let (x, y) = try stream.next() {
        let r = softmaxCrossEntropy(logits: network.forward(x, mode: .inference), labels: y)
        correct += r.correct
        lossSum += r.loss * Double(y.count)
        done += y.count
        progress?(done, data.count)
    }
    return (Double(correct) / Double(data.count), lossSum / Double(data.count))
}
