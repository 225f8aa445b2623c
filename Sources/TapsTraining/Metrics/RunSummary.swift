// TapsTraining: the summary a finished run writes to `summary.json`.
import Foundation
import TAPS

/// One change of lambda during a run: from `step` on, the penalty used `lambda`.
public struct LambdaChange: Codable, Sendable, Equatable {
    /// Who changed lambda.
    public enum Source: String, Codable, Sendable {
        /// The user: a dashboard key or a request in the run's `control.json`.
        case user
        /// The `--budget` controller: a raise while the active deltas cost more than the budget, or the return to
        /// `--lambda` when the budget is met (docs/method.md "Storage budget").
        case budget
        /// The `taps path` search's raise (docs/method.md "The trade-off in one run").
        case path
    }
    /// First step that used `lambda` (1-based).
    public var step: Int
    /// The penalty's weight from `step` on.
    public var lambda: Double
    /// Who made the change; nil for the start value, for a data-parallel rank that only received it, and in
    /// histories written before the field existed.
    public var source: Source?
    /// A change to `lambda` from `step` on, made by `source` (nil for the start value).
    public init(step: Int, lambda: Double, source: Source? = nil) {
        self.step = step; self.lambda = lambda; self.source = source
    }
}

/// What `summary.json` holds (snake_case keys): the outcome of one training run.
public struct RunSummary: Codable, Sendable, Equatable {
    public var task: String
    public var mode: TrainingMode
    public var base: String
    /// Lambda at the end of the run.
    public var lambda: Double
    /// Every lambda in force, with the step it applied from (first entry: step 1, the start value).
    public var lambdaHistory: [LambdaChange]
    public var tau: Double
    public var seed: UInt64
    /// `done`, `stopped` (user asked) or `failed`.
    public var status: RunStatus
    public var message: String?
    /// Test accuracy (0...1) of the selected model; nil when the run failed before evaluation.
    public var testAccuracy: Double?
    /// Best validation accuracy (0...1) and the epoch it came from (the selected model).
    public var bestValidationAccuracy: Double?
    public var selectedEpoch: Int?
    /// N, the number of gated layers.
    public var gatedLayers: Int
    /// Names of the active layers of the selected model, in network order.
    public var activeLayers: [String]
    public var taskSpecificParameters: Int
    public var backboneParameters: Int
    /// `taskSpecificParameters / backboneParameters`.
    public var fractionOfBackbone: Double
    public var accounting: ParameterAccounting
    public var steps: Int
    public var epochsCompleted: Int
    /// Wall-clock seconds of the whole run (training, evaluation, export).
    public var seconds: Double
    /// Mean training seconds per completed epoch (pauses excluded).
    public var secondsPerEpoch: Double
    /// Mean training throughput, images per second.
    public var samplesPerSecond: Double
    /// Path of the task export (`task.safetensors`), when written.
    public var export: String?
    /// Active layers at the run's last step (before model selection restored an epoch); nil in older summaries.
    public var finalActiveLayers: [String]? = nil
    /// How often each gated layer's gate flipped during the run, in layer order; nil in older summaries.
    public var gateFlips: [Int]? = nil
    /// Gate flips in the final 20% of the optimizer steps (0 with a settle phase at least that long).
    public var lateGateFlips: Int? = nil
    /// The points of a path run (`--path`, ``PathPoint``), in the order found; nil for an ordinary run.
    public var pathPoints: [PathPoint]? = nil
    /// When the settle's set was empty and the head re-fitted as the probe trains it (docs/method.md "Settle
    /// phase"): the re-fit's selected epoch (1...epochs, in the probe's numbering; `selectedEpoch` is then the settle's
    /// first epoch, where the re-fit stands) and its optimizer steps (not counted in `steps`). Nil otherwise.
    public var headRefitEpoch: Int? = nil
    public var headRefitSteps: Int? = nil
    /// The storage budget (`--budget`, or `--budget-bytes` over 4 bytes a parameter) as a share of
    /// `backboneParameters` that the active deltas (`accounting.activeDeltaParameters`) may take; the head, norms and
    /// biases are stored with every task and not counted (docs/method.md "Storage budget"). Nil without a budget.
    public var budget: Double? = nil
}
