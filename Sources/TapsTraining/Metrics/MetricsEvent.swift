// TapsTraining: the metrics stream shared by the trainer, the CLI and the dashboard (one JSON object a line).
import Foundation

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
    public var mode: String
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

    public init(task: String, mode: String, base: String, lambda: Double, tau: Double, epochs: Int,
                warmupEpochs: Int, stepsPerEpoch: Int, batchSize: Int, seed: UInt64, layers: [LayerInfo],
                backboneParameters: Int, runDirectory: String, time: Double) {
        self.task = task; self.mode = mode; self.base = base; self.lambda = lambda; self.tau = tau
        self.epochs = epochs; self.warmupEpochs = warmupEpochs; self.stepsPerEpoch = stepsPerEpoch
        self.batchSize = batchSize; self.seed = seed; self.layers = layers
        self.backboneParameters = backboneParameters; self.runDirectory = runDirectory; self.time = time
    }
}

/// Emitted after every optimizer step.
public struct StepEvent: Codable, Sendable, Equatable {
    /// Global optimizer step, starting at 1.
    public var step: Int
    /// Epoch, starting at 1.
    public var epoch: Int
    /// `"warmup"` (penalty off) or `"sparsify"` (penalty on).
    public var phase: String
    /// Total loss = task loss + lambda * penalty (penalty only after warm-up).
    public var loss: Double
    /// Softmax cross-entropy of the batch.
    public var taskLoss: Double
    /// `P(s) = (1/N) sum |s_i|`, unweighted by lambda (taps-method.md §3).
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

    public init(step: Int, epoch: Int, phase: String, loss: Double, taskLoss: Double, penalty: Double,
                lambda: Double, accuracy: Double, learningRate: Double, scores: [Double], active: [Bool],
                samplesPerSecond: Double, elapsed: Double) {
        self.step = step; self.epoch = epoch; self.phase = phase; self.loss = loss; self.taskLoss = taskLoss
        self.penalty = penalty; self.lambda = lambda; self.accuracy = accuracy; self.learningRate = learningRate
        self.scores = scores; self.active = active; self.samplesPerSecond = samplesPerSecond; self.elapsed = elapsed
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
    /// Machine-readable kind: `lambda`, `warmup_over`, `snapshot`, `best`, `selected` (the model kept at the end),
    /// `paused`, `resumed`, `error`, `info`.
    public var kind: String
    /// Step at which it happened (the next step a lambda change applies to).
    public var step: Int
    /// Human-readable text, e.g. `lambda 0.3 -> 0.375`.
    public var message: String
    /// For `lambda`: the old and new values.
    public var from: Double?
    public var to: Double?
    /// For `snapshot`: the files written.
    public var paths: [String]?

    public init(kind: String, step: Int, message: String, from: Double? = nil, to: Double? = nil,
                paths: [String]? = nil) {
        self.kind = kind; self.step = step; self.message = message; self.from = from; self.to = to; self.paths = paths
    }
}

/// Emitted once when the run ends (finished, stopped by the user, or failed).
public struct RunEndEvent: Codable, Sendable, Equatable {
    /// `done`, `stopped` or `failed`.
    public var status: String
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

    public init(status: String, step: Int, testAccuracy: Double?, bestValidationAccuracy: Double?,
                activeLayers: [String], taskSpecificParameters: Int, seconds: Double, message: String?) {
        self.status = status; self.step = step; self.testAccuracy = testAccuracy
        self.bestValidationAccuracy = bestValidationAccuracy; self.activeLayers = activeLayers
        self.taskSpecificParameters = taskSpecificParameters; self.seconds = seconds; self.message = message
    }
}

/// One line of `metrics.jsonl`: `{"event": "step", ...fields}`.
public enum MetricsEvent: Sendable, Equatable {
    case start(RunStartEvent)
    case step(StepEvent)
    case epoch(EpochEvent)
    case notice(NoticeEvent)
    case end(RunEndEvent)
}

extension MetricsEvent: Codable {
    private enum Kind: String, Codable { case start, step, epoch, notice, end }
    private enum Key: String, CodingKey { case event }

    public init(from decoder: any Decoder) throws {
        let kind = try decoder.container(keyedBy: Key.self).decode(Kind.self, forKey: .event)
        switch kind {
        case .start: self = .start(try RunStartEvent(from: decoder))
        case .step: self = .step(try StepEvent(from: decoder))
        case .epoch: self = .epoch(try EpochEvent(from: decoder))
        case .notice: self = .notice(try NoticeEvent(from: decoder))
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
        case .end(let e): try c.encode(Kind.end, forKey: .event); try e.encode(to: encoder)
        }
    }
}
