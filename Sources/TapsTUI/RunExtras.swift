// TapsTUI: fields of the metrics stream that the typed events do not carry (yet): evaluation progress, per-layer
// score gradients and delta norms, the penalty's weights, the head's size. Read from the JSONL lines themselves,
// so the dashboard shows them whether or not the trainer's event types know them, and ignores them when absent.
import Foundation
import TapsTraining

/// Evaluation in progress (`{"event":"progress","step":S,"phase":"validating","done":D,"total":T}`).
public struct EvaluationProgress: Sendable, Equatable, Codable {
    /// The last training step before the evaluation.
    public var step: Int
    /// `validating`, `testing` or `recalibrating` (any other word is shown as is).
    public var phase: String
    /// Items (batches or images, as the trainer counts them) done so far, and in total.
    public var done: Int
    public var total: Int

    public init(step: Int, phase: String, done: Int, total: Int) {
        self.step = step; self.phase = phase; self.done = done; self.total = total
    }
}

/// The per-layer values of one step that the layer panel shows (all optional in the stream).
public struct LayerStepExtras: Sendable, Equatable {
    public var step: Int
    /// The task part of dL/ds_i, <G_i, dw_i>, per gated layer (`score_task_gradients`).
    public var scoreTaskGradients: [Double]?
    /// ||dw_i|| / ||w0_i|| per gated layer (`delta_ratios`).
    public var deltaRatios: [Double]?

    public init(step: Int, scoreTaskGradients: [Double]? = nil, deltaRatios: [Double]? = nil) {
        self.step = step; self.scoreTaskGradients = scoreTaskGradients; self.deltaRatios = deltaRatios
    }
}

/// What the dashboard knows beyond the typed events.
public struct RunExtras: Sendable, Equatable {
    /// The evaluation in progress, if any (cleared by the next step, epoch or end event).
    public var progress: EvaluationProgress?
    /// `mean` (P = (1/N) sum |s_i|) or `weighted` (P = sum w_i |s_i|), from the start event.
    public var penaltyKind: String?
    /// w_i of the penalty, per gated layer, from the start event.
    public var penaltyWeights: [Double]?
    /// The largest lambda the trainer accepts, from the start event.
    public var lambdaCeiling: Double?
    /// Parameters of the task's head (stored in every export), from the start event.
    public var headParameters: Int?
    /// The most recent steps' per-layer extras, oldest first (at most `RunExtras.historyLength`).
    public var recentSteps: [LayerStepExtras] = []
    /// Lines whose `event` this dashboard does not know (skipped).
    public var unknownEvents: Int = 0

    /// Steps of per-layer extras kept.
    public static let historyLength = 64

    public init() {}

    /// The extras of a run whose typed events carry them (a live run's ``MetricsStore``): no file is read. The
    /// per-layer history is the snapshot's newest ``historyLength`` steps.
    public init(snapshot: MetricsSnapshot) {
        if let start = snapshot.start {
            penaltyKind = start.penaltyKind?.rawValue; penaltyWeights = start.penaltyWeights
            lambdaCeiling = start.lambdaCeiling; headParameters = start.headParameters
        }
        progress = snapshot.progress.map { EvaluationProgress(step: $0.step, phase: $0.phase.rawValue, done: $0.done, total: $0.total) }
        for e in snapshot.steps.suffix(Self.historyLength) where e.scoreTaskGradients != nil || e.deltaRatios != nil {
            recentSteps.append(LayerStepExtras(step: e.step, scoreTaskGradients: e.scoreTaskGradients, deltaRatios: e.deltaRatios))
        }
    }

    /// The penalty weight w_i of layer `i`: from the start event, else 1/N (the mean penalty, docs/method.md §3).
    public func penaltyWeight(layer i: Int, layerCount n: Int) -> Double {
        if let w = penaltyWeights, w.indices.contains(i) { return w[i] }
        return n > 0 ? 1 / Double(n) : 0
    }

    /// Folds one JSONL line's loose fields in. Returns the line's `event` kind (nil when the line is not an object
    /// with a string `event`).
    @discardableResult
    mutating func apply(_ line: LooseLine) -> String? {
        guard let kind = line.event else { return nil }
        switch kind {
        case "progress":
            if let step = line.step, let phase = line.phase, let done = line.done, let total = line.total {
                progress = EvaluationProgress(step: step, phase: phase, done: done, total: total)
            }
        case "start":
            self = RunExtras()
            penaltyKind = line.penaltyKind; penaltyWeights = line.penaltyWeights
            lambdaCeiling = line.lambdaCeiling; headParameters = line.headParameters
        case "step":
            progress = nil
            if let step = line.step, line.scoreTaskGradients != nil || line.deltaRatios != nil {
                recentSteps.append(LayerStepExtras(step: step, scoreTaskGradients: line.scoreTaskGradients,
                                                   deltaRatios: line.deltaRatios))
                if recentSteps.count > Self.historyLength { recentSteps.removeFirst(recentSteps.count - Self.historyLength) }
            }
        case "epoch", "end":
            progress = nil
        case "notice":
            break
        default:
            unknownEvents += 1
        }
        return kind
    }
}

/// Every field of any metrics line that the dashboard reads loosely; all optional, wrong types are dropped.
struct LooseLine: Decodable {
    var event: String?
    var step: Int?
    var phase: String?
    var done: Int?
    var total: Int?
    var scoreTaskGradients: [Double]?
    var deltaRatios: [Double]?
    var penaltyKind: String?
    var penaltyWeights: [Double]?
    var lambdaCeiling: Double?
    var headParameters: Int?

    private enum CodingKeys: String, CodingKey {
        case event, step, phase, done, total, scoreTaskGradients, deltaRatios, penaltyKind, penaltyWeights
        case lambdaCeiling, headParameters
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func loose<T: Decodable>(_ key: CodingKeys) -> T? { (try? c.decodeIfPresent(T.self, forKey: key)) ?? nil }
        event = loose(.event); step = loose(.step); phase = loose(.phase); done = loose(.done); total = loose(.total)
        scoreTaskGradients = loose(.scoreTaskGradients); deltaRatios = loose(.deltaRatios)
        penaltyKind = loose(.penaltyKind); penaltyWeights = loose(.penaltyWeights)
        lambdaCeiling = loose(.lambdaCeiling); headParameters = loose(.headParameters)
    }
}

/// A metrics stream's event kinds that `MetricsEvent` decodes (others are skipped, not errors).
let typedEventKinds: Set<String> = ["start", "step", "epoch", "notice", "progress", "end"]
