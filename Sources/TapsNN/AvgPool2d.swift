// TapsNN: average pooling. Notation inside kernels: N batch, C channels, H W input, OH OW output, K kernel.
import TapsTensor

/// 2-D average pooling over NCHW images (PyTorch `nn.AvgPool2d`, `ceil_mode = False`,
/// `count_include_pad = True`).
///
/// ```
/// x: [N, C, H, W]  →  y: [N, C, OH, OW],   OH = floor((H + 2*padding - K) / stride) + 1
/// y[n, c, i, j] = (1/K²) Σ_{kh, kw < K} x[n, c, i*stride + kh - padding, j*stride + kw - padding]   (zero padding)
/// dx[n, c, h, w] += dy[n, c, i, j] / K²  for every window (i, j) containing (h, w)
/// ```
/// DenseNet's transitions use `AvgPool2d(kernelSize: 2, stride: 2)`.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
public final class AvgPool2d: Layer {
    /// Window side `K`, step between windows and zero padding on each side.
    public let kernelSize: Int, stride: Int, padding: Int
    private var inputShape: [Int]?

    /// Creates a pooling layer; `stride` defaults to `kernelSize` (PyTorch default). Requires
    /// `padding <= kernelSize / 2`.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        precondition(kernelSize > 0 && (stride ?? 1) > 0 && padding >= 0 && padding <= kernelSize / 2,
                     "AvgPool2d: bad geometry kernel \(kernelSize) padding \(padding)")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }

    private func outputSize(_ s: [Int]) -> (Int, Int) {
        ((s[2] + 2 * padding - kernelSize) / stride + 1, (s[3] + 2 * padding - kernelSize) / stride + 1)
    }

    /// `[N, C, H, W] → [N, C, OH, OW]` (window means, padding counted as zeros).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4, "AvgPool2d: expected [N, C, H, W], got \(x.shape)")
        let (H, W) = (x.shape[2], x.shape[3]), (OH, OW) = outputSize(x.shape)
        precondition(OH > 0 && OW > 0, "AvgPool2d: input \(x.shape) smaller than kernel \(kernelSize)")
        let K = kernelSize, S = stride, PAD = padding, scale = 1 / Float(K * K)
        var y = Tensor(zeros: [x.shape[0], x.shape[1], OH, OW])
        x.withBuffer { xb in y.withMutableBuffer { yb in
            for plane in 0..<(x.shape[0] * x.shape[1]) {
                let src = xb.baseAddress! + plane * H * W, dst = yb.baseAddress! + plane * OH * OW
                for i in 0..<OH {
                    let h0 = max(i * S - PAD, 0), h1 = min(i * S - PAD + K, H)
                    for j in 0..<OW {
                        let w0 = max(j * S - PAD, 0), w1 = min(j * S - PAD + K, W)
                        var s: Float = 0
                        for h in h0..<h1 { for w in w0..<w1 { s += src[h * W + w] } }
                        dst[i * OW + j] = s * scale
                    }
                }
            }
        } }
        if mode == .training { inputShape = x.shape }
        return y
    }

    /// Spreads each `dy` element uniformly (`/K²`) over its window.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let s = inputShape else { preconditionFailure("AvgPool2d: backward without a training-mode forward") }
        let (H, W) = (s[2], s[3]), (OH, OW) = outputSize(s)
        precondition(dOut.shape == [s[0], s[1], OH, OW], "AvgPool2d: dOut \(dOut.shape) for input \(s)")
        let K = kernelSize, S = stride, PAD = padding, scale = 1 / Float(K * K)
        var dx = Tensor(zeros: s)
        dx.withMutableBuffer { dxb in dOut.withBuffer { db in
            for plane in 0..<(s[0] * s[1]) {
                let dst = dxb.baseAddress! + plane * H * W, src = db.baseAddress! + plane * OH * OW
                for i in 0..<OH {
                    let h0 = max(i * S - PAD, 0), h1 = min(i * S - PAD + K, H)
                    for j in 0..<OW {
                        let w0 = max(j * S - PAD, 0), w1 = min(j * S - PAD + K, W)
                        let g = src[i * OW + j] * scale
                        for h in h0..<h1 { for w in w0..<w1 { dst[h * W + w] += g } }
                    }
                }
            }
        } }
        return dx
    }
}

/// Adaptive average pooling to a fixed output size (PyTorch `nn.AdaptiveAvgPool2d((OH, OW))`).
///
/// ```
/// x: [N, C, H, W]  →  y: [N, C, OH, OW]
/// rows of output i: [floor(i·H/OH), ceil((i+1)·H/OH))   (columns likewise)
/// y[n, c, i, j] = mean of x over that window;   dx spreads dy / (window size) over it
/// ```
/// `AdaptiveAvgPool2d(outputSize: 1)` is the global average pool of ResNet, DenseNet and EfficientNet
/// (`[N, C, H, W] → [N, C, 1, 1]`).
/// References: https://pytorch.org/docs/stable/generated/torch.nn.AdaptiveAvgPool2d.html
public final class AdaptiveAvgPool2d: Layer {
    /// Output height and width.
    public let outputHeight: Int, outputWidth: Int
    private var inputShape: [Int]?

    /// Creates a pool with output `outputSize × outputSize`.
    public convenience init(outputSize: Int) { self.init(outputHeight: outputSize, outputWidth: outputSize) }

    /// Creates a pool with output `outputHeight × outputWidth`.
    public init(outputHeight: Int, outputWidth: Int) {
        precondition(outputHeight > 0 && outputWidth > 0, "AdaptiveAvgPool2d: output size must be positive")
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
    }

    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }

    private static func window(_ i: Int, _ out: Int, _ size: Int) -> Range<Int> {
        (i * size / out)..<(((i + 1) * size + out - 1) / out)
    }

    /// `[N, C, H, W] → [N, C, OH, OW]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4, "AdaptiveAvgPool2d: expected [N, C, H, W], got \(x.shape)")
        let (H, W, OH, OW) = (x.shape[2], x.shape[3], outputHeight, outputWidth)
        var y = Tensor(zeros: [x.shape[0], x.shape[1], OH, OW])
        x.withBuffer { xb in y.withMutableBuffer { yb in
            for plane in 0..<(x.shape[0] * x.shape[1]) {
                let src = xb.baseAddress! + plane * H * W, dst = yb.baseAddress! + plane * OH * OW
                for i in 0..<OH {
                    let rows = Self.window(i, OH, H)
                    for j in 0..<OW {
                        let cols = Self.window(j, OW, W)
                        var s: Float = 0
                        for h in rows { for w in cols { s += src[h * W + w] } }
                        dst[i * OW + j] = s / Float(rows.count * cols.count)
                    }
                }
            }
        } }
        if mode == .training { inputShape = x.shape }
        return y
    }

    /// Spreads each `dy` element uniformly over its window.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let s = inputShape else { preconditionFailure("AdaptiveAvgPool2d: backward without a training-mode forward") }
        let (H, W, OH, OW) = (s[2], s[3], outputHeight, outputWidth)
        precondition(dOut.count == s[0] * s[1] * OH * OW, "AdaptiveAvgPool2d: dOut \(dOut.shape) for input \(s)")
        var dx = Tensor(zeros: s)
        dx.withMutableBuffer { dxb in dOut.withBuffer { db in
            for plane in 0..<(s[0] * s[1]) {
                let dst = dxb.baseAddress! + plane * H * W, src = db.baseAddress! + plane * OH * OW
                for i in 0..<OH {
                    let rows = Self.window(i, OH, H)
                    for j in 0..<OW {
                        let cols = Self.window(j, OW, W)
                        let g = src[i * OW + j] / Float(rows.count * cols.count)
                        for h in rows { for w in cols { dst[h * W + w] += g } }
                    }
                }
            }
        } }
        return dx
    }
}
