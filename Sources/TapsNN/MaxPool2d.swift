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
    /// Window side `K`, step between windows, and implicit `-inf` padding on each side.
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

    /// None: this layer has no parameters.
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
        let hasNaN = x.withBuffer(containsNaN)
        // Planes in parallel (each worker writes its own planes of y and of the indices).
        let grain = max(1, Parallel.elementwiseGrain / max(H * W, 1))
        x.withBuffer { xb in y.withMutableBuffer { yb in indices.withUnsafeMutableBufferPointer { ib in
            nonisolated(unsafe) let xp = xb.baseAddress, yp = yb.baseAddress, ip = ib.baseAddress
            Parallel.forRanges(N * C, grain: grain) { planes in for plane in planes {
                let src = xp! + plane * H * W
                let dst = yp! + plane * OH * OW
                if K == 2 && S == 2 && PAD == 0 && !hasNaN {
                    pool2x2(src, W, dst, OH, OW, keep ? ip! + plane * OH * OW : nil)
                    continue
                }
                for i in 0..<OH {
                    let h0 = max(i * S - PAD, 0), h1 = min(i * S - PAD + K, H)
                    for j in 0..<OW {
                        let w0 = max(j * S - PAD, 0), w1 = min(j * S - PAD + K, W)
                        var best = -Float.infinity, arg = h0 * W + w0
                        if hasNaN {
                            // Reference semantics: first maximum wins, NaN wins and stops the scan.
                            scan: for h in h0..<h1 {
                                for w in w0..<w1 {
                                    let v = src[h * W + w]
                                    if v > best || v.isNaN { best = v; arg = h * W + w; if v.isNaN { break scan } }
                                }
                            }
                        } else {
                            // Branch-free select via an integer mask: a data-dependent branch here is
                            // mispredicted half the time on real activations (was 35 ns per output).
                            for h in h0..<h1 {
                                for w in w0..<w1 {
                                    let v = src[h * W + w]
                                    let mask = 0 &- Int(truncatingIfNeeded: (v > best).asInt)
                                    arg = (arg & ~mask) | ((h * W + w) & mask)
                                    best = Swift.max(v, best)
                                }
                            }
                        }
                        dst[i * OW + j] = best
                        if keep { ip![plane * OH * OW + i * OW + j] = Int32(arg) }
                    }
                }
            } }
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
        // Planes in parallel: every index of a plane points into that plane.
        dx.withMutableBuffer { dxb in dOut.withBuffer { db in cache.indices.withUnsafeBufferPointer { ib in
            nonisolated(unsafe) let dxp = dxb.baseAddress, dp = db.baseAddress, ip = ib.baseAddress
            Parallel.forRanges(planes, grain: max(1, Parallel.elementwiseGrain / max(HW, 1))) { range in
                for plane in range {
                    let d = dxp! + plane * HW
                    for k in 0..<P { d[Int(ip![plane * P + k])] += dp![plane * P + k] }
                }
            }
        } } }
        return dx
    }
}

extension Bool {
    /// 1 for true, 0 for false (compiles to `setcc`, no branch).
    @inline(__always) fileprivate var asInt: Int { self ? 1 : 0 }
}

/// Whether `x` holds a NaN (integer OR-reduction over the bit patterns, so it vectorises).
private func containsNaN(_ x: UnsafeBufferPointer<Float>) -> Bool {
    var any: UInt32 = 0
    for v in x { any |= (v.bitPattern & 0x7FFF_FFFF) > 0x7F80_0000 ? 1 : 0 }
    return any != 0
}

/// Kernel 2, stride 2, no padding, no NaN: the windows are independent, so the compiler overlaps them.
/// Same tie rule as the general path (first maximum in row-major window order).
@inline(__always)
private func pool2x2(_ src: UnsafePointer<Float>, _ W: Int, _ dst: UnsafeMutablePointer<Float>, _ OH: Int, _ OW: Int,
                     _ indices: UnsafeMutablePointer<Int32>?) {
    for i in 0..<OH {
        let r0 = src + 2 * i * W, r1 = r0 + W
        for j in 0..<OW {
            let a = r0[2 * j], b = r0[2 * j + 1], c = r1[2 * j], d = r1[2 * j + 1]
            // Pairwise maxima with first-wins ties: top row, bottom row, then top vs bottom.
            let topRight = b > a, bottomRight = d > c
            let top = topRight ? b : a, bottom = bottomRight ? d : c
            let lower = bottom > top
            dst[i * OW + j] = lower ? bottom : top
            if let indices {
                let col = 2 * j + (lower ? bottomRight.asInt : topRight.asInt)
                indices[i * OW + j] = Int32(truncatingIfNeeded: (2 * i + lower.asInt) * W + col)
            }
        }
    }
}
