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
    /// The run's splits (in memory, or lazy ImageFolder sources; ``RunData``).
    public let data: RunData
    public let task: TaskNetwork
    let runDirectory: URL
    let sampler: BatchSampler
    let members: [RunMember]
    let views: [RunView]
    /// The checkpoint ``run()`` continues from (``init(resuming:store:control:group:)``).
    private let resumeFrom: Checkpoint?
    /// The ranks when this process is one of several training the task together (`mpirun -np R taps train`).
    public let dataParallel: DataParallel?

    /// Loads the task and the base and builds the task network. Takes about a second.
    /// - Parameter folder: what to do when `config.outputDirectory` already holds a finished run (refuse by
    ///   default; `.overwrite` for `--force`).
    /// - Throws: `ConfigError` for bad options or an unknown task, `DatasetError` / `SafeTensorsError` for
    ///   unreadable files, ``RunFolderError`` for a folder holding a finished run, and ``FileWriteError`` when the
    ///   run folder cannot be written.
    /// - Parameter group: the ranks of a data-parallel run (`mpirun -np R`; nil or one rank: a plain run). Every rank
    ///   builds its trainer with the same config; rank 0 alone writes the run folder.
    /// - Throws: also `ConfigError` when the run cannot be split over the ranks (a batch smaller than the ranks,
    ///   dropout on).
    public convenience init(config: TrainingConfig, store: MetricsStore, control: TrainingControl,
                            folder: RunFolderPolicy = .refuseFinished, group: (any ProcessGroup)? = nil) throws {
        try self.init(config: config, store: store, control: control, use: .fresh(folder), resumeFrom: nil, group: group)
    }

    /// Continues the interrupted run in `directory` (killed, stopped or out of disk) from its last checkpoint:
    /// the same `config.json`, the metrics file cut back to the checkpoint, then training on exactly as an
    /// uninterrupted run with the same seed and thread count would (docs/method.md "Checkpoints").
    /// - Throws: ``CheckpointError`` when there is no usable checkpoint or the run already finished; the errors
    ///   of ``init(config:store:control:folder:)``.
    public convenience init(resuming directory: URL, store: MetricsStore, control: TrainingControl,
                            group: (any ProcessGroup)? = nil) throws {
        let configURL = directory.appendingPathComponent("config.json")
        let config: TrainingConfig
        do {
            config = try makeJSONDecoder().decode(TrainingConfig.self, from: Data(contentsOf: configURL))
        } catch {
            throw CheckpointError.malformed(file: configURL.path, reason: "cannot read the run's config.json: \(plainReason(error))")
        }
        guard config.hasCurrentLambdaDefinition else {
            throw CheckpointError.mismatch(file: configURL.path, reason: "made by an older taps, "
                + "\(config.olderLambdaDefinitionClause); train it again with --penalty \(config.penalty.rawValue) "
                + "--lambda \(config.lambdaInCurrentDefinition) for the same run (docs/method.md \"Conversion\")")
        }
        if let data = try? Data(contentsOf: directory.appendingPathComponent("summary.json")),
           let summary = try? makeJSONDecoder().decode(RunSummary.self, from: data), summary.status == .done {
            throw CheckpointError.finished(folder: directory.path)
        }
        let checkpoint = try Checkpoint.read(from: directory)
        var c = config
        c.outputDirectory = directory.path
        try self.init(config: c, store: store, control: control,
                      use: .resume(offset: checkpoint.state.metricsOffsets.first ?? 0), resumeFrom: checkpoint, group: group)
    }

    private init(config: TrainingConfig, store: MetricsStore, control: TrainingControl, use: RunFolderUse,
                 resumeFrom: Checkpoint?, group: (any ProcessGroup)?) throws {
        try config.validate()
        self.config = config
        self.store = store
        self.control = control
        if let t = config.threads { BLASThreads.set(t) }
        base = try BaseModel.load(for: config)
        data = try RunData.load(config: config, base: base)
        var rng = SeededRNG(seed: config.seed)
        task = try base.taskNetwork(classes: data.classes, mode: config.mode, tau: config.tau,
                                    initialScore: config.initialScore, trainBiases: config.trainBiases, rng: &rng)
        sampler = BatchSampler(count: data.train.count, batchSize: config.batchSize, seed: config.seed)
        runDirectory = URL(fileURLWithPath: config.outputDirectory)
        members = [RunMember(name: config.task, network: task.network, task: task, classes: data.classes,
                             train: data.train, validation: data.validation, test: data.test, view: 0, notes: data.notes)]
        views = [RunView(name: config.task, mode: RunMode(config.mode), store: store, directory: runDirectory,
                         members: [0], backboneParameters: ParameterAccounting(task).backboneParameters,
                         imagesPerStep: config.batchSize)]
        guard data.train.count > 0 else {
            throw ConfigError.invalid(option: "--task", expected: "a task with training images", got: "\(config.task) with 0 training images after the validation split")
        }
        guard data.test.count > 0 else {
            throw ConfigError.invalid(option: "--task", expected: "a task with a non-empty test split", got: "\(config.task) with 0 test images")
        }
        // The budget is enforced at the settle: a --steps limit that ends the run before it would export whatever set
        // the penalty phase had reached, so it is refused before the run folder is touched.
        let settle = config.mode == .taps ? config.effectiveSettleEpochs : 0
        if config.hasBudget, settle > 0, let limit = config.maxSteps,
           limit <= (config.epochs - settle) * sampler.batchesPerEpoch {
            let first = (config.epochs - settle) * sampler.batchesPerEpoch + 1
            throw ConfigError.invalid(option: "--steps", expected: "at least \(first) with --budget (the settle phase, where "
                + "the budget is enforced, starts at step \(first); or drop --steps)", got: "\(limit)")
        }
        self.resumeFrom = resumeFrom
        if let group, group.size > 1 {
            try Self.checkSplit(config: config, trainImages: data.train.count, network: task.network, ranks: group.size)
            for bn in batchNormLayers(in: task.network) { bn.statisticsReducer = group }
            dataParallel = DataParallel(group: group)
        } else {
            dataParallel = nil
        }
        if dataParallel?.group.isWriter ?? true {
            try prepareRunFolder(runDirectory, store: store, config: config, use: use)
        }
    }

    /// Refuses a data-parallel run whose answer would depend on the number of ranks: every rank needs at least one
    /// image of every global batch (the batch size and the epoch's last, partial batch).
    private static func checkSplit(config: TrainingConfig, trainImages: Int, network: any Layer, ranks: Int) throws {
        let last = trainImages % config.batchSize
        guard config.batchSize >= ranks else {
            throw ConfigError.invalid(option: "--batch-size", expected: "at least one image per rank (>= \(ranks))", got: "\(config.batchSize)")
        }
        guard last == 0 || last >= ranks else {
            throw ConfigError.invalid(option: "--batch-size", expected: "a last batch of each epoch with >= \(ranks) images for \(ranks) ranks",
                                      got: "\(config.batchSize) (\(trainImages) training images leave \(last)); change --batch-size or --train-limit")
        }
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
        guard let summary = RunLoop(adapter: self, control: control).run(resume: resumeFrom).first else {
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
        split.train = applyTrainLimit(split.train, limit: limit, seed: config.seed)
    }
    return (split.train, split.validation)
}

/// How a run uses its folder: afresh (refusing or overwriting a finished run), or continuing from a checkpoint.
enum RunFolderUse {
    case fresh(RunFolderPolicy)
    case resume(offset: UInt64)
}

/// A run folder that must not be reused as asked.
public enum RunFolderError: Error, CustomStringConvertible, Equatable {
    case finished(folder: String)
    case busy(folder: String)
    public var description: String {
        switch self {
        case .busy(let folder):
            return "\(folder) is in use by another taps process (it holds \(folder)/\(RunFolderLock.fileName)); wait for it or choose another --out"
        case .finished(let folder):
            return "\(folder) holds a finished run (summary.json); use --force to start afresh there, --resume to continue a stopped run, or another --out"
        }
    }
}

/// An exclusive advisory lock (`flock`) on a run folder, held until the process exits (the kernel releases it
/// even after `kill -9`), so two runs never write into one folder at once.
enum RunFolderLock {
    static let fileName = ".taps.lock"
    private static let held = Locked<[String: Int32]>([:])

    /// Takes the lock of `directory` (a no-op when this process holds it already).
    /// - Throws: ``RunFolderError/busy(folder:)`` when another process holds it; ``FileWriteError`` when the lock
    ///   file cannot be created.
    static func acquire(_ directory: URL) throws {
        let path = directory.standardizedFileURL.path
        try held.withLock { locks in
            if locks[path] != nil { return }
            let fd = open(directory.appendingPathComponent(fileName).path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FileWriteError(path: directory.appendingPathComponent(fileName).path, reason: String(cString: strerror(errno)))
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw RunFolderError.busy(folder: directory.path)
            }
            locks[path] = fd
        }
    }
}

/// Files a run writes into its folder; a fresh run with `--force` removes them first so nothing old sits beside
/// the new config.
let runFolderOutputs = ["summary.json", "task.safetensors", Checkpoint.fileName,
                        "path.md", "path.csv", "path.json", "tradeoff.svg", "tradeoff.png", "path-vs-sweep.md"]

/// Prepares a run folder: creates it, removes temporary files a killed writer left, then either starts afresh
/// (refusing a finished run unless `.overwrite`; mirrors `store` into a new `metrics.jsonl`, writes
/// `config.json`) or continues a checkpointed run (cuts `metrics.jsonl` back to the checkpoint and appends).
/// - Throws: ``RunFolderError``, ``FileWriteError`` naming the folder or file that cannot be written.
func prepareRunFolder(_ directory: URL, store: MetricsStore, config: TrainingConfig, use: RunFolderUse = .fresh(.refuseFinished)) throws {
    do {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
        throw FileWriteError(path: directory.path, reason: plainReason(error))
    }
    try RunFolderLock.acquire(directory)
    removeStaleTemporaryFiles(in: directory)
    let metrics = directory.appendingPathComponent("metrics.jsonl")
    switch use {
    case .resume(let offset):
        try store.resumeMirror(at: metrics, offset: offset)
        return
    case .fresh(let policy):
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("summary.json").path) {
            guard policy == .overwrite else { throw RunFolderError.finished(folder: directory.path) }
        }
        for name in runFolderOutputs { try? FileManager.default.removeItem(at: directory.appendingPathComponent(name)) }
    }
    do {
        try store.mirror(to: metrics)
    } catch {
        throw FileWriteError(path: metrics.path, reason: plainReason(error))
    }
    try writeAtomically(try makeJSONEncoder().encode(config), to: directory.appendingPathComponent("config.json"))
}
