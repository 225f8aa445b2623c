// TapsNN: 2-D convolution as im2col + GEMM, with a direct reference (`conv2dNaive`) next to it.
// Notation inside kernels: N batch, C in channels, O out channels, G groups, Cg = C/G, Og = O/G,
// H W input size, KH KW kernel, OH OW output size, P = OH*OW, K = Cg*KH*KW (rows of a group's columns),
// B images per GEMM (a chunk of the batch).
import TapsTensor

/// 2-D convolution over NCHW images (PyTorch `nn.Conv2d`, cross-correlation, zero padding).
///
/// ```
/// x: [N, C, H, W]   W: [O, C/G, KH, KW]   b: [O]   y: [N, O, OH, OW]
/// OH = floor((H + 2*pad - dilation*(KH-1) - 1) / stride) + 1          (OW likewise)
/// y[n, o, i, j] = b[o] + Σ_{c in group(o), kh, kw} W[o, c, kh, kw] · x[n, c, i*s + kh*d - p, j*s + kw*d - p]
/// ```
///
/// Computed per group as one GEMM over a chunk of `B` images: `Y_g[Og, B*P] = W_g[Og, K] · cols_g[K, B*P]`,
/// with `cols` from ``im2col(_:_:_:rowStride:)``. Backward recomputes the columns (cheap, memory-bound)
/// instead of caching them:
///
/// ```
/// dW_g += dY_g · cols_gᵀ        dcols_g = W_gᵀ · dY_g  → col2im → dx        db[o] += Σ_{n,i,j} dy[n, o, i, j]
/// ```
///
/// `groups` must divide both channel counts; `groups == inChannels` is a depthwise convolution. When
/// `groups == inChannels == outChannels` (and dilation 1) a direct kernel replaces im2col + GEMM
/// (Conv2d+Depthwise.swift); the GEMM path and ``conv2dNaive(input:weight:bias:stride:padding:dilation:groups:)``
/// remain its references.
/// Initialisation is PyTorch's default: weight and bias `U(-1/sqrt(fanIn), 1/sqrt(fanIn))` with
/// `fanIn = (C/G)*KH*KW`.
///
/// ```swift
/// var rng = SeededRNG(seed: 0)
/// let conv = Conv2d(name: "conv_layers.0", inChannels: 1, outChannels: 32, kernelSize: 3, padding: 1, rng: &rng)
/// let y = conv.forward(Tensor(zeros: [32, 1, 28, 28]), mode: .training)   // [32, 32, 28, 28]
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html; Caffe im2col.
public final class Conv2d: WeightedLayer {
    /// `<name>.weight`, shape `[outChannels, inChannels/groups, kernelSize, kernelSize]`.
    public let weight: Parameter
    /// `<name>.bias`, shape `[outChannels]`, or `nil`.
    public let bias: Parameter?
    /// Channel counts `C` and `O`, and the square kernel side `KH = KW`.
    public let inChannels: Int, outChannels: Int, kernelSize: Int
    /// Geometry (same value on both axes) and the number of channel groups `G`.
    public let stride: Int, padding: Int, dilation: Int, groups: Int
    /// How many images share one GEMM (1 = per image; the batch size = one GEMM for the whole batch), or
    /// `nil` (default) for ``automaticImagesPerGEMM(positions:)``.
    /// A performance knob only: results are identical up to float summation order.
    public var imagesPerGEMM: Int? = nil
    /// Smallest automatic chunk. Measured on DigitCNN forward+backward, batch 32 of 28×28, AMD EPYC
    /// (AVX2), release build: with one OpenBLAS thread every chunk size is within ~10% (per image is
    /// marginally best for 64→128 and 128→128 at 14×14, cache-resident); with two threads small GEMMs
    /// parallelise poorly and chunks of 4–8 images were best. 4 is a good compromise for both.
    public static let defaultImagesPerGEMM = 4
    /// The automatic chunk grows until a GEMM has this many columns (`images × OH·OW`): deep layers of
    /// ImageNet networks at 64 px have 2×2 or 4×4 outputs, and chunks of 4 images gave GEMMs 16 columns
    /// wide that re-streamed a multi-megabyte weight from memory for every chunk.
    public static let minimumColumnsPerGEMM = 256

    /// Images per GEMM when ``imagesPerGEMM`` is nil, for `positions = OH·OW` output positions per image:
    /// `max(defaultImagesPerGEMM, ceil(minimumColumnsPerGEMM / positions))`.
    public static func automaticImagesPerGEMM(positions: Int) -> Int {
        max(defaultImagesPerGEMM, (minimumColumnsPerGEMM + positions - 1) / max(positions, 1))
    }

    /// Whether depthwise convolutions (`groups == inChannels == outChannels`, dilation 1) use the direct kernel
    /// (default) instead of im2col + GEMM. A performance knob only: results agree up to float summation order.
    public var directDepthwise = true
    /// Which direct depthwise kernel runs (a performance knob only: both give the same values, bit for bit).
    public enum DepthwiseKernel: Sendable { case automatic, planes, batchLanes }
    /// ``DepthwiseKernel/automatic`` takes the batch-lane kernel from ``batchLanesMinimumBatch`` images on.
    public var depthwiseKernel = DepthwiseKernel.automatic
    /// Smallest batch for which ``DepthwiseKernel/automatic`` vectorises over the batch (8 = one AVX vector).
    public static let batchLanesMinimumBatch = 8

    private struct Cache { var input: Tensor }
    private var cache: Cache?
    /// Scratch for columns and per-chunk outputs, grown on demand and reused across calls.
    private var columns: [Float] = []
    private var scratch: [Float] = []

    /// Creates a convolution whose parameters are named `<name>.weight` and `<name>.bias`.
    public init(name: String, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1,
                padding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true, rng: inout SeededRNG) {
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2d \(name): groups \(groups) must divide in \(inChannels) and out \(outChannels)")
        precondition(kernelSize > 0 && stride > 0 && padding >= 0 && dilation > 0, "Conv2d \(name): bad geometry")
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernelSize = kernelSize
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
        let fanIn = inChannels / groups * kernelSize * kernelSize
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter("\(name).weight", .uniform([outChannels, inChannels / groups, kernelSize, kernelSize],
                                                      low: -bound, high: bound, rng: &rng))
        self.bias = bias ? Parameter("\(name).bias", .uniform([outChannels], low: -bound, high: bound, rng: &rng)) : nil
    }

    /// Weight, then bias.
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// Geometry of one group of one image of input `[N, C, H, W]`.
    private func geometry(_ x: Tensor) -> ConvGeometry {
        precondition(x.rank == 4 && x.shape[1] == inChannels,
                     "Conv2d \(weight.name): expected input [N, \(inChannels), H, W], got \(x.shape)")
        let g = ConvGeometry(channels: inChannels / groups, height: x.shape[2], width: x.shape[3],
                             kernelHeight: kernelSize, kernelWidth: kernelSize, strideH: stride, strideW: stride,
                             padH: padding, padW: padding, dilationH: dilation, dilationW: dilation)
        precondition(g.outHeight > 0 && g.outWidth > 0, "Conv2d \(weight.name): input \(x.shape) too small")
        return g
    }

    /// `y = conv(x, W) + b`, `[N, C, H, W] → [N, O, OH, OW]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        forward(x, weight: weight.value, mode: mode)
    }

    /// Forward with an explicit weight of shape `[O, C/G, KH, KW]` (TAPS runs `w0 + g * dw`).
    public func forward(_ x: Tensor, weight w: Tensor, mode: ForwardMode) -> Tensor {
        precondition(w.shape == weight.value.shape, "Conv2d \(weight.name): weight shape \(w.shape)")
        let g = geometry(x)
        if usesDepthwiseKernel {   // direct kernel (Conv2d+Depthwise.swift): no im2col, no 1-row GEMMs
            let y = depthwiseForward(x, weight: w, outHeight: g.outHeight, outWidth: g.outWidth)
            if mode == .training { cache = Cache(input: x) }
            return y
        }
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        var y = Tensor(zeros: [N, O, g.outHeight, g.outWidth])
        let chunk = max(1, min(imagesPerGEMM ?? Self.automaticImagesPerGEMM(positions: P), N))
        ensureScratch(columns: K * chunk * P, scratch: chunk > 1 ? Og * chunk * P : 0)
        x.withBuffer { xb in w.withBuffer { wb in y.withMutableBuffer { yb in
            columns.withUnsafeMutableBufferPointer { colb in scratch.withUnsafeMutableBufferPointer { tmpb in
                let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!, cols = colb.baseAddress!
                for n0 in Swift.stride(from: 0, to: N, by: chunk) {
                    let B = min(chunk, N - n0), LD = B * P
                    for gi in 0..<G {
                        for b in 0..<B {
                            im2col(xp + (n0 + b) * C * HW + gi * Cg * HW, g, cols + b * P, rowStride: LD)
                        }
                        let wg = wp + gi * Og * K
                        if B == 1 {
                            gemm(.none, .none, m: Og, n: P, k: K, wg, cols, yp + n0 * O * P + gi * Og * P)
                        } else {
                            let tmp = tmpb.baseAddress!
                            gemm(.none, .none, m: Og, n: LD, k: K, wg, cols, tmp)
                            for o in 0..<Og {
                                for b in 0..<B {
                                    (yp + (n0 + b) * O * P + (gi * Og + o) * P).update(from: tmp + o * LD + b * P, count: P)
                                }
                            }
                        }
                    }
                }
                if let bias {
                    bias.value.withBuffer { bb in
                        for n in 0..<N {
                            for o in 0..<O {
                                let plane = yp + (n * O + o) * P, v = bb[o]
                                for i in 0..<P { plane[i] += v }
                            }
                        }
                    }
                }
            } }
        } } }
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// Returns `dL/dx` and accumulates `dL/dW` (when the weight requires grad) and `dL/db`.
    public func backward(_ dOut: Tensor) -> Tensor {
        var gw = weight.takeGradientIfTrainable()
        let dx = backwardCore(dOut, weight: weight.value, weightGradient: &gw)
        if let gw { weight.grad = gw }
        return dx
    }

    /// Returns `dL/dx` and, when `needWeightGradient`, a fresh `dL/dW` at `weight` (not accumulated).
    /// Accumulates `dL/db` into `bias.grad` when the bias requires grad.
    public func backward(_ dOut: Tensor, weight w: Tensor, needWeightGradient: Bool) -> (input: Tensor, weight: Tensor?) {
        var gw: Tensor? = needWeightGradient ? Tensor(zeros: w.shape) : nil
        let dx = backwardCore(dOut, weight: w, weightGradient: &gw)
        return (dx, gw)
    }

    private func backwardCore(_ dOut: Tensor, weight w: Tensor, weightGradient: inout Tensor?) -> Tensor {
        guard let x = cache?.input else {
            preconditionFailure("Conv2d \(weight.name): backward without a training-mode forward")
        }
        let g = geometry(x)
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        precondition(dOut.shape == [N, O, g.outHeight, g.outWidth],
                     "Conv2d \(weight.name): dOut \(dOut.shape) for input \(x.shape)")
        if usesDepthwiseKernel { return depthwiseBackward(x, weight: w, dOut: dOut, weightGradient: &weightGradient) }
        var dx = Tensor(zeros: x.shape)
        let chunk = max(1, min(imagesPerGEMM ?? Self.automaticImagesPerGEMM(positions: P), N))
        // columns holds cols then dcols; scratch holds the gathered dY chunk.
        ensureScratch(columns: 2 * K * chunk * P, scratch: chunk > 1 ? Og * chunk * P : 0)
        let needW = weightGradient != nil
        var gwStorage = weightGradient ?? Tensor(zeros: [0])
        weightGradient = nil
        x.withBuffer { xb in w.withBuffer { wb in dOut.withBuffer { db in dx.withMutableBuffer { dxb in
            gwStorage.withMutableBuffer { gwb in
            columns.withUnsafeMutableBufferPointer { colb in scratch.withUnsafeMutableBufferPointer { tmpb in
                let xp = xb.baseAddress!, wp = wb.baseAddress!, dp = db.baseAddress!, dxp = dxb.baseAddress!
                let cols = colb.baseAddress!, dcols = cols + K * chunk * P
                for n0 in Swift.stride(from: 0, to: N, by: chunk) {
                    let B = min(chunk, N - n0), LD = B * P
                    for gi in 0..<G {
                        let dyg: UnsafePointer<Float>
                        if B == 1 {
                            dyg = dp + n0 * O * P + gi * Og * P
                        } else {
                            let tmp = tmpb.baseAddress!
                            for o in 0..<Og {
                                for b in 0..<B {
                                    (tmp + o * LD + b * P).update(from: dp + (n0 + b) * O * P + (gi * Og + o) * P, count: P)
                                }
                            }
                            dyg = UnsafePointer(tmp)
                        }
                        if needW {
                            for b in 0..<B {
                                im2col(xp + (n0 + b) * C * HW + gi * Cg * HW, g, cols + b * P, rowStride: LD)
                            }
                            gemm(.none, .transposed, m: Og, n: K, k: LD, dyg, cols, beta: 1, gwb.baseAddress! + gi * Og * K)
                        }
                        gemm(.transposed, .none, m: K, n: LD, k: Og, wp + gi * Og * K, dyg, dcols)
                        for b in 0..<B {
                            col2im(dcols + b * P, g, dxp + (n0 + b) * C * HW + gi * Cg * HW, rowStride: LD)
                        }
                    }
                }
                if let bias, bias.requiresGrad {
                    bias.grad.withMutableBuffer { gb in
                        for n in 0..<N {
                            for o in 0..<O {
                                let plane = dp + (n * O + o) * P
                                var s: Float = 0
                                for i in 0..<P { s += plane[i] }
                                gb[o] += s
                            }
                        }
                    }
                }
            } }
            }
        } } } }
        if needW { weightGradient = gwStorage }
        return dx
    }

    private func ensureScratch(columns c: Int, scratch s: Int) {
        if columns.count < c { columns = [Float](repeating: 0, count: c) }
        if scratch.count < max(s, 1) { scratch = [Float](repeating: 0, count: max(s, 1)) }
    }
}

// MARK: - Direct reference

/// Direct seven-loop convolution (the readable statement of ``Conv2d``'s math, accumulating in Double),
/// used by tests to check the im2col + GEMM fast path on odd shapes.
///
/// - Parameters:
///   - input: `[N, C, H, W]`.
///   - weight: `[O, C/groups, KH, KW]`.
///   - bias: `[O]` or `nil`.
/// - Returns: `[N, O, OH, OW]` with `OH = floor((H + 2*padding - dilation*(KH-1) - 1)/stride) + 1`.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html
public func conv2dNaive(input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                        dilation: Int = 1, groups: Int = 1) -> Tensor {
    let (N, C, H, W) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (O, Cg, KH, KW) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    precondition(Cg * groups == C && O % groups == 0, "conv2dNaive: channels \(C), weight \(weight.shape), groups \(groups)")
    let OH = (H + 2 * padding - dilation * (KH - 1) - 1) / stride + 1
    let OW = (W + 2 * padding - dilation * (KW - 1) - 1) / stride + 1
    let Og = O / groups
    var y = Tensor(zeros: [N, O, OH, OW])
    for n in 0..<N {
        for o in 0..<O {
            let gi = o / Og
            for i in 0..<OH {
                for j in 0..<OW {
                    var s = Double(bias?.storage[o] ?? 0)
                    for c in 0..<Cg {
                        for kh in 0..<KH {
                            let ih = i * stride + kh * dilation - padding
                            if ih < 0 || ih >= H { continue }
                            for kw in 0..<KW {
                                let iw = j * stride + kw * dilation - padding
                                if iw < 0 || iw >= W { continue }
                                s += Double(weight.storage[((o * Cg + c) * KH + kh) * KW + kw])
                                    * Double(input.storage[((n * C + gi * Cg + c) * H + ih) * W + iw])
                            }
                        }
                    }
                    y.storage[((n * O + o) * OH + i) * OW + j] = Float(s)
                }
            }
        }
    }
    return y
}

/// Direct reference for the gradients of ``conv2dNaive(input:weight:bias:stride:padding:dilation:groups:)``
/// given `dOut: [N, O, OH, OW]`: returns `dL/dinput [N, C, H, W]`, `dL/dweight [O, C/groups, KH, KW]` and
/// `dL/dbias [O]`, accumulating in Double.
public func conv2dBackwardNaive(input: Tensor, weight: Tensor, dOut: Tensor, stride: Int = 1, padding: Int = 0,
                                dilation: Int = 1, groups: Int = 1) -> (input: Tensor, weight: Tensor, bias: Tensor) {
    let (N, C, H, W) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (O, Cg, KH, KW) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let (OH, OW) = (dOut.shape[2], dOut.shape[3])
    let Og = O / groups
    var dx = [Double](repeating: 0, count: input.count)
    var dw = [Double](repeating: 0, count: weight.count)
    var db = [Double](repeating: 0, count: O)
    for n in 0..<N {
        for o in 0..<O {
            let gi = o / Og
            for i in 0..<OH {
                for j in 0..<OW {
                    let d = Double(dOut.storage[((n * O + o) * OH + i) * OW + j])
                    db[o] += d
                    for c in 0..<Cg {
                        for kh in 0..<KH {
                            let ih = i * stride + kh * dilation - padding
                            if ih < 0 || ih >= H { continue }
                            for kw in 0..<KW {
                                let iw = j * stride + kw * dilation - padding
                                if iw < 0 || iw >= W { continue }
                                let xi = ((n * C + gi * Cg + c) * H + ih) * W + iw
                                let wi = ((o * Cg + c) * KH + kh) * KW + kw
                                dx[xi] += d * Double(weight.storage[wi])
                                dw[wi] += d * Double(input.storage[xi])
                            }
                        }
                    }
                }
            }
        }
    }
    return (Tensor(shape: input.shape, storage: dx.map(Float.init)),
            Tensor(shape: weight.shape, storage: dw.map(Float.init)),
            Tensor(shape: [O], storage: db.map(Float.init)))
}
