// TapsTraining: a settle whose active set is empty re-fits the head as the linear probe trains it, on the backbone's
// cached features (docs/method.md "Settle phase").
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// Runs the head unchanged and keeps its input: the features `[N, F]` the head reads.
private final class HeadInputTap: Layer {
    let head: Linear
    var input: Tensor?
    init(_ head: Linear) { self.head = head }
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        return head.forward(x, mode: mode)
    }
    func backward(_ dOut: Tensor) -> Tensor { head.backward(dOut) }
    var parameters: [Parameter] { head.parameters }
}

/// Features `[count, width]` of one split, row `i` for image `i`, with the labels.
private struct FeatureTable {
    var rows: [Float]
    var labels: [Int]
    let width: Int

    /// Rows `indices` as a batch `[indices.count, width]`.
    func batch(_ indices: [Int]) -> Tensor {
        Tensor(shape: [indices.count, width]) { out in
            rows.withUnsafeBufferPointer { src in
                for (r, i) in indices.enumerated() {
                    (out.baseAddress! + r * width).update(from: src.baseAddress! + i * width, count: width)
                }
            }
        }
    }
}

/// The head of a network whose backbone is frozen, with the backbone's output for every training and validation
/// image computed once: a linear probe (or a settle that trains only the head) then costs one head GEMM per step
/// instead of a forward and backward pass through the network (docs/method.md "Settle phase"). Features `[N, F]`
/// (`F` = the head's `in_features`), one row per image of the split.
///
/// References: Wallingford et al., "Task Adaptive Parameter Sharing for Multi-Task Learning", CVPR 2022, §4 (the
/// linear-probe baseline: only the head trains on the frozen base).
final class HeadFeatureCache {
    /// Largest cache built (bytes of float32 features of the training and validation images); above it the head
    /// trains through the network as usual.
    static let maximumBytes = 512 << 20

    let head: Linear
    private let train: FeatureTable
    private let validation: FeatureTable

    /// Whether `member`'s head can train on cached features: a network without BatchNorm or dropout (its features do
    /// not depend on the batch) whose head is a `Linear` and whose only trainable parameters are the head's, no
    /// augmentation, and features of at most ``maximumBytes``. Returns the head, or nil. `gatesOff`: answer for the
    /// state with every gate off and frozen (the gates' scores and deltas not trained), whatever the gates are now.
    static func cacheableHead(of member: RunMember, augmentation: Augmentation,
                              gatesOff: Bool = false) -> (network: Sequential, head: Linear)? {
        guard let task = member.task, let network = member.network as? Sequential,
              let head = layers(of: Linear.self, in: network).first(where: { $0.moduleName == task.headName }),
              batchNormLayers(in: network).isEmpty, dropoutLayers(in: network).isEmpty, augmentation == .none
        else { return nil }
        let gateParameters = gatesOff ? member.gatedLayers.flatMap { [$0.score, $0.delta] } : []
        let headParameters = Set((head.parameters + gateParameters).map { ObjectIdentifier($0) })
        let (bytes, overflow) = (member.train.count + member.validation.count).multipliedReportingOverflow(by: 4 * head.inFeatures)
        guard network.parameters.allSatisfy({ !$0.requiresGrad || headParameters.contains(ObjectIdentifier($0)) }),
              !overflow, bytes <= maximumBytes
        else { return nil }
        return (network, head)
    }

    /// Runs the network over `member`'s training images in `trainingBatches` (training mode, each image once) and its
    /// validation images in the fixed evaluation batches (inference mode, as ``evaluate(_:on:normalization:progress:)``
    /// does), keeping the head's input.
    /// - Throws: the source's error naming an image that cannot be read; ``RunLoopError`` if the head's input is not
    ///   `[N, in_features]`.
    init(member: RunMember, network: Sequential, head: Linear, trainingBatches: [[Int]], normalization: Normalization) throws {
        self.head = head
        let tap = HeadInputTap(head)
        guard let task = member.task, network.replaceLayer(named: task.headName, with: tap) else {
            throw RunLoopError.unexpectedFeatures(expected: head.inFeatures, got: [])
        }
        defer { network.replaceLayer(named: task.headName, with: head) }
        let count = member.validation.count
        train = try Self.features(of: member.train, batches: trainingBatches, mode: .training, network: network, tap: tap,
                                  normalization: normalization)
        validation = try Self.features(of: member.validation, batches: stride(from: 0, to: count, by: evaluationBatchSize).map {
            Array($0..<min($0 + evaluationBatchSize, count))
        }, mode: .inference, network: network, tap: tap, normalization: normalization)
    }

    /// One optimizer step of the head on the training images `indices` (a batch `[B, F]` of cached features, logits
    /// `[B, classes]`): softmax cross-entropy, backward, `optimizer`
    /// (which holds the head's parameters) at `learningRate`. The result is ``trainStep(_:optimizer:settings:sharing:dataParallel:)``'s
    /// for a network whose only trainable layer is the head: the same loss, count, correct and gradients.
    func step(_ indices: [Int], optimizer: any Optimizer, learningRate: Float, gatedLayers: [GatedLayer],
              penalty: PenaltyKind) -> StepResult {
        head.zeroGrad()
        let ce = softmaxCrossEntropy(logits: head.forward(train.batch(indices), mode: .training),
                                     labels: indices.map { train.labels[$0] })
        guard ce.loss.isFinite else { return .nonFinite(loss: ce.loss) }
        _ = head.backward(ce.gradient)
        optimizer.step(learningRate: learningRate)
        return .completed([SubBatchResult(
            taskLoss: ce.loss, penalty: SparsityPenalty.value(gatedLayers, kind: penalty), correct: ce.correct,
            count: indices.count, scoreTaskGradients: gatedLayers.map { Double($0.score.grad.storage[0]) })])
    }

    /// Accuracy (0...1) of the head on the cached validation features (nil when there are no validation images).
    func validationAccuracy() -> Double? {
        guard !validation.labels.isEmpty else { return nil }
        var right = 0
        for start in stride(from: 0, to: validation.labels.count, by: evaluationBatchSize) {
            let rows = Array(start..<min(start + evaluationBatchSize, validation.labels.count))
            right += softmaxCrossEntropy(logits: head.forward(validation.batch(rows), mode: .inference),
                                         labels: rows.map { validation.labels[$0] }).correct
        }
        return Double(right) / Double(validation.labels.count)
    }

    /// The head's input for every image of `source`, computed in `batches` (each image once) with `mode`.
    private static func features(of source: any ImageBatchSource, batches: [[Int]], mode: ForwardMode, network: any Layer,
                                 tap: HeadInputTap, normalization: Normalization) throws -> FeatureTable {
        let width = tap.head.inFeatures
        var rows = [Float](repeating: 0, count: source.count * width)
        let stream = BatchStream(source: source, batches: batches, normalization: normalization, depth: 2)
        var b = 0
        while let (x, _) = try stream.next() {
            _ = network.forward(x, mode: mode)
            guard let f = tap.input, f.count == batches[b].count * width else {
                throw RunLoopError.unexpectedFeatures(expected: width, got: tap.input?.shape ?? [])
            }
            f.withBuffer { fp in
                rows.withUnsafeMutableBufferPointer { out in
                    for (r, i) in batches[b].enumerated() {
                        (out.baseAddress! + i * width).update(from: fp.baseAddress! + r * width, count: width)
                    }
                }
            }
            b += 1
        }
        return FeatureTable(rows: rows, labels: source.labels, width: width)
    }
}

extension RunLoop {
    /// The batches of the run's first epoch, flattened over the members (a single task: its index lists).
    var firstEpochBatches: [[Int]] { adapter.batches(epoch: 1).flatMap { $0.map(\.indices) } }

    /// A linear probe's cache (``HeadFeatureCache``): a single-task probe run in one process whose head is cacheable.
    /// Its features come from the first epoch's batches, as the settle's re-fit computes them, so a TAPS run that
    /// settles with every gate off exports the probe's head bit for bit (in one process: a data-parallel probe
    /// trains through the network and all-reduces its gradients, so it agrees to rounding).
    func probeFeatureCache() -> HeadFeatureCache? {
        guard config.mode == .probe, members.count == 1, dataParallel == nil, config.path == nil,
              let member = members.first,
              let (network, head) = HeadFeatureCache.cacheableHead(of: member, augmentation: augmentation)
        else { return nil }
        do {
            let cache = try HeadFeatureCache(member: member, network: network, head: head, trainingBatches: firstEpochBatches,
                                             normalization: adapter.base.normalization)
            notice(.info, "the backbone is frozen: its features of the \(member.train.count + member.validation.count) training "
                + "and validation images are computed once and the head trains on them")
            return cache
        } catch {
            notice(.info, "the head trains through the network (caching the backbone's features failed: \(error))")
            return nil
        }
    }

    /// The network and head ``refitHeadAsProbe()`` would re-fit: a single-task run with model selection whose every
    /// gate is off (or, with `gatesOff`, would be once they are off and frozen: a path plans its steps with this
    /// before its every-gate-off set exists), with a cacheable head
    /// (``HeadFeatureCache/cacheableHead(of:augmentation:gatesOff:)``) of the shape it was built with; nil otherwise.
    func probeRefitHead(gatesOff: Bool = false) -> (network: Sequential, head: Linear)? {
        guard members.count == 1, adapter.selectsBestEpoch,
              let member = members.first, let task = member.task, gatesOff || task.activeIndices.isEmpty,
              let (network, head) = HeadFeatureCache.cacheableHead(of: member, augmentation: augmentation, gatesOff: gatesOff),
              head.parameters.allSatisfy({ member.initialHead[$0.name]?.shape == $0.value.shape })
        else { return nil }
        return (network, head)
    }

    /// What ``refitHeadAsProbe()`` did.
    enum HeadRefit {
        /// The set is not empty, or more than the head would train: nothing changed.
        case notApplicable
        /// Reading the images failed or the loss was not finite: the run failed (``fail(_:)``).
        case failed
        /// The head holds the re-fit's selected epoch: its validation accuracy, that epoch, the epochs scored (a partial
        /// last epoch under `--steps` is not), the steps and the seconds it took.
        case done(validation: Double, epoch: Int, epochs: Int, steps: Int, seconds: Double)
    }

    /// When every gate of a single-task run is off and nothing but the head trains, re-fits the head from its initial
    /// weights exactly as `--mode probe` trains it: the same batches, learning-rate schedule (cosine over the run's
    /// steps), momentum and model selection over every epoch of the run, on features computed once
    /// (``HeadFeatureCache``; docs/method.md "Settle phase"). The head had co-adapted with deltas that are now off;
    /// the probe on the frozen backbone is the model an empty set stands for, and with the features cached it costs
    /// one forward pass over the data.
    ///
    /// Applies when ``probeRefitHead(gatesOff:)`` finds the head (no BatchNorm, dropout or augmentation,
    /// `--train-biases off`). Every rank of a data-parallel run computes the same re-fit over the whole split, so the
    /// ranks agree without communicating.
    func refitHeadAsProbe() -> HeadRefit {
        guard let member = members.first, let (network, head) = probeRefitHead() else { return .notApplicable }
        let started = Date()
        let cache: HeadFeatureCache
        do {
            cache = try HeadFeatureCache(member: member, network: network, head: head, trainingBatches: firstEpochBatches,
                                         normalization: adapter.base.normalization)
        } catch {
            fail("reading the images of \(member.name) failed while caching features for the head's re-fit: \(error)")
            return .failed
        }
        let current = head.parameters.map(\.value)
        for p in head.parameters { p.value = member.initialHead[p.name] ?? p.value }
        let optimizer = SGD(parameters: head.parameters.filter(\.requiresGrad), momentum: Float(config.momentum), weightDecay: 0)
        let schedule = CosineSchedule(peak: Float(config.learningRate), totalSteps: totalSteps)
        var refitStep = 0
        var chosen: (accuracy: Double, epoch: Int, head: [Tensor])?
        var scored = 0
        epochs: for e in 1...adapter.epochs {
            var correct = 0, seen = 0
            for batch in adapter.batches(epoch: e).flatMap({ $0.map(\.indices) }) {
                if refitStep >= totalSteps { break epochs }   // as the run loop: a partial last epoch is not scored
                switch cache.step(batch, optimizer: optimizer, learningRate: schedule.learningRate(at: refitStep),
                                  gatedLayers: [], penalty: config.penalty) {
                case .nonFinite(let loss):
                    fail("loss became \(loss) in the head's re-fit (epoch \(e)); lower --lr (now \(config.learningRate)) or check the data")
                    return .failed
                case .completed(let results):
                    refitStep += 1
                    correct += results[0].correct
                    seen += results[0].count
                }
            }
            guard seen > 0 else { break epochs }
            scored += 1
            let accuracy = cache.validationAccuracy() ?? Double(correct) / Double(seen)
            // Ties go to the later epoch, as the probe's model selection (``RunLoop``) takes them.
            if accuracy >= (chosen?.accuracy ?? -1) { chosen = (accuracy, e, head.parameters.map(\.value)) }
        }
        guard let chosen else {
            for (p, v) in zip(head.parameters, current) { p.value = v }
            return .notApplicable
        }
        for (p, v) in zip(head.parameters, chosen.head) { p.value = v }
        return .done(validation: chosen.accuracy, epoch: chosen.epoch, epochs: scored, steps: refitStep,
                     seconds: Date().timeIntervalSince(started))
    }

    /// At the settle (not of a path run): ``refitHeadAsProbe()``, and when it ran, the re-fit is the selected model.
    /// - Returns: whether the run ends here (the re-fit replaces the settle epochs, which would only train this head,
    ///   or it failed); `false` leaves the settle as it is.
    func refitHeadIfEveryGateIsOff() -> Bool {
        guard config.path == nil else { return false }
        switch refitHeadAsProbe() {
        case .notApplicable: return false
        case .failed: return true
        case .done(let accuracy, let refitEpoch, let epochs, let steps, let seconds):
            validation[0] = accuracy
            best = (accuracy, epoch, [accuracy], [members[0].network.parameters.map(\.value)])
            headRefit = (refitEpoch, steps)
            notice(.info, String(format: "every gate is off: the head re-fits from its initial weights on the backbone's cached "
                + "features as --mode probe trains it (%d epochs, %d steps, %.1f s); validation %.4f at its epoch %d. "
                + "The settle ends here: its %d epoch(s) would only train this head", epochs, steps, seconds,
                accuracy, refitEpoch, adapter.epochs - epoch + 1), views: [members[0].view])
            return true
        }
    }
}

/// Internal inconsistencies of the run loop that end a run with a message instead of a trap.
enum RunLoopError: Error, CustomStringConvertible {
    /// The head read features of another width than its `in_features`.
    case unexpectedFeatures(expected: Int, got: [Int])

    var description: String {
        switch self {
        case .unexpectedFeatures(let expected, let got): "the head read features of shape \(got), expected [N, \(expected)]"
        }
    }
}
