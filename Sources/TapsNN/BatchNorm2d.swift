// TapsNN: batch normalisation over NCHW. Notation inside kernels: N batch, C channels, HW = H*W,
// M = N*HW values per channel.
import TapsTensor

/// Batch normalisation over the channels of NCHW images (PyTorch `nn.BatchNorm2d`, affine, tracking stats).
///
/// ```
/// x, y: [N, C, H, W]     weight γ, bias β, running_mean, running_var: [C]     num_batches_tracked: []
/// training:  μ = mean_{n,h,w} x,  σ² = mean (x - μ)²  (biased),  x̂ = (x - μ) / sqrt(σ² + eps)
///            running_mean ← (1 - m)·running_mean + m·μ
///            running_var  ← (1 - m)·running_var  + m·σ²·M/(M-1)   (unbiased),   M = N·H·W
///            num_batches_tracked ← num_batches_tracked + 1
/// inference: x̂ = (x - running_mean) / sqrt(running_var + eps)
/// y = γ·x̂ + β
/// backward (training): dx = γ·rstd·(dy - mean(dy) - x̂·mean(dy·x̂)),  dγ += Σ dy·x̂,  dβ += Σ dy
/// backward (inference statistics): dx = γ·rstd·dy   (the statistics are constants)
/// ```
///
/// `momentum == nil` uses the cumulative average `m = 1 / num_batches_tracked`, as PyTorch.
/// Unlike the other layers, the cache is also kept after an inference-mode forward, so a frozen-statistics
/// backward (BN in `eval()` inside a training graph) is available.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html; Ioffe & Szegedy 2015.
public final class BatchNorm2d: Layer {
    /// `<name>.weight` γ `[C]`, initialised to ones.
    public let weight: Parameter
    /// `<name>.bias` β `[C]`, initialised to zeros.
    public let bias: Parameter
    /// Buffer `<name>.running_mean` `[C]`, zeros.
    public let runningMean: Parameter
    /// Buffer `<name>.running_var` `[C]`, ones.
    public let runningVar: Parameter
    /// Buffer `<name>.num_batches_tracked`, a scalar (shape `[]`) counting training batches.
    public let numBatchesTracked: Parameter
    /// Number of channels `C`.
    public let channels: Int
    /// Added to the variance before the square root.
    public let eps: Float
    /// Running-statistics momentum `m`; `nil` for a cumulative moving average.
    public var momentum: Float?

    private struct Cache { var input: Tensor; var mean: [Float]; var rstd: [Float]; var training: Bool }
    private var cache: Cache?

    /// Creates a layer whose tensors are named `<name>.weight`, `.bias`, `.running_mean`, `.running_var`
    /// and `.num_batches_tracked` (state_dict order).
    public init(name: String, channels: Int, eps: Float = 1e-5, momentum: Float? = 0.1) {
        precondition(channels > 0, "BatchNorm2d \(name): channels must be positive")
        self.channels = channels
        self.eps = eps
        self.momentum = momentum
        weight = Parameter("\(name).weight", Tensor(repeating: 1, shape: [channels]))
        bias = Parameter("\(name).bias", Tensor(zeros: [channels]))
        runningMean = Parameter("\(name).running_mean", Tensor(zeros: [channels]), isBuffer: true)
        runningVar = Parameter("\(name).running_var", Tensor(repeating: 1, shape: [channels]), isBuffer: true)
        numBatchesTracked = Parameter("\(name).num_batches_tracked", Tensor(zeros: []), isBuffer: true)
    }

    /// `weight, bias, running_mean, running_var, num_batches_tracked` (PyTorch state_dict order).
    public var parameters: [Parameter] { [weight, bias, runningMean, runningVar, numBatchesTracked] }

    /// Normalises `x: [N, C, H, W]` with batch statistics (training, updating the running buffers) or the
    /// running statistics (inference).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == channels,
                     "BatchNorm2d \(weight.name): expected [N, \(channels), H, W], got \(x.shape)")
        let N = x.shape[0], C = channels, HW = x.shape[2] * x.shape[3], M = N * HW
        var mean = [Float](repeating: 0, count: C), rstd = [Float](repeating: 0, count: C)
        let training = mode == .training
        if training {
            precondition(M > 1, "BatchNorm2d \(weight.name): expected more than 1 value per channel when training")
            var variance = [Float](repeating: 0, count: C)
            x.withBuffer { xb in mean.withUnsafeMutableBufferPointer { mb in
                variance.withUnsafeMutableBufferPointer { vb in rstd.withUnsafeMutableBufferPointer { rb in
                    nonisolated(unsafe) let xp = xb.baseAddress!, mp = mb.baseAddress!, vp = vb.baseAddress!, rp = rb.baseAddress!
                    let eps = Double(eps)
                    // One channel per item, images summed in order: the same bits for any thread count.
                    Parallel.forEach(C) { c, _ in
                        var s = 0.0
                        for n in 0..<N { s += serialSum(xp + (n * C + c) * HW, HW) }
                        let mu = s / Double(M)
                        var q = 0.0
                        for n in 0..<N {
                            let p = xp + (n * C + c) * HW
                            var partial: Float = 0
                            let m = Float(mu)
                            for i in 0..<HW { let d = p[i] - m; partial += d * d }
                            q += Double(partial)
                        }
                        mp[c] = Float(mu)
                        vp[c] = Float(q / Double(M))
                        rp[c] = Float(1 / (q / Double(M) + eps).squareRoot())
                    }
                } }
            } }
            numBatchesTracked.value.storage[0] += 1
            let m = momentum ?? 1 / numBatchesTracked.value.storage[0]
            let unbias = Float(M) / Float(M - 1)
            runningMean.value.withMutableBuffer { rm in
                runningVar.value.withMutableBuffer { rv in
                    for c in 0..<C {
                        rm[c] = (1 - m) * rm[c] + m * mean[c]
                        rv[c] = (1 - m) * rv[c] + m * variance[c] * unbias
                    }
                }
            }
        } else {
            for c in 0..<C {
                mean[c] = runningMean.value.storage[c]
                rstd[c] = 1 / (runningVar.value.storage[c] + eps).squareRoot()
            }
        }
        let y = x.withBuffer { xb in Tensor(shape: x.shape) { yb in
            weight.value.withBuffer { gb in bias.value.withBuffer { bb in mean.withUnsafeBufferPointer { mb in
                rstd.withUnsafeBufferPointer { rb in
                    nonisolated(unsafe) let xp = xb.baseAddress!, yp = yb.baseAddress!, gp = gb.baseAddress!
                    nonisolated(unsafe) let bp = bb.baseAddress!, mp = mb.baseAddress!, rp = rb.baseAddress!
                    Parallel.forEach(N * C) { item, _ in
                        let c = item % C
                        let scale = gp[c] * rp[c]
                        let shift = bp[c] - mp[c] * scale
                        let src = xp + item * HW, dst = yp + item * HW
                        for i in 0..<HW { dst[i] = src[i] * scale + shift }
                    }
                }
            } } }
        } }
        cache = Cache(input: x, mean: mean, rstd: rstd, training: training)
        return y
    }

    /// Returns `dL/dx`; accumulates `dL/dγ` and `dL/dβ` when they require grad. After a training forward
    /// the batch statistics are differentiated through; after an inference forward they are constants.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("BatchNorm2d \(weight.name): backward without a forward") }
        let x = cache.input
        precondition(dOut.shape == x.shape, "BatchNorm2d \(weight.name): dOut \(dOut.shape) vs input \(x.shape)")
        let N = x.shape[0], C = channels, HW = x.shape[2] * x.shape[3], M = Float(N * HW)
        var sumDy = [Float](repeating: 0, count: C), sumDyXhat = [Float](repeating: 0, count: C)
        let training = cache.training
        let dx = x.withBuffer { xb in dOut.withBuffer { db in weight.value.withBuffer { gb in Tensor(shape: x.shape) { dxb in
            sumDy.withUnsafeMutableBufferPointer { sb in sumDyXhat.withUnsafeMutableBufferPointer { sxb in
                cache.mean.withUnsafeBufferPointer { mb in cache.rstd.withUnsafeBufferPointer { rb in
                    nonisolated(unsafe) let xp = xb.baseAddress!, dp = db.baseAddress!, gp = gb.baseAddress!, dxp = dxb.baseAddress!
                    nonisolated(unsafe) let sp = sb.baseAddress!, sxp = sxb.baseAddress!, mp = mb.baseAddress!, rp = rb.baseAddress!
                    // One channel per item (statistics, then dx of that channel while it is in cache).
                    Parallel.forEach(C) { c, _ in
                        let mu = mp[c], r = rp[c]
                        var s = 0.0, sx = 0.0
                        for n in 0..<N {
                            let o = (n * C + c) * HW
                            let (ps, pd) = vectorSumAndCenteredDot(dp + o, xp + o, HW, mean: mu, scale: r)
                            s += ps; sx += pd
                        }
                        sp[c] = Float(s); sxp[c] = Float(sx)
                        let k = gp[c] * r
                        let meanDy = training ? sp[c] / M : 0
                        let meanDyXhat = training ? sxp[c] / M : 0
                        for n in 0..<N {
                            let o = (n * C + c) * HW
                            let xq = xp + o, dq = dp + o, dxq = dxp + o
                            for i in 0..<HW { dxq[i] = k * (dq[i] - meanDy - (xq[i] - mu) * r * meanDyXhat) }
                        }
                    }
                } }
            } }
        } } } }
        if weight.requiresGrad { for c in 0..<C { weight.grad.storage[c] += sumDyXhat[c] } }
        if bias.requiresGrad { for c in 0..<C { bias.grad.storage[c] += sumDy[c] } }
        return dx
    }
}

/// Sum of `count` floats in Double (Float partials per 1024).
@inline(__always)
func serialSum(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
    var total = 0.0, i = 0
    while i < count {
        let end = min(i + 1024, count)
        var partial: Float = 0
        for j in i..<end { partial += p[j] }
        total += Double(partial)
        i = end
    }
    return total
}
