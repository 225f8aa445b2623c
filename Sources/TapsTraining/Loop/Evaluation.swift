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
    guard data.count > 0 else { return (0, 0) }
    var correct = 0
    var lossSum = 0.0
    var start = 0
    while start < data.count {
        let idx = Array(start..<min(start + evaluationBatchSize, data.count))
        let (x, y) = data.batch(idx, normalization: normalization)
        let r = softmaxCrossEntropy(logits: network.forward(x, mode: .inference), labels: y)
        correct += r.correct
        lossSum += r.loss * Double(idx.count)
        start += idx.count
        progress?(start, data.count)
    }
    return (Double(correct) / Double(data.count), lossSum / Double(data.count))
}

/// ``evaluate(_:on:normalization:progress:)`` for a task network (TAPS-gated base + head).
public func evaluate(_ task: TaskNetwork, on data: LabeledImages, normalization: Normalization,
                     progress: ((Int, Int) -> Void)? = nil) -> (accuracy: Double, loss: Double) {
    evaluate(task.network, on: data, normalization: normalization, progress: progress)
}
