// TapsNN: 2-D convolution as im2col + GEMM, with a direct reference (`conv2dNaive`) next to it.
// Notation inside kernels: N batch, C in channels, O out channels, G groups, Cg = C/G, Og = O/G,
// H W input size, KH KW kernel, OH OW output size, P = OH*OW, K = Cg*KH*KW (rows of a group's columns),
// B images per GEMM (a chunk of the batch).
import Foundation
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
    /// `nil` (default) for ``automaticImagesPerGEMM(positions:columnRows:)``.
    /// A performance knob only: results are identical up to float summation order, and never depend on
    /// the thread count (the chunk does not).
    public var imagesPerGEMM: Int? = nil
    /// The automatic chunk grows until a GEMM has this many columns (`images × OH·OW`): wide GEMMs run at
    /// full speed and split evenly over the workers (column blocks), and a deep layer's weight (2×2 or 4×4
    /// outputs at 64 px) is streamed from memory once per chunk rather than once per image. Measured on
    /// ResNet-18 (64 px, batch 32, one thread, CPU s/step, shared machine): 512 and 1024 columns 6-15% below
    /// 4096 (whose column matrices leave the cache); 1024 keeps the GEMMs wide enough to split over 2 cores.
    /// (`TAPS_CONV_COLUMNS` in the environment overrides it, for measurements.)
    public static let targetColumnsPerGEMM =
        ProcessInfo.processInfo.environment["TAPS_CONV_COLUMNS"].flatMap(Int.init).map { max(1, $0) } ?? 1024
    /// ... while the chunk's column matrix (`columnRows × images × OH·OW` floats) stays within this budget
    /// (16 MiB), so 224 px images do not ask for hundreds of megabytes of scratch.
    public static let columnBudget = 1 << 22

    /// Images per GEMM when ``imagesPerGEMM`` is nil, for `positions = OH·OW` output positions per image and
    /// `columnRows = (C/G)·KH·KW`: `ceil(targetColumnsPerGEMM / positions)`, at most
    /// `columnBudget / (columnRows · positions)`, at least 1. Independent of the batch and thread count.
    public static func automaticImagesPerGEMM(positions: Int, columnRows: Int) -> Int {
        let p = max(positions, 1)
        let wanted = (targetColumnsPerGEMM + p - 1) / p
        return max(1, min(wanted, columnBudget / max(1, columnRows * p)))
    }

    /// Whether this is a 1×1, stride-1, unpadded convolution: its column matrix is the input itself, so
    /// wide enough images skip im2col and col2im and multiply the input planes directly.
    var isPointwise: Bool { kernelSize == 1 && stride == 1 && padding == 0 }
    /// Pointwise convolutions multiply each image directly from this many output positions per image on
    /// (narrower images are gathered into shared GEMMs, whose efficiency beats skipping the copy).
    static let pointwiseDirectMinimumPositions = 64

    /// Whether forward and backward run one product per image (see ``perImageMinimumPositions``): `nil`
    /// (default) decides by the output size, `true`/`false` force it (tests, measurements). A performance knob
    /// only: results agree up to float summation order and never depend on the thread count.
    public var perImageGEMM: Bool? = nil

    /// Whether to run as one product with the weight unfolded over the positions (``runsDense(_:)``, Conv2d+Dense.swift);
    /// nil: when the input plane has fewer than half as many positions as the kernel has taps.
    public var denseWeightPath: Bool? = nil
    /// The dense path's unfolded weight, kept from the forward for the backward at the same weight.
    var denseUnfolded: DenseUnfoldedWeight?
    /// The dense path's tap list (``denseTapList(_:)``) and the geometry it is for.
    var denseTapCache: (geometry: ConvGeometry, taps: [[(q: Int, tap: Int)]])?
    /// Convolutions with at least this many output positions per image (`OH·OW`) run image by image: each
    /// worker unfolds one image into its own scratch (`[C·KH·KW, OH·OW]`, a few hundred KiB at 64 px, so it
    /// stays in the core's L2), multiplies it straight into the output planes, and for `dL/dx` folds the
    /// product back while it is still cached. The chunked path instead writes a column matrix of ~1024
    /// columns that leaves the cache between im2col, GEMM and col2im, and gathers/scatters the chunk's
    /// planes (`memmove`). Narrower outputs (a 64 px ResNet's last two stages, 4×4 and 2×2) keep the chunks:
    /// a product per image of 16 or 4 columns would run the GEMM kernel at a fraction of its speed.
    /// `TAPS_CONV_PER_IMAGE` in the environment overrides it, for measurements.
    public static let perImageMinimumPositions =
        ProcessInfo.processInfo.environment["TAPS_CONV_PER_IMAGE"].flatMap(Int.init).map { max(1, $0) } ?? 64

    /// Whether this convolution, on outputs of `positions` per image, takes the per-image path.
    func runsPerImage(positions: Int) -> Bool {
        !usesDepthwiseKernel && !(isPointwise && positions >= Self.pointwiseDirectMinimumPositions)
            && (perImageGEMM ?? (positions >= Self.perImageMinimumPositions))
    }

    /// Whether depthwise convolutions (`groups == inChannels == outChannels`, dilation 1) use the direct kernel
    /// (default) instead of im2col + GEMM. A performance knob only: results agree up to float summation order.
    public var directDepthwise = true
    /// Which direct depthwise kernel runs (a performance knob only: both give the same values, bit for bit).
    public enum DepthwiseKernel: Sendable { case automatic, planes, batchLanes }
    /// ``DepthwiseKernel/automatic`` takes the batch-lane kernel from ``batchLanesMinimumBatch`` images on, for output
    /// rows narrower than ``planesMinimumOutputWidth``.
    public var depthwiseKernel = DepthwiseKernel.automatic
    /// Smallest batch for which ``DepthwiseKernel/automatic`` vectorises over the batch (8 = one AVX vector).
    public static let batchLanesMinimumBatch = 8
    /// From this many output positions per row on (16: EfficientNet-Lite0's 32×32 and 16×16 stages at 64 px),
    /// ``DepthwiseKernel/automatic`` runs the planes kernel: its rows are long enough to vectorise, and it skips the
    /// batch-lane kernel's transposition of every plane in and out. Measured on EfficientNet-Lite0 (64 px, batch 32,
    /// 2 threads, 3 alternations): forward 0.061-0.067 s and backward 0.068-0.075 s per step against 0.074-0.077 and
    /// 0.088-0.095 with lanes everywhere; planes everywhere is slower (forward 0.090-0.095). Both kernels give the
    /// same values bit for bit. `TAPS_DEPTHWISE_PLANES_WIDTH` in the environment overrides it, for measurements.
    public static let planesMinimumOutputWidth =
        ProcessInfo.processInfo.environment["TAPS_DEPTHWISE_PLANES_WIDTH"].flatMap(Int.init).map { max(1, $0) } ?? 16

    /// Whether backward computes `dL/dx` (``InputGradientOptional``). False for a network's stem, whose input is the
    /// images: backward then runs only the weight and bias gradients and returns zeros `[N, C, H, W]` (the direct
    /// depthwise kernel, never a stem, computes it regardless).
    public var computesInputGradient = true

    private struct Cache { var input: Tensor }
    private var cache: Cache?

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
        let y = runsDense(g) ? forwardDense(x, weight: w, geometry: g)
            : runsPerImage(positions: g.columnCols) ? forwardPerImage(x, weight: w, geometry: g)
            : forwardGEMM(x, weight: w, geometry: g)
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// im2col + GEMM forward. Per chunk of `B` images and group: columns of every image in parallel, one GEMM
    /// split into column blocks over the workers, then a parallel scatter (+ bias) into NCHW. Pointwise
    /// convolutions with wide images skip the columns and multiply each image's planes directly.
    private func forwardGEMM(_ x: Tensor, weight w: Tensor, geometry g: ConvGeometry) -> Tensor {
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        let chunk = max(1, min(imagesPerGEMM ?? Self.automaticImagesPerGEMM(positions: P, columnRows: K), N))
        let direct = isPointwise && P >= Self.pointwiseDirectMinimumPositions
        let biasValue = bias?.value
        return x.withBuffer { xb in w.withBuffer { wb in Tensor(shape: [N, O, g.outHeight, g.outWidth]) { yb in
            nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
            // Adds the bias to output planes [n, o0..<o0+count] (in the worker that just wrote them).
            func addBias(_ n: Int, _ o0: Int, _ count: Int) {
                guard let biasValue else { return }
                biasValue.withBuffer { bb in Self.addBias(bb.baseAddress! + o0, to: yp + (n * O + o0) * P, channels: count, positions: P) }
            }
            if direct {
                // y[n, g] = W_g · x[n, g]: the input planes are the column matrix.
                GEMMStatistics.timed {
                    Parallel.forEach(N * G) { item, _ in
                        let n = item / G, gi = item % G
                        gemm(.none, .none, m: Og, n: P, k: Cg, wp + gi * Og * K, lda: K,
                             xp + n * C * HW + gi * Cg * HW, ldb: P, yp + (n * O + gi * Og) * P, ldc: P)
                        addBias(n, gi * Og, Og)
                    }
                }
                return
            }
            let scratchCount = K * chunk * P + (chunk > 1 ? Og * chunk * P : 0)
            Workspace.withScratch(scratchCount) { scratch in
                nonisolated(unsafe) let cols = scratch, tmp = scratch + K * chunk * P
                for n0 in Swift.stride(from: 0, to: N, by: chunk) {
                    let B = min(chunk, N - n0), LD = B * P
                    for gi in 0..<G {
                        Parallel.forEach(B) { b, _ in
                            im2col(xp + (n0 + b) * C * HW + gi * Cg * HW, g, cols + b * P, rowStride: LD)
                        }
                        let wg = wp + gi * Og * K
                        if B == 1 {
                            gemm(.none, .none, m: Og, n: P, k: K, wg, lda: K, cols, ldb: P,
                                 yp + (n0 * O + gi * Og) * P, ldc: P)
                            addBias(n0, gi * Og, Og)
                        } else {
                            gemm(.none, .none, m: Og, n: LD, k: K, wg, lda: K, cols, ldb: LD, tmp, ldc: LD)
                            Parallel.forEach(B) { b, _ in
                                for o in 0..<Og {
                                    (yp + ((n0 + b) * O + gi * Og + o) * P).update(from: tmp + o * LD + b * P, count: P)
                                }
                                addBias(n0 + b, gi * Og, Og)
                            }
                        }
                    }
                }
            }
        } } }
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
        // Uninitialised: the first chunk's GEMM overwrites it (beta 0); the direct depthwise kernel wants zeros.
        var gw: Tensor? = !needWeightGradient ? nil
            : usesDepthwiseKernel || dOut.count == 0 ? Tensor(zeros: w.shape) : Tensor(shape: w.shape) { _ in }
        let dx = backwardCore(dOut, weight: w, weightGradient: &gw, overwriteWeightGradient: true)
        return (dx, gw)
    }

    /// `overwriteWeightGradient`: `weightGradient` holds no values yet and is written, not accumulated.
    private func backwardCore(_ dOut: Tensor, weight w: Tensor, weightGradient: inout Tensor?,
                              overwriteWeightGradient: Bool = false) -> Tensor {
        guard let x = cache?.input else {
            preconditionFailure("Conv2d \(weight.name): backward without a training-mode forward")
        }
        let g = geometry(x)
        let N = x.shape[0], C = inChannels, O = outChannels, G = groups
        let Cg = C / G, Og = O / G, P = g.columnCols, K = g.columnRows, HW = g.height * g.width
        precondition(dOut.shape == [N, O, g.outHeight, g.outWidth],
                     "Conv2d \(weight.name): dOut \(dOut.shape) for input \(x.shape)")
        if usesDepthwiseKernel { return depthwiseBackward(x, weight: w, dOut: dOut, weightGradient: &weightGradient) }
        if runsDense(g) {
            return backwardDense(x, weight: w, dOut: dOut, geometry: g, weightGradient: &weightGradient,
                                 overwriteWeightGradient: overwriteWeightGradient)
        }
        if runsPerImage(positions: P) {
            return backwardPerImage(x, weight: w, dOut: dOut, geometry: g, weightGradient: &weightGradient,
                                    overwriteWeightGradient: overwriteWeightGradient)
        }
        let chunk = max(1, min(imagesPerGEMM ?? Self.automaticImagesPerGEMM(positions: P, columnRows: K), N))
        let directInput = isPointwise && P >= Self.pointwiseDirectMinimumPositions
        let needW = weightGradient != nil, needX = computesInputGradient
        var gwStorage = weightGradient ?? Tensor(zeros: [0])
        weightGradient = nil
        // Scratch: the chunk's columns (reused for dcols once dW is done), then the gathered dY chunk.
        let colsCount = K * chunk * P, dyCount = chunk > 1 ? Og * chunk * P : 0
        let dx = x.withBuffer { xb in w.withBuffer { wb in dOut.withBuffer { db in Tensor(shape: x.shape) { dxb in
            if !needX { dxb.update(repeating: 0) }
            gwStorage.withMutableBuffer { gwb in
            Workspace.withScratch(colsCount + dyCount) { scratch in
                nonisolated(unsafe) let xp = xb.baseAddress!, wp = wb.baseAddress!, dp = db.baseAddress!
                nonisolated(unsafe) let dxp = dxb.baseAddress!, gwp = gwb.baseAddress
                nonisolated(unsafe) let cols = scratch, dyc = scratch + colsCount
                for n0 in Swift.stride(from: 0, to: N, by: chunk) {
                    let B = min(chunk, N - n0), LD = B * P
                    for gi in 0..<G {
                        // dY of the chunk's group as [Og, B*P] (a view when B == 1) and, for dW, its columns.
                        let dyg: UnsafePointer<Float> = B == 1 ? dp + (n0 * O + gi * Og) * P : UnsafePointer(dyc)
                        if needW || (B > 1 && needX) {
                            Parallel.forEach(B) { b, _ in
                                if B > 1 {
                                    for o in 0..<Og {
                                        (dyc + o * LD + b * P).update(from: dp + ((n0 + b) * O + gi * Og + o) * P, count: P)
                                    }
                                }
                                if needW { im2col(xp + (n0 + b) * C * HW + gi * Cg * HW, g, cols + b * P, rowStride: LD) }
                            }
                        }
                        let wg = wp + gi * Og * K
                        if needW {   // dW_g += dY_g · cols_gᵀ, chunks accumulated in batch order
                            gemm(.none, .transposed, m: Og, n: K, k: LD, dyg, lda: LD, cols, ldb: LD,
                                 beta: overwriteWeightGradient && n0 == 0 ? 0 : 1, gwp! + gi * Og * K, ldc: K)
                        }
                        if !needX {
                            continue
                        } else if directInput {   // dx[n, g] = W_gᵀ · dY[n, g], written in place (no zero fill)
                            GEMMStatistics.timed {
                                Parallel.forEach(B) { b, _ in
                                    gemm(.transposed, .none, m: Cg, n: P, k: Og, wg, lda: K, dyg + b * P, ldb: LD,
                                         dxp + (n0 + b) * C * HW + gi * Cg * HW, ldc: P)
                                }
                            }
                        } else {   // dcols = W_gᵀ · dY_g → col2im (each image slice written, not zeroed first, by the worker that folds it)
                            gemm(.transposed, .none, m: K, n: LD, k: Og, wg, lda: K, dyg, ldb: LD, cols, ldc: LD)
                            Parallel.forEach(B) { b, _ in
                                let dst = dxp + (n0 + b) * C * HW + gi * Cg * HW
                                col2imConsumingColumns(cols + b * P, g, dst, rowStride: LD, overwrite: true)
                            }
                        }
                    }
                }
                accumulateBiasGradient(dOut: dp, batch: N, positions: P)
            }
            }
        } } } }
        if needW { weightGradient = gwStorage }
        return dx
    }
}

extension Conv2d: InputGradientOptional {}

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
