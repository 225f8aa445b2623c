// TapsNN: multi-head self-attention with a packed qkv projection (PyTorch `nn.MultiheadAttention`,
// batch_first, as torchvision's ViT calls it: `self_attention(x, x, x, need_weights=False)`).
// Notation inside kernels: N batch, S sequence length, E embedding width, Hd heads, Dh = E/Hd head width.
import Foundation
import TapsTensor

/// Multi-head self-attention over `[N, S, E]` sequences with a packed input projection.
///
/// ```
/// qkv = x · W_inᵀ + b_in                       W_in: [3E, E] (`in_proj_weight`), b_in: [3E] (`in_proj_bias`)
/// q, k, v = qkv[..., 0:E], qkv[..., E:2E], qkv[..., 2E:3E], each split into Hd heads of width Dh = E/Hd
/// A_h = softmax(q_h · k_hᵀ / sqrt(Dh))          [N, Hd, S, S], softmax over the last axis
/// o = concat_h(A_h · v_h)                       [N, S, E]
/// y = o · W_outᵀ + b_out                        W_out: [E, E] (`out_proj.weight`), b_out: [E]
/// backward per head: dA = dO·vᵀ,  dv = Aᵀ·dO,  dZ = A ⊙ (dA − rowsum(dA ⊙ A)),  dq = dZ·k/√Dh,  dk = dZᵀ·q/√Dh
/// ```
/// Both projections are ``Linear`` children reachable through ``mapChildren(_:)``, so TAPS gates them:
/// the packed one has module name `<name>.in_proj` and state_dict keys `<name>.in_proj_weight` and
/// `<name>.in_proj_bias`; the output one is `<name>.out_proj`. No attention dropout (torchvision ViT's default).
/// Initialisation as PyTorch: `in_proj_weight` Xavier-uniform, `out_proj.weight` `U(±1/sqrt(E))`, biases zero.
///
/// ```swift
/// let attention = MultiheadAttention(name: "encoder.layers.encoder_layer_0.self_attention", embedDim: 192, heads: 3, rng: &rng)
/// let y = attention.forward(Tensor(zeros: [8, 65, 192]), mode: .training)   // [8, 65, 192]
/// ```
/// References: https://pytorch.org/docs/stable/generated/torch.nn.MultiheadAttention.html; Vaswani et al. 2017.
public final class MultiheadAttention: Layer {
    /// Embedding width `E` and number of heads `Hd` (`E % Hd == 0`).
    public let embedDim: Int, heads: Int
    /// Module name, e.g. `encoder.layers.encoder_layer_0.self_attention`.
    public let name: String
    /// The packed projection `E → 3E` (a ``Linear`` or, under TAPS, its gated wrapper).
    public private(set) var inProjection: any Layer
    /// The output projection `E → E`.
    public private(set) var outProjection: any Layer

    private struct Cache { var q: [Float], k: [Float], v: [Float], attention: [Float]; var batch: Int, length: Int }
    private var cache: Cache?

    /// Creates the layer with parameters `<name>.in_proj_weight`, `<name>.in_proj_bias`,
    /// `<name>.out_proj.weight`, `<name>.out_proj.bias` (PyTorch state_dict order).
    public init(name: String, embedDim: Int, heads: Int, rng: inout SeededRNG) {
        precondition(heads > 0 && embedDim % heads == 0, "MultiheadAttention \(name): \(heads) heads must divide \(embedDim)")
        self.name = name; self.embedDim = embedDim; self.heads = heads
        let inProj = Linear(moduleName: "\(name).in_proj", weightName: "\(name).in_proj_weight",
                            biasName: "\(name).in_proj_bias", inFeatures: embedDim, outFeatures: 3 * embedDim, rng: &rng)
        let bound = (6 / Float(embedDim + 3 * embedDim)).squareRoot()
        inProj.weight.value = .uniform([3 * embedDim, embedDim], low: -bound, high: bound, rng: &rng)
        inProj.bias?.value = Tensor(zeros: [3 * embedDim])
        let outProj = Linear(name: "\(name).out_proj", inFeatures: embedDim, outFeatures: embedDim, rng: &rng)
        outProj.bias?.value = Tensor(zeros: [embedDim])
        inProjection = inProj
        outProjection = outProj
    }

    /// In-projection then out-projection parameters.
    public var parameters: [Parameter] { inProjection.parameters + outProjection.parameters }

    /// `[inProjection, outProjection]`.
    public var children: [any Layer] { [inProjection, outProjection] }

    /// Replaces both projections (TAPS wraps them in gates).
    public func mapChildren(_ transform: (any Layer) -> any Layer) {
        inProjection = transform(inProjection)
        outProjection = transform(outProjection)
    }

    /// Self-attention of `x: [N, S, E]`, giving `[N, S, E]`.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == embedDim, "MultiheadAttention \(name): expected [N, S, \(embedDim)], got \(x.shape)")
        let N = x.shape[0], S = x.shape[1], E = embedDim, Hd = heads, Dh = E / Hd
        let qkv = inProjection.forward(x, mode: mode)
        // Gather q, k, v into [N, Hd, S, Dh] blocks so every head is a contiguous matrix.
        var q = [Float](repeating: 0, count: N * S * E), k = q, v = q
        var attention = [Float](repeating: 0, count: N * Hd * S * S)
        var o = Tensor(zeros: [N, S, E])
        let scale = 1 / Float(Dh).squareRoot()
        qkv.withBuffer { src in
            unpackHeads(src.baseAddress!, N: N, S: S, E: E, Hd: Hd, into: &q, &k, &v)
        }
        // One (image, head) per work item; each writes its own attention block and output columns.
        let workers = Parallel.workers(for: N * Hd)
        var heads = [Float](repeating: 0, count: workers * S * Dh)
        q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
            attention.withUnsafeMutableBufferPointer { ab in o.withMutableBuffer { ob in heads.withUnsafeMutableBufferPointer { hb in
                nonisolated(unsafe) let qa = qb.baseAddress!, ka = kb.baseAddress!, va = vb.baseAddress!
                nonisolated(unsafe) let aa = ab.baseAddress!, oa = ob.baseAddress!, ha = hb.baseAddress!
                Parallel.forEach(N * Hd) { nh, worker in
                    let qp = qa + nh * S * Dh, kp = ka + nh * S * Dh
                    let vp = va + nh * S * Dh, ap = aa + nh * S * S, head = ha + worker * S * Dh
                    gemm(.none, .transposed, m: S, n: S, k: Dh, alpha: scale, qp, kp, ap)
                    softmaxRows(ap, rows: S, columns: S)
                    gemm(.none, .none, m: S, n: Dh, k: S, ap, vp, head)
                    let n = nh / Hd, h = nh % Hd
                    for s in 0..<S {
                        (oa + (n * S + s) * E + h * Dh).update(from: head + s * Dh, count: Dh)
                    }
                }
            } } }
        } } }
        if mode == .training { cache = Cache(q: q, k: k, v: v, attention: attention, batch: N, length: S) }
        return outProjection.forward(o, mode: mode)
    }

    /// Returns `dL/dx` `[N, S, E]`; the projections accumulate their parameter gradients.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("MultiheadAttention \(name): backward without a training-mode forward") }
        let N = cache.batch, S = cache.length, E = embedDim, Hd = heads, Dh = E / Hd
        let dO = outProjection.backward(dOut)
        precondition(dO.shape == [N, S, E], "MultiheadAttention \(name): dOut \(dOut.shape)")
        let scale = 1 / Float(Dh).squareRoot()
        var dq = [Float](repeating: 0, count: N * S * E), dk = dq, dv = dq
        let workers = Parallel.workers(for: N * Hd)
        var dHead = [Float](repeating: 0, count: workers * S * Dh), dA = [Float](repeating: 0, count: workers * S * S)
        dO.withBuffer { dob in cache.q.withUnsafeBufferPointer { qb in cache.k.withUnsafeBufferPointer { kb in
            cache.v.withUnsafeBufferPointer { vb in cache.attention.withUnsafeBufferPointer { ab in
                dq.withUnsafeMutableBufferPointer { dqb in dk.withUnsafeMutableBufferPointer { dkb in
                    dv.withUnsafeMutableBufferPointer { dvb in dHead.withUnsafeMutableBufferPointer { hb in
                        dA.withUnsafeMutableBufferPointer { dab in
                            nonisolated(unsafe) let hs = hb.baseAddress!, das = dab.baseAddress!, doa = dob.baseAddress!
                            nonisolated(unsafe) let qa = qb.baseAddress!, ka = kb.baseAddress!, va = vb.baseAddress!
                            nonisolated(unsafe) let aa = ab.baseAddress!, dqa = dqb.baseAddress!, dka = dkb.baseAddress!
                            nonisolated(unsafe) let dva = dvb.baseAddress!
                            // One (image, head) per work item: disjoint dq, dk, dv blocks, per-worker scratch.
                            Parallel.forEach(N * Hd) { nh, worker in
                                let dh = hs + worker * S * Dh, da = das + worker * S * S
                                let n = nh / Hd, h = nh % Hd, off = nh * S * Dh
                                for s in 0..<S {
                                    (dh + s * Dh).update(from: doa + (n * S + s) * E + h * Dh, count: Dh)
                                }
                                let ap = aa + nh * S * S
                                gemm(.none, .transposed, m: S, n: S, k: Dh, dh, va + off, da)
                                gemm(.transposed, .none, m: S, n: Dh, k: S, ap, dh, dva + off)
                                for r in 0..<S {   // softmax backward, in place: dZ = A ⊙ (dA − Σ dA⊙A)
                                    let a = ap + r * S, g = da + r * S
                                    var dot: Float = 0
                                    for c in 0..<S { dot += a[c] * g[c] }
                                    for c in 0..<S { g[c] = a[c] * (g[c] - dot) }
                                }
                                gemm(.none, .none, m: S, n: Dh, k: S, alpha: scale, da, ka + off, dqa + off)
                                gemm(.transposed, .none, m: S, n: Dh, k: S, alpha: scale, da, qa + off, dka + off)
                            }
                        }
                    } }
                } }
            } }
        } } }
        var dQKV = Tensor(zeros: [N, S, 3 * E])
        dQKV.withMutableBuffer { db in packHeads(dq, dk, dv, N: N, S: S, E: E, Hd: Hd, into: db.baseAddress!) }
        return inProjection.backward(dQKV)
    }
}

// MARK: - Kernels

/// `[N, S, 3E]` (q | k | v, heads contiguous within each) → three `[N, Hd, S, Dh]` buffers.
private func unpackHeads(_ src: UnsafePointer<Float>, N: Int, S: Int, E: Int, Hd: Int,
                         into q: inout [Float], _ k: inout [Float], _ v: inout [Float]) {
    let Dh = E / Hd
    q.withUnsafeMutableBufferPointer { qb in k.withUnsafeMutableBufferPointer { kb in v.withUnsafeMutableBufferPointer { vb in
        let dst = [qb.baseAddress!, kb.baseAddress!, vb.baseAddress!]
        for n in 0..<N {
            for s in 0..<S {
                let row = src + (n * S + s) * 3 * E
                for part in 0..<3 {
                    for h in 0..<Hd {
                        (dst[part] + ((n * Hd + h) * S + s) * Dh).update(from: row + part * E + h * Dh, count: Dh)
                    }
                }
            }
        }
    } } }
}

/// Inverse of `unpackHeads`: three `[N, Hd, S, Dh]` buffers → `[N, S, 3E]`.
private func packHeads(_ q: [Float], _ k: [Float], _ v: [Float], N: Int, S: Int, E: Int, Hd: Int,
                       into dst: UnsafeMutablePointer<Float>) {
    let Dh = E / Hd
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
        let src = [qb.baseAddress!, kb.baseAddress!, vb.baseAddress!]
        for n in 0..<N {
            for s in 0..<S {
                let row = dst + (n * S + s) * 3 * E
                for part in 0..<3 {
                    for h in 0..<Hd {
                        (row + part * E + h * Dh).update(from: src[part] + ((n * Hd + h) * S + s) * Dh, count: Dh)
                    }
                }
            }
        }
    } } }
}

/// Numerically stable softmax of each row of a row-major `[rows, columns]` matrix, in place (``VectorMath/softmaxRows(_:rows:columns:)``).
func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
    VectorMath.softmaxRows(p, rows: rows, columns: columns)
}
