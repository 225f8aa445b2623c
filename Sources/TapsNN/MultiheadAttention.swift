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

    /// The input projection's output `[N, S, 3E]` and the attention probabilities `[N, Hd, S, S]` of the last training forward.
    private struct Cache { var qkv: Tensor, attention: Tensor }
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
    ///
    /// The heads are read in place from the input projection's output `qkv: [N, S, 3E]` (head `h` of q is the
    /// `[S, Dh]` block at column `h·Dh`, row stride `3E`) and each head's output is written straight into its
    /// columns of `o: [N, S, E]`: the GEMMs take the strides, so nothing is gathered or scattered.
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == embedDim, "MultiheadAttention \(name): expected [N, S, \(embedDim)], got \(x.shape)")
        let N = x.shape[0], S = x.shape[1], E = embedDim, Hd = heads, Dh = E / Hd
        let qkv = inProjection.forward(x, mode: mode)
        let scale = 1 / Float(Dh).squareRoot()
        // Every element of both is written below (GEMMs with beta 0, the heads' columns tile `o`).
        var attention = Tensor(shape: [N, Hd, S, S]) { _ in }
        let o = qkv.withBuffer { qb in attention.withMutableBuffer { ab in Tensor(shape: [N, S, E]) { ob in
            nonisolated(unsafe) let qa = qb.baseAddress!, aa = ab.baseAddress!, oa = ob.baseAddress!
            // One (image, head) per work item; each writes its own attention block and output columns.
            Parallel.forEach(N * Hd) { nh, _ in
                let n = nh / Hd, h = nh % Hd
                let qp = qa + n * S * 3 * E + h * Dh, kp = qp + E, vp = qp + 2 * E, ap = aa + nh * S * S
                gemm(.none, .transposed, m: S, n: S, k: Dh, alpha: scale, qp, lda: 3 * E, kp, ldb: 3 * E, ap, ldc: S)
                VectorMath.softmaxRows(ap, rows: S, columns: S)
                gemm(.none, .none, m: S, n: Dh, k: S, ap, lda: S, vp, ldb: 3 * E, oa + n * S * E + h * Dh, ldc: E)
            }
        } } }
        if mode == .training { cache = Cache(qkv: qkv, attention: attention) }
        return outProjection.forward(o, mode: mode)
    }

    /// Returns `dL/dx` `[N, S, E]`; the projections accumulate their parameter gradients.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("MultiheadAttention \(name): backward without a training-mode forward") }
        let N = cache.qkv.shape[0], S = cache.qkv.shape[1], E = embedDim, Hd = heads, Dh = E / Hd
        let dO = outProjection.backward(dOut)
        precondition(dO.shape == [N, S, E], "MultiheadAttention \(name): dOut \(dOut.shape)")
        let scale = 1 / Float(Dh).squareRoot()
        let workers = Parallel.workers(for: N * Hd)
        // dq, dk, dv go straight into their columns of dQKV [N, S, 3E] (every element written, beta 0).
        let dQKV = dO.withBuffer { dob in cache.qkv.withBuffer { qb in cache.attention.withBuffer { ab in
            Tensor(shape: [N, S, 3 * E]) { db in
                Workspace.withScratch(workers * S * S) { scratch in
                    nonisolated(unsafe) let doa = dob.baseAddress!, qa = qb.baseAddress!, aa = ab.baseAddress!
                    nonisolated(unsafe) let da0 = db.baseAddress!, sa = scratch
                    // One (image, head) per work item: disjoint dq, dk, dv columns, per-worker dA scratch.
                    Parallel.forEach(N * Hd) { nh, worker in
                        let n = nh / Hd, h = nh % Hd, da = sa + worker * S * S
                        let qp = qa + n * S * 3 * E + h * Dh, kp = qp + E, vp = qp + 2 * E
                        let dqp = da0 + n * S * 3 * E + h * Dh, dkp = dqp + E, dvp = dqp + 2 * E
                        let dh = doa + n * S * E + h * Dh, ap = aa + nh * S * S
                        gemm(.none, .transposed, m: S, n: S, k: Dh, dh, lda: E, vp, ldb: 3 * E, da, ldc: S)
                        gemm(.transposed, .none, m: S, n: Dh, k: S, ap, lda: S, dh, ldb: E, dvp, ldc: 3 * E)
                        for r in 0..<S {   // softmax backward, in place: dZ = A ⊙ (dA − Σ dA⊙A)
                            let a = ap + r * S, g = da + r * S
                            var dot: Float = 0
                            for c in 0..<S { dot += a[c] * g[c] }
                            for c in 0..<S { g[c] = a[c] * (g[c] - dot) }
                        }
                        gemm(.none, .none, m: S, n: Dh, k: S, alpha: scale, da, lda: S, kp, ldb: 3 * E, dqp, ldc: 3 * E)
                        gemm(.transposed, .none, m: S, n: Dh, k: S, alpha: scale, da, lda: S, qp, ldb: 3 * E, dkp, ldc: 3 * E)
                    }
                }
            }
        } } }
        return inProjection.backward(dQKV)
    }
}

// MARK: - Kernels
