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
///
/// With a ``statisticsReducer`` (data-parallel training, set by the MPI layer) the layer behaves as PyTorch's
/// `SyncBatchNorm`: the per-channel sums behind `μ`, `σ²` (forward) and `mean(dy)`, `mean(dy·x̂)` (backward) are
/// summed over every process, so `M` counts the values of the global batch and the result does not depend on how
/// many processes share it. The parameter gradients stay this process's share (the gradient all-reduce sums them).
/// References: https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html; Ioffe & Szegedy 2015;
/// https://pytorch.org/docs/stable/generated/torch.nn.SyncBatchNorm.html.
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
    /// Sums per-channel statistics over the processes of a data-parallel run (nil: this process's batch alone).
    /// Used by training-mode forwards and their backward only; every process must call them in the same order.
    public var statisticsReducer: (any BatchStatisticsReducer)?

    private struct Cache { var input: Tensor; var mean: [Float]; var rstd: [Float]; var training: Bool; var count: Int }
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
        let N = x.shape[0], C = channels, HW = x.shape[2] * x.shape[3]
        var M = N * HW
        var mean = [Float](repeating: 0, count: C), rstd = [Float](repeating: 0, count: C)
        var variance = [Float](repeating: 0, count: C)
        let training = mode == .training
        if training {
            // Per-channel sums (then centred squares) of this process's batch, one channel per work item with
            // the images summed in order: the same bits for any thread count. Without a reducer both passes run
            // while the channel is in cache; with one (SyncBN), each pass's sums are added over every process.
            var sums = [Double](repeating: 0, count: C), squares = [Double](repeating: 0, count: C)
            let reducer = statisticsReducer
            x.withBuffer { xb in sums.withUnsafeMutableBufferPointer { sb in squares.withUnsafeMutableBufferPointer { qb in
                nonisolated(unsafe) let xp = xb.baseAddress!, sp = sb.baseAddress!, qp = qb.baseAddress!
                let count = Double(M)
                Parallel.forEach(C) { c, _ in
                    var s = 0.0
                    for n in 0..<N where HW > 0 { s += serialSum(xp + (n * C + c) * HW, HW) }
                    sp[c] = s
                    if reducer == nil { qp[c] = centredSquares(xp, channel: c, N: N, C: C, HW: HW, mean: Float(s / count)) }
                }
            } } }
            if let reducer {
                sums.append(Double(M))
                reducer.allReduceSum(&sums)
                M = Int(sums.removeLast())
                precondition(M > 1, "BatchNorm2d \(weight.name): expected more than 1 value per channel when training")
                x.withBuffer { xb in sums.withUnsafeBufferPointer { sb in squares.withUnsafeMutableBufferPointer { qb in
                    nonisolated(unsafe) let xp = xb.baseAddress!, sp = sb.baseAddress!, qp = qb.baseAddress!
                    let count = Double(M)
                    Parallel.forEach(C) { c, _ in
                        qp[c] = centredSquares(xp, channel: c, N: N, C: C, HW: HW, mean: Float(sp[c] / count))
                    }
                } } }
                reducer.allReduceSum(&squares)
            }
            precondition(M > 1, "BatchNorm2d \(weight.name): expected more than 1 value per channel when training")
            for c in 0..<C {
                mean[c] = Float(sums[c] / Double(M))
                variance[c] = Float(squares[c] / Double(M))
                rstd[c] = Float(1 / (squares[c] / Double(M) + Double(eps)).squareRoot())
            }
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
        cache = Cache(input: x, mean: mean, rstd: rstd, training: training, count: M)
        return y
    }

    /// Returns `dL/dx`; accumulates `dL/dγ` and `dL/dβ` when they require grad. After a training forward
    /// the batch statistics are differentiated through; after an inference forward they are constants.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("BatchNorm2d \(weight.name): backward without a forward") }
        let x = cache.input
        precondition(dOut.shape == x.shape, "BatchNorm2d \(weight.name): dOut \(dOut.shape) vs input \(x.shape)")
        let N = x.shape[0], C = channels, HW = x.shape[2] * x.shape[3], M = Float(cache.count)
        let training = cache.training
        // Per-channel sums of dy and dy·x̂ over this process's batch (the parameter gradients), one channel per work
        // item with the images in order (the same bits for any thread count). Without a reducer, dx of the channel
        // follows while it is in cache; with one (SyncBN), the sums are first added over every process.
        var sums = [Double](repeating: 0, count: 2 * C)
        let reducer = training ? statisticsReducer : nil
        func channelGradient(_ c: Int, _ xp: UnsafePointer<Float>, _ dp: UnsafePointer<Float>, _ gp: UnsafePointer<Float>,
                             _ dxp: UnsafeMutablePointer<Float>, sumDy: Float, sumDyXhat: Float) {
            let mu = cache.mean[c], r = cache.rstd[c]
            let k = gp[c] * r
            let meanDy = training ? sumDy / M : 0
            let meanDyXhat = training ? sumDyXhat / M : 0
            for n in 0..<N where HW > 0 {
                let o = (n * C + c) * HW
                let xq = xp + o, dq = dp + o, dxq = dxp + o
                for i in 0..<HW { dxq[i] = k * (dq[i] - meanDy - (xq[i] - mu) * r * meanDyXhat) }
            }
        }
        let dx = x.withBuffer { xb in dOut.withBuffer { db in weight.value.withBuffer { gb in Tensor(shape: x.shape) { dxb in
            nonisolated(unsafe) let xp = xb.baseAddress!, dp = db.baseAddress!, gp = gb.baseAddress!
            nonisolated(unsafe) let dxp = dxb.baseAddress!
            sums.withUnsafeMutableBufferPointer { sb in
                nonisolated(unsafe) let sp = sb.baseAddress!
                Parallel.forEach(C) { c, _ in
                    var s = 0.0, sx = 0.0
                    for n in 0..<N where HW > 0 {
                        let o = (n * C + c) * HW
                        let (ps, pd) = vectorSumAndCenteredDot(dp + o, xp + o, HW, mean: cache.mean[c], scale: cache.rstd[c])
                        s += ps; sx += pd
                    }
                    sp[c] = s; sp[C + c] = sx
                    if reducer == nil { channelGradient(c, xp, dp, gp, dxp, sumDy: Float(s), sumDyXhat: Float(sx)) }
                }
            }
            guard let reducer else { return }
            var global = sums
            reducer.allReduceSum(&global)
            global.withUnsafeBufferPointer { sb in
                nonisolated(unsafe) let sp = sb.baseAddress!
                Parallel.forEach(C) { c, _ in
                    channelGradient(c, xp, dp, gp, dxp, sumDy: Float(sp[c]), sumDyXhat: Float(sp[C + c]))
                }
            }
        } } } }
        // This process's sums: dγ += Σ dy·x̂, dβ += Σ dy (the gradient all-reduce adds the other processes').
        if weight.requiresGrad { for c in 0..<C { weight.grad.storage[c] += Float(sums[C + c]) } }
        if bias.requiresGrad { for c in 0..<C { bias.grad.storage[c] += Float(sums[c]) } }
        return dx
    }
}

/// Σ (x - mean)² over channel `c` of NCHW `x` (`N` images, `C` channels, `HW` values each), in Double with Float
/// partials per image, images in order.
@inline(__always)
func centredSquares(_ x: UnsafePointer<Float>, channel c: Int, N: Int, C: Int, HW: Int, mean m: Float) -> Double {
    var q = 0.0
    for n in 0..<N where HW > 0 {
        let p = x + (n * C + c) * HW
        var partial: Float = 0
        for i in 0..<HW { let d = p[i] - m; partial += d * d }
        q += Double(partial)
    }
    return q
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

/// Sums per-channel statistics over the processes of a data-parallel run, so that ``BatchNorm2d`` normalises with
/// the global batch's statistics (`SyncBatchNorm` semantics). TapsNN knows no transport: the MPI layer
/// (TapsDistributed) supplies the implementation.
public protocol BatchStatisticsReducer: AnyObject, Sendable {
    /// Replaces `values` by their element-wise sum over every process. Every process calls it with arrays of the
    /// same length, in the same order; the result is identical on every process.
    func allReduceSum(_ values: inout [Double])
}
