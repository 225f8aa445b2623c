// TAPS: the L1 sparsity penalty on gate scores (Wallingford et al., CVPR 2022, Eq. 4; docs/method.md "Loss and the penalty update").
import TapsNN
import TapsTensor

/// Which sparsity penalty `P(s)` to use (docs/method.md "Loss and the penalty update").
public enum PenaltyKind: String, Codable, Sendable, CaseIterable {
    /// `P(s) = (1/N) * sum_i |s_i|` over the N gated layers (the paper's; its code divides by 52, we by N).
    case mean
    /// `P(s) = sum_i (n_i / n_total) * |s_i|`, pricing a layer by the size `n_i` of its delta (our extension).
    case weighted
}

/// The sparsity penalty and its gradient with respect to the scores.
///
/// ```
/// L = L_task + lambda * P(s)
/// dP/ds_i = w_i * sign(s_i),   w_i = 1/N (mean) or n_i/n_total (weighted)
/// ```
public enum SparsityPenalty {
    /// Per-layer weights `w_i` of the penalty, in layer order.
    public static func weights(_ layers: [GatedLayer], kind: PenaltyKind) -> [Double] {
        guard !layers.isEmpty else { return [] }
        switch kind {
        case .mean:
            return Array(repeating: 1.0 / Double(layers.count), count: layers.count)
        case .weighted:
            let total = Double(layers.reduce(0) { $0 + $1.weightCount })
            return layers.map { Double($0.weightCount) / total }
        }
    }

    /// `P(s)` for the layers' current scores (not multiplied by lambda).
    public static func value(_ layers: [GatedLayer], kind: PenaltyKind) -> Double {
        zip(layers, weights(layers, kind: kind)).reduce(0) { $0 + $1.1 * abs(Double($1.0.score.value.storage[0])) }
    }

    /// Adds `lambda * dP/ds_i` to each learned score's gradient (the subgradient of |s| at 0 is 0).
    public static func accumulateGradient(_ layers: [GatedLayer], lambda: Double, kind: PenaltyKind) {
        guard lambda != 0 else { return }
        for (layer, w) in zip(layers, weights(layers, kind: kind)) where layer.score.requiresGrad {
            let s = layer.score.value.storage[0]
            let sign: Double = s > 0 ? 1 : (s < 0 ? -1 : 0)
            layer.score.grad.storage[0] += Float(lambda * w * sign)
        }
    }
}

extension SparsityPenalty {
    /// How the penalty enters the score update.
    public enum Update: String, Codable, Sendable, CaseIterable {
        /// The penalty's subgradient `lambda * w_i * sign(s_i)` is added to the score gradient and goes through
        /// the optimizer (momentum included), as in the paper's code.
        case subgradient
        /// Proximal (soft-threshold) step after the optimizer step:
        /// `s_i <- sign(s_i) * max(|s_i| - gain * lr * lambda * w_i, 0)` (ISTA; Parikh & Boyd, "Proximal
        /// Algorithms", §6.5.2), with `gain = 1 / (1 - momentum)` for SGD (``Optimizer/steadyStateGain``). Same
        /// loss, but a score the task does not defend settles at exactly 0 (below tau) instead of oscillating around
        /// 0 with a momentum-amplified amplitude that can cross tau for large lambda. The gain makes an undefended
        /// score move as fast as the subgradient through momentum moves it, so one lambda means the same in both.
        case proximal
    }

    /// Applies the proximal step of `lambda * P(s)` with step size `gain * learningRate` to every learned score
    /// (`gain`: the optimizer's ``Optimizer/steadyStateGain``, 10 for SGD with momentum 0.9).
    public static func proximalStep(_ layers: [GatedLayer], lambda: Double, learningRate: Double, gain: Double,
                                    kind: PenaltyKind) {
        guard lambda != 0 else { return }
        for (layer, w) in zip(layers, weights(layers, kind: kind)) where layer.score.requiresGrad {
            let s = Double(layer.score.value.storage[0])
            let shrunk = max(abs(s) - gain * learningRate * lambda * w, 0)
            layer.score.value.storage[0] = Float(s < 0 ? -shrunk : shrunk)
        }
    }
}
