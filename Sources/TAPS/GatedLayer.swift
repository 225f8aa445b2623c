// TAPS: the gated reparameterisation of one weighted layer (Wallingford et al., CVPR 2022, §3).
import TapsNN
import TapsTensor

/// How a gate behaves in the three modes the engine trains (docs/method.md "Several tasks").
public enum GateBehaviour: Sendable, Equatable {
    /// `g = 1[s >= tau]` with a learned score and a straight-through gradient (TAPS).
    case learned
    /// `g = 1` always; the delta always trains and the score is not used (full fine-tuning).
    case alwaysOn
    /// `g = 0` always; the delta never trains (linear probe).
    case alwaysOff
}

/// A TAPS-gated weighted layer: wraps a `Linear` or `Conv2d` whose own weight is the frozen, shared
/// base weight `w0`, and adds a task-specific delta `dw` (same shape, zero-initialised) and a scalar
/// score `s`:
///
/// ```
/// g = 1[s >= tau]
/// w = w0 + g * dw                                  (forward)
/// dL/d(dw) = g * G,   dL/ds = sum(G ⊙ dw)          (backward, straight-through; G = dL/dw)
/// ```
///
/// `w0` never receives a gradient. A switched-off layer whose delta is non-zero still computes `G` so
/// its score can switch it back on; only a layer whose delta is exactly zero skips that GEMM
/// (docs/method.md "The gated layer"). The sparsity penalty's gradient is added by ``SparsityPenalty``, not here.
///
/// References: Wallingford et al., "Task Adaptive Parameter Sharing for Multi-Task Learning", CVPR 2022,
/// Eq. 1–3; Bengio et al. 2013 for the straight-through estimator.
public final class GatedLayer: Layer {
    /// Module name of the wrapped layer, e.g. `conv_layers.3` or `layer1.0.conv1`.
    public let name: String
    /// The wrapped layer; its `weight` is `w0` (frozen: `requiresGrad == false`).
    public let base: any WeightedLayer
    /// Task-specific delta `dw`, shape of `w0`; state_dict key `<name>.weight_delta`.
    public let delta: Parameter
    /// Task-specific score `s`, shape `[1]`; state_dict key `<name>.score`.
    public let score: Parameter
    /// Threshold: the layer is active when `score >= tau`.
    public var tau: Float
    /// Gate behaviour for the current mode.
    public var behaviour: GateBehaviour
    /// Fully joint training only (our extension, docs/method.md "Several tasks"): `w0` is shared by every task and trains
    /// too. When set, backward always computes `G` and accumulates `dL/dw0 = G` into `base.weight.grad`
    /// (whether or not `w0` itself requires grad: the joint trainer sums the tasks' copies). Default `false`:
    /// `w0` is frozen, as in the paper.
    public var trainsBase = false

    private struct Cache {
        var effectiveWeight: Tensor
        var gate: Bool
    }
    private var cache: Cache?

    /// Wraps `base`, freezing its weight.
    /// - Parameters:
    ///   - name: module name (the weight's state_dict key without `.weight`).
    ///   - initialScore: starting score `s` (default 0.15, above the default tau 0.1, so the gate starts on).
    public init(name: String, wrapping base: any WeightedLayer, tau: Float = 0.1, initialScore: Float = 0.15,
                behaviour: GateBehaviour = .learned) {
        self.name = name
        self.base = base
        self.tau = tau
        self.behaviour = behaviour
        base.weight.requiresGrad = false
        delta = Parameter("\(name).weight_delta", Tensor(zeros: base.weight.value.shape),
                          requiresGrad: behaviour != .alwaysOff)
        score = Parameter("\(name).score", Tensor(shape: [1], storage: [initialScore]),
                          requiresGrad: behaviour == .learned)
    }

    /// The current gate `g` (`1[s >= tau]` for learned gates).
    public var isActive: Bool {
        switch behaviour {
        case .learned: return score.value.storage[0] >= tau
        case .alwaysOn: return true
        case .alwaysOff: return false
        }
    }

    /// Whether the layer with threshold `threshold` would be active (for "what if tau were ..." views).
    public func isActive(threshold: Float) -> Bool { score.value.storage[0] >= threshold }

    /// Number of elements of `w0` (= size of the delta a task stores when this layer is active).
    public var weightCount: Int { base.weight.count }

    /// The weight the layer computes with now: `w0 + g * dw`.
    public var effectiveWeight: Tensor {
        isActive ? base.weight.value + delta.value : base.weight.value
    }

    /// Forward through the wrapped layer with `w = w0 + g * dw`. Input/output shapes are the wrapped layer's.
    /// The composed weight is written into a buffer kept across steps (no allocation once warm).
    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        let gate = isActive
        let w: Tensor
        if gate {
            var composed = cache?.effectiveWeight ?? composedSpare ?? Tensor(shape: base.weight.value.shape) { _ in }
            cache = nil; composedSpare = nil   // unique storage: composed in place, no copy-on-write
            if composed.shape != base.weight.value.shape { composed = Tensor(shape: base.weight.value.shape) { _ in } }
            composeWeight(into: &composed)
            w = composed
        } else {
            if let c = cache?.effectiveWeight, c.shape == base.weight.value.shape, cache?.gate == true { composedSpare = c }
            w = base.weight.value
        }
        if mode == .training { cache = Cache(effectiveWeight: w, gate: gate) }
        else if gate { composedSpare = w }
        return base.forward(x, weight: w, mode: mode)
    }

    /// A composed-weight buffer kept while the cache holds `w0` (gate off) or after an inference forward.
    private var composedSpare: Tensor?

    /// `w = w0 + dw`, in parallel over fixed ranges.
    private func composeWeight(into w: inout Tensor) {
        base.weight.value.withBuffer { w0b in delta.value.withBuffer { db in w.withMutableBuffer { wb in
            nonisolated(unsafe) let w0 = w0b.baseAddress, d = db.baseAddress, out = wb.baseAddress
            Parallel.forRanges(wb.count, grain: Parallel.elementwiseGrain) { r in
                let w0 = w0!, d = d!, out = out!
                for i in r { out[i] = w0[i] + d[i] }
            }
        } } }
    }

    /// Backward: returns `dL/dx`; accumulates `g * G` into `delta.grad`, `<G, dw>` into `score.grad`
    /// (straight-through) and the bias gradient (if the bias trains) inside the wrapped layer.
    /// The delta-gradient accumulation and the score's dot product share one pass over `G`.
    public func backward(_ dOut: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("GatedLayer \(name): backward without a training forward") }
        let deltaTrains = delta.requiresGrad && cache.gate
        let scoreTrains = score.requiresGrad && delta.value.hasNonZero   // = maxAbs() != 0, early exit
        let (dx, g) = base.backward(dOut, weight: cache.effectiveWeight,
                                    needWeightGradient: deltaTrains || scoreTrains || trainsBase)
        if let g {
            if trainsBase { base.weight.grad.add(g) }
            switch (deltaTrains, scoreTrains) {
            case (true, true): score.grad.storage[0] += Float(accumulateAndDot(g))
            case (true, false): delta.grad.add(g)
            case (false, true): score.grad.storage[0] += Float(g.dot(delta.value))
            case (false, false): break
            }
        }
        return dx
    }

    /// `delta.grad += G` and returns `<G, dw>` in one pass. The dot product has the block structure of
    /// ``Tensor/dot(_:)`` (eight-lane Float partials per block of 1024, blocks summed in Double in order), so it
    /// returns the same bits; blocks are spread over the workers and their partials summed in order.
    private func accumulateAndDot(_ g: Tensor) -> Double {
        let n = g.count, blocks = (n + 1023) / 1024
        precondition(delta.grad.count == n && delta.value.count == n, "GatedLayer \(name): gradient shape")
        return Workspace.withScratch(2 * blocks) { partialsRaw in
            let partials = UnsafeMutableRawPointer(partialsRaw).bindMemory(to: Double.self, capacity: blocks)
            nonisolated(unsafe) let pp = partials
            g.withBuffer { gb in delta.value.withBuffer { db in delta.grad.withMutableBuffer { ab in
                nonisolated(unsafe) let gp = gb.baseAddress!, dp = db.baseAddress!, ap = ab.baseAddress!
                let blocksPerItem = 16
                Parallel.forEach((blocks + blocksPerItem - 1) / blocksPerItem) { item, _ in
                    for blk in (item * blocksPerItem)..<min(blocks, (item + 1) * blocksPerItem) {
                        var i = blk * 1024
                        let end = min(i + 1024, n)
                        var acc = SIMD8<Float>()
                        while i + 8 <= end {
                            let gv = UnsafeRawPointer(gp + i).loadUnaligned(as: SIMD8<Float>.self)
                            acc += gv * UnsafeRawPointer(dp + i).loadUnaligned(as: SIMD8<Float>.self)
                            let av = UnsafeRawPointer(ap + i).loadUnaligned(as: SIMD8<Float>.self) + gv
                            UnsafeMutableRawPointer(ap + i).storeBytes(of: av, as: SIMD8<Float>.self)
                            i += 8
                        }
                        var tail: Float = 0
                        while i < end { tail += gp[i] * dp[i]; ap[i] += gp[i]; i += 1 }
                        pp[blk] = Double(acc.sum() + tail)
                    }
                }
            } } }
            var total = 0.0
            for b in 0..<blocks { total += partials[b] }
            return total
        }
    }

    /// Delta, score, then the wrapped layer's parameters (`w0`, frozen, and the bias).
    public var parameters: [Parameter] { base.parameters + [delta, score] }
}

extension GatedLayer: InputGradientOptional {
    /// The wrapped layer's switch (``InputGradientOptional``); always true for a layer that has none.
    public var computesInputGradient: Bool {
        get { (base as? any InputGradientOptional)?.computesInputGradient ?? true }
        set { (base as? any InputGradientOptional)?.computesInputGradient = newValue }
    }
}
