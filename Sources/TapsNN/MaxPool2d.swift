// TapsNN: 2-D max pooling. Notation inside kernels: N batch, C channels, H W input, OH OW output, K kernel.
import TapsTensor

/// 2-D max pooling over NCHW images (PyTorch `nn.MaxPool2d`, `ceil_mode = False`, dilation 1).
///
/// ```
/// x: [N, C, H, W]  →  y: [N, C, OH, OW],   OH = floor((H + 2*padding - K) / stride) + 1
/// y[n, c, i, j] = max_{kh, kw < K} x[n, c, i*stride + kh - padding, j*stride + kw - padding]
/// dx[argmax] += dy[n, c, i, j]      (padding counts as -inf and is never selected)
/// ```
///
/// The argmax of each window is cached in training mode (flat index within the `H*W` plane). Ties pick
/// the first maximum in row-major window order and NaN wins, as PyTorch's CPU kernel does.
/// Example: `MaxPool2d(kernelSize: 2)` maps `[32, 32, 28, 28]` to `[32, 32, 14, 14]`, and 7×7 to 3×3.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
public final class MaxPool2d: Layer {
    public let kernelSize: Int, stride: Int, padding: Int

    private struct Cache { var inputShape: [Int]; var indices: [Int32] }
    private var cache: Cache?

    /// Creates a pooling layer; `stride` defaults to `kernelSize` (PyTorch default). Requires
    /// `padding <= kernelSize / 2` (as PyTorch).
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        precondition(kernelSize > 0 && (stride ?? 1) > 0 && padding >= 0 && padding <= kernelSize / 2,
                     "MaxPool2d: bad geometry kernel \(kernelSize) stride \(String(describing: stride)) padding \(padding)")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
    }

    public var parameters: [Parameter] { [] }

    /// `[N, C, H, W] → [N, C, OH, OW]` (window maxima).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 4, "MaxPool2d: expected [N, C, H, W], got \(x.shape)")
        let (N, C, H, W) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let K = kernelSize, S = stride, PAD = padding
        let OH = (H + 2 * PAD - K) / S + 1, OW = (W + 2 * PAD - K) / S + 1
        precondition(OH > 0 && OW > 0, "MaxPool2d: input \(x.shape) smaller than kernel \(K)")
        var y = Tensor(zeros: [N, C, OH, OW])
        let keep = mode == .training
        var indices = [Int32](repeating: 0, count: keep ? y.count : 0)
        x.withBuffer { xb in y.withMutableBuffer { yb in indices.withUnsafeMutableBufferPointer { ib in
            for plane in 0..<(N * C) {
                let src = xb.baseAddress! + plane * H * W
                let dst = yb.baseAddress! + plane * OH * OW
                for i in 0..<OH {
                    let h0 = max(i * S - PAD, 0), h1 = min(i * S - PAD + K, H)
                    for j in 0..<OW {
                        let w0 = max(j * S - PAD, 0), w1 = min(j * S - PAD + K, W)
                        var best = -Float.infinity, arg = h0 * W + w0
                        for h in h0..<h1 {
                            for w in w0..<w1 {
                                let v = src[h * W + w]
                                if v > best || v.isNaN { best = v; arg = h * W + w; if v.isNaN { break } }
                            }
                            if best.isNaN { break }
                        }
                        dst[i * OW + j] = best
                        if keep { ib[plane * OH * OW + i * OW + j] = Int32(arg) }
                    }
                }
            }
        } } }
        if keep { cache = Cache(inputShape: x.shape, indices: indices) }
        return y
    }

    /// Routes each `dy` element to the argmax of its window (summing where windows overlap).
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("MaxPool2d: backward without a training-mode forward") }
        let s = cache.inputShape
        let planes = s[0] * s[1], HW = s[2] * s[3], P = dOut.count / max(planes, 1)
        precondition(dOut.count == cache.indices.count, "MaxPool2d: dOut \(dOut.shape) does not match the forward")
        var dx = Tensor(zeros: s)
        dx.withMutableBuffer { dxb in dOut.withBuffer { db in cache.indices.withUnsafeBufferPointer { ib in
            for plane in 0..<planes {
                let d = dxb.baseAddress! + plane * HW
                for k in 0..<P { d[Int(ib[plane * P + k])] += db[plane * P + k] }
            }
        } } }
        return dx
    }
}
