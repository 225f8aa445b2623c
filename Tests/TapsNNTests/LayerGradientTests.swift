// TapsNNTests: finite-difference gradient checks of every layer's backward.
import Foundation
import Testing
import TapsNN
import TapsTensor
import TapsTestSupport

@Suite("Finite-difference gradient checks")
struct LayerGradientTests {
    @Test("Linear: input, weight and bias (2-D and 3-D input)")
    func linear() {
        var rng = SeededRNG(seed: 1)
        let fc = Linear(name: "fc", inFeatures: 7, outFeatures: 5, rng: &rng)
        let r2 = checkLayer(fc, input: .normal([4, 7], rng: &rng))
        #expect(r2.passed, "\(r2)")
        let r3 = checkLayer(fc, input: .normal([2, 3, 7], rng: &rng))
        #expect(r3.passed, "\(r3)")
        let noBias = Linear(name: "fc", inFeatures: 3, outFeatures: 2, bias: false, rng: &rng)
        let r = checkLayer(noBias, input: .normal([5, 3], rng: &rng))
        #expect(r.passed && r.entries.count == 2, "\(r)")
    }

    @Test("Conv2d: input, weight, bias for stride, padding, groups and depthwise",
          arguments: [
            (c: 2, o: 3, k: 3, s: 1, p: 1, g: 1, h: 5, w: 6),
            (c: 3, o: 4, k: 3, s: 2, p: 1, g: 1, h: 7, w: 5),
            (c: 4, o: 6, k: 3, s: 2, p: 0, g: 2, h: 7, w: 7),
            (c: 3, o: 3, k: 3, s: 1, p: 1, g: 3, h: 5, w: 5),
            (c: 1, o: 2, k: 1, s: 1, p: 0, g: 1, h: 3, w: 4),
          ])
    func conv(config: (c: Int, o: Int, k: Int, s: Int, p: Int, g: Int, h: Int, w: Int)) {
        var rng = SeededRNG(seed: 2)
        let conv = Conv2d(name: "conv", inChannels: config.c, outChannels: config.o, kernelSize: config.k,
                          stride: config.s, padding: config.p, groups: config.g, rng: &rng)
        conv.imagesPerGEMM = 2   // exercises both a full chunk and the remainder (batch 3)
        let r = checkLayer(conv, input: .normal([3, config.c, config.h, config.w], rng: &rng))
        #expect(r.passed && r.entries.count == 3, "\(config)\n\(r)")
    }

    @Test("ReLU away from the kink")
    func relu() {
        var rng = SeededRNG(seed: 3)
        let r = checkLayer(ReLU(), input: kinkFreeTensor([3, 4, 5], rng: &rng))
        #expect(r.passed && r.kinks == 0, "\(r)")
    }

    @Test("MaxPool2d with distinct values (no ties), kernel 2 and overlapping kernel 3 stride 2 padding 1")
    func maxPool() {
        var rng = SeededRNG(seed: 4)
        for pool in [MaxPool2d(kernelSize: 2), MaxPool2d(kernelSize: 3, stride: 2, padding: 1)] {
            let r = checkLayer(pool, input: kinkFreeTensor([2, 3, 7, 6], rng: &rng))
            #expect(r.passed && r.kinks == 0, "\(r)")
        }
    }

    @Test("Flatten and Sequential of conv-relu-pool-flatten-linear")
    func sequential() {
        var rng = SeededRNG(seed: 5)
        let r = checkLayer(Flatten(), input: .normal([2, 3, 2, 2], rng: &rng))
        #expect(r.passed, "\(r)")
        let net = Sequential(name: "net", [
            Conv2d(name: "net.0", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, rng: &rng),
            ReLU(), MaxPool2d(kernelSize: 2), Flatten(),
            Linear(name: "net.4", inFeatures: 3 * 3 * 3, outFeatures: 4, rng: &rng),
        ])
        // A weight perturbation moves every pre-activation, so with h = 5e-3 some ReLU/pool decision near a
        // kink flips (seen: 1 of 48 weight coordinates off by 5%). A smaller step keeps all decisions fixed.
        let rn = checkLayer(net, input: .normal([2, 2, 6, 7], rng: &rng),
                            options: GradientCheckOptions(step: 1e-3, absoluteTolerance: 5e-3))
        #expect(rn.passed && rn.kinks == 0, "\(rn)")
        #expect(rn.entries.count == 5)
    }

    @Test("Dropout: finite differences with a fixed mask, and inference is the identity")
    func dropout() {
        var rng = SeededRNG(seed: 6)
        var x = Tensor.normal([4, 10], rng: &rng)
        let report = checkGradients(
            variables: [GradientCheckVariable(name: "input", read: { x }, write: { x = $0 })],
            forward: { Dropout(p: 0.3, seed: 9).forward(x, mode: .training) },
            backward: { r in
                let d = Dropout(p: 0.3, seed: 9)
                _ = d.forward(x, mode: .training)
                return [d.backward(r)]
            })
        #expect(report.passed, "\(report)")
        let d = Dropout(p: 0.3, seed: 9)
        #expect(d.forward(x, mode: .inference) == x)
        let big = d.forward(Tensor(repeating: 1, shape: [20000]), mode: .training)
        let kept = big.storage.filter { $0 != 0 }
        #expect(abs(Double(kept.count) / 20000 - 0.7) < 0.02)
        #expect(kept.allSatisfy { abs($0 - 1 / 0.7) < 1e-6 })
        #expect(Dropout(p: 1, seed: 1).forward(x, mode: .training).maxAbs() == 0)
    }

    @Test("BatchNorm2d in training (batch statistics) and inference (running statistics)")
    func batchNorm() {
        var rng = SeededRNG(seed: 7)
        let bn = BatchNorm2d(name: "bn", channels: 3)
        bn.weight.value = .normal([3], mean: 1, std: 0.3, rng: &rng)
        bn.bias.value = .normal([3], rng: &rng)
        let x = Tensor.normal([4, 3, 3, 2], mean: 0.5, std: 2, rng: &rng)
        let rt = checkLayer(bn, input: x, mode: .training)
        #expect(rt.passed && rt.entries.count == 3, "\(rt)")
        bn.runningMean.value = .normal([3], rng: &rng)
        bn.runningVar.value = .uniform([3], low: 0.5, high: 2, rng: &rng)
        let re = checkLayer(bn, input: x, mode: .inference)
        #expect(re.passed, "\(re)")
    }

    @Test("softmaxCrossEntropy: gradient, loss and accuracy")
    func crossEntropy() {
        var rng = SeededRNG(seed: 8)
        var logits = Tensor.normal([5, 4], std: 2, rng: &rng)
        let labels = [0, 3, 1, 1, 2]
        let report = checkGradients(
            variables: [GradientCheckVariable(name: "logits", read: { logits }, write: { logits = $0 })],
            forward: { Tensor(shape: [1], storage: [Float(softmaxCrossEntropy(logits: logits, labels: labels).loss)]) },
            backward: { r in [r.storage[0] * softmaxCrossEntropy(logits: logits, labels: labels).gradient] },
            options: GradientCheckOptions(step: 1e-2, absoluteTolerance: 5e-4))
        #expect(report.passed, "\(report)")
        // Uniform logits: loss log(C); huge logits stay finite (log-sum-exp).
        let uniform = softmaxCrossEntropy(logits: Tensor(zeros: [2, 4]), labels: [0, 1])
        #expect(abs(uniform.loss - log(4.0)) < 1e-6)
        let huge = softmaxCrossEntropy(logits: Tensor(shape: [1, 3], storage: [1000, -1000, 0]), labels: [1])
        #expect(huge.loss.isFinite && abs(huge.loss - 2000) < 1e-3 && huge.gradient.isFinite)
        let acc = softmaxCrossEntropy(logits: Tensor(shape: [2, 2], storage: [2, 1, 0, 3]), labels: [0, 0])
        #expect(acc.correct == 1)
    }

    @Test("WeightedLayer explicit-weight path: dL/dW at the given weight, not accumulated")
    func explicitWeight() {
        var rng = SeededRNG(seed: 9)
        let layers: [any WeightedLayer] = [
            Linear(name: "fc", inFeatures: 4, outFeatures: 3, rng: &rng),
            Conv2d(name: "conv", inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, padding: 1, rng: &rng),
        ]
        let inputs = [Tensor.normal([3, 4], rng: &rng), Tensor.normal([2, 2, 5, 5], rng: &rng)]
        for (layer, x0) in zip(layers, inputs) {
            var x = x0
            var w = Tensor.normal(layer.weight.value.shape, rng: &rng)   // not the layer's own weight
            let report = checkGradients(
                variables: [GradientCheckVariable(name: "input", read: { x }, write: { x = $0 }),
                            GradientCheckVariable(name: "weight", read: { w }, write: { w = $0 })],
                forward: { layer.forward(x, weight: w, mode: .training) },
                backward: { r in
                    layer.zeroGrad()
                    _ = layer.forward(x, weight: w, mode: .training)
                    let (dx, dw) = layer.backward(r, weight: w, needWeightGradient: true)
                    return [dx, dw!]
                })
            #expect(report.passed, "\(report)")
            #expect(layer.weight.grad.maxAbs() == 0, "weight.grad must not be touched")
            #expect(layer.bias!.grad.maxAbs() > 0, "bias grad accumulates")
            _ = layer.forward(x, weight: w, mode: .training)
            #expect(layer.backward(Tensor(repeating: 1, shape: layer.forward(x, weight: w, mode: .training).shape),
                                   weight: w, needWeightGradient: false).weight == nil)
        }
    }

    @Test("Layer.backward accumulates parameter gradients; frozen weights get none")
    func accumulation() {
        var rng = SeededRNG(seed: 10)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1, rng: &rng)
        let x = Tensor.normal([2, 2, 4, 4], rng: &rng)
        let dy = Tensor.normal([2, 2, 4, 4], rng: &rng)
        _ = conv.forward(x, mode: .training); _ = conv.backward(dy)
        let once = conv.weight.grad
        _ = conv.forward(x, mode: .training); _ = conv.backward(dy)
        #expect(compareClose(conv.weight.grad, 2 * once).isClose)
        conv.zeroGrad()
        conv.weight.requiresGrad = false
        _ = conv.forward(x, mode: .training); _ = conv.backward(dy)
        #expect(conv.weight.grad.maxAbs() == 0 && conv.bias!.grad.maxAbs() > 0)
    }
}

@Suite("The gradient checker rejects wrong backward passes")
struct BrokenBackwardTests {
    @Test("input gradient scaled by 1.1 fails (Linear, Conv2d, BatchNorm2d)")
    func scaledInput() {
        var rng = SeededRNG(seed: 11)
        let cases: [(any Layer, Tensor)] = [
            (Linear(name: "fc", inFeatures: 5, outFeatures: 4, rng: &rng), .normal([3, 5], rng: &rng)),
            (Conv2d(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, rng: &rng),
             .normal([2, 2, 5, 5], rng: &rng)),
            (BatchNorm2d(name: "bn", channels: 2), .normal([3, 2, 2, 2], rng: &rng)),
        ]
        for (layer, x) in cases {
            #expect(checkLayer(layer, input: x).passed, "sanity: the correct layer passes")
            let r = checkLayer(BrokenBackward(layer, .scaleInputGradient(1.1)), input: x)
            #expect(!r.passed && !r.entries[0].passed, "\(r)")
        }
    }

    @Test("dropped bias gradient and weight gradient scaled by 1.1 fail")
    func droppedTerms() {
        var rng = SeededRNG(seed: 12)
        let conv = Conv2d(name: "c", inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1, rng: &rng)
        let x = Tensor.normal([2, 2, 4, 4], rng: &rng)
        let noBias = checkLayer(BrokenBackward(conv, .dropBiasGradient), input: x)
        #expect(!noBias.passed && noBias.entries.first { $0.name == "c.bias" }?.passed == false, "\(noBias)")
        let bn = BatchNorm2d(name: "bn", channels: 2)
        let badWeight = checkLayer(BrokenBackward(bn, .scaleWeightGradient(1.1)), input: .normal([3, 2, 2, 2], rng: &rng))
        #expect(!badWeight.passed && badWeight.entries.first { $0.name == "bn.weight" }?.passed == false, "\(badWeight)")
    }

    @Test("a backward that ignores batch statistics (BN eval formula in training) fails")
    func batchNormMissingTerms() {
        var rng = SeededRNG(seed: 13)
        let bn = BatchNorm2d(name: "bn", channels: 2)
        var x = Tensor.normal([3, 2, 2, 2], rng: &rng)
        // Forward in training, backward as if statistics were constants: drops the mean/variance terms.
        let r = checkGradients(
            variables: [GradientCheckVariable(name: "input", read: { x }, write: { x = $0 })],
            forward: { bn.forward(x, mode: .training) },
            backward: { dy in
                let y = bn.forward(x, mode: .training)
                _ = y
                // rstd from the batch: dx = γ·rstd·dy only.
                var dx = dy
                for c in 0..<2 {
                    var vals: [Float] = []
                    for n in 0..<3 { for i in 0..<4 { vals.append(x.storage[(n * 2 + c) * 4 + i]) } }
                    let mean = vals.reduce(0, +) / Float(vals.count)
                    let v = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(vals.count)
                    let rstd = 1 / (v + bn.eps).squareRoot()
                    for n in 0..<3 { for i in 0..<4 { dx.storage[(n * 2 + c) * 4 + i] *= rstd } }
                }
                return [dx]
            })
        #expect(!r.passed, "\(r)")
    }
}
