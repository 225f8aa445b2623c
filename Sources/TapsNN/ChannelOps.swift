// TapsNN: tensor plumbing used by the block containers: channel concatenation/splitting (DenseNet) and
// the identity layer. Notation: N batch, C channels, P = H*W positions of one channel plane.
import TapsTensor

/// Concatenates NCHW tensors along the channel axis (PyTorch `torch.cat(tensors, dim=1)`).
///
/// ```
/// x_k: [N, C_k, H, W]  →  y: [N, Σ C_k, H, W],   y[n, off_k + c] = x_k[n, c],   off_k = Σ_{j<k} C_j
/// ```
/// Backward is ``splitChannels(_:sizes:)``. Works for any rank ≥ 2 (axis 1, trailing dims flattened).
/// - Precondition: every tensor has the same batch and trailing dimensions.
public func concatenateChannels(_ tensors: [Tensor]) -> Tensor {
    precondition(!tensors.isEmpty && tensors.allSatisfy { $0.rank >= 2 }, "concatenateChannels: need tensors of rank >= 2")
    let first = tensors[0], N = first.shape[0], tail = Array(first.shape.dropFirst(2))
    precondition(tensors.allSatisfy { $0.shape[0] == N && Array($0.shape.dropFirst(2)) == tail },
                 "concatenateChannels: shapes \(tensors.map(\.shape)) differ outside the channel axis")
    let P = tail.reduce(1, *), total = tensors.reduce(0) { $0 + $1.shape[1] }
    var y = Tensor(zeros: [N, total] + tail)
    y.withMutableBuffer { yb in
        var offset = 0
        for t in tensors {
            let C = t.shape[1]
            t.withBuffer { tb in
                for n in 0..<N {
                    (yb.baseAddress! + (n * total + offset) * P).update(from: tb.baseAddress! + n * C * P, count: C * P)
                }
            }
            offset += C
        }
    }
    return y
}

/// Splits an NCHW tensor along the channel axis into consecutive parts of `sizes` channels (the inverse
/// of ``concatenateChannels(_:)``; PyTorch `torch.split(x, sizes, dim=1)`).
/// - Precondition: `sizes` sum to `x.shape[1]`.
public func splitChannels(_ x: Tensor, sizes: [Int]) -> [Tensor] {
    precondition(x.rank >= 2 && sizes.reduce(0, +) == x.shape[1], "splitChannels: sizes \(sizes) for \(x.shape)")
    let N = x.shape[0], total = x.shape[1], tail = Array(x.shape.dropFirst(2)), P = tail.reduce(1, *)
    var offset = 0
    return sizes.map { C in
        var part = Tensor(zeros: [N, C] + tail)
        part.withMutableBuffer { pb in x.withBuffer { xb in
            for n in 0..<N {
                (pb.baseAddress! + n * C * P).update(from: xb.baseAddress! + (n * total + offset) * P, count: C * P)
            }
        } }
        offset += C
        return part
    }
}

/// Passes its input through unchanged (PyTorch `nn.Identity`); stands in for dropout with `p = 0` so module
/// indices keep their torchvision numbering (`mlp.0`, `mlp.3`).
///
/// ```
/// y = x          dx = dy          (any shape)
/// ```
public final class Identity: Layer {
    /// Creates an identity layer (no parameters).
    public init() {}
    /// None: this layer has no parameters.
    public var parameters: [Parameter] { [] }
    /// Returns `x`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { x }
    /// Returns `dOut`.
    public func backward(_ dOut: Tensor) -> Tensor { dOut }
}

/// `Dropout(p:seed:)` when `p > 0`, otherwise ``Identity`` (no mask drawn, no copy).
func dropoutOrIdentity(_ p: Float, rng: inout SeededRNG) -> any Layer {
    p > 0 ? Dropout(p: p, seed: rng.next()) : Identity()
}
