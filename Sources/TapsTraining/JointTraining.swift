// TapsTraining: training several tasks together on one base (taps-method.md §6): stage 1 of joint TAPS (a
// shared base with one head per task) and the fully joint mode (base + every task's TAPS parameters at once).
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// One task's data as the joint trainers use it: the same split (and `trainLimit`) as ``Trainer``.
struct JointTaskData {
    var name: String
    var data: TaskData
    var train: LabeledImages
    var validation: LabeledImages

    static func load(_ names: [String], config: TrainingConfig, base: BaseModel) throws -> [JointTaskData] {
        try names.map { name in
            let data = try loadTask(name, config: config, base: base)
            var split = trainValidationSplit(data.train, validationFraction: config.validationFraction, seed: config.seed)
            if let limit = config.trainLimit, limit < split.train.count {
                split.train = applyTrainLimit(split.train, limit: limit, seed: config.seed)
            }
            return JointTaskData(name: name, data: data, train: split.train, validation: split.validation)
        }
    }
}

/// Accuracy of a plain network (no gates) on `data`, in the same batches of 256 as ``evaluate(_:on:normalization:)``.
func evaluateNetwork(_ network: any Layer, on data: LabeledImages, normalization: Normalization) -> Double {
    guard data.count > 0 else { return 0 }
    var correct = 0, start = 0
    while start < data.count {
        let idx = Array(start..<min(start + 256, data.count))
        let (x, y) = data.batch(idx, normalization: normalization)
        correct += softmaxCrossEntropy(logits: network.forward(x, mode: .inference), labels: y).correct
        start += idx.count
    }
    return Double(correct) / Double(data.count)
}

// MARK: - Stage 1: a shared base with one head per task

/// What stage 1 of joint TAPS did (`stage1/summary.json` in the suite folder).
public struct JointStage1Summary: Codable, Sendable, Equatable {
    public var tasks: [String]
    public var status: String
    public var epochs: Int
    public var steps: Int
    /// Images of each task in every mixed batch.
    public var imagesPerTask: [Int]
    /// The fewest distinct tasks seen in any one batch (= number of tasks: every batch draws from every task).
    public var minimumTasksPerBatch: Int
    /// Validation accuracy of each task with its stage-1 head on the final shared base.
    public var validationAccuracy: [String: Double]
    /// The base stage 1 started from, and its content hash.
    public var sourceBase: String
    public var sourceBaseHash: String
    /// The shared base written by stage 1 (a safetensors file of the base's architecture) and its content hash.
    public var baseFile: String
    public var baseHash: String
    public var seconds: Double
}

/// Stage 1 of joint TAPS (taps-method.md §6): fine-tunes every base weight (shared) together with one new head
/// per task, on mixed batches in which every task has a sub-batch (``MixedBatchSampler``).
///
/// Loss and gradients: each task's head gets the gradient of its own sub-batch's mean cross-entropy; the shared
/// base gets the mean over tasks of those gradients (so its step size does not grow with the number of tasks).
/// The networks are T copies of the architecture whose base tensors are re-synchronised from copy 0 before each
/// sub-batch (architecture-agnostic: any base that ``BaseModel`` loads works). SGD with momentum and cosine decay as
/// ``Trainer``; no model selection (the last epoch's base is kept). The result is written as a safetensors file of
/// the base's architecture without a head, which stage 2 loads with `--base FILE` like any other base.
public final class JointBaseTrainer: @unchecked Sendable {
    public let config: TrainingConfig
    public let taskNames: [String]
    public let epochs: Int
    public let baseFile: URL
    public let store: MetricsStore
    public let control: TrainingControl
    /// Called with each mixed batch before it is used (tests check that every batch draws from every task).
    public var onBatch: (@Sendable ([(task: Int, indices: [Int])]) -> Void)?
    private let base: BaseModel
    private let tasks: [JointTaskData]
    private let networks: [any Layer]
    private let runDirectory: URL

    /// Loads the base and the tasks. `config` gives the shared settings (batch, learning rate, seed, data
    /// folder, train limit, validation fraction); its task, mode and lambda are not used.
    public init(config: TrainingConfig, tasks: [String], epochs: Int, baseFile: URL, runDirectory: URL,
                store: MetricsStore, control: TrainingControl) throws {
        try config.validate()
        guard !tasks.isEmpty else { throw ConfigError.invalid(option: "--tasks", expected: "at least one task", got: "none") }
        guard epochs >= 1 else { throw ConfigError.invalid(option: "--stage1-epochs", expected: "an integer >= 1", got: "\(epochs)") }
        self.config = config; self.taskNames = tasks; self.epochs = epochs; self.baseFile = baseFile
        self.store = store; self.control = control; self.runDirectory = runDirectory
        if let t = config.threads { BLASThreads.set(t) }
        let base = try BaseModel.load(for: config)
        let data = try JointTaskData.load(tasks, config: config, base: base)
        var rng = SeededRNG(seed: config.seed)
        networks = try data.map { try base.instantiate(classes: $0.data.classes, rng: &rng) }
        self.base = base
        self.tasks = data
        try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        try store.mirror(to: runDirectory.appendingPathComponent("metrics.jsonl"))
    }

    private func isHead(_ p: Parameter) -> Bool { p.name.hasPrefix(base.headName + ".") }

    /// Pairs (copy 0's tensor, copy t's tensor) of the base part of the network, in state_dict order.
    private func basePairs(_ t: Int) -> [(Parameter, Parameter)] {
        zip(networks[0].parameters, networks[t].parameters).filter { !isHead($0.0) }
    }

    private func sync(_ t: Int) {
        guard t > 0 else { return }
        for (m, p) in basePairs(t) { p.value = m.value }
    }

    /// Trains and writes the shared base. Throws only for I/O errors; a NaN loss or a stop request ends the
    /// stage with status `failed` / `stopped` (no base file is written then).
    public func run() throws -> JointStage1Summary {
        let started = Date()
        var sampler = MixedBatchSampler(counts: tasks.map(\.train.count), batchSize: config.batchSize, seed: config.seed)
        let stepsPerEpoch = sampler.stepsPerEpoch(batchSize: config.batchSize)
        let totalSteps = min(stepsPerEpoch * epochs, config.maxSteps ?? Int.max)
        let schedule = CosineSchedule(peak: Float(config.learningRate), totalSteps: totalSteps)
        let trainable = networks[0].parameters.filter(\.requiresGrad)
            + networks.dropFirst().flatMap { $0.parameters.filter { isHead($0) && $0.requiresGrad } }
        let optimizer = SGD(parameters: trainable, momentum: Float(config.momentum), weightDecay: 0)
        let baseTrainable = networks[0].parameters.filter { !isHead($0) && !$0.isBuffer }
        store.append(.start(RunStartEvent(
            task: "joint-stage1", mode: "joint-stage1", base: base.name, lambda: 0, tau: config.tau, epochs: epochs,
            warmupEpochs: epochs, stepsPerEpoch: stepsPerEpoch, batchSize: sampler.perTask.reduce(0, +),
            seed: config.seed, layers: [], backboneParameters: baseTrainable.reduce(0) { $0 + $1.count },
            runDirectory: runDirectory.path, time: started.timeIntervalSince1970)))
        store.append(.notice(NoticeEvent(kind: "info", step: 0,
            message: "joint stage 1: shared base + one head per task (\(taskNames.joined(separator: ", "))), "
                + "mixed batches of \(sampler.perTask.map(String.init).joined(separator: "+")) images")))
        var step = 0, status = "done", failure: String?
        var minTasks = Int.max
        var throughput = 0.0
        var validation: [String: Double] = [:]
        epochLoop: for e in 1...epochs {
            let epochStart = Date()
            var lossSum = 0.0, correct = 0, seen = 0, batches = 0
            for _ in 0..<stepsPerEpoch {
                if step >= totalSteps { break epochLoop }
                if control.isStopRequested { status = "stopped"; break epochLoop }
                if control.isPaused { control.waitWhilePaused() }
                let t0 = Date()
                let batch = sampler.next()
                onBatch?(batch)
                minTasks = min(minTasks, Set(batch.filter { !$0.indices.isEmpty }.map(\.task)).count)
                for n in networks { n.zeroGrad() }
                var stepLoss = 0.0, stepCorrect = 0, stepSeen = 0
                for (t, indices) in batch {
                    sync(t)
                    let (x, y) = tasks[t].train.batch(indices, normalization: base.normalization)
                    let ce = softmaxCrossEntropy(logits: networks[t].forward(x, mode: .training), labels: y)
                    _ = networks[t].backward(ce.gradient)
                    if t > 0 {
                        for (m, p) in basePairs(t) {
                            if p.isBuffer { m.value = p.value } else if m.requiresGrad { m.grad.add(p.grad) }
                        }
                    }
                    stepLoss += ce.loss / Double(batch.count)
                    stepCorrect += ce.correct; stepSeen += y.count
                }
                for p in baseTrainable where p.requiresGrad { p.grad.scale(by: 1 / Float(batch.count)) }
                guard stepLoss.isFinite else {
                    status = "failed"; failure = "loss became \(stepLoss) at step \(step + 1) of joint stage 1; lower --lr"
                    break epochLoop
                }
                let lr = schedule.learningRate(at: step)
                optimizer.step(learningRate: lr)
                step += 1
                let rate = Double(stepSeen) / max(Date().timeIntervalSince(t0), 1e-9)
                throughput = throughput == 0 ? rate : 0.9 * throughput + 0.1 * rate
                lossSum += stepLoss; correct += stepCorrect; seen += stepSeen; batches += 1
                store.append(.step(StepEvent(step: step, epoch: e, phase: "warmup", loss: stepLoss, taskLoss: stepLoss,
                    penalty: 0, lambda: 0, accuracy: Double(stepCorrect) / Double(max(stepSeen, 1)),
                    learningRate: Double(lr), scores: [], active: [], samplesPerSecond: throughput,
                    elapsed: Date().timeIntervalSince(started))))
            }
            guard batches > 0 else { break }
            for t in tasks.indices {
                sync(t)
                validation[tasks[t].name] = evaluateNetwork(networks[t], on: tasks[t].validation, normalization: base.normalization)
            }
            let meanValidation = validation.values.reduce(0, +) / Double(max(validation.count, 1))
            store.append(.epoch(EpochEvent(epoch: e, step: step, trainLoss: lossSum / Double(batches),
                                           trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                           validationAccuracy: meanValidation, activeLayers: 0,
                                           seconds: Date().timeIntervalSince(epochStart))))
            store.append(.notice(NoticeEvent(kind: "info", step: step, message: "stage 1 validation: "
                + taskNames.map { "\($0) " + String(format: "%.4f", validation[$0] ?? 0) }.joined(separator: ", "))))
        }
        if let failure { store.append(.notice(NoticeEvent(kind: "error", step: step, message: failure))) }
        var hash = ""
        if status == "done" {
            var tensors = networks[0].parameters.filter { !isHead($0) }.map { ($0.name, $0.value) }
            // Keep any base tensor the network does not hold (none for digitcnn), so the file is a complete base.
            let held = Set(tensors.map(\.0))
            for (name, t) in base.weights.sorted(by: { $0.key < $1.key })
            where !held.contains(name) && !name.hasPrefix(base.headName + ".") { tensors.append((name, t)) }
            try SafeTensors.write(tensors, metadata: [
                "format": "taps-base/1", "origin": "joint TAPS stage 1", "tasks": taskNames.joined(separator: ","),
                "architecture": base.architecture,
                "source_base": base.name, "source_base_hash": base.contentHash, "epochs": String(epochs),
                "seed": String(config.seed),
            ], to: baseFile)
            hash = try BaseModel.load(baseFile.path, architecture: base.architecture, imageSize: config.imageSize).contentHash
        }
        let summary = JointStage1Summary(
            tasks: taskNames, status: status, epochs: epochs, steps: step, imagesPerTask: sampler.perTask,
            minimumTasksPerBatch: minTasks == Int.max ? 0 : minTasks, validationAccuracy: validation,
            sourceBase: base.name, sourceBaseHash: base.contentHash, baseFile: status == "done" ? baseFile.path : "",
            baseHash: hash, seconds: Date().timeIntervalSince(started))
        try writeAtomically(try makeJSONEncoder().encode(summary), to: runDirectory.appendingPathComponent("summary.json"))
        store.append(.end(RunEndEvent(status: status, step: step, testAccuracy: nil,
                                      bestValidationAccuracy: validation.isEmpty ? nil : validation.values.reduce(0, +) / Double(validation.count),
                                      activeLayers: [], taskSpecificParameters: 0, seconds: summary.seconds, message: failure)))
        store.flush()
        return summary
    }
}

// MARK: - Fully joint: the base and every task's TAPS parameters at once

/// The fully joint mode (our extension of taps-method.md §6): the shared base weights `w0` train together with
/// every task's deltas, scores, biases/normalisation and head, on mixed batches (every batch has a sub-batch of
/// every task, ``MixedBatchSampler``).
///
/// Each task is a ``TaskNetwork`` whose gated layers have ``GatedLayer/trainsBase`` set; copy 0's `w0` is the
/// master, re-synchronised into the other copies before each sub-batch. Gradients: each task's own parameters
/// get the gradient of its sub-batch's mean cross-entropy; `w0` gets the mean over tasks of `dL_t/dw0`. The
/// sparsity penalty (one lambda for all tasks, from the shared ``TrainingControl``) and the warm-up work as in
/// ``Trainer``. Model selection: the epoch with the best mean validation accuracy over tasks after warm-up.
///
/// Writes `<out>/fully-joint-base.safetensors` (the trained base: the original base's tensors with the gated
/// weights replaced by the trained `w0`) and, per task, `<out>/<task>/` with `metrics.jsonl`, `summary.json`
/// and `task.safetensors` whose metadata names that base file and its content hash.
public final class FullyJointTrainer: @unchecked Sendable {
    public let config: TrainingConfig
    public let taskNames: [String]
    public let outputDirectory: URL
    public let baseFile: URL
    /// One metrics store per task (the dashboard shows one task at a time).
    public let stores: [MetricsStore]
    public let control: TrainingControl
    private let base: BaseModel
    private let tasks: [JointTaskData]
    /// One task network per task; `networks[0]`'s gated base weights are the master `w0`.
    public let networks: [TaskNetwork]

    public init(config: TrainingConfig, tasks: [String], outputDirectory: URL, baseFile: URL, stores: [MetricsStore],
                control: TrainingControl) throws {
        try config.validate()
        guard !tasks.isEmpty, stores.count == tasks.count else {
            throw ConfigError.invalid(option: "--tasks", expected: "at least one task", got: tasks.joined(separator: ","))
        }
        self.config = config; self.taskNames = tasks; self.outputDirectory = outputDirectory; self.baseFile = baseFile
        self.stores = stores; self.control = control
        if let t = config.threads { BLASThreads.set(t) }
        let base = try BaseModel.load(for: config)
        let data = try JointTaskData.load(tasks, config: config, base: base)
        self.base = base
        self.tasks = data
        var rng = SeededRNG(seed: config.seed)
        networks = try data.map {
            try base.taskNetwork(classes: $0.data.classes, mode: .taps, tau: config.tau, initialScore: config.initialScore, rng: &rng)
        }
        for n in networks { for g in n.gatedLayers { g.trainsBase = true } }
        for g in networks[0].gatedLayers { g.base.weight.requiresGrad = true }
        for (t, name) in tasks.enumerated() {
            let dir = outputDirectory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try stores[t].mirror(to: dir.appendingPathComponent("metrics.jsonl"))
            var c = config; c.task = name; c.outputDirectory = dir.path
            try writeAtomically(try makeJSONEncoder().encode(c), to: dir.appendingPathComponent("config.json"))
        }
    }

    private var master: [Parameter] { networks[0].gatedLayers.map(\.base.weight) }

    private func sync(_ t: Int) {
        guard t > 0 else { return }
        for (m, g) in zip(master, networks[t].gatedLayers) { g.base.weight.value = m.value }
    }

    private func layerInfos(_ n: TaskNetwork) -> [LayerInfo] {
        n.gatedLayers.enumerated().map { LayerInfo(index: $0, name: $1.name, shape: $1.base.weight.value.shape, parameters: $1.weightCount) }
    }

    /// Trains, selects, evaluates and exports every task. Returns one summary per task (also in each
    /// `<task>/summary.json`). Throws only when writing files fails.
    public func run() throws -> [RunSummary] {
        let started = Date()
        var sampler = MixedBatchSampler(counts: tasks.map(\.train.count), batchSize: config.batchSize, seed: config.seed)
        let stepsPerEpoch = sampler.stepsPerEpoch(batchSize: config.batchSize)
        let totalSteps = min(stepsPerEpoch * config.epochs, config.maxSteps ?? Int.max)
        let schedule = CosineSchedule(peak: Float(config.learningRate), totalSteps: totalSteps)
        let optimizer = SGD(parameters: networks.flatMap(\.trainableParameters), momentum: Float(config.momentum), weightDecay: 0)
        let scoreScale = (config.scoreLearningRate ?? config.learningRate) / config.learningRate
        if config.scoreLearningRate != nil {
            for n in networks { for g in n.gatedLayers { optimizer.setLearningRateScale(Float(scoreScale), for: g.score) } }
        }
        var lambda = control.lambda
        var lambdaHistory = [LambdaChange(step: 1, lambda: lambda)]
        for (t, n) in networks.enumerated() {
            stores[t].append(.start(RunStartEvent(
                task: taskNames[t], mode: "taps (fully joint)", base: base.name, lambda: lambda, tau: config.tau,
                epochs: config.epochs, warmupEpochs: config.warmupEpochs, stepsPerEpoch: stepsPerEpoch,
                batchSize: sampler.perTask[t], seed: config.seed, layers: layerInfos(n),
                backboneParameters: ParameterAccounting(n).backboneParameters,
                runDirectory: outputDirectory.appendingPathComponent(taskNames[t]).path, time: started.timeIntervalSince1970)))
        }
        let penaltyOnAt = config.warmupEpochs + 1
        var step = 0, status = "done", failure: String?
        var best: (accuracy: Double, epoch: Int, perTask: [Double], state: [[Tensor]])?
        var throughput = 0.0
        epochLoop: for e in 1...config.epochs {
            let epochStart = Date()
            var lossSums = [Double](repeating: 0, count: tasks.count), corrects = [Int](repeating: 0, count: tasks.count)
            var seens = [Int](repeating: 0, count: tasks.count), batches = 0
            if e == penaltyOnAt && config.warmupEpochs > 0 {
                for s in stores { s.append(.notice(NoticeEvent(kind: "warmup_over", step: step + 1, message: "warm-up over: sparsity penalty on"))) }
            }
            for _ in 0..<stepsPerEpoch {
                if step >= totalSteps { break epochLoop }
                if control.isStopRequested { status = "stopped"; break epochLoop }
                if control.isPaused { control.waitWhilePaused() }
                if control.takeSnapshotRequests() > 0 { writeSnapshots(step: step, epoch: e, lambda: lambda) }
                if control.lambda != lambda {
                    let to = control.lambda
                    for s in stores {
                        s.append(.notice(NoticeEvent(kind: "lambda", step: step + 1,
                            message: "lambda \(ProgressFormatter.fmt(lambda)) -> \(ProgressFormatter.fmt(to)) from step \(step + 1)",
                            from: lambda, to: to)))
                    }
                    lambda = to
                    lambdaHistory.append(LambdaChange(step: step + 1, lambda: lambda))
                }
                let t0 = Date()
                let batch = sampler.next()
                for n in networks { n.zeroGrad() }
                var results: [(loss: Double, correct: Int, count: Int)] = []
                for (t, indices) in batch {
                    sync(t)
                    let (x, y) = tasks[t].train.batch(indices, normalization: base.normalization)
                    let ce = softmaxCrossEntropy(logits: networks[t].forward(x, mode: .training), labels: y)
                    networks[t].backward(ce.gradient)
                    if t > 0 { for (m, g) in zip(master, networks[t].gatedLayers) { m.grad.add(g.base.weight.grad) } }
                    results.append((ce.loss, ce.correct, y.count))
                }
                for m in master { m.grad.scale(by: 1 / Float(batch.count)) }
                let penaltyOn = e >= penaltyOnAt
                if penaltyOn && config.penaltyUpdate == .subgradient {
                    for n in networks { SparsityPenalty.accumulateGradient(n.gatedLayers, lambda: lambda, kind: config.penalty) }
                }
                let penalties = networks.map { SparsityPenalty.value($0.gatedLayers, kind: config.penalty) }
                let total = results.map(\.loss).reduce(0, +) + (penaltyOn ? lambda * penalties.reduce(0, +) : 0)
                guard total.isFinite else {
                    status = "failed"; failure = "loss became \(total) at step \(step + 1) (epoch \(e)); lower --lr"
                    break epochLoop
                }
                let lr = schedule.learningRate(at: step)
                optimizer.step(learningRate: lr)
                if penaltyOn && config.penaltyUpdate == .proximal {
                    for n in networks {
                        SparsityPenalty.proximalStep(n.gatedLayers, lambda: lambda, learningRate: Double(lr) * scoreScale, kind: config.penalty)
                    }
                }
                step += 1
                let seen = results.map(\.count).reduce(0, +)
                let rate = Double(seen) / max(Date().timeIntervalSince(t0), 1e-9)
                throughput = throughput == 0 ? rate : 0.9 * throughput + 0.1 * rate
                batches += 1
                for (t, r) in results.enumerated() {
                    lossSums[t] += r.loss; corrects[t] += r.correct; seens[t] += r.count
                    let g = networks[t].gatedLayers
                    stores[t].append(.step(StepEvent(
                        step: step, epoch: e, phase: penaltyOn ? "sparsify" : "warmup",
                        loss: r.loss + (penaltyOn ? lambda * penalties[t] : 0), taskLoss: r.loss, penalty: penalties[t],
                        lambda: lambda, accuracy: Double(r.correct) / Double(max(r.count, 1)), learningRate: Double(lr),
                        scores: g.map { Double($0.score.value.storage[0]) }, active: g.map(\.isActive),
                        samplesPerSecond: throughput, elapsed: Date().timeIntervalSince(started))))
                }
            }
            guard batches > 0 else { break }
            for t in tasks.indices { sync(t) }
            let validation = tasks.indices.map { evaluate(networks[$0], on: tasks[$0].validation, normalization: base.normalization).accuracy }
            for t in tasks.indices {
                stores[t].append(.epoch(EpochEvent(epoch: e, step: step, trainLoss: lossSums[t] / Double(batches),
                    trainAccuracy: Double(corrects[t]) / Double(max(seens[t], 1)), validationAccuracy: validation[t],
                    activeLayers: networks[t].activeIndices.count, seconds: Date().timeIntervalSince(epochStart))))
            }
            let mean = validation.reduce(0, +) / Double(validation.count)
            let eligible = e >= penaltyOnAt || config.epochs < penaltyOnAt
            if eligible && mean > (best?.accuracy ?? -1) {
                best = (mean, e, validation, networks.map { $0.network.parameters.map(\.value) })
                for s in stores {
                    s.append(.notice(NoticeEvent(kind: "best", step: step,
                        message: String(format: "best mean validation accuracy over the tasks so far: %.4f (epoch %d)", mean, e))))
                }
            }
        }
        if let best {
            for (n, state) in zip(networks, best.state) { for (p, v) in zip(n.network.parameters, state) { p.value = v } }
        }
        for t in tasks.indices { sync(t) }

        // The trained base, then each task's evaluation, export and summary.
        var baseName = base.name, baseHash = base.contentHash
        if failure == nil {
            var tensors = base.weights
            for m in master { tensors[m.name] = m.value }
            try SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: [
                "format": "taps-base/1", "origin": "fully joint TAPS", "tasks": taskNames.joined(separator: ","),
                "architecture": base.architecture,
                "source_base": base.name, "source_base_hash": base.contentHash, "seed": String(config.seed),
            ], to: baseFile)
            let trained = try BaseModel.load(baseFile.path, architecture: base.architecture, imageSize: config.imageSize)
            baseName = trained.name; baseHash = trained.contentHash
        }
        var summaries: [RunSummary] = []
        let seconds = Date().timeIntervalSince(started)
        let historyJSON = String(data: try makeJSONEncoder(pretty: false).encode(lambdaHistory), encoding: .utf8) ?? "[]"
        for (t, n) in networks.enumerated() {
            let dir = outputDirectory.appendingPathComponent(taskNames[t])
            var testAccuracy: Double?
            var exportPath: String?
            if failure == nil {
                testAccuracy = evaluate(n, on: tasks[t].data.test, normalization: base.normalization).accuracy
                var meta: [String: String] = [
                    "task": taskNames[t], "mode": TrainingMode.taps.rawValue, "suite_mode": SuiteMode.fullyJoint.rawValue,
                    "base": baseName, "base_hash": baseHash, "architecture": base.architecture,
                    "image_size": String(base.inputShape[1]),
                    "classes": String(tasks[t].data.classes), "lambda_history": historyJSON, "seed": String(config.seed),
                    "steps": String(step),
                ]
                if let testAccuracy { meta["test_accuracy"] = String(testAccuracy) }
                if let v = best?.perTask[t] { meta["validation_accuracy"] = String(v) }
                let url = dir.appendingPathComponent("task.safetensors")
                try TaskExport(task: n, metadata: meta).write(to: url)
                exportPath = url.path
            } else {
                stores[t].append(.notice(NoticeEvent(kind: "error", step: step, message: failure!)))
            }
            let accounting = ParameterAccounting(n)
            let active = n.activeIndices.map { n.gatedLayers[$0].name }
            let summary = RunSummary(
                task: taskNames[t], mode: TrainingMode.taps.rawValue, base: baseName, lambda: lambda,
                lambdaHistory: lambdaHistory, tau: config.tau, seed: config.seed,
                status: failure == nil ? status : "failed", message: failure, testAccuracy: testAccuracy,
                bestValidationAccuracy: best?.perTask[t], selectedEpoch: best?.epoch,
                gatedLayers: n.gatedLayers.count, activeLayers: active,
                taskSpecificParameters: accounting.taskSpecificParameters,
                backboneParameters: accounting.backboneParameters, fractionOfBackbone: accounting.fractionOfBackbone,
                accounting: accounting, steps: step, epochsCompleted: best?.epoch ?? 0, seconds: seconds,
                secondsPerEpoch: 0, samplesPerSecond: throughput, export: exportPath)
            try writeAtomically(try makeJSONEncoder().encode(summary), to: dir.appendingPathComponent("summary.json"))
            let snap = ActiveLayerSnapshot(task: n, taskName: taskNames[t], mode: "taps", step: step, epoch: best?.epoch ?? 0,
                                           lambda: lambda, tau: config.tau, trainAccuracy: nil,
                                           validationAccuracy: best?.perTask[t])
            _ = try? snap.write(to: dir)
            stores[t].append(.end(RunEndEvent(status: summary.status, step: step, testAccuracy: testAccuracy,
                                              bestValidationAccuracy: best?.perTask[t], activeLayers: active,
                                              taskSpecificParameters: accounting.taskSpecificParameters,
                                              seconds: seconds, message: failure)))
            stores[t].flush()
            summaries.append(summary)
        }
        return summaries
    }

    private func writeSnapshots(step: Int, epoch: Int, lambda: Double) {
        for (t, n) in networks.enumerated() {
            let snap = ActiveLayerSnapshot(task: n, taskName: taskNames[t], mode: "taps", step: step, epoch: epoch,
                                           lambda: lambda, tau: config.tau, trainAccuracy: nil, validationAccuracy: nil)
            if let paths = try? snap.write(to: outputDirectory.appendingPathComponent(taskNames[t])) {
                stores[t].append(.notice(NoticeEvent(kind: "snapshot", step: step,
                    message: "snapshot written: \(paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))", paths: paths)))
            }
        }
    }
}
