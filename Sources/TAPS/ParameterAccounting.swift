// TAPS: what a task costs to store (docs/method.md "Storage and accounting").

/// Parameter counts for one adapted task.
///
/// ```
/// task-specific = sum of active deltas + normalisation (biases, norm affine) + head
/// fraction      = task-specific / backbone
/// ```
/// Buffers (running statistics) are stored with a task but, as in PyTorch, are not counted as parameters.
public struct ParameterAccounting: Codable, Sendable, Equatable {
    /// Every parameter of the base network except its head (weights, biases, norm affine).
    public var backboneParameters: Int
    /// Sizes of the deltas of the active layers.
    public var activeDeltaParameters: Int
    /// Biases and normalisation affine parameters (trained per task).
    public var normalisationParameters: Int
    /// The task's new head (weight + bias).
    public var headParameters: Int

    /// Active deltas + normalisation + head.
    public var taskSpecificParameters: Int { activeDeltaParameters + normalisationParameters + headParameters }
    /// `taskSpecificParameters / backboneParameters`.
    public var fractionOfBackbone: Double {
        backboneParameters == 0 ? 0 : Double(taskSpecificParameters) / Double(backboneParameters)
    }

    public init(backboneParameters: Int, activeDeltaParameters: Int, normalisationParameters: Int,
                headParameters: Int) {
        self.backboneParameters = backboneParameters
        self.activeDeltaParameters = activeDeltaParameters
        self.normalisationParameters = normalisationParameters
        self.headParameters = headParameters
    }

    /// Accounting of `task` in its current state (active = gate on now).
    public init(_ task: TaskNetwork) {
        let norm = task.normalisationTensors.filter { !$0.isBuffer }.reduce(0) { $0 + $1.count }
        let frozen = task.gatedLayers.reduce(0) { $0 + $1.weightCount }
        self.init(backboneParameters: frozen + norm,
                  activeDeltaParameters: task.activeIndices.reduce(0) { $0 + task.gatedLayers[$1].weightCount },
                  normalisationParameters: norm,
                  headParameters: task.headParameters.reduce(0) { $0 + $1.count })
    }

    /// The multiple of one backbone needed for several tasks: `(backbone + sum task-specific) / backbone`
    /// (the "x params" column of multi-task tables; full fine-tuning of T tasks costs about T).
    public static func backboneMultiple(_ tasks: [ParameterAccounting]) -> Double {
        guard let b = tasks.first?.backboneParameters, b > 0 else { return 0 }
        return Double(b + tasks.reduce(0) { $0 + $1.taskSpecificParameters }) / Double(b)
    }
}
