// TapsNN: activations of the ImageNet architectures: ReLU6 (EfficientNet-Lite, MobileNet) and exact GELU (ViT).
import Foundation
import TapsTensor

/// ReLU clipped at 6, elementwise (PyTorch `nn.ReLU6`).
///
/// ```
/// y = min(max(x, 0), 6)            dx = dy · 1[0 < x < 6]        (any shape)
/// ```
/// The derivative at exactly 0 and 6 is 0, as PyTorch's `hardtanh_backward` (open interval).
/// References: https://pytorch.org/docs/stable/generated/torch.nn.ReLU6.html
public final class ReLU6: Layer {
    private struct Cache { var input: Tensor }
    private var cache: Cache?

    /// Creates a ReLU6 (no parameters).
    public init() {}

    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }

    /// `y = min(max(x, 0), 6)`, same shape as `x` (NaN propagates).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        // One pass from x into a fresh output (a `var y = x` copy-on-write would copy first).
        let y = x.withBuffer { xp in Tensor(shape: x.shape) { yp in
            for i in 0..<yp.count {
                let v = xp[i]
                yp[i] = v < 0 ? 0 : (v > 6 ? 6 : v)
            }
        } }
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// `dx = dy · 1[0 < x < 6]`.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let x = cache?.input else { preconditionFailure("ReLU6: backward without a training-mode forward") }
        precondition(dOut.count == x.count, "ReLU6: dOut \(dOut.shape) vs input \(x.shape)")
        return dOut.withBuffer { gp in x.withBuffer { xp in Tensor(shape: dOut.shape) { dp in
            for i in 0..<dp.count {
                let keep: UInt32 = (xp[i] > 0) && (xp[i] < 6) ? 0xFFFF_FFFF : 0
                dp[i] = Float(bitPattern: gp[i].bitPattern & keep)
            }
        } } }
    }
}

/// Gaussian error linear unit, exact erf form (PyTorch `nn.GELU()` with `approximate='none'`).
///
/// ```
/// y  = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))
/// dx = dy · (Φ(x) + x · φ(x)),   φ(x) = exp(-x²/2) / √(2π)          (any shape)
/// ```
/// Computed in Float by ``VectorMath`` (erf and exp within 1 ulp of libm `erff`/`expf`, eight lanes at a time).
/// References: https://pytorch.org/docs/stable/generated/torch.nn.GELU.html; Hendrycks & Gimpel 2016.
public final class GELU: Layer {
    /// The input and `erf(x/√2)` of the last training forward (backward reuses it instead of calling erff again).
    private struct Cache { var input: Tensor; var erf: Tensor }
    private var cache: Cache?

    /// Creates a GELU (no parameters).
    public init() {}

    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }

    /// `y = 0.5 · x · (1 + erf(x/√2))`, same shape as `x`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var e: Tensor? = mode == .training ? Tensor(shape: x.shape) { _ in } : nil
        let y = x.withBuffer { xb in Tensor(shape: x.shape) { yb in
            nonisolated(unsafe) let xp = xb.baseAddress, yp = yb.baseAddress
            func run(_ ep: UnsafeMutablePointer<Float>?) {
                nonisolated(unsafe) let ep = ep
                Parallel.forRanges(yb.count, grain: Self.grain) { range in
                    let lo = range.lowerBound
                    VectorMath.geluForward(xp! + lo, erf: ep.map { $0 + lo }, yp! + lo, count: range.count)
                }
            }
            if e == nil { run(nil) } else { e!.withMutableBuffer { eb in run(eb.baseAddress) } }
        } }
        if let e { cache = Cache(input: x, erf: e) }
        return y
    }

    /// Elements per parallel work item (a multiple of the vector width; 16 Ki elements ≈ 20 µs).
    static let grain = 1 << 14

    /// `dx = dy · (Φ(x) + x·φ(x))`.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let x = cache?.input, let e = cache?.erf else {
            preconditionFailure("GELU: backward without a training-mode forward")
        }
        precondition(dOut.count == x.count, "GELU: dOut \(dOut.shape) vs input \(x.shape)")
        return dOut.withBuffer { gb in x.withBuffer { xb in e.withBuffer { eb in Tensor(shape: dOut.shape) { db in
            nonisolated(unsafe) let gp = gb.baseAddress, xp = xb.baseAddress, ep = eb.baseAddress, dp = db.baseAddress
            Parallel.forRanges(db.count, grain: Self.grain) { range in
                let lo = range.lowerBound
                VectorMath.geluBackward(gp! + lo, xp! + lo, erf: ep! + lo, dp! + lo, count: range.count)
            }
        } } } }
    }
}
