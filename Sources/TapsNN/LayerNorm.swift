// TapsNN: layer normalisation over the last dimension. Notation inside kernels: R rows (product of the
// leading dimensions), D normalised width.
import TapsTensor

/// Layer normalisation over the last dimension (PyTorch `nn.LayerNorm(D)`, elementwise affine).
///
/// ```
/// x, y: [..., D]     weight γ, bias β: [D]
/// μ = mean_d x,  σ² = mean_d (x - μ)²  (biased),  rstd = 1/sqrt(σ² + eps),  x̂ = (x - μ)·rstd
/// y = γ·x̂ + β
/// backward: ĝ = dy·γ,   dx = rstd·(ĝ - mean_d(ĝ) - x̂·mean_d(ĝ·x̂)),   dγ += Σ_rows dy·x̂,   dβ += Σ_rows dy
/// ```
/// The same in training and inference (no running statistics). The cache keeps the input, `μ` and
/// `rstd` per row; `x̂` is recomputed in backward. ViT uses `eps = 1e-6`.
///
/// ```swift
/// let ln = LayerNorm(name: "encoder.ln", width: 192, eps: 1e-6)
/// let y = ln.forward(Tensor(zeros: [8, 65, 192]), mode: .training)   // [8, 65, 192]
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html; Ba et al. 2016.
public final class LayerNorm: Layer {
    /// `<name>.weight` γ `[D]`, ones.
    public let weight: Parameter
    /// `<name>.bias` β `[D]`, zeros.
    public let bias: Parameter
    /// Normalised width `D` (the last dimension of the input).
    public let width: Int
    /// Added to the variance before the square root.
    public let eps: Float

    private struct Cache { var input: Tensor; var mean: [Float]; var rstd: [Float] }
    private var cache: Cache?

    /// Rows per parallel work item (forward) and per partial-gradient block (backward).
    static let rowGrain = 64

    /// Creates a layer whose parameters are named `<name>.weight` and `<name>.bias`.
    public init(name: String, width: Int, eps: Float = 1e-5) {
        precondition(width > 0, "LayerNorm \(name): width must be positive")
        self.width = width
        self.eps = eps
        weight = Parameter("\(name).weight", Tensor(repeating: 1, shape: [width]))
        bias = Parameter("\(name).bias", Tensor(zeros: [width]))
    }

    /// Weight, then bias.
    public var parameters: [Parameter] { [weight, bias] }

    /// Normalises each row of `x: [..., D]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank >= 1 && x.shape.last == width, "LayerNorm \(weight.name): expected [..., \(width)], got \(x.shape)")
        let D = width, R = x.count / D
        var mean = [Float](repeating: 0, count: R), rstd = [Float](repeating: 0, count: R)
        let y = x.withBuffer { xb in Tensor(shape: x.shape) { yb in weight.value.withBuffer { gb in bias.value.withBuffer { bb in
            mean.withUnsafeMutableBufferPointer { mb in rstd.withUnsafeMutableBufferPointer { rb in
                nonisolated(unsafe) let xp = xb.baseAddress!, yp = yb.baseAddress!, gp = gb.baseAddress!, bp = bb.baseAddress!
                nonisolated(unsafe) let mp = mb.baseAddress, rp = rb.baseAddress
                // Rows are independent: blocks of rows over the workers.
                Parallel.forRanges(R, grain: Self.rowGrain) { rows in
                    for r in rows {
                        let src = xp + r * D, dst = yp + r * D
                        var s: Float = 0
                        for d in 0..<D { s += src[d] }
                        let mu = s / Float(D)
                        var q: Float = 0
                        for d in 0..<D { let v = src[d] - mu; q += v * v }
                        let rs = 1 / (q / Float(D) + eps).squareRoot()
                        mp![r] = mu; rp![r] = rs
                        for d in 0..<D { dst[d] = (src[d] - mu) * rs * gp[d] + bp[d] }
                    }
                }
            } }
        } } } }
        if mode == .training { cache = Cache(input: x, mean: mean, rstd: rstd) }
        return y
    }

    /// Returns `dL/dx`; accumulates `dL/dγ` and `dL/dβ` when they require grad.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("LayerNorm \(weight.name): backward without a training-mode forward") }
        let x = cache.input
        precondition(dOut.shape == x.shape, "LayerNorm \(weight.name): dOut \(dOut.shape) vs input \(x.shape)")
        let D = width, R = x.count / D
        // Rows in fixed blocks of rowGrain over the workers; each block sums its dγ, dβ partials, and the
        // partials are added in block order (the same bits for any thread count).
        let blocks = (R + Self.rowGrain - 1) / Self.rowGrain
        var partials = [Float](repeating: 0, count: 2 * D * max(blocks, 1))
        let dx = x.withBuffer { xb in dOut.withBuffer { db in Tensor(shape: x.shape) { dxb in weight.value.withBuffer { gb in
            cache.mean.withUnsafeBufferPointer { mb in cache.rstd.withUnsafeBufferPointer { rb in
                partials.withUnsafeMutableBufferPointer { pb in
                    nonisolated(unsafe) let xq = xb.baseAddress!, dq = db.baseAddress!, oq = dxb.baseAddress!, gp = gb.baseAddress!
                    nonisolated(unsafe) let mp = mb.baseAddress, rp = rb.baseAddress, pp = pb.baseAddress!
                    Parallel.forEach(blocks) { blk, _ in
                        let dGamma = pp + 2 * D * blk, dBeta = dGamma + D
                        for r in (blk * Self.rowGrain)..<min(R, (blk + 1) * Self.rowGrain) {
                            let xp = xq + r * D, dp = dq + r * D, out = oq + r * D
                            let mu = mp![r], rs = rp![r]
                            var sumG: Float = 0, sumGX: Float = 0
                            for d in 0..<D {
                                let xhat = (xp[d] - mu) * rs, g = dp[d] * gp[d]
                                sumG += g; sumGX += g * xhat
                                dGamma[d] += dp[d] * xhat; dBeta[d] += dp[d]
                            }
                            let mg = sumG / Float(D), mgx = sumGX / Float(D)
                            for d in 0..<D {
                                let xhat = (xp[d] - mu) * rs
                                out[d] = rs * (dp[d] * gp[d] - mg - xhat * mgx)
                            }
                        }
                    }
                }
            } }
        } } } }
        var dGamma = [Float](repeating: 0, count: D), dBeta = [Float](repeating: 0, count: D)
        for blk in 0..<blocks {
            for d in 0..<D { dGamma[d] += partials[2 * D * blk + d]; dBeta[d] += partials[2 * D * blk + D + d] }
        }
        if weight.requiresGrad { weight.grad.withMutableBuffer { g in for d in 0..<D { g[d] += dGamma[d] } } }
        if bias.requiresGrad { bias.grad.withMutableBuffer { g in for d in 0..<D { g[d] += dBeta[d] } } }
        return dx
    }
}
