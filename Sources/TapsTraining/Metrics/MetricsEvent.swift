// TapsTraining: the metrics stream shared by the trainer, the CLI and the dashboard (one JSON object a line).
import Foundation
import TAPS

// MARK: - Typed states (their raw values are the strings the JSONL has always carried)

/// What kind of run a metrics stream describes (`mode` in the start event).
public enum RunMode: String, Codable, Sendable, CaseIterable {
    /// One task, gated deltas with the sparsity penalty (docs/method.md "The gated layer").
    case taps
    /// One task, every layer task-specific.
    case finetune
    /// One task, head (and biases/norms unless frozen) only.
    case probe
    /// Joint TAPS stage 1: a shared base with one head per task (docs/method.md "Several tasks").
    case jointStage1 = "joint-stage1"
    /// Fully joint: base and every task's TAPS parameters together (our extension).
    case fullyJoint = "fully-joint"

    /// The run mode of a single-task run in `mode`.
    public init(_ mode: TrainingMode) {
        switch mode {
        case .taps: self = .taps
        case .finetune: self = .finetune
        case .probe: self = .probe
        }
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        // Streams written before the typed states called the fully joint mode "taps (fully joint)".
        guard let mode = RunMode(rawValue: raw == "taps (fully joint)" ? "fully-joint" : raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription:
                "mode '\(raw)': expected one of \(RunMode.allCases.map(\.rawValue).joined(separator: ", "))"))
        }
        self = mode
    }
}

/// How a run ended (`status` in the end event and `summary.json`).
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    /// Every step ran; the selected model was evaluated and exported.
    case done
    /// Stopped early on request (a key, SIGINT/SIGTERM/SIGHUP); the run folder is still complete.
    case stopped
    /// A non-finite loss or an I/O error ended the run; `message` says which.
    case failed
}

/// Whether the sparsity penalty was on for a step (`phase` in step events).
public enum StepPhase: String, Codable, Sendable, CaseIterable {
    /// Penalty off (the first `--warmup-epochs`, and every step of finetune/probe/joint stage 1).
    case warmup
    /// Penalty on: scores are pushed towards sharing.
    case sparsify
    /// Gates fixed after the penalty phase (the settle epochs, a path run's settles): only the kept deltas, norms and
    /// head train.
    case settle
}

/// The kind of a notice (`kind` in notice events). Unknown kinds in a file decode as ``info``.
public enum NoticeKind: String, Codable, Sendable, CaseIterable {
    /// Lambda changed; `from`/`to` hold the values and `step` the first step that uses the new one.
    case lambda
    /// Warm-up ended: the sparsity penalty is on from `step`.
    case warmupOver = "warmup_over"
    /// A snapshot of the active-layer map was written (`paths`).
    case snapshot
    /// A new best validation accuracy after warm-up.
    case best
    /// The model kept at the end (the selected epoch).
    case selected
    /// The settle phase began: the active set is fixed from here on (which set, and why).
    case settled
    /// BatchNorm running statistics were re-estimated on the task's training images.
    case recalibrated
    /// Training paused / resumed at a step boundary.
    case paused
    case resumed
    /// A checkpoint was written (`paths`).
    case checkpoint
    /// Something went wrong (the message says what).
    case error
    /// Anything else worth a line.
    case info

    public init(from decoder: any Decoder) throws {
        self = NoticeKind(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .info
    }
}

/// What an evaluation in progress is doing (`phase` in progress events).
public enum EvaluationPhase: String, Codable, Sendable, CaseIterable {
    /// Re-estimating BatchNorm running statistics on training images.
    case recalibrating
    /// Accuracy on the validation split (model selection).
    case validating
    /// Accuracy on the test split (once, at the end).
    case testing
}

/// One gated layer as described at the start of a run.
public struct LayerInfo: Codable, Sendable, Equatable {
    /// Index in the network, input to output (the heatmap's row).
    public var index: Int
    /// torchvision-style module name, e.g. `conv_layers.3` or `layer1.0.conv1`.
    public var name: String
    /// Weight shape, e.g. `[64, 32, 3, 3]`.
    public var shape: [Int]
    /// Elements of the weight (= size of its delta).
    public var parameters: Int

    public init(index: Int, name: String, shape: [Int], parameters: Int) {
        self.index = index; self.name = name; self.shape = shape; self.parameters = parameters
    }
}

/// Emitted once when a run starts.
public struct RunStartEvent: Codable, Sendable, Equatable {
    public var task: String
    public var mode: RunMode
    public var base: String
    public var lambda: Double
    public var tau: Double
    public var epochs: Int
    public var warmupEpochs: Int
    public var stepsPerEpoch: Int
    public var batchSize: Int
    public var seed: UInt64
    public var layers: [LayerInfo]
    /// Parameters of the backbone (every weight, bias and norm tensor except the head).
    public var backboneParameters: Int
    /// Folder where the run writes its files.
    public var runDirectory: String
    public var time: Double
    /// The sparsity penalty `P(s)` (nil in streams written before it was recorded).
    public var penaltyKind: PenaltyKind?
    /// Per-layer weights `w_i` of `P(s) = sum_i w_i |s_i|`, in layer order; the penalty's part of `dL/ds_i`
    /// is `lambda * w_i * sign(s_i)`.
    public var penaltyWeights: [Double]?
    /// Largest lambda the run accepts (``TrainingControl/maximumLambda``).
    public var lambdaCeiling: Double?
    /// Parameters of the new head (what every export stores besides deltas and norms).
    public var headParameters: Int?
    /// The storage budget of a `--budget`/`--budget-bytes` run: the largest share of ``backboneParameters`` the
    /// active deltas may take (0.2 = 20%); nil without one (docs/method.md "Storage budget").
    public var budget: Double?
    /// Epochs of the settle phase at the end of the run (the active set fixed; docs/method.md "Training recipe");
    /// nil in streams written before it was recorded.
    public var settleEpochs: Int?

    public init(task: String, mode: RunMode, base: String, lambda: Double, tau: Double, epochs: Int,
                warmupEpochs: Int, stepsPerEpoch: Int, batchSize: Int, seed: UInt64, layers: [LayerInfo],
                backboneParameters: Int, runDirectory: String, time: Double, penaltyKind: PenaltyKind? = nil,
                penaltyWeights: [Double]? = nil, lambdaCeiling: Double? = nil, headParameters: Int? = nil,
                budget: Double? = nil, settleEpochs: Int? = nil) {
        self.task = task; self.mode = mode; self.base = base; self.lambda = lambda; self.tau = tau
        self.epochs = epochs; self.warmupEpochs = warmupEpochs; self.stepsPerEpoch = stepsPerEpoch
        self.batchSize = batchSize; self.seed = seed; self.layers = layers
        self.backboneParameters = backboneParameters; self.runDirectory = runDirectory; self.time = time
        self.penaltyKind = penaltyKind; self.penaltyWeights = penaltyWeights; self.lambdaCeiling = lambdaCeiling
        self.headParameters = headParameters; self.budget = budget; self.settleEpochs = settleEpochs
    }
}

/// Emitted after every optimizer step.
public struct StepEvent: Codable, Sendable, Equatable {
    /// Global optimizer step, starting at 1.
    public var step: Int
    /// Epoch, starting at 1.
    public var epoch: Int
    /// `warmup` (penalty off) or `sparsify` (penalty on).
    public var phase: StepPhase
    /// Total loss = task loss + lambda * penalty (penalty only after warm-up).
    public var loss: Double
    /// Softmax cross-entropy of the batch.
    public var taskLoss: Double
    /// `P(s) = (1/N) sum |s_i|`, unweighted by lambda (docs/method.md "Loss and the penalty update").
    public var penalty: Double
    /// Lambda used for this step.
    public var lambda: Double
    /// Fraction of the batch classified correctly (0...1).
    public var accuracy: Double
    /// Learning rate used for this step.
    public var learningRate: Double
    /// Score `s_i` of each gated layer after the step, in layer order.
    public var scores: [Double]
    /// `s_i >= tau` after the step.
    public var active: [Bool]
    /// Training throughput, images per second, smoothed.
    public var samplesPerSecond: Double
    /// Seconds since the run started.
    public var elapsed: Double
    /// Task part of each score's gradient at this step, `<G_i, dw_i>` (straight-through, docs/method.md
    /// "The gated layer"), in layer order; nil in older streams.
    public var scoreTaskGradients: [Double]?
    /// `||dw_i|| / ||w0_i||` per gated layer after the step (0 when `w0_i` is zero); nil in older streams.
    public var deltaRatios: [Double]?

    public init(step: Int, epoch: Int, phase: StepPhase, loss: Double, taskLoss: Double, penalty: Double,
                lambda: Double, accuracy: Double, learningRate: Double, scores: [Double], active: [Bool],
                samplesPerSecond: Double, elapsed: Double, scoreTaskGradients: [Double]? = nil,
                deltaRatios: [Double]? = nil) {
        self.step = step; self.epoch = epoch; self.phase = phase; self.loss = loss; self.taskLoss = taskLoss
        self.penalty = penalty; self.lambda = lambda; self.accuracy = accuracy; self.learningRate = learningRate
        self.scores = scores; self.active = active; self.samplesPerSecond = samplesPerSecond; self.elapsed = elapsed
        self.scoreTaskGradients = scoreTaskGradients; self.deltaRatios = deltaRatios
    }
}

/// Emitted at the end of each epoch.
public struct EpochEvent: Codable, Sendable, Equatable {
    public var epoch: Int
    public var step: Int
    /// Mean task loss over the epoch's batches.
    public var trainLoss: Double
    /// Accuracy over the epoch's training batches (0...1).
    public var trainAccuracy: Double
    /// Accuracy on the validation split carved from train (0...1).
    public var validationAccuracy: Double
    /// Number of active gated layers at the end of the epoch.
    public var activeLayers: Int
    /// Wall-clock seconds the epoch took.
    public var seconds: Double

    public init(epoch: Int, step: Int, trainLoss: Double, trainAccuracy: Double, validationAccuracy: Double,
                activeLayers: Int, seconds: Double) {
        self.epoch = epoch; self.step = step; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.validationAccuracy = validationAccuracy; self.activeLayers = activeLayers; self.seconds = seconds
    }
}

/// Something worth a line in the dashboard's event log: lambda changed, warm-up over, snapshot written,
/// new best validation accuracy, paused/resumed, an error.
public struct NoticeEvent: Codable, Sendable, Equatable {
    /// Machine-readable kind (``NoticeKind``).
    public var kind: NoticeKind
    /// Step at which it happened (the next step a lambda change applies to).
    public var step: Int
    /// Human-readable text, e.g. `lambda 0.3 -> 0.375`.
    public var message: String
    /// For `lambda`: the old and new values.
    public var from: Double?
    public var to: Double?
    /// For `snapshot`: the files written.
    public var paths: [String]?
    /// The run's optimizer steps in all, when they change during the run (a path run's sets train after its search,
    /// whose end decides how many there are); the start event's `epochs * steps_per_epoch` until then.
    public var plannedSteps: Int?

    public init(kind: NoticeKind, step: Int, message: String, from: Double? = nil, to: Double? = nil,
                paths: [String]? = nil, plannedSteps: Int? = nil) {
        self.kind = kind; self.step = step; self.message = message; self.from = from; self.to = to; self.paths = paths
        self.plannedSteps = plannedSteps
    }
}

/// Emitted once when the run ends (finished, stopped by the user, or failed).
public struct RunEndEvent: Codable, Sendable, Equatable {
    /// How the run ended.
    public var status: RunStatus
    public var step: Int
    /// Test accuracy of the selected model (0...1), when evaluated.
    public var testAccuracy: Double?
    /// Best validation accuracy (0...1).
    public var bestValidationAccuracy: Double?
    public var activeLayers: [String]
    public var taskSpecificParameters: Int
    public var seconds: Double
    /// Error message when `status == "failed"`.
    public var message: String?
    /// The epoch model selection restored (whose set ``activeLayers`` is and the export holds); nil without model
    /// selection and in older streams.
    public var selectedEpoch: Int?
    /// Active layers at the run's last step, before model selection restored an epoch (`final_active_layers` of
    /// `summary.json`); nil in older streams.
    public var finalActiveLayers: [String]?

    public init(status: RunStatus, step: Int, testAccuracy: Double?, bestValidationAccuracy: Double?,
                activeLayers: [String], taskSpecificParameters: Int, seconds: Double, message: String?,
                selectedEpoch: Int? = nil, finalActiveLayers: [String]? = nil) {
        self.status = status; self.step = step; self.testAccuracy = testAccuracy
        self.bestValidationAccuracy = bestValidationAccuracy; self.activeLayers = activeLayers
        self.taskSpecificParameters = taskSpecificParameters; self.seconds = seconds; self.message = message
        self.selectedEpoch = selectedEpoch; self.finalActiveLayers = finalActiveLayers
    }
}

/// Emitted while a run evaluates (BatchNorm recalibration, validation, test), so a viewer shows
/// "validating 120/400" instead of a frozen step counter.
public struct ProgressEvent: Codable, Sendable, Equatable {
    /// The last optimizer step taken.
    public var step: Int
    public var phase: EvaluationPhase
    /// Images processed so far and in all.
    public var done: Int
    public var total: Int

    public init(step: Int, phase: EvaluationPhase, done: Int, total: Int) {
        self.step = step; self.phase = phase; self.done = done; self.total = total
    }
}

/// One line of `metrics.jsonl`: `{"event": "step", ...fields}`.
public enum MetricsEvent: Sendable, Equatable {
    case start(RunStartEvent)
    case step(StepEvent)
    case epoch(EpochEvent)
    case notice(NoticeEvent)
    case progress(ProgressEvent)
    case end(RunEndEvent)
}

extension MetricsEvent: Codable {
    private enum Kind: String, Codable { case start, step, epoch, notice, progress, end }
    private enum Key: String, CodingKey { case event }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.container(keyedBy: Key.self).decode(String.self, forKey: .event)
        guard let kind = Kind(rawValue: name) else { throw MetricsError.unknownEvent(name) }
        switch kind {
        case .start: self = .start(try RunStartEvent(from: decoder))
        case .step: self = .step(try StepEvent(from: decoder))
        case .epoch: self = .epoch(try EpochEvent(from: decoder))
        case .notice: self = .notice(try NoticeEvent(from: decoder))
        case .progress: self = .progress(try ProgressEvent(from: decoder))
        case .end: self = .end(try RunEndEvent(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .start(let e): try c.encode(Kind.start, forKey: .event); try e.encode(to: encoder)
        case .step(let e): try c.encode(Kind.step, forKey: .event); try e.encode(to: encoder)
        case .epoch(let e): try c.encode(Kind.epoch, forKey: .event); try e.encode(to: encoder)
        case .notice(let e): try c.encode(Kind.notice, forKey: .event); try e.encode(to: encoder)
        case .progress(let e): try c.encode(Kind.progress, forKey: .event); try e.encode(to: encoder)
        case .end(let e): try c.encode(Kind.end, forKey: .event); try e.encode(to: encoder)
        }
    }
}
