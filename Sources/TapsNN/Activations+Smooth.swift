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
        var y = x
        y.withMutableBuffer { yp in
            for i in 0..<yp.count {
                let v = yp[i]
                yp[i] = v < 0 ? 0 : (v > 6 ? 6 : v)
            }
        }
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// `dx = dy · 1[0 < x < 6]`.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let x = cache?.input else { preconditionFailure("ReLU6: backward without a training-mode forward") }
        precondition(dOut.count == x.count, "ReLU6: dOut \(dOut.shape) vs input \(x.shape)")
        var dx = dOut
        dx.withMutableBuffer { dp in
            x.withBuffer { xp in
                for i in 0..<dp.count {
                    let keep: UInt32 = (xp[i] > 0) && (xp[i] < 6) ? 0xFFFF_FFFF : 0
                    dp[i] = Float(bitPattern: dp[i].bitPattern & keep)
                }
            }
        }
        return dx
    }
}

/// Gaussian error linear unit, exact erf form (PyTorch `nn.GELU()` with `approximate='none'`).
///
/// ```
/// y  = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))
/// dx = dy · (Φ(x) + x · φ(x)),   φ(x) = exp(-x²/2) / √(2π)          (any shape)
/// ```
/// Computed in Float with libm `erff`/`expf`.
/// References: https://pytorch.org/docs/stable/generated/torch.nn.GELU.html; Hendrycks & Gimpel 2016.
public final class GELU: Layer {
    private struct Cache { var input: Tensor }
    private var cache: Cache?

    /// Creates a GELU (no parameters).
    public init() {}

    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }

    /// `y = 0.5 · x · (1 + erf(x/√2))`, same shape as `x`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        var y = x
        let r = Float(0.5).squareRoot()
        y.withMutableBuffer { yp in
            for i in 0..<yp.count { let v = yp[i]; yp[i] = 0.5 * v * (1 + erff(v * r)) }
        }
        if mode == .training { cache = Cache(input: x) }
        return y
    }

    /// `dx = dy · (Φ(x) + x·φ(x))`.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let x = cache?.input else { preconditionFailure("GELU: backward without a training-mode forward") }
        precondition(dOut.count == x.count, "GELU: dOut \(dOut.shape) vs input \(x.shape)")
        var dx = dOut
        let r = Float(0.5).squareRoot(), c = 1 / Float(2 * Double.pi).squareRoot()
        dx.withMutableBuffer { dp in
            x.withBuffer { xp in
                for i in 0..<dp.count {
                    let v = xp[i]
                    let cdf = 0.5 * (1 + erff(v * r)), pdf = c * expf(-0.5 * v * v)
                    dp[i] *= cdf + v * pdf
                }
            }
        }
        return dx
    }
}
