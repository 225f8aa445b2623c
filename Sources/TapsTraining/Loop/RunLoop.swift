// TapsTraining: the one run loop behind every mode — control, steps, metrics, evaluation with BatchNorm
// recalibration, model selection, exports and the summary. Modes (Modes/) only say what a batch is and which
// parameters train.
import Foundation
import TAPS
import TapsData
import TapsNN
import TapsTensor

/// One network a run trains: the single task of `taps train`, or one task of a joint run.
final class RunMember {
    /// Task name.
    let name: String
    /// Logits `[N, classes]` from images `[N, C, H, W]`.
    let network: any Layer
    /// The TAPS view of `network` (nil for joint stage 1's plain networks, which have no gates or export).
    let task: TaskNetwork?
    let classes: Int
    /// Training images (in memory, or decoded on worker threads as the epoch's batches need them).
    let train: any ImageBatchSource
    let validation: any ImageBatchSource
    /// Test split (nil: the run does not test this member, e.g. joint stage 1).
    let test: (any ImageBatchSource)?
    /// Index of the metrics view this member reports to.
    let view: Int
    /// What loading the data did that a user should know (colour or size conversions, skipped files).
    let notes: [String]
    /// The head's parameters by name as built, before any training or restore: the same seeded draw as
    /// `--mode probe`'s head, from which the settle of an empty set re-fits it (``RunLoop/refitHeadIfEveryGateIsOff()``).
    let initialHead: [String: Tensor]

    init(name: String, network: any Layer, task: TaskNetwork?, classes: Int, train: any ImageBatchSource,
         validation: any ImageBatchSource, test: (any ImageBatchSource)?, view: Int, notes: [String] = []) {
        self.name = name; self.network = network; self.task = task; self.classes = classes
        self.train = train; self.validation = validation; self.test = test; self.view = view; self.notes = notes
        initialHead = Dictionary((task?.headParameters ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    var gatedLayers: [GatedLayer] { task?.gatedLayers ?? [] }
}

/// One metrics stream of a run (one per task; joint stage 1 has one for all its networks).
struct RunView {
    /// Task label of the start event (`fashion`, `joint-stage1`).
    let name: String
    let mode: RunMode
    let store: MetricsStore
    /// Where the view's files go (`summary.json`, `task.safetensors`, snapshots).
    let directory: URL
    /// Indices of the members that report here.
    let members: [Int]
    /// Backbone parameters shown in the start event.
    let backboneParameters: Int
    /// Images of one optimizer step that belong to this view.
    let imagesPerStep: Int
}

/// What a training mode tells the loop (Modes/Trainer.swift, Modes/JointTraining.swift).
protocol RunAdapter: AnyObject {
    var config: TrainingConfig { get }
    var base: BaseModel { get }
    var members: [RunMember] { get }
    var views: [RunView] { get }
    /// Epochs of this run (joint stage 1: `--stage1-epochs`).
    var epochs: Int { get }
    var stepsPerEpoch: Int { get }
    /// Exactly the parameters the optimizer updates.
    var trainableParameters: [Parameter] { get }
    /// Shared weights of the joint modes (nil: every member is independent).
    var sharing: (any WeightSharing)? { get }
    /// Whether the sparsity penalty applies after warm-up (TAPS gates exist).
    var usesPenalty: Bool { get }
    /// true: restore the epoch with the best mean validation accuracy (after warm-up); false: keep the last.
    var selectsBestEpoch: Bool { get }
    /// Set on exports of the joint suite modes.
    var suiteMode: SuiteMode? { get }
    /// The index batches of epoch `epoch`'s steps; per step one `(member, indices)` per sub-batch, members in
    /// order. Called once per epoch, in order.
    func batches(epoch: Int) -> [[(member: Int, indices: [Int])]]
    /// The ranks of a data-parallel run (nil: one process). Each rank trains on its shard of every global batch.
    var dataParallel: DataParallel? { get }
    /// The sampler's position (joint modes), saved with checkpoints at the start of each epoch; nil when the
    /// batches of an epoch depend only on the epoch number.
    var samplerState: Data? { get }
    /// Continues the sampler from ``samplerState``.
    func restoreSampler(_ state: Data) throws
    /// After training, before the exports: writes what the mode keeps besides them (a trained base) and
    /// returns the base the exports load onto (name, content hash).
    func writeArtifacts(_ loop: RunLoop) throws -> (name: String, hash: String)
}

extension RunAdapter {
    var samplerState: Data? { nil }
    var dataParallel: DataParallel? { nil }
    func restoreSampler(_ state: Data) throws {}
    var suiteMode: SuiteMode? { nil }
    func writeArtifacts(_ loop: RunLoop) throws -> (name: String, hash: String) { (base.name, base.contentHash) }
}

/// Runs one training run of any mode to its end. Used once per run; see ``Trainer`` for the public face.
///
/// Per step (at the step boundary): stop, pause (with snapshots while paused), snapshot requests, lambda changes
/// from ``TrainingControl``; then ``trainStep(_:optimizer:settings:sharing:)``; then one step event per view.
/// Per epoch: BatchNorm recalibration and validation of every member, an epoch event, model selection.
/// At the end: restore the selected epoch, test, write exports, snapshots and `summary.json`, end events.
///
/// Data-parallel (``RunAdapter/dataParallel``): every rank runs this loop on its shard of each global batch; rank 0
/// alone reads the control box and broadcasts stop and lambda at each step boundary, and alone writes checkpoints,
/// exports, snapshots and summaries. Evaluation runs in full on every rank (so model selection agrees everywhere).
final class RunLoop {
    let adapter: any RunAdapter
    let control: TrainingControl
    /// The ranks of a data-parallel run (nil: one process).
    let dataParallel: DataParallel?
    /// Whether this process writes the run folder (every plain run; rank 0 of a data-parallel run).
    let isWriter: Bool
    var step = 0
    var epoch = 0
    var status = RunStatus.done
    var failure: String?
    var lambda: Double
    var lambdaHistory: [LambdaChange] = []
    /// The lambda a path search's raise put in the control box, until the step boundary applies it (so the change is
    /// recorded as the search's, not the user's).
    var pathLambdaRequest: Double?
    /// Latest validation accuracy of each member (0...1), and the epoch-average training accuracy.
    var validation: [Double]
    var trainAccuracy: [Double?]
    var best: (accuracy: Double, epoch: Int, perMember: [Double], state: [[Tensor]])?
    var epochsCompleted = 0
    private(set) var throughput = 0.0
    var trainingSeconds = 0.0
    var announcedRecalibration: Set<Int> = []
    /// Gate flips per member and layer, the flips in the final 20% of the steps, and the step counts of each
    /// active set during the last penalty epoch (the settle rule's votes).
    var flips: [[Int]] = []
    var lateFlips = 0
    var previousActive: [[Bool]] = []
    var setVotes: [[String: Int]] = []
    /// Per member, the layers pinned off when a budget run first fit its budget (empty until then, and again from
    /// the settle on; see ``pinIfBudgetMet()``).
    var budgetPinned: [[String]] = []
    /// The head re-fit of an empty settle set (``refitHeadIfEveryGateIsOff()``): its selected epoch and steps.
    var headRefit: (epoch: Int, steps: Int)?
    /// A cached probe's features (``probeFeatureCache()``): its validation reads the cached features instead of running
    /// the network (the same batches and mode, so the same accuracy).
    private var probeCache: HeadFeatureCache?
    /// Active layers of each member at the run's last step, before model selection.
    private var finalActive: [[String]] = []
    var started = Date()
    /// Undecodable files of each lazy split already reported (`member.split` -> count).
    private var reportedBadFiles: [String: Int] = [:]
    /// The run folder's control file (`control.json`, written by an attached dashboard); the writer only.
    private let controlFile: ControlFileWatcher?

    init(adapter: any RunAdapter, control: TrainingControl) {
        self.adapter = adapter
        self.control = control
        dataParallel = adapter.dataParallel
        isWriter = dataParallel?.group.isWriter ?? true
        lambda = control.lambda
        controlFile = isWriter
            ? adapter.views.first.map { ControlFileWatcher(directory: $0.directory, control: control) } : nil
        validation = Array(repeating: 0, count: adapter.members.count)
        trainAccuracy = Array(repeating: nil, count: adapter.members.count)
        flips = adapter.members.map { Array(repeating: 0, count: $0.gatedLayers.count) }
        previousActive = adapter.members.map { $0.gatedLayers.map(\.isActive) }
        setVotes = adapter.members.map { _ in [:] }
        finalActive = adapter.members.map { _ in [] }
    }

    /// First epoch of the settle phase (docs/method.md "Training recipe"): the active set is fixed and only the
    /// kept deltas, norms and head train; `Int.max` when the run has none.
    var settleStart: Int {
        let settle = adapter.usesPenalty ? config.effectiveSettleEpochs : 0
        return settle > 0 ? adapter.epochs - settle + 1 : Int.max
    }

    var config: TrainingConfig { adapter.config }
    var members: [RunMember] { adapter.members }
    var views: [RunView] { adapter.views }
    private var normalization: Normalization { adapter.base.normalization }
    /// Dropout layers of each member (data-parallel runs tell them which rows of the global batch are theirs).
    private lazy var dropouts = members.map { dropoutLayers(in: $0.network) }
    /// Training augmentation (`--augment`; seeded by image index and epoch, so resumed runs draw the same crops).
    lazy var augmentation = config.augmentation(for: adapter.base)

    /// Optimizer steps of the whole run (respecting `--steps`); for a path run, of its warm-up and search.
    var totalSteps: Int { min(adapter.stepsPerEpoch * adapter.epochs, config.maxSteps ?? Int.max) }

    /// The step count at which the loop ends: ``totalSteps``, or for a path run whose search is over, the end of
    /// its sets' training (planned when the search ends, ``advancePath()``), within `--steps`.
    var stepLimit: Int { pathStepLimit ?? totalSteps }

    func notice(_ kind: NoticeKind, _ message: String, step: Int? = nil, from: Double? = nil, to: Double? = nil,
                paths: [String]? = nil, plannedSteps: Int? = nil, views only: [Int]? = nil) {
        for v in only ?? Array(views.indices) {
            views[v].store.append(.notice(NoticeEvent(kind: kind, step: step ?? self.step, message: message,
                                                      from: from, to: to, paths: paths, plannedSteps: plannedSteps)))
        }
    }

    // MARK: - The run

    /// Trains, selects, tests and exports. Never throws: a non-finite loss or an I/O error ends the run with
    /// status `failed` and a message; returns one summary per member that has gates (none for joint stage 1).
    /// With `resume`, continues from that checkpoint (its state was restored by ``restore(_:optimizer:)``).
    func run(resume: Checkpoint? = nil) -> [RunSummary] {
        let schedule = CosineSchedule(peak: Float(config.learningRate), totalSteps: totalSteps)
        let optimizer = SGD(parameters: adapter.trainableParameters, momentum: Float(config.momentum), weightDecay: 0)
        let scoreScale = (config.scoreLearningRate ?? config.learningRate) / config.learningRate
        if config.scoreLearningRate != nil {
            for m in members { for g in m.gatedLayers { optimizer.setLearningRateScale(Float(scoreScale), for: g.score) } }
        }
        self.optimizer = optimizer
        var firstEpoch = 1, skipSteps = 0
        if let resume {
            do {
                try restore(resume, optimizer: optimizer)
            } catch {
                status = .failed
                failure = "cannot resume: \(error)"
                return finish()
            }
            firstEpoch = resume.state.epochDone ? resume.state.epoch + 1 : resume.state.epoch
            skipSteps = resume.state.epochDone ? 0 : resume.state.stepInEpoch
            notice(.info, "resumed from the checkpoint at step \(step) (epoch \(resume.state.epoch))")
        } else {
            lambdaHistory = [LambdaChange(step: 1, lambda: lambda)]
            emitStart()
            for member in members { for note in member.notes { notice(.info, note, views: [member.view]) } }
            let biases = config.trainBiases ?? TrainingConfig.defaultTrainBiases(for: config.mode)
            if config.mode != .finetune {
                notice(.info, (config.mode == .probe ? "linear probe: the head trains" : "taps: deltas, scores and the head train")
                    + (biases ? ", and the gated layers' biases (--train-biases on)"
                              : "; the gated layers' biases stay frozen as in the paper's code (--train-biases on trains them)")
                    + "; normalisation layers, if any, train")
            } else {
                notice(.info, "fine-tuning: every weight of the backbone and the head train"
                    + (biases ? ", and every bias" : "; the gated layers' biases stay frozen (--train-biases off)")
                    + "; normalisation layers, if any, train")
            }
            // The budget is enforced at the settle: a --steps limit that ends the run before it would export
            // whatever set the penalty phase had reached (a single-task Trainer refuses this before its folder exists;
            // this covers the joint modes).
            if config.hasBudget && adapter.usesPenalty && settleStart != Int.max
                && totalSteps <= (settleStart - 1) * adapter.stepsPerEpoch {
                status = .failed
                failure = "--steps \(totalSteps) ends the run before its settle phase (from step "
                    + "\((settleStart - 1) * adapter.stepsPerEpoch + 1)), where the budget is enforced: raise --steps or drop it"
                return finish()
            }
            if config.path != nil && members.count != 1 {
                status = .failed
                failure = "--path follows a single task: this run trains \(members.count) networks (use taps path per task)"
                return finish()
            }
            if adapter.usesPenalty && adapter.epochs <= config.warmupEpochs {
                notice(.info, "warning: --epochs \(adapter.epochs) is not above --warmup-epochs \(config.warmupEpochs): "
                    + "the sparsity penalty never runs and every gate stays as it started (use --epochs above --warmup-epochs)")
            } else if adapter.usesPenalty && config.path == nil && settleStart - 1 <= config.warmupEpochs {
                // The settle takes every epoch after warm-up (a budget run is refused for this in validate()).
                notice(.info, "warning: --settle-epochs \(config.effectiveSettleEpochs) takes every epoch after the "
                    + "\(config.warmupEpochs) of warm-up: the sparsity penalty never runs and every gate stays as it started "
                    + "(use --settle-epochs below \(adapter.epochs - config.warmupEpochs))")
            }
        }
        if let dataParallel {
            let size = dataParallel.group.size
            notice(.info, "data-parallel over \(size) processes (MPI): each takes ~\(config.batchSize / size) of every "
                + "\(config.batchSize)-image batch; \(DataParallel.gradientBytes(adapter.trainableParameters)) bytes of gradients "
                + "all-reduced per step; BatchNorm statistics synchronised; rank 0 writes the run folder")
        }
        let penaltyOnAt = config.warmupEpochs + 1
        // A linear probe on a frozen backbone trains its head on features computed once (counted as training time).
        let cacheStart = Date()
        probeCache = probeFeatureCache()
        let cacheSeconds = Date().timeIntervalSince(cacheStart)
        if probeCache != nil { trainingSeconds += cacheSeconds }
        var probeImages = 0, probeSeconds = cacheSeconds
        lastCheckpoint = Date()

        // A path run's sets train after its search, beyond --epochs (``advancePath()``); it ends when they are done.
        epochLoop: for e in firstEpoch... {
            guard e <= adapter.epochs || pathStepLimit != nil else { break }
            epoch = e
            let epochStart = Date()
            var pausedSeconds = 0.0
            let resuming = e == firstEpoch && resume != nil && skipSteps > 0
            var sums = resuming ? resumedSums : views.map { _ in (loss: 0.0, correct: 0, seen: 0) }
            var batches = resuming ? skipSteps : 0
            if adapter.usesPenalty && e == penaltyOnAt && config.warmupEpochs > 0 && !resuming {
                notice(.warmupOver, "warm-up over: sparsity penalty on (lambda \(ProgressFormatter.fmt(lambda)))", step: step + 1)
            }
            if config.path != nil && adapter.usesPenalty && e == penaltyOnAt && !resuming { keepPathStart() }
            if e == settleStart && !resuming {
                settleGates()
                if refitHeadIfEveryGateIsOff() { break epochLoop }
            }
            if e > settleStart || (e == settleStart && resuming) { freezeGates() }
            epochSampler = adapter.samplerState
            let epochBatches = adapter.batches(epoch: e)
            // (a path's set in training reads its replayed batches itself: no stream decodes the loop's)
            let streams = probeCache != nil || pathTraining != nil ? members.map { _ in nil }
                : trainingStreams(epochBatches, from: resuming ? skipSteps : 0, epoch: e)
            for (i, loopBatch) in epochBatches.enumerated() where !resuming || i >= skipSteps {
                if step >= stepLimit { break epochLoop }
                guard stepBoundary(pausedSeconds: &pausedSeconds, stepInEpoch: i, sums: sums) else {
                    if status != .failed { status = .stopped }
                    checkpoint(epochDone: false, stepInEpoch: i, sums: sums)
                    break epochLoop
                }
                if dataParallel == nil {
                    if checkpointDue() { checkpoint(epochDone: false, stepInEpoch: i, sums: sums) }
                    if failure != nil { break epochLoop }
                }

                // A path's set in training replays the epochs after warm-up (``pathReplayBatch()``).
                let replay = pathReplayBatch()
                let indexBatch = replay?.batch ?? loopBatch, batchEpoch = replay?.epoch ?? e
                let t0 = Date()
                let settings = StepSettings(
                    lambda: lambda, penaltyOn: adapter.usesPenalty && e >= penaltyOnAt && e < settleStart && pathTraining == nil,
                    penalty: config.penalty,
                    penaltyUpdate: config.penaltyUpdate,
                    learningRate: config.path != nil ? pathLearningRate
                        : e >= settleStart ? settleLearningRate(epoch: e, stepInEpoch: i) : schedule.learningRate(at: step),
                    scoreLearningRateScale: scoreScale)
                let outcome: StepResult
                if let probeCache, let only = indexBatch.first, indexBatch.count == 1 {
                    outcome = probeCache.step(only.indices, optimizer: optimizer, learningRate: settings.learningRate,
                                              gatedLayers: members[only.member].gatedLayers, penalty: config.penalty)
                } else {
                    let subBatches: [SubBatch]
                    do {
                        subBatches = try indexBatch.map { m, indices -> SubBatch in
                            let mine = dataParallel?.shard(indices) ?? indices
                            if let dataParallel {
                                let rows = DataParallel.shard(count: indices.count, rank: dataParallel.group.rank, size: dataParallel.group.size)
                                for d in dropouts[m] { d.batchShard = (rows.lowerBound, indices.count) }
                            }
                            let (x, y) = try (replay == nil ? streams[m]?.next() : nil)
                                ?? members[m].train.batch(mine, normalization: normalization, augmentation: augmentation,
                                                          epoch: batchEpoch, seed: config.seed)
                            return SubBatch(network: members[m].network, gatedLayers: members[m].gatedLayers, images: x, labels: y,
                                            globalCount: indices.count)
                        }
                    } catch {
                        fail("reading the training images failed at step \(step + 1): \(error)")
                        if let dataParallel {  // this rank alone failed inside the step: end the whole run
                            FileHandle.standardError.write(Data("error: rank \(dataParallel.group.rank): \(failure ?? "")\n".utf8))
                            dataParallel.group.abort(code: 1)
                        }
                        break epochLoop
                    }
                    outcome = trainStep(subBatches, optimizer: optimizer, settings: settings, sharing: adapter.sharing,
                                        dataParallel: dataParallel).restoringDropout(dropouts)
                }
                switch outcome {
                case .nonFinite(let loss):
                    status = .failed
                    failure = "loss became \(loss) at step \(step + 1) (epoch \(e)); lower --lr (now \(config.learningRate)) or check the data"
                    break epochLoop
                case .completed(let results):
                    step += 1
                    let seen = results.reduce(0) { $0 + $1.count }
                    if probeCache != nil {
                        // Images trained on per second of training, the features' forward pass included (not the
                        // head's step rate alone; pauses and validation excluded).
                        probeImages += seen
                        probeSeconds += Date().timeIntervalSince(t0)
                        throughput = Double(probeImages) / max(probeSeconds, 1e-9)
                    } else {
                        let rate = Double(seen) / max(Date().timeIntervalSince(t0), 1e-9)
                        throughput = throughput == 0 ? rate : 0.9 * throughput + 0.1 * rate
                    }
                    batches += 1
                    trackGates(votes: e == settleStart - 1)
                    reportStep(results, members: indexBatch.map(\.member), settings: settings, sums: &sums)
                    if config.path != nil && adapter.usesPenalty && e >= penaltyOnAt && advancePath() { break epochLoop }
                }
            }
            guard batches > 0 else { break }
            let epochSeconds = Date().timeIntervalSince(epochStart) - pausedSeconds
            if step >= stepLimit || batches == adapter.stepsPerEpoch {
                epochsCompleted += 1
                trainingSeconds += epochSeconds
            }
            // While a path's set trains, the epoch's evaluation (BatchNorm recalibration runs in training mode) must not
            // move the dropout generators: the set's draws would depend on where the loop's epochs fall in it.
            let generators = pathTraining != nil ? dropoutStates : nil
            evaluateEpoch(sums: sums, batches: batches, seconds: epochSeconds)
            if let generators { restoreDropout(generators) }
            let eligible = settleStart != Int.max ? e >= settleStart
                : !adapter.usesPenalty || e >= penaltyOnAt || adapter.epochs < penaltyOnAt
            let mean = validation.reduce(0, +) / Double(max(validation.count, 1))
            // Ties go to the later epoch: more training at a lower learning rate, and nearer the run's end state
            // (validation splits of a few hundred images tie often: ucidigits, `--budget 20%`, 16 of 20 seeds tied at
            // their two settle epochs and exported the first). The notice is for a new best only.
            if adapter.selectsBestEpoch && config.path == nil && eligible && mean >= (best?.accuracy ?? -1) {
                let higher = mean > (best?.accuracy ?? -1)
                best = (mean, e, validation, members.map { $0.network.parameters.map(\.value) })
                if higher { notice(.best, String(format: members.count > 1
                    ? "best mean validation accuracy over the tasks so far: %.4f (epoch %d)"
                    : "best validation accuracy so far: %.4f (epoch %d)", mean, e)) }
            }
            if adapter.usesPenalty && e >= penaltyOnAt && e < settleStart { recordCandidates() }
            // After an epoch, unless the last checkpoint is under 30 s old (tiny epochs would write one every few steps).
            if e < adapter.epochs && step < stepLimit && Date().timeIntervalSince(lastCheckpoint) >= 30 {
                checkpoint(epochDone: true, stepInEpoch: batches, sums: sums)
            }
            // Data-parallel: rank 0 tells the others to stop at the next step boundary (none must leave alone).
            if failure != nil && dataParallel == nil { break }
        }
        if status == .stopped { notice(.info, "stopped by request at step \(step); continue with --resume") }
        finalActive = members.map { m in m.gatedLayers.filter(\.isActive).map(\.name) }
        return finish()
    }

    /// The learning rate in the settle phase: a restart at `--lr` annealed to 0 (cosine) over the settle epochs, so the
    /// kept deltas, norms and head re-fit to the fixed set (the penalty phase's deltas of layers now off no longer
    /// count; at the tail of the run's own schedule the rate would be near 0 and could not re-fit).
    private func settleLearningRate(epoch e: Int, stepInEpoch i: Int) -> Float {
        let total = max(1, (adapter.epochs - settleStart + 1) * adapter.stepsPerEpoch)
        let done = Float((e - settleStart) * adapter.stepsPerEpoch + i) / Float(total)
        return 0.5 * Float(config.learningRate) * (1 + cos(Float.pi * min(1, done)))
    }

    /// Per member whose training images decode on demand, a stream of its sub-batches of this epoch from step
    /// `first` on, made ahead on worker threads (``BatchStream``); nil for members held in memory.
    private func trainingStreams(_ batches: [[(member: Int, indices: [Int])]], from first: Int, epoch e: Int) -> [BatchStream?] {
        members.indices.map { m in
            guard members[m].train.decodesOnDemand else { return nil }
            // This process's rows of each sub-batch (all of them without MPI), as the step takes them.
            let mine = batches.dropFirst(first).flatMap { step in
                step.filter { $0.member == m }.map { dataParallel?.shard($0.indices) ?? $0.indices }
            }
            return BatchStream(source: members[m].train, batches: mine, normalization: normalization,
                               augmentation: augmentation, epoch: e, seed: config.seed)
        }
    }

    /// A notice for files of a lazy split that failed to decode since the last report (`--skip-bad` replaces each
    /// by the next decodable image of its class).
    private func reportSkippedFiles() {
        for (m, member) in members.enumerated() {
            for (label, split) in [("training", member.train), ("validation", member.validation), ("test", member.test)] {
                guard let source = split as? ImageFolderSource else { continue }
                let bad = source.badFiles
                let key = "\(m).\(label)"
                guard bad.count > (reportedBadFiles[key] ?? 0), let first = bad.keys.min() else { continue }
                reportedBadFiles[key] = bad.count
                notice(.info, "--skip-bad: \(bad.count) of \(source.count) \(label) images of \(member.name) failed to decode and were replaced by the next image of their class; first: \(bad[first] ?? "")",
                       views: [member.view])
            }
        }
    }

    /// Ends the run as failed with `message` (the first failure wins).
    func fail(_ message: String) {
        status = .failed
        if failure == nil { failure = message }
    }

    // MARK: - State of the budget, the path and checkpoints (their code: RunLoop+Gates.swift, RunLoop+Path.swift,
    // RunLoop+Checkpoint.swift)

    /// Sets seen at the end of each penalty epoch with the validation accuracy they had (budget runs choose the
    /// most accurate one that fits).
    var candidateSets: [[(set: String, accuracy: Double)]] = []
    var pathPoints: [PathPoint] = []
    /// The state every set of a path trains from: each member's parameters, the momentum buffers and the dropout
    /// generators at the end of warm-up (``keepPathStart()``).
    var pathStart: (parameters: [[Tensor]], momentum: [Tensor?], dropout: [[[UInt64]]])?
    /// The sets the path's search found, in order, with the lambda and step at which each had held long enough.
    var pathSets: [(key: String, lambda: Double, step: Int)] = []
    /// Index in ``pathSets`` of the set in training (nil: warm-up or search).
    var pathTraining: Int?
    /// Steps left in the training of set ``pathTraining``, of `pathSettleTotal`.
    var pathSettleLeft = 0
    var pathSettleTotal = 1
    var pathSinceRaise = 0
    /// Sets the search has found (`1`/`0` per gated layer).
    var pathSeenSets: Set<String> = []
    /// A new set and the consecutive steps it has held so far.
    var pathCandidate: String?
    var pathCandidateSteps = 0
    /// The end of a path's training phase, once its search is over (nil before).
    var pathStepLimit: Int?
    /// The index batches of the epochs after warm-up that path sets replay, by epoch.
    var pathReplayEpochs: [Int: [[(member: Int, indices: [Int])]]] = [:]
    var optimizer: SGD?
    var lastCheckpoint = Date()
    var epochSampler: Data?
    var resumedSums: [(loss: Double, correct: Int, seen: Int)] = []

    // MARK: - Step boundary: the control box

    /// Applies stop, pause, snapshot and lambda requests. Returns false when the run must stop.
    ///
    /// Data-parallel: rank 0 does all of that (and a due checkpoint), then broadcasts whether to go on and the lambda
    /// of the next step; the other ranks wait for it and apply it, so every rank takes the same steps.
    private func stepBoundary(pausedSeconds: inout Double, stepInEpoch: Int,
                              sums: [(loss: Double, correct: Int, seen: Int)]) -> Bool {
        pinIfBudgetMet()   // every rank, before the control box: it freezes parameters
        guard let dataParallel else { return localStepBoundary(pausedSeconds: &pausedSeconds) }
        var message = [0.0, lambda]
        if isWriter {
            var proceed = localStepBoundary(pausedSeconds: &pausedSeconds)
            if proceed && checkpointDue() { checkpoint(epochDone: false, stepInEpoch: stepInEpoch, sums: sums) }
            if failure != nil { proceed = false }
            message = [proceed ? 1 : 0, lambda]
        }
        dataParallel.group.broadcast(&message, from: 0)
        // A receiving rank does not learn who changed lambda; only rank 0's history is written.
        if !isWriter && message[1] != lambda && adapter.usesPenalty { changeLambda(to: message[1], source: nil) }
        return message[0] == 1
    }

    /// Makes `new` the lambda from the next step on and records it in the lambda history with its `source`; the
    /// writer also writes the `lambda` notice.
    func changeLambda(to new: Double, source: LambdaChange.Source?) {
        if isWriter {
            let by: String
            switch source {
            case .budget?: by = " (budget controller)"
            case .path?: by = " (path search)"
            case .user?, nil: by = ""
            }
            notice(.lambda, "lambda \(ProgressFormatter.fmt(lambda)) -> \(ProgressFormatter.fmt(new)) from step \(step + 1)" + by,
                   step: step + 1, from: lambda, to: new)
        }
        lambda = new
        // Two changes at one boundary (the user's request, then the budget controller's raise from it): one entry,
        // the lambda the next step uses, still marked as the user's (the run is not one its settings repeat).
        if lambdaHistory.count > 1, let last = lambdaHistory.last, last.step == step + 1 {
            lambdaHistory[lambdaHistory.count - 1] = LambdaChange(step: last.step, lambda: lambda,
                                                                   source: last.source == .user ? .user : source)
        } else {
            lambdaHistory.append(LambdaChange(step: step + 1, lambda: lambda, source: source))
        }
    }

    /// The control box of this process: stop, pause, snapshots, lambda (every plain run; rank 0 of a data-parallel run).
    private func localStepBoundary(pausedSeconds: inout Double) -> Bool {
        if let broken = views.lazy.compactMap({ $0.store.writeFailure }).first {
            status = .failed
            failure = "\(broken); the last checkpoint is kept"
            return false
        }
        pollControlFile()
        if control.isStopRequested { return false }
        if control.isPaused {
            notice(.paused, "paused at step \(step)")
            let t0 = Date()
            control.waitWhilePaused(poll: { [self] in pollControlFile() }) { [self] in writeSnapshots(force: false) }
            pausedSeconds += Date().timeIntervalSince(t0)
            notice(.resumed, "resumed at step \(step)")
            if control.isStopRequested { return false }
        }
        writeSnapshots(force: false)
        // The user's request first (a key, the control file), then the budget controller's raise from it.
        if control.lambda != lambda && adapter.usesPenalty {
            changeLambda(to: control.lambda, source: control.lambda == pathLambdaRequest ? .path : .user)
        }
        pathLambdaRequest = nil
        if let raised = budgetRaise() {
            control.lambda = raised
            changeLambda(to: raised, source: .budget)
        }
        return true
    }

    /// Moves a new request of the control file into the control box (at most one `stat` every 0.5 s); a file that
    /// cannot be used gives one error notice per version of the file (docs/method.md "Control file").
    private func pollControlFile() {
        guard let controlFile else { return }
        if case .problem(let message) = controlFile.poll(step: step) { notice(.error, message) }
    }

    // MARK: - Metrics

    private func emitStart() {
        let weights = members.first?.gatedLayers.isEmpty == false
            ? SparsityPenalty.weights(members[0].gatedLayers, kind: config.penalty) : nil
        for (v, view) in views.enumerated() {
            let first = members[view.members[0]]
            let layers = first.gatedLayers.enumerated().map { i, g in
                LayerInfo(index: i, name: g.name, shape: g.base.weight.value.shape, parameters: g.weightCount)
            }
            let start = RunStartEvent(
                task: view.name, mode: view.mode, base: adapter.base.name, lambda: lambda, tau: config.tau,
                epochs: adapter.epochs, warmupEpochs: adapter.usesPenalty ? config.warmupEpochs : adapter.epochs,
                stepsPerEpoch: adapter.stepsPerEpoch, batchSize: view.imagesPerStep, seed: config.seed, layers: layers,
                backboneParameters: view.backboneParameters, runDirectory: view.directory.path,
                time: started.timeIntervalSince1970, penaltyKind: layers.isEmpty ? nil : config.penalty,
                penaltyWeights: layers.isEmpty ? nil : weights, lambdaCeiling: TrainingControl.maximumLambda,
                headParameters: first.task.map { $0.headParameters.reduce(0) { $0 + $1.count } },
                budget: adapter.usesPenalty ? budgetShare(first) : nil,
                settleEpochs: settleStart == Int.max ? 0 : adapter.epochs - settleStart + 1)
            view.store.append(.start(start))
            // A budget that holds no gated layer or all of them steers nothing: said where every viewer sees it.
            if let warning = BudgetWarning.message(for: start) { notice(.info, "warning: " + warning, views: [v]) }
        }
    }

    /// One step event per view: the mean task loss of its members' sub-batches, their penalty, scores.
    private func reportStep(_ results: [SubBatchResult], members memberIndices: [Int], settings: StepSettings,
                            sums: inout [(loss: Double, correct: Int, seen: Int)]) {
        let elapsed = Date().timeIntervalSince(started)
        for (v, view) in views.enumerated() {
            let mine = zip(memberIndices, results).filter { view.members.contains($0.0) }
            guard !mine.isEmpty else { continue }
            let taskLoss = mine.reduce(0) { $0 + $1.1.taskLoss } / Double(mine.count)
            let penalty = mine.reduce(0) { $0 + $1.1.penalty }
            let correct = mine.reduce(0) { $0 + $1.1.correct }, count = mine.reduce(0) { $0 + $1.1.count }
            sums[v].loss += taskLoss; sums[v].correct += correct; sums[v].seen += count
            let gated = members[mine[0].0].gatedLayers
            view.store.append(.step(StepEvent(
                step: step, epoch: epoch,
                phase: settings.penaltyOn ? .sparsify : adapter.usesPenalty && epoch > config.warmupEpochs ? .settle : .warmup,
                loss: taskLoss + (settings.penaltyOn ? settings.lambda * penalty : 0), taskLoss: taskLoss,
                penalty: penalty, lambda: settings.lambda, accuracy: Double(correct) / Double(max(count, 1)),
                learningRate: Double(settings.learningRate), scores: gated.map { Double($0.score.value.storage[0]) },
                active: gated.map(\.isActive), samplesPerSecond: throughput, elapsed: elapsed,
                scoreTaskGradients: gated.isEmpty ? nil : mine[0].1.scoreTaskGradients,
                deltaRatios: gated.isEmpty ? nil : gated.map(deltaRatio))))
        }
    }

    /// `||dw|| / ||w0||` of a gated layer (0 when `w0` is zero).
    private func deltaRatio(_ g: GatedLayer) -> Double {
        let w0 = g.base.weight.value.norm()
        return w0 > 0 ? g.delta.value.norm() / w0 : 0
    }

    // MARK: - Evaluation

    /// Re-estimates a member's BatchNorm statistics on its training images (docs/method.md "Training recipe"), with progress events and a notice the first time it changes anything.
    func recalibrate(_ m: Int) {
        let member = members[m]
        let store = views[member.view].store
        let layers: Int
        do {
            layers = try recalibrateBatchNorm(member.network, on: member.train, normalization: normalization) { done, total in
                store.append(.progress(ProgressEvent(step: self.step, phase: .recalibrating, done: done, total: total)))
            }
        } catch {
            fail("reading the training images of \(member.name) failed while re-estimating BatchNorm statistics: \(error)")
            return
        }
        if layers > 0 && member.train.count > 0 && !announcedRecalibration.contains(m) {
            announcedRecalibration.insert(m)
            let images = min(member.train.count, 64 * 16)
            notice(.recalibrated, "BatchNorm running statistics of \(layers) layers re-estimated on \(images) training images of \(member.name) before each validation and the test",
                   views: [member.view])
        }
    }

    /// Accuracy of member `m` on `split`, with progress events; 0 (and the run failed) when an image cannot be read.
    func accuracy(_ m: Int, on split: any ImageBatchSource, phase: EvaluationPhase) -> Double {
        let store = views[members[m].view].store
        do {
            return try evaluate(members[m].network, on: split, normalization: normalization) { done, total in
                store.append(.progress(ProgressEvent(step: self.step, phase: phase, done: done, total: total)))
            }.accuracy
        } catch {
            fail("reading the \(phase == .testing ? "test" : "validation") images of \(members[m].name) failed: \(error)")
            return 0
        }
    }

    private func evaluateEpoch(sums: [(loss: Double, correct: Int, seen: Int)], batches: Int, seconds: Double) {
        for (m, member) in members.enumerated() {
            adapter.sharing?.pull(into: m)
            recalibrate(m)
            let train = Double(sums[member.view].correct) / Double(max(sums[member.view].seen, 1))
            trainAccuracy[m] = train
            validation[m] = member.validation.count == 0 ? train
                : probeCache?.validationAccuracy() ?? accuracy(m, on: member.validation, phase: .validating)
        }
        reportSkippedFiles()
        for (v, view) in views.enumerated() {
            let acc = view.members.map { validation[$0] }
            view.store.append(.epoch(EpochEvent(
                epoch: epoch, step: step, trainLoss: sums[v].loss / Double(max(batches, 1)),
                trainAccuracy: Double(sums[v].correct) / Double(max(sums[v].seen, 1)),
                validationAccuracy: acc.reduce(0, +) / Double(max(acc.count, 1)),
                activeLayers: members[view.members[0]].task?.activeIndices.count ?? 0, seconds: seconds)))
            if view.members.count > 1 {
                notice(.info, "validation: " + view.members.map { members[$0].name + String(format: " %.4f", validation[$0]) }
                    .joined(separator: ", "), views: [v])
            }
        }
    }

    // MARK: - The end: selection, test, exports, summaries

    private func finish() -> [RunSummary] {
        var testAccuracy = [Double?](repeating: nil, count: members.count)
        var exports = [String?](repeating: nil, count: members.count)
        var exportBase = (name: adapter.base.name, hash: adapter.base.contentHash)
        // Data-parallel: the other ranks end here; rank 0 tests, exports and writes the summary.
        if failure == nil && !isWriter {
            if let best { validation = best.perMember }
        } else if failure == nil {
            if let best {
                for (member, state) in zip(members, best.state) {
                    for (p, v) in zip(member.network.parameters, state) { p.value = v }
                }
                validation = best.perMember
                announceSelection(best.epoch)
            }
            for (m, member) in members.enumerated() {
                adapter.sharing?.pull(into: m)
                if best == nil { recalibrate(m) }   // a restored epoch carries its own recalibrated statistics
                if let test = member.test { testAccuracy[m] = accuracy(m, on: test, phase: .testing) }
            }
            reportSkippedFiles()
        }
        if failure == nil && config.path != nil { finishPath() }
        if failure == nil {
            do {
                exportBase = try adapter.writeArtifacts(self)
                for (m, member) in members.enumerated() where member.task != nil {
                    exports[m] = try writeExport(m, base: exportBase, testAccuracy: testAccuracy[m])
                    if adapter.usesPenalty, let budget = budgetShare(member), deltaCost(member) > budget {
                        notice(.info, String(format: "warning: the run stopped before its settle, so the export's active "
                            + "deltas take %.1f%% of the backbone, over the %.1f%% budget", 100 * deltaCost(member), 100 * budget),
                               views: [member.view])
                    }
                }
                writeSnapshots(force: true)
            } catch {
                status = .failed
                failure = "writing the run folder failed: \(error)"
            }
        }
        if let failure { notice(.error, failure) }
        let seconds = Date().timeIntervalSince(started)
        var summaries: [RunSummary] = []
        for (v, view) in views.enumerated() {
            let gatedMembers = view.members.filter { members[$0].task != nil }
            var endActive: [String] = [], endParameters = 0, endSelected: Int?, endFinal: [String]?
            for m in gatedMembers {
                let summary = makeSummary(m, base: exportBase.name, testAccuracy: testAccuracy[m], export: exports[m],
                                          seconds: seconds)
                summaries.append(summary)
                endActive = summary.activeLayers
                endParameters = summary.taskSpecificParameters
                endSelected = summary.selectedEpoch
                endFinal = summary.finalActiveLayers
                do {
                    if isWriter {
                        try writeAtomically(try makeJSONEncoder().encode(summary), to: view.directory.appendingPathComponent("summary.json"))
                    }
                } catch {
                    notice(.error, "cannot write summary.json: \(error)", views: [v])
                }
            }
            // The selected epoch's validation (or, without model selection, the last one evaluated).
            let evaluated = adapter.selectsBestEpoch ? best != nil : view.members.allSatisfy { trainAccuracy[$0] != nil }
            let acc = view.members.map { validation[$0] }
            view.store.append(.end(RunEndEvent(
                status: status, step: step, testAccuracy: gatedMembers.first.flatMap { testAccuracy[$0] },
                bestValidationAccuracy: evaluated ? acc.reduce(0, +) / Double(max(acc.count, 1)) : nil,
                activeLayers: endActive, taskSpecificParameters: endParameters, seconds: seconds, message: failure,
                selectedEpoch: endSelected, finalActiveLayers: endFinal)))
            view.store.flush()
            if status == .done && isWriter { try? FileManager.default.removeItem(at: view.directory.appendingPathComponent(Checkpoint.fileName)) }
        }
        return summaries
    }

    private func announceSelection(_ selectedEpoch: Int) {
        for (m, member) in members.enumerated() {
            guard let task = member.task else { continue }
            let active = task.activeIndices.map { task.gatedLayers[$0].name }
            let acc = ParameterAccounting(task)
            notice(.selected, String(
                format: "selected epoch %d (validation %.4f): %d/%d active%@, task-specific %@ = %.1f%% of the backbone",
                selectedEpoch, validation[m], active.count, task.gatedLayers.count,
                (active.isEmpty ? "" : " (" + active.joined(separator: ", ") + ")") as NSString,
                ProgressFormatter.grouped(acc.taskSpecificParameters) as NSString, 100 * acc.fractionOfBackbone),
                views: [member.view])
        }
    }

    /// Writes member `m`'s `task.safetensors` (the one export path: typed metadata, atomic write).
    func writeExport(_ m: Int, base: (name: String, hash: String), testAccuracy: Double?,
                             validationAccuracy: Double? = nil, to file: URL? = nil) throws -> String {
        let member = members[m]
        guard let task = member.task else { return "" }
        var metadata = TaskExportMetadata(
            task: member.name, mode: config.mode, suiteMode: adapter.suiteMode, base: base.name, baseHash: base.hash,
            architecture: adapter.base.architecture, imageSize: adapter.base.inputShape[1], classes: member.classes,
            tau: config.tau, head: task.headName, gatedLayers: task.gatedLayers.map(\.name),
            lambdaHistory: lambdaHistory, seed: config.seed, steps: step, testAccuracy: testAccuracy,
            validationAccuracy: validationAccuracy ?? best?.perMember[m])
        metadata.data = config.dataPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        metadata.dataFormat = config.dataFormat
        let url = file ?? views[member.view].directory.appendingPathComponent("task.safetensors")
        try TaskExport(task: task, metadata: metadata).write(to: url)
        return url.path
    }

    private func makeSummary(_ m: Int, base: String, testAccuracy: Double?, export: String?, seconds: Double) -> RunSummary {
        guard let task = members[m].task else { preconditionFailure("summary of a member without gates") }
        let accounting = ParameterAccounting(task)
        return RunSummary(
            task: members[m].name, mode: config.mode, base: base, lambda: lambda, lambdaHistory: lambdaHistory,
            tau: config.tau, seed: config.seed, status: failure == nil ? status : .failed, message: failure,
            testAccuracy: testAccuracy, bestValidationAccuracy: best?.perMember[m], selectedEpoch: best?.epoch,
            gatedLayers: task.gatedLayers.count, activeLayers: task.activeIndices.map { task.gatedLayers[$0].name },
            taskSpecificParameters: accounting.taskSpecificParameters, backboneParameters: accounting.backboneParameters,
            fractionOfBackbone: accounting.fractionOfBackbone, accounting: accounting, steps: step,
            epochsCompleted: epochsCompleted, seconds: seconds,
            secondsPerEpoch: epochsCompleted > 0 ? trainingSeconds / Double(epochsCompleted) : 0,
            samplesPerSecond: throughput, export: export,
            finalActiveLayers: m < finalActive.count && !members[m].gatedLayers.isEmpty ? finalActive[m] : nil,
            gateFlips: flips[m], lateGateFlips: lateFlips, pathPoints: config.path != nil ? pathPoints : nil,
            headRefitEpoch: headRefit?.epoch, headRefitSteps: headRefit?.steps,
            budget: adapter.usesPenalty ? budgetShare(members[m]) : nil)
    }

    // MARK: - Snapshots

    /// Writes one active-layer snapshot per gated member for each pending request (or one when `force`).
    private func writeSnapshots(force: Bool) {
        guard isWriter else { return }
        let requests = control.takeSnapshotRequests()
        guard requests > 0 || force else { return }
        for (m, member) in members.enumerated() {
            guard let task = member.task else { continue }
            let view = views[member.view]
            let snap = ActiveLayerSnapshot(task: task, taskName: member.name, mode: config.mode.rawValue, step: step,
                                           epoch: epoch, lambda: lambda, tau: config.tau, trainAccuracy: trainAccuracy[m],
                                           validationAccuracy: trainAccuracy[m] == nil ? nil : validation[m])
            do {
                let paths = try snap.write(to: view.directory)
                notice(.snapshot, "snapshot written: \(paths.map { ($0 as NSString).lastPathComponent }.joined(separator: ", "))",
                       paths: paths, views: [member.view])
            } catch {
                notice(.error, "snapshot failed: \(error)", views: [member.view])
            }
        }
    }
}

private extension StepResult {
    /// Clears the data-parallel row ranges of `dropouts` after a step (evaluation and recalibration draw whole batches).
    func restoringDropout(_ dropouts: [[Dropout]]) -> StepResult {
        for layers in dropouts { for d in layers { d.batchShard = nil } }
        return self
    }
}
