// TapsTraining: one task on a pretrained base (TAPS, full fine-tuning or linear probe). A thin adapter over the
// run loop (Loop/RunLoop.swift): it says what a batch is and which parameters train.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// Trains one task on a pretrained base with TAPS, full fine-tuning or a linear probe (docs/method.md
/// "Training recipe"), writes the run folder and reports through a ``MetricsStore``.
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
    let runDirectory: URL
    let sampler: BatchSampler
    let members: [RunMember]
    let views: [RunView]

    /// Loads the task and the base and builds the task network. Takes about a second.
    /// - Throws: `ConfigError` for bad options or an unknown task, `DatasetError` / `SafeTensorsError` for
    ///   unreadable files, and ``FileWriteError`` when the run folder cannot be written.
    public init(config: TrainingConfig, store: MetricsStore, control: TrainingControl) throws {
        try config.validate()
        self.config = config
        self.store = store
        self.control = control
        if let t = config.threads { BLASThreads.set(t) }
        base = try BaseModel.load(for: config)
        data = try base.prepare(try loadTask(config.task, dataDirectory: config.dataDirectory))
        (trainSet, validationSet) = splitForTraining(data, config: config)
        var rng = SeededRNG(seed: config.seed)
        task = try base.taskNetwork(classes: data.classes, mode: config.mode, tau: config.tau,
                                    initialScore: config.initialScore, rng: &rng)
        sampler = BatchSampler(count: trainSet.count, batchSize: config.batchSize, seed: config.seed)
        runDirectory = URL(fileURLWithPath: config.outputDirectory)
        members = [RunMember(name: config.task, network: task.network, task: task, classes: data.classes,
                             train: trainSet, validation: validationSet, test: data.test, view: 0)]
        views = [RunView(name: config.task, mode: RunMode(config.mode), store: store, directory: runDirectory,
                         members: [0], backboneParameters: ParameterAccounting(task).backboneParameters,
                         imagesPerStep: config.batchSize)]
        try prepareRunFolder(runDirectory, store: store, config: config)
    }

    /// Total optimizer steps the run will take (respecting `maxSteps`).
    public var totalSteps: Int { min(stepsPerEpoch * config.epochs, config.maxSteps ?? Int.max) }

    /// Layer descriptions in heatmap order.
    public var layerInfos: [LayerInfo] {
        task.gatedLayers.enumerated().map { i, g in
            LayerInfo(index: i, name: g.name, shape: g.base.weight.value.shape, parameters: g.weightCount)
        }
    }

    /// Trains, selects, evaluates and exports (``RunLoop``). Blocks until done, stopped or failed; never throws:
    /// failures (NaN/Inf loss, I/O errors) end the run with status `failed` and a message.
    @discardableResult
    public func run() -> RunSummary {
        guard let summary = RunLoop(adapter: self, control: control).run().first else {
            preconditionFailure("a single-task run always has one summary")
        }
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
        let box = Locked<RunSummary?>(nil)
        start { summary in box.value = summary; done.signal() }
        done.wait()
        guard let summary = box.value else { preconditionFailure("run() returned no summary") }
        return summary
    }
}

extension Trainer: RunAdapter {
    var epochs: Int { config.epochs }
    var stepsPerEpoch: Int { sampler.batchesPerEpoch }
    var trainableParameters: [Parameter] { task.trainableParameters }
    var usesPenalty: Bool { config.mode == .taps }
    var selectsBestEpoch: Bool { true }
    var sharing: (any WeightSharing)? { nil }

    func batches(epoch: Int) -> [[(member: Int, indices: [Int])]] {
        sampler.batches(epoch: epoch).map { [(member: 0, indices: $0)] }
    }
}

/// The training and validation parts of a task's training split: a stratified, seeded validation hold-out
/// (`validationFraction`), then `trainLimit` applied to the training part.
func splitForTraining(_ data: TaskData, config: TrainingConfig) -> (train: LabeledImages, validation: LabeledImages) {
    var split = trainValidationSplit(data.train, validationFraction: config.validationFraction, seed: config.seed)
    if let limit = config.trainLimit, limit < split.train.count {
        split.train = split.train.subset(Array(0..<max(1, limit)))
    }
    return (split.train, split.validation)
}

/// Creates a run folder, starts mirroring `store` into its `metrics.jsonl` and writes `config.json`.
/// - Throws: ``FileWriteError`` naming the folder or file that cannot be written.
func prepareRunFolder(_ directory: URL, store: MetricsStore, config: TrainingConfig) throws {
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw FileWriteError(path: directory.path, reason: plainReason(error))
    }
    do {
        try store.mirror(to: directory.appendingPathComponent("metrics.jsonl"))
    } catch {
        throw FileWriteError(path: directory.appendingPathComponent("metrics.jsonl").path, reason: plainReason(error))
    }
    try writeAtomically(try makeJSONEncoder().encode(config), to: directory.appendingPathComponent("config.json"))
}
