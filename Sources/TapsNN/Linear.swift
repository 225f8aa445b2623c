// TapsNN: fully connected layer. Notation: N rows (batch), I in features, O out features.
import TapsTensor

/// Fully connected layer `y = x · Wᵀ + b` (PyTorch `nn.Linear`).
///
/// ```
/// x: [N, I]   W: [O, I]   b: [O]   y: [N, O]
/// y  = x · Wᵀ + b
/// dx = dy · W            dW += dyᵀ · x            db += Σ_n dy[n, :]
/// ```
///
/// Inputs of higher rank `[..., I]` are treated as `[prod(...), I]` and the output keeps the leading
/// dimensions. Initialisation follows PyTorch's default (Kaiming-uniform with `a = sqrt(5)`), which is
/// `U(-1/sqrt(I), 1/sqrt(I))` for both weight and bias.
///
/// ```swift
/// var rng = SeededRNG(seed: 0)
/// let fc = Linear(name: "fc_layers.0", inFeatures: 1152, outFeatures: 256, rng: &rng)
/// let y = fc.forward(Tensor(zeros: [32, 1152]), mode: .training)   // [32, 256]
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.nn.Linear.html
public final class Linear: WeightedLayer {
    /// `<name>.weight`, shape `[outFeatures, inFeatures]`.
    public let weight: Parameter
    /// `<name>.bias`, shape `[outFeatures]`, or `nil` when created with `bias: false`.
    public let bias: Parameter?
    /// Input width `I`.
    public let inFeatures: Int
    /// Output width `O`.
    public let outFeatures: Int
    /// Module name for TAPS (`<name>` for the usual `<name>.weight`; see ``init(moduleName:weightName:biasName:inFeatures:outFeatures:bias:rng:)``).
    public let moduleName: String

    private struct Cache { var input: Tensor }
    private var cache: Cache?

    /// Creates a layer whose parameters are named `<name>.weight` and `<name>.bias` (state_dict keys).
    public convenience init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, rng: inout SeededRNG) {
        self.init(moduleName: name, weightName: "\(name).weight", biasName: "\(name).bias", inFeatures: inFeatures,
                  outFeatures: outFeatures, bias: bias, rng: &rng)
    }

    /// Creates a layer with explicit state_dict keys, for PyTorch modules that store a linear map under
    /// other names: `nn.MultiheadAttention` keeps its packed projection as `<attn>.in_proj_weight [3E, E]`
    /// and `<attn>.in_proj_bias [3E]`; its module name (for TAPS) is then `<attn>.in_proj`.
    public init(moduleName: String, weightName: String, biasName: String, inFeatures: Int, outFeatures: Int,
                bias: Bool = true, rng: inout SeededRNG) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear \(moduleName): features must be positive")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.moduleName = moduleName
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Parameter(weightName, .uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng))
        self.bias = bias
            ? Parameter(biasName, .uniform([outFeatures], low: -bound, high: bound, rng: &rng)) : nil
    }

    /// Weight, then bias.
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// `y = x · Wᵀ + b` for `x: [..., I]`, giving `[..., O]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        forward(x, weight: weight.value, mode: mode)
    }

    /// Forward with an explicit weight `[O, I]` (used by TAPS for `w0 + g * dw`).
    public func forward(_ x: Tensor, weight w: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank >= 1 && x.shape.last == inFeatures,
                     "Linear \(weight.name): expected input [..., \(inFeatures)], got \(x.shape)")
        precondition(w.shape == weight.value.shape, "Linear \(weight.name): weight shape \(w.shape)")
        let n = x.count / inFeatures
        // Every element is written: bias rows then beta 1, or beta 0.
        var y = Tensor(shape: Array(x.shape.dropLast()) + [outFeatures]) { _ in }
        let O = outFeatures
        y.withMutableBuffer { yp in
            if let b = bias {
                b.value.withBuffer { bp in
                    for row in 0..<n { (yp.baseAddress! + row * O).update(from: bp.baseAddress!, count: O) }
                }
            }
            x.withBuffer { xp in
                w.withBuffer { wp in
                    gemm(.none, .transposed, m: n, n: O, k: inFeatures, xp.baseAddress!, wp.baseAddress!,
                         beta: bias == nil ? 0 : 1, yp.baseAddress!)
                }
            }
        }
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// Returns `dL/dx` and accumulates `dL/dW` (when the weight requires grad) and `dL/db`.
    public func backward(_ dOut: Tensor) -> Tensor {
        var g = weight.takeGradientIfTrainable()
        let dx = backwardCore(dOut, weight: weight.value, weightGradient: &g)
        if let g { weight.grad = g }
        return dx
    }

    /// Returns `dL/dx` and, when `needWeightGradient`, a fresh `dL/dW` at `weight` (not accumulated).
    /// Accumulates `dL/db` into `bias.grad` when the bias requires grad.
    public func backward(_ dOut: Tensor, weight w: Tensor, needWeightGradient: Bool) -> (input: Tensor, weight: Tensor?) {
        var g: Tensor? = needWeightGradient ? Tensor(shape: w.shape) { _ in } : nil   // written with beta 0
        let dx = backwardCore(dOut, weight: w, weightGradient: &g, overwriteWeightGradient: true)
        return (dx, g)
    }

    /// Shared backward: `dW` is accumulated into `weightGradient` (GEMM with beta = 1) when non-nil, or written
    /// (beta 0) when `overwriteWeightGradient`.
    private func backwardCore(_ dOut: Tensor, weight w: Tensor, weightGradient: inout Tensor?,
                              overwriteWeightGradient: Bool = false) -> Tensor {
        guard let x = cache?.input else {
            preconditionFailure("Linear \(weight.name): backward without a training-mode forward")
        }
        let n = x.count / inFeatures, O = outFeatures, I = inFeatures
        precondition(dOut.count == n * O, "Linear \(weight.name): dOut \(dOut.shape) for input \(x.shape)")
        var dx = Tensor(shape: x.shape) { _ in }   // written by the GEMM (beta 0)
        dOut.withBuffer { dp in
            let d = dp.baseAddress!
            dx.withMutableBuffer { dxp in
                w.withBuffer { wp in gemm(.none, .none, m: n, n: I, k: O, d, wp.baseAddress!, dxp.baseAddress!) }
            }
            if weightGradient != nil {
                weightGradient!.withMutableBuffer { gp in
                    x.withBuffer { xp in
                        gemm(.transposed, .none, m: O, n: I, k: n, d, xp.baseAddress!,
                             beta: overwriteWeightGradient ? 0 : 1, gp.baseAddress!)
                    }
                }
            }
            if let b = bias, b.requiresGrad {
                b.grad.withMutableBuffer { gb in
                    for row in 0..<n {
                        let r = d + row * O
                        for o in 0..<O { gb[o] += r[o] }
                    }
                }
            }
        }
        return dx
    }
}
