// TapsNNTests: helpers that run the generic gradient checker on layers.
import TapsNN
import TapsTensor
import TapsTestSupport

/// Gradient-checks `layer` on `input`: the input and every trainable (non-buffer) parameter.
/// The layer runs with `mode` for both the analytic pass and every finite-difference forward.
func checkLayer(_ layer: any Layer, input: Tensor, mode: ForwardMode = .training,
                options: GradientCheckOptions = GradientCheckOptions()) -> GradientCheckReport {
    var x = input
    let params = layer.parameters.filter { $0.requiresGrad && !$0.isBuffer }
    var variables = [GradientCheckVariable(name: "input", read: { x }, write: { x = $0 })]
    for p in params {
        variables.append(GradientCheckVariable(name: p.name, read: { p.value }, write: { p.value = $0 }))
    }
    return checkGradients(variables: variables, forward: { layer.forward(x, mode: mode) }, backward: { r in
        layer.zeroGrad()
        _ = layer.forward(x, mode: mode)
        let dx = layer.backward(r)
        return [dx] + params.map(\.grad)
    }, options: options)
}

/// Values that keep a finite-difference step `h` away from ReLU's kink and MaxPool ties: a random
/// permutation of an evenly spaced grid (gap `spacing`) centred on zero, with no value near 0.
func kinkFreeTensor(_ shape: [Int], spacing: Float = 0.05, rng: inout SeededRNG) -> Tensor {
    let n = shape.reduce(1, *)
    let perm = rng.permutation(n)
    let values = perm.map { k -> Float in
        let v = (Float(k) - Float(n) / 2 + 0.5) * spacing
        return v   // |v| >= spacing/2 and distinct values differ by >= spacing
    }
    return Tensor(shape: shape, storage: values)
}

/// Wraps a layer and corrupts its backward, to prove the checker catches wrong gradients.
final class BrokenBackward: Layer {
    enum Defect { case scaleInputGradient(Float), dropBiasGradient, scaleWeightGradient(Float) }
    let inner: any Layer
    let defect: Defect
    init(_ inner: any Layer, _ defect: Defect) { self.inner = inner; self.defect = defect }
    var parameters: [Parameter] { inner.parameters }
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { inner.forward(x, mode: mode) }
    func backward(_ dOut: Tensor) -> Tensor {
        var dx = inner.backward(dOut)
        switch defect {
        case .scaleInputGradient(let s): dx.scale(by: s)
        case .dropBiasGradient: inner.parameters.filter { $0.name.hasSuffix(".bias") }.forEach { $0.zeroGrad() }
        case .scaleWeightGradient(let s): inner.parameters.filter { $0.name.hasSuffix(".weight") }.forEach { $0.grad.scale(by: s) }
        }
        return dx
    }
}
