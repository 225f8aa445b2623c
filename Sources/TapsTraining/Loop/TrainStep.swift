// TapsTraining: what happens in one optimizer step, for every mode (single task, joint stage 1, fully joint).
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// One task's share of a global batch: its network, its gated layers (empty for plain networks) and its images.
public struct SubBatch {
    /// The task's network: logits `[N, classes]` from images `[N, C, H, W]`.
    public var network: any Layer
    /// The network's TAPS-gated layers in network order (empty for joint stage 1's plain networks).
    public var gatedLayers: [GatedLayer]
    /// Images `[N, C, H, W]`, normalised for the base.
    public var images: Tensor
    /// Class indices in `0..<classes`, `N` of them.
    public var labels: [Int]
    /// Data-parallel runs: images of the whole global sub-batch of which `images` is this rank's shard (nil: all).
    public var globalCount: Int?

    public init(network: any Layer, gatedLayers: [GatedLayer], images: Tensor, labels: [Int], globalCount: Int? = nil) {
        self.network = network; self.gatedLayers = gatedLayers; self.images = images; self.labels = labels
        self.globalCount = globalCount
    }
}

/// The settings of one step (read at the step boundary; docs/method.md "Loss and the penalty update").
public struct StepSettings: Sendable, Equatable {
    /// Sparsity weight lambda.
    public var lambda: Double
    /// Whether the penalty is on (after warm-up, TAPS mode only).
    public var penaltyOn: Bool
    public var penalty: PenaltyKind
    public var penaltyUpdate: SparsityPenalty.Update
    /// Learning rate of this step (after the schedule).
    public var learningRate: Float
    /// Score learning rate / learning rate (1 unless `--score-lr` is set); scales the proximal step.
    public var scoreLearningRateScale: Double

    public init(lambda: Double, penaltyOn: Bool, penalty: PenaltyKind, penaltyUpdate: SparsityPenalty.Update,
                learningRate: Float, scoreLearningRateScale: Double = 1) {
        self.lambda = lambda; self.penaltyOn = penaltyOn; self.penalty = penalty; self.penaltyUpdate = penaltyUpdate
        self.learningRate = learningRate; self.scoreLearningRateScale = scoreLearningRateScale
    }
}

/// Weights shared between the copies of a joint run's networks (joint stage 1: the whole base; fully joint:
/// every `w0`). Copy 0 holds the master values.
public protocol WeightSharing {
    /// Before sub-batch `index`'s forward: copy the master values into that copy.
    func pull(into index: Int)
    /// After sub-batch `index`'s backward: add that copy's gradients of the shared weights to the master's.
    func push(from index: Int)
    /// After every sub-batch: the master's gradients become the mean over the `count` sub-batches.
    func average(over count: Int)
}

/// What one sub-batch contributed to a step.
public struct SubBatchResult: Sendable, Equatable {
    /// Mean softmax cross-entropy of the sub-batch.
    public var taskLoss: Double
    /// `P(s)` of the task's scores at the forward pass (before the update), not multiplied by lambda.
    public var penalty: Double
    public var correct: Int
    public var count: Int
    /// `<G_i, dw_i>` per gated layer: the task part of `dL/ds_i` (before any penalty gradient).
    public var scoreTaskGradients: [Double]
}

/// The outcome of ``trainStep(_:optimizer:settings:sharing:)``.
public enum StepResult {
    /// The step ran; one result per sub-batch, in order.
    case completed([SubBatchResult])
    /// The loss was NaN or infinite; no parameter was updated.
    case nonFinite(loss: Double)
}

/// One optimizer step of TAPS (Wallingford et al., CVPR 2022, Eq. 1-4; docs/method.md "The gated layer" and
/// "Loss and the penalty update"), shared by every training mode:
///
/// ```
/// for each sub-batch t:  forward, L_t = CE(logits_t, y_t), backward   (dw, s get straight-through grads)
/// L = sum_t L_t + lambda * sum_t P(s_t)         (penalty only when settings.penaltyOn)
/// subgradient form: ds += lambda * w_i * sign(s_i) before the optimizer step
/// SGD step on every trainable parameter (deltas, scores, biases/norms, heads; w0 only when it trains)
/// proximal form:    s <- sign(s) * max(|s| - lr * scale * lambda * w_i, 0) after the optimizer step
/// ```
///
/// Data-parallel (``DataParallel``, every rank calls this with its shard of the same global batch): each rank scales
/// its loss gradient by `n_rank / n_global` before the backward pass, one all-reduce sums every trainable gradient
/// (so each rank holds the gradient of the global batch's mean loss, as one process would), and the losses and
/// counts are summed too; the penalty, the optimizer step and the proximal step then run identically on every rank.
///
/// A non-finite loss returns ``StepResult/nonFinite(loss:)`` before any parameter changes.
/// - Parameters:
///   - batch: one ``SubBatch`` per task in the global batch (one for a single task).
///   - optimizer: holds exactly the parameters that train in this mode.
///   - sharing: the joint modes' shared weights (nil for a single task).
///   - dataParallel: the ranks of a data-parallel run (nil: one process; nothing changes).
public func trainStep(_ batch: [SubBatch], optimizer: any Optimizer, settings: StepSettings,
                      sharing: (any WeightSharing)? = nil, dataParallel: DataParallel? = nil) -> StepResult {
    for sub in batch { sub.network.zeroGrad() }
    var results: [SubBatchResult] = []
    for (t, sub) in batch.enumerated() {
        sharing?.pull(into: t)
        let ce = softmaxCrossEntropy(logits: sub.network.forward(sub.images, mode: .training), labels: sub.labels)
        var gradient = ce.gradient
        if dataParallel != nil, let global = sub.globalCount, global > 0 {
            gradient = (Float(sub.labels.count) / Float(global)) * gradient
        }
        _ = sub.network.backward(gradient)   // dL/d(input) is not needed
        sharing?.push(from: t)
        results.append(SubBatchResult(taskLoss: ce.loss, penalty: 0, correct: ce.correct, count: sub.labels.count,
                                      scoreTaskGradients: sub.gatedLayers.map { Double($0.score.grad.storage[0]) }))
    }
    sharing?.average(over: batch.count)
    if let dataParallel { combine(&results, of: batch, optimizer: optimizer, over: dataParallel) }

    let on = settings.penaltyOn
    var loss = 0.0
    for (t, sub) in batch.enumerated() {
        results[t].penalty = SparsityPenalty.value(sub.gatedLayers, kind: settings.penalty)
        loss += results[t].taskLoss + (on ? settings.lambda * results[t].penalty : 0)
    }
    guard loss.isFinite else { return .nonFinite(loss: loss) }
    if on && settings.penaltyUpdate == .subgradient {
        for sub in batch { SparsityPenalty.accumulateGradient(sub.gatedLayers, lambda: settings.lambda, kind: settings.penalty) }
    }
    optimizer.step(learningRate: settings.learningRate)
    if on && settings.penaltyUpdate == .proximal {
        let scoreLR = Double(settings.learningRate) * settings.scoreLearningRateScale
        for sub in batch {
            SparsityPenalty.proximalStep(sub.gatedLayers, lambda: settings.lambda, learningRate: scoreLR,
                                         gain: optimizer.steadyStateGain, kind: settings.penalty)
        }
    }
    return .completed(results)
}

/// Data-parallel: sums every trainable gradient over the ranks (one flat all-reduce), then the sub-batches' losses
/// (weighted by their images) and counts, and reads the score gradients again from the summed gradients.
private func combine(_ results: inout [SubBatchResult], of batch: [SubBatch], optimizer: any Optimizer,
                     over dataParallel: DataParallel) {
    dataParallel.allReduceGradients(optimizer.parameters)
    var totals = results.flatMap { [$0.taskLoss * Double($0.count), Double($0.correct), Double($0.count)] }
    dataParallel.group.allReduceSum(&totals)
    for t in results.indices {
        let count = Int(totals[3 * t + 2])
        results[t].taskLoss = count > 0 ? totals[3 * t] / Double(count) : 0
        results[t].correct = Int(totals[3 * t + 1])
        results[t].count = count
        results[t].scoreTaskGradients = batch[t].gatedLayers.map { Double($0.score.grad.storage[0]) }
    }
}
