import Testing
import TAPS
import TapsNN
import TapsTensor
import TapsTestSupport

/// The checks of docs/method.md "The gated layer" that concern one gated layer, plus the straight-through rules of §2.
@Suite("Gated layer: forward, straight-through backward, gate threshold")
struct GatedLayerTests {
    /// A gated Linear 5 -> 4 with a non-zero delta, and a fixed input and output projection.
    func fixture(seed: UInt64 = 1) -> (GatedLayer, Tensor, Tensor) {
        var rng = SeededRNG(seed: seed)
        let linear = Linear(name: "fc", inFeatures: 5, outFeatures: 4, bias: true, rng: &rng)
        let g = GatedLayer(name: "fc", wrapping: linear)
        g.delta.value = Tensor.normal([4, 5], std: 0.5, rng: &rng)
        let x = Tensor.normal([3, 5], rng: &rng)
        let r = Tensor.normal([3, 4], rng: &rng)
        return (g, x, r)
    }

    /// Fake loss `sum(out ⊙ r)` of the layer computing with weight `w0 + t * dw` (gate forced on).
    func loss(_ g: GatedLayer, _ x: Tensor, _ r: Tensor, t: Float) -> Double {
        let w = g.base.weight.value + t * g.delta.value
        return g.base.forward(x, weight: w, mode: .inference).dot(r)
    }

    @Test("a gate flips exactly at tau: 0.0999 off, 0.1 on")
    func gateFlipsAtTau() {
        let (g, _, _) = fixture()
        g.score.value.storage[0] = 0.0999
        #expect(!g.isActive)
        g.score.value.storage[0] = 0.1
        #expect(g.isActive)
        #expect(g.isActive(threshold: 0.1) && !g.isActive(threshold: 0.1001))
    }

    @Test("forward uses w0 + dw when active and w0 alone when inactive")
    func forwardComposesWeight() {
        let (g, x, _) = fixture()
        let on = g.forward(x, mode: .inference)
        #expect(on == g.base.forward(x, weight: g.base.weight.value + g.delta.value, mode: .inference))
        g.score.value.storage[0] = 0.05
        let off = g.forward(x, mode: .inference)
        #expect(off == g.base.forward(x, weight: g.base.weight.value, mode: .inference))
        #expect(on != off)
    }

    /// The straight-through score check: `layer`'s analytic `dL/ds` (after one training forward/backward of the
    /// fake loss `sum(out ⊙ r)`) against the central difference of `L(w0 + t·dw)` in t at t = g. Both the real
    /// layer and the deliberately broken ones below go through this same function and the same tolerance.
    func scoreCheck(_ layer: any Layer, gate g: GatedLayer, _ x: Tensor, _ r: Tensor) -> (passed: Bool, analytic: Double, numeric: Double) {
        layer.zeroGrad()
        _ = layer.forward(x, mode: .training)
        _ = layer.backward(r)
        let t: Float = g.isActive ? 1 : 0
        let h: Float = 1e-2
        let numeric = (loss(g, x, r, t: t + h) - loss(g, x, r, t: t - h)) / Double(2 * h)
        let analytic = Double(g.score.grad.storage[0])
        return (relativeError(analytic, numeric) < 2e-3, analytic, numeric)
    }

    @Test("score gradient equals the finite-difference derivative of the loss along dw (gate on and off)")
    func scoreGradientMatchesFiniteDifference() {
        for score: Float in [0.15, 0.05] {
            let (g, x, r) = fixture(seed: 4)
            g.score.value.storage[0] = score
            // d/dt L(w0 + t*dw) at t = 1 is <G, dw> at the active weight; the straight-through estimator
            // uses G at the weight actually used (w0 when off), so compare at t = g.
            let c = scoreCheck(g, gate: g, x, r)
            #expect(c.passed, "score \(score): analytic \(c.analytic) numeric \(c.numeric)")
        }
    }

    @Test("delta gets g * G, w0 gets nothing, and an off layer with a zero delta skips its weight gradient")
    func gradientRouting() {
        let (g, x, r) = fixture(seed: 5)
        g.zeroGrad()
        _ = g.forward(x, mode: .training)
        _ = g.backward(r)
        // G = r^T x for a Linear layer ([out, in]).
        let expectedG = matmul(r, x, transA: .transposed)
        #expect(compareClose(g.delta.grad, expectedG, rtol: 1e-5, atol: 1e-5).isClose)
        #expect(g.base.weight.grad.maxAbs() == 0 && !g.base.weight.requiresGrad)

        g.zeroGrad()
        g.score.value.storage[0] = 0.0
        _ = g.forward(x, mode: .training)
        _ = g.backward(r)
        #expect(g.delta.grad.maxAbs() == 0, "an inactive delta is frozen")
        #expect(g.score.grad.storage[0] != 0, "an inactive layer with a non-zero delta still gets a score signal")

        g.zeroGrad()
        g.delta.value.zero()
        _ = g.forward(x, mode: .training)
        _ = g.backward(r)
        #expect(g.score.grad.storage[0] == 0 && g.delta.grad.maxAbs() == 0)
    }

    @Test("a broken score gradient fails the same check: no-op, sum(G) instead of <G, dw>, 1% too large")
    func brokenScoreGradientIsCaught() {
        for defect in [BrokenScoreGradient.Defect.noOp, .sumOfG, .scaled(1.01)] {
            for score: Float in [0.15, 0.05] {
                let (g, x, r) = fixture(seed: 6)
                g.score.value.storage[0] = score
                #expect(scoreCheck(g, gate: g, x, r).passed, "sanity: the real layer passes")
                let c = scoreCheck(BrokenScoreGradient(g, defect), gate: g, x, r)
                #expect(!c.passed, "\(defect) at score \(score) was not caught: analytic \(c.analytic) numeric \(c.numeric)")
            }
        }
    }

    @Test("always-on and always-off behaviours (fine-tune and probe)")
    func behaviours() {
        var rng = SeededRNG(seed: 2)
        let on = GatedLayer(name: "a", wrapping: Linear(name: "a", inFeatures: 2, outFeatures: 2, bias: false, rng: &rng),
                            behaviour: .alwaysOn)
        on.score.value.storage[0] = -5
        #expect(on.isActive && on.delta.requiresGrad && !on.score.requiresGrad)
        let off = GatedLayer(name: "b", wrapping: Linear(name: "b", inFeatures: 2, outFeatures: 2, bias: false, rng: &rng),
                             behaviour: .alwaysOff)
        #expect(!off.isActive && !off.delta.requiresGrad && !off.score.requiresGrad)
    }
}

@Suite("Sparsity penalty")
struct SparsityPenaltyTests {
    func layers() -> [GatedLayer] {
        var rng = SeededRNG(seed: 3)
        return [(2, 3), (4, 8), (1, 1)].enumerated().map { i, s in
            GatedLayer(name: "l\(i)", wrapping: Linear(name: "l\(i)", inFeatures: s.1, outFeatures: s.0, bias: false, rng: &rng))
        }
    }

    @Test("mean penalty is (1/N) sum |s| and its gradient lambda/N * sign(s)")
    func meanPenalty() {
        let ls = layers()
        ls[0].score.value.storage[0] = 0.3; ls[1].score.value.storage[0] = -0.6; ls[2].score.value.storage[0] = 0
        #expect(abs(SparsityPenalty.value(ls, kind: .mean) - 0.3) < 1e-7)
        SparsityPenalty.accumulateGradient(ls, lambda: 1.5, kind: .mean)
        #expect(abs(ls[0].score.grad.storage[0] - 0.5) < 1e-6)
        #expect(abs(ls[1].score.grad.storage[0] + 0.5) < 1e-6)
        #expect(ls[2].score.grad.storage[0] == 0)
    }

    @Test("weighted penalty prices each layer by its share of the delta parameters")
    func weightedPenalty() {
        let ls = layers()  // sizes 6, 32, 1 → total 39
        let w = SparsityPenalty.weights(ls, kind: .weighted)
        #expect(abs(w[0] - 6.0 / 39) < 1e-12 && abs(w[1] - 32.0 / 39) < 1e-12 && abs(w.reduce(0, +) - 1) < 1e-12)
        for l in ls { l.score.value.storage[0] = 0.15 }
        #expect(abs(SparsityPenalty.value(ls, kind: .weighted) - 0.15) < 1e-6)
    }
}

/// A gated layer whose backward corrupts the score gradient after the real one ran, to prove the score check
/// fails on a wrong straight-through rule.
final class BrokenScoreGradient: Layer {
    enum Defect { case noOp, sumOfG, scaled(Float) }
    let inner: GatedLayer
    let defect: Defect
    init(_ inner: GatedLayer, _ defect: Defect) { self.inner = inner; self.defect = defect }
    var parameters: [Parameter] { inner.parameters }
    func forward(_ x: Tensor, mode: ForwardMode) -> Tensor { inner.forward(x, mode: mode) }
    func backward(_ dOut: Tensor) -> Tensor {
        let before = inner.score.grad.storage[0]
        let dx = inner.backward(dOut)
        switch defect {
        case .noOp: inner.score.grad.storage[0] = before
        case .sumOfG:
            // A common bug: sum(G) instead of <G, dw> (G recomputed at the weight the layer used).
            let w = inner.isActive ? inner.base.weight.value + inner.delta.value : inner.base.weight.value
            let (_, gw) = inner.base.backward(dOut, weight: w, needWeightGradient: true)
            inner.score.grad.storage[0] = before + Float(gw?.sum() ?? 0)
        case .scaled(let s): inner.score.grad.storage[0] = before + s * (inner.score.grad.storage[0] - before)
        }
        return dx
    }
}
