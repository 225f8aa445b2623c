// TapsTraining: the training loop. Runs on the caller's thread (a background serial queue in the apps);
// talks to the outside world only through TrainingControl (in) and MetricsStore (out).
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// Trains one task on a pretrained base with TAPS, full fine-tuning or a linear probe
/// (taps-method.md §3, §5, §6), writes the run folder and reports through a ``MetricsStore``.
///
/// Run folder (`config.outputDirectory`): `metrics.jsonl` (every event), `config.json`, `summary.json`,
/// `task.safetensors` (the compact task export) and `snapshot-stepNNNNNN.{json,csv,svg}` (active-layer
/// maps on request and at the end). Every file but the growing JSONL is written atomically.
///
/// Model selection: the epoch with the best validation accuracy after warm-up (any epoch when the run
/// has no post-warm-up epoch) is restored before the test evaluation and the export.
public final class Trainer: @unchecked Sendable {
    public let config: TrainingConfig
    public let store: MetricsStore
    public let control: TrainingControl
    public let base: BaseModel
    public let data: TaskData
    public let task: TaskNetwork
    /// Training and validation parts of the task's training split.
    public let trainSet: LabeledImages
    public let validationSet: LabeledImages
    private let runDirectory: URL
    private let optimizer: SGD
    private let stepsPerEpoch: Int
    private var lambdaHistory: [LambdaChange] = []
    private var step = 0
    private var epoch = 0
    private var lastTrainAccuracy: Double?
    private var lastValidationAccuracy: Double?

    /// Loads the task and the base and builds the task network. Takes about a second.
    /// - Throws: `ConfigError` for bad options or an unknown task, `DatasetError` / `SafeTensorsError` for
    ///   unreadable files, and errors creating the run folder.
    public init(config: TrainingConfig, store: MetricsStore, control: TrainingControl) throws {
        try config.validate()
        self.config = config
        self.store = store
        self.control = control
        if let t = config.threads { BLASThreads.set(t) }
        base = try BaseModel.load(for: config)
        data = try loadTask(config: config, base: base)
        var split = trainValidationSplit(data.train, validationFraction: config.validationFraction, seed: config.seed)
        if let limit = config.trainLimit, limit < split.train.count {
            split.train = applyTrainLimit(split.train, limit: limit, seed: config.seed)
        }
        trainSet = split.train
        validationSet = split.validation
        var rng = SeededRNG(seed: config.seed)
        task = try base.taskNetwork(classes: data.classes, mode: config.mode, tau: config.tau,
                                    initialScore: config.initialScore, rng: &rng)
        optimizer = SGD(parameters: task.trainableParameters, momentum: Float(config.momentum), weightDecay: 0)
        if let scoreLR = config.scoreLearningRate {
            for g in task.gatedLayers { optimizer.setLearningRateScale(Float(scoreLR / config.learningRate), for: g.score) }
        }
        stepsPerEpoch = (trainSet.count + config.batchSize - 1) / config.batchSize
        runDirectory = URL(fileURLWithPath: config.outputDirectory)
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try store.mirror(to: runDirectory.appendingPathComponent("metrics.jsonl"))
        try writeAtomically(try makeJSONEncoder().encode(config), to: runDirectory.appendingPathComponent("config.json"))
    }

    /// Total optimizer steps the run will take (respecting `maxSteps`).
    public var totalSteps: Int { min(stepsPerEpoch * config.epochs, config.maxSteps ?? Int.max) }

    /// Layer descriptions in heatmap order.
    public var layerInfos: [LayerInfo] {
        task.gatedLayers.enumerated().map { i, g in
            LayerInfo(index: i, name: g.name, shape: g.base.weight.value.shape, parameters: g.weightCount)
        }
    }

    // MARK: - The loop

    /// Trains, selects, evaluates and exports. Blocks until done, stopped or failed; never throws:
    /// failures (NaN/Inf loss, I/O errors) end the run with status `failed` and a message.
    @discardableResult
    public func run() -> RunSummary {
        let started = Date()
        let schedule = CosineSchedule(peak: Float(config.learningRate), totalSteps: totalSteps)
        var lambda = control.lambda
        lambdaHistory = [LambdaChange(step: 1, lambda: lambda)]
        store.append(.start(RunStartEvent(
            task: config.task, mode: config.mode.rawValue, base: base.name, lambda: lambda, tau: config.tau,
            epochs: config.epochs, warmupEpochs: config.warmupEpochs, stepsPerEpoch: stepsPerEpoch,
            batchSize: config.batchSize, seed: config.seed, layers: layerInfos,
            backboneParameters: ParameterAccounting(task).backboneParameters,
            runDirectory: runDirectory.path, time: started.timeIntervalSince1970)))
        for note in data.notes { store.append(.notice(NoticeEvent(kind: "info", step: 0, message: note))) }

        var status = "done"
        var failure: String?
        var best: (accuracy: Double, epoch: Int, state: [Tensor])?
        var trainingSeconds = 0.0
        var epochsCompleted = 0
        var throughput = 0.0
        let sampler = BatchSampler(count: trainSet.count, batchSize: config.batchSize, seed: config.seed)
        let penaltyOnAt = config.warmupEpochs + 1

        epochLoop: for e in 1...config.epochs {
            epoch = e
            let epochStart = Date()
            var pausedSeconds = 0.0
            var lossSum = 0.0, correct = 0, seen = 0, batches = 0
            if e == penaltyOnAt && config.mode == .taps && config.warmupEpochs > 0 {
                store.append(.notice(NoticeEvent(kind: "warmup_over", step: step + 1,
                    message: "warm-up over: sparsity penalty on (lambda \(ProgressFormatter.fmt(lambda)))")))
            }
            for indices in sampler.batches(epoch: e) {
                if step >= totalSteps { break epochLoop }
                // Step boundary: read the control box.
                if control.isStopRequested { status = "stopped"; break epochLoop }
                if control.isPaused {
                    store.append(.notice(NoticeEvent(kind: "paused", step: step, message: "paused at step \(step)")))
                    let t0 = Date()
                    control.waitWhilePaused { [self] in handleSnapshotRequests() }
                    pausedSeconds += Date().timeIntervalSince(t0)
                    store.append(.notice(NoticeEvent(kind: "resumed", step: step, message: "resumed at step \(step)")))
                    if control.isStopRequested { status = "stopped"; break epochLoop }
                }
                handleSnapshotRequests()
                let requested = control.lambda
                if requested != lambda {
                    store.append(.notice(NoticeEvent(kind: "lambda", step: step + 1,
                        message: "lambda \(ProgressFormatter.fmt(lambda)) -> \(ProgressFormatter.fmt(requested)) from step \(step + 1)",
                        from: lambda, to: requested)))
                    lambda = requested
                    lambdaHistory.append(LambdaChange(step: step + 1, lambda: lambda))
                }

                let t0 = Date()
                let (images, labels) = trainSet.batch(indices, normalization: base.normalization, augmentation: config.augmentation(for: base), epoch: e, seed: config.seed)
                task.zeroGrad()
                let logits = task.forward(images, mode: .training)
                let ce = softmaxCrossEntropy(logits: logits, labels: labels)
                task.backward(ce.gradient)
                let penaltyOn = config.mode == .taps && e >= penaltyOnAt
                let penalty = SparsityPenalty.value(task.gatedLayers, kind: config.penalty)
                if penaltyOn && config.penaltyUpdate == .subgradient {
                    SparsityPenalty.accumulateGradient(task.gatedLayers, lambda: lambda, kind: config.penalty)
                }
                let loss = ce.loss + (penaltyOn ? lambda * penalty : 0)
                guard loss.isFinite else {
                    status = "failed"
                    failure = "loss became \(loss) at step \(step + 1) (epoch \(e)); lower --lr (now \(config.learningRate)) or check the data"
                    break epochLoop
                }
                let lr = schedule.learningRate(at: step)
                optimizer.step(learningRate: lr)
                if penaltyOn && config.penaltyUpdate == .proximal {
                    let scoreLR = Double(lr) * (config.scoreLearningRate ?? config.learningRate) / config.learningRate
                    SparsityPenalty.proximalStep(task.gatedLayers, lambda: lambda, learningRate: scoreLR, kind: config.penalty)
                }
                step += 1
                let dt = Date().timeIntervalSince(t0)
                let rate = Double(labels.count) / max(dt, 1e-9)
                throughput = throughput == 0 ? rate : 0.9 * throughput + 0.1 * rate
                lossSum += ce.loss; correct += ce.correct; seen += labels.count; batches += 1
                store.append(.step(StepEvent(
                    step: step, epoch: e, phase: penaltyOn ? "sparsify" : "warmup", loss: loss, taskLoss: ce.loss,
                    penalty: penalty, lambda: lambda, accuracy: Double(ce.correct) / Double(labels.count),
                    learningRate: Double(lr), scores: task.gatedLayers.map { Double($0.score.value.storage[0]) },
                    active: task.gatedLayers.map(\.isActive), samplesPerSecond: throughput,
                    elapsed: Date().timeIntervalSince(started))))
            }
            guard batches > 0 else { break }
            let epochSeconds = Date().timeIntervalSince(epochStart) - pausedSeconds
            recalibrateBatchNorm(task.network, on: trainSet, normalization: base.normalization)
            let validation = validationSet.count > 0 ? evaluate(task, on: validationSet, normalization: base.normalization).accuracy : Double(correct) / Double(max(seen, 1))
            lastTrainAccuracy = Double(correct) / Double(max(seen, 1))
            lastValidationAccuracy = validation
            let stepsDone = step >= totalSteps || batches == stepsPerEpoch
            if stepsDone { epochsCompleted += 1; trainingSeconds += epochSeconds }
            store.append(.epoch(EpochEvent(epoch: e, step: step, trainLoss: lossSum / Double(batches),
                                           trainAccuracy: lastTrainAccuracy!, validationAccuracy: validation,
                                           activeLayers: task.activeIndices.count, seconds: epochSeconds)))
            let eligible = config.mode != .taps || e >= penaltyOnAt || config.epochs < penaltyOnAt
            if eligible && validation > (best?.accuracy ?? -1) {
                best = (validation, e, captureState())
                store.append(.notice(NoticeEvent(kind: "best", step: step,
                    message: String(format: "best validation accuracy so far: %.4f (epoch %d)", validation, e))))
            }
        }
        if status == "stopped" {
            store.append(.notice(NoticeEvent(kind: "info", step: step, message: "stopped by request at step \(step)")))
        }

        // Select, evaluate, export.
        var testAccuracy: Double?
        var exportPath: String?
        if failure == nil {
            if best == nil { recalibrateBatchNorm(task.network, on: trainSet, normalization: base.normalization) }
            if let best {
                restoreState(best.state)
                let active = task.activeIndices.map { task.gatedLayers[$0].name }
                let acc = ParameterAccounting(task)
                store.append(.notice(NoticeEvent(kind: "selected", step: step, message: String(
                    format: "selected epoch %d (validation %.4f): %d/%d active%@, task-specific %@ = %.1f%% of the backbone",
                    best.epoch, best.accuracy, active.count, task.gatedLayers.count,
                    (active.isEmpty ? "" : " (" + active.joined(separator: ", ") + ")") as NSString,
                    ProgressFormatter.grouped(acc.taskSpecificParameters) as NSString, 100 * acc.fractionOfBackbone))))
            }
            testAccuracy = evaluate(task, on: data.test, normalization: base.normalization).accuracy
            do {
                let url = runDirectory.appendingPathComponent("task.safetensors")
                try exportTask(to: url, testAccuracy: testAccuracy, validationAccuracy: best?.accuracy)
                exportPath = url.path
                handleSnapshotRequests(force: true)
            } catch {
                status = "failed"; failure = "writing the run folder failed: \(error)"
            }
        }
        if let failure {
            store.append(.notice(NoticeEvent(kind: "error", step: step, message: failure)))
        }
        let accounting = ParameterAccounting(task)
        let activeNames = task.activeIndices.map { task.gatedLayers[$0].name }
        let seconds = Date().timeIntervalSince(started)
        let summary = RunSummary(
            task: config.task, mode: config.mode.rawValue, base: base.name, lambda: lambda,
            lambdaHistory: lambdaHistory, tau: config.tau, seed: config.seed,
            status: failure == nil ? status : "failed", message: failure, testAccuracy: testAccuracy,
            bestValidationAccuracy: best?.accuracy, selectedEpoch: best?.epoch,
            gatedLayers: task.gatedLayers.count, activeLayers: activeNames,
            taskSpecificParameters: accounting.taskSpecificParameters,
            backboneParameters: accounting.backboneParameters, fractionOfBackbone: accounting.fractionOfBackbone,
            accounting: accounting, steps: step, epochsCompleted: epochsCompleted, seconds: seconds,
            secondsPerEpoch: epochsCompleted > 0 ? trainingSeconds / Double(epochsCompleted) : 0,
            samplesPerSecond: throughput, export: exportPath)
        do {
            try writeAtomically(try makeJSONEncoder().encode(summary), to: runDirectory.appendingPathComponent("summary.json"))
        } catch {
            store.append(.notice(NoticeEvent(kind: "error", step: step, message: "cannot write summary.json: \(error)")))
        }
        store.append(.end(RunEndEvent(status: summary.status, step: step, testAccuracy: testAccuracy,
                                      bestValidationAccuracy: best?.accuracy, activeLayers: activeNames,
                                      taskSpecificParameters: accounting.taskSpecificParameters,
                                      seconds: seconds, message: failure)))
        store.flush()
        return summary
    }

    /// Starts ``run()`` on a new serial background queue and returns at once; `completion` runs on that
    /// queue with the summary. The caller's thread (the UI) never waits for training.
    public func start(completion: @escaping @Sendable (RunSummary) -> Void) {
        DispatchQueue(label: "taps.trainer", qos: .userInitiated).async { [self] in
            completion(run())
        }
    }

    /// Runs on a background queue and blocks the calling thread until the run ends (for the headless CLI,
    /// whose main thread only waits and handles signals).
    public func runOnBackgroundQueue() -> RunSummary {
        let done = DispatchSemaphore(value: 0)
        let box = SummaryBox()
        start { summary in box.value = summary; done.signal() }
        done.wait()
        return box.value!
    }

    // MARK: - State, export, snapshots

    /// Copies of every task-specific tensor (trainable parameters and buffers), in `network.parameters` order.
    private func captureState() -> [Tensor] { task.network.parameters.map(\.value) }

    private func restoreState(_ state: [Tensor]) {
        for (p, v) in zip(task.network.parameters, state) { p.value = v }
    }

    private func exportTask(to url: URL, testAccuracy: Double?, validationAccuracy: Double?) throws {
        let history = String(data: try makeJSONEncoder(pretty: false).encode(lambdaHistory), encoding: .utf8) ?? "[]"
        var meta: [String: String] = [
            "task": config.task, "mode": config.mode.rawValue, "base": base.name, "base_hash": base.contentHash,
            "architecture": base.architecture, "image_size": String(base.inputShape[1]), "classes": String(data.classes), "lambda_history": history,
            "seed": String(config.seed), "steps": String(step),
        ]
        if let testAccuracy { meta["test_accuracy"] = String(testAccuracy) }
        if let validationAccuracy { meta["validation_accuracy"] = String(validationAccuracy) }
        try TaskExport(task: task, metadata: meta).write(to: url)
    }

    /// Writes one snapshot per pending request (or one when `force`), announcing each with a notice.
    private func handleSnapshotRequests(force: Bool = false) {
        let n = control.takeSnapshotRequests()
        guard n > 0 || force else { return }
        let snap = ActiveLayerSnapshot(task: task, taskName: config.task, mode: config.mode.rawValue,
                                       step: step, epoch: epoch, lambda: control.lambda, tau: config.tau,
                                       trainAccuracy: lastTrainAccuracy, validationAccuracy: lastValidationAccuracy)
        do {
            let paths = try snap.write(to: runDirectory)
            store.append(.notice(NoticeEvent(kind: "snapshot", step: step,
                message: "snapshot written: \(paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))",
                paths: paths)))
        } catch {
            store.append(.notice(NoticeEvent(kind: "error", step: step, message: "snapshot failed: \(error)")))
        }
    }
}

/// Accuracy and mean loss of `task` on `data` in inference mode, in fixed batches of 256 (the same
/// batching every time, so `taps eval` reproduces training's numbers exactly).
public func evaluate(_ task: TaskNetwork, on data: LabeledImages, normalization: Normalization) -> (accuracy: Double, loss: Double) {
    guard data.count > 0 else { return (0, 0) }
    var correct = 0
    var lossSum = 0.0
    var start = 0
    while start < data.count {
        let idx = Array(start..<min(start + 256, data.count))
        let (x, y) = data.batch(idx, normalization: normalization)
        let r = softmaxCrossEntropy(logits: task.forward(x, mode: .inference), labels: y)
        correct += r.correct
        lossSum += r.loss * Double(idx.count)
        start += idx.count
    }
    return (Double(correct) / Double(data.count), lossSum / Double(data.count))
}

/// Hands a summary from the trainer's queue to a waiting thread (synchronised by a semaphore).
private final class SummaryBox: @unchecked Sendable { var value: RunSummary? }
