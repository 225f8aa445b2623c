// TapsNN: softmax cross-entropy. Notation: N rows (batch), C classes.
import Foundation
import TapsTensor

/// Mean softmax cross-entropy of `logits` against integer `labels`, its gradient, and the number of
/// correct argmax predictions (PyTorch `F.cross_entropy(logits, labels)` with `reduction='mean'`).
///
/// ```
/// logits: [N, C]   labels: N integers in 0..<C   gradient: [N, C]
/// lse_n  = m_n + log Σ_c exp(z[n, c] - m_n),      m_n = max_c z[n, c]      (log-sum-exp, stable)
/// loss   = (1/N) Σ_n (lse_n - z[n, labels[n]])
/// dL/dz  = (softmax(z) - onehot(labels)) / N
/// correct = #{ n : argmax_c z[n, c] == labels[n] }      (first maximum wins ties)
/// ```
/// The loss is accumulated in Double. Precondition: `labels.count == N`, every label in `0..<C`.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.functional.cross_entropy.html
public func softmaxCrossEntropy(logits: Tensor, labels: [Int]) -> (loss: Double, gradient: Tensor, correct: Int) {
    precondition(logits.rank == 2, "softmaxCrossEntropy: logits must be [N, C], got \(logits.shape)")
    let N = logits.shape[0], C = logits.shape[1]
    precondition(labels.count == N, "softmaxCrossEntropy: \(labels.count) labels for \(N) rows")
    precondition(C > 0, "softmaxCrossEntropy: no classes")
    var gradient = Tensor(zeros: logits.shape)
    var loss = 0.0, correct = 0
    let invN = 1 / Float(max(N, 1))
    logits.withBuffer { zb in gradient.withMutableBuffer { gb in
        for n in 0..<N {
            let label = labels[n]
            precondition(label >= 0 && label < C, "softmaxCrossEntropy: label \(label) outside 0..<\(C) at row \(n)")
            let z = zb.baseAddress! + n * C, g = gb.baseAddress! + n * C
            var maxValue = z[0], argmax = 0
            for c in 1..<C where z[c] > maxValue { maxValue = z[c]; argmax = c }
            var sum: Float = 0
            for c in 0..<C { let e = expf(z[c] - maxValue); g[c] = e; sum += e }
            let lse = Double(maxValue) + Double(logf(sum))
            loss += lse - Double(z[label])
            let scale = invN / sum
            for c in 0..<C { g[c] *= scale }
            g[label] -= invN
            if argmax == label { correct += 1 }
        }
    } }
    return (N > 0 ? loss / Double(N) : 0, gradient, correct)
}
