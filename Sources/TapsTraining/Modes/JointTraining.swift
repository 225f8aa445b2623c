// TapsTraining: several tasks trained together on one base (docs/method.md "Several tasks"): stage 1 of joint
// TAPS (a shared base with one head per task) and the fully joint mode (base + every task's TAPS parameters).
// Thin adapters over the run loop (Loop/RunLoop.swift): mixed batches, shared weights, what trains.
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
            let (train, validation) = splitForTraining(data, config: config)
            return JointTaskData(name: name, data: data, train: train, validation: validation)
        }
    }
}

/// Mixed batches for the joint modes: per step one sub-batch of every task, from a ``MixedBatchSampler``.
private func mixedBatches(_ sampler: inout MixedBatchSampler, steps: Int,
                          onBatch: (([(task: Int, indices: [Int])]) -> Void)?) -> [[(member: Int, indices: [Int])]] {
    (0..<steps).map { _ in
        let batch = sampler.next()
        onBatch?(batch)
        return batch.map { (member: $0.task, indices: $0.indices) }
    }
}

// MARK: - Stage 1: a shared base with one head per task

/// What stage 1 of joint TAPS did (`stage1/summary.json` in the suite folder).
public struct JointStage1Summary: Codable, Sendable, Equatable {
    public var tasks: [String]
    public var status: RunStatus
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

/// Stage 1 of joint TAPS (docs/method.md "Several tasks"): fine-tunes every base weight (shared) together with
/// one new head per task, on mixed batches in which every task has a sub-batch (``MixedBatchSampler``).
///
/// Loss and gradients: each task's head gets the gradient of its own sub-batch's mean cross-entropy; the shared
/// base gets the mean over tasks of those gradients (so its step size does not grow with the number of tasks).
/// The networks are T copies of the architecture whose base tensors are re-synchronised from copy 0 before each
/// sub-batch (architecture-agnostic: any base that ``BaseModel`` loads works). The run loop's recipe (SGD with
/// momentum, cosine decay, BatchNorm recalibration before validation); no model selection (the last epoch's base
/// is kept). The result is written as a safetensors file of the base's architecture without a head, which stage 2
/// loads with `--base FILE` like any other base.
public final class JointBaseTrainer: @unchecked Sendable {
    public let config: TrainingConfig
    public let taskNames: [String]
    public let epochs: Int
    public let baseFile: URL
    public let store: MetricsStore
    public let control: TrainingControl
    /// Called with each mixed batch before it is used (tests check that every batch draws from every task).
    public var onBatch: (@Sendable ([(task: Int, indices: [Int])]) -> Void)?
    let base: BaseModel
    private let tasks: [JointTaskData]
    private let networks: [any Layer]
    private let runDirectory: URL
    private var sampler: MixedBatchSampler
    private var minimumTasksPerBatch = Int.max
    private var baseHash = ""
    let members: [RunMember]
    let views: [RunView]
    let sharing: (any WeightSharing)?

    /// Loads the base and the tasks. `config` gives the shared settings (batch, learning rate, seed, data
    /// folder, train limit, validation fraction); its task, mode and lambda are not used.
    /// - Throws: `ConfigError` for bad options, dataset and safetensors errors, ``FileWriteError``.
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
        let networks = try data.map { try base.instantiate(classes: $0.data.classes, rng: &rng) }
        self.base = base
        self.tasks = data
        self.networks = networks
        sampler = MixedBatchSampler(counts: data.map(\.train.count), batchSize: config.batchSize, seed: config.seed)
        let headPrefix = base.headName + "."
        sharing = SharedBase(networks: networks, isShared: { !$0.name.hasPrefix(headPrefix) })
        members = data.enumerated().map { t, d in
            RunMember(name: d.name, network: networks[t], task: nil, classes: d.data.classes, train: d.train,
                      validation: d.validation, test: nil, view: 0, notes: d.data.notes)
        }
        let backbone = networks[0].parameters.filter { !$0.name.hasPrefix(base.headName + ".") && !$0.isBuffer }
        views = [RunView(name: "joint-stage1", mode: .jointStage1, store: store, directory: runDirectory,
                         members: Array(data.indices), backboneParameters: backbone.reduce(0) { $0 + $1.count },
                         imagesPerStep: sampler.perTask.reduce(0, +))]
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
            try store.mirror(to: runDirectory.appendingPathComponent("metrics.jsonl"))
        } catch {
            throw FileWriteError(path: runDirectory.path, reason: plainReason(error))
        }
    }

    private func isHead(_ p: Parameter) -> Bool { p.name.hasPrefix(base.headName + ".") }

    /// Trains and writes the shared base and `summary.json`. Throws only for I/O errors writing the summary; a
    /// NaN loss or a stop request ends the stage with status `failed` / `stopped` (no base file is written then).
    public func run() throws -> JointStage1Summary {
        let started = Date()
        store.append(.notice(NoticeEvent(kind: .info, step: 0,
            message: "joint stage 1: shared base + one head per task (\(taskNames.joined(separator: ", "))), "
                + "mixed batches of \(sampler.perTask.map(String.init).joined(separator: "+")) images")))
        let loop = RunLoop(adapter: self, control: control)
        _ = loop.run()
        let evaluated = loop.epochsCompleted > 0 || loop.step > 0
        let summary = JointStage1Summary(
            tasks: taskNames, status: loop.status, epochs: epochs, steps: loop.step, imagesPerTask: sampler.perTask,
            minimumTasksPerBatch: minimumTasksPerBatch == Int.max ? 0 : minimumTasksPerBatch,
            validationAccuracy: evaluated ? Dictionary(uniqueKeysWithValues: zip(taskNames, loop.validation)) : [:],
            sourceBase: base.name, sourceBaseHash: base.contentHash,
            baseFile: loop.status == .done ? baseFile.path : "", baseHash: loop.status == .done ? baseHash : "",
            seconds: Date().timeIntervalSince(started))
        try writeAtomically(try makeJSONEncoder().encode(summary), to: runDirectory.appendingPathComponent("summary.json"))
        return summary
    }
}

extension JointBaseTrainer: RunAdapter {
    var samplerState: Data? { try? JSONEncoder().encode(sampler.state) }
    func restoreSampler(_ state: Data) throws {
        try sampler.restore(try JSONDecoder().decode(MixedBatchSampler.State.self, from: state))
    }
    var stepsPerEpoch: Int { sampler.stepsPerEpoch(batchSize: config.batchSize) }
    var trainableParameters: [Parameter] {
        networks[0].parameters.filter(\.requiresGrad)
            + networks.dropFirst().flatMap { $0.parameters.filter { isHead($0) && $0.requiresGrad } }
    }
    var usesPenalty: Bool { false }
    var selectsBestEpoch: Bool { false }

    func batches(epoch: Int) -> [[(member: Int, indices: [Int])]] {
        let steps = mixedBatches(&sampler, steps: stepsPerEpoch, onBatch: onBatch)
        for step in steps { minimumTasksPerBatch = min(minimumTasksPerBatch, Set(step.filter { !$0.indices.isEmpty }.map(\.member)).count) }
        return steps
    }

    /// Writes the shared base (copy 0 without its head, plus any base tensor the network does not hold).
    func writeArtifacts(_ loop: RunLoop) throws -> (name: String, hash: String) {
        guard loop.status == .done else { return (base.name, base.contentHash) }
        var tensors = networks[0].parameters.filter { !isHead($0) }.map { ($0.name, $0.value) }
        let held = Set(tensors.map(\.0))
        for (name, t) in base.weights.sorted(by: { $0.key < $1.key })
        where !held.contains(name) && !name.hasPrefix(base.headName + ".") { tensors.append((name, t)) }
        try SafeTensors.write(tensors, metadata: [
            "format": "taps-base/1", "origin": "joint TAPS stage 1", "tasks": taskNames.joined(separator: ","),
            "architecture": base.architecture,
            "source_base": base.name, "source_base_hash": base.contentHash, "epochs": String(epochs),
            "seed": String(config.seed),
        ], to: baseFile)
        let trained = try BaseModel.load(baseFile.path, architecture: base.architecture, imageSize: config.imageSize)
        baseHash = trained.contentHash
        return (trained.name, trained.contentHash)
    }
}

/// Joint stage 1's sharing: every base tensor (weights, biases, norms and their running statistics) of copy 0 is
/// the master; heads are per task. Running statistics travel with the batches (copied back after each
/// sub-batch), gradients are summed into copy 0 and averaged over the tasks.
private struct SharedBase: WeightSharing {
    let networks: [any Layer]
    let isShared: (Parameter) -> Bool

    private func pairs(_ t: Int) -> [(master: Parameter, copy: Parameter)] {
        zip(networks[0].parameters, networks[t].parameters).filter { isShared($0.0) }.map { ($0.0, $0.1) }
    }

    func pull(into t: Int) {
        guard t > 0 else { return }
        for (m, p) in pairs(t) { p.value = m.value }
    }

    func push(from t: Int) {
        guard t > 0 else { return }
        for (m, p) in pairs(t) {
            if p.isBuffer { m.value = p.value } else if m.requiresGrad { m.grad.add(p.grad) }
        }
    }

    func average(over count: Int) {
        for p in networks[0].parameters where isShared(p) && !p.isBuffer && p.requiresGrad {
            p.grad.scale(by: 1 / Float(count))
        }
    }
}

// MARK: - Fully joint: the base and every task's TAPS parameters at once

/// The fully joint mode (our extension of docs/method.md "Several tasks"): the shared base weights `w0` train
/// together with every task's deltas, scores, biases/normalisation and head, on mixed batches (every batch has a
/// sub-batch of every task, ``MixedBatchSampler``).
///
/// Each task is a ``TaskNetwork`` whose gated layers have ``GatedLayer/trainsBase`` set; copy 0's `w0` is the
/// master, re-synchronised into the other copies before each sub-batch. Gradients: each task's own parameters
/// get the gradient of its sub-batch's mean cross-entropy; `w0` gets the mean over tasks of `dL_t/dw0`. The
/// sparsity penalty (one lambda for all tasks, from the shared ``TrainingControl``), the warm-up, BatchNorm
/// recalibration and model selection (the best mean validation accuracy over tasks after warm-up) are the run
/// loop's, as for ``Trainer``.
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
    let base: BaseModel
    private let tasks: [JointTaskData]
    /// One task network per task; `networks[0]`'s gated base weights are the master `w0`.
    public let networks: [TaskNetwork]
    private var sampler: MixedBatchSampler
    let members: [RunMember]
    let views: [RunView]
    let sharing: (any WeightSharing)?

    /// Loads the base and the tasks and writes each task's `config.json`. `config.mode` is taken as `taps`.
    /// - Throws: `ConfigError` for bad options, dataset and safetensors errors, ``FileWriteError``.
    public init(config: TrainingConfig, tasks: [String], outputDirectory: URL, baseFile: URL, stores: [MetricsStore],
                control: TrainingControl) throws {
        try config.validate()
        guard !tasks.isEmpty, stores.count == tasks.count else {
            throw ConfigError.invalid(option: "--tasks", expected: "at least one task", got: tasks.joined(separator: ","))
        }
        var config = config
        config.mode = .taps
        self.config = config; self.taskNames = tasks; self.outputDirectory = outputDirectory; self.baseFile = baseFile
        self.stores = stores; self.control = control
        if let t = config.threads { BLASThreads.set(t) }
        let base = try BaseModel.load(for: config)
        let data = try JointTaskData.load(tasks, config: config, base: base)
        self.base = base
        self.tasks = data
        var rng = SeededRNG(seed: config.seed)
        let networks = try data.map {
            try base.taskNetwork(classes: $0.data.classes, mode: .taps, tau: config.tau, initialScore: config.initialScore,
                                 trainBiases: config.trainBiases, rng: &rng)
        }
        for n in networks { for g in n.gatedLayers { g.trainsBase = true } }
        for g in networks[0].gatedLayers { g.base.weight.requiresGrad = true }
        self.networks = networks
        sharing = SharedW0(networks: networks)
        sampler = MixedBatchSampler(counts: data.map(\.train.count), batchSize: config.batchSize, seed: config.seed)
        members = data.enumerated().map { t, d in
            RunMember(name: d.name, network: networks[t].network, task: networks[t], classes: d.data.classes,
                      train: d.train, validation: d.validation, test: d.data.test, view: t, notes: d.data.notes)
        }
        views = data.enumerated().map { [sampler] t, d in
            RunView(name: d.name, mode: .fullyJoint, store: stores[t], directory: outputDirectory.appendingPathComponent(d.name),
                    members: [t], backboneParameters: ParameterAccounting(networks[t]).backboneParameters,
                    imagesPerStep: sampler.perTask[t])
        }
        for (t, view) in views.enumerated() {
            var c = config; c.task = tasks[t]; c.outputDirectory = view.directory.path
            try prepareRunFolder(view.directory, store: stores[t], config: c, use: .fresh(.overwrite))
        }
    }

    /// Trains, selects, evaluates and exports every task. Returns one summary per task (also in each
    /// `<task>/summary.json`); a failed write ends the run with status `failed` and a message.
    public func run() throws -> [RunSummary] {
        RunLoop(adapter: self, control: control).run()
    }
}

extension FullyJointTrainer: RunAdapter {
    var samplerState: Data? { try? JSONEncoder().encode(sampler.state) }
    func restoreSampler(_ state: Data) throws {
        try sampler.restore(try JSONDecoder().decode(MixedBatchSampler.State.self, from: state))
    }
    var epochs: Int { config.epochs }
    var stepsPerEpoch: Int { sampler.stepsPerEpoch(batchSize: config.batchSize) }
    var trainableParameters: [Parameter] { networks.flatMap(\.trainableParameters) }
    var usesPenalty: Bool { true }
    var selectsBestEpoch: Bool { true }
    var suiteMode: SuiteMode? { .fullyJoint }

    func batches(epoch: Int) -> [[(member: Int, indices: [Int])]] {
        mixedBatches(&sampler, steps: stepsPerEpoch, onBatch: nil)
    }

    /// Writes the trained base: the original base's tensors with the gated weights replaced by the trained `w0`.
    func writeArtifacts(_ loop: RunLoop) throws -> (name: String, hash: String) {
        var tensors = base.weights
        for g in networks[0].gatedLayers { tensors[g.base.weight.name] = g.base.weight.value }
        try SafeTensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: [
            "format": "taps-base/1", "origin": "fully joint TAPS", "tasks": taskNames.joined(separator: ","),
            "architecture": base.architecture,
            "source_base": base.name, "source_base_hash": base.contentHash, "seed": String(config.seed),
        ], to: baseFile)
        let trained = try BaseModel.load(baseFile.path, architecture: base.architecture, imageSize: config.imageSize)
        return (trained.name, trained.contentHash)
    }
}

/// The fully joint mode's sharing: the gated layers' `w0` of copy 0 is the master; each task's copy receives it
/// before its sub-batch and adds its `dL_t/dw0` to the master's gradient, which is then averaged over the tasks.
private struct SharedW0: WeightSharing {
    let networks: [TaskNetwork]

    func pull(into t: Int) {
        guard t > 0 else { return }
        for (m, g) in zip(networks[0].gatedLayers, networks[t].gatedLayers) { g.base.weight.value = m.base.weight.value }
    }

    func push(from t: Int) {
        guard t > 0 else { return }
        for (m, g) in zip(networks[0].gatedLayers, networks[t].gatedLayers) { m.base.weight.grad.add(g.base.weight.grad) }
    }

    func average(over count: Int) {
        for g in networks[0].gatedLayers { g.base.weight.grad.scale(by: 1 / Float(count)) }
    }
}
